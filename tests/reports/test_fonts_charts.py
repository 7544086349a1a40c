"""CJK fonts: found when installed, a clear error (never boxes) when not; charts draw Chinese."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from riskml.config.reports import load_reports_config
from riskml.reports import CJKFontNotFoundError, find_cjk_font, render_review_reports
from riskml.reports._charts import contribution_chart, reasons_by_type_chart


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


def _ink(path: Path) -> int:
    """Pixels that are not (near) white."""
    a = np.asarray(Image.open(path).convert("L"))
    return int((a < 200).sum())


def test_charts_draw_chinese_without_missing_glyphs(tmp_path: Path) -> None:
    font = find_cjk_font()
    labels = ["因病", "因务工就业不稳", "Other"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib warns "Glyph ... missing from font(s)"
        p1 = reasons_by_type_chart(labels, [5, 3, 1], tmp_path / "r.png", xlabel="户数", font=font)
        p2 = contribution_chart(
            ["1 · 000123", "2 · 000456"],
            np.array([[0.8, 0.3], [0.5, np.nan]]),
            np.array([["illness", "income"], ["disability", None]], dtype=object),
            {"illness": "因病", "income": "收入下降", "disability": "因残"},
            {"illness": "#c0392b"},
            tmp_path / "c.png",
            xlabel="对风险的贡献（对数几率）",
            font=font,
        )
    assert _ink(p1) > 2000 and _ink(p2) > 2000


def test_chinese_labels_differ_from_what_a_latin_only_font_would_draw(tmp_path: Path) -> None:
    """The CJK font really draws the glyphs: a Latin-only rendering (boxes) looks different."""
    from riskml.reports._fonts import CJKFont

    font = find_cjk_font()
    good = reasons_by_type_chart(
        ["因病因残因灾"], [3], tmp_path / "good.png", xlabel="户数", font=font
    )
    dejavu = CJKFont(name="DejaVu Sans", path=font.path)  # a 'CJK' font that has no CJK glyphs
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the missing-glyph warnings are the point here
        boxes = reasons_by_type_chart(
            ["因病因残因灾"], [3], tmp_path / "boxes.png", xlabel="户数", font=dejavu
        )
    a = np.asarray(Image.open(good).convert("L"), dtype=int)
    b = np.asarray(Image.open(boxes).convert("L"), dtype=int)
    assert a.shape == b.shape
    assert (np.abs(a - b) > 60).sum() > 200
