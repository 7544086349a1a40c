"""The bundle a registered model consists of, and :class:`RiskModel`, the loaded form of it.

A riskml model version is an MLflow pyfunc whose state lives in four plain-text artifacts (no
pickled Python objects):

``model.json``
    ``RecurrenceRiskModel.to_dict()``: the LightGBM booster as model text, the calibrator's
    arrays and the categories of categorical features.
``feature_set.yaml``
    The catalog entries of the model's feature set, with the catalog version, so the model can
    be scored with the definitions it was trained on.
``reference.json``
    The training reference distribution (frozen PSI bins) for drift monitoring.
``metadata.json``
    Feature set, horizon, label definition, training as-of range, data fingerprint.

The input signature lists every feature with its type: numeric features as ``double`` (an int
that can be missing must be double), categorical ones as ``string``.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

__all__ = [
    "ARTIFACT_FILES",
    "RiskModel",
    "SchemaMismatchError",
    "feature_set_definition",
    "input_schema_from_frame",
    "write_model_artifacts",
]

ARTIFACT_FILES = {
    "model": "model.json",
    "feature_set": "feature_set.yaml",
    "reference": "reference.json",
    "metadata": "metadata.json",
}
"""Artifact key → file name inside the pyfunc bundle."""

OUTPUT_COLUMNS = ("score", "raw_score")
"""Columns the pyfunc returns: calibrated probability and raw log-odds."""


class SchemaMismatchError(ValueError):
    """A feature frame does not match a model's input signature."""


# ---------------------------------------------------------------------------------------------
# signature


def _is_categorical(series: pd.Series) -> bool:
    return (
        isinstance(series.dtype, pd.CategoricalDtype)
        or pd.api.types.is_string_dtype(series.dtype)
        or series.dtype == object
    )


def input_schema_from_frame(X: pd.DataFrame, feature_names: Sequence[str]) -> dict[str, str]:
    """Column → MLflow type (``double`` or ``string``) for the model's features, in order.

    Every numeric or boolean feature is declared ``double``: integers and flags can be missing
    (NaN) in a roster, and MLflow refuses NaN in an integer column.
    """
    missing = [n for n in feature_names if n not in X.columns]
    if missing:
        raise SchemaMismatchError(f"The training frame lacks feature columns {missing}.")
    schema: dict[str, str] = {}
    for name in feature_names:
        col = X[name]
        if pd.api.types.is_bool_dtype(col.dtype) or pd.api.types.is_numeric_dtype(col.dtype):
            schema[name] = "double"
        elif _is_categorical(col):
            schema[name] = "string"
        else:
            raise SchemaMismatchError(
                f"Feature column {name!r} has dtype {col.dtype}, which a model signature cannot "
                "declare. Features must be numeric (float64) or categorical."
            )
    return schema


def check_frame(X: pd.DataFrame, schema: Mapping[str, str], *, where: str) -> None:
    """Refuse a frame whose columns or types do not match ``schema`` (extra columns are fine)."""
    if not isinstance(X, pd.DataFrame):
        raise SchemaMismatchError(
            f"{where} expects a pandas DataFrame of features, got {type(X).__name__}."
        )
    missing = [c for c in schema if c not in X.columns]
    mistyped: list[str] = []
    for name, kind in schema.items():
        if name not in X.columns:
            continue
        col = X[name]
        if kind == "double":
            if pd.api.types.is_bool_dtype(col.dtype) or pd.api.types.is_numeric_dtype(col.dtype):
                continue
            if col.dtype == object:
                converted = pd.to_numeric(col, errors="coerce")
                bad = col[converted.isna() & col.notna()]
                if bad.empty:
                    continue
                mistyped.append(
                    f"{name} (expected double, got non-numeric values such as {bad.iloc[0]!r})"
                )
            else:
                mistyped.append(f"{name} (expected double, got {col.dtype})")
        elif not _is_categorical(col) and not col.isna().all():
            mistyped.append(f"{name} (expected string/categorical, got {col.dtype})")
    if missing or mistyped:
        parts = []
        if missing:
            parts.append(f"missing columns: {', '.join(missing)}")
        if mistyped:
            parts.append(f"mistyped columns: {'; '.join(mistyped)}")
        raise SchemaMismatchError(
            f"The feature frame does not match the input signature of {where}: "
            + " | ".join(parts)
            + ". Compute the features with the model's own feature set "
            "(riskml.features.compute_features(bundle, pairs, model.feature_set))."
        )


