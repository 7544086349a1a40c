"""The ``riskml`` command line: thin — parse arguments, load config, call one library function.

Errors: a user error (bad input, config, bundle, model, store, disk: the library's own error
classes, see :data:`USER_ERRORS`) prints one line ``error: ...`` and exits 2. Any other exception
is a bug in riskml: it prints "internal error — please report" and exits 1, with the full
traceback under ``--debug`` or ``RISKML_DEBUG=1``. Ctrl-C exits 130.

Commands import the library inside their bodies, on purpose: ``riskml --help`` stays fast
(importing ``riskml.models`` alone takes seconds). Repeated options are declared once below as
``Annotated`` aliases; fixed choices are ``Enum`` types, checked by the parser.
"""

from __future__ import annotations

import enum
import os
import sys
import traceback
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

from riskml import __version__

console = Console()
err_console = Console(stderr=True)

DEBUG_ENV = "RISKML_DEBUG"
_DEBUG_KEY = "riskml.debug"

USER_ERRORS: dict[str, tuple[str, ...]] = {
    "riskml.config": ("ConfigError",),  # also riskml.features.CatalogError
    "riskml.data": ("BundleError",),
    "riskml.features": ("TrainingSetError",),
    "riskml.synth": ("SynthError",),
    "riskml.models": ("ProtectedAttributeError",),
    "riskml.scoring": ("ScoringError", "ScoringChangeError", "ScoringOutputError"),
    "riskml.reports": (
        "CJKFontNotFoundError",
        "ReportInputError",
        "ReportOutputError",
        "ReportPrivacyError",
    ),
    "riskml.demo": ("DemoError",),
}
"""Per package, the error classes that mean bad input rather than a bug (exit 2, one line).

Plus ``OSError`` (missing files, permissions, full disks: the machine, not the code) and
:func:`riskml.tracking.user_error_types` (tracking errors and MLflow's refusals). Everything
else, ``KeyError``, ``TypeError`` and bare ``ValueError``/``RuntimeError`` included, is a bug."""

_INTERRUPTED = {
    "score": "interrupted; no score file was written (a rerun starts afresh).",
    "report": "interrupted; no report folder was written (a rerun starts afresh).",
    "report-model": "interrupted; no report folder was written.",
    "synth": "interrupted; the bundle folder is incomplete and no ground truth was written.",
}


def user_error_types() -> tuple[type[BaseException], ...]:
    """The classes of :data:`USER_ERRORS` among the packages imported so far, and ``OSError``.

    A package that is not imported cannot have raised anything, so nothing is imported here:
    an error path stays as fast as the command that failed.
    """
    found: list[type[BaseException]] = [OSError]
    for module, names in USER_ERRORS.items():
        package = sys.modules.get(module)
        if package is not None:
            found.extend(getattr(package, name) for name in names)
    tracking = sys.modules.get("riskml.tracking")
    if tracking is not None:
        found.extend(tracking.user_error_types())
    return tuple(found)


