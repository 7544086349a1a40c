"""Shared fixtures. Stages add theirs below; a small seeded province is the common ground."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml


@pytest.fixture(autouse=True)
def _restore_sys_path() -> Iterator[None]:
    """Undo what loading a registered model does to ``sys.path``.

    ``mlflow.pyfunc.load_model`` puts the model's shipped copy of riskml (its ``code_paths``)
    first on ``sys.path``. This process keeps the riskml it already imported, but worker
    processes started later (the synthetic generator's, Spark's) would import the shipped copy,
    which has no ``configs/``. Each test starts from the path it found.
    """
    saved = list(sys.path)
    yield
    sys.path[:] = saved


# ---- synth: the small seeded province every stage's tests share ----
SMALL_PROVINCE_HOUSEHOLDS = 2500
SMALL_PROVINCE_SEED = 7


@pytest.fixture(scope="session")
def small_province():
    """``(Bundle, ground_truth)`` of a 2,500-household synthetic province (seed 7), in memory.

    ``ground_truth`` is the long frame ``household_id, month, p_month, p_12m`` (see
    ``riskml.synth``). Generated once per test session (a few seconds).
    """
    from riskml.synth import generate_province

    return generate_province(SMALL_PROVINCE_HOUSEHOLDS, SMALL_PROVINCE_SEED)


@pytest.fixture(scope="session")
def small_province_dir(tmp_path_factory):
    """A written Parquet bundle folder of the same province, with ``<dir>.truth.parquet`` beside it."""
    from riskml.synth import write_synthetic_province

    out = tmp_path_factory.mktemp("synth") / "small_province"
    write_synthetic_province(out, SMALL_PROVINCE_HOUSEHOLDS, SMALL_PROVINCE_SEED, format="parquet")
    return out


# ---- tracking: a small, fast training config (same schema as configs/training.yaml) ----
FAST_TRAINING = {
    "feature_set": "default",
    "label": "default",
    "horizon_months": 12,
    "training_set": {"as_of_start": "2020-01-01", "step_months": 6},
    "model": {
        "n_estimators": 40,
        "learning_rate": 0.1,
        "num_leaves": 7,
        "min_child_samples": 40,
        "early_stopping_rounds": 10,
        "n_jobs": 1,
    },
    "backtest": {"n_folds": 2, "test_period_months": 12},
    "capacity": {"share": 0.05},
    "seed": 3,
}


@pytest.fixture(scope="session")
def fast_training_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``FAST_TRAINING`` written as a training config file (train and evaluate in seconds)."""
    path = tmp_path_factory.mktemp("training-config") / "training.yaml"
    path.write_text(yaml.safe_dump(FAST_TRAINING), encoding="utf-8")
    return path
