"""Change since the previous run (riskml.scoring.compare_with_previous)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from riskml.config.scoring import ChangeConfig
from riskml.scoring import ScoringChangeError, compare_with_previous


def _frame(rows: list[tuple[str, str, float, str | None, bool]]) -> pd.DataFrame:
    ids, status, score, tier, flagged = zip(*rows, strict=True)
    return pd.DataFrame(
        {
            "household_id": pd.array(ids, dtype="string"),
            "status": pd.array(status, dtype="string"),
            "score": np.array(score, dtype=float),
            "tier": pd.array(tier, dtype="string"),
            "flagged": pd.array(flagged, dtype="boolean"),
        }
    )


PREVIOUS = _frame(
    [
        ("a", "scored", 0.10, "low", False),  # -> flagged now: new_flag
        ("b", "scored", 0.30, "high", True),  # -> low now: no_longer_flagged
        ("c", "scored", 0.02, "low", False),  # -> +0.06: score_up
        ("d", "scored", 0.09, "low", False),  # -> -0.06: score_down
        ("e", "scored", 0.05, "low", False),  # -> +0.01: unchanged
        ("f", "scored", 0.25, "high", True),  # -> now under monitoring: no_longer_flagged
        ("g", "scored", 0.12, "medium", True),  # -> high, +0.01: tier move -> score_up
        ("z", "scored", 0.50, "high", True),  # left the roster
    ]
)
CURRENT = _frame(
    [
        ("a", "scored", 0.30, "high", True),
        ("b", "scored", 0.04, "low", False),
        ("c", "scored", 0.08, "low", False),
        ("d", "scored", 0.03, "low", False),
        ("e", "scored", 0.06, "low", False),
        ("f", "not_eligible", np.nan, None, False),
        ("g", "scored", 0.13, "high", True),
        ("n", "scored", 0.70, "high", True),  # new household
    ]
)


def test_each_kind_of_change_is_marked() -> None:
    out, counts = compare_with_previous(
        CURRENT, PREVIOUS, ChangeConfig(big_move=0.05, tier_change_is_move=True)
    )
    assert dict(zip(out["household_id"], out["change"], strict=True)) == {
        "a": "new_flag",
        "b": "no_longer_flagged",
        "c": "score_up",
        "d": "score_down",
        "e": "unchanged",
        "f": "no_longer_flagged",
        "g": "score_up",
        "n": "new_household",
    }
    assert counts["left_roster"] == 1
    assert counts["new_flag"] == 1 and counts["no_longer_flagged"] == 2
    assert out.set_index("household_id").loc["c", "previous_score"] == pytest.approx(0.02)
    assert out.set_index("household_id").loc["b", "previous_tier"] == "high"
    assert pd.isna(out.set_index("household_id").loc["n", "previous_score"])


def test_tier_changes_can_be_ignored() -> None:
    out, _ = compare_with_previous(
        CURRENT, PREVIOUS, ChangeConfig(big_move=0.05, tier_change_is_move=False)
    )
    assert out.set_index("household_id").loc["g", "change"] == "unchanged"


def test_big_move_threshold_comes_from_config() -> None:
    out, _ = compare_with_previous(
        CURRENT, PREVIOUS, ChangeConfig(big_move=0.07, tier_change_is_move=False)
    )
    changes = dict(zip(out["household_id"], out["change"], strict=True))
    assert changes["c"] == "unchanged" and changes["d"] == "unchanged"


def test_public_previous_file_is_refused() -> None:
    masked = PREVIOUS.assign(
        household_id=pd.array(["******" + i for i in PREVIOUS["household_id"]], dtype="string")
    )
    with pytest.raises(ScoringChangeError, match="public-mode file"):
        compare_with_previous(CURRENT, masked, ChangeConfig())


def test_previous_file_with_duplicate_households_is_refused() -> None:
    dup = pd.concat([PREVIOUS, PREVIOUS.iloc[:1]], ignore_index=True)
    with pytest.raises(ScoringChangeError, match="more than once"):
        compare_with_previous(CURRENT, dup, ChangeConfig(), previous_path="last.parquet")


def test_previous_file_without_score_columns_is_refused() -> None:
    with pytest.raises(ScoringChangeError, match=r"lacks the column\(s\) \['flagged', 'tier'\]"):
        compare_with_previous(CURRENT, PREVIOUS.drop(columns=["tier", "flagged"]), ChangeConfig())
