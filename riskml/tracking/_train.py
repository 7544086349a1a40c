"""``train_and_register``: training set → backtest → final model → MLflow run → registry."""

from __future__ import annotations

import datetime as dt
import json
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from riskml.data import neutralise_frame
from riskml.tracking._card import build_model_card, render_model_card
from riskml.tracking._pipeline import (
    DEFAULT_MIN_HISTORY_MONTHS,
    Oracle,
    Progress,
    TrainingInputs,
    backtest_fingerprint,
    load_inputs,
)
from riskml.tracking._reference import training_reference
from riskml.tracking._registry import CHALLENGER, register_version
from riskml.tracking._riskmodel import (
    RiskModel,
    feature_set_definition,
    input_schema_from_frame,
    write_model_artifacts,
)
from riskml.tracking._runlog import flatten_params, metric_key, metrics_from_backtest
from riskml.tracking._store import DEFAULT_EXPERIMENT, TrackingStore, open_store

__all__ = [
    "DEFAULT_MODEL_NAME",
    "TrainResult",
    "feature_set_bundle",
    "log_risk_model",
    "log_training_run",
    "train_and_register",
]

DEFAULT_MODEL_NAME = "riskml-recurrence"
PRIMARY_METRICS = ("recall_at_capacity", "pr_auc")
"""Default order in which promotion compares champion and challenger (higher is better)."""

_SHAP_ROWS = 2000


def _noop(_: str) -> None:
    return None


@dataclass
class TrainResult:
    """What :func:`train_and_register` did.

    ``model_uri`` is the alias URI ``models:/NAME@challenger`` (it moves with the alias);
    ``version_uri`` is ``models:/NAME/VERSION`` (fixed).
    """

    name: str
    version: str
    aliases: list[str]
    run_id: str
    experiment_id: str
    tracking_uri: str
    model_uri: str
    version_uri: str
    table: pd.DataFrame
    markdown: str
    card: dict[str, Any]
    backtest: Any = field(repr=False, default=None)
    model: Any = field(repr=False, default=None)
    """The fitted ``RecurrenceRiskModel`` (in memory; the registered copy is identical)."""
    timings: dict[str, float] = field(default_factory=dict)


def _labelled(ts: Any, config: Any) -> pd.DataFrame:
    return ts.frame.loc[ts.frame[config.label_column].notna()]


def feature_set_bundle(feature_set: Any, catalog: Any) -> dict[str, Any]:
    """The feature set as bundled with a model: its catalog entries (own features and the helper
    features they are computed from), catalog version and settings.

    ``RiskModel.feature_set`` / ``RiskModel.catalog`` are rebuilt from it.
    """
    definition = feature_set_definition(feature_set, catalog_version=catalog.version)
    own = {f["name"] for f in definition["features"]}
    definition.update(
        {
            "description": getattr(feature_set, "description", ""),
            "helpers": [
                f.model_dump(mode="json") for f in feature_set.required if f.name not in own
            ],
            "required_order": [f.name for f in feature_set.required],
            "catalog_declared_version": catalog.declared_version,
            "catalog_content_hash": catalog.content_hash,
            "catalog_settings": catalog.settings.model_dump(mode="json"),
            "village_context": catalog.village.model_dump(mode="json"),
        }
    )
    return definition


def _plots(
    out: Path, bt: Any, model: Any, X: pd.DataFrame, feature_set: Any, seed: int
) -> list[str]:
    """Write ROC, PR, calibration and SHAP figures as PNG into ``out``; return the file names."""
    import matplotlib.pyplot as plt

    from riskml.tracking._plots import (
        calibration_figure,
        pr_figure,
        roc_figure,
        shap_dependence_figures,
        shap_summary_figures,
    )

    out.mkdir(parents=True, exist_ok=True)
    pred = bt.predictions
    y = pred["label"].to_numpy(dtype=float)
    ranks = {m: pred[f"rank_{m}"].to_numpy(dtype=float) for m in bt.methods}
    probs = {m: pred[f"score_{m}"].to_numpy(dtype=float) for m in bt.methods}
    figs: dict[str, Any] = {
        "roc": roc_figure(y, ranks, title="ROC, pooled out-of-fold (backtest)"),
        "precision_recall": pr_figure(y, ranks, title="Precision-recall, pooled out-of-fold"),
        "calibration": calibration_figure(y, probs, title="Calibration, pooled out-of-fold"),
    }
    if len(X):
        sample = (
            X.sample(n=min(_SHAP_ROWS, len(X)), random_state=seed) if len(X) > _SHAP_ROWS else X
        )
        contrib = model.booster_.predict(model.encode(sample), pred_contrib=True)
        risk_types = {f.name: f.risk_type for f in feature_set.features}
        figs.update(shap_summary_figures(contrib, sample, list(X.columns), risk_types))
        figs.update(shap_dependence_figures(contrib, sample, list(X.columns)))
    names = []
    for name, fig in figs.items():
        fig.savefig(out / f"{name}.png", dpi=110)
        plt.close(fig)
        names.append(f"{name}.png")
    return names


