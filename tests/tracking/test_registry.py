"""Aliases champion / challenger, and promotion only when the challenger beats the champion."""

from __future__ import annotations

import math

import pytest
from typer.testing import CliRunner

from riskml.cli import app
from riskml.tracking import (
    ModelNotFoundError,
    TrackingError,
    compare_metrics,
    load_risk_model,
    open_store,
    promote,
)


def _flat(result) -> str:
    """CLI output with line wrapping undone (rich wraps at the terminal width)."""
    return " ".join(result.output.split())


def _version(store, name, alias):
    return str(store.client.get_model_version_by_alias(name, alias).version)


def _bt(fp, recall, pr_auc, brier=0.03):
    tags = {"riskml.backtest_fingerprint": fp, "riskml.data_fingerprint": "d" + fp}
    metrics = {
        "pooled.model.recall_at_capacity": recall,
        "pooled.model.pr_auc": pr_auc,
        "pooled.model.brier": brier,
    }
    return {"tags": tags, "metrics": metrics}


def test_new_versions_are_challengers_and_the_first_is_also_champion(
    tracking_uri, tiny, logger, tmp_path
):
    store = open_store(tracking_uri)
    _, v1, _ = logger(store, tiny, name="m", workdir=tmp_path / "a")
    assert (_version(store, "m", "champion"), _version(store, "m", "challenger")) == (v1, v1)
    _, v2, _ = logger(store, tiny, name="m", workdir=tmp_path / "b")
    assert (_version(store, "m", "champion"), _version(store, "m", "challenger")) == (v1, v2)
    rm = load_risk_model("models:/m@challenger", tracking_uri=tracking_uri)
    assert rm.metadata["version"] == v2 and set(rm.metadata["aliases"]) == {"challenger"}
    with pytest.raises(
        ModelNotFoundError, match=r"has no alias @best.*m \(@challenger→v2, @champion→v1\)"
    ):
        load_risk_model("models:/m@best", tracking_uri=tracking_uri)
    with pytest.raises(
        ModelNotFoundError, match=r"no registered model named 'other'.*Registered models: m "
    ):
        load_risk_model("models:/other@champion", tracking_uri=tracking_uri)
    with pytest.raises(ModelNotFoundError, match=r"no version 9 of 'm'"):
        load_risk_model("models:/m/9", tracking_uri=tracking_uri)


def test_promote_moves_champion_only_when_the_challenger_beats_it(
    tracking_uri, tiny, logger, tmp_path
):
    store = open_store(tracking_uri)
    _, v1, _ = logger(store, tiny, name="m", workdir=tmp_path / "1", **_bt("same", 0.30, 0.10))
    # worse on recall at capacity (even though better on PR-AUC): stays
    _, v2, _ = logger(store, tiny, name="m", workdir=tmp_path / "2", **_bt("same", 0.28, 0.20))
    d = promote("m", tracking_uri=tracking_uri)
    assert not d.moved and d.champion_after == v1 and d.challenger == v2
    assert "does not beat champion on recall_at_capacity (0.2800 vs 0.3000)" in d.reason
    assert d.basis.startswith("logged backtests")
    assert _version(store, "m", "champion") == v1
    row = d.comparison.set_index("metric").loc["recall_at_capacity"]
    assert (row["champion"], row["challenger"]) == (0.30, 0.28)

    # tie on recall, better PR-AUC: moves
    _, v3, _ = logger(store, tiny, name="m", workdir=tmp_path / "3", **_bt("same", 0.30, 0.12))
    d = promote("m", tracking_uri=tracking_uri)
    assert d.moved and d.champion_before == v1 and d.champion_after == v3
    assert "beats champion on pr_auc" in d.reason
    assert _version(store, "m", "champion") == v3
    # promoting again: the challenger already is the champion
    d = promote("m", tracking_uri=tracking_uri)
    assert not d.moved and "already is the champion" in d.reason
    assert "riskml.last_promotion" in store.client.get_registered_model("m").tags


def test_different_backtests_are_not_compared_without_data(tracking_uri, tiny, logger, tmp_path):
    store = open_store(tracking_uri)
    logger(store, tiny, name="m", workdir=tmp_path / "1", **_bt("data-a", 0.10, 0.05))
    logger(store, tiny, name="m", workdir=tmp_path / "2", **_bt("data-b", 0.90, 0.90))
    d = promote("m", tracking_uri=tracking_uri)
    assert not d.moved
    assert "different data or folds" in d.reason and "--data DIR" in d.reason
    assert _version(store, "m", "champion") == "1"

    result = CliRunner().invoke(app, ["promote", "--name", "m", "--tracking-uri", tracking_uri])
    assert result.exit_code == 3, result.output  # 3 = kept
    assert "champion NOT moved" in _flat(result)


