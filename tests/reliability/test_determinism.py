"""Determinism end to end: the same bundle, config and seed give the same bytes and the same answers.

Training sets must be byte-identical (they are hashed, diffed and archived); models fitted twice
must predict bit for bit alike; scoring twice — in this process, in a fresh process with another
hash seed, with other chunk sizes, or on the Spark engine with other partitionings — must give
identical scores, ranks, tiers and reason texts.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tests.reliability.conftest import SCORING_AS_OF, FullRun, flat, invoke

_TRAINING_ARGS = ("--start", "2021-06-30", "--end", "2023-06-30", "--every", "6M")


def _build(data: Path, out: Path, *extra: str) -> None:
    result = invoke(
        "features", "build", "--data", str(data), *_TRAINING_ARGS, "--out", str(out), *extra
    )
    assert result.exit_code == 0, flat(result.output)


def _score(run: FullRun, out: Path, *extra: str) -> tuple[pd.DataFrame, dict[str, Any]]:
    from riskml.scoring import read_scores

    result = invoke(
        "score", "--data", str(run.data), "--as-of", SCORING_AS_OF, "--model", run.model_uri,
        "--tracking-uri", run.tracking_uri, "--out", str(out), "--top", "0", *extra,
    )  # fmt: skip
    assert result.exit_code == 0, flat(result.output)
    return read_scores(out)


def _stable_meta(meta: dict[str, Any]) -> dict[str, Any]:
    """A score file's metadata without what legitimately differs between runs."""
    return {k: v for k, v in meta.items() if k not in ("created_at", "timings_seconds")}


def test_training_set_is_byte_identical(full_run: FullRun, tmp_path: Path) -> None:
    """`riskml features build` again on the same export and config, minutes later → the same
    Parquet bytes as the full run's training set (no timestamps or run-dependent order inside)."""
    again = tmp_path / "training.parquet"
    _build(full_run.data, again)
    a, b = full_run.training_set.read_bytes(), again.read_bytes()
    if a != b:
        import pyarrow.parquet as pq

        ma, mb = (pq.read_schema(p).metadata or {} for p in (full_run.training_set, again))
        diff = {k: (ma.get(k), mb.get(k)) for k in set(ma) | set(mb) if ma.get(k) != mb.get(k)}
        frames_equal = pd.read_parquet(full_run.training_set).equals(pd.read_parquet(again))
        pytest.fail(
            f"training sets differ (rows equal: {frames_equal}); metadata differences: {diff}"[
                :3000
            ]
        )


def test_training_set_rows_do_not_depend_on_chunking(full_run: FullRun, tmp_path: Path) -> None:
    """The same build in chunks of 97 households instead of 25,000 → identical rows, columns,
    dtypes and values."""
    chunked = tmp_path / "chunked.parquet"
    _build(full_run.data, chunked, "--chunk-households", "97")
    pd.testing.assert_frame_equal(
        pd.read_parquet(chunked), pd.read_parquet(full_run.training_set), check_exact=True
    )


def test_model_fitted_twice_predicts_identically(
    full_run: FullRun, fast_training_config: Path
) -> None:
    """fit_final_model twice on the full run's training set with the same config and seed →
    identical saved model (JSON) and bit-identical probabilities and raw scores."""
    from riskml.config.training import load_training_config
    from riskml.features import TrainingSet
    from riskml.models import fit_final_model

    config = load_training_config(fast_training_config)
    ts = TrainingSet.read_parquet(full_run.training_set)
    first = fit_final_model(ts, config)
    second = fit_final_model(ts, config)
    assert json.dumps(first.to_dict(), sort_keys=True) == json.dumps(
        second.to_dict(), sort_keys=True
    )
    X = ts.frame[ts.feature_names]
    np.testing.assert_array_equal(first.predict_proba(X), second.predict_proba(X))
    np.testing.assert_array_equal(first.predict_raw(X), second.predict_raw(X))


def test_scoring_twice_gives_identical_scores_and_reasons(
    full_run: FullRun, tmp_path: Path
) -> None:
    """`riskml score` again with the same model, data and as-of date, and once more streaming
    chunks of 97 households → identical frames (scores, ranks, tiers, flags, every reason text)
    and identical run metadata apart from the creation time."""
    from riskml.config import config_dir
    from riskml.scoring import read_scores

    base, base_meta = read_scores(full_run.scores)
    again, meta = _score(full_run, tmp_path / "again.parquet")
    pd.testing.assert_frame_equal(again, base, check_exact=True)
    assert _stable_meta(meta) == _stable_meta(base_meta)
    cfg = tmp_path / "scoring.yaml"
    text = (config_dir() / "scoring.yaml").read_text(encoding="utf-8")
    cfg.write_text(
        text.replace("chunk_households: 100000", "chunk_households: 97"), encoding="utf-8"
    )
    assert "chunk_households: 97" in cfg.read_text(encoding="utf-8")
    chunked, _ = _score(full_run, tmp_path / "chunked.parquet", "--config", str(cfg))
    pd.testing.assert_frame_equal(chunked, base, check_exact=True)
    assert base["flagged"].sum() > 0 and base["reason_1_zh"].notna().sum() > 0  # not vacuous


