"""docs/bad-inputs.md is generated from the tests' docstrings and must say what they check."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _script():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(
        "bad_inputs_table", ROOT / "scripts" / "bad_inputs_table.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_catalogue_document_is_up_to_date() -> None:
    """docs/bad-inputs.md compared with what scripts/bad_inputs_table.py renders now → identical
    (else: run `.venv/bin/python scripts/bad_inputs_table.py` and commit the file)."""
    script = _script()
    current = (ROOT / "docs" / "bad-inputs.md").read_text(encoding="utf-8")
    assert current == script.render(), (
        "docs/bad-inputs.md is stale: run python scripts/bad_inputs_table.py"
    )


def test_every_bad_input_test_states_input_and_outcome() -> None:
    """Every test_* in tests/*/test_bad_inputs.py → a docstring giving the input and the expected
    outcome; at least 30 of them across the stages."""
    entries = _script().catalogue()
    assert len(entries) >= 30
    missing = [e.test for e in entries if not e.input or not e.outcome]
    assert not missing, missing


def test_docstrings_are_split_in_every_house_style() -> None:
    """'a → b', 'a -> b' and 'Input: a. Outcome: b.' docstrings → (a, b); none → ('', '')."""
    split = _script().split_docstring
    assert split("x.csv empty → error naming it.\n\nMore.") == ("x.csv empty", "error naming it.")
    assert split("a -> b\n  continued") == ("a", "b continued")
    assert split("Input: a roster.\n    Outcome: scored.") == ("a roster.", "scored.")
    assert split(None) == ("", "")
