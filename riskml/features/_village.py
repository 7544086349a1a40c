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

__all__ = ["VILLAGE_DISASTER_EVENTS", "village_context"]

VILLAGE_DISASTER_EVENTS = ("natural_disaster", "livestock_loss", "crop_failure")
"""Event types counted as a disaster for ``disaster_share_recent``."""


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


def village_context(
    bundle: Bundle,
    as_of_dates: Sequence[Any],
    *,
    catalog: Catalog | None = None,
    settings: VillageContextSettings | None = None,
    chunk_households: int = 250_000,
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
    dates = np.unique(dates_to_days(pd.Series(pd.to_datetime(list(as_of_dates)))))
    if len(dates) == 0:
        raise ValueError("village_context needs at least one as-of date.")
    w = settings.recent_window_months
    helpers = (
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
    vcode, villages = engine.village_codes()
    n_v, n_d = len(villages), len(dates)
    sums = {
        k: np.zeros(n_v * n_d)
        for k in (
            "households",
            "identified",
            "monitored",
            "disaster",
            "income_n",
            "income_sum",
            "ratio_n",
            "near",
        )
    }
    n_h = engine.prepared.n_households
    for start in range(0, n_h, chunk_households):
        codes = np.arange(start, min(start + chunk_households, n_h), dtype=np.int64)
        h = np.repeat(codes, n_d)
        d = np.tile(dates, len(codes))
        cell = vcode[h] * n_d + np.tile(np.arange(n_d), len(codes))
        ok = vcode[h] >= 0
        h, d, cell = h[ok], d[ok], cell[ok]
        v = engine.compute_arrays(h, d, helpers)
        under, _, _ = engine.status_arrays(h, d)
        size = n_v * n_d

        def add(name: str, weights: np.ndarray, cell: np.ndarray = cell, size: int = size) -> None:
            sums[name] += np.bincount(cell, weights=weights, minlength=size)

        add("households", np.ones(len(h)))
        add("identified", v["identified_recent"])
        add("monitored", under.astype(np.float64))
        add("disaster", v["disaster_recent"])
        known = np.isfinite(v["pc_income"])
        add("income_n", known.astype(np.float64))
        add("income_sum", np.where(known, v["pc_income"], 0.0))
        known_ratio = np.isfinite(v["pc_ratio"])
        add("ratio_n", known_ratio.astype(np.float64))
        add(
            "near",
            (
                known_ratio & (np.nan_to_num(v["pc_ratio"]) < settings.near_threshold_multiple)
            ).astype(np.float64),
        )
    with np.errstate(all="ignore"):
        n = sums["households"]
        frame = pd.DataFrame(
            {
                "village_code": pd.array(
                    np.repeat(np.asarray(villages, dtype=object), n_d), dtype="string"
                ),
                "as_of": np.tile(days_to_dates(dates), n_v),
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
    return frame
