"""Figures logged with every training run: ROC, precision-recall, calibration, SHAP summaries.

All figures are drawn with matplotlib's Agg backend (no display), English labels only, and
returned as figures for the caller to save; nothing here knows about MLflow.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

__all__ = [
    "calibration_figure",
    "pr_figure",
    "roc_figure",
    "shap_dependence_figures",
    "shap_summary_figures",
]

_MAX_CURVE_POINTS = 2000


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _valid(y: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y, dtype=float)
    s = np.asarray(s, dtype=float)
    keep = ~(np.isnan(y) | np.isnan(s))
    return y[keep].astype(int), s[keep]


def _thin(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if len(x) <= _MAX_CURVE_POINTS:
        return x, y
    idx = np.unique(np.linspace(0, len(x) - 1, _MAX_CURVE_POINTS).astype(int))
    return x[idx], y[idx]


def roc_figure(y_true: np.ndarray, scores: Mapping[str, np.ndarray], *, title: str = "ROC"):
    """ROC curves of several scorers on the same rows (legend shows the AUC)."""
    from sklearn.metrics import roc_auc_score, roc_curve

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 5))
    for name, s in scores.items():
        y, sc = _valid(y_true, s)
        if len(np.unique(y)) < 2:
            continue
        fpr, tpr, _ = roc_curve(y, sc)
        fpr, tpr = _thin(fpr, tpr)
        ax.plot(fpr, tpr, label=f"{name} (AUC {roc_auc_score(y, sc):.3f})")
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
    ax.set(
        xlabel="False positive rate",
        ylabel="True positive rate",
        title=title,
        xlim=(0, 1),
        ylim=(0, 1),
    )
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    return fig


def pr_figure(
    y_true: np.ndarray, scores: Mapping[str, np.ndarray], *, title: str = "Precision-recall"
):
    """Precision-recall curves (legend shows average precision); the base rate is dotted."""
    from sklearn.metrics import average_precision_score, precision_recall_curve

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 5))
    base_rate = None
    for name, s in scores.items():
        y, sc = _valid(y_true, s)
        if len(np.unique(y)) < 2:
            continue
        base_rate = y.mean()
        precision, recall, _ = precision_recall_curve(y, sc)
        recall, precision = _thin(recall, precision)
        ax.plot(recall, precision, label=f"{name} (AP {average_precision_score(y, sc):.3f})")
    if base_rate is not None:
        ax.axhline(
            base_rate, color="grey", linestyle=":", linewidth=1, label=f"base rate {base_rate:.3f}"
        )
    ax.set(xlabel="Recall", ylabel="Precision", title=title, xlim=(0, 1), ylim=(0, 1))
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    return fig


def calibration_figure(
    y_true: np.ndarray,
    scores: Mapping[str, np.ndarray],
    *,
    n_bins: int = 10,
    title: str = "Calibration",
):
    """Reliability curves (quantile bins) for scorers that output probabilities."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 5))
    top = 0.0
    for name, s in scores.items():
        y, sc = _valid(y_true, s)
        if len(y) == 0 or sc.min() < 0 or sc.max() > 1:
            continue  # not a probability (e.g. a rule count): no calibration curve
        edges = np.unique(np.quantile(sc, np.linspace(0, 1, n_bins + 1)))
        if len(edges) < 2:
            continue
        bins = np.clip(np.searchsorted(edges, sc, side="right") - 1, 0, len(edges) - 2)
        frame = pd.DataFrame({"bin": bins, "y": y, "s": sc}).groupby("bin").mean()
        ax.plot(frame["s"], frame["y"], marker="o", markersize=3, label=name)
        top = max(top, float(frame[["s", "y"]].to_numpy().max()))
    top = min(1.0, max(top * 1.1, 0.05))
    ax.plot(
        [0, top], [0, top], color="grey", linestyle=":", linewidth=1, label="perfectly calibrated"
    )
    ax.set(
        xlabel="Mean predicted probability",
        ylabel="Observed positive rate",
        title=title,
        xlim=(0, top),
        ylim=(0, top),
    )
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    return fig


