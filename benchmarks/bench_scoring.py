"""Scoring-stage benchmark: ``riskml score`` on a synthetic province, end to end.

On a province written by ``riskml synth`` and a model trained like ``riskml train``'s final model
(on a separate 20,000-household province, registered in a SQLite store under
``benchmarks/work/scoring``; both written once and reused), two runs of the real command, each in its own process (wall time, CPU
time and peak RSS of that process alone):

1. **monthly run** — ``riskml score --as-of 2025-06-30 --out scores.parquet``: load the bundle,
   monitoring status, features, raw and calibrated scores, ranks and tiers, reasons for the
   flagged households, atomic Parquet write. The run's own timings (``<out>.summary.json``)
   split it into features + scores (goal at 1,000,000 households: <= 120 s on 2 cores), reasons
   for the flagged, and the rest.
2. **whole-roster explanation** — the same with ``--explain all``: TreeSHAP and reason codes for
   every scored household; reported as explained households per second. (The explain stage's own
   benchmark times ``tree_shap`` alone against ``pred_contrib``.)

Scales: ``small`` = 20,000 households, ``full`` = 1,000,000.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

SCALES: dict[str, int] = {"small": 20_000, "full": 1_000_000}
SEED = 23
TRAIN_HOUSEHOLDS, TRAIN_SEED = 20_000, 7
AS_OF = "2025-06-30"
MODEL_NAME = "riskml-bench-scoring"
GOAL_FEATURES_SCORES_SECONDS = 120.0

_MEASURE = textwrap.dedent(
    """
    import json, resource, subprocess, sys, time
    t0 = time.perf_counter()
    proc = subprocess.run(sys.argv[1:], capture_output=True, text=True)
    wall = time.perf_counter() - t0
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(json.dumps({"returncode": proc.returncode, "wall_seconds": wall, "cpu_seconds": ru.ru_utime + ru.ru_stime,
                      "peak_rss_kib": ru.ru_maxrss, "stdout": proc.stdout[-3000:], "stderr": proc.stderr[-3000:]}))
    """
)


def _riskml() -> list[str]:
    return [sys.executable, "-m", "riskml.cli"]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env["COLUMNS"] = "200"
    return env


def _measured(cmd: list[str]) -> dict[str, Any]:
    """Run ``cmd`` under a small wrapper process: wall time, CPU time and peak RSS of ``cmd`` alone."""
    out = subprocess.run(
        [sys.executable, "-c", _MEASURE, *cmd],
        capture_output=True,
        text=True,
        env=_env(),
        check=True,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    if result["returncode"] != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{result['stderr']}\n{result['stdout']}")
    return result


def _province(root: Path, households: int, seed: int) -> Path:
    """A synthetic province (written once with ``riskml synth``, then reused)."""
    out = root / f"province_{households}_seed{seed}"
    if (out / "bundle.yaml").is_file() and (out / "events.parquet").exists():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    print(f"   writing a {households:,}-household province with riskml synth -> {out}", flush=True)
    subprocess.run(
        [
            *_riskml(),
            "synth",
            "--households",
            str(households),
            "--seed",
            str(seed),
            "--out",
            str(out),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
        env=_env(),
    )
    return out


_TRAIN = textwrap.dedent(
    """
    import sys, tempfile
    from pathlib import Path
    import mlflow
    from riskml.config.training import load_training_config
    from riskml.data import load_bundle
    from riskml.features import build_training_set, load_catalog
    from riskml.models import fit_final_model
    from riskml.tracking import as_of_dates_for, feature_set_bundle, log_risk_model, open_store, register_version

    data, store_uri, name = sys.argv[1:4]
    config = load_training_config()
    bundle = load_bundle(data)
    dates, _ = as_of_dates_for(bundle, config)
    catalog = load_catalog()
    fs = catalog.feature_set(config.feature_set)
    ts = build_training_set(bundle, dates, config.horizon_months, feature_set=fs)
    model = fit_final_model(ts, config)
    store = open_store(store_uri)
    meta = {"name": name, "feature_set": fs.name, "feature_set_version": fs.version,
            "catalog_version": catalog.version, "horizon_months": config.horizon_months, "label": config.label,
            "as_of_first": str(min(dates).date()), "as_of_last": str(max(dates).date())}
    with store.active(), mlflow.start_run(experiment_id=store.experiment_id) as run, tempfile.TemporaryDirectory() as tmp:
        info = log_risk_model(model, feature_set_definition=feature_set_bundle(fs, catalog),
                              X_reference=ts.frame[fs.names], metadata={**meta, "run_id": run.info.run_id},
                              workdir=Path(tmp))
    register_version(store, name=name, model_uri=info.model_uri)
    print(len(ts.frame), len(dates))
    """
)


def _model(root: Path) -> tuple[str, str]:
    """The champion scored with, trained once on its own province and reused.

    The final model of ``riskml train`` (``configs/training.yaml``: as-of schedule, model
    parameters, calibration; ``fit_final_model``), logged and registered the same way, without
    the backtest, plots and model card that ``riskml train`` adds (they do not change the model).
    """
    store = f"sqlite:///{root / 'mlflow.db'}"
    uri = f"models:/{MODEL_NAME}@champion"
    marker = root / "model.trained"
    if marker.is_file():
        return uri, store
    train_dir = _province(root, TRAIN_HOUSEHOLDS, TRAIN_SEED)
    print(
        f"   training the benchmark model on {TRAIN_HOUSEHOLDS:,} households (configs/training.yaml)",
        flush=True,
    )
    subprocess.run(
        [sys.executable, "-c", _TRAIN, str(train_dir), store, MODEL_NAME], check=True, env=_env()
    )
    marker.write_text(uri + "\n", encoding="utf-8")
    return uri, store


def _score(
    bundle: Path, uri: str, store: str, out: Path, *extra: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    cmd = [
        *_riskml(),
        "score",
        "--data",
        str(bundle),
        "--as-of",
        AS_OF,
        "--model",
        uri,
        "--tracking-uri",
        store,
        "--out",
        str(out),
        "--top",
        "0",
        *extra,
    ]
    measured = _measured(cmd)
    summary = json.loads(out.with_name(out.name + ".summary.json").read_text(encoding="utf-8"))
    return measured, summary


def _phases(t: dict[str, float]) -> dict[str, float]:
    """Features + scores, reasons, and the rest, from a run's own timings (seconds)."""
    features_scores = sum(
        t.get(k, 0.0)
        for k in ("prepare", "partition_status", "partition_features", "partition_score")
    )
    reasons = t.get("partition_explain", 0.0) + t.get("explain_flagged", 0.0)
    return {
        "load_model": round(t.get("load_model", 0.0), 2),
        "load_bundle": round(t.get("load_bundle", 0.0), 2),
        "features_and_scores": round(features_scores, 2),
        "reasons": round(reasons, 2),
        "write": round(t.get("write", 0.0), 2),
        "run_total": round(t.get("total", 0.0), 2),
    }


