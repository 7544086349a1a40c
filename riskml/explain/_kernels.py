"""Compiled kernels for decision-pattern TreeSHAP (numba, compiled on first use and cached).

Three steps per chunk of rows, all exact integer/boolean work except the final sum:

1. :func:`assign_patterns` — for every tree (in parallel) and row, decide every internal node
   exactly as LightGBM does, pack the decisions into a key, and look the key up in the tree's
   open-addressing hash table: a known key gives its pattern id, a new key gets the next id.
2. :func:`pattern_shap` — for every new pattern (trees in parallel), path-dependent TreeSHAP of
   its tree, driven by the pattern's decisions: a transcription of LightGBM's ``Tree::TreeSHAP``
   (``ExtendPath``, ``UnwindPath``, ``UnwoundPathSum``; same operations in the same order),
   with an explicit stack instead of recursion.
3. :func:`scatter_patterns` — for every row (in parallel), add up its patterns' values over
   the trees, in tree order.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

__all__ = [
    "grow_tables",
    "leaf_index",
    "pattern_shap",
    "scatter_patterns",
    "tree_pattern_values",
    "tree_patterns",
    "unit_patterns",
]

_EMPTY = -1


@njit(cache=True, inline="always")
def _goes_left(fval, mtype, dleft, thr, is_cat, cstart, clen, cat_words, kzero):
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
def _mix(x):
    # splitmix64 finaliser
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


@njit(cache=True)
def _tree_keys(
    xt,
    t,
    m,
    split_feature,
    threshold,
    missing_type,
    default_left,
    categorical,
    cat_start,
    cat_len,
    cat_words,
    kzero,
    keys,
):
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
            nan_left = thr >= 0.0
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


@njit(cache=True, inline="always")
def _lookup_insert(
    key, u, n_words, tab_offset, tab_capacity, tab_keys, tab_pid, count, pat_keys, pat_offset
):
    """Pattern id of ``key`` in unit ``u``'s table; a new key gets the next id; -1 if full."""
    cap = tab_capacity[u]
    mask = np.uint64(cap - 1)
    off = tab_offset[u]
    h = np.uint64(0x9E3779B97F4A7C15)
    for w in range(n_words):
        h = _mix(h ^ key[w])
    slot = h & mask
    while True:
        s = off + np.int64(slot)
        q = tab_pid[s]
        if q == _EMPTY:
            if count[u] >= cap // 2:
                return np.int32(_EMPTY)  # full: grow, then resume
            p = np.int32(count[u])
            tab_pid[s] = p
            for w in range(n_words):
                tab_keys[s, w] = key[w]
                pat_keys[pat_offset[u] + p, w] = key[w]
            count[u] += 1
            return p
        same = True
        for w in range(n_words):
            if tab_keys[s, w] != key[w]:
                same = False
                break
        if same:
            return q
        slot = (slot + np.uint64(1)) & mask


@njit(cache=True, parallel=True)
def tree_patterns(
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
    tpid,  # (T, n) int32 out: each row's pattern id in each tree (this chunk's numbering)
    tkey,  # (T, n, n_words) uint64 out: the decision key of each of a tree's patterns
    tcount,  # (T,) int64 out: patterns per tree in this chunk
):
    """Decide every node of every tree for every row and number the distinct decision vectors of
    each tree (a scratch open-addressing table per tree)."""
    n_trees = n_nodes.shape[0]
    n = xt.shape[1]
    cap = 16
    while cap < 2 * n:
        cap *= 2
    hmask = np.uint64(cap - 1)
    seed = np.uint64(0x9E3779B97F4A7C15)
    for t in prange(n_trees):
        keys = np.empty((n_words, n), dtype=np.uint64)
        _tree_keys(xt, t, n_nodes[t], split_feature, threshold, missing_type, default_left, categorical,
                   cat_start, cat_len, cat_words, kzero, keys)  # fmt: skip
        table = np.full(cap, _EMPTY, dtype=np.int32)
        count = 0
        if n_words == 1:
            k0 = keys[0]
            for r in range(n):
                key = k0[r]
                slot = _mix(seed ^ key) & hmask
                while True:
                    q = table[slot]
                    if q == _EMPTY:
                        q = np.int32(count)
                        table[slot] = q
                        tkey[t, q, 0] = key
                        count += 1
                        break
                    if tkey[t, q, 0] == key:
                        break
                    slot = (slot + np.uint64(1)) & hmask
                tpid[t, r] = q
        else:
            for r in range(n):
                h = seed
                for w in range(n_words):
                    h = _mix(h ^ keys[w, r])
                slot = h & hmask
                while True:
                    q = table[slot]
                    if q == _EMPTY:
                        q = np.int32(count)
                        table[slot] = q
                        for w in range(n_words):
                            tkey[t, q, w] = keys[w, r]
                        count += 1
                        break
                    same = True
                    for w in range(n_words):
                        if tkey[t, q, w] != keys[w, r]:
                            same = False
                            break
                    if same:
                        break
                    slot = (slot + np.uint64(1)) & hmask
                tpid[t, r] = q
        tcount[t] = count


