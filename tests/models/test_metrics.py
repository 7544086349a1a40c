"""Metrics against scikit-learn and hand computations; capacity per group and ties."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

from riskml.models import (
    brier,
    expected_calibration_error,
    lift,
    pr_auc,
    recall_precision_at_capacity,
    roc_auc,
    select_at_capacity,
)


@pytest.fixture
def scored():
    rng = np.random.default_rng(3)
    p = rng.beta(1, 20, 3000)
    y = (rng.random(3000) < p).astype(int)
    return y, p


def test_ranking_and_brier_match_sklearn(scored):
    """roc_auc, pr_auc, brier -> the scikit-learn values."""
    y, p = scored
    assert roc_auc(y, p) == pytest.approx(roc_auc_score(y, p))
    assert pr_auc(y, p) == pytest.approx(average_precision_score(y, p))
    assert brier(y, p) == pytest.approx(brier_score_loss(y, p))


def test_single_class_gives_nan():
    """Only negatives -> AUC and PR-AUC are NaN (undefined), not an error or a warning."""
    y = np.zeros(10)
    assert np.isnan(roc_auc(y, np.linspace(0, 1, 10)))
    assert np.isnan(pr_auc(y, np.linspace(0, 1, 10)))


def test_ece_by_hand():
    """Uniform bins: two bins used; ECE = sum of bin share x |mean p - observed|."""
    p = np.array([0.05, 0.05, 0.15, 0.15, 0.95])
    y = np.array([0, 1, 0, 0, 1])
    # bins: [0, .1): p .05 obs .5 (2 rows); [.1, .2): p .15 obs 0 (2 rows); [.9, 1]: p .95 obs 1
    expected = (2 * abs(0.05 - 0.5) + 2 * abs(0.15 - 0.0) + 1 * abs(0.95 - 1.0)) / 5
    assert expected_calibration_error(y, p, n_bins=10, strategy="uniform") == pytest.approx(
        expected
    )
    # quantile bins with 5 bins of one row each (the two 0.05 rows tie and share a bin)
    q = expected_calibration_error(y, p, n_bins=5, strategy="quantile")
    expected_q = (2 * abs(0.05 - 0.5) + 2 * abs(0.15 - 0.0) + abs(0.95 - 1.0)) / 5
    assert q == pytest.approx(expected_q)


def test_ece_near_zero_when_calibrated():
    """Labels drawn from the probabilities themselves -> small ECE; shifted probabilities -> large."""
    rng = np.random.default_rng(0)
    p = rng.beta(1, 30, 200_000)
    y = (rng.random(len(p)) < p).astype(int)
    assert expected_calibration_error(y, p) < 0.002
    assert expected_calibration_error(y, np.clip(p * 2, 0, 1)) > 0.02


def test_capacity_per_village_by_hand():
    """k = 1 per village: village a flags its top row (positive), village b its top (negative)."""
    y = np.array([1, 0, 0, 0, 1, 1])
    s = np.array([0.9, 0.5, 0.1, 0.8, 0.7, 0.2])
    villages = np.array(["a", "a", "a", "b", "b", "b"])
    r = recall_precision_at_capacity(y, s, 1, groups=villages)
    assert r.flags == 2
    assert r.recall == pytest.approx(1 / 3)
    assert r.precision == pytest.approx(1 / 2)
    assert r.lift == pytest.approx((1 / 2) / (3 / 6))
    # k = 2 per village: a -> rows 0, 1 (one positive); b -> rows 3, 4 (one positive)
    r2 = recall_precision_at_capacity(y, s, 2, groups=villages)
    assert (r2.recall, r2.precision) == (pytest.approx(2 / 3), pytest.approx(2 / 4))
    # a village smaller than k flags all its rows
    sel = select_at_capacity(s[:2], 5, groups=villages[:2])
    np.testing.assert_array_equal(sel, [1.0, 1.0])


def test_capacity_share_rounds_half_up_per_group():
    """A 25 % share of groups of 6 and 2 rows -> round(1.5) = 2 and round(0.5) = 1 flags."""
    s = np.arange(8, dtype=float)
    groups = np.array([0] * 6 + [1] * 2)
    sel = select_at_capacity(s, 0.25, groups=groups)
    np.testing.assert_array_equal(sel, [0, 0, 0, 0, 1, 1, 0, 1])


def test_ties_are_expected_value_and_order_free():
    """Capacity 2 with three rows tied for places 2-4 -> each tied row counts 1/3; the result
    does not depend on row order. ties='stable' takes the earliest tied row."""
    s = np.array([0.9, 0.5, 0.5, 0.5, 0.1])
    y = np.array([0, 1, 0, 0, 1])
    sel = select_at_capacity(s, 2)
    np.testing.assert_allclose(sel, [1, 1 / 3, 1 / 3, 1 / 3, 0])
    r = recall_precision_at_capacity(y, s, 2)
    assert r.recall == pytest.approx((1 / 3) / 2)
    perm = np.array([4, 2, 0, 3, 1])
    assert recall_precision_at_capacity(y[perm], s[perm], 2).recall == pytest.approx(r.recall)
    np.testing.assert_array_equal(select_at_capacity(s, 2, ties="stable"), [1, 1, 0, 0, 0])


def test_capacity_with_dataframe_groups_and_lift():
    """Groups given as a (village, as_of) frame -> capacity applies per pair; lift = precision /
    base rate."""
    import pandas as pd

    y = np.array([1, 0, 1, 0])
    s = np.array([0.9, 0.1, 0.2, 0.8])
    groups = pd.DataFrame({"village": ["a", "a", "a", "a"], "as_of": ["d1", "d1", "d2", "d2"]})
    r = recall_precision_at_capacity(y, s, 1, groups=groups)
    assert (r.recall, r.precision) == (0.5, 0.5)
    assert lift(y, s, 1, groups=groups) == pytest.approx(1.0)


@pytest.mark.parametrize("capacity", [0, -1, 1.5, 0.0, True])
def test_bad_capacity(capacity):
    """A capacity that is neither a share in (0, 1] nor a count >= 1 -> ValueError."""
    with pytest.raises(ValueError, match=r"capacity|share|count"):
        select_at_capacity(np.arange(3.0), capacity)


def test_missing_labels_or_scores_are_errors():
    """NaN label or score -> ValueError saying how many are missing."""
    with pytest.raises(ValueError, match="1 missing labels"):
        roc_auc(np.array([1, 0, np.nan]), np.arange(3.0))
    with pytest.raises(ValueError, match="1 missing values"):
        recall_precision_at_capacity(np.array([1, 0, 0]), np.array([0.1, np.nan, 0.2]), 1)
