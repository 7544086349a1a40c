"""Evaluating frozen (already trained) models on a bundle, against the baselines, on the same rows.

The rows are the test windows of the rolling-origin backtest over the bundle's labelled as-of
dates (``configs/training.yaml`` folds). Baselines are fitted per fold on that fold's training
rows, exactly as in the backtest; the frozen models are scored as they are. A frozen model may
have been trained on some of these rows, which flatters it: the result says how many evaluated
rows fall inside each model's training as-of range.
"""

from __future__ import annotations

import datetime as dt
import math
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from riskml.tracking._pipeline import (
    DEFAULT_MIN_HISTORY_MONTHS,
    Oracle,
    Progress,
    TrainingInputs,
    load_inputs,
)
from riskml.tracking._runlog import metric_key

__all__ = ["EvaluationResult", "evaluate", "evaluate_frozen"]


def _noop(_: str) -> None:
    return None


@dataclass
class EvaluationResult:
    """Metrics of frozen models and the baselines on the same backtest test rows."""

    metrics: pd.DataFrame
    """Tidy: ``fold`` ("1", … or "pooled"), ``method``, ``metric``, ``value``."""
    folds: pd.DataFrame
    overlap: dict[str, int]
    """Per frozen model: evaluated rows whose as-of date is within its training as-of range."""
    capacity: str
    data_fingerprint: str
    methods: tuple[str, ...]
    run_id: str | None = None
    info: dict[str, Any] = field(default_factory=dict)

    def table(self) -> pd.DataFrame:
        """Pooled metrics: methods as rows, metrics as columns."""
        from riskml.models import METRIC_ORDER  # in functions: `import riskml.tracking` stays cheap

        pooled = self.metrics[self.metrics["fold"] == "pooled"]
        wide = pooled.pivot(index="method", columns="metric", values="value")
        wide = wide.reindex(index=[m for m in self.methods if m in wide.index])
        wide = wide[[m for m in METRIC_ORDER if m in wide.columns]]
        wide.columns.name = None
        return wide

    def pooled(self, method: str) -> dict[str, float]:
        """Pooled metrics of one method as a dict."""
        part = self.metrics[(self.metrics["fold"] == "pooled") & (self.metrics["method"] == method)]
        return dict(zip(part["metric"], part["value"].astype(float), strict=True))


def _capacity_groups(part: pd.DataFrame, config: Any) -> tuple[float | int, Any]:
    cap = config.capacity
    if cap.per_village is not None:
        return int(cap.per_village), part[["village_code", "as_of"]]
    return float(cap.share), part["as_of"]


def _metrics(
    y: np.ndarray, prob: np.ndarray, rank: np.ndarray, capacity: float | int, groups: Any
) -> dict[str, float]:
    from riskml.models import (
        brier,
        expected_calibration_error,
        pr_auc,
        recall_precision_at_capacity,
        roc_auc,
    )

    positives = float(y.sum())
    cap = recall_precision_at_capacity(y, rank, capacity, groups)
    return {
        "n": float(len(y)),
        "positives": positives,
        "base_rate": positives / len(y) if len(y) else math.nan,
        "roc_auc": roc_auc(y, rank),
        "pr_auc": pr_auc(y, rank),
        "brier": brier(y, prob),
        "ece": expected_calibration_error(y, prob),
        "recall_at_capacity": cap.recall,
        "precision_at_capacity": cap.precision,
        "lift_at_capacity": cap.lift,
    }


def _features_for(model: Any, inputs: TrainingInputs, rows: pd.DataFrame) -> pd.DataFrame:
    """The frozen model's features for ``rows``: the training set's columns when the feature set
    version matches, else recomputed with the model's own bundled definitions."""
    ts = inputs.training_set
    same = model.feature_set_definition.get("version") == ts.metadata.get("feature_set_version")
    if same and all(c in rows.columns for c in model.input_schema):
        return rows[list(model.input_schema)]
    from riskml.features import compute_features

    pairs = rows[["household_id", "as_of"]].reset_index(drop=True)
    feats = compute_features(inputs.bundle, pairs, model.feature_set, catalog=model.catalog)
    feats.index = rows.index
    return feats


