"""``load_bundle``: read a bundle folder (directly or through a mapping), convert, validate."""

from __future__ import annotations

import codecs
import datetime as dt
import os
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from riskml.config.mapping import BundleMapping, TableMapping, scalar_text
from riskml.data._bundle import Bundle
from riskml.data._cells import neutralise_frame
from riskml.data._convert import Converted, StructuralError, convert_column, one_array
from riskml.data._errors import BundleError, describe_rows
from riskml.data._manifest import BundleManifest, read_manifest
from riskml.data._mapping import (
    MappedTable,
    check_mapping,
    close_matches,
    load_mapping,
    map_table,
)
from riskml.data._read import SUPPORTED_SUFFIXES, RawTable, locate_table_file, read_table_file
from riskml.data._schema import (
    ALL_TABLES,
    OPTIONAL_TABLES,
    TABLE_ORDER,
    TABLES,
    Column,
    TableSchema,
)
from riskml.data._validate import Validator, WorkTable, null_where

__all__ = ["empty_frame", "load_bundle", "to_series", "write_quarantine"]

_TIMESTAMP_NS = pa.timestamp("ns")
_WORKERS = min(2, os.cpu_count() or 1)
"""Tables read, converted and validated side by side: Arrow's kernels release the GIL."""


# ---------------------------------------------------------------------------- typed output


def _empty_array(col: Column, n: int) -> pa.Array:
    if col.kind == "category":
        indices = pa.nulls(n, pa.int16())
        return pa.DictionaryArray.from_arrays(indices, pa.array(col.vocab or (), pa.string()))
    arrow_type = {
        "id": pa.string(),
        "string": pa.string(),
        "int": pa.int64(),
        "money": pa.float64(),
        "date": _TIMESTAMP_NS,
        "bool": pa.bool_(),
    }[col.kind]
    return pa.nulls(n, arrow_type)


def to_series(arr: pa.Array, col: Column) -> pd.Series:
    """An Arrow array of ``col``'s in-memory type as a pandas Series of the contract dtype."""
    n = len(arr)
    if col.kind in {"id", "string"}:
        if pa.types.is_null(arr.type):
            arr = pa.nulls(n, pa.string())
        return pd.Series(pd.arrays.ArrowStringArray(pc.cast(arr, pa.large_string())), name=col.name)
    if col.kind == "int":
        mask = pc.is_null(arr).to_numpy(zero_copy_only=False)
        values = pc.fill_null(pc.cast(arr, pa.int64()), 0).to_numpy(zero_copy_only=False)
        return pd.Series(
            pd.arrays.IntegerArray(values.astype(np.int64, copy=False), mask), name=col.name
        )
    if col.kind == "money":
        return pd.Series(
            pc.cast(arr, pa.float64()).to_numpy(zero_copy_only=False),
            dtype="float64",
            name=col.name,
        )
    if col.kind == "date":
        values = pc.cast(arr, _TIMESTAMP_NS).to_numpy(zero_copy_only=False)
        return pd.Series(values.astype("datetime64[ns]", copy=False), name=col.name)
    if col.kind == "bool":
        mask = pc.is_null(arr).to_numpy(zero_copy_only=False)
        values = pc.fill_null(pc.cast(arr, pa.bool_()), False).to_numpy(zero_copy_only=False)
        return pd.Series(
            pd.arrays.BooleanArray(values.astype(bool, copy=False), mask), name=col.name
        )
    if col.kind == "category":
        # the int16 indices as they are (from_codes picks the smallest code type itself)
        codes = arr.indices.fill_null(-1).to_numpy(zero_copy_only=False)
        dtype = pd.CategoricalDtype(list(col.vocab or ()), ordered=False)
        return pd.Series(pd.Categorical.from_codes(codes, dtype=dtype), name=col.name)
    raise ValueError(f"unknown column kind {col.kind!r}")  # pragma: no cover


