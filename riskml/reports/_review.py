"""Review-meeting reports (民主评议): one report per village, township or county, plus an index.

Built from the score file only (never from a model). Counts and groupings are computed once for
the whole roster with pandas; each unit's page then gets its slice.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np
import pandas as pd

from riskml import __version__
from riskml.config.reports import LANGS, LEVELS, MODES, ReportsConfig, load_reports_config
from riskml.reports._fonts import CJKFont, find_cjk_font
from riskml.reports._labels import (
    measures_separator,
    public_measures,
    risk_type_labels,
    sensitive_measures,
)
from riskml.reports._output import OutputFolder, safe_filename, unique_stems
from riskml.reports._render import (
    STATIC_CSS,
    PdfWriter,
    check_public_html,
    jinja_env,
    now_text,
    pdf_workers,
    write_pdfs,
)
from riskml.reports._scorefile import (
    TIERS,
    ReportInputError,
    ScoreFile,
    check_scores,
    load_score_file,
)

__all__ = ["ReviewReportResult", "render_review_reports"]

_UNIT_COLUMN = {"village": "village_code", "township": "township_code", "county": "county_code"}
_SUB_LEVEL = {"township": "village", "county": "township"}
_HTML_LANG = {"zh": "zh-CN", "en": "en"}


@dataclass
class ReviewReportResult:
    """What :func:`render_review_reports` wrote.

    Attributes
    ----------
    out_dir
        The report folder.
    index
        Its ``index.html``.
    units
        Per unit: ``code``, ``name``, ``html``, ``pdf`` (relative paths), counts, and the
        seconds spent on its charts, HTML and PDF.
    seconds
        Wall-clock totals: ``read``, ``prepare``, ``charts``, ``html``, ``pdf``, ``total``.
    """

    out_dir: Path
    index: Path
    level: str
    lang: str
    mode: str
    formats: tuple[str, ...]
    units: list[dict[str, Any]] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def files(self) -> list[Path]:
        return sorted(p for p in self.out_dir.rglob("*") if p.is_file())


def _choice(value: str | None, default: str, allowed: Sequence[str], option: str) -> str:
    v = (value or default).strip().lower()
    if v not in allowed:
        raise ReportInputError(f"{option} must be one of {list(allowed)}, got {value!r}.")
    return v


def _formats(value: str | Sequence[str] | None, default: Sequence[str]) -> tuple[str, ...]:
    if value is None:
        items = list(default)
    elif isinstance(value, str):
        items = [p.strip().lower() for p in value.split(",") if p.strip()]
    else:
        items = [str(p).strip().lower() for p in value]
    bad = [p for p in items if p not in ("html", "pdf")]
    if bad or not items:
        raise ReportInputError(
            f"--format must be a comma-separated list of html and pdf, got {value!r}."
        )
    return tuple(dict.fromkeys(["html", *items]))  # PDFs are rendered from the HTML


def _pct(score: pd.Series) -> pd.Series:
    pct = (score * 100).round(0)
    text = pct.map(lambda v: f"{v:.0f}%", na_action="ignore")
    return text.where(~((score < 0.01) & (score > 0)), "<1%").astype(object)


@dataclass
class _Prepared:
    by_type: bool  # reasons counted by official risk type (internal) or by public wording
    units: pd.DataFrame  # one row per unit: code, name, counts, stem
    flagged: dict[str, pd.DataFrame]
    no_longer: dict[str, pd.DataFrame]
    rejected: dict[str, pd.DataFrame]
    reasons: dict[str, list[dict[str, Any]]]  # unit -> reasons of flagged households, long
    reasons_by_type: dict[str, pd.DataFrame]
    subunits: dict[str, pd.DataFrame]


def _counts(df: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    status = df["status"].astype("string")
    flagged = df["flagged"].fillna(False).astype(bool)
    tier = df["tier"].astype("string")
    change = df["change"].astype("string")
    parts = pd.DataFrame(
        {
            "total": 1,
            "scored": (status == "scored").to_numpy(),
            "not_eligible": (status == "not_eligible").to_numpy(),
            "rejected": (status == "rejected").to_numpy(),
            "flagged": flagged.to_numpy(),
            "new_flags": (
                flagged & change.isin(["new_flag", "new_household"]).fillna(False)
            ).to_numpy(),
            "no_longer": (change == "no_longer_flagged").fillna(False).to_numpy(),
            **{code: (flagged & (tier == code).fillna(False)).to_numpy() for code in TIERS},
        },
        index=df.index,
    )
    for k in keys:
        parts[k] = df[k].astype("string").to_numpy()
    return parts.groupby(keys, sort=True).sum().astype(int).reset_index()


def _prepare(sf: ScoreFile, level: str, lang: str, mode: str, config: ReportsConfig) -> _Prepared:
    from riskml.scoring._columns import MAX_REASONS, reason_column

    t = config.text[lang]  # type: ignore[index]
    df = sf.frame
    unit_col = _UNIT_COLUMN[level]
    df = df.assign(_unit=df[unit_col].astype("string"))
    village_name = df["village_name"].astype("string").fillna(df["village_code"].astype("string"))
    df["_village"] = village_name

    units = _counts(df, ["_unit"])
    if level == "village":
        names = df.groupby("_unit", sort=True)["_village"].first()
        units["name"] = units["_unit"].map(names).fillna(units["_unit"]).astype(str)
    else:
        units["name"] = units["_unit"].astype(str)
    stems = [
        safe_filename(code, fallback="unit") + ("" if name == code else "_" + safe_filename(name))
        for code, name in zip(units["_unit"], units["name"], strict=True)
    ]
    units["stem"] = unique_stems(stems)

    # household id as shown: masked in public mode (a public file is masked already)
    ids = df["household_id"].astype("string")
    if mode == "public" and sf.mode == "internal":
        visible = config.masked_id_visible_chars
        ids = ("******" + (ids.str[-visible:] if visible else "")).astype("string")
    df["_id"] = ids
    tiers_t: dict[str, str] = t["tiers"]  # type: ignore[assignment]
    changes_t: dict[str, str] = t["changes"]  # type: ignore[assignment]
    previous_word = str(t["previous"])
    df["_score"] = _pct(df["score"])
    change = df["change"].astype("string").fillna("na")
    df["_change"] = change
    df["_change_label"] = change.map(changes_t).fillna(change)
    prev_tier = df["previous_tier"].astype("string").map(tiers_t)
    prev_text = (previous_word + ": " + prev_tier.fillna("—")).astype("string")
    show_score = mode == "internal" or config.public_show_score
    if show_score:
        prev_text = prev_text.where(
            df["previous_score"].isna(),
            prev_text + ", " + _pct(df["previous_score"]).astype("string"),
        )
    df["_change_detail"] = prev_text.where(change != "new_household", "").fillna("")

    flagged_mask = df["flagged"].fillna(False).astype(bool)
    sort_rank = {"village": "rank_village", "township": "rank_township", "county": None}[level]
    fl = df[flagged_mask].copy()
    if sort_rank is not None:
        fl["_rank"] = fl[sort_rank].astype("Float64")
        fl = fl.sort_values(
            ["_unit", "_rank", "score"],
            ascending=[True, True, False],
            na_position="last",
            kind="mergesort",
        )
        missing_rank = fl["_rank"].isna()
        fl["_rank"] = fl["_rank"].astype(object).where(~missing_rank, None)
        if missing_rank.any():  # rank absent: position within the unit
            pos = fl.groupby("_unit").cumcount() + 1
            fl.loc[missing_rank, "_rank"] = pos[missing_rank]
    else:
        fl = fl.sort_values(["_unit", "score"], ascending=[True, False], kind="mergesort")
        fl["_rank"] = fl.groupby("_unit").cumcount() + 1
    fl["_rank"] = fl["_rank"].map(lambda v: int(v))

    # reasons, long: one row per (flagged household, reason)
    type_labels = risk_type_labels(lang)
    colors = config.chart.risk_type_colors
    text_field = lang if mode == "internal" else f"public_{lang}"

    def measures_k(k: int) -> Any:
        """Measures of reason k: in a public report from an internal file, the public measures of
        the reason's risk type (the internal ones can reveal a sensitive type)."""
        if mode == "public" and sf.mode == "internal":
            types = fl[reason_column(k, "type")].astype("string")
            return types.map(public_measures(lang)).astype("string").to_numpy()
        return fl[reason_column(k, f"measures_{lang}")].astype("string").to_numpy()

    long_parts = []
    for k in range(1, MAX_REASONS + 1):
        part = pd.DataFrame(
            {
                "_row": fl.index.to_numpy(),
                "_unit": fl["_unit"].to_numpy(),
                "k": k,
                "type": fl[reason_column(k, "type")].astype("string").to_numpy()
                if sf.has_risk_types
                else pd.NA,
                "contribution": fl[reason_column(k, "contribution")].to_numpy(dtype=float),
                "text": fl[reason_column(k, text_field)].astype("string").to_numpy(),
                "measures": measures_k(k),
            }
        )
        long_parts.append(part)
    long = pd.concat(long_parts, ignore_index=True) if long_parts else pd.DataFrame()
    if len(long):
        long = long[long["text"].notna() | long["type"].notna()]
        long["type"] = long["type"].astype("string")
        long["type_label"] = long["type"].map(type_labels).fillna(long["type"]).astype(object)
        long["color"] = long["type"].map(colors).fillna(config.chart.other_color).astype(object)
        long["text"] = long["text"].fillna(long["type_label"]).astype(object)
        unit_max = long.groupby("_unit")["contribution"].transform("max")
        long["bar_pct"] = (
            (100 * long["contribution"].clip(lower=0) / unit_max.where(unit_max > 0))
            .round(1)
            .fillna(0.0)
        )
        long = long.sort_values(["_row", "k"], kind="mergesort")

    # Reasons among flagged households: internal reports count official risk types; public ones
    # count the public wording, which explain keeps free of sensitive types (因病 and 因残 are
    # health data: their public wording must not reveal them, so neither may a public chart).
    by_type = mode == "internal" and sf.has_risk_types
    if len(long):
        key = "type_label" if by_type else "text"
        rbt = (
            long.drop_duplicates(["_row", key])
            .groupby(["_unit", key], sort=False)
            .agg(households=("_row", "size"), color=("color", "first"), type=("type", "first"))
            .reset_index()
            .rename(columns={key: "label"})
            .sort_values(
                ["_unit", "households", "label"], ascending=[True, False, True], kind="mergesort"
            )
        )
        if not by_type:
            rbt["color"] = "#2f6f9f"
        reasons_by_type = {u: g for u, g in rbt.groupby("_unit", sort=False)}
        reasons = {u: g.to_dict("records") for u, g in long.groupby("_unit", sort=False)}
    else:
        reasons_by_type, reasons = {}, {}

    nl = df[(df["_change"] == "no_longer_flagged") & ~flagged_mask]
    rejected = df[df["status"].astype("string") == "rejected"]
    subunits: dict[str, pd.DataFrame] = {}
    if level in _SUB_LEVEL:
        sub_col = _UNIT_COLUMN[_SUB_LEVEL[level]]
        sub = _counts(df, ["_unit", sub_col])
        if _SUB_LEVEL[level] == "village":
            vnames = df.groupby(sub_col, sort=True)["_village"].first()
            sub["name"] = sub[sub_col].map(vnames).fillna(sub[sub_col]).astype(str)
        else:
            sub["name"] = sub[sub_col].astype(str)
        sub["code"] = sub[sub_col]
        subunits = {u: g for u, g in sub.groupby("_unit", sort=False)}
    return _Prepared(
        by_type=by_type,
        units=units,
        flagged={u: g for u, g in fl.groupby("_unit", sort=False)},
        no_longer={u: g for u, g in nl.groupby("_unit", sort=False)},
        rejected={u: g for u, g in rejected.groupby("_unit", sort=False)},
        reasons=reasons,
        reasons_by_type=reasons_by_type,
        subunits=subunits,
    )