def fail(message: str, code: int = 2) -> None:
    """Print a clear error (no traceback) and exit non-zero."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _debugging(ctx: typer.Context) -> bool:
    if ctx.meta.get(_DEBUG_KEY):
        return True
    return os.environ.get(DEBUG_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def _report_exception(exc: Exception, *, debug: bool) -> int:
    """Print ``exc`` as a user error (exit code 2) or as an internal error (exit code 1)."""
    if debug:
        typer.echo("".join(traceback.format_exception(exc)).rstrip(), err=True)
    if isinstance(exc, user_error_types()):
        err_console.print(
            f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True
        )
        return 2
    err_console.print(
        f"[bold red]internal error — please report:[/] {escape(type(exc).__name__)}: "
        f"{escape(str(exc))}",
        highlight=False,
        soft_wrap=True,
    )
    if not debug:
        err_console.print(
            f"Run again with --debug (or {DEBUG_ENV}=1) for the traceback, and include it in the report.",
            highlight=False,
        )
    return 1


class _RiskmlGroup(TyperGroup):
    """The root command group: runs every command under the error policy of this module."""

    def invoke(self, ctx: typer.Context) -> Any:  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort):
            raise
        except KeyboardInterrupt:
            message = _INTERRUPTED.get(ctx.invoked_subcommand or "", "interrupted.")
            err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
            raise typer.Exit(130) from None
        except Exception as exc:
            if _is_parser_error(exc):
                raise
            raise typer.Exit(_report_exception(exc, debug=_debugging(ctx))) from None


def _is_parser_error(exc: Exception) -> bool:
    """Usage errors and exits of the argument parser: the parser reports those itself."""
    return type(exc).__module__.split(".")[0] in {"click", "typer"}


app = typer.Typer(
    name="riskml",
    cls=_RiskmlGroup,
    help="Predict which rural households are at risk of falling (back) into poverty, and explain why.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root(
    ctx: typer.Context,
    debug: Annotated[
        bool,
        typer.Option(
            "--debug",
            envvar=DEBUG_ENV,
            help=f"Show the full traceback of an error (also {DEBUG_ENV}=1).",
        ),
    ] = False,
) -> None:
    ctx.meta[_DEBUG_KEY] = debug


# ---- shared options and choices ----
DEFAULT_MODEL_NAME = "riskml-recurrence"

TrackingUri = Annotated[
    str | None,
    typer.Option(
        "--tracking-uri",
        help="MLflow tracking URI (default: MLFLOW_TRACKING_URI or models/mlflow.db).",
    ),
]
MappingFile = Annotated[
    str | None,
    typer.Option(
        "--mapping",
        help="Mapping file, or a name under configs/mappings/ (e.g. national_export), for a "
        "bundle in a source system's layout.",
    ),
]
ModelName = Annotated[str, typer.Option("--name", help="Registered model name.")]
TruthFile = Annotated[
    str | None,
    typer.Option(
        "--truth",
        help="Synthetic ground truth (<bundle>.truth.parquet, written by 'riskml synth'): adds "
        "the oracle, the ceiling, to the comparison. Never looked for otherwise.",
    ),
]


class Engine(enum.StrEnum):
    local = "local"
    spark = "spark"


class ScoreMode(enum.StrEnum):
    internal = "internal"
    public = "public"


class ExplainScope(enum.StrEnum):
    flagged = "flagged"
    all = "all"


class ShapMethod(enum.StrEnum):
    tree_shap = "tree_shap"
    pred_contrib = "pred_contrib"


class BundleFormat(enum.StrEnum):
    parquet = "parquet"
    csv = "csv"
    xlsx = "xlsx"


def _oracle(truth: str | None) -> Any:
    if truth is None:
        return None
    from pathlib import Path

    from riskml.synth import GroundTruthOracle

    return GroundTruthOracle(Path(truth))


@app.command()
def version() -> None:
    """Print riskml's version."""
    console.print(f"riskml {__version__}")


# ---- stage commands (keep each block self-contained; add new ones above the end marker) ----