def empty_frame(schema: TableSchema) -> pd.DataFrame:
    """A zero-row frame with every contract column of ``schema`` at its contract dtype."""
    return pd.DataFrame({c.name: to_series(_empty_array(c, 0), c) for c in schema.columns})


def _frame(t: WorkTable) -> pd.DataFrame:
    keep = ~t.drop
    keep_arr = pa.array(keep)
    out: dict[str, pd.Series] = {}
    for col in t.schema.columns:
        arr = t.values[col.name]
        if col.name in t.clear:
            arr = null_where(arr, t.clear[col.name])
        if not keep.all():
            arr = arr.filter(keep_arr)
        out[col.name] = to_series(arr, col)
    return pd.DataFrame(out)


# ---------------------------------------------------------------------------- reading


class _NoFile(BundleError):
    """A table's file is not in the bundle folder."""


def _resolve_mapping(mapping: str | Path | BundleMapping | None) -> BundleMapping:
    if mapping is None:
        return BundleMapping()
    if isinstance(mapping, BundleMapping):
        return check_mapping(mapping)
    return load_mapping(mapping)


def _source_columns(schema: TableSchema, spec: TableMapping) -> set[str]:
    return set(spec.columns) | set(spec.split) | set(schema.column_names)


def _dictionary_sources(schema: TableSchema, spec: TableMapping) -> set[str]:
    """The source columns of the vocabulary and yes/no columns (not split): read as dictionaries."""
    coded = {c.name for c in schema.columns if c.kind in {"category", "bool"}}
    renamed = {source for source, target in spec.columns.items() if target in coded}
    as_named = {name for name in coded if name not in spec.columns}
    return (renamed | as_named) - set(spec.split)


def _missing_columns_message(
    schema: TableSchema,
    label: str,
    missing: list[str],
    spec: TableMapping,
    source_names: list[str],
    unused: list[str],
) -> str:
    hints = []
    expected = {target: source for source, target in spec.columns.items()}
    for column in missing:
        if column in expected:
            src = expected[column]
            close = close_matches(src, source_names)
            hints.append(
                f"the mapping takes '{column}' from source column {src!r}, which the file lacks"
                + (f" (close: {', '.join(map(repr, close))})" if close else "")
            )
            continue
        close = close_matches(column, unused)
        if close:
            hints.append(f"'{column}' may be the file's {' or '.join(map(repr, close))}")
    example_source = next(iter(unused), "<source column>")
    return (
        f"{schema.name}: {label} lacks required column(s) {', '.join(repr(m) for m in missing)}. "
        f"Columns in the file: {', '.join(source_names) or '(none)'}."
        + (f" Hints: {'; '.join(hints)}." if hints else "")
        + f" Fix: rename the column(s) in the file to the contract names, or map them in a "
        f"mapping file (tables.{schema.name}.columns: {{{example_source}: {missing[0]}}})."
    )


def _unknown_codes_message(
    t_name: str,
    column: str,
    source: str,
    unknown: dict[str, int],
    rows: np.ndarray,
    shown: list[Any],
    col: Column,
) -> str:
    listed = sorted(unknown.items(), key=lambda kv: -kv[1])
    codes = ", ".join(f"{k!r} ({v} rows)" for k, v in listed[:10])
    if len(listed) > 10:
        codes += f" and {len(listed) - 10} more codes"
    allowed = ", ".join(col.vocab or ("true", "false"))
    first_code = listed[0][0]
    return (
        f"{t_name}.{column} ({source}): value(s) outside the contract vocabulary and not recoded by "
        f"the mapping: {codes}; first at {describe_rows(rows, shown)}. Allowed: {allowed}. Fix: add "
        f"them to the mapping's recode table (tables.{t_name}.recode.{column}: "
        f"{{{first_code}: <one of the allowed values>}}), or set a fallback "
        f"(tables.{t_name}.fallback.{column}: <one of the allowed values> or quarantine)."
    )


