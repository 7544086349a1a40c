"""Synth-stage benchmark: writing a province and validating it, at two sizes per scale.

For each size, ``riskml synth --households N --seed 11 --out DIR --workers 2`` (both cores) and
then ``riskml validate DIR`` each run as their own subprocess under a small wrapper that reports
the command's wall time, CPU time (all its processes), the peak RSS of its largest process
(``getrusage(RUSAGE_CHILDREN).ru_maxrss``) and the peak total RSS of its process tree (psutil,
polled every 0.2 s: synth's worker processes run at the same time). Also reported: rows per
table, bundle and ground-truth sizes on disk, households per second.

Scales: ``small`` = 5,000 and 20,000 households; ``full`` = 100,000 and 1,000,000.
Goal at full scale: 1,000,000 households written in minutes on 2 cores with bounded memory
(the generator holds one chunk of ``default_chunk_size`` households at a time).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

SCALES: dict[str, tuple[int, ...]] = {"small": (5_000, 20_000), "full": (100_000, 1_000_000)}
SEED = 11
WORKERS = 2
GOAL_SECONDS_1M = 900.0
GOAL_PEAK_GIB = 4.0

_MEASURE = textwrap.dedent(
    """
    import json, resource, subprocess, sys, time
    import psutil
    t0 = time.perf_counter()
    proc = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ps = psutil.Process(proc.pid)
    tree_peak = 0
    while proc.poll() is None:
        try:
            rss = ps.memory_info().rss + sum(c.memory_info().rss for c in ps.children(recursive=True))
            tree_peak = max(tree_peak, rss)
        except psutil.Error:
            pass
        time.sleep(0.2)
    out, err = proc.communicate()
    wall = time.perf_counter() - t0
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(json.dumps({"returncode": proc.returncode, "wall_seconds": wall, "cpu_seconds": ru.ru_utime + ru.ru_stime,
                      "peak_rss_kib": ru.ru_maxrss, "tree_peak_rss_kib": tree_peak // 1024,
                      "stdout": out[-2000:], "stderr": err[-2000:]}))
    """
)


def _measured(cmd: list[str]) -> dict[str, Any]:
    """Run ``cmd`` under a wrapper process: wall time, CPU time and peak RSS of ``cmd`` alone."""
    out = subprocess.run(
        [sys.executable, "-c", _MEASURE, *cmd], capture_output=True, text=True, check=True
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    if result["returncode"] != 0:
        raise RuntimeError(
            f"{' '.join(cmd)} failed (exit {result['returncode']}):\n{result['stderr']}"
        )
    return result


def _size_mib(path: Path) -> float:
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return round(sum(p.stat().st_size for p in files) / 2**20, 1)


def _one(workdir: Path, households: int) -> dict[str, Any]:
    import pyarrow.parquet as pq

    out = workdir / "synth" / f"province_{households}_seed{SEED}"
    truth = Path(str(out) + ".truth.parquet")
    if out.exists():
        shutil.rmtree(out)
    truth.unlink(missing_ok=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    riskml = [sys.executable, "-m", "riskml.cli"]
    print(f"   riskml synth --households {households:,}", flush=True)
    synth = _measured(
        [*riskml, "synth", "--households", str(households), "--seed", str(SEED), "--out", str(out)]
    )
    rows = {p.stem: pq.read_metadata(p).num_rows for p in sorted(out.glob("*.parquet"))}
    print(f"   riskml validate ({sum(rows.values()):,} rows)", flush=True)
    validate = _measured([*riskml, "validate", str(out)])
    peak_gib = synth["tree_peak_rss_kib"] / 2**20
    result: dict[str, Any] = {
        "households": households,
        "synth": {
            "wall_seconds": round(synth["wall_seconds"], 2),
            "cpu_seconds": round(synth["cpu_seconds"], 2),
            "workers": WORKERS,
            "peak_rss_largest_process_gib": round(synth["peak_rss_kib"] / 2**20, 3),
            "peak_rss_all_processes_gib": round(peak_gib, 3),
            "households_per_second": round(households / synth["wall_seconds"]),
        },
        "validate": {
            "wall_seconds": round(validate["wall_seconds"], 2),
            "cpu_seconds": round(validate["cpu_seconds"], 2),
            "peak_rss_gib": round(validate["tree_peak_rss_kib"] / 2**20, 3),
            "rows_per_second": round(sum(rows.values()) / validate["wall_seconds"]),
        },
        "rows": rows,
        "bundle_mib": _size_mib(out),
        "truth_mib": _size_mib(truth),
        "truth_rows": pq.read_metadata(truth).num_rows,
    }
    if households >= 1_000_000:
        result["goal"] = {"seconds": GOAL_SECONDS_1M, "peak_rss_gib": GOAL_PEAK_GIB}
        result["meets_goal"] = (
            synth["wall_seconds"] <= GOAL_SECONDS_1M and peak_gib <= GOAL_PEAK_GIB
        )
    return result


def run(scale: str, workdir: Path) -> dict[str, Any]:
    """Time and peak memory of ``riskml synth`` and ``riskml validate`` at this scale's sizes."""
    if scale not in SCALES:
        raise ValueError(f"Unknown scale {scale!r}; use one of {sorted(SCALES)}.")
    return {"seed": SEED, "runs": [_one(Path(workdir), n) for n in SCALES[scale]]}
