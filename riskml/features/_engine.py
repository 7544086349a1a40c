"""The point-in-time feature engine: a feature set for many (household, as_of) pairs at once.

Every primitive is computed for all pairs together with sorts, binary searches, cumulative sums
and ``bincount`` reductions — no Python loop over households. Each household's values depend only
on that household's own rows, so the engine gives identical results whether it is called on the
whole bundle, on one chunk of households or on one Spark partition. The one exception is the
village context (features of primitive ``context``): it needs the neighbours, so it is computed
once from the whole bundle by :func:`riskml.features.village_context` — a small table keyed by
``(village_code, as_of)`` — and joined to each chunk or partition (Spark broadcasts it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from riskml.data._bundle import Bundle
from riskml.data._schema import TABLES
from riskml.features._catalog import Catalog, Feature, FeatureSet, load_catalog
from riskml.features._tables import (
    FAR_FUTURE,
    FAR_PAST,
    Intervals,
    PreparedBundle,
    Selection,
    dates_to_days,
    days_to_dates,
    jan_first,
    pair_keys,
    shift_months,
    year_of,
)

__all__ = ["FeatureEngine", "compute_features", "monitoring_status"]

_DAYS_PER_MONTH = 365.25 / 12
_DAYS_PER_YEAR = 365.25


def _expand(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For ranges [lo, hi) per pair: (pair index, position) of every covered row, pair-major."""
    n = np.maximum(hi - lo, 0)
    total = int(n.sum())
    pair = np.repeat(np.arange(len(lo), dtype=np.int64), n)
    starts = np.cumsum(n) - n
    pos = np.arange(total, dtype=np.int64) - np.repeat(starts - lo, n)
    return pair, pos


def _segment_ends(pair: np.ndarray) -> np.ndarray:
    """Indices of the last element of each run of equal (sorted) pair indices."""
    if len(pair) == 0:
        return np.zeros(0, dtype=np.int64)
    return np.flatnonzero(np.r_[pair[1:] != pair[:-1], True])


