"""Every primitive against a slow, obviously-correct reference (plain Python loops) on small random data.

The reference reads the bundle row by row: for each (household, as_of) it keeps the rows whose
time is on or before ``as_of - lag`` (and after ``as_of - lag - window``), applies the filters and
computes the value with ordinary Python. The engine must agree on every pair.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from riskml.features import compute_features, load_catalog

_BASE = {
    "unit": "x",
    "risk_type": "other",
    "label_zh": "x",
    "label_en": "x",
    "reason_zh": "",
    "reason_en": "",
    "description": "test",
}
_SOURCES = ["wage_income", "business_income", "property_income", "transfer_income"]

TEST_FEATURES: list[dict[str, Any]] = [
    {"name": "ev_count", "table": "events", "primitive": "count"},
    {"name": "ev_count_12m", "table": "events", "primitive": "count", "window_months": 12},
    {
        "name": "med_count_6m_lag3",
        "table": "events",
        "primitive": "count",
        "window_months": 6,
        "lag_months": 3,
        "filters": {"event_type": ["medical_bill", "hospitalization"]},
    },
    {
        "name": "med_exists_12m",
        "table": "events",
        "primitive": "exists",
        "window_months": 12,
        "filters": {"event_type": ["medical_bill"]},
    },
    {
        "name": "amount_sum_12m",
        "table": "events",
        "primitive": "sum",
        "column": "amount",
        "window_months": 12,
    },
    {
        "name": "amount_sum_all",
        "table": "events",
        "primitive": "sum",
        "column": "amount",
        "filters": {"event_type": ["medical_bill", "accident"]},
    },
    {
        "name": "amount_mean_24m",
        "table": "events",
        "primitive": "mean",
        "column": "amount",
        "window_months": 24,
    },
    {
        "name": "amount_max_12m",
        "table": "events",
        "primitive": "max",
        "column": "amount",
        "window_months": 12,
    },
    {"name": "amount_min", "table": "events", "primitive": "min", "column": "amount"},
    {
        "name": "amount_std_24m",
        "table": "events",
        "primitive": "std",
        "column": "amount",
        "window_months": 24,
    },
    {
        "name": "amount_last3_sum",
        "table": "events",
        "primitive": "sum",
        "column": "amount",
        "last_n": 3,
    },
    {
        "name": "amount_slope_36m",
        "table": "events",
        "primitive": "slope",
        "column": "amount",
        "window_months": 36,
    },
    {
        "name": "members_disabled",
        "table": "events",
        "primitive": "count_distinct",
        "column": "member_id",
        "filters": {"event_type": ["disability"]},
    },
    {
        "name": "members_any_12m",
        "table": "events",
        "primitive": "count_distinct",
        "column": "member_id",
        "window_months": 12,
    },
    {
        "name": "severe",
        "table": "events",
        "primitive": "count_distinct",
        "column": "member_id",
        "filters": {"event_type": ["disability", "serious_illness"], "detail": ["1", "2"]},
    },
    {"name": "days_since_event", "table": "events", "primitive": "days_since"},
    {
        "name": "months_since_med",
        "table": "events",
        "primitive": "months_since",
        "filters": {"event_type": ["medical_bill"]},
    },
    {"name": "last_event_amount", "table": "events", "primitive": "last", "column": "amount"},
    {
        "name": "migrants",
        "table": "events",
        "primitive": "state_count",
        "column": "event_type",
        "starts": ["migrant_work_start"],
        "ends": ["migrant_work_end"],
        "key": "member_id",
    },
    {
        "name": "dibao_on",
        "table": "events",
        "primitive": "state_count",
        "column": "event_type",
        "starts": ["dibao_granted"],
        "ends": ["dibao_ended"],
    },
    {
        "name": "pc_last",
        "table": "income",
        "primitive": "last",
        "column": "pc_net_income",
        "order_by": "year",
    },
    {
        "name": "ratio_last",
        "table": "income",
        "primitive": "last",
        "column": "pc_income_to_threshold",
        "order_by": "year",
    },
    {
        "name": "oop_last",
        "table": "income",
        "primitive": "last",
        "column": "oop_medical",
        "order_by": "year",
    },
    {
        "name": "pc_slope3",
        "table": "income",
        "primitive": "slope",
        "column": "pc_net_income",
        "order_by": "year",
        "last_n": 3,
    },
    {
        "name": "pc_mean3",
        "table": "income",
        "primitive": "mean",
        "column": "pc_net_income",
        "order_by": "year",
        "last_n": 3,
    },
    {
        "name": "pc_std3",
        "table": "income",
        "primitive": "std",
        "column": "pc_net_income",
        "order_by": "year",
        "last_n": 3,
    },
    {
        "name": "pc_change",
        "table": "income",
        "primitive": "pct_change",
        "column": "pc_net_income",
        "order_by": "year",
    },
    {
        "name": "wage_share",
        "table": "income",
        "primitive": "share",
        "column": "wage_income",
        "of": _SOURCES,
        "order_by": "year",
        "last_n": 1,
    },
    {
        "name": "transfer_share2",
        "table": "income",
        "primitive": "share",
        "column": "transfer_income",
        "of": _SOURCES,
        "order_by": "year",
        "last_n": 2,
    },
    {
        "name": "max_share",
        "table": "income",
        "primitive": "last",
        "column": "max_source_share",
        "order_by": "year",
    },
    {"name": "income_rows", "table": "income", "primitive": "count"},
    {"name": "income_age_months", "table": "income", "primitive": "months_since"},
    {"name": "ever_mon", "table": "monitoring", "primitive": "exists"},
    {"name": "times_mon", "table": "monitoring", "primitive": "count"},
    {
        "name": "since_elim",
        "table": "monitoring",
        "primitive": "months_since",
        "time_column": "eliminated_on",
    },
    {
        "name": "last_method",
        "table": "monitoring",
        "primitive": "last",
        "column": "elimination_method",
        "time_column": "eliminated_on",
        "dtype": "category",
        "levels": {"assisted": {"zh": "a", "en": "a"}, "natural": {"zh": "n", "en": "n"}},
    },
    {"name": "assist_past", "table": "assistance", "primitive": "count", "lag_months": 12},
    {
        "name": "assist_amount",
        "table": "assistance",
        "primitive": "sum",
        "column": "amount",
        "lag_months": 12,
        "window_months": 36,
    },
    {
        "name": "assist_ended",
        "table": "assistance",
        "primitive": "count",
        "lag_months": 12,
        "time_column": "end_date",
    },
    {"name": "n_members", "table": "members", "primitive": "member_count"},
    {
        "name": "n_working",
        "table": "members",
        "primitive": "member_count",
        "age_min": 16,
        "age_max": 64,
    },
    {
        "name": "n_children",
        "table": "members",
        "primitive": "member_count",
        "age_max": 15,
        "filters": {"relation": ["child"]},
    },
    {"name": "n_old", "table": "members", "primitive": "member_count", "age_min": 65},
    {
        "name": "livelihood_cat",
        "table": "households",
        "primitive": "static",
        "column": "livelihood",
        "dtype": "category",
        "levels": {
            v: {"zh": v, "en": v} for v in ["farming", "pastoral", "agro_pastoral", "wage", "mixed"]
        },
    },
    {"name": "relocated_flag", "table": "households", "primitive": "static", "column": "relocated"},
    {"name": "head_age_t", "table": "households", "primitive": "age", "column": "head_birth_year"},
    {
        "name": "exit_years",
        "table": "households",
        "primitive": "years_since",
        "column": "poverty_exit_year",
    },
    {
        "name": "dep_ratio",
        "table": "features",
        "primitive": "ratio",
        "numerator": ["n_children", "n_old"],
        "denominator": ["n_working"],
    },
    {
        "name": "oop_share",
        "table": "features",
        "primitive": "ratio",
        "numerator": ["amount_sum_12m"],
        "denominator": ["pc_last", "oop_last"],
    },
]


@pytest.fixture(scope="module")
def test_catalog(tmp_path_factory: pytest.TempPathFactory):
    """The test features written as a catalog and loaded through the real loader."""
    folder: Path = tmp_path_factory.mktemp("catalog")
    features = [{**_BASE, **f} for f in TEST_FEATURES]
    (folder / "catalog.yaml").write_text(
        yaml.safe_dump({"version": "t1", "features": features}, allow_unicode=True),
        encoding="utf-8",
    )
    names = [f["name"] for f in TEST_FEATURES]
    (folder / "feature_sets.yaml").write_text(
        yaml.safe_dump({"feature_sets": {"all": {"features": names}}}), encoding="utf-8"
    )
    return load_catalog(folder)


# --------------------------------------------------------------------------------------------
# the slow reference


def _ts(value: Any) -> pd.Timestamp | None:
    return None if value is None or pd.isna(value) else pd.Timestamp(value)


def _num(value: Any) -> float:
    return math.nan if value is None or pd.isna(value) else float(value)


def _threshold(year: float) -> float:
    from riskml.config.thresholds import load_thresholds

    cfg = load_thresholds()
    try:
        return cfg.threshold(int(year))
    except Exception:
        return math.nan


def _income_row(row: dict[str, Any]) -> dict[str, Any]:
    """The income row with the derived columns, computed the plain way."""
    parts = [_num(row[c]) for c in _SOURCES]
    gross = (
        math.nan
        if all(math.isnan(p) for p in parts)
        else sum(0.0 if math.isnan(p) else p for p in parts)
    )
    costs = _num(row["business_costs"])
    net = gross - (0.0 if math.isnan(costs) else costs)
    pc = net / float(row["household_size"])
    thr = _threshold(row["year"])
    largest = max((p for p in parts if not math.isnan(p)), default=-math.inf)
    return {
        **row,
        "gross_income": gross,
        "net_income": net,
        "pc_net_income": pc,
        "threshold": thr,
        "pc_income_to_threshold": pc / thr,
        "max_source_share": largest / gross if gross > 0 else math.nan,
    }


_RECORDS: dict[tuple[int, str], tuple[Any, list[dict[str, Any]]]] = {}


def _records(bundle: Any, table: str) -> list[dict[str, Any]]:
    """The table's rows as plain dicts (missing -> None), cached per bundle object.

    The cache holds the bundle itself next to its rows: an ``id()`` alone is reused once a
    bundle is garbage-collected, and a later test's bundle would then read another's rows."""
    key = (id(bundle), table)
    cached = _RECORDS.get(key)
    if cached is None or cached[0] is not bundle:
        frame = bundle.tables[table]
        rows = frame.astype("object").where(frame.notna(), None).to_dict("records")
        cached = _RECORDS[key] = (bundle, rows)
    return cached[1]


def _rows_known(
    bundle: Any, f: Any, hid: str, as_of: pd.Timestamp
) -> list[tuple[pd.Timestamp, int, dict[str, Any]]]:
    """(time, row number, row) of ``f.table`` rows the feature may see for ``hid`` as of ``as_of``."""
    records = _records(bundle, f.table)
    hi = as_of - pd.DateOffset(months=f.lag_months) if f.lag_months else as_of
    lo = hi - pd.DateOffset(months=f.window_months) if f.window_months else None
    base_col = {
        "events": "recorded_on",
        "income": "recorded_on",
        "assistance": "start_date",
        "monitoring": "identified_on",
    }[f.table]
    out = []
    for i, row in enumerate(records):
        if row["household_id"] != hid:
            continue
        t = _ts(row[base_col])
        if f.table == "events" and t is None:
            t = _ts(row["event_date"])
        if f.time_column is not None:
            other = _ts(row[f.time_column])
            if other is None or t is None:
                continue
            t = max(t, other)
        if t is None or t > hi or (lo is not None and t <= lo):
            continue
        if any(
            row[c] is None or str(row[c]) not in [str(v) for v in vals]
            for c, vals in f.filters.items()
        ):
            continue
        if f.table == "income":
            row = _income_row(row)
        out.append((t, i, row))
    return out


def reference_value(
    bundle: Any, f: Any, hid: str, as_of: pd.Timestamp, done: dict[str, Any]
) -> Any:
    p = f.primitive
    if p == "ratio":
        num = sum(done[n] for n in f.numerator)
        den = sum(done[n] for n in f.denominator)
        return num / den if not math.isnan(den) and den > 0 else math.nan
    if p in {"static", "age", "years_since"}:
        row = next(r for r in _records(bundle, "households") if r["household_id"] == hid)
        value = math.nan if row[f.column] is None else row[f.column]
        if p == "static":
            if f.dtype == "category":
                return None if pd.isna(value) else str(value)
            return math.nan if pd.isna(value) else float(value)
        if pd.isna(value):
            return math.nan
        if p == "age":
            return float(as_of.year - value)
        return float(as_of.year - value) if value <= as_of.year else math.nan
    if p == "member_count":
        n = 0
        for m in (r for r in _records(bundle, "members") if r["household_id"] == hid):
            joined, left = _ts(m["joined_on"]), _ts(m["left_on"])
            if joined is not None and joined > as_of:
                continue
            if left is not None and left <= as_of:
                continue
            if any(m[c] is None or str(m[c]) not in vals for c, vals in f.filters.items()):
                continue
            if m["birth_year"] is None:
                if f.age_min is None and f.age_max is None:
                    n += 1
                continue
            age = as_of.year - int(m["birth_year"])
            if age >= (f.age_min or 0) and (f.age_max is None or age <= f.age_max):
                n += 1
        return float(n)
    rows = _rows_known(bundle, f, hid, as_of)
    if p == "state_count":
        latest: dict[Any, tuple[pd.Timestamp, int, str]] = {}
        for t, i, row in rows:
            if str(row[f.column]) not in (*f.starts, *f.ends):
                continue
            key = row[f.key] if f.key else "household"
            if key not in latest or (t, i) >= latest[key][:2]:
                latest[key] = (t, i, str(row[f.column]))
        return float(sum(1 for _, _, state in latest.values() if state in f.starts))
    order = (
        (lambda r: (float(r[2][f.order_by]), r[0], r[1]))
        if f.order_by
        else (lambda r: (r[0], r[1]))
    )
    rows = sorted(rows, key=order)
    if f.last_n is not None:
        rows = rows[-f.last_n :]
    values = (
        [_num(r[2][f.column]) for r in rows]
        if f.column and p not in {"count_distinct", "last"}
        else []
    )
    present = [v for v in values if not math.isnan(v)]
    if p == "count":
        return float(len(rows))
    if p == "exists":
        return float(len(rows) > 0)
    if p == "sum":
        return float(sum(present))
    if p == "mean":
        return sum(present) / len(present) if present else math.nan
    if p == "max":
        return max(present) if present else math.nan
    if p == "min":
        return min(present) if present else math.nan
    if p == "std":
        if len(present) < 2:
            return math.nan
        mean = sum(present) / len(present)
        return math.sqrt(sum((v - mean) ** 2 for v in present) / (len(present) - 1))
    if p == "count_distinct":
        return float(len({r[2][f.column] for r in rows}))
    if p in {"days_since", "months_since"}:
        if not rows:
            return math.nan
        days = float((as_of - max(r[0] for r in rows)).days)
        return days if p == "days_since" else days / (365.25 / 12)
    if p == "last":
        if not rows:
            return None if f.dtype == "category" else math.nan
        value = rows[-1][2][f.column]
        if f.dtype == "category":
            return None if value is None or pd.isna(value) else str(value)
        return _num(value)
    if p == "pct_change":
        if len(values) < 2:
            return math.nan
        last, prev = values[-1], values[-2]
        return (last - prev) / abs(prev) if prev != 0 else math.nan
    if p == "share":
        if not rows:
            return math.nan
        num = sum(0.0 if math.isnan(_num(r[2][f.column])) else _num(r[2][f.column]) for r in rows)
        den = sum(0.0 if math.isnan(_num(r[2][c])) else _num(r[2][c]) for r in rows for c in f.of)
        return num / den if den > 0 else math.nan
    if p == "slope":
        pts = []
        for r, v in zip(rows, values, strict=True):
            if math.isnan(v):
                continue
            x = float(r[2][f.order_by]) - as_of.year if f.order_by else (r[0] - as_of).days / 365.25
            pts.append((x, v))
        if len({x for x, _ in pts}) < 2:
            return math.nan
        mx = sum(x for x, _ in pts) / len(pts)
        my = sum(y for _, y in pts) / len(pts)
        return sum((x - mx) * (y - my) for x, y in pts) / sum((x - mx) ** 2 for x, _ in pts)
    raise AssertionError(f"no reference for primitive {p}")


def _same(a: Any, b: Any) -> bool:
    if a is None or (isinstance(a, float) and math.isnan(a)):
        return b is None or (isinstance(b, float) and math.isnan(b)) or b is pd.NA
    if isinstance(a, str):
        return a == b
    return bool(np.isclose(a, b, rtol=1e-9, atol=1e-9))


def _pairs(bundle: Any, rng: np.random.Generator) -> pd.DataFrame:
    """As-of dates: random days plus exact record dates (to hit the <= D boundary)."""
    events = bundle.events["recorded_on"].dropna()
    extra = (
        [
            pd.Timestamp(x)
            for x in rng.choice(events.to_numpy(), size=min(3, len(events)), replace=False)
        ]
        if len(events)
        else []
    )
    dates = [
        pd.Timestamp("2019-06-30"),
        pd.Timestamp("2021-03-31"),
        pd.Timestamp("2022-12-31"),
        pd.Timestamp("2024-05-17"),
        *extra,
    ]
    hids = bundle.households["household_id"].tolist()
    pairs = pd.DataFrame([(h, d) for h in hids for d in dates], columns=["household_id", "as_of"])
    return pairs.sample(frac=1.0, random_state=int(rng.integers(0, 1000))).reset_index(drop=True)


@pytest.mark.parametrize("seed", range(8))
def test_every_primitive_matches_the_slow_reference(
    seed: int, make_random_bundle: Any, test_catalog: Any
) -> None:
    """Random bundle (seed) x random pairs -> each of the 50 test features equals the Python reference."""
    bundle = make_random_bundle(seed)
    fs = test_catalog.feature_set("all")
    pairs = _pairs(bundle, np.random.default_rng(seed))
    got = compute_features(bundle, pairs, fs)
    assert list(got.columns) == fs.names
    assert got.index.equals(pairs.index)
    mismatches = []
    for i, (hid, as_of) in enumerate(zip(pairs["household_id"], pairs["as_of"], strict=True)):
        done: dict[str, Any] = {}
        for f in fs.required:
            expected = reference_value(bundle, f, hid, as_of, done)
            done[f.name] = expected
            actual = got[f.name].iloc[i]
            actual = None if f.dtype == "category" and pd.isna(actual) else actual
            if not _same(expected, actual):
                mismatches.append((f.name, hid, str(as_of.date()), expected, actual))
    assert not mismatches, f"{len(mismatches)} mismatches, first: {mismatches[:5]}"


def test_output_dtypes_are_float64_or_contract_categories(
    make_random_bundle: Any, test_catalog: Any
) -> None:
    """Numeric features -> float64; categorical ones -> category over the full contract vocabulary."""
    bundle = make_random_bundle(3)
    fs = test_catalog.feature_set("all")
    got = compute_features(bundle, _pairs(bundle, np.random.default_rng(3)), fs)
    for f in fs.features:
        if f.dtype == "category":
            assert isinstance(got[f.name].dtype, pd.CategoricalDtype)
        else:
            assert got[f.name].dtype == np.float64, f.name
    assert list(got["livelihood_cat"].cat.categories) == [
        "farming",
        "pastoral",
        "agro_pastoral",
        "wage",
        "mixed",
    ]
    assert list(got["last_method"].cat.categories) == ["assisted", "natural"]


def test_engine_agrees_with_reference_on_the_real_catalog(
    make_random_bundle: Any, catalog: Any
) -> None:
    """The shipped catalog's non-village features and the fact fields its statements quote (the
    income year, that year's monitoring line) equal the reference on a random bundle."""
    bundle = make_random_bundle(11, n_households=5, n_events=60)
    fs = catalog.feature_set("default")
    pairs = _pairs(bundle, np.random.default_rng(11))
    got = compute_features(bundle, pairs, fs, facts=True)
    facts = [f.name for f in fs.facts]
    assert {"income_year_last", "income_threshold_last"} <= set(facts)
    assert list(got.columns) == fs.names + facts  # the facts come after the features
    # without facts=True the model's frame has the features only
    assert list(compute_features(bundle, pairs.head(3), fs).columns) == fs.names
    assert got["income_year_last"].notna().any() and got["income_threshold_last"].notna().any()
    checked = 0
    for i, (hid, as_of) in enumerate(zip(pairs["household_id"], pairs["as_of"], strict=True)):
        done: dict[str, Any] = {}
        for f in fs.required:
            if f.primitive == "context":
                continue
            expected = reference_value(bundle, f, hid, as_of, done)
            done[f.name] = expected
            actual = got[f.name].iloc[i]
            actual = None if f.dtype == "category" and pd.isna(actual) else actual
            assert _same(expected, actual), (f.name, hid, as_of, expected, actual)
            checked += 1
    assert checked > 500