def _table_path(
    folder: Path,
    name: str,
    spec: TableMapping,
    mapping: BundleMapping,
    report: dict[str, Any],
) -> Path | None:
    """The file of table ``name``; ``None`` (noted in ``report``) when it may be absent.

    Raises ``_NoFile`` for a table that must be there.
    """
    path = locate_table_file(folder, name, spec.file)
    if path is None and name in OPTIONAL_TABLES and spec.file is not None:
        # the export carries no such file: riskml's own <table>.<ext> (contract layout, e.g.
        # written by `riskml reviews import`) is read instead; contract names and codes pass
        # through the mapping unchanged
        path = locate_table_file(folder, name, None)
    if path is not None:
        return path
    if name in OPTIONAL_TABLES:
        report["files"][name] = {"file": None, "note": "optional table, no file"}
        return None
    if name in mapping.missing_tables:
        report["files"][name] = {"file": None, "note": "declared missing by the mapping"}
        return None
    looked_for = (
        repr(spec.file) if spec.file else "/".join(f"{name}{s}" for s in SUPPORTED_SUFFIXES)
    )
    present = sorted(p.name for p in folder.iterdir() if p.is_file())
    raise _NoFile(
        f"{name}: no file for this table in {folder} (looked for {looked_for}). Files there: "
        f"{', '.join(present) or '(none)'}. Fix: add the file, name it in a mapping "
        f"(tables.{name}.file), or declare the table absent (missing_tables: [{name}])."
    )


def _read_raw(
    path: Path,
    schema: TableSchema,
    spec: TableMapping,
    mapping: BundleMapping,
    encoding: str | None,
    report: dict[str, Any],
) -> RawTable:
    """Read the table's file as it is, noting it in ``report``; refuse households without rows."""
    name = schema.name
    raw = read_table_file(
        path,
        name,
        encoding=encoding or spec.encoding or mapping.encoding,
        sheet=spec.sheet,
        header_row=spec.header_row,
        columns=_source_columns(schema, spec),
        dictionary=_dictionary_sources(schema, spec),
    )
    report["files"][name] = {
        "file": raw.path.name,
        "format": raw.format,
        "encoding": raw.encoding,
        "sheet": raw.sheet,
        "rows": raw.data.num_rows,
    }
    if raw.data.num_rows == 0 and name == "households":
        raise BundleError(
            f"households: {raw.label} has a header but no rows. A bundle needs its households. "
            "Fix: export the households table again with its rows."
        )
    return raw


def _map_raw(
    raw: RawTable, schema: TableSchema, spec: TableMapping, report: dict[str, Any]
) -> MappedTable:
    """Map the source columns to contract names; refuse missing required columns."""
    name = schema.name
    mapped = map_table(raw, spec)
    missing = [c for c in schema.required if c not in mapped.columns]
    if missing:
        raise BundleError(
            _missing_columns_message(
                schema, raw.label, missing, spec, list(raw.data.column_names), mapped.ignored
            )
        )
    if mapped.ignored:
        report["ignored_columns"][name] = mapped.ignored
    if mapped.unmatched:
        report["unmatched_mapping_columns"][name] = mapped.unmatched
    if mapped.split_dropped:
        report["split_values_dropped"][name] = mapped.split_dropped
    return mapped


def _convert_one(
    name: str,
    raw: RawTable,
    mapped: MappedTable,
    col: Column,
    spec: TableMapping,
    mapping: BundleMapping,
    rows: np.ndarray,
) -> Converted | str:
    """Convert one mapped column of table ``name``; the problem's message instead if it fails."""
    source = mapped.origin.get(col.name, col.name)
    where = f"{name}.{col.name} ({raw.label}" + (
        f", source column {source!r})" if source != col.name else ")"
    )
    if col.kind == "id" and source in raw.big_number_cells:
        cells = raw.big_number_cells[source]
        return (
            f"{where}: ids are stored as Excel numbers of 16+ digits (e.g. {describe_rows(cells)}); "
            "Excel keeps only 15 significant digits, so they may have lost digits. Fix: format "
            "the id column as Text in Excel and enter/export the ids again (or export CSV)."
        )
    fallback = spec.fallback.get(col.name, mapping.unknown_categories)
    null_values = spec.null_values if spec.null_values is not None else mapping.null_values
    try:
        conv = convert_column(
            mapped.columns[col.name],
            col,
            null_values=null_values,
            recode={k: scalar_text(v) for k, v in spec.recode.get(col.name, {}).items()},
            fallback=fallback,
            date_formats=[*spec.date_formats.get(col.name, []), *mapping.date_formats],
        )
    except StructuralError as exc:
        return f"{where}: {exc}"
    if conv.unknown:
        idx = np.flatnonzero(conv.unknown_rows)[:5]
        shown = [one_array(mapped.columns[col.name])[int(i)].as_py() for i in idx]
        return _unknown_codes_message(
            name,
            col.name,
            f"{raw.label}" + (f", source column {source!r}" if source != col.name else ""),
            conv.unknown,
            rows[idx],
            shown,
            col,
        )
    return conv


