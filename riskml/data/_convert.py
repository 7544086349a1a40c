"""Converting one source column (text, or a stored Parquet type) to its contract type.

Vectorised with pyarrow compute. Low-cardinality columns (dates, codes, yes/no) are factorised
first so that parsing and recoding run once per distinct value, not once per row.

Results are Arrow arrays of the in-memory types (``riskml/data/_schema.py``):

=========  ==========================================================
kind       Arrow type
=========  ==========================================================
id/string  ``string``
category   ``dictionary<int16, string>`` whose dictionary is the vocabulary
int        ``int64``
money      ``float64``
date       ``timestamp[ns]`` (midnight)
bool       ``bool``
=========  ==========================================================
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from riskml.data._schema import Column

__all__ = [
    "BUILTIN_DATE_FORMATS",
    "MAX_YEAR",
    "MIN_YEAR",
    "Converted",
    "StructuralError",
    "as_text",
    "convert_column",
    "factorize",
    "one_array",
]

BUILTIN_DATE_FORMATS = ("%Y-%m-%d", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S")
"""Always accepted (ISO date, and ISO date-time whose time part is dropped)."""
MIN_YEAR = 1900
MAX_YEAR = 2261
"""Dates outside these years are not real dates (e.g. 9999-12-31 "no end" sentinels)."""

_TRUE = ("true", "t", "yes", "y", "1", "是", "有", "对")
_FALSE = ("false", "f", "no", "n", "0", "否", "无", "不是")
_ID_FIX = r"[\s\x{00A0}\x{3000}\x{FF01}-\x{FF5E}]"
_SCIENTIFIC = r"^[0-9]+(\.[0-9]+)?[eE]\+?[0-9]+$"
_INT = r"^[+-]?[0-9]{1,18}(\.0*)?$"
_NUMBER = r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$"
_TIMESTAMP_NS = pa.timestamp("ns")


class StructuralError(ValueError):
    """The column as a whole cannot be converted (the caller turns this into a BundleError)."""


@dataclass
class Converted:
    """One converted column and what happened on the way."""

    values: pa.Array
    invalid: np.ndarray | None = None
    """Non-empty source cells that could not be converted (``values`` is null there)."""
    reason: str = ""
    """Why the ``invalid`` cells are invalid."""
    unknown: dict[str, int] = field(default_factory=dict)
    """Codes outside the vocabulary whose policy is 'error' -> number of cells."""
    unknown_rows: np.ndarray | None = None
    """Mask of the cells holding those codes."""
    present: int = 0
    """Number of non-empty source cells."""
    normalised: int = 0
    """Id cells changed by normalisation (spaces removed, full-width characters to ASCII)."""
    recoded: int = 0
    """Cells changed by the mapping's recode table."""
    fallback: int = 0
    """Cells whose unknown code was replaced by the column's fallback value."""


def one_array(arr: pa.Array | pa.ChunkedArray) -> pa.Array:
    """A single contiguous array (large string columns are widened so they can be combined)."""
    if isinstance(arr, pa.Array):
        return arr
    if arr.num_chunks == 1:
        return arr.chunk(0)
    try:
        return arr.combine_chunks()
    except pa.ArrowInvalid:  # more than 2 GiB of text in one string column
        return pc.cast(arr, pa.large_string()).combine_chunks()


def factorize(arr: pa.Array) -> tuple[np.ndarray, pa.Array]:
    """``(codes, uniques)``: ``uniques.take(codes)`` rebuilds ``arr``; nulls get code -1.

    The uniques are distinct and in order of first appearance, also for a dictionary array
    (e.g. a Parquet column read as dictionary), whose dictionary is hashed instead of its rows.
    """
    if isinstance(arr, pa.DictionaryArray):
        return _factorize_dictionary(arr)
    encoded = pc.dictionary_encode(arr)
    codes = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
    return codes, encoded.dictionary


def _factorize_dictionary(arr: pa.DictionaryArray) -> tuple[np.ndarray, pa.Array]:
    """:func:`factorize` of a dictionary array: its dictionary factorised, unused entries dropped."""
    entry_codes, distinct = factorize(arr.dictionary)
    indices = arr.indices.fill_null(-1).to_numpy(zero_copy_only=False)
    # the distinct values in the order the rows first use them
    used = pd.unique(entry_codes[pd.unique(indices[indices >= 0])])
    used = used[used >= 0]
    renumber = np.full(len(distinct) + 1, -1, dtype=np.int64)  # the last slot: code -1 stays -1
    renumber[used] = np.arange(len(used), dtype=np.int64)
    row_codes = renumber[np.append(entry_codes, -1)[indices]]
    return row_codes, distinct.take(pa.array(used, pa.int64()))


