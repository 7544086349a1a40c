"""Model evaluation reports (``riskml report-model``) from a real MLflow run's artifacts.

The run is created in a temporary SQLite store and given artifacts in the layout
``riskml.tracking.train_and_register`` logs (tables with the models' own columns, plots drawn by
``riskml.tracking._plots``, the card built by ``riskml.tracking.build_model_card``). A slow test
does the same end to end with a really trained model.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from riskml.cli import app
from riskml.models._fairness import FAIRNESS_COLUMNS, GAP_COLUMNS
from riskml.reports import ReportInputError, render_model_report
from riskml.reports._model import REPORT_ARTIFACT_PATH
from riskml.tracking import build_model_card, open_store, render_model_card
from tests.reports._html import read, section, text_of

METHODS = ("model", "rules", "persistence", "scorecard")
FEATURES = ("oop_medical_12m", "wage_income_share", "members_over_65")


def _write_run_artifacts(root: Path, *, with_shap_sample: bool = True) -> Path:
    import matplotlib.pyplot as plt

    from riskml.tracking._plots import (
        calibration_figure,
        pr_figure,
        roc_figure,
        shap_summary_figures,
    )

    rng = np.random.default_rng(3)
    n = 600
    y = (rng.random(n) < 0.1).astype(float)
    scores = {
        m: np.clip(y * rng.uniform(0.1, 0.6, n) + rng.uniform(0, 0.4, n), 0, 1) for m in METHODS
    }
    (root / "backtest").mkdir(parents=True)
    (root / "plots").mkdir()
    table = pd.DataFrame(
        {
            "n": [n] * len(METHODS),
            "positives": [int(y.sum())] * len(METHODS),
            "roc_auc": [0.83, 0.66, 0.61, 0.74],
            "pr_auc": [0.41, 0.22, 0.18, 0.30],
            "recall_at_capacity": [0.52, 0.31, 0.25, 0.40],
        },
        index=pd.Index(METHODS, name="method"),
    )
    table.to_csv(root / "backtest" / "backtest_table.csv", index_label="method")
    pd.DataFrame(
        {"fold": [1, 2], "test_start": ["2023-06-30", "2024-06-30"], "status": ["ok", "ok"]}
    ).to_csv(root / "backtest" / "folds.csv", index=False)
    fair = pd.DataFrame(
        [
            [m, g, lvl, 200, 20, 30, 0.5, 0.1, 0.3, 0.1, 0.1, 0.0]
            for m in ("model", "rules")
            for g, lvls in (
                ("head_ethnicity", ("汉族", "蒙古族")),
                ("livelihood", ("pastoral", "farming")),
            )
            for lvl in lvls
        ],
        columns=list(FAIRNESS_COLUMNS),
    )
    fair.to_csv(root / "backtest" / "fairness.csv", index=False)
    pd.DataFrame(
        [["model", "head_ethnicity", "recall", 0.07, "汉族", 0.53, "蒙古族", 0.46, 2]],
        columns=list(GAP_COLUMNS),
    ).to_csv(root / "backtest" / "fairness_gaps.csv", index=False)
    X = pd.DataFrame({f: rng.gamma(2.0, 1.0, n) for f in FEATURES})
    contrib = np.column_stack(
        [X[f].to_numpy() * w - w for f, w in zip(FEATURES, (0.5, -0.3, 0.2), strict=True)]
        + [np.full(n, -2.0)]
    )
    figs = {
        "roc": roc_figure(y, scores),
        "precision_recall": pr_figure(y, scores),
        "calibration": calibration_figure(y, scores),
        **shap_summary_figures(
            contrib,
            X,
            list(FEATURES),
            {
                "oop_medical_12m": "illness",
                "wage_income_share": "unstable_employment",
                "members_over_65": "labor_shortage",
            },
        ),
    }
    for name, fig in figs.items():
        fig.savefig(root / "plots" / f"{name}.png", dpi=60)
        plt.close(fig)
    if with_shap_sample:
        (root / "shap").mkdir()
        sample = X.copy()
        for i, f in enumerate(FEATURES):
            sample[f"shap.{f}"] = contrib[:, i]
        sample.to_parquet(root / "shap" / "sample.parquet")
    card = build_model_card(
        model_name="riskml-recurrence",
        version="7",
        run_id="abc",
        feature_set={"name": "default", "version": "1", "n_features": len(FEATURES)},
        training={"horizon_months": 12, "as_of_first": "2021-06-30", "as_of_last": "2024-06-30"},
        data={"households": 2500, "rows": 9000, "positives": 310},
        metrics=table,
        baselines=list(METHODS[1:]),
        subgroups=fair[fair["method"] == "model"].drop(columns="method"),
    )
    (root / "model_card.json").write_text(json.dumps(card, ensure_ascii=False), encoding="utf-8")
    (root / "model_card.md").write_text(render_model_card(card), encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def mlflow_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """A real MLflow run (SQLite store in tmp) holding a training run's artifacts."""
    tmp_path = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    store = open_store(uri)
    arts = _write_run_artifacts(tmp_path / "arts")
    with store.active():
        run = store.client.create_run(
            store.experiment_id,
            tags={"riskml.model_name": "riskml-recurrence", "riskml.kind": "training"},
        )
        store.client.log_artifacts(run.info.run_id, str(arts))
        store.client.set_terminated(run.info.run_id)
    return uri, run.info.run_id


