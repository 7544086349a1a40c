"""The CLI's error policy: user errors are one line and exit 2, bugs are internal errors (exit 1)."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import riskml.features
from riskml.cli import USER_ERRORS, app, user_error_types
from tests.data._builders import HH, text_tables, write_text_bundle

runner = CliRunner()


def _broken_catalog(path: str | None = None) -> None:
    raise KeyError("col")  # a bug inside a command, as an internal lookup gone wrong would be


def test_a_bug_is_an_internal_error_with_exit_1_and_no_traceback(monkeypatch) -> None:
    monkeypatch.setattr(riskml.features, "load_catalog", _broken_catalog)
    result = runner.invoke(app, ["features", "check"])
    assert result.exit_code == 1, result.output
    text = " ".join(result.output.split())
    assert "internal error — please report: KeyError: 'col'" in text
    assert "--debug" in text and "Traceback" not in text


@pytest.mark.parametrize("how", ["--debug", "RISKML_DEBUG"])
def test_debug_shows_the_traceback_of_a_bug(monkeypatch, how: str) -> None:
    monkeypatch.setattr(riskml.features, "load_catalog", _broken_catalog)
    if how == "--debug":
        result = runner.invoke(app, ["--debug", "features", "check"])
    else:
        result = runner.invoke(app, ["features", "check"], env={"RISKML_DEBUG": "1"})
    assert result.exit_code == 1
    assert "Traceback (most recent call last)" in result.output
    assert "_broken_catalog" in result.output and "KeyError: 'col'" in result.output
    assert "internal error — please report" in result.output


def test_a_bad_bundle_is_one_line_and_exit_2(tmp_path: Path) -> None:
    tables = text_tables()
    tables["households"].loc[1, "household_id"] = HH[0]  # duplicate household id
    folder = write_text_bundle(tmp_path / "bundle", tables)
    out = tmp_path / "train.parquet"
    args = ["features", "build", "--data", str(folder), "--start", "2021-01-01"]
    result = runner.invoke(app, [*args, "--end", "2021-06-30", "--out", str(out)])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: households.household_id") and "more than once" in lines[0]
    assert "internal error" not in result.output and not out.exists()


def test_bad_arguments_to_the_library_are_user_errors(tmp_path: Path) -> None:
    """An --every the schedule cannot read is a user error (TrainingSetError), not a bug."""
    folder = write_text_bundle(tmp_path / "bundle")
    args = ["features", "build", "--data", str(folder), "--start", "2021-01-01"]
    result = runner.invoke(
        app, [*args, "--end", "2021-06-30", "--every", "fortnightly", "--out", str(tmp_path / "t")]
    )
    assert result.exit_code == 2
    assert result.output.startswith("error: The 'every' step must look like 3M")


def test_every_listed_user_error_is_an_exception_class_of_its_package() -> None:
    for module, names in USER_ERRORS.items():
        package = importlib.import_module(module)
        for name in names:
            assert issubclass(getattr(package, name), Exception), (module, name)
    importlib.import_module("riskml.tracking")
    found = user_error_types()
    assert OSError in found and KeyError not in found and ValueError not in found
    assert {c.__name__ for c in found} >= {"ConfigError", "BundleError", "TrackingError"}


def test_help_imports_neither_mlflow_nor_the_model_stack() -> None:
    code = (
        "import sys; from riskml.cli import app\n"
        "try:\n    app(['--help'])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in ('mlflow', 'lightgbm', 'riskml.models') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip().splitlines()[-1] == "[]"
