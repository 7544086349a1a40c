"""Loading a registered model: ``load_risk_model(uri) -> RiskModel``."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from riskml.tracking._riskmodel import ARTIFACT_FILES, RiskModel
from riskml.tracking._store import TrackingError, TrackingStore, open_store

if TYPE_CHECKING:  # pragma: no cover
    from mlflow import MlflowClient

__all__ = [
    "ModelNotFoundError",
    "load_risk_model",
    "registered_models_summary",
    "resolve_model_uri",
]

_MODELS_ALIAS = re.compile(r"^models:/(?P<name>[^/@]+)@(?P<alias>[^/]+)$")
_MODELS_VERSION = re.compile(r"^models:/(?P<name>[^/@]+)/(?P<version>\d+)$")
_MODELS_ID = re.compile(r"^models:/(?P<model_id>m-[0-9a-f]+)$")
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:/")
_RUNS = re.compile(r"^runs:/(?P<run_id>[0-9a-f]+)/(?P<path>.+)$")


class ModelNotFoundError(TrackingError, LookupError):
    """A model URI that names nothing in the store."""


@dataclass(frozen=True)
class ResolvedModel:
    """What a model URI points at in the store."""

    uri: str
    name: str | None = None
    version: str | None = None
    alias: str | None = None
    run_id: str | None = None
    aliases: tuple[str, ...] = ()


def registered_models_summary(client: MlflowClient, *, limit: int = 20) -> str:
    """One line listing registered models with their aliases (for error messages)."""
    try:
        models = client.search_registered_models(max_results=limit)
    except Exception as exc:  # the listing is a courtesy; never hide the real error behind it
        return f"(could not list registered models: {exc})"
    if not models:
        return "No models are registered in this store yet (run `riskml train`)."
    parts = []
    for rm in models:
        aliases = ", ".join(f"@{a}→v{v}" for a, v in sorted(rm.aliases.items())) or "no aliases"
        parts.append(f"{rm.name} ({aliases})")
    return "Registered models: " + "; ".join(parts) + "."


def _not_found(
    uri: str, store: TrackingStore, client: MlflowClient, what: str
) -> ModelNotFoundError:
    return ModelNotFoundError(
        f"Model {uri} does not exist in the tracking store {store.display_uri}: {what}. "
        + registered_models_summary(client)
    )


def resolve_model_uri(uri: str, store: TrackingStore) -> ResolvedModel:
    """Look ``uri`` up in the registry; raise :class:`ModelNotFoundError` with what exists."""
    from mlflow.exceptions import MlflowException

    client = store.client
    with store.active():
        if m := _MODELS_ALIAS.match(uri):
            name, alias = m["name"], m["alias"]
            try:
                client.get_registered_model(name)
            except MlflowException as exc:
                raise _not_found(uri, store, client, f"no registered model named {name!r}") from exc
            try:
                mv = client.get_model_version_by_alias(name, alias)
            except MlflowException as exc:
                raise _not_found(
                    uri, store, client, f"model {name!r} has no alias @{alias}"
                ) from exc
        elif m := _MODELS_VERSION.match(uri):
            name = m["name"]
            try:
                mv = client.get_model_version(name, m["version"])
            except MlflowException as exc:
                raise _not_found(
                    uri, store, client, f"no version {m['version']} of {name!r}"
                ) from exc
        elif m := _MODELS_ID.match(uri):
            try:
                lm = client.get_logged_model(m["model_id"])
            except MlflowException as exc:
                raise _not_found(uri, store, client, "no logged model with that id") from exc
            return ResolvedModel(uri=uri, run_id=lm.source_run_id)
        elif m := _RUNS.match(uri):
            try:
                client.get_run(m["run_id"])
            except MlflowException as exc:
                raise _not_found(uri, store, client, f"no run {m['run_id']}") from exc
            return ResolvedModel(uri=uri, run_id=m["run_id"])
        else:
            raise ModelNotFoundError(
                f"Cannot read model URI {uri!r}. Use models:/NAME@ALIAS (e.g. "
                "models:/riskml-recurrence@champion), models:/NAME/VERSION, runs:/RUN_ID/model, "
                "or the path of a downloaded model folder."
            )
    return ResolvedModel(
        uri=uri,
        name=mv.name,
        version=str(mv.version),
        alias=m.groupdict().get("alias"),
        run_id=mv.run_id,
        aliases=tuple(getattr(mv, "aliases", ()) or ()),
    )


def _read_local(model_dir: Path, extra_meta: dict[str, Any]) -> RiskModel:
    from mlflow.models import Model

    mlmodel = model_dir / "MLmodel"
    if not mlmodel.is_file():
        raise ModelNotFoundError(
            f"{model_dir} is not an MLflow model folder (no MLmodel file). Give a models:/ URI "
            "or the folder that holds MLmodel."
        )
    model = Model.load(str(model_dir))
    flavor = model.flavors.get("python_function", {})
    arts = flavor.get("artifacts") or {}
    missing = [k for k in ARTIFACT_FILES if k not in arts]
    if missing:
        raise TrackingError(
            f"The model at {extra_meta.get('model_uri', model_dir)} is not a riskml model bundle: "
            f"artifacts {missing} are missing. Log models with riskml.tracking.train_and_register."
        )
    paths = {k: model_dir / arts[k]["path"] for k in ARTIFACT_FILES}
    schema = None
    declared = (model.metadata or {}).get("riskml_input_types")
    if model.signature is not None and model.signature.inputs is not None:
        # feature order from the signature; types from the metadata when the signature says
        # Any (riskml checks types itself; MLmodel's YAML keeps the metadata keys sorted)
        types = declared if isinstance(declared, Mapping) else {}
        schema = {
            c.name: str(types.get(c.name) or getattr(c.type, "name", "string"))
            for c in model.signature.inputs.inputs
        }
    elif isinstance(declared, Mapping):
        schema = {str(k): str(v) for k, v in declared.items()}
    return RiskModel.from_artifacts(paths, input_schema=schema, metadata=extra_meta)


def load_risk_model(uri: str | Path, *, tracking_uri: str | None = None) -> RiskModel:
    """Load a riskml model from the registry, a run, or a local model folder.

    Parameters
    ----------
    uri
        ``models:/NAME@ALIAS`` (``champion``/``challenger``), ``models:/NAME/VERSION``,
        ``models:/m-<id>``, ``runs:/RUN_ID/model``, or the path of a model folder (the one
        holding ``MLmodel``).
    tracking_uri
        The store (see :func:`resolve_tracking`); ignored for a local path.

    Raises
    ------
    ModelNotFoundError
        The URI names nothing; the message lists the registered models and their aliases.
    TrackingError
        The store is unreachable, or the model is not a riskml bundle.

    Examples
    --------
    >>> model = load_risk_model("models:/riskml-recurrence@champion")  # doctest: +SKIP
    >>> model.score(features)  # doctest: +SKIP
    """
    text = str(uri)
    if text.startswith("file:") or not _SCHEME.match(text):
        local = Path(text.removeprefix("file://").removeprefix("file:"))
        if not local.exists():
            raise ModelNotFoundError(
                f"Model {text!r} is neither a model URI (models:/NAME@ALIAS, models:/NAME/VERSION, "
                "runs:/RUN_ID/model) nor an existing model folder."
            )
        return _read_local(local, {"model_uri": str(local)})

    store = open_store(tracking_uri, experiment=None)
    resolved = resolve_model_uri(text, store)
    import mlflow.artifacts

    with tempfile.TemporaryDirectory(prefix="riskml-model-") as tmp, store.active():
        try:
            local_dir = mlflow.artifacts.download_artifacts(
                artifact_uri=text, dst_path=tmp, tracking_uri=store.tracking_uri
            )
        except Exception as exc:
            raise TrackingError(
                f"Cannot download model {text} from {store.display_uri}: {exc}"
            ) from exc
        meta = {
            "model_uri": text,
            "name": resolved.name,
            "version": resolved.version,
            "alias": resolved.alias,
            "aliases": list(resolved.aliases),
            "run_id": resolved.run_id,
            "tracking_uri": store.display_uri,
        }
        return _read_local(Path(local_dir), meta)
