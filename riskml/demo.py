"""``riskml demo``: the main job end to end on the embedded default data.

synthesise a province → validate it → train, backtest and register a model → score the roster as
of the extraction date → write the review-meeting reports. Each step is one library call; this
module only strings them together and prints what happened.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd
from rich.console import Console
from rich.markup import escape
from rich.rule import Rule
from rich.table import Table

from riskml.data import (
    CONCLUSIONS_ZH,
    OUTCOME_ZH,
    REGISTRATION_COLUMNS,
    check_bundle,
    import_reviews,
    render_summary,
)
from riskml.reports import find_cjk_font, render_review_reports
from riskml.scoring import print_summary, score_roster
from riskml.synth import GroundTruthOracle, write_synthetic_province
from riskml.tracking import train_and_register

__all__ = ["DemoError", "DemoResult", "run_demo"]


T = TypeVar("T")


class DemoError(ValueError):
    """The demo cannot run as asked (e.g. an unknown report format); nothing was written."""


_BACKTEST_COLUMNS = (
    ("roc_auc", "ROC-AUC"),
    ("pr_auc", "PR-AUC"),
    ("brier", "Brier"),
    ("recall_at_capacity", "recall@cap"),
    ("precision_at_capacity", "prec@cap"),
    ("recall_at_capacity_vs_rules", "recall vs rules"),
)


@dataclass
class DemoResult:
    """What :func:`run_demo` wrote.

    Attributes
    ----------
    bundle_dir
        The synthetic bundle (its ground truth is ``<bundle_dir>.truth.parquet``).
    model_uri
        The registered version that scored the roster (``models:/NAME/VERSION``).
    scores_path
        The internal score file (Parquet), one row per household of the roster.
    reports_dir, reports_index
        The public village reports and their ``index.html``.
    backtest_table
        Pooled out-of-fold metrics, methods as rows (``TrainResult.table``).
    summary
        The scoring run's summary (also written beside the score file).
    seconds
        Wall-clock seconds per step.
    """

    bundle_dir: Path
    model_uri: str
    scores_path: Path
    reports_dir: Path
    reports_index: Path
    backtest_table: pd.DataFrame
    summary: dict[str, Any]
    seconds: dict[str, float] = field(default_factory=dict)


def _stand_in_reviews(scores: pd.DataFrame, listed_on: Any, seed: int, folder: Path) -> Path:
    """A filled 核实登记表 (CSV, UTF-8) as cadres would return it: a seeded random 70 % of the
    flagged households visited ten days after the list, with a seeded conclusion (15 % 纳入监测对象,
    75 % 暂不纳入, 10 % 无法核实). A stand-in for the demo only: real conclusions come from visits."""
    import numpy as np

    rng = np.random.default_rng(seed + 1)
    flagged = scores.loc[scores["flagged"].fillna(False).astype(bool)].reset_index(drop=True)
    visited = flagged.loc[rng.random(len(flagged)) < 0.7].reset_index(drop=True)
    outcome = rng.choice(
        ["identified", "not_at_risk", "unreachable"], size=len(visited), p=[0.15, 0.75, 0.10]
    )
    label = {v: k for k, v in CONCLUSIONS_ZH.items()}
    reviewed_on = (pd.Timestamp(listed_on) + pd.Timedelta(days=10)).date().isoformat()
    sheet = pd.DataFrame(
        {
            REGISTRATION_COLUMNS[0]: visited["household_id"].astype(str),
            REGISTRATION_COLUMNS[1]: visited["village_name"].astype(str),
            REGISTRATION_COLUMNS[2]: visited["group_name"].astype("string").fillna(""),
            REGISTRATION_COLUMNS[3]: visited["tier"].astype(str),
            REGISTRATION_COLUMNS[4]: visited["rank_village"].astype("Int64").astype(str),
            REGISTRATION_COLUMNS[5]: visited["reason_1_zh"].astype("string").fillna(""),
            REGISTRATION_COLUMNS[6]: visited["measures_zh"].astype("string").fillna(""),
            REGISTRATION_COLUMNS[7]: reviewed_on,
            REGISTRATION_COLUMNS[8]: "演示",
            REGISTRATION_COLUMNS[9]: [label[o] for o in outcome],
            REGISTRATION_COLUMNS[10]: "",
            REGISTRATION_COLUMNS[11]: [f"demo stand-in: {OUTCOME_ZH[o]}" for o in outcome],
        }
    )
    path = folder / "核实登记表-demo.csv"
    sheet.to_csv(path, index=False, encoding="utf-8-sig")
    return path


def _backtest_table(table: pd.DataFrame, capacity: str) -> Table:
    """The pooled backtest comparison, methods as rows (the full report is in the MLflow run)."""
    shown = [(c, label) for c, label in _BACKTEST_COLUMNS if c in table.columns]
    n = int(table["n"].iloc[0]) if "n" in table.columns and len(table) else 0
    positives = (
        int(table["positives"].iloc[0]) if "positives" in table.columns and len(table) else 0
    )
    out = Table(
        title=f"Backtest, pooled out-of-fold: {n:,} rows, {positives:,} positives; capacity {capacity}",
        title_justify="left",
    )
    out.add_column("method", no_wrap=True)
    for _, label in shown:
        out.add_column(label, justify="right")
    for method, row in table.iterrows():
        out.add_row(str(method), *(f"{row[c]:.3f}" for c, _ in shown))
    return out


def _report_formats(report_formats: str) -> list[str]:
    formats = [p.strip().lower() for p in str(report_formats).split(",") if p.strip()]
    if not formats or any(p not in ("html", "pdf") for p in formats):
        raise DemoError(
            f"Report formats (report_formats, --formats) must be html, pdf or html,pdf. Got {report_formats!r} instead."
        )
    return formats


@dataclass
class _Demo:
    """One demo run: where it writes, what it prints to, and each step's wall-clock seconds."""

    con: Console
    out_dir: Path
    tracking_uri: str | None
    seed: int
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def results_dir(self) -> Path:
        return self.out_dir.parent / f"{self.out_dir.name}-out"

    def step(self, name: str, title: str, run: Callable[..., T], *args: Any) -> T:
        """Print ``title``, run ``run(*args)`` and keep its seconds as ``name``."""
        self.con.print(Rule(f"[bold]{escape(title)}"))
        started = time.perf_counter()
        result = run(*args)
        self.seconds[name] = time.perf_counter() - started
        return result


