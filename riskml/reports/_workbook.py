"""The registration workbook (核实登记表) of a report unit: one row per flagged household.

``riskml report --mode internal --format xlsx`` writes one per unit. The cadres fill in the
five blank columns (核实日期, 核实人, 核实结论, 风险类型, 备注) in Excel or WPS and hand it back
to ``riskml reviews import``, which reads it with the same layout constants
(:data:`riskml.data.REGISTRATION_COLUMNS`, :data:`~riskml.data.CONCLUSIONS_ZH`,
:func:`~riskml.data.risk_types_zh`): writer and reader cannot drift apart.

The sheet:

- a title line (unit, as-of date, "internal material"), then the header row (frozen);
- household ids and every other text stored as text cells (``number_format '@'``), passed through
  :func:`riskml.data._cells.neutralise_cell` (a village name such as ``=HYPERLINK(…)`` cannot
  become a formula): no cell holds a formula;
- 核实结论 and 风险类型 as drop-down lists of exactly the allowed values;
- the sheet protected (no password: it guards against accidental edits of the list, not against
  a determined user) with only the cadre columns' cells of the listed rows unlocked; resizing
  columns and rows stays allowed;
- printed landscape, one page wide, the header repeated on every page;
- the instructions as notes on the header cells (one sheet only: ``reviews import`` reads every
  sheet and reports sheets without the header as skipped).

Internal material only: it names households by their full id and states the internal reasons
(health facts). Public mode refuses ``--format xlsx``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from riskml.data import (
    CONCLUSIONS_ZH,
    REGISTRATION_CADRE_COLUMNS,
    REGISTRATION_COLUMNS,
    risk_types_zh,
)
from riskml.data._cells import neutralise_cell

__all__ = ["REGISTRATION_SHEET_TITLE", "write_registration_workbook"]

REGISTRATION_SHEET_TITLE = "核实登记表"
_WIDTHS: dict[str, float] = {
    "户编号": 22,
    "嘎查村": 14,
    "村民小组": 10,
    "风险等级": 9,
    "排名": 6,
    "风险原因": 48,
    "建议帮扶措施": 28,
    "核实日期": 12,
    "核实人": 10,
    "核实结论": 14,
    "风险类型": 16,
    "备注": 28,
}
_INLINE_LIST_LIMIT = 255  # Excel's limit for a list typed into the validation itself
_HEADER_NOTES: dict[str, str] = {
    "户编号": "左侧七列由系统生成，已锁定，请勿修改；数据有误请在系统中更正。本表为内部工作材料，"
    "含户编号和健康等敏感信息，不得张贴、公示或外传。",
    "核实日期": "入户核实的日期，如 2025-07-15。",
    "核实结论": "从下拉列表选择：" + "、".join(CONCLUSIONS_ZH) + "。填好后保存为 .xlsx，交乡镇用 "
    "riskml reviews import 导入。",
    "风险类型": "从下拉列表选择；纳入监测对象时必填。",
}
"""Instructions as header-cell notes (a separate instructions sheet would be reported by
``reviews import`` as a skipped sheet)."""


def _display_width(text: str) -> int:
    """Approximate width in Excel character units (CJK and full-width characters count two)."""
    return sum(2 if ord(ch) > 0x2E7F else 1 for ch in text)


def _row_height(values: Sequence[Any]) -> float:
    """A row height (points) that shows every wrapped cell whole: Excel, WPS and LibreOffice do
    not grow rows of a generated file by themselves."""
    lines = 1
    for name, v in zip(REGISTRATION_COLUMNS, values, strict=False):
        if v is None:
            continue
        usable = max(1.0, _WIDTHS.get(name, 12) - 1.5)
        lines = max(lines, -(-_display_width(str(v)) // int(usable)))
    return 15.0 * lines + 3


def _text_cell(cell: Any, value: Any) -> None:
    """Store ``value`` as a text cell (neutralised; ``None`` stays empty)."""
    if value is None:
        return
    cell.value = neutralise_cell(str(value))
    cell.data_type = "s"  # never a formula or an error value
    cell.number_format = "@"


def _list_validation(ws: Any, name: str, items: Sequence[str], column_letter: str) -> Any:
    """A drop-down of exactly ``items`` (inline when short enough, else from a hidden sheet)."""
    from openpyxl.worksheet.datavalidation import DataValidation

    inline = ",".join(items)
    if len(inline) <= _INLINE_LIST_LIMIT and not any("," in i or '"' in i for i in items):
        formula = f'"{inline}"'
    else:  # pragma: no cover - the official lists are short
        wb = ws.parent
        lists = wb["选项"] if "选项" in wb.sheetnames else wb.create_sheet("选项")
        lists.sheet_state = "hidden"
        col = lists.max_column + (1 if lists.max_row > 1 or lists["A1"].value else 0)
        for r, item in enumerate(items, start=1):
            _text_cell(lists.cell(row=r, column=col), item)
        from openpyxl.utils import get_column_letter

        letter = get_column_letter(col)
        formula = f"选项!${letter}$1:${letter}${len(items)}"
    dv = DataValidation(
        type="list",
        formula1=formula,
        allow_blank=True,
        showDropDown=False,  # openpyxl's inverted flag: False shows the arrow
        showErrorMessage=True,
        errorTitle=name,
        error=f"请从下拉列表中选择{name}。",
        showInputMessage=True,
        promptTitle=name,
        prompt="请从下拉列表中选择",
    )
    ws.add_data_validation(dv)
    return dv


def write_registration_workbook(
    path: Path,
    rows: Sequence[Sequence[Any]],
    *,
    title: str,
) -> Path:
    """Write a 核实登记表 to ``path``.

    Parameters
    ----------
    path
        The ``.xlsx`` file to write.
    rows
        One sequence per household in :data:`riskml.data.REGISTRATION_FIXED_COLUMNS` order
        (户编号, 嘎查村, 村民小组, 风险等级, 排名, 风险原因, 建议帮扶措施); ``None`` for unknown.
    title
        The title line above the header (unit and as-of date).
    """
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = REGISTRATION_SHEET_TITLE
    _title_row(ws, title)
    _header_row(ws, _HEADER_ROW)
    for i, values in enumerate(rows):
        _household_row(ws, _FIRST_ROW + i, values)
    if rows:
        _conclusion_lists(ws, _FIRST_ROW, _FIRST_ROW + len(rows) - 1)
    _print_and_protect(ws)
    wb.active = 0
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path


_HEADER_ROW, _FIRST_ROW = 2, 3
_N_FIXED = len(REGISTRATION_COLUMNS) - len(REGISTRATION_CADRE_COLUMNS)


def _border() -> Any:
    from openpyxl.styles import Border, Side

    thin = Side(style="thin", color="9AA5AE")
    return Border(left=thin, right=thin, top=thin, bottom=thin)


def _title_row(ws: Any, title: str) -> None:
    from openpyxl.styles import Font

    _text_cell(ws.cell(row=1, column=1), title)
    ws.cell(row=1, column=1).font = Font(bold=True, size=13)
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(REGISTRATION_COLUMNS))
    ws.row_dimensions[1].height = 22


def _header_row(ws: Any, header_row: int) -> None:
    """Column names: riskml's columns shaded blue-grey, the cadres' yellow, with notes."""
    from openpyxl.comments import Comment
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    fixed_fill = PatternFill("solid", fgColor="E8EEF3")
    cadre_fill = PatternFill("solid", fgColor="FFF2CC")
    for j, name in enumerate(REGISTRATION_COLUMNS, start=1):
        cell = ws.cell(row=header_row, column=j)
        _text_cell(cell, name)
        cell.font = Font(bold=True)
        cell.fill = fixed_fill if j <= _N_FIXED else cadre_fill
        cell.border = _border()
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        ws.column_dimensions[get_column_letter(j)].width = _WIDTHS.get(name, 12)
        if name in _HEADER_NOTES:
            cell.comment = Comment(_HEADER_NOTES[name], "riskml", width=320, height=110)


def _household_row(ws: Any, r: int, values: Sequence[Any]) -> None:
    """One household: riskml's values (locked) and the cadres' empty, unlocked cells."""
    from openpyxl.styles import Alignment, Protection

    if len(values) != _N_FIXED:
        raise ValueError(f"a registration row needs {_N_FIXED} values, got {len(values)}")
    border, wrap = _border(), Alignment(wrap_text=True, vertical="top")
    ws.row_dimensions[r].height = _row_height(values)
    for j, v in enumerate(values, start=1):
        cell = ws.cell(row=r, column=j)
        if isinstance(v, int) and not isinstance(v, bool):
            cell.value = v  # the rank
        else:
            _text_cell(cell, v)
        cell.alignment = wrap
        cell.border = border
    for j in range(_N_FIXED + 1, len(REGISTRATION_COLUMNS) + 1):
        cell = ws.cell(row=r, column=j)
        cell.protection = Protection(locked=False)
        cell.border = border
        cell.alignment = wrap
        name = REGISTRATION_COLUMNS[j - 1]
        cell.number_format = "yyyy-mm-dd" if name == "核实日期" else "@"


def _conclusion_lists(ws: Any, first: int, last: int) -> None:
    """Drop-down lists for the conclusion and the risk type (one source: riskml.data)."""
    from openpyxl.utils import get_column_letter

    col = {name: get_column_letter(j) for j, name in enumerate(REGISTRATION_COLUMNS, 1)}
    for name, items in (("核实结论", list(CONCLUSIONS_ZH)), ("风险类型", list(risk_types_zh()))):
        dv = _list_validation(ws, name, items, col[name])
        dv.add(f"{col[name]}{first}:{col[name]}{last}")


def _print_and_protect(ws: Any) -> None:
    """A4 landscape, header repeated, page footer; the sheet protected except cadre cells."""
    ws.freeze_panes = ws.cell(row=_FIRST_ROW, column=1)
    ws.print_title_rows = f"{_HEADER_ROW}:{_HEADER_ROW}"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.oddFooter.center.text = "内部工作材料 不得外传  第 &P 页，共 &N 页"
    ws.protection.sheet = True
    ws.protection.formatColumns = False  # cadres may still widen columns and rows
    ws.protection.formatRows = False
    ws.protection.selectLockedCells = False
    ws.protection.selectUnlockedCells = False
