"""Finding a table's source file in a bundle folder and reading it into an Arrow table.

CSV and Excel cells are read as text (so an 18-digit household id is never turned into a float);
Parquet columns keep their stored types and are converted later with the same rules.
"""

from __future__ import annotations

import codecs
import csv
import io
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from riskml.data._errors import BundleError

__all__ = ["SUPPORTED_SUFFIXES", "RawTable", "locate_table_file", "read_table_file"]

SUPPORTED_SUFFIXES = (".parquet", ".csv", ".xlsx")
_GB_ALIASES = {"gbk", "gb2312", "cp936", "936", "ms936", "gb18030", "euc-cn", "euccn"}
_CHUNK = 1 << 24
EXCEL_EXACT_DIGITS = 15
"""Excel keeps 15 significant digits: a number cell at or above 1e15 may have lost digits."""


@dataclass
class RawTable:
    """A source file as read: column names as in the file, values as text (or stored types)."""

    table: str
    path: Path
    data: pa.Table
    format: str
    encoding: str | None = None
    sheet: str | None = None
    big_number_cells: dict[str, list[int]] = field(default_factory=dict)
    """Excel columns with number cells >= 1e15 (digits may be lost) -> first data rows."""

    @property
    def label(self) -> str:
        """How messages name the source: the file name (and sheet)."""
        return f"{self.path.name} (sheet {self.sheet!r})" if self.sheet else self.path.name


def _files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.is_file())


def locate_table_file(folder: Path, table: str, pattern: str | None) -> Path | None:
    """The source file of ``table`` in ``folder``: ``pattern`` (name or glob) or ``<table>.<ext>``.

    Returns ``None`` when there is none; raises ``BundleError`` when several files qualify.
    """
    if pattern is not None:
        matches = sorted(p for p in folder.glob(pattern) if p.is_file())
        if len(matches) > 1:
            raise BundleError(
                f"{table}: the mapping's file pattern {pattern!r} matches several files in "
                f"{folder}: {', '.join(p.name for p in matches)}. Fix: make "
                f"tables.{table}.file in the mapping name exactly one file."
            )
        return matches[0] if matches else None
    candidates = [
        p
        for p in folder.iterdir()
        if p.is_file() and p.stem == table and p.suffix.lower() in SUPPORTED_SUFFIXES
    ]
    if len(candidates) > 1:
        raise BundleError(
            f"{table}: the bundle folder {folder} holds several files for this table: "
            f"{', '.join(sorted(p.name for p in candidates))}. Fix: keep exactly one of them."
        )
    if not candidates:
        legacy = [
            p.name for p in folder.iterdir() if p.stem == table and p.suffix.lower() == ".xls"
        ]
        if legacy:
            raise BundleError(
                f"{table}: {legacy[0]} is an old-style .xls workbook, which riskml does not read. "
                "Fix: save it as .xlsx (or export CSV) and load again."
            )
    return candidates[0] if candidates else None


def read_table_file(
    path: Path,
    table: str,
    *,
    encoding: str | None = None,
    sheet: str | int | None = None,
    header_row: int = 1,
    columns: set[str] | None = None,
    dictionary: set[str] | None = None,
) -> RawTable:
    """Read one source file; ``columns`` restricts a Parquet read to the columns needed.

    ``dictionary`` names Parquet text columns with few distinct values (codes) to read as
    dictionary arrays: decoded and later factorised once per distinct value, not per row.
    """
    suffix = path.suffix.lower()
    if path.stat().st_size == 0:
        raise BundleError(
            f"{table}: {path.name} is empty (0 bytes, not even a header row). Fix: export the "
            "table again with its header row."
        )
    if suffix == ".parquet":
        return _read_parquet(path, table, columns, dictionary or set())
    if suffix == ".csv":
        return _read_csv(path, table, encoding, header_row)
    if suffix == ".xlsx":
        return _read_xlsx(path, table, sheet, header_row)
    raise BundleError(
        f"{table}: {path.name} has an unsupported format ({suffix or 'no extension'}). Fix: "
        f"provide it as {', '.join(SUPPORTED_SUFFIXES)}."
    )


# ---------------------------------------------------------------------------- parquet


