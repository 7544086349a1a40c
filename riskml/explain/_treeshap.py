"""Exact path-dependent TreeSHAP for a whole roster, by decision-pattern deduplication.

The SHAP values one tree gives a row (Lundberg et al.'s path-dependent TreeSHAP, what LightGBM's
``pred_contrib`` computes) depend on the row only through the side it takes at *every* internal
node of that tree: the recursion visits all nodes and follows each node's "hot" child, the one
the row would take. Rows with the same decision vector in a tree get the same values from it.
On household features (counts that are mostly zero, flags, ratios) a tree sees a few hundred to
a few thousand distinct decision vectors across a whole roster, so:

Bigger trees (31 leaves and up) see many more distinct decision vectors. But a leaf's
contributions depend only on the decisions along its own root path, so each tree is also cut into
*units* of at most ``max_group_leaves`` leaves (subtrees, neighbouring small ones merged): a
unit's values depend only on its leaves' ancestors' decisions, so a unit has far fewer distinct
patterns than its tree. Per chunk of rows:

1. decide every node of every tree for every row, exactly as LightGBM does (compiled, one pass
   per node over a feature column), and number each tree's distinct decision vectors in the chunk;
2. for each such tree pattern, find its units' patterns in per-unit hash tables that persist
   across chunks and calls; a unit pattern not seen before gets path-dependent TreeSHAP once,
   driven by its decisions (a line-by-line transcription of LightGBM's ``Tree::TreeSHAP``, the
   recursion restricted to the unit's leaves);
3. a tree pattern's values are the sum of its units' values; each row adds its tree patterns'
   values in tree order; the base value is the sum of the trees' expected values (LightGBM's
   ``Tree::ExpectedValue``), added in tree order.

Per row the work is one hash lookup and a few additions per tree; TreeSHAP itself runs once per
distinct unit pattern (on the benchmark's 50,000 household rows, 300 trees x 15 leaves: about
80,000 unit-pattern evaluations instead of 15 million tree-row evaluations).

A tree's values for a pattern are computed with LightGBM's operations in LightGBM's order; only
the sum over trees is associated differently (per tree first), so the result equals
``booster.predict(X, pred_contrib=True)`` to about 1e-15.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from riskml.explain._ensemble import (
    KZERO_THRESHOLD,
    TreeEnsemble,
    TreeUnits,
    lightgbm_matrix,
    parse_booster,
    tree_range,
    tree_units,
)

__all__ = [
    "SHAP_METHODS",
    "PredContribExplainer",
    "TreeShapExplainer",
    "TreeShapStats",
    "make_explainer",
    "tree_shap",
]

SHAP_METHODS: tuple[str, ...] = ("tree_shap", "pred_contrib")
"""How SHAP values are computed: riskml's decision-pattern kernel (``tree_shap``, the default) or
LightGBM's own ``booster.predict(pred_contrib=True)`` (``pred_contrib``: slower, the fallback
should a LightGBM release change what the kernel mirrors)."""

_INITIAL_CAPACITY = 256  # hash slots per unit (half of them usable before growing)
_CHUNK_BYTES = 256 * 2**20  # per-chunk pattern ids and keys (worst case)
_VALUES_BYTES = 128 * 2**20  # per-batch tree-pattern values


@dataclass
class TreeShapStats:
    """What a :class:`TreeShapExplainer` did (cumulative over its calls)."""

    rows: int = 0
    chunks: int = 0
    pattern_evaluations: int = 0  # (unit, pattern) pairs whose SHAP values were computed
    tree_patterns: int = 0  # distinct (tree, decision vector) pairs, summed over chunks
    cache_resets: int = 0
    seconds: dict[str, float] = field(
        default_factory=lambda: {"convert": 0.0, "assign": 0.0, "evaluate": 0.0, "scatter": 0.0}
    )

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "chunks": self.chunks,
            "pattern_evaluations": self.pattern_evaluations,
            "tree_patterns": self.tree_patterns,
            "cache_resets": self.cache_resets,
            "seconds": {k: round(v, 4) for k, v in self.seconds.items()},
        }


class TreeShapExplainer:
    """Exact TreeSHAP of a LightGBM booster for many rows, reusing work across rows and calls.

    Parameters
    ----------
    booster : lightgbm.Booster
        A single-output model (binary or regression), ``linear_tree=False``.
    start_iteration, num_iteration : int, optional
        Which trees, with ``booster.predict``'s meaning (``num_iteration=None`` uses
        ``best_iteration`` when there is one).
    chunk_rows : int, default 16384
        Rows processed at a time (at most; fewer for big models, so that a chunk's pattern ids
        and keys stay under about 256 MiB even when every row is a new pattern).
    max_group_leaves : int or None, default 8
        Trees with more leaves are cut into units (subtrees) of at most this many leaves, each
        with its own pattern table: a unit depends on fewer decisions than its tree, so it has
        far fewer distinct patterns. ``None`` keeps whole trees.
    max_cache_bytes : int, default 512 MiB
        The pattern tables persist across chunks and calls; past this size they are cleared
        before the next chunk (results stay exact, only reuse is lost).

    Examples
    --------
    >>> explainer = TreeShapExplainer(booster)            # doctest: +SKIP
    >>> contrib = explainer.shap_values(roster_features)  # doctest: +SKIP
    >>> explainer.patterns_per_tree()                     # doctest: +SKIP
    """

    def __init__(
        self,
        booster: Any,
        *,
        start_iteration: int = 0,
        num_iteration: int | None = None,
        chunk_rows: int = 16384,
        max_group_leaves: int | None = 8,
        max_cache_bytes: int = 512 * 2**20,
    ) -> None:
        if not isinstance(chunk_rows, int) or isinstance(chunk_rows, bool) or chunk_rows < 1:
            raise ValueError(f"chunk_rows must be a positive int. Got {chunk_rows!r} instead.")
        if max_group_leaves is not None and (
            not isinstance(max_group_leaves, int) or max_group_leaves < 1
        ):
            raise ValueError(
                f"max_group_leaves must be a positive int or None. Got {max_group_leaves!r} instead."
            )
        self.booster = booster
        self.chunk_rows = chunk_rows
        self.max_cache_bytes = max_cache_bytes
        self.ensemble: TreeEnsemble = parse_booster(
            booster, tree_range(booster, start_iteration, num_iteration)
        )
        self.units: TreeUnits = tree_units(self.ensemble, max_group_leaves)
        ens, units = self.ensemble, self.units
        self._unit_to_tree_col = np.full(units.cols.shape, -1, dtype=np.int32)
        for u in range(units.n_units):
            position = {
                int(f): j
                for j, f in enumerate(
                    ens.tree_features[units.tree[u], : ens.n_tree_features[units.tree[u]]]
                )
            }
            for k in range(int(units.n_cols[u])):
                self._unit_to_tree_col[u, k] = position[int(units.cols[u, k])]
        self._units_per_tree = int(max(1, (units.last - units.first).max(initial=1)))
        # a tree's base value (expected value, column F) is the same for every row: added once
        self._tree_base = self.ensemble.expected_values()
        self.stats = TreeShapStats()
        self.reset_cache()

    # ---- cache -------------------------------------------------------------------------------
    def reset_cache(self) -> None:
        """Forget every pattern seen so far."""
        n_units = self.units.n_units
        self._capacity = np.full(n_units, _INITIAL_CAPACITY, dtype=np.int64)
        self._allocate(self._capacity)
        self._count = np.zeros(n_units, dtype=np.int64)

    def _allocate(self, capacity: np.ndarray) -> None:
        words = self.ensemble.key_words
        self._tab_offset = np.concatenate([[0], np.cumsum(capacity)[:-1]]).astype(np.int64)
        self._pat_offset = np.concatenate([[0], np.cumsum(capacity // 2)[:-1]]).astype(np.int64)
        self._tab_used = int(capacity.sum())  # slots and pattern rows handed out so far
        self._pat_used = int((capacity // 2).sum())
        self._tab_keys = np.zeros((self._tab_used, words), dtype=np.uint64)
        self._tab_pid = np.full(self._tab_used, -1, dtype=np.int32)
        self._pat_keys = np.zeros((self._pat_used, words), dtype=np.uint64)
        self._phi = np.zeros((self._pat_used, self.units.cols.shape[1]), dtype=np.float64)

    def _reserve(self, slots: int, rows: int) -> None:
        """Room for ``slots`` more table slots and ``rows`` more pattern rows after those handed
        out. When there is not, the units' regions are compacted (in unit order, dropping the
        regions units grew out of) into arrays with room for half as much again. The room is
        left unwritten: no memory is touched until a region is handed out. A pattern row is
        written when its pattern is added (key) and evaluated (values, for the unit's columns);
        nothing reads a row past the unit's count or a column past its ``n_cols``."""
        if self._tab_used + slots <= len(self._tab_pid) and self._pat_used + rows <= len(self._phi):
            return
        cap, count = self._capacity, self._count
        tab_offset = np.cumsum(cap) - cap
        pat_offset = np.cumsum(cap // 2) - cap // 2
        tab_used, pat_used = int(cap.sum()), int((cap // 2).sum())
        tab_size, pat_size = (tab_used + slots) * 3 // 2, (pat_used + rows) * 3 // 2
        keys = np.empty((tab_size, self._tab_keys.shape[1]), dtype=np.uint64)
        pid = np.empty(tab_size, dtype=np.int32)
        pat_keys = np.empty((pat_size, self._pat_keys.shape[1]), dtype=np.uint64)
        phi = np.empty((pat_size, self._phi.shape[1]), dtype=np.float64)
        for u in range(len(cap)):
            src, dst, n = int(self._tab_offset[u]), int(tab_offset[u]), int(cap[u])
            keys[dst : dst + n] = self._tab_keys[src : src + n]
            pid[dst : dst + n] = self._tab_pid[src : src + n]
            src, dst, n = int(self._pat_offset[u]), int(pat_offset[u]), int(count[u])
            pat_keys[dst : dst + n] = self._pat_keys[src : src + n]
            phi[dst : dst + n] = self._phi[src : src + n]
        self._tab_keys, self._tab_pid, self._pat_keys, self._phi = keys, pid, pat_keys, phi
        self._tab_offset, self._pat_offset = (
            tab_offset.astype(np.int64),
            pat_offset.astype(np.int64),
        )
        self._tab_used, self._pat_used = tab_used, pat_used

    def _grow(self, units: np.ndarray) -> None:
        """Give ``units`` four times the slots, in fresh regions after everything in use.

        Only the growing units move: their tables are rehashed into the new regions and their
        patterns copied; every other unit stays where it is. The regions left behind are
        dropped at the next compaction (:meth:`_reserve`) or cache reset. Where a unit's slots
        sit never changes a pattern's id or values.
        """
        from riskml.explain._kernels import grow_tables

        units = np.unique(np.asarray(units, dtype=np.int64))
        old_cap = self._capacity
        new_cap = old_cap.copy()
        new_cap[units] *= 4
        slots, rows = new_cap[units], new_cap[units] // 2
        self._reserve(int(slots.sum()), int(rows.sum()))
        tab_offset, pat_offset = self._tab_offset.copy(), self._pat_offset.copy()
        tab_offset[units] = self._tab_used + np.cumsum(slots) - slots
        pat_offset[units] = self._pat_used + np.cumsum(rows) - rows
        fresh = slice(self._tab_used, self._tab_used + int(slots.sum()))
        self._tab_pid[fresh] = -1  # empty slots (a slot's key is read only once it has an id)
        grow_tables(
            units, self._tab_offset, old_cap, self._tab_keys, self._tab_pid,
            tab_offset, new_cap, self._tab_keys, self._tab_pid,
        )  # fmt: skip
        for u in units.tolist():
            n, src, dst = int(self._count[u]), int(self._pat_offset[u]), int(pat_offset[u])
            self._pat_keys[dst : dst + n] = self._pat_keys[src : src + n]
            self._phi[dst : dst + n] = self._phi[src : src + n]
        self._tab_used += int(slots.sum())
        self._pat_used += int(rows.sum())
        self._tab_offset, self._pat_offset, self._capacity = tab_offset, pat_offset, new_cap

    def cache_bytes(self) -> int:
        """Memory held by the pattern tables: every slot and pattern row handed out since the
        last reset (the regions units grew out of included)."""
        slot_bytes = self._tab_keys.shape[1] * 8 + 4
        row_bytes = self._pat_keys.shape[1] * 8 + self._phi.shape[1] * 8
        return int(self._tab_used * slot_bytes + self._pat_used * row_bytes)

    def patterns_per_unit(self) -> np.ndarray:
        """Distinct decision patterns seen per unit since the last cache reset."""
        return self._count.copy()

    def patterns_per_tree(self) -> np.ndarray:
        """Distinct patterns per tree since the last cache reset, summed over the tree's units."""
        return np.bincount(
            self.units.tree, weights=self._count, minlength=self.ensemble.n_trees
        ).astype(np.int64)

    # ---- work --------------------------------------------------------------------------------
    def shap_values(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        """SHAP values of every row: shape ``(n, n_features + 1)``, last column the base value.

        Equal to ``booster.predict(X, pred_contrib=True)`` (same trees) to about 1e-15.
        """
        started = time.perf_counter()
        mat = lightgbm_matrix(self.booster, X, order="F")
        self.stats.seconds["convert"] += time.perf_counter() - started
        n = mat.shape[0]
        out = np.zeros((n, self.ensemble.n_features + 1), dtype=np.float64)
        # per row of a chunk, at worst: tree pattern ids (4 B) and keys (8 B a word) per tree, and
        # unit pattern ids (4 B per unit) per tree pattern
        ens = self.ensemble
        per_row = ens.n_trees * (4 + 8 * ens.key_words + 4 * self._units_per_tree)
        step = min(self.chunk_rows, max(1024, _CHUNK_BYTES // max(1, per_row)))
        for lo in range(0, n, step):
            hi = min(n, lo + step)
            self._explain_chunk(mat[lo:hi], out[lo:hi])
        if n:
            out[:, -1] = self.expected_value()
        self.stats.rows += n
        return out

    def expected_value(self) -> float:
        """The base value: the trees' expected values added in tree order, as LightGBM does."""
        total = 0.0
        for value in self._tree_base:
            total += float(value)
        return total

    def pattern_ids(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        """Each row's pattern id per unit, shape ``(n_units, n)`` (ids are per unit)."""
        xt = np.ascontiguousarray(lightgbm_matrix(self.booster, X).T)
        tpid, toff, upid = self._assign(xt)
        units = self.units
        local = np.arange(units.n_units) - units.first[units.tree]
        rows = toff[units.tree][:, None] + tpid[units.tree]
        return upid[local[:, None], rows]

    def leaf_index(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        """Leaf of every row in every tree from riskml's decisions; equals ``pred_leaf=True``."""
        from riskml.explain._kernels import leaf_index

        ens = self.ensemble
        xt = np.ascontiguousarray(lightgbm_matrix(self.booster, X).T)
        return leaf_index(
            xt, ens.n_nodes, ens.split_feature, ens.threshold, ens.missing_type, ens.default_left,
            ens.categorical, ens.cat_start, ens.cat_len, ens.cat_words, KZERO_THRESHOLD,
            ens.left_child, ens.right_child,
        )  # fmt: skip

    def _assign(self, xt: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Tree patterns of a chunk (``tpid``, ``toff``) and their units' patterns (``upid``)."""
        from riskml.explain._kernels import tree_patterns, unit_patterns

        ens, units = self.ensemble, self.units
        n = xt.shape[1]
        words = ens.key_words
        tpid = np.empty((ens.n_trees, n), dtype=np.int32)
        tkey = np.empty((ens.n_trees, n, words), dtype=np.uint64)
        tcount = np.zeros(ens.n_trees, dtype=np.int64)
        tree_patterns(
            xt, ens.n_nodes, ens.split_feature, ens.threshold, ens.missing_type, ens.default_left,
            ens.categorical, ens.cat_start, ens.cat_len, ens.cat_words, KZERO_THRESHOLD, words,
            tpid, tkey, tcount,
        )  # fmt: skip
        toff = np.concatenate([[0], np.cumsum(tcount)[:-1]]).astype(np.int64)
        upid = np.zeros((self._units_per_tree, int(tcount.sum())), dtype=np.int32)
        resume = np.zeros(units.n_units, dtype=np.int64)
        while True:
            unit_patterns(
                tkey, tcount, toff, words, units.tree, units.first, units.mask, self._tab_offset,
                self._capacity, self._tab_keys, self._tab_pid, self._count, self._pat_keys,
                self._pat_offset, resume, upid,
            )  # fmt: skip
            unfinished = np.flatnonzero(resume < tcount[units.tree])
            if unfinished.size == 0:
                break
            self._grow(unfinished)
        self.stats.tree_patterns += int(tcount.sum())
        return tpid, toff, upid

    def _explain_chunk(self, mat: np.ndarray, out: np.ndarray) -> None:
        from riskml.explain._kernels import scatter_patterns, tree_pattern_values

        ens, units = self.ensemble, self.units
        if self.cache_bytes() > self.max_cache_bytes:
            self.reset_cache()
            self.stats.cache_resets += 1
        t0 = time.perf_counter()
        xt = np.ascontiguousarray(mat.T)
        before = self._count.copy()
        tpid, toff, upid = self._assign(xt)
        t1 = time.perf_counter()
        self._evaluate_new_patterns(before)
        t2 = time.perf_counter()
        # tree-pattern values, a batch of trees at a time (bounded memory), then scattered
        tcount = np.diff(np.append(toff, upid.shape[1]))
        width = max(1, ens.tree_features.shape[1])
        per_batch = max(1, _VALUES_BYTES // (8 * width))
        a = 0
        while a < ens.n_trees:
            b = a + 1
            while b < ens.n_trees and toff[b] + tcount[b] - toff[a] <= per_batch:
                b += 1
            row0 = int(toff[a])
            rows = int(toff[b - 1] + tcount[b - 1]) - row0
            tphi = np.zeros((rows, width), dtype=np.float64)
            tree_pattern_values(
                a, tcount[a:b], toff[a:b] - row0, units.first, units.last, upid[:, row0 : row0 + rows],
                self._pat_offset, self._phi, units.n_cols, self._unit_to_tree_col, tphi,
            )  # fmt: skip
            scatter_patterns(
                tpid[a:b], toff[a:b] - row0, tphi, ens.tree_features[a:b], ens.n_tree_features[a:b], out
            )  # fmt: skip
            a = b
        t3 = time.perf_counter()
        self.stats.chunks += 1
        self.stats.seconds["assign"] += t1 - t0
        self.stats.seconds["evaluate"] += t2 - t1
        self.stats.seconds["scatter"] += t3 - t2

    def _evaluate_new_patterns(self, before: np.ndarray) -> None:
        """Path-dependent TreeSHAP once per new (unit, pattern)."""
        from riskml.explain._kernels import pattern_shap

        ens, units = self.ensemble, self.units
        todo = np.flatnonzero(self._count > before).astype(np.int64)
        if todo.size == 0:
            return
        pattern_shap(
            todo, before[todo], self._count[todo], units.tree, units.node_in, units.leaf_in,
            self._pat_keys, self._pat_offset, ens.n_features, ens.left_child, ens.right_child,
            ens.split_feature, ens.internal_count, ens.leaf_count, ens.leaf_value, ens.max_depth,
            units.cols, units.n_cols, self._phi,
        )  # fmt: skip
        self.stats.pattern_evaluations += int((self._count[todo] - before[todo]).sum())


def tree_shap(
    booster: Any,
    X: pd.DataFrame | np.ndarray,
    *,
    chunk_rows: int = 16384,
    start_iteration: int = 0,
    num_iteration: int | None = None,
    max_group_leaves: int | None = 8,
) -> np.ndarray:
    """Exact TreeSHAP values, identical to ``booster.predict(X, pred_contrib=True)``, much faster.

    Parameters
    ----------
    booster : lightgbm.Booster
        Single-output model (binary or regression) without linear trees.
    X : DataFrame or ndarray
        The model's feature columns, in training order (as for ``booster.predict``).
    chunk_rows : int, default 16384
        Rows processed at a time; patterns found in one chunk are reused in the next.
    start_iteration, num_iteration : int, optional
        As in ``booster.predict``.
    max_group_leaves : int or None, default 8
        Trees with more leaves are explained as subtrees of at most this many leaves (see
        :class:`TreeShapExplainer`); the values are the same.

    Returns
    -------
    ndarray of shape (n_rows, n_features + 1)
        Per-feature contributions in raw-score (log-odds) units; the last column is the base
        (expected) value. Each row sums to ``booster.predict(X, raw_score=True)``.

    Examples
    --------
    >>> contrib = tree_shap(booster, X)                                        # doctest: +SKIP
    >>> np.abs(contrib - booster.predict(X, pred_contrib=True)).max() < 1e-9    # doctest: +SKIP
    True
    """
    explainer = TreeShapExplainer(
        booster,
        start_iteration=start_iteration,
        num_iteration=num_iteration,
        chunk_rows=chunk_rows,
        max_group_leaves=max_group_leaves,
    )
    return explainer.shap_values(X)


class PredContribExplainer:
    """The fallback: LightGBM's own ``booster.predict(X, pred_contrib=True)``, row by row.

    Same interface as :class:`TreeShapExplainer` (``shap_values``, ``expected_value``); the
    values agree with it to about 1e-15. Use it when the decision-pattern kernel cannot be
    trusted (a LightGBM release outside the tested range) at ``pred_contrib``'s speed.
    """

    def __init__(
        self, booster: Any, *, start_iteration: int = 0, num_iteration: int | None = None
    ) -> None:
        if booster.num_model_per_iteration() != 1:
            raise ValueError(
                "pred_contrib reasons need a single-output model (binary, regression); this "
                f"booster has {booster.num_model_per_iteration()} trees per iteration."
            )
        self.booster = booster
        self.start_iteration = start_iteration
        self.num_iteration = num_iteration
        self.stats = TreeShapStats()

    def shap_values(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        """``booster.predict(X, pred_contrib=True)``: shape ``(n, n_features + 1)``."""
        started = time.perf_counter()
        n = X.shape[0]
        if n == 0:
            return np.zeros((0, self.booster.num_feature() + 1), dtype=np.float64)
        out = np.asarray(
            self.booster.predict(
                X,
                pred_contrib=True,
                start_iteration=self.start_iteration,
                num_iteration=self.num_iteration,
            ),
            dtype=np.float64,
        )
        self.stats.rows += n
        self.stats.chunks += 1
        self.stats.seconds["evaluate"] += time.perf_counter() - started
        return out


def make_explainer(
    booster: Any, method: str = "tree_shap", **options: Any
) -> TreeShapExplainer | PredContribExplainer:
    """An explainer of ``booster`` by ``method`` (one of :data:`SHAP_METHODS`).

    ``options`` go to :class:`TreeShapExplainer` (``tree_shap``) or
    :class:`PredContribExplainer` (``pred_contrib``: only ``start_iteration``/``num_iteration``).
    """
    if method == "tree_shap":
        return TreeShapExplainer(booster, **options)
    if method == "pred_contrib":
        return PredContribExplainer(booster, **options)
    raise ValueError(
        f"The SHAP method must be one of {list(SHAP_METHODS)}. Got {method!r} instead."
    )
