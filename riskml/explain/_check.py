"""Cross-check riskml's TreeSHAP against LightGBM's ``pred_contrib`` and the ``shap`` package."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from riskml.explain._treeshap import tree_shap

__all__ = ["ShapCheck", "check_against_shap"]


@dataclass(frozen=True)
class ShapCheck:
    """Largest absolute differences between the three ways of computing SHAP values."""

    rows: int
    shap_vs_pred_contrib: float
    tree_shap_vs_pred_contrib: float
    tree_shap_vs_shap: float
    atol: float

    @property
    def ok(self) -> bool:
        return (
            max(self.shap_vs_pred_contrib, self.tree_shap_vs_pred_contrib, self.tree_shap_vs_shap)
            <= self.atol
        )


def _import_shap() -> Any:
    with warnings.catch_warnings():
        # shap 0.51 calls Colormap.set_bad/set_over/set_under at import time, which matplotlib
        # >= 3.10 marks as pending deprecation; harmless, and pytest turns warnings into errors.
        warnings.filterwarnings(
            "ignore",
            message=r"The set_(bad|over|under) function will be deprecated",
            category=PendingDeprecationWarning,
        )
        import shap
    return shap


def check_against_shap(
    booster: Any,
    X: pd.DataFrame | np.ndarray,
    *,
    atol: float = 1e-9,
    raise_on_mismatch: bool = True,
) -> ShapCheck:
    """Compare ``shap.TreeExplainer(booster)``, ``booster.predict(pred_contrib=True)`` and
    :func:`riskml.explain.tree_shap` on ``X`` (SHAP values and base value).

    Raises
    ------
    ValueError
        When any two differ by more than ``atol`` (unless ``raise_on_mismatch=False``).
    """
    shap = _import_shap()
    pred_contrib = booster.predict(X, pred_contrib=True)
    ours = tree_shap(booster, X)
    explanation = shap.TreeExplainer(booster)(X)  # the call API: no deprecated list output
    values = np.asarray(explanation.values, dtype=np.float64)
    base = np.broadcast_to(
        np.asarray(explanation.base_values, dtype=np.float64), (values.shape[0],)
    )
    from_shap = np.column_stack([values, base])
    if from_shap.shape != pred_contrib.shape:
        raise ValueError(
            f"shap returned values of shape {values.shape} for a model whose pred_contrib has shape "
            f"{pred_contrib.shape}; check_against_shap supports single-output models."
        )

    def diff(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.abs(a - b).max()) if a.size else 0.0

    result = ShapCheck(
        rows=int(pred_contrib.shape[0]),
        shap_vs_pred_contrib=diff(from_shap, pred_contrib),
        tree_shap_vs_pred_contrib=diff(ours, pred_contrib),
        tree_shap_vs_shap=diff(ours, from_shap),
        atol=atol,
    )
    if raise_on_mismatch and not result.ok:
        raise ValueError(f"SHAP values disagree by more than {atol:g}: {result}")
    return result
