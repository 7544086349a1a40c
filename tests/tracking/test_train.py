"""End to end on the small synthetic province: train → log → register → load → evaluate."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from riskml.cli import app
from riskml.synth import GroundTruthOracle, truth_path_for
from riskml.tracking import load_risk_model, open_store, promote, train_and_register
from riskml.tracking._card import render_model_card

# an 18-character resident ID number, not the digits of a float's fractional part
ID_NUMBER = re.compile(r"(?<![\d.])\d{17}[\dXx](?![\d.])")


@pytest.fixture(scope="module")
def trained(small_province_dir, fast_training_config, store_factory, tmp_path_factory):
    uri = store_factory(tmp_path_factory.mktemp("train") / "store")
    steps: list[str] = []
    result = train_and_register(
        small_province_dir,
        config_path=fast_training_config,
        tracking_uri=uri,
        progress=steps.append,
        oracle=GroundTruthOracle(truth_path_for(small_province_dir)),
    )
    return result, uri, steps


def _flat(result) -> str:
    """CLI output with line wrapping undone (rich wraps at the terminal width)."""
    return " ".join(result.output.split())


def test_train_registers_a_challenger_and_reports_the_backtest(trained):
    result, uri, steps = trained
    assert result.model_uri == "models:/riskml-recurrence@challenger"
    assert result.version_uri == f"models:/riskml-recurrence/{result.version}"
    assert set(result.aliases) == {"challenger", "champion"}  # the first version is also champion
    assert list(result.table.index) == ["model", "rules", "persistence", "scorecard", "oracle"]
    assert result.table.loc["oracle", "roc_auc"] > result.table.loc["persistence", "roc_auc"]
    assert any("backtesting" in s for s in steps) and any("registering" in s for s in steps)
    store = open_store(uri)
    run = store.client.get_run(result.run_id)
    m = run.data.metrics
    # per-fold and pooled metrics for the model and every baseline
    for scope in ("fold1", "fold2", "pooled"):
        for method in ("model", "rules", "persistence", "scorecard", "oracle"):
            assert f"{scope}.{method}.roc_auc" in m
    assert m["pooled.model.roc_auc"] == pytest.approx(result.table.loc["model", "roc_auc"])
    p, t = run.data.params, run.data.tags
    assert p["config.model.num_leaves"] == "7" and p["feature_set"] == "default"
    assert p["data_fingerprint"] == t["riskml.data_fingerprint"] != ""
    assert t["riskml.catalog_version"] == p["catalog_version"]
    assert t["riskml.kind"] == "training" and t["riskml.registered_version"] == result.version
    # every config fallback is on the console and in the params, with the value it fell back to
    for key in ("model.purge_months", "backtest.gap_months", "rules_config"):
        assert any(s.startswith(f"config fallback: {key} = ") for s in steps), key
        assert f"fallback.{key}" in p
    assert p["final.calibration"] == result.model.calibrator_.method
    assert p["final.rows"] == str(result.model.training_summary_["rows"])


def test_card_shows_calibration_before_after_and_recall_by_risk_type(trained):
    """The model card: the final model's calibrator and its candidates' out-of-time figures,
    the backtest's comparison with the old step isotonic map, calibration by decile within the
    top 10 % before and after, and recall by recorded risk type for the model and the rules."""
    result, _, _ = trained
    card = result.card
    cal = card["calibration"]
    assert cal["final_model"]["method"] == result.model.calibrator_.method
    compared = {r["calibrator"] for r in cal["compared"]}
    assert {"sigmoid", "beta", "isotonic", "isotonic_step", "model (chosen)"} <= compared
    sides = {r["calibrator"] for r in cal["top_decile"]}
    assert sides == {"before: isotonic_step", "after: model"}
    by_type = {r["risk_type"]: r for r in card["recall_by_risk_type"]}
    assert "all" in by_type and len(by_type) >= 2
    total = by_type.pop("all")
    assert sum(r["positives"] for r in by_type.values()) == total["positives"]
    assert {"recall_model", "recall_rules", "flagged_model", "flagged_rules"} <= set(total)
    md = render_model_card(card)
    assert "Calibration by decile within the top 10 %" in md
    assert "Recall at capacity by recorded risk type" in md
    # the model records the capacity it was backtested at: scoring flags exactly that
    assert result.model.training_summary_["rows"] == card["data"]["rows"]


def test_registered_model_scores_like_the_trained_one_on_recomputed_features(
    trained, small_province
):
    from riskml.features import compute_features

    result, uri, _ = trained
    rm = load_risk_model(result.model_uri, tracking_uri=uri)
    bundle, _truth = small_province
    # features recomputed from the bundled feature-set definition, for every household as of a date
    pairs = pd.DataFrame(
        {
            "household_id": bundle.households["household_id"].to_numpy(),
            "as_of": pd.Timestamp("2024-01-01"),
        }
    )
    X = compute_features(bundle, pairs, rm.feature_set, catalog=rm.catalog)
    assert list(X.columns) == list(rm.input_schema)
    np.testing.assert_array_equal(rm.predict_proba(X), result.model.predict_proba(X))
    np.testing.assert_array_equal(rm.raw_score(X), result.model.predict_raw(X))
    meta = rm.metadata
    assert meta["feature_set"] == "default" and meta["horizon_months"] == 12
    assert meta["as_of_first"] == "2020-01-01" and meta["as_of_last"] <= "2024-12-31"
    assert meta["version"] == result.version and meta["run_id"] == result.run_id
    assert rm.reference.psi(X).notna().all()


def _run_texts(store, run_id, dest: Path) -> dict[str, str]:
    """Every param, metric key, tag and text artifact of a run (and its logged model)."""
    import mlflow.artifacts

    run = store.client.get_run(run_id)
    texts = {
        "params": json.dumps(run.data.params, ensure_ascii=False),
        "metrics": " ".join(run.data.metrics),
        "tags": json.dumps(run.data.tags, ensure_ascii=False),
    }
    with store.active():
        local = Path(mlflow.artifacts.download_artifacts(run_id=run_id, dst_path=str(dest / "run")))
        model_dir = Path(
            mlflow.artifacts.download_artifacts(
                f"models:/riskml-recurrence/{run.data.tags['riskml.registered_version']}",
                dst_path=str(dest / "model"),
            )
        )
    for folder in (local, model_dir):
        for f in folder.rglob("*"):
            if f.is_file() and f.suffix != ".png":
                texts[str(f.relative_to(folder.parent))] = f.read_text(
                    encoding="utf-8", errors="replace"
                )
    return texts


def test_run_holds_tables_plots_and_a_model_card_without_personal_data(
    trained, small_province, tmp_path
):
    result, uri, _ = trained
    store = open_store(uri)
    names = {a.path for a in store.client.list_artifacts(result.run_id)}
    assert {
        "backtest",
        "plots",
        "config",
        "model_card.md",
        "model_card.json",
        "training_set.json",
    } <= names
    plots = {a.path for a in store.client.list_artifacts(result.run_id, "plots")}
    assert {
        f"plots/{p}.png"
        for p in (
            "roc",
            "precision_recall",
            "calibration",
            "shap_by_feature",
            "shap_by_risk_type",
            "shap_beeswarm",
        )
    } <= plots
    dependence = sorted(p for p in plots if p.startswith("plots/shap_dependence_"))
    assert len(dependence) == 4  # the top features by mean |SHAP|
    assert all(
        p.removeprefix("plots/shap_dependence_").removesuffix(".png")
        in result.model.feature_names_in_
        for p in dependence
    )

    card = result.card
    assert "never an automatic label" in card["intended_use"]
    assert card["data"]["households"] == 2500 and 0 < card["data"]["positive_rate"] < 0.2
    assert {r["method"] for r in card["metrics"]} == {
        "model",
        "rules",
        "persistence",
        "scorecard",
        "oracle",
    }
    assert card["subgroups"] and {"group", "level"} <= set(card["subgroups"][0])
    assert card["limitations"] and card["model"]["version"] == result.version

    texts = _run_texts(store, result.run_id, tmp_path)
    assert "# Model card: riskml-recurrence v" in texts["run/model_card.md"]
    bundle, _ = small_province
    ids = set(bundle.households["household_id"].astype(str)) | set(
        bundle.members["member_id"].astype(str)
    )
    tokens = set()
    for text in texts.values():
        tokens.update(re.findall(r"[A-Za-z0-9_\-]+", text))
        assert not ID_NUMBER.search(text)
    assert not (tokens & ids), f"household/member ids in the run: {sorted(tokens & ids)[:5]}"
    # no names: the bundle holds none of persons; village names are not logged either
    blob = "\n".join(texts.values())
    assert not any(
        v in blob for v in bundle.households["village_name"].dropna().astype(str).unique()
    )


def _evaluate_cli(data: Path, model_uri: str, tracking_uri: str, *extra: str) -> Any:
    """``riskml evaluate --data DATA --model URI --tracking-uri URI EXTRA...``."""
    args = ["--data", str(data), "--model", model_uri, "--tracking-uri", tracking_uri, *extra]
    return CliRunner().invoke(app, ["evaluate", *args])


def test_evaluate_cli_compares_the_registered_model_with_the_baselines(
    trained, small_province_dir, fast_training_config
):
    result, uri, _ = trained
    out = _evaluate_cli(
        small_province_dir,
        result.model_uri,
        uri,
        "--config",
        str(fast_training_config),
        "--truth",
        str(truth_path_for(small_province_dir)),
    )
    assert out.exit_code == 0, out.output
    assert "Evaluation of models:/riskml-recurrence@challenger" in _flat(out)
    assert "recall_at_capacity" in _flat(out) and "roc_auc" in _flat(out)
    # the model was trained on these as-of dates: the overlap is reported
    assert "training as-of range" in _flat(out)
    store = open_store(uri)
    runs = store.client.search_runs([store.experiment_id], "tags.`riskml.kind` = 'evaluation'")
    assert len(runs) == 1 and runs[0].data.tags["riskml.model_version"] == result.version
    for method in ("model", "rules", "persistence", "scorecard", "oracle"):
        assert f"pooled.{method}.recall_at_capacity" in runs[0].data.metrics


def test_evaluate_unknown_model_is_a_clear_cli_error(trained, small_province_dir):
    _, uri, _ = trained
    out = _evaluate_cli(small_province_dir, "models:/riskml-recurrence@gold", uri)
    assert out.exit_code == 2
    assert "has no alias @gold" in _flat(out) and "@champion" in _flat(out)


@pytest.mark.slow
def test_train_cli_then_promote_by_re_evaluation(
    trained, small_province_dir, fast_training_config, tmp_path
):
    result, uri, _ = trained
    # a second configuration: different folds, so the logged backtests are not comparable
    other = yaml.safe_load(fast_training_config.read_text())
    other["backtest"]["n_folds"] = 1
    other["seed"] = 11
    cfg = tmp_path / "other.yaml"
    cfg.write_text(yaml.safe_dump(other))
    out = CliRunner().invoke(
        app,
        ["train", "--data", str(small_province_dir), "--config", str(cfg), "--tracking-uri", uri],
    )
    assert out.exit_code == 0, out.output
    assert "Model URI: models:/riskml-recurrence@challenger" in _flat(out)
    assert "Backtest (pooled out-of-fold" in _flat(out)
    new_version = str(int(result.version) + 1)
    assert f"version {new_version}" in _flat(out)

    d = promote(tracking_uri=uri)
    assert not d.moved and "--data DIR" in d.reason
    d = promote(tracking_uri=uri, data_dir=small_province_dir, config_path=fast_training_config)
    assert d.basis.startswith("re-evaluation of both frozen models")
    table = d.comparison.set_index("metric")
    champ, chall = table.loc["recall_at_capacity", ["champion", "challenger"]]
    pr_champ, pr_chall = table.loc["pr_auc", ["champion", "challenger"]]
    assert np.isfinite([champ, chall, pr_champ, pr_chall]).all()
    gap = d.min_improvement  # a smaller difference is a tie; a tie on both keeps the champion
    if abs(chall - champ) >= gap - 1e-12:
        better, decider = chall > champ, "recall_at_capacity"
    elif abs(pr_chall - pr_champ) >= gap - 1e-12:
        better, decider = pr_chall > pr_champ, "pr_auc"
    else:
        better, decider = False, None
    assert (d.moved, d.deciding_metric) == (better, decider)
    assert d.exit_code == (0 if better else 3)
    assert d.champion_after == (new_version if d.moved else result.version)