# ---- scoring: riskml score ----
@app.command("score")
def score_command(
    data: Annotated[
        str,
        typer.Option("--data", help="Bundle folder (history tables up to the extraction date)."),
    ],
    as_of: Annotated[str, typer.Option("--as-of", help="Scoring date, YYYY-MM-DD.")],
    out: Annotated[
        str,
        typer.Option(
            "--out",
            help="Score file: .parquet, .csv (UTF-8 with BOM, Chinese headers) or .xlsx.",
        ),
    ],
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            help="Model URI, e.g. models:/riskml-recurrence@champion (default: configs/scoring.yaml).",
        ),
    ] = None,
    engine: Annotated[
        Engine, typer.Option("--engine", help="local (streaming chunks) or spark.")
    ] = Engine.local,
    spark_master: Annotated[
        str | None, typer.Option("--spark-master", help="Spark master URL (default local[2]).")
    ] = None,
    mode: Annotated[
        ScoreMode,
        typer.Option(
            "--mode", help="internal (full detail) or public (masked ids, no health details)."
        ),
    ] = ScoreMode.internal,
    explain: Annotated[
        ExplainScope | None,
        typer.Option("--explain", help="flagged or all (default: configs/scoring.yaml)."),
    ] = None,
    shap_method: Annotated[
        ShapMethod | None,
        typer.Option(
            "--shap-method",
            help="tree_shap (riskml's exact kernel) or pred_contrib (LightGBM's own, far slower: "
            "the fallback). Default: explain.method of configs/scoring.yaml.",
        ),
    ] = None,
    previous: Annotated[
        str | None,
        typer.Option("--previous", help="The previous run's internal score file, to mark changes."),
    ] = None,
    config: Annotated[
        str | None,
        typer.Option("--config", help="Scoring config YAML (default configs/scoring.yaml)."),
    ] = None,
    mapping: MappingFile = None,
    tracking_uri: TrackingUri = None,
    top: Annotated[
        int, typer.Option("--top", help="Flagged households to print with their reasons.")
    ] = 10,
) -> None:
    """Score every household of a roster as of a date: risk, rank, tier, reasons, run summary."""
    from riskml.scoring import print_summary, score_roster

    run = score_roster(
        data,
        as_of,
        out=out,
        model_uri=model,
        config=config,
        engine=engine.value,
        spark_master=spark_master,
        mode=mode.value,
        explain=explain.value if explain is not None else None,
        shap_method=shap_method.value if shap_method is not None else None,
        previous=previous,
        tracking_uri=tracking_uri,
        mapping=mapping,
        console=err_console,
        quiet=True,
    )
    print_summary(run.summary, run.scores, console=console, top=top)


# ---- data: riskml validate ----
@app.command("validate")
def validate_command(
    directory: Annotated[
        str, typer.Argument(help="Bundle folder, or a source export described by --mapping.")
    ],
    mapping: MappingFile = None,
    encoding: Annotated[
        str | None,
        typer.Option(
            "--encoding", help="CSV encoding of every file (utf-8, gb18030/gbk); default: detect."
        ),
    ] = None,
    quarantine: Annotated[
        str | None,
        typer.Option(
            "--quarantine",
            help="CSV for quarantined rows (default: <DIR>.quarantine.csv beside DIR).",
        ),
    ] = None,
    extracted_on: Annotated[
        str | None,
        typer.Option("--extracted-on", help="Extraction date YYYY-MM-DD (overrides bundle.yaml)."),
    ] = None,
) -> None:
    """Check a history bundle against the data contract and summarise it (exit 1 on errors)."""
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
    except (BundleError, ConfigError) as exc:  # the answer of this command: the bundle is invalid
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
ReportOut = Annotated[
    str,
    typer.Option(
        "--out", help="Report folder (new, empty, or an earlier riskml report folder to replace)."
    ),
]
ReportLang = Annotated[
    str | None, typer.Option("--lang", help="zh or en (default: configs/reports.yaml).")
]


@app.command("report")
def report_command(
    scores: Annotated[
        str,
        typer.Option(
            "--scores", help="Score file written by 'riskml score' (.parquet, .csv or .xlsx)."
        ),
    ],
    out: ReportOut,
    level: Annotated[
        str | None,
        typer.Option(
            "--level",
            help="village, township or county: one report per unit (default: configs/reports.yaml).",
        ),
    ] = None,
    lang: ReportLang = None,
    mode: Annotated[
        str | None,
        typer.Option(
            "--mode",
            help="public (review meeting: masked ids, no health details) or internal (staff).",
        ),
    ] = None,
    fmt: Annotated[
        str | None,
        typer.Option(
            "--format",
            help="html, pdf and/or xlsx, comma-separated (PDF: A4, printable; xlsx: the 核实登记表 "
            "registration workbook, internal mode only).",
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers", help="Processes rendering PDFs (default: one per core, at most 4)."
        ),
    ] = None,
) -> None:
    """Review-meeting reports (民主评议): one per village/township/county, plus an index page."""
    from riskml.reports import render_review_reports

    result = render_review_reports(
        scores, out, level=level, lang=lang, mode=mode, formats=fmt, workers=workers
    )
    flagged = sum(u["counts"]["flagged"] for u in result.units)
    console.print(
        f"{len(result.units):,} {result.level} report(s) ({result.mode}, {result.lang}, {'+'.join(result.formats)}), "
        f"{flagged:,} flagged households, in {result.seconds['total']:.1f} s -> {escape(str(result.index))}",
        highlight=False,
    )


