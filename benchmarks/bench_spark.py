"""Spark benchmark: ``riskml score`` and ``riskml features build`` with ``--engine spark`` on
``local[2]``, each against the local engine on the same province in the same run.

The province and the model are the scoring benchmark's (``benchmarks/work/scoring``: a province
written by ``riskml synth``, seed 23, and the champion trained once on a separate 20,000-household
province). Four runs of the real command, each in its own process:

1. ``riskml score --as-of 2025-06-30`` (reasons for the flagged), local engine, then Spark;
2. ``riskml features build`` 2021-03-31 to 2024-06-30 every 3 months (14 as-of dates, the
   ``default`` feature set, censored dates kept), local engine, then Spark.

For each run: wall time and the peak resident memory of the command's process tree, sampled every
0.2 s and split into the driver (the riskml Python process), the JVM (in local mode it holds both
the Spark driver and the executor) and the executor's Python workers (summed over workers), plus
the peak of the whole tree. The training sets of both engines are compared byte for byte, the
score files row for row (their metadata name the engine and the time of the run).

Scales: ``small`` = 20,000 households, ``medium`` = 200,000 (run directly:
``python -m benchmarks.bench_spark medium``), ``full`` = 1,000,000.
"""

from __future__ import annotations

import filecmp
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks import bench_scoring

SCALES: dict[str, int] = {"small": 20_000, "medium": 200_000, "full": 1_000_000}
START, END, EVERY = "2021-03-31", "2024-06-30", "3M"
HOUSEHOLDS_PER_PARTITION = 50_000  # ScoringConfig.spark and write_training_set_spark's default
CORES = 2


def _role(proc: Any, root_pid: int) -> str:
    """driver, jvm or worker: which part of a local Spark run a process of the tree is."""
    try:
        cmd = " ".join(proc.cmdline())
        name = proc.name()
    except Exception:  # the process ended while sampled
        return "gone"
    if proc.pid == root_pid:
        return "driver"
    if "java" in name or "org.apache.spark" in cmd:
        return "jvm"
    if "pyspark" in cmd:
        return "worker"
    return "other"


def _sampled(cmd: list[str]) -> dict[str, Any]:
    """Run ``cmd``: wall time and peak RSS (GiB) per role of its process tree."""
    # output to files, not pipes: a pipe nobody reads while sampling fills up and blocks the run
    with tempfile.TemporaryFile("w+") as out_file, tempfile.TemporaryFile("w+") as err_file:
        started = time.perf_counter()
        proc = subprocess.Popen(
            cmd, stdout=out_file, stderr=err_file, text=True, env=bench_scoring._env()
        )
        peaks = _peaks_while_running(proc)
        wall = time.perf_counter() - started
        out_file.seek(0)
        err_file.seek(0)
        stdout, stderr = out_file.read(), err_file.read()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{stderr[-3000:]}\n{stdout[-2000:]}")
    return {
        "wall_seconds": round(wall, 2),
        "peak_rss_gib": {k: round(v / 2**30, 3) for k, v in peaks.items()},
        "stdout": stdout.strip()[-400:],
    }


def _peaks_while_running(proc: Any) -> dict[str, int]:
    """Peak RSS (bytes) per role of ``proc``'s tree, sampled every 0.2 s until it ends."""
    import psutil

    root = psutil.Process(proc.pid)
    peaks = {"driver": 0, "jvm": 0, "worker": 0, "total": 0}
    while proc.poll() is None:
        now = {"driver": 0, "jvm": 0, "worker": 0, "total": 0}
        try:
            procs = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            break
        for p in procs:
            try:
                rss = p.memory_info().rss
            except psutil.Error:
                continue
            role = _role(p, proc.pid)
            if role in now:
                now[role] += rss
            now["total"] += rss
        peaks = {k: max(peaks[k], now[k]) for k in peaks}
        time.sleep(0.2)
    proc.wait()
    return peaks


