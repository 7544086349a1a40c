"""Metrics for recurrence-risk scores: ranking, calibration and recall at cadre capacity.

Capacity is what cadres can visit: a *share* of households (a float in (0, 1]) or *k*
households (an int >= 1), applied within each group (e.g. per as-of date, or per village and
as-of date). Ties in the score at the capacity boundary are resolved by their expectation under
random tie-breaking: each tied household counts as flagged with the same fraction. This is
deterministic, does not depend on row order, and gives a coarse score (like a count of alert
rules) exactly the credit a lottery among its ties would get on average.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

__all__ = [
    "METRIC_ORDER",
    "SUMMARY_METRICS",
    "CapacityResult",
    "brier",
    "expected_calibration_error",
    "largest_tie_share",
    "lift",
    "pr_auc",
    "recall_precision_at_capacity",
    "roc_auc",
    "select_at_capacity",
    "top_decile_calibration",
    "wilson_interval",
]


METRIC_ORDER: tuple[str, ...] = (
    "n",
    "positives",
    "base_rate",
    "roc_auc",
    "pr_auc",
    "log_loss",
    "brier",
    "ece",
    "tie_share_at_capacity",
    "flags_at_capacity",
    "recall_at_capacity",
    "precision_at_capacity",
    "lift_at_capacity",
    "flags_at_rules_count",
    "recall_at_rules_count",
    "precision_at_rules_count",
)
"""Every per-method metric of a backtest or an evaluation, in table order: the one list of
metric names (MLflow keys ``<scope>.<method>.<metric>``, backtest and evaluation tables)."""

SUMMARY_METRICS: tuple[str, ...] = (
    "n",
    "positives",
    "roc_auc",
    "pr_auc",
    "brier",
    "ece",
    "recall_at_capacity",
    "precision_at_capacity",
    "lift_at_capacity",
    "recall_at_capacity_vs_rules",
    "auc_vs_oracle",
)
"""The short list shown on the console (``riskml train``) and in the model card; the last two are
the backtest table's ratios (``BacktestResult.table``)."""


def _binary(y: np.ndarray | pd.Series, name: str = "y") -> np.ndarray:
    if np.ndim(y) != 1:
        raise ValueError(f"{name} must be one-dimensional; got shape {np.shape(y)}.")
    arr = pd.Series(y).to_numpy(dtype=np.float64, na_value=np.nan)
    if np.isnan(arr).any():
        raise ValueError(
            f"{name} holds {int(np.isnan(arr).sum())} missing labels; drop unlabelled rows first."
        )
    bad = ~np.isin(arr, (0.0, 1.0))
    if bad.any():
        raise ValueError(f"{name} must hold 0/1 labels; found {np.unique(arr[bad])[:5].tolist()}.")
    return arr


def _scores(score: np.ndarray | pd.Series, n: int, name: str = "score") -> np.ndarray:
    arr = np.asarray(score, dtype=np.float64)
    if arr.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},) like the labels; got {arr.shape}.")
    if np.isnan(arr).any():
        raise ValueError(
            f"{name} holds {int(np.isnan(arr).sum())} missing values; every row needs a score."
        )
    return arr


