"""Calibration by signal: observed rate against the model's mean probability where a signal is on."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from riskml.config.rules import Rule
from riskml.models import RuleBaseline, calibration_by_signal


def test_shrunk_signal_is_under_predicted_beyond_the_overall_level():
    """A signal whose rows the model predicts at a third of their rate, while the model is at
    half the rate overall -> ratio 1/3, relative ratio below 1; counts and rates by hand."""
    rng = np.random.default_rng(3)
    n = 20_000
    on = rng.random(n) < 0.1
    y = (rng.random(n) < np.where(on, 0.06, 0.02)).astype(int)
    observed_on, observed_all = y[on].mean(), y.mean()
    prob = np.where(on, observed_on / 3, 0.0)
    prob[~on] = (observed_all / 2 * n - prob[on].sum()) / (~on).sum()  # overall: half the rate
    table = calibration_by_signal(pd.DataFrame({"signal": on}), y, prob)
    assert table.loc["signal", "rows"] == on.sum()
    assert table.loc["signal", "positives"] == y[on].sum()
    assert table.loc["signal", "observed"] == pytest.approx(observed_on)
    assert table.loc["signal", "ratio"] == pytest.approx(1 / 3)
    assert table.loc["all", "ratio"] == pytest.approx(1 / 2)
    assert table.loc["signal", "relative_ratio"] == pytest.approx(2 / 3)
    assert table.loc["all", "relative_ratio"] == pytest.approx(1.0)


def test_rule_flags_as_signals_and_empty_signal():
    """RuleBaseline.fired() columns are signals; a rule that never fires -> 0 rows, NaN rates."""
    X = pd.DataFrame({"a": [1.0, 0.0, 2.0, 0.0], "b": [0.0, 0.0, 0.0, 0.0]})
    rules = RuleBaseline(
        [
            Rule(name="a_on", feature="a", op=">", value=0),
            Rule(name="b_on", feature="b", op=">", value=0),
        ]
    )
    y = np.array([1, 0, 0, 1])
    prob = np.array([0.4, 0.1, 0.2, 0.3])
    table = calibration_by_signal(rules.fired(X), y, prob)
    assert table.loc["a_on", "rows"] == 2 and table.loc["a_on", "observed"] == pytest.approx(0.5)
    assert table.loc["a_on", "predicted"] == pytest.approx(0.3)
    assert table.loc["b_on", "rows"] == 0
    assert np.isnan(table.loc["b_on", "observed"]) and np.isnan(table.loc["b_on", "ratio"])


def test_rows_that_do_not_match_are_an_error():
    with pytest.raises(ValueError, match="same rows"):
        calibration_by_signal(pd.DataFrame({"s": [True, False]}), np.array([1, 0, 0]), np.zeros(3))
