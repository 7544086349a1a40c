"""A LightGBM booster's trees as flat numpy arrays, and its inputs as LightGBM sees them.

TreeSHAP values of one tree depend on a row only through the side of each split the row falls
on. To group rows by that *decision pattern* we must decide every split exactly as LightGBM's
C++ predictor does; this module holds the two pieces of LightGBM behaviour that this depends on:

* :func:`parse_booster` reads ``booster.dump_model()`` into padded per-tree arrays (split
  feature, threshold, missing type, default direction, categorical bitsets, children);
* :func:`lightgbm_matrix` converts a DataFrame or array into the float64 matrix LightGBM's
  ``predict`` feeds to its trees (pandas categories mapped to the training categories' codes,
  unseen or missing categories as NaN, LightGBM's dtype rules, values with ``|x| <= 1e-35``
  stored as zero).

Both mirror LightGBM 4.x (checked against 4.7: ``include/LightGBM/tree.h`` ``Decision`` and
``python-package/lightgbm/basic.py`` ``_data_from_pandas``). The test-suite compares the result
with ``booster.predict(pred_contrib=True)`` and ``pred_leaf=True``; if a LightGBM upgrade changes
either behaviour, those tests fail first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

__all__ = [
    "KZERO_THRESHOLD",
    "TreeEnsemble",
    "TreeUnits",
    "lightgbm_matrix",
    "parse_booster",
    "tree_range",
    "tree_units",
]

#: LightGBM's ``kZeroThreshold`` (``1e-35f``, a C++ float): values this close to zero are zero.
KZERO_THRESHOLD = float(np.float32(1e-35))

_MISSING_TYPES = {"None": 0, "Zero": 1, "NaN": 2}


@dataclass(frozen=True)
class TreeEnsemble:
    """The trees of a booster (one model output) as padded arrays, indexed ``[tree, node]``.

    ``node`` is LightGBM's internal-node index (``split_index``); children use LightGBM's
    encoding: ``>= 0`` an internal node, ``< 0`` the leaf ``~child``.
    """

    feature_names: list[str]
    tree_index: np.ndarray  # (T,) LightGBM tree index of each tree used
    n_nodes: np.ndarray  # (T,) internal nodes per tree
    split_feature: np.ndarray  # (T, M) int32
    threshold: np.ndarray  # (T, M) float64 (numerical splits)
    missing_type: np.ndarray  # (T, M) int8: 0 None, 1 Zero, 2 NaN
    default_left: np.ndarray  # (T, M) uint8
    categorical: np.ndarray  # (T, M) uint8
    cat_start: np.ndarray  # (T, M) int64 offset into cat_words
    cat_len: np.ndarray  # (T, M) int64 words of the node's category bitset
    cat_words: np.ndarray  # (W,) uint32 bitsets, bit v set = category v goes left
    left_child: np.ndarray  # (T, M) int32
    right_child: np.ndarray  # (T, M) int32
    internal_count: np.ndarray  # (T, M) float64 training rows through each internal node
    leaf_value: np.ndarray  # (T, L) float64
    leaf_count: np.ndarray  # (T, L) float64 training rows in each leaf
    max_depth: np.ndarray  # (T,) int32 deepest leaf (root = depth 0)
    tree_features: np.ndarray  # (T, K) int32 features a tree splits on, padded with -1
    n_tree_features: np.ndarray  # (T,) int32

    @property
    def n_trees(self) -> int:
        return int(self.tree_index.shape[0])

    @property
    def n_features(self) -> int:
        return len(self.feature_names)

    @property
    def max_nodes(self) -> int:
        return int(self.split_feature.shape[1])

    def expected_values(self) -> np.ndarray:
        """Each tree's expected value (LightGBM's ``Tree::ExpectedValue``, same arithmetic)."""
        out = np.empty(self.n_trees, dtype=np.float64)
        for t in range(self.n_trees):
            if self.n_nodes[t] == 0:
                out[t] = float(self.leaf_value[t, 0])
                continue
            total = float(self.internal_count[t, 0])
            value = 0.0
            for i in range(int(self.n_nodes[t]) + 1):
                value += (float(self.leaf_count[t, i]) / total) * float(self.leaf_value[t, i])
            out[t] = value
        return out

    @property
    def key_words(self) -> int:
        """64-bit words needed to hold one decision bit per internal node."""
        return max(1, -(-self.max_nodes // 64))


def tree_range(booster: Any, start_iteration: int = 0, num_iteration: int | None = None) -> range:
    """The trees ``booster.predict`` uses for these arguments (``best_iteration`` when ``None``)."""
    total = booster.num_trees() // booster.num_model_per_iteration()
    if start_iteration < 0:
        start_iteration = 0
    if num_iteration is None:
        best = booster.best_iteration if start_iteration <= 0 else -1
        num_iteration = best if best is not None and best > 0 else -1
    stop = total if num_iteration <= 0 else min(total, start_iteration + num_iteration)
    return range(min(start_iteration, total), stop)


def _category_bitset(threshold: str, where: str) -> np.ndarray:
    try:
        cats = np.array([int(v) for v in str(threshold).split("||")], dtype=np.int64)
    except ValueError as exc:  # pragma: no cover - LightGBM always writes integers
        raise ValueError(f"{where}: cannot read categorical split '{threshold}'.") from exc
    words = np.zeros(int(cats.max()) // 32 + 1, dtype=np.uint32)
    np.bitwise_or.at(words, cats // 32, (np.uint32(1) << (cats % 32).astype(np.uint32)))
    return words


def parse_booster(booster: Any, trees: range | None = None) -> TreeEnsemble:
    """Read the trees of ``booster`` (a ``lightgbm.Booster``) into a :class:`TreeEnsemble`.

    Raises
    ------
    ValueError
        For a multi-output (multiclass) model or a ``linear_tree=True`` model, which LightGBM's
        ``pred_contrib`` does not explain either.
    """
    if booster.num_model_per_iteration() != 1:
        raise ValueError(
            f"tree_shap explains single-output models (binary, regression); this booster has "
            f"{booster.num_model_per_iteration()} trees per iteration (multiclass). "
            "Explain one class at a time with booster.predict(X, pred_contrib=True)."
        )
    if "\nis_linear=1" in booster.model_to_string(num_iteration=-1):
        raise ValueError(
            "This booster was trained with linear_tree=True; LightGBM has no TreeSHAP for linear "
            "trees (pred_contrib refuses them too). Train with linear_tree=False to get reasons."
        )
    dump = booster.dump_model(num_iteration=-1)
    infos = dump["tree_info"]
    if trees is None:
        trees = range(len(infos))
    walked = [_walk_tree(infos[t]["tree_structure"]) for t in trees]
    width = max([1, *(len(nodes) for nodes, _, _ in walked)])
    arrays = _NodeArrays.empty(len(walked), width)
    feature_sets = [
        arrays.fill(i, t, nodes, leaves)
        for i, (t, (nodes, leaves, _)) in enumerate(zip(trees, walked, strict=True))
    ]
    tree_features, n_tree_features = _padded(feature_sets)
    return TreeEnsemble(
        feature_names=list(dump["feature_names"]),
        tree_index=np.asarray(list(trees), dtype=np.int64),
        **arrays.as_dict(),
        max_depth=np.asarray([depth for _, _, depth in walked], dtype=np.int32),
        tree_features=tree_features,
        n_tree_features=n_tree_features,
    )


def _walk_tree(root: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]], int]:
    """(internal nodes, leaves, depth of the deepest leaf) of one dumped tree."""
    found: list[dict[str, Any]] = []
    leaves: list[dict[str, Any]] = []
    deepest = 0
    stack = [(root, 0)]
    while stack:
        node, depth = stack.pop()
        if "split_index" in node:
            found.append(node)
            stack.append((node["left_child"], depth + 1))
            stack.append((node["right_child"], depth + 1))
        else:
            leaves.append(node)
            deepest = max(deepest, depth)
    return found, leaves, deepest


def _child_code(child: dict[str, Any]) -> int:
    if "split_index" in child:
        return int(child["split_index"])
    return ~int(child.get("leaf_index", 0))


def _padded(feature_sets: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    """The features each tree splits on, padded with -1, and how many."""
    k = max([1, *(len(f) for f in feature_sets)])
    tree_features = np.full((len(feature_sets), k), -1, dtype=np.int32)
    n_tree_features = np.zeros(len(feature_sets), dtype=np.int32)
    for i, feats_i in enumerate(feature_sets):
        tree_features[i, : len(feats_i)] = feats_i
        n_tree_features[i] = len(feats_i)
    return tree_features, n_tree_features


@dataclass
class _NodeArrays:
    """The per-node and per-leaf arrays of :class:`TreeEnsemble`, filled tree by tree."""

    split_feature: np.ndarray
    threshold: np.ndarray
    missing_type: np.ndarray
    default_left: np.ndarray
    categorical: np.ndarray
    cat_start: np.ndarray
    cat_len: np.ndarray
    left_child: np.ndarray
    right_child: np.ndarray
    internal_count: np.ndarray
    leaf_value: np.ndarray
    leaf_count: np.ndarray
    n_nodes: np.ndarray
    cat_chunks: list[np.ndarray]
    cat_used: int = 0

    @classmethod
    def empty(cls, n_trees: int, width: int) -> _NodeArrays:
        def z(dtype: Any, extra: int = 0) -> np.ndarray:
            return np.zeros((n_trees, width + extra), dtype=dtype)

        return cls(
            split_feature=z(np.int32), threshold=z(np.float64), missing_type=z(np.int8),
            default_left=z(np.uint8), categorical=z(np.uint8), cat_start=z(np.int64),
            cat_len=z(np.int64), left_child=np.full((n_trees, width), -1, dtype=np.int32),
            right_child=np.full((n_trees, width), -1, dtype=np.int32), internal_count=z(np.float64),
            leaf_value=z(np.float64, 1), leaf_count=z(np.float64, 1),
            n_nodes=np.zeros(n_trees, dtype=np.int32), cat_chunks=[],
        )  # fmt: skip

    def fill(
        self, i: int, t: int, nodes: list[dict[str, Any]], leaves: list[dict[str, Any]]
    ) -> list[int]:
        """Row ``i`` from tree ``t``'s nodes and leaves; return the features it splits on."""
        self.n_nodes[i] = len(nodes)
        for leaf in leaves:
            k = int(leaf.get("leaf_index", 0))
            self.leaf_value[i, k] = float(leaf["leaf_value"])
            self.leaf_count[i, k] = float(leaf.get("leaf_count", 0))
        feats: set[int] = set()
        for node in nodes:
            j = int(node["split_index"])
            if j >= self.split_feature.shape[1]:  # pragma: no cover - LightGBM numbers 0..n-1
                raise ValueError(f"tree {t}: unexpected internal node index {j}.")
            self.split_feature[i, j] = int(node["split_feature"])
            self.internal_count[i, j] = float(node["internal_count"])
            feats.add(int(node["split_feature"]))
            self.missing_type[i, j] = _MISSING_TYPES[str(node["missing_type"])]
            self.default_left[i, j] = bool(node["default_left"])
            self.left_child[i, j] = _child_code(node["left_child"])
            self.right_child[i, j] = _child_code(node["right_child"])
            self._decision(i, j, t, node)
        return sorted(feats)

    def _decision(self, i: int, j: int, t: int, node: dict[str, Any]) -> None:
        if node["decision_type"] == "==":
            words = _category_bitset(node["threshold"], f"tree {t} node {j}")
            self.categorical[i, j] = 1
            self.cat_start[i, j] = self.cat_used
            self.cat_len[i, j] = words.shape[0]
            self.cat_chunks.append(words)
            self.cat_used += words.shape[0]
        elif node["decision_type"] == "<=":
            self.threshold[i, j] = float(node["threshold"])
        else:  # pragma: no cover - LightGBM has no other decision type
            raise ValueError(f"tree {t} node {j}: unknown decision type {node['decision_type']!r}.")

    def as_dict(self) -> dict[str, np.ndarray]:
        words = np.concatenate(self.cat_chunks) if self.cat_chunks else np.zeros(1, dtype=np.uint32)
        return {
            "n_nodes": self.n_nodes, "split_feature": self.split_feature,
            "threshold": self.threshold, "missing_type": self.missing_type,
            "default_left": self.default_left, "categorical": self.categorical,
            "cat_start": self.cat_start, "cat_len": self.cat_len, "cat_words": words,
            "left_child": self.left_child, "right_child": self.right_child,
            "internal_count": self.internal_count, "leaf_value": self.leaf_value,
            "leaf_count": self.leaf_count,
        }  # fmt: skip


