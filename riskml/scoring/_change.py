"""What changed since the previous run: newly flagged, no longer flagged, big score moves."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from riskml.config.scoring import TIER_ORDER, ChangeConfig
from riskml.scoring._ids import arrow_ids, id_positions, ids_in

__all__ = ["ScoringChangeError", "compare_with_previous"]


class ScoringChangeError(ValueError):
    """The previous score file cannot be compared with this run."""


def _previous_by_id(previous: pd.DataFrame, previous_path: str) -> pd.DataFrame:
    """The previous file's score, tier and flag by household id (checked to be comparable)."""
    needed = {"household_id", "score", "tier", "flagged"}
    missing = sorted(needed - set(previous.columns))
    if missing:
        raise ScoringChangeError(
            f"{previous_path} lacks the column(s) {missing}; give a score file written by 'riskml score'."
        )
    prev_ids = previous["household_id"].astype("string")
    if prev_ids.str.startswith("*").fillna(False).any():
        raise ScoringChangeError(
            f"{previous_path} is a public-mode file (household ids are masked); compare with the "
            "internal score file of the previous run."
        )
    dup = prev_ids[prev_ids.duplicated()]
    if len(dup):
        raise ScoringChangeError(
            f"{previous_path} lists {dup.nunique()} household id(s) more than once (first: row "
            f"{int(dup.index[0]) + 2}); it is not a score file written by 'riskml score'."
        )
    return pd.DataFrame(
        {
            "previous_score": previous["score"].astype("float64").to_numpy(),
            "previous_tier": previous["tier"].astype("string").to_numpy(),
            "_prev_flagged": previous["flagged"].astype("boolean").fillna(False).array,
        },
        index=pd.Index(prev_ids.to_numpy(), name="household_id"),
    )


def _moves(
    out: pd.DataFrame, prev_score: np.ndarray, prev_tier: Any, config: ChangeConfig
) -> tuple[np.ndarray, np.ndarray]:
    """(score up, score down): a big probability move or, when configured, a tier change."""
    cur_score = out["score"].to_numpy(dtype=float, na_value=np.nan)
    rank = {t: i for i, t in enumerate(TIER_ORDER)}
    cur_tier_rank = out["tier"].astype("string").map(rank).to_numpy(dtype=float, na_value=np.nan)
    prev_tier_rank = pd.Series(prev_tier).map(rank).to_numpy(dtype=float, na_value=np.nan)
    delta = cur_score - prev_score
    both = ~np.isnan(delta)
    big = both & (np.abs(delta) >= config.big_move - 1e-12)
    tier_delta = cur_tier_rank - prev_tier_rank
    if config.tier_change_is_move:
        tier_moved = ~np.isnan(tier_delta) & (tier_delta != 0)
    else:
        tier_moved = np.zeros(len(out), dtype=bool)
    up = (big & (delta > 0)) | (~big & tier_moved & (tier_delta > 0))
    down = (big & (delta < 0)) | (~big & tier_moved & (tier_delta < 0))
    return up, down


def compare_with_previous(
    current: pd.DataFrame,
    previous: pd.DataFrame,
    config: ChangeConfig,
    *,
    previous_path: str = "the previous score file",
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Mark each household's change since the previous run.

    Households are matched on ``household_id``. ``change`` is, in order of precedence:

    - ``new_household``: not in the previous file;
    - ``new_flag``: flagged now, not flagged then;
    - ``no_longer_flagged``: flagged then, not now (including households that have since been
      taken under monitoring, so they are no longer eligible);
    - ``score_up`` / ``score_down``: scored both times and the calibrated probability moved by at
      least ``config.big_move``, or (with ``tier_change_is_move``) the tier changed;
    - ``unchanged``: everything else.

    Parameters
    ----------
    current : DataFrame
        This run's scores (``household_id``, ``status``, ``score``, ``tier``, ``flagged``).
    previous : DataFrame
        The previous run's score file as read by :func:`riskml.scoring.read_scores`.
    config : ChangeConfig
    previous_path : str
        Named in error messages.

    Returns
    -------
    (DataFrame, dict)
        A copy of ``current`` with ``change``, ``previous_score`` and ``previous_tier``, and counts
        including ``left_roster`` (households in the previous file but not in this roster).
    """
    prev = _previous_by_id(previous, previous_path)
    out = current.copy()
    ids = arrow_ids(out["household_id"])
    prev_ids = arrow_ids(prev.index)
    at = id_positions(ids, prev_ids)
    present = at >= 0

    prev_score = prev["previous_score"].array.take(at, allow_fill=True).to_numpy(dtype=float)
    prev_tier = pd.array(
        prev["previous_tier"].array.take(at, allow_fill=True).to_numpy(), dtype="string"
    )
    prev_flag = pd.Series(prev["_prev_flagged"].array.take(at, allow_fill=True))
    prev_flag = prev_flag.astype("boolean").fillna(False).to_numpy(dtype=bool)
    cur_flag = out["flagged"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    up, down = _moves(out, prev_score, prev_tier, config)
    change = np.select(
        [~present, cur_flag & ~prev_flag, prev_flag & ~cur_flag, up, down],
        ["new_household", "new_flag", "no_longer_flagged", "score_up", "score_down"],
        default="unchanged",
    )
    out["change"] = pd.array(change, dtype="string")
    out["previous_score"] = prev_score
    out["previous_tier"] = prev_tier
    counts = {str(k): int(v) for k, v in pd.Series(change).value_counts().items()}
    counts["left_roster"] = int((~ids_in(prev_ids, ids)).sum())
    return out, counts
