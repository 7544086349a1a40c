"""Fixtures for the features tests: tiny hand-built bundles with the contract's dtypes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pandas as pd
import pytest

from riskml.data import TABLES, Bundle


def typed_table(name: str, rows: list[dict[str, Any]] | pd.DataFrame | None) -> pd.DataFrame:
    """A contract table from plain rows: every contract column present, with the contract's dtype."""
    frame = pd.DataFrame(rows) if not isinstance(rows, pd.DataFrame) else rows.copy()
    schema = TABLES[name]
    unknown = set(frame.columns) - set(schema.column_names)
    if unknown:
        raise KeyError(f"test table {name} has non-contract columns {sorted(unknown)}")
    out = {}
    n = len(frame)
    for col in schema.columns:
        s = frame[col.name] if col.name in frame.columns else pd.Series([None] * n, dtype="object")
        if col.kind in {"id", "string"}:
            out[col.name] = s.astype("object").where(s.notna(), None).astype("string")
        elif col.kind == "category":
            out[col.name] = pd.Categorical(s.astype("object"), categories=list(col.vocab or ()))
        elif col.kind == "int":
            out[col.name] = pd.array(pd.to_numeric(s, errors="coerce"), dtype="Int64")
        elif col.kind == "money":
            out[col.name] = pd.to_numeric(s, errors="coerce").astype("float64")
        elif col.kind == "date":
            out[col.name] = pd.to_datetime(s).astype("datetime64[ns]")
        elif col.kind == "bool":
            out[col.name] = s.astype("boolean")
    return pd.DataFrame(out, index=pd.RangeIndex(n))


def bundle_from_frames(
    households: list[dict[str, Any]] | pd.DataFrame,
    *,
    members: list[dict[str, Any]] | pd.DataFrame | None = None,
    income: list[dict[str, Any]] | pd.DataFrame | None = None,
    events: list[dict[str, Any]] | pd.DataFrame | None = None,
    assistance: list[dict[str, Any]] | pd.DataFrame | None = None,
    monitoring: list[dict[str, Any]] | pd.DataFrame | None = None,
    extracted_on: str | dt.date = "2025-06-30",
    province: str | None = None,
) -> Bundle:
    """A typed :class:`Bundle` from small row lists (missing tables are empty)."""
    given = {
        "households": households,
        "members": members,
        "income": income,
        "events": events,
        "assistance": assistance,
        "monitoring": monitoring,
    }
    tables = {}
    for name, rows in given.items():
        if rows is None or (isinstance(rows, list) and not rows):
            rows = pd.DataFrame({c: pd.Series(dtype="object") for c in TABLES[name].column_names})
        tables[name] = typed_table(name, rows)
    return Bundle(tables=tables, extracted_on=pd.Timestamp(extracted_on).date(), province=province)


def household(hid: str, village: str = "V1", **kw: Any) -> dict[str, Any]:
    """A households row with sensible defaults."""
    row = {
        "household_id": hid,
        "county_code": "C1",
        "township_code": "T1",
        "village_code": village,
        "head_sex": "M",
        "head_birth_year": 1970,
        "head_ethnicity": "汉族",
        "livelihood": "farming",
        "relocated": False,
    }
    row.update(kw)
    return row


@pytest.fixture(scope="session")
def make_bundle() -> Callable[..., Bundle]:
    """``make_bundle(households, members=..., events=..., ...)`` -> a typed Bundle."""
    return bundle_from_frames


@pytest.fixture(scope="session")
def make_household() -> Callable[..., dict[str, Any]]:
    """``make_household("H1", village="V1", livelihood="pastoral")`` -> a households row."""
    return household


@pytest.fixture(scope="session")
def catalog():
    from riskml.features import load_catalog

    return load_catalog()


_EVENT_TYPES_FOR_TESTS = (
    "medical_bill",
    "hospitalization",
    "disability",
    "serious_illness",
    "migrant_work_start",
    "migrant_work_end",
    "dibao_granted",
    "dibao_ended",
    "natural_disaster",
    "livestock_loss",
    "accident",
    "school_dropout",
)


def _day(rng: Any, lo: str, hi: str) -> pd.Timestamp:
    a, b = (
        pd.Timestamp(lo).value // 86_400_000_000_000,
        pd.Timestamp(hi).value // 86_400_000_000_000,
    )
    return pd.Timestamp(int(rng.integers(a, b + 1)), unit="D")


