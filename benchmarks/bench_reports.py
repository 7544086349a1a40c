"""Review packs for a province: every village's list (HTML + PDF) and one verification page per
flagged household, timed against scoring the same roster in the same run.

On a province written by ``riskml synth`` (``small``: 20,000 households; ``full``: 1,000,000) and
the scoring benchmark's model (trained once on its own 20,000-household province; the helpers of
``benchmarks/bench_scoring.py``, under ``<workdir>/reports``):

1. **scoring** — ``riskml score --mode internal`` in its own process: the baseline.
2. **pack** — ``render_review_reports(level="village", mode="internal", formats="html,pdf")``:
   each village's internal list and its verification sheets (入户核实表), HTML and PDF, as
   ``riskml report --level village --mode internal --format html,pdf`` writes them. Reported:
   wall and CPU seconds, pages (counted in every PDF), seconds per page and per village, and
   the ratio to scoring (goal <= 3x; and <= 10 min at 1,000,000 households).
3. **meeting lists** — the public village lists (HTML + PDF), the same way.
4. **engines on the same villages** — the first villages' pack with ``pdf_engine: typst`` and
   with ``pdf_engine: weasyprint`` (the HTML laid out by WeasyPrint, the engine before Typst):
   seconds per PDF page of each, measured in this run on the same pages.
"""

from __future__ import annotations

import json
import os
import re
import resource
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

SCALES: dict[str, int] = {"small": 20_000, "full": 1_000_000}
SEED = 23
ENGINE_VILLAGES = 12  # villages rendered with both PDF engines
GOAL_RATIO = 3.0
GOAL_PACK_SECONDS_AT_1M = 600.0
_PAGE = re.compile(rb"/Type\s*/Page(?![a-zA-Z])")


def _cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _pages(pdf: Path) -> int:
    """Pages of a PDF: its page objects (Typst writes them uncompressed), else ``pdfinfo``
    (WeasyPrint compresses them into object streams)."""
    found = len(_PAGE.findall(pdf.read_bytes()))
    if found:
        return found
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True)
    match = re.search(r"^Pages:\s+(\d+)", info.stdout, re.M)
    return int(match.group(1)) if match else 0


def _render(scores: Path, out: Path, mode: str, engine: str = "typst") -> dict[str, Any]:
    """One ``render_review_reports`` call, timed; its pages counted."""
    from riskml.config.reports import load_reports_config
    from riskml.reports import render_review_reports

    config = load_reports_config().model_copy(update={"pdf_engine": engine})
    cpu0, t0 = _cpu_seconds(), time.perf_counter()
    result = render_review_reports(
        scores, out, level="village", lang="zh", mode=mode, formats="html,pdf", config=config
    )
    wall, cpu = time.perf_counter() - t0, _cpu_seconds() - cpu0
    pdfs = list((result.out_dir / "units").glob("*.pdf"))
    sheets = [p for p in pdfs if p.name.endswith(".verification.pdf")]
    pages_sheets = sum(_pages(p) for p in sheets)
    pages = pages_sheets + sum(_pages(p) for p in pdfs if p not in sheets)
    files = [p for p in result.out_dir.rglob("*") if p.is_file()]
    flagged = sum(u["counts"]["flagged"] for u in result.units)
    out_mib = sum(p.stat().st_size for p in files) / 2**20
    shutil.rmtree(result.out_dir, ignore_errors=True)
    return {
        "pdf_engine": engine,
        "villages": len(result.units),
        "flagged_households": flagged,
        "pdf_pages": pages,
        "verification_pages": pages_sheets,
        "files": len(files),
        "output_mib": round(out_mib, 1),
        "wall_seconds": round(wall, 2),
        "cpu_seconds": round(cpu, 2),
        "steps_seconds": result.seconds,
        "seconds_per_page": round(wall / max(pages, 1), 5),
        "pdf_seconds_per_page": round(result.seconds["pdf"] / max(pages, 1), 5),
        "seconds_per_village": round(wall / max(len(result.units), 1), 4),
    }


def _subset(scores: Path, out: Path, villages: int) -> Path:
    """The score file restricted to its first ``villages`` villages (same metadata)."""
    table = pq.read_table(scores)
    codes = sorted(set(table.column("village_code").to_pylist()))[:villages]
    kept = table.filter(pc.is_in(table.column("village_code"), value_set=pa.array(codes)))
    pq.write_table(kept, out)
    return out


def run(scale: str, workdir: Path) -> dict[str, Any]:
    """Score a province, then render its review pack; see the module docstring."""
    from benchmarks.bench_scoring import _model, _province, _score

    if scale not in SCALES:
        raise ValueError(f"scale must be one of {sorted(SCALES)}. Got {scale!r} instead.")
    n = SCALES[scale]
    root = Path(workdir) / "reports"
    root.mkdir(parents=True, exist_ok=True)
    bundle = _province(root, n, SEED)
    uri, store = _model(root)
    scores = root / f"scores_{n}.parquet"
    print(f"   riskml score --mode internal on {n:,} households (the baseline)", flush=True)
    scoring, summary = _score(bundle, uri, store, scores, "--mode", "internal")
    partial = root / "partial.json"  # each step's figures as soon as it is measured
    steps: dict[str, Any] = {"scoring": scoring}
    print("   review pack (internal lists + verification sheets, HTML + PDF)", flush=True)
    steps["pack"] = pack = _render(scores, root / "pack", "internal")
    partial.write_text(json.dumps(steps, indent=1), encoding="utf-8")
    print(f"   both PDF engines on the first {ENGINE_VILLAGES} villages", flush=True)
    subset = _subset(scores, root / "subset.parquet", ENGINE_VILLAGES)
    engines = {
        e: _render(subset, root / f"engine-{e}", "internal", e) for e in ("typst", "weasyprint")
    }
    steps["engines"] = engines
    partial.write_text(json.dumps(steps, indent=1), encoding="utf-8")
    print("   meeting lists (public, HTML + PDF)", flush=True)
    meeting = _render(scores, root / "meeting", "public")
    scoring_wall = scoring["wall_seconds"]
    return {
        "households": n,
        "flagged": summary["flagged"],
        "cpus": os.cpu_count(),
        "load_average_at_end": round(os.getloadavg()[0], 2),
        "scoring": {
            "process_wall_seconds": round(scoring_wall, 2),
            "process_cpu_seconds": round(scoring["cpu_seconds"], 2),
        },
        "pack": pack,
        "pack_ratio_to_scoring": round(pack["wall_seconds"] / scoring_wall, 2),
        "goal_ratio": GOAL_RATIO,
        "goal_pack_seconds_at_1m": GOAL_PACK_SECONDS_AT_1M,
        "meeting_lists": meeting,
        "meeting_ratio_to_scoring": round(meeting["wall_seconds"] / scoring_wall, 2),
        "engines_same_villages": engines,
        "weasyprint_over_typst_pdf_seconds_per_page": round(
            engines["weasyprint"]["pdf_seconds_per_page"]
            / max(engines["typst"]["pdf_seconds_per_page"], 1e-9),
            1,
        ),
    }
