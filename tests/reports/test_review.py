"""Review-meeting reports: content, privacy, every level/language/mode, awkward unit names."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from riskml.config.explain import load_explain_config
from riskml.config.reports import load_reports_config
from riskml.reports import (
    ReportInputError,
    ReportPrivacyError,
    render_review_reports,
)
from riskml.reports._output import MANIFEST_NAME
from riskml.scoring import write_scores as scoring_write_scores
from riskml.scoring._columns import MAX_REASONS, reason_column
from tests.reports._html import ID_18, household_cells, ranks, read, section, text_of
from tests.reports._scores import (
    EMPTY_VILLAGE,
    SENSITIVE_TEXTS,
    SINGLE_COUNTY,
    TRAVERSAL_VILLAGES,
    sensitive_measures,
    write_scores,
)

UNIT_COL = {"village": "village_code", "township": "township_code", "county": "county_code"}
RANK_COL = {"village": "rank_village", "township": "rank_township", "county": None}


def _unit_pages(result) -> dict[str, str]:
    return {u["code"]: read(result.out_dir / u["html"]) for u in result.units}


def _expected_flagged(frame: pd.DataFrame, level: str, code: str) -> pd.DataFrame:
    rows = frame[(frame[UNIT_COL[level]] == code) & frame["flagged"].fillna(False)]
    rank = RANK_COL[level]
    if rank is None:
        return rows.sort_values("score", ascending=False, kind="mergesort")
    return rows.sort_values([rank], kind="mergesort")


@pytest.mark.parametrize("level", ["village", "township", "county"])
@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("mode", ["public", "internal"])
def test_report_content(
    rendered, score_frame: pd.DataFrame, level: str, lang: str, mode: str
) -> None:
    result = rendered(level, lang, mode)
    t = load_reports_config().text[lang]
    frame = score_frame
    units = frame[UNIT_COL[level]].unique()
    assert {u["code"] for u in result.units} == set(units)
    assert sum(u["counts"]["total"] for u in result.units) == len(frame)  # every household placed

    index = read(result.index)
    assert f'<html lang="{"zh-CN" if lang == "zh" else "en"}">' in index
    for u in result.units:
        assert (result.out_dir / u["html"]).is_file()
        assert f"<td>{u['code']}</td>" in index
    pages = _unit_pages(result)
    all_text = "\n".join(pages.values()) + index

    for code, page in pages.items():
        expected = _expected_flagged(frame, level, code)
        flagged_html = section(page, "flagged")
        shown = household_cells(flagged_html)
        ids = expected["household_id"].astype(str)
        # meeting mode: the village-local number (the masked id is not unique); internal: the id
        seq_label = t["village_seq_label"]
        want = (
            [seq_label.format(n=int(n)) for n in expected["village_seq"]]
            if mode == "public"
            else ids.tolist()
        )
        assert shown == want, f"{level} {code}: flagged households missing or out of rank order"
        if RANK_COL[level]:
            assert ranks(flagged_html) == expected[RANK_COL[level]].astype(int).tolist()
        else:
            assert ranks(flagged_html) == list(range(1, len(expected) + 1))
        # reasons in plain language: each flagged household's first reason text is on the page
        field = lang if mode == "internal" else f"public_{lang}"
        page_text = text_of(page)
        for text in expected[reason_column(1, field)].dropna().unique():
            assert text in page_text
        assert f'id="n-flagged">{len(expected)}<' in page
        if len(expected) == 0:
            assert t["no_flagged"] in page_text

    if mode == "public":
        assert ID_18.search(all_text) is None, "an 18-digit id is shown in a public report"
        for text in SENSITIVE_TEXTS:
            assert text not in all_text, f"internal text {text!r} shown in a public report"
        for measure in sensitive_measures(lang):  # e.g. 医疗救助 would reveal illness
            assert measure not in all_text, f"measure {measure!r} reveals a sensitive risk type"
        for page in [*pages.values(), index]:
            assert t["disclaimer_short"] in page and 'id="disclaimer"' in page
            assert t["how_to_read_title"] in page
        assert "contributions" not in "".join(f.name for f in result.files)
    else:
        # the internal version does show the full ids and the internal texts (so the public
        # checks above could fail) and a per-household contribution chart per unit with flags
        assert ID_18.search(all_text) is not None
        assert any(text in all_text for text in SENSITIVE_TEXTS)
        assert any(m in all_text for m in sensitive_measures(lang))
        flagged_units = [u for u in result.units if u["counts"]["flagged"]]
        charts = {f.name for f in (result.out_dir / "charts").iterdir()}
        for u in flagged_units:
            page = read(result.out_dir / u["html"])
            assert 'id="contributions"' in page
            stem = Path(u["html"]).stem
            assert f"{stem}.contributions.svg" in charts
            assert f"{stem}.reasons.svg" in charts


def test_reasons_counted_by_official_type_internally_and_by_public_wording_publicly(
    rendered, score_frame: pd.DataFrame
) -> None:
    labels = {code: w.zh for code, w in load_explain_config().risk_types.items()}
    internal = read(
        rendered("village", "zh", "internal").out_dir
        / rendered("village", "zh", "internal").units[0]["html"]
    )
    public = read(
        rendered("village", "zh", "public").out_dir
        / rendered("village", "zh", "public").units[0]["html"]
    )
    code = rendered("village", "zh", "internal").units[0]["code"]
    rows = score_frame[(score_frame["village_code"] == code) & score_frame["flagged"]]
    types = set()
    for k in range(1, MAX_REASONS + 1):
        types |= set(rows[reason_column(k, "type")].dropna())
    assert types, "the first test village should have flagged households"
    internal_types = section(internal, "reasons-by-type")
    public_types = section(public, "reasons-by-type")
    for code_ in types:
        assert labels[code_] in internal_types
    assert labels["illness"] not in public_types  # 因病 is health data: public wording only
    assert rows[reason_column(1, "public_zh")].iloc[0] in public_types


def test_empty_village_and_single_household_county(rendered) -> None:
    village = rendered("village", "zh", "public")
    empty = [u for u in village.units if u["name"] == EMPTY_VILLAGE]
    assert len(empty) == 1 and empty[0]["counts"]["flagged"] == 0
    page = read(village.out_dir / empty[0]["html"])
    assert 'id="no-flagged"' in page and "本次评估中本单位没有提示户" in page
    county = rendered("county", "en", "internal")
    single = [u for u in county.units if u["code"] == SINGLE_COUNTY]
    assert (
        len(single) == 1
        and single[0]["counts"]["total"] == 1
        and single[0]["counts"]["flagged"] == 1
    )
    assert len(household_cells(section(read(county.out_dir / single[0]["html"]), "flagged"))) == 1


def test_unit_names_from_data_cannot_escape_the_folder(rendered, tmp_path: Path) -> None:
    result = rendered("village", "en", "internal")
    root = result.out_dir.resolve()
    for f in result.out_dir.rglob("*"):
        assert f.resolve().is_relative_to(root)
        assert ".." not in f.relative_to(result.out_dir).parts
    names = {u["name"]: u for u in result.units}
    for bad in TRAVERSAL_VILLAGES:
        unit = names[bad]
        file_name = Path(unit["html"]).name
        assert "/" not in file_name and ".." not in file_name and file_name.startswith(unit["code"])
        # the real name is shown on the page, escaped
        assert bad in text_of(read(result.out_dir / unit["html"]))
    # nothing beside the report folder but the other reports of the session
    assert not any(p.name.startswith(".") for p in result.out_dir.parent.iterdir())


def test_markup_in_names_is_escaped(score_frame: pd.DataFrame, tmp_path: Path) -> None:
    frame = score_frame.copy()
    first = frame["village_code"] == frame["village_code"].iloc[0]
    frame.loc[first, "village_name"] = '<script>alert("x")</script>'
    path = write_scores(tmp_path / "s.parquet", frame)
    result = render_review_reports(
        path, tmp_path / "out", level="village", lang="zh", mode="public"
    )
    unit = next(u for u in result.units if u["code"] == frame["village_code"].iloc[0])
    page = read(result.out_dir / unit["html"])
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "<script>" not in read(result.index)


def test_public_report_from_a_public_score_file(
    rendered, public_scores: Path, tmp_path: Path
) -> None:
    result = render_review_reports(
        public_scores, tmp_path / "pub", level="village", lang="zh", mode="public"
    )
    from_internal = rendered("village", "zh", "public")
    assert [u["counts"] for u in result.units] == [u["counts"] for u in from_internal.units]
    for mine, theirs in zip(result.units, from_internal.units, strict=True):
        a = household_cells(section(read(result.out_dir / mine["html"]), "flagged"))
        b = household_cells(section(read(from_internal.out_dir / theirs["html"]), "flagged"))
        assert a == b
    text = "\n".join(read(f) for f in result.out_dir.rglob("*.html"))
    assert ID_18.search(text) is None
    assert not any(s in text for s in SENSITIVE_TEXTS)


def test_internal_report_from_a_public_file_is_refused(public_scores: Path, tmp_path: Path) -> None:
    with pytest.raises(ReportInputError, match="internal report needs an internal score file"):
        render_review_reports(public_scores, tmp_path / "x", mode="internal")
    assert not (tmp_path / "x").exists()


def test_csv_score_file_with_chinese_headers(score_frame: pd.DataFrame, tmp_path: Path) -> None:
    path = tmp_path / "scores.csv"
    scoring_write_scores(score_frame, path, metadata={"mode": "internal", "as_of": "2025-06-30"})
    assert (
        path.read_bytes()[:3] == b"\xef\xbb\xbf"
        and "户编号" in path.read_text(encoding="utf-8-sig")[:50]
    )
    result = render_review_reports(
        path, tmp_path / "out", level="township", lang="en", mode="internal"
    )
    assert sum(u["counts"]["flagged"] for u in result.units) == int(score_frame["flagged"].sum())


def test_manifest_and_index_account_for_every_household(
    rendered, score_frame: pd.DataFrame
) -> None:
    result = rendered("township", "zh", "public")
    manifest = json.loads((result.out_dir / MANIFEST_NAME).read_text(encoding="utf-8"))
    assert manifest["households"] == len(score_frame)
    assert sum(u["counts"]["total"] for u in manifest["units"]) == len(score_frame)
    assert sum(u["counts"]["flagged"] for u in manifest["units"]) == int(
        score_frame["flagged"].sum()
    )
    index = read(result.index)
    footer = index[index.index("<tfoot>") : index.index("</tfoot>")]
    assert f'<td class="num">{len(score_frame)}</td>' in footer
    assert f'<td class="num">{int(score_frame["flagged"].sum())}</td>' in footer


def test_privacy_guard_stops_an_id_in_public_wording(
    score_frame: pd.DataFrame, tmp_path: Path
) -> None:
    frame = score_frame.copy()
    victim = frame.index[frame["flagged"]][0]
    frame.loc[victim, reason_column(1, "public_zh")] = (
        "联系户主 " + frame.loc[victim, "household_id"]
    )
    path = write_scores(tmp_path / "s.parquet", frame)
    with pytest.raises(ReportPrivacyError, match="ID-like number"):
        render_review_reports(path, tmp_path / "out", mode="public", lang="zh")
    assert not (tmp_path / "out").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]  # staging removed


def test_bad_options_are_clear_errors(internal_scores: Path, tmp_path: Path) -> None:
    with pytest.raises(ReportInputError, match="--level must be one of"):
        render_review_reports(internal_scores, tmp_path / "a", level="province")
    with pytest.raises(ReportInputError, match="--format"):
        render_review_reports(internal_scores, tmp_path / "a", formats="docx")
    with pytest.raises(ReportInputError, match="does not exist"):
        render_review_reports(tmp_path / "missing.parquet", tmp_path / "a")


def test_privacy_guard_stops_a_public_file_with_internal_measures(
    score_frame: pd.DataFrame, tmp_path: Path
) -> None:
    """A public score file that kept the internal measures (医疗救助 reveals illness) is refused."""
    from riskml.scoring import to_public

    path = tmp_path / "leaky.parquet"
    leaky = to_public(score_frame, visible_chars=4)
    # a public file whose "public" measures are the internal ones (a broken exporter)
    leaky["public_measures_zh"] = score_frame["measures_zh"].to_numpy()
    scoring_write_scores(leaky, path, metadata={"mode": "public"})
    with pytest.raises(ReportPrivacyError, match="internal reason text or measure"):
        render_review_reports(path, tmp_path / "out", mode="public", lang="zh")
    assert not (tmp_path / "out").exists()