def coerce_frame(
    X: pd.DataFrame, schema: Mapping[str, str], categories: Mapping[str, Sequence[Any]]
) -> pd.DataFrame:
    """The model's feature columns in signature order, typed as at training time.

    Numbers become float64 (pandas NA → NaN); categorical columns become ``category`` with the
    training levels. As in ``RecurrenceRiskModel``, a level unseen at training is scored as
    missing (LightGBM's missing branch), not refused; drift checks count such levels.
    """
    out: dict[str, Any] = {}
    for name, kind in schema.items():
        col = X[name]
        if kind == "double":
            out[name] = pd.to_numeric(col, errors="coerce").astype("float64").to_numpy()
            continue
        values = col.astype("object").where(col.notna(), None)
        cats = categories.get(name)
        out[name] = (
            pd.Categorical(values, categories=list(cats))
            if cats is not None
            else pd.Categorical(values)
        )
    return pd.DataFrame(out, index=X.index)


# ---------------------------------------------------------------------------------------------
# feature set definitions


def _as_plain(obj: Any) -> Any:
    if hasattr(obj, "model_dump"):
        return obj.model_dump(mode="json")
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _as_plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping):
        return {str(k): _as_plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_as_plain(v) for v in obj]
    if hasattr(obj, "item") and not isinstance(obj, str | bytes):
        return obj.item()
    return obj


def feature_set_definition(
    feature_set: Any, *, catalog_version: str | None = None
) -> dict[str, Any]:
    """A feature set as plain data: name, version, catalog version and its catalog entries."""
    features = [_as_plain(f) for f in feature_set.features]
    return {
        "name": getattr(feature_set, "name", None),
        "version": getattr(feature_set, "version", None),
        "catalog_version": catalog_version or getattr(feature_set, "catalog_version", None),
        "features": features,
    }


def _rebuild_catalog(definition: Mapping[str, Any]) -> tuple[Any, Any]:
    """``(FeatureSet, Catalog)`` rebuilt from a bundled definition.

    The catalog holds only the set's features and their helpers, with the catalog settings the
    model was trained with, so ``compute_features(bundle, pairs, model.feature_set,
    catalog=model.catalog)`` computes exactly the training-time definitions.
    """
    from riskml.features import Catalog, Feature, FeatureSet
    from riskml.features._catalog import CatalogSettings, VillageContextSettings

    own = tuple(Feature.model_validate(f) for f in definition["features"])
    helpers = {f["name"]: Feature.model_validate(f) for f in definition.get("helpers", [])}
    by_name = {f.name: f for f in own} | helpers
    order = list(definition.get("required_order") or by_name)
    required = tuple(by_name[n] for n in order)
    fs = FeatureSet(
        name=definition["name"],
        description=definition.get("description", ""),
        features=own,
        required=required,
        version=definition["version"],
        facts=tuple(f for f in helpers.values() if f.fact),
    )
    catalog = Catalog(
        declared_version=definition.get("catalog_declared_version", ""),
        content_hash=definition.get("catalog_content_hash", ""),
        features=dict(by_name),
        feature_sets={fs.name: fs},
        settings=CatalogSettings.model_validate(definition.get("catalog_settings", {})),
        village=VillageContextSettings.model_validate(definition.get("village_context", {})),
        path=Path(f"<model bundle: feature set {fs.name} {fs.version}>"),
        _order=tuple(order),
    )
    return fs, catalog


