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
def catalog():  # noqa: ANN201 - the Catalog type
    from riskml.features import load_catalog

    return load_catalog()
