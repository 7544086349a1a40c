"""Compiled kernels for decision-pattern TreeSHAP (numba, compiled on first use and cached).

Three steps per chunk of rows, all exact integer/boolean work except the final sum:

1. :func:`assign_patterns` — for every tree (in parallel) and row, decide every internal node
   exactly as LightGBM does, pack the decisions into a key, and look the key up in the tree's
   open-addressing hash table: a known key gives its pattern id, a new key gets the next id and
   the row becomes the pattern's representative (whose SHAP values are then computed once).
2. (outside: SHAP values of each new pattern, from LightGBM itself.)
3. :func:`scatter_patterns` — for every row (in parallel), add up its patterns' values over
   the trees, in tree order.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

__all__ = ["assign_patterns", "grow_table", "leaf_index", "scatter_patterns"]

_EMPTY = -1


@njit(cache=True, inline="always")
def _goes_left(fval, mtype, dleft, thr, is_cat, cstart, clen, cat_words, kzero):  # type: ignore[no-untyped-def]
    if is_cat:
        # CategoricalDecision: NaN, negative and out-of-int-range values go right.
        if np.isnan(fval) or fval >= 2147483648.0 or fval <= -2147483649.0:
            return False
        iv = np.int64(fval)  # truncates toward zero, like static_cast<int>
        if iv < 0:
            return False
        word = iv // 32
        if word >= clen:
            return False
        return ((cat_words[cstart + word] >> np.uint32(iv % 32)) & np.uint32(1)) == 1
    # NumericalDecision
    if np.isnan(fval):
        if mtype != 2:
            fval = 0.0
        else:
            return dleft == 1
    if mtype == 1 and fval >= -kzero and fval <= kzero:
        return dleft == 1
    return fval <= thr


@njit(cache=True, inline="always")
def _mix(x):  # type: ignore[no-untyped-def]
    # splitmix64 finaliser
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


@njit(cache=True)
def _tree_keys(xt, t, m, split_feature, threshold, missing_type, default_left, categorical,  # type: ignore[no-untyped-def]
               cat_start, cat_len, cat_words, kzero, keys):
    """``keys[w, r]``: bit ``j`` of row ``r`` is set when the row goes left at node ``j``.

    One pass over the rows per node, each a branch-light loop over a contiguous feature column.
    """
    n = xt.shape[1]
    keys[:, :] = np.uint64(0)
    for j in range(m):
        col = xt[split_feature[t, j]]
        w = j >> 6
        bit = np.uint64(1) << np.uint64(j & 63)
        kw = keys[w]
        if categorical[t, j]:
            cs = cat_start[t, j]
            cl = cat_len[t, j]
            for r in range(n):
                if _goes_left(col[r], 0, 0, 0.0, 1, cs, cl, cat_words, kzero):
                    kw[r] |= bit
            continue
        thr = threshold[t, j]
        mt = missing_type[t, j]
        dleft = default_left[t, j] == 1
        if mt == 0:
            # NaN is read as 0.0
            nan_left = 0.0 <= thr
            for r in range(n):
                v = col[r]
                if (v <= thr) or (nan_left and v != v):
                    kw[r] |= bit
        elif mt == 1:
            # NaN is read as 0.0, and zero goes the default way
            for r in range(n):
                v = col[r]
                if v != v or (v >= -kzero and v <= kzero):
                    if dleft:
                        kw[r] |= bit
                elif v <= thr:
                    kw[r] |= bit
        else:
            # NaN goes the default way
            for r in range(n):
                v = col[r]
                if v != v:
                    if dleft:
                        kw[r] |= bit
                elif v <= thr:
                    kw[r] |= bit


@njit(cache=True, parallel=True)
def assign_patterns(  # type: ignore[no-untyped-def]
    xt,  # (F, n) float64, feature-major
    n_nodes,
    split_feature,
    threshold,
    missing_type,
    default_left,
    categorical,
    cat_start,
    cat_len,
    cat_words,
    kzero,
    n_words,
    tab_offset,  # (T,) int64 start of each tree's slots
    tab_capacity,  # (T,) int64 power of two
    tab_keys,  # (S, n_words) uint64
    tab_pid,  # (S,) int32, -1 empty
    count,  # (T,) int64 patterns known per tree (updated)
    rep_row,  # (P,) int64 representative row of each pattern in this chunk (pattern slots)
    pat_offset,  # (T,) int64 start of each tree's pattern slots
    resume,  # (T,) int64 first row still to do per tree (updated; n when done)
    pid,  # (T, n) int32 output pattern id per tree and row
):
    n_trees = n_nodes.shape[0]
    n = xt.shape[1]
    for t in prange(n_trees):
        if resume[t] >= n:
            continue
        keys = np.empty((n_words, n), dtype=np.uint64)
        _tree_keys(xt, t, n_nodes[t], split_feature, threshold, missing_type, default_left,
                   categorical, cat_start, cat_len, cat_words, kzero, keys)
        cap = tab_capacity[t]
        mask = np.uint64(cap - 1)
        off = tab_offset[t]
        limit = cap // 2
        r = resume[t]
        while r < n:
            h = np.uint64(0x9E3779B97F4A7C15)
            for w in range(n_words):
                h = _mix(h ^ keys[w, r])
            slot = h & mask
            p = np.int32(_EMPTY)
            while True:
                s = off + np.int64(slot)
                q = tab_pid[s]
                if q == _EMPTY:
                    if count[t] < limit:
                        p = np.int32(count[t])
                        tab_pid[s] = p
                        for w in range(n_words):
                            tab_keys[s, w] = keys[w, r]
                        rep_row[pat_offset[t] + p] = r
                        count[t] += 1
                    break  # (p stays empty when the table is full: grow, then resume here)
                same = True
                for w in range(n_words):
                    if tab_keys[s, w] != keys[w, r]:
                        same = False
                        break
                if same:
                    p = q
                    break
                slot = (slot + np.uint64(1)) & mask
            if p == _EMPTY:
                break
            pid[t, r] = p
            r += 1
        resume[t] = r


@njit(cache=True)
def grow_table(old_keys, old_pid, old_cap, new_cap, n_words):  # type: ignore[no-untyped-def]
    """Rehash one tree's slots into a table of ``new_cap`` slots (pattern ids unchanged)."""
    keys = np.zeros((new_cap, n_words), dtype=np.uint64)
    pids = np.full(new_cap, _EMPTY, dtype=np.int32)
    mask = np.uint64(new_cap - 1)
    for s in range(old_cap):
        p = old_pid[s]
        if p == _EMPTY:
            continue
        h = np.uint64(0x9E3779B97F4A7C15)
        for w in range(n_words):
            h = _mix(h ^ old_keys[s, w])
        slot = h & mask
        while pids[slot] != _EMPTY:
            slot = (slot + np.uint64(1)) & mask
        pids[slot] = p
        for w in range(n_words):
            keys[slot, w] = old_keys[s, w]
    return keys, pids