@app.command("report-model")
def report_model_command(
    model: Annotated[
        str,
        typer.Option(
            "--model",
            help="Model URI (models:/NAME@champion, models:/NAME/3, runs:/RUN_ID/model) or a folder of run artifacts.",
        ),
    ],
    out: ReportOut,
    tracking_uri: TrackingUri = None,
    lang: ReportLang = None,
    fmt: Annotated[str | None, typer.Option("--format", help="html, pdf or html,pdf.")] = None,
    no_log: Annotated[
        bool, typer.Option("--no-log", help="Do not log the report back to the MLflow run.")
    ] = False,
) -> None:
    """Model evaluation report (backtest vs baselines, ROC/PR/calibration, SHAP, fairness, card)."""
    from riskml.reports import render_model_report

    result = render_model_report(
        model, out, tracking_uri=tracking_uri, lang=lang, formats=fmt, log_to_run=not no_log
    )
    missing = [k for k, ok in result.sections.items() if not ok]
    console.print(f"model report -> {escape(str(result.index))}", highlight=False)
    if result.logged_to:
        console.print(f"logged to {escape(result.logged_to)}", highlight=False)
    if missing:
        console.print(f"not logged by the run: {', '.join(missing)}", highlight=False)


# ---- features: riskml features build, riskml features check ----
features_app = typer.Typer(help="The feature catalog and training sets.", no_args_is_help=True)
app.add_typer(features_app, name="features")


def _print_training_set(meta: dict[str, Any], out: str, seconds: float) -> None:
    """One line on a written training set: rows, what was left out, feature set and data."""
    c = meta["counts"]
    console.print(
        f"{c['rows']:,} rows ({c['positives']:,} positive) from {meta['households']:,} households x "
        f"{len(meta['as_of_dates'])} as-of dates; left out: {c['excluded_under_monitoring']:,} under monitoring, "
        f"{c['excluded_censored']:,} censored ({', '.join(meta['censored_as_of_dates']) or 'no censored dates'}). "
        f"Feature set {meta['feature_set']} {meta['feature_set_version']}, data {meta['data_fingerprint']}, "
        f"{seconds:.1f} s -> {escape(out)}",
        highlight=False,
    )


@features_app.command("build")
def features_build_command(
    data: Annotated[
        str, typer.Option("--data", help="Bundle folder (or a source export with --mapping).")
    ],
    start: Annotated[str, typer.Option("--start", help="First as-of date, YYYY-MM-DD.")],
    end: Annotated[str, typer.Option("--end", help="Last as-of date (inclusive), YYYY-MM-DD.")],
    out: Annotated[str, typer.Option("--out", help="Training-set Parquet file to write.")],
    every: Annotated[
        str, typer.Option("--every", help="Step between as-of dates: 3M, 1M, 1Y, 2W, 30D.")
    ] = "3M",
    horizon: Annotated[
        int | None,
        typer.Option("--horizon", help="Label horizon in months (default: configs/labels.yaml)."),
    ] = None,
    feature_set: Annotated[
        str | None,
        typer.Option("--feature-set", help="Catalog feature set (default: configs/labels.yaml)."),
    ] = None,
    include_censored: Annotated[
        bool,
        typer.Option(
            "--include-censored", help="Keep as-of dates whose horizon is still open (label NA)."
        ),
    ] = False,
    chunk_households: Annotated[
        int | None,
        typer.Option("--chunk-households", help="Households per chunk (bounds memory)."),
    ] = None,
    labels: Annotated[
        str | None,
        typer.Option("--labels", help="Label config YAML (default configs/labels.yaml)."),
    ] = None,
    mapping: MappingFile = None,
    engine: Annotated[
        Engine,
        typer.Option("--engine", help="local (streaming chunks) or spark (partitions, same file)."),
    ] = Engine.local,
    spark_master: Annotated[
        str | None, typer.Option("--spark-master", help="Spark master URL (default local[2]).")
    ] = None,
) -> None:
    """Build a labelled training set: one row per eligible (household, as-of date), streamed to Parquet."""
    import time

    from riskml.config.features import load_training_config
    from riskml.data import load_bundle
    from riskml.features import as_of_schedule, write_training_set, write_training_set_spark

    started = time.perf_counter()
    cfg = load_training_config(labels)
    dates = as_of_schedule(start, end, every)
    bundle = load_bundle(data, mapping=mapping)
    spark_args: dict[str, Any] = {"spark_master": spark_master} if engine is Engine.spark else {}
    try:
        meta = (write_training_set_spark if engine is Engine.spark else write_training_set)(
            bundle,
            dates,
            out,
            horizon if horizon is not None else cfg.label.horizon_months,
            feature_set=feature_set or cfg.feature_set,
            label_config=cfg.label,
            include_censored=include_censored,
            chunk_households=chunk_households or cfg.chunk_households,
            **spark_args,
        )
    except OSError as exc:  # full disk, read-only or vanished folder while streaming the file
        fail(
            escape(
                f"Cannot write the training set {out}: {exc.strerror or exc}. Nothing was written; free "
                "some disk space or choose a writable --out folder, then run again."
            )
        )
        return
    _print_training_set(meta, out, time.perf_counter() - started)


