"""Tiny hand-made bundles for the data-stage tests (no dependence on the synthetic province).

``text_tables()`` gives the six tables as all-text frames, exactly as a CSV export would hold
them; tests change a cell or a column and write them with ``write_text_bundle``.
``typed_bundle()`` gives the same bundle as typed frames (the in-memory contract dtypes).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from riskml.data import ALL_TABLES, Bundle

EXTRACTED_ON = dt.date(2025, 12, 31)
HH = [f"15050000000000{i:04d}" for i in (1, 2, 3, 4)]
"""Four 18-digit household ids (leading digits as in real exports; kept as text)."""
MEMBER = {hh: [f"{hh}{j:02d}" for j in range(2)] for hh in HH}


def text_tables() -> dict[str, pd.DataFrame]:
    """A valid bundle as text: 4 households, 8 members, 8 income rows, 6 events, 3 measures, 2 records."""
    households = pd.DataFrame(
        {
            "household_id": HH,
            "county_code": ["150500", "150500", "150502", "150502"],
            "township_code": ["1505000001", "1505000001", "1505000201", "1505000202"],
            "village_code": ["150500000011", "150500000011", "150500002011", "150500002021"],
            "village_name": ["嘎查11", "嘎查11", "嘎查2011", "嘎查2021"],
            "head_sex": ["M", "F", "M", ""],
            "head_birth_year": ["1962", "1975", "1958", ""],
            "head_ethnicity": ["汉族", "蒙古族", "蒙古族", ""],
            "poverty_exit_year": ["2018", "", "2020", "2019"],
            "relocated": ["false", "false", "true", ""],
            "livelihood": ["pastoral", "farming", "agro_pastoral", "wage"],
        }
    )
    members = pd.DataFrame(
        {
            "household_id": [hh for hh in HH for _ in range(2)],
            "member_id": [m for hh in HH for m in MEMBER[hh]],
            "sex": ["M", "F", "F", "M", "M", "F", "F", "M"],
            "birth_year": ["1962", "1965", "1975", "2004", "1958", "1990", "1981", "2012"],
            "relation": ["head", "spouse", "head", "child", "head", "child", "head", "child"],
            "education": ["primary", "none", "junior", "college", "none", "senior", "", "primary"],
            "joined_on": ["", "", "", "", "", "", "", "2012-05-04"],
            "left_on": ["", "", "", "2023-09-01", "", "", "", ""],
        }
    )
    income = pd.DataFrame(
        {
            "household_id": [hh for hh in HH for _ in range(2)],
            "year": ["2023", "2024"] * 4,
            "recorded_on": [
                "2024-02-10",
                "2025-02-12",
                "2024-03-01",
                "2025-03-03",
                "2024-02-20",
                "2025-02-21",
                "2024-01-15",
                "2025-01-16",
            ],
            "household_size": ["2", "2", "2", "1", "2", "2", "2", "2"],
            "wage_income": ["1200.5", "0", "8000", "9100.25", "0", "0", "30210.75", "31000"],
            "business_income": ["15000", "14200", "2000", "2100", "9000", "8800", "", "0"],
            "property_income": ["310.2", "305", "0", "0", "120", "118.5", "0", "0"],
            "transfer_income": ["4200", "4500", "600", "650", "7100", "7300", "0", "0"],
            "business_costs": ["5200", "5100", "500", "480", "3000", "2900", "0", "0"],
            "oop_medical": ["0", "21000", "0", "0", "350", "0", "0", ""],
        }
    )
    events = pd.DataFrame(
        {
            "household_id": [HH[0], HH[0], HH[1], HH[2], HH[2], HH[3]],
            "event_date": [
                "2024-03-02",
                "2024-03-20",
                "2023-07-11",
                "2024-06-30",
                "2025-01-05",
                "2025-05-01",
            ],
            "event_type": [
                "hospitalization",
                "medical_bill",
                "job_loss",
                "natural_disaster",
                "dibao_granted",
                "migrant_work_start",
            ],
            "member_id": [
                MEMBER[HH[0]][0],
                MEMBER[HH[0]][0],
                MEMBER[HH[1]][1],
                "",
                "",
                MEMBER[HH[3]][0],
            ],
            "recorded_on": [
                "2024-03-15",
                "2024-04-02",
                "2023-08-01",
                "2024-07-10",
                "2025-01-20",
                "2025-05-09",
            ],
            "amount": ["", "23500.8", "", "4200", "", ""],
            "detail": ["", "", "", "snow", "", ""],
        }
    )
    assistance = pd.DataFrame(
        {
            "household_id": [HH[0], HH[1], HH[2]],
            "measure": ["health", "employment", "dibao"],
            "start_date": ["2024-05-01", "2023-09-01", "2025-02-01"],
            "end_date": ["2024-11-30", "", ""],
            "amount": ["3000", "1500", "4800"],
        }
    )
    monitoring = pd.DataFrame(
        {
            "household_id": [HH[0], HH[1]],
            "identified_on": ["2024-04-01", "2023-09-01"],
            "category": ["unstable_exited", "edge"],
            "risk_1": ["illness", "unstable_employment"],
            "risk_2": ["", "labor_shortage"],
            "risk_3": ["", ""],
            "eliminated_on": ["", "2024-10-01"],
            "elimination_method": ["", "assisted"],
        }
    )
    return {
        "households": households,
        "members": members,
        "income": income,
        "events": events,
        "assistance": assistance,
        "monitoring": monitoring,
    }


def write_text_bundle(
    folder: Path,
    tables: Mapping[str, pd.DataFrame] | None = None,
    *,
    encoding: str = "utf-8",
    extracted_on: dt.date | None = EXTRACTED_ON,
    names: Mapping[str, str] | None = None,
) -> Path:
    """Write text frames as CSV files (``names`` overrides file names) and ``bundle.yaml``."""
    folder.mkdir(parents=True, exist_ok=True)
    tables = text_tables() if tables is None else tables
    for name, frame in tables.items():
        file = (names or {}).get(name, f"{name}.csv")
        frame.to_csv(folder / file, index=False, encoding=encoding)
    if extracted_on is not None:
        (folder / "bundle.yaml").write_text(
            yaml.safe_dump(
                {"extracted_on": extracted_on, "province": "测试省", "source": "tests"},
                allow_unicode=True,
            ),
            encoding="utf-8",
        )
    return folder


def _typed(frame: pd.DataFrame, table: str) -> pd.DataFrame:
    out = {}
    for col in ALL_TABLES[table].columns:
        text = (
            frame[col.name].replace("", None)
            if col.name in frame
            else pd.Series([None] * len(frame))
        )
        if col.kind in {"id", "string"}:
            out[col.name] = text.astype(pd.StringDtype("pyarrow"))
        elif col.kind == "category":
            out[col.name] = pd.Series(pd.Categorical(text, categories=list(col.vocab or ())))
        elif col.kind == "int":
            out[col.name] = pd.to_numeric(text).astype("Int64")
        elif col.kind == "money":
            out[col.name] = pd.to_numeric(text).astype("float64")
        elif col.kind == "date":
            out[col.name] = pd.to_datetime(text, format="%Y-%m-%d").astype("datetime64[ns]")
        elif col.kind == "bool":
            out[col.name] = text.map({"true": True, "false": False}).astype("boolean")
    return pd.DataFrame(out)


def typed_bundle() -> Bundle:
    """The ``text_tables()`` bundle as typed frames, built with plain pandas (not the loader)."""
    tables = {name: _typed(frame, name) for name, frame in text_tables().items()}
    return Bundle(tables=tables, extracted_on=EXTRACTED_ON, province="测试省", source="tests")


def load_text(
    folder: Path, tables: Mapping[str, pd.DataFrame] | None = None, **kwargs: object
) -> Bundle:
    """Write ``tables`` (default: the valid tiny bundle) as CSV into ``folder`` and load it."""
    from riskml.data import load_bundle

    write_text_bundle(folder, tables)
    return load_bundle(folder, **kwargs)  # type: ignore[arg-type]


def quarantined(bundle: Bundle, table: str, reason_part: str = "") -> pd.DataFrame:
    """The quarantine records of ``table`` whose reason contains ``reason_part``."""
    q = bundle.quarantine
    return q[(q["table"] == table) & q["reason"].str.contains(reason_part, regex=False)]


def scaled_text_tables(n: int, seed: int = 0) -> dict[str, pd.DataFrame]:
    """A valid text bundle of ``n`` households (3 members, 3 income years, ~4 events each), vectorised."""
    import numpy as np

    rng = np.random.default_rng(seed)
    ids = (150500000000000000 + np.arange(n)).astype(str)
    households = pd.DataFrame(
        {
            "household_id": ids,
            "county_code": "150500",
            "township_code": (1505000000 + rng.integers(0, 20, n)).astype(str),
            "village_code": (150500000000 + rng.integers(0, 200, n)).astype(str),
            "livelihood": rng.choice(["farming", "pastoral", "wage"], n),
        }
    )
    mh = np.repeat(np.arange(n), 3)
    members = pd.DataFrame(
        {
            "household_id": ids[mh],
            "member_id": np.char.add(ids[mh], np.tile(["01", "02", "03"], n)),
            "sex": rng.choice(["M", "F"], 3 * n),
            "birth_year": rng.integers(1940, 2020, 3 * n).astype(str),
        }
    )
    ih = np.repeat(np.arange(n), 3)
    years = np.tile([2022, 2023, 2024], n)
    income = pd.DataFrame(
        {
            "household_id": ids[ih],
            "year": years.astype(str),
            "recorded_on": np.char.add((years + 1).astype(str), "-02-15"),
            "household_size": rng.integers(1, 6, 3 * n).astype(str),
            "wage_income": np.round(rng.gamma(2, 4000, 3 * n), 2).astype(str),
        }
    )
    k = 4 * n
    day = np.datetime64("2022-01-01") + rng.integers(0, 1000, k)
    events = pd.DataFrame(
        {
            "household_id": ids[rng.integers(0, n, k)],
            "event_date": day.astype(str),
            "event_type": rng.choice(["hospitalization", "job_loss", "medical_bill"], k),
            "recorded_on": (day + rng.integers(0, 30, k)).astype(str),
        }
    )
    assistance = pd.DataFrame(
        {"household_id": ids[:1], "measure": ["dibao"], "start_date": ["2024-01-01"]}
    )
    mon = rng.choice(n, n // 20, replace=False)
    monitoring = pd.DataFrame(
        {"household_id": ids[mon], "identified_on": "2024-06-01", "category": "edge"}
    )
    return {
        "households": households,
        "members": members,
        "income": income,
        "events": events,
        "assistance": assistance,
        "monitoring": monitoring,
    }


# ---------------------------------------------------------------- filled registration workbooks


def sheet_row(
    hid: str, date: Any, conclusion: str | None, risk: str | None = None, note: str | None = None
) -> list[Any]:
    """One 核实登记表 row as a cadre fills it (the columns of ``REGISTRATION_COLUMNS``)."""
    return [
        hid,
        "嘎查11",
        "一组",
        "高",
        1,
        "因病住院",
        "健康帮扶",
        date,
        "张三",
        conclusion,
        risk,
        note,
    ]


def registration_workbook(
    path: Path, rows: list[list[Any]], *, title: bool = True, sheet: str = "嘎查11"
) -> Path:
    """A filled registration workbook: a title line, the header, ``rows``, and a 说明 sheet."""
    import openpyxl

    from riskml.data import REGISTRATION_COLUMNS

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = sheet
    if title:
        ws.append(["某某苏木 核实登记表"])
    ws.append(list(REGISTRATION_COLUMNS))
    for r in rows:
        ws.append(r)
    wb.create_sheet("说明").append(["填写说明"])
    wb.save(path)
    return path