def roc_auc(y: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve; NaN when only one class is present."""
    y = _binary(y)
    score = _scores(score, len(y))
    if y.min() == y.max():
        return float("nan")
    return float(roc_auc_score(y, score))


def pr_auc(y: np.ndarray, score: np.ndarray) -> float:
    """Area under the precision-recall curve (average precision); NaN without positives."""
    y = _binary(y)
    score = _scores(score, len(y))
    if y.sum() == 0:
        return float("nan")
    return float(average_precision_score(y, score))


def brier(y: np.ndarray, prob: np.ndarray) -> float:
    """Brier score (mean squared error of probabilities); lower is better."""
    y = _binary(y)
    prob = _scores(prob, len(y), "prob")
    if len(y) == 0:
        return float("nan")
    return float(brier_score_loss(y, np.clip(prob, 0.0, 1.0)))


def expected_calibration_error(
    y: np.ndarray,
    prob: np.ndarray,
    n_bins: int = 10,
    *,
    strategy: Literal["quantile", "uniform"] = "quantile",
) -> float:
    """Expected calibration error: sum over bins of (bin share) x |mean predicted - observed rate|.

    ``strategy="quantile"`` (default) uses bins holding equal numbers of rows (ties kept together),
    which stays informative when nearly all probabilities are small (a 2 % base rate puts almost
    every row in the first of ten equal-width bins); ``"uniform"`` uses ten equal-width bins on
    [0, 1], the textbook definition.
    """
    y = _binary(y)
    prob = np.clip(_scores(prob, len(y), "prob"), 0.0, 1.0)
    if n_bins < 1:
        raise ValueError(f"n_bins must be a positive int. Got {n_bins} instead.")
    n = len(y)
    if n == 0:
        return float("nan")
    if strategy == "uniform":
        bins = np.minimum((prob * n_bins).astype(np.int64), n_bins - 1)
    elif strategy == "quantile":
        # rank-based equal-mass bins; equal probabilities share a bin
        order_rank = pd.Series(prob).rank(method="min").to_numpy() - 1
        bins = np.minimum((order_rank * n_bins / n).astype(np.int64), n_bins - 1)
    else:
        raise ValueError(f"strategy must be 'quantile' or 'uniform'. Got {strategy!r} instead.")
    count = np.bincount(bins, minlength=n_bins).astype(np.float64)
    sum_p = np.bincount(bins, weights=prob, minlength=n_bins)
    sum_y = np.bincount(bins, weights=y, minlength=n_bins)
    used = count > 0
    return float(np.sum(np.abs(sum_p[used] - sum_y[used])) / n)


def _group_codes(groups: np.ndarray | pd.Series | pd.DataFrame | None, n: int) -> np.ndarray:
    if groups is None:
        return np.zeros(n, dtype=np.int64)
    if isinstance(groups, pd.DataFrame):
        if len(groups) != n:
            raise ValueError(f"groups has {len(groups)} rows but the scores have {n}.")
        return groups.groupby(list(groups.columns), sort=False, dropna=False).ngroup().to_numpy()
    codes, _ = pd.factorize(pd.Series(groups), use_na_sentinel=False)
    if len(codes) != n:
        raise ValueError(f"groups has {len(codes)} values but the scores have {n}.")
    return codes


def _k_per_group(capacity: float | int, sizes: np.ndarray) -> np.ndarray:
    if isinstance(capacity, bool):
        raise ValueError(
            "capacity must be a share (float in (0, 1]) or a count (int >= 1), not a bool."
        )
    if isinstance(capacity, (int, np.integer)):
        if capacity < 1:
            raise ValueError(
                f"A capacity count must be >= 1 household per group. Got {capacity} instead."
            )
        return np.minimum(sizes, int(capacity)).astype(np.float64)
    share = float(capacity)
    if not 0.0 < share <= 1.0:
        raise ValueError(f"A capacity share must be in (0, 1]. Got {share} instead.")
    return np.floor(share * sizes + 0.5)


def select_at_capacity(
    score: np.ndarray,
    capacity: float | int,
    groups: np.ndarray | pd.Series | pd.DataFrame | None = None,
    *,
    ties: Literal["expected", "stable"] = "expected",
) -> np.ndarray:
    """Which rows cadres visit: the top of each group by score, within capacity.

    Parameters
    ----------
    score : array of shape (n,)
        Higher = visit first.
    capacity : float or int
        A float in (0, 1] is a share of each group's rows (rounded half up); an int >= 1 is a
        number of rows per group (all rows when a group is smaller).
    groups : array, Series or DataFrame of shape (n, ...), optional
        Capacity applies within each group (e.g. ``village_code`` and ``as_of``); None = one group.
    ties : {"expected", "stable"}
        ``"expected"``: rows tied with the last selected row share the remaining places
        fractionally (the expectation of a random tie-break). ``"stable"``: tied rows earlier in
        the input are selected first (a hard, reproducible 0/1 selection).

    Returns
    -------
    ndarray of float64 in [0, 1]
        The (expected) selection of each row; sums to the number of flags.
    """
    score = np.asarray(score, dtype=np.float64)
    n = len(score)
    if np.isnan(score).any():
        raise ValueError(
            f"score holds {int(np.isnan(score).sum())} missing values; every row needs a score."
        )
    codes = _group_codes(groups, n)
    if n == 0:
        return np.zeros(0)
    return _select_top_k(score, codes, _k_per_group(capacity, np.bincount(codes)), ties)


def _select_top_k(
    score: np.ndarray,
    codes: np.ndarray,
    k: np.ndarray,
    ties: Literal["expected", "stable"] = "expected",
) -> np.ndarray:
    """Expected (or stable) selection of the top ``k[g]`` rows of each group ``g`` by score."""
    n = len(score)
    sizes = np.bincount(codes, minlength=len(k))
    # order: by group, then score descending, then input position (stable)
    order = np.lexsort((np.arange(n), -score, codes))
    g_sorted = codes[order]
    s_sorted = score[order]
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    rank = np.arange(n) - starts[g_sorted]  # 0-based rank within group
    k_row = k[g_sorted]
    if ties == "stable":
        sel_sorted = (rank < k_row).astype(np.float64)
    elif ties == "expected":
        new_block = np.ones(n, dtype=bool)
        new_block[1:] = (g_sorted[1:] != g_sorted[:-1]) | (s_sorted[1:] != s_sorted[:-1])
        block_id = np.cumsum(new_block) - 1
        block_start = rank[new_block][block_id]
        block_size = np.bincount(block_id)[block_id]
        sel_sorted = np.clip((k_row - block_start) / block_size, 0.0, 1.0)
    else:
        raise ValueError(f"ties must be 'expected' or 'stable'. Got {ties!r} instead.")
    selection = np.empty(n)
    selection[order] = sel_sorted
    return selection


@dataclass(frozen=True)
class CapacityResult:
    """Recall, precision and lift when cadres visit ``flags`` households."""

    recall: float
    precision: float
    lift: float
    flags: float
    true_positives: float
    positives: int
    n: int


def recall_precision_at_capacity(
    y: np.ndarray,
    score: np.ndarray,
    capacity: float | int,
    groups: np.ndarray | pd.Series | pd.DataFrame | None = None,
    *,
    ties: Literal["expected", "stable"] = "expected",
) -> CapacityResult:
    """Recall and precision of visiting the top households by ``score`` within ``capacity``.

    See :func:`select_at_capacity` for ``capacity``, ``groups`` and ``ties``. Recall is NaN
    without positives; precision is NaN when nothing is flagged.

    Examples
    --------
    >>> r = recall_precision_at_capacity([1, 0, 1, 0], [0.9, 0.8, 0.1, 0.0], 1, groups=["a", "a", "b", "b"])
    >>> r.recall, r.precision
    (0.5, 0.5)
    """
    y = _binary(y)
    score = _scores(score, len(y))
    sel = select_at_capacity(score, capacity, groups, ties=ties)
    return _capacity_result(y, sel)


def _capacity_result(y: np.ndarray, sel: np.ndarray) -> CapacityResult:
    positives = int(y.sum())
    flags = float(sel.sum())
    tp = float(np.dot(sel, y))
    recall = tp / positives if positives else float("nan")
    precision = tp / flags if flags > 0 else float("nan")
    base = positives / len(y) if len(y) else float("nan")
    lift_value = precision / base if positives and flags > 0 else float("nan")
    return CapacityResult(
        recall=recall,
        precision=precision,
        lift=lift_value,
        flags=flags,
        true_positives=tp,
        positives=positives,
        n=len(y),
    )


def lift(
    y: np.ndarray,
    score: np.ndarray,
    capacity: float | int,
    groups: np.ndarray | pd.Series | pd.DataFrame | None = None,
) -> float:
    """Precision at capacity divided by the base rate (1 = no better than a lottery)."""
    return recall_precision_at_capacity(y, score, capacity, groups).lift


def wilson_interval(
    positives: np.ndarray | float, n: np.ndarray | float, z: float = 1.959964
) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval (95 % by default) of an observed rate ``positives / n``."""
    k = np.asarray(positives, dtype=np.float64)
    m = np.asarray(n, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k / m
        denom = 1.0 + z * z / m
        centre = (p + z * z / (2 * m)) / denom
        half = z * np.sqrt(p * (1 - p) / m + z * z / (4 * m * m)) / denom
    return centre - half, centre + half


def top_decile_calibration(
    y: np.ndarray,
    prob: np.ndarray,
    rank: np.ndarray | None = None,
    groups: np.ndarray | pd.Series | pd.DataFrame | None = None,
    *,
    top: float = 0.1,
    n_bins: int = 10,
) -> pd.DataFrame:
    """Calibration by decile *within* the top ``top`` share of rows.

    The top ``top`` of each group (e.g. each as-of date) by ``rank`` (default ``prob``) is
    pooled and cut into ``n_bins`` bins of equal size by rank, highest first. Per bin: rows,
    mean predicted probability, observed rate with its 95 % Wilson interval, and whether the
    prediction lies inside the interval.
    """
    y = _binary(y)
    prob = _scores(prob, len(y), "prob")
    rank = prob if rank is None else _scores(rank, len(y), "rank")
    codes = _group_codes(groups, len(y))
    sel = _select_top_k(rank, codes, _k_per_group(float(top), np.bincount(codes)), "stable") > 0
    idx = np.flatnonzero(sel)
    idx = idx[np.lexsort((prob[idx], rank[idx]))[::-1]]  # highest first
    rows = []
    for b, part in enumerate(np.array_split(idx, n_bins), start=1):
        if len(part) == 0:
            continue
        pos = float(y[part].sum())
        lo, hi = wilson_interval(pos, len(part))
        pred = float(prob[part].mean())
        rows.append(
            {
                "bin": b,
                "rows": len(part),
                "predicted": pred,
                "observed": pos / len(part),
                "ci_low": float(lo),
                "ci_high": float(hi),
                "in_ci": bool(lo <= pred <= hi),
            }
        )
    return pd.DataFrame(
        rows, columns=["bin", "rows", "predicted", "observed", "ci_low", "ci_high", "in_ci"]
    )


def largest_tie_share(prob: np.ndarray, selected: np.ndarray | None = None) -> float:
    """The largest share of (selected) rows that share one exact probability value."""
    p = np.asarray(prob, dtype=np.float64)
    if selected is not None:
        p = p[np.asarray(selected) > 0]
    if len(p) == 0:
        return float("nan")
    _, counts = np.unique(p, return_counts=True)
    return float(counts.max() / len(p))
