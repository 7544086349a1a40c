"""The review loop on the score file, checked by hand on the tiny hand-built bundle.

The bundle (``tests/data/_builders.py``): four households, extracted 2025-12-31, set to the
default province of ``configs/thresholds.yaml`` (lines: 2023 7,200, 2024 8,000 yuan).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from riskml.config.scoring import ReviewConfig
from riskml.data import Bundle
from riskml.scoring._columns import EVENT_TYPE_ZH, empty_scores
from riskml.scoring._followup import add_followup_columns, apply_quiet_period, followup_counts
from tests.data._builders import HH, typed_bundle

from .conftest import SCORING_AS_OF

AS_OF = dt.date(2025, 6, 30)


def _list(s: pd.Series) -> list[object]:
    return [None if pd.isna(v) else v for v in s]


def _bundle(reviews: list[tuple[str, str, str]] | None = None, events: bool = False) -> Bundle:
    # the builders' province is not in configs/thresholds.yaml: use the default province's
    # lines (2023 7,200, 2024 8,000 yuan), named (an unknown province is an error)
    b = dataclasses.replace(typed_bundle(), province="inner_mongolia")
    hh = b.tables["households"]
    hh["head_name"] = pd.array(["张一", "李二", "王三", None], dtype="string")
    hh["group_name"] = pd.array(["一组", "二组", None, "三组"], dtype="string")
    if reviews is not None:
        b.tables["reviews"] = pd.DataFrame(
            {
                "household_id": pd.array([r[0] for r in reviews], dtype="string"),
                "reviewed_on": pd.to_datetime([r[1] for r in reviews]).astype("datetime64[ns]"),
                "outcome": pd.Categorical(
                    [r[2] for r in reviews], categories=b.reviews["outcome"].cat.categories
                ),
                "risk_type": pd.Categorical(
                    [None] * len(reviews), categories=b.reviews["risk_type"].cat.categories
                ),
                "note": pd.array([None] * len(reviews), dtype="string"),
            }
        )
    if events:  # HH[3] is hospitalised after its review (2025-03-01)
        ev = b.tables["events"]
        extra = ev.iloc[[0]].copy()
        extra["household_id"] = pd.array([HH[3]], dtype="string")
        extra["member_id"] = pd.array([None], dtype="string")
        extra["event_date"] = pd.Timestamp("2025-04-05")
        extra["recorded_on"] = pd.Timestamp("2025-04-10")
        b.tables["events"] = pd.concat([ev, extra], ignore_index=True)
    return b


def _scores(bundle: Bundle, tiers: list[str] | None = None) -> pd.DataFrame:
    """Four households scored and flagged (HH[0] is under monitoring: not eligible)."""
    hh = bundle.households
    out = empty_scores(len(hh))
    for c in ("household_id", "county_code", "township_code", "village_code", "village_name"):
        out[c] = hh[c].astype("string").to_numpy()
    out["status"] = pd.array(["not_eligible", "scored", "scored", "scored"], dtype="string")
    out["score"] = [np.nan, 0.12, 0.15, 0.3]
    out["tier"] = pd.array([None, *(tiers or ["medium", "medium", "high"])], dtype="string")
    out["flagged"] = pd.array([None, True, True, True], dtype="boolean")
    return out


def test_income_below_threshold_by_hand() -> None:
    """latest verified income year recorded on or before as_of, against that year's line."""
    out = add_followup_columns(_scores(_bundle()), _bundle(), AS_OF)
    # 2024 per-capita net income = (wage + business + property + transfer - costs) / size
    hand = {
        HH[0]: (0 + 14200 + 305 + 4500 - 5100) / 2,  # 6,952.50 < 8,000
        HH[1]: (9100.25 + 2100 + 0 + 650 - 480) / 1,  # 11,370.25
        HH[2]: (0 + 8800 + 118.5 + 7300 - 2900) / 2,  # 6,659.25 < 8,000
        HH[3]: (31000 + 0 + 0 + 0 - 0) / 2,  # 15,500
    }
    assert out["income_year"].tolist() == [2024] * 4
    assert out["pc_income"].tolist() == [hand[h] for h in HH]
    assert out["threshold"].tolist() == [8000.0] * 4
    assert out["income_below_threshold"].tolist() == [True, False, True, False]

    # as of 2025-01-31 HH[0]'s 2024 income (recorded 2025-02-12) is not known yet: 2023 counts
    early = add_followup_columns(_scores(_bundle()), _bundle(), dt.date(2025, 1, 31))
    assert early["income_year"].tolist() == [2023, 2023, 2023, 2024]
    assert early.loc[0, "pc_income"] == (1200.5 + 15000 + 310.2 + 4200 - 5200) / 2  # 7,755.35
    assert early.loc[0, "threshold"] == 7200.0
    assert early["income_below_threshold"].tolist() == [False, True, True, False]

    # before any income was recorded: unknown, not False
    none = add_followup_columns(_scores(_bundle()), _bundle(), dt.date(2024, 1, 1))
    assert none["income_below_threshold"].isna().all() and none["income_year"].isna().all()


