"""Inputs shared by training, evaluation and promotion: bundle, config, as-of dates, training set.

Training and re-evaluation must see the same rows, so both build the training set here, from the
same as-of schedule.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "DEFAULT_MIN_HISTORY_MONTHS",
    "Oracle",
    "Progress",
    "TrainingInputs",
    "as_of_dates_for",
    "backtest_fingerprint",
    "load_inputs",
]

log = logging.getLogger(__name__)

Progress = Callable[[str], None]

DEFAULT_MIN_HISTORY_MONTHS = 12
"""As-of dates start no earlier than this many months after the bundle's history begins (one
income year and a year of monitoring records), whatever the config's ``as_of_start`` says."""


def _noop(_: str) -> None:
    return None


def _earliest_date(bundle: Any) -> pd.Timestamp | None:
    """Where the bundle's history starts: the first income year (1 January) or the first
    monitoring identification, whichever is earlier.

    Events and assistance are not used: exports often carry back-dated states (a chronic illness
    or disability "since" years before the system existed), which say nothing about when the
    monitoring history, and so the labels' context, begins.
    """
    candidates: list[pd.Timestamp] = []
    income = bundle.tables.get("income")
    if income is not None and len(income) and "year" in income.columns:
        first_year = pd.to_numeric(income["year"], errors="coerce").min()
        if pd.notna(first_year):
            candidates.append(pd.Timestamp(int(first_year), 1, 1))
    monitoring = bundle.tables.get("monitoring")
    if monitoring is not None and len(monitoring) and "identified_on" in monitoring.columns:
        first = monitoring["identified_on"].min()
        if pd.notna(first):
            candidates.append(pd.Timestamp(first))
    return min(candidates) if candidates else None


def as_of_dates_for(
    bundle: Any,
    config: Any,
    *,
    as_of_start: dt.date | str | None = None,
    as_of_end: dt.date | str | None = None,
    min_history_months: int = DEFAULT_MIN_HISTORY_MONTHS,
) -> tuple[list[pd.Timestamp], dict[str, Any]]:
    """The as-of dates a training set is built on, and how they were chosen.

    Every ``config.training_set.step_months`` from the later of ``as_of_start`` (default: the
    config's) and the first month with ``min_history_months`` of history in the bundle, to
    ``as_of_end`` (default: the config's, else the latest date whose label window of
    ``config.horizon_months`` closes on or before the extraction date).
    """
    from riskml.features import as_of_schedule

    horizon = int(config.horizon_months)
    settings = config.training_set
    extracted = pd.Timestamp(bundle.extracted_on)
    requested_start = pd.Timestamp(as_of_start or settings.as_of_start)
    earliest = _earliest_date(bundle)
    start = requested_start
    history_start = None
    if earliest is not None and min_history_months > 0:
        history_start = (earliest + pd.DateOffset(months=min_history_months)).normalize()
        if history_start.day != 1:  # the first month start with the full history
            history_start = (history_start + pd.offsets.MonthBegin(1)).normalize()
        start = max(start, history_start)
    last_labelled = (extracted - pd.DateOffset(months=horizon)).normalize()
    end = pd.Timestamp(as_of_end or settings.as_of_end or last_labelled)
    if end > last_labelled:
        end = last_labelled
    if end < start:
        raise ValueError(
            f"No as-of date has a closed {horizon}-month label window: the bundle's history starts "
            f"{earliest.date() if earliest is not None else '?'}, is extracted on {extracted.date()}, "
            f"and as-of dates must lie between {start.date()} (start, with {min_history_months} months "
            f"of history) and {last_labelled.date()} (extraction minus the horizon). Give a longer "
            "history, a shorter horizon, or an explicit --as-of-start."
        )
    dates = as_of_schedule(start, end, f"{int(settings.step_months)}M")
    info = {
        "as_of_first": str(dates[0].date()),
        "as_of_last": str(dates[-1].date()),
        "n_as_of_dates": len(dates),
        "step_months": int(settings.step_months),
        "requested_start": str(requested_start.date()),
        "history_start": str(history_start.date()) if history_start is not None else None,
        "extracted_on": str(extracted.date()),
    }
    if start > requested_start:
        log.info(
            "as-of dates start %s (not %s): the bundle needs %d months of history first",
            start.date(),
            requested_start.date(),
            min_history_months,
        )
    return dates, info


@dataclass
class TrainingInputs:
    """A loaded bundle, its config, catalog, feature set, training set and ground truth."""

    data_dir: Path
    bundle: Any
    config: Any
    config_path: Path | None
    catalog: Any
    feature_set: Any
    training_set: Any
    as_of_info: dict[str, Any]
    oracle: np.ndarray | None
    oracle_note: str
    risk_types: np.ndarray | None = None
    """``risk_1`` of the identification each row's label counts (None for negatives)."""