def _take(values: pa.Array, codes: np.ndarray) -> pa.Array:
    """``values[codes]`` with code -1 giving null."""
    indices = pa.array(codes, type=pa.int64(), mask=codes < 0)
    return values.take(indices)


def _mask(arr: pa.Array) -> np.ndarray:
    """A boolean Arrow array as a numpy mask (null = False)."""
    return arr.fill_null(False).to_numpy(zero_copy_only=False)


def _null_set(null_values: Collection[str]) -> pa.Array:
    return pa.array(sorted(set(null_values) | {""}), pa.string())


def _clean_text(arr: pa.Array, null_values: Collection[str]) -> pa.Array:
    """Trimmed text with empty cells and ``null_values`` as null."""
    text = pc.utf8_trim_whitespace(arr)
    return _null_where_in(text, null_values)


def _null_where_in(text: pa.Array, null_values: Collection[str]) -> pa.Array:
    """``text`` with null where it is empty or one of ``null_values`` (no copy when none is)."""
    nulls = pc.is_in(text, value_set=_null_set(null_values))
    if not nulls.true_count:
        return text
    return pc.if_else(nulls, pa.scalar(None, text.type), text)


def _distinct_text(
    arr: pa.Array, null_values: Collection[str]
) -> tuple[np.ndarray, list[str | None], int]:
    """Factorise the raw text, then trim and null-check only the distinct values.

    Returns ``(codes, cleaned distinct values, number of non-empty cells)``; for low-cardinality
    columns this touches each row once (hashing) instead of running string kernels per row.
    """
    if isinstance(arr, pa.DictionaryArray):  # hash the dictionary, not every row
        text: pa.Array = pa.DictionaryArray.from_arrays(arr.indices, as_text(arr.dictionary))
    else:
        text = as_text(arr)
    codes, uniques = factorize(text)
    nulls = set(null_values) | {""}
    cleaned: list[str | None] = []
    for value in uniques.to_pylist():
        value = value.strip() if value is not None else None
        cleaned.append(None if value is None or value in nulls else value)
    empty = np.array([v is None for v in cleaned] + [True], dtype=bool)
    present = int((~empty[codes]).sum())  # code -1 indexes the trailing True
    return codes, cleaned, present


def as_text(arr: pa.Array) -> pa.Array:
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    if pa.types.is_large_string(arr.type) or pa.types.is_string(arr.type):
        return arr
    if pa.types.is_null(arr.type):
        return pa.nulls(len(arr), pa.string())
    if pa.types.is_floating(arr.type):
        # 2019.0 -> "2019" so that codes/years stored as floats compare as text.
        finite = pc.fill_null(pc.is_finite(arr), False)
        integral = pc.and_(finite, pc.equal(arr, pc.floor(arr)))
        small = pc.less(pc.abs(arr), 2.0**53)
        as_int = pc.if_else(pc.and_(integral, small), arr, pa.scalar(None, arr.type))
        ints = pc.cast(pc.cast(as_int, pa.int64()), pa.string())
        return pc.coalesce(ints, pc.cast(arr, pa.string()))
    if pa.types.is_date(arr.type) or pa.types.is_timestamp(arr.type):
        return pc.strftime(arr, format="%Y-%m-%d")
    return pc.cast(arr, pa.string())


def _recode(
    codes: np.ndarray, uniques: list[str | None], recode: Mapping[str, str | None]
) -> tuple[list[str | None], int]:
    """Apply a recode table to the distinct values; returns new values and cells changed."""
    if not recode:
        return uniques, 0
    counts = np.bincount(codes[codes >= 0], minlength=len(uniques))
    out: list[str | None] = []
    changed = 0
    for i, value in enumerate(uniques):
        if value is not None and value in recode and recode[value] != value:
            out.append(recode[value])
            changed += int(counts[i])
        else:
            out.append(value)
    return out, changed


def _recode_text(arr: pa.Array, recode: Mapping[str, str | None]) -> tuple[pa.Array, int]:
    if not recode:
        return arr, 0
    codes, uniques = factorize(arr)
    values, changed = _recode(codes, uniques.to_pylist(), recode)
    return _take(pa.array(values, pa.string()), codes), changed


# ---------------------------------------------------------------------------- per kind


