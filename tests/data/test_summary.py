"""summarize_bundle: counts, date range, identification rate, quarantine by reason."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from riskml.data import load_bundle, summarize_bundle

from ._builders import HH, text_tables, typed_bundle, write_text_bundle


def test_summary_of_tiny_bundle(tmp_path: Path) -> None:
    """the tiny bundle with one negative income → rows per table, dates, 1 household identified in 2023 and 1 in 2024 (25 % each), quarantine by reason."""
    t = text_tables()
    t["income"].loc[2, "business_income"] = "-3"
    t["monitoring"] = pd.concat(
        [t["monitoring"], t["monitoring"].iloc[[0]].assign(identified_on="2025-06-01")],
        ignore_index=True,
    )
    bundle = load_bundle(write_text_bundle(tmp_path, t))
    s = summarize_bundle(bundle)
    assert s["households"] == 4
    assert s["rows"] == {
        "households": 4,
        "members": 8,
        "income": 7,
        "events": 6,
        "assistance": 3,
        "monitoring": 3,
    }
    assert s["extracted_on"] == "2025-12-31" and s["extracted_on_from"] == "bundle.yaml"
    assert s["province"] == "测试省"
    assert s["date_range"]["first"] == "2012-05-04" and s["date_range"]["last"] == "2025-06-01"
    assert s["date_range"]["tables"]["events"] == {"first": "2023-07-11", "last": "2025-05-09"}
    # HH[0] identified 2024-04-01 and again 2025-06-01 (counts once, in 2024); HH[1] in 2023.
    assert s["identification"]["households_first_identified"] == {2023: 1, 2024: 1}
    assert s["identification"]["rate"] == {2023: 0.25, 2024: 0.25}
    assert s["quarantine"]["records"] == 1
    assert s["quarantine"]["rows_set_aside"] == {"income": 1}
    assert s["quarantine"]["by_reason"] == {"income.business_income: negative amount": 1}
    assert s["normalised_ids"]["total"] == 0


def test_summary_of_in_memory_bundle() -> None:
    """a Bundle built in memory (no load report, default quarantine frame) → summarised without error."""
    s = summarize_bundle(typed_bundle())
    assert s["households"] == 4 and s["quarantine"]["records"] == 0
    assert s["identification"]["households_first_identified"] == {2023: 1, 2024: 1}


def test_load_bundle_writes_quarantine_file(tmp_path: Path) -> None:
    """load_bundle(quarantine_path=...) with one orphan row → that file holds the record (UTF-8 with BOM, Chinese-safe)."""
    t = text_tables()
    t["events"].loc[0, "household_id"] = "15050000000000甲乙"
    target = tmp_path / "q" / "quarantine.csv"
    bundle = load_bundle(write_text_bundle(tmp_path / "b", t), quarantine_path=target)
    q = pd.read_csv(target, dtype=str, encoding="utf-8-sig")
    assert q["household_id"].tolist() == ["15050000000000甲乙"]
    assert bundle.load_report["quarantine_file"] == str(target)
    assert HH[0] in set(bundle.households["household_id"])
