"""Household-id lookups on Arrow arrays give pandas' answers; null columns equal pandas' own."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from riskml.scoring._ids import arrow_ids, id_positions, ids_in, null_column

IDS = ["HH-3", "HH-1", "户-2", "HH-10", "HH-4"]


def _table_ids(grouped: bool, dtype: str) -> pd.Series:
    """Ids as a table holds them: known ones (repeated), unknown ones and missing values."""
    rng = np.random.default_rng(5)
    values = list(rng.choice([*IDS, "GHOST", "hh-1", ""], 400))
    values[7] = None
    values[8] = None
    if grouped:  # rows grouped by household: runs of equal ids
        values = sorted(values, key=lambda v: (v is None, v or ""))
    return pd.Series(values, dtype=dtype)


@pytest.mark.parametrize("grouped", [True, False])
@pytest.mark.parametrize("dtype", ["string[python]", "string[pyarrow]", "object"])
def test_positions_and_membership_are_pandas_answers(grouped: bool, dtype: str) -> None:
    table = _table_ids(grouped, dtype)
    index = pd.Series(IDS, dtype="string")
    expected = pd.Index(IDS).get_indexer(table.astype("string").to_numpy(dtype=object))
    np.testing.assert_array_equal(id_positions(table, index), expected)
    np.testing.assert_array_equal(id_positions(arrow_ids(table), arrow_ids(index)), expected)
    np.testing.assert_array_equal(ids_in(table, index), table.isin(IDS).to_numpy(dtype=bool))


def test_positions_of_duplicated_index_ids_are_their_first_rows() -> None:
    index = pd.Series(["a", "b", "a", "c"], dtype="string[pyarrow]")
    got = id_positions(pd.Series(["a", "c", "b", "a"]), index)
    assert got.tolist() == [0, 3, 1, 0]


def test_ids_that_are_not_strings_are_looked_up_as_their_text() -> None:
    got = id_positions(pd.Series([10, 3, 7]), pd.Series(["3", "10"], dtype="string"))
    assert got.tolist() == [1, 0, -1]
    assert ids_in(pd.Series([10, 3, 7]), ["3", "10"]).tolist() == [True, True, False]


def test_empty_lookups() -> None:
    empty = pd.Series([], dtype="string")
    assert id_positions(empty, pd.Series(IDS)).shape == (0,)
    assert ids_in(empty, pd.Series(IDS)).shape == (0,)
    assert id_positions(pd.Series(IDS), empty).tolist() == [-1] * len(IDS)
    assert not ids_in(pd.Series(IDS), empty).any()


@pytest.mark.parametrize("dtype", ["string", "float64", "datetime64[ns]", "Int64", "boolean"])
@pytest.mark.parametrize("n", [0, 3])
def test_null_columns_equal_a_series_of_nones(dtype: str, n: int) -> None:
    expected = pd.Series([None] * n, dtype=dtype)
    pd.testing.assert_series_equal(pd.Series(null_column(n, dtype)), expected)