@features_app.command("check")
def features_check_command(
    catalog: Annotated[
        str | None,
        typer.Option("--catalog", help="Catalog folder or file (default features/)."),
    ] = None,
) -> None:
    """Validate the feature catalog and list its feature sets."""
    from riskml.features import CatalogError, load_catalog

    try:
        cat = load_catalog(catalog)
    except CatalogError as exc:  # the answer of this command: the catalog is invalid
        fail(escape(str(exc)), code=1)
        return
    console.print(f"catalog {cat.version}: {len(cat.features)} features", highlight=False)
    for name, fs in cat.feature_sets.items():
        console.print(
            f"  {name}: {len(fs.features)} features, version {fs.version}", highlight=False
        )


# ---- tracking: riskml train, riskml evaluate, riskml promote ----
def _tracking_errors() -> tuple[type[BaseException], ...]:
    return user_error_types()


def _print_frame(frame: Any, title: str, *, first: str = "method") -> None:
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


@app.command("train")
def train_command(
    data: Annotated[str, typer.Option("--data", help="History bundle folder.")],
    config: Annotated[
        str | None,
        typer.Option("--config", help="Training config YAML (default configs/training.yaml)."),
    ] = None,
    mapping: MappingFile = None,
    tracking_uri: TrackingUri = None,
    name: ModelName = DEFAULT_MODEL_NAME,
    as_of_start: Annotated[
        str | None,
        typer.Option(
            "--as-of-start", help="First as-of date YYYY-MM-DD (default: from the config)."
        ),
    ] = None,
    as_of_end: Annotated[
        str | None,
        typer.Option(
            "--as-of-end", help="Last as-of date (default: latest with a closed label window)."
        ),
    ] = None,
    truth: TruthFile = None,
) -> None:
    """Build the training set, backtest, fit, log to MLflow and register (alias challenger)."""
    from riskml.models import SUMMARY_METRICS
    from riskml.tracking import train_and_register

    oracle = _oracle(truth)
    with console.status("training…") as status:

        def say(message: str) -> None:
            status.update(escape(message))
            console.print(f"· {escape(message)}", highlight=False)

        result = train_and_register(
            data,
            config_path=config,
            mapping=mapping,
            tracking_uri=tracking_uri,
            model_name=name,
            as_of_start=as_of_start,
            as_of_end=as_of_end,
            progress=say,
            oracle=oracle,
        )
    table = result.table[[c for c in SUMMARY_METRICS if c in result.table.columns]]
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


