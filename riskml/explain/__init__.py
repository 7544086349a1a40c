"""SHAP to reasons: fast exact TreeSHAP, grouping by risk type, templates, privacy modes,
suggested measures.

* :func:`tree_shap` — exact path-dependent TreeSHAP of a LightGBM booster, identical to
  ``booster.predict(X, pred_contrib=True)``, computed once per distinct decision pattern per tree
  (:class:`TreeShapExplainer` keeps the pattern tables across calls).
* :func:`reason_codes` — up to four reasons per household, SHAP summed by the catalog's risk
  type, internal texts from the catalog's templates or public wording from
  ``configs/explain.yaml``; :func:`reconcile` checks they add up to the score.
* :func:`global_importance` — mean |SHAP| per feature and per risk type.
* :func:`check_against_shap` — cross-check with ``shap.TreeExplainer`` and ``pred_contrib``.
"""

from riskml.explain._check import ShapCheck, check_against_shap
from riskml.explain._reasons import (
    GlobalImportance,
    ReasonFeature,
    global_importance,
    reason_codes,
    reason_columns,
    reconcile,
)
from riskml.explain._treeshap import TreeShapExplainer, TreeShapStats, tree_shap

__all__ = [
    "GlobalImportance",
    "ReasonFeature",
    "ShapCheck",
    "TreeShapExplainer",
    "TreeShapStats",
    "check_against_shap",
    "global_importance",
    "reason_codes",
    "reason_columns",
    "reconcile",
    "tree_shap",
]
