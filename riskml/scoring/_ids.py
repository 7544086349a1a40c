"""Household-id lookups on Arrow arrays: positions and membership without Python-object hashing.

Bundle tables hold ``household_id`` as Arrow-backed strings; converting them to Python objects
to hash them in a pandas ``Index`` cost most of a large run's plumbing. These helpers hash the
Arrow buffers instead (``pyarrow.compute.index_in`` / ``is_in``), with the same answers as
``pd.Index(index_ids).get_indexer(ids)`` and ``ids.isin(index_ids)`` on the string values.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["arrow_ids", "id_positions", "ids_in", "null_column"]


def arrow_ids(ids: pd.Series | pd.Index | Iterable[str]) -> pa.Array:
    """``ids`` as one Arrow ``large_string`` array (non-strings as their ``astype("string")``)."""
    if not isinstance(ids, pd.Series | pd.Index):
        ids = pd.Series(list(ids), dtype="string")
    if not isinstance(ids.dtype, pd.StringDtype):
        ids = ids.astype("string")
    arr = pa.array(ids.array)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    return arr.cast(pa.large_string()) if arr.type != pa.large_string() else arr


def id_positions(ids: pd.Series | pa.Array, index: pd.Series | pa.Array) -> np.ndarray:
    """For each id, its position in ``index`` (first occurrence), ``-1`` when absent or missing."""
    values = ids if isinstance(ids, pa.Array) else arrow_ids(ids)
    within = index if isinstance(index, pa.Array) else arrow_ids(index)
    if len(values) == 0:
        return np.zeros(0, dtype=np.int64)
    heads = _run_heads(values)
    if heads is not None:  # rows grouped by household: look up each run's id once
        found = _index_in(values.take(pa.array(heads)), within)
        return np.repeat(found, np.diff(np.append(heads, len(values))))
    return _index_in(values, within)


def _index_in(values: pa.Array, within: pa.Array) -> np.ndarray:
    found = pc.index_in(values, value_set=within, skip_nulls=True)
    return found.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64, copy=False)


def _run_heads(values: pa.Array) -> np.ndarray | None:
    """First row of every run of equal ids, or None when runs are too short to be worth it."""
    if len(values) < 2:
        return None
    same = pc.equal(values.slice(1), values.slice(0, len(values) - 1))
    same_np = same.fill_null(False).to_numpy(zero_copy_only=False)
    heads = np.flatnonzero(np.concatenate(([True], ~same_np)))
    return heads if len(heads) * 2 <= len(values) else None


def ids_in(ids: pd.Series | pa.Array, index: pd.Series | pa.Array) -> np.ndarray:
    """Whether each id is in ``index`` (a missing id never is)."""
    values = ids if isinstance(ids, pa.Array) else arrow_ids(ids)
    within = index if isinstance(index, pa.Array) else arrow_ids(index)
    if len(values) == 0:
        return np.zeros(0, dtype=bool)
    found = pc.is_in(values, value_set=within, skip_nulls=True)
    return found.fill_null(False).to_numpy(zero_copy_only=False).astype(bool, copy=False)


def null_column(n: int, dtype: str) -> pd.api.extensions.ExtensionArray | np.ndarray:
    """``n`` missing values of ``dtype``, as ``pd.Series([None] * n, dtype=dtype)`` holds them."""
    if dtype == "string" and pd.StringDtype().storage == "python":
        return pd.arrays.StringArray(np.full(n, pd.NA, dtype=object))
    if dtype == "float64":
        return np.full(n, np.nan)
    if dtype == "datetime64[ns]":
        return np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
    if dtype == "Int64":
        return pd.arrays.IntegerArray(np.zeros(n, dtype=np.int64), np.ones(n, dtype=bool))
    if dtype == "boolean":
        return pd.arrays.BooleanArray(np.zeros(n, dtype=bool), np.ones(n, dtype=bool))
    return pd.Series([None] * n, dtype=dtype).array
