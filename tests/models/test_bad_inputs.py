"""Bad inputs -> clear errors that say what was wrong, where, and the fix."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from riskml.config import ConfigError
from riskml.config.rules import load_rules_config
from riskml.config.training import TrainingConfig, load_training_config
from riskml.models import (
    ProtectedAttributeError,
    RecurrenceRiskModel,
    backtest,
    fit_final_model,
    temporal_folds,
)

FAST = {"n_estimators": 20, "n_jobs": 1, "random_state": 0}


def _config(**extra) -> TrainingConfig:
    return TrainingConfig.model_validate(
        {
            "training_set": {"as_of_start": "2019-01-01"},
            "model": {"n_estimators": 30, "n_jobs": 1},
            "capacity": {"share": 0.05},
            **extra,
        }
    )


def _write(tmp_path, text: str):
    path = tmp_path / "training.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_configs_load():
    """configs/training.yaml and configs/rules.yaml -> valid."""
    cfg = load_training_config()
    assert cfg.capacity.share == 0.05 and cfg.gap_months == cfg.horizon_months
    assert {r.feature for r in load_rules_config().rules} >= {
        "oop_medical_last_year",
        "pc_income_to_threshold_last",
    }


def test_config_unknown_key(tmp_path):
    """A misspelt key ('n_estimator') -> ConfigError naming the file and the key."""
    path = _write(
        tmp_path,
        "training_set: {as_of_start: 2020-01-01}\ncapacity: {share: 0.05}\nmodel: {n_estimator: 100}\n",
    )
    with pytest.raises(ConfigError, match=r"unknown key 'model.n_estimator'") as err:
        load_training_config(path)
    assert str(path) in str(err.value)


def test_config_wrong_type(tmp_path):
    """learning_rate: fast -> ConfigError naming model.learning_rate and the value given."""
    path = _write(
        tmp_path,
        "training_set: {as_of_start: 2020-01-01}\ncapacity: {share: 0.05}\nmodel: {learning_rate: fast}\n",
    )
    with pytest.raises(ConfigError, match=r"model\.learning_rate.*'fast'"):
        load_training_config(path)


def test_config_capacity_needs_exactly_one(tmp_path):
    """Both capacity.share and capacity.per_village -> ConfigError saying to set exactly one."""
    path = _write(
        tmp_path,
        "training_set: {as_of_start: 2020-01-01}\ncapacity: {share: 0.05, per_village: 3}\n",
    )
    with pytest.raises(ConfigError, match="exactly one"):
        load_training_config(path)


def test_config_gap_shorter_than_horizon(tmp_path):
    """backtest.gap_months < horizon_months -> ConfigError (training labels would overlap the test)."""
    path = _write(
        tmp_path,
        "training_set: {as_of_start: 2020-01-01}\ncapacity: {share: 0.05}\nbacktest: {gap_months: 6}\n",
    )
    with pytest.raises(ConfigError, match="gap_months=6 is shorter than horizon_months=12"):
        load_training_config(path)


def test_config_must_protect_audit_columns(tmp_path):
    """protected_attributes without 'audit_*' -> ConfigError."""
    path = _write(
        tmp_path,
        "training_set: {as_of_start: 2020-01-01}\ncapacity: {share: 0.05}\nprotected_attributes: [head_sex]\n",
    )
    with pytest.raises(ConfigError, match="audit_"):
        load_training_config(path)


def test_single_class_training_set(make_training_set):
    """Every label 0 -> ValueError 'only negatives' from fit_final_model and 'only one class' from fit."""
    ts = make_training_set(300, 6)
    ts.frame["label"] = pd.array(np.zeros(len(ts.frame), dtype=np.int8), dtype="Int8")
    with pytest.raises(ValueError, match="only negatives"):
        fit_final_model(ts, _config())
    with pytest.raises(ValueError, match="only one class"):
        RecurrenceRiskModel(**FAST).fit(ts.frame[ts.feature_names], ts.frame["label"].astype(int))


def test_empty_training_set(make_training_set):
    """A training set with no rows -> ValueError saying there is no labelled row."""
    ts = make_training_set(50, 4)
    ts.frame = ts.frame.iloc[0:0]
    with pytest.raises(ValueError, match="No row of the training set has a 'label' label"):
        backtest(ts, _config())
    with pytest.raises(ValueError, match="No row"):
        fit_final_model(ts, _config())


def test_as_of_range_without_labels(make_training_set):
    """All as-of dates censored (label NA) -> ValueError naming the cause and the fix."""
    ts = make_training_set(200, 4, censored_dates=4)
    with pytest.raises(ValueError, match=r"no closed label window.*earlier as-of dates"):
        backtest(ts, _config())


def test_too_few_as_of_dates_for_folds(make_training_set):
    """Every fold unusable (too little history) -> ValueError listing each fold's reason."""
    ts = make_training_set(300, 5)
    with pytest.raises(
        ValueError, match=r"No backtest fold could be evaluated \(fold 1: .*fold 2: "
    ):
        backtest(ts, _config(backtest={"n_folds": 2}))