def _read_parquet(
    path: Path, table: str, columns: set[str] | None, dictionary: set[str]
) -> RawTable:
    try:
        # ParquetFile.read gives one chunk per row group (read_table splits them into many small
        # batches, which would cost a copy to combine) and is faster.
        with pq.ParquetFile(path) as file:
            schema = file.schema_arrow
        names = [n for n in schema.names if columns is None or n in columns]
        as_dictionary = [
            n
            for n in names
            if n in dictionary
            and (
                pa.types.is_string(schema.field(n).type)
                or pa.types.is_large_string(schema.field(n).type)
            )
        ]
        with pq.ParquetFile(path, read_dictionary=as_dictionary or None) as file:
            data = file.read(columns=names)
    except (pa.ArrowException, OSError) as exc:
        raise BundleError(
            f"{table}: {path.name} is not a readable Parquet file ({exc}). Fix: export it again."
        ) from exc
    # Keep every column name of the file (unread ones as nulls) so the mapping can report them.
    skipped = [n for n in schema.names if n not in names]
    for name in skipped:
        data = data.append_column(name, pa.nulls(data.num_rows, pa.null()))
    raw = RawTable(table=table, path=path, data=data, format="parquet")
    raw.big_number_cells = {}
    return raw


# ---------------------------------------------------------------------------- csv


def _decoder_name(encoding: str) -> str:
    """The codec actually used: GBK and GB2312 files are decoded as GB18030, their superset."""
    name = codecs.lookup(encoding).name
    return "gb18030" if name in _GB_ALIASES or encoding.lower() in _GB_ALIASES else name


def _first_bad_byte(path: Path, codec: str) -> tuple[int, int, bytes] | None:
    """Decode ``path`` strictly with ``codec``; ``(line, byte offset, bad bytes)`` of the first error."""
    decoder = codecs.getincrementaldecoder(codec)("strict")
    offset = 0
    lines = 1
    with path.open("rb") as fh:
        while True:
            chunk = fh.read(_CHUNK)
            final = not chunk
            try:
                decoder.decode(chunk, final=final)
            except UnicodeDecodeError as exc:
                # exc.start is relative to the decoder's buffer (pending bytes + chunk); find it
                # again in the chunk, accounting for the few bytes the decoder may have buffered.
                pos = max(0, min(len(chunk), exc.start - (len(exc.object) - len(chunk))))
                return lines + chunk[:pos].count(b"\n"), offset + pos, chunk[pos : pos + 4]
            if final:
                return None
            lines += chunk.count(b"\n")
            offset += len(chunk)


def _detect_encoding(path: Path, table: str, explicit: str | None) -> tuple[str, str]:
    """``(encoding to report, codec to decode with)``; strict UTF-8 first, then GB18030."""
    if explicit is not None:
        codec = _decoder_name(explicit)
        bad = _first_bad_byte(path, codec)
        if bad is not None:
            line, offset, data = bad
            other = "gb18030" if codec.startswith("utf") else "utf-8"
            hint = (
                f"it looks like {other.upper()}"
                if _first_bad_byte(path, other) is None
                else "it is neither UTF-8 nor GB18030"
            )
            raise BundleError(
                f"{table}: {path.name} is not valid {explicit} text: undecodable bytes "
                f"{data.hex(' ')} at line {line} (byte {offset}); {hint}. Fix: give the right "
                f"encoding (--encoding {other} / `encoding: {other}` in the mapping) or leave it "
                "unset to detect UTF-8 or GB18030/GBK automatically."
            )
        if (
            codec == "gb18030"
            and _first_bad_byte(path, "utf-8") is None
            and _first_bad_byte(path, "ascii") is not None
        ):
            raise BundleError(
                f"{table}: {path.name} was to be read as {explicit}, but it is valid UTF-8 holding "
                "non-ASCII text, so it is almost certainly UTF-8 (read as GBK its Chinese would be "
                "garbled). Fix: use --encoding utf-8 (or `encoding: utf-8` in the mapping), or leave "
                "the encoding unset to detect it."
            )
        return explicit, codec
    if _first_bad_byte(path, "utf-8") is None:
        return "utf-8", "utf-8"
    if _first_bad_byte(path, "gb18030") is None:
        return "gb18030", "gb18030"
    line, offset, data = _first_bad_byte(path, "utf-8") or (0, 0, b"")
    raise BundleError(
        f"{table}: {path.name} is neither UTF-8 nor GB18030/GBK text (undecodable bytes "
        f"{data.hex(' ')} at line {line}, byte {offset}). Fix: save it as UTF-8 CSV, or give its "
        "encoding with --encoding / `encoding:` in the mapping."
    )


