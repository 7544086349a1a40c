"""The ``riskml`` command line: thin — parse arguments, load config, call one library function.

Each stage registers its commands below; heavy imports happen inside the commands so that
``riskml --help`` stays fast.
"""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from riskml import __version__

app = typer.Typer(
    name="riskml",
    help="Predict which rural households are at risk of falling (back) into poverty, and explain why.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)


def fail(message: str, code: int = 2) -> None:
    """Print a clear error (no traceback) and exit non-zero."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, markup=True)
    raise typer.Exit(code)


@app.command()
def version() -> None:
    """Print riskml's version."""
    console.print(f"riskml {__version__}")


# ---- stage commands (keep each block self-contained; add new ones above the end marker) ----


# ---- scoring: riskml score ----
@app.command("score")
def score_command(
    data: str = typer.Option(
        ..., "--data", help="Bundle folder (history tables up to the extraction date)."
    ),
    as_of: str = typer.Option(..., "--as-of", help="Scoring date, YYYY-MM-DD."),
    out: str = typer.Option(
        ..., "--out", help="Score file: .parquet, .csv (UTF-8 with BOM, Chinese headers) or .xlsx."
    ),
    model: str | None = typer.Option(
        None,
        "--model",
        help="Model URI, e.g. models:/riskml-recurrence@champion (default: configs/scoring.yaml).",
    ),
    engine: str = typer.Option("local", "--engine", help="local (streaming chunks) or spark."),
    spark_master: str | None = typer.Option(
        None, "--spark-master", help="Spark master URL (default local[2])."
    ),
    mode: str = typer.Option(
        "internal",
        "--mode",
        help="internal (full detail) or public (masked ids, no health details).",
    ),
    explain: str | None = typer.Option(
        None, "--explain", help="flagged or all (default: configs/scoring.yaml)."
    ),
    previous: str | None = typer.Option(
        None, "--previous", help="The previous run's internal score file, to mark changes."
    ),
    config: str | None = typer.Option(
        None, "--config", help="Scoring config YAML (default configs/scoring.yaml)."
    ),
    mapping: str | None = typer.Option(
        None, "--mapping", help="Mapping file for a bundle in a source system's layout."
    ),
    tracking_uri: str | None = typer.Option(
        None,
        "--tracking-uri",
        help="MLflow tracking URI (default: MLFLOW_TRACKING_URI or models/mlflow.db).",
    ),
    top: int = typer.Option(10, "--top", help="Flagged households to print with their reasons."),
) -> None:
    """Score every household of a roster as of a date: risk, rank, tier, reasons, run summary."""
    from riskml.config import ConfigError
    from riskml.scoring import ScoringError, ScoringOutputError, print_summary, score_roster

    if engine not in ("local", "spark"):
        fail(f"--engine must be 'local' or 'spark', got {engine!r}.")
    if mode not in ("internal", "public"):
        fail(f"--mode must be 'internal' or 'public', got {mode!r}.")
    if explain not in (None, "flagged", "all"):
        fail(f"--explain must be 'flagged' or 'all', got {explain!r}.")
    try:
        run = score_roster(
            data,
            as_of,
            out=out,
            model_uri=model,
            config=config,
            engine=engine,  # type: ignore[arg-type]
            spark_master=spark_master,
            mode=mode,
            explain=explain,
            previous=previous,  # type: ignore[arg-type]
            tracking_uri=tracking_uri,
            mapping=mapping,
            console=err_console,
            quiet=True,
        )
    except KeyboardInterrupt:
        fail("interrupted; no score file was written (a rerun starts afresh).", code=130)
    except (
        ScoringError,
        ScoringOutputError,
        ConfigError,
        FileNotFoundError,
        LookupError,
        RuntimeError,
        ValueError,
    ) as exc:
        from rich.markup import escape

        fail(escape(str(exc)))
    print_summary(run.summary, run.scores, console=console, top=top)


# ---- data: riskml validate ----
@app.command("validate")
def validate_command(
    directory: str = typer.Argument(
        ..., help="Bundle folder, or a source export described by --mapping."
    ),
    mapping: str | None = typer.Option(
        None,
        "--mapping",
        help="Mapping file, or a name under configs/mappings/ (e.g. national_export).",
    ),
    encoding: str | None = typer.Option(
        None, "--encoding", help="CSV encoding of every file (utf-8, gb18030/gbk); default: detect."
    ),
    quarantine: str | None = typer.Option(
        None,
        "--quarantine",
        help="CSV for quarantined rows (default: <DIR>.quarantine.csv beside DIR).",
    ),
    extracted_on: str | None = typer.Option(
        None, "--extracted-on", help="Extraction date YYYY-MM-DD (overrides bundle.yaml)."
    ),
) -> None:
    """Check a history bundle against the data contract and summarise it (exit 1 on errors)."""
    from rich.markup import escape

    from riskml.config import ConfigError
    from riskml.data import BundleError, check_bundle, render_summary

    try:
        result = check_bundle(
            directory,
            mapping=mapping,
            encoding=encoding,
            quarantine_path=quarantine,
            extracted_on=extracted_on,
        )
    except (BundleError, ConfigError) as exc:
        fail(escape(str(exc)), code=1)
        return
    for renderable in render_summary(result.summary):
        console.print(renderable)
    if result.quarantine_path is not None:
        console.print(
            f"{len(result.bundle.quarantine):,} quarantine records written to {escape(str(result.quarantine_path))}",
            highlight=False,
        )
    else:
        console.print("No rows quarantined: the bundle is valid.", highlight=False)


# ---- reports: riskml report, riskml report-model ----
@app.command("report")
def report_command(
    scores: str = typer.Option(
        ..., "--scores", help="Score file written by 'riskml score' (.parquet, .csv or .xlsx)."
    ),
    out: str = typer.Option(
        ...,
        "--out",
        help="Report folder (new, empty, or an earlier riskml report folder to replace).",
    ),
    level: str | None = typer.Option(
        None,
        "--level",
        help="village, township or county: one report per unit (default: configs/reports.yaml).",
    ),
    lang: str | None = typer.Option(
        None, "--lang", help="zh or en (default: configs/reports.yaml)."
    ),
    mode: str | None = typer.Option(
        None,
        "--mode",
        help="public (review meeting: masked ids, no health details) or internal (staff).",
    ),
    fmt: str | None = typer.Option(
        None,
        "--format",
        help="html, pdf and/or xlsx, comma-separated (PDF: A4, printable; xlsx: the 核实登记表 "
        "registration workbook, internal mode only).",
    ),
    workers: int | None = typer.Option(
        None, "--workers", help="Processes rendering PDFs (default: one per core, at most 4)."
    ),
) -> None:
    """Review-meeting reports (民主评议): one per village/township/county, plus an index page."""
    from rich.markup import escape

    from riskml.config import ConfigError
    from riskml.reports import (
        CJKFontNotFoundError,
        ReportInputError,
        ReportOutputError,
        ReportPrivacyError,
        render_review_reports,
    )

    try:
        result = render_review_reports(
            scores, out, level=level, lang=lang, mode=mode, formats=fmt, workers=workers
        )
    except KeyboardInterrupt:
        fail("interrupted; no report folder was written (a rerun starts afresh).", code=130)
        return
    except (
        CJKFontNotFoundError,
        ReportInputError,
        ReportOutputError,
        ReportPrivacyError,
        ConfigError,
        RuntimeError,
    ) as exc:
        fail(escape(str(exc)))
        return
    flagged = sum(u["counts"]["flagged"] for u in result.units)
    console.print(
        f"{len(result.units):,} {result.level} report(s) ({result.mode}, {result.lang}, {'+'.join(result.formats)}), "
        f"{flagged:,} flagged households, in {result.seconds['total']:.1f} s -> {escape(str(result.index))}",
        highlight=False,
    )


@app.command("report-model")
def report_model_command(
    model: str = typer.Option(
        ...,
        "--model",
        help="Model URI (models:/NAME@champion, models:/NAME/3, runs:/RUN_ID/model) or a folder of run artifacts.",
    ),
    out: str = typer.Option(
        ...,
        "--out",
        help="Report folder (new, empty, or an earlier riskml report folder to replace).",
    ),
    tracking_uri: str | None = typer.Option(
        None,
        "--tracking-uri",
        help="MLflow tracking URI (default: MLFLOW_TRACKING_URI or models/mlflow.db).",
    ),
    lang: str | None = typer.Option(
        None, "--lang", help="zh or en (default: configs/reports.yaml)."
    ),
    fmt: str | None = typer.Option(None, "--format", help="html, pdf or html,pdf."),
    no_log: bool = typer.Option(
        False, "--no-log", help="Do not log the report back to the MLflow run."
    ),
) -> None:
    """Model evaluation report (backtest vs baselines, ROC/PR/calibration, SHAP, fairness, card)."""
    from rich.markup import escape

    from riskml.config import ConfigError
    from riskml.reports import (
        CJKFontNotFoundError,
        ReportInputError,
        ReportOutputError,
        render_model_report,
    )
    from riskml.tracking import TrackingError

    try:
        result = render_model_report(
            model, out, tracking_uri=tracking_uri, lang=lang, formats=fmt, log_to_run=not no_log
        )
    except KeyboardInterrupt:
        fail("interrupted; no report folder was written.", code=130)
        return
    except (
        CJKFontNotFoundError,
        ReportInputError,
        ReportOutputError,
        TrackingError,
        ConfigError,
        RuntimeError,
    ) as exc:
        fail(escape(str(exc)))
        return
    missing = [k for k, ok in result.sections.items() if not ok]
    console.print(f"model report -> {escape(str(result.index))}", highlight=False)
    if result.logged_to:
        console.print(f"logged to {escape(result.logged_to)}", highlight=False)
    if missing:
        console.print(f"not logged by the run: {', '.join(missing)}", highlight=False)


# ---- features: riskml features build, riskml features check ----
features_app = typer.Typer(help="The feature catalog and training sets.", no_args_is_help=True)
app.add_typer(features_app, name="features")


@features_app.command("build")
def features_build_command(
    data: str = typer.Option(
        ..., "--data", help="Bundle folder (or a source export with --mapping)."
    ),
    start: str = typer.Option(..., "--start", help="First as-of date, YYYY-MM-DD."),
    end: str = typer.Option(..., "--end", help="Last as-of date (inclusive), YYYY-MM-DD."),
    every: str = typer.Option(
        "3M", "--every", help="Step between as-of dates: 3M, 1M, 1Y, 2W, 30D."
    ),
    out: str = typer.Option(..., "--out", help="Training-set Parquet file to write."),
    horizon: int | None = typer.Option(
        None, "--horizon", help="Label horizon in months (default: configs/labels.yaml)."
    ),
    feature_set: str | None = typer.Option(
        None, "--feature-set", help="Catalog feature set (default: configs/labels.yaml)."
    ),
    include_censored: bool = typer.Option(
        False, "--include-censored", help="Keep as-of dates whose horizon is still open (label NA)."
    ),
    chunk_households: int | None = typer.Option(
        None, "--chunk-households", help="Households per chunk (bounds memory)."
    ),
    labels: str | None = typer.Option(
        None, "--labels", help="Label config YAML (default configs/labels.yaml)."
    ),
    mapping: str | None = typer.Option(
        None, "--mapping", help="Mapping file for a bundle in a source system's layout."
    ),
) -> None:
    """Build a labelled training set: one row per eligible (household, as-of date), streamed to Parquet."""
    import time

    from rich.markup import escape

    from riskml.config import ConfigError
    from riskml.config.features import load_training_config
    from riskml.data import BundleError, load_bundle
    from riskml.features import as_of_schedule, write_training_set

    started = time.perf_counter()
    try:
        cfg = load_training_config(labels)
        dates = as_of_schedule(start, end, every)
        bundle = load_bundle(data, mapping=mapping)
        meta = write_training_set(
            bundle,
            dates,
            out,
            horizon if horizon is not None else cfg.label.horizon_months,
            feature_set=feature_set or cfg.feature_set,
            label_config=cfg.label,
            include_censored=include_censored,
            chunk_households=chunk_households or cfg.chunk_households,
        )
    except (BundleError, ConfigError, ValueError, TypeError, FileNotFoundError) as exc:
        fail(escape(str(exc)))
        return
    except OSError as exc:  # full disk, read-only or vanished folder while streaming the file
        fail(
            escape(
                f"Cannot write the training set {out}: {exc.strerror or exc}. Nothing was written; free "
                "some disk space or choose a writable --out folder, then run again."
            )
        )
        return
    c = meta["counts"]
    console.print(
        f"{c['rows']:,} rows ({c['positives']:,} positive) from {meta['households']:,} households x "
        f"{len(meta['as_of_dates'])} as-of dates; left out: {c['excluded_under_monitoring']:,} under monitoring, "
        f"{c['excluded_censored']:,} censored ({', '.join(meta['censored_as_of_dates']) or 'no censored dates'}). "
        f"Feature set {meta['feature_set']} {meta['feature_set_version']}, data {meta['data_fingerprint']}, "
        f"{time.perf_counter() - started:.1f} s -> {escape(out)}",
        highlight=False,
    )


@features_app.command("check")
def features_check_command(
    catalog: str | None = typer.Option(
        None, "--catalog", help="Catalog folder or file (default features/)."
    ),
) -> None:
    """Validate the feature catalog and list its feature sets."""
    from rich.markup import escape

    from riskml.features import CatalogError, load_catalog

    try:
        cat = load_catalog(catalog)
    except CatalogError as exc:
        fail(escape(str(exc)), code=1)
        return
    console.print(f"catalog {cat.version}: {len(cat.features)} features", highlight=False)
    for name, fs in cat.feature_sets.items():
        console.print(
            f"  {name}: {len(fs.features)} features, version {fs.version}", highlight=False
        )


# ---- tracking: riskml train, riskml evaluate, riskml promote ----
def _tracking_errors() -> tuple[type[BaseException], ...]:
    from mlflow.exceptions import MlflowException

    from riskml.config import ConfigError
    from riskml.data import BundleError
    from riskml.tracking import TrackingError

    return (
        TrackingError,
        MlflowException,
        ConfigError,
        BundleError,
        FileNotFoundError,
        LookupError,
        ValueError,
    )


def _print_frame(frame, title: str, *, first: str = "method") -> None:  # type: ignore[no-untyped-def]
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    table.add_column(frame.index.name or first, no_wrap=True)
    for col in frame.columns:
        table.add_column(str(col), justify="right")
    for idx, row in frame.iterrows():
        cells = [
            (f"{int(v):,}" if v.is_integer() and abs(v) >= 1 else f"{v:.4g}")
            if isinstance(v, float)
            else str(v)
            for v in row
        ]
        table.add_row(str(idx), *cells)
    console.print(table)


_SHOWN_METRICS = (
    "n",
    "positives",
    "roc_auc",
    "pr_auc",
    "brier",
    "ece",
    "recall_at_capacity",
    "precision_at_capacity",
    "lift_at_capacity",
    "recall_at_capacity_vs_rules",
)


@app.command("train")
def train_command(
    data: str = typer.Option(
        ...,
        "--data",
        help="History bundle folder (synthetic ground truth beside it adds the oracle).",
    ),
    config: str | None = typer.Option(
        None, "--config", help="Training config YAML (default configs/training.yaml)."
    ),
    mapping: str | None = typer.Option(
        None, "--mapping", help="Mapping file for a bundle in a source system's layout."
    ),
    tracking_uri: str | None = typer.Option(
        None,
        "--tracking-uri",
        help="MLflow tracking URI (default: MLFLOW_TRACKING_URI or models/mlflow.db).",
    ),
    name: str = typer.Option("riskml-recurrence", "--name", help="Registered model name."),
    as_of_start: str | None = typer.Option(
        None, "--as-of-start", help="First as-of date YYYY-MM-DD (default: from the config)."
    ),
    as_of_end: str | None = typer.Option(
        None, "--as-of-end", help="Last as-of date (default: latest with a closed label window)."
    ),
) -> None:
    """Build the training set, backtest, fit, log to MLflow and register (alias challenger)."""
    from rich.markup import escape

    from riskml.tracking import train_and_register

    try:
        with console.status("training…") as status:
            result = train_and_register(
                data,
                config_path=config,
                mapping=mapping,
                tracking_uri=tracking_uri,
                model_name=name,
                as_of_start=as_of_start,
                as_of_end=as_of_end,
                progress=lambda msg: (
                    status.update(escape(msg)),
                    console.print(f"· {escape(msg)}", highlight=False),
                ),
            )
    except _tracking_errors() as exc:
        fail(escape(str(exc)))
        return
    table = result.table[[c for c in _SHOWN_METRICS if c in result.table.columns]]
    _print_frame(
        table.T,
        f"Backtest (pooled out-of-fold, capacity {result.backtest.capacity})",
        first="metric",
    )
    console.print(
        f"Registered {escape(result.name)} version {result.version} (aliases: {', '.join(result.aliases)}); "
        f"run {result.run_id} in {escape(result.tracking_uri)}\n"
        f"Model URI: {result.model_uri}  (this version: {result.version_uri})",
        highlight=False,
    )


@app.command("evaluate")
def evaluate_command(
    data: str = typer.Option(..., "--data", help="History bundle folder to evaluate on."),
    model: str = typer.Option(
        ..., "--model", help="Model URI, e.g. models:/riskml-recurrence@champion."
    ),
    config: str | None = typer.Option(
        None,
        "--config",
        help="Training config YAML (folds, capacity; default configs/training.yaml).",
    ),
    mapping: str | None = typer.Option(
        None, "--mapping", help="Mapping file for a bundle in a source system's layout."
    ),
    tracking_uri: str | None = typer.Option(
        None,
        "--tracking-uri",
        help="MLflow tracking URI (default: MLFLOW_TRACKING_URI or models/mlflow.db).",
    ),
) -> None:
    """Score a bundle's backtest rows with a registered model and compare with the baselines."""
    from rich.markup import escape

    from riskml.tracking import evaluate

    try:
        with console.status("evaluating…") as status:
            result = evaluate(
                data,
                model,
                config_path=config,
                mapping=mapping,
                tracking_uri=tracking_uri,
                progress=lambda msg: status.update(escape(msg)),
            )
    except _tracking_errors() as exc:
        fail(escape(str(exc)))
        return
    _print_frame(
        result.table().T,
        f"Evaluation of {escape(model)} (capacity {result.capacity})",
        first="metric",
    )
    overlap = result.overlap.get("model", 0)
    if overlap:
        console.print(
            f"[yellow]note:[/] {overlap:,} of {result.info['rows']:,} evaluated rows fall inside the model's "
            "training as-of range: its metrics there are optimistic.",
            highlight=False,
        )
    console.print(f"Logged as evaluation run {result.run_id}.", highlight=False)


@app.command("promote")
def promote_command(
    name: str = typer.Option("riskml-recurrence", "--name", help="Registered model name."),
    data: str | None = typer.Option(
        None,
        "--data",
        help="Bundle to re-evaluate both versions on when their logged backtests differ.",
    ),
    config: str | None = typer.Option(
        None, "--config", help="Training config YAML (for --data; default configs/training.yaml)."
    ),
    tracking_uri: str | None = typer.Option(
        None,
        "--tracking-uri",
        help="MLflow tracking URI (default: MLFLOW_TRACKING_URI or models/mlflow.db).",
    ),
) -> None:
    """Move alias champion to the challenger only if it beats the champion on the same backtest."""
    from rich.markup import escape

    from riskml.tracking import promote

    try:
        decision = promote(name, tracking_uri=tracking_uri, data_dir=data, config_path=config)
    except _tracking_errors() as exc:
        fail(escape(str(exc)))
        return
    if len(decision.comparison):
        _print_frame(decision.comparison.set_index("metric"), "Champion vs challenger")
    console.print(escape(decision.summary()), highlight=False)


# ---- synth: riskml synth ----
@app.command("synth")
def synth_command(
    households: int = typer.Option(
        ..., "--households", min=1, help="Number of households in the province."
    ),
    seed: int = typer.Option(
        ..., "--seed", min=0, help="Random seed (same seed and size = identical files)."
    ),
    out: str = typer.Option(
        ...,
        "--out",
        help="Bundle folder to write; the ground truth goes beside it (<out>.truth.parquet).",
    ),
    format: str = typer.Option(
        "parquet", "--format", help="parquet, csv or xlsx (xlsx only for small provinces)."
    ),
    chunk_size: int | None = typer.Option(
        None,
        "--chunk-size",
        min=1,
        help="Households per chunk (bounds memory; default configs/synth.yaml).",
    ),
    config: str | None = typer.Option(
        None, "--config", help="Generator config YAML (default configs/synth.yaml)."
    ),
    workers: int = typer.Option(
        1, "--workers", min=1, help="Processes simulating chunks in parallel (same output)."
    ),
) -> None:
    """Write a synthetic Inner-Mongolia-like province as a history bundle, with its ground truth beside it."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from riskml.config import ConfigError
    from riskml.config.synth import load_synth_config
    from riskml.synth import write_synthetic_province

    if format not in ("parquet", "csv", "xlsx"):
        fail(f"--format must be parquet, csv or xlsx, got {format!r}.")
    try:
        cfg = load_synth_config(config)
    except ConfigError as exc:
        fail(str(exc))
    columns = (
        TextColumn("[bold]synth[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("households"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err_console, transient=False) as bar:
        task = bar.add_task("synth", total=households)
        try:
            result = write_synthetic_province(
                out,
                households,
                seed,
                format=format,
                chunk_size=chunk_size,
                config=cfg,  # type: ignore[arg-type]
                progress=lambda done: bar.update(task, completed=done),
                workers=workers,
            )
        except KeyboardInterrupt:
            fail(
                "interrupted; the bundle folder is incomplete and no ground truth was written.",
                code=130,
            )
        except (ValueError, OSError) as exc:
            fail(str(exc))
    rows = ", ".join(f"{name} {n:,}" for name, n in result.rows.items())
    console.print(f"bundle       {result.bundle_dir}  ({format}; {rows})")
    console.print(f"ground truth {result.truth_path}")
    console.print(
        f"extracted_on {result.extracted_on}; {result.n_households:,} households in {result.seconds:.1f} s"
    )


# ---- demo: riskml demo (make demo) ----
@app.command("demo")
def demo_command(
    households: int = typer.Option(
        20_000, "--households", min=100, help="Households in the synthetic province."
    ),
    seed: int = typer.Option(7, "--seed", min=0, help="Random seed."),
    out: str = typer.Option("data/demo", "--out", help="Bundle folder; results go to <out>-out/."),
    tracking_uri: str | None = typer.Option(
        None, "--tracking-uri", help="MLflow tracking URI (default models/mlflow.db)."
    ),
    formats: str = typer.Option(
        "html,pdf", "--formats", help="Report formats: html, pdf or html,pdf."
    ),
) -> None:
    """The main job end to end: synthesise, validate, train, score, report."""
    from mlflow.exceptions import MlflowException
    from rich.markup import escape

    from riskml.demo import run_demo

    try:
        run_demo(
            out,
            households=households,
            seed=seed,
            tracking_uri=tracking_uri,
            report_formats=formats,
            console=console,
        )
    except KeyboardInterrupt:
        fail("interrupted.", code=130)
    except (ValueError, RuntimeError, OSError, LookupError, MlflowException) as exc:
        # every stage's errors (BundleError, ConfigError, TrackingError, ScoringError,
        # ReportInputError, CJKFontNotFoundError, ...) subclass one of these and name the fix
        fail(escape(str(exc)))


# ---- reviews: riskml reviews import ----
reviews_app = typer.Typer(
    help="Review outcomes (核实结论) back into the bundle.", no_args_is_help=True
)
app.add_typer(reviews_app, name="reviews")


@reviews_app.command("import")
def reviews_import_command(
    files: list[str] = typer.Argument(  # noqa: B008
        ..., help="Filled 核实登记表 files: .xlsx, or .csv saved from Excel/WPS (UTF-8 or GBK)."
    ),
    data: str = typer.Option(..., "--data", help="The bundle folder the reviews belong to."),
    mapping: str | None = typer.Option(
        None, "--mapping", help="Mapping file, when the bundle is a source export."
    ),
    quarantine: str | None = typer.Option(
        None,
        "--quarantine",
        help="CSV for quarantined rows (default: <DATA>.reviews-quarantine.csv beside DATA).",
    ),
) -> None:
    """Read filled registration workbooks and merge their reviews into the bundle's reviews table."""
    from rich.markup import escape

    from riskml.config import ConfigError
    from riskml.data import BundleError, import_reviews

    try:
        result = import_reviews(files, data, mapping=mapping, quarantine_path=quarantine)
    except (BundleError, ConfigError, OSError) as exc:
        fail(escape(str(exc)))
    for line in result.lines():
        console.print(escape(line), highlight=False)


# ---- end of stage commands ----


def main() -> None:  # pragma: no cover - entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
