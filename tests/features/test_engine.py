"""The engine's fast routes give exactly what the plain routes give (riskml.features._engine).

The engine picks between equivalent computations by the shape of the pairs and the data: running
counts over dense (household x date) grids or binary searches for sparse pairs, an order-free
scatter for max/min or an in-order reduction when a negative zero makes the order matter, sorted
integer keys or pandas for distinct counts. Each pair of routes must agree bit for bit, since
training sets and score files are compared byte for byte.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from riskml.data import Bundle
from riskml.data._schema import TABLES
from riskml.features import _engine as engine_module
from riskml.features import compute_features


def _grid_pairs(bundle: Bundle, dates: list[str]) -> pd.DataFrame:
    ids = bundle.households["household_id"].tolist()
    return pd.DataFrame(
        [(h, pd.Timestamp(d)) for h in ids for d in dates], columns=["household_id", "as_of"]
    )


def _arrow_ids(bundle: Bundle) -> Bundle:
    """The same bundle with its id and text columns stored in Arrow (what load_bundle gives)."""
    tables = {}
    for name, frame in bundle.tables.items():
        frame = frame.copy()
        for col in TABLES[name].columns:
            if col.kind in {"id", "string"} and col.name in frame.columns:
                frame[col.name] = frame[col.name].astype("string[pyarrow]")
        tables[name] = frame
    return Bundle(tables=tables, extracted_on=bundle.extracted_on, province=bundle.province)


@pytest.mark.parametrize("seed", [0, 5])
def test_dense_and_sparse_routes_give_identical_features(
    seed: int, make_random_bundle: Any, catalog: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Households x 9 quarter ends -> the default set's features (window bounds, member and
    state counts) are bit-identical whether the engine takes the running-count route (dense pairs,
    the default here) or the binary-search route (forced by a zero cell budget)."""
    bundle = make_random_bundle(seed, n_households=8, n_events=120)
    fs = catalog.feature_set("default")
    dates = [str(d.date()) for d in pd.date_range("2022-03-31", periods=9, freq="QE")]
    pairs = _grid_pairs(bundle, dates)
    dense = compute_features(bundle, pairs, fs)
    monkeypatch.setattr(engine_module, "_GRID_CELLS_PER_PAIR", 0)
    monkeypatch.setattr(engine_module, "_GRID_MIN_CELLS", -1)
    sparse = compute_features(bundle, pairs, fs)
    pd.testing.assert_frame_equal(dense, sparse, check_exact=True)
    assert dense.notna().to_numpy().any()


def test_arrow_and_python_string_ids_give_identical_features(
    make_random_bundle: Any, catalog: Any
) -> None:
    """Ids stored in Arrow are matched in Arrow, others through a pandas Index: same features,
    and a pair naming an unknown household is refused either way."""
    bundle = make_random_bundle(3, n_households=7, n_events=90)
    arrow = _arrow_ids(bundle)
    assert isinstance(arrow.households["household_id"].array, pd.arrays.ArrowStringArray)
    fs = catalog.feature_set("default")
    pairs = _grid_pairs(bundle, ["2023-06-30", "2024-12-31"])
    pd.testing.assert_frame_equal(
        compute_features(bundle, pairs, fs),
        compute_features(arrow, pairs.astype({"household_id": "string[pyarrow]"}), fs),
        check_exact=True,
    )
    unknown = pd.DataFrame({"household_id": ["NOPE"], "as_of": [pd.Timestamp("2024-12-31")]})
    with pytest.raises(
        ValueError, match=r"not in the bundle's households table \(e.g. \['NOPE'\]\)"
    ):
        compute_features(arrow, unknown.astype({"household_id": "string[pyarrow]"}), fs)


def _reduceat(p: str, pair: np.ndarray, vals: np.ndarray, n: int) -> np.ndarray:
    out = np.full(n, np.nan)
    starts = np.flatnonzero(np.r_[True, pair[1:] != pair[:-1]])
    out[pair[starts]] = (np.maximum if p == "max" else np.minimum).reduceat(vals, starts)
    return out


@pytest.mark.parametrize("p", ["max", "min"])
def test_extreme_equals_the_in_order_reduction(p: str) -> None:
    """Random runs of values (with infinities, pairs without rows) -> the scatter equals
    reduceat's per-pair extreme bit for bit; with -0.0 and 0.0 in one run, the in-order route
    is taken and keeps the sign reduceat gives."""
    rng = np.random.default_rng(4)
    n = 500
    pair = np.sort(rng.integers(0, n, size=3000))
    vals = rng.normal(0, 100, size=len(pair)).round(1)
    vals[rng.integers(0, len(vals), size=20)] = np.inf
    vals[rng.integers(0, len(vals), size=20)] = -np.inf
    got = engine_module._extreme(p, pair, vals, n)
    np.testing.assert_array_equal(got, _reduceat(p, pair, vals, n))
    assert np.isnan(got).any()  # some pairs have no rows
    zeros = np.array([0.0, -0.0, -0.0, 0.0])
    runs = np.array([0, 0, 1, 1])
    got = engine_module._extreme(p, runs, zeros, 2)
    want = _reduceat(p, runs, zeros, 2)
    assert np.array_equal(np.signbit(got), np.signbit(want))


def test_count_distinct_of_codes_equals_pandas() -> None:
    """Integer codes (-1 = missing counts as one value) -> the sorted-key route equals pandas'
    drop_duplicates; float values go through pandas."""
    rng = np.random.default_rng(9)
    n = 300
    pair = np.sort(rng.integers(0, n, size=2000))
    codes = rng.integers(-1, 12, size=len(pair)).astype(np.int32)
    uniq = pd.DataFrame({"p": pair, "v": codes}).drop_duplicates()
    want = np.bincount(uniq["p"].to_numpy(), minlength=n).astype(np.float64)
    np.testing.assert_array_equal(engine_module._count_distinct(pair, codes, n), want)
    floats = codes.astype(np.float64)
    floats[::7] = np.nan
    uniq = pd.DataFrame({"p": pair, "v": floats}).drop_duplicates()
    want = np.bincount(uniq["p"].to_numpy(), minlength=n).astype(np.float64)
    np.testing.assert_array_equal(engine_module._count_distinct(pair, floats, n), want)


@pytest.mark.parametrize("spread", [40, 10_000_000])
def test_distinct_days_equal_numpy_unique(spread: int) -> None:
    """A few as-of days close together (presence table) or far apart (np.unique) -> the same
    sorted days and places as np.unique(return_inverse=True)."""
    rng = np.random.default_rng(spread)
    d = rng.choice(rng.integers(19_000, 19_000 + spread, size=6), size=1000)
    uniq, place = engine_module._distinct_days(d.astype(np.int64))
    want_uniq, want_place = np.unique(d, return_inverse=True)
    np.testing.assert_array_equal(uniq, want_uniq)
    np.testing.assert_array_equal(place, want_place.reshape(-1))