def _household_records(
    fl: pd.DataFrame, reasons: list[dict[str, Any]], separator: str
) -> list[dict[str, Any]]:
    if fl.empty:
        return []
    by_row: dict[Any, list[dict[str, Any]]] = {}
    for r in reasons:
        by_row.setdefault(r["_row"], []).append(
            {
                "type": None if pd.isna(r["type"]) else r["type"],
                "type_label": None if pd.isna(r["type"]) else r["type_label"],
                "text": r["text"],
                "contribution": None if pd.isna(r["contribution"]) else float(r["contribution"]),
                "bar_pct": r["bar_pct"],
                "color": r["color"],
                "measure": None if pd.isna(r["measures"]) else r["measures"],
            }
        )
    out = []
    cols = [
        "_rank",
        "_id",
        "_village",
        "tier",
        "_score",
        "_change",
        "_change_label",
        "_change_detail",
    ]
    for row, (rank, hid, village, tier, score, change, change_label, detail) in zip(
        fl.index, fl[cols].itertuples(index=False, name=None), strict=True
    ):
        rs = by_row.get(row, [])
        out.append(
            {
                "rank": rank,
                "id": hid,
                "village": village,
                "tier": None if pd.isna(tier) else tier,
                "score": ""
                if score is None or (isinstance(score, float) and np.isnan(score))
                else score,
                "change": change,
                "change_label": change_label,
                "change_detail": detail,
                "reasons": rs,
                "measures": list(
                    dict.fromkeys(
                        m.strip()
                        for r in rs
                        if r["measure"]
                        for m in r["measure"].split(separator)
                        if m.strip()
                    )
                ),
            }
        )
    return out


