"""Fixtures for the tracking tests: a temporary SQLite store and a real ``mlflow server``.

Tests never write to the repository's ``models/``: every store lives under pytest's tmp dirs.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

_SERVER_START_TIMEOUT_S = 120.0


@pytest.fixture(scope="session")
def _store_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty MLflow SQLite database, created once: creating the schema runs MLflow's ~50
    migrations (seconds, tens of seconds on a loaded machine); copying the file is instant."""
    from riskml.tracking import open_store

    path = tmp_path_factory.mktemp("store-template") / "mlflow.db"
    open_store(f"sqlite:///{path}", experiment=None)
    return path


def fresh_store_uri(template: Path, folder: Path) -> str:
    """A new, empty SQLite store in ``folder`` (artifacts in ``folder/artifacts``)."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template, folder / "mlflow.db")
    return f"sqlite:///{folder / 'mlflow.db'}"


@pytest.fixture
def tracking_uri(tmp_path: Path, _store_template: Path) -> str:
    """A fresh local SQLite tracking store (artifacts go to ``<tmp>/store/artifacts``)."""
    return fresh_store_uri(_store_template, tmp_path / "store")


@pytest.fixture(autouse=True)
def _no_ambient_tracking_uri(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Never fall back to the repository's models/ store or a user's server by accident."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    monkeypatch.setenv("RISKML_MODELS_DIR", str(tmp_path / "default-models"))


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory):
    """URL of a real ``mlflow server`` on localhost (SQLite backend, artifacts in tmp).

    Started once per session in its own process group, polled until ``/health`` answers, and
    killed (the whole group it started) at teardown.
    """
    root = tmp_path_factory.mktemp("mlflow-server")
    port = _free_port()
    log = (root / "server.log").open("w")
    cmd = [
        str(Path(sys.executable).with_name("mlflow")),
        "server",
        "--backend-store-uri",
        f"sqlite:///{root / 'server.db'}",
        "--artifacts-destination",
        str(root / "artifacts"),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    proc = subprocess.Popen(
        cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + _SERVER_START_TIMEOUT_S
    try:
        while True:
            if proc.poll() is not None:
                log.flush()
                pytest.fail(
                    f"mlflow server exited with {proc.returncode}:\n{(root / 'server.log').read_text()[-3000:]}"
                )
            try:
                with urllib.request.urlopen(url + "/health", timeout=1) as resp:
                    if resp.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(
                    f"mlflow server did not answer on {url} within {_SERVER_START_TIMEOUT_S:.0f} s"
                )
            time.sleep(0.3)
        yield url
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)
        log.close()


# ---- a small model trained in the test session, on a tiny feature set of the real catalog ----

TINY_FEATURES = (
    "household_size",
    "dependency_ratio",
    "head_age",
    "livelihood",
    "oop_medical_12m",
    "pc_income_last",
)


@dataclass
class TinyModel:
    """A fitted RecurrenceRiskModel, its training features and bundled feature-set definition."""

    model: Any
    X: pd.DataFrame
    y: np.ndarray
    feature_set_definition: dict[str, Any]
    metadata: dict[str, Any]


def make_tiny_model(seed: int = 0, n: int = 3000, n_estimators: int = 30) -> TinyModel:
    from riskml.features import FeatureSet, load_catalog
    from riskml.models import RecurrenceRiskModel
    from riskml.tracking import feature_set_bundle

    catalog = load_catalog()
    fs = FeatureSet(
        name="tiny",
        description="six features for the tracking tests",
        features=tuple(catalog.feature(n) for n in TINY_FEATURES),
        required=catalog.closure(list(TINY_FEATURES)),
        version="tiny-test-1",
    )
    rng = np.random.default_rng(seed)
    size = rng.integers(1, 7, n).astype(float)
    size[rng.random(n) < 0.05] = np.nan  # an int feature that can be missing -> declared double
    X = pd.DataFrame(
        {
            "household_size": size,
            "dependency_ratio": rng.gamma(1.5, 0.4, n),
            "head_age": rng.integers(25, 85, n).astype(float),
            "livelihood": pd.Categorical(
                rng.choice(["farming", "pastoral", "agro_pastoral", "wage", "mixed"], n),
                categories=["farming", "pastoral", "agro_pastoral", "wage", "mixed"],
            ),
            "oop_medical_12m": np.where(rng.random(n) < 0.3, rng.gamma(2.0, 4000.0, n), 0.0),
            "pc_income_last": np.where(rng.random(n) < 0.1, np.nan, rng.lognormal(9.2, 0.5, n)),
        }
    )
    logit = (
        -3.5
        + 0.00012 * X["oop_medical_12m"]
        - 0.0002 * (X["pc_income_last"].fillna(10000) - 10000)
        + 0.6 * (X["livelihood"] == "pastoral")
        + 0.5 * X["dependency_ratio"]
    )
    y = (rng.random(n) < 1 / (1 + np.exp(-logit.to_numpy()))).astype(int)
    as_of = np.repeat(pd.date_range("2021-01-01", periods=6, freq="QS").to_numpy(), n // 6 + 1)[:n]
    model = RecurrenceRiskModel(
        n_estimators=n_estimators,
        learning_rate=0.1,
        num_leaves=7,
        min_child_samples=20,
        early_stopping_rounds=10,
        n_jobs=1,
        random_state=seed,
    ).fit(X, y, as_of=as_of)
    meta = {
        "name": "tiny",
        "feature_set": fs.name,
        "feature_set_version": fs.version,
        "catalog_version": catalog.version,
        "horizon_months": 12,
        "label": "default",
        "as_of_first": "2021-01-01",
        "as_of_last": "2022-04-01",
        "data_fingerprint": f"synthetic-{seed}",
    }
    return TinyModel(model, X, y, feature_set_bundle(fs, catalog), meta)


@pytest.fixture(scope="session")
def tiny() -> TinyModel:
    return make_tiny_model()


def log_and_register(
    store: Any,
    tiny: TinyModel,
    *,
    name: str = "tiny-model",
    tags: dict[str, str] | None = None,
    metrics: dict[str, float] | None = None,
    workdir: Path,
) -> tuple[str, str, str]:
    """Log ``tiny`` as a run with a pyfunc and register it; return (run_id, version, model_uri)."""
    import mlflow

    from riskml.tracking import log_risk_model, register_version

    with (
        store.active(),
        mlflow.start_run(experiment_id=store.experiment_id, tags=tags or {}) as run,
    ):
        if metrics:
            mlflow.log_metrics(metrics)
        info = log_risk_model(
            tiny.model,
            feature_set_definition=tiny.feature_set_definition,
            X_reference=tiny.X,
            metadata={**tiny.metadata, "run_id": run.info.run_id},
            workdir=workdir,
        )
    version, _ = register_version(store, name=name, model_uri=info.model_uri, tags=tags)
    return run.info.run_id, version, info.model_uri


@pytest.fixture(scope="session")
def logger():
    """``log_and_register`` for test modules (conftest helpers are not importable by name)."""
    return log_and_register


@pytest.fixture(scope="session")
def tiny_factory():
    """``make_tiny_model(seed, n, n_estimators)``."""
    return make_tiny_model


@pytest.fixture(scope="session")
def store_factory(_store_template: Path):
    """``fresh_store_uri(folder)``: a new empty SQLite store in ``folder``."""
    return lambda folder: fresh_store_uri(_store_template, folder)
