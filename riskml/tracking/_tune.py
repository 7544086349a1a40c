"""``riskml tune``: hyper-parameter search over the temporal backtest folds, with optuna.

Every trial draws the model parameters of ``configs/tune.yaml``'s search space (seeded TPE
sampler: the same ``seed`` gives the same trials), runs the same rolling-origin backtest as
``riskml train`` (:func:`riskml.models.backtest`, the training config's folds, gap and capacity)
and scores the pooled out-of-fold metric that ``riskml promote`` decides on first
(:data:`OBJECTIVE`). The first trial is the training config's own parameters, so the best is
never worse than the config on these folds. Each trial is an MLflow run nested under one
``tune`` run; the best parameters are written as a complete training config
(``riskml train --config PATH``) and logged with the parent run.

The best value is chosen on the folds it is reported on: it is optimistic. Judge a tuned config
by ``riskml promote`` against the champion, ideally on a later extraction.
"""

from __future__ import annotations

import contextlib
import math
import os
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from riskml.clock import beijing_now_text
from riskml.config import ConfigError
from riskml.config.training import TrainingConfig
from riskml.config.tune import TuneConfig, load_tune_config
from riskml.tracking._pipeline import (
    DEFAULT_MIN_HISTORY_MONTHS,
    Progress,
    TrainingInputs,
    load_inputs,
)
from riskml.tracking._runlog import flatten_params, metric_key, metrics_from_backtest
from riskml.tracking._store import DEFAULT_EXPERIMENT, TrackingStore, open_store
from riskml.tracking._train import PRIMARY_METRICS

__all__ = ["OBJECTIVE", "TuneResult", "tune"]

OBJECTIVE = PRIMARY_METRICS[0]
"""What a trial maximises: the pooled out-of-fold metric of the model that ``riskml promote``
compares first (recall at the cadres' capacity)."""


def _noop(_: str) -> None:
    return None


@dataclass
class TuneResult:
    """What :func:`tune` found, where it wrote the config and logged the runs."""

    objective: str
    best_value: float
    best_params: dict[str, Any]
    best_trial: int
    default_value: float | None
    """The training config's own parameters (trial 0) on the same folds; None when they lie
    outside the search space or the study stopped before."""
    trials: pd.DataFrame
    """One row per trial: ``trial``, ``state``, ``value``, ``seconds``, ``run_id`` and the
    drawn parameters."""
    stopped_by: str
    """``"trials"`` (all requested trials ran) or ``"timeout"``."""
    config_path: Path
    parent_run_id: str
    tracking_uri: str
    seconds: float

    def lines(self) -> list[str]:
        """The printed summary."""
        done = int((self.trials["state"] == "COMPLETE").sum())
        out = [
            f"{done} trial(s) in {self.seconds:.0f} s (stopped by {self.stopped_by}); "
            f"objective: pooled out-of-fold {self.objective}",
            f"best: trial {self.best_trial}, {self.objective} {self.best_value:.4f}"
            + (
                f" (the training config's own parameters: {self.default_value:.4f})"
                if self.default_value is not None
                else ""
            ),
            "best parameters: " + ", ".join(f"{k}={_fmt(v)}" for k, v in self.best_params.items()),
            f"written: {self.config_path} (train with: riskml train --config {self.config_path})",
            f"MLflow: parent run {self.parent_run_id} in {self.tracking_uri}",
        ]
        return out


