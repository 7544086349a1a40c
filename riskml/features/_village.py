"""Village context, point in time: what the neighbours look like as of each date.

Features of primitive ``context`` need other households, so they break the rule that a
household's features depend only on its own rows. They are therefore computed in two steps:

1. :func:`village_context` aggregates the whole bundle into a small table keyed by
   ``(village_code, as_of)`` — one row per village and date. Its inputs are per-household values
   that themselves obey the point-in-time rule (only rows recorded on or before ``as_of``), so
   the table does too.
2. Each chunk or partition of households joins that table on its households' village and as-of
   date (``compute_features(..., village_table=...)``; on Spark the table is broadcast).

Shares include the household itself (it is one of the village's households).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from riskml.data._bundle import Bundle
from riskml.features._catalog import Catalog, Feature, VillageContextSettings, load_catalog
from riskml.features._tables import dates_to_days, days_to_dates

if TYPE_CHECKING:
    from riskml.features._engine import FeatureEngine

__all__ = [
    "VILLAGE_CHUNK_HOUSEHOLDS",
    "VILLAGE_DISASTER_EVENTS",
    "VILLAGE_SUMS",
    "add_to_sums",
    "context_dates",
    "context_frame",
    "village_context",
    "village_helpers",
    "village_inputs",
    "village_order",
]

VILLAGE_DISASTER_EVENTS = ("natural_disaster", "livestock_loss", "crop_failure")
"""Event types counted as a disaster for ``disaster_share_recent``."""

VILLAGE_SUMS = (
    "households",
    "identified",
    "monitored",
    "disaster",
    "income_n",
    "income_sum",
    "ratio_n",
    "near",
)
"""The per-(village, date) sums the context table is made of."""

VILLAGE_CHUNK_HOUSEHOLDS = 250_000
"""Households whose inputs are summed at once. The float sums are added chunk by chunk, so the
Spark engine groups its additions by the same chunks to give identical values."""


def _helper(name: str, **spec: Any) -> Feature:
    return Feature(
        name=name,
        unit="",
        risk_type="other",
        label_zh=name,
        label_en=name,
        reason_zh="",
        reason_en="",
        description="internal input of the village-context table",
        **spec,
    )


def village_order(households: pd.DataFrame) -> tuple[np.ndarray, pd.Index]:
    """Each household's village number and the villages in order of first appearance.

    The village-context table lists villages in this order; -1 marks a household without one.
    """
    codes, uniques = pd.factorize(households["village_code"].astype("object"))
    return codes.astype(np.int64), pd.Index(uniques, dtype="object")


def village_helpers(settings: VillageContextSettings) -> tuple[Feature, ...]:
    """The per-household inputs of the village sums, as (internal) catalog features."""
    w = settings.recent_window_months
    return (
        _helper("identified_recent", table="monitoring", primitive="exists", window_months=w),
        _helper(
            "disaster_recent",
            table="events",
            primitive="exists",
            window_months=w,
            filters={"event_type": VILLAGE_DISASTER_EVENTS},
        ),
        _helper(
            "pc_income", table="income", primitive="last", column="pc_net_income", order_by="year"
        ),
        _helper(
            "pc_ratio",
            table="income",
            primitive="last",
            column="pc_income_to_threshold",
            order_by="year",
        ),
    )


def village_inputs(
    engine: FeatureEngine, codes: np.ndarray, dates: np.ndarray, settings: VillageContextSettings
) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """What households ``codes`` add to their villages' sums on each of ``dates`` (day numbers).

    Returns ``(household code, date index, weights)`` for each (household, date) of a household
    with a village, household-major; ``weights`` holds one array per name of :data:`VILLAGE_SUMS`.
    """
    n_d = len(dates)
    vcode, _ = engine.village_codes()
    h = np.repeat(codes, n_d)
    didx = np.tile(np.arange(n_d), len(codes))
    ok = vcode[h] >= 0
    h, didx = h[ok], didx[ok]
    d = dates[didx]
    v = engine.compute_arrays(h, d, village_helpers(settings))
    under, _, _ = engine.status_arrays(h, d)
    known = np.isfinite(v["pc_income"])
    known_ratio = np.isfinite(v["pc_ratio"])
    near = known_ratio & (np.nan_to_num(v["pc_ratio"]) < settings.near_threshold_multiple)
    weights = {
        "households": np.ones(len(h)),
        "identified": v["identified_recent"],
        "monitored": under.astype(np.float64),
        "disaster": v["disaster_recent"],
        "income_n": known.astype(np.float64),
        "income_sum": np.where(known, v["pc_income"], 0.0),
        "ratio_n": known_ratio.astype(np.float64),
        "near": near.astype(np.float64),
    }
    return h, didx, weights


def add_to_sums(
    sums: dict[str, np.ndarray], cell: np.ndarray, weights: dict[str, np.ndarray]
) -> None:
    """Add one chunk's weights to the per-cell sums (in row order: a fixed order of additions)."""
    for name in VILLAGE_SUMS:
        sums[name] += np.bincount(cell, weights=weights[name], minlength=len(sums[name]))