@dataclass(frozen=True)
class _Rows:
    """The labelled rows of a training set, as the evaluation folds index them."""

    data: pd.DataFrame
    y: np.ndarray
    as_of: pd.Series
    oracle: np.ndarray | None


def _labelled_rows(inputs: TrainingInputs) -> _Rows:
    ts, label = inputs.training_set, inputs.config.label_column
    labelled = ts.frame[label].notna().to_numpy()
    data = ts.frame.loc[labelled].reset_index(drop=True)
    return _Rows(
        data=data,
        y=data[label].to_numpy(dtype=np.float64),
        as_of=pd.to_datetime(data["as_of"]),
        oracle=inputs.oracle[labelled] if inputs.oracle is not None else None,
    )


def _fold_info(fold: Any, rows: _Rows) -> dict[str, Any]:
    """The fold's line in ``EvaluationResult.folds``, marked skipped when it cannot be scored."""
    info = {
        "fold": str(fold.index),
        "test_start": fold.test_start,
        "test_end": fold.test_end,
        "test_rows": int(fold.test.sum()),
        "test_positives": int(rows.y[fold.test].sum()),
        "status": "ok",
        "reason": "",
    }
    y_tr = rows.y[fold.train]
    if not fold.test.any():
        info.update(status="skipped", reason="no labelled as-of date in the test window")
    elif len(y_tr) == 0 or y_tr.min() == y_tr.max():
        info.update(
            status="skipped", reason="baselines cannot be fitted: no training rows or one class"
        )
    return info


def _score_frozen(
    models: Mapping[str, Any],
    inputs: TrainingInputs,
    test: pd.DataFrame,
    test_as_of: pd.Series,
    part: pd.DataFrame,
    overlap: dict[str, int],
) -> None:
    """Add each frozen model's scores to ``part``; count test rows inside its training range."""
    for name, rm in models.items():
        X = _features_for(rm, inputs, test)
        raw = rm.raw_score(X)
        part[f"score_{name}"] = rm.calibrate(raw)
        part[f"rank_{name}"] = raw
        first, last = rm.metadata.get("as_of_first"), rm.metadata.get("as_of_last")
        if first and last:
            inside = (test_as_of >= pd.Timestamp(first)) & (test_as_of <= pd.Timestamp(last))
            overlap[name] += int(inside.sum())


def _score_baselines(
    baselines: Mapping[str, Any],
    features: list[str],
    train: pd.DataFrame,
    y_tr: np.ndarray,
    test: pd.DataFrame,
    part: pd.DataFrame,
) -> None:
    """Fit the baselines on the fold's training rows and add their scores to ``part``."""
    from riskml.models import ScorecardBaseline

    for name, baseline in baselines.items():
        baseline.fit(train, y_tr)
        part[f"score_{name}"] = baseline.predict_proba(test)
        part[f"rank_{name}"] = baseline.score(test)
    card = ScorecardBaseline().fit(train[features], y_tr)
    p = card.predict_proba(test[features])
    part["score_scorecard"] = p
    part["rank_scorecard"] = p


def _score_fold(
    fold: Any,
    rows: _Rows,
    models: Mapping[str, Any],
    baselines: Mapping[str, Any],
    inputs: TrainingInputs,
    overlap: dict[str, int],
) -> pd.DataFrame:
    """Labels and every method's scores on one fold's test rows."""
    test = rows.data.loc[fold.test]
    part = pd.DataFrame(
        {
            "fold": str(fold.index),
            "label": rows.y[fold.test],
            "as_of": rows.as_of[fold.test].to_numpy(),
        }
    )
    if "village_code" in test.columns:
        part["village_code"] = test["village_code"].to_numpy()
    _score_frozen(models, inputs, test, rows.as_of[fold.test], part, overlap)
    features = list(inputs.training_set.feature_names)
    train = rows.data.loc[fold.train]
    _score_baselines(baselines, features, train, rows.y[fold.train], test, part)
    if rows.oracle is not None:
        part["score_oracle"] = rows.oracle[fold.test]
        part["rank_oracle"] = rows.oracle[fold.test]
    return part