def _fmt(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def tune(
    data_dir: str | Path,
    *,
    n_trials: int,
    timeout: float | None = None,
    seed: int | None = None,
    out: str | Path = "training.tuned.yaml",
    config_path: str | Path | None = None,
    space_path: str | Path | None = None,
    mapping: str | Path | None = None,
    tracking_uri: str | None = None,
    experiment: str = DEFAULT_EXPERIMENT,
    min_history_months: int = DEFAULT_MIN_HISTORY_MONTHS,
    progress: Progress | None = None,
) -> TuneResult:
    """Search the model parameters of ``configs/tune.yaml`` over the backtest folds of a bundle.

    Parameters
    ----------
    data_dir
        The history bundle folder (with its monitoring records: the labels).
    n_trials
        How many trials at most (>= 1).
    timeout
        Seconds after which no new trial starts (the running one finishes); None = no limit.
    seed
        Seed of the sampler (default: the training config's ``seed``): the same seed, data and
        config give the same trials.
    out
        Where the best parameters are written, as a complete training config.
    config_path, space_path
        Training config (default ``configs/training.yaml``): folds, capacity, fixed parameters;
        search space (default ``configs/tune.yaml``).
    mapping, tracking_uri, experiment, min_history_months
        As in :func:`riskml.tracking.train_and_register`.
    progress
        Called with a short message per step and per trial.

    Raises
    ------
    ConfigError
        ``n_trials`` < 1, ``timeout`` <= 0, ``out`` in a missing folder, or a bad search space.
    TrainingSetError
        The bundle's training set holds no positive (or no negative) label, or no backtest
        fold can be trained and tested.
    """
    say = progress or _noop
    out = Path(out)
    _check_budget(n_trials, timeout, out)
    space = load_tune_config(space_path)
    store = open_store(tracking_uri, experiment=experiment)  # fail fast, before any work
    inputs = load_inputs(
        data_dir,
        config_path=config_path,
        mapping=mapping,
        min_history_months=min_history_months,
        progress=say,
    )
    _check_labels(inputs)
    seed = int(inputs.config.seed if seed is None else seed)
    say(
        f"tuning {', '.join(space.search_space)}: up to {n_trials} trial(s)"
        + (f" or {timeout:g} s" if timeout else "")
        + f", seed {seed}, objective pooled {OBJECTIVE}"
    )
    started = time.perf_counter()
    with store.active(), _quiet_optuna(), _parent_run(inputs, store) as parent_id:
        mlflow_params = _parent_params(inputs, space, n_trials, timeout, seed)
        store.client.log_batch(parent_id, params=_params(mlflow_params))
        study = _run_study(inputs, space, store.experiment_id, n_trials, timeout, seed, say)
        result = _finish(study, inputs, space, out, n_trials)
        result.parent_run_id, result.tracking_uri = parent_id, store.display_uri
        result.seconds = time.perf_counter() - started
        _log_parent_end(store, result)
    return result


def _check_budget(n_trials: int, timeout: float | None, out: Path) -> None:
    """Refuse a budget that cannot run a trial, and an output folder that does not exist."""
    if not isinstance(n_trials, int) or n_trials < 1:
        raise ConfigError(f"--trials must be a whole number of at least 1 (got {n_trials!r}).")
    if timeout is not None and not (math.isfinite(timeout) and timeout > 0):
        raise ConfigError(f"--timeout must be a positive number of seconds (got {timeout!r}).")
    if not out.parent.is_dir():
        raise ConfigError(
            f"--out {out}: the folder {out.parent} does not exist; create it or choose another path."
        )


def _check_labels(inputs: TrainingInputs) -> None:
    """Both classes in the labelled rows, and at least one fold that can train and test."""
    from riskml.features import TrainingSetError
    from riskml.models import temporal_folds

    config = inputs.config
    frame = inputs.training_set.frame
    labels = frame[config.label_column]
    y = labels[labels.notna()].to_numpy(dtype=np.float64)
    positives = int(y.sum())
    if positives == 0 or positives == len(y):
        raise TrainingSetError(
            f"{inputs.data_dir}: the training set has {len(y):,} labelled rows and {positives:,} "
            f"positive '{config.label_column}' labels: nothing to tune on. The default label "
            "comes from the bundle's monitoring table (identifications within the horizon); "
            "give a bundle whose history holds identifications, and households without one."
        )
    as_of = pd.to_datetime(frame.loc[labels.notna(), "as_of"])
    folds = temporal_folds(
        as_of,
        n_folds=config.backtest.n_folds,
        test_period_months=config.backtest.test_period_months,
        gap_months=config.gap_months,
        train_window_months=config.backtest.train_window_months,
    )
    if not any(f.test.any() and len(np.unique(y[f.train])) == 2 for f in folds):
        raise TrainingSetError(
            f"{inputs.data_dir}: no backtest fold has both a test window and training rows of "
            f"both classes (labelled as-of dates {as_of.min().date()} … {as_of.max().date()}, "
            f"{config.backtest.n_folds} folds of {config.backtest.test_period_months} months, gap "
            f"{config.gap_months}). Give a longer history, or fewer or shorter folds in the config."
        )


@contextlib.contextmanager
def _quiet_optuna() -> Iterator[None]:
    """Optuna logs every trial at INFO: keep only its warnings, and restore on exit."""
    import optuna

    previous = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(previous)


@contextlib.contextmanager
def _parent_run(inputs: TrainingInputs, store: TrackingStore) -> Iterator[str]:
    """The ``tune`` run every trial's run is nested under (MLflow's active run meanwhile)."""
    import mlflow

    with mlflow.start_run(
        experiment_id=store.experiment_id,
        run_name=f"tune {inputs.feature_set.name} {beijing_now_text()[:10]}",
        tags=_tags(inputs, "tune"),
    ) as run:
        yield run.info.run_id


def _params(params: Mapping[str, str]) -> list[Any]:
    from mlflow.entities import Param

    return [Param(k, v) for k, v in params.items()]


def _run_study(
    inputs: TrainingInputs,
    space: TuneConfig,
    experiment_id: str,
    n_trials: int,
    timeout: float | None,
    seed: int,
    say: Progress,
) -> Any:
    """Create the seeded study, enqueue the config's own parameters, run the trials."""
    import optuna

    sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=space.startup_trials)
    study = optuna.create_study(direction="maximize", sampler=sampler, study_name="riskml-tune")
    default = _default_params(inputs.config, space)
    if default is not None:
        study.enqueue_trial(default)
    else:
        say("the training config's parameters lie outside the search space: not tried first")
    objective = _objective(inputs, space, experiment_id, say)
    study.optimize(objective, n_trials=n_trials, timeout=timeout)
    return study