def context_frame(
    villages: pd.Index, dates: np.ndarray, sums: dict[str, np.ndarray]
) -> pd.DataFrame:
    """The village-context table from the per-(village, date) sums (village-major cells)."""
    n_d = len(dates)
    with np.errstate(all="ignore"):
        n = sums["households"]
        return pd.DataFrame(
            {
                "village_code": pd.array(
                    np.repeat(np.asarray(villages, dtype=object), n_d), dtype="string"
                ),
                "as_of": np.tile(days_to_dates(dates), len(villages)),
                "households": n,
                "identified_share_recent": sums["identified"] / n,
                "monitored_share": sums["monitored"] / n,
                "mean_pc_income": np.where(
                    sums["income_n"] > 0, sums["income_sum"] / sums["income_n"], np.nan
                ),
                "near_threshold_share": np.where(
                    sums["ratio_n"] > 0, sums["near"] / sums["ratio_n"], np.nan
                ),
                "disaster_share_recent": sums["disaster"] / n,
            }
        )


def village_context(
    bundle: Bundle,
    as_of_dates: Sequence[Any],
    *,
    catalog: Catalog | None = None,
    settings: VillageContextSettings | None = None,
    chunk_households: int = VILLAGE_CHUNK_HOUSEHOLDS,
    engine: FeatureEngine | None = None,
) -> pd.DataFrame:
    """The village-level context table for ``as_of_dates``, computed from the whole bundle.

    Parameters
    ----------
    bundle
        The whole bundle (all households of the villages concerned).
    as_of_dates
        Dates (on or before the extraction date).
    catalog
        Supplies ``village_context`` settings (window, near-threshold multiple) unless
        ``settings`` is given (a feature set carries its catalog's: ``feature_set.village``).
    settings
        The village-context settings to use.
    chunk_households
        Households processed at once (bounds memory).
    engine
        Reuse an existing :class:`FeatureEngine` of this bundle.

    Returns
    -------
    pandas.DataFrame
        Columns ``village_code``, ``as_of`` and those of
        ``riskml.features._primitives.VILLAGE_CONTEXT_COLUMNS``; one row per village and date.
    """
    from riskml.features._engine import FeatureEngine

    if settings is None:
        settings = (catalog or (engine.catalog if engine is not None else load_catalog())).village
    engine = engine or FeatureEngine(bundle, catalog=catalog)
    dates = context_dates(as_of_dates)
    vcode, villages = engine.village_codes()
    sums = {k: np.zeros(len(villages) * len(dates)) for k in VILLAGE_SUMS}
    n_h = engine.prepared.n_households
    for start in range(0, n_h, chunk_households):
        codes = np.arange(start, min(start + chunk_households, n_h), dtype=np.int64)
        h, didx, weights = village_inputs(engine, codes, dates, settings)
        add_to_sums(sums, vcode[h] * len(dates) + didx, weights)
    return context_frame(villages, dates, sums)


def context_dates(as_of_dates: Sequence[Any]) -> np.ndarray:
    """The distinct as-of dates as sorted day numbers (at least one)."""
    dates = np.unique(dates_to_days(pd.Series(pd.to_datetime(list(as_of_dates)))))
    if len(dates) == 0:
        raise ValueError("village_context needs at least one as-of date.")
    return dates
