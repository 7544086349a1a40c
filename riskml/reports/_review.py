"""Review-meeting reports (民主评议): one report per village, township or county, plus an index.

Built from the score file only (never from a model). Counts and groupings are computed once for
the whole roster with pandas; each unit's page then gets its slice.
"""

from __future__ import annotations

import multiprocessing
import shutil
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np
import pandas as pd

from riskml import __version__
from riskml.config.reports import LANGS, LEVELS, MODES, ReportsConfig, load_reports_config
from riskml.config.verification import VerificationConfig, load_verification_config
from riskml.data import CONCLUSIONS_ZH, risk_types_zh
from riskml.reports._charts import contribution_svg, reasons_by_type_svg
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
)
from riskml.reports._scorefile import (
    TIERS,
    ReportInputError,
    ScoreFile,
    check_scores,
    load_score_file,
)
from riskml.reports._typst import TypstWriter, typst_fonts
from riskml.reports._units import (
    UNIT_COLUMN,
    Prepared,
    household_records,
    outcome_labels,
    prepare_units,
    registration_rows,
    sensitive_texts,
)
from riskml.reports._verification import verification_records
from riskml.reports._workbook import write_registration_workbook
from riskml.scoring.columns import MAX_REASONS, reason_column

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


_COUNT_KEYS = ("total", "scored", "not_eligible", "rejected", "flagged", "new_flags", "no_longer")


@dataclass
class _Shared:
    """What every page of one call shares: the options, the wording, the templates."""

    sf: ScoreFile
    level: str
    lang: str
    mode: str
    fmts: tuple[str, ...]
    config: ReportsConfig
    font: CJKFont
    t: dict[str, Any]
    meta: dict[str, str]
    base_ctx: dict[str, Any]
    vconfig: VerificationConfig | None
    type_labels: dict[str, str]
    units_rows: dict[Any, Any]  # unit code -> positions of its households in sf.frame

    @property
    def pdf(self) -> bool:
        return "pdf" in self.fmts


@dataclass
class _PdfJob:
    """One PDF to write: from ``html`` (WeasyPrint) or from ``data`` with Typst template ``kind``."""

    owner: int  # position of the unit in the index
    kind: str
    html: Path
    pdf: Path
    data: dict[str, Any]


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
        Processes rendering PDFs with WeasyPrint (``pdf_engine: weasyprint``); ``None``: one per
        core, at most 4. Small runs stay in this process. Typst needs no extra processes.

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
    level, lang, mode, fmts = _options(level, lang, mode, formats, config)
    font = find_cjk_font(font_list, config.cjk_fonts)
    folder = OutputFolder(out_dir)
    folder.check()
    n_workers = _workers(workers)
    if "pdf" in fmts:
        # the PDF engine is installed: checked before any work (and kept for this process)
        _WRITERS.setdefault((config.pdf_engine, str(font.path)), _pdf_writer(config, font))
    sf, n_unplaced = _without_unplaced(_read(scores, metadata, mode), level)
    t_read = time.perf_counter()
    prep = prepare_units(sf, level, lang, mode, config)
    t_prep = time.perf_counter()
    shared = _shared(sf, level, lang, mode, fmts, config, font)
    with folder:
        shutil.copyfile(STATIC_CSS, folder.path("static", "report.css"))
        unit_rows = _render_all(shared, folder, prep, n_workers, explicit=workers is not None)
        _write_index(shared, folder, unit_rows, n_unplaced)
        out = folder.commit(_manifest(shared, unit_rows, n_unplaced))
    timings = {
        "read": t_read - started,
        "prepare": t_prep - t_read,
        **{k: sum(u["seconds"][k] for u in unit_rows) for k in ("charts", "html", "pdf")},
        "units": time.perf_counter() - t_prep,
        "total": time.perf_counter() - started,
    }
    return ReviewReportResult(
        out_dir=out,
        index=out / "index.html",
        level=level,
        lang=lang,
        mode=mode,
        formats=fmts,
        units=[{k: v for k, v in u.items() if not k.endswith("_href")} for u in unit_rows],
        seconds={k: round(v, 3) for k, v in timings.items()},
    )


_CHUNKS_PER_WORKER = 4
_MIN_UNITS_PER_WORKER = 20
"""Below this many units per process (and without an explicit ``workers``) one process is
faster than starting others (each imports pandas and loads its fonts)."""


