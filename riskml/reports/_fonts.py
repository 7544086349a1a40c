"""Finding a CJK font, so that Chinese renders as Chinese and never as boxes.

matplotlib's font manager is the source of truth for charts; HTML and PDF engines find the same
system fonts through fontconfig by family name (the stack is in ``static/report.css``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["CJKFont", "CJKFontNotFoundError", "find_cjk_font"]

_INSTALL_HINT = (
    "install fonts-wqy-microhei (Debian/Ubuntu: `apt-get install fonts-wqy-microhei`, or "
    "`make sysdeps`) or fonts-noto-cjk, then clear matplotlib's font cache "
    "(`rm -rf ~/.cache/matplotlib`) so it sees the new font"
)


class CJKFontNotFoundError(RuntimeError):
    """No CJK font is installed: Chinese text would print as boxes, so riskml refuses."""


@dataclass(frozen=True)
class CJKFont:
    """An installed CJK font: its family name (as fontconfig and matplotlib know it) and file."""

    name: str
    path: Path


def find_cjk_font(
    font_list: Sequence[Any] | None = None,
    preferred: Sequence[str] | None = None,
) -> CJKFont:
    """Return the first installed CJK font from ``preferred``.

    Parameters
    ----------
    font_list
        Font entries to search (objects with ``.name`` and ``.fname``, like
        ``matplotlib.font_manager.fontManager.ttflist``). ``None`` searches the fonts
        matplotlib knows. Tests pass an empty list to simulate a machine without CJK fonts.
    preferred
        Family names in order of preference; defaults to ``cjk_fonts`` in
        ``configs/reports.yaml``.

    Raises
    ------
    CJKFontNotFoundError
        When none of the preferred families is installed.

    Examples
    --------
    >>> find_cjk_font().name  # doctest: +SKIP
    'WenQuanYi Micro Hei'
    >>> find_cjk_font(font_list=[])  # doctest: +SKIP
    Traceback (most recent call last):
    CJKFontNotFoundError: No CJK font found: install fonts-wqy-microhei ...
    """
    if preferred is None:
        from riskml.config.reports import load_reports_config

        preferred = load_reports_config().cjk_fonts
    if font_list is not None:
        found = _first_match(font_list, preferred)
        n_known = len({str(e.name) for e in font_list})
    else:
        from matplotlib import font_manager

        found = _first_match(font_manager.fontManager.ttflist, preferred)
        if found is None and _add_new_system_fonts(font_manager):
            # matplotlib's font cache predates the font's installation: rescanned above.
            found = _first_match(font_manager.fontManager.ttflist, preferred)
        n_known = len({e.name for e in font_manager.fontManager.ttflist})
    if found is not None:
        return found
    raise CJKFontNotFoundError(
        f"No CJK font found: {_INSTALL_HINT}. Looked for {list(preferred)} among "
        f"{n_known} installed font families; Chinese text would otherwise print as boxes."
    )


def _first_match(font_list: Sequence[Any], preferred: Sequence[str]) -> CJKFont | None:
    by_name: dict[str, str] = {}
    for entry in font_list:
        by_name.setdefault(str(entry.name).casefold(), str(entry.fname))
    for name in preferred:
        fname = by_name.get(name.casefold())
        if fname is not None and Path(fname).is_file():
            return CJKFont(name=name, path=Path(fname))
    return None


def _add_new_system_fonts(font_manager: Any) -> bool:
    """Register system fonts matplotlib's cached font list does not know yet; True if any."""
    known = {str(e.fname) for e in font_manager.fontManager.ttflist}
    added = False
    for path in font_manager.findSystemFonts():
        if path not in known:
            try:
                font_manager.fontManager.addfont(path)
            except (OSError, RuntimeError, ValueError):  # unreadable font file: skip it
                continue
            added = True
    return added
