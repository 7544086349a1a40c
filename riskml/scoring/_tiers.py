"""Ranks within village and township, and risk tiers, over the whole roster's scores."""

from __future__ import annotations

import numpy as np
import pandas as pd

from riskml.config.scoring import TierConfig

__all__ = ["assign_tiers", "rank_within"]

VILLAGE_KEYS: tuple[str, ...] = ("county_code", "township_code", "village_code")
TOWNSHIP_KEYS: tuple[str, ...] = ("county_code", "township_code")


def rank_within(scores: pd.DataFrame, keys: tuple[str, ...]) -> pd.Series:
    """Rank of each scored household within its group (1 = highest risk).

    Ties in ``score`` are broken by ``raw_score`` (when present: calibrated probabilities tie on
    isotonic plateaus) and then by ``household_id``, so the ranking is a deterministic
    permutation (the same on every engine). Households whose ``status`` is not ``scored`` get
    ``<NA>``. Codes are ranked within their parents (``keys``), so a village code reused in two
    townships is two villages.

    Parameters
    ----------
    scores : DataFrame
        Needs ``household_id``, ``status``, ``score`` and the ``keys`` columns.
    keys : tuple of str
        Grouping columns, e.g. ``("county_code", "township_code", "village_code")``.

    Returns
    -------
    Series of ``Int64`` aligned with ``scores.index``.

    Examples
    --------
    >>> df = pd.DataFrame({"household_id": ["a", "b", "c"], "village_code": ["v", "v", "v"],
    ...                    "status": ["scored"] * 3, "score": [0.1, 0.3, 0.1]})
    >>> rank_within(df, ("village_code",)).tolist()
    [2, 1, 3]
    """
    out = pd.Series(pd.array([pd.NA] * len(scores), dtype="Int64"), index=scores.index)
    scored = (scores["status"] == "scored").fillna(False).to_numpy(dtype=bool)
    if not scored.any():
        return out
    sub = scores.loc[scored]
    group = sub.groupby(list(keys), sort=False, dropna=False, observed=True).ngroup().to_numpy()
    ids = sub["household_id"].astype("string").fillna("").to_numpy(dtype=object)
    score = sub["score"].to_numpy(dtype=float)
    # calibrated probabilities tie on isotonic plateaus; the raw score still separates them
    raw = (
        sub["raw_score"].to_numpy(dtype=float, na_value=np.nan)
        if "raw_score" in sub
        else np.zeros(len(sub))
    )
    # lexsort: last key is primary -> group, then descending score, raw score, household id
    order = np.lexsort((ids, -raw, -score, group))
    sorted_group = group[order]
    starts = np.r_[True, sorted_group[1:] != sorted_group[:-1]]
    position = np.arange(len(order))
    first_of_run = np.maximum.accumulate(np.where(starts, position, 0))
    ranks = np.empty(len(order), dtype=np.int64)
    ranks[order] = position - first_of_run + 1
    out.iloc[np.flatnonzero(scored)] = ranks
    return out


def assign_tiers(scores: pd.DataFrame, config: TierConfig) -> pd.DataFrame:
    """Add ``rank_village``, ``rank_township``, ``tier`` and ``flagged`` to a roster's scores.

    ``method: cutoffs`` tiers by calibrated probability; ``method: capacity`` gives each village
    its top ``high_per_village`` households as high and the next ``medium_per_village`` as medium
    (households below ``capacity.min_score`` stay low). ``flagged`` is True for the configured
    flagged tiers. Households that were not scored get no rank and no tier, and are not flagged.

    Returns a copy of ``scores`` with the four columns set.
    """
    out = scores.copy()
    out["rank_village"] = rank_within(out, VILLAGE_KEYS)
    out["rank_township"] = rank_within(out, TOWNSHIP_KEYS)
    scored = (out["status"] == "scored").fillna(False).to_numpy(dtype=bool)
    score = out["score"].to_numpy(dtype=float, na_value=np.nan)
    if config.method == "cutoffs":
        c = config.cutoffs
        tier = np.where(score >= c.high, "high", np.where(score >= c.medium, "medium", "low"))
    else:
        c = config.capacity
        rank = out["rank_village"].to_numpy(dtype=float, na_value=np.nan)
        tier = np.where(
            rank <= c.high_per_village,
            "high",
            np.where(rank <= c.high_per_village + c.medium_per_village, "medium", "low"),
        )
        tier = np.where(score < c.min_score, "low", tier)
    tier_series = pd.Series(pd.array(np.where(scored, tier, None), dtype="string"), index=out.index)
    out["tier"] = tier_series
    out["flagged"] = pd.array(
        tier_series.isin(list(config.flagged)).to_numpy(dtype=bool) & scored, dtype="boolean"
    )
    return out