@njit(cache=True, parallel=True)
def scatter_patterns(pid, pat_offset, phi, tree_cols, n_cols, out):  # type: ignore[no-untyped-def]
    """``out[r, tree_cols[t, k]] += phi[pat_offset[t] + pid[t, r], k]``, trees in order.

    Rows are taken in blocks and trees in order within a block, so one tree's pattern values stay
    in cache while the block's rows use them; each row still adds its trees in tree order.
    """
    n_trees = pid.shape[0]
    n = pid.shape[1]
    block = 512
    n_blocks = (n + block - 1) // block
    for b in prange(n_blocks):
        lo = b * block
        hi = min(n, lo + block)
        for t in range(n_trees):
            po = pat_offset[t]
            k_t = n_cols[t]
            for r in range(lo, hi):
                base = po + pid[t, r]
                for k in range(k_t):
                    out[r, tree_cols[t, k]] += phi[base, k]


@njit(cache=True, parallel=True)
def leaf_index(xt, n_nodes, split_feature, threshold, missing_type, default_left, categorical,  # type: ignore[no-untyped-def]
               cat_start, cat_len, cat_words, kzero, left_child, right_child):
    """The leaf of every row in every tree, from the same decisions (``pred_leaf`` equivalent)."""
    n_trees = n_nodes.shape[0]
    n = xt.shape[1]
    out = np.zeros((n, n_trees), dtype=np.int32)
    for r in prange(n):
        for t in range(n_trees):
            if n_nodes[t] == 0:
                continue
            node = 0
            while node >= 0:
                fval = xt[split_feature[t, node], r]
                if _goes_left(fval, missing_type[t, node], default_left[t, node], threshold[t, node],
                              categorical[t, node], cat_start[t, node], cat_len[t, node], cat_words, kzero):
                    node = left_child[t, node]
                else:
                    node = right_child[t, node]
            out[r, t] = ~node
    return out