def _metric_records(
    pred: pd.DataFrame, methods: tuple[str, ...], config: Any
) -> list[dict[str, Any]]:
    """Every method's metrics per fold and pooled over all folds (tidy records)."""
    records: list[dict[str, Any]] = []
    scopes = [(f, pred["fold"].to_numpy() == f) for f in pred["fold"].unique()]
    scopes.append(("pooled", np.ones(len(pred), dtype=bool)))
    for scope, mask in scopes:
        sub = pred.loc[mask]
        capacity, groups = _capacity_groups(sub, config)
        y = sub["label"].to_numpy(dtype=np.float64)
        for m in methods:
            values = _metrics(
                y,
                sub[f"score_{m}"].to_numpy(float),
                sub[f"rank_{m}"].to_numpy(float),
                capacity,
                groups,
            )
            records += [
                {"fold": scope, "method": m, "metric": k, "value": float(v)}
                for k, v in values.items()
            ]
    return records


def evaluate_frozen(
    models: Mapping[str, Any],
    inputs: TrainingInputs,
    *,
    progress: Progress | None = None,
) -> EvaluationResult:
    """Score frozen models and the baselines on the backtest test folds of ``inputs``.

    Parameters
    ----------
    models
        Method name → :class:`riskml.tracking.RiskModel`.
    inputs
        From :func:`riskml.tracking._pipeline.load_inputs`.
    """
    from riskml.config.rules import load_rules_config
    from riskml.models import RuleBaseline, temporal_folds

    say = progress or _noop
    ts, config = inputs.training_set, inputs.config
    rows = _labelled_rows(inputs)
    folds = temporal_folds(
        rows.as_of,
        n_folds=config.backtest.n_folds,
        test_period_months=config.backtest.test_period_months,
        gap_months=config.gap_months,
        train_window_months=config.backtest.train_window_months,
    )
    rules_cfg = load_rules_config(config.rules_config)
    baselines = {
        "rules": RuleBaseline(rules_cfg.rules, name="rules"),
        "persistence": RuleBaseline(rules_cfg.persistence, name="persistence"),
    }
    oracle = ("oracle",) if rows.oracle is not None else ()
    methods = (*models, "rules", "persistence", "scorecard", *oracle)
    fold_rows: list[dict[str, Any]] = []
    parts: list[pd.DataFrame] = []
    overlap = dict.fromkeys(models, 0)
    for fold in folds:
        fold_rows.append(info := _fold_info(fold, rows))
        if info["status"] != "ok":
            continue
        say(f"evaluating fold {fold.index}: {int(fold.test.sum()):,} rows")
        parts.append(_score_fold(fold, rows, models, baselines, inputs, overlap))
    if not parts:
        reasons = "; ".join(f"fold {r['fold']}: {r['reason']}" for r in fold_rows) or "no folds"
        raise ValueError(
            f"No evaluation fold could be scored ({reasons}). Give a longer as-of range."
        )
    pred = pd.concat(parts, ignore_index=True)
    records = _metric_records(pred, methods, config)
    return EvaluationResult(
        metrics=pd.DataFrame.from_records(records, columns=["fold", "method", "metric", "value"]),
        folds=pd.DataFrame(fold_rows),
        overlap=overlap,
        capacity=config.capacity.describe(),
        data_fingerprint=str(ts.metadata.get("data_fingerprint", "")),
        methods=tuple(methods),
        info={"rows": len(pred), "oracle": inputs.oracle_note, **inputs.as_of_info},
    )