def _sensitive_texts(sf: ScoreFile, rows: pd.DataFrame) -> list[str]:
    """Internal reason texts of ``rows`` that are not also public wording or measures."""
    if sf.mode != "internal" or rows.empty:
        return []
    from riskml.scoring._columns import MAX_REASONS, reason_column

    internal: set[str] = set()
    public: set[str] = set()
    for k in range(1, MAX_REASONS + 1):
        for f in ("zh", "en"):
            internal.update(rows[reason_column(k, f)].dropna().astype(str).unique().tolist())
        for f in ("public_zh", "public_en", "measures_zh", "measures_en"):
            public.update(rows[reason_column(k, f)].dropna().astype(str).unique().tolist())
    return sorted(internal - public)


def render_review_reports(
    scores: str | Path | ScoreFile | pd.DataFrame,
    out_dir: str | Path,
    *,
    level: str | None = None,
    lang: str | None = None,
    mode: str | None = None,
    formats: str | Sequence[str] | None = None,
    config: ReportsConfig | None = None,
    font_list: Sequence[Any] | None = None,
    metadata: dict[str, Any] | None = None,
    workers: int | None = None,
) -> ReviewReportResult:
    """Write one review report per unit (village, township or county) and an index page.

    Parameters
    ----------
    scores
        A score file written by ``riskml score`` (path), an already read :class:`ScoreFile`,
        or a score frame (then ``metadata`` describes it).
    out_dir
        The report folder; created, or replaced if it holds an earlier riskml report. Written
        through a hidden staging folder beside it and renamed into place at the end.
    level, lang, mode, formats
        ``village|township|county``, ``zh|en``, ``public|internal``, and ``html`` and/or
        ``pdf`` (a list or ``"html,pdf"``); defaults from ``configs/reports.yaml``. An
        ``internal`` report needs an internal score file.
    config
        Report settings; ``configs/reports.yaml`` when ``None``.
    font_list
        Font entries to search for a CJK font (tests pass ``[]``); matplotlib's when ``None``.
    metadata
        The run's metadata when ``scores`` is a frame.
    workers
        Processes rendering PDFs (WeasyPrint is single-threaded); ``None``: one per core, at
        most 4. Small runs stay in this process.

    Returns
    -------
    ReviewReportResult

    Raises
    ------
    CJKFontNotFoundError
        No CJK font is installed (checked before anything is written).
    ReportInputError
        Bad options or a score file that cannot give the requested report.
    ReportPrivacyError
        A public page would show an id or internal text (a bug guard; nothing is written).

    Examples
    --------
    >>> render_review_reports("scores.parquet", "reports/", level="village", lang="zh",
    ...                       mode="public", formats="html,pdf")  # doctest: +SKIP
    """
    started = time.perf_counter()
    config = config or load_reports_config()
    level = _choice(level, config.defaults.level, LEVELS, "--level")
    lang = _choice(lang, config.defaults.lang, LANGS, "--lang")
    mode = _choice(mode, config.defaults.mode, MODES, "--mode")
    fmts = _formats(formats, config.defaults.formats)
    font = find_cjk_font(font_list, config.cjk_fonts)
    folder = OutputFolder(out_dir)
    folder.check()
    pdf = PdfWriter() if "pdf" in fmts else None
    try:
        n_workers = pdf_workers(workers)
    except ValueError as exc:
        raise ReportInputError(str(exc)) from None

    if isinstance(scores, ScoreFile):
        sf = scores
    elif isinstance(scores, pd.DataFrame):
        sf = check_scores(scores, metadata)
    else:
        sf = load_score_file(scores)
    if mode == "internal" and sf.mode != "internal":
        raise ReportInputError(
            f"An internal report needs an internal score file, but {sf.path or 'the score file'} is a public "
            "one (masked ids, no internal reason texts). Use --mode public, or score again with "
            "'riskml score --mode internal'."
        )
    t_read = time.perf_counter()
    prep = _prepare(sf, level, lang, mode, config)
    t_prep = time.perf_counter()

    t = config.text[lang]  # type: ignore[index]
    levels_t: dict[str, str] = t["levels"]  # type: ignore[assignment]
    meta = {
        "as_of": sf.as_of_text(),
        "model": sf.model_text(),
        "feature_set": sf.feature_set_text(),
        "source": sf.path.name if sf.path else "",
        "generated_at": now_text(),
    }
    show_score = mode == "internal" or config.public_show_score
    base_ctx = {
        "t": t,
        "lang": lang,
        "html_lang": _HTML_LANG[lang],
        "mode": mode,
        "meta": meta,
        "version": __version__,
        "tiers": TIERS,
        "show_score": show_score,
    }
    env = jinja_env()
    unit_tpl = env.get_template("unit.html")
    index_tpl = env.get_template("index.html")
    type_labels = risk_type_labels(lang)
    separator = measures_separator(lang)
    timings = {"charts": 0.0, "html": 0.0, "pdf": 0.0}
    pdf_jobs: list[tuple[Path, Path]] = []
    unit_rows: list[dict[str, Any]] = []

    with folder:
        shutil.copyfile(STATIC_CSS, folder.path("static", "report.css"))
        for rec in prep.units.to_dict("records"):
            code, name, stem = str(rec["_unit"]), str(rec["name"]), str(rec["stem"])
            counts = {
                k: int(rec[k])
                for k in (
                    "total",
                    "scored",
                    "not_eligible",
                    "rejected",
                    "flagged",
                    "new_flags",
                    "no_longer",
                    *TIERS,
                )
            }
            heading_tpl = str(t["unit_heading_code"] if name == code else t["unit_heading"])
            heading = heading_tpl.format(level=levels_t[level], name=name, code=code)
            fl = prep.flagged.get(code, pd.DataFrame())
            u0 = time.perf_counter()
            # charts
            reasons_chart = contribution_chart_href = None
            rbt = prep.reasons_by_type.get(code)
            if rbt is not None and len(rbt):
                path = folder.path("charts", f"{stem}.reasons.png")
                from riskml.reports._charts import reasons_by_type_chart

                reasons_by_type_chart(
                    rbt["label"].astype(str).tolist(),
                    rbt["households"].astype(int).tolist(),
                    path,
                    xlabel=str(t["chart_households"]),
                    colors=rbt["color"].astype(str).tolist(),
                    font=font,
                    width_in=config.chart.width_in,
                    dpi=config.chart.dpi,
                )
                reasons_chart = "../charts/" + quote(path.name)
            note = ""
            if mode == "internal" and len(fl) and sf.has_risk_types:
                contribution_chart_href, note = _contribution_chart(
                    folder, stem, fl, font, config, type_labels, str(t["contribution_axis"])
                )
                note = (
                    str(t["contribution_note"]).format(n=config.chart.max_households)
                    if len(fl) > config.chart.max_households
                    else ""
                )
            u1 = time.perf_counter()
            households = _household_records(fl, prep.reasons.get(code, []), separator)
            nl = prep.no_longer.get(
                code, pd.DataFrame(columns=["_id", "_village", "tier", "_change_detail"])
            )
            rej = prep.rejected.get(code) if mode == "internal" else None
            sub = prep.subunits.get(code)
            html_name = f"{stem}.html"
            pdf_name = f"{stem}.pdf" if pdf is not None else None
            unit_ctx = {
                "code": code,
                "name": name,
                "heading": heading,
                "counts": counts,
                "reasons_title": str(
                    t["reasons_by_type_title"] if prep.by_type else t["reasons_public_title"]
                ),
                "reasons_col": str(t["risk_type"] if prep.by_type else t["col_reasons"]),
                "reasons_by_type": []
                if rbt is None
                else rbt[["label", "households"]].to_dict("records"),
                "reasons_chart": reasons_chart,
                "contribution_chart": contribution_chart_href,
                "contribution_note": note,
                "show_village": level != "village",
                "households": households,
                "no_longer": [
                    {"id": i, "village": v, "tier": None if pd.isna(tr) else tr, "change_detail": d}
                    for i, v, tr, d in nl[["_id", "_village", "tier", "_change_detail"]].itertuples(
                        index=False, name=None
                    )
                ],
                "rejected": []
                if rej is None
                else [
                    {"id": i, "village": v, "detail": "" if pd.isna(d) else d}
                    for i, v, d in rej[["_id", "_village", "status_detail"]].itertuples(
                        index=False, name=None
                    )
                ],
                "subunits": [] if sub is None else sub.to_dict("records"),
                "pdf_href": quote(pdf_name) if pdf_name else None,
            }
            html = unit_tpl.render(
                **base_ctx,
                unit=unit_ctx,
                css_href="../static/report.css",
                index_href="../index.html",
            )
            if mode == "public":
                rows = sf.frame.loc[sf.frame[_UNIT_COLUMN[level]].astype("string") == code]
                check_public_html(
                    html,
                    where=f"for {levels_t[level]} {code}",
                    household_ids=rows["household_id"].astype(str).tolist()
                    if sf.mode == "internal"
                    else (),
                    sensitive_texts=[
                        *_sensitive_texts(sf, rows),
                        *sorted(sensitive_measures(lang)),
                    ],
                )
            html_path = folder.path("units", html_name)
            html_path.write_text(html, encoding="utf-8")
            u2 = time.perf_counter()
            if pdf_name is not None:
                pdf_jobs.append((html_path, folder.path("units", pdf_name)))
            timings["charts"] += u1 - u0
            timings["html"] += u2 - u1
            unit_rows.append(
                {
                    "code": code,
                    "name": name,
                    "counts": counts,
                    "html": f"units/{html_name}",
                    "pdf": f"units/{pdf_name}" if pdf_name else None,
                    "html_href": "units/" + quote(html_name),
                    "pdf_href": "units/" + quote(pdf_name) if pdf_name else None,
                    "seconds": {"charts": round(u1 - u0, 4), "html": round(u2 - u1, 4), "pdf": 0.0},
                }
            )
        if pdf is not None:
            p0 = time.perf_counter()
            with_pdf = [u for u in unit_rows if u["pdf"]]
            for u, secs in zip(
                with_pdf, write_pdfs(pdf_jobs, workers=n_workers, writer=pdf), strict=True
            ):
                u["seconds"]["pdf"] = round(secs, 4)
            timings["pdf"] = time.perf_counter() - p0
        totals = {
            k: sum(u["counts"][k] for u in unit_rows)
            for k in ("total", "scored", "flagged", "new_flags", *TIERS)
        }
        if totals["total"] != len(sf.frame):  # every household is in exactly one unit
            raise ReportInputError(
                f"Internal error: units account for {totals['total']} households but the score file has {len(sf.frame)}."
            )
        index_html = index_tpl.render(
            **base_ctx,
            units=unit_rows,
            totals=totals,
            level_name=levels_t[level],
            css_href="static/report.css",
        )
        if mode == "public":
            check_public_html(index_html, where="index")
        folder.path("index.html").write_text(index_html, encoding="utf-8")  # the index last
        manifest = {
            "riskml_version": __version__,
            "kind": "review",
            "level": level,
            "lang": lang,
            "mode": mode,
            "formats": list(fmts),
            "score_file": str(sf.path) if sf.path else None,
            "households": len(sf.frame),
            "units": [
                {k: u[k] for k in ("code", "name", "html", "pdf", "counts")} for u in unit_rows
            ],
            "cjk_font": font.name,
        }
        out = folder.commit(manifest)
    finished = time.perf_counter()
    return ReviewReportResult(
        out_dir=out,
        index=out / "index.html",
        level=level,
        lang=lang,
        mode=mode,
        formats=fmts,
        units=[{k: v for k, v in u.items() if not k.endswith("_href")} for u in unit_rows],
        seconds={
            "read": round(t_read - started, 3),
            "prepare": round(t_prep - t_read, 3),
            **{k: round(v, 3) for k, v in timings.items()},
            "total": round(finished - started, 3),
        },
    )


