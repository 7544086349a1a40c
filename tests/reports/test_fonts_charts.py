"""CJK fonts: found when installed, a clear error (never boxes) when not; charts draw Chinese."""

from __future__ import annotations

import re
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
import typst
from PIL import Image

from riskml.config.reports import load_reports_config
from riskml.reports import CJKFontNotFoundError, find_cjk_font, render_review_reports
from riskml.reports._charts import contribution_svg, reasons_by_type_svg
from riskml.reports._fonts import CJKFont
from tests.reports.conftest import needs


def test_a_cjk_font_is_installed_and_found() -> None:
    font = find_cjk_font()
    assert font.name in load_reports_config().cjk_fonts
    assert font.path.is_file()


def test_no_cjk_font_is_a_clear_error() -> None:
    with pytest.raises(
        CJKFontNotFoundError, match=r"No CJK font found: install fonts-wqy-microhei"
    ):
        find_cjk_font(font_list=[])


def test_no_cjk_font_stops_a_report_before_anything_is_written(
    internal_scores: Path, tmp_path: Path
) -> None:
    out = tmp_path / "reports"
    with pytest.raises(CJKFontNotFoundError, match="boxes"):
        render_review_reports(internal_scores, out, font_list=[])
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_only_latin_fonts_is_the_same_error() -> None:
    from matplotlib import font_manager

    latin = [f for f in font_manager.fontManager.ttflist if f.name.startswith("DejaVu")]
    assert latin
    with pytest.raises(CJKFontNotFoundError):
        find_cjk_font(font_list=latin)


def _svg_png(svg: str, tmp_path: Path, name: str, font: CJKFont) -> Path:
    """The SVG chart as the PDF shows it: typeset by Typst, rasterised by pdftoppm."""
    pdf = tmp_path / f"{name}.pdf"
    page = tmp_path / f"{name}.typ"
    (tmp_path / f"{name}.svg").write_text(svg, encoding="utf-8")
    page.write_text(f'#set page(width: auto, height: auto, margin: 0pt)\n#image("{name}.svg")\n')
    pdf.write_bytes(
        typst.Compiler(str(page), font_paths=[str(font.path.parent)]).compile(format="pdf")
    )
    subprocess.run(
        ["pdftoppm", "-r", "72", "-png", "-singlefile", str(pdf), str(tmp_path / name)], check=True
    )
    return tmp_path / f"{name}.png"


def _ink(path: Path) -> int:
    """Pixels that are not (near) white."""
    a = np.asarray(Image.open(path).convert("L"))
    return int((a < 200).sum())


@needs("pdftoppm")
def test_svg_charts_draw_chinese_text_that_the_pdf_keeps(tmp_path: Path) -> None:
    font = find_cjk_font()
    labels = ["因病", "因务工就业不稳", "Other <&>"]
    reasons = reasons_by_type_svg(labels, [5, 3, 1], xlabel="户数", font=font, colors=None)
    contrib = contribution_svg(
        ["1 · 000123", "2 · 000456"],
        np.array([[0.8, 0.2], [0.5, np.nan]]),
        np.array([["illness", "income"], ["disability", None]], dtype=object),
        {"illness": "因病", "income": "收入下降", "disability": "因残"},
        {"illness": "#c0392b"},
        xlabel="各原因占本户所列原因影响的比例",
        font=font,
    )
    for svg in (reasons, contrib):
        ET.fromstring(svg)  # well-formed: labels are escaped
    assert "Other &lt;&amp;&gt;" in reasons and "因务工就业不稳" in reasons
    assert all(label in contrib for label in ("因病", "收入下降", "因残", "100%"))
    assert _ink(_svg_png(reasons, tmp_path, "r", font)) > 1500
    assert _ink(_svg_png(contrib, tmp_path, "c", font)) > 1500
    text = subprocess.run(
        ["pdftotext", str(tmp_path / "r.pdf"), "-"], check=True, capture_output=True, text=True
    ).stdout
    assert "因务工就业不稳" in text.replace(" ", "").replace("\n", "")


def test_svg_bars_are_proportional_to_the_counts() -> None:
    svg = reasons_by_type_svg(["a", "b"], [4, 2], xlabel="n", font=find_cjk_font())
    widths = [float(w) for w in re.findall(r'<rect x="[0-9.]+" y="[0-9.]+" width="([0-9.]+)"', svg)]
    assert len(widths) == 2 and widths[0] == pytest.approx(2 * widths[1], rel=0.01)
