"""Charts for the reports: matplotlib (Agg, no pyplot state) to PNG, Chinese in a CJK font.

``rcParams["font.family"] = ["DejaVu Sans", <cjk>]`` makes matplotlib fall back per character:
Latin letters and digits come from DejaVu Sans, Chinese from the CJK font. The settings are
applied inside :func:`matplotlib.rc_context`, so nothing global changes.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from html import escape
from pathlib import Path
from typing import Any

import numpy as np

from riskml.reports._fonts import CJKFont

__all__ = [
    "chart_style",
    "contribution_svg",
    "reasons_by_type_svg",
    "save_figure",
    "wrap_label",
]

_BAR_COLOR = "#2f6f9f"


@contextmanager
def chart_style(font: CJKFont) -> Iterator[None]:
    """matplotlib settings for report charts with ``font`` as the CJK fallback."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    with matplotlib.rc_context(
        {
            "font.family": ["DejaVu Sans", font.name],
            "axes.unicode_minus": False,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "font.size": 10,
            "svg.fonttype": "path",
        }
    ):
        yield


def _figure(width_in: float, height_in: float) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width_in, height_in), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def save_figure(fig: Any, path: Path, *, dpi: int) -> Path:
    """Save ``fig`` as PNG at ``path`` (the caller has checked the path is inside the output)."""
    # constrained layout already fits the labels: no bbox_inches="tight" (it draws twice)
    fig.savefig(path, format="png", dpi=dpi, facecolor="white")
    return path


_LABEL_WIDTH = 30
"""Widest bar label, in Latin-letter widths (a Chinese character counts two): longer labels (the
public wording of a reason can be a whole sentence) are wrapped, at most three lines."""


def wrap_label(label: str, width: int = _LABEL_WIDTH, max_lines: int = 3) -> str:
    r"""``label`` broken into lines of at most ``width`` (CJK characters count two), ending in
    "…" when it needs more than ``max_lines`` lines. Breaks after spaces and punctuation where it
    can, else anywhere (Chinese has no spaces).

    Examples
    --------
    >>> wrap_label("因病")
    '因病'
    >>> wrap_label("近12个月（截至 2025 年 12 月）家庭医疗自付费用较高", width=20)
    '近12个月（截至 2025 \n年 12 月）家庭医疗自\n付费用较高'
    """
    lines: list[str] = []
    line, w = "", 0
    for ch in str(label):
        cw = 2 if ord(ch) > 0x2E7F else 1
        if w + cw > width and line:
            lines.append(line)
            line, w = "", 0
            if ch == " ":
                continue
        line += ch
        w += cw
    if line:
        lines.append(line)
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = lines[-1][:-1] + "…"
    return "\n".join(lines)


# --- Review-report charts as SVG text (no matplotlib) --------------------------------------
# Drawn once per unit, written beside the HTML (``<img>``) and embedded in the PDF (Typst renders
# the same SVG, its text in the same fonts): a few milliseconds instead of a matplotlib figure.

_PX = 96  # SVG user units per inch
_FONT_PX = 13.0  # 10 pt
_TICK_COLOR = "#333333"


def _text_px(text: str, size: float = _FONT_PX) -> float:
    """Estimated width of ``text`` (CJK characters one em, others about 0.6 em)."""
    return sum(size if ord(ch) > 0x2E7F else 0.6 * size for ch in text)


def _nice_ticks(top: float, *, integer: bool) -> list[float]:
    """About five round tick values from 0 to ``top``."""
    if top <= 0:
        return [0.0]
    raw = top / 5
    mag = 10 ** np.floor(np.log10(raw))
    step = float(next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw))
    if integer:
        step = max(1.0, float(np.ceil(step)))
    return [i * step for i in range(int(np.floor(top / step + 1e-9)) + 1)]


def _svg_open(width: float, height: float, font: CJKFont) -> list[str]:
    family = escape(f"{font.name}, DejaVu Sans, sans-serif")
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="{family}" font-size="{_FONT_PX:g}" '
        f'fill="{_TICK_COLOR}">',
        f'<rect width="{width:.0f}" height="{height:.0f}" fill="#ffffff"/>',
    ]


def _svg_label(x: float, y: float, text: str, anchor: str = "end", size: float = _FONT_PX) -> str:
    """A right-aligned (by default) label, one ``<tspan>`` per line, vertically centred on y."""
    lines = text.split("\n")
    top = y - (len(lines) - 1) * size * 0.6 + size * 0.35
    spans = "".join(
        f'<tspan x="{x:.1f}" y="{top + i * size * 1.2:.1f}">{escape(line)}</tspan>'
        for i, line in enumerate(lines)
    )
    return f'<text text-anchor="{anchor}" font-size="{size:g}">{spans}</text>'


def _x_axis(
    parts: list[str], x0: float, x1: float, y: float, ticks: list[tuple[float, str]], label: str
) -> None:
    parts.append(f'<line x1="{x0:.1f}" y1="{y:.1f}" x2="{x1:.1f}" y2="{y:.1f}" stroke="#333"/>')
    for x, text in ticks:
        parts.append(
            f'<line x1="{x:.1f}" y1="{y:.1f}" x2="{x:.1f}" y2="{y + 4:.1f}" stroke="#333"/>'
        )
        parts.append(_svg_label(x, y + 13, text, anchor="middle", size=_FONT_PX * 0.9))
    parts.append(_svg_label((x0 + x1) / 2, y + 32, label, anchor="middle"))


