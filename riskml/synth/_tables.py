"""Turn one chunk's integer-coded records into the contract's tables (Arrow) and ground truth.

Column names and kinds come from ``riskml.data._schema``; on disk ids and vocabulary columns are
strings, dates ``date32``, ints ``int64``, money ``float64`` (rounded to fen), bools ``bool``.
Nothing dated after the extraction date is kept (a record still on its way is not in the bundle).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from riskml.data import ARROW_TYPES
from riskml.data._schema import (
    ASSISTANCE_MEASURES,
    EDUCATION,
    EVENT_TYPES,
    MONITORING_CATEGORIES,
    RELATIONS,
    RISK_TYPES,
    TABLES,
)
from riskml.synth._geography import Geography
from riskml.synth._params import DETAILS, LIVELIHOOD_KEYS, Calendar
from riskml.synth._simulate import ChunkRecords

__all__ = ["TRUTH_SCHEMA", "arrow_schema", "chunk_tables", "household_ids"]

TRUTH_SCHEMA = pa.schema(
    [
        pa.field("household_id", pa.string()),
        pa.field("month", pa.date32()),
        pa.field("p_month", pa.float32()),
        pa.field("p_12m", pa.float32()),
    ]
)


def arrow_schema(table: str) -> pa.Schema:
    """The on-disk Arrow schema of a contract table (every contract column, in order)."""
    return pa.schema([pa.field(c.name, ARROW_TYPES[c.kind]) for c in TABLES[table].columns])


def household_ids(prefix: str, gidx: np.ndarray) -> np.ndarray:
    """``prefix`` + 10-digit 1-based household number (strings)."""
    return np.char.add(prefix, np.char.zfill((gidx + 1).astype(str), 10))


def _strings(vocab: tuple[str, ...] | np.ndarray, codes: np.ndarray) -> pa.Array:
    arr = np.asarray(vocab, dtype=object)[np.maximum(codes, 0)]
    return pa.array(arr, type=pa.string(), mask=codes < 0)


def _dates(days: np.ndarray) -> pa.Array:
    days = np.asarray(days, dtype=np.int64)
    return pa.array(days.astype(np.int32), type=pa.date32(), mask=days < 0)


def _money(x: np.ndarray) -> pa.Array:
    x = np.round(np.asarray(x, dtype=np.float64), 2)
    return pa.array(x, type=pa.float64(), mask=np.isnan(x))


def _table(name: str, cols: dict[str, pa.Array]) -> pa.Table:
    schema = arrow_schema(name)
    n = len(next(iter(cols.values())))
    arrays = [cols[f.name] if f.name in cols else pa.nulls(n, f.type) for f in schema]
    return pa.Table.from_arrays(arrays, schema=schema)


def chunk_tables(
    rec: ChunkRecords, geo: Geography, cal: Calendar, prefix: str
) -> tuple[dict[str, pa.Table], pa.Table]:
    """The six contract tables of one chunk, and its ground truth (long: household x month)."""
    p = rec.pop
    hid = household_ids(prefix, p.gidx)
    end = cal.extracted_day
    tables: dict[str, pa.Table] = {}

    tables["households"] = _table(
        "households",
        {
            "household_id": pa.array(hid, pa.string()),
            "county_code": pa.array(geo.banner_code[p.banner], pa.string()),
            "township_code": pa.array(geo.township_code[p.township], pa.string()),
            "village_code": pa.array(geo.village_code[p.village], pa.string()),
            "village_name": pa.array(geo.village_name[p.village], pa.string()),
            "head_sex": pa.array(np.where(p.female[:, 0], "F", "M"), pa.string()),
            "head_birth_year": pa.array(p.birth_year[:, 0], pa.int64()),
            "head_ethnicity": pa.array(
                np.asarray(geo.ethnicities, dtype=object)[p.ethnicity], pa.string()
            ),
            "poverty_exit_year": pa.array(p.exit_year, pa.int64(), mask=p.exit_year <= 0),
            "relocated": pa.array(p.relocated, pa.bool_()),
            "livelihood": _strings(LIVELIHOOD_KEYS, p.livelihood),
        },
    )

    ever = p.ever_member(cal.n_months)
    ordinal = np.cumsum(ever, axis=1)
    rows, slots = np.nonzero(ever)
    member_id = np.char.add(
        np.char.add(hid[rows], "M"), np.char.zfill(ordinal[rows, slots].astype(str), 2)
    )
    mid_table = np.full(ever.shape, "", dtype=member_id.dtype)
    mid_table[rows, slots] = member_id
    tables["members"] = _table(
        "members",
        {
            "household_id": pa.array(hid[rows], pa.string()),
            "member_id": pa.array(member_id, pa.string()),
            "sex": pa.array(np.where(p.female[rows, slots], "F", "M"), pa.string()),
            "birth_year": pa.array(p.birth_year[rows, slots], pa.int64()),
            "relation": _strings(RELATIONS, p.relation[rows, slots]),
            "education": _strings(EDUCATION, p.education[rows, slots]),
            "joined_on": _dates(np.where(p.join_m[rows, slots] >= 0, p.join_day[rows, slots], -1)),
            "left_on": _dates(
                np.where(
                    (p.leave_day[rows, slots] >= 0) & (p.leave_day[rows, slots] <= end),
                    p.leave_day[rows, slots],
                    -1,
                )
            ),
        },
    )

    inc = rec.income
    keep = np.flatnonzero(inc["recorded"] <= end)
    keep = keep[np.lexsort((inc["year"][keep], inc["row"][keep]))]  # household, then year
    r = inc["row"][keep]
    tables["income"] = _table(
        "income",
        {
            "household_id": pa.array(hid[r], pa.string()),
            "year": pa.array(inc["year"][keep], pa.int64()),
            "recorded_on": _dates(inc["recorded"][keep]),
            "household_size": pa.array(inc["size"][keep], pa.int64()),
            **{
                out: _money(inc[src][keep])
                for out, src in (
                    ("wage_income", "wage"),
                    ("business_income", "business"),
                    ("property_income", "property"),
                    ("transfer_income", "transfer"),
                    ("business_costs", "costs"),
                    ("oop_medical", "oop"),
                )
            },
        },
    )

    ev = rec.events
    keep = (ev["recorded"] <= end) & (ev["day"] <= end)
    order = np.lexsort((ev["type"][keep], ev["day"][keep], ev["row"][keep]))
    sel = np.flatnonzero(keep)[order]
    r, sl = ev["row"][sel], ev["slot"][sel]
    mids = np.where(sl >= 0, mid_table[r, np.maximum(sl, 0)], "")
    tables["events"] = _table(
        "events",
        {
            "household_id": pa.array(hid[r], pa.string()),
            "event_date": _dates(ev["day"][sel]),
            "event_type": _strings(EVENT_TYPES, ev["type"][sel]),
            "member_id": pa.array(mids, pa.string(), mask=sl < 0),
            "recorded_on": _dates(ev["recorded"][sel]),
            "amount": _money(ev["amount"][sel]),
            "detail": _strings(DETAILS, ev["detail"][sel]),
        },
    )

    mon, el = rec.monitoring, rec.eliminations
    n_ep = len(mon["episode"])
    elim_day = np.full(max(n_ep, 1), -1, dtype=np.int64)
    elim_nat = np.zeros(max(n_ep, 1), dtype=bool)
    elim_day[el["episode"]] = el["day"]
    elim_nat[el["episode"]] = el["natural"]
    ep = mon["episode"]
    order = np.lexsort((mon["day"], mon["row"]))
    ep_o = ep[order]
    eliminated = elim_day[ep_o] >= 0
    tables["monitoring"] = _table(
        "monitoring",
        {
            "household_id": pa.array(hid[mon["row"][order]], pa.string()),
            "identified_on": _dates(mon["day"][order]),
            "category": _strings(MONITORING_CATEGORIES, mon["category"][order]),
            "risk_1": _strings(RISK_TYPES, mon["risk1"][order]),
            "risk_2": _strings(RISK_TYPES, mon["risk2"][order]),
            "risk_3": _strings(RISK_TYPES, mon["risk3"][order]),
            "eliminated_on": _dates(np.where(eliminated, elim_day[ep_o], -1)),
            "elimination_method": _strings(
                ("assisted", "natural"), np.where(eliminated, elim_nat[ep_o].astype(np.int64), -1)
            ),
        },
    )

    a = rec.assistance
    keep = a["start"] <= end
    linked = a["episode"] >= 0
    ep_end = np.where(linked, elim_day[np.maximum(a["episode"], 0)], -1)
    end_day = np.where(linked, np.where(ep_end >= 0, ep_end + a["end_offset"], -1), a["end"])
    end_day = np.where((end_day > end) | (end_day < a["start"]), -1, end_day)
    order = np.lexsort((a["measure"][keep], a["start"][keep], a["row"][keep]))
    sel = np.flatnonzero(keep)[order]
    tables["assistance"] = _table(
        "assistance",
        {
            "household_id": pa.array(hid[a["row"][sel]], pa.string()),
            "measure": _strings(ASSISTANCE_MEASURES, a["measure"][sel]),
            "start_date": _dates(a["start"][sel]),
            "end_date": _dates(end_day[sel]),
            "amount": _money(a["amount"][sel]),
        },
    )

    T = cal.n_months
    truth = pa.Table.from_arrays(
        [
            pa.array(hid, pa.string()).take(pa.array(np.repeat(np.arange(p.n, dtype=np.int32), T))),
            pa.array(np.tile(cal.month_start.astype(np.int32), p.n), pa.date32()),
            pa.array(np.ascontiguousarray(rec.p_month.T).ravel(), pa.float32()),
            pa.array(np.ascontiguousarray(rec.p_12m.T).ravel(), pa.float32()),
        ],
        schema=TRUTH_SCHEMA,
    )
    return tables, truth