def _convert_columns(
    name: str,
    raw: RawTable,
    mapped: MappedTable,
    schema: TableSchema,
    spec: TableMapping,
    mapping: BundleMapping,
    rows: np.ndarray,
    report: dict[str, Any],
) -> WorkTable:
    """Convert every contract column (absent ones empty); every problem in one ``BundleError``."""
    problems: list[str] = []
    values: dict[str, pa.Array] = {}
    present: dict[str, int] = {}
    invalid: dict[str, tuple[np.ndarray, str, str]] = {}
    for col in schema.columns:
        if col.name not in mapped.columns:
            values[col.name] = _empty_array(col, len(rows))
            present[col.name] = 0
            continue
        conv = _convert_one(name, raw, mapped, col, spec, mapping, rows)
        if isinstance(conv, str):
            problems.append(conv)
            continue
        values[col.name] = conv.values
        present[col.name] = conv.present
        if conv.invalid is not None and conv.invalid.any():
            invalid[col.name] = (conv.invalid, conv.reason, _conversion_fix(name, col))
        key = f"{name}.{col.name}"
        if conv.normalised:
            report["normalised_ids"][key] = conv.normalised
        if conv.recoded:
            report["recoded_values"][key] = conv.recoded
        if conv.fallback:
            report["fallback_values"][key] = conv.fallback
    if problems:
        raise BundleError(problems)
    return WorkTable(
        schema=schema,
        label=raw.label,
        origin=mapped.origin,
        rows=rows,
        raw={c: one_array(a) for c, a in mapped.columns.items()},
        values=values,
        present=present,
        invalid=invalid,
    )


def _read_table(
    folder: Path,
    schema: TableSchema,
    mapping: BundleMapping,
    encoding: str | None,
    report: dict[str, Any],
) -> WorkTable | None:
    """Read, map and convert one table; ``None`` when the mapping declares it missing."""
    name = schema.name
    spec = mapping.table(name)
    path = _table_path(folder, name, spec, mapping, report)
    if path is None:
        return None
    raw = _read_raw(path, schema, spec, mapping, encoding, report)
    mapped = _map_raw(raw, schema, spec, report)
    rows = np.arange(1, raw.data.num_rows + 1, dtype=np.int64)
    return _convert_columns(name, raw, mapped, schema, spec, mapping, rows, report)


def _conversion_fix(table: str, col: Column) -> str:
    if col.kind == "date":
        return (
            f"correct the dates, or declare the source's date format in the mapping "
            f"(tables.{table}.date_formats.{col.name}: '%Y/%m/%d' — any strptime format)"
        )
    if col.kind in {"int", "money"}:
        return f"correct the values of '{col.name}' (plain numbers, no units), or map the right source column"
    return f"correct the values of '{col.name}', or recode them in the mapping (tables.{table}.recode.{col.name})"


def _empty_work(schema: TableSchema) -> WorkTable:
    return WorkTable(
        schema=schema,
        label=f"(no {schema.name} file)",
        origin={},
        rows=np.zeros(0, dtype=np.int64),
        raw={},
        values={c.name: _empty_array(c, 0) for c in schema.columns},
        present={},
    )