def shap_summary_figures(
    contrib: np.ndarray,
    X: pd.DataFrame,
    feature_names: Sequence[str],
    risk_types: Mapping[str, str],
    *,
    top: int = 20,
) -> dict[str, object]:
    """SHAP summaries: mean |SHAP| by feature (bar), by risk type (bar), and a beeswarm.

    Parameters
    ----------
    contrib
        ``(n, n_features + 1)`` TreeSHAP values in log-odds (last column the base value), as from
        ``booster.predict(X, pred_contrib=True)``.
    X
        The rows the values were computed for (colours of the beeswarm).
    feature_names
        Column order of ``contrib``.
    risk_types
        Feature name → risk type, from the catalog.

    Returns
    -------
    dict
        ``{"shap_by_feature": fig, "shap_by_risk_type": fig, "shap_beeswarm": fig}``.
    """
    plt = _pyplot()
    names = list(feature_names)
    values = np.asarray(contrib)[:, : len(names)]
    mean_abs = pd.Series(np.abs(values).mean(axis=0), index=names).sort_values(ascending=False)
    shown = mean_abs.head(top)[::-1]

    figs: dict[str, object] = {}
    fig, ax = plt.subplots(figsize=(7, 0.3 * len(shown) + 1.5))
    ax.barh(shown.index, shown.to_numpy(), color="#4472c4")
    ax.set(xlabel="Mean |SHAP| (log-odds)", title=f"Feature importance (top {len(shown)})")
    fig.tight_layout()
    figs["shap_by_feature"] = fig

    by_type = (
        pd.DataFrame(values, columns=names)
        .T.groupby(pd.Series([risk_types.get(n, "other") for n in names], index=names))
        .sum()
        .T.abs()
        .mean()
        .sort_values()
    )
    fig, ax = plt.subplots(figsize=(7, 0.35 * len(by_type) + 1.5))
    ax.barh(by_type.index, by_type.to_numpy(), color="#ed7d31")
    ax.set(xlabel="Mean |summed SHAP| per risk type (log-odds)", title="Importance by risk type")
    fig.tight_layout()
    figs["shap_by_risk_type"] = fig

    rng = np.random.default_rng(0)
    fig, ax = plt.subplots(figsize=(7, 0.3 * len(shown) + 1.5))
    for row, name in enumerate(shown.index):
        v = values[:, names.index(name)]
        col = X[name]
        if isinstance(col.dtype, pd.CategoricalDtype) or col.dtype == object:
            colour = np.full(len(v), 0.5)
        else:
            x = pd.to_numeric(col, errors="coerce").to_numpy(dtype=float)
            lo, hi = np.nanpercentile(x, [5, 95]) if np.isfinite(x).any() else (0.0, 1.0)
            colour = np.clip((x - lo) / (hi - lo), 0, 1) if hi > lo else np.full(len(v), 0.5)
            colour = np.where(np.isnan(colour), 0.5, colour)
        jitter = rng.uniform(-0.3, 0.3, len(v))
        ax.scatter(
            v, row + jitter, c=colour, cmap="coolwarm", s=4, alpha=0.6, vmin=0, vmax=1, linewidths=0
        )
    ax.set_yticks(range(len(shown)), shown.index)
    ax.axvline(0, color="grey", linewidth=0.8)
    ax.set(
        xlabel="SHAP value (log-odds); colour: feature value low (blue) to high (red)",
        title="SHAP summary",
    )
    fig.tight_layout()
    figs["shap_beeswarm"] = fig
    return figs


def shap_dependence_figures(
    contrib: np.ndarray, X: pd.DataFrame, feature_names: Sequence[str], *, top: int = 4
) -> dict[str, object]:
    """SHAP dependence plots (value vs SHAP) for the ``top`` features by mean |SHAP|.

    Returns ``{"shap_dependence_<feature>": fig}``; categorical features are drawn by level.
    Only feature values and SHAP values of a row sample appear, never ids.
    """
    plt = _pyplot()
    names = list(feature_names)
    values = np.asarray(contrib)[:, : len(names)]
    order = np.argsort(-np.abs(values).mean(axis=0), kind="stable")[:top]
    figs: dict[str, object] = {}
    for i in order:
        name = names[int(i)]
        col = X[name]
        fig, ax = plt.subplots(figsize=(6, 4))
        if isinstance(col.dtype, pd.CategoricalDtype) or col.dtype == object:
            levels = pd.Categorical(col.astype("object"))
            codes = levels.codes.astype(float)
            codes[codes < 0] = np.nan
            xs = codes
            ax.set_xticks(range(len(levels.categories)), [str(c) for c in levels.categories])
        else:
            xs = pd.to_numeric(col, errors="coerce").to_numpy(dtype=float)
        finite = np.isfinite(xs)
        jitter = (
            np.random.default_rng(0).uniform(-0.08, 0.08, len(xs))
            if np.unique(xs[finite]).size < 12
            else np.zeros(len(xs))
        )
        ax.scatter(
            xs[finite] + jitter[finite], values[finite, int(i)], s=5, alpha=0.5, linewidths=0
        )
        ax.axhline(0, color="grey", linewidth=0.8)
        missing = int((~finite).sum())
        ax.set(
            xlabel=name,
            ylabel="SHAP (log-odds)",
            title=f"SHAP dependence: {name}"
            + (f" ({missing} missing not shown)" if missing else ""),
        )
        fig.tight_layout()
        figs[f"shap_dependence_{name}"] = fig
    return figs
