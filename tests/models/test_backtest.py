"""Temporal backtest: no future leak, identical rows for every method, tables and fairness."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from riskml.config.training import TrainingConfig
from riskml.models import METHODS, backtest, fit_final_model, model_from_config, temporal_folds


def small_config(**overrides) -> TrainingConfig:
    """A fast config: few trees, one thread, no purge, two yearly folds, 5 % capacity."""
    data = {
        "training_set": {"as_of_start": "2019-01-01", "step_months": 3},
        "model": {
            "n_estimators": 80,
            "learning_rate": 0.1,
            "min_child_samples": 40,
            "purge_months": 0,  # short simulated histories; the purge is tested on its own
            "n_jobs": 1,
        },
        "backtest": {"n_folds": 2, "test_period_months": 12},
        "capacity": {"share": 0.05},
        "fairness": {"min_group_size": 50, "min_positives": 5},
    }
    for key, value in overrides.items():
        data[key] = {**data.get(key, {}), **value} if isinstance(value, dict) else value
    return TrainingConfig.model_validate(data)


@pytest.fixture(scope="module")
def bt_set(make_training_set):
    """1,500 households x 16 quarterly as-of dates; the last two are censored (label NA)."""
    return make_training_set(1500, 16, seed=5, censored_dates=2)


@pytest.fixture(scope="module")
def result(bt_set):
    return backtest(bt_set, small_config(), oracle=bt_set.oracle)


def test_no_future_leak_in_folds(bt_set):
    """For every fold, every training row's as_of + horizon <= the fold's first test date, and
    the test windows are disjoint and consecutive."""
    as_of = bt_set.frame["as_of"]
    folds = temporal_folds(as_of, n_folds=3, test_period_months=12, gap_months=12)
    assert len(folds) == 3
    for fold in folds:
        assert fold.test.any()
        train_dates = as_of[fold.train]
        assert (train_dates + pd.DateOffset(months=12) <= fold.test_start).all()
        assert as_of[fold.test].min() == fold.test_start
        # nothing dated on or after the test start is in training
        assert not (fold.train & (as_of >= fold.test_start).to_numpy()).any()
    for a, b in itertools.pairwise(folds):
        assert not (a.test & b.test).any()
        assert a.window_end == b.window_start


def test_backtest_folds_respect_horizon(result):
    """The fold table agrees: last training as-of + 12 months <= test start for evaluated folds."""
    ok = result.folds[result.folds["status"] == "ok"]
    assert len(ok) == 2
    assert (ok["train_as_of_last"] + pd.DateOffset(months=12) <= ok["test_start"]).all()


def test_every_method_scored_on_identical_rows(result, bt_set):
    """One prediction row per labelled test row; every method has a score and a rank for it;
    censored rows (label NA) never appear."""
    preds = result.predictions
    assert set(result.methods) == set(METHODS)
    for m in METHODS:
        assert preds[f"score_{m}"].notna().all() and preds[f"rank_{m}"].notna().all()
    labelled = bt_set.frame[bt_set.frame["label"].notna()]
    ok = result.folds[result.folds["status"] == "ok"]
    expected = sum(
        ((labelled["as_of"] >= r.test_start) & (labelled["as_of"] <= r.test_end)).sum()
        for r in ok.itertuples()
    )
    assert len(preds) == expected
    assert not preds.duplicated(["household_id", "as_of"]).any()
    assert result.info["unlabelled_rows"] == int(bt_set.frame["label"].isna().sum()) > 0


def test_table_model_vs_baselines(result):
    """Pooled table: methods as rows, ratios present; the model ranks better than the rules and
    persistence (ROC-AUC, PR-AUC), and does not beat the oracle's AUC beyond noise. (Recall at
    5 % capacity is too noisy on 450 positives to compare in a fast test.)"""
    table = result.table()
    assert list(table.index) == list(METHODS)
    for col in (
        "roc_auc",
        "pr_auc",
        "brier",
        "ece",
        "recall_at_capacity",
        "precision_at_capacity",
        "lift_at_capacity",
        "recall_at_capacity_vs_rules",
        "recall_at_rules_count_vs_rules",
        "auc_vs_oracle",
    ):
        assert col in table.columns
    assert table.loc["rules", "recall_at_capacity_vs_rules"] == pytest.approx(1.0)
    assert table.loc["oracle", "auc_vs_oracle"] == pytest.approx(1.0)
    assert table.loc["model", "roc_auc"] > table.loc["rules", "roc_auc"]
    assert table.loc["model", "roc_auc"] > table.loc["persistence", "roc_auc"]
    assert table.loc["model", "pr_auc"] > table.loc["rules", "pr_auc"]
    assert table.loc["model", "auc_vs_oracle"] < 1.01
    # flags at capacity = 5 % of each as-of date's rows, the same for every method
    assert table["flags_at_capacity"].nunique() == 1
    # at the rules' count, the rules flag exactly their own flags
    n_rules_flags = (result.predictions["rank_rules"] > 0).sum()
    assert table.loc["rules", "flags_at_rules_count"] == pytest.approx(n_rules_flags)


def test_metrics_tidy_and_per_fold(result):
    """metrics is tidy (fold, method, metric, value) with each fold and 'pooled'."""
    m = result.metrics
    assert list(m.columns) == ["fold", "method", "metric", "value"]
    assert set(m["fold"]) == {"1", "2", "pooled"}
    per_fold = result.fold_table("roc_auc")
    assert list(per_fold.index) == ["1", "2", "pooled"]
    assert per_fold.notna().all().all()


def test_fairness_table_and_gaps(result):
    """Every audit group appears with its levels; gaps name the highest and lowest level."""
    fair = result.fairness
    model = fair[fair["method"] == "model"]
    assert set(model["group"]) == {
        "county",
        "livelihood",
        "head_sex",
        "head_ethnicity",
        "disability_in_household",
        "female_headed",
        "elderly_headed",
    }
    # each group's levels partition the rows
    for _, part in model.groupby("group"):
        assert part["n"].sum() == len(result.predictions)
    gaps = result.fairness_gaps()
    assert set(gaps["metric"]) == {"recall", "fpr", "calibration_gap"}
    row = gaps.iloc[0]
    assert row["gap"] == pytest.approx(row["highest_value"] - row["lowest_value"])
    assert row["highest_level"] != row["lowest_level"]


def test_markdown_report(result):
    """to_markdown -> folds, pooled table, per-fold tables and fairness sections."""
    md = result.to_markdown()
    for heading in (
        "## Folds",
        "## Pooled out-of-fold metrics",
        "## roc_auc by fold",
        "## Fairness: largest gaps",
    ):
        assert heading in md
    assert "| oracle |" in md


def test_capacity_per_village(bt_set):
    """capacity.per_village = 1 -> at most one flag per village and as-of date."""
    res = backtest(
        bt_set, small_config(capacity={"share": None, "per_village": 1}, backtest={"n_folds": 1})
    )
    preds = res.predictions
    groups = preds.groupby(["village_code", "as_of"]).ngroups
    assert res.table().loc["model", "flags_at_capacity"] == pytest.approx(groups)
    assert "oracle" not in res.table().index


def test_fit_final_model_uses_labelled_rows(bt_set):
    """fit_final_model -> the booster learns from every labelled row, up to the latest labelled
    as-of date; the cross-fitting blocks that calibrate it end there too."""
    model = fit_final_model(bt_set, small_config())
    labelled_rows = bt_set.frame["label"].notna()
    s = model.training_summary_
    assert s["rows"] == int(labelled_rows.sum())
    assert list(model.feature_names_in_) == bt_set.feature_names
    last_labelled = bt_set.frame.loc[labelled_rows, "as_of"].max()
    first_labelled = bt_set.frame.loc[labelled_rows, "as_of"].min()
    assert pd.Timestamp(s["as_of_last"]) == last_labelled
    assert pd.Timestamp(s["as_of_first"]) == first_labelled
    assert pd.Timestamp(s["blocks"][-1]["test_as_of_last"]) == last_labelled
    assert s["calibration"]["fitted_on_rows"] == sum(b["test_rows"] for b in s["blocks"])
    # the final booster has the blocks' median early-stopping tree count
    iters = [b["best_iteration"] for b in s["blocks"]]
    assert model.booster_.num_trees() == model.best_iteration_ == round(np.median(iters))


def test_income_label(bt_set):
    """label: income -> the backtest uses label_income."""
    res = backtest(bt_set, small_config(label="income", backtest={"n_folds": 1}))
    np.testing.assert_array_equal(
        res.predictions["label"].to_numpy(),
        bt_set.frame.set_index(["household_id", "as_of"])
        .loc[
            list(zip(res.predictions["household_id"], res.predictions["as_of"], strict=True)),
            "label_income",
        ]
        .to_numpy(dtype=np.int8),
    )


def test_default_purge_is_the_horizon(make_training_set):
    """model.purge_months null -> each fold's model drops training rows whose label window
    reaches its cross-fitting block (purge = horizon_months)."""
    cfg = small_config(model={"purge_months": None}, backtest={"n_folds": 1})
    assert model_from_config(cfg).purge_months == 12
    ts = make_training_set(600, 24, seed=2)
    model = fit_final_model(ts, cfg)
    for block in model.training_summary_["blocks"]:
        assert pd.Timestamp(block["train_as_of_last"]) + pd.DateOffset(months=12) <= pd.Timestamp(
            block["test_as_of_first"]
        )
    result = backtest(ts, cfg)
    assert (result.folds["status"] == "ok").all()


def test_skipped_fold_is_said_not_silent(make_training_set):
    """A fold whose training dates cannot hold the model's cross-fitting (purge 12 months) ->
    status 'skipped', the reason names its as-of dates, the progress callback (the console)
    gets the message, and the markdown report lists it."""
    ts = make_training_set(600, 16, seed=6)
    cfg = small_config(model={"purge_months": None}, backtest={"n_folds": 3})
    said: list[str] = []
    res = backtest(ts, cfg, progress=said.append)
    skipped = res.folds[res.folds["status"] == "skipped"]
    assert len(skipped) >= 1
    assert len(said) == len(skipped)
    for message, reason in zip(said, skipped["reason"], strict=True):
        assert "skipped" in message and reason in message
        assert "training as-of date" in reason and "cross-fit" in reason
    assert "fold(s) skipped" in res.to_markdown()
    assert res.info["skipped_folds"]


def test_calibrator_comparison_and_top_decile(result):
    """The backtest compares every candidate and the old step isotonic map out of time: the
    step map ties flagged households, the candidates never do; the top-decile table has ten
    bins before and after."""
    cal = result.calibration
    assert {"sigmoid", "beta", "isotonic", "isotonic_step", "model (chosen)"} <= set(cal.index)
    distinct_raw = cal["distinct_raw_flagged"].iloc[0]
    assert distinct_raw > 0.9 * cal["flagged"].iloc[0]
    for name in ("sigmoid", "beta", "isotonic", "model (chosen)"):
        assert cal.loc[name, "distinct_scores_flagged"] == distinct_raw
    assert (
        cal.loc["isotonic_step", "tie_share_flagged"]
        > cal.loc["model (chosen)", "tie_share_flagged"]
    )
    chosen = set(result.folds.loc[result.folds["status"] == "ok", "calibration"])
    assert chosen <= {"sigmoid", "beta", "isotonic"}
    top = result.top_decile
    assert set(top["calibrator"]) == {"before: isotonic_step", "after: model"}
    assert (top.groupby("calibrator")["bin"].count() == 10).all()
    assert ((top["ci_low"] <= top["observed"]) & (top["observed"] <= top["ci_high"])).all()
    assert "Calibrators compared" in result.to_markdown()


def test_recall_by_risk_type(bt_set):
    """Risk types of the positives -> per type: positives, each method's flagged count and
    recall, consistent with the pooled recall at capacity; the 'all' row is the total."""
    rng = np.random.default_rng(0)
    labelled = bt_set.frame["label"].notna().to_numpy()
    positive = (bt_set.frame["label"] == 1).fillna(False).to_numpy()
    types = np.where(positive, rng.choice(["illness", "disaster", "accident"], len(positive)), None)
    res = backtest(bt_set, small_config(), risk_types=types)
    table = res.risk_types
    assert table is not None
    preds = res.predictions
    for t in ("illness", "disaster", "accident"):
        assert table.loc[t, "positives"] == int(
            ((preds["risk_type"] == t) & (preds["label"] == 1)).sum()
        )
    assert table.loc["all", "positives"] == int(preds["label"].sum())
    for method in ("model", "rules"):
        per_type = table.drop(index="all")[f"flagged_{method}"].sum()
        assert per_type == pytest.approx(table.loc["all", f"flagged_{method}"])
        assert table.loc["all", f"recall_{method}"] == pytest.approx(
            res.table().loc[method, "recall_at_capacity"]
        )
    assert labelled.sum() == res.info["labelled_rows"]
    assert "by recorded risk type" in res.to_markdown()
