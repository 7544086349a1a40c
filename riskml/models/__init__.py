"""The recurrence-risk estimator, calibration, temporal backtests, baselines, metrics, fairness.

Public API (see ``docs/architecture.md``):

- :class:`RecurrenceRiskModel` — scikit-learn classifier wrapping LightGBM, fitted on every
  row with its tree count and strictly monotone calibrator cross-fitted over time;
  ``to_dict()`` / ``from_dict()`` without pickle.
- :func:`backtest` -> :class:`BacktestResult` — rolling-origin backtest of the model against
  the department rules, persistence, a logistic scorecard and (with ground truth) the oracle.
- :func:`fit_final_model`, :func:`model_from_config`, :func:`temporal_folds`.
- Metrics: :func:`roc_auc`, :func:`pr_auc`, :func:`brier`, :func:`expected_calibration_error`,
  :func:`recall_precision_at_capacity`, :func:`select_at_capacity`, :func:`lift`.
- :class:`ReferenceDistribution` — frozen bins for PSI drift checks;
  :class:`SeasonalReference` — one per season, aging features compared after the elapsed time.
- Baselines: :class:`RuleBaseline`, :class:`ScorecardBaseline`.
"""

from riskml.models._backtest import (
    METHODS,
    BacktestResult,
    Fold,
    TrainingSetLike,
    backtest,
    fit_final_model,
    model_from_config,
    temporal_folds,
)
from riskml.models._baselines import RuleBaseline, ScorecardBaseline
from riskml.models._calibration import (
    CANDIDATES,
    BetaCalibrator,
    CalibratorChoice,
    IdentityCalibrator,
    IsotonicCalibrator,
    SigmoidCalibrator,
    SplineIsotonicCalibrator,
    calibrator_from_dict,
    choose_calibrator,
    fit_calibrator,
)
from riskml.models._drift import LOCAL_ALPHA, PSI_WARN, ReferenceDistribution, SeasonalReference
from riskml.models._estimator import ProtectedAttributeError, RecurrenceRiskModel, TimeOrderWarning
from riskml.models._fairness import fairness_gaps, fairness_table
from riskml.models._metrics import (
    METRIC_ORDER,
    SUMMARY_METRICS,
    CapacityResult,
    brier,
    expected_calibration_error,
    largest_tie_share,
    lift,
    pr_auc,
    recall_precision_at_capacity,
    roc_auc,
    select_at_capacity,
    top_decile_calibration,
    wilson_interval,
)
from riskml.models._risktypes import (
    calibration_by_signal,
    label_risk_types,
    recall_by_risk_type,
)

__all__ = [
    "CANDIDATES",
    "LOCAL_ALPHA",
    "METHODS",
    "METRIC_ORDER",
    "PSI_WARN",
    "SUMMARY_METRICS",
    "BacktestResult",
    "BetaCalibrator",
    "CalibratorChoice",
    "CapacityResult",
    "Fold",
    "IdentityCalibrator",
    "IsotonicCalibrator",
    "ProtectedAttributeError",
    "RecurrenceRiskModel",
    "ReferenceDistribution",
    "RuleBaseline",
    "ScorecardBaseline",
    "SeasonalReference",
    "SigmoidCalibrator",
    "SplineIsotonicCalibrator",
    "TimeOrderWarning",
    "TrainingSetLike",
    "backtest",
    "brier",
    "calibration_by_signal",
    "calibrator_from_dict",
    "choose_calibrator",
    "expected_calibration_error",
    "fairness_gaps",
    "fairness_table",
    "fit_calibrator",
    "fit_final_model",
    "label_risk_types",
    "largest_tie_share",
    "lift",
    "model_from_config",
    "pr_auc",
    "recall_by_risk_type",
    "recall_precision_at_capacity",
    "roc_auc",
    "select_at_capacity",
    "temporal_folds",
    "top_decile_calibration",
    "wilson_interval",
]
