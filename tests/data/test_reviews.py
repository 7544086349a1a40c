"""The optional ``reviews`` table and ``riskml reviews import`` on a tiny hand-built bundle."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from riskml.cli import app
from riskml.config import read_yaml
from riskml.config.mapping import BundleMapping
from riskml.data import (
    CONCLUSIONS_ZH,
    REGISTRATION_COLUMNS,
    REVIEW_OUTCOMES,
    RISK_TYPES_ZH,
    ReviewImportError,
    import_reviews,
    load_bundle,
    write_bundle,
)
from riskml.data._schema import RISK_TYPES

from ._builders import (
    EXTRACTED_ON,
    HH,
    registration_workbook,
    sheet_row,
    text_tables,
    typed_bundle,
    write_text_bundle,
)

TODAY = dt.date(2026, 3, 1)


def _reviews_text(rows: list[tuple[str, str, str, str, str]]) -> pd.DataFrame:
    return pd.DataFrame(
        rows, columns=["household_id", "reviewed_on", "outcome", "risk_type", "note"]
    )


# ---------------------------------------------------------------------------- the contract table


def test_bundle_without_reviews_has_an_empty_typed_table(tmp_path: Path) -> None:
    """no reviews file → bundle.reviews is empty with the contract dtypes; not in table_names()."""
    bundle = load_bundle(write_text_bundle(tmp_path / "b"))
    assert "reviews" not in bundle.table_names()
    assert len(bundle.reviews) == 0
    assert list(bundle.reviews.columns) == [
        "household_id",
        "reviewed_on",
        "outcome",
        "risk_type",
        "note",
    ]
    assert list(bundle.reviews["outcome"].cat.categories) == list(REVIEW_OUTCOMES)


def test_reviews_file_loads_and_bad_rows_are_quarantined(tmp_path: Path) -> None:
    """orphan household, date after the extraction date, exact duplicate → quarantined with reasons."""
    tables = text_tables()
    tables["reviews"] = _reviews_text(
        [
            (HH[2], "2025-07-15", "not_at_risk", "illness", "复查无风险"),
            (HH[3], "2025-08-01", "identified", "", ""),
            (HH[3], "2025-08-01", "identified", "", ""),  # exact copy: first kept
            ("999999999999999999", "2025-08-01", "unreachable", "", ""),  # not a household
            (HH[2], "2026-02-01", "identified", "", ""),  # after extracted_on 2025-12-31
        ]
    )
    bundle = load_bundle(write_text_bundle(tmp_path / "b", tables))
    r = bundle.reviews
    assert len(r) == 2
    assert r["reviewed_on"].dtype == "datetime64[ns]"
    assert r["outcome"].astype(str).tolist() == ["not_at_risk", "identified"]
    assert r["risk_type"].astype(object).tolist()[0] == "illness"
    q = bundle.quarantine.loc[bundle.quarantine["table"] == "reviews"]
    assert sorted(q["reason"]) == sorted(
        [
            "exact duplicate of an earlier row (same household_id, reviewed_on, outcome); first copy kept",
            "household_id not in households",
            "dated after the extraction date",
        ]
    )
    assert bundle.extracted_on == EXTRACTED_ON


def test_reviews_do_not_move_the_inferred_extraction_date(tmp_path: Path) -> None:
    """without bundle.yaml the extraction date comes from the history tables, not from reviews."""
    tables = text_tables()
    tables["reviews"] = _reviews_text(
        [(HH[2], "2025-03-01", "not_at_risk", "", ""), (HH[3], "2025-11-20", "identified", "", "")]
    )
    bundle = load_bundle(write_text_bundle(tmp_path / "b", tables, extracted_on=None))
    assert bundle.extracted_on == dt.date(2025, 5, 9)  # the latest history date (an event)
    assert bundle.reviews["household_id"].tolist() == [HH[2]]  # the later one is set aside


@pytest.mark.parametrize("fmt", ["parquet", "csv", "xlsx"])
def test_write_bundle_round_trips_reviews(tmp_path: Path, fmt: str) -> None:
    tables = text_tables()
    tables["reviews"] = _reviews_text([(HH[2], "2025-07-15", "not_at_risk", "disaster", "=1+1")])
    bundle = load_bundle(write_text_bundle(tmp_path / "b", tables))
    out = write_bundle(bundle, tmp_path / f"out-{fmt}", format=fmt)
    assert (out / f"reviews.{fmt}").is_file()
    back = load_bundle(out)
    pd.testing.assert_frame_equal(back.reviews, bundle.reviews)
    # a bundle without reviews writes no reviews file
    out2 = write_bundle(typed_bundle(), tmp_path / f"none-{fmt}", format=fmt)
    assert not (out2 / f"reviews.{fmt}").exists()


def test_mapped_export_loads_review_results(tmp_path: Path) -> None:
    """an export's 核实结果 sheet with Chinese headers and codes → the reviews table via a mapping."""
    folder = write_text_bundle(tmp_path / "b")
    pd.DataFrame(
        {
            "hbh": [HH[2], HH[3]],
            "hsrq": ["2025/07/15", "2025/08/01"],
            "hsjl": ["暂不纳入", "纳入监测对象"],
            "fxlx": ["因自然灾害", "缺劳动力"],
            "bz": ["", "缺劳力"],
        }
    ).to_csv(folder / "核实结果.csv", index=False, encoding="gb18030")
    national = read_yaml(Path(__file__).parents[2] / "configs/mappings/national_export.yaml")
    mapping = BundleMapping.model_validate(
        {"date_formats": ["%Y/%m/%d"], "tables": {"reviews": national["tables"]["reviews"]}}
    )
    bundle = load_bundle(folder, mapping=mapping)
    r = bundle.reviews
    assert r["outcome"].astype(str).tolist() == ["not_at_risk", "identified"]
    assert r["risk_type"].astype(str).tolist() == ["disaster", "labor_shortage"]
    assert r["reviewed_on"].dt.date.tolist() == [dt.date(2025, 7, 15), dt.date(2025, 8, 1)]