def _check_frame(booster: Any, X: pd.DataFrame) -> list[str]:
    """Refuse a frame LightGBM could not predict on; return its categorical columns."""
    n_features = booster.num_feature()
    if X.shape[1] != n_features:
        raise ValueError(
            f"X has {X.shape[1]} columns but the model was trained on {n_features} features "
            f"({booster.feature_name()[:5]}...). Select the model's feature columns, in order."
        )
    bad = [
        c
        for c, dt in zip(X.columns, X.dtypes, strict=True)
        if not (
            isinstance(dt, pd.CategoricalDtype)
            or pd.api.types.is_numeric_dtype(dt)
            or pd.api.types.is_bool_dtype(dt)
        )
    ]
    if bad:
        raise ValueError(
            f"X column(s) {bad[:5]} are neither numeric, boolean nor categorical "
            f"(dtypes {[str(X[c].dtype) for c in bad[:5]]}); LightGBM cannot use them. "
            "Pass the model's feature frame (float64 or category columns)."
        )
    cat_cols = [
        c for c, dt in zip(X.columns, X.dtypes, strict=True) if isinstance(dt, pd.CategoricalDtype)
    ]
    pandas_categorical = booster.pandas_categorical
    if cat_cols and (pandas_categorical is None or len(pandas_categorical) != len(cat_cols)):
        raise ValueError(
            f"X has {len(cat_cols)} categorical column(s) {cat_cols} but the model was trained "
            f"with {0 if pandas_categorical is None else len(pandas_categorical)}. "
            "Give X the same column dtypes as the training frame."
        )
    return cat_cols


