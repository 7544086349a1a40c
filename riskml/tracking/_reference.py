"""The drift reference a registered model carries: the training bundle's own latest year.

The estimator's own ``reference_`` is one snapshot of its latest *labelled* as-of date, at least
a label horizon before the extraction date, often in another season. Scoring the training bundle
at its extraction date against it warned on features that merely follow the calendar (months
since the yearly income record) and on a year of ordinary change in village shares. The model
registered by ``riskml train`` carries instead a :class:`~riskml.models.SeasonalReference` of the
same bundle: its features (the model's population: households not under monitoring) at the
extraction date and every ``step_months`` back over the year before it, labels not needed.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

__all__ = ["AGING_PRIMITIVES", "GROUP_COLUMN", "training_reference"]

AGING_PRIMITIVES: dict[str, int] = {"months_since": 1, "years_since": 12, "age": 12}
"""Catalog primitives whose value may grow with the calendar, and the months one unit stands for."""

GROUP_COLUMN = "county_code"
"""The area the reference counts rare events by (a county's disaster records doubled is diluted
province-wide); scoring passes the same column of its drift sample."""


def reference_dates(extracted_on: Any, step_months: int = 1) -> list[pd.Timestamp]:
    """The extraction date and every ``step_months`` back, to a year before it (oldest first)."""
    if not isinstance(step_months, int) or not 1 <= step_months <= 12:
        raise ValueError(f"step_months must be an int in 1-12. Got {step_months!r} instead.")
    end = pd.Timestamp(extracted_on).normalize()
    dates = {(end - pd.DateOffset(months=k)).normalize() for k in range(0, 13, step_months)} | {
        (end - pd.DateOffset(months=12)).normalize()
    }
    return sorted(dates)


def training_reference(
    bundle: Any,
    feature_set: Any,
    *,
    catalog: Any = None,
    horizon_months: int = 12,
    step_months: int = 1,
    max_rows: int | None = 200_000,
    max_households: int | None = 100_000,
) -> Any:
    """The seasonal drift reference (:class:`riskml.models.SeasonalReference`) of ``bundle``.

    Features are computed as in training (``build_training_set``, the same eligible
    households), at :func:`reference_dates`. Features of the ``months_since``, ``years_since``
    and ``age`` primitives are checked for aging (see :meth:`SeasonalReference.fit`). Above
    ``max_households``, whole villages are drawn (a fixed hash of the village code) until about
    that many households, so that village context stays exact and the cost bounded.
    """
    from riskml.features import build_training_set, load_catalog
    from riskml.models import SeasonalReference

    if isinstance(feature_set, str):
        feature_set = (catalog or load_catalog()).feature_set(feature_set)
    dates = reference_dates(bundle.extracted_on, step_months)
    bundle = _village_sample(bundle, max_households)
    ts = build_training_set(
        bundle,
        dates,
        horizon_months,
        feature_set=feature_set,
        catalog=catalog,
        include_censored=True,
    )
    aging = {
        f.name: AGING_PRIMITIVES[f.primitive]
        for f in feature_set.features
        if f.primitive in AGING_PRIMITIVES and f.name in ts.feature_names
    }
    return SeasonalReference.fit(
        ts.frame[ts.feature_names],
        ts.frame["as_of"],
        aging=aging,
        groups=ts.frame[GROUP_COLUMN],
        group_by=GROUP_COLUMN,
        max_rows=max_rows,
    )


def _village_sample(bundle: Any, max_households: int | None) -> Any:
    """``bundle`` restricted to whole villages, about ``max_households`` households."""
    hh = bundle.households
    if max_households is None or len(hh) <= max_households:
        return bundle
    from riskml.data import Bundle

    villages = hh["village_code"].astype("string").fillna("")
    order = pd.util.hash_pandas_object(pd.Series(villages.unique()), index=False)
    rank = dict(zip(villages.unique(), order.rank(method="first").to_numpy(), strict=True))
    sizes = villages.value_counts()
    chosen, total = set(), 0
    for village in sorted(sizes.index, key=rank.__getitem__):
        if total >= max_households:
            break
        chosen.add(village)
        total += int(sizes[village])
    keep = set(hh.loc[villages.isin(chosen).to_numpy(), "household_id"].astype("string"))
    tables = {
        name: frame.loc[frame["household_id"].astype("string").isin(keep).to_numpy()]
        if "household_id" in frame.columns
        else frame
        for name, frame in bundle.tables.items()
    }
    return Bundle(tables=tables, extracted_on=bundle.extracted_on, province=bundle.province)
