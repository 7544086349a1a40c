"""The calibrator's level: refitted on the latest time block, so a drifting base rate is not
averaged into the scores, while the map stays strictly increasing."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit, logit

from riskml.models import RecurrenceRiskModel
from riskml.models._calibration import (
    CANDIDATES,
    LEVELS,
    LevelShiftedCalibrator,
    calibrator_from_dict,
    fit_calibration,
    fit_calibrator,
    fit_level_shift,
)
from riskml.models._metrics import top_decile_calibration

FAST = {
    "n_estimators": 60,
    "learning_rate": 0.1,
    "min_child_samples": 40,
    "n_jobs": 1,
    "random_state": 0,
}


def _outcomes(n: int, shift: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Raw scores and outcomes whose true log-odds are ``-3 + 0.8 * raw + shift``."""
    rng = np.random.default_rng(seed)
    raw = rng.normal(-2.0, 1.2, n)
    y = (rng.random(n) < expit(-3.0 + 0.8 * raw + shift)).astype(float)
    return raw, y


@pytest.mark.parametrize("method", CANDIDATES)
def test_level_shift_matches_the_latest_rate_and_keeps_the_order(method):
    """Shape fitted on old and new blocks, level on the new one -> the mean probability on the
    new block equals its rate; the map stays strictly increasing, never 0 or 1, and survives a
    JSON round trip."""
    raw_old, y_old = _outcomes(30_000, 0.0, 1)
    raw_new, y_new = _outcomes(30_000, 0.7, 2)
    raw, y = np.r_[raw_old, raw_new], np.r_[y_old, y_new]
    block = np.r_[np.zeros(len(y_old)), np.ones(len(y_new))]
    pooled = fit_calibration(method, raw, y, block, level="pooled")
    latest = fit_calibration(method, raw, y, block, level="latest_block")
    assert isinstance(latest, LevelShiftedCalibrator) and latest.method == method
    assert latest.shift > 0.2  # the rate rose: the level goes up
    assert latest.predict(raw_new).mean() == pytest.approx(y_new.mean(), rel=1e-6)
    assert pooled.predict(raw_new).mean() < 0.9 * y_new.mean()  # pooled under-predicts
    grid = np.unique(np.r_[np.linspace(-20, 4, 20001), np.sort(raw)])
    p = latest.predict(grid)
    assert np.all(np.diff(p) > 0)
    assert p.min() > 0.0 and p.max() < 1.0
    again = calibrator_from_dict(json.loads(json.dumps(latest.to_dict())))
    np.testing.assert_array_equal(again.predict(grid), p)


def test_level_shift_of_one_class_or_no_rows_leaves_the_calibrator():
    """No rows, or rows of one class, say nothing about the level: the calibrator is kept."""
    raw, y = _outcomes(5000, 0.0, 3)
    cal = fit_calibrator("sigmoid", raw, y)
    assert fit_level_shift(cal, raw[:0], y[:0]) is cal
    assert fit_level_shift(cal, raw[:50], np.zeros(50)) is cal
    shifted = fit_level_shift(cal, raw, y)
    assert fit_level_shift(shifted, raw, y).base is cal  # never a shift of a shift


def test_unknown_level_is_refused():
    raw, y = _outcomes(2000, 0.0, 4)
    with pytest.raises(ValueError, match="calibration level"):
        fit_calibration("sigmoid", raw, y, np.zeros(len(y)), level="newest")
    with pytest.raises(ValueError, match="calibration_level"):
        RecurrenceRiskModel(calibration_level="newest").fit(
            np.c_[raw], y, as_of=np.repeat(pd.date_range("2020-01-01", periods=4, freq="QS"), 500)
        )


def _rising_rate_set(make_training_set):
    """A training set whose identification rate rose by 0.8 log-odds two years before its last
    date and stayed there (as the demo province's rate rose from 2022), with the rows after it."""
    ts = make_training_set(n_households=3000, n_dates=16, seed=5)
    frame = ts.frame
    dates = np.sort(frame["as_of"].unique())
    t = np.searchsorted(dates, frame["as_of"].to_numpy())
    p = expit(logit(ts.oracle) + np.where(t >= 8, 0.8, 0.0))
    y = (np.random.default_rng(9).random(len(p)) < p).astype(int)
    return frame[ts.feature_names], y, frame["as_of"], t


def test_rising_base_rate_top_decile_is_not_under_predicted(make_training_set):
    """The rate rose within the cross-fitting blocks and stays up -> the default level (the final
    booster's scores on the latest block) predicts the later rate: mean within 10 %, and the top
    decile's predicted rate inside its 95 % interval in at least 8 of 10 bins; one level pooled
    over every block misses the mean by more."""
    X, y, as_of, t = _rising_rate_set(make_training_set)
    train, test = t <= 11, t >= 12
    errors = {}
    for level in LEVELS:
        model = RecurrenceRiskModel(**FAST, calibration_level=level)
        model.fit(X[train], y[train], as_of=as_of[train])
        p = model.predict_proba(X[test])[:, 1]
        errors[level] = abs(p.mean() - y[test].mean()) / y[test].mean()
        if level == RecurrenceRiskModel().calibration_level:
            top = top_decile_calibration(y[test], p, model.predict_raw(X[test]), as_of[test])
            predicted = np.average(top["predicted"], weights=top["rows"])
            observed = np.average(top["observed"], weights=top["rows"])
            assert predicted > 0.95 * observed, (predicted, observed)
            assert int(top["in_ci"].sum()) >= 8
            summary = model.training_summary_["calibration"]
            assert summary["level"] == level and summary["level_shift"] != 0.0
    default = RecurrenceRiskModel().calibration_level
    assert errors[default] < 0.1, errors
    assert errors[default] < errors["pooled"], errors