_FRESH = """
import sys
from riskml.cli import app
sys.argv = ["riskml", *sys.argv[1:]]
app()
"""


@pytest.mark.slow
def test_a_fresh_process_with_another_hash_seed_gives_the_same_bytes_and_scores(
    full_run: FullRun, tmp_path: Path
) -> None:
    """The training set and the scores computed in a new interpreter with PYTHONHASHSEED=12345
    (other set/dict iteration orders for strings) → the same training-set bytes and the same
    score frame as the full run."""
    from riskml.scoring import read_scores

    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env.update(PYTHONHASHSEED="12345", COLUMNS="250")
    ts = tmp_path / "training.parquet"
    scores = tmp_path / "scores.parquet"
    for args in (
        ["features", "build", "--data", str(full_run.data), *_TRAINING_ARGS, "--out", str(ts)],
        [
            "score", "--data", str(full_run.data), "--as-of", SCORING_AS_OF, "--model",
            full_run.model_uri, "--tracking-uri", full_run.tracking_uri, "--out", str(scores),
        ],
    ):  # fmt: skip
        res = subprocess.run(
            [sys.executable, "-c", _FRESH, *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=600,
        )
        assert res.returncode == 0, res.stderr[-3000:]
    assert ts.read_bytes() == full_run.training_set.read_bytes()
    pd.testing.assert_frame_equal(
        read_scores(scores)[0], read_scores(full_run.scores)[0], check_exact=True
    )


@pytest.fixture(scope="module")
def spark_session() -> Any:
    """A local Spark session on 2 cores (the scoring tests' pattern)."""
    import shutil

    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip(
            "Spark needs Java (java on PATH or JAVA_HOME); scripts/install-system-deps.sh installs it"
        )
    from riskml.scoring._spark import get_spark_session

    spark = get_spark_session("local[2]", driver_memory="2g")
    yield spark
    spark.stop()


@pytest.mark.spark
@pytest.mark.slow
def test_spark_engine_gives_the_local_answer_whatever_the_partitioning(
    full_run: FullRun, canary_bundle: Any, canary_model: Any, spark_session: Any
) -> None:
    """The canary roster on the Spark engine with 150 and with 5,000 households per partition →
    both frames identical to the local engine's file (scores, ranks, tiers, reasons), and the
    same status counts and drift figures."""
    from riskml.config.scoring import load_scoring_config
    from riskml.scoring import read_scores, score_roster

    local, _ = read_scores(full_run.scores)
    base = load_scoring_config()
    runs = []
    for per_partition in (150, 5000):
        cfg = base.model_copy(
            update={
                "spark": base.spark.model_copy(update={"households_per_partition": per_partition})
            }
        )
        runs.append(
            score_roster(
                canary_bundle,
                SCORING_AS_OF,
                out=None,
                model=canary_model,
                config=cfg,
                engine="spark",
                spark=spark_session,
                quiet=True,
            )
        )
    for run in runs:
        pd.testing.assert_frame_equal(run.scores, local, check_exact=True)
    assert runs[0].summary["status"] == runs[1].summary["status"]
    assert runs[0].summary["drift"]["psi"] == runs[1].summary["drift"]["psi"]


def test_reason_codes_do_not_depend_on_the_batch(
    full_run: FullRun, canary_bundle: Any, canary_model: Any
) -> None:
    """The same households' SHAP rows explained all at once, in batches of 7 and one by one →
    bit-identical reason contributions, other contribution and raw score (scoring explains the
    flagged households chunk by chunk, and a chunk may hold a single one)."""
    from riskml import explain
    from riskml.features import compute_features

    ids = canary_bundle.households["household_id"].iloc[:120]
    pairs = pd.DataFrame({"household_id": ids.to_numpy(), "as_of": pd.Timestamp(SCORING_AS_OF)})
    X = compute_features(
        canary_bundle, pairs, canary_model.feature_set, catalog=canary_model.catalog
    )
    contrib = explain.TreeShapExplainer(canary_model.booster).shap_values(canary_model.encode(X))
    features = canary_model.feature_set.features

    def reasons(rows: slice) -> pd.DataFrame:
        return explain.reason_codes(contrib[rows], X.iloc[rows], features, mode="internal")

    whole = reasons(slice(0, len(X)))
    for step in (7, 1):
        parts = pd.concat([reasons(slice(i, i + step)) for i in range(0, len(X), step)])
        pd.testing.assert_frame_equal(parts, whole, check_exact=True)
    assert whole["reason_1_contribution"].notna().sum() > 10  # not vacuous
