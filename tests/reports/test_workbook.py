"""The registration workbook (核实登记表): layout, safety, protection, and the round trip a
cadre makes: filled in with openpyxl as in Excel, read back by ``riskml reviews import``."""

from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from riskml.data import (
    CONCLUSIONS_ZH,
    REGISTRATION_CADRE_COLUMNS,
    REGISTRATION_COLUMNS,
    REGISTRATION_FIXED_COLUMNS,
    RISK_TYPES_ZH,
    import_reviews,
    load_bundle,
)
from riskml.reports import ReportInputError, render_review_reports
from riskml.scoring._columns import MAX_REASONS, reason_column
from tests.data._builders import EXTRACTED_ON, HH, write_text_bundle
from tests.reports._scores import TRAVERSAL_VILLAGES, make_scores
from tests.reports.conftest import TINY, needs

TIER_ZH = {"high": "高", "medium": "中", "low": "低"}


def _sheet(path: Path) -> openpyxl.worksheet.worksheet.Worksheet:
    return openpyxl.load_workbook(path)["核实登记表"]


def _validations(ws) -> dict[str, list[str]]:
    """Column header -> the items of the list validation covering it."""
    out = {}
    headers = {c.column_letter: c.value for c in ws[2]}
    for dv in ws.data_validations.dataValidation:
        assert dv.type == "list"
        items = dv.formula1.strip('"').split(",")
        for rng in dv.sqref.ranges:
            out[headers[rng.coord.split(":")[0].rstrip("0123456789")]] = items
    return out


def test_workbook_per_unit_lists_the_flagged_households(rendered, score_frame) -> None:
    """internal + xlsx → one workbook per unit; rows = the unit's flagged households in rank
    order with id (text), village, group, tier, rank, internal reasons and measures; blank cadre
    columns with drop-downs of exactly the allowed values; frozen header; protected sheet with the
    cadre cells unlocked; no formula anywhere."""
    result = rendered("village", "zh", "internal", "html,xlsx")
    assert len(result.units) == score_frame["village_code"].nunique()
    checked = 0
    for u in result.units:
        path = result.out_dir / u["xlsx"]
        assert path.is_file()
        ws = _sheet(path)
        assert [c.value for c in ws[2]] == list(REGISTRATION_COLUMNS)
        assert ws.freeze_panes == "A3"
        expected = score_frame[
            (score_frame["village_code"] == u["code"]) & score_frame["flagged"].fillna(False)
        ].sort_values("rank_village")
        rows = list(ws.iter_rows(min_row=3))
        assert len(rows) == len(expected) == u["counts"]["flagged"]
        for cells, (_, h) in zip(rows, expected.iterrows(), strict=True):
            v = {name: c.value for name, c in zip(REGISTRATION_COLUMNS, cells, strict=True)}
            assert v["户编号"] == h["household_id"] and cells[0].number_format == "@"
            assert cells[0].data_type == "s"
            assert v["风险等级"] == TIER_ZH[h["tier"]] and v["排名"] == h["rank_village"]
            group = h["group_name"]
            assert v["村民小组"] == (None if pd.isna(group) else group)
            first = h[reason_column(1, "zh")]
            assert str(first) in v["风险原因"]  # internal facts, with their data year
            n_reasons = sum(pd.notna(h[reason_column(k, "zh")]) for k in range(1, MAX_REASONS + 1))
            assert v["风险原因"].count("；") == n_reasons - 1
            assert v["建议帮扶措施"] == h["measures_zh"]
            assert all(v[c] is None for c in REGISTRATION_CADRE_COLUMNS)
            for name, c in zip(REGISTRATION_COLUMNS, cells, strict=True):
                assert c.protection.locked == (name in REGISTRATION_FIXED_COLUMNS), name
            checked += 1
        assert ws.protection.sheet is True
        if len(expected):
            assert _validations(ws) == {
                "核实结论": list(CONCLUSIONS_ZH),
                "风险类型": list(RISK_TYPES_ZH),
            }
        with zipfile.ZipFile(path) as zf:  # no formula cell in any sheet
            for name in zf.namelist():
                if name.startswith("xl/worksheets/"):
                    assert "<f>" not in zf.read(name).decode("utf-8"), name
    assert checked == int(score_frame["flagged"].sum()) > 20


def test_workbook_text_is_never_a_formula(tmp_path: Path) -> None:
    """A village named =HYPERLINK(…) and a reason starting with @ → stored as quoted text cells,
    as OWASP describes, never as formulas."""
    frame = make_scores(TINY)
    evil_village = '=HYPERLINK("http://x.example","点我")'
    evil_reason = "@SUM(1+1)*cmd|' /C calc'!A0"
    v = frame["village_code"] == frame["village_code"].iloc[0]
    frame.loc[v, "village_name"] = evil_village
    flagged = v & frame["flagged"].fillna(False)
    assert flagged.any()
    frame.loc[flagged, reason_column(1, "zh")] = evil_reason
    result = render_review_reports(
        frame,
        tmp_path / "r",
        mode="internal",
        formats="html,xlsx",
        metadata={"mode": "internal", "as_of": "2025-06-30"},
    )
    unit = next(u for u in result.units if u["code"] == frame["village_code"].iloc[0])
    ws = _sheet(result.out_dir / unit["xlsx"])
    row = [c for c in ws[3]]
    assert row[1].value == "'" + evil_village and row[1].data_type == "s"
    assert row[5].value.startswith("'" + evil_reason)
    assert all(c.data_type != "f" for r in ws.iter_rows() for c in r)