@app.command("tune")
def tune_command(
    data: Annotated[str, typer.Option("--data", help="History bundle folder.")],
    trials: Annotated[int, typer.Option("--trials", help="Trials at most (>= 1).")] = 20,
    timeout: Annotated[
        float | None,
        typer.Option(
            "--timeout", help="Seconds after which no new trial starts (the running one finishes)."
        ),
    ] = None,
    seed: Annotated[
        int | None,
        typer.Option("--seed", help="Sampler seed (default: the training config's seed)."),
    ] = None,
    out: Annotated[
        str,
        typer.Option("--out", help="Where to write the best parameters as a training config."),
    ] = "training.tuned.yaml",
    config: Annotated[
        str | None,
        typer.Option("--config", help="Training config YAML (default configs/training.yaml)."),
    ] = None,
    space: Annotated[
        str | None,
        typer.Option("--space", help="Search space YAML (default configs/tune.yaml)."),
    ] = None,
    mapping: MappingFile = None,
    tracking_uri: TrackingUri = None,
) -> None:
    """Search model parameters over the backtest folds (optuna); write the best as a config."""
    from riskml.tracking import tune

    with console.status("tuning…") as status:

        def say(message: str) -> None:
            status.update(escape(message))
            console.print(f"· {escape(message)}", highlight=False)

        result = tune(
            data,
            n_trials=trials,
            timeout=timeout,
            seed=seed,
            out=out,
            config_path=config,
            space_path=space,
            mapping=mapping,
            tracking_uri=tracking_uri,
            progress=say,
        )
    for line in result.lines():
        console.print(escape(line), highlight=False)


@app.command("evaluate")
def evaluate_command(
    data: Annotated[str, typer.Option("--data", help="History bundle folder to evaluate on.")],
    model: Annotated[
        str, typer.Option("--model", help="Model URI, e.g. models:/riskml-recurrence@champion.")
    ],
    config: Annotated[
        str | None,
        typer.Option(
            "--config",
            help="Training config YAML (folds, capacity; default configs/training.yaml).",
        ),
    ] = None,
    mapping: MappingFile = None,
    tracking_uri: TrackingUri = None,
    truth: TruthFile = None,
    scores: Annotated[
        list[str] | None,
        typer.Option(
            "--scores",
            help="Internal score files (lists handed out); with the bundle's reviews table, "
            "report the confirmed share of reviewed flags by tier and risk type. Repeatable.",
        ),
    ] = None,
) -> None:
    """Score a bundle's backtest rows with a registered model and compare with the baselines."""
    from riskml.tracking import evaluate

    oracle = _oracle(truth)
    outcomes = _review_outcomes(data, scores, mapping) if scores else {}
    with console.status("evaluating…") as status:
        result = evaluate(
            data,
            model,
            config_path=config,
            mapping=mapping,
            tracking_uri=tracking_uri,
            progress=lambda msg: status.update(escape(msg)),
            oracle=oracle,
            extra_tables={f"review_outcomes_{k}": v for k, v in outcomes.items()},
        )
    for key, title in (("by_tier", "tier"), ("by_risk_type", "stated risk type")):
        if key in outcomes:
            _print_frame(
                outcomes[key].round(3), f"Review outcomes of the flags, by {title}", first="group"
            )
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