def _synthesise(d: _Demo, households: int) -> Any:
    synth = write_synthetic_province(d.out_dir, households, d.seed)
    d.con.print(f"bundle {synth.bundle_dir}; ground truth {synth.truth_path}", markup=False)
    return synth


def _validate(d: _Demo) -> Any:
    """Check the bundle against the data contract and print its summary."""
    checked = check_bundle(d.out_dir)
    for renderable in render_summary(checked.summary):
        d.con.print(renderable)
    return checked


def _train(d: _Demo, truth_path: Path | None, model_name: str) -> Any:
    """Train, backtest (with the ground truth as the oracle) and register the demo model."""
    return train_and_register(
        d.out_dir,
        tracking_uri=d.tracking_uri,
        model_name=model_name,
        oracle=GroundTruthOracle(truth_path) if truth_path else None,
        progress=lambda m: d.con.print(f"  {m}", markup=False, highlight=False),
    )


def _print_training(con: Console, trained: Any) -> None:
    """The backtest table, skipped folds, model vs rules, and where the model is registered."""
    bt = trained.backtest
    con.print(_backtest_table(trained.table, bt.capacity if bt is not None else "?"))
    if bt is not None and "status" in bt.folds.columns:
        skipped = bt.folds[bt.folds["status"] != "ok"]
        for _, fold in skipped.iterrows():
            con.print(f"  fold {fold['fold']} skipped: {fold['reason']}", markup=False)
    if {"model", "rules"} <= set(trained.table.index):
        m = trained.table.loc["model", "recall_at_capacity"]
        r = trained.table.loc["rules", "recall_at_capacity"]
        verdict = "beats" if m > r else "does NOT beat"
        con.print(
            f"At cadre capacity the model {verdict} today's rules (recall {m:.3f} vs {r:.3f})."
        )
    con.print(
        f"registered {trained.version_uri} (aliases: {', '.join(trained.aliases)}); full backtest "
        f"report: artifact backtest/backtest.md of run {trained.run_id} in {trained.tracking_uri}",
        markup=False,
    )