@njit(cache=True, parallel=True)
def unit_patterns(
    tkey,  # (T, n, n_words) uint64: the chunk's tree patterns
    tcount,  # (T,) int64
    toff,  # (T,) int64 offset of each tree's patterns in the chunk's flat numbering
    n_words,
    unit_tree,  # (U,)
    unit_first,  # (T,)
    unit_mask,  # (U, n_words)
    tab_offset,  # (U,) int64 start of each unit's slots
    tab_capacity,  # (U,) int64 power of two
    tab_keys,  # (S, n_words) uint64
    tab_pid,  # (S,) int32, -1 empty
    count,  # (U,) int64 patterns known per unit (updated)
    pat_keys,  # (P, n_words) uint64 decision key of each pattern (pattern slots)
    pat_offset,  # (U,) int64 start of each unit's pattern slots
    resume,  # (U,) int64 first tree pattern still to do per unit (updated)
    upid,  # (max units per tree, sum tcount) int32 out: unit pattern of each tree pattern
):
    """For each unit, the unit pattern of each of its tree's patterns in this chunk (the unit's
    persistent table; a new key gets the next id)."""
    n_units = unit_tree.shape[0]
    for u in prange(n_units):
        t = unit_tree[u]
        j = u - unit_first[t]
        key = np.empty(n_words, dtype=np.uint64)
        q = resume[u]
        while q < tcount[t]:
            for w in range(n_words):
                key[w] = tkey[t, q, w] & unit_mask[u, w]
            p = _lookup_insert(key, u, n_words, tab_offset, tab_capacity, tab_keys, tab_pid, count,
                               pat_keys, pat_offset)  # fmt: skip
            if p == _EMPTY:
                break  # full: grow, then resume here
            upid[j, toff[t] + q] = p
            q += 1
        resume[u] = q


@njit(cache=True, parallel=True)
def tree_pattern_values(
    first_tree,
    tcount,
    toff,
    unit_first,
    unit_last,
    upid,
    pat_offset,
    phi,
    unit_n_cols,
    unit_to_tree_col,
    tphi,
):
    """``tphi[toff[i] + q]``: the SHAP values of tree ``first_tree + i``'s chunk pattern ``q``, the
    sum of its units' pattern values (in unit order), by the tree's feature columns. ``toff`` is
    relative to ``tphi``; ``upid`` columns are at ``toff[i] + q + toff_base`` (see caller)."""
    for i in prange(tcount.shape[0]):
        t = first_tree + i
        for q in range(tcount[i]):
            row = toff[i] + q
            for u in range(unit_first[t], unit_last[t]):
                base = pat_offset[u] + upid[u - unit_first[t], row]
                for k in range(unit_n_cols[u]):
                    tphi[row, unit_to_tree_col[u, k]] += phi[base, k]


@njit(cache=True)
def grow_tables(
    units, old_offset, old_cap, old_keys, old_pid, new_offset, new_cap, new_keys, new_pid
):
    """Rehash the slots of ``units`` into their new, bigger tables (pattern ids unchanged)."""
    n_words = old_keys.shape[1]
    for i in range(units.shape[0]):
        u = units[i]
        mask = np.uint64(new_cap[u] - 1)
        base = new_offset[u]
        for s in range(old_offset[u], old_offset[u] + old_cap[u]):
            p = old_pid[s]
            if p == _EMPTY:
                continue
            h = np.uint64(0x9E3779B97F4A7C15)
            for w in range(n_words):
                h = _mix(h ^ old_keys[s, w])
            slot = h & mask
            while new_pid[base + np.int64(slot)] != _EMPTY:
                slot = (slot + np.uint64(1)) & mask
            new_pid[base + np.int64(slot)] = p
            for w in range(n_words):
                new_keys[base + np.int64(slot), w] = old_keys[s, w]


