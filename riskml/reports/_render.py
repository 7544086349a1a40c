"""Jinja2 environment, the static CSS, PDF writing (WeasyPrint) and the privacy guard."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

__all__ = [
    "STATIC_CSS",
    "PdfWriter",
    "ReportPrivacyError",
    "check_public_html",
    "jinja_env",
    "now_text",
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
    return datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z").strip()


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
    ids = {str(i) for i in household_ids if i is not None and "*" not in str(i) and len(str(i)) >= 5}
    if ids:
        leaked = ids.intersection(_TOKENS.findall(html))
        if leaked:
            raise ReportPrivacyError(
                f"The public report {where} would show {len(leaked)} unmasked household id(s); nothing was written."
            )
    for text in sensitive_texts:
        if text and text in html:
            raise ReportPrivacyError(
                f"The public report {where} would show an internal reason text (it may hold health "
                "details); nothing was written. Public reports use the public reason texts only."
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
