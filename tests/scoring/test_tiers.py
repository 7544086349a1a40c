"""Ranks within village/township and tiers by cut-offs and by capacity (riskml.scoring._tiers)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from riskml.config.scoring import TierCapacity, TierConfig, TierCutoffs
from riskml.scoring import assign_tiers, rank_within


def _roster() -> pd.DataFrame:
    # two townships; village "v1" exists in both (codes are only unique within their parent)
    return pd.DataFrame(
        {
            "household_id": ["h1", "h2", "h3", "h4", "h5", "h6", "h7", "h8"],
            "county_code": ["c"] * 8,
            "township_code": ["t1", "t1", "t1", "t1", "t2", "t2", "t2", "t2"],
            "village_code": ["v1", "v1", "v1", "v2", "v1", "v1", "v1", "v1"],
            "status": [
                "scored",
                "scored",
                "scored",
                "scored",
                "scored",
                "not_eligible",
                "scored",
                "scored",
            ],
            "score": [0.30, 0.50, 0.30, 0.90, 0.05, np.nan, 0.25, 0.12],
        }
    )


def _config(method: str, flagged: tuple[str, ...] | None = None, **capacity: float) -> TierConfig:
    cap = {"medium_multiple": 2.0, "min_score": 0.0} | capacity
    if flagged is None:
        flagged = ("high",) if method == "capacity" else ("high", "medium")
    return TierConfig(
        method=method,
        cutoffs=TierCutoffs(high=0.4, medium=0.2),
        capacity=TierCapacity(**cap),
        flagged=flagged,
    )


def test_rank_within_village_breaks_ties_by_household_id_and_skips_unscored() -> None:
    df = _roster()
    ranks = rank_within(df, ("county_code", "township_code", "village_code"))
    # t1/v1: h2 (0.5) 1st, then h1 and h3 tie at 0.30 -> household id decides
    assert ranks.tolist()[:4] == [2, 1, 3, 1]
    # t2/v1 is a different village from t1/v1: h7 1st, h8 2nd, h5 3rd; h6 (not scored) has none
    assert ranks.tolist()[4:] == [3, pd.NA, 1, 2]
    assert str(ranks.dtype) == "Int64"


def test_rank_within_village_breaks_probability_ties_by_raw_score_first() -> None:
    """Step-wise calibrations (models saved by older riskml) tie calibrated probabilities; the
    raw score still orders them."""
    df = _roster().assign(raw_score=[-1.0, 0.0, -0.5, 1.0, -3.0, np.nan, -1.2, -2.0])
    ranks = rank_within(df, ("county_code", "township_code", "village_code"))
    # t1/v1: h2 1st; h1 and h3 tie at 0.30 but h3's raw score is higher -> h3 2nd, h1 3rd
    assert ranks.tolist()[:3] == [3, 1, 2]


def test_rank_within_township_spans_villages() -> None:
    ranks = rank_within(_roster(), ("county_code", "township_code"))
    assert ranks.tolist() == [3, 2, 4, 1, 3, pd.NA, 1, 2]


def test_rank_is_a_permutation_per_group_on_a_random_roster() -> None:
    rng = np.random.default_rng(0)
    n = 5000
    df = pd.DataFrame(
        {
            "household_id": [f"h{i:05d}" for i in rng.permutation(n)],
            "village_code": rng.choice([f"v{i}" for i in range(37)], n),
            "status": "scored",
            "score": rng.choice([0.1, 0.2, 0.3], n),  # many ties
        }
    )
    ranks = rank_within(df, ("village_code",))
    for _, g in df.assign(rank=ranks).groupby("village_code"):
        assert sorted(g["rank"].tolist()) == list(range(1, len(g) + 1))
        ordered = g.sort_values("rank")
        # non-increasing score, and ids ascending within equal scores
        assert (np.diff(ordered["score"].to_numpy()) <= 0).all()
        for _, tie in ordered.groupby("score"):
            assert tie["household_id"].tolist() == sorted(tie["household_id"].tolist())


def test_tiers_by_cutoffs() -> None:
    out = assign_tiers(_roster(), _config("cutoffs"))
    assert out["tier"].tolist() == [
        "medium",
        "high",
        "medium",
        "high",
        "low",
        pd.NA,
        "medium",
        "low",
    ]
    assert out["flagged"].tolist() == [True, True, True, True, False, False, True, False]


def test_only_configured_tiers_are_flagged() -> None:
    out = assign_tiers(_roster(), _config("cutoffs", flagged=("high",)))
    assert out.loc[out["flagged"], "household_id"].tolist() == ["h2", "h4"]


def test_tiers_by_capacity_per_village() -> None:
    """capacity.per_village = 1 -> rank 1 of each village high (flagged), rank 2 medium (up to
    medium_multiple = 2 x capacity), the rest low."""
    out = assign_tiers(_roster(), _config("capacity"), capacity={"per_village": 1})
    assert out["tier"].tolist() == ["medium", "high", "low", "high", "low", pd.NA, "high", "medium"]
    assert out.loc[out["flagged"], "household_id"].tolist() == ["h2", "h4", "h7"]


def test_tiers_by_capacity_share_flag_exactly_the_backtest_capacity() -> None:
    """capacity.share -> the flagged tier is the top share of the scored roster, rounded as the
    backtest rounds (floor(share x n + 0.5)); medium up to medium_multiple x that."""
    rng = np.random.default_rng(3)
    n = 1000
    df = pd.DataFrame(
        {
            "household_id": [f"h{i:04d}" for i in range(n)],
            "county_code": "c",
            "township_code": "t",
            "village_code": rng.choice(["v1", "v2", "v3"], n),
            "status": "scored",
            "score": rng.random(n),
        }
    )
    out = assign_tiers(df, _config("capacity"), capacity={"share": 0.05})
    assert int(out["flagged"].sum()) == 50
    assert int((out["tier"] == "medium").sum()) == 50
    assert out.loc[out["flagged"], "score"].min() > out.loc[~out["flagged"], "score"].max()


def test_capacity_min_score_keeps_low_risk_villages_low() -> None:
    out = assign_tiers(_roster(), _config("capacity", min_score=0.2), capacity={"per_village": 1})
    # t2/v1's second place (h8, 0.12) is below the floor
    assert out.set_index("household_id").loc["h8", "tier"] == "low"
    assert out.set_index("household_id").loc["h7", "tier"] == "high"


def test_capacity_tiers_need_the_capacity() -> None:
    with pytest.raises(ValueError, match=r"configs/training.yaml capacity"):
        assign_tiers(_roster(), _config("capacity"))


def test_capacity_tiers_flag_high_only() -> None:
    """method: capacity with flagged [high, medium] would flag twice the capacity the backtest
    measured -> a config error saying so."""
    with pytest.raises(ValueError, match="flagged tier is exactly the cadres' capacity"):
        _config("capacity", flagged=("high", "medium"))


def test_old_per_village_tier_keys_are_a_clear_error() -> None:
    """tiers.capacity.high_per_village (two settings that could disagree) -> an error pointing
    to configs/training.yaml capacity."""
    with pytest.raises(ValueError, match=r"set once in configs/training\.yaml"):
        TierCapacity.model_validate({"high_per_village": 3, "medium_per_village": 5})


def test_flagged_tier_list_rejects_low() -> None:
    with pytest.raises(ValueError, match="'low' cannot be a flagged tier"):
        _config("cutoffs", flagged=("low",))
