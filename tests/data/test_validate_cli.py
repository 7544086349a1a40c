"""``riskml validate``: summary table, exit codes, clear errors, quarantine file beside the bundle."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from riskml.cli import app

from ._builders import HH, text_tables, write_text_bundle

# A copy of the shared national-export sample, kept in the repository so every clone runs these.
SAMPLE = Path(__file__).parent / "samples/national-export"


def _run(*args: str):
    return CliRunner().invoke(app, ["validate", *args], catch_exceptions=False)


def _flat(text: str) -> str:
    """Output with rich's line wrapping undone (words joined by single spaces)."""
    return " ".join(text.split())


def test_valid_bundle_prints_summary(tmp_path: Path) -> None:
    """a valid bundle → exit 0, a table with rows per table, identification per year, 'No rows quarantined'."""
    folder = write_text_bundle(tmp_path / "bundle")
    result = _run(str(folder))
    assert result.exit_code == 0, result.output
    out = _flat(result.output)
    assert "households" in out and "monitoring" in out and "2025-12-31" in out
    assert "Newly identified monitoring households per year" in out and "25.00%" in out
    assert "No rows quarantined" in out
    assert not (tmp_path / "bundle.quarantine.csv").exists()


def test_quarantine_written_beside_the_bundle(tmp_path: Path) -> None:
    """a bundle with a negative income → exit 0, quarantine CSV written to <dir>.quarantine.csv beside it and its path printed."""
    t = text_tables()
    t["income"].loc[0, "wage_income"] = "-1"
    folder = write_text_bundle(tmp_path / "bundle", t)
    result = _run(str(folder))
    assert result.exit_code == 0, result.output
    target = tmp_path / "bundle.quarantine.csv"
    assert target.is_file() and "bundle.quarantine.csv" in result.output.replace("\n", "")
    q = pd.read_csv(target, dtype=str, encoding="utf-8-sig")
    assert q[["table", "row", "household_id", "column", "value", "reason"]].values.tolist() == [
        ["income", "1", HH[0], "wage_income", "-1", "negative amount"]
    ]
    assert not any(p.name.endswith("quarantine.csv") for p in folder.iterdir())
    assert "negative amount" in result.output


def test_quarantine_option(tmp_path: Path) -> None:
    """--quarantine FILE → the quarantine is written there instead."""
    t = text_tables()
    t["events"].loc[0, "recorded_on"] = "2020-01-01"
    folder = write_text_bundle(tmp_path / "bundle", t)
    target = tmp_path / "out" / "q.csv"
    result = _run(str(folder), "--quarantine", str(target))
    assert result.exit_code == 0 and target.is_file()


def test_error_exit_code_and_message(tmp_path: Path) -> None:
    """a bundle with duplicate household ids → exit 1 and the error message on stderr, no traceback."""
    t = text_tables()
    t["households"].loc[1, "household_id"] = HH[0]
    folder = write_text_bundle(tmp_path / "bundle", t)
    result = CliRunner().invoke(app, ["validate", str(folder)])
    assert result.exit_code == 1
    out = _flat(result.output)
    assert out.startswith("error: households.household_id") and "appear more than once" in out
    assert "Traceback" not in out and isinstance(result.exception, SystemExit)


def test_mapping_error_exit_code(tmp_path: Path) -> None:
    """--mapping with an unknown key → exit 1 naming the key."""
    mapping = tmp_path / "m.yaml"
    mapping.write_text("tabels: {}\n", encoding="utf-8")
    result = CliRunner().invoke(
        app, ["validate", str(write_text_bundle(tmp_path / "b")), "--mapping", str(mapping)]
    )
    assert result.exit_code == 1 and "unknown key 'tabels'" in _flat(result.output)


def test_validate_national_sample() -> None:
    """riskml validate on the national sample with --mapping national_export → exit 0, 400 households, GB18030 detected."""
    result = _run(str(SAMPLE), "--mapping", "national_export")
    assert result.exit_code == 0, result.output
    out = _flat(result.output)
    assert "400" in out and "gb18030" in out and "No rows quarantined" in out
