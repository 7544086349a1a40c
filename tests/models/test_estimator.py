"""RecurrenceRiskModel behaviour: slices, categories, calibration, serialisation, protection."""

from __future__ import annotations

import itertools
import json

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
from sklearn.isotonic import IsotonicRegression

from riskml.config.training import load_training_config
from riskml.models import (
    CANDIDATES,
    IsotonicCalibrator,
    ProtectedAttributeError,
    RecurrenceRiskModel,
    TimeOrderWarning,
    brier,
    calibrator_from_dict,
    choose_calibrator,
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


def test_blocks_follow_as_of_not_row_order(training_set):
    """Rows shuffled, as_of given -> the cross-fitting blocks are consecutive whole as-of dates
    in time order, ending at the latest date; the final booster learns from every row."""
    X, y, as_of = _xy(training_set)
    order = np.random.default_rng(1).permutation(len(X))
    model = RecurrenceRiskModel(**FAST).fit(X.iloc[order], y.iloc[order], as_of=as_of.iloc[order])
    s = model.training_summary_
    assert s["time_order"] == "as_of"
    assert s["rows"] == len(X)
    assert s["as_of_first"] == str(as_of.min().date()) and s["as_of_last"] == str(
        as_of.max().date()
    )
    blocks = s["blocks"]
    assert blocks[-1]["test_as_of_last"] == str(as_of.max().date())
    for a, b in itertools.pairwise(blocks):
        assert a["test_as_of_last"] < b["test_as_of_first"]
    for block in blocks:
        assert block["train_as_of_last"] < block["test_as_of_first"]
        assert block["test_rows"] == int(
            as_of.between(block["test_as_of_first"], block["test_as_of_last"]).sum()
        )
    assert s["calibration"]["fitted_on_rows"] == sum(b["test_rows"] for b in blocks)
    assert len(model.crossfit_raw_) == len(model.crossfit_y_) == s["calibration"]["fitted_on_rows"]


def test_fit_without_as_of_warns_and_takes_row_order(training_set):
    """No as_of -> a TimeOrderWarning naming the fallback; the last rows form the blocks."""
    X, y, _ = _xy(training_set)
    with pytest.warns(TimeOrderWarning, match="row order as time order"):
        model = RecurrenceRiskModel(**FAST).fit(X, y)
    s = model.training_summary_
    assert s["time_order"] == "row order"
    tested = sum(b["test_rows"] for b in s["blocks"])
    assert tested == pytest.approx(0.5 * len(X), abs=2)


def test_fit_with_as_of_does_not_warn(training_set):
    """as_of given -> no TimeOrderWarning (the suite turns warnings into errors)."""
    X, y, as_of = _xy(training_set)
    RecurrenceRiskModel(**FAST).fit(X, y, as_of=as_of)


def test_purge_months_keeps_label_windows_apart(training_set):
    """purge_months=12 -> every block's booster trains only on rows whose as_of + 12 months is
    on or before the block's first date; purge_months=0 -> it trains up to the date before."""
    X, y, as_of = _xy(training_set)
    purged = RecurrenceRiskModel(**{**FAST, "purge_months": 12}).fit(X, y, as_of=as_of)
    for block in purged.training_summary_["blocks"]:
        assert pd.Timestamp(block["train_as_of_last"]) + pd.DateOffset(months=12) <= pd.Timestamp(
            block["test_as_of_first"]
        )
    plain = RecurrenceRiskModel(**{**FAST, "purge_months": 0}).fit(X, y, as_of=as_of)
    for block in plain.training_summary_["blocks"]:
        assert pd.Timestamp(block["train_as_of_last"]) + pd.DateOffset(months=3) == pd.Timestamp(
            block["test_as_of_first"]
        )


def test_too_few_dates_to_cross_fit_is_a_clear_error(make_training_set):
    """Four quarterly dates and purge_months=12 -> no block can have earlier training rows: a
    ValueError that says so and what to change."""
    ts = make_training_set(300, 4, seed=3)
    X, y, as_of = _xy(ts)
    with pytest.raises(ValueError, match=r"Cannot cross-fit over time.*purge_months=12"):
        RecurrenceRiskModel(**FAST).fit(X, y, as_of=as_of)


def test_fewer_blocks_when_dates_are_short(make_training_set):
    """Six quarterly dates, purge 12 months -> fewer blocks than cv_folds, and the summary
    says why instead of failing."""
    ts = make_training_set(800, 6, seed=4)
    X, y, as_of = _xy(ts)
    model = RecurrenceRiskModel(**FAST).fit(X, y, as_of=as_of)
    s = model.training_summary_
    assert 1 <= len(s["blocks"]) < 3
    assert "fewer than cv_folds=3" in s["crossfit"]


def test_early_stopping_keeps_best_iteration(training_set):
    """Early stopping in the blocks -> the final booster has their median best iteration,
    fewer than n_estimators."""
    X, y, as_of = _xy(training_set)
    model = RecurrenceRiskModel(**{**FAST, "n_estimators": 400, "learning_rate": 0.3}).fit(
        X, y, as_of=as_of
    )
    iters = [b["best_iteration"] for b in model.training_summary_["blocks"]]
    assert model.best_iteration_ == round(np.median(iters)) < 400
    assert model.n_boosting_rounds_ == model.best_iteration_
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


@pytest.mark.parametrize("method", ["auto", "isotonic", "sigmoid", "beta"])
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
    for method in ("auto", "isotonic", "sigmoid", "beta"):
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


def test_isotonic_step_levels_rest_on_enough_rows():
    """Rare positives: plain isotonic puts a 100 % level on the few top rows; the step map
    (kept for comparison) pools levels until each rests on >= MIN_ISOTONIC_BLOCK rows, stays
    monotone, and keeps the mean -- at the price of plateaus."""
    rng = np.random.default_rng(1)
    raw = np.r_[rng.normal(-4, 1.2, 20000), np.full(5, 8.0)]  # a few extreme scores ...
    y = np.r_[(rng.random(20000) < 1 / (1 + np.exp(-raw[:20000]))), np.ones(5)].astype(float)
    plain = IsotonicRegression(out_of_bounds="clip", y_min=0, y_max=1).fit(raw, y)
    assert plain.predict(raw).max() == 1.0
    cal = fit_calibrator("isotonic_step", raw, y)
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


def _rare_outcomes(n: int = 40_000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Raw scores and outcomes whose true log-odds are not a linear function of the raw score."""
    rng = np.random.default_rng(seed)
    raw = rng.normal(-3.5, 1.3, n)
    true_logit = -4.0 + 0.6 * raw + 0.35 * np.maximum(raw + 2.0, 0.0) ** 2
    y = (rng.random(n) < 1 / (1 + np.exp(-true_logit))).astype(float)
    return raw, y


@pytest.mark.parametrize("method", CANDIDATES)
def test_candidate_calibrators_are_strictly_increasing(method):
    """Every candidate -> distinct raw scores get distinct probabilities (strictly increasing,
    also beyond the fitted range and between close scores), never exactly 0 or 1, and the map
    survives a JSON round trip."""
    raw, y = _rare_outcomes()
    cal = fit_calibrator(method, raw, y)
    # a rare-event risk model's raw scores lie in about [-20, 4]; much closer to 1, float64
    # cannot tell probabilities 1e-16 apart
    grid = np.unique(np.r_[np.linspace(-20, 4, 20001), np.sort(raw)])
    p = cal.predict(grid)
    assert np.all(np.diff(p) > 0), method
    extreme = cal.predict(np.array([-1e6, -500.0, 500.0, 1e6]))
    assert extreme.min() > 0.0 and extreme.max() < 1.0
    close = np.array([-3.0, -3.0 + 1e-9, 0.5, 0.5 + 1e-9])
    assert len(np.unique(cal.predict(close))) == 4
    again = calibrator_from_dict(json.loads(json.dumps(cal.to_dict())))
    np.testing.assert_array_equal(again.predict(grid), p)


def test_step_isotonic_makes_plateaus_the_candidates_do_not():
    """The old step isotonic map ties many of the top 5 % on one value; no candidate ties any."""
    raw, y = _rare_outcomes()
    top = raw >= np.quantile(raw, 0.95)
    _, counts = np.unique(
        fit_calibrator("isotonic_step", raw, y).predict(raw[top]), return_counts=True
    )
    assert counts.max() > 50
    for method in CANDIDATES:
        p = fit_calibrator(method, raw, y).predict(raw[top])
        assert len(np.unique(p)) == len(np.unique(raw[top])), method


def test_model_gives_distinct_households_distinct_probabilities(training_set):
    """A fitted model -> as many distinct probabilities as distinct raw scores, none 0 or 1."""
    X, y, as_of = _xy(training_set)
    model = RecurrenceRiskModel(**FAST).fit(X, y, as_of=as_of)
    raw = model.predict_raw(X)
    p = model.predict_proba(X)[:, 1]
    assert len(np.unique(p)) == len(np.unique(raw))
    assert p.min() > 0.0 and p.max() < 1.0
    order = np.argsort(raw)
    assert np.all(np.diff(p[order])[np.diff(raw[order]) > 0] > 0)


def test_choose_calibrator_picks_lowest_out_of_time_log_loss():
    """Forward chaining over blocks -> every candidate scored on later blocks only; the choice
    has the lowest log-loss. Curved true log-odds -> a flexible map beats Platt scaling."""
    raw, y = _rare_outcomes(60_000, seed=2)
    blocks = [(raw[i::3], y[i::3]) for i in range(3)]
    choice = choose_calibrator(blocks)
    assert set(choice.scores) == set(CANDIDATES)
    assert all(v["rows"] == len(blocks[1][1]) + len(blocks[2][1]) for v in choice.scores.values())
    assert choice.method == min(choice.scores, key=lambda m: choice.scores[m]["log_loss"])
    assert choice.method != "sigmoid"
    assert choice.scores["sigmoid"]["log_loss"] > choice.scores[choice.method]["log_loss"]


def test_choose_calibrator_with_one_block_says_so():
    """One block -> nothing out of time to compare on: sigmoid, and the reason says so."""
    raw, y = _rare_outcomes(5000)
    choice = choose_calibrator([(raw, y)])
    assert choice.method == "sigmoid" and choice.scores == {}
    assert "no out-of-time comparison" in choice.reason


def test_auto_calibration_records_choice(training_set):
    """calibration='auto' -> the summary names the chosen candidate and every candidate's
    out-of-time log-loss; the fitted calibrator is that candidate."""
    X, y, as_of = _xy(training_set)
    model = RecurrenceRiskModel(**FAST).fit(X, y, as_of=as_of)
    cal = model.training_summary_["calibration"]
    assert cal["requested"] == "auto"
    assert cal["method"] == model.calibrator_.method in CANDIDATES
    assert set(cal["candidates"]) == set(CANDIDATES)
    assert cal["method"] == min(cal["candidates"], key=lambda m: cal["candidates"][m]["log_loss"])


def test_defaults_equal_configs_training_yaml():
    """RecurrenceRiskModel() defaults == configs/training.yaml's model section (purge_months:
    null = the horizon), so the Python API trains like the CLI."""
    config = load_training_config()
    defaults = RecurrenceRiskModel().get_params()
    for key, value in config.model.model_dump().items():
        if key == "purge_months" and value is None:
            value = config.horizon_months
        assert defaults[key] == value, key
    assert defaults["protected_attributes"] == tuple(config.protected_attributes)