def test_promote_cli_moves_and_prints_the_comparison(tracking_uri, tiny, logger, tmp_path):
    store = open_store(tracking_uri)
    logger(store, tiny, name="m", workdir=tmp_path / "1", **_bt("same", 0.30, 0.10))
    logger(store, tiny, name="m", workdir=tmp_path / "2", **_bt("same", 0.40, 0.10))
    result = CliRunner().invoke(app, ["promote", "--name", "m", "--tracking-uri", tracking_uri])
    assert result.exit_code == 0, result.output
    assert "Champion vs challenger" in _flat(result) and "recall_at_capacity" in _flat(result)
    assert "champion MOVED" in _flat(result) and "m@champion = v2" in _flat(result)
    assert _version(store, "m", "champion") == "2"


def test_promote_unknown_model_is_a_clear_error(tracking_uri):
    with pytest.raises(TrackingError, match="No registered model named 'nope'"):
        promote("nope", tracking_uri=tracking_uri)
    result = CliRunner().invoke(app, ["promote", "--name", "nope", "--tracking-uri", tracking_uri])
    assert result.exit_code == 2 and "No registered model named 'nope'" in _flat(result)


def test_compare_metrics_rules():
    champ = {"recall_at_capacity": 0.3, "pr_auc": 0.1, "brier": 0.030}
    assert compare_metrics(champ, {**champ, "brier": 0.029}, ["brier"]).beats  # lower is better
    assert not compare_metrics(champ, {**champ, "brier": 0.031}, ["brier"]).beats
    tie = compare_metrics(champ, dict(champ), ["recall_at_capacity", "pr_auc"])
    assert not tie.beats and "tie" in tie.reason
    missing = compare_metrics(champ, {"pr_auc": math.nan}, ["recall_at_capacity", "pr_auc"])
    assert not missing.beats and "no primary metric" in missing.reason
    # a missing first metric is skipped; the next one decides
    skip = compare_metrics({"pr_auc": 0.1}, {"pr_auc": 0.2}, ["recall_at_capacity", "pr_auc"])
    assert skip.beats and skip.deciding_metric == "pr_auc"


def test_promote_needs_a_real_improvement_and_exits_3_when_it_keeps_the_champion(
    tracking_uri, tiny, logger, tmp_path
):
    """A 0.013 recall difference is a tie under the default minimum improvement (0.02): the
    champion stays and the CLI exits 3; naming another metric and a smaller minimum promotes
    (exit 0); a metric neither version logged is an error (exit 2) listing the logged ones."""
    store = open_store(tracking_uri)
    logger(store, tiny, name="m", workdir=tmp_path / "1", **_bt("same", 0.300, 0.100))
    logger(store, tiny, name="m", workdir=tmp_path / "2", **_bt("same", 0.313, 0.108))
    args = ["promote", "--name", "m", "--tracking-uri", tracking_uri]

    d = promote("m", tracking_uri=tracking_uri)
    assert not d.moved and d.exit_code == 3 and d.deciding_metric is None
    assert "tie on every primary metric (no difference of 0.02 or more)" in d.reason
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 3, result.output
    assert "champion NOT moved" in _flat(result) and "minimum improvement of 0.02" in _flat(result)
    assert _version(store, "m", "champion") == "1"

    # equal Brier scores: a tie keeps the champion even with no minimum improvement
    result = CliRunner().invoke(app, [*args, "--metric", "brier", "--min-improvement", "0"])
    assert result.exit_code == 3 and _version(store, "m", "champion") == "1"

    result = CliRunner().invoke(
        app, [*args, "--metric", "recall_at_capacity,pr_auc", "--min-improvement", "0.005"]
    )
    assert result.exit_code == 0, result.output
    assert "beats champion on recall_at_capacity (0.3130 vs 0.3000)" in _flat(result)
    assert _version(store, "m", "champion") == "2"


def test_promote_with_a_metric_nobody_logged_is_an_error(tracking_uri, tiny, logger, tmp_path):
    store = open_store(tracking_uri)
    logger(store, tiny, name="m", workdir=tmp_path / "1", **_bt("same", 0.30, 0.10))
    logger(store, tiny, name="m", workdir=tmp_path / "2", **_bt("same", 0.40, 0.10))
    with pytest.raises(TrackingError, match=r"recal were logged for neither version; choose from"):
        promote("m", tracking_uri=tracking_uri, metrics="recal")
    result = CliRunner().invoke(
        app, ["promote", "--name", "m", "--tracking-uri", tracking_uri, "--metric", "recal"]
    )
    assert result.exit_code == 2 and "recall_at_capacity" in _flat(result)
    assert _version(store, "m", "champion") == "1"
    with pytest.raises(ValueError, match="min_improvement must be a number in"):
        promote("m", tracking_uri=tracking_uri, min_improvement=-0.1)