def evaluate(
    data_dir: str | Path,
    model_uri: str,
    *,
    config_path: str | Path | None = None,
    tracking_uri: str | None = None,
    mapping: str | Path | None = None,
    as_of_start: dt.date | str | None = None,
    as_of_end: dt.date | str | None = None,
    min_history_months: int = DEFAULT_MIN_HISTORY_MONTHS,
    log_run: bool = True,
    progress: Progress | None = None,
    oracle: Oracle | None = None,
    extra_tables: dict[str, pd.DataFrame] | None = None,
) -> EvaluationResult:
    """Evaluate a registered model on a bundle against the baselines, and log it as a run.

    ``extra_tables`` are logged with the run as ``evaluation/<name>.csv`` (e.g. the review
    outcomes of the lists the model produced, ``riskml.scoring.review_outcomes``).

    The model is frozen: its scores on the bundle's backtest test rows are compared with the
    department rules, persistence and a scorecard fitted per fold (and the ``oracle``
    when one is given, e.g. ``riskml.synth.GroundTruthOracle``). The run is tagged ``riskml.kind=evaluation``.

    Examples
    --------
    >>> result = evaluate("data/demo", "models:/riskml-recurrence@champion")  # doctest: +SKIP
    >>> result.table()  # doctest: +SKIP
    """
    from riskml.tracking._load import load_risk_model
    from riskml.tracking._store import open_store

    say = progress or _noop
    store = open_store(tracking_uri)
    model = load_risk_model(model_uri, tracking_uri=store.tracking_uri)
    inputs = load_inputs(
        data_dir,
        config_path=config_path,
        mapping=mapping,
        as_of_start=as_of_start,
        as_of_end=as_of_end,
        min_history_months=min_history_months,
        progress=say,
        oracle=oracle,
    )
    result = evaluate_frozen({"model": model}, inputs, progress=say)
    if log_run:
        result.run_id = _log_evaluation(store, result, model, model_uri, extra_tables or {})
    return result


def _log_evaluation(
    store: Any,
    result: EvaluationResult,
    model: Any,
    model_uri: str,
    extra_tables: dict[str, pd.DataFrame] | None = None,
) -> str:
    import mlflow
    from mlflow.entities import Metric

    m = model.metadata
    tags = {
        "riskml.kind": "evaluation",
        "riskml.model_uri": model_uri,
        "riskml.model_name": str(m.get("name") or ""),
        "riskml.model_version": str(m.get("version") or ""),
        "riskml.data_fingerprint": result.data_fingerprint,
    }
    metrics = {}
    for fold, method, metric, value in result.metrics.itertuples(index=False):
        if np.isfinite(value):
            scope = "pooled" if fold == "pooled" else f"fold{fold}"
            metrics[metric_key(scope, method, metric)] = float(value)
    with (
        store.active(),
        tempfile.TemporaryDirectory(prefix="riskml-eval-") as tmp,
        mlflow.start_run(
            experiment_id=store.experiment_id, run_name=f"evaluate {model_uri}", tags=tags
        ) as run,
    ):
        now = int(time.time() * 1000)
        items = [Metric(k, v, now, 0) for k, v in metrics.items()]
        for i in range(0, len(items), 1000):
            store.client.log_batch(run.info.run_id, metrics=items[i : i + 1000])
        mlflow.log_params(
            {
                "model_uri": model_uri,
                "rows": str(result.info.get("rows")),
                "capacity": result.capacity,
                **{f"overlap.{k}": str(v) for k, v in result.overlap.items()},
            }
        )
        out = Path(tmp)
        result.table().to_csv(out / "evaluation_table.csv", index_label="method")
        result.metrics.to_csv(out / "evaluation_metrics.csv", index=False)
        result.folds.to_csv(out / "folds.csv", index=False)
        for name, table in (extra_tables or {}).items():
            table.to_csv(out / f"{name}.csv", index_label="group")
        mlflow.log_artifacts(str(out), artifact_path="evaluation")
        return run.info.run_id