def reasons_by_type_svg(
    labels: Sequence[str],
    counts: Sequence[int],
    *,
    xlabel: str,
    colors: Sequence[str] | None = None,
    font: CJKFont,
    width_in: float = 7.0,
) -> str:
    """Horizontal bars, households per reason (largest on top), as SVG text.

    The same chart as the matplotlib version it replaces: wrapped labels on the left, the count
    at the end of each bar, an integer axis with its label below.
    """
    wrapped = [wrap_label(label) for label in labels]
    n_lines = [w.count("\n") + 1 for w in wrapped]
    width = width_in * _PX
    left = 12 + max([_text_px(line) for w in wrapped for line in w.split("\n")] or [0])
    right = width - 16
    row = 0.32 * _PX
    rows_h = [row + (k - 1) * 0.17 * _PX for k in n_lines]
    top = 10.0
    height = top + sum(rows_h) + 52
    top_count = max([*counts, 1]) * 1.15
    scale = (right - left) / top_count
    parts = _svg_open(width, height, font)
    y = top
    for label, count, color, h in zip(
        wrapped, counts, colors or [_BAR_COLOR] * len(wrapped), rows_h, strict=True
    ):
        mid = y + h / 2
        bar_h = 0.65 * row
        parts.append(
            f'<rect x="{left:.1f}" y="{mid - bar_h / 2:.1f}" width="{count * scale:.1f}" '
            f'height="{bar_h:.1f}" fill="{escape(color)}"/>'
        )
        parts.append(_svg_label(left - 6, mid, label))
        parts.append(_svg_label(left + count * scale + 4, mid, str(count), anchor="start"))
        y += h
    ticks = [(left + v * scale, f"{v:g}") for v in _nice_ticks(top_count, integer=True)]
    _x_axis(parts, left, right, y + 4, ticks, xlabel)
    parts.append("</svg>")
    return "".join(parts)


def _legend(
    items: dict[str, str], labels: dict[str, str], x0: float, x1: float
) -> list[tuple[float, int, str, str]]:
    """Legend entries laid out in rows: (x, row, label, colour)."""
    out, x, line = [], x0, 0
    for code, color in items.items():
        text = labels.get(code, code)
        w = 30 + _text_px(text, 10.5)
        if x > x0 and x + w > x1:
            x, line = x0, line + 1
        out.append((x, line, text, color))
        x += w
    return out


def contribution_svg(
    row_labels: Sequence[str],
    contributions: np.ndarray,
    segment_types: np.ndarray,
    type_labels: dict[str, str],
    type_colors: dict[str, str],
    *,
    xlabel: str,
    font: CJKFont,
    other_color: str = "#9e9e9e",
    width_in: float = 7.0,
) -> str:
    """Per-household stacked bars of each reason's share (0..1, a percent axis), as SVG text:
    one row per household (top row first), a legend of the risk types below."""
    shares = np.where(np.isfinite(contributions), np.clip(contributions, 0, None), 0.0)
    width = width_in * _PX
    left = 12 + max([_text_px(str(label)) for label in row_labels] or [0])
    right, row, top = width - 16, 0.3 * _PX, 8.0
    bars: list[str] = []
    seen: dict[str, str] = {}
    for i, label in enumerate(row_labels):
        mid, x = top + (i + 0.5) * row, left
        for w, code in zip(shares[i].tolist(), segment_types[i].tolist(), strict=True):
            if w > 0 and code is not None and code == code:
                color = seen.setdefault(str(code), type_colors.get(str(code), other_color))
                bars.append(
                    f'<rect x="{x:.1f}" y="{mid - 0.35 * row:.1f}" width="{w * (right - left):.1f}" '
                    f'height="{0.7 * row:.1f}" fill="{escape(color)}" stroke="#ffffff" '
                    'stroke-width="0.5"/>'
                )
            x += w * (right - left) if w > 0 else 0.0
        bars.append(_svg_label(left - 6, mid, str(label)))
    axis_y = top + len(row_labels) * row + 4
    legend = _legend(seen, type_labels, left, right)
    height = axis_y + 48 + 16 * (max([e[1] for e in legend], default=-1) + 1)
    parts = [*_svg_open(width, height, font), *bars]
    ticks = [(left + v * (right - left), f"{v * 100:.0f}%") for v in np.linspace(0, 1, 6)]
    _x_axis(parts, left, right, axis_y, ticks, xlabel)
    for x, line, text, color in legend:
        y = axis_y + 48 + 16 * line
        parts.append(
            f'<rect x="{x:.1f}" y="{y - 9:.1f}" width="10" height="10" fill="{escape(color)}"/>'
        )
        parts.append(_svg_label(x + 14, y - 4, text, anchor="start", size=10.5))
    parts.append("</svg>")
    return "".join(parts)