def _card_limitations(inputs: TrainingInputs, bt: Any, table: pd.DataFrame) -> list[str]:
    """What the card adds to its limitations: the oracle, where the rules do better, skipped folds."""
    config = inputs.config
    extra = [f"Oracle (synthetic ground truth): {inputs.oracle_note}."]
    if "rules" in table.index and "model" in table.index:
        m, r = table.loc["model", "recall_at_capacity"], table.loc["rules", "recall_at_capacity"]
        if np.isfinite(m) and np.isfinite(r) and m <= r:
            extra.append(
                f"On this backtest the model does NOT beat the department rules at cadre capacity "
                f"(recall {m:.3f} vs {r:.3f}): do not replace the rules with it."
            )
    if getattr(bt, "risk_types", None) is not None and "rules" in bt.methods:
        table_types = bt.risk_types.drop(index="all", errors="ignore")
        enough = table_types[table_types["positives"] >= config.fairness.min_positives]
        behind = enough[enough["recall_model"] < enough["recall_rules"]]
        if len(behind):
            extra.append(
                "The model finds fewer identifications than the department rules for "
                + ", ".join(
                    f"{t} ({r.recall_model:.0%} vs {r.recall_rules:.0%} of {int(r.positives)})"
                    for t, r in behind.iterrows()
                )
                + ": keep the rules' alerts for these risk types."
            )
    skipped = bt.folds[bt.folds["status"] != "ok"] if "status" in bt.folds else bt.folds.head(0)
    if len(skipped):
        extra.append(
            f"{len(skipped)} backtest fold(s) were skipped: "
            + "; ".join(skipped["reason"].astype(str))
        )
    return extra


_CARD_FOLD_COLUMNS = ("fold", "test_start", "test_end", "test_rows", "test_positives", "status")


def _card_folds(bt: Any) -> list[dict[str, Any]]:
    """The backtest folds as plain records (dates as ``YYYY-MM-DD``)."""
    columns = [c for c in _CARD_FOLD_COLUMNS if c in bt.folds]
    return [
        {k: str(v)[:10] if isinstance(v, pd.Timestamp) else v for k, v in rec.items()}
        for rec in bt.folds[columns].to_dict(orient="records")
    ]


def _card(
    inputs: TrainingInputs,
    bt: Any,
    *,
    model_name: str,
    version: str | None,
    run_id: str,
    meta: Mapping[str, Any],
) -> dict[str, Any]:
    from riskml.models import SUMMARY_METRICS  # in functions: `import riskml.tracking` stays cheap

    ts, config = inputs.training_set, inputs.config
    labelled = _labelled(ts, config)
    y = labelled[config.label_column].to_numpy(dtype=float)
    table = bt.table()
    fairness = (
        bt.fairness[bt.fairness["method"] == "model"].drop(columns="method")
        if len(bt.fairness)
        else None
    )
    return build_model_card(
        model_name=model_name,
        version=version,
        run_id=run_id,
        feature_set={
            "name": meta["feature_set"],
            "version": meta["feature_set_version"],
            "catalog_version": meta["catalog_version"],
            "n_features": len(ts.feature_names),
        },
        training={
            "label": config.label,
            "label_definition": meta["label_definition"],
            "horizon_months": int(config.horizon_months),
            "as_of_first": meta["as_of_first"],
            "as_of_last": meta["as_of_last"],
            "n_as_of_dates": meta["n_as_of_dates"],
            "capacity": bt.capacity,
            "backtest": f"{len(bt.folds)} rolling-origin folds of {config.backtest.test_period_months} months, "
            f"gap {config.gap_months} months",
            "folds": _card_folds(bt),
            "final_model_slices": meta.get("training_summary"),
        },
        data={
            "extracted_on": meta["extracted_on"],
            "province": meta.get("province"),
            "households": meta.get("households"),
            "rows": len(labelled),
            "positives": int(y.sum()),
            "positive_rate": float(y.mean()) if len(y) else None,
            "data_fingerprint": meta["data_fingerprint"],
        },
        metrics=table[[c for c in SUMMARY_METRICS if c in table.columns]]
        .rename_axis("method")
        .reset_index(),
        baselines=[m for m in bt.methods if m != "model"],
        subgroups=fairness,
        subgroup_gaps=bt.fairness_gaps("model") if len(bt.fairness) else None,
        extra_limitations=_card_limitations(inputs, bt, table),
        calibration=_calibration_section(bt, meta.get("training_summary")),
        risk_types=getattr(bt, "risk_types", None),
    )