def random_bundle(
    seed: int, n_households: int = 6, n_events: int = 70, extracted_on: str = "2025-06-30"
) -> Bundle:
    """A small random but contract-conforming bundle (ties, missing values, out-of-order records)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    end = pd.Timestamp(extracted_on)
    hids = [f"H{i:02d}" for i in range(n_households)]
    hh, members, income, events, assistance, monitoring = [], [], [], [], [], []
    for i, hid in enumerate(hids):
        hh.append(
            household(
                hid,
                village=f"V{i % 2}",
                head_sex=str(rng.choice(["M", "F"])),
                head_birth_year=None if rng.random() < 0.15 else int(rng.integers(1940, 1995)),
                poverty_exit_year=None if rng.random() < 0.4 else int(rng.integers(2016, 2024)),
                relocated=bool(rng.random() < 0.3),
                livelihood=str(
                    rng.choice(["farming", "pastoral", "agro_pastoral", "wage", "mixed"])
                ),
            )
        )
        for m in range(int(rng.integers(0, 6))):
            joined = None if rng.random() < 0.6 else _day(rng, "2018-01-01", "2025-06-30")
            left = None if rng.random() < 0.7 else _day(rng, "2019-01-01", "2025-06-30")
            if joined is not None and left is not None and left <= joined:
                left = None
            members.append(
                dict(
                    household_id=hid,
                    member_id=f"{hid}M{m}",
                    sex=str(rng.choice(["M", "F"])),
                    birth_year=int(rng.integers(1935, 2024)),
                    relation=str(rng.choice(["head", "spouse", "child", "parent"])),
                    education=str(rng.choice(["none", "primary", "junior"])),
                    joined_on=joined,
                    left_on=left,
                )
            )
        for year in range(2018, 2025):
            if rng.random() < 0.2:
                continue
            recorded = _day(rng, f"{year + 1}-01-01", f"{year + 1}-06-30")
            if rng.random() < 0.1:  # a late correction recorded after the next year's figures
                recorded = _day(rng, f"{year + 2}-01-01", f"{year + 2}-12-31")
            if recorded > end:
                continue

            def money(scale: float) -> float | None:
                return None if rng.random() < 0.1 else round(float(rng.gamma(2.0, scale)), 2)

            income.append(
                dict(
                    household_id=hid,
                    year=year,
                    recorded_on=recorded,
                    household_size=int(rng.integers(1, 7)),
                    wage_income=money(8000),
                    business_income=money(6000),
                    property_income=money(500),
                    transfer_income=money(2000),
                    business_costs=money(3000),
                    oop_medical=money(1500),
                )
            )
        start = _day(rng, "2018-01-01", "2024-01-01")
        for _ in range(int(rng.integers(0, 3))):
            identified = start
            if identified > end:
                break
            eliminated = identified + pd.Timedelta(days=int(rng.integers(30, 500)))
            open_episode = rng.random() < 0.3 or eliminated > end
            monitoring.append(
                dict(
                    household_id=hid,
                    identified_on=identified,
                    category=str(rng.choice(["unstable_exited", "edge", "sudden_hardship"])),
                    risk_1=str(rng.choice(["illness", "disaster"])),
                    eliminated_on=None if open_episode else eliminated,
                    elimination_method=None
                    if open_episode
                    else str(rng.choice(["assisted", "natural"])),
                )
            )
            if open_episode:
                break
            start = eliminated + pd.Timedelta(days=int(rng.integers(1, 400)))
        for _ in range(int(rng.integers(0, 4))):
            s = _day(rng, "2018-01-01", "2025-06-30")
            assistance.append(
                dict(
                    household_id=hid,
                    measure=str(rng.choice(["industry", "health", "dibao", "pv_dividend"])),
                    start_date=s,
                    end_date=None
                    if rng.random() < 0.5
                    else min(end, s + pd.Timedelta(days=int(rng.integers(1, 700)))),
                    amount=None if rng.random() < 0.2 else round(float(rng.gamma(2, 1500)), 2),
                )
            )
    member_ids: dict[str, list[str]] = {}
    for m in members:
        member_ids.setdefault(m["household_id"], []).append(m["member_id"])
    for _ in range(n_events):
        hid = hids[int(rng.integers(0, n_households))]
        event_date = _day(rng, "2018-01-01", "2025-06-30")
        recorded = min(end, event_date + pd.Timedelta(days=int(rng.integers(0, 90))))
        ids = member_ids.get(hid, [])
        events.append(
            dict(
                household_id=hid,
                event_date=event_date,
                event_type=str(rng.choice(_EVENT_TYPES_FOR_TESTS)),
                member_id=str(rng.choice(ids)) if ids and rng.random() < 0.8 else None,
                recorded_on=None if rng.random() < 0.1 else recorded,
                amount=None if rng.random() < 0.2 else round(float(rng.gamma(2, 2000)), 2),
                detail=None if rng.random() < 0.3 else str(rng.choice(["1", "2", "3", "snow"])),
            )
        )
    if rng.random() < 0.5 and events:  # exact duplicates in time (ties)
        events.append(dict(events[0]))
    return bundle_from_frames(
        hh,
        members=members,
        income=income,
        events=events,
        assistance=assistance,
        monitoring=monitoring,
        extracted_on=extracted_on,
    )


@pytest.fixture(scope="session")
def make_random_bundle() -> Callable[..., Bundle]:
    """``make_random_bundle(seed, n_households=6, n_events=70)`` -> a small random Bundle."""
    return random_bundle


def with_rows(bundle: Bundle, table: str, rows: list[dict[str, Any]]) -> Bundle:
    """A copy of ``bundle`` with ``rows`` appended to ``table`` (typed like the contract)."""
    tables = dict(bundle.tables)
    if rows:
        tables[table] = pd.concat(
            [bundle.tables[table], typed_table(table, rows)], ignore_index=True
        )
    return Bundle(tables=tables, extracted_on=bundle.extracted_on, province=bundle.province)


@pytest.fixture(scope="session")
def append_rows() -> Callable[..., Bundle]:
    """``append_rows(bundle, "events", [row, ...])`` -> a new Bundle with the rows added."""
    return with_rows