@njit(cache=True, parallel=True)
def scatter_patterns(pid, pat_offset, phi, unit_cols, n_cols, out):
    """``out[r, unit_cols[u, k]] = sum over units u (in order) of phi[pat_offset[u] + pid[u, r], k]``.

    Rows go in blocks; a block's sums build up in a small column-major buffer while one unit's
    pattern values stay in cache; each entry still adds its units in unit order.
    """
    n_units = pid.shape[0]
    n = pid.shape[1]
    n_out = out.shape[1]
    block = 128
    n_blocks = (n + block - 1) // block
    for b in prange(n_blocks):
        lo = b * block
        m = min(n, lo + block) - lo
        acc = np.zeros((n_out, block), dtype=np.float64)
        for u in range(n_units):
            po = pat_offset[u]
            ids = pid[u, lo : lo + m]
            for k in range(n_cols[u]):
                row = acc[unit_cols[u, k]]
                for r in range(m):
                    row[r] += phi[po + ids[r], k]
        for r in range(m):
            for c in range(n_out):
                out[lo + r, c] += acc[c, r]


@njit(cache=True, parallel=True)
def leaf_index(
    xt,
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
    left_child,
    right_child,
):
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
                if _goes_left(
                    fval,
                    missing_type[t, node],
                    default_left[t, node],
                    threshold[t, node],
                    categorical[t, node],
                    cat_start[t, node],
                    cat_len[t, node],
                    cat_words,
                    kzero,
                ):
                    node = left_child[t, node]
                else:
                    node = right_child[t, node]
            out[r, t] = ~node
    return out


# ---- path-dependent TreeSHAP of one tree for one decision pattern ------------------------------
# A transcription of LightGBM's src/io/tree.cpp (Tree::ExtendPath, UnwindPath, UnwoundPathSum,
# TreeSHAP), itself from Lundberg et al. (arXiv:1706.06060), Algorithm 2. The path element arrays
# pf (feature), pz (zero fraction), po (one fraction), pw (permutation weight) are laid out as
# LightGBM's unique_path_data: the path at unique depth d starts at parent offset + d.


@njit(cache=True, inline="always")
def _extend_path(pf, pz, po, pw, off, d, zero, one, feature):
    pf[off + d] = feature
    pz[off + d] = zero
    po[off + d] = one
    pw[off + d] = 1.0 if d == 0 else 0.0
    for i in range(d - 1, -1, -1):
        pw[off + i + 1] += one * pw[off + i] * (i + 1) / (d + 1)
        pw[off + i] = zero * pw[off + i] * (d - i) / (d + 1)


@njit(cache=True, inline="always")
def _unwind_path(pf, pz, po, pw, off, d, path_index):
    one = po[off + path_index]
    zero = pz[off + path_index]
    next_one = pw[off + d]
    for i in range(d - 1, -1, -1):
        if one != 0:
            tmp = pw[off + i]
            pw[off + i] = next_one * (d + 1) / ((i + 1) * one)
            next_one = tmp - pw[off + i] * zero * (d - i) / (d + 1)
        else:
            pw[off + i] = (pw[off + i] * (d + 1)) / (zero * (d - i))
    for i in range(path_index, d):
        pf[off + i] = pf[off + i + 1]
        pz[off + i] = pz[off + i + 1]
        po[off + i] = po[off + i + 1]


@njit(cache=True, inline="always")
def _unwound_path_sum(pz, po, pw, off, d, path_index):
    one = po[off + path_index]
    zero = pz[off + path_index]
    next_one = pw[off + d]
    total = 0.0
    for i in range(d - 1, -1, -1):
        if one != 0:
            tmp = next_one * (d + 1) / ((i + 1) * one)
            total += tmp
            next_one = pw[off + i] - tmp * zero * ((d - i) / (d + 1))
        else:
            total += (pw[off + i] / zero) / ((d - i) / (d + 1))
    return total