# ---------------------------------------------------------------------------- extraction date


def _latest_date(tables: Iterable[WorkTable], today: dt.date) -> dt.date | None:
    limit = np.datetime64(today, "ns")
    latest: np.datetime64 | None = None
    for t in tables:
        for col in t.schema.columns:
            if col.kind != "date":
                continue
            arr = t.values[col.name]
            if col.name in t.invalid:
                arr = null_where(arr, t.invalid[col.name][0])
            ns = arr.to_numpy(zero_copy_only=False)
            ns = ns[~np.isnat(ns)]
            ns = ns[ns <= limit]
            if ns.size:
                top = ns.max()
                latest = top if latest is None or top > latest else latest
    if latest is None:
        return None
    return pd.Timestamp(latest).date()


def write_quarantine(quarantine: pd.DataFrame, path: str | Path) -> Path:
    """Write quarantine records as UTF-8 CSV with a BOM (so Excel shows the Chinese right).

    Text cells are neutralised against formula injection (:func:`riskml.data.neutralise_cell`):
    the ``value`` column holds source cells as they were.

    Written to ``<path>.partial`` and renamed into place, so a full disk or a killed run never
    leaves a truncated file that looks complete.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".partial")
    try:
        neutralise_frame(quarantine).to_csv(tmp, index=False, encoding="utf-8-sig")
        tmp.replace(path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


# ---------------------------------------------------------------------------- load_bundle


def _check_arguments(
    folder: Path, encoding: str | None, extracted_on: dt.date | str | None
) -> dt.date | None:
    """Refuse a folder that is not one, an unknown encoding or a malformed date; the date."""
    if not folder.is_dir():
        raise BundleError(
            f"{folder} is not a folder. Give the folder holding the bundle's files "
            "(households.csv, members.csv, ... or a source export with a mapping)."
        )
    if encoding is not None:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise BundleError(
                f"Unknown encoding {encoding!r}. Fix: use utf-8 or gb18030 (covers GBK/GB2312), "
                "or leave it unset to detect."
            ) from None
    if isinstance(extracted_on, str):
        try:
            return dt.date.fromisoformat(extracted_on)
        except ValueError:
            raise BundleError(
                f"The extraction date {extracted_on!r} is not a date. Fix: write it as YYYY-MM-DD."
            ) from None
    return extracted_on


def _new_report(folder: Path, mapping: str | Path | BundleMapping | None) -> dict[str, Any]:
    """The empty load report: what loading did, filled in as the tables are read."""
    return {
        "folder": str(folder),
        "mapping": None
        if mapping is None
        else str(mapping)
        if not isinstance(mapping, BundleMapping)
        else "(in memory)",
        "files": {},
        "ignored_columns": {},
        "unmatched_mapping_columns": {},
        "split_values_dropped": {},
        "normalised_ids": {},
        "recoded_values": {},
        "fallback_values": {},
        "filled_values": {},
    }


def _read_each(
    folder: Path,
    schemas: list[TableSchema],
    mapping: BundleMapping,
    encoding: str | None,
    report: dict[str, Any],
) -> list[WorkTable | BundleError | None]:
    """:func:`_read_table` of every schema, side by side; a table's ``BundleError`` in its place.

    Each table notes what it did in its own report, merged into ``report`` in the order of
    ``schemas``: the load report reads the same as a one-by-one read.
    """

    def read(schema: TableSchema) -> tuple[WorkTable | BundleError | None, dict[str, Any]]:
        own = {key: {} for key, value in report.items() if isinstance(value, dict)}
        try:
            return _read_table(folder, schema, mapping, encoding, own), own
        except BundleError as exc:
            return exc, own

    # openpyxl's warnings are silenced with warnings.catch_warnings, which is not thread-safe
    workbooks = any(p.suffix.lower() == ".xlsx" for p in folder.iterdir() if p.is_file())
    with ThreadPoolExecutor(max_workers=1 if workbooks else _WORKERS) as pool:
        done = list(pool.map(read, schemas))
    for _, own in done:
        for key, entries in own.items():
            report[key].update(entries)
    return [table for table, _ in done]


def _read_tables(
    folder: Path, mapping: BundleMapping, encoding: str | None, report: dict[str, Any]
) -> dict[str, WorkTable]:
    """Read every contract table (and the optional ones present); every problem in one error."""
    work: dict[str, WorkTable] = {}
    problems: list[str] = []
    no_file: list[str] = []
    schemas = [TABLES[name] for name in TABLE_ORDER] + [ALL_TABLES[n] for n in OPTIONAL_TABLES]
    for schema, table in zip(
        schemas, _read_each(folder, schemas, mapping, encoding, report), strict=True
    ):
        name = schema.name
        if isinstance(table, BundleError):
            if isinstance(table, _NoFile) and name in TABLES:
                no_file.append(name)
            problems.extend(table.problems)
        elif table is not None:
            work[name] = table
        elif name in TABLES:
            work[name] = _empty_work(schema)
    if len(no_file) == len(TABLE_ORDER):
        files = sorted(p.name for p in folder.iterdir() if p.is_file())
        raise BundleError(
            f"{folder} holds none of the contract's table files ({', '.join(f'{t}.csv' for t in TABLE_ORDER)}, "
            f"or .parquet/.xlsx). Files there: {', '.join(files) or '(none)'}. Fix: if this is a "
            "source export with its own file and column names, load it with a mapping file "
            "(e.g. --mapping national_export, see configs/mappings/); otherwise give the bundle folder."
        )
    if problems:
        raise BundleError(problems)
    return work


def _extraction_date(
    extracted_on: dt.date | None,
    manifest: BundleManifest | None,
    work: dict[str, WorkTable],
    report: dict[str, Any],
) -> dt.date:
    """The argument's date, else ``bundle.yaml``'s, else the latest date in the history tables."""
    if extracted_on is not None:
        report["extracted_on_from"] = "argument"
        return extracted_on
    if manifest is not None and manifest.extracted_on is not None:
        report["extracted_on_from"] = "bundle.yaml"
        return manifest.extracted_on
    today = dt.date.today()
    # the history tables date the extract; reviews are recorded by riskml's users afterwards
    history = [t for n, t in work.items() if n not in OPTIONAL_TABLES]
    report["extracted_on_from"] = "latest date in the bundle (no bundle.yaml)"
    return _latest_date(history, today) or today


def _check_history(
    t: WorkTable, households: WorkTable, mapping: BundleMapping, limit: dt.date
) -> Validator:
    """Every rule of one history table, recorded by a validator of its own."""
    validator = Validator(mapping.validation, limit)
    validator.conversion_problems(t, households=False)
    validator.required_values(t, households=False)
    validator.households_of(t, households)
    validator.value_rules(t, households=False)
    validator.order_rules(t)
    validator.duplicate_keys(t)
    return validator


def _validate(work: dict[str, WorkTable], mapping: BundleMapping, limit: dt.date) -> Validator:
    """Check households first (a bad key stops everything), then every other table.

    The other tables are checked side by side; their findings are taken in table order, so
    errors and quarantine read the same as a one-by-one check.
    """
    validator = Validator(mapping.validation, limit)
    households = work["households"]
    validator.households_key(households)
    validator.conversion_problems(households, households=True)
    validator.required_values(households, households=True)
    validator.value_rules(households, households=True)
    if validator.errors:
        raise BundleError(validator.errors)
    history = [t for name, t in work.items() if name != "households" and t.n]
    with ThreadPoolExecutor(max_workers=_WORKERS) as pool:
        for found in pool.map(lambda t: _check_history(t, households, mapping, limit), history):
            validator.take_over(found)
    if work["events"].n and work["members"].n:
        validator.event_members(work["events"], work["members"])
    if validator.errors:
        raise BundleError(validator.errors)
    return validator


def _fill_recorded_on(events: WorkTable, report: dict[str, Any]) -> None:
    """Events without a recording date were recorded on the day they happened."""
    if not events.n:
        return
    recorded = events.values["recorded_on"]
    fill = pc.is_null(recorded).to_numpy(zero_copy_only=False) & ~events.drop
    if fill.any():
        events.values["recorded_on"] = pc.coalesce(recorded, events.values["event_date"])
        report["filled_values"]["events.recorded_on"] = int(fill.sum())


def _frames(work: dict[str, WorkTable]) -> dict[str, pd.DataFrame]:
    """Every table as a typed frame (side by side), releasing its Arrow arrays once it exists."""

    def build(t: WorkTable) -> pd.DataFrame:
        frame = _frame(t)
        t.raw.clear()
        t.values.clear()
        return frame

    with ThreadPoolExecutor(max_workers=_WORKERS) as pool:
        return dict(zip(work, pool.map(build, work.values()), strict=True))


def _report_counts(
    report: dict[str, Any], households: WorkTable, quarantine: pd.DataFrame, limit: dt.date
) -> None:
    """Households read and set aside, orphan household ids and the extraction date."""
    report["households_in_source"] = int(households.n)
    report["households_set_aside"] = int(households.drop.sum())
    orphan_ids = quarantine.loc[
        quarantine["reason"] == "household_id not in households", "household_id"
    ]
    report["orphan_household_ids"] = int(orphan_ids.nunique())
    report["extracted_on"] = limit.isoformat()


def load_bundle(
    path: str | Path,
    *,
    mapping: str | Path | BundleMapping | None = None,
    encoding: str | None = None,
    quarantine_path: str | Path | None = None,
    extracted_on: dt.date | str | None = None,
) -> Bundle:
    """Read, convert and validate a history bundle folder.

    Parameters
    ----------
    path
        The bundle folder: one file per contract table (``households.parquet``, ``income.csv``,
        ``events.xlsx``, ...), optionally ``bundle.yaml``; or a source export that ``mapping``
        describes.
    mapping
        A mapping file (path, or name under ``configs/mappings/``) or a ``BundleMapping``.
    encoding
        CSV encoding for every file (overrides the mapping); default: detect UTF-8, else GB18030.
    quarantine_path
        Where to write the quarantined rows as CSV when there are any.
    extracted_on
        The extraction date; overrides ``bundle.yaml``. Without either, the latest date in the
        bundle (ignoring dates after today).

    Returns
    -------
    Bundle
        Typed frames with every contract column (absent optional columns are empty), the rows
        set aside in ``bundle.quarantine`` and what loading did in ``bundle.load_report``.

    Raises
    ------
    BundleError
        For structural problems (missing files or required columns, undecodable text, duplicate
        household ids, unknown codes, systematic bad values); the message lists every problem
        found with table, column, first rows and the fix.
    riskml.config.ConfigError
        When the mapping file is malformed or does not fit the contract.

    Examples
    --------
    >>> bundle = load_bundle("data/demo")  # doctest: +SKIP
    >>> bundle.households.dtypes["household_id"]  # doctest: +SKIP
    string[pyarrow]
    """
    folder = Path(path)
    date = _check_arguments(folder, encoding, extracted_on)
    the_mapping = _resolve_mapping(mapping)
    manifest = read_manifest(folder)
    report = _new_report(folder, mapping)
    work = _read_tables(folder, the_mapping, encoding, report)
    limit = _extraction_date(date, manifest, work, report)
    validator = _validate(work, the_mapping, limit)
    _fill_recorded_on(work["events"], report)
    quarantine = validator.quarantine()
    tables = _frames(work)
    _report_counts(report, work["households"], quarantine, limit)
    bundle = Bundle(
        tables=tables,
        extracted_on=limit,
        province=manifest.province if manifest else None,
        source=manifest.source if manifest else None,
        quarantine=quarantine,
        load_report=report,
    )
    if quarantine_path is not None and len(quarantine):
        report["quarantine_file"] = str(write_quarantine(quarantine, quarantine_path))
    return bundle