def _score(bundle: Path, uri: str, store: str, out: Path, engine: str) -> dict[str, Any]:
    cmd = [*bench_scoring._riskml(), "score", "--data", str(bundle), "--as-of"]
    cmd += [bench_scoring.AS_OF, "--model", uri, "--tracking-uri", store, "--out", str(out)]
    cmd += ["--top", "0", "--engine", engine]
    print(f"   riskml score --engine {engine}", flush=True)
    result = _sampled(cmd)
    summary = json.loads(out.with_name(out.name + ".summary.json").read_text(encoding="utf-8"))
    result["timings_seconds"] = {
        k: round(v, 2) for k, v in summary.get("timings_seconds", {}).items()
    }
    del result["stdout"]
    return result


def _features(bundle: Path, out: Path, engine: str) -> dict[str, Any]:
    cmd = [*bench_scoring._riskml(), "features", "build", "--data", str(bundle), "--out", str(out)]
    cmd += ["--start", START, "--end", END, "--every", EVERY, "--include-censored"]
    cmd += ["--engine", engine]
    print(f"   riskml features build --engine {engine}", flush=True)
    return _sampled(cmd)


def _per_partition(spark_wall: float, households: int) -> dict[str, Any]:
    """Partitions of the run and core-seconds per partition, an upper bound: the fixed costs
    (JVM start, loading and packing on the driver) are charged to the tasks. The marginal cost
    comes from two scales: (wall(200k) - wall(20k)) x cores per 180,000 households."""
    parts = max(1, -(-households // HOUSEHOLDS_PER_PARTITION))
    return {
        "partitions": parts,
        "households_per_partition": min(households, HOUSEHOLDS_PER_PARTITION),
        "core_seconds_per_partition_upper_bound": round(spark_wall * CORES / parts, 1),
    }


def _same_rows(a: Path, b: Path) -> bool:
    """The same score rows, values and dtypes (the files' metadata differ: engine, created_at)."""
    import pandas as pd

    try:
        pd.testing.assert_frame_equal(pd.read_parquet(a), pd.read_parquet(b), check_exact=True)
    except AssertionError:
        return False
    return True


def run(scale: str, workdir: Path) -> dict[str, Any]:
    """Both commands on both engines at ``scale``; see the module docstring."""
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {sorted(SCALES)}. Got {scale!r} instead.")
    n = SCALES[scale]
    root = workdir / "scoring"
    root.mkdir(parents=True, exist_ok=True)
    bundle = bench_scoring._province(root, n, bench_scoring.SEED)
    uri, store = bench_scoring._model(root)
    out = workdir / "spark"
    out.mkdir(parents=True, exist_ok=True)

    score = {
        e: _score(bundle, uri, store, out / f"scores_{e}_{n}.parquet", e)
        for e in ("local", "spark")
    }
    feats = {e: _features(bundle, out / f"training_{e}_{n}.parquet", e) for e in ("local", "spark")}
    return {
        "households": n,
        "master": "local[2]",
        "score": {
            **score,
            "spark_over_local_wall": round(
                score["spark"]["wall_seconds"] / score["local"]["wall_seconds"], 2
            ),
            "identical_rows": _same_rows(
                out / f"scores_local_{n}.parquet", out / f"scores_spark_{n}.parquet"
            ),
            "per_partition": _per_partition(score["spark"]["wall_seconds"], n),
        },
        "features_build": {
            **feats,
            "as_of_dates": 14,
            "spark_over_local_wall": round(
                feats["spark"]["wall_seconds"] / feats["local"]["wall_seconds"], 2
            ),
            "identical_files": filecmp.cmp(
                out / f"training_local_{n}.parquet",
                out / f"training_spark_{n}.parquet",
                shallow=False,
            ),
            "per_partition": _per_partition(feats["spark"]["wall_seconds"], n),
        },
    }


if __name__ == "__main__":  # pragma: no cover - python -m benchmarks.bench_spark [small|full]
    print(
        json.dumps(
            run(sys.argv[1] if len(sys.argv) > 1 else "small", Path("benchmarks/work")), indent=2
        )
    )