def test_national_mapping_vocabulary_is_the_workbook_vocabulary() -> None:
    """the mapping file's copies of the 核实结论 / 风险类型 vocabularies equal the constants."""
    spec = read_yaml(Path(__file__).parents[2] / "configs/mappings/national_export.yaml")["tables"][
        "reviews"
    ]
    assert spec["recode"]["outcome"] == CONCLUSIONS_ZH
    for name, code in RISK_TYPES_ZH.items():
        assert spec["recode"]["risk_type"][name] == code
    assert set(RISK_TYPES_ZH.values()) == set(RISK_TYPES)
    assert set(CONCLUSIONS_ZH.values()) == set(REVIEW_OUTCOMES)


# ---------------------------------------------------------------------------- reviews import


@pytest.fixture
def bundle_dir(tmp_path: Path) -> Path:
    return write_text_bundle(tmp_path / "bundle")


def test_import_filled_workbook_twice(bundle_dir: Path, tmp_path: Path) -> None:
    """reviews added once; empty 核实结论 skipped and counted; unknown / late rows quarantined."""
    wb = registration_workbook(
        tmp_path / "登记表.xlsx",
        [
            sheet_row(HH[2], dt.datetime(2025, 7, 15), "暂不纳入", "因自然灾害", "雪灾已恢复"),
            sheet_row(HH[3], "2025/08/01", "纳入监测对象", "缺劳动力", None),
            sheet_row(HH[0], None, None),  # not reviewed yet
            sheet_row(HH[1], "2025-08-02", None, None, "下周再去"),  # filled, but no conclusion
            sheet_row("150500000000009999", "2025-08-03", "无法核实"),  # not in this bundle
            sheet_row(HH[2], "2026-01-10", "已是监测对象"),  # after the extraction date
        ],
    )
    first = import_reviews([wb], bundle_dir, today=TODAY)
    assert (first.rows_read, first.no_conclusion, first.no_conclusion_but_filled) == (6, 2, 1)
    assert (first.reviews, first.added, first.already_recorded, first.updated) == (4, 2, 0, 0)
    assert sorted(first.quarantined["reason"].str.split(":").str[0]) == [
        "household_id not in the bundle's households",
        "reviewed after the bundle's extraction date (2025-12-31)",
    ]
    assert first.quarantined["row"].tolist() == [7, 8]  # sheet rows (title line, header, data)
    assert first.quarantine_path is not None and first.quarantine_path.is_file()
    assert first.quarantine_path.parent == bundle_dir.parent  # beside the bundle, not inside
    assert first.path == bundle_dir / "reviews.csv"  # the bundle's own format
    assert first.sheets_skipped == ["登记表.xlsx:说明"]
    content = first.path.read_bytes()

    second = import_reviews([wb], bundle_dir, today=TODAY)
    assert (second.added, second.already_recorded, second.updated, second.total_after) == (
        0,
        2,
        0,
        2,
    )
    assert second.path is None
    assert first.path.read_bytes() == content

    r = load_bundle(bundle_dir).reviews
    assert r["household_id"].tolist() == [HH[2], HH[3]]
    assert r["outcome"].astype(str).tolist() == ["not_at_risk", "identified"]
    assert r["risk_type"].astype(str).tolist() == ["disaster", "labor_shortage"]
    assert r["note"].tolist()[0] == "雪灾已恢复"
    assert "张三" not in first.path.read_text(encoding="utf-8")  # 核实人 is not stored


