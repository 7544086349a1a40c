"""Review-meeting reports (民主评议): one report per village, township or county, plus an index.

Built from the score file only (never from a model). Counts and groupings are computed once for
the whole roster with pandas; each unit's page then gets its slice.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np
import pandas as pd

from riskml import __version__
from riskml.config.reports import LANGS, LEVELS, MODES, ReportsConfig, load_reports_config
from riskml.config.verification import load_verification_config
from riskml.data import CONCLUSIONS_ZH, risk_types_zh
from riskml.reports._fonts import CJKFont, find_cjk_font
from riskml.reports._labels import (
    measures_separator,
    risk_type_labels,
    sensitive_measures,
)
from riskml.reports._output import OutputFolder
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
from riskml.reports._units import (
    UNIT_COLUMN,
    household_records,
    outcome_labels,
    prepare_units,
    registration_rows,
    sensitive_texts,
)
from riskml.reports._verification import verification_records
from riskml.reports._workbook import write_registration_workbook

__all__ = ["ReviewReportResult", "render_review_reports"]

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
    bad = [p for p in items if p not in ("html", "pdf", "xlsx")]
    if bad or not items:
        raise ReportInputError(
            f"--format must be a comma-separated list of html, pdf and xlsx, got {value!r}."
        )
    return tuple(dict.fromkeys(["html", *items]))  # PDFs are rendered from the HTML


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
    if "xlsx" in fmts and mode != "internal":
        raise ReportInputError(
            "--format xlsx writes the registration workbook (核实登记表), which is internal material: "
            "it lists households by their full id with the internal reasons (health facts). It is "
            "never written in public mode. Use --mode internal (with an internal score file) for "
            "the workbook, or drop xlsx from --format for the meeting list."
        )
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
    # rejected households without a code at this level (set aside by the loader) belong to no
    # unit: the index counts them instead of refusing the whole roster
    unit_code = sf.frame[UNIT_COLUMN[level]].astype("string").str.strip()
    unplaced_mask = (unit_code.isna() | (unit_code == "")).to_numpy(dtype=bool)
    n_unplaced = int(unplaced_mask.sum())
    if n_unplaced:
        sf = ScoreFile(
            frame=sf.frame.loc[~unplaced_mask].reset_index(drop=True),
            mode=sf.mode,
            metadata=sf.metadata,
            path=sf.path,
        )
    prep = prepare_units(sf, level, lang, mode, config)
    t_prep = time.perf_counter()

    t = config.text[lang]  # type: ignore[index]
    levels_t: dict[str, str] = t["levels"]  # type: ignore[assignment]
    meta = {
        "as_of": sf.as_of_text(),
        "model": sf.model_text(),
        "feature_set": sf.feature_set_text(),
        "source": sf.path.name if sf.path else "",
        "generated_at": now_text(),
        "coverage": _coverage_text(sf, lang, t),
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
    verification_tpl = env.get_template("verification.html")
    vconfig = load_verification_config() if mode == "internal" else None
    t_ext = {**t, "_lang": lang}
    outcomes = outcome_labels(lang, t_ext)
    index_tpl = env.get_template("index.html")
    type_labels = risk_type_labels(lang)
    separator = measures_separator(lang)
    timings = {"charts": 0.0, "html": 0.0, "pdf": 0.0}
    pdf_jobs: list[tuple[Path, Path]] = []
    pdf_owner: list[int] = []  # the unit (position in unit_rows) of each PDF job
    # positions of each unit's households (for the public-page privacy check)
    unit_rows_index = sf.frame.groupby(
        sf.frame[UNIT_COLUMN[level]].astype("string"), sort=False
    ).indices
    sensitive_items = sorted(sensitive_measures(lang))
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
                contribution_chart_href = _contribution_chart(
                    folder, stem, fl, font, config, type_labels, str(t["contribution_axis"])
                )
                note = (
                    str(t["contribution_note"]).format(n=config.chart.max_households)
                    if len(fl) > config.chart.max_households
                    else ""
                )
            u1 = time.perf_counter()
            households = household_records(fl, prep.reasons.get(code, []), separator)
            nl = prep.no_longer.get(code)
            rej = prep.rejected.get(code) if mode == "internal" else None
            sub = prep.subunits.get(code)
            html_name = f"{stem}.html"
            pdf_name = f"{stem}.pdf" if pdf is not None else None
            xlsx_name = f"{stem}_核实登记表.xlsx" if "xlsx" in fmts else None
            # verification sheets (入户核实表): internal material, one page per flagged household
            verification_name = (
                f"{stem}.verification.html" if mode == "internal" and households else None
            )
            verification_pdf = f"{stem}.verification.pdf" if verification_name else None
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
                "no_longer": _rows(
                    nl,
                    id="_shown",
                    sub="_sub",
                    village="_village",
                    tier="previous_tier",
                    change_detail="_change_detail",
                ),
                "unreviewed": _rows(
                    prep.unreviewed.get(code),
                    id="_shown",
                    sub="_sub",
                    village="_village",
                    previous_tier="previous_tier",
                    now="_now",
                    review="_review",
                ),
                "held_back": _rows(
                    prep.held_back.get(code),
                    id="_shown",
                    sub="_sub",
                    village="_village",
                    tier="tier",
                    review="_review",
                    detail="status_detail",
                ),
                "below_line": _rows(
                    prep.below_line.get(code),
                    id="_shown",
                    sub="_sub",
                    village="_village",
                    now="_now",
                    income="_income",
                    review="_review",
                ),
                "previous_as_of": prep.previous_as_of,
                "rejected": _rows(
                    rej, id="_id", sub="_sub", village="_village", detail="status_detail"
                ),
                "subunits": [] if sub is None else sub.to_dict("records"),
                "pdf_href": quote(pdf_name) if pdf_name else None,
                "xlsx_href": quote(xlsx_name) if xlsx_name else None,
                "verification_href": (
                    quote(verification_pdf if pdf is not None else verification_name)
                    if verification_name and verification_pdf
                    else None
                ),
            }
            html = unit_tpl.render(
                **base_ctx,
                unit=unit_ctx,
                css_href="../static/report.css",
                index_href="../index.html",
            )
            if mode == "public":
                rows = sf.frame.iloc[unit_rows_index.get(code, [])]
                check_public_html(
                    html,
                    where=f"for {levels_t[level]} {code}",
                    household_ids=rows["household_id"].astype(str).tolist()
                    if sf.mode == "internal"
                    else (),
                    sensitive_texts=[*sensitive_texts(sf, rows), *sensitive_items],
                )
            html_path = folder.path("units", html_name)
            html_path.write_text(html, encoding="utf-8")
            u2 = time.perf_counter()
            if pdf_name is not None:
                pdf_jobs.append((html_path, folder.path("units", pdf_name)))
                pdf_owner.append(len(unit_rows))
            if verification_name is not None and vconfig is not None:
                sheets_html = verification_tpl.render(
                    **base_ctx,
                    unit=unit_ctx,
                    sheets=verification_records(fl, households, lang=lang, t=t_ext, config=vconfig),
                    conclusions=list(CONCLUSIONS_ZH) if lang == "zh" else list(outcomes.values()),
                    risk_types=[
                        type_labels[c] for c in risk_types_zh().values() if c in type_labels
                    ],
                    css_href="../static/report.css",
                    index_href="../index.html",
                )
                v_path = folder.path("units", verification_name)
                v_path.write_text(sheets_html, encoding="utf-8")
                if pdf is not None and verification_pdf is not None:
                    pdf_jobs.append((v_path, folder.path("units", verification_pdf)))
                    pdf_owner.append(len(unit_rows))
            if xlsx_name is not None:
                write_registration_workbook(
                    folder.path("units", xlsx_name),
                    registration_rows(fl),
                    title=f"核实登记表 · {heading} · 评估时点 {meta['as_of'] or '—'} · 内部工作材料，不得外传",
                )
            timings["charts"] += u1 - u0
            timings["html"] += u2 - u1
            unit_rows.append(
                {
                    "code": code,
                    "name": name,
                    "counts": counts,
                    "html": f"units/{html_name}",
                    "pdf": f"units/{pdf_name}" if pdf_name else None,
                    "xlsx": f"units/{xlsx_name}" if xlsx_name else None,
                    "html_href": "units/" + quote(html_name),
                    "pdf_href": "units/" + quote(pdf_name) if pdf_name else None,
                    "xlsx_href": "units/" + quote(xlsx_name) if xlsx_name else None,
                    "verification": (
                        f"units/{verification_pdf if pdf is not None else verification_name}"
                        if verification_name and verification_pdf
                        else None
                    ),
                    "verification_href": (
                        "units/" + quote(verification_pdf if pdf is not None else verification_name)
                        if verification_name and verification_pdf
                        else None
                    ),
                    "seconds": {"charts": round(u1 - u0, 4), "html": round(u2 - u1, 4), "pdf": 0.0},
                }
            )
        if pdf is not None:
            p0 = time.perf_counter()
            for owner, secs in zip(
                pdf_owner, write_pdfs(pdf_jobs, workers=n_workers, writer=pdf), strict=True
            ):
                sec = unit_rows[owner]["seconds"]
                sec["pdf"] = round(sec["pdf"] + secs, 4)
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
            unplaced=n_unplaced,
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
            "households": len(sf.frame) + n_unplaced,
            "unplaced_households": n_unplaced,
            "units": [
                {k: u[k] for k in ("code", "name", "html", "pdf", "xlsx", "verification", "counts")}
                for u in unit_rows
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


def _rows(frame: pd.DataFrame | None, **fields: str) -> list[dict[str, Any]]:
    """Template rows: ``name -> column`` for each of ``fields`` (missing values as "")."""
    if frame is None or frame.empty:
        return []
    cols = list(fields.values())
    out = []
    for values in frame[cols].itertuples(index=False, name=None):
        out.append(
            {
                name: (
                    "" if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)) else v
                )
                for name, v in zip(fields, values, strict=True)
            }
        )
    return out


def _coverage_text(sf: ScoreFile, lang: str, t: Mapping[str, Any]) -> str:
    """One line: the official risk types the list's reasons can and cannot state (from the
    score file's metadata, written by ``riskml score``); empty when the file does not say."""
    cov = sf.metadata.get("risk_types") if isinstance(sf.metadata, Mapping) else None
    if not isinstance(cov, Mapping) or not cov.get("visible"):
        return ""
    labels = risk_type_labels(lang)
    sep = "、" if lang == "zh" else ", "
    visible = sep.join(labels.get(c, c) for c in cov.get("visible", []))
    invisible = sep.join(labels.get(c, c) for c in cov.get("invisible", []))
    text = str(t["coverage_visible"]).format(types=visible)
    if invisible:
        text += str(t["coverage_invisible"]).format(types=invisible)
    return text


def _contribution_chart(
    folder: OutputFolder,
    stem: str,
    fl: pd.DataFrame,
    font: CJKFont,
    config: ReportsConfig,
    type_labels: dict[str, str],
    xlabel: str,
) -> str:
    """Draw the internal per-household contribution chart of a unit; return its href."""
    from riskml.reports._charts import contribution_chart
    from riskml.scoring.columns import MAX_REASONS, reason_column

    top = fl.head(config.chart.max_households)
    contrib = np.column_stack(
        [
            top[reason_column(k, "contribution")].to_numpy(dtype=float)
            for k in range(1, MAX_REASONS + 1)
        ]
    )
    # shares of each household's stated reasons (log-odds are never shown as numbers)
    totals = np.nansum(np.clip(contrib, 0, None), axis=1, keepdims=True)
    contrib = np.where(
        totals > 0, np.clip(contrib, 0, None) / np.where(totals > 0, totals, 1), np.nan
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
    # rank and the full id: the chart is internal-only, and id tails repeat across villages
    labels = [f"{r} · {i}" for r, i in zip(top["_rank"], top["_id"], strict=True)]
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
    return "../charts/" + quote(path.name)