def test_village_seq_names_and_last_review() -> None:
    reviews = [
        (HH[0], "2025-05-01", "not_at_risk"),
        (HH[0], "2025-05-01", "identified"),  # same day: identified wins
        (HH[1], "2024-10-01", "not_at_risk"),
        (HH[1], "2025-02-01", "unreachable"),
        (HH[2], "2025-07-15", "identified"),  # after as_of: not known yet
    ]
    b = _bundle(reviews)
    out = add_followup_columns(_scores(b), b, AS_OF)
    # village 150500000011 holds HH[0], HH[1]; the others are alone in their villages
    assert out["village_seq"].tolist() == [1, 2, 1, 1]
    assert _list(out["head_name"]) == ["张一", "李二", "王三", None]
    assert _list(out["group_name"]) == ["一组", "二组", None, "三组"]
    assert _list(out["last_review_outcome"]) == ["identified", "unreachable", None, None]
    assert out["last_review_on"].dt.date.tolist()[:2] == [dt.date(2025, 5, 1), dt.date(2025, 2, 1)]
    assert out["last_review_on"].iloc[2:].isna().all()


def test_village_seq_is_unique_within_every_village(province_bundle: Bundle) -> None:
    """on the shared small province: 1..n per village, in household_id order."""
    from riskml.scoring._partition import household_universe

    uni = household_universe(province_bundle)
    frame = empty_scores(len(uni))
    for c in ("household_id", "county_code", "township_code", "village_code", "village_name"):
        frame[c] = uni[c].to_numpy()
    out = add_followup_columns(frame, province_bundle, dt.date(2025, 6, 30))
    placed = out.loc[out["village_code"].notna()]
    assert placed.groupby("village_code").size().max() > 1
    for _, g in placed.groupby("village_code"):
        assert g.sort_values("household_id")["village_seq"].tolist() == list(range(1, len(g) + 1))


def test_quiet_period_holds_back_and_flags_again() -> None:
    """reviewed not at risk within 6 months: held back unless an adverse event came after."""
    reviews = [
        (HH[1], "2024-10-01", "not_at_risk"),  # 9 months before as_of: quiet period over
        (HH[2], "2025-03-01", "not_at_risk"),  # events and income all before the review
        (HH[3], "2025-03-01", "not_at_risk"),  # hospitalised 2025-04-05, recorded 04-10
    ]
    b = _bundle(reviews, events=True)
    scores = add_followup_columns(_scores(b), b, AS_OF)
    out, counts = apply_quiet_period(scores, b, AS_OF, ReviewConfig())
    assert counts == {"held_back": 1, "flagged_again": 1}
    assert _list(out["flagged"]) == [None, True, False, True]
    assert _list(out["review_hold"]) == [None, None, "held_back", "flagged_again"]
    assert out["tier"].tolist() == scores["tier"].tolist()  # the model's view is kept
    held, again = out["status_detail"].iloc[2], out["status_detail"].iloc[3]
    assert held.startswith("核实后暂缓预警：2025-03-01 核实结论为暂不纳入，2025-09-01 前")
    assert "held back: reviewed as not at risk on 2025-03-01" in held
    assert again.startswith(
        f"核实后再次预警：2025-03-01 核实结论为暂不纳入，此后新录入{EVENT_TYPE_ZH['hospitalization']}（2025-04-05 发生，2025-04-10 录入）"
    )
    assert "recorded since: hospitalization (occurred 2025-04-05, recorded 2025-04-10)" in again
    assert pd.isna(out["status_detail"].iloc[1])
    summary = followup_counts(out, counts)
    assert summary["held_back"] == 1 and summary["last_review_not_at_risk"] == 3
    assert summary["income_below_threshold_not_monitored"] == 1  # HH[2]; HH[0] is monitored
    assert summary["income_below_threshold_not_flagged"] == 1  # HH[2], held back


