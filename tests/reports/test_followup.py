"""The review loop in the unit reports: identifiers people can use, each household's last
review, the follow-up of the previous list, households held back after a review, and the
below-line route."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from riskml.config.reports import load_reports_config
from riskml.data import OUTCOME_ZH
from riskml.reports import render_review_reports
from tests.reports._html import household_cells, read, section, text_of
from tests.reports._scores import make_scores
from tests.reports.conftest import SMALL

T = load_reports_config().text["zh"]
FLAGGED_TIERS = {"high", "medium"}  # the fixture flags medium and high


def _table(page: str, cls: str) -> str:
    m = re.search(rf'<table class="{cls}">(.*?)</table>', page, flags=re.S)
    return m.group(1) if m else ""


def _rows_text(fragment: str) -> list[str]:
    return [
        re.sub(r"\s+", " ", text_of(r)).strip()
        for r in re.findall(r"<tr[^>]*>(.*?)</tr>", fragment, flags=re.S)
    ]


def _shown(rows: pd.DataFrame, mode: str) -> list[str]:
    if mode == "public":
        return [T["village_seq_label"].format(n=int(n)) for n in rows["village_seq"]]
    return rows["household_id"].astype(str).tolist()


def _village_rows(frame: pd.DataFrame, code: str) -> pd.DataFrame:
    return frame[frame["village_code"] == code].sort_values("village_seq")


def _pages(result) -> dict[str, str]:
    return {u["code"]: read(result.out_dir / u["html"]) for u in result.units}


def test_fixture_has_every_follow_up_case(score_frame: pd.DataFrame) -> None:
    """The generated province holds the cases the tests below need."""
    f = score_frame
    prev = f["previous_tier"].isin(FLAGGED_TIERS)
    assert (prev & f["last_review_on"].isna() & f["flagged"]).sum() > 5
    assert (prev & ~f["flagged"].astype(bool) & (f["status"] == "scored")).sum() > 3
    assert (f["review_hold"] == "held_back").sum() > 0
    assert (f["review_hold"] == "flagged_again").sum() > 0
    below = f["income_below_threshold"].fillna(False).astype(bool) & (f["status"] == "scored")
    assert (below & ~f["flagged"].astype(bool)).sum() > 5 and (below & f["flagged"]).sum() > 0


@pytest.mark.parametrize("mode", ["public", "internal"])
def test_identifiers_and_names_by_mode(rendered, score_frame: pd.DataFrame, mode: str) -> None:
    """Meeting mode numbers households 村内编号 N (unique in the village) and never shows a head's
    name or a group (村民小组); internal mode shows the id with its number, group and head."""
    result = rendered("village", "zh", mode)
    heads = set(score_frame["head_name"].dropna())
    groups = set(score_frame["group_name"].dropna())
    assert heads and groups
    for code, page in _pages(result).items():
        flagged = score_frame[
            (score_frame["village_code"] == code) & score_frame["flagged"].astype(bool)
        ].sort_values("rank_village")
        shown = household_cells(section(page, "flagged"))
        assert shown == _shown(flagged, mode)
        assert len(set(shown)) == len(shown)  # usable at a meeting: no two alike
        text = text_of(page)
        if mode == "public":
            assert not any(h in text for h in heads), "a head's name in a meeting-mode page"
            assert not any(g in text for g in groups), "a 村民小组 in a meeting-mode page"
        else:
            for _, h in flagged.iterrows():
                sub = T["village_seq_label"].format(n=int(h["village_seq"]))
                if pd.notna(h["group_name"]):
                    sub += " · " + h["group_name"]
                if pd.notna(h["head_name"]):
                    sub += f" · {T['head_label']} {h['head_name']}"
                assert sub in text


@pytest.mark.parametrize("mode", ["public", "internal"])
def test_each_listed_household_shows_its_last_review(
    rendered, score_frame: pd.DataFrame, mode: str
) -> None:
    """A flagged household with a review on record shows its date and 核实结论 in both modes;
    one flagged again after a review says so (the why only internally)."""
    result = rendered("village", "zh", mode)
    pages = _pages(result)
    again = score_frame[score_frame["review_hold"] == "flagged_again"]
    assert len(again)
    for _, h in again.iterrows():
        page = pages[h["village_code"]]
        rows = _rows_text(section(page, "flagged"))
        (row,) = [
            r
            for r in rows
            if re.search(rf"(^| ){re.escape(_shown(h.to_frame().T, mode)[0])}( |$)", r)
        ]
        date = pd.Timestamp(h["last_review_on"]).strftime("%Y-%m-%d")
        assert f"{T['last_review']}：{date} {OUTCOME_ZH[h['last_review_outcome']]}" in row
        assert T["review_hold"]["flagged_again"] in row
        assert (h["status_detail"] in row) == (mode == "internal")


@pytest.mark.parametrize("mode", ["public", "internal"])
def test_follow_up_lists_unreviewed_previous_flags(
    rendered, score_frame: pd.DataFrame, mode: str
) -> None:
    """Flagged in the previous list (previous tier flagged) and no review on record (the previous
    run's date is unknown) → listed, whether flagged again or not; monitoring objects are not."""
    result = rendered("village", "zh", mode)
    for code, page in _pages(result).items():
        v = _village_rows(score_frame, code)
        want = v[
            v["previous_tier"].isin(FLAGGED_TIERS)
            & v["last_review_on"].isna()
            & (v["status"] != "not_eligible")
        ]
        assert household_cells(_table(page, "unreviewed")) == _shown(want, mode)


def test_reviews_before_the_previous_run_do_not_count(tmp_path: Path) -> None:
    """With the previous run's date known (metadata ``previous_as_of``), a review older than it is
    not a review of the previous list: those households are listed as unreviewed too."""
    frame = make_scores(SMALL)
    as_of = pd.Timestamp(frame["as_of"].iloc[0])
    meta = {"mode": "internal", "as_of": str(as_of.date())}
    before = render_review_reports(frame, tmp_path / "a", mode="internal", metadata=meta)
    after = render_review_reports(
        frame,
        tmp_path / "b",
        mode="internal",
        metadata={**meta, "previous_as_of": str((as_of - pd.Timedelta(days=10)).date())},
    )
    prev = frame["previous_tier"].isin(FLAGGED_TIERS) & (frame["status"] != "not_eligible")
    n_unknown = n_known = 0
    for a, b in zip(before.units, after.units, strict=True):
        n_unknown += len(household_cells(_table(read(before.out_dir / a["html"]), "unreviewed")))
        page = read(after.out_dir / b["html"])
        n_known += len(household_cells(_table(page, "unreviewed")))
    assert n_unknown == int((prev & frame["last_review_on"].isna()).sum())
    assert n_known == int(prev.sum()) > n_unknown  # reviews 40 days old predate the previous run
    assert T["previous_run_on"].format(date=str((as_of - pd.Timedelta(days=10)).date())) in page


@pytest.mark.parametrize("mode", ["public", "internal"])
def test_households_that_left_the_list_are_explained(
    rendered, score_frame: pd.DataFrame, mode: str
) -> None:
    """Each household flagged last time and not now says why: now a monitoring object, not
    assessed, held back after its review, or its risk fell (上次 X，本次 Y) — not a bare 上次: 中."""
    result = rendered("village", "zh", mode)
    left_t = T["left"]
    seen = set()
    for code, page in _pages(result).items():
        v = _village_rows(score_frame, code)
        left = v[
            (v["previous_tier"].isin(FLAGGED_TIERS) | (v["change"] == "no_longer_flagged"))
            & ~v["flagged"].astype(bool)
        ]
        fragment = _table(page, "no-longer")
        assert household_cells(fragment) == _shown(left, mode)
        for (_, h), row in zip(left.iterrows(), _rows_text(fragment)[1:], strict=True):
            if h["status"] == "not_eligible":
                why = "monitored"
                assert left_t["monitored"] in row
            elif h["status"] == "rejected":
                why = "rejected"
                assert left_t["rejected"] in row
            elif str(h["review_hold"]) == "held_back":
                why = "held_back"
                assert left_t["held_back"] in row
                date = pd.Timestamp(h["last_review_on"]).strftime("%Y-%m-%d")
                assert date in row
            elif pd.notna(h["last_review_on"]):  # reviewed (any review counts here)
                why = "reviewed"
                assert left_t["reviewed"] in row
            else:
                why = "risk_fell"
                tiers = T["tiers"]
                assert (
                    left_t["risk_fell"].format(
                        previous=tiers[h["previous_tier"]], now=tiers[h["tier"]]
                    )
                    in row
                )
            seen.add(why)
    assert {"held_back", "risk_fell"} <= seen


@pytest.mark.parametrize("mode", ["public", "internal"])
def test_held_back_households_listed_internally_only(
    rendered, score_frame: pd.DataFrame, mode: str
) -> None:
    result = rendered("village", "zh", mode)
    held_total = 0
    for code, page in _pages(result).items():
        v = _village_rows(score_frame, code)
        held = v[v["review_hold"] == "held_back"]
        fragment = _table(page, "held-back")
        if mode == "public":
            assert fragment == "" and 'id="held-back"' not in page
            continue
        assert household_cells(fragment) == _shown(held, mode)
        for (_, h), row in zip(held.iterrows(), _rows_text(fragment)[1:], strict=True):
            assert pd.Timestamp(h["last_review_on"]).strftime("%Y-%m-%d") in row
        held_total += len(held)
    assert mode == "public" or held_total == (score_frame["review_hold"] == "held_back").sum()


@pytest.mark.parametrize("mode", ["public", "internal"])
def test_below_line_route(rendered, score_frame: pd.DataFrame, mode: str) -> None:
    """Scored households whose latest income is below the line are listed whatever their score;
    internally with the amounts (hand-formatted here), publicly with the year only."""
    result = rendered("village", "zh", mode)
    n = 0
    for code, page in _pages(result).items():
        v = _village_rows(score_frame, code)
        want = v[v["income_below_threshold"].fillna(False).astype(bool) & (v["status"] == "scored")]
        fragment = section(page, "below-line")
        assert household_cells(fragment) == _shown(want, mode)
        for (_, h), row in zip(want.iterrows(), _rows_text(fragment)[1:], strict=True):
            year = int(h["income_year"])
            income = f"{round(float(h['pc_income'])):,}"
            line = f"{round(float(h['threshold'])):,}"
            if mode == "internal":
                assert f"{year} 年人均纯收入 {income} 元，低于当年监测线 {line} 元" in row
            else:
                assert f"{year} 年人均纯收入低于当年监测线" in row and "元" not in row
            assert ("本次提示" in row) == bool(h["flagged"])
        n += len(want)
    assert n > 10


def test_public_guard_refuses_names(score_frame: pd.DataFrame) -> None:
    """The last line of defence knows heads' names and groups: a public page that would show
    one is refused (the templates never print them in meeting mode)."""
    from riskml.reports import ReportPrivacyError, ScoreFile
    from riskml.reports._render import check_public_html
    from riskml.reports._units import sensitive_texts

    sf = ScoreFile(frame=score_frame, mode="internal")
    guarded = sensitive_texts(sf, score_frame)
    head = score_frame["head_name"].dropna().iloc[0]
    group = score_frame["group_name"].dropna().iloc[0]
    assert head in guarded and group in guarded
    for name in (head, group):
        with pytest.raises(ReportPrivacyError, match="head's name"):
            check_public_html(f"<p>{name}</p>", where="test", sensitive_texts=guarded)
    check_public_html("<p>村内编号 3</p>", where="test", sensitive_texts=guarded)


def test_reviewed_household_that_left_says_reviewed_and_risk_fell(tmp_path: Path) -> None:
    """Reviewed since the previous list (identified, not yet a monitoring object in the data)
    and its tier fell → 已入户核实 with the review and 风险下降: both reasons, not 上次: 中."""
    frame = make_scores(SMALL)
    left = (
        frame["previous_tier"].isin(FLAGGED_TIERS)
        & ~frame["flagged"].astype(bool)
        & (frame["status"] == "scored")
        & frame["review_hold"].isna()
    )
    i = frame.index[left][0]
    frame.loc[i, "last_review_on"] = pd.Timestamp(frame.loc[i, "as_of"]) - pd.Timedelta(days=5)
    frame.loc[i, "last_review_outcome"] = "identified"
    result = render_review_reports(
        frame,
        tmp_path / "r",
        mode="public",
        metadata={"mode": "internal", "as_of": str(pd.Timestamp(frame.loc[i, "as_of"]).date())},
    )
    unit = next(u for u in result.units if u["code"] == frame.loc[i, "village_code"])
    rows = _rows_text(_table(read(result.out_dir / unit["html"]), "no-longer"))
    seq = T["village_seq_label"].format(n=int(frame.loc[i, "village_seq"]))
    (row,) = [r for r in rows if re.search(rf"(^| ){re.escape(seq)}( |$)", r)]
    assert T["left"]["reviewed"] in row and OUTCOME_ZH["identified"] in row
    tiers = T["tiers"]
    fell = T["left"]["risk_fell"].format(
        previous=tiers[frame.loc[i, "previous_tier"]], now=tiers[frame.loc[i, "tier"]]
    )
    assert fell in row