def _convert_id(
    arr: pa.Array, col: Column, null_values: Collection[str], recode: Mapping[str, str | None]
) -> Converted:
    if pa.types.is_floating(arr.type):
        values = arr.drop_null()
        bad = pc.or_(
            pc.invert(pc.equal(values, pc.floor(values))), pc.greater_equal(pc.abs(values), 2.0**53)
        )
        if len(values) and pc.any(bad).as_py():
            raise StructuralError(
                f"'{col.name}' is stored as floating-point numbers, which cannot hold long ids "
                "exactly. Fix: store ids as text (string) in the source file."
            )
    text = as_text(arr)
    # Fast path: plain ASCII letters/digits need no normalisation (the usual case); only the
    # other cells (spaces, full-width characters, dots, empty cells) go through the checks.
    special = _mask(pc.invert(pc.ascii_is_alnum(text)))
    normalised = 0
    if special.any():
        where = pa.array(special)
        sub = text.filter(where)
        sci = _mask(pc.match_substring_regex(sub, _SCIENTIFIC))
        if sci.any():
            row = int(np.flatnonzero(special)[np.flatnonzero(sci)[0]])
            raise StructuralError(
                f"'{col.name}' holds ids in scientific notation (e.g. data row {row + 1}: "
                f"{text[row].as_py()!r}): digits were lost when the file went through Excel. "
                "Fix: export the column as text (in Excel: format the column as Text before "
                "pasting, or prefix ids with an apostrophe) and load again."
            )
        needs_fix = _mask(pc.match_substring_regex(sub, _ID_FIX))
        if needs_fix.any():
            fixed = [
                re.sub(r"\s+", "", unicodedata.normalize("NFKC", v))
                for v in sub.filter(pa.array(needs_fix)).to_pylist()
            ]
            normalised = sum(1 for v in fixed if v)
            sub = pc.replace_with_mask(sub, pa.array(needs_fix), pa.array(fixed, sub.type))
        text = pc.replace_with_mask(text, where, sub)
    text = _null_where_in(text, null_values)
    text, recoded = _recode_text(text, recode)
    present = len(text) - text.null_count
    return Converted(
        values=pc.cast(text, pa.string()), present=present, normalised=normalised, recoded=recoded
    )


def _convert_string(
    arr: pa.Array, null_values: Collection[str], recode: Mapping[str, str | None]
) -> Converted:
    text = _clean_text(as_text(arr), null_values)
    text, recoded = _recode_text(text, recode)
    return Converted(
        values=pc.cast(text, pa.string()), present=len(text) - text.null_count, recoded=recoded
    )


def _convert_int(
    arr: pa.Array, null_values: Collection[str], recode: Mapping[str, str | None]
) -> Converted:
    if pa.types.is_integer(arr.type) and not recode:
        values = pc.cast(arr, pa.int64())
        return Converted(values=values, present=len(values) - values.null_count)
    text = _clean_text(as_text(arr), null_values)
    text, recoded = _recode_text(text, recode)
    present = len(text) - text.null_count
    try:
        return Converted(values=pc.cast(text, pa.int64()), present=present, recoded=recoded)
    except pa.ArrowInvalid:
        pass
    ok = pc.match_substring_regex(text, _INT)
    digits = pc.replace_substring_regex(pc.replace_substring_regex(text, r"\.0*$", ""), r"^\+", "")
    values = pc.cast(pc.if_else(ok, digits, pa.scalar(None, pa.string())), pa.int64())
    invalid = _mask(pc.and_(pc.is_valid(text), pc.invert(ok)))
    return Converted(
        values=values,
        invalid=invalid,
        reason="not a whole number",
        present=present,
        recoded=recoded,
    )


def _convert_money(
    arr: pa.Array, null_values: Collection[str], recode: Mapping[str, str | None]
) -> Converted:
    recoded = 0
    if (
        pa.types.is_floating(arr.type)
        or pa.types.is_integer(arr.type)
        or pa.types.is_decimal(arr.type)
    ) and not recode:
        values = pc.cast(arr, pa.float64())
        source_present = pc.is_valid(values)
    else:
        text = _clean_text(as_text(arr), null_values)
        text, recoded = _recode_text(text, recode)
        text = pc.replace_substring(text, ",", "")
        source_present = pc.is_valid(text)
        try:
            values = pc.cast(text, pa.float64())
        except pa.ArrowInvalid:
            ok = pc.match_substring_regex(text, _NUMBER)
            values = pc.cast(pc.if_else(ok, text, pa.scalar(None, pa.string())), pa.float64())
    present = int(pc.sum(source_present).as_py() or 0)
    good = pc.fill_null(pc.is_finite(values), False)
    invalid = _mask(pc.and_(source_present, pc.invert(good)))
    out = Converted(values=values, present=present, recoded=recoded)
    if invalid.any():
        out.values = pc.if_else(good, values, pa.scalar(None, pa.float64()))
        out.invalid, out.reason = invalid, "not a number"
    return out


