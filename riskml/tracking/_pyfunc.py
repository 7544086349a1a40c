"""The MLflow pyfunc that serves a riskml model, and logging it.

The pyfunc instance holds no state of its own: everything it needs is in plain-text artifacts
(see :mod:`riskml.tracking._riskmodel`) that ``load_context`` reads. It is logged as "model from
code" (``_pyfunc_entry.py``), so nothing is pickled. riskml's own source is shipped with the
model (``code_paths``; MLflow puts it on ``sys.path`` when the model is loaded), and the model's
requirements pin what loading and predicting need: the model loads and predicts in a fresh
environment built only from its ``requirements.txt``, where riskml is not installed.

Input checking is riskml's own, not MLflow's signature enforcement: the signature lists every
feature (a missing column is refused by MLflow), with type ``Any``, and :meth:`RiskPyfunc.predict`
checks presence and types and raises a short message naming the columns. MLflow's enforcement would
refuse ``riskml.features.compute_features`` output as it comes (pandas ``category`` columns,
integer counts), and its messages start with a print of the data. The columns are declared
optional to MLflow for the same reason: riskml's own check refuses a missing one. The declared types are in
the MLmodel's ``metadata["riskml_input_types"]``.
"""

from __future__ import annotations

import importlib.metadata
import shutil
import tempfile
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import mlflow.pyfunc
import pandas as pd

from riskml.tracking._riskmodel import OUTPUT_COLUMNS, RiskModel, SchemaMismatchError

__all__ = [
    "RiskPyfunc",
    "UnseenCategoryWarning",
    "build_signature",
    "log_risk_pyfunc",
    "pip_requirements",
]

_ENTRY = Path(__file__).with_name("_pyfunc_entry.py")
_PACKAGE = Path(__file__).resolve().parents[1]  # the riskml package folder, shipped as code
_CORE_REQUIREMENTS = (
    "mlflow",
    "lightgbm",
    "numpy",
    "pandas",
    "pyarrow",
    "scikit-learn",
    "scipy",
    "pyyaml",
    "pydantic",
)
"""What loading and scoring a riskml pyfunc needs (riskml itself is shipped as code)."""


class UnseenCategoryWarning(UserWarning):
    """A categorical feature holds values the model never saw in training."""


class RiskPyfunc(mlflow.pyfunc.PythonModel):
    """``predict(features) -> DataFrame(score, raw_score)`` for a registered riskml model.

    Takes ``riskml.features.compute_features`` output as it comes: ``category`` or text
    columns for categorical features, integer, nullable integer or float columns for numeric
    ones. A missing or mistyped column is an :class:`~mlflow.exceptions.MlflowException` whose
    message names the columns first. A categorical value the model never saw is scored as
    missing, as the model itself does, with an :class:`UnseenCategoryWarning` naming the column.
    """

    def load_context(self, context: Any) -> None:
        self._risk_model = RiskModel.from_artifacts(context.artifacts)

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict | None = None
    ) -> pd.DataFrame:
        rm = self._risk_model
        if not isinstance(model_input, pd.DataFrame):
            model_input = pd.DataFrame(model_input)
        try:
            X = rm.prepare(model_input)
        except SchemaMismatchError as exc:
            from mlflow.exceptions import MlflowException
            from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE

            raise MlflowException(
                f"riskml model input does not match the model: {exc}",
                error_code=INVALID_PARAMETER_VALUE,
            ) from None
        warn_unseen_categories(model_input, rm.categories)
        raw = rm.model.predict_raw(X)
        score = rm.model.calibrate(raw)
        return pd.DataFrame({"score": score, "raw_score": raw}, index=model_input.index)


def warn_unseen_categories(X: pd.DataFrame, categories: Mapping[str, Any]) -> dict[str, int]:
    """Warn (:class:`UnseenCategoryWarning`) for each categorical column of ``X`` holding
    values outside the model's training categories; return column -> rows affected."""
    found: dict[str, int] = {}
    for name, levels in categories.items():
        if name not in X.columns:
            continue
        values = X[name].astype("object")
        present = values.notna().to_numpy()
        known = values.isin(list(levels)).to_numpy()
        unseen = present & ~known
        if not unseen.any():
            continue
        found[name] = int(unseen.sum())
        examples = sorted({str(v) for v in values[unseen].head(1000)})[:5]
        warnings.warn(
            f"{found[name]} row(s) of '{name}' hold categories the model never saw "
            f"({', '.join(examples)}); they are scored as missing. Known: "
            f"{', '.join(map(str, levels))}.",
            UnseenCategoryWarning,
            stacklevel=3,
        )
    return found


def build_signature(input_schema: Mapping[str, str]) -> Any:
    """MLflow signature: the features (type ``Any``, not required by MLflow: riskml checks
    presence and types itself, see the module docstring) → score, raw_score."""
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema
    from mlflow.types.schema import AnyType

    # optional for MLflow: a missing column is then refused by riskml's check, whose message
    # names it first (MLflow's starts with a print of the whole frame)
    inputs = Schema([ColSpec(AnyType(), name, required=False) for name in input_schema])
    outputs = Schema([ColSpec("double", name) for name in OUTPUT_COLUMNS])
    return ModelSignature(inputs=inputs, outputs=outputs)


def pip_requirements() -> list[str]:
    """What loading and predicting need, pinned to the installed versions.

    riskml itself is not a requirement: its source is shipped with the model (``code_paths``).
    """
    reqs: list[str] = []
    for name in _CORE_REQUIREMENTS:
        try:
            reqs.append(f"{name}=={importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            reqs.append(name)
    return reqs


def input_example(
    risk_model: RiskModel, reference_frame: pd.DataFrame | None
) -> pd.DataFrame | None:
    """A one-row, non-personal input example: per-feature medians / most frequent categories."""
    if reference_frame is None or len(reference_frame) == 0:
        return None
    row: dict[str, list[Any]] = {}
    for name, kind in risk_model.input_schema.items():
        col = reference_frame[name]
        if kind == "double":
            value = pd.to_numeric(col, errors="coerce").median()
            row[name] = [float(value) if pd.notna(value) else 0.0]
        else:
            mode = col.dropna().astype(str).mode()
            row[name] = [str(mode.iloc[0]) if len(mode) else None]
    return pd.DataFrame(row)


def _package_copy(dest: Path) -> Path:
    """riskml's source (``.py`` and package data, no caches) copied under ``dest``."""
    target = dest / "riskml"
    shutil.copytree(
        _PACKAGE, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo")
    )
    return target


def log_risk_pyfunc(
    *,
    artifacts: Mapping[str, str],
    input_schema: Mapping[str, str],
    example: pd.DataFrame | None,
    name: str = "model",
    registered_model_name: str | None = None,
) -> Any:
    """Log the pyfunc into the active run, with riskml's source; return MLflow's ``ModelInfo``."""
    with tempfile.TemporaryDirectory(prefix="riskml-code-") as tmp:
        return mlflow.pyfunc.log_model(
            name=name,
            python_model=str(_ENTRY),
            artifacts=dict(artifacts),
            code_paths=[str(_package_copy(Path(tmp)))],
            signature=build_signature(input_schema),
            input_example=example,
            pip_requirements=pip_requirements(),
            registered_model_name=registered_model_name,
            metadata={"riskml_input_types": dict(input_schema)},
        )
