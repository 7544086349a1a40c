"""``score_roster``: one monthly scoring run from bundle folder to score file and summary."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import signal
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from riskml import __version__
from riskml.config.scoring import ScoringConfig, load_scoring_config
from riskml.data import Bundle
from riskml.scoring._change import compare_with_previous
from riskml.scoring._followup import add_followup_columns, apply_quiet_period, followup_counts
from riskml.scoring._ids import arrow_ids, ids_in
from riskml.scoring._local import EngineOutput, run_local
from riskml.scoring._output import assemble_scores, to_public
from riskml.scoring._partition import (
    DRIFT_GROUP,
    ExplainSelection,
    ScoringError,
    check_signature,
    household_universe,
)
from riskml.scoring._partition import compute_features as _features
from riskml.scoring._summary import (
    build_summary,
    drift_against,
    drift_item,
    print_summary,
    reconcile_households,
)
from riskml.scoring._tiers import assign_tiers, model_capacity
from riskml.scoring._writer import (
    check_output_path,
    clean_stale_temps,
    output_format,
    read_scores,
    sidecar_path,
    write_json_atomic,
    write_scores,
)

log = logging.getLogger("riskml.scoring")

__all__ = [
    "BundleScores",
    "ScoringRun",
    "drift_report",
    "parse_as_of",
    "score_bundle",
    "score_roster",
]

Engine = Literal["local", "spark"]
Mode = Literal["internal", "public"]


@dataclass
class BundleScores:
    """What :func:`score_bundle` returns."""

    scores: pd.DataFrame
    universe: pd.DataFrame
    drift: dict[str, Any]
    timings: dict[str, float]
    explained: int
    drift_sample: pd.DataFrame


@dataclass
class ScoringRun:
    """The result of a scoring run: the written frame, the summary and where they went."""

    scores: pd.DataFrame
    summary: dict[str, Any]
    metadata: dict[str, Any]
    path: Path | None
    summary_path: Path | None


def parse_as_of(value: str | dt.date | pd.Timestamp) -> dt.date:
    """An as-of date from ``YYYY-MM-DD`` (or a date); a clear error otherwise."""
    if isinstance(value, pd.Timestamp):
        return value.date()
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise ScoringError(
            f"The as-of date must be YYYY-MM-DD (e.g. 2025-06-30). Got {value!r} instead."
        ) from None


def _meta_date(meta: Mapping[str, Any], *keys: str) -> dt.date | None:
    """The first date found under ``keys`` (also one level down, e.g. ``training.as_of_first``)."""
    for key in keys:
        candidates = [meta.get(key)] + [v.get(key) for v in meta.values() if isinstance(v, Mapping)]
        for value in candidates:
            if value in (None, ""):
                continue
            with contextlib.suppress(ValueError, TypeError):
                return pd.Timestamp(value).date()
    return None


def _model_facts(model: Any, model_uri: str) -> dict[str, Any]:
    meta = dict(getattr(model, "metadata", {}) or {})
    fs_def = getattr(model, "feature_set_definition", {}) or {}
    fs = getattr(model, "feature_set", None)
    fs_meta = meta.get("feature_set")
    fs_name = (
        fs_def.get("name")
        or getattr(fs, "name", None)
        or (fs_meta.get("name") if isinstance(fs_meta, Mapping) else fs_meta)
    )
    fs_version = (
        fs_def.get("version") or getattr(fs, "version", None) or meta.get("feature_set_version")
    )
    first = _meta_date(meta, "as_of_first", "training_as_of_first", "train_as_of_first")
    last = _meta_date(meta, "as_of_last", "training_as_of_last", "train_as_of_last")
    coverage: dict[str, list[str]] = {}
    if fs is not None:
        from riskml.explain import risk_type_coverage

        cov = risk_type_coverage(fs.features)
        coverage = {"visible": list(cov.visible), "invisible": list(cov.invisible)}
    return {
        "risk_types": coverage,
        "model": {
            "uri": meta.get("model_uri") or model_uri,
            "name": meta.get("name"),
            "version": meta.get("version"),
            "alias": meta.get("alias"),
            "run_id": meta.get("run_id"),
            "training_as_of_first": first.isoformat() if first else None,
            "training_as_of_last": last.isoformat() if last else None,
        },
        "feature_set": {
            "name": fs_name,
            "version": fs_version,
            "catalog_version": fs_def.get("catalog_version") or meta.get("catalog_version"),
            "n_features": len(getattr(model, "input_schema", {}) or {}),
        },
    }


def check_as_of(as_of: dt.date, bundle: Bundle, facts: Mapping[str, Any]) -> None:
    """Refuse an as-of date the data or the model cannot support."""
    if as_of > bundle.extracted_on:
        raise ScoringError(
            f"The as-of date {as_of} is after the bundle's extraction date {bundle.extracted_on}: nothing "
            f"after {bundle.extracted_on} is known. Score as of {bundle.extracted_on} or earlier, or use a newer extract."
        )
    first = facts["model"].get("training_as_of_first")
    if first and as_of < dt.date.fromisoformat(first):
        raise ScoringError(
            f"The as-of date {as_of} is before the model's training data, which starts at as-of {first} "
            f"(model {facts['model'].get('name')} v{facts['model'].get('version')}). The model knows nothing "
            "about that period; score a date on or after the start of its training range."
        )


def _needs_village_context(model: Any) -> bool:
    fs = getattr(model, "feature_set", None)
    required = getattr(fs, "required", None) or getattr(fs, "features", ())
    return any(getattr(f, "primitive", None) == "context" for f in required)


def village_context_for(bundle: Bundle, as_of: dt.date, model: Any) -> pd.DataFrame | None:
    """The roster-wide village context table when the model's features need it, else None."""
    if not _needs_village_context(model):
        return None
    from riskml.features import village_context

    catalog = getattr(model, "catalog", None)  # the model's own village-context settings
    return village_context(bundle, [pd.Timestamp(as_of)], catalog=catalog)


