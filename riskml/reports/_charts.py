"""Charts for the reports: matplotlib (Agg, no pyplot state) to PNG, Chinese in a CJK font.

``rcParams["font.family"] = ["DejaVu Sans", <cjk>]`` makes matplotlib fall back per character:
Latin letters and digits come from DejaVu Sans, Chinese from the CJK font. The settings are
applied inside :func:`matplotlib.rc_context`, so nothing global changes.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from riskml.reports._fonts import CJKFont

__all__ = ["chart_style", "contribution_chart", "reasons_by_type_chart", "save_figure"]

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


def reasons_by_type_chart(
    labels: Sequence[str],
    counts: Sequence[int],
    path: Path,
    *,
    xlabel: str,
    colors: Sequence[str] | None = None,
    font: CJKFont,
    width_in: float = 7.0,
    dpi: int = 110,
) -> Path:
    """Horizontal bars: households per reason (risk type), largest on top.

    Parameters
    ----------
    labels, counts
        One bar per label, already in display order (largest first).
    path
        PNG file to write.
    xlabel
        Axis label (e.g. "户数").
    colors
        One colour per bar; a single colour when ``None``.
    font
        The CJK font (see :func:`riskml.reports.find_cjk_font`).
    """

    n = len(labels)
    wrapped = [wrap_label(label) for label in labels]
    lines = sum(max(1, w.count("\n") + 1) for w in wrapped)
    with chart_style(font):
        fig = _figure(width_in, 0.8 + 0.32 * max(n, 1) + 0.17 * (lines - n))
        ax = fig.add_subplot()
        y = np.arange(n)[::-1]
        bars = ax.barh(y, list(counts), color=list(colors) if colors else _BAR_COLOR, height=0.65)
        ax.set_yticks(y, labels=wrapped)
        ax.set_xlabel(xlabel)
        ax.bar_label(bars, padding=3)
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.set_xlim(0, max([*counts, 1]) * 1.15)
        return save_figure(fig, path, dpi=dpi)


def contribution_chart(
    row_labels: Sequence[str],
    contributions: np.ndarray,
    segment_types: np.ndarray,
    type_labels: dict[str, str],
    type_colors: dict[str, str],
    path: Path,
    *,
    xlabel: str,
    font: CJKFont,
    other_color: str = "#9e9e9e",
    width_in: float = 7.0,
    dpi: int = 110,
) -> Path:
    """Per-household stacked bars of reason contributions (log-odds), one row per household.

    Parameters
    ----------
    row_labels
        One label per household, top row first (e.g. "1 ·…0006").
    contributions
        ``(n_households, n_reasons)`` each reason's share of the household's stated reasons
        (0..1; NaN where a reason is absent). Drawn as stacked bars on a percent axis: raw
        log-odds are never shown.
    segment_types
        ``(n_households, n_reasons)`` risk type codes (or any key of ``type_labels``).
    type_labels, type_colors
        Legend label and colour per type.
    """
    n = len(row_labels)
    contributions = np.where(np.isfinite(contributions), np.clip(contributions, 0, None), 0.0)
    with chart_style(font):
        fig = _figure(width_in, 1.2 + 0.3 * max(n, 1))
        ax = fig.add_subplot()
        y = np.arange(n)[::-1]
        left = np.zeros(n)
        seen: dict[str, Any] = {}
        for k in range(contributions.shape[1]):
            widths = contributions[:, k]
            types = segment_types[:, k]
            for code in [t for t in dict.fromkeys(types.tolist()) if t is not None and t == t]:
                mask = (types == code) & (widths > 0)
                if not mask.any():
                    continue
                handle = ax.barh(
                    y[mask],
                    widths[mask],
                    left=left[mask],
                    color=type_colors.get(str(code), other_color),
                    edgecolor="white",
                    linewidth=0.5,
                    height=0.7,
                )
                seen.setdefault(str(code), handle)
            left += widths
        ax.set_yticks(y, labels=list(row_labels))
        ax.set_xlabel(xlabel)
        ax.set_xlim(0, 1.0)
        from matplotlib.ticker import PercentFormatter

        ax.xaxis.set_major_formatter(PercentFormatter(1.0))
        if seen:
            fig.legend(
                list(seen.values()),
                [type_labels.get(code, code) for code in seen],
                loc="outside lower center",
                ncol=min(len(seen), 5),
                fontsize=8,
                frameon=False,
            )
        return save_figure(fig, path, dpi=dpi)