# ---------------------------------------------------------------------------------------------
# the model object


def _import_model_class(path: str) -> type:
    module_name, _, qualname = path.partition(":")
    if not module_name.startswith("riskml.") or not qualname:
        raise ValueError(
            f"The model bundle names model class {path!r}; riskml only loads its own classes "
            "(riskml.models:RecurrenceRiskModel)."
        )
    obj: Any = importlib.import_module(module_name)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def _class_path(obj: Any) -> str:
    """``package:Name`` of ``obj``'s class, preferring the public package that re-exports it."""
    cls = type(obj)
    package = cls.__module__.rsplit("._", 1)[0]
    try:
        if getattr(importlib.import_module(package), cls.__qualname__, None) is cls:
            return f"{package}:{cls.__qualname__}"
    except ImportError:
        pass
    return f"{cls.__module__}:{cls.__qualname__}"


def _json_default(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"Cannot write {type(value).__name__} to a model artifact as JSON.")


def write_model_artifacts(
    out_dir: Path,
    *,
    model: Any,
    feature_set: Mapping[str, Any],
    reference: Any,
    metadata: Mapping[str, Any],
) -> dict[str, str]:
    """Write the four artifact files into ``out_dir``; return artifact key → path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    meta = {**dict(metadata), "model_class": metadata.get("model_class") or _class_path(model)}
    if not isinstance(reference, Mapping) and "reference_class" not in meta:
        meta["reference_class"] = _class_path(reference)
    ref = reference.to_dict() if hasattr(reference, "to_dict") else reference
    contents = {
        "model": json.dumps(model.to_dict(), default=_json_default),
        "feature_set": yaml.safe_dump(dict(feature_set), allow_unicode=True, sort_keys=False),
        "reference": json.dumps(ref, default=_json_default, ensure_ascii=False),
        "metadata": json.dumps(meta, default=_json_default, ensure_ascii=False, indent=2),
    }
    paths: dict[str, str] = {}
    for key, text in contents.items():
        path = out_dir / ARTIFACT_FILES[key]
        path.write_text(text, encoding="utf-8")
        paths[key] = str(path)
    return paths


class RiskModel:
    """A registered riskml model, loaded: score feature frames and read what it was trained on.

    Obtain one with :func:`riskml.tracking.load_risk_model`. ``predict_proba``, ``raw_score``
    and the pyfunc's ``predict`` all check the input against the signature first, so a frame
    computed with another feature set is refused with the missing or mistyped columns named.

    Attributes
    ----------
    model
        The underlying ``riskml.models.RecurrenceRiskModel``.
    feature_set
        The feature set the model was trained on, rebuilt from the bundled catalog entries;
        pass it to ``riskml.features.compute_features``.
    feature_set_definition
        The same as plain data (name, version, catalog version, entries).
    reference
        ``riskml.models.ReferenceDistribution`` of the training features (drift/PSI).
    metadata
        Name, version, alias, run id, model URI, feature set name and version, horizon,
        training as-of range, data fingerprint, label definition.
    input_schema
        Feature column → ``"double"`` or ``"string"``, in model order.
    """

    def __init__(
        self,
        *,
        model: Any,
        feature_set_definition: Mapping[str, Any],
        reference: Any,
        metadata: Mapping[str, Any],
        input_schema: Mapping[str, str],
    ) -> None:
        self.model = model
        self.feature_set_definition = dict(feature_set_definition)
        self.reference = reference
        self.metadata = dict(metadata)
        self.input_schema = dict(input_schema)
        self._feature_set: Any = None
        self._catalog: Any = None

    # -- loading ------------------------------------------------------------------------------
    @classmethod
    def from_artifacts(
        cls,
        paths: Mapping[str, str | Path],
        *,
        input_schema: Mapping[str, str] | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> RiskModel:
        """Build from the artifact files (as written by :func:`write_model_artifacts`)."""
        texts = {k: Path(paths[k]).read_text(encoding="utf-8") for k in ARTIFACT_FILES}
        meta = json.loads(texts["metadata"])
        model_cls = _import_model_class(meta["model_class"])
        model = model_cls.from_dict(json.loads(texts["model"]))
        definition = yaml.safe_load(texts["feature_set"])
        ref_data = json.loads(texts["reference"])
        reference: Any = ref_data
        if meta.get("reference_class"):
            reference = _import_model_class(meta["reference_class"]).from_dict(ref_data)
        if input_schema is None:
            input_schema = meta.get("input_schema")
        if not input_schema:
            raise ValueError("The model bundle has no input schema (metadata.json 'input_schema').")
        return cls(
            model=model,
            feature_set_definition=definition,
            reference=reference,
            metadata={**meta, **dict(metadata or {})},
            input_schema=input_schema,
        )

    # -- what it is ---------------------------------------------------------------------------
    @property
    def booster(self) -> Any:
        """The ``lightgbm.Booster``."""
        return self.model.booster_

    @property
    def feature_names(self) -> list[str]:
        return list(self.input_schema)

    @property
    def feature_set(self) -> Any:
        """``riskml.features.FeatureSet`` the model was trained on (from the bundle)."""
        if self._feature_set is None:
            self._feature_set, self._catalog = _rebuild_catalog(self.feature_set_definition)
        return self._feature_set

    @property
    def catalog(self) -> Any:
        """A ``riskml.features.Catalog`` holding just this model's features and settings."""
        if self._catalog is None:
            self._feature_set, self._catalog = _rebuild_catalog(self.feature_set_definition)
        return self._catalog

    @property
    def categories(self) -> dict[str, list[Any]]:
        cats = getattr(self.model, "categories_", None) or {}
        return {k: list(v) for k, v in dict(cats).items()}

    @property
    def uri(self) -> str | None:
        return self.metadata.get("model_uri")

    def _where(self) -> str:
        return f"model {self.uri}" if self.uri else "the model"

    def __repr__(self) -> str:
        m = self.metadata
        return (
            f"RiskModel(name={m.get('name')!r}, version={m.get('version')!r}, "
            f"feature_set={m.get('feature_set')!r}, n_features={len(self.input_schema)})"
        )

    # -- scoring ------------------------------------------------------------------------------
    def check_input(self, X: pd.DataFrame) -> None:
        """Raise :class:`SchemaMismatchError` listing missing and mistyped feature columns."""
        check_frame(X, self.input_schema, where=self._where())

    def prepare(self, X: pd.DataFrame) -> pd.DataFrame:
        """Check ``X`` and return the feature columns in model order with training dtypes."""
        self.check_input(X)
        return coerce_frame(X, self.input_schema, self.categories)

    def encode(self, X: pd.DataFrame) -> np.ndarray:
        """The float matrix :attr:`booster` takes (categories as codes), e.g. for TreeSHAP."""
        return self.model.encode(self.prepare(X))

    def raw_score(self, X: pd.DataFrame) -> np.ndarray:
        """Uncalibrated log-odds, shape ``(n,)``."""
        return np.asarray(self.model.predict_raw(self.prepare(X)), dtype=float)

    def calibrate(self, raw: np.ndarray) -> np.ndarray:
        """Map log-odds to calibrated probabilities."""
        return np.asarray(self.model.calibrate(np.asarray(raw, dtype=float)), dtype=float)

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Calibrated probabilities as the underlying model returns them (``(n, 2)``)."""
        return self.model.predict_proba(self.prepare(X))

    def score(self, X: pd.DataFrame) -> pd.DataFrame:
        """``score`` (calibrated probability) and ``raw_score`` (log-odds), one row per input row.

        This is exactly what the MLflow pyfunc's ``predict`` returns.
        """
        raw = self.raw_score(X)
        return pd.DataFrame({"score": self.calibrate(raw), "raw_score": raw}, index=X.index)