def _review_loop(d: _Demo, as_of: Any, model_uri: str) -> Path:
    """Score last month's list, have a seeded stand-in review it and import the sheet (twice:
    the second import changes nothing). Returns last month's score file."""
    d.results_dir.mkdir(parents=True, exist_ok=True)
    last_month = (pd.Timestamp(as_of) - pd.DateOffset(months=1)).date()
    previous_path = d.results_dir / "scores-previous.parquet"
    previous = score_roster(
        d.out_dir,
        last_month,
        out=previous_path,
        model_uri=model_uri,
        tracking_uri=d.tracking_uri,
        console=d.con,
        quiet=True,
    )
    sheet = _stand_in_reviews(previous.scores, last_month, d.seed, d.results_dir)
    for attempt in ("first import", "same sheet again"):
        imported = import_reviews([sheet], d.out_dir)
        d.con.print(f"  reviews import ({attempt}):", markup=False)
        for line in imported.lines():
            d.con.print(f"    {line}", markup=False, highlight=False)
    return previous_path


def _score(d: _Demo, as_of: Any, model_uri: str, previous_path: Path) -> Any:
    """Score the roster as of ``as_of``, following up last month's list (``previous_path``)."""
    return score_roster(
        d.out_dir,
        as_of,
        out=d.results_dir / "scores.parquet",
        model_uri=model_uri,
        tracking_uri=d.tracking_uri,
        previous=previous_path,
        console=d.con,
        quiet=True,
    )


def _village_reports(d: _Demo, scores_path: Path, formats: list[str]) -> Any:
    """Public-mode Chinese review-meeting reports, one per village."""
    reports = render_review_reports(
        scores_path,
        d.results_dir / "reports",
        level="village",
        lang="zh",
        mode="public",
        formats=",".join(formats),
    )
    d.con.print(f"{len(reports.units)} village reports; open {reports.index}", markup=False)
    return reports


def _print_done(d: _Demo, scores_path: Path, index: Any, model_uri: str) -> None:
    d.con.print(Rule("[bold]done"))
    d.seconds["total"] = sum(d.seconds.values())
    for name, value in d.seconds.items():
        d.con.print(f"  {name:<9} {value:7.1f} s")
    d.con.print(f"scores  {scores_path}\nreports {index}\nmodel   {model_uri}", markup=False)


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
    (``tracking_uri``, default ``MLFLOW_TRACKING_URI`` or ``models/mlflow.db``) registered as
    ``model_name``, scores in ``<out_dir>-out/scores.parquet`` and public village reports in
    ``<out_dir>-out/reports/``. Rerunning replaces the bundle, scores and reports and registers
    a new model version.

    Raises
    ------
    ValueError, RuntimeError, OSError
        From the step that failed (bad arguments, a province too small to backtest, an
        unwritable folder, ...), with that step's message. Report formats and the CJK font
        the reports need are checked before anything is written.

    Examples
    --------
    >>> result = run_demo("/tmp/demo", households=3000, report_formats="html")  # doctest: +SKIP
    >>> result.scores_path  # doctest: +SKIP
    PosixPath('/tmp/demo-out/scores.parquet')
    """
    # fail fast on what would otherwise only fail at the last step, after the training
    formats = _report_formats(report_formats)
    find_cjk_font()  # CJKFontNotFoundError names the fonts to install
    d = _Demo(console or Console(), Path(out_dir), tracking_uri, seed)

    title = f"1/6 synthesise {households:,} households (seed {seed})"
    synth = d.step("synth", title, _synthesise, d, households)
    checked = d.step("validate", "2/6 validate the bundle against the data contract", _validate, d)
    title = "3/6 train: training set, temporal backtest vs today's rules, MLflow registry"
    trained = d.step("train", title, _train, d, synth.truth_path, model_name)
    _print_training(d.con, trained)
    model_uri, as_of = trained.version_uri, checked.bundle.extracted_on

    title = "4/6 last month's list, reviewed: a seeded stand-in for the cadres fills 核实登记表"
    previous_path = d.step("review loop", title, _review_loop, d, as_of, model_uri)
    title = f"5/6 score the roster as of {as_of}, following up last month's list"
    run = d.step("score", title, _score, d, as_of, model_uri, previous_path)
    print_summary(run.summary, run.scores, console=d.con, top=10)
    scores_path = d.results_dir / "scores.parquet"
    title = "6/6 review-meeting reports (public mode, Chinese, one per village)"
    reports = d.step("reports", title, _village_reports, d, scores_path, formats)

    _print_done(d, scores_path, reports.index, model_uri)
    return DemoResult(
        bundle_dir=Path(synth.bundle_dir),
        model_uri=model_uri,
        scores_path=scores_path,
        reports_dir=Path(reports.out_dir),
        reports_index=Path(reports.index),
        backtest_table=trained.table,
        summary=run.summary,
        seconds=d.seconds,
    )