def test_model_report_from_an_mlflow_run_is_logged_back(
    mlflow_run: tuple[str, str], tmp_path: Path
) -> None:
    uri, run_id = mlflow_run
    result = render_model_report(
        f"runs:/{run_id}/model", tmp_path / "report", tracking_uri=uri, lang="en", formats="html"
    )
    assert all(result.sections.values()), result.sections
    page = read(result.index)
    backtest = section(page, "backtest")
    for method in METHODS:
        assert f">{method}</t" in backtest
    assert "0.830" in backtest and "recall_at_capacity" in backtest
    assert 'class="total"' in backtest or ' hl"' in backtest  # the model stands out
    for plot in ("roc", "precision_recall", "calibration", "shap_by_feature", "shap_beeswarm"):
        assert f"plots/{plot}.png" in page and (result.out_dir / "plots" / f"{plot}.png").is_file()
    deps = sorted(p.name for p in (result.out_dir / "plots").glob("shap_dependence_*.png"))
    assert deps == sorted(f"shap_dependence_{f}.png" for f in FEATURES)
    fairness = text_of(section(page, "fairness"))
    assert "蒙古族" in fairness and "head_ethnicity" in fairness
    card = text_of(section(page, "model-card"))
    assert "Decision support for the village review" in card and "riskml-recurrence" in card
    # logged back to the same run
    assert result.logged_to == f"runs:/{run_id}/{REPORT_ARTIFACT_PATH}"
    store = open_store(uri, experiment=None)
    with store.active():
        logged = {a.path for a in store.client.list_artifacts(run_id, REPORT_ARTIFACT_PATH)}
    assert (
        f"{REPORT_ARTIFACT_PATH}/index.html" in logged and f"{REPORT_ARTIFACT_PATH}/plots" in logged
    )


def test_model_report_from_a_local_artifact_folder_in_chinese_with_pdf(tmp_path: Path) -> None:
    arts = _write_run_artifacts(tmp_path / "arts", with_shap_sample=False)
    result = render_model_report(arts, tmp_path / "report", lang="zh", formats="html,pdf")
    assert result.logged_to is None and result.run_id is None
    page = read(result.index)
    assert '<html lang="zh-CN">' in page and "模型评估报告" in page
    assert (result.out_dir / "report.pdf").read_bytes()[:5] == b"%PDF-"
    # without a SHAP sample nor dependence plots, the section says it was not logged
    assert not result.sections["shap_dependence"]
    shap_section = section(page, "shap")
    assert "该运行未记录此项内容" in shap_section


def test_a_run_without_evaluation_artifacts_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(ReportInputError, match="logged none of riskml's evaluation artifacts"):
        render_model_report(tmp_path / "empty", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_report_model_command(mlflow_run: tuple[str, str], tmp_path: Path) -> None:
    uri, run_id = mlflow_run
    res = CliRunner().invoke(
        app,
        [
            "report-model",
            "--model",
            f"runs:/{run_id}/model",
            "--out",
            str(tmp_path / "r"),
            "--tracking-uri",
            uri,
            "--lang",
            "en",
        ],
    )
    assert res.exit_code == 0, res.output
    assert (tmp_path / "r" / "index.html").is_file()
    assert REPORT_ARTIFACT_PATH in res.output
    res = CliRunner().invoke(
        app,
        [
            "report-model",
            "--model",
            "models:/nope@champion",
            "--out",
            str(tmp_path / "x"),
            "--tracking-uri",
            uri,
        ],
    )
    assert res.exit_code == 2 and "nope" in res.output and "Traceback" not in res.output


@pytest.mark.slow
def test_model_report_of_a_really_trained_model(small_province_dir: Path, tmp_path: Path) -> None:
    """End to end: riskml.tracking trains and registers a model; its run's real artifacts make
    the report, which is logged back to that run."""
    from riskml.tracking import train_and_register

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    trained = train_and_register(small_province_dir, tracking_uri=uri)
    result = render_model_report(
        trained.model_uri, tmp_path / "report", tracking_uri=uri, lang="zh", formats="html,pdf"
    )
    assert result.run_id == trained.run_id
    for key in ("backtest", "fairness", "performance_plots", "shap_summary", "model_card"):
        assert result.sections[key], key
    page = read(result.index)
    for method in trained.table.index:
        assert f">{method}</t" in section(page, "backtest")
    assert (result.out_dir / "report.pdf").is_file()
    store = open_store(uri, experiment=None)
    with store.active():
        logged = {a.path for a in store.client.list_artifacts(trained.run_id, REPORT_ARTIFACT_PATH)}
    assert f"{REPORT_ARTIFACT_PATH}/index.html" in logged
