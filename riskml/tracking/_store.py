"""Where runs and models live: resolving the tracking store and preparing it once.

The default store is local and needs no server: a SQLite database ``models/mlflow.db`` and an
artifact folder ``models/artifacts`` in the repository (both gitignored). ``--tracking-uri`` or
``MLFLOW_TRACKING_URI`` point riskml at a real MLflow server instead.
"""

from __future__ import annotations

import contextlib
import os
import urllib.error
import urllib.parse
import urllib.request
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from riskml.tracking._riskmodel import SchemaMismatchError

if TYPE_CHECKING:  # pragma: no cover
    from mlflow import MlflowClient

__all__ = [
    "DEFAULT_EXPERIMENT",
    "TrackingError",
    "TrackingStore",
    "default_models_dir",
    "open_store",
    "resolve_tracking",
    "user_error_types",
]

DEFAULT_EXPERIMENT = "riskml-recurrence"
"""Experiment that training, evaluation and promotion runs are logged to."""

_REACHABILITY_TIMEOUT_S = 5.0
# While riskml talks to a server, fail within seconds instead of MLflow's default of 7 retries
# with exponential backoff and a 120 s timeout per request (minutes on a dead server). A user who
# sets these variables keeps their own values.
_HTTP_ENV_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "60",
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
}


class TrackingError(RuntimeError):
    """The tracking store or a model in it cannot be used (unreachable, missing, inconsistent)."""


def user_error_types() -> tuple[type[Exception], ...]:
    """Exceptions of tracking that mean bad input or an unusable store, not a bug in riskml.

    For callers that must tell the two apart (the CLI) without importing ``mlflow`` themselves:
    ``TrackingError`` (and ``ModelNotFoundError``), a model whose input schema does not match
    (``SchemaMismatchError``) and MLflow's own ``MlflowException`` (a store or registry refusing
    a request).
    """
    from mlflow.exceptions import MlflowException  # mlflow only inside functions (see __init__)

    return (TrackingError, SchemaMismatchError, MlflowException)


def default_models_dir() -> Path:
    """The folder of the default local store: ``<repo>/models`` (``RISKML_MODELS_DIR`` overrides).

    When riskml is installed outside a source checkout, ``./models`` in the working directory.
    """
    override = os.environ.get("RISKML_MODELS_DIR")
    if override:
        return Path(override)
    repo = Path(__file__).resolve().parents[2]
    if (repo / "pyproject.toml").is_file():
        return repo / "models"
    return Path.cwd() / "models"


def _default_tracking_uri() -> str:
    return "sqlite:///" + str((default_models_dir() / "mlflow.db").resolve())


def resolve_tracking(uri: str | None = None) -> tuple[str, str]:
    """Decide which tracking and registry store to use.

    Parameters
    ----------
    uri
        An explicit tracking URI (``--tracking-uri``). When ``None``, ``MLFLOW_TRACKING_URI`` is
        used, and when that is unset too, the local SQLite store under ``models/``.

    Returns
    -------
    (tracking_uri, registry_uri)
        The registry lives in the same store unless ``MLFLOW_REGISTRY_URI`` says otherwise.

    Examples
    --------
    >>> resolve_tracking("http://127.0.0.1:5000")
    ('http://127.0.0.1:5000', 'http://127.0.0.1:5000')
    """
    if uri is not None and not str(uri).strip():
        raise TrackingError("The tracking URI is empty. Pass e.g. --tracking-uri http://host:5000.")
    tracking = str(uri).strip() if uri else os.environ.get("MLFLOW_TRACKING_URI", "").strip()
    if not tracking:
        tracking = _default_tracking_uri()
    elif "://" not in tracking:
        # A bare path: MLflow would treat it as a file store, which it refuses from 3.13.
        raise TrackingError(
            f"Tracking URI {tracking!r} is not a URI. Use sqlite:///path/to/mlflow.db for a local "
            "store or http(s)://host:port for a tracking server."
        )
    registry = os.environ.get("MLFLOW_REGISTRY_URI", "").strip() or tracking
    return tracking, registry


def _sqlite_path(uri: str) -> Path | None:
    if not uri.startswith("sqlite:///"):
        return None
    return Path(uri[len("sqlite:///") :].split("?", 1)[0])


def _redact(uri: str) -> str:
    """The URI without any password, for messages."""
    parts = urllib.parse.urlsplit(uri)
    if parts.password:
        netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
        return urllib.parse.urlunsplit(parts._replace(netloc=netloc))
    return uri


def check_reachable(uri: str, *, timeout: float = _REACHABILITY_TIMEOUT_S) -> None:
    """Raise :class:`TrackingError` naming ``uri`` when an HTTP tracking server does not answer."""
    if not uri.startswith(("http://", "https://")):
        return
    url = uri.rstrip("/") + "/health"
    try:
        with urllib.request.urlopen(url, timeout=timeout):
            return
    except urllib.error.HTTPError:
        return  # it answered (maybe 401/404 behind a proxy): the server is there
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise TrackingError(
            f"Cannot reach the MLflow tracking server at {_redact(uri)} ({reason}). Start the server, "
            "or pass another --tracking-uri (or unset MLFLOW_TRACKING_URI to use the local store "
            "under models/)."
        ) from None


