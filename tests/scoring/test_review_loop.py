"""The review meeting as a loop, end to end, with the real pieces.

score → internal village reports with the registration workbooks (xlsx) → cadres fill the
workbooks in place with openpyxl, as they would in Excel → ``reviews import`` twice → score the
next month with ``--previous`` → report again. Then: the quiet period holds, the follow-up
section lists exactly the previous flags nobody reviewed, and the outcome statistics count the
confirmed share.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path
from typing import Any

import openpyxl

from riskml.data import CONCLUSIONS_ZH, REGISTRATION_COLUMNS, import_reviews, load_bundle
from riskml.reports import render_review_reports
from riskml.scoring import review_outcomes, score_roster

from .conftest import SCORING_AS_OF


def _fill(workbooks: list[Path]) -> tuple[set[str], set[str]]:
    """In each workbook: the first listed household 暂不纳入, the second 纳入监测对象."""
    not_at_risk: set[str] = set()
    identified: set[str] = set()
    labels = {v: k for k, v in CONCLUSIONS_ZH.items()}
    for path in workbooks:
        wb = openpyxl.load_workbook(path)
        ws = wb.active
        header_row = next(
            r for r in range(1, 6) if ws.cell(row=r, column=1).value == REGISTRATION_COLUMNS[0]
        )
        col = {ws.cell(row=header_row, column=j).value: j for j in range(1, ws.max_column + 1)}
        row = header_row + 1
        for outcome in ("not_at_risk", "identified"):
            hid = ws.cell(row=row, column=col["户编号"]).value
            if not hid:
                break
            ws.cell(row=row, column=col["核实日期"]).value = dt.datetime(2025, 7, 8)
            ws.cell(row=row, column=col["核实人"]).value = "村干部"
            ws.cell(row=row, column=col["核实结论"]).value = labels[outcome]
            ws.cell(row=row, column=col["风险类型"]).value = "因病"
            (not_at_risk if outcome == "not_at_risk" else identified).add(str(hid))
            row += 1
        wb.save(path)
    return not_at_risk, identified


def test_the_whole_review_loop(small_province_dir: Any, risk_model: Any, tmp_path: Path) -> None:
    folder = tmp_path / "bundle"
    shutil.copytree(small_province_dir, folder)

    first = score_roster(
        folder, SCORING_AS_OF, out=tmp_path / "m1.parquet", model=risk_model, quiet=True
    )
    flagged_1 = set(first.scores.loc[first.scores["flagged"].fillna(False), "household_id"])
    assert len(flagged_1) >= 10
    render_review_reports(
        tmp_path / "m1.parquet",
        tmp_path / "r1",
        level="village",
        mode="internal",
        formats="html,xlsx",
    )
    workbooks = sorted((tmp_path / "r1" / "units").glob("*核实登记表.xlsx"))
    assert workbooks
    not_at_risk, identified = _fill(workbooks)
    filled = not_at_risk | identified
    assert filled and filled <= flagged_1

    once = import_reviews(workbooks, folder)
    twice = import_reviews(workbooks, folder)
    assert once.added == len(filled)
    assert (twice.added, twice.already_recorded) == (0, len(filled))

    second = score_roster(
        folder,
        "2025-07-31",
        out=tmp_path / "m2.parquet",
        model=risk_model,
        previous=tmp_path / "m1.parquet",
        quiet=True,
    )
    s = second.scores.set_index("household_id")
    # the quiet period: a household reviewed as not at risk is flagged again only with a reason
    quiet = s.loc[sorted(not_at_risk)]
    assert (quiet["last_review_outcome"] == "not_at_risk").all()
    again = quiet.loc[quiet["flagged"].fillna(False).astype(bool)]
    assert (again["review_hold"] == "flagged_again").all()
    assert again["status_detail"].notna().all()

    render_review_reports(
        tmp_path / "m2.parquet", tmp_path / "r2", level="village", mode="internal", formats="html"
    )
    listed: set[str] = set()
    for page in (tmp_path / "r2" / "units").glob("*.html"):
        html = page.read_text(encoding="utf-8")
        m = re.search(r'<table class="unreviewed">(.*?)</table>', html, flags=re.S)
        if m:
            listed |= set(re.findall(r"HH\d+", m.group(1)))
    still_monitored = set(s.index[s["status"] == "not_eligible"])
    expected = flagged_1 - filled - still_monitored
    assert listed == expected

    outcomes = review_outcomes(first.scores, load_bundle(folder).reviews)["by_tier"]
    total = outcomes.loc["total"]
    assert total["flagged"] == len(flagged_1)
    assert total["identified"] == len(identified)
    assert total["not_at_risk"] == len(not_at_risk)
    assert total["never_reviewed"] == len(flagged_1) - len(filled)
    assert total["confirmed_share"] == len(identified) / len(filled)
