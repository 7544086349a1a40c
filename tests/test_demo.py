"""``riskml demo`` end to end: synthesise, validate, train, score, report (into tmp dirs).

The full flow trains with the repository's ``configs/training.yaml`` (about a minute and a half
for 2,000 households on a loaded 2-core machine), so it is marked ``slow``; the argument checks
that fail before any work are fast.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from rich.console import Console
from typer.testing import CliRunner

from riskml.cli import app
from riskml.demo import run_demo

DEMO_HOUSEHOLDS = 2000


@pytest.fixture(autouse=True)
def _no_ambient_store(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Never fall back to the repository's models/ store or a user's tracking server."""
    never = tmp_path / "default-models-never-used"
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    monkeypatch.setenv("RISKML_MODELS_DIR", str(never))
    return never


@pytest.mark.slow
def test_demo_accounts_for_every_household(tmp_path: Path, _no_ambient_store: Path) -> None:
    from riskml.scoring import read_scores

    out = tmp_path / "demo"
    console = Console(record=True, width=120)
    result = run_demo(
        out,
        households=DEMO_HOUSEHOLDS,
        seed=7,
        tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}",
        report_formats="html",
        console=console,
    )
    printed = console.export_text()

    assert result.bundle_dir == out
    assert pq.read_metadata(out / "households.parquet").num_rows == DEMO_HOUSEHOLDS
    assert (tmp_path / "demo.truth.parquet").is_file()  # ground truth beside, never inside

    # every household of the roster is in the score file exactly once, with a known status
    assert result.scores_path == tmp_path / "demo-out" / "scores.parquet"
    scores, meta = read_scores(result.scores_path)
    assert len(scores) == DEMO_HOUSEHOLDS
    assert scores["household_id"].is_unique
    assert set(scores["status"].unique()) <= {"scored", "not_eligible", "rejected"}
    assert sum(result.summary["status"].values()) == DEMO_HOUSEHOLDS
    assert result.summary["input_households"] == DEMO_HOUSEHOLDS
    assert meta["model"]["name"] == "riskml-demo"
    assert result.model_uri.startswith("models:/riskml-demo/")

    # reports: an index and one public page per village, HTML only
    assert result.reports_index.is_file()
    assert result.reports_index.parent == result.reports_dir == tmp_path / "demo-out" / "reports"
    pages = [p for p in result.reports_dir.rglob("*.html") if p != result.reports_index]
    villages = scores["village_code"].nunique()
    assert len(pages) == villages
    assert not list(result.reports_dir.rglob("*.pdf"))

    # the backtest table printed and returned: every baseline, the oracle from the ground truth
    assert list(result.backtest_table.index) == [
        "model",
        "rules",
        "persistence",
        "scorecard",
        "oracle",
    ]
    assert "Backtest, pooled out-of-fold" in printed and "recall vs rules" in printed
    assert set(result.seconds) == {
        "synth",
        "validate",
        "train",
        "review loop",
        "score",
        "reports",
        "total",
    }
    # the review loop: last month's list, the stand-in's sheet imported into the bundle, and
    # this month's list following it up
    previous = pd.read_parquet(tmp_path / "demo-out" / "scores-previous.parquet")
    reviews = pd.read_parquet(out / "reviews.parquet")
    flagged_before = set(previous.loc[previous["flagged"].fillna(False), "household_id"])
    assert len(reviews) > 0 and set(reviews["household_id"]) <= flagged_before
    assert scores["last_review_on"].notna().sum() == reviews["household_id"].nunique()
    assert scores["change"].notna().all()  # compared with last month's list
    assert result.summary["followup"]["with_review"] == reviews["household_id"].nunique()
    assert not _no_ambient_store.exists()


def test_demo_refuses_an_unknown_report_format_before_doing_any_work(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"--formats\) must be html, pdf or html,pdf"):
        run_demo(tmp_path / "demo", households=200, report_formats="html,docx")
    assert not (tmp_path / "demo").exists()


def test_demo_command_prints_the_error_without_a_traceback(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["demo", "--out", str(tmp_path / "demo"), "--formats", "word", "--households", "200"]
    )
    assert result.exit_code == 2
    assert "--formats) must be html, pdf or html,pdf" in " ".join(result.output.split())
    assert "Traceback" not in result.output
    assert not (tmp_path / "demo").exists()