def _category_codes(col: pd.Series, cats: list[Any]) -> np.ndarray:
    """A categorical column as LightGBM's ``_data_from_pandas`` codes it: the training
    categories' codes, unseen and missing as NaN (the integer codes when none is missing)."""
    if list(col.cat.categories) != list(cats):
        col = col.cat.set_categories(cats)
    codes = col.cat.codes.to_numpy()
    if (codes == -1).any():
        return np.where(codes == -1, np.nan, codes.astype(np.float64))
    return codes


def _frame_columns(booster: Any, X: pd.DataFrame) -> tuple[list[Any], np.dtype]:
    """The frame's columns as LightGBM reads them (categories as codes), and their common dtype
    (LightGBM's rule: float32 input stays float32-exact)."""
    cat_cols = set(_check_frame(booster, X))
    cats = iter(booster.pandas_categorical or [])
    columns: list[Any] = []
    types: list[Any] = []
    for j, name in enumerate(X.columns):
        col = X.iloc[:, j]
        if name in cat_cols:
            codes = _category_codes(col, next(cats))
            columns.append(codes)
            types.append(codes.dtype.type)
        else:
            columns.append(col)
            types.append(col.dtype.type)
    return columns, np.result_type(*types, np.float32)


def lightgbm_matrix(
    booster: Any, X: pd.DataFrame | np.ndarray, *, order: Literal["C", "F"] = "C"
) -> np.ndarray:
    """``X`` as the float64 matrix LightGBM's ``predict`` hands to its trees.

    A DataFrame's categorical columns are re-coded to the booster's training categories
    (``booster.pandas_categorical``; unseen and missing categories become NaN); numbers keep the
    precision LightGBM keeps (float32 input stays float32-exact); values with
    ``|x| <= 1e-35`` become 0.0 as in LightGBM's dense-row reader. A frame is converted column
    by column into an ``order`` (``"F"``: column-major, what the kernels read) array.
    """
    if isinstance(X, pd.DataFrame):
        columns, target = _frame_columns(booster, X)
        out = np.empty((len(X), len(columns)), dtype=np.float64, order=order)
        for j, col in enumerate(columns):
            if isinstance(col, pd.Series):
                col = col.to_numpy(dtype=target, na_value=np.nan)
            out[:, j] = col.astype(target, copy=False)
            view = out[:, j]
            view[np.abs(view) <= KZERO_THRESHOLD] = 0.0
        return out
    n_features = booster.num_feature()
    mat = np.asarray(X)
    if mat.ndim != 2 or mat.shape[1] != n_features:
        raise ValueError(
            f"X must be a 2-D array with the model's {n_features} feature columns; got shape {mat.shape}."
        )
    if mat.dtype not in (np.float32, np.float64):
        mat = mat.astype(np.float32)
    out = np.array(mat, dtype=np.float64, order=order, copy=True)
    out[np.abs(out) <= KZERO_THRESHOLD] = 0.0
    return out


