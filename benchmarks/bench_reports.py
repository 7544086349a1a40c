"""Review reports for every village of a province: time per report, HTML and PDF.

``full``: a 200,000-household province in 1,100 villages (about 5 % of households flagged);
``small``: 10,000 households in 50 villages. The score file is written with the report tests'
generator (``tests/reports/_scores.py``, the scorer's own writer) and the reports
are rendered by ``riskml.reports.render_review_reports`` (public, Chinese, HTML + PDF), the
same call as ``riskml report --level village --format html,pdf``.
"""

from __future__ import annotations

import os
import resource
import shutil
import statistics
import time
from pathlib import Path
from typing import Any

SCALES: dict[str, dict[str, int]] = {
    "small": {"households": 10_000, "villages": 50},
    "full": {"households": 200_000, "villages": 1_100},
}


def _quantiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {
        "mean": round(statistics.fmean(values), 4),
        "median": round(statistics.median(values), 4),
        "p95": round(p95, 4),
        "max": round(ordered[-1], 4),
    }


def _cpu_seconds() -> float:
    own, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def run(scale: str, workdir: Path, *, mode: str = "public", lang: str = "zh") -> dict[str, Any]:
    """Generate the province's score file, render every village report, return timings."""
    from riskml.reports import render_review_reports
    from tests.reports._scores import ProvinceSpec, make_scores, write_scores

    size = SCALES[scale]
    root = Path(workdir) / f"reports-{scale}"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    t0 = time.perf_counter()
    spec = ProvinceSpec(
        n_households=size["households"],
        n_villages=size["villages"],
        villages_per_township=12,
        townships_per_county=10,
        seed=2025,
        raw_mean=-4.5,
    )
    frame = make_scores(spec)
    scores = write_scores(root / "scores.parquet", frame, mode="internal")
    t_gen = time.perf_counter() - t0

    load_before = os.getloadavg()[0]
    cpu0 = _cpu_seconds()
    result = render_review_reports(
        scores, root / "out", level="village", lang=lang, mode=mode, formats="html,pdf"
    )
    cpu = _cpu_seconds() - cpu0
    per = {k: [u["seconds"][k] for u in result.units] for k in ("charts", "html", "pdf")}
    per_report = [sum(u["seconds"].values()) for u in result.units]
    flagged = [u["counts"]["flagged"] for u in result.units]
    files = [p for p in result.out_dir.rglob("*") if p.is_file()]
    out = {
        "households": len(frame),
        "villages": len(result.units),
        "flagged_households": int(sum(flagged)),
        "flagged_per_village": _quantiles([float(x) for x in flagged]),
        "mode": mode,
        "lang": lang,
        "score_file_seconds": round(t_gen, 2),
        "render_seconds": result.seconds,
        "seconds_per_report": _quantiles(per_report),
        "seconds_per_report_by_step": {k: _quantiles(v) for k, v in per.items()},
        "reports_per_minute": round(60 * len(result.units) / max(result.seconds["total"], 1e-9), 1),
        # CPU time of this process and its PDF worker processes: less sensitive to a busy
        # machine than wall-clock time (the shared development machine is often overloaded)
        "cpu_seconds_total": round(cpu, 2),
        "cpu_seconds_per_report": round(cpu / max(len(result.units), 1), 3),
        "load_average_at_start": round(load_before, 2),
        "cpus": os.cpu_count(),
        "output_mib": round(sum(p.stat().st_size for p in files) / 2**20, 1),
        "files": len(files),
    }
    shutil.rmtree(root, ignore_errors=True)
    return out