def _header(path: Path, codec: str, header_row: int) -> list[str]:
    """The column names on line ``header_row`` (parsed as CSV, so quoted names work)."""
    decoder = codecs.getincrementaldecoder(codec)("replace")
    text = ""
    with path.open("rb") as fh:
        while True:
            chunk = fh.read(1 << 16)
            text += decoder.decode(chunk, final=not chunk)
            records = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
            if len(records) > header_row or not chunk:
                break
    if len(records) < header_row or not any(c.strip() for c in records[header_row - 1]):
        raise BundleError(
            f"{path.name}: no header row found on line {header_row} (the file has no column "
            "names). Fix: export the table again with its header row, or set `header_row:` in "
            "the mapping to the line holding the column names."
        )
    return records[header_row - 1]


def _clean_names(names: list[str], label: str, table: str) -> list[str]:
    cleaned = []
    seen: dict[str, int] = {}
    for i, name in enumerate(names, start=1):
        name = name.replace("\ufeff", "").strip() or f"(column {i})"
        if name in seen:
            raise BundleError(
                f"{table}: {label} has the column name {name!r} twice (columns {seen[name]} and "
                f"{i}). Fix: give every column its own name."
            )
        seen[name] = i
        cleaned.append(name)
    return cleaned


def _parse_csv(
    path: Path,
    read_options: pcsv.ReadOptions,
    convert: pcsv.ConvertOptions,
    *,
    newlines_in_values: bool,
) -> pa.Table:
    return pcsv.read_csv(
        path,
        read_options=read_options,
        parse_options=pcsv.ParseOptions(newlines_in_values=newlines_in_values),
        convert_options=convert,
    )


def _read_csv(path: Path, table: str, encoding: str | None, header_row: int) -> RawTable:
    reported, codec = _detect_encoding(path, table, encoding)
    names = _clean_names(_header(path, codec, header_row), path.name, table)
    read_options = pcsv.ReadOptions(
        column_names=names,
        skip_rows=header_row,
        encoding="utf8" if codec in {"utf-8", "utf-8-sig"} else codec,
        block_size=1 << 24,
    )
    convert = pcsv.ConvertOptions(
        column_types={n: pa.string() for n in names},
        strings_can_be_null=False,
        quoted_strings_can_be_null=False,
    )
    try:
        data = _parse_csv(path, read_options, convert, newlines_in_values=False)
    except pa.ArrowInvalid:
        # A quoted value holding a line break: parse again the slower, line-break-aware way.
        try:
            data = _parse_csv(path, read_options, convert, newlines_in_values=True)
        except pa.ArrowInvalid as exc:
            raise BundleError(
                f"{table}: {path.name} is not a well-formed CSV file ({exc}). Fix: every row "
                f"needs the header's {len(names)} fields; quote values holding commas or "
                "line breaks; if title lines stand above the column names, set `header_row:` "
                "in the mapping to the line holding them."
            ) from exc
    return RawTable(table=table, path=path, data=data, format="csv", encoding=reported)


# ---------------------------------------------------------------------------- xlsx