def _explain_selection(config: ScoringConfig) -> ExplainSelection:
    if config.explain.which == "all":
        return ExplainSelection(all=True)
    if config.tiers.method == "cutoffs":
        cut = {"high": config.tiers.cutoffs.high, "medium": config.tiers.cutoffs.medium}
        return ExplainSelection(min_score=min(cut[t] for t in config.tiers.flagged))
    return ExplainSelection()  # capacity: flagged only known after ranking -> second pass


def _preflight(
    bundle: Bundle, universe: pd.DataFrame, as_of: dt.date, model: Any, context: pd.DataFrame | None
) -> None:
    """Compute a few households' features on the driver and check the model's signature.

    Fails fast, before any Spark job or long loop, when the roster does not fit the model.
    """
    from riskml.scoring._local import BundleChunker

    candidates = universe.loc[universe["rejected_reason"].isna()].head(64)
    if candidates.empty:
        return
    part, uni = BundleChunker(bundle, candidates, len(candidates)).chunk(0)
    pairs = pd.DataFrame(
        {
            "household_id": pd.array(uni["household_id"].to_numpy(), dtype="string"),
            "as_of": pd.Series(pd.Timestamp(as_of), index=range(len(uni))).astype("datetime64[ns]"),
        }
    )
    check_signature(_features(part, pairs, model, context), model)