def test_income_below_the_line_after_the_review_ends_the_quiet_period() -> None:
    """HH[2] reviewed 2025-02-01; its 2024 income (6,659.25 < 8,000) recorded 2025-02-21."""
    b = _bundle([(HH[2], "2025-02-01", "not_at_risk")])
    scores = add_followup_columns(_scores(b), b, AS_OF)
    out, _ = apply_quiet_period(scores, b, AS_OF, ReviewConfig())
    assert out["review_hold"].iloc[2] == "flagged_again" and bool(out["flagged"].iloc[2])
    assert (
        "新录入 2024 年人均纯收入 6,659 元，低于当年监测线 8,000 元" in out["status_detail"].iloc[2]
    )
    off = ReviewConfig(income_below_line_is_adverse=False)
    out2, _ = apply_quiet_period(scores, b, AS_OF, off)
    assert out2["review_hold"].iloc[2] == "held_back"


def test_tier_rise_since_the_previous_run_ends_the_quiet_period() -> None:
    b = _bundle([(HH[2], "2025-03-01", "not_at_risk")])
    scores = add_followup_columns(_scores(b, tiers=["medium", "high", "high"]), b, AS_OF)
    previous = scores[["household_id", "tier"]].copy()
    previous["tier"] = pd.array([None, "medium", "medium", "high"], dtype="string")
    out, _ = apply_quiet_period(scores, b, AS_OF, ReviewConfig(), previous)
    assert out["review_hold"].iloc[2] == "flagged_again"
    assert "风险等级由中升为高" in out["status_detail"].iloc[2]
    same, _ = apply_quiet_period(scores, b, AS_OF, ReviewConfig(), scores)
    assert same["review_hold"].iloc[2] == "held_back"


@pytest.mark.parametrize("months, held", [(0, None), (3, None), (4, "held_back")])
def test_quiet_months_from_config(months: int, held: str | None) -> None:
    """reviewed 2025-03-01, as of 2025-06-30: within 4 months, not within 3; 0 switches it off."""
    b = _bundle([(HH[2], "2025-03-01", "not_at_risk")])
    scores = add_followup_columns(_scores(b), b, AS_OF)
    out, _ = apply_quiet_period(scores, b, AS_OF, ReviewConfig(review_quiet_months=months))
    value = out["review_hold"].iloc[2]
    assert (pd.isna(value) and held is None) or value == held


def test_other_outcomes_are_not_held_back() -> None:
    b = _bundle([(HH[2], "2025-03-01", "unreachable"), (HH[3], "2025-03-01", "identified")])
    scores = add_followup_columns(_scores(b), b, AS_OF)
    out, counts = apply_quiet_period(scores, b, AS_OF, ReviewConfig())
    assert counts == {"held_back": 0, "flagged_again": 0}
    assert _list(out["flagged"]) == [None, True, True, True]


def test_unknown_adverse_event_type_in_config() -> None:
    from riskml.scoring import ScoringError

    b = _bundle([(HH[2], "2025-03-01", "not_at_risk")])
    scores = add_followup_columns(_scores(b), b, AS_OF)
    with pytest.raises(ScoringError, match="hospitalisation"):
        apply_quiet_period(scores, b, AS_OF, ReviewConfig(adverse_event_types=("hospitalisation",)))


def test_event_names_cover_the_contract() -> None:
    from riskml.config.scoring import DEFAULT_ADVERSE_EVENT_TYPES
    from riskml.data._schema import EVENT_TYPES

    assert set(EVENT_TYPE_ZH) == set(EVENT_TYPES)
    assert set(DEFAULT_ADVERSE_EVENT_TYPES) <= set(EVENT_TYPES)


