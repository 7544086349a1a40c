"""Jinja2 environment, the static CSS, PDF writing (WeasyPrint) and the privacy guard."""

from __future__ import annotations

import multiprocessing
import os
import re
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from functools import lru_cache
from pathlib import Path
from typing import Any

from riskml.clock import beijing_now_text

__all__ = [
    "STATIC_CSS",
    "PdfWriter",
    "ReportPrivacyError",
    "check_public_html",
    "jinja_env",
    "now_text",
    "pdf_workers",
    "write_pdfs",
]

_HERE = Path(__file__).resolve().parent
TEMPLATES = _HERE / "templates"
STATIC_CSS = _HERE / "static" / "report.css"

# 18-character resident ID numbers (17 digits + check digit) and other long digit runs that look
# like ID or bank numbers; codes in reports are at most 12 digits (village codes).
_LONG_DIGITS = re.compile(r"(?<![0-9])[0-9]{15,17}[0-9Xx]?(?![0-9])")
_TOKENS = re.compile(r"[0-9A-Za-z_-]{5,}")


class ReportPrivacyError(RuntimeError):
    """A public report would show an id or an internal (sensitive) text; nothing is written."""


@lru_cache(maxsize=1)
def jinja_env() -> Any:
    """The report templates' environment: autoescape on, undefined names are errors."""
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=jinja2.select_autoescape(["html"], default=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def now_text() -> str:
    return beijing_now_text()


def check_public_html(
    html: str,
    *,
    where: str,
    household_ids: Iterable[str] = (),
    sensitive_texts: Iterable[str] = (),
) -> None:
    """Raise :class:`ReportPrivacyError` if a public page shows an id or an internal text.

    A last line of defence: public pages are built from masked ids and public texts only, so
    this never fires unless a template or a score file is wrong.
    """
    match = _LONG_DIGITS.search(html)
    if match:
        raise ReportPrivacyError(
            f"The public report {where} would show an ID-like number ({len(match.group())} digits); "
            "nothing was written. Public reports show masked household ids only."
        )
    ids = {
        str(i) for i in household_ids if i is not None and "*" not in str(i) and len(str(i)) >= 5
    }
    if ids:
        leaked = ids.intersection(_TOKENS.findall(html))
        if leaked:
            raise ReportPrivacyError(
                f"The public report {where} would show {len(leaked)} unmasked household id(s); nothing was written."
            )
    for text in sensitive_texts:
        if text and text in html:
            raise ReportPrivacyError(
                f"The public report {where} would show an internal reason text or measure (it can "
                "reveal health details), a head's name or a group (村民小组); nothing was written. Public reports use the public reason "
                "texts and measures only: score with 'riskml score --mode public' or report from the "
                "internal score file."
            )


class PdfWriter:
    """Writes PDFs with WeasyPrint, sharing one font configuration across documents."""

    def __init__(self) -> None:
        try:
            import weasyprint
            from weasyprint.text.fonts import FontConfiguration
        except (ImportError, OSError) as exc:
            raise RuntimeError(
                "PDF reports need WeasyPrint and its system libraries (pango): install them with "
                "`pip install 'riskml[reports]'` and `make sysdeps` (Debian: libpango-1.0-0 "
                f"libpangoft2-1.0-0), or ask for --format html only. ({type(exc).__name__}: {exc})"
            ) from exc
        self._weasyprint = weasyprint
        self._fonts = FontConfiguration()

    def write(self, html_path: Path, pdf_path: Path) -> Path:
        """Render the HTML file at ``html_path`` (relative links resolve beside it) to A4 PDF."""
        doc = self._weasyprint.HTML(filename=str(html_path), encoding="utf-8")
        doc.write_pdf(str(pdf_path), font_config=self._fonts)
        return pdf_path


def pdf_workers(requested: int | None) -> int:
    """Processes for PDF rendering: ``requested``, or up to 4 (one per core) when ``None``."""
    if requested is not None:
        if requested < 1:
            raise ValueError(f"--workers must be a positive number, got {requested}.")
        return requested
    return max(1, min(4, os.cpu_count() or 1))


_WORKER_WRITER: PdfWriter | None = None


def _pdf_job(job: tuple[str, str]) -> float:
    """Render one PDF in a worker process (its WeasyPrint is set up once per process)."""
    global _WORKER_WRITER
    if _WORKER_WRITER is None:
        _WORKER_WRITER = PdfWriter()
    started = time.perf_counter()
    _WORKER_WRITER.write(Path(job[0]), Path(job[1]))
    return time.perf_counter() - started


def write_pdfs(
    jobs: Sequence[tuple[Path, Path]], *, workers: int, writer: PdfWriter | None = None
) -> list[float]:
    """Render ``(html, pdf)`` pairs, in ``workers`` processes when there are enough of them.

    Returns the seconds each PDF took, in job order. WeasyPrint layout is CPU-bound Python, so
    separate processes (spawned, not forked) are what scales it over cores.
    """
    if not jobs:
        return []
    if workers <= 1 or len(jobs) < 2 * workers:
        writer = writer or PdfWriter()
        seconds = []
        for html_path, pdf_path in jobs:
            started = time.perf_counter()
            writer.write(html_path, pdf_path)
            seconds.append(time.perf_counter() - started)
        return seconds
    chunk = max(1, len(jobs) // (workers * 8))
    with ProcessPoolExecutor(
        max_workers=workers, mp_context=multiprocessing.get_context("spawn")
    ) as pool:
        return list(pool.map(_pdf_job, [(str(h), str(p)) for h, p in jobs], chunksize=chunk))