# MLflow's own warnings that say nothing about riskml's use of it; silenced while riskml calls
# MLflow so that the CLI output stays readable. The same list is in pyproject's filterwarnings.
_KNOWN_MLFLOW_WARNINGS: tuple[str, ...] = (
    # SQLAlchemy 2 deprecates the ``noload`` strategy that MLflow's SQL store configures.
    r".*The ``noload`` loader strategy is deprecated",
    # Emitted once when mlflow.pyfunc imports its own agent types (typing.Any in its schemas).
    r".*Any type hint is inferred as AnyType",
)


@contextlib.contextmanager
def _quiet_mlflow() -> Iterator[None]:
    with warnings.catch_warnings():
        for message in _KNOWN_MLFLOW_WARNINGS:
            warnings.filterwarnings("ignore", message=message)
        yield


@dataclass(frozen=True)
class TrackingStore:
    """A prepared tracking store: URIs, the experiment riskml logs to, and a client."""

    tracking_uri: str
    registry_uri: str
    experiment_id: str
    experiment_name: str

    @property
    def client(self) -> MlflowClient:
        from mlflow import MlflowClient

        return MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.registry_uri)

    @property
    def display_uri(self) -> str:
        return _redact(self.tracking_uri)

    @contextlib.contextmanager
    def active(self) -> Iterator[None]:
        """Point MLflow's fluent API (``mlflow.start_run``, ``log_model``) at this store.

        Restores the previous URIs and HTTP settings on exit.
        """
        import mlflow
        from mlflow.tracking._model_registry import utils as registry_utils
        from mlflow.tracking._tracking_service import utils as tracking_utils

        saved_globals = (tracking_utils._tracking_uri, registry_utils._registry_uri)
        saved_env = {k: os.environ.get(k) for k in (*_HTTP_ENV_DEFAULTS, *_URI_ENV)}
        for key, value in _HTTP_ENV_DEFAULTS.items():
            os.environ.setdefault(key, value)
        mlflow.set_tracking_uri(self.tracking_uri)
        mlflow.set_registry_uri(self.registry_uri)
        try:
            with _quiet_mlflow():
                yield
        finally:
            mlflow.set_tracking_uri(saved_globals[0])
            registry_utils._registry_uri = saved_globals[1]
            _restore_env(saved_env)


_URI_ENV = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")


def _restore_env(saved: dict[str, str | None]) -> None:
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def open_store(
    uri: str | None = None, *, experiment: str | None = DEFAULT_EXPERIMENT
) -> TrackingStore:
    """Resolve, check and prepare the store; create the experiment if it does not exist.

    ``experiment=None`` opens the store read-only (for loading models): nothing is created
    beyond the SQLite schema.

    Call this once, before any concurrent work: creating a SQLite store from several processes
    at once fails with "database is locked". For a SQLite store the experiment's artifacts go to
    ``artifacts/`` next to the database file (``models/artifacts`` for the default store), never
    to the working directory.

    Raises
    ------
    TrackingError
        When a server does not answer (within seconds), or the store cannot be created.
    """
    tracking, registry = resolve_tracking(uri)
    check_reachable(tracking)
    if registry != tracking:
        check_reachable(registry)
    db_path = _sqlite_path(tracking)
    artifact_location = None
    if db_path is not None:
        db_path.parent.mkdir(parents=True, exist_ok=True)
        artifact_dir = db_path.parent / "artifacts"
        artifact_dir.mkdir(parents=True, exist_ok=True)
        artifact_location = artifact_dir.resolve().as_uri()

    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    saved_env = {k: os.environ.get(k) for k in _HTTP_ENV_DEFAULTS}
    for key, value in _HTTP_ENV_DEFAULTS.items():
        os.environ.setdefault(key, value)
    try:
        with _quiet_mlflow():
            client = MlflowClient(tracking_uri=tracking, registry_uri=registry)
            exp = client.get_experiment_by_name(experiment or DEFAULT_EXPERIMENT)
            if experiment is None:
                # read-only use (loading a model): touch the store, create nothing
                exp_id = exp.experiment_id if exp is not None else ""
            elif exp is None:
                try:
                    exp_id = client.create_experiment(
                        experiment, artifact_location=artifact_location
                    )
                except MlflowException:
                    # created meanwhile by another process
                    exp = client.get_experiment_by_name(experiment)
                    if exp is None:
                        raise
                    exp_id = exp.experiment_id
            else:
                if exp.lifecycle_stage == "deleted":
                    client.restore_experiment(exp.experiment_id)
                exp_id = exp.experiment_id
    except MlflowException as exc:
        raise TrackingError(
            f"Cannot use the MLflow tracking store at {_redact(tracking)}: {exc.message}"
        ) from exc
    finally:
        _restore_env(saved_env)
    return TrackingStore(tracking, registry, exp_id, experiment or DEFAULT_EXPERIMENT)
