"""Which store riskml uses, and clear, fast errors when it cannot be used."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from riskml.tracking import (
    ModelNotFoundError,
    TrackingError,
    load_risk_model,
    open_store,
    resolve_tracking,
    train_and_register,
)


def test_explicit_uri_beats_environment_beats_default(monkeypatch, tmp_path):
    monkeypatch.setenv("RISKML_MODELS_DIR", str(tmp_path / "models"))
    default = f"sqlite:///{(tmp_path / 'models' / 'mlflow.db').resolve()}"
    assert resolve_tracking(None) == (default, default)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://tracking.example:5000")
    assert resolve_tracking(None) == ("http://tracking.example:5000",) * 2
    assert resolve_tracking("sqlite:////tmp/x.db") == ("sqlite:////tmp/x.db",) * 2
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", "sqlite:////tmp/registry.db")
    assert resolve_tracking("sqlite:////tmp/x.db") == (
        "sqlite:////tmp/x.db",
        "sqlite:////tmp/registry.db",
    )


def test_default_store_lives_in_the_repository_models_folder(monkeypatch):
    monkeypatch.delenv("RISKML_MODELS_DIR")
    uri, _ = resolve_tracking(None)
    repo = Path(__file__).resolve().parents[2]
    assert uri == f"sqlite:///{repo / 'models' / 'mlflow.db'}"


def test_a_bare_path_is_refused_with_the_fix():
    with pytest.raises(TrackingError, match=r"sqlite:///path/to/mlflow.db"):
        resolve_tracking("models/mlflow.db")


def test_sqlite_store_keeps_artifacts_next_to_the_database(tracking_uri):
    store = open_store(tracking_uri, experiment="exp-a")
    exp = store.client.get_experiment(store.experiment_id)
    db_dir = Path(tracking_uri.removeprefix("sqlite:///")).parent
    assert exp.artifact_location == (db_dir / "artifacts").resolve().as_uri()
    assert open_store(tracking_uri, experiment="exp-a").experiment_id == store.experiment_id


def test_unreachable_server_fails_fast_naming_the_uri(tmp_path):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    uri = f"http://127.0.0.1:{port}"
    started = time.monotonic()
    with pytest.raises(TrackingError, match=rf"Cannot reach the MLflow tracking server at {uri}"):
        open_store(uri)
    with pytest.raises(TrackingError, match=rf"{uri}"):
        load_risk_model("models:/riskml-recurrence@champion", tracking_uri=uri)
    with pytest.raises(TrackingError, match=rf"{uri}"):
        train_and_register(tmp_path / "no-bundle-needed", tracking_uri=uri)
    assert time.monotonic() - started < 20


def test_password_in_a_server_uri_is_not_repeated(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(TrackingError) as info:
        open_store(f"http://user:s3cret@127.0.0.1:{port}")
    assert "s3cret" not in str(info.value) and "user:***@127.0.0.1" in str(info.value)


def test_nonexistent_model_uri_lists_what_exists(tracking_uri):
    with pytest.raises(ModelNotFoundError, match="No models are registered"):
        load_risk_model("models:/riskml-recurrence@champion", tracking_uri=tracking_uri)
    with pytest.raises(ModelNotFoundError, match="'riskml-recurrence' is neither a model URI"):
        load_risk_model("riskml-recurrence", tracking_uri=tracking_uri)
    with pytest.raises(
        ModelNotFoundError,
        match=r"Cannot read model URI 's3://bucket/nothing'. Use models:/NAME@ALIAS",
    ):
        load_risk_model("s3://bucket/nothing", tracking_uri=tracking_uri)
