"""``riskml tune`` on the small seeded province: optuna trials over the backtest folds, each a
nested MLflow run, the best written as a training config that validates and round-trips.

Configs are kept small (two folds, few trees, a narrow search space) so that a trial takes
seconds; the search itself is what is tested, not its gain.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from riskml.cli import app
from riskml.config import ConfigError
from riskml.config.training import load_training_config
from riskml.data import Bundle, write_bundle
from riskml.features import TrainingSetError
from riskml.tracking import OBJECTIVE, open_store, tune
from riskml.tracking._tune import with_model_params

FAST_CONFIG = {
    "feature_set": "default",
    "label": "default",
    "horizon_months": 12,
    "training_set": {"as_of_start": "2020-01-01", "step_months": 6},
    "model": {
        "n_estimators": 30,
        "learning_rate": 0.1,
        "num_leaves": 7,
        "min_child_samples": 40,
        "early_stopping_rounds": 10,
        "cv_folds": 2,
        "n_jobs": 1,
    },
    "backtest": {"n_folds": 2, "test_period_months": 12},
    "capacity": {"share": 0.05},
    "seed": 3,
}
SPACE = {
    "search_space": {
        "learning_rate": {"low": 0.05, "high": 0.3, "log": True},
        "num_leaves": {"low": 3, "high": 15},
        "min_child_samples": {"low": 20, "high": 200, "log": True},
    },
    "startup_trials": 5,
}
TRIALS = 2
SEED = 11
HOUSEHOLD_ID = re.compile(r"HH\d{6,}")


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("tune-config")
    config, space = folder / "training.yaml", folder / "tune.yaml"
    config.write_text(yaml.safe_dump(FAST_CONFIG), encoding="utf-8")
    space.write_text(yaml.safe_dump(SPACE), encoding="utf-8")
    return config, space


def _tune(data: Path, files: tuple[Path, Path], uri: str, out: Path, **kwargs: Any) -> Any:
    config, space = files
    return tune(
        data,
        config_path=config,
        space_path=space,
        tracking_uri=uri,
        out=out,
        **{"n_trials": TRIALS, "seed": SEED, **kwargs},
    )


@pytest.fixture(scope="module")
def tuned(small_province_dir, files, store_factory, tmp_path_factory) -> tuple[Any, str, Path]:
    folder = tmp_path_factory.mktemp("tune")
    uri = store_factory(folder / "store")
    steps: list[str] = []
    result = _tune(small_province_dir, files, uri, folder / "tuned.yaml", progress=steps.append)
    return result, uri, folder


def test_every_trial_is_a_nested_run_with_its_params_and_metric(tuned) -> None:
    """The parent ``tune`` run holds one child run per trial, each with the drawn parameters
    and the pooled out-of-fold objective; the parent holds the best value and the tuned
    config; nothing personal is logged."""
    result, uri, _ = tuned
    store = open_store(uri)
    client = store.client
    children = client.search_runs(
        [store.experiment_id], filter_string=f"tags.`mlflow.parentRunId` = '{result.parent_run_id}'"
    )
    assert len(children) == TRIALS == len(result.trials)
    by_trial = {int(r.data.params["trial"]): r for r in children}
    for row in result.trials.itertuples():
        run = by_trial[row.trial]
        assert run.info.run_id == row.run_id and run.data.tags["riskml.kind"] == "tune-trial"
        assert set(SPACE["search_space"]) <= {k.removeprefix("model.") for k in run.data.params}
        assert run.data.metrics[f"pooled.model.{OBJECTIVE}"] == pytest.approx(row.value)
    parent = client.get_run(result.parent_run_id)
    assert parent.data.tags["riskml.kind"] == "tune"
    assert parent.data.metrics[f"best.{OBJECTIVE}"] == pytest.approx(result.best_value)
    assert parent.data.params["tune.objective"] == f"pooled.model.{OBJECTIVE}"
    assert [a.path for a in client.list_artifacts(result.parent_run_id, "tuned_config")] == [
        "tuned_config/tuned.yaml"
    ]
    for run in [parent, *children]:
        text = " ".join([*run.data.params.values(), *run.data.tags.values()])
        assert not HOUSEHOLD_ID.search(text)


def test_the_written_config_loads_and_holds_the_best_trial(tuned, files) -> None:
    """The tuned YAML validates with the training config's own model, equals the base config
    with the best trial's parameters, and the first trial was the base config's own values
    (so the best is at least as good)."""
    result, _, folder = tuned
    written = load_training_config(folder / "tuned.yaml")
    base = load_training_config(files[0])
    best = result.trials.loc[result.trials["value"].idxmax()]
    assert result.best_trial == int(best["trial"])
    assert written == with_model_params(base, result.best_params)
    for name in SPACE["search_space"]:
        assert getattr(written.model, name) == pytest.approx(best[name])
    assert written.backtest == base.backtest and written.capacity == base.capacity
    first = result.trials.iloc[0]
    assert first["learning_rate"] == FAST_CONFIG["model"]["learning_rate"]
    assert result.default_value == pytest.approx(first["value"])
    assert result.best_value >= result.default_value
    assert result.stopped_by == "trials"
    assert "riskml train --config" in (folder / "tuned.yaml").read_text(encoding="utf-8")


def test_the_same_seed_gives_the_same_trials(tuned, small_province_dir, files, tmp_path) -> None:
    """A second study with the same seed draws the same parameters and reaches the same
    values."""
    result, uri, _ = tuned
    again = _tune(small_province_dir, files, uri, tmp_path / "again.yaml")
    cols = ["trial", "value", *SPACE["search_space"]]
    assert again.trials[cols].equals(result.trials[cols])
    assert (tmp_path / "again.yaml").read_text(encoding="utf-8").split("\n", 7)[7] == (
        result.config_path.read_text(encoding="utf-8").split("\n", 7)[7]
    )


def test_the_timeout_stops_the_study(small_province_dir, files, store_factory, tmp_path) -> None:
    """--trials 50 --timeout 0.5 -> one trial (the running one finishes), the study says it
    stopped by the timeout, and the config is still written (CLI, exit 0)."""
    config, space = files
    uri = store_factory(tmp_path / "store")
    out = tmp_path / "tuned.yaml"
    args = ["tune", "--data", str(small_province_dir), "--trials", "50", "--timeout", "0.5"]
    args += ["--config", str(config), "--space", str(space), "--out", str(out)]
    res = CliRunner().invoke(app, [*args, "--tracking-uri", uri])
    assert res.exit_code == 0, res.output
    flat = " ".join(res.output.split())
    assert "1 trial(s)" in flat and "stopped by timeout" in flat
    assert load_training_config(out).model.num_leaves == FAST_CONFIG["model"]["num_leaves"]


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [("--trials", "0", "--trials must be"), ("--timeout", "-5", "--timeout must be")],
)
def test_a_budget_that_cannot_run_a_trial_is_refused(
    small_province_dir, files, tmp_path, option, value, message
) -> None:
    """--trials 0 or --timeout -5 → one-line error naming the option, exit 2, nothing written."""
    out = tmp_path / "tuned.yaml"
    args = ["tune", "--data", str(small_province_dir), "--config", str(files[0])]
    args += ["--out", str(out), "--tracking-uri", f"sqlite:///{tmp_path / 'm.db'}", option, value]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 2, res.output
    assert message in res.output and len(res.output.strip().splitlines()) == 1
    assert not out.exists()
    with pytest.raises(ConfigError, match="--trials must be"):
        tune(small_province_dir, n_trials=0, out=out)


def test_a_search_space_outside_the_model_bounds_is_refused(
    small_province_dir, files, tmp_path
) -> None:
    """A search space whose range leaves the model's bounds (subsample up to 1.5), names an
    unknown parameter, or draws a non-number → ConfigError naming the file and the key."""
    for space, key in (
        ({"subsample": {"low": 0.5, "high": 1.5}}, "search_space.subsample"),
        ({"num_trees": {"low": 1, "high": 5}}, "num_trees"),
        ({"calibration": {"low": 1, "high": 5}}, "calibration"),
    ):
        path = tmp_path / "space.yaml"
        path.write_text(yaml.safe_dump({"search_space": space}), encoding="utf-8")
        with pytest.raises(ConfigError, match=re.escape(key)) as err:
            tune(small_province_dir, n_trials=1, space_path=path, out=tmp_path / "t.yaml")
        assert str(path) in str(err.value)
        path.unlink()
    assert not (tmp_path / "t.yaml").exists()


def test_a_bundle_without_labels_is_refused(
    small_province: tuple[Bundle, Any], files, store_factory, tmp_path
) -> None:
    """A bundle whose monitoring table is empty (no identification, so no positive label) →
    TrainingSetError naming the label and the monitoring table, nothing written."""
    bundle, _ = small_province
    empty = Bundle(
        tables=dict(bundle.tables, monitoring=bundle.monitoring.iloc[:0]),
        extracted_on=bundle.extracted_on,
        province=bundle.province,
        source=bundle.source,
    )
    data = tmp_path / "no-labels"
    write_bundle(empty, data)
    out = tmp_path / "tuned.yaml"
    with pytest.raises(TrainingSetError, match=r"0 positive 'label' labels.*monitoring table"):
        _tune(data, files, store_factory(tmp_path / "store"), out)
    assert not out.exists()


def test_the_default_search_space_holds_the_default_config() -> None:
    """configs/tune.yaml loads, and every range holds configs/training.yaml's own value, so the
    first trial of a default search is the default config (the baseline every trial is judged
    against)."""
    from riskml.config.tune import load_tune_config

    space = load_tune_config()
    base = load_training_config()
    for name, rng in space.search_space.items():
        assert rng.low <= getattr(base.model, name) <= rng.high, name
    assert set(space.kinds().values()) <= {int, float}
