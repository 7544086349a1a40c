"""Fixtures for the scoring tests: the shared small province, a model trained on it, Spark.

The model is a real ``RecurrenceRiskModel`` trained on a real training set built by the feature
engine from the synthetic province, logged and registered with ``riskml.tracking`` in a
temporary SQLite MLflow store (never the repository's ``models/``), and loaded back with
``load_risk_model``. Sizes stay small so the default suite is fast.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

SCORING_AS_OF = "2025-06-30"
TRAIN_AS_OF = ("2022-01-01", "2022-07-01", "2023-01-01", "2023-07-01")
MODEL_NAME = "riskml-scoring-test"


@pytest.fixture(scope="session")
def province_bundle(small_province_dir: Path) -> Any:
    """The shared small province, read back with the real loader."""
    from riskml.data import load_bundle

    return load_bundle(small_province_dir)


@pytest.fixture(scope="session")
def scoring_store(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A session-wide SQLite tracking store under pytest's tmp dir."""
    root = tmp_path_factory.mktemp("scoring-mlflow")
    return f"sqlite:///{root / 'mlflow.db'}"


def _train_model(bundle: Any) -> tuple[Any, pd.DataFrame]:
    """A small real model: training set from the feature engine, RecurrenceRiskModel fit."""
    from riskml.features import build_training_set
    from riskml.models import RecurrenceRiskModel

    ts = build_training_set(
        bundle, [pd.Timestamp(d) for d in TRAIN_AS_OF], 12, feature_set="default"
    )
    X = ts.frame[ts.feature_names]
    model = RecurrenceRiskModel(
        n_estimators=60,
        num_leaves=15,
        min_child_samples=40,
        learning_rate=0.1,
        early_stopping_rounds=None,
        n_jobs=1,  # one thread: much faster than fighting other test processes for 2 cores
    ).fit(X, ts.frame["label"].astype(int), as_of=ts.frame["as_of"])
    return model, ts.frame


@pytest.fixture(scope="session")
def trained(province_bundle: Any) -> tuple[Any, pd.DataFrame]:
    return _train_model(province_bundle)


def register_model(
    trained: tuple[Any, pd.DataFrame], store_uri: str, workdir: Path, name: str = MODEL_NAME
) -> str:
    """Log a trained model as riskml's pyfunc and register it (alias champion); return its URI."""
    import mlflow

    from riskml.features import load_catalog
    from riskml.tracking import feature_set_bundle, log_risk_model, open_store, register_version

    model, frame = trained
    catalog = load_catalog()
    fs = catalog.feature_set("default")
    store = open_store(store_uri)
    meta = {
        "name": name,
        "feature_set": fs.name,
        "feature_set_version": fs.version,
        "catalog_version": catalog.version,
        "horizon_months": 12,
        "label": "default",
        "as_of_first": TRAIN_AS_OF[0],
        "as_of_last": TRAIN_AS_OF[-1],
    }
    with store.active(), mlflow.start_run(experiment_id=store.experiment_id) as run:
        info = log_risk_model(
            model,
            feature_set_definition=feature_set_bundle(fs, catalog),
            X_reference=frame[fs.names],
            metadata={**meta, "run_id": run.info.run_id},
            workdir=workdir,
        )
    register_version(store, name=name, model_uri=info.model_uri)
    return f"models:/{name}@champion"


@pytest.fixture(scope="session")
def registered_model(
    trained: tuple[Any, pd.DataFrame], scoring_store: str, tmp_path_factory: pytest.TempPathFactory
) -> str:
    """The shared model, logged and registered in the session's store."""
    return register_model(trained, scoring_store, tmp_path_factory.mktemp("model-artifacts"))


@pytest.fixture(scope="session")
def risk_model(registered_model: str, scoring_store: str) -> Any:
    """The model as scoring sees it: ``load_risk_model(models:/NAME@champion)`` from the store."""
    from riskml.tracking import load_risk_model

    return load_risk_model(registered_model, tracking_uri=scoring_store)


@pytest.fixture(scope="session")
def spark_session() -> Any:
    """One local Spark session for the whole test session (2 cores)."""
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip(
            "Spark needs Java (java on PATH or JAVA_HOME); scripts/install-system-deps.sh installs it"
        )
    from riskml.scoring._spark import get_spark_session

    spark = get_spark_session("local[2]", driver_memory="2g")
    yield spark
    spark.stop()


@pytest.fixture(scope="session")
def flawed_province_dir(
    small_province_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, dict[str, str]]:
    """A copy of the small province with the flaws real exports have.

    - one household's ``village_code`` is empty (the loader sets the household aside);
    - two events rows name a household that is not in the households table;
    - one income row has a negative amount (the row is set aside, the household stays).

    Returns the folder and the ids of the set-aside and the orphan household.
    """
    out = tmp_path_factory.mktemp("flawed") / "province"
    shutil.copytree(small_province_dir, out)
    hh = pd.read_parquet(out / "households.parquet")
    set_aside = str(hh.loc[5, "household_id"])
    hh.loc[5, "village_code"] = None
    hh.to_parquet(out / "households.parquet", index=False)
    events = pd.read_parquet(out / "events.parquet")
    orphan = events.iloc[:2].copy()
    orphan["household_id"] = "NOT-IN-REGISTRY-1"
    pd.concat([events, orphan], ignore_index=True).to_parquet(out / "events.parquet", index=False)
    income = pd.read_parquet(out / "income.parquet")
    income.loc[7, "wage_income"] = -5.0
    income.to_parquet(out / "income.parquet", index=False)
    return out, {
        "set_aside": set_aside,
        "orphan": "NOT-IN-REGISTRY-1",
        "bad_income": str(income.loc[7, "household_id"]),
    }


@pytest.fixture(autouse=True)
def _no_ambient_tracking_uri(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Never fall back to the repository's models/ store or a user's server by accident."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    monkeypatch.setenv("RISKML_MODELS_DIR", str(tmp_path / "default-models"))


def model_with_input_schema(risk_model: Any, **changes: str) -> Any:
    """``risk_model`` with its input schema changed (column -> type), as if trained on that."""
    from riskml.tracking._riskmodel import RiskModel

    other = RiskModel(
        model=risk_model.model,
        feature_set_definition=risk_model.feature_set_definition,
        reference=risk_model.reference,
        metadata=risk_model.metadata,
        input_schema={**dict(risk_model.input_schema), **changes},
    )
    other._feature_set = risk_model.feature_set
    return other