def drift_report(
    sample: pd.DataFrame,
    model: Any,
    psi_warn: float,
    as_of: dt.date | None = None,
    rate_ratio_warn: float = 1.5,
) -> dict[str, Any]:
    """PSI of every feature of the scored sample against the model's training reference.

    A model registered by ``riskml train`` carries a seasonal reference: the sample is compared
    with the snapshot of the same season, features that age by construction after taking the
    elapsed time off, and rare events by their rate (see
    :meth:`riskml.models.SeasonalReference.compare`). An older model's single reference is
    compared as is.
    """
    reference = getattr(model, "reference", None)
    if reference is None or not hasattr(reference, "psi"):
        return {
            "available": False,
            "reason": "the model carries no reference distribution",
            "warnings": [],
        }
    if sample is None or len(sample) == 0:
        return {"available": False, "reason": "no scored households", "warnings": []}
    if hasattr(reference, "compare"):
        found = reference.compare(
            sample,
            as_of,
            psi_warn=psi_warn,
            rate_ratio_warn=rate_ratio_warn,
            groups=sample[DRIFT_GROUP] if DRIFT_GROUP in sample.columns else None,
        )
        return {
            "available": True,
            "psi_warn": psi_warn,
            "sample_households": len(sample),
            **found,
        }
    psi = reference.psi(sample)
    warn = psi[psi >= psi_warn].sort_values(ascending=False)
    return {
        "available": True,
        "psi_warn": psi_warn,
        "sample_households": len(sample),
        "warnings": [str(f) for f in warn.index],
        "psi": {str(k): round(float(v), 4) for k, v in psi.sort_values(ascending=False).items()},
    }


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """Turn SIGTERM into an exception so temp files are removed on the way out."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"stopped by signal {signum}")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@dataclass
class _Job:
    """What every scoring pass of one run shares."""

    bundle: Bundle
    universe: pd.DataFrame
    as_of: dt.date
    model: Any
    context: pd.DataFrame | None
    config: ScoringConfig
    console: Any
    mode: Mode


def _first_pass(
    job: _Job,
    engine: Engine,
    selection: ExplainSelection,
    drift_fraction: float,
    spark_master: str | None,
    spark: Any,
) -> tuple[EngineOutput, Any]:
    """Score every household on ``engine``: the output, and the Spark run to reuse (or None)."""
    if engine == "local":
        out = run_local(
            job.bundle,
            job.universe,
            job.as_of,
            job.model,
            job.context,
            job.config,
            explain=selection,
            drift_fraction=drift_fraction,
            console=job.console,
            reason_mode=job.mode,
        )
        return out, None
    if engine == "spark":
        from riskml.scoring._spark import run_spark

        spark_run = run_spark(
            job.bundle,
            job.universe,
            job.as_of,
            job.model,
            job.context,
            job.config,
            explain=selection,
            drift_fraction=drift_fraction,
            spark_master=spark_master,
            spark=spark,
            console=job.console,
            reason_mode=job.mode,
        )
        return spark_run.output, spark_run
    raise ScoringError(f"engine must be 'local' or 'spark'. Got {engine!r} instead.")


def _rank_and_tier(job: _Job, scores: pd.DataFrame) -> pd.DataFrame:
    """Rank and tier the scores against the cadres' capacity; say so on the console."""
    capacity, capacity_source = model_capacity(job.model)
    core = assign_tiers(scores, job.config.tiers, capacity=capacity)
    if job.console is not None:
        n_flagged = int(core["flagged"].astype("boolean").fillna(False).sum())
        job.console.print(
            f"tiers ({job.config.tiers.method}): {n_flagged:,} flagged; cadres' capacity "
            f"{capacity.describe()} ({capacity_source})"
        )
    return core


