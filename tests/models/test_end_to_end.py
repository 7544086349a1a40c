"""End to end on the shared small synthetic province: bundle -> training set -> backtest.

Uses the real synthetic generator (``small_province``: 2,500 households, seed 7), the real
feature engine and the generator's ground truth as the oracle.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from riskml.config.training import TrainingConfig
from riskml.models import RecurrenceRiskModel, backtest, fit_final_model

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def province_training_set(small_province, tmp_path_factory):
    from riskml.features import build_training_set
    from riskml.synth import oracle_probability

    bundle, truth = small_province
    end = pd.Timestamp(bundle.extracted_on)
    dates = [d for d in pd.date_range("2020-01-01", end, freq="3MS") if d <= end]
    ts = build_training_set(bundle, dates, 12)
    truth_path = tmp_path_factory.mktemp("truth") / "province.truth.parquet"
    truth.to_parquet(truth_path)
    oracle = oracle_probability(truth_path, ts.frame[["household_id", "as_of"]])
    return ts, oracle


def _config() -> TrainingConfig:
    return TrainingConfig.model_validate(
        {
            "training_set": {"as_of_start": "2020-01-01"},
            "model": {
                "n_estimators": 150,
                "learning_rate": 0.1,
                "min_child_samples": 100,
                "n_jobs": 1,
            },
            "backtest": {"n_folds": 2, "test_period_months": 12},
            "capacity": {"share": 0.05},
        }
    )


def test_backtest_on_synthetic_province(province_training_set):
    """Real training set + oracle -> every method scored on the same out-of-fold rows, no fold
    trains on a label window reaching its test period, the oracle is the ceiling."""
    ts, oracle = province_training_set
    assert not np.isnan(oracle).any()
    result = backtest(ts, _config(), oracle=oracle)
    ok = result.folds[result.folds["status"] == "ok"]
    assert len(ok) == 2
    assert (ok["train_as_of_last"] + pd.DateOffset(months=12) <= ok["test_start"]).all()
    table = result.table()
    assert list(table.index) == ["model", "rules", "persistence", "scorecard", "oracle"]
    assert table.loc["model", "roc_auc"] > 0.5
    assert table["auc_vs_oracle"].drop("oracle").max() < 1.0
    assert set(result.fairness["group"]) >= {"county", "livelihood", "head_ethnicity"}
    assert "## Fairness: largest gaps (model)" in result.to_markdown()


def test_final_model_round_trip(province_training_set):
    """fit_final_model on the real features -> JSON round trip gives identical probabilities;
    no audit column is a feature."""
    ts, _ = province_training_set
    model = fit_final_model(ts, _config())
    assert not [f for f in model.feature_names_in_ if f.startswith("audit_")]
    loaded = RecurrenceRiskModel.from_dict(json.loads(json.dumps(model.to_dict())))
    X = ts.frame.head(2000)
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    assert model.categories_  # the catalog's categorical features arrive as pandas categories