# kept whole on purpose: a numba kernel, and splitting it into calls costs speed in the hot loop
@njit(cache=True)
def _tree_shap_one(
    t,
    key,
    left_child,
    right_child,
    split_feature,
    internal_count,
    leaf_count,
    leaf_value,
    node_in,
    leaf_in,
    phi,
    pf,
    pz,
    po,
    pw,
    s_node,
    s_depth,
    s_off,
    s_zero,
    s_one,
    s_feat,
):
    """Add tree ``t``'s SHAP values for the decision pattern ``key`` into ``phi`` (by feature),
    from the leaves with ``leaf_in`` set only (the recursion skips nodes without ``node_in``)."""
    sp = 0
    s_node[0] = 0
    s_depth[0] = 0
    s_off[0] = 0
    s_zero[0] = 1.0
    s_one[0] = 1.0
    s_feat[0] = -1
    sp = 1
    while sp > 0:
        sp -= 1
        node = s_node[sp]
        d = s_depth[sp]
        parent = s_off[sp]
        off = parent + d
        for i in range(d):  # copy the parent's path
            pf[off + i] = pf[parent + i]
            pz[off + i] = pz[parent + i]
            po[off + i] = po[parent + i]
            pw[off + i] = pw[parent + i]
        _extend_path(pf, pz, po, pw, off, d, s_zero[sp], s_one[sp], s_feat[sp])
        if node < 0:
            value = leaf_value[t, ~node]
            for i in range(1, d + 1):
                w = _unwound_path_sum(pz, po, pw, off, d, i)
                phi[pf[off + i]] += w * (po[off + i] - pz[off + i]) * value
            continue
        left = left_child[t, node]
        right = right_child[t, node]
        if (key[node >> 6] >> np.uint64(node & 63)) & np.uint64(1):
            hot = left
            cold = right
        else:
            hot = right
            cold = left
        w = internal_count[t, node]
        hot_count = internal_count[t, hot] if hot >= 0 else leaf_count[t, ~hot]
        cold_count = internal_count[t, cold] if cold >= 0 else leaf_count[t, ~cold]
        hot_zero = hot_count / w
        cold_zero = cold_count / w
        incoming_zero = 1.0
        incoming_one = 1.0
        feature = split_feature[t, node]
        path_index = 0
        while path_index <= d:
            if pf[off + path_index] == feature:
                break
            path_index += 1
        if path_index != d + 1:
            incoming_zero = pz[off + path_index]
            incoming_one = po[off + path_index]
            _unwind_path(pf, pz, po, pw, off, d, path_index)
            d -= 1
        # cold first on the stack so that the hot subtree is done first, as in the recursion
        if node_in[cold] if cold >= 0 else leaf_in[~cold]:
            s_node[sp] = cold
            s_depth[sp] = d + 1
            s_off[sp] = off
            s_zero[sp] = cold_zero * incoming_zero
            s_one[sp] = 0.0
            s_feat[sp] = feature
            sp += 1
        if node_in[hot] if hot >= 0 else leaf_in[~hot]:
            s_node[sp] = hot
            s_depth[sp] = d + 1
            s_off[sp] = off
            s_zero[sp] = hot_zero * incoming_zero
            s_one[sp] = incoming_one
            s_feat[sp] = feature
            sp += 1


@njit(cache=True, parallel=True)
def pattern_shap(
    units,
    first,
    last,
    unit_tree,
    node_in,
    leaf_in,
    pat_keys,
    pat_offset,
    n_features,
    left_child,
    right_child,
    split_feature,
    internal_count,
    leaf_count,
    leaf_value,
    max_depth,
    unit_cols,
    n_cols,
    phi_store,
):
    """SHAP values of patterns ``first[i]..last[i]-1`` of unit ``units[i]`` into ``phi_store``
    (row = pattern slot, column k = the unit's k-th feature)."""
    for i in prange(units.shape[0]):
        u = units[i]
        t = unit_tree[u]
        depth = max_depth[t] + 1
        size = depth * (depth + 1) // 2 + 1
        pf = np.empty(size, dtype=np.int64)
        pz = np.empty(size, dtype=np.float64)
        po = np.empty(size, dtype=np.float64)
        pw = np.empty(size, dtype=np.float64)
        stack = 2 * depth + 2
        s_node = np.empty(stack, dtype=np.int64)
        s_depth = np.empty(stack, dtype=np.int64)
        s_off = np.empty(stack, dtype=np.int64)
        s_zero = np.empty(stack, dtype=np.float64)
        s_one = np.empty(stack, dtype=np.float64)
        s_feat = np.empty(stack, dtype=np.int64)
        phi = np.zeros(n_features, dtype=np.float64)
        k_u = n_cols[u]
        for p in range(first[i], last[i]):
            slot = pat_offset[u] + p
            _tree_shap_one(
                t,
                pat_keys[slot],
                left_child,
                right_child,
                split_feature,
                internal_count,
                leaf_count,
                leaf_value,
                node_in[u],
                leaf_in[u],
                phi,
                pf,
                pz,
                po,
                pw,
                s_node,
                s_depth,
                s_off,
                s_zero,
                s_one,
                s_feat,
            )
            for k in range(k_u):
                c = unit_cols[u, k]
                phi_store[slot, k] = phi[c]
                phi[c] = 0.0