def test_public_mode_refuses_the_workbook(internal_scores: Path, tmp_path: Path) -> None:
    with pytest.raises(ReportInputError, match="internal material"):
        render_review_reports(internal_scores, tmp_path / "r", mode="public", formats="html,xlsx")
    assert not (tmp_path / "r").exists()


def _scores_for_bundle() -> pd.DataFrame:
    """Four flagged households of one village whose ids are the tiny test bundle's."""
    frame = make_scores(TINY)
    rows = frame[frame["flagged"].fillna(False)].head(4).copy()
    assert len(rows) == 4
    rows["household_id"] = HH
    for col in ("county_code", "township_code", "village_code", "village_name"):
        rows[col] = rows[col].iloc[0]
    rows["rank_village"] = pd.array([1, 2, 3, 4], dtype="Int64")
    rows["rank_township"] = pd.array([1, 2, 3, 4], dtype="Int64")
    rows["village_seq"] = pd.array([1, 2, 3, 4], dtype="Int64")
    assert rows["village_name"].iloc[0] not in TRAVERSAL_VILLAGES
    return rows.reset_index(drop=True)


def test_filled_workbook_imports_into_the_bundle(tmp_path: Path) -> None:
    """report --format xlsx → a cadre fills date, name, conclusion and type in three rows (as in
    Excel, with openpyxl) → import_reviews reads them into the bundle's reviews table; importing
    again adds nothing."""
    bundle_dir = write_text_bundle(tmp_path / "bundle")
    scores = _scores_for_bundle()
    result = render_review_reports(
        scores,
        tmp_path / "r",
        mode="internal",
        formats="html,xlsx",
        metadata={"mode": "internal", "as_of": str(EXTRACTED_ON)},
    )
    (unit,) = result.units
    path = result.out_dir / unit["xlsx"]
    wb = openpyxl.load_workbook(path)
    ws = wb["核实登记表"]
    col = {c.value: c.column for c in ws[2]}
    filled = {
        HH[0]: (dt.date(2025, 12, 3), "张三", "纳入监测对象", "因病"),
        HH[1]: (dt.date(2025, 12, 4), "李四", "暂不纳入", None),
        HH[3]: (dt.date(2025, 12, 5), "张三", "无法核实", None),
    }
    for r in range(3, ws.max_row + 1):
        hid = ws.cell(row=r, column=col["户编号"]).value
        if hid in filled:
            date, who, conclusion, risk = filled[hid]
            assert ws.cell(row=r, column=col["核实结论"]).protection.locked is False
            ws.cell(row=r, column=col["核实日期"]).value = date
            ws.cell(row=r, column=col["核实人"]).value = who
            ws.cell(row=r, column=col["核实结论"]).value = conclusion
            ws.cell(row=r, column=col["风险类型"]).value = risk
    filled_path = tmp_path / "filled.xlsx"
    wb.save(filled_path)

    today = dt.date(2026, 3, 1)
    first = import_reviews([filled_path], bundle_dir, today=today)
    assert first.added == 3 and first.no_conclusion == 1 and len(first.quarantined) == 0
    assert first.sheets_skipped == []  # one sheet, nothing for the import to report as skipped
    reviews = load_bundle(bundle_dir).reviews.sort_values("household_id")
    assert reviews["household_id"].astype(str).tolist() == sorted(filled)
    want = {h: CONCLUSIONS_ZH[v[2]] for h, v in filled.items()}
    assert (
        dict(zip(reviews["household_id"].astype(str), reviews["outcome"].astype(str), strict=True))
        == want
    )
    assert reviews["reviewed_on"].dt.date.tolist() == [filled[h][0] for h in sorted(filled)]
    assert reviews["risk_type"].astype(object).tolist()[0] == RISK_TYPES_ZH["因病"]
    second = import_reviews([filled_path], bundle_dir, today=today)
    assert second.added == 0 and second.already_recorded == 3


@needs("soffice")
@needs("pdftotext")
def test_workbook_opens_in_libreoffice(rendered, tmp_path: Path) -> None:
    """LibreOffice (headless) converts a workbook to PDF; the page shows the header, the ids and
    the title (the check a person makes by opening it)."""
    import shutil
    import subprocess

    result = rendered("village", "zh", "internal", "html,xlsx")
    unit = max(result.units, key=lambda u: u["counts"]["flagged"])
    src = tmp_path / "reg.xlsx"
    shutil.copyfile(result.out_dir / unit["xlsx"], src)
    subprocess.run(
        [
            "soffice",
            f"-env:UserInstallation=file://{tmp_path / 'lo-profile'}",
            "--headless",
            "--convert-to",
            "pdf",
            "--outdir",
            str(tmp_path),
            str(src),
        ],
        check=True,
        capture_output=True,
        timeout=240,
    )
    text = subprocess.run(
        ["pdftotext", "-layout", str(tmp_path / "reg.pdf"), "-"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    ws = _sheet(result.out_dir / unit["xlsx"])
    for header in ("户编号", "风险原因", "核实结论", "风险类型"):
        assert header in text
    ids = [r[0].value for r in ws.iter_rows(min_row=3)]
    assert ids and all(i in text for i in ids)
    assert "内部工作材料" in text