# ---------------------------------------------------------------------------- the loop, end to end


def test_review_loop_on_the_province(
    small_province_dir: Any, risk_model: Any, tmp_path: Path
) -> None:
    """score → fill a registration workbook as cadres would → import twice → score next month
    with --previous: reviewed-not-at-risk households are flagged only with a stated reason."""
    import openpyxl

    from riskml.data import CONCLUSIONS_ZH, REGISTRATION_COLUMNS, import_reviews
    from riskml.scoring import read_scores, score_roster

    folder = tmp_path / "bundle"
    shutil.copytree(small_province_dir, folder)
    first = score_roster(
        folder, SCORING_AS_OF, out=tmp_path / "m1.csv", model=risk_model, quiet=True
    )
    listed = first.scores.loc[first.scores["flagged"].fillna(False)].head(12)
    assert len(listed) == 12
    zh = list(CONCLUSIONS_ZH)
    conclusions = [zh[1]] * 6 + [zh[0]] * 3 + [None] * 3  # 暂不纳入 ×6, 纳入监测对象 ×3, blank ×3
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(list(REGISTRATION_COLUMNS))
    for (_, r), c in zip(listed.iterrows(), conclusions, strict=True):
        fixed = [r["household_id"], r["village_name"], None, "高", int(r["rank_village"]), "", ""]
        cadre = [dt.datetime(2025, 7, 8) if c else None, "核实人", c, "因病" if c else None, None]
        ws.append([*fixed, *cadre])
    wb.save(tmp_path / "登记表.xlsx")
    once = import_reviews([tmp_path / "登记表.xlsx"], folder)
    twice = import_reviews([tmp_path / "登记表.xlsx"], folder)
    assert (once.added, once.no_conclusion, twice.added, twice.already_recorded) == (9, 3, 0, 9)

    second = score_roster(
        folder,
        "2025-07-31",
        out=tmp_path / "m2.csv",
        model=risk_model,
        previous=tmp_path / "m1.csv",
        quiet=True,
    )
    s = second.scores.set_index("household_id")
    reviewed = listed["household_id"].tolist()
    outcome = s.loc[reviewed, "last_review_outcome"]
    assert _list(outcome) == ["not_at_risk"] * 6 + ["identified"] * 3 + [None] * 3
    fine = s.loc[reviewed[:6]]
    # flagged again only with a reason; otherwise held back (or no longer flagged by the model)
    assert set(_list(fine.loc[fine["flagged"].fillna(False), "review_hold"])) <= {"flagged_again"}
    held = fine.loc[fine["review_hold"] == "held_back"]
    assert len(held) >= 1 and not held["flagged"].any()
    assert held["status_detail"].str.contains("2025-07-08 核实结论为暂不纳入").all()
    assert second.summary["followup"]["held_back"] == len(held)
    assert second.summary["followup"]["last_review_not_at_risk"] == 6
    # held-back households that were flagged last month are reported as no longer flagged
    assert set(held["change"]) == {"no_longer_flagged"}
    # the CSV reads back with every new column
    back, _ = read_scores(tmp_path / "m2.csv")
    pd.testing.assert_frame_equal(back, second.scores, check_exact=False, rtol=1e-15)
    assert back["village_seq"].notna().all()
    assert (
        not back.groupby("village_code")["village_seq"].apply(lambda v: v.duplicated().any()).any()
    )


def test_public_mode_keeps_the_village_number_and_drops_names() -> None:
    from riskml.scoring._columns import columns_for_mode
    from riskml.scoring._output import to_public

    b = _bundle([(HH[2], "2025-03-01", "not_at_risk")])
    scores, _ = apply_quiet_period(
        add_followup_columns(_scores(b), b, AS_OF), b, AS_OF, ReviewConfig()
    )
    pub = to_public(scores, visible_chars=4)
    assert "head_name" not in pub.columns and "group_name" not in pub.columns
    assert tuple(pub.columns) == columns_for_mode("public")
    assert pub["village_seq"].tolist() == [1, 2, 1, 1]
    assert pub["status_detail"].iloc[2] == "近期已核实，暂缓预警 / reviewed recently, held back"
    assert "2025-03-01" not in " ".join(pub["status_detail"].dropna())