def test_corrected_note_updates_the_recorded_review(bundle_dir: Path, tmp_path: Path) -> None:
    import_reviews(
        [registration_workbook(tmp_path / "a.xlsx", [sheet_row(HH[2], "2025-07-15", "暂不纳入")])],
        bundle_dir,
        today=TODAY,
    )
    again = import_reviews(
        [
            registration_workbook(
                tmp_path / "b.xlsx", [sheet_row(HH[2], "2025-07-15", "暂不纳入", "因病", "复查")]
            )
        ],
        bundle_dir,
        today=TODAY,
    )
    assert (again.added, again.updated) == (0, 1)
    r = load_bundle(bundle_dir).reviews
    assert (r["risk_type"].astype(str).tolist(), r["note"].tolist()) == (["illness"], ["复查"])


@pytest.mark.parametrize("encoding", ["utf-8-sig", "gbk"])
def test_import_csv_saved_from_wps(bundle_dir: Path, tmp_path: Path, encoding: str) -> None:
    path = tmp_path / "登记表.csv"
    frame = pd.DataFrame(
        [sheet_row(HH[2], "2025-07-15", "暂不纳入", "因病", "'=危险")],
        columns=list(REGISTRATION_COLUMNS),
    )
    frame.to_csv(path, index=False, encoding=encoding)
    result = import_reviews([path], bundle_dir, today=TODAY)
    assert result.added == 1
    r = load_bundle(bundle_dir).reviews
    assert r["note"].tolist() == ["=危险"]  # the quote riskml's writer adds is taken off again


def test_cli_reviews_import(bundle_dir: Path, tmp_path: Path) -> None:
    wb = registration_workbook(
        tmp_path / "登记表.xlsx", [sheet_row(HH[2], "2025-07-15", "暂不纳入")]
    )
    run = CliRunner().invoke(app, ["reviews", "import", str(wb), "--data", str(bundle_dir)])
    assert run.exit_code == 0, run.output
    assert "Added: 1" in run.output
    bad = registration_workbook(tmp_path / "bad.xlsx", [sheet_row(HH[2], "2025-07-15", "同意")])
    run = CliRunner().invoke(app, ["reviews", "import", str(bad), "--data", str(bundle_dir)])
    assert run.exit_code == 2
    assert "核实结论" in " ".join(run.output.split())


def test_import_beside_an_export_mapped_with_a_reviews_section(
    bundle_dir: Path, tmp_path: Path
) -> None:
    """a mapping with tables.reviews (national_export) but no review file in the export: the import
    writes reviews.csv and the mapped load reads it; once the export carries its own file, the
    import is refused."""
    import yaml

    national = read_yaml(Path(__file__).parents[2] / "configs/mappings/national_export.yaml")
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(
        yaml.safe_dump({"tables": {"reviews": national["tables"]["reviews"]}}, allow_unicode=True),
        encoding="utf-8",
    )
    wb = registration_workbook(tmp_path / "a.xlsx", [sheet_row(HH[2], "2025-07-15", "暂不纳入")])
    result = import_reviews([wb], bundle_dir, mapping=mapping, today=TODAY)
    assert result.path == bundle_dir / "reviews.csv"
    loaded = load_bundle(bundle_dir, mapping=mapping)
    assert loaded.reviews["outcome"].astype(str).tolist() == ["not_at_risk"]
    assert loaded.load_report["files"]["reviews"]["file"] == "reviews.csv"
    pd.DataFrame({"hbh": [HH[3]], "hsrq": ["2025-08-01"], "hsjl": ["纳入监测对象"]}).to_csv(
        bundle_dir / "核实结果.csv", index=False
    )
    with pytest.raises(ReviewImportError, match="carries its own review results"):
        import_reviews([wb], bundle_dir, mapping=mapping, today=TODAY)
