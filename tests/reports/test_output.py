"""Safe file names from data, and a report folder that appears complete or not at all."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riskml.reports import ReportOutputError, render_review_reports, safe_filename
from riskml.reports._output import MANIFEST_NAME, OutputFolder, unique_stems


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../x", "x"),
        ("a/b", "a_b"),
        ("红旗嘎查", "红旗嘎查"),
        ("..", "unit"),
        ("", "unit"),
        ("a\\b", "a_b"),
        ("a／b", "a_b"),  # full-width solidus
        ("x\x00y\nz", "xyz"),
        ("...hidden", "hidden"),
        ("a..b", "a.b"),
        ("乌兰 嘎查", "乌兰_嘎查"),
    ],
)
def test_safe_filename(name: str, expected: str) -> None:
    assert safe_filename(name) == expected


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_safe_filename_never_leaves_the_folder(name: str) -> None:
    out = safe_filename(name)
    assert out and out not in (".", "..")
    assert "/" not in out and "\\" not in out and ".." not in out
    assert not out.startswith(".")
    assert not any(unicodedata.category(c).startswith("C") for c in out)
    assert len(out.encode("utf-8")) <= 90
    root = Path("/tmp/reports-root")
    assert (root / out).resolve().parent == root.resolve()


def test_unique_stems() -> None:
    assert unique_stems(["a", "A", "a", "b"]) == ["a", "A-2", "a-3", "b"]


def test_output_folder_refuses_paths_that_leave_it(tmp_path: Path) -> None:
    with OutputFolder(tmp_path / "out") as folder:
        for parts in [("..", "x"), ("a/../../b",), ("/etc/passwd",), ("",)]:
            with pytest.raises(ReportOutputError, match="leave the report folder"):
                folder.path(*parts)


def test_interrupted_run_leaves_no_folder(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt), OutputFolder(out) as folder:
        folder.path("units", "a.html").write_text("x", encoding="utf-8")
        raise KeyboardInterrupt
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []  # the staging folder is gone too


def test_interrupted_replacement_keeps_the_old_report(
    internal_scores: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    first = render_review_reports(internal_scores, out, level="county", lang="zh", mode="public")
    before = sorted(p.relative_to(out) for p in out.rglob("*"))
    with pytest.raises(RuntimeError), OutputFolder(out) as folder:
        folder.path("index.html").write_text("half", encoding="utf-8")
        raise RuntimeError("killed")
    assert sorted(p.relative_to(out) for p in out.rglob("*")) == before
    assert "half" not in first.index.read_text(encoding="utf-8")


def test_a_new_run_replaces_an_earlier_report(internal_scores: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    render_review_reports(internal_scores, out, level="village", lang="zh", mode="public")
    n_village = len(list((out / "units").glob("*.html")))
    render_review_reports(internal_scores, out, level="county", lang="en", mode="public")
    manifest = json.loads((out / MANIFEST_NAME).read_text(encoding="utf-8"))
    assert manifest["level"] == "county"
    assert len(list((out / "units").glob("*.html"))) == len(manifest["units"]) < n_village
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no staging or old folders left


def test_a_folder_of_other_files_is_not_replaced(internal_scores: Path, tmp_path: Path) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.docx").write_text("precious", encoding="utf-8")
    with pytest.raises(ReportOutputError, match="not empty"):
        render_review_reports(internal_scores, out)
    assert (out / "thesis.docx").read_text(encoding="utf-8") == "precious"
    file_path = tmp_path / "file"
    file_path.write_text("x", encoding="utf-8")
    with pytest.raises(ReportOutputError, match="is a file"):
        render_review_reports(internal_scores, file_path)
