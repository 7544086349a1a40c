"""RecurrenceRiskModel behaviour: slices, categories, calibration, serialisation, protection."""

from __future__ import annotations

import json

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
from sklearn.isotonic import IsotonicRegression

from riskml.models import (
    IsotonicCalibrator,
    ProtectedAttributeError,
    RecurrenceRiskModel,
    brier,
    calibrator_from_dict,
    fit_calibrator,
)
from riskml.models._calibration import MIN_ISOTONIC_BLOCK, _fit_isotonic

FAST = {
    "n_estimators": 60,
    "learning_rate": 0.1,
    "min_child_samples": 40,
    "n_jobs": 1,
    "random_state": 0,
}


def _xy(ts, dates_mask=None):
    frame = ts.frame if dates_mask is None else ts.frame.loc[dates_mask]
    return frame[ts.feature_names], frame["label"].astype(int), frame["as_of"]


def _split_by_date(ts, n_test_dates=3):
    dates = np.sort(ts.frame["as_of"].unique())
    cut = dates[-n_test_dates]
    train = (ts.frame["as_of"] < cut).to_numpy()
    return _xy(ts, train), _xy(ts, ~train)


def test_slices_follow_as_of_not_row_order(training_set):
    """Rows shuffled, as_of given -> training, early-stopping and calibration slices are
    consecutive blocks of whole as-of dates, in time order."""
    X, y, as_of = _xy(training_set)
    order = np.random.default_rng(1).permutation(len(X))
    model = RecurrenceRiskModel(**FAST).fit(X.iloc[order], y.iloc[order], as_of=as_of.iloc[order])
    s = model.training_summary_
    assert s["time_order"] == "as_of"
    assert s["training"]["as_of_last"] < s["early_stopping"]["as_of_first"]
    assert s["early_stopping"]["as_of_last"] < s["calibration"]["as_of_first"]
    total = s["training"]["rows"] + s["early_stopping"]["rows"] + s["calibration"]["rows"]
    assert total == len(X) and s["purged_rows"] == 0
    # 12 dates: calibration ~20 % -> 2 dates, early stopping ~15 % -> 2 dates
    per_date = len(X) // 12
    assert s["calibration"]["rows"] == 2 * per_date
    assert s["early_stopping"]["rows"] == 2 * per_date


def test_without_as_of_row_order_is_time_order(training_set):
    """No as_of -> the last rows form the calibration slice (documented fallback)."""
    X, y, _ = _xy(training_set)
    model = RecurrenceRiskModel(**FAST).fit(X, y)
    s = model.training_summary_
    assert s["time_order"] == "row order"
    assert s["calibration"]["rows"] == pytest.approx(0.2 * len(X), abs=1)
    assert s["early_stopping"]["rows"] == pytest.approx(0.15 * len(X), abs=1)


def test_purge_months_drops_overlapping_label_windows(training_set):
    """purge_months=12 -> no training row's as_of + 12 months passes the early-stopping start;
    the early-stopping and calibration slices stay adjacent (the booster is fitted on neither);
    the purged rows are exactly the dates between."""
    X, y, as_of = _xy(training_set)
    model = RecurrenceRiskModel(**{**FAST, "purge_months": 12}).fit(X, y, as_of=as_of)
    s = model.training_summary_
    es_start = pd.Timestamp(s["early_stopping"]["as_of_first"])
    assert pd.Timestamp(s["training"]["as_of_last"]) + pd.DateOffset(months=12) <= es_start
    purged_dates = as_of[(as_of > s["training"]["as_of_last"]) & (as_of < es_start)]
    assert s["purged_rows"] == len(purged_dates) > 0
    assert pd.Timestamp(s["early_stopping"]["as_of_last"]) + pd.DateOffset(
        months=3
    ) == pd.Timestamp(s["calibration"]["as_of_first"])


def test_early_stopping_keeps_best_iteration(training_set):
    """Early stopping -> fewer trees than n_estimators, booster trimmed to best_iteration_."""
    X, y, as_of = _xy(training_set)
    model = RecurrenceRiskModel(**{**FAST, "n_estimators": 400, "learning_rate": 0.3}).fit(
        X, y, as_of=as_of
    )
    assert model.best_iteration_ < 400
    assert model.n_boosting_rounds_ >= model.best_iteration_
    assert model.booster_.num_trees() == model.best_iteration_


