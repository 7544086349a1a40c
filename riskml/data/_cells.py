"""Spreadsheet cells that are safe to open: text stays text (CSV / formula injection).

Text in a bundle comes from exports riskml does not control. A village name such as
``=HYPERLINK("http://…","点我")`` or ``@SUM(1+1)*cmd|' /C calc'!A0`` written as-is into a CSV or
an ``.xlsx`` becomes a live formula when a cadre opens the file in Excel or WPS. Every
spreadsheet riskml writes for people (score CSV/Excel, registration workbooks, quarantine CSVs)
passes its text cells through :func:`neutralise_cell`, as OWASP recommends
(https://owasp.org/www-community/attacks/CSV_Injection): a text that starts with ``=``, ``+``,
``-``, ``@``, a tab or a carriage return gets a leading single quote ``'``, so the spreadsheet
shows it as text. A text that is just a number (``-1``, ``+2.5``, ``-3e5``) is left alone: it
cannot run anything, and a quarantined ``-1`` should read as ``-1``.

The rule is reversible. A text that already starts with ``'`` gets one more quote too, so in a
cell written by riskml **every** leading quote means "one quote was added": :func:`restore_cell`
removes exactly one, and ``riskml.scoring.read_scores`` (and ``riskml reviews import``) read back
the original text. Only text cells are touched; numbers, dates and booleans are written as such.

Bundle files written by ``riskml.data.write_bundle`` are data interchange, read back by the
loader, and are **not** quoted (the loader cannot know whether a leading quote was added); their
Excel cells are nevertheless stored as text cells, never as formulas.
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

__all__ = [
    "FORMULA_TRIGGERS",
    "NEUTRALISING_QUOTE",
    "excel_row",
    "neutralise_cell",
    "neutralise_frame",
    "restore_cell",
    "restore_frame",
]

FORMULA_TRIGGERS: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r")
"""First characters that make Excel/WPS read a cell as a formula (OWASP)."""
NEUTRALISING_QUOTE = "'"
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def neutralise_cell(value: Any) -> Any:
    """``value`` with a leading ``'`` if it is text starting with a formula trigger or a quote
    (plain numbers such as ``-1`` excepted).

    Examples
    --------
    >>> neutralise_cell('=HYPERLINK("http://x","点我")')
    '\\'=HYPERLINK("http://x","点我")'
    >>> neutralise_cell("嘎查11"), neutralise_cell("-3.5"), neutralise_cell("-2+3")
    ('嘎查11', '-3.5', "'-2+3")
    """
    if not isinstance(value, str) or not value:
        return value
    if value[0] == NEUTRALISING_QUOTE or (
        value[0] in FORMULA_TRIGGERS and not _PLAIN_NUMBER.fullmatch(value)
    ):
        return NEUTRALISING_QUOTE + value
    return value


def restore_cell(value: Any) -> Any:
    """Undo :func:`neutralise_cell`: one leading ``'`` removed from text (only for cells riskml wrote)."""
    if isinstance(value, str) and value.startswith(NEUTRALISING_QUOTE):
        return value[1:]
    return value


def _map_text(frame: pd.DataFrame, func: Any, columns: list[str] | None) -> pd.DataFrame:
    out = frame.copy()
    for col in columns if columns is not None else list(out.columns):
        s = out[col]
        if s.dtype == object or isinstance(s.dtype, pd.StringDtype | pd.CategoricalDtype):
            values = s.astype(object)
            out[col] = values.where(values.isna(), values.map(func, na_action="ignore"))
    return out


def neutralise_frame(frame: pd.DataFrame, columns: list[str] | None = None) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells (object/string/category columns) are neutralised.

    Text columns come back as ``object``; numeric, date and boolean columns are unchanged.
    """
    return _map_text(frame, neutralise_cell, columns)


def restore_frame(frame: pd.DataFrame, columns: list[str] | None = None) -> pd.DataFrame:
    """A copy of ``frame`` with :func:`restore_cell` applied to its text cells."""
    return _map_text(frame, restore_cell, columns)


def excel_row(ws: Any, values: list[Any]) -> list[Any]:
    """``values`` ready for ``ws.append`` so that every ``str`` is stored as a text cell.

    openpyxl turns a string starting with ``=`` into a formula and ``#N/A``-like strings into
    error cells; those values are wrapped in a cell whose type is forced to text (works for
    write-only and normal worksheets). Neutralise first (:func:`neutralise_cell`) when the file is
    meant for people; this only guarantees text stays text.
    """
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ERROR_CODES

    out: list[Any] = []
    for v in values:
        if isinstance(v, str) and ((len(v) > 1 and v.startswith("=")) or v in ERROR_CODES):
            cell = WriteOnlyCell(ws, value=v)
            cell.data_type = "s"
            out.append(cell)
        else:
            out.append(v)
    return out