def run(scale: str, workdir: Path) -> dict[str, Any]:
    """Run the scoring benchmark at ``scale`` (``small`` or ``full``); see the module docstring."""
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {sorted(SCALES)}. Got {scale!r} instead.")
    n = SCALES[scale]
    root = workdir / "scoring"
    root.mkdir(parents=True, exist_ok=True)
    bundle = _province(root, n, SEED)
    uri, store = _model(root)

    print(f"   riskml score on {n:,} households (reasons for the flagged)", flush=True)
    monthly, s1 = _score(bundle, uri, store, root / f"scores_{n}.parquet")
    print(f"   riskml score --explain all on {n:,} households", flush=True)
    explain_all, s2 = _score(
        bundle, uri, store, root / f"scores_all_{n}.parquet", "--explain", "all"
    )

    p1, p2 = _phases(s1["timings_seconds"]), _phases(s2["timings_seconds"])
    scored = s1["status"]["scored"]
    return {
        "households": n,
        "as_of": AS_OF,
        "model": {"uri": uri, "version": s1["model"]["version"], "feature_set": s1["feature_set"]},
        "status": s1["status"],
        "tiers": s1["tiers"],
        "flagged": s1["flagged"],
        "monthly_run": {
            "process_wall_seconds": round(monthly["wall_seconds"], 2),
            "process_cpu_seconds": round(monthly["cpu_seconds"], 2),
            "peak_rss_gib": round(monthly["peak_rss_kib"] / 2**20, 3),
            "phases_seconds": p1,
            "features_and_scores_households_per_second": round(
                n / max(p1["features_and_scores"], 1e-9)
            ),
            "explained_flagged": s1["explained"],
            "reasons_households_per_second": round(s1["explained"] / max(p1["reasons"], 1e-9)),
            "goal_features_and_scores_seconds_at_1m": GOAL_FEATURES_SCORES_SECONDS,
            "features_and_scores_seconds_scaled_to_1m": round(
                p1["features_and_scores"] * 1_000_000 / n, 1
            ),
        },
        "explain_all_run": {
            "process_wall_seconds": round(explain_all["wall_seconds"], 2),
            "peak_rss_gib": round(explain_all["peak_rss_kib"] / 2**20, 3),
            "phases_seconds": p2,
            "explained": s2["explained"],
            "explained_households_per_second": round(s2["explained"] / max(p2["reasons"], 1e-9)),
        },
        "scored": scored,
        "drift_warnings": s1["drift"].get("warnings", []) if s1.get("drift") else [],
    }
