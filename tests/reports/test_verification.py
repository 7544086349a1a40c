"""Verification sheets (入户核实表): one per flagged household, internal mode only, with the
household's facts, income against the line, last review, a checklist chosen by its reasons'
risk types (configs/verification.yaml), the conclusion tick boxes, the vote and signatures."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from riskml.config.reports import load_reports_config
from riskml.config.verification import VerificationConfig, load_verification_config
from riskml.data import CONCLUSIONS_ZH, OUTCOME_ZH
from riskml.scoring._columns import MAX_REASONS, reason_column
from tests.reports._html import read, text_of

T = load_reports_config().text["zh"]


def _sheets(page: str) -> list[str]:
    return re.findall(r'<section class="vsheet"(.*?)</section>', page, flags=re.S)


def test_one_sheet_per_flagged_household(rendered, score_frame: pd.DataFrame) -> None:
    result = rendered("village", "zh", "internal")
    vconfig = load_verification_config()
    n = 0
    for u in result.units:
        flagged = score_frame[
            (score_frame["village_code"] == u["code"]) & score_frame["flagged"].astype(bool)
        ].sort_values("rank_village")
        if not len(flagged):
            assert u["verification"] is None
            continue
        page = read(result.out_dir / u["verification"])
        assert page.count('class="vsheet"') == len(flagged)
        unit_page = read(result.out_dir / u["html"])
        assert T["verification_link"] in unit_page  # the list links its sheets
        for sheet, (_, h) in zip(_sheets(page), flagged.iterrows(), strict=True):
            text = re.sub(r"\s+", " ", text_of(sheet))
            assert f'data-household="{h["household_id"]}"' in sheet
            for k in range(1, MAX_REASONS + 1):  # the facts, with their data year
                fact = h[reason_column(k, "zh")]
                if pd.notna(fact):
                    assert str(fact) in text
            types = [
                str(h[reason_column(k, "type")])
                for k in range(1, MAX_REASONS + 1)
                if pd.notna(h[reason_column(k, "type")])
            ]
            questions = re.findall(r'<td class="v-box">☐</td><td>(.*?)</td>', sheet, flags=re.S)
            assert [q.strip() for q in questions] == vconfig.questions(types, "zh")
            income = f"{round(float(h['pc_income'])):,}"
            line = f"{round(float(h['threshold'])):,}"
            assert f"{int(h['income_year'])} 年人均纯收入 {income} 元，当年监测线 {line} 元" in text
            assert (T["v_below"] in text) == bool(h["income_below_threshold"])
            if pd.notna(h["last_review_on"]):
                date = pd.Timestamp(h["last_review_on"]).strftime("%Y-%m-%d")
                assert f"{date} {OUTCOME_ZH[h['last_review_outcome']]}" in text
            else:
                assert T["no_review"] in text
            ticks = re.findall(r'<span class="v-tick">☐ (.*?)</span>', sheet)
            assert ticks[: len(CONCLUSIONS_ZH)] == list(CONCLUSIONS_ZH)
            for s in T["v_signatures"]:
                assert s in text
            assert "赞成" in text and "反对" in text and "弃权" in text
            n += 1
    assert n == int(score_frame["flagged"].sum())


def test_illness_gets_the_medical_questions() -> None:
    """A household whose reasons are 因病 then 因自然灾害 is asked about reimbursement,
    out-of-pocket costs and certificates, then losses and insurance, then the general items."""
    q = load_verification_config().questions(["illness", "disaster"], "zh")
    assert any("医保报销" in x for x in q) and any("自付" in x for x in q)
    assert any("证明" in x for x in q) and any("受灾" in x for x in q)
    assert any("理赔" in x for x in q) and any("两不愁三保障" in x for x in q)
    assert q.index(next(x for x in q if "医保" in x)) < q.index(next(x for x in q if "受灾" in x))
    # no risk type: the fallback (income accounting)
    assert any("收入核算" in x for x in load_verification_config().questions([], "zh"))


def test_verification_config_rejects_unknown_types() -> None:
    with pytest.raises(ValueError, match="unknown risk type"):
        VerificationConfig(
            by_risk_type={"illnes": ({"zh": "x", "en": "x"},), "other": ({"zh": "y", "en": "y"},)}
        )
    with pytest.raises(ValueError, match="extra"):
        VerificationConfig(by_risk_type={"other": ()}, extra_key=1)


def test_no_verification_sheets_in_meeting_mode(rendered) -> None:
    """Sheets hold health facts and names: the public report writes none and links none."""
    result = rendered("village", "zh", "public")
    assert not [f for f in result.files if "verification" in f.name]
    assert all(u["verification"] is None for u in result.units)
    assert T["verification_link"] not in read(result.index)