@dataclass(frozen=True)
class TreeUnits:
    """Each tree's leaves cut into units of at most ``max_group_leaves`` leaves.

    A leaf's SHAP contributions depend only on the decisions along its root path, so a tree's
    values are the sum of its units' values, and a unit's values depend only on the decisions of
    its leaves' ancestors (``mask``). Fewer decisions mean far fewer distinct patterns per unit
    than per tree on big trees. A unit is a subtree, or neighbouring small subtrees merged (in
    depth-first order, so they share most ancestors); a tree's units are contiguous.
    """

    tree: np.ndarray  # (U,) tree of each unit
    first: np.ndarray  # (T,) first unit of each tree
    last: np.ndarray  # (T,) one past the last unit of each tree
    mask: np.ndarray  # (U, key_words) uint64 decision bits the unit depends on
    node_in: np.ndarray  # (U, M) uint8 internal nodes on the way to the unit's leaves
    leaf_in: np.ndarray  # (U, M + 1) uint8 the unit's leaves
    cols: np.ndarray  # (U, K) int32 features the unit's values can touch, padded with -1
    n_cols: np.ndarray  # (U,) int32

    @property
    def n_units(self) -> int:
        return int(self.tree.shape[0])


def _leaves_below(
    node: int, ancestors: list[int], left: np.ndarray, right: np.ndarray
) -> list[tuple[int, list[int]]]:
    """Leaves under ``node`` (depth-first, left first), each with its list of ancestors."""
    out: list[tuple[int, list[int]]] = []
    stack = [(node, ancestors)]
    while stack:
        x, anc = stack.pop()
        if x < 0:
            out.append((~x, anc))
            continue
        path = [*anc, x]
        stack.append((int(right[x]), path))
        stack.append((int(left[x]), path))
    return out