def _window_sums(
    sel: Selection, column: str, start: np.ndarray, lo: np.ndarray, hi: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Sum (missing = 0) and count of non-missing values of rows [lo, hi) of each pair, from the
    per-household running sums (so a household's result never depends on other households)."""
    cs, cn = sel.cumsum(column)
    if len(cs) == 0:
        zeros = np.zeros(len(lo))
        return zeros, zeros
    upper = np.maximum(hi - 1, 0)
    lower = np.maximum(lo - 1, 0)
    has_upper, has_lower = hi > start, lo > start
    with np.errstate(all="ignore"):  # inf - inf on absurd amounts gives NaN, not a warning
        total = np.where(has_upper, cs[upper], 0.0) - np.where(has_lower, cs[lower], 0.0)
        n = np.where(has_upper, cn[upper], 0.0) - np.where(has_lower, cn[lower], 0.0)
    return total, n


class _Rows:
    """The rows each pair sees for one feature's selection and window: pair-major, ordered by
    ``order_by`` within a pair (ties: time order), with what several primitives share (the
    gathered columns and their sums) computed once."""

    def __init__(
        self,
        sel: Selection,
        pair: np.ndarray,
        pos: np.ndarray,
        counts: np.ndarray,
        ordv: np.ndarray | None,
        order_kind: str,
    ) -> None:
        self.sel, self.pair, self.pos, self.counts = sel, pair, pos, counts
        self.n_pairs = len(counts)
        self.order_kind = order_kind
        self._ordv = ordv
        self._rows = sel.rows[pos]
        self._cache: dict[Any, Any] = {}

    @property
    def ordv(self) -> np.ndarray:
        """Each row's order value (time order: its day number)."""
        if self._ordv is None:
            self._ordv = self.sel.t[self.pos].astype(np.float64)
        return self._ordv

    def values(self, column: str) -> np.ndarray:
        """``column`` of every row (contract codes or numbers)."""
        key = ("values", column)
        if key not in self._cache:
            self._cache[key] = self.sel.table.column(column)[self._rows]
        return self._cache[key]

    def floats(self, column: str) -> np.ndarray:
        key = ("floats", column)
        if key not in self._cache:
            self._cache[key] = self.values(column).astype(np.float64, copy=False)
        return self._cache[key]

    def total(self, column: str) -> np.ndarray:
        """Per-pair sum of ``column`` with missing values as 0 (infinities clipped, as ``sum``)."""
        key = ("total", column)
        if key not in self._cache:
            w = self.floats(column)
            if not np.isfinite(w).all():  # missing -> 0, infinities clipped
                w = np.nan_to_num(w, nan=0.0)
            self._cache[key] = np.bincount(self.pair, weights=w, minlength=self.n_pairs)
        return self._cache[key]

    def present_sum(self, column: str) -> tuple[np.ndarray, np.ndarray]:
        """Per-pair (sum, count) of the non-missing values of ``column``.

        Adding 0.0 for a missing value leaves a running sum unchanged, so without infinities the
        sum is :meth:`total`'s (one pass for ``sum`` and ``mean``).
        """
        key = ("present_sum", column)
        if key not in self._cache:
            vals = self.floats(column)
            ok = ~np.isnan(vals)
            if ok.all():  # nothing missing: every row counts
                n = np.bincount(self.pair, minlength=self.n_pairs).astype(np.float64)
            else:
                n = np.bincount(self.pair, weights=ok.astype(np.float64), minlength=self.n_pairs)
            if np.isinf(vals).any():
                w = np.where(ok, vals, 0.0)
                s = np.bincount(self.pair, weights=w, minlength=self.n_pairs)
            else:
                s = self.total(column)
            self._cache[key] = (s, n)
        return self._cache[key]

    def present(self, column: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(pair, value, order value) of the rows whose ``column`` is not missing."""
        key = ("present", column)
        if key not in self._cache:
            vals = self.floats(column)
            ok = ~np.isnan(vals)
            whole = bool(ok.all())  # nothing missing: no copies
            self._cache[key] = (self.pair, vals, ok) if whole else (self.pair[ok], vals[ok], ok)
        return self._cache[key]


def _rows_seen(
    f: Feature, sel: Selection, lo: np.ndarray, hi: np.ndarray, order_kind: str
) -> _Rows:
    """Expand each pair's rows [lo, hi), order them by ``order_by`` and keep the last ``last_n``."""
    pair, pos = _expand(lo, hi)
    counts = np.maximum(hi - lo, 0).astype(np.float64)
    ordv = None
    if f.order_by is not None:
        ordv = sel.values(f.order_by)[pos].astype(np.float64)
        same = pair[1:] == pair[:-1]
        if len(pair) > 1 and not np.all(~same | (ordv[1:] >= ordv[:-1])):
            srt = np.lexsort((pos, ordv, pair))
            pair, pos, ordv = pair[srt], pos[srt], ordv[srt]
    if f.last_n is not None:
        first = np.cumsum(counts).astype(np.int64) - counts.astype(np.int64)
        within = np.arange(len(pair)) - first[pair]
        keep = within >= counts[pair] - f.last_n
        pair, pos = pair[keep], pos[keep]
        ordv = ordv[keep] if ordv is not None else None
        counts = np.minimum(counts, f.last_n)
    return _Rows(sel, pair, pos, counts, ordv, order_kind)


def _rows_key(f: Feature) -> tuple[Any, ...]:
    """What decides the rows a timed feature reduces: its selection, window and order."""
    filters = tuple(sorted((k, tuple(v)) for k, v in f.filters.items()))
    window = (f.time_column, f.lag_months, f.window_months, f.order_by, f.last_n)
    return ("expanded", f.table, filters, *window)


def _by_count(p: str, rows: _Rows, d: np.ndarray) -> np.ndarray:
    """count, exists, days_since, months_since."""
    counts = rows.counts
    if p == "count":
        return counts
    if p == "exists":
        return (counts > 0).astype(np.float64)
    out = np.full(rows.n_pairs, np.nan)
    # the latest row in time, whatever order last_n used
    latest = np.full(rows.n_pairs, np.iinfo(np.int64).min)
    np.maximum.at(latest, rows.pair, rows.sel.t[rows.pos])
    has = counts > 0
    out[has] = (d[has] - latest[has]).astype(np.float64)
    return out if p == "days_since" else out / _DAYS_PER_MONTH


def _by_order(f: Feature, rows: _Rows) -> np.ndarray:
    """last, count_distinct, pct_change: the rows' order within each pair matters."""
    p, pair, n_pairs = f.primitive, rows.pair, rows.n_pairs
    if p == "last":
        vals = rows.values(f.column or "")
        out = np.full(
            n_pairs,
            -1 if f.dtype == "category" else np.nan,
            dtype=vals.dtype if f.dtype == "category" else np.float64,
        )
        ends = _segment_ends(pair)
        out[pair[ends]] = vals[ends]
        return out
    if p == "count_distinct":
        return _count_distinct(pair, rows.values(f.column or ""), n_pairs)
    vals = rows.floats(f.column or "")  # pct_change
    out = np.full(n_pairs, np.nan)
    ends = _segment_ends(pair)
    ends = ends[rows.counts[pair[ends]] >= 2]
    last, prev = vals[ends], vals[ends - 1]
    with np.errstate(all="ignore"):
        out[pair[ends]] = np.where(prev != 0, (last - prev) / np.abs(prev), np.nan)
    return out


def _count_distinct(pair: np.ndarray, vals: np.ndarray, n_pairs: int) -> np.ndarray:
    """Distinct values (a missing code counting as one value) per pair."""
    if vals.dtype.kind in "iu" and len(vals):
        low, high = int(vals.min()), int(vals.max())
        span = high - low + 1
        if n_pairs * span < 2**62:  # codes: one int64 key per (pair, value), distinct by sorting
            keys = np.unique(pair.astype(np.int64) * span + (vals.astype(np.int64) - low))
            return np.bincount(keys // span, minlength=n_pairs).astype(np.float64)
    uniq = pd.DataFrame({"p": pair, "v": vals}).drop_duplicates()
    return np.bincount(uniq["p"].to_numpy(), minlength=n_pairs).astype(np.float64)


def _by_sum(f: Feature, rows: _Rows) -> np.ndarray:
    """sum, mean, share."""
    p, column = f.primitive, f.column or ""
    if p == "sum":
        return rows.total(column)
    if p == "mean":
        s, n = rows.present_sum(column)
        with np.errstate(all="ignore"):
            return np.where(n > 0, s / n, np.nan)
    num = rows.total(column)  # share
    den_rows = np.sum([np.nan_to_num(rows.values(c), nan=0.0) for c in f.of], axis=0)
    den = np.bincount(rows.pair, weights=den_rows, minlength=rows.n_pairs)
    with np.errstate(all="ignore"):
        return np.where((rows.counts > 0) & (den > 0), num / den, np.nan)


def _by_present(f: Feature, rows: _Rows, d: np.ndarray) -> np.ndarray:
    """max, min, std, slope: over the non-missing values only."""
    p, n_pairs = f.primitive, rows.n_pairs
    pair, vals, ok = rows.present(f.column or "")
    if p in {"max", "min"}:
        return _extreme(p, pair, vals, n_pairs)
    n = np.bincount(pair, minlength=n_pairs).astype(np.float64)
    if p == "std":
        with np.errstate(all="ignore"):
            mean = np.bincount(pair, weights=vals, minlength=n_pairs) / n
            ss = np.bincount(pair, weights=(vals - mean[pair]) ** 2, minlength=n_pairs)
            return np.where(n >= 2, np.sqrt(ss / (n - 1)), np.nan)
    if p == "slope":
        return _slope(pair, vals, rows.ordv[ok], rows.order_kind, d, n)
    raise ValueError(f"feature '{f.name}': primitive '{p}' is not implemented by the engine")


def _extreme(p: str, pair: np.ndarray, vals: np.ndarray, n_pairs: int) -> np.ndarray:
    """Per-pair max or min of (non-missing) ``vals``, NaN for a pair without values."""
    out = np.full(n_pairs, np.nan)
    if len(pair) == 0:
        return out
    ufunc = np.maximum if p == "max" else np.minimum
    if bool((pair[1:] >= pair[:-1]).all()):
        # pair-major rows (what _rows_seen gives): reduce each pair's run in order, so that
        # which of -0.0 and 0.0 wins is decided as in the slow reference. (``ufunc.at`` is not
        # used here: on bit-identical inputs its time varied 30x with where the arrays sat in
        # memory, 0.4 to 12 ms for 280,000 values, against about 2 ms for ``reduceat``.)
        starts = np.flatnonzero(np.r_[True, pair[1:] != pair[:-1]])
        out[pair[starts]] = vals if len(starts) == len(vals) else ufunc.reduceat(vals, starts)
        return out
    if bool(((vals == 0) & np.signbit(vals)).any()):
        # which of -0.0 and 0.0 wins depends on the order: sort the rows by pair (stable)
        order = np.argsort(pair, kind="stable")
        return _extreme(p, pair[order], vals[order], n_pairs)
    # otherwise the extreme does not depend on the order: one unbuffered scatter
    acc = np.full(n_pairs, -np.inf if p == "max" else np.inf)
    ufunc.at(acc, pair, vals)
    seen = np.zeros(n_pairs, dtype=bool)
    seen[pair] = True
    out[seen] = acc[seen]
    return out


def _slope(
    pair: np.ndarray,
    vals: np.ndarray,
    ordv: np.ndarray,
    order_kind: str,
    d: np.ndarray,
    n: np.ndarray,
) -> np.ndarray:
    """Least-squares slope of ``vals`` against the order values, per pair (units per year)."""
    n_pairs = len(n)
    if order_kind == "int":
        x = ordv - year_of(d[pair]).astype(np.float64)
    elif order_kind == "date":
        x = (ordv - d[pair]) / _DAYS_PER_YEAR
    else:
        x = ordv
    sx = np.bincount(pair, weights=x, minlength=n_pairs)
    sy = np.bincount(pair, weights=vals, minlength=n_pairs)
    with np.errstate(all="ignore"):
        mx, my = sx / n, sy / n
        dx = x - mx[pair]
        sxx = np.bincount(pair, weights=dx * dx, minlength=n_pairs)
        sxy = np.bincount(pair, weights=dx * (vals - my[pair]), minlength=n_pairs)
        return np.where((n >= 2) & (sxx > 1e-12), sxy / sxx, np.nan)


_GRID_CELLS_PER_PAIR = 4
_GRID_MIN_CELLS = 4096
"""Use the (household x date) histogram route while it has at most this many cells per pair."""


def _distinct_days(d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct days (sorted) and each day's place among them (``np.unique`` with
    ``return_inverse``): a presence table over the days' range when it is short, as usual."""
    if len(d) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.intp)
    low, high = int(d.min()), int(d.max())
    if high - low > 4 * len(d) + 4096:
        uniq, inverse = np.unique(d, return_inverse=True)
        return uniq, inverse.reshape(-1)
    present = np.bincount(d - low, minlength=high - low + 1) > 0
    place = np.cumsum(present) - 1
    return np.flatnonzero(present).astype(np.int64) + low, place[d - low].astype(np.intp)


class _Pairs:
    """The (household, day) pairs of one engine call, with shared per-call caches."""

    def __init__(self, h: np.ndarray, d: np.ndarray) -> None:
        self.h, self.d = h, d
        self._unique_days, self._day_index = _distinct_days(np.asarray(d, dtype=np.int64))
        self._shifted: dict[tuple[int, ...], np.ndarray] = {}
        self.cache: dict[Any, Any] = {}

    def __len__(self) -> int:
        return len(self.h)

    def keys(self, *months: int) -> np.ndarray:
        """Search keys of (household, as-of day shifted by ``months``)."""
        k = ("keys", months)
        if k not in self.cache:
            self.cache[k] = pair_keys(self.h, self.shifted(*months))
        return self.cache[k]

    def unique_shifted(self, *months: int) -> np.ndarray:
        """The distinct as-of days (sorted) moved by ``months[0]`` calendar months, then
        ``months[1]``, ... (still non-decreasing: shifting keeps the order)."""
        key = ("unique_shifted", months)
        if key not in self.cache:
            u = self._unique_days
            for m in months:
                u = shift_months(u, m)
            self.cache[key] = u
        return self.cache[key]

    def shifted(self, *months: int) -> np.ndarray:
        """Each pair's as-of day moved by ``months`` (see :meth:`unique_shifted`)."""
        if months not in self._shifted:
            self._shifted[months] = self.unique_shifted(*months)[self._day_index]
        return self._shifted[months]

    def upto(self, sel: Selection, *months: int) -> np.ndarray:
        """For each pair, the position just after its household's last ``sel`` row with time on or
        before the as-of day shifted by ``months`` (what ``searchsorted`` of the pair key gives)."""
        return self.bounds(sel, months)[0]

    def bounds(self, sel: Selection, *shifts: tuple[int, ...]) -> list[np.ndarray]:
        """:meth:`upto` for several shifts of the as-of days at once.

        When the pairs are a dense grid of households x a few dates (training sets, scoring), the
        positions come from running counts over (household, boundary) cells instead of a binary
        search per pair (:meth:`_running`). Both routes give the same exact integer positions.
        """
        if len(self.h) == 0:
            return [np.zeros(0, dtype=np.int64) for _ in shifts]
        grid = self._grid(shifts)
        if grid is None:  # sparse: binary searches
            return [sel.upto_keys(self.keys(*m)) for m in shifts]
        h_lo, span = grid[0], grid[1]
        first = sel.household_start(np.array([h_lo, h_lo + span], dtype=np.int64))
        rows = slice(int(first[0]), int(first[1]))
        return self._running(sel.h[rows], sel.t[rows], grid, offset=int(first[0]))

    def interval_count(self, iv: Intervals, *months: int) -> np.ndarray:
        """How many of ``iv``'s intervals contain each pair's as-of day moved by ``months``."""
        grid = self._grid((months,)) if len(self.h) else None
        if grid is None:
            return iv.count(self.h, self.shifted(*months))
        h_lo, span = grid[0], grid[1]
        counts = []
        for keys in (iv.start_keys, iv.end_keys):  # rows sorted by (household, day) keys
            lo, hi = np.searchsorted(keys, np.array([h_lo, h_lo + span], dtype=np.int64) << 32)
            part = keys[lo:hi]
            (c,) = self._running(part >> 32, (part & 0xFFFFFFFF) - 2**31, grid)
            counts.append(c)
        return (counts[0] - counts[1]).astype(np.float64)  # started minus ended

    def _grid(self, shifts: tuple[tuple[int, ...], ...]) -> tuple[Any, ...] | None:
        """(first household, households, merged boundary days, shifted days per shift) when the
        pairs are dense enough for running counts; None for sparse pairs."""
        if "span" not in self.cache:
            self.cache["span"] = (int(self.h.min()), int(self.h.max()))
        h_lo, h_hi = self.cache["span"]
        span = h_hi - h_lo + 1
        grids = [self.unique_shifted(*m) for m in shifts]
        merged = np.unique(np.concatenate(grids))
        if (
            span * (len(merged) + 1)
            > _GRID_CELLS_PER_PAIR * len(self.h) * len(shifts) + _GRID_MIN_CELLS
        ):
            return None
        return h_lo, span, merged, grids

    def _running(
        self, h: np.ndarray, t: np.ndarray, grid: tuple[Any, ...], offset: int = 0
    ) -> list[np.ndarray]:
        """For rows sorted by (household, time) and all of households ``h_lo ..``: per pair, the
        rows of earlier households plus its household's rows with time on or before each shifted
        as-of day (a histogram over (household, boundary) cells, then a running sum)."""
        h_lo, span, merged, grids = grid
        width = len(merged) + 1  # the last column holds rows after every boundary
        cell = (h.astype(np.int64) - h_lo) * width
        cell += np.searchsorted(merged, t, side="left")
        running = np.cumsum(np.bincount(cell, minlength=span * width))
        if offset:
            running += offset  # rows before the first household
        out = []
        for days in grids:
            key = ("cells", h_lo, merged.tobytes(), days.tobytes())
            if key not in self.cache:  # each pair's cell, shared by selections with these dates
                column = np.searchsorted(merged, days)  # exact: every grid day is in ``merged``
                self.cache[key] = (self.h.astype(np.int64) - h_lo) * width + column[self._day_index]
            out.append(running[self.cache[key]])
        return out


class FeatureEngine:
    """Computes catalog features from one bundle; reuse it for many calls (chunks, as-of dates).

    Parameters
    ----------
    bundle
        A contract-conforming :class:`riskml.data.Bundle`.
    catalog
        The feature catalog (default: :func:`load_catalog`).
    thresholds
        A ``ThresholdConfig`` (default: ``configs/thresholds.yaml``).

    Examples
    --------
    >>> engine = FeatureEngine(bundle)  # doctest: +SKIP
    >>> engine.compute(pairs, "default")  # doctest: +SKIP
    """

    def __init__(
        self, bundle: Bundle, *, catalog: Catalog | None = None, thresholds: Any = None
    ) -> None:
        self.bundle = bundle
        self.prepared = PreparedBundle(bundle, thresholds=thresholds)
        self._catalog = catalog
        self._village_codes: tuple[np.ndarray, pd.Index] | None = None

    @property
    def catalog(self) -> Catalog:
        if self._catalog is None:
            self._catalog = load_catalog()
        return self._catalog

    def resolve(self, feature_set: FeatureSet | str) -> FeatureSet:
        """A feature set by name (from this engine's catalog) or as given."""
        if isinstance(feature_set, FeatureSet):
            return feature_set
        if not isinstance(feature_set, str):
            raise TypeError(
                f"The 'feature_set' parameter must be a FeatureSet or a feature-set name. Got {type(feature_set).__name__} instead."
            )
        return self.catalog.feature_set(feature_set)

    # -- public entry points --------------------------------------------------------------------
    def compute(
        self,
        pairs: pd.DataFrame,
        feature_set: FeatureSet | str,
        *,
        village_table: pd.DataFrame | None = None,
        facts: bool = False,
    ) -> pd.DataFrame:
        """Features for each (household_id, as_of) row of ``pairs``, in input order.

        See :func:`compute_features`.
        """
        fs = self.resolve(feature_set)
        columns = (*fs.features, *fs.facts) if facts else fs.features
        h, d = self.pairs_to_arrays(pairs, "compute_features")
        if len(h) == 0:
            empty = {f.name: np.zeros(0, dtype=np.int64) for f in columns}
            return self.to_frame(empty, columns, index=pairs.index)
        if village_table is None and any(f.primitive == "context" for f in fs.required):
            from riskml.features._village import village_context

            village_table = village_context(
                self.bundle, days_to_dates(np.unique(d)), settings=fs.village, engine=self
            )
        return self.compute_frame(
            h, d, fs, village_table=village_table, index=pairs.index, columns=columns
        )

    def compute_frame(
        self,
        h: np.ndarray,
        d: np.ndarray,
        fs: FeatureSet,
        *,
        village_table: pd.DataFrame | None,
        index: Any,
        columns: Sequence[Feature] | None = None,
    ) -> pd.DataFrame:
        """The output frame of ``columns`` (default: the set's features) for household codes
        ``h`` and as-of days ``d``: the float features are computed straight into the columns
        of the frame's single float64 block (no second copy)."""
        columns = fs.features if columns is None else columns
        floats = [f for f in columns if f.dtype != "category"]
        block = np.empty((len(h), len(floats)), dtype=np.float64, order="F")
        into = {f.name: block[:, j] for j, f in enumerate(floats)}
        values = self.compute_arrays(h, d, fs.required, village_table=village_table, into=into)
        return self._block_frame(block, values, columns, index)

    def to_frame(
        self,
        values: dict[str, np.ndarray],
        features: Sequence[Feature],
        index: Any = None,
        *,
        consume: bool = False,
    ) -> pd.DataFrame:
        """Raw arrays (category codes for categorical features) to the output frame.

        The float features are written into one column-major block that becomes the frame's
        single float64 block without another copy; categorical columns are inserted in place.
        ``consume`` drops each array from ``values`` once copied (lower peak memory).
        """
        n = len(index) if index is not None else (len(next(iter(values.values()))) if values else 0)
        floats = [f for f in features if f.dtype != "category"]
        block = np.empty((n, len(floats)), dtype=np.float64, order="F")
        for j, f in enumerate(floats):
            block[:, j] = values.pop(f.name) if consume else values[f.name]
        return self._block_frame(block, values, features, index)

    @staticmethod
    def _block_frame(
        block: np.ndarray, values: dict[str, np.ndarray], features: Sequence[Feature], index: Any
    ) -> pd.DataFrame:
        """The output frame over ``block`` (the float features' columns, in order) plus the
        categorical features from ``values``."""
        floats = [f for f in features if f.dtype != "category"]
        frame = pd.DataFrame(block, columns=[f.name for f in floats], index=index, copy=False)
        for loc, f in enumerate(features):
            if f.dtype == "category":
                codes = values[f.name].astype(np.int64)
                frame.insert(
                    loc, f.name, pd.Categorical.from_codes(codes, categories=list(_vocab(f)))
                )
        return frame

    def output_columns(
        self, values: dict[str, np.ndarray], features: Sequence[Feature]
    ) -> dict[str, Any]:
        """Output columns in order: float64 arrays, or Categoricals over the contract vocabulary."""
        cols: dict[str, Any] = {}
        for f in features:
            v = values[f.name]
            if f.dtype == "category":
                cols[f.name] = pd.Categorical.from_codes(
                    v.astype(np.int64), categories=list(_vocab(f))
                )
            else:
                cols[f.name] = v.astype(np.float64, copy=False)
        return cols

    def pairs_to_arrays(self, pairs: pd.DataFrame, caller: str) -> tuple[np.ndarray, np.ndarray]:
        """Validate ``pairs`` and return (household codes, as_of day numbers)."""
        if not isinstance(pairs, pd.DataFrame):
            raise TypeError(
                f"The 'pairs' parameter of {caller} must be a DataFrame with columns household_id and as_of. Got {type(pairs).__name__} instead."
            )
        missing = [c for c in ("household_id", "as_of") if c not in pairs.columns]
        if missing:
            raise ValueError(
                f"The 'pairs' frame given to {caller} lacks column(s) {missing}; it needs household_id and as_of."
            )
        try:
            as_of = (
                pairs["as_of"]
                if pairs["as_of"].dtype.kind == "M"
                else pd.to_datetime(pairs["as_of"])
            )
        except (ValueError, TypeError) as exc:
            raise ValueError(
                f"pairs.as_of given to {caller} holds values that are not dates: {exc}"
            ) from exc
        if as_of.isna().any():
            rows = np.flatnonzero(as_of.isna().to_numpy())[:5].tolist()
            raise ValueError(
                f"pairs.as_of given to {caller} is empty in rows {rows}; every pair needs an as-of date."
            )
        codes = self.prepared.lookup(pairs["household_id"])  # an empty id is never found
        if (codes < 0).any() and pairs["household_id"].isna().any():
            rows = np.flatnonzero(pairs["household_id"].isna().to_numpy())[:5].tolist()
            raise ValueError(f"pairs.household_id given to {caller} is empty in rows {rows}.")
        d = dates_to_days(as_of)
        extracted = int(dates_to_days(pd.Series([pd.Timestamp(self.bundle.extracted_on)]))[0])
        late = d > extracted
        if late.any():
            bad = sorted({str(x)[:10] for x in days_to_dates(np.unique(d[late]))})[:5]
            raise ValueError(
                f"as-of date(s) {bad} given to {caller} are after the bundle's extraction date "
                f"{self.bundle.extracted_on}; features after it would miss records. Use as-of dates on or before "
                "the extraction date."
            )
        h = self.prepared.known_codes(pairs["household_id"], codes)
        return h, d

    # -- the engine ------------------------------------------------------------------------------
    def compute_arrays(
        self,
        h: np.ndarray,
        d: np.ndarray,
        features: Sequence[Feature],
        *,
        village_table: pd.DataFrame | None = None,
        into: dict[str, np.ndarray] | None = None,
    ) -> dict[str, np.ndarray]:
        """Raw values (float64; int64 category codes for categorical features) per feature name.

        ``features`` must be in dependency order (``FeatureSet.required`` is). ``into`` maps
        feature names to float64 arrays of the pairs' length that receive their values (the
        columns of the output block: no second copy); the returned arrays are then those.
        """
        keys = pair_keys(h, d)
        already_sorted = bool(np.all(keys[1:] >= keys[:-1])) if len(keys) > 1 else True
        if already_sorted:  # training-set chunks come sorted: no reordering needed
            hs, ds = h, d
        else:  # sorted needles make the binary searches cache-friendly
            order = np.argsort(keys, kind="stable")
            hs, ds = h[order], d[order]
        pairs = _Pairs(hs, ds)
        values: dict[str, np.ndarray] = {}
        last_use = {_rows_key(f): i for i, f in enumerate(features)}
        for i, f in enumerate(features):
            v = self._one(f, pairs, values, village_table)
            if into is not None and f.name in into and already_sorted:
                into[f.name][:] = v
                v = into[f.name]
            values[f.name] = v
            if last_use[_rows_key(f)] == i:  # no later feature reads these rows: free them
                pairs.cache.pop(_rows_key(f), None)
        if already_sorted:
            return values
        inverse = np.empty_like(order)
        inverse[order] = np.arange(len(order))
        out: dict[str, np.ndarray] = {}
        for name, v in values.items():
            if into is not None and name in into:
                into[name][:] = v[inverse]
                out[name] = into[name]
            else:
                out[name] = v[inverse]
        return out

    def _one(
        self,
        f: Feature,
        pairs: _Pairs,
        done: dict[str, np.ndarray],
        village_table: pd.DataFrame | None,
    ) -> np.ndarray:
        p = f.primitive
        if p == "ratio":
            with np.errstate(all="ignore"):
                num = np.sum([done[n] for n in f.numerator], axis=0)
                den = np.sum([done[n] for n in f.denominator], axis=0)
                return np.where(den > 0, num / den, np.nan)
        if p == "context":
            return self._context(f, pairs, village_table)
        if p in {"static", "age", "years_since"}:
            return self._household_attr(f, pairs.h, pairs.d)
        if p == "member_count":
            return self._member_count(f, pairs)
        if p == "state_count":
            return self._state_count(f, pairs)
        return self._timed(f, pairs)

    # -- household registry ------------------------------------------------------------------------
    def _household_attr(self, f: Feature, h: np.ndarray, d: np.ndarray) -> np.ndarray:
        column = self.prepared.households.column(f.column or "")
        v = column[h]
        if f.primitive == "static":
            return v
        year = year_of(d).astype(np.float64)
        if f.primitive == "age":
            return year - v
        return np.where(v <= year, year - v, np.nan)  # years_since: never a year after D

    def _member_count(self, f: Feature, pairs: _Pairs) -> np.ndarray:
        key = ("member_count", tuple(sorted(f.filters.items())), f.age_min, f.age_max)

        def build() -> Intervals:
            t = self.prepared.tables["members"]
            m = t.mask(f.filters)
            by = t.column("birth_year")[m]
            joined = t.column("joined_on")[m]
            joined = np.where(joined == FAR_FUTURE, FAR_PAST, joined)  # empty = from the start
            left = t.column("left_on")[m]  # empty = still there (FAR_FUTURE)
            has_age_rule = f.age_min is not None or f.age_max is not None
            born = jan_first(by + (f.age_min or 0))
            start = np.where(
                np.isfinite(by), np.maximum(joined, born), FAR_FUTURE if has_age_rule else joined
            )
            end = left
            if f.age_max is not None:
                end = np.minimum(end, jan_first(by + f.age_max + 1))
            return Intervals(t.h[m], start, end)

        return pairs.interval_count(self.prepared.intervals(key, build))

    def _state_count(self, f: Feature, pairs: _Pairs) -> np.ndarray:
        key = (
            "state_count",
            f.table,
            tuple(sorted(f.filters.items())),
            f.column,
            f.starts,
            f.ends,
            f.key,
            f.time_column,
        )
        vocab = list(_column_vocab(f.table, f.column or ""))

        def build() -> Intervals:
            sel = self.prepared.selection(f.table, f.filters, f.time_column)
            state = sel.values(f.column or "")
            on = np.isin(state, [vocab.index(v) for v in f.starts])
            off = np.isin(state, [vocab.index(v) for v in f.ends])
            keep = on | off
            hh, tt, on = sel.h[keep], sel.t[keep], on[keep]
            k = sel.values(f.key)[keep] if f.key else np.zeros(len(hh), dtype=np.int64)
            order = np.lexsort(
                (np.arange(len(hh)), k, hh)
            )  # (household, key), then time order kept
            hh, tt, on, k = hh[order], tt[order], on[order], k[order]
            same_next = np.r_[(hh[1:] == hh[:-1]) & (k[1:] == k[:-1]), False]
            t_next = np.where(same_next, np.r_[tt[1:], FAR_FUTURE], FAR_FUTURE)
            return Intervals(hh[on], tt[on], t_next[on])

        return pairs.interval_count(self.prepared.intervals(key, build), -f.lag_months)

    # -- village context -----------------------------------------------------------------------------
    def village_codes(self) -> tuple[np.ndarray, pd.Index]:
        if self._village_codes is None:
            from riskml.features._village import village_order

            self._village_codes = village_order(self.prepared.households.frame)
        return self._village_codes

    def _context(self, f: Feature, pairs: _Pairs, table: pd.DataFrame | None) -> np.ndarray:
        if table is None:
            raise ValueError(
                f"feature '{f.name}' needs the village-context table; pass village_table=village_context(bundle, as_of_dates)."
            )
        h, d, cache = pairs.h, pairs.d, pairs.cache
        if "village_rows" not in cache:
            missing = [c for c in ("village_code", "as_of") if c not in table.columns]
            if missing:
                raise ValueError(
                    f"village_table lacks column(s) {missing}; build it with riskml.features.village_context."
                )
            vcode, uniques = self.village_codes()
            # villages of this partition only: the table may cover the whole roster
            tv = uniques.get_indexer(table["village_code"].astype("object").to_numpy())
            mine = np.flatnonzero(tv >= 0)
            index = pd.Index(pair_keys(tv[mine], dates_to_days(table["as_of"].iloc[mine])))
            if not index.is_unique:
                raise ValueError(
                    "village_table has more than one row for a (village_code, as_of); build it with village_context."
                )
            found = index.get_indexer(pair_keys(vcode[h], d))
            rows = np.where(found >= 0, mine[np.maximum(found, 0)], -1)
            if (rows < 0).any():
                i = int(np.flatnonzero(rows < 0)[0])
                raise ValueError(
                    f"village_table has no row for village {uniques[vcode[h[i]]]!r} as of "
                    f"{str(days_to_dates(d[i : i + 1])[0])[:10]}; compute it for the same as-of dates and bundle."
                )
            cache["village_rows"] = rows
        rows = cache["village_rows"]
        if f.column not in table.columns:
            raise ValueError(
                f"village_table lacks column '{f.column}' needed by feature '{f.name}'."
            )
        return pd.to_numeric(table[f.column], errors="coerce").to_numpy(dtype=np.float64)[rows]

    # -- time-based primitives ---------------------------------------------------------------------
    def _window(self, f: Feature, sel: Selection, pairs: _Pairs) -> tuple[np.ndarray, np.ndarray]:
        """(lo, hi): the positions of each pair's first and after its last row in the window
        (without a window, ``lo`` is where the household's rows start)."""
        key = ("window", id(sel), f.lag_months, f.window_months)
        cache = pairs.cache
        if key not in cache:
            if f.window_months:
                hi, lo = pairs.bounds(sel, (-f.lag_months,), (-f.lag_months, -f.window_months))
            else:
                hi, lo = pairs.upto(sel, -f.lag_months), sel.household_start(pairs.h)
            cache[key] = (lo, hi)
        return cache[key]

    def _timed(self, f: Feature, pairs: _Pairs) -> np.ndarray:
        sel = self.prepared.selection(f.table, f.filters, f.time_column)
        lo, hi = self._window(f, sel, pairs)
        h, d = pairs.h, pairs.d
        p = f.primitive
        count = (hi - lo).astype(np.float64)
        fast = f.last_n is None and f.order_by is None
        if p == "count" and fast:
            return count
        if p == "exists" and fast:
            return (count > 0).astype(np.float64)
        if p in {"sum", "mean"} and fast and f.window_months is None:
            # "so far": per-household running sums; windowed sums reduce the expanded rows instead
            key = ("window_sum", id(sel), f.column, f.lag_months, f.window_months)
            if key not in pairs.cache:
                pairs.cache[key] = _window_sums(sel, f.column or "", lo, lo, hi)  # lo = start
            total, n = pairs.cache[key]
            if p == "sum":
                return total
            with np.errstate(all="ignore"):
                return np.where(n > 0, total / n, np.nan)
        if p in {"days_since", "months_since"} and fast:
            has = hi > lo
            last_t = sel.t[np.maximum(hi - 1, 0)] if len(sel) else np.zeros(len(h), dtype=np.int64)
            days = np.where(has, (d - last_t).astype(np.float64), np.nan)
            return days if p == "days_since" else days / _DAYS_PER_MONTH
        if p == "last" and fast:
            has = hi > lo
            vals = sel.values(f.column or "")
            picked = vals[np.maximum(hi - 1, 0)] if len(sel) else np.zeros(len(h))
            return np.where(has, picked, -1 if f.dtype == "category" else np.nan)
        return self._expanded(f, sel, lo, hi, pairs)

    def _expanded(
        self, f: Feature, sel: Selection, lo: np.ndarray, hi: np.ndarray, pairs: _Pairs
    ) -> np.ndarray:
        """Primitives that need each pair's rows: expand the (pair, row) list once per selection
        and window (shared by every feature over it), then reduce it."""
        key = _rows_key(f)
        if key not in pairs.cache:
            pairs.cache[key] = _rows_seen(f, sel, lo, hi, self._order_kind(f))
        rows = pairs.cache[key]
        p = f.primitive
        if p in {"count", "exists", "days_since", "months_since"}:
            return _by_count(p, rows, pairs.d)
        if p in {"last", "count_distinct", "pct_change"}:
            return _by_order(f, rows)
        if p in {"sum", "mean", "share"}:
            return _by_sum(f, rows)
        return _by_present(f, rows, pairs.d)

    @staticmethod
    def _order_kind(f: Feature) -> str:
        """How ``slope`` reads the order values: dates, (income) years, or plain numbers."""
        if f.order_by is None:
            return "date"
        schema = TABLES[f.table]
        return schema.column(f.order_by).kind if f.order_by in schema.column_names else "money"

    # -- monitoring status ---------------------------------------------------------------------------
    def status_arrays(
        self, h: np.ndarray, d: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(under monitoring, identified_on day of the active episode, category code) per pair.

        Under monitoring on D: identified_on <= D and (eliminated_on empty or > D). With several
        open episodes, the latest identified one is reported.
        """
        sel = self.prepared.selection("monitoring", {}, None)
        lo = sel.household_start(h)
        hi = _Pairs(h, d).upto(sel)
        pair, pos = _expand(lo, hi)
        elim = sel.values("eliminated_on")[pos]
        active = elim > d[pair]
        pair, pos = pair[active], pos[active]
        ends = _segment_ends(
            pair
        )  # positions are time-sorted within a pair: the last is the latest
        under = np.zeros(len(h), dtype=bool)
        ident = np.full(len(h), FAR_FUTURE, dtype=np.int64)
        cat = np.full(len(h), -1, dtype=np.int64)
        under[pair[ends]] = True
        ident[pair[ends]] = sel.t[pos[ends]]
        cat[pair[ends]] = sel.values("category")[pos[ends]]
        return under, ident, cat

    def monitoring_status(self, pairs: pd.DataFrame) -> pd.DataFrame:
        """See :func:`monitoring_status`."""
        h, d = self.pairs_to_arrays(pairs, "monitoring_status")
        under, ident, cat = self.status_arrays(h, d)
        return pd.DataFrame(
            {
                "under_monitoring": under,
                "identified_on": days_to_dates(ident),
                "category": pd.Categorical.from_codes(
                    cat, categories=list(TABLES["monitoring"].column("category").vocab or ())
                ),
            },
            index=pairs.index,
        )


def _column_vocab(table: str, column: str) -> tuple[str, ...]:
    return TABLES[table].column(column).vocab or ()


def _vocab(f: Feature) -> tuple[str, ...]:
    return _column_vocab(f.table, f.column or "")


def _restrict(bundle: Bundle, household_ids: pd.Series) -> Bundle:
    """The bundle with only the given households' rows (for small scoring calls on big bundles)."""
    wanted = pd.Index(pd.unique(household_ids.astype("object").to_numpy()), dtype="object")
    tables = {}
    for name, frame in bundle.tables.items():
        keep = wanted.get_indexer(frame["household_id"].astype("object").to_numpy()) >= 0
        tables[name] = frame.loc[keep].reset_index(drop=True)
    return Bundle(
        tables=tables,
        extracted_on=bundle.extracted_on,
        province=bundle.province,
        source=bundle.source,
        quarantine=bundle.quarantine,
    )


def compute_features(
    bundle: Bundle,
    pairs: pd.DataFrame,
    feature_set: FeatureSet | str,
    *,
    village_table: pd.DataFrame | None = None,
    catalog: Catalog | None = None,
    facts: bool = False,
) -> pd.DataFrame:
    """Compute a feature set for (household, as_of) pairs, point in time.

    Parameters
    ----------
    bundle
        The household-history bundle.
    pairs
        A frame with ``household_id`` and ``as_of`` (dates on or before ``bundle.extracted_on``).
        Any order; a household may appear with many as-of dates.
    feature_set
        A :class:`FeatureSet` or the name of one in the catalog (e.g. ``"default"``).
    village_table
        The village-context table (:func:`village_context` of the *whole* bundle for these as-of
        dates). Needed when the set has ``context`` features and ``bundle`` is only one partition
        of the households; computed from ``bundle`` when omitted.
    catalog
        The catalog to resolve a set name in (default :func:`load_catalog`).
    facts
        Also return the set's fact fields (``FeatureSet.facts``: income year, monitoring line
        ...) after the feature columns: what reason statements quote. Never model inputs.

    Returns
    -------
    pandas.DataFrame
        One row per pair, aligned to ``pairs`` (same index and order), one column per feature:
        float64, or ``category`` (categories = the contract vocabulary) for categorical features.

    Notes
    -----
    A feature for a household as of D uses only rows recorded on or before D (the contract's
    point-in-time rule). Apart from ``context`` features, a household's values depend only on its
    own rows: calling this on any subset of households (all rows of a household together) gives
    identical values.
    """
    engine_catalog = catalog
    if isinstance(feature_set, str) and engine_catalog is None:
        engine_catalog = load_catalog()
    fs = (
        feature_set
        if isinstance(feature_set, FeatureSet)
        else (engine_catalog or load_catalog()).feature_set(feature_set)
    )
    if (
        isinstance(pairs, pd.DataFrame)
        and "household_id" in pairs.columns
        and len(pairs) < len(bundle.households) // 2
    ):
        needs_village = any(f.primitive == "context" for f in fs.required)
        if village_table is None and needs_village and len(pairs):
            as_of = pd.to_datetime(pairs["as_of"], errors="coerce").dropna().unique()
            from riskml.features._village import village_context

            village_table = village_context(bundle, list(as_of), settings=fs.village)
        bundle = _restrict(bundle, pairs["household_id"])
    engine = FeatureEngine(bundle, catalog=engine_catalog)
    return engine.compute(pairs, fs, village_table=village_table, facts=facts)


def monitoring_status(bundle: Bundle, pairs: pd.DataFrame) -> pd.DataFrame:
    """Whether each household is under active monitoring on its as-of date.

    Parameters
    ----------
    bundle
        The household-history bundle.
    pairs
        A frame with ``household_id`` and ``as_of``.

    Returns
    -------
    pandas.DataFrame
        Aligned to ``pairs``: ``under_monitoring`` (bool; identified_on <= as_of and eliminated_on
        empty or after as_of), ``identified_on`` and ``category`` of the active episode (NaT / NaN
        when not monitored). Eligible for a training set = not under monitoring.
    """
    return FeatureEngine(bundle).monitoring_status(pairs)