def _explain_flagged(
    job: _Job, core: pd.DataFrame, out: EngineOutput, spark_run: Any, timings: dict[str, float]
) -> tuple[pd.DataFrame, int]:
    """Second pass: reasons for flagged households not explained in the first (capacity tiers).

    Returns all reasons and the number of households explained.
    """
    reasons = out.reasons
    explained = int(core["explained"].sum())
    flagged = core["flagged"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    todo = core.loc[flagged & ~core["explained"].to_numpy(dtype=bool), "household_id"].astype(
        "string"
    )
    if not len(todo):
        return reasons, explained
    t2 = time.perf_counter()
    ids = frozenset(todo.tolist())
    again = ExplainSelection(ids=ids)
    if spark_run is not None:
        extra = spark_run.score(explain=again, drift_fraction=0.0, only_ids=ids)
    else:
        extra = run_local(
            job.bundle,
            job.universe.loc[ids_in(job.universe["household_id"], arrow_ids(todo))],
            job.as_of,
            job.model,
            job.context,
            job.config,
            explain=again,
            drift_fraction=0.0,
            description="explaining flagged",
            console=job.console,
            reason_mode=job.mode,
        )
    timings["explain_flagged"] = time.perf_counter() - t2
    return pd.concat([reasons, extra.reasons], ignore_index=True), explained + int(
        extra.scores["explained"].sum()
    )


def _warn_drift(drift: Mapping[str, Any]) -> None:
    """Log the drifted features (the first eight by name)."""
    if drift.get("warnings"):
        log.warning(
            "Feature drift (%s): %s",
            drift_against(drift),
            ", ".join(drift_item(drift, f) for f in drift["warnings"][:8])
            + (f" and {len(drift['warnings']) - 8} more" if len(drift["warnings"]) > 8 else ""),
        )


def score_bundle(
    bundle: Bundle,
    as_of: dt.date,
    model: Any,
    config: ScoringConfig,
    *,
    engine: Engine = "local",
    spark_master: str | None = None,
    spark: Any = None,
    console: Any = None,
    mode: Mode = "internal",
) -> BundleScores:
    """Score a loaded bundle: every household with status, score, rank, tier, flag and reasons.

    ``scores`` has every score column (``change`` columns empty), in the roster's order.
    """
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    universe = household_universe(bundle)
    context = village_context_for(bundle, as_of, model)
    timings["prepare"] = time.perf_counter() - t0
    _preflight(bundle, universe, as_of, model, context)
    job = _Job(bundle, universe, as_of, model, context, config, console, mode)
    drift_fraction = min(1.0, config.drift.sample_households / max(len(universe), 1))
    t1 = time.perf_counter()
    out, spark_run = _first_pass(
        job, engine, _explain_selection(config), drift_fraction, spark_master, spark
    )
    timings["score"] = time.perf_counter() - t1
    timings.update({f"partition_{k}": v for k, v in out.timings.items()})
    try:
        t2 = time.perf_counter()
        core = _rank_and_tier(job, out.scores)
        timings["rank_tier"] = time.perf_counter() - t2
        reasons, explained = _explain_flagged(job, core, out, spark_run, timings)
    finally:
        if spark_run is not None:
            spark_run.close()
    t3 = time.perf_counter()
    scores = assemble_scores(core, reasons, universe["household_id"], as_of)
    timings["assemble"] = time.perf_counter() - t3
    t3 = time.perf_counter()
    scores = add_followup_columns(scores, bundle, as_of)
    timings["followup"] = time.perf_counter() - t3
    t3 = time.perf_counter()
    drift = drift_report(
        out.drift_features, model, config.drift.psi_warn, as_of, config.drift.rate_ratio_warn
    )
    timings["drift"] = time.perf_counter() - t3
    _warn_drift(drift)
    return BundleScores(scores, universe, drift, timings, explained, out.drift_features)


def _override_explain(cfg: ScoringConfig, which: str | None, method: str | None) -> ScoringConfig:
    """``cfg`` with ``explain.which`` / ``explain.method`` overridden (from the CLI)."""
    update = {k: v for k, v in (("which", which), ("method", method)) if v is not None}
    if method is not None and method not in ("tree_shap", "pred_contrib"):
        raise ScoringError(
            f"shap_method must be 'tree_shap' or 'pred_contrib'. Got {method!r} instead."
        )
    if not update:
        return cfg
    return cfg.model_copy(update={"explain": cfg.explain.model_copy(update=update)})


@dataclass
class _Inputs:
    """The model and the bundle of a run, with what the summary records about them."""

    model: Any
    facts: dict[str, Any]
    bundle: Bundle
    data_path: str | None
    timings: dict[str, float]


def _check_request(mode: str, out: str | Path | None, previous: str | Path | None) -> Path | None:
    """Refuse a bad mode, output path or previous file before any work; the checked output path."""
    if mode not in ("internal", "public"):
        raise ScoringError(f"mode must be 'internal' or 'public'. Got {mode!r} instead.")
    checked = None
    if out is not None:
        checked = check_output_path(out)
        clean_stale_temps(checked)
    if previous is not None and not Path(previous).is_file():
        raise ScoringError(
            f"The previous score file {previous} does not exist; give the file of the last run."
        )
    return checked


def _load_inputs(
    data: str | Path | Bundle,
    model: Any,
    uri: str,
    tracking_uri: str | None,
    mapping: str | Path | None,
) -> _Inputs:
    """Load the model (unless given) and the bundle (unless given), timing each."""
    timings: dict[str, float] = {}
    t_load = time.perf_counter()
    if model is None:
        from riskml.tracking import load_risk_model

        model = load_risk_model(uri, tracking_uri=tracking_uri)
    facts = _model_facts(model, uri)
    timings["load_model"] = time.perf_counter() - t_load
    t_load = time.perf_counter()
    if isinstance(data, Bundle):
        bundle, data_path = data, None
    else:
        from riskml.data import load_bundle

        bundle, data_path = load_bundle(data, mapping=mapping), str(data)
    timings["load_bundle"] = time.perf_counter() - t_load
    return _Inputs(model, facts, bundle, data_path, timings)


def _check_inputs(as_of: dt.date, inputs: _Inputs, out: Path | None) -> None:
    """Refuse an as-of date the inputs cannot support, or a roster too long for an Excel sheet."""
    check_as_of(as_of, inputs.bundle, inputs.facts)
    if out is not None and output_format(out) == "xlsx":
        from riskml.scoring._writer import EXCEL_MAX_ROWS

        n_hh = inputs.bundle.households["household_id"].nunique()
        if n_hh > EXCEL_MAX_ROWS:
            raise ScoringError(
                f"The roster has {n_hh:,} households; an Excel sheet holds at most {EXCEL_MAX_ROWS:,}. "
                "Write .parquet or .csv instead."
            )


def _against_history(
    scores: pd.DataFrame,
    bundle: Bundle,
    as_of: dt.date,
    cfg: ScoringConfig,
    previous: str | Path | None,
) -> tuple[pd.DataFrame, pd.DataFrame | None, dict[str, Any], dict[str, Any] | None]:
    """Apply the quiet period, then compare with the previous list (when given).

    Returns the scores, the previous list (or None), the hold counts and the change counts.
    """
    change_counts = None
    prev = read_scores(previous)[0] if previous is not None else None
    # reviewed as not at risk recently: held back unless something new (before 'change')
    scores, hold_counts = apply_quiet_period(scores, bundle, as_of, cfg.reviews, prev)
    if prev is not None:
        scores, change_counts = compare_with_previous(
            scores, prev, cfg.change, previous_path=str(previous)
        )
    return scores, prev, hold_counts, change_counts


def _run_info(
    as_of: dt.date,
    engine: Engine,
    mode: Mode,
    inputs: _Inputs,
    cfg: ScoringConfig,
    previous: str | Path | None,
    explained: int,
) -> dict[str, Any]:
    """What the summary records about the run: date, versions, model, bundle and settings."""
    bundle = inputs.bundle
    return {
        "as_of": as_of.isoformat(),
        "created_at": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        "riskml_version": __version__,
        "engine": engine,
        "mode": mode,
        **inputs.facts,
        "bundle": {
            "path": inputs.data_path,
            "extracted_on": bundle.extracted_on.isoformat(),
            "province": bundle.province,
            "source": bundle.source,
        },
        "config": {
            "tiers": cfg.tiers.model_dump(mode="json"),
            "explain": cfg.explain.which,
            "shap_method": cfg.explain.method,
            "big_move": cfg.change.big_move,
            "psi_warn": cfg.drift.psi_warn,
        },
        "previous": str(previous) if previous is not None else None,
        "explained": explained,
    }


def _output_facts(out: Path | None, written: pd.DataFrame) -> dict[str, Any]:
    """The summary's ``output`` entry: where the score file and summary go, and how many rows."""
    return {
        "path": str(out) if out is not None else None,
        "format": output_format(out) if out is not None else None,
        "rows": len(written),
        "summary": str(sidecar_path(out, "summary")) if out is not None else None,
    }


_METADATA_KEYS = (
    "as_of",
    "created_at",
    "riskml_version",
    "engine",
    "mode",
    "model",
    "feature_set",
    "bundle",
    "input_households",
    "status",
    "tiers",
    "flagged",
)


def _score_metadata(
    summary: Mapping[str, Any],
    drift: Mapping[str, Any] | None,
    facts: Mapping[str, Any],
    prev: pd.DataFrame | None,
) -> dict[str, Any]:
    """The metadata stored with the score file: the summary's headline, drift and risk types."""
    metadata = {k: summary[k] for k in _METADATA_KEYS}
    metadata["drift_warnings"] = (drift or {}).get("warnings", [])
    metadata["risk_types"] = facts.get("risk_types", {})
    # the previous list's date: the follow-up counts reviews since then (riskml.reports)
    metadata["previous_as_of"] = (
        pd.Timestamp(prev["as_of"].dropna().max()).date().isoformat()
        if prev is not None and prev["as_of"].notna().any()
        else None
    )
    return metadata


def _write_run(
    written: pd.DataFrame,
    out: Path,
    metadata: dict[str, Any],
    summary: dict[str, Any],
    started: float,
) -> Path:
    """Write the score file, then the summary beside it (with the write's timing); its path."""
    t_write = time.perf_counter()
    write_scores(written, out, metadata=metadata)
    summary["timings_seconds"]["write"] = round(time.perf_counter() - t_write, 3)
    summary["timings_seconds"]["total"] = round(time.perf_counter() - started, 3)
    return write_json_atomic(summary, sidecar_path(out, "summary"))


@dataclass
class _Request:
    """What the caller of :func:`score_roster` asked for, checked."""

    as_of: dt.date
    cfg: ScoringConfig
    engine: Engine
    mode: Mode
    previous: str | Path | None
    out: Path | None
    started: float
    spark_master: str | None
    spark: Any
    console: Any


def _score_and_write(req: _Request, inputs: _Inputs) -> ScoringRun:
    """Score the bundle, set it against the previous list, summarise, and write (when asked)."""
    cfg = req.cfg
    result = score_bundle(
        inputs.bundle,
        req.as_of,
        inputs.model,
        cfg,
        engine=req.engine,
        spark_master=req.spark_master,
        spark=req.spark,
        console=req.console,
        mode=req.mode,
    )
    t_history = time.perf_counter()
    scores, prev, hold_counts, change_counts = _against_history(
        result.scores, inputs.bundle, req.as_of, cfg, req.previous
    )
    counts = reconcile_households(scores, result.universe)
    result.timings["history"] = time.perf_counter() - t_history
    written = (
        to_public(scores, visible_chars=cfg.output.public_id_visible_chars)
        if req.mode == "public"
        else scores
    )
    run_info = _run_info(
        req.as_of, req.engine, req.mode, inputs, cfg, req.previous, result.explained
    )
    timings = {**inputs.timings, **result.timings, "total": time.perf_counter() - req.started}
    summary = build_summary(
        scores,
        counts=counts,
        input_households=len(result.universe),
        run=run_info,
        drift=result.drift,
        change=change_counts,
        quarantine=inputs.bundle.quarantine,
        timings=timings,
    )
    summary["followup"] = followup_counts(scores, hold_counts)
    summary["output"] = _output_facts(req.out, written)
    metadata = _score_metadata(summary, result.drift, inputs.facts, prev)
    summary_path = None
    if req.out is not None:
        summary_path = _write_run(written, req.out, metadata, summary, req.started)
    return ScoringRun(
        scores=written, summary=summary, metadata=metadata, path=req.out, summary_path=summary_path
    )


def score_roster(
    data: str | Path | Bundle,
    as_of: str | dt.date,
    *,
    out: str | Path | None,
    model_uri: str | None = None,
    model: Any = None,
    config: ScoringConfig | str | Path | None = None,
    engine: Engine = "local",
    spark_master: str | None = None,
    spark: Any = None,
    mode: Mode = "internal",
    explain: Literal["flagged", "all"] | None = None,
    shap_method: Literal["tree_shap", "pred_contrib"] | None = None,
    previous: str | Path | None = None,
    tracking_uri: str | None = None,
    mapping: str | Path | None = None,
    console: Any = None,
    quiet: bool = False,
) -> ScoringRun:
    """Score a monthly roster and write the score file, its metadata and the run summary.

    Parameters
    ----------
    data : path or Bundle
        A bundle folder (read with :func:`riskml.data.load_bundle`) or a loaded bundle.
    as_of : str or date
        The scoring date (``YYYY-MM-DD``); not after the bundle's extraction date and not before
        the model's training range.
    out : path or None
        ``.parquet``, ``.csv`` (UTF-8 with BOM, Chinese headers) or ``.xlsx``; written atomically
        with ``<out>.summary.json`` beside it (``<out>.meta.json`` too for CSV/Excel). None =
        return the result without writing.
    model_uri : str, optional
        ``models:/NAME@champion`` etc.; default ``model_uri`` of ``configs/scoring.yaml``.
    model : RiskModel, optional
        An already loaded model (then ``model_uri`` is only recorded).
    config : ScoringConfig or path, optional
        Default ``configs/scoring.yaml``.
    engine : {"local", "spark"}
        Streaming chunks on this machine, or Spark (``spark_master``, default ``local[2]``).
    mode : {"internal", "public"}
        ``public``: masked household ids, only public reason texts, no diagnoses.
    explain : {"flagged", "all"}, optional
        Overrides ``explain.which`` of the config.
    shap_method : {"tree_shap", "pred_contrib"}, optional
        Overrides ``explain.method`` of the config: riskml's exact kernel, or LightGBM's own
        ``pred_contrib`` (same values, far slower: the fallback).
    previous : path, optional
        The previous run's internal score file: marks new flags, removed flags and big moves.
    tracking_uri, mapping : optional
        The MLflow store, and a mapping file for a bundle in a source system's layout.

    Raises
    ------
    ScoringError
        Bad as-of date, the roster does not match the model's signature, unknown engine.
    ScoringOutputError
        The output cannot be written (unknown extension, folder missing or read-only, disk full).
    """
    started = time.perf_counter()
    as_of_date = parse_as_of(as_of)
    out_path = _check_request(mode, out, previous)
    cfg = config if isinstance(config, ScoringConfig) else load_scoring_config(config)
    cfg = _override_explain(cfg, explain, shap_method)
    request = _Request(
        as_of_date, cfg, engine, mode, previous, out_path, started, spark_master, spark, console
    )
    with _sigterm_as_interrupt():
        inputs = _load_inputs(data, model, model_uri or cfg.model_uri, tracking_uri, mapping)
        _check_inputs(as_of_date, inputs, out_path)
        run = _score_and_write(request, inputs)
    if not quiet:
        print_summary(run.summary, run.scores, console=console)
    return run