def _default_params(config: TrainingConfig, space: TuneConfig) -> dict[str, Any] | None:
    """The training config's values of the searched parameters, when all lie in the space."""
    values = {name: getattr(config.model, name) for name in space.search_space}
    inside = all(r.low <= values[n] <= r.high for n, r in space.search_space.items())
    return values if inside else None


def _tags(inputs: TrainingInputs, kind: str) -> dict[str, str]:
    meta = dict(inputs.training_set.metadata or {})
    return {
        "riskml.kind": kind,
        "riskml.data_fingerprint": str(meta.get("data_fingerprint", "")),
        "riskml.feature_set": inputs.feature_set.name,
        "riskml.label": inputs.config.label,
    }


def _parent_params(
    inputs: TrainingInputs, space: TuneConfig, n_trials: int, timeout: float | None, seed: int
) -> dict[str, str]:
    """Configuration only: the budget, the space, the base config (no paths, no households)."""
    ranges = {
        f"tune.space.{name}": f"{r.low:g}..{r.high:g}" + (" log" if r.log else "")
        for name, r in space.search_space.items()
    }
    return {
        "tune.objective": f"pooled.model.{OBJECTIVE}",
        "tune.trials_requested": str(n_trials),
        "tune.timeout_s": str(timeout),
        "tune.seed": str(seed),
        "tune.startup_trials": str(space.startup_trials),
        **ranges,
        **flatten_params(inputs.config.model_dump(mode="json"), prefix="config."),
        "feature_set_version": inputs.feature_set.version,
        "data_fingerprint": str((inputs.training_set.metadata or {}).get("data_fingerprint", "")),
    }


def _suggest(trial: Any, space: TuneConfig) -> dict[str, Any]:
    """One draw of every searched parameter (integers for whole-number parameters)."""
    params: dict[str, Any] = {}
    for name, kind in space.kinds().items():
        r = space.search_space[name]
        if kind is int:
            params[name] = trial.suggest_int(name, int(r.low), int(r.high), log=r.log)
        else:
            params[name] = trial.suggest_float(name, r.low, r.high, log=r.log)
    return params


def with_model_params(config: TrainingConfig, params: Mapping[str, Any]) -> TrainingConfig:
    """``config`` with its ``model:`` parameters replaced by ``params`` (validated)."""
    data = config.model_dump()
    data["model"] = {**data["model"], **params}
    return TrainingConfig.model_validate(data)


def _objective(
    inputs: TrainingInputs, space: TuneConfig, experiment_id: str, say: Progress
) -> Callable[[Any], float]:
    """The function optuna calls: one backtest, logged as a nested MLflow run."""
    import mlflow

    from riskml.config.rules import load_rules_config
    from riskml.models import backtest

    rules = load_rules_config(inputs.config.rules_config)
    said: set[str] = set()

    def once(message: str) -> None:  # a skipped fold is the same in every trial: say it once
        if message not in said:
            said.add(message)
            say(message)

    def objective(trial: Any) -> float:
        params = _suggest(trial, space)
        config = with_model_params(inputs.config, params)
        started = time.perf_counter()
        with mlflow.start_run(
            experiment_id=experiment_id,
            nested=True,
            run_name=f"trial {trial.number}",
            tags=_tags(inputs, "tune-trial"),
        ) as run:
            mlflow.log_params({"trial": str(trial.number), **_model_params(params)})
            bt = backtest(inputs.training_set, config, rules=rules, progress=once)
            metrics = {k: v for k, v in metrics_from_backtest(bt.metrics).items() if ".model." in k}
            value = metrics[metric_key("pooled", "model", OBJECTIVE)]
            seconds = time.perf_counter() - started
            mlflow.log_metrics({**metrics, "trial_seconds": seconds})
        trial.set_user_attr("run_id", run.info.run_id)
        trial.set_user_attr("seconds", round(seconds, 2))
        say(
            f"trial {trial.number}: {OBJECTIVE} {value:.4f} in {seconds:.0f} s ("
            + ", ".join(f"{k}={_fmt(v)}" for k, v in params.items())
            + ")"
        )
        return float(value)

    return objective