Oracle = Callable[[pd.DataFrame], np.ndarray]
"""True probabilities of the default 12-month label for ``(household_id, as_of)`` pairs, known
outside the data (a synthetic province's ground truth: ``riskml.synth.GroundTruthOracle``)."""


def _oracle(oracle: Oracle | None, training_set: Any, config: Any) -> tuple[np.ndarray | None, str]:
    """The caller's oracle aligned with the training set's rows, when one is given."""
    if oracle is None:
        return None, "no oracle given (real data)"
    if config.label != "default" or int(config.horizon_months) != 12:
        return None, "the oracle gives the default 12-month label only: no oracle for this label"
    pairs = training_set.frame[["household_id", "as_of"]]
    p = np.asarray(oracle(pairs), dtype=np.float64)
    labelled = training_set.frame[config.label_column].notna().to_numpy()
    if np.isnan(p[labelled]).any():
        return (
            None,
            f"the oracle lacks {int(np.isnan(p[labelled]).sum())} labelled rows: no oracle",
        )
    return p, f"oracle from {oracle}"


def load_inputs(
    data_dir: str | Path,
    *,
    config_path: str | Path | None = None,
    mapping: str | Path | None = None,
    as_of_start: dt.date | str | None = None,
    as_of_end: dt.date | str | None = None,
    min_history_months: int = DEFAULT_MIN_HISTORY_MONTHS,
    feature_set: str | None = None,
    progress: Progress | None = None,
    oracle: Oracle | None = None,
) -> TrainingInputs:
    """Load the bundle and config, and build the training set (with the oracle when given)."""
    from riskml.config.training import load_training_config
    from riskml.data import load_bundle
    from riskml.features import build_training_set, load_catalog

    say = progress or _noop
    data_dir = Path(data_dir)
    config = load_training_config(config_path)
    say(f"loading bundle {data_dir}")
    bundle = load_bundle(data_dir, mapping=mapping)
    catalog = load_catalog()
    fs = catalog.feature_set(feature_set or config.feature_set)
    dates, info = as_of_dates_for(
        bundle,
        config,
        as_of_start=as_of_start,
        as_of_end=as_of_end,
        min_history_months=min_history_months,
    )
    say(
        f"building training set: {len(bundle.households):,} households × {len(dates)} as-of dates "
        f"({info['as_of_first']} … {info['as_of_last']}), feature set '{fs.name}'"
    )
    if info.get("history_start") and pd.Timestamp(info["as_of_first"]) > pd.Timestamp(
        info["requested_start"]
    ):
        say(
            f"as-of dates start {info['as_of_first']}, not {info['requested_start']}: the bundle "
            f"needs {min_history_months} months of history first"
        )
    ts = build_training_set(bundle, dates, config.horizon_months, feature_set=fs, catalog=catalog)
    oracle_p, note = _oracle(oracle, ts, config)
    risk_types = None
    if config.label == "default" and "monitoring" in bundle.tables:
        from riskml.config.features import load_training_config as load_labels_config
        from riskml.models import label_risk_types

        categories = _label_categories(load_labels_config)
        risk_types = label_risk_types(
            bundle.tables["monitoring"], ts.frame, int(config.horizon_months), categories=categories
        )
    return TrainingInputs(
        data_dir=data_dir,
        bundle=bundle,
        config=config,
        config_path=Path(config_path) if config_path else None,
        catalog=catalog,
        feature_set=fs,
        training_set=ts,
        as_of_info=info,
        oracle=oracle_p,
        oracle_note=note,
        risk_types=risk_types,
    )


def _label_categories(loader: Callable[[], Any]) -> list[str] | None:
    """The monitoring categories the default label counts (configs/labels.yaml), None = any."""
    try:
        cats = loader().label.categories
    except (AttributeError, OSError, ValueError):
        return None
    return list(cats) if cats else None


def backtest_fingerprint(config: Any, folds: pd.DataFrame, data_fingerprint: str) -> str:
    """A short hash of what makes two backtests comparable: data, label, horizon, gap, capacity
    and the folds' test windows and row counts."""
    cols = [
        c
        for c in ("fold", "test_start", "test_end", "test_rows", "test_positives")
        if c in folds.columns
    ]
    spec = {
        "data": data_fingerprint,
        "label": config.label,
        "horizon": int(config.horizon_months),
        "gap": int(config.gap_months),
        "capacity": config.capacity.model_dump(mode="json"),
        "folds": json.loads(folds[cols].astype(str).to_json(orient="records")),
    }
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]
