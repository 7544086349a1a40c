"""Assistance already in place for a household on a date (point in time).

Suggested measures are net of help the household already gets: riskml says "已享受低保"
instead of proposing 低保 to a household on 低保. "In place" on D means an assistance-table
measure that started on or before D and has not ended by D, or a 低保 grant reported in events
(recorded on or before D) with no later end.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from riskml.data import Bundle

__all__ = ["assistance_in_place"]


def assistance_in_place(bundle: Bundle, pairs: pd.DataFrame) -> list[frozenset[str]]:
    """Per row of ``pairs`` (``household_id``, ``as_of``): the assistance codes in place on
    ``as_of`` (the assistance table's ``measure`` codes, plus ``dibao`` from events)."""
    n = len(pairs)
    out: list[set[str]] = [set() for _ in range(n)]
    if n == 0:
        return []
    ids = pairs["household_id"].astype("object").to_numpy()
    as_of = pd.to_datetime(pairs["as_of"]).to_numpy(dtype="datetime64[ns]")
    rows = pd.DataFrame({"household_id": ids, "as_of": as_of, "row": np.arange(n)})

    a = bundle.assistance
    if len(a):
        a = a.loc[
            a["household_id"].isin(ids), ["household_id", "measure", "start_date", "end_date"]
        ]
        m = rows.merge(a.astype({"household_id": "object"}), on="household_id", how="inner")
        live = (m["start_date"] <= m["as_of"]) & (
            m["end_date"].isna() | (m["end_date"] > m["as_of"])
        )
        for r, code in zip(
            m.loc[live, "row"], m.loc[live, "measure"].astype("object"), strict=True
        ):
            out[int(r)].add(str(code))

    e = bundle.events
    if len(e):
        e = e.loc[
            e["household_id"].isin(ids) & e["event_type"].isin(["dibao_granted", "dibao_ended"]),
            ["household_id", "event_type", "event_date", "recorded_on"],
        ]
        if len(e):
            # the contract: recorded_on defaults to event_date (as the feature engine reads it)
            e = e.assign(known=e["recorded_on"].fillna(e["event_date"]))
            m = rows.merge(e.astype({"household_id": "object"}), on="household_id", how="inner")
            m = m.loc[m["known"] <= m["as_of"]].sort_values(["row", "known"], kind="stable")
            last = m.groupby("row", sort=False)["event_type"].last().astype("object")
            for r in last.index[last == "dibao_granted"]:
                out[int(r)].add("dibao")
    return [frozenset(s) for s in out]