def _date_range_ok(ts: pa.Array) -> pa.Array:
    """Whether each date/time lies in the years ``MIN_YEAR``..``MAX_YEAR`` (null stays null).

    Compared with the bounds as values of ``ts``'s own type (no per-row year extraction).
    """
    if pa.types.is_date(ts.type):
        lo: pa.Scalar = pa.scalar(dt.date(MIN_YEAR, 1, 1), pa.date32()).cast(ts.type)
        hi: pa.Scalar = pa.scalar(dt.date(MAX_YEAR, 12, 31), pa.date32()).cast(ts.type)
        return pc.and_(pc.greater_equal(ts, lo), pc.less_equal(ts, hi))
    first = pa.scalar(dt.datetime(MIN_YEAR, 1, 1), pa.timestamp("s")).cast(ts.type)
    after = pa.scalar(dt.datetime(MAX_YEAR + 1, 1, 1), pa.timestamp("s")).cast(ts.type)
    return pc.and_(pc.greater_equal(ts, first), pc.less(ts, after))


def _convert_stored_date(arr: pa.Array) -> Converted:
    """A Parquet date or timestamp column: range-checked, floored to the day, as ``ns``."""
    ts = arr
    if pa.types.is_timestamp(ts.type) and ts.type.tz is not None:
        ts = pc.local_timestamp(ts)
    if pa.types.is_date64(ts.type):
        ts = pc.cast(ts, pa.timestamp("s"))
    present = len(ts) - ts.null_count
    ok = _date_range_ok(ts)
    invalid = _mask(pc.invert(ok))
    if invalid.any():
        ts = pc.if_else(ok, ts, pa.scalar(None, ts.type))
    if not pa.types.is_date32(ts.type):  # a date32 is a whole day already
        ts = pc.floor_temporal(ts, unit="day")
    out = Converted(values=pc.cast(ts, _TIMESTAMP_NS), present=present)
    if invalid.any():
        out.invalid, out.reason = invalid, f"not a date between {MIN_YEAR} and {MAX_YEAR}"
    return out


def _convert_date(
    arr: pa.Array,
    null_values: Collection[str],
    recode: Mapping[str, str | None],
    formats: list[str],
) -> Converted:
    if (pa.types.is_timestamp(arr.type) or pa.types.is_date(arr.type)) and not recode:
        return _convert_stored_date(arr)
    codes, cleaned, present = _distinct_text(arr, null_values)
    distinct, recoded = _recode(codes, cleaned, recode)
    distinct_arr = pa.array(distinct, pa.string())
    parsed = pa.nulls(len(distinct_arr), pa.timestamp("s"))
    tried = [*BUILTIN_DATE_FORMATS, *formats]
    for fmt in tried:
        if parsed.null_count == len(parsed):
            attempt = pc.strptime(distinct_arr, format=fmt, unit="s", error_is_null=True)
        else:
            todo = pc.and_(pc.is_null(parsed), pc.is_valid(distinct_arr))
            if not pc.any(todo).as_py():
                break
            attempt = pc.strptime(
                pc.if_else(todo, distinct_arr, pa.scalar(None, pa.string())),
                format=fmt,
                unit="s",
                error_is_null=True,
            )
        parsed = pc.coalesce(parsed, attempt)
    parsed = pc.if_else(_date_range_ok(parsed), parsed, pa.scalar(None, parsed.type))
    bad_distinct = _mask(pc.and_(pc.is_valid(distinct_arr), pc.is_null(parsed)))
    day = pc.cast(pc.floor_temporal(parsed, unit="day"), _TIMESTAMP_NS)
    values = _take(day, codes)
    out = Converted(values=values, present=present, recoded=recoded)
    if bad_distinct.any():
        out.invalid = np.zeros(len(codes), dtype=bool)
        out.invalid[codes >= 0] = bad_distinct[codes[codes >= 0]]
        out.reason = f"not a date in the expected format ({', '.join(tried)})"
    return out