def _calibration_section(bt: Any, summary: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """What the card says about calibration: the final model's choice and the backtest's
    out-of-time comparison, and calibration by decile within the top 10 %, before and after."""
    compared = getattr(bt, "calibration", None)
    if compared is None or not len(compared):
        return None
    cal = (summary or {}).get("calibration", {})
    folds = bt.folds
    return {
        "final_model": {
            "method": cal.get("method"),
            "reason": cal.get("reason"),
            "fitted_on_out_of_fold_rows": cal.get("fitted_on_rows"),
            "candidates": cal.get("candidates"),
        },
        "backtest_choice_by_fold": {
            str(r.fold): r.calibration for r in folds.itertuples() if r.status == "ok"
        },
        "compared": compared,
        "top_decile": bt.top_decile,
    }


def _log_metrics(store: TrackingStore, run_id: str, metrics: Mapping[str, float]) -> None:
    from mlflow.entities import Metric

    now = int(time.time() * 1000)
    items = [Metric(k, float(v), now, 0) for k, v in metrics.items()]
    for i in range(0, len(items), 1000):
        store.client.log_batch(run_id, metrics=items[i : i + 1000])


def _log_params(store: TrackingStore, run_id: str, params: Mapping[str, str]) -> None:
    from mlflow.entities import Param

    items = [Param(k, v) for k, v in params.items()]
    for i in range(0, len(items), 100):
        store.client.log_batch(run_id, params=items[i : i + 100])


def log_risk_model(
    model: Any,
    *,
    feature_set_definition: Mapping[str, Any],
    X_reference: pd.DataFrame,
    metadata: Mapping[str, Any],
    workdir: Path,
    name: str = "model",
    reference: Any = None,
) -> Any:
    """Log a fitted ``RecurrenceRiskModel`` as the riskml pyfunc into the active MLflow run.

    Parameters
    ----------
    model
        Fitted model (``to_dict``, ``booster_``, ``reference_``, ``feature_names_in_``).
    feature_set_definition
        Plain-data feature set (see ``feature_set_definition``), bundled as YAML.
    X_reference
        Training features (for the input signature and a one-row, non-personal input example of
        medians / most frequent levels).
    metadata
        Feature set, horizon, as-of range, data fingerprint, label definition, ...
    workdir
        An empty scratch folder for the artifact files.
    reference
        The drift reference to bundle (see :func:`riskml.tracking._reference.training_reference`);
        default the model's own ``reference_``.

    Returns
    -------
    mlflow.models.model.ModelInfo
    """
    from riskml.tracking._pyfunc import input_example, log_risk_pyfunc

    names = [str(n) for n in getattr(model, "feature_names_in_", X_reference.columns)]
    schema = input_schema_from_frame(X_reference, names)
    meta = {**dict(metadata), "input_schema": schema}
    paths = write_model_artifacts(
        workdir,
        model=model,
        feature_set=feature_set_definition,
        reference=reference if reference is not None else model.reference_,
        metadata=meta,
    )
    risk_model = RiskModel.from_artifacts(paths)
    return log_risk_pyfunc(
        artifacts=paths,
        input_schema=schema,
        example=input_example(risk_model, X_reference[names]),
        name=name,
    )


def _run_metadata(
    inputs: TrainingInputs, bt: Any, model: Any, labelled: pd.DataFrame, model_name: str
) -> dict[str, Any]:
    """What the run, the model bundle and the card say about the model and its data."""
    ts, config = inputs.training_set, inputs.config
    tmeta = dict(ts.metadata or {})
    data_fp = str(tmeta.get("data_fingerprint", ""))
    label_def = tmeta.get("label_definition", {})
    return {
        "name": model_name,
        "feature_set": inputs.feature_set.name,
        "feature_set_version": inputs.feature_set.version,
        "catalog_version": inputs.catalog.version,
        "horizon_months": int(config.horizon_months),
        "label": config.label,
        "label_definition": label_def.get(config.label_column, label_def)
        if isinstance(label_def, Mapping)
        else label_def,
        "as_of_first": str(pd.Timestamp(labelled["as_of"].min()).date()),
        "as_of_last": str(pd.Timestamp(labelled["as_of"].max()).date()),
        "n_as_of_dates": int(labelled["as_of"].nunique()),
        "data_fingerprint": data_fp,
        "backtest_fingerprint": backtest_fingerprint(config, bt.folds, data_fp),
        "extracted_on": str(tmeta.get("extracted_on", inputs.bundle.extracted_on)),
        "province": tmeta.get("province"),
        "households": tmeta.get("households"),
        "training_summary": getattr(model, "training_summary_", None),
        "capacity": config.capacity.model_dump(mode="json"),
        "riskml_version": tmeta.get("riskml_version"),
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "input_schema": input_schema_from_frame(labelled[ts.feature_names], ts.feature_names),
    }


def _run_tags(inputs: TrainingInputs, meta: Mapping[str, Any]) -> dict[str, str]:
    config = inputs.config
    return {
        "riskml.kind": "training",
        "riskml.model_name": meta["name"],
        "riskml.data_fingerprint": meta["data_fingerprint"],
        "riskml.backtest_fingerprint": meta["backtest_fingerprint"],
        "riskml.feature_set": inputs.feature_set.name,
        "riskml.feature_set_version": inputs.feature_set.version,
        "riskml.catalog_version": inputs.catalog.version,
        "riskml.label": config.label,
        "riskml.horizon_months": str(config.horizon_months),
    }


def _run_params(inputs: TrainingInputs, model: Any, meta: Mapping[str, Any]) -> dict[str, str]:
    config = inputs.config
    return {
        **flatten_params(config.model_dump(mode="json"), prefix="config."),
        "feature_set": inputs.feature_set.name,
        "feature_set_version": inputs.feature_set.version,
        "catalog_version": inputs.catalog.version,
        "data_fingerprint": meta["data_fingerprint"],
        "backtest_fingerprint": meta["backtest_fingerprint"],
        "as_of_first": meta["as_of_first"],
        "as_of_last": meta["as_of_last"],
        "n_as_of_dates": str(meta["n_as_of_dates"]),
        "extracted_on": meta["extracted_on"],
        "n_features": str(len(inputs.training_set.feature_names)),
        "oracle": inputs.oracle_note,
        **{f"fallback.{k}": v for k, v in config.fallbacks().items()},
        "final.calibration": str(getattr(getattr(model, "calibrator_", None), "method", "")),
        "final.trees": str(getattr(model, "best_iteration_", "")),
        "final.rows": str((getattr(model, "training_summary_", None) or {}).get("rows", "")),
    }


def _run_metrics(
    inputs: TrainingInputs,
    bt: Any,
    table: pd.DataFrame,
    model: Any,
    labelled: pd.DataFrame,
    meta: Mapping[str, Any],
) -> dict[str, float]:
    """The backtest's metrics and the data's counts (finite values only)."""
    metrics = metrics_from_backtest(bt.metrics, table)
    metrics.update(
        {
            metric_key("data", "households"): float(meta["households"] or 0),
            metric_key("data", "rows"): float(len(labelled)),
            metric_key("data", "positives"): float(labelled[inputs.config.label_column].sum()),
            metric_key("final", "best_iteration"): float(getattr(model, "best_iteration_", np.nan)),
        }
    )
    return {k: v for k, v in metrics.items() if np.isfinite(v)}


_TRAINING_SET_KEYS = (
    "catalog_version",
    "feature_set",
    "feature_set_version",
    "data_fingerprint",
    "extracted_on",
    "province",
    "households",
    "horizon_months",
    "as_of_dates",
    "censored_as_of_dates",
    "label_definition",
    "counts",
)
"""What ``training_set.json`` keeps of the training set's metadata."""


def _write_backtest_tables(folder: Path, bt: Any, table: pd.DataFrame) -> None:
    folder.mkdir(parents=True)
    (folder / "backtest.md").write_text(bt.to_markdown(), encoding="utf-8")
    table.to_csv(folder / "backtest_table.csv", index_label="method")
    bt.metrics.to_csv(folder / "backtest_metrics.csv", index=False)
    bt.folds.to_csv(folder / "folds.csv", index=False)
    # audit levels are bundle text (ethnicity, places): neutralise formula triggers
    neutralise_frame(bt.fairness).to_csv(folder / "fairness.csv", index=False)
    if len(getattr(bt, "calibration", ())):
        bt.calibration.to_csv(folder / "calibrators.csv")
        bt.top_decile.to_csv(folder / "top_decile.csv", index=False)
    if getattr(bt, "risk_types", None) is not None:
        bt.risk_types.to_csv(folder / "recall_by_risk_type.csv")
    if len(bt.fairness):
        neutralise_frame(bt.fairness_gaps("model")).to_csv(
            folder / "fairness_gaps.csv", index=False
        )


def _write_run_report(
    report: Path, inputs: TrainingInputs, bt: Any, table: pd.DataFrame, model: Any, X: pd.DataFrame
) -> None:
    """The run's report artifacts: backtest tables, config, training-set summary, plots."""
    config = inputs.config
    tmeta = dict(inputs.training_set.metadata or {})
    _write_backtest_tables(report / "backtest", bt, table)
    (report / "config").mkdir()
    (report / "config" / "training.yaml").write_text(
        yaml.safe_dump(config.model_dump(mode="json"), allow_unicode=True, sort_keys=False),
        encoding="utf-8",
    )
    (report / "training_set.json").write_text(
        json.dumps(
            {k: tmeta.get(k) for k in _TRAINING_SET_KEYS},
            ensure_ascii=False,
            indent=2,
            default=str,
        ),
        encoding="utf-8",
    )
    seed = int(getattr(config, "seed", 0))
    _plots(report / "plots", bt, model, X, inputs.feature_set, seed)


def _log_model(
    inputs: TrainingInputs, model: Any, X: pd.DataFrame, meta: Mapping[str, Any], workdir: Path
) -> Any:
    """Log the model bundle (with its drift reference) into the active run."""
    return log_risk_model(
        model,
        feature_set_definition=feature_set_bundle(inputs.feature_set, inputs.catalog),
        X_reference=X,
        metadata=meta,
        workdir=workdir,
        reference=training_reference(
            inputs.bundle,
            inputs.feature_set,
            catalog=inputs.catalog,
            horizon_months=inputs.config.horizon_months,
        ),
    )


def _log_card(folder: Path, card: Mapping[str, Any]) -> None:
    import mlflow

    folder.mkdir()
    (folder / "model_card.md").write_text(render_model_card(card), encoding="utf-8")
    (folder / "model_card.json").write_text(
        json.dumps(card, ensure_ascii=False, indent=2), encoding="utf-8"
    )
    mlflow.log_artifacts(str(folder))


def log_training_run(
    store: TrackingStore,
    inputs: TrainingInputs,
    bt: Any,
    model: Any,
    *,
    model_name: str = DEFAULT_MODEL_NAME,
    progress: Progress | None = None,
) -> TrainResult:
    """Log a fitted model and its backtest as one MLflow run, then register it as challenger."""
    import mlflow

    say = progress or _noop
    labelled = _labelled(inputs.training_set, inputs.config)
    X = labelled[inputs.training_set.feature_names]
    meta = _run_metadata(inputs, bt, model, labelled, model_name)
    tags = _run_tags(inputs, meta)
    table = bt.table()
    with store.active(), tempfile.TemporaryDirectory(prefix="riskml-run-") as tmp:
        tmpdir = Path(tmp)
        run = mlflow.start_run(
            experiment_id=store.experiment_id,
            run_name=f"train {inputs.feature_set.name} {dt.date.today().isoformat()}",
            tags=tags,
        )
        try:
            run_id = run.info.run_id
            meta["run_id"] = run_id
            say("logging parameters and metrics")
            _log_params(store, run_id, _run_params(inputs, model, meta))
            _log_metrics(store, run_id, _run_metrics(inputs, bt, table, model, labelled, meta))

            say("writing backtest tables and plots")
            _write_run_report(tmpdir / "report", inputs, bt, table, model, X)
            mlflow.log_artifacts(str(tmpdir / "report"))

            say("logging the model (pyfunc)")
            info = _log_model(inputs, model, X, meta, tmpdir / "bundle")
            say(f"registering as a new version of '{model_name}'")
            version, aliases = register_version(
                store,
                name=model_name,
                model_uri=info.model_uri,
                tags={k: v for k, v in tags.items() if k != "riskml.kind"}
                | {"riskml.run_id": run_id},
            )
            card = _card(
                inputs, bt, model_name=model_name, version=version, run_id=run_id, meta=meta
            )
            _log_card(tmpdir / "card", card)
            mlflow.set_tags({"riskml.registered_version": version})
        except BaseException:
            mlflow.end_run(status="FAILED")
            raise
        mlflow.end_run()
    return TrainResult(
        name=model_name,
        version=version,
        aliases=aliases,
        run_id=run_id,
        experiment_id=store.experiment_id,
        tracking_uri=store.display_uri,
        model_uri=f"models:/{model_name}@{CHALLENGER}",
        version_uri=f"models:/{model_name}/{version}",
        table=table,
        markdown=bt.to_markdown(),
        card=card,
        backtest=bt,
        model=model,
    )


def _backtest(inputs: TrainingInputs, say: Progress) -> Any:
    from riskml.models import backtest

    config = inputs.config
    for key, value in config.fallbacks().items():
        say(f"config fallback: {key} = {value}")
    say(f"backtesting: {config.backtest.n_folds} folds ({inputs.oracle_note})")
    return backtest(
        inputs.training_set,
        config,
        oracle=inputs.oracle,
        risk_types=inputs.risk_types,
        progress=say,
    )


def _fit_final(inputs: TrainingInputs, say: Progress) -> Any:
    from riskml.models import fit_final_model

    say("fitting the final model on every labelled row")
    model = fit_final_model(inputs.training_set, inputs.config)
    summary = model.training_summary_
    say(
        f"final model: {summary['rows']:,} rows ({summary.get('as_of_first')} … "
        f"{summary.get('as_of_last')}), {model.best_iteration_} trees "
        f"({summary['trees_from']}), calibration {model.calibrator_.method} "
        f"({summary['calibration']['reason']}); cross-fitting: {summary['crossfit']}"
    )
    return model


def train_and_register(
    data_dir: str | Path,
    *,
    config_path: str | Path | None = None,
    tracking_uri: str | None = None,
    model_name: str = DEFAULT_MODEL_NAME,
    mapping: str | Path | None = None,
    as_of_start: dt.date | str | None = None,
    as_of_end: dt.date | str | None = None,
    min_history_months: int = DEFAULT_MIN_HISTORY_MONTHS,
    experiment: str = DEFAULT_EXPERIMENT,
    progress: Progress | None = None,
    oracle: Oracle | None = None,
) -> TrainResult:
    """Build the training set, backtest, fit the final model, log everything and register it.

    Parameters
    ----------
    data_dir
        The history bundle folder.
    config_path
        Training config (default ``configs/training.yaml``).
    tracking_uri
        MLflow store (default: ``MLFLOW_TRACKING_URI``, else ``models/mlflow.db``).
    model_name
        Registered model name. The new version gets the alias ``challenger`` (and
        ``champion`` when there is none yet).
    mapping
        Mapping file for a source export that is not in the contract's own layout.
    as_of_start, as_of_end, min_history_months
        Override the as-of range (see :func:`riskml.tracking._pipeline.as_of_dates_for`).
    experiment
        MLflow experiment name.
    progress
        Called with a short message at each step.
    oracle
        True probabilities known outside the data (``riskml.synth.GroundTruthOracle`` for a
        synthetic province): adds the ``oracle`` row, the ceiling, to the backtest.

    Returns
    -------
    TrainResult

    Examples
    --------
    >>> result = train_and_register("data/demo")  # doctest: +SKIP
    >>> result.model_uri  # doctest: +SKIP
    'models:/riskml-recurrence@challenger'
    """
    say = progress or _noop
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    store = open_store(tracking_uri, experiment=experiment)  # fail fast; create before any work
    say(f"tracking store {store.display_uri}")
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
    timings["inputs_s"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    bt = _backtest(inputs, say)
    timings["backtest_s"] = time.perf_counter() - t1
    t1 = time.perf_counter()
    model = _fit_final(inputs, say)
    timings["final_fit_s"] = time.perf_counter() - t1
    t1 = time.perf_counter()
    result = log_training_run(store, inputs, bt, model, model_name=model_name, progress=say)
    timings["logging_s"] = time.perf_counter() - t1
    timings["total_s"] = time.perf_counter() - t0
    result.timings = {k: round(v, 2) for k, v in timings.items()}
    return result
