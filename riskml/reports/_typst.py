"""PDF review lists and verification sheets through Typst (``templates/typst/*.typ``).

The HTML pages are Jinja templates; their PDFs are typeset by Typst from the same page data
(passed as JSON through ``sys.inputs``), not by laying out the HTML: a page takes about a
millisecond instead of WeasyPrint's 0.3 s, which is what makes a province's review pack (every
village's list plus one verification sheet per flagged household) fit in minutes. Nothing is
downloaded: the templates use no Typst packages, and the fonts are the system's (the CJK font
found by :func:`riskml.reports.find_cjk_font`, DejaVu for Latin text and ids). Typst embeds
them as subsets, and the text stays extractable.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from riskml.reports._fonts import CJKFont
from riskml.reports._render import TEMPLATES

__all__ = ["TYPST_KINDS", "TypstWriter", "typst_fonts"]

TYPST_DIR = TEMPLATES / "typst"
TYPST_KINDS = ("unit", "verification")


def typst_fonts(font: CJKFont, lang: str) -> list[str]:
    """The font stack of a page: as ``static/report.css`` (the CJK font first for Chinese)."""
    return [font.name, "DejaVu Sans"] if lang == "zh" else ["DejaVu Sans", font.name]


class TypstWriter:
    """Typesets review pages with one reused Typst compiler per template (fonts load once)."""

    def __init__(self, font: CJKFont) -> None:
        try:
            import typst
        except ImportError as exc:
            raise RuntimeError(
                "PDF review reports need the typst package: install it with "
                "`pip install 'riskml[reports]'`, or set pdf_engine: weasyprint in "
                f"configs/reports.yaml, or ask for --format html only. ({exc})"
            ) from exc
        self._compilers = {
            kind: typst.Compiler(
                str(TYPST_DIR / f"{kind}.typ"),
                root=str(TYPST_DIR),
                font_paths=[str(font.path.parent)],
            )
            for kind in TYPST_KINDS
        }

    def write(self, kind: str, data: dict[str, Any] | str, pdf_path: Path) -> Path:
        """Typeset ``data`` (a page's JSON-able data, or its JSON text) with template ``kind``."""
        text = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
        pdf = self._compilers[kind].compile(format="pdf", sys_inputs={"data": text})
        if not isinstance(pdf, bytes):  # PDF output is one document, never pages
            raise TypeError(f"Typst returned {type(pdf).__name__} for a PDF")
        pdf_path.write_bytes(pdf)
        return pdf_path
