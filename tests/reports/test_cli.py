"""The ``riskml report`` command: thin wrapper, clear errors, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from riskml.cli import app
from riskml.reports._output import MANIFEST_NAME

runner = CliRunner()


def test_report_command_writes_reports(internal_scores: Path, tmp_path: Path) -> None:
    out = tmp_path / "reports"
    res = runner.invoke(
        app,
        [
            "report",
            "--scores",
            str(internal_scores),
            "--out",
            str(out),
            "--level",
            "township",
            "--lang",
            "en",
            "--mode",
            "public",
            "--format",
            "html",
        ],
    )
    assert res.exit_code == 0, res.output
    assert "township report(s)" in res.output and "flagged households" in res.output
    manifest = json.loads((out / MANIFEST_NAME).read_text(encoding="utf-8"))
    assert (manifest["level"], manifest["lang"], manifest["mode"]) == ("township", "en", "public")
    assert (out / "index.html").is_file()


def test_report_command_errors_are_clear(public_scores: Path, tmp_path: Path) -> None:
    res = runner.invoke(
        app,
        [
            "report",
            "--scores",
            str(public_scores),
            "--out",
            str(tmp_path / "x"),
            "--mode",
            "internal",
        ],
    )
    assert res.exit_code == 2
    assert "internal report needs an internal score file" in res.output
    assert "Traceback" not in res.output
    res = runner.invoke(
        app,
        [
            "report",
            "--scores",
            str(public_scores),
            "--out",
            str(tmp_path / "x"),
            "--level",
            "street",
        ],
    )
    assert res.exit_code == 2 and "--level must be one of" in res.output
    assert not (tmp_path / "x").exists()