def _review_outcomes(data: str, scores: list[str], mapping: str | None) -> dict[str, Any]:
    """The confirmed share of reviewed flags, from score files and the bundle's reviews."""
    import pandas as pd

    from riskml.data import load_bundle
    from riskml.scoring import read_scores, review_outcomes

    frames = [read_scores(path)[0] for path in scores]
    bundle = load_bundle(data, mapping=mapping)
    if bundle.reviews.empty:
        console.print(
            "[yellow]note:[/] the bundle has no reviews yet (riskml reviews import); every flag "
            "counts as never reviewed.",
            highlight=False,
        )
    return review_outcomes(pd.concat(frames, ignore_index=True), bundle.reviews)


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
    metric: str | None = typer.Option(
        None,
        "--metric",
        help="Backtest metric that decides, or several comma-separated (later ones break ties); "
        "default recall_at_capacity,pr_auc. E.g. pr_auc, roc_auc, brier (lower is better).",
    ),
    min_improvement: float | None = typer.Option(
        None,
        "--min-improvement",
        min=0.0,
        max=0.999,
        help="How much better (absolute, in the metric's units) the challenger must be; smaller "
        "differences are ties, and a tie keeps the champion. [default: 0.02]",
    ),
    tracking_uri: TrackingUri = None,
) -> None:
    """Move alias champion to the challenger only if it beats the champion on the same backtest.

    Exit codes: 0 = promoted (champion moved to the challenger), 3 = kept (champion not moved;
    the reason is printed), 2 = error.
    """
    from rich.markup import escape

    from riskml.tracking import DEFAULT_MIN_IMPROVEMENT, promote

    if min_improvement is None:
        min_improvement = DEFAULT_MIN_IMPROVEMENT
    try:
        decision = promote(
            name,
            tracking_uri=tracking_uri,
            data_dir=data,
            config_path=config,
            metrics=[m for m in metric.split(",") if m.strip()] if metric else None,
            min_improvement=min_improvement,
        )
    except ValueError as exc:  # a metric neither version logged, a bad option value
        fail(escape(str(exc)))
        return
    if len(decision.comparison):
        _print_frame(decision.comparison.set_index("metric"), "Champion vs challenger")
    console.print(escape(decision.summary()), highlight=False)
    raise typer.Exit(decision.exit_code)


# ---- synth: riskml synth ----
@app.command("synth")
def synth_command(
    households: Annotated[
        int, typer.Option("--households", min=1, help="Number of households in the province.")
    ],
    seed: Annotated[
        int,
        typer.Option("--seed", min=0, help="Random seed (same seed and size = identical files)."),
    ],
    out: Annotated[
        str,
        typer.Option(
            "--out",
            help="Bundle folder to write; the ground truth goes beside it (<out>.truth.parquet).",
        ),
    ],
    format: Annotated[
        BundleFormat,
        typer.Option("--format", help="parquet, csv or xlsx (xlsx only for small provinces)."),
    ] = BundleFormat.parquet,
    chunk_size: Annotated[
        int | None,
        typer.Option(
            "--chunk-size",
            min=1,
            help="Households per chunk (bounds memory; default configs/synth.yaml).",
        ),
    ] = None,
    config: Annotated[
        str | None,
        typer.Option("--config", help="Generator config YAML (default configs/synth.yaml)."),
    ] = None,
    workers: Annotated[
        int,
        typer.Option(
            "--workers", min=1, help="Processes simulating chunks in parallel (same output)."
        ),
    ] = 1,
) -> None:
    """Write a synthetic Inner-Mongolia-like province as a history bundle, with its ground truth beside it."""
    from riskml.config.synth import load_synth_config
    from riskml.progress import household_progress
    from riskml.synth import write_synthetic_province

    cfg = load_synth_config(config)
    with household_progress(err_console, households) as progress:
        result = write_synthetic_province(
            out,
            households,
            seed,
            format=format.value,
            chunk_size=chunk_size,
            config=cfg,
            progress=progress,
            workers=workers,
        )
    rows = ", ".join(f"{name} {n:,}" for name, n in result.rows.items())
    console.print(f"bundle       {result.bundle_dir}  ({format.value}; {rows})")
    console.print(f"ground truth {result.truth_path}")
    console.print(
        f"extracted_on {result.extracted_on}; {result.n_households:,} households in {result.seconds:.1f} s"
    )


# ---- demo: riskml demo (make demo) ----
@app.command("demo")
def demo_command(
    households: Annotated[
        int, typer.Option("--households", min=100, help="Households in the synthetic province.")
    ] = 20_000,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Random seed.")] = 7,
    out: Annotated[
        str, typer.Option("--out", help="Bundle folder; results go to <out>-out/.")
    ] = "data/demo",
    tracking_uri: TrackingUri = None,
    formats: Annotated[
        str, typer.Option("--formats", help="Report formats: html, pdf or html,pdf.")
    ] = "html,pdf",
) -> None:
    """The main job end to end: synthesise, validate, train, score, report."""
    from riskml.demo import run_demo

    run_demo(
        out,
        households=households,
        seed=seed,
        tracking_uri=tracking_uri,
        report_formats=formats,
        console=console,
    )


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
    main()
