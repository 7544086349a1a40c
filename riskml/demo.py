"""``riskml demo``: the main job end to end on the embedded default data.

synthesise a province → validate it → train, backtest and register a model → score the roster as
of the extraction date → write the review-meeting reports. Each step is one library call; this
module only strings them together and prints what happened.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.rule import Rule

__all__ = ["DemoResult", "run_demo"]


@dataclass
class DemoResult:
    bundle_dir: Path
    model_uri: str
    scores_path: Path
    reports_dir: Path
    seconds: dict[str, float] = field(default_factory=dict)


def run_demo(
    out_dir: str | Path = "data/demo",
    *,
    households: int = 20_000,
    seed: int = 7,
    tracking_uri: str | None = None,
    model_name: str = "riskml-demo",
    report_formats: str = "html,pdf",
    console: Console | None = None,
) -> DemoResult:
    """Run the whole flow on a synthetic province written to ``out_dir``.

    Outputs: the bundle in ``out_dir`` (ground truth beside it), the model in the MLflow store
    (``tracking_uri``, default ``models/mlflow.db``), scores in ``<out_dir>-out/scores.parquet``
    and public village reports in ``<out_dir>-out/reports/``.
    """
    from riskml.data import check_bundle, render_summary
    from riskml.reports import render_review_reports
    from riskml.scoring import print_summary, score_roster
    from riskml.synth import write_synthetic_province
    from riskml.tracking import train_and_register

    con = console or Console()
    seconds: dict[str, float] = {}
    out_dir = Path(out_dir)
    results_dir = out_dir.parent / f"{out_dir.name}-out"
    results_dir.mkdir(parents=True, exist_ok=True)

    def step(title: str) -> float:
        con.print(Rule(f"[bold]{title}"))
        return time.perf_counter()

    t = step(f"1/5 synthesise {households:,} households (seed {seed})")
    synth = write_synthetic_province(out_dir, households, seed)
    seconds["synth"] = time.perf_counter() - t
    con.print(f"bundle {synth.bundle_dir}; ground truth {synth.truth_path}")

    t = step("2/5 validate the bundle against the data contract")
    checked = check_bundle(out_dir)
    for renderable in render_summary(checked.summary):
        con.print(renderable)
    seconds["validate"] = time.perf_counter() - t

    t = step("3/5 train: training set, temporal backtest vs today's rules, MLflow registry")
    trained = train_and_register(
        out_dir, tracking_uri=tracking_uri, model_name=model_name, progress=lambda m: con.print(f"  {m}")
    )
    seconds["train"] = time.perf_counter() - t
    con.print(trained.markdown)
    con.print(f"registered {trained.version_uri} (aliases: {', '.join(trained.aliases)})")

    t = step(f"4/5 score the roster as of {checked.bundle.extracted_on}")
    scores_path = results_dir / "scores.parquet"
    run = score_roster(
        out_dir,
        checked.bundle.extracted_on,
        out=scores_path,
        model_uri=trained.version_uri,
        tracking_uri=tracking_uri,
        console=con,
        quiet=True,
    )
    seconds["score"] = time.perf_counter() - t
    print_summary(run.summary, run.scores, console=con, top=10)

    t = step("5/5 review-meeting reports (public mode, Chinese, one per village)")
    reports = render_review_reports(
        scores_path, results_dir / "reports", level="village", lang="zh", mode="public", formats=report_formats
    )
    seconds["reports"] = time.perf_counter() - t
    con.print(f"{len(reports.units)} village reports; open {reports.index}")

    con.print(Rule("[bold]done"))
    for name, value in seconds.items():
        con.print(f"  {name:<9} {value:7.1f} s")
    con.print(f"scores  {scores_path}\nreports {reports.index}\nmodel   {trained.version_uri}")
    return DemoResult(
        bundle_dir=Path(synth.bundle_dir),
        model_uri=trained.version_uri,
        scores_path=scores_path,
        reports_dir=Path(reports.out_dir),
        seconds=seconds,
    )
