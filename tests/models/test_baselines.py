"""Baselines: department rules reproduce hand-computed flags; persistence; the scorecard."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from riskml.config.rules import Rule, load_rules_config
from riskml.models import RuleBaseline, ScorecardBaseline, roc_auc


@pytest.fixture
def small_frame() -> pd.DataFrame:
    """Six households, values chosen so each rule's outcome is known by hand."""
    return pd.DataFrame(
        {
            "household_id": ["h1", "h2", "h3", "h4", "h5", "h6"],
            "oop_medical_last_year": [25_000.0, 20_000.0, 0.0, np.nan, 1_000.0, 30_000.0],
            "oop_medical_12m": [0.0, 20_001.0, 0.0, 0.0, 0.0, 25_000.0],
            "new_social_assistance_12m": [0.0, 0.0, 1.0, 0.0, 0.0, 1.0],
            "severe_disability_members": [0.0, 0.0, 0.0, 2.0, 0.0, 0.0],
            "disaster_loss_12m": [0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
            "school_dropout_12m": [0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
            "accident_12m": [0.0, 0.0, 0.0, 0.0, 0.0, np.nan],
            "pc_income_last": [9000.0, 8000.0, 12000.0, 5000.0, np.nan, 3000.0],
            "pc_income_to_threshold_last": [1.1, 0.99, 1.5, 0.6, np.nan, 0.4],
            "ever_monitored": [0.0, 1.0, 0.0, 0.0, 0.0, 0.0],
            "months_since_elimination": [np.nan, 14.0, np.nan, np.nan, np.nan, np.nan],
        }
    )


def test_department_rules_reproduce_hand_flags(small_frame):
    """configs/rules.yaml on six households -> the flags and rule counts computed by hand:
    h1 oop 25k (1 rule); h2 oop 20k is not > 20k but 12m bills 20,001 and income 0.99 (2);
    h3 new assistance (1); h4 severe disability + income 0.6, oop missing never fires (2);
    h5 nothing, income missing never fires (0); h6 oop, 12m bills, assistance, income 0.4 (4)."""
    rules = RuleBaseline(load_rules_config().rules)
    assert rules.flags(small_frame).tolist() == [True, True, True, True, False, True]
    np.testing.assert_array_equal(rules.score(small_frame), [1, 2, 1, 2, 0, 4])
    fired = rules.fired(small_frame)
    assert not fired.loc[1, "high_oop_medical"]
    assert bool(fired.loc[1, "high_oop_medical_12m"]) and bool(
        fired.loc[1, "income_below_threshold"]
    )


def test_persistence_flags(small_frame):
    """Persistence = previously monitored or income below the line -> h2, h4, h6."""
    pers = RuleBaseline(load_rules_config().persistence, name="persistence")
    assert pers.flags(small_frame).tolist() == [False, True, False, True, False, True]
    np.testing.assert_array_equal(pers.score(small_frame), [0, 2, 0, 1, 0, 1])


def test_missing_value_never_fires_even_for_not_equal():
    """'!=' on a missing value -> not fired (missing never fires any rule)."""
    rule = RuleBaseline([Rule(name="neq", feature="x", op="!=", value=0)])
    assert rule.flags(pd.DataFrame({"x": [1.0, 0.0, np.nan]})).tolist() == [True, False, False]


def test_weights_and_rates(small_frame):
    """Weighted rules -> score = sum of fired weights; fit learns smoothed rates per score level."""
    rules = RuleBaseline(
        [
            Rule(name="a", feature="new_social_assistance_12m", op=">", value=0, weight=2.0),
            Rule(name="b", feature="ever_monitored", op=">=", value=1),
        ]
    )
    np.testing.assert_array_equal(rules.score(small_frame), [0, 1, 2, 0, 0, 2])
    y = np.array([0, 1, 1, 0, 0, 0])
    rules.fit(small_frame, y)
    base = y.mean()
    # level 0: 3 rows, 0 positives; level 2: 2 rows, 1 positive (smoothed with one pseudo-row)
    p = rules.predict_proba(small_frame)
    assert p[0] == pytest.approx((0 + base) / (3 + 1))
    assert p[2] == pytest.approx((1 + base) / (2 + 1))


def test_rules_name_missing_features():
    """A rule feature absent from the frame -> ValueError naming it and the feature set to use."""
    rules = RuleBaseline(load_rules_config().rules)
    with pytest.raises(ValueError, match=r"oop_medical_last_year.*department_rules"):
        rules.flags(pd.DataFrame({"x": [1.0]}))


def test_scorecard_ranks_and_handles_missing_and_unseen(training_set):
    """The scorecard learns the simulated risk (AUC well above 0.5) and scores rows with missing
    values and unseen categories without error."""
    f = training_set.frame
    train = f["as_of"] < f["as_of"].max()
    X = f[training_set.feature_names]
    y = f["label"].astype(int)
    card = ScorecardBaseline().fit(X[train], y[train])
    auc = roc_auc(y[~train], card.predict_proba(X[~train]))
    assert auc > 0.75
    odd = X[~train].head(3).copy()
    odd["livelihood"] = pd.Categorical(["fishing", None, "wage"])
    odd["pc_income_to_threshold_last"] = np.nan
    p = card.predict_proba(odd)
    assert p.shape == (3,) and np.isfinite(p).all()
