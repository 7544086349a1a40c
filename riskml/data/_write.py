"""``write_bundle``: a Bundle to ``<table>.parquet|csv|xlsx`` files plus ``bundle.yaml``."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from riskml.data._bundle import Bundle
from riskml.data._cells import excel_row
from riskml.data._errors import BundleError
from riskml.data._load import empty_frame
from riskml.data._manifest import BundleManifest, write_manifest
from riskml.data._schema import ALL_TABLES, OPTIONAL_TABLES, TABLE_ORDER, Column, TableSchema

__all__ = ["ARROW_TYPES", "EXCEL_MAX_ROWS", "write_bundle"]

EXCEL_MAX_ROWS = 1_048_575
"""Data rows an Excel sheet can hold (1,048,576 rows minus the header): the one limit that every
writer of .xlsx files (bundles, synthetic provinces, score files) checks against."""

_FORMATS = {"parquet": ".parquet", "csv": ".csv", "xlsx": ".xlsx"}
ARROW_TYPES: dict[str, pa.DataType] = {
    "id": pa.string(),
    "string": pa.string(),
    "category": pa.string(),
    "int": pa.int64(),
    "money": pa.float64(),
    "date": pa.date32(),
    "bool": pa.bool_(),
}
"""Arrow type of each contract column kind in bundle files (dates as ``date32``, categories as
their strings)."""


def _column_to_arrow(series: pd.Series, col: Column, table: str) -> pa.Array:
    target = ARROW_TYPES[col.kind]
    try:
        if col.kind == "date" and not pd.api.types.is_datetime64_any_dtype(series.dtype):
            series = pd.to_datetime(series)
        arr = pa.Array.from_pandas(series)
        if isinstance(arr, pa.ChunkedArray):
            arr = arr.combine_chunks()
        if pa.types.is_dictionary(arr.type):
            arr = arr.dictionary_decode()
        if col.kind == "date" and pa.types.is_timestamp(arr.type):
            arr = pc.floor_temporal(arr, unit="day")
            if arr.type.tz is not None:
                arr = pc.local_timestamp(arr)
            arr = pc.cast(pc.cast(arr, pa.timestamp("s")), pa.date32())
        arr = pc.cast(arr, target)
    except (pa.ArrowException, ValueError, TypeError) as exc:
        raise BundleError(
            f"write_bundle: {table}.{col.name} (dtype {series.dtype}) cannot be written as "
            f"{col.kind} ({exc}). Fix: give the column its contract dtype (see riskml/data/_schema.py)."
        ) from exc
    if col.vocab is not None:
        outside = pc.drop_null(
            pc.filter(arr, pc.invert(pc.is_in(arr, value_set=pa.array(col.vocab))))
        )
        if len(outside):
            raise BundleError(
                f"write_bundle: {table}.{col.name} holds {pc.unique(outside).to_pylist()[:5]} outside "
                f"its vocabulary ({', '.join(col.vocab)}). Fix: recode them before writing."
            )
    return arr


def _frame_to_arrow(frame: pd.DataFrame, schema: TableSchema) -> pa.Table:
    extra = [c for c in frame.columns if c not in schema.column_names]
    if extra:
        raise BundleError(
            f"write_bundle: {schema.name} has columns outside the contract: {extra}. Fix: drop them "
            "(or rename them to contract columns) before writing; a bundle holds contract columns only."
        )
    missing = [c for c in schema.required if c not in frame.columns]
    if missing:
        raise BundleError(
            f"write_bundle: {schema.name} lacks required column(s) {missing}. Fix: add them."
        )
    arrays = {}
    for col in schema.columns:
        if col.name in frame.columns:
            arrays[col.name] = _column_to_arrow(
                frame[col.name].reset_index(drop=True), col, schema.name
            )
        else:
            arrays[col.name] = pa.nulls(len(frame), ARROW_TYPES[col.kind])
    return pa.table(arrays)


def _cell(value: object) -> object:
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _write_xlsx(table: pa.Table, path: Path, sheet: str) -> None:
    """One sheet: ids and codes as text cells, dates as date cells (yyyy-mm-dd), empty = blank."""
    import openpyxl

    wb = openpyxl.Workbook(write_only=True)
    ws = wb.create_sheet(title=sheet)
    ws.append(table.column_names)
    columns = [table.column(i).to_pylist() for i in range(table.num_columns)]
    for row in zip(*columns, strict=True):
        ws.append(excel_row(ws, [_cell(v) for v in row]))  # text stays text, never a formula
    wb.save(path)


def _refuse_other_formats(out: Path, format: str) -> None:
    """``out`` must not hold a contract table in another format (the bundle would be ambiguous)."""
    if not out.exists():
        return
    suffix = _FORMATS[format]
    clashes = [
        p.name
        for p in out.iterdir()
        if p.is_file()
        and p.stem in ALL_TABLES
        and p.suffix.lower() in _FORMATS.values()
        and p.suffix.lower() != suffix
    ]
    if clashes:
        raise BundleError(
            f"write_bundle: {out} already holds {', '.join(sorted(clashes))}; writing {format} "
            "files beside them would make the bundle ambiguous. Fix: write to an empty folder "
            "or remove those files."
        )


def _refuse_too_big_for_excel(frames: Mapping[str, pd.DataFrame | None]) -> None:
    too_big = {n: len(f) for n, f in frames.items() if f is not None and len(f) > EXCEL_MAX_ROWS}
    if too_big:
        raise BundleError(
            f"write_bundle: {', '.join(f'{n} has {r:,} rows' for n, r in too_big.items())}; an "
            f"Excel sheet holds at most {EXCEL_MAX_ROWS:,} rows. Fix: write parquet or csv."
        )


def write_bundle(
    bundle: Bundle,
    out_dir: str | Path,
    *,
    format: Literal["parquet", "csv", "xlsx"] = "parquet",
) -> Path:
    """Write ``bundle`` as ``<table>.<ext>`` files and ``bundle.yaml`` in ``out_dir``.

    Parameters
    ----------
    bundle
        Frames with contract columns (missing optional columns are written empty; columns outside
        the contract are refused).
    out_dir
        The folder to write (created if needed).
    format
        ``"parquet"`` (typed, fastest), ``"csv"`` (UTF-8, ISO dates, ``true``/``false``) or
        ``"xlsx"`` (one sheet per file, dates as date cells, ids as text; small bundles only:
        at most 1,048,575 rows per table).

    Returns
    -------
    Path
        ``out_dir``.

    Raises
    ------
    BundleError
        Unknown format, a table too large for Excel, columns outside the contract or values
        outside a vocabulary, or ``out_dir`` already holding the same table in another format
        (the bundle would be ambiguous).
    """
    if format not in _FORMATS:
        raise BundleError(
            f"write_bundle: unknown format {format!r}. Fix: use one of {sorted(_FORMATS)}."
        )
    out = Path(out_dir)
    suffix = _FORMATS[format]
    _refuse_other_formats(out, format)
    frames = {name: bundle.tables.get(name) for name in TABLE_ORDER}
    # optional tables are written only when the bundle holds them
    frames.update({n: bundle.tables[n] for n in OPTIONAL_TABLES if n in bundle.tables})
    if format == "xlsx":
        _refuse_too_big_for_excel(frames)
    tables = {
        name: _frame_to_arrow(
            frame if frame is not None else empty_frame(ALL_TABLES[name]), ALL_TABLES[name]
        )
        for name, frame in frames.items()
    }
    out.mkdir(parents=True, exist_ok=True)
    for name, table in tables.items():
        path = out / f"{name}{suffix}"
        if format == "parquet":
            pq.write_table(table, path)
        elif format == "csv":
            pcsv.write_csv(table, path)
        else:
            _write_xlsx(table, path, name)
    write_manifest(
        out,
        BundleManifest(
            extracted_on=bundle.extracted_on, province=bundle.province, source=bundle.source
        ),
    )
    return out
