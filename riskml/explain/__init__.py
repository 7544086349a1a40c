"""SHAP to reasons: fast exact TreeSHAP, grouping by risk type, templates, privacy modes,
suggested measures.

* :func:`tree_shap` — exact path-dependent TreeSHAP of a LightGBM booster, identical to
  ``booster.predict(X, pred_contrib=True)``, computed once per distinct decision pattern per tree
  (:class:`TreeShapExplainer` keeps the pattern tables across calls). :func:`make_explainer`
  picks it or the ``pred_contrib`` fallback (:class:`PredContribExplainer`, config
  ``explain.method`` of ``configs/scoring.yaml``, CLI ``riskml score --shap-method``).
* :func:`reason_codes` — up to four reasons per household: facts about the household (the
  catalog's statements, stated only when their condition holds), SHAP summed by the official
  risk type the fact evidences, in internal and public registers; village context apart;
  measures weighted and net of assistance in place. :func:`reconcile` checks they add up.
* :func:`risk_type_coverage` — which official risk types a model's reasons can and cannot state.
* :func:`global_importance` — mean |SHAP| per feature and per risk type.
* :func:`check_against_shap` — cross-check with ``shap.TreeExplainer`` and ``pred_contrib``.
"""

from riskml.explain._check import ShapCheck, check_against_shap
from riskml.explain._reasons import (
    GlobalImportance,
    ReasonFeature,
    RiskTypeCoverage,
    global_importance,
    reason_codes,
    reason_columns,
    reconcile,
    risk_type_coverage,
)
from riskml.explain._treeshap import (
    SHAP_METHODS,
    PredContribExplainer,
    TreeShapExplainer,
    TreeShapStats,
    make_explainer,
    tree_shap,
)
from riskml.explain._wording import wording_problems

__all__ = [
    "SHAP_METHODS",
    "GlobalImportance",
    "PredContribExplainer",
    "ReasonFeature",
    "RiskTypeCoverage",
    "ShapCheck",
    "TreeShapExplainer",
    "TreeShapStats",
    "check_against_shap",
    "global_importance",
    "make_explainer",
    "reason_codes",
    "reason_columns",
    "reconcile",
    "risk_type_coverage",
    "tree_shap",
    "wording_problems",
]