def _contribution_chart(
    folder: OutputFolder,
    stem: str,
    fl: pd.DataFrame,
    font: CJKFont,
    config: ReportsConfig,
    type_labels: dict[str, str],
    xlabel: str,
) -> tuple[str, str]:
    from riskml.reports._charts import contribution_chart
    from riskml.scoring._columns import MAX_REASONS, reason_column

    top = fl.head(config.chart.max_households)
    contrib = np.column_stack(
        [
            top[reason_column(k, "contribution")].to_numpy(dtype=float)
            for k in range(1, MAX_REASONS + 1)
        ]
    )
    types = np.column_stack(
        [
            top[reason_column(k, "type")]
            .astype(object)
            .where(top[reason_column(k, "type")].notna(), None)
            .to_numpy()
            for k in range(1, MAX_REASONS + 1)
        ]
    )
    labels = [f"{r} · {str(i)[-6:]}" for r, i in zip(top["_rank"], top["_id"], strict=True)]
    path = folder.path("charts", f"{stem}.contributions.png")
    contribution_chart(
        labels,
        contrib,
        types,
        type_labels,
        dict(config.chart.risk_type_colors),
        path,
        xlabel=xlabel,
        font=font,
        other_color=config.chart.other_color,
        width_in=config.chart.width_in,
        dpi=config.chart.dpi,
    )
    return "../charts/" + quote(path.name), ""