def _render_all(
    sh: _Shared, folder: OutputFolder, prep: Prepared, workers: int, *, explicit: bool
) -> list[dict[str, Any]]:
    """Every unit's pages, in ``workers`` processes when there are enough units.

    Units go in contiguous chunks (a few per process, so that a chunk of large villages does
    not leave the other process idle); each process writes its units' HTML and PDFs into the
    staging folder and returns their index rows, in unit order.
    """
    recs = prep.units.to_dict("records")
    if not explicit and len(recs) < workers * _MIN_UNITS_PER_WORKER:
        workers = 1
    if workers <= 1 or len(recs) < 2:
        return _render_chunk((sh, folder, prep, recs))
    size = max(1, -(-len(recs) // (workers * _CHUNKS_PER_WORKER)))
    payloads = [
        (
            _chunk_shared(sh, recs[i : i + size]),
            folder,
            _chunk_prep(prep, recs[i : i + size]),
            recs[i : i + size],
        )
        for i in range(0, len(recs), size)
    ]
    with ProcessPoolExecutor(
        max_workers=workers, mp_context=multiprocessing.get_context("spawn")
    ) as pool:
        return [row for rows in pool.map(_render_chunk, payloads) for row in rows]


def _chunk_codes(recs: list[dict[str, Any]]) -> set[str]:
    return {str(r["_unit"]) for r in recs}


def _chunk_shared(sh: _Shared, recs: list[dict[str, Any]]) -> _Shared:
    """``sh`` for a chunk of units: the score file cut to their households (a public page's
    privacy check needs them) and, in internal mode, to no rows at all."""
    codes = _chunk_codes(recs)
    rows = (
        np.concatenate(
            [sh.units_rows[c] for c in codes if c in sh.units_rows] or [np.array([], int)]
        )
        if sh.mode == "public"
        else np.array([], dtype=int)
    )
    frame = sh.sf.frame.iloc[np.sort(rows)].reset_index(drop=True)
    sf = ScoreFile(frame=frame, mode=sh.sf.mode, metadata=sh.sf.metadata, path=sh.sf.path)
    units_rows = frame.groupby(frame[UNIT_COLUMN[sh.level]].astype("string"), sort=False).indices
    return replace(sh, sf=sf, units_rows=units_rows)


def _chunk_prep(prep: Prepared, recs: list[dict[str, Any]]) -> Prepared:
    """``prep`` restricted to a chunk of units (what a worker process is sent)."""
    codes = _chunk_codes(recs)
    by_unit = (
        "flagged",
        "no_longer",
        "rejected",
        "reasons",
        "reasons_by_type",
        "subunits",
        "unreviewed",
        "held_back",
        "below_line",
    )
    cut: dict[str, Any] = {
        f: {k: v for k, v in getattr(prep, f).items() if k in codes} for f in by_unit
    }
    return replace(prep, units=prep.units.iloc[:0], **cut)


_WRITERS: dict[tuple[str, str], PdfWriter | TypstWriter] = {}
"""One PDF writer per engine and font in each process (Typst loads its fonts once)."""


def _render_chunk(
    payload: tuple[_Shared, OutputFolder, Prepared, list[dict[str, Any]]],
) -> list[dict[str, Any]]:
    """Render a run of units (in this process or a worker): HTML, then their PDFs."""
    sh, folder, prep, recs = payload
    jobs: list[_PdfJob] = []
    rows = [_render_unit(sh, folder, prep, rec, k, jobs) for k, rec in enumerate(recs)]
    key = (sh.config.pdf_engine, str(sh.font.path))
    if jobs and key not in _WRITERS:
        _WRITERS[key] = _pdf_writer(sh.config, sh.font)
    for job in jobs:
        started = time.perf_counter()
        writer = _WRITERS[key]
        if isinstance(writer, TypstWriter):
            writer.write(job.kind, job.data, job.pdf)
        else:
            writer.write(job.html, job.pdf)
        rows[job.owner]["seconds"]["pdf"] += time.perf_counter() - started
    return rows


def _options(
    level: str | None,
    lang: str | None,
    mode: str | None,
    formats: str | Sequence[str] | None,
    config: ReportsConfig,
) -> tuple[str, str, str, tuple[str, ...]]:
    """The call's level, language, mode and formats (defaults from the config), checked."""
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
    return level, lang, mode, fmts


def _workers(workers: int | None) -> int:
    try:
        return pdf_workers(workers)
    except ValueError as exc:
        raise ReportInputError(str(exc)) from None


def _pdf_writer(config: ReportsConfig, font: CJKFont) -> PdfWriter | TypstWriter:
    """The PDF engine of ``configs/reports.yaml`` (checked before anything is written)."""
    return TypstWriter(font) if config.pdf_engine == "typst" else PdfWriter()


def _read(
    scores: str | Path | ScoreFile | pd.DataFrame, metadata: dict[str, Any] | None, mode: str
) -> ScoreFile:
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
    return sf


def _without_unplaced(sf: ScoreFile, level: str) -> tuple[ScoreFile, int]:
    """Set aside rejected households without a code at this level: they belong to no unit, and
    the index counts them instead of refusing the whole roster."""
    unit_code = sf.frame[UNIT_COLUMN[level]].astype("string").str.strip()
    unplaced = (unit_code.isna() | (unit_code == "")).to_numpy(dtype=bool)
    if not unplaced.any():
        return sf, 0
    kept = sf.frame.loc[~unplaced].reset_index(drop=True)
    return ScoreFile(frame=kept, mode=sf.mode, metadata=sf.metadata, path=sf.path), int(
        unplaced.sum()
    )


def _shared(
    sf: ScoreFile,
    level: str,
    lang: str,
    mode: str,
    fmts: tuple[str, ...],
    config: ReportsConfig,
    font: CJKFont,
) -> _Shared:
    t: dict[str, Any] = dict(config.text[lang])  # type: ignore[index]
    meta = {
        "as_of": sf.as_of_text(),
        "model": sf.model_text(),
        "feature_set": sf.feature_set_text(),
        "source": sf.path.name if sf.path else "",
        "generated_at": now_text(),
        "coverage": _coverage_text(sf, lang, t),
    }
    base_ctx = {
        "t": t,
        "lang": lang,
        "html_lang": _HTML_LANG[lang],
        "mode": mode,
        "meta": meta,
        "version": __version__,
        "tiers": TIERS,
        "show_score": mode == "internal" or config.public_show_score,
    }
    units_rows = sf.frame.groupby(sf.frame[UNIT_COLUMN[level]].astype("string"), sort=False).indices
    return _Shared(
        sf=sf,
        level=level,
        lang=lang,
        mode=mode,
        fmts=fmts,
        config=config,
        font=font,
        t=t,
        meta=meta,
        base_ctx=base_ctx,
        vconfig=load_verification_config() if mode == "internal" else None,
        type_labels=risk_type_labels(lang),
        units_rows=units_rows,
    )


def _render_unit(
    sh: _Shared,
    folder: OutputFolder,
    prep: Prepared,
    rec: dict[str, Any],
    owner: int,
    jobs: list[_PdfJob],
) -> dict[str, Any]:
    """Write one unit's page (and its verification sheets and workbook); queue its PDFs."""
    code, name, stem = str(rec["_unit"]), str(rec["name"]), str(rec["stem"])
    fl = prep.flagged.get(code, pd.DataFrame())
    u0 = time.perf_counter()
    charts = _unit_charts(sh, folder, stem, code, fl, prep)
    u1 = time.perf_counter()
    households = household_records(fl, prep.reasons.get(code, []), measures_separator(sh.lang))
    files = _unit_files(sh, stem, bool(households))
    unit = _unit_context(sh, prep, rec, households, charts, files)
    html_path = folder.path("units", f"{stem}.html")
    html = (
        jinja_env()
        .get_template("unit.html")
        .render(
            **sh.base_ctx, unit=unit, css_href="../static/report.css", index_href="../index.html"
        )
    )
    data = _typst_unit(sh, unit, charts) if files["pdf"] else {}
    if sh.mode == "public":  # the page and every text its PDF is typeset from
        _check_public(sh, "\n".join([html, *_texts(data)]), code)
    html_path.write_text(html, encoding="utf-8")
    if files["pdf"]:
        jobs.append(_PdfJob(owner, "unit", html_path, folder.path("units", files["pdf"]), data))
    if files["verification_html"]:
        _verification(sh, folder, fl, unit, households, files, owner, jobs)
    if files["xlsx"]:
        write_registration_workbook(
            folder.path("units", files["xlsx"]),
            registration_rows(fl),
            title=f"核实登记表 · {unit['heading']} · 评估时点 {sh.meta['as_of'] or '—'} · 内部工作材料，不得外传",
        )
    u2 = time.perf_counter()
    return _index_row(code, name, unit["counts"], files, {"charts": u1 - u0, "html": u2 - u1})


def _unit_files(sh: _Shared, stem: str, has_flagged: bool) -> dict[str, str | None]:
    """A unit's file names (in ``units/``); ``None`` for what this call does not write.
    Verification sheets (入户核实表) are internal material, one page per flagged household."""
    sheets = sh.mode == "internal" and has_flagged
    return {
        "html": f"{stem}.html",
        "pdf": f"{stem}.pdf" if sh.pdf else None,
        "xlsx": f"{stem}_核实登记表.xlsx" if "xlsx" in sh.fmts else None,
        "verification_html": f"{stem}.verification.html" if sheets else None,
        "verification_pdf": f"{stem}.verification.pdf" if sheets and sh.pdf else None,
    }


def _verification_file(files: dict[str, str | None]) -> str | None:
    """What the list links to as the unit's verification sheets: the PDF when there is one."""
    return files["verification_pdf"] or files["verification_html"]


@dataclass
class _Charts:
    reasons_svg: str | None = None
    reasons_href: str | None = None
    contribution_svg: str | None = None
    contribution_href: str | None = None
    note: str = ""


def _unit_charts(
    sh: _Shared, folder: OutputFolder, stem: str, code: str, fl: pd.DataFrame, prep: Prepared
) -> _Charts:
    """Draw a unit's charts once, as SVG files the HTML shows and the PDF embeds."""
    charts = _Charts()
    rbt = prep.reasons_by_type.get(code)
    if rbt is not None and len(rbt):
        charts.reasons_svg = reasons_by_type_svg(
            rbt["label"].astype(str).tolist(),
            rbt["households"].astype(int).tolist(),
            xlabel=str(sh.t["chart_households"]),
            colors=rbt["color"].astype(str).tolist(),
            font=sh.font,
            width_in=sh.config.chart.width_in,
        )
        charts.reasons_href = _write_chart(folder, f"{stem}.reasons.svg", charts.reasons_svg)
    if sh.mode == "internal" and len(fl) and sh.sf.has_risk_types:
        charts.contribution_svg = _contribution_svg(sh, fl)
        charts.contribution_href = _write_chart(
            folder, f"{stem}.contributions.svg", charts.contribution_svg
        )
        n = sh.config.chart.max_households
        charts.note = str(sh.t["contribution_note"]).format(n=n) if len(fl) > n else ""
    return charts


def _write_chart(folder: OutputFolder, name: str, svg: str) -> str:
    folder.path("charts", name).write_text(svg, encoding="utf-8")
    return "../charts/" + quote(name)


def _contribution_svg(sh: _Shared, fl: pd.DataFrame) -> str:
    """The internal per-household contribution chart of a unit's top households."""
    top = fl.head(sh.config.chart.max_households)
    contrib = np.column_stack(
        [
            top[reason_column(k, "contribution")].to_numpy(dtype=float)
            for k in range(1, MAX_REASONS + 1)
        ]
    )
    # shares of each household's stated reasons (log-odds are never shown as numbers)
    positive = np.clip(contrib, 0, None)
    totals = np.nansum(positive, axis=1, keepdims=True)
    shares = np.where(totals > 0, positive / np.where(totals > 0, totals, 1), np.nan)
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
    return contribution_svg(
        labels,
        shares,
        types,
        sh.type_labels,
        dict(sh.config.chart.risk_type_colors),
        xlabel=str(sh.t["contribution_axis"]),
        font=sh.font,
        other_color=sh.config.chart.other_color,
        width_in=sh.config.chart.width_in,
    )


def _unit_context(
    sh: _Shared,
    prep: Prepared,
    rec: dict[str, Any],
    households: list[dict[str, Any]],
    charts: _Charts,
    files: dict[str, str | None],
) -> dict[str, Any]:
    """The ``unit`` of ``unit.html`` (and of the Typst pages)."""
    code, name = str(rec["_unit"]), str(rec["name"])
    t, levels_t = sh.t, sh.t["levels"]
    heading_tpl = str(t["unit_heading_code"] if name == code else t["unit_heading"])
    rbt = prep.reasons_by_type.get(code)
    verification = _verification_file(files)
    return {
        "code": code,
        "name": name,
        "heading": heading_tpl.format(level=levels_t[sh.level], name=name, code=code),
        "counts": {k: int(rec[k]) for k in (*_COUNT_KEYS, *TIERS)},
        "reasons_title": str(
            t["reasons_by_type_title" if prep.by_type else "reasons_public_title"]
        ),
        "reasons_col": str(t["risk_type" if prep.by_type else "col_reasons"]),
        "reasons_by_type": [] if rbt is None else rbt[["label", "households"]].to_dict("records"),
        "reasons_chart": charts.reasons_href,
        "contribution_chart": charts.contribution_href,
        "contribution_note": charts.note,
        "show_village": sh.level != "village",
        "households": households,
        **_section_rows(sh, prep, code),
        "previous_as_of": prep.previous_as_of,
        "subunits": [] if (sub := prep.subunits.get(code)) is None else sub.to_dict("records"),
        "pdf_href": quote(files["pdf"]) if files["pdf"] else None,
        "xlsx_href": quote(files["xlsx"]) if files["xlsx"] else None,
        "verification_href": quote(verification) if verification else None,
    }


def _section_rows(sh: _Shared, prep: Prepared, code: str) -> dict[str, list[dict[str, Any]]]:
    """The rows of the list's smaller sections: no longer flagged, follow-up, below the line."""
    where = {"id": "_shown", "sub": "_sub", "village": "_village"}
    return {
        "no_longer": _rows(
            prep.no_longer.get(code), **where, tier="previous_tier", change_detail="_change_detail"
        ),
        "unreviewed": _rows(
            prep.unreviewed.get(code),
            **where,
            previous_tier="previous_tier",
            now="_now",
            review="_review",
        ),
        "held_back": _rows(
            prep.held_back.get(code), **where, tier="tier", review="_review", detail="status_detail"
        ),
        "below_line": _rows(
            prep.below_line.get(code), **where, now="_now", income="_income", review="_review"
        ),
        "rejected": _rows(
            prep.rejected.get(code) if sh.mode == "internal" else None,
            id="_id",
            sub="_sub",
            village="_village",
            detail="status_detail",
        ),
    }


def _texts(value: Any) -> Iterator[str]:
    """Every string in nested page data (dicts, lists)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _texts(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from _texts(v)


def _check_public(sh: _Shared, html: str, code: str) -> None:
    """The privacy guard on a public page: no full id, internal text, name or group."""
    rows = sh.sf.frame.iloc[sh.units_rows.get(code, [])]
    check_public_html(
        html,
        where=f"for {sh.t['levels'][sh.level]} {code}",
        household_ids=rows["household_id"].astype(str).tolist() if sh.sf.mode == "internal" else (),
        sensitive_texts=[*sensitive_texts(sh.sf, rows), *sorted(sensitive_measures(sh.lang))],
    )


def _typst_page(sh: _Shared, running_title: str) -> dict[str, Any]:
    """What every Typst page gets: fonts, wording, run metadata, the running header."""
    note = sh.t["disclaimer_short"] if sh.mode == "public" else sh.t["mode_names"]["internal"]
    return {
        "fonts": typst_fonts(sh.font, sh.lang),
        "lang": sh.lang,
        "mode": sh.mode,
        "t": sh.t,
        "meta": sh.meta,
        "tiers": list(TIERS),
        "show_score": sh.base_ctx["show_score"],
        "running_title": running_title,
        "running_note": note,
    }


def _typst_unit(sh: _Shared, unit: dict[str, Any], charts: _Charts) -> dict[str, Any]:
    previous = unit["previous_as_of"]
    return {
        **_typst_page(sh, unit["heading"]),
        "unit": unit,
        "reasons_svg": charts.reasons_svg,
        "contribution_svg": charts.contribution_svg,
        "previous_run_on": str(sh.t["previous_run_on"]).format(date=previous) if previous else "",
    }


def _verification(
    sh: _Shared,
    folder: OutputFolder,
    fl: pd.DataFrame,
    unit: dict[str, Any],
    households: list[dict[str, Any]],
    files: dict[str, str | None],
    owner: int,
    jobs: list[_PdfJob],
) -> None:
    """Write a unit's verification sheets (入户核实表), one page per flagged household."""
    assert sh.vconfig is not None and files["verification_html"]
    t = {**sh.t, "_lang": sh.lang}
    sheets = verification_records(fl, households, lang=sh.lang, t=t, config=sh.vconfig)
    outcomes = outcome_labels(sh.lang, t)
    conclusions = list(CONCLUSIONS_ZH) if sh.lang == "zh" else list(outcomes.values())
    risk_types = [sh.type_labels[c] for c in risk_types_zh().values() if c in sh.type_labels]
    html = (
        jinja_env()
        .get_template("verification.html")
        .render(
            **sh.base_ctx,
            unit=unit,
            sheets=sheets,
            conclusions=conclusions,
            risk_types=risk_types,
            css_href="../static/report.css",
            index_href="../index.html",
        )
    )
    path = folder.path("units", files["verification_html"])
    path.write_text(html, encoding="utf-8")
    if files["verification_pdf"]:
        data = {
            **_typst_page(sh, f"{unit['heading']} · {sh.t['v_title']}"),
            "unit": {"heading": unit["heading"], "show_village": unit["show_village"]},
            "sheets": sheets,
            "conclusions": conclusions,
            "risk_types": risk_types,
            "v_intro": str(sh.t["v_intro"]).format(n=len(sheets)),
            "head_label": str(sh.t["head_label"]).capitalize(),
        }
        pdf = folder.path("units", files["verification_pdf"])
        jobs.append(_PdfJob(owner, "verification", path, pdf, data))


def _index_row(
    code: str,
    name: str,
    counts: dict[str, int],
    files: dict[str, str | None],
    seconds: dict[str, float],
) -> dict[str, Any]:
    """The unit's line in the index and in the manifest."""
    rel = {k: f"units/{v}" if v else None for k, v in files.items()}
    href = {k: "units/" + quote(v) if v else None for k, v in files.items()}
    verification = _verification_file(files)
    return {
        "code": code,
        "name": name,
        "counts": counts,
        "html": rel["html"],
        "pdf": rel["pdf"],
        "xlsx": rel["xlsx"],
        "html_href": href["html"],
        "pdf_href": href["pdf"],
        "xlsx_href": href["xlsx"],
        "verification": f"units/{verification}" if verification else None,
        "verification_href": "units/" + quote(verification) if verification else None,
        "seconds": {
            "charts": round(seconds["charts"], 4),
            "html": round(seconds["html"], 4),
            "pdf": 0.0,
        },
    }


def _write_index(
    sh: _Shared, folder: OutputFolder, unit_rows: list[dict[str, Any]], n_unplaced: int
) -> None:
    totals = {
        k: sum(u["counts"][k] for u in unit_rows)
        for k in ("total", "scored", "flagged", "new_flags", *TIERS)
    }
    if totals["total"] != len(sh.sf.frame):  # every household is in exactly one unit
        raise ReportInputError(
            f"Internal error: units account for {totals['total']} households but the score file has {len(sh.sf.frame)}."
        )
    index_html = (
        jinja_env()
        .get_template("index.html")
        .render(
            **sh.base_ctx,
            units=unit_rows,
            totals=totals,
            unplaced=n_unplaced,
            level_name=sh.t["levels"][sh.level],
            css_href="static/report.css",
        )
    )
    if sh.mode == "public":
        check_public_html(index_html, where="index")
    folder.path("index.html").write_text(index_html, encoding="utf-8")  # the index last


def _manifest(sh: _Shared, unit_rows: list[dict[str, Any]], n_unplaced: int) -> dict[str, Any]:
    keys = ("code", "name", "html", "pdf", "xlsx", "verification", "counts")
    return {
        "riskml_version": __version__,
        "kind": "review",
        "level": sh.level,
        "lang": sh.lang,
        "mode": sh.mode,
        "formats": list(sh.fmts),
        "pdf_engine": sh.config.pdf_engine if sh.pdf else None,
        "score_file": str(sh.sf.path) if sh.sf.path else None,
        "households": len(sh.sf.frame) + n_unplaced,
        "unplaced_households": n_unplaced,
        "units": [{k: u[k] for k in keys} for u in unit_rows],
        "cjk_font": sh.font.name,
    }


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