def test_too_few_dates_to_slice():
    """Two quarterly as-of dates, purge 12 months -> no cross-fitting block can have earlier
    training rows: ValueError with the fix."""
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=400)})
    y = rng.integers(0, 2, 400)
    as_of = np.repeat(pd.to_datetime(["2021-01-01", "2021-04-01"]).to_numpy(), 200)
    with pytest.raises(
        ValueError,
        match=r"Cannot cross-fit over time: 2 distinct as-of dates with purge_months=12.*longer",
    ):
        RecurrenceRiskModel(**FAST).fit(X, y, as_of=as_of)


def test_protected_attribute_in_training_set_features(make_training_set):
    """A training set whose features include head_ethnicity -> ProtectedAttributeError before any fit."""
    ts = make_training_set(200, 6)
    ts.frame["head_ethnicity"] = 1.0
    ts.feature_names = [*ts.feature_names, "head_ethnicity"]
    with pytest.raises(ProtectedAttributeError, match="head_ethnicity"):
        backtest(ts, _config())


def test_missing_labels_in_y():
    """y with NA -> ValueError saying how many labels are missing."""
    X = pd.DataFrame({"a": np.arange(10.0)})
    y = pd.Series(pd.array([0, 1] * 4 + [None, None], dtype="Int8"))
    with pytest.raises(ValueError, match="2 missing labels"):
        RecurrenceRiskModel(**FAST).fit(X, y)


def test_object_feature_column():
    """A text feature column -> ValueError naming the column and how to convert it."""
    X = pd.DataFrame({"a": np.arange(40.0), "village": ["v1", "v2"] * 20})
    with pytest.raises(ValueError, match=r"'village' has dtype object.*category"):
        RecurrenceRiskModel(**FAST).fit(X, np.arange(40) % 2)


@pytest.mark.parametrize(
    ("param", "value", "message"),
    [
        (
            "calibration",
            "spline",
            "'calibration' parameter .* 'auto', 'sigmoid', 'beta', 'isotonic' or None. Got 'spline'",
        ),
        ("learning_rate", 0.0, "'learning_rate' parameter"),
        ("cv_fraction", 1.2, "'cv_fraction' parameter"),
        ("cv_folds", 0, "'cv_folds' parameter"),
        ("class_weight", "auto", "'class_weight' parameter"),
    ],
)
def test_bad_parameters(param, value, message):
    """An invalid constructor argument -> ValueError at fit naming the parameter and the value."""
    X = pd.DataFrame({"a": np.arange(40.0)})
    with pytest.raises(ValueError, match=message):
        RecurrenceRiskModel(**{**FAST, param: value}).fit(X, np.arange(40) % 2)


def test_oracle_length_mismatch(make_training_set):
    """An oracle array of the wrong length -> ValueError giving both lengths."""
    ts = make_training_set(200, 8)
    with pytest.raises(
        ValueError, match=f"one probability per training-set row \\({len(ts.frame)}\\)"
    ):
        backtest(ts, _config(), oracle=np.zeros(3))


def test_rule_feature_missing_from_training_set(make_training_set):
    """A training set without a rule feature -> ValueError naming it before any model is fitted."""
    ts = make_training_set(200, 8)
    ts.frame = ts.frame.drop(columns="accident_12m")
    ts.feature_names = [f for f in ts.feature_names if f != "accident_12m"]
    with pytest.raises(ValueError, match="accident_12m"):
        backtest(ts, _config())


def test_horizon_mismatch_with_training_set(make_training_set):
    """Training set built with a 6-month horizon, config says 12 -> ValueError asking to align."""
    ts = make_training_set(200, 8)
    ts.metadata["horizon_months"] = 6
    with pytest.raises(ValueError, match=r"horizon_months=6.*12"):
        backtest(ts, _config())


def test_missing_dates_in_folds():
    """as_of with a missing date -> ValueError."""
    with pytest.raises(ValueError, match="1 missing dates"):
        temporal_folds(
            pd.Series([pd.Timestamp("2020-01-01"), pd.NaT]),
            n_folds=1,
            test_period_months=12,
            gap_months=12,
        )


def test_load_rejects_foreign_dict():
    """from_dict on something that is not a saved model -> ValueError naming the expected format."""
    with pytest.raises(ValueError, match="Not a saved RecurrenceRiskModel"):
        RecurrenceRiskModel.from_dict({"format": "pickle"})


def test_as_of_dates_from_config():
    """as_of_end null -> dates up to the last closed label window; none left -> ValueError."""
    import datetime as dt

    cfg = _config(training_set={"as_of_start": "2020-01-01", "step_months": 6})
    dates = cfg.as_of_dates(dt.date(2022, 3, 31))
    assert dates == [dt.date(2020, 1, 1), dt.date(2020, 7, 1), dt.date(2021, 1, 1)]
    with pytest.raises(ValueError, match="every label window is still open"):
        cfg.as_of_dates(dt.date(2020, 6, 30))
