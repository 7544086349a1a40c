"""The MLflow pyfunc that serves a riskml model, and logging it.

The pyfunc instance holds no state of its own: everything it needs is in plain-text artifacts
(see :mod:`riskml.tracking._riskmodel`) that ``load_context`` reads. It is logged as "model from
code" (``_pyfunc_entry.py``), so nothing is pickled; ``riskml`` must be installed where the model
is loaded (it is listed with its dependencies in the model's requirements).
"""

from __future__ import annotations

import importlib.metadata
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import mlflow.pyfunc
import pandas as pd

from riskml.tracking._riskmodel import OUTPUT_COLUMNS, RiskModel, coerce_frame

__all__ = ["RiskPyfunc", "build_signature", "log_risk_pyfunc", "pip_requirements"]

_ENTRY = Path(__file__).with_name("_pyfunc_entry.py")
_CORE_REQUIREMENTS = (
    "mlflow",
    "lightgbm",
    "numpy",
    "pandas",
    "scikit-learn",
    "scipy",
    "pyyaml",
    "pydantic",
)
"""What loading and scoring a riskml pyfunc needs when riskml's own metadata is unavailable."""


class RiskPyfunc(mlflow.pyfunc.PythonModel):
    """``predict(features) -> DataFrame(score, raw_score)`` for a registered riskml model.

    MLflow has already checked the input against the signature (missing columns and strings in
    ``double`` columns are refused) when ``predict`` runs. Categorical features arrive as
    strings; pass them as ``object``/``string`` columns (MLflow refuses pandas ``category``
    columns for a ``string`` signature type), or use :class:`RiskModel` directly.
    """

    def load_context(self, context: Any) -> None:
        self._risk_model = RiskModel.from_artifacts(context.artifacts)

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict | None = None
    ) -> pd.DataFrame:
        rm = self._risk_model
        X = coerce_frame(model_input, rm.input_schema, rm.categories)
        raw = rm.model.predict_raw(X)
        score = rm.model.calibrate(raw)
        return pd.DataFrame({"score": score, "raw_score": raw}, index=model_input.index)


def build_signature(input_schema: Mapping[str, str]) -> Any:
    """MLflow signature: the features (``double``/``string``, all required) → score, raw_score."""
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    inputs = Schema([ColSpec(kind, name) for name, kind in input_schema.items()])
    outputs = Schema([ColSpec("double", name) for name in OUTPUT_COLUMNS])
    return ModelSignature(inputs=inputs, outputs=outputs)


def pip_requirements() -> list[str]:
    """riskml's runtime dependencies, pinned to the installed versions.

    The pyfunc imports ``riskml`` (not on PyPI): install riskml itself where the model is
    served; these pins make the rest of the environment reproducible.
    """
    try:
        declared = importlib.metadata.requires("riskml") or []
    except importlib.metadata.PackageNotFoundError:  # running from a source tree, not installed
        declared = list(_CORE_REQUIREMENTS)
    reqs: list[str] = []
    for req in declared:
        if "extra ==" in req:
            continue
        name = re.split(r"[\s<>=!~;\[]", req, maxsplit=1)[0]
        try:
            reqs.append(f"{name}=={importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            reqs.append(req.split(";")[0].strip())
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


def log_risk_pyfunc(
    *,
    artifacts: Mapping[str, str],
    input_schema: Mapping[str, str],
    example: pd.DataFrame | None,
    name: str = "model",
    registered_model_name: str | None = None,
) -> Any:
    """Log the pyfunc into the active run; return MLflow's ``ModelInfo``."""
    return mlflow.pyfunc.log_model(
        name=name,
        python_model=str(_ENTRY),
        artifacts=dict(artifacts),
        signature=build_signature(input_schema),
        input_example=example,
        pip_requirements=pip_requirements(),
        registered_model_name=registered_model_name,
    )
