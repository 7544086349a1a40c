"""Per-capita net income against the monitoring line, per income row (for scoring's below-line route).

The computation is the feature engine's own (:class:`riskml.features._tables.PreparedBundle`:
the contract's per-capita net income formula and the threshold lookup by the bundle's province in
``configs/thresholds.yaml``), so the score file's ``pc_income`` / ``threshold`` equal what the
features ``pc_income_to_threshold`` and friends see.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from riskml.data import Bundle
from riskml.features._tables import PreparedBundle, days_to_dates

__all__ = ["income_against_threshold"]


def income_against_threshold(bundle: Bundle, *, thresholds: Any = None) -> pd.DataFrame:
    """One row per income row of a known household: its per-capita net income and that year's line.

    Columns: ``household_id`` (string), ``year`` (Int64), ``recorded_on`` (datetime64[ns]),
    ``pc_income`` and ``threshold`` (float64 yuan; NaN where the income or the year's line is
    unknown).
    """
    only = Bundle(
        tables={"households": bundle.households, "income": bundle.income},
        extracted_on=bundle.extracted_on,
        province=bundle.province,
        source=bundle.source,
    )
    prepared = PreparedBundle(only, thresholds=thresholds)
    inc = prepared.tables["income"]
    ids = prepared.household_index.to_numpy()
    return pd.DataFrame(
        {
            "household_id": pd.array(ids[inc.h] if len(inc) else [], dtype="string"),
            "year": pd.array(inc.column("year"), dtype="Float64").astype("Int64"),
            "recorded_on": days_to_dates(inc.column("recorded_on")),
            "pc_income": np.asarray(inc.derived["pc_net_income"], dtype=np.float64),
            "threshold": np.asarray(inc.derived["threshold"], dtype=np.float64),
        }
    )