def _cell_text(value: object) -> str | None:
    import datetime as dt

    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer() and abs(value) < 1e18:
            return str(int(value))
        return repr(value)
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0):
            return value.date().isoformat()
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _column_letter(i: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(i + 1)


def _pick_sheet(wb: object, path: Path, table: str, sheet: str | int | None) -> str:
    names: list[str] = list(wb.sheetnames)  # type: ignore[attr-defined]
    if isinstance(sheet, int):
        if not 0 <= sheet < len(names):
            raise BundleError(
                f"{table}: {path.name} has {len(names)} sheet(s) ({', '.join(names)}); sheet "
                f"index {sheet} does not exist. Fix: set tables.{table}.sheet in the mapping."
            )
        return names[sheet]
    if sheet is not None:
        if sheet not in names:
            raise BundleError(
                f"{table}: {path.name} has no sheet {sheet!r} (sheets: {', '.join(names)}). Fix: "
                f"set tables.{table}.sheet in the mapping to one of them."
            )
        return sheet
    if len(names) == 1:
        return names[0]
    if table in names:
        return table
    with_data = [
        n
        for n in names
        if any(
            any(v is not None for v in row) for row in wb[n].iter_rows(max_row=5, values_only=True)
        )  # type: ignore[index]
    ]
    if len(with_data) == 1:
        return with_data[0]
    raise BundleError(
        f"{table}: {path.name} has several sheets with data ({', '.join(with_data or names)}) and "
        f"none is named '{table}', so it is ambiguous which one holds the table. Fix: name the "
        f"sheet in the mapping (tables.{table}.sheet: <name>), or keep one sheet per workbook."
    )


def _read_xlsx(path: Path, table: str, sheet: str | int | None, header_row: int) -> RawTable:
    import openpyxl

    try:
        with warnings.catch_warnings():
            # openpyxl warns about styles/extensions it ignores; irrelevant to the values read.
            warnings.simplefilter("ignore", UserWarning)
            wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds (zipfile, KeyError, InvalidFileException)
        raise BundleError(
            f"{table}: {path.name} is not a readable .xlsx workbook ({type(exc).__name__}: {exc}). "
            "Fix: open it in Excel/WPS and save it again as .xlsx."
        ) from exc
    try:
        name = _pick_sheet(wb, path, table, sheet)
        rows = [list(r) for r in wb[name].iter_rows(values_only=True)]
    finally:
        wb.close()
    label = f"{path.name} (sheet {name!r})"
    if len(rows) < header_row or not any(v is not None for v in rows[header_row - 1]):
        raise BundleError(
            f"{table}: {label} has no header row on row {header_row}. Fix: put the column names "
            "in the first row, or set `header_row:` in the mapping to the row holding them."
        )
    width = max(len(r) for r in rows)
    rows = [r + [None] * (width - len(r)) for r in rows]
    header = [_cell_text(v) for v in rows[header_row - 1]]
    body = rows[header_row:]
    # Drop trailing columns with neither a name nor data (Excel's formatted-but-empty columns).
    while width and header[width - 1] in (None, "") and all(r[width - 1] is None for r in body):
        width -= 1
    header = header[:width]
    body = [r[:width] for r in body]
    while body and all(v is None for v in body[-1]):
        body.pop()
    blank = [i for i, h in enumerate(header) if h is None or not str(h).strip()]
    if blank:
        nxt = [_cell_text(v) for v in body[0]] if body else []
        continued = [nxt[i] for i in blank if i < len(nxt) and nxt[i] is not None]
        raise BundleError(
            f"{table}: the header of {label} looks merged or spread over several rows: row "
            f"{header_row} has no column name in column(s) {', '.join(_column_letter(i) for i in blank)}"
            + (
                f", and row {header_row + 1} continues it ({', '.join(map(repr, continued[:5]))})"
                if continued
                else ""
            )
            + ". Fix: unmerge the header cells so that one row holds exactly one name per column "
            "(delete title/group rows above it), or set `header_row:` in the mapping to the row "
            "holding the column names."
        )
    names = _clean_names([str(h) for h in header], label, table)
    columns: dict[str, pa.Array] = {}
    big: dict[str, list[int]] = {}
    for j, col in enumerate(names):
        cells = [r[j] for r in body]
        columns[col] = pa.array([_cell_text(v) for v in cells], type=pa.string())
        flagged = [
            i + 1
            for i, v in enumerate(cells)
            if isinstance(v, float) and abs(v) >= 10**EXCEL_EXACT_DIGITS
        ]
        if flagged:
            big[col] = flagged
    data = pa.table(columns) if columns else pa.table({})
    return RawTable(
        table=table, path=path, data=data, format="xlsx", sheet=name, big_number_cells=big
    )