def tree_units(ens: TreeEnsemble, max_group_leaves: int | None) -> TreeUnits:
    """Cut every tree into units of at most ``max_group_leaves`` leaves (``None``: whole trees),
    as few and as even as possible."""
    width = ens.max_nodes
    words = ens.key_words
    trees: list[int] = []
    masks: list[np.ndarray] = []
    node_ins: list[np.ndarray] = []
    leaf_ins: list[np.ndarray] = []
    col_sets: list[list[int]] = []
    first = np.zeros(ens.n_trees, dtype=np.int64)
    last = np.zeros(ens.n_trees, dtype=np.int64)
    for t in range(ens.n_trees):
        first[t] = len(trees)
        m = int(ens.n_nodes[t])
        if m == 0:  # a single leaf: no SHAP values besides the base value
            last[t] = len(trees)
            continue
        left, right = ens.left_child[t], ens.right_child[t]
        limit = m + 1 if max_group_leaves is None else max_group_leaves
        # subtrees of at most `limit` leaves, depth-first (left first), each with its ancestors
        pieces: list[list[tuple[int, list[int]]]] = []
        stack: list[tuple[int, list[int]]] = [(0, [])]
        while stack:
            node, ancestors = stack.pop()
            below = _leaves_below(node, ancestors, left, right)
            if len(below) > limit:
                path = [*ancestors, node]
                stack.append((int(right[node]), path))
                stack.append((int(left[node]), path))
            else:
                pieces.append(below)
        # neighbouring small subtrees share most ancestors: merge them up to `limit` leaves
        groups: list[list[tuple[int, list[int]]]] = []
        for piece in pieces:
            if groups and len(groups[-1]) + len(piece) <= limit:
                groups[-1] = groups[-1] + piece
            else:
                groups.append(piece)
        for group in groups:
            nodes = sorted({x for _, ancestors in group for x in ancestors})
            mask = np.zeros(words, dtype=np.uint64)
            node_in = np.zeros(width, dtype=np.uint8)
            for x in nodes:
                mask[x >> 6] |= np.uint64(1) << np.uint64(x & 63)
                node_in[x] = 1
            leaf_in = np.zeros(width + 1, dtype=np.uint8)
            leaf_in[[leaf for leaf, _ in group]] = 1
            trees.append(t)
            masks.append(mask)
            node_ins.append(node_in)
            leaf_ins.append(leaf_in)
            col_sets.append(sorted({int(ens.split_feature[t, x]) for x in nodes}))
        last[t] = len(trees)
    n_units = len(trees)
    k = max([1, *(len(c) for c in col_sets)])
    cols = np.full((n_units, k), -1, dtype=np.int32)
    n_cols = np.zeros(n_units, dtype=np.int32)
    for u, c in enumerate(col_sets):
        cols[u, : len(c)] = c
        n_cols[u] = len(c)
    return TreeUnits(
        tree=np.asarray(trees, dtype=np.int64),
        first=first,
        last=last,
        mask=np.array(masks, dtype=np.uint64).reshape(n_units, words),
        node_in=np.array(node_ins, dtype=np.uint8).reshape(n_units, width),
        leaf_in=np.array(leaf_ins, dtype=np.uint8).reshape(n_units, width + 1),
        cols=cols,
        n_cols=n_cols,
    )
