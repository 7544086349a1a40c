"""Review outcomes of flagged households: counts and the confirmed share, by tier and risk type."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from riskml.scoring import OUTCOME_COLUMNS, review_outcomes


def _scores() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "household_id": ["A", "B", "C", "D", "E", "F"],
            "as_of": pd.to_datetime(["2025-11-30"] * 6),
            "tier": ["high", "high", "medium", "medium", "medium", "low"],
            "flagged": [True, True, True, True, True, False],
            "reason_1_type": ["illness", "disaster", "illness", "other", "illness", None],
            "reason_2_type": ["other", None, None, None, "other", None],
        }
    )


def _reviews() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "household_id": ["A", "B", "C", "C", "D", "F", "E"],
            "reviewed_on": pd.to_datetime(
                # C: first review after the list counts; E: reviewed only before the list
                [
                    "2025-12-05",
                    "2025-12-06",
                    "2025-12-07",
                    "2025-12-20",
                    "2025-12-08",
                    "2025-12-09",
                    "2025-10-01",
                ]
            ),
            "outcome": [
                "identified",
                "not_at_risk",
                "unreachable",
                "identified",
                "not_at_risk",
                "identified",
                "identified",
            ],
        }
    )


def test_counts_and_confirmed_share_by_tier() -> None:
    t = review_outcomes(_scores(), _reviews())["by_tier"]
    assert list(t.columns) == list(OUTCOME_COLUMNS)
    assert t.loc["high", ["flagged", "reviewed", "identified", "not_at_risk"]].tolist() == [
        2,
        2,
        1,
        1,
    ]
    # C's first review after the list is 'unreachable'; E was reviewed only before the list
    assert t.loc["medium", ["flagged", "reviewed", "unreachable", "never_reviewed"]].tolist() == [
        3,
        2,
        1,
        1,
    ]
    assert t.loc["high", "confirmed_share"] == pytest.approx(0.5)
    assert t.loc["medium", "confirmed_share"] == pytest.approx(0.0)
    # F was not flagged: not counted, although it was reviewed
    assert t.loc["total", "flagged"] == 5
    assert t.loc["total", "confirmed_share"] == pytest.approx(1 / 3)


def test_by_stated_risk_type_counts_each_type_once_per_household() -> None:
    t = review_outcomes(_scores(), _reviews())["by_risk_type"]
    assert t.loc["illness", "flagged"] == 3  # A, C, E
    assert t.loc["other", "flagged"] == 3  # A, D, E
    assert t.loc["disaster", ["flagged", "not_at_risk"]].tolist() == [1, 1]
    assert t.loc["illness", "identified"] == 1


def test_no_reviews_means_every_flag_never_reviewed() -> None:
    t = review_outcomes(_scores(), _reviews().iloc[:0])["by_tier"]
    assert t.loc["total", "never_reviewed"] == 5
    assert np.isnan(t.loc["total", "confirmed_share"])


def test_public_score_file_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="internal score file"):
        review_outcomes(_scores().drop(columns=["reason_1_type", "reason_2_type"]), _reviews())
