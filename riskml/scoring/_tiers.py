"""Ranks within village and township, and risk tiers, over the whole roster's scores."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from riskml.config.scoring import TierConfig
from riskml.config.training import CapacitySettings
from riskml.scoring._ids import null_column

__all__ = ["assign_tiers", "model_capacity", "rank_within"]

VILLAGE_KEYS: tuple[str, ...] = ("county_code", "township_code", "village_code")
TOWNSHIP_KEYS: tuple[str, ...] = ("county_code", "township_code")


def rank_within(scores: pd.DataFrame, keys: tuple[str, ...]) -> pd.Series:
    """Rank of each scored household within its group (1 = highest risk).

    Ties in ``score`` are broken by ``raw_score`` (when present; the calibrated probability is a
    strictly increasing function of it, so this only matters for models saved with the older
    step-wise calibration) and then by ``household_id``, so the ranking is a deterministic
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
    out = pd.Series(null_column(len(scores), "Int64"), index=scores.index)
    scored = (scores["status"] == "scored").fillna(False).to_numpy(dtype=bool)
    if not scored.any():
        return out
    needed = [*keys, "household_id", "score", *(["raw_score"] if "raw_score" in scores else [])]
    sub = scores.loc[scored, list(dict.fromkeys(needed))]
    group = sub.groupby(list(keys), sort=False, dropna=False, observed=True).ngroup().to_numpy()
    ids = sub["household_id"].astype("string").fillna("").to_numpy(dtype=object)
    score = sub["score"].to_numpy(dtype=float)
    # older step-wise calibrations tie probabilities; the raw score still separates them
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


def model_capacity(model: Any) -> tuple[CapacitySettings, str]:
    """The cadres' capacity a model was backtested at, and where it came from.

    Models record ``configs/training.yaml``'s ``capacity`` in their metadata at training; for a
    model without it (trained by an older riskml) the current ``configs/training.yaml`` is used,
    and the note says so.
    """
    meta = getattr(model, "metadata", None) or {}
    recorded = meta.get("capacity") if isinstance(meta, Mapping) else None
    if isinstance(recorded, Mapping):
        return CapacitySettings.model_validate(dict(recorded)), "recorded with the model"
    from riskml.config.training import load_training_config

    return (
        load_training_config().capacity,
        "from configs/training.yaml (the model records no capacity: trained by an older riskml)",
    )


def assign_tiers(
    scores: pd.DataFrame,
    config: TierConfig,
    capacity: CapacitySettings | Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Add ``rank_village``, ``rank_township``, ``tier`` and ``flagged`` to a roster's scores.

    ``method: capacity`` (default) ranks the roster and gives the top ``capacity`` households
    (``capacity.share`` of the scored households, or ``capacity.per_village`` per village: the
    one setting in ``configs/training.yaml`` that the backtest's recall at capacity is measured
    at) the tier ``high``; the households ranked after them up to
    ``config.capacity.medium_multiple`` times the capacity are ``medium``; households below
    ``config.capacity.min_score`` stay ``low``. ``method: cutoffs`` tiers by calibrated
    probability. ``flagged`` is True for the configured flagged tiers. Households that were not
    scored get no rank and no tier, and are not flagged.

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
        if capacity is None:
            raise ValueError(
                "tiers.method 'capacity' needs the cadres' capacity (configs/training.yaml "
                "capacity, recorded with the model); pass capacity=..."
            )
        cap = (
            capacity
            if isinstance(capacity, CapacitySettings)
            else CapacitySettings.model_validate(dict(capacity))
        )
        multiple = float(config.capacity.medium_multiple)
        if cap.per_village is not None:
            rank = out["rank_village"].to_numpy(dtype=float, na_value=np.nan)
            k_high = float(cap.per_village)
            k_medium = float(np.floor(cap.per_village * multiple + 1e-9))
        else:
            rank = rank_within(out.assign(_roster=0), ("_roster",)).to_numpy(
                dtype=float, na_value=np.nan
            )
            n = int(scored.sum())
            # the backtest's rounding (riskml.models._metrics._k_per_group)
            k_high = float(np.floor(float(cap.share) * n + 0.5))
            k_medium = float(np.floor(float(cap.share) * multiple * n + 0.5))
        tier = np.where(rank <= k_high, "high", np.where(rank <= k_medium, "medium", "low"))
        tier = np.where(score < config.capacity.min_score, "low", tier)
    tier_series = pd.Series(pd.array(np.where(scored, tier, None), dtype="string"), index=out.index)
    out["tier"] = tier_series
    out["flagged"] = pd.array(
        tier_series.isin(list(config.flagged)).to_numpy(dtype=bool) & scored, dtype="boolean"
    )
    return out