def _model_params(params: Mapping[str, Any]) -> dict[str, str]:
    return {f"model.{k}": _fmt(v) if isinstance(v, float) else str(v) for k, v in params.items()}


def _trials_frame(study: Any) -> pd.DataFrame:
    rows = [
        {
            "trial": t.number,
            "state": t.state.name,
            "value": t.value,
            "seconds": t.user_attrs.get("seconds"),
            "run_id": t.user_attrs.get("run_id"),
            **t.params,
        }
        for t in study.trials
    ]
    return pd.DataFrame(rows)


def _finish(
    study: Any, inputs: TrainingInputs, space: TuneConfig, out: Path, n_trials: int
) -> TuneResult:
    """Write the best trial's parameters as a training config; the result of the study."""
    import optuna

    complete = study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    if not complete:  # optuna starts one trial whatever the timeout: only an error gets here
        raise ConfigError("No trial finished; give a longer --timeout.")
    best = study.best_trial
    first = study.trials[0]
    tried_default = _default_params(inputs.config, space) is not None
    default_value = (
        float(first.value)
        if tried_default and first.state == optuna.trial.TrialState.COMPLETE
        else None
    )
    best_params = dict(best.params)
    write_tuned_config(
        with_model_params(inputs.config, best_params),
        out,
        header=_header(inputs, best, default_value, len(complete)),
    )
    return TuneResult(
        objective=OBJECTIVE,
        best_value=float(best.value),
        best_params=best_params,
        best_trial=int(best.number),
        default_value=default_value,
        trials=_trials_frame(study),
        stopped_by="trials" if len(study.trials) >= n_trials else "timeout",
        config_path=out,
        parent_run_id="",
        tracking_uri="",
        seconds=0.0,
    )


def _header(inputs: TrainingInputs, best: Any, default_value: float | None, done: int) -> str:
    meta = dict(inputs.training_set.metadata or {})
    lines = [
        f"Training config written by `riskml tune` on {beijing_now_text()}.",
        f"Best of {done} trial(s): trial {best.number}, pooled out-of-fold {OBJECTIVE} "
        f"{best.value:.4f}"
        + (
            f" (the base config's own parameters: {default_value:.4f})"
            if default_value is not None
            else ""
        )
        + ",",
        f"on the backtest folds of data fingerprint {meta.get('data_fingerprint', '?')}. The",
        "value was chosen on those folds: it is optimistic. Train with",
        "`riskml train --config THIS_FILE`, then `riskml promote` against the champion.",
    ]
    return "".join(f"# {line}\n" for line in lines)


def write_tuned_config(config: TrainingConfig, out: Path, *, header: str = "") -> Path:
    """Write ``config`` as YAML that ``load_training_config`` reads back equal (atomically)."""
    text = (
        header
        + "\n"
        + yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False, allow_unicode=True)
    )
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return out


def _log_parent_end(store: TrackingStore, result: TuneResult) -> None:
    """The best value and parameters, the comparison and the written config, on the parent."""
    client = store.client
    run_id = result.parent_run_id
    metrics = {
        f"best.{OBJECTIVE}": result.best_value,
        "trials_complete": float((result.trials["state"] == "COMPLETE").sum()),
        "tune_seconds": result.seconds,
    }
    if result.default_value is not None:
        metrics[f"default.{OBJECTIVE}"] = result.default_value
    for key, value in metrics.items():
        client.log_metric(run_id, key, float(value))
    params = {
        **{f"best.{k}": v for k, v in _model_params(result.best_params).items()},
        "best.trial": str(result.best_trial),
        "tune.stopped_by": result.stopped_by,
    }
    client.log_batch(run_id, params=_params(params))
    client.log_artifact(run_id, str(result.config_path), artifact_path="tuned_config")