def test_categories_frozen_and_unseen_level_is_missing(training_set):
    """An unseen category at predict -> scored like a missing value, not an error."""
    X, y, as_of = _xy(training_set)
    model = RecurrenceRiskModel(**FAST).fit(X, y, as_of=as_of)
    assert model.categories_ == {
        "livelihood": ["farming", "pastoral", "agro_pastoral", "wage", "mixed"]
    }
    row = X.head(3).copy()
    unseen = row.copy()
    unseen["livelihood"] = pd.Categorical(["fishing"] * 3)
    missing = row.copy()
    missing["livelihood"] = pd.Categorical([None] * 3, categories=["farming"])
    np.testing.assert_array_equal(model.predict_raw(unseen), model.predict_raw(missing))
    enc = model.encode(unseen)
    assert np.isnan(enc[:, list(model.feature_names_in_).index("livelihood")]).all()
    # a frame whose category has other level order is recoded by name, not by code
    shuffled = row.copy()
    shuffled["livelihood"] = row["livelihood"].cat.reorder_categories(
        list(reversed(row["livelihood"].cat.categories))
    )
    np.testing.assert_array_equal(model.predict_raw(shuffled), model.predict_raw(row))


def test_encode_ignores_extra_columns_and_order(training_set):
    """Scoring frames with extra or reordered columns -> same predictions; a missing feature ->
    ValueError naming it."""
    X, y, as_of = _xy(training_set)
    model = RecurrenceRiskModel(**FAST).fit(X, y, as_of=as_of)
    head = training_set.frame.head(50)
    np.testing.assert_array_equal(model.predict_proba(head), model.predict_proba(X.head(50)))
    np.testing.assert_array_equal(
        model.predict_proba(X.head(50)[X.columns[::-1]]), model.predict_proba(X.head(50))
    )
    with pytest.raises(ValueError, match="head_age"):
        model.predict_proba(X.head(5).drop(columns="head_age"))
    # the booster on the encoded matrix gives the raw score
    np.testing.assert_allclose(
        model.booster_.predict(model.encode(head), raw_score=True), model.predict_raw(head)
    )


@pytest.mark.parametrize("method", ["isotonic", "sigmoid"])
def test_save_load_identical_predictions(training_set, method):
    """to_dict -> JSON -> from_dict -> identical probabilities, raw scores and attributes."""
    X, y, as_of = _xy(training_set)
    model = RecurrenceRiskModel(
        **{**FAST, "calibration": method, "class_weight": {0: 1.0, 1: 3.0}}
    ).fit(X, y, as_of=as_of)
    data = json.loads(json.dumps(model.to_dict()))
    loaded = RecurrenceRiskModel.from_dict(data)
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    np.testing.assert_array_equal(loaded.predict_raw(X), model.predict_raw(X))
    assert loaded.get_params() == model.get_params()
    assert loaded.categories_ == model.categories_
    assert list(loaded.feature_names_in_) == list(model.feature_names_in_)
    assert loaded.best_iteration_ == model.best_iteration_
    pd.testing.assert_series_equal(loaded.reference_.psi(X), model.reference_.psi(X))


def test_calibration_improves_brier_on_held_out_dates(training_set):
    """Class weighting inflates raw probabilities -> isotonic and sigmoid calibration on a later
    slice lower the Brier score on still later, held-out dates, and the mean probability lands
    near the observed rate."""
    (X, y, as_of), (X_te, y_te, _) = _split_by_date(training_set)
    params = {**FAST, "class_weight": "balanced"}
    raw_model = RecurrenceRiskModel(**{**params, "calibration": None}).fit(X, y, as_of=as_of)
    uncalibrated = brier(y_te, raw_model.predict_proba(X_te)[:, 1])
    rate = y_te.mean()
    for method in ("isotonic", "sigmoid"):
        model = RecurrenceRiskModel(**{**params, "calibration": method}).fit(X, y, as_of=as_of)
        p = model.predict_proba(X_te)[:, 1]
        assert brier(y_te, p) < 0.8 * uncalibrated, method
        assert abs(p.mean() - rate) < 0.35 * rate, (method, p.mean(), rate)
    assert raw_model.predict_proba(X_te)[:, 1].mean() > 3 * rate  # the weighting really did distort


def test_isotonic_calibrator_matches_sklearn_when_levels_are_large():
    """With a minimum block of 1 row the stored knots reproduce
    IsotonicRegression(out_of_bounds='clip').predict exactly."""
    rng = np.random.default_rng(0)
    raw = rng.normal(-3, 1.5, 5000)
    y = (rng.random(5000) < 1 / (1 + np.exp(-raw))).astype(float)
    cal = _fit_isotonic(raw, y, min_block=1)
    iso = IsotonicRegression(out_of_bounds="clip", y_min=0, y_max=1).fit(raw, y)
    grid = np.linspace(-12, 6, 2001)
    np.testing.assert_allclose(cal.predict(grid), iso.predict(grid), atol=1e-12)
    again = calibrator_from_dict(json.loads(json.dumps(cal.to_dict())))
    assert isinstance(again, IsotonicCalibrator)
    np.testing.assert_array_equal(again.predict(grid), cal.predict(grid))


