"""``riskml score``: the command end to end, its refusals, and interrupted runs (real signals)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

from riskml.cli import app
from riskml.scoring import read_scores

from .conftest import SCORING_AS_OF


def _invoke(*args: str) -> Any:
    return CliRunner().invoke(app, ["score", *args], env={"COLUMNS": "240"})


def test_score_command_writes_the_file_and_prints_top_flagged(
    small_province_dir: Path, registered_model: str, scoring_store: str, tmp_path: Path
) -> None:
    out = tmp_path / "scores.csv"
    result = _invoke(
        "--data",
        str(small_province_dir),
        "--as-of",
        SCORING_AS_OF,
        "--model",
        registered_model,
        "--tracking-uri",
        scoring_store,
        "--out",
        str(out),
        "--top",
        "5",
    )
    assert result.exit_code == 0, result.output
    frame, meta = read_scores(out)
    assert len(frame) == len(pd.read_parquet(small_province_dir / "households.parquet"))
    assert meta["model"]["uri"] == registered_model and meta["model"]["version"] == "1"
    assert "Top 5 flagged households" in result.stdout
    # ids on the console are masked; the reasons are the file's own texts
    top = (
        frame.loc[frame["flagged"]]
        .sort_values(["score", "raw_score", "household_id"], ascending=[False, False, True])
        .head(5)
    )
    flat = "".join(result.stdout.split())  # rich may still wrap long cells
    for hid in top["household_id"]:
        assert hid not in flat and hid[-4:] in flat
    assert "".join(str(top["reason_1_public_zh"].dropna().iloc[0]).split())[:6] in flat
    for detail in top["reason_1_zh"].dropna():  # internal texts (health details) stay in the file
        assert "".join(str(detail).split()) not in flat
    assert (tmp_path / "scores.csv.summary.json").is_file()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--out", "{tmp}/scores.txt"], "extension '.txt' is not one of"),
        (["--out", "{tmp}/missing/scores.csv"], "does not exist; create it first"),
        (["--out", "{tmp}/s.csv", "--as-of", "2025-13-01"], "YYYY-MM-DD"),
        (["--out", "{tmp}/s.csv", "--engine", "dask"], "'dask' is not one of 'local', 'spark'"),
        (["--out", "{tmp}/s.csv", "--mode", "village"], "'village' is not one of 'internal'"),
        (
            ["--out", "{tmp}/s.csv", "--shap-method", "kernel"],
            "'kernel' is not one of 'tree_shap', 'pred_contrib'",
        ),
        (["--out", "{tmp}/s.csv", "--previous", "{tmp}/nope.parquet"], "previous score file"),
    ],
)
def test_refusals_are_clear_one_line_errors(
    small_province_dir: Path,
    registered_model: str,
    scoring_store: str,
    tmp_path: Path,
    args: list[str],
    message: str,
) -> None:
    base = {
        "--data": str(small_province_dir),
        "--as-of": SCORING_AS_OF,
        "--model": registered_model,
        "--tracking-uri": scoring_store,
    }
    given = [a.format(tmp=tmp_path) for a in args]
    for i in range(0, len(given), 2):
        base[given[i]] = given[i + 1]
    result = _invoke(*[x for kv in base.items() for x in kv])
    assert result.exit_code == 2
    text = " ".join(result.output.split())  # rich wraps long lines
    assert message in text
    assert "Traceback" not in text
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def _score_process(
    data: Path, model: str, store: str, out: Path, config: Path | None = None
) -> subprocess.Popen[str]:
    cmd = [
        str(Path(sys.executable).with_name("riskml")),
        "score",
        "--data",
        str(data),
        "--as-of",
        SCORING_AS_OF,
        "--model",
        model,
        "--tracking-uri",
        store,
        "--out",
        str(out),
    ]
    if config is not None:
        cmd += ["--config", str(config)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _small_chunks_config(tmp_path: Path) -> Path:
    from riskml.config import config_dir

    text = (config_dir() / "scoring.yaml").read_text(encoding="utf-8")
    cfg = tmp_path / "scoring.yaml"
    cfg.write_text(
        text.replace("chunk_households: 100000", "chunk_households: 250"), encoding="utf-8"
    )
    return cfg


def test_sigterm_midway_leaves_no_output_and_a_rerun_completes(
    small_province_dir: Path, registered_model: str, scoring_store: str, tmp_path: Path
) -> None:
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out = out_dir / "scores.parquet"
    cfg = _small_chunks_config(tmp_path)
    proc = _score_process(small_province_dir, registered_model, scoring_store, out, cfg)
    assert proc.stderr is not None
    seen = []
    for line in proc.stderr:  # wait until the first chunks are scored: really midway
        seen.append(line)
        if line.startswith("scoring: 500/"):
            proc.send_signal(signal.SIGTERM)
            break
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, "".join(seen) + err
    assert "interrupted; no score file was written" in err
    assert list(out_dir.iterdir()) == []
    # a rerun (here in-process, same store and model) writes the complete file
    from riskml.scoring import score_roster

    score_roster(
        small_province_dir,
        SCORING_AS_OF,
        out=out,
        model_uri=registered_model,
        tracking_uri=scoring_store,
        quiet=True,
    )
    frame, _ = read_scores(out)
    assert len(frame) == len(pd.read_parquet(small_province_dir / "households.parquet"))
    assert sorted(p.name for p in out_dir.iterdir()) == [
        "scores.parquet",
        "scores.parquet.summary.json",
    ]


@pytest.mark.slow
def test_sigkill_while_writing_leaves_only_a_temp_that_the_rerun_removes(
    small_province_dir: Path, registered_model: str, scoring_store: str, tmp_path: Path
) -> None:
    out = tmp_path / "scores.xlsx"  # Excel is the slowest writer: a wide window to kill in
    proc = _score_process(small_province_dir, registered_model, scoring_store, out)
    deadline = time.monotonic() + 300
    temp: list[Path] = []
    while time.monotonic() < deadline and proc.poll() is None:
        temp = list(tmp_path.glob("scores.xlsx.tmp-*"))
        if temp:
            os.kill(proc.pid, signal.SIGKILL)
            break
        time.sleep(0.005)
    proc.communicate(timeout=60)
    assert temp, "the run finished before its temp file was seen; nothing was tested"
    assert proc.returncode == -signal.SIGKILL
    assert not out.exists()  # nothing that looks complete
    rerun = _score_process(small_province_dir, registered_model, scoring_store, out)
    _, err = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, err
    assert not any(tmp_path.glob("scores.xlsx.tmp-*"))  # the dead run's temp was removed
    frame, _ = read_scores(out)
    assert len(frame) == len(pd.read_parquet(small_province_dir / "households.parquet"))
