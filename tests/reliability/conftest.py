"""Fixtures for the cross-stage reliability tests: a messy county export and one full run on it.

The full run is the real command line (``riskml validate``, ``features build``, ``train``,
``score`` internal and public, ``report``, ``report-model``) invoked in this process, with every
log record and every line of console output captured, a real SQLite MLflow store under pytest's
tmp dir, and the outputs kept for the privacy scan and the determinism checks.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.reliability._canary import Canaries, subset_villages, write_canary_export

CANARY_HOUSEHOLDS = 1000
SCORING_AS_OF = "2025-06-30"
MODEL_NAME = "riskml-canary"
PSEUDONYM_KEY = "reliability-test-key"


def flat(text: str) -> str:
    """Console text with rich's line wrapping undone."""
    return " ".join(text.split())


def invoke(*args: str) -> Any:
    """``riskml ARGS`` in this process (wide console so messages are not wrapped)."""
    from riskml.cli import app

    return CliRunner().invoke(app, list(args), env={"COLUMNS": "250"})


@pytest.fixture(scope="session")
def canary(small_province: Any, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Canaries]:
    """A GB18030 CSV county export (~1,000 households of the small province) with personal data."""
    bundle, _truth = small_province
    out = tmp_path_factory.mktemp("canary") / "export"
    canaries = write_canary_export(subset_villages(bundle, CANARY_HOUSEHOLDS), out)
    return out, canaries


@dataclass
class FullRun:
    """Everything one full run on the canary export wrote, and what it printed and logged."""

    data: Path
    canaries: Canaries
    root: Path
    store_dir: Path
    tracking_uri: str
    model_uri: str
    quarantine: Path
    training_set: Path
    scores: Path
    public_scores: Path
    public_reports: Path
    model_report: Path
    log_file: Path
    internal_reports: Path | None = None
    console: dict[str, str] = field(default_factory=dict)
    exit_codes: dict[str, int] = field(default_factory=dict)

    def failed_steps(self) -> dict[str, str]:
        """Steps that did not exit 0, with what they printed."""
        return {k: self.console[k] for k, code in self.exit_codes.items() if code != 0}


class _Capture(logging.Handler):
    def __init__(self, path: Path) -> None:
        super().__init__(logging.INFO)
        self.stream = path.open("a", encoding="utf-8")
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.stream.write(self.format(record) + "\n")

    def close(self) -> None:
        self.stream.close()
        super().close()


@pytest.fixture(scope="session")
def full_run(
    canary: tuple[Path, Canaries],
    fast_training_config: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> FullRun:
    """The whole job on the canary export, through the CLI, logs captured (about a minute)."""
    data, canaries = canary
    root = tmp_path_factory.mktemp("full-run")
    store_dir = root / "store"
    store_dir.mkdir()
    uri = f"sqlite:///{store_dir / 'mlflow.db'}"
    (root / "public").mkdir()
    run = FullRun(
        data=data,
        canaries=canaries,
        root=root,
        store_dir=store_dir,
        tracking_uri=uri,
        model_uri=f"models:/{MODEL_NAME}@champion",
        quarantine=root / "quarantine.csv",
        training_set=root / "training.parquet",
        scores=root / "scores.parquet",
        public_scores=root / "public" / "scores.csv",
        public_reports=root / "public" / "reports",
        model_report=root / "model-report",
        log_file=root / "riskml.log",
        internal_reports=root / "internal-reports",
    )
    handler = _Capture(run.log_file)
    loggers = [logging.getLogger(), logging.getLogger("riskml"), logging.getLogger("mlflow")]
    before = [(lg, lg.level) for lg in loggers]
    for lg in loggers:
        lg.addHandler(handler)
        lg.setLevel(logging.INFO)
    steps = {
        "validate": ["validate", str(data), "--quarantine", str(run.quarantine)],
        "features build": [
            "features", "build", "--data", str(data), "--start", "2021-06-30", "--end",
            "2023-06-30", "--every", "6M", "--out", str(run.training_set),
        ],
        "train": [
            "train", "--data", str(data), "--config", str(fast_training_config),
            "--tracking-uri", uri, "--name", MODEL_NAME,
        ],
        "score": [
            "score", "--data", str(data), "--as-of", SCORING_AS_OF, "--model", run.model_uri,
            "--tracking-uri", uri, "--out", str(run.scores),
        ],
        "score public": [
            "score", "--data", str(data), "--as-of", SCORING_AS_OF, "--model", run.model_uri,
            "--tracking-uri", uri, "--out", str(run.public_scores), "--mode", "public",
        ],
        "report public": [
            "report", "--scores", str(run.scores), "--out", str(run.public_reports), "--mode",
            "public", "--level", "village", "--lang", "zh", "--format", "html",
        ],
        "report internal": [
            "report", "--scores", str(run.scores), "--out", str(run.internal_reports), "--mode",
            "internal", "--level", "village", "--lang", "zh", "--format", "html,xlsx",
        ],
        "report-model": [
            "report-model", "--model", run.model_uri, "--tracking-uri", uri, "--out",
            str(run.model_report), "--format", "html",
        ],
    }  # fmt: skip
    try:
        with pytest.MonkeyPatch.context() as mp:
            for key in [k for k in os.environ if k.startswith("MLFLOW_")]:
                mp.delenv(key)
            mp.setenv("RISKML_MODELS_DIR", str(root / "default-models"))
            mp.setenv("RISKML_PSEUDONYM_KEY", PSEUDONYM_KEY)
            for name, args in steps.items():
                result = invoke(*args)
                run.console[name] = result.output + (result.stderr if result.stderr_bytes else "")
                run.exit_codes[name] = result.exit_code
    finally:
        for lg, level in before:
            lg.removeHandler(handler)
            lg.setLevel(level)
        handler.close()
    return run


@pytest.fixture(scope="session")
def canary_model(full_run: FullRun) -> Any:
    """The canary run's champion, loaded as scoring loads it."""
    from riskml.tracking import load_risk_model

    return load_risk_model(full_run.model_uri, tracking_uri=full_run.tracking_uri)


@pytest.fixture(scope="session")
def canary_bundle(canary: tuple[Path, Canaries]) -> Any:
    from riskml.data import load_bundle

    return load_bundle(canary[0])


@pytest.fixture(autouse=True)
def _no_ambient_tracking_uri(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Never fall back to the repository's models/ store or a user's server by accident."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    monkeypatch.setenv("RISKML_MODELS_DIR", str(tmp_path / "default-models"))
