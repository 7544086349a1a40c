"""Run riskml's benchmarks and write JSON results to ``benchmarks/results/``.

Usage: ``python -m benchmarks.run [--only NAME ...] [--scale small|full]``. Each benchmark is a
module in this folder exposing ``run(scale: str, workdir: Path) -> dict``; its result is written
to ``benchmarks/results/<name>.json`` with machine facts. Ratios are always measured against a
baseline in the same run (the machine is noisy).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import time
from pathlib import Path

# name -> module under benchmarks/ (each stage registers its own here)
BENCHMARKS: dict[str, str] = {}
BENCHMARKS["training"] = "bench_training"  # riskml fit vs lightgbm.train alone (models stage)
BENCHMARKS["explain"] = "bench_explain"  # tree_shap vs pred_contrib on a roster (explain stage)
BENCHMARKS["reports"] = (
    "bench_reports"  # every village's review report, HTML + PDF: time per report (reports stage)
)
BENCHMARKS["features"] = (
    "bench_features"  # features build at scale (time, peak RSS) + riskml vs featuretools DFS (features stage)
)
BENCHMARKS["scoring"] = (
    "bench_scoring"  # riskml score at 20k/1M households: features+scores, reasons, explain-all throughput, peak RSS (scoring stage)
)
BENCHMARKS["synth_validate"] = (
    "bench_synth"  # riskml synth + riskml validate at 100k/1M households: time, peak RSS (synth stage)
)

BENCHMARKS["spark"] = (
    "bench_spark"  # score and features build, --engine spark on local[2] vs local: time, driver/JVM/worker memory
)

ROOT = Path(__file__).resolve().parent


def _machine() -> dict[str, object]:
    import psutil

    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", nargs="*", default=None, help="benchmark names to run")
    parser.add_argument(
        "--scale", choices=["small", "full"], default=os.environ.get("BENCH_SCALE", "full")
    )
    args = parser.parse_args(argv)
    names = args.only or list(BENCHMARKS)
    unknown = sorted(set(names) - set(BENCHMARKS))
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; known: {sorted(BENCHMARKS)}")
    results_dir = ROOT / "results"
    results_dir.mkdir(exist_ok=True)
    workdir = ROOT / "work"
    workdir.mkdir(exist_ok=True)
    for name in names:
        module = importlib.import_module(f"benchmarks.{BENCHMARKS[name]}")
        print(f"== benchmark {name} (scale={args.scale})", flush=True)
        started = time.time()
        result = module.run(args.scale, workdir)
        payload = {
            "benchmark": name,
            "scale": args.scale,
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(started)),
            "wall_seconds_total": round(time.time() - started, 2),
            "machine": _machine(),
            "result": result,
        }
        out = results_dir / f"{name}.json"
        out.write_text(
            json.dumps(payload, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8"
        )
        print(json.dumps(payload["result"], indent=2, ensure_ascii=False, default=str), flush=True)
        print(f"-> {out}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
