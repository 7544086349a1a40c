"""Everything MLflow: runs, the pyfunc model bundle, registry aliases, model cards.

The only package that imports ``mlflow``, and only inside functions; so are its imports of
``riskml.models``, ``riskml.features`` and ``riskml.data`` (seconds of import time between them):
``import riskml.tracking`` stays cheap.

- :func:`resolve_tracking` / :func:`open_store` — which store (``--tracking-uri`` >
  ``MLFLOW_TRACKING_URI`` > ``models/mlflow.db``), checked and prepared once.
- :func:`train_and_register` — training set → backtest → final model → MLflow run (config,
  catalog version, data fingerprint, per-fold metrics, plots, model card) → registered version
  with alias ``challenger`` (and ``champion`` when there is none).
- :func:`load_risk_model` → :class:`RiskModel` (``models:/NAME@champion``, ``models:/NAME/3``,
  ``runs:/…``, or a local model folder).
- :func:`evaluate` / :func:`evaluate_frozen` — frozen models vs baselines on the same rows.
- :func:`promote` — ``champion`` moves only when the challenger beats it on the same backtest.
- :func:`tune` — optuna search of the model parameters over the backtest folds, one nested MLflow
  run per trial; the best written as a training config.
"""

from riskml.tracking._card import build_model_card, render_model_card
from riskml.tracking._evaluate import EvaluationResult, evaluate, evaluate_frozen
from riskml.tracking._load import ModelNotFoundError, load_risk_model, resolve_model_uri
from riskml.tracking._pipeline import as_of_dates_for, load_inputs
from riskml.tracking._promote import DEFAULT_MIN_IMPROVEMENT, PromotionDecision, promote
from riskml.tracking._registry import CHALLENGER, CHAMPION, compare_metrics, register_version
from riskml.tracking._riskmodel import RiskModel, SchemaMismatchError
from riskml.tracking._runlog import pseudonymise
from riskml.tracking._store import (
    DEFAULT_EXPERIMENT,
    TrackingError,
    TrackingStore,
    default_models_dir,
    open_store,
    resolve_tracking,
    user_error_types,
)
from riskml.tracking._train import (
    DEFAULT_MODEL_NAME,
    PRIMARY_METRICS,
    TrainResult,
    feature_set_bundle,
    log_risk_model,
    train_and_register,
)
from riskml.tracking._tune import OBJECTIVE, TuneResult, tune

__all__ = [
    "CHALLENGER",
    "CHAMPION",
    "DEFAULT_EXPERIMENT",
    "DEFAULT_MIN_IMPROVEMENT",
    "DEFAULT_MODEL_NAME",
    "OBJECTIVE",
    "PRIMARY_METRICS",
    "EvaluationResult",
    "ModelNotFoundError",
    "PromotionDecision",
    "RiskModel",
    "SchemaMismatchError",
    "TrackingError",
    "TrackingStore",
    "TrainResult",
    "TuneResult",
    "as_of_dates_for",
    "build_model_card",
    "compare_metrics",
    "default_models_dir",
    "evaluate",
    "evaluate_frozen",
    "feature_set_bundle",
    "load_inputs",
    "load_risk_model",
    "log_risk_model",
    "open_store",
    "promote",
    "pseudonymise",
    "register_version",
    "render_model_card",
    "resolve_model_uri",
    "resolve_tracking",
    "train_and_register",
    "tune",
    "user_error_types",
]
