"""``riskml features build`` and ``riskml features check`` end to end, on real files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from typer.testing import CliRunner

from riskml.cli import app
from riskml.data import load_bundle
from riskml.features import TrainingSet, as_of_schedule, build_training_set

runner = CliRunner()


def test_features_build_writes_the_training_set(small_province_dir: Path, tmp_path: Path) -> None:
    """--data DIR --start --end --every 3M --out FILE -> a Parquet training set equal to
    build_training_set on the loaded bundle, with metadata, and a one-line summary."""
    out = tmp_path / "train.parquet"
    args = [
        "features",
        "build",
        "--data",
        str(small_province_dir),
        "--start",
        "2021-03-31",
        "--end",
        "2022-12-31",
        "--every",
        "3M",
        "--out",
        str(out),
        "--chunk-households",
        "700",
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "rows" in result.output and "positive" in result.output
    ts = TrainingSet.read_parquet(out)
    assert ts.metadata["as_of_dates"][0] == "2021-03-31" and len(ts.metadata["as_of_dates"]) == 8
    bundle = load_bundle(small_province_dir)
    expected = build_training_set(bundle, as_of_schedule("2021-03-31", "2022-12-31", "3M"), 12)
    pd.testing.assert_frame_equal(ts.frame, expected.frame)
    assert ts.metadata["data_fingerprint"] == expected.metadata["data_fingerprint"]


def test_features_build_reports_bad_input_without_traceback(
    small_province_dir: Path, tmp_path: Path
) -> None:
    """An end date after the extraction date -> exit code 2 and the library's message, no traceback."""
    out = tmp_path / "x.parquet"
    result = runner.invoke(
        app,
        [
            "features",
            "build",
            "--data",
            str(small_province_dir),
            "--start",
            "2021-01-01",
            "--end",
            "2031-01-01",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 2
    assert "extraction date" in result.output and "Traceback" not in result.output
    assert not out.exists()
    bad = runner.invoke(
        app,
        [
            "features",
            "build",
            "--data",
            str(small_province_dir),
            "--start",
            "2021-01-01",
            "--end",
            "2022-01-01",
            "--every",
            "quarterly",
            "--out",
            str(out),
        ],
    )
    assert bad.exit_code == 2 and "3M" in bad.output


def test_features_check(tmp_path: Path, catalog: Any) -> None:
    """check lists the sets of the shipped catalog; a broken catalog exits 1 with the problem."""
    ok = runner.invoke(app, ["features", "check"])
    assert ok.exit_code == 0 and "department_rules" in ok.output and catalog.version in ok.output
    (tmp_path / "catalog.yaml").write_text(
        "version: x\nfeatures:\n  - name: a\n    table: events\n    primitive: median\n",
        encoding="utf-8",
    )
    broken = runner.invoke(app, ["features", "check", "--catalog", str(tmp_path)])
    assert broken.exit_code == 1 and "median" in broken.output