def test_isotonic_levels_rest_on_enough_rows():
    """Rare positives: plain isotonic puts a 100 % level on the few top rows; riskml pools
    levels until each rests on >= MIN_ISOTONIC_BLOCK rows, stays monotone, and keeps the mean."""
    rng = np.random.default_rng(1)
    raw = np.r_[rng.normal(-4, 1.2, 20000), np.full(5, 8.0)]  # a few extreme scores ...
    y = np.r_[(rng.random(20000) < 1 / (1 + np.exp(-raw[:20000]))), np.ones(5)].astype(float)
    plain = IsotonicRegression(out_of_bounds="clip", y_min=0, y_max=1).fit(raw, y)
    assert plain.predict(raw).max() == 1.0
    cal = fit_calibrator("isotonic", raw, y)
    p = cal.predict(raw)
    assert p.max() < 0.9
    order = np.argsort(raw)
    assert np.all(np.diff(p[order]) >= -1e-15)
    assert abs(p.mean() - y.mean()) < 1e-9
    _, counts = np.unique(p, return_counts=True)
    assert counts.min() >= MIN_ISOTONIC_BLOCK


def test_sigmoid_calibrator_recovers_platt_parameters():
    """Outcomes drawn from logistic(2 * raw - 1) -> a close to 2, b close to -1."""
    rng = np.random.default_rng(0)
    raw = rng.normal(0, 1, 50_000)
    y = (rng.random(50_000) < 1 / (1 + np.exp(-(2 * raw - 1)))).astype(float)
    cal = fit_calibrator("sigmoid", raw, y)
    assert cal.a == pytest.approx(2.0, abs=0.1)
    assert cal.b == pytest.approx(-1.0, abs=0.1)


@pytest.mark.parametrize(
    "column", ["head_ethnicity", "audit_county", "Audit_Livelihood", "head_sex", "ethnicity_code"]
)
def test_protected_attribute_refused(training_set, column):
    """A protected column among the features -> ProtectedAttributeError naming it."""
    X, y, as_of = _xy(training_set)
    X = X.assign(**{column: 1.0})
    with pytest.raises(ProtectedAttributeError, match=column):
        RecurrenceRiskModel(**FAST).fit(X, y, as_of=as_of)


def test_protected_list_is_configurable(training_set):
    """A custom protected list -> its patterns are refused, the default ones no longer are."""
    X, y, as_of = _xy(training_set)
    with pytest.raises(ProtectedAttributeError, match="head_age"):
        RecurrenceRiskModel(**FAST, protected_attributes=("head_age",)).fit(X, y, as_of=as_of)


def test_reference_distribution_attached(training_set):
    """The fitted model carries PSI bins of its latest as-of date (one snapshot, like a roster):
    ~0 on those rows, large on shifted incomes."""
    X, y, as_of = _xy(training_set)
    model = RecurrenceRiskModel(**FAST).fit(X, y, as_of=as_of)
    dates = pd.to_datetime(pd.Series(as_of)).to_numpy()
    latest = X[dates == dates.max()]
    assert model.reference_.n_rows == len(latest) < len(X)
    shifted = latest.assign(pc_income_to_threshold_last=latest["pc_income_to_threshold_last"] * 0.5)
    assert model.reference_.psi(shifted)["pc_income_to_threshold_last"] > 0.25
    assert model.reference_.psi(shifted)["household_size"] < 0.05
    assert model.reference_.psi(latest).max() < 0.05


def test_lightgbm_params_reproduce_booster(training_set):
    """lightgbm.train with lightgbm_params() on the training slice and best_iteration_ rounds
    -> the same trees (riskml adds no hidden training tricks)."""
    X, y, as_of = _xy(training_set)
    model = RecurrenceRiskModel(**{**FAST, "calibration": None, "early_stopping_rounds": None}).fit(
        X, y, as_of=as_of
    )
    M = model.encode(X)
    cat = [list(model.feature_names_in_).index("livelihood")]
    ds = lgb.Dataset(
        M, label=y.to_numpy(), feature_name=list(model.feature_names_in_), categorical_feature=cat
    )
    plain = lgb.train(model.lightgbm_params(), ds, num_boost_round=model.best_iteration_)
    np.testing.assert_allclose(plain.predict(M, raw_score=True), model.predict_raw(X))