def _lookup_codes(
    arr: pa.Array,
    col: Column,
    vocab: tuple[str, ...],
    null_values: Collection[str],
    recode: Mapping[str, str | None],
    fallback: str,
    *,
    casefold: bool = False,
) -> tuple[np.ndarray, Converted]:
    """Codes (index into ``vocab``, -1 = null) for a vocabulary/yes-no column."""
    codes, cleaned, present = _distinct_text(arr, null_values)
    distinct, recoded = _recode(codes, cleaned, recode)
    index = {v: i for i, v in enumerate(vocab)}
    counts = np.bincount(codes[codes >= 0], minlength=len(distinct))
    mapped = np.full(len(distinct), -1, dtype=np.int64)
    quarantine = np.zeros(len(distinct), dtype=bool)
    error = np.zeros(len(distinct), dtype=bool)
    unknown: dict[str, int] = {}
    fallen = 0
    for i, value in enumerate(distinct):
        if value is None:
            continue
        key = value.lower() if casefold else value
        if key in index:
            mapped[i] = index[key]
        elif fallback == "quarantine":
            quarantine[i] = True
        elif fallback == "error":
            error[i] = True
            unknown[value] = int(counts[i])
        else:
            mapped[i] = index[fallback]
            fallen += int(counts[i])
    valid = codes >= 0
    row_codes = np.full(len(codes), -1, dtype=np.int64)
    row_codes[valid] = mapped[codes[valid]]
    out = Converted(values=pa.nulls(0), present=present, recoded=recoded, fallback=fallen)
    if quarantine.any():
        out.invalid = np.zeros(len(codes), dtype=bool)
        out.invalid[valid] = quarantine[codes[valid]]
        out.reason = (
            f"code not in the vocabulary of {col.name} ({', '.join(v for v in vocab if v)})"
        )
    if error.any():
        out.unknown = unknown
        out.unknown_rows = np.zeros(len(codes), dtype=bool)
        out.unknown_rows[valid] = error[codes[valid]]
    return row_codes, out


def _convert_category(
    arr: pa.Array,
    col: Column,
    null_values: Collection[str],
    recode: Mapping[str, str | None],
    fallback: str,
) -> Converted:
    vocab = col.vocab or ()
    codes, out = _lookup_codes(arr, col, vocab, null_values, recode, fallback)
    indices = pa.array(codes.astype(np.int16), type=pa.int16(), mask=codes < 0)
    out.values = pa.DictionaryArray.from_arrays(indices, pa.array(vocab, pa.string()))
    return out


def _convert_bool(
    arr: pa.Array,
    col: Column,
    null_values: Collection[str],
    recode: Mapping[str, str | None],
    fallback: str,
) -> Converted:
    if pa.types.is_boolean(arr.type) and not recode:
        return Converted(values=arr, present=len(arr) - arr.null_count)
    tokens = (*_TRUE, *_FALSE)  # 'true'/'false' are tokens, so they serve as fallbacks too
    codes, out = _lookup_codes(arr, col, tokens, null_values, recode, fallback, casefold=True)
    truth = codes < len(_TRUE)
    out.values = pa.array(truth, type=pa.bool_(), mask=codes < 0)
    return out


def convert_column(
    arr: pa.Array | pa.ChunkedArray,
    col: Column,
    *,
    null_values: Collection[str],
    recode: Mapping[str, str | None] | None = None,
    fallback: str = "error",
    date_formats: list[str] | None = None,
) -> Converted:
    """Convert a source column to ``col``'s contract type.

    Parameters
    ----------
    arr
        Source values: text (CSV, Excel) or any stored Parquet type.
    col
        The contract column.
    null_values
        Cell texts that mean "empty" (after trimming spaces).
    recode
        Source value -> contract value, applied to the trimmed text before type conversion.
    fallback
        For vocabulary and yes/no columns, what a value outside the vocabulary becomes: a
        vocabulary value, ``"quarantine"`` (reported in ``invalid``) or ``"error"`` (reported in
        ``unknown``).
    date_formats
        strptime formats tried after ISO for date columns.

    Raises
    ------
    StructuralError
        When the column as a whole cannot hold contract values (ids as floats or in scientific
        notation).
    """
    arr = one_array(arr)
    recode = recode or {}
    try:
        if col.kind == "id":
            return _convert_id(arr, col, null_values, recode)
        if col.kind == "string":
            return _convert_string(arr, null_values, recode)
        if col.kind == "int":
            return _convert_int(arr, null_values, recode)
        if col.kind == "money":
            return _convert_money(arr, null_values, recode)
        if col.kind == "date":
            return _convert_date(arr, null_values, recode, list(date_formats or ()))
        if col.kind == "category":
            return _convert_category(arr, col, null_values, recode, fallback)
        if col.kind == "bool":
            return _convert_bool(arr, col, null_values, recode, fallback)
    except (pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
        # e.g. a Parquet list/struct column where the contract expects plain values
        raise StructuralError(
            f"'{col.name}' is stored as {arr.type}, which cannot be read as {col.kind} values "
            f"({exc}). Fix: store it as text or as a plain {col.kind} column."
        ) from exc
    raise StructuralError(f"unknown column kind {col.kind!r} for '{col.name}'")  # pragma: no cover
