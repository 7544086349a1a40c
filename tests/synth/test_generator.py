"""Determinism, chunking, formats, the CLI and input errors of the province generator."""

from __future__ import annotations

import hashlib

import pandas as pd
import pyarrow as pa
import pytest
from typer.testing import CliRunner

import riskml.synth._writer as synth_writer
from riskml.cli import app
from riskml.data import TABLES, load_bundle
from riskml.synth import find_ground_truth, synthesize, truth_path_for, write_synthetic_province


def _digest(folder) -> dict[str, str]:
    files = [*sorted(folder.iterdir()), truth_path_for(folder)]
    return {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in files}


def _collect(n: int, seed: int, chunk_size: int | None, workers: int = 1) -> dict[str, pa.Table]:
    parts: dict[str, list[pa.Table]] = {}
    for chunk in synthesize(n, seed, chunk_size=chunk_size, workers=workers):
        for name, table in (*chunk.tables.items(), ("truth", chunk.truth)):
            parts.setdefault(name, []).append(table)
    return {k: pa.concat_tables(v) for k, v in parts.items()}


def test_same_seed_gives_identical_files(tmp_path):
    a = write_synthetic_province(tmp_path / "a" / "prov", 600, 11)
    b = write_synthetic_province(tmp_path / "b" / "prov", 600, 11)
    assert _digest(a.bundle_dir) == _digest(b.bundle_dir)
    c = write_synthetic_province(tmp_path / "c" / "prov", 600, 12)
    digest_c = _digest(c.bundle_dir)
    assert all(digest_c[k] != v for k, v in _digest(a.bundle_dir).items() if k != "bundle.yaml")


def test_output_does_not_depend_on_chunk_size_or_workers():
    small = _collect(1500, 5, chunk_size=1000)  # two chunks, the last one partial
    whole = _collect(1500, 5, chunk_size=None)
    parallel = _collect(1500, 5, chunk_size=1000, workers=2)
    for name in small:
        assert small[name].equals(whole[name]), name
        assert parallel[name].equals(whole[name]), name


def test_chunks_cover_every_household_once():
    chunks = list(synthesize(1500, 5, chunk_size=1000))
    assert [(c.first, c.n_households) for c in chunks] == [(0, 1000), (1000, 500)]
    ids = pa.concat_tables([c.tables["households"] for c in chunks])["household_id"].to_pylist()
    assert len(ids) == len(set(ids)) == 1500
    for c in chunks:
        own = set(c.tables["households"]["household_id"].to_pylist())
        for name in ("members", "income", "events", "assistance", "monitoring"):
            assert set(c.tables[name]["household_id"].to_pylist()) <= own


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_csv_and_xlsx_bundles_load_like_parquet(tmp_path, fmt):
    ref = write_synthetic_province(tmp_path / "pq", 250, 3)
    out = write_synthetic_province(tmp_path / fmt, 250, 3, format=fmt)
    assert sorted(p.name for p in out.bundle_dir.iterdir()) == sorted(
        [f"{t}.{fmt}" for t in TABLES] + ["bundle.yaml"]
    )
    a, b = load_bundle(ref.bundle_dir), load_bundle(out.bundle_dir)
    assert len(b.quarantine) == 0
    for name in TABLES:
        pd.testing.assert_frame_equal(a[name], b[name], check_categorical=False)
    assert (
        truth_path_for(out.bundle_dir).read_bytes() == truth_path_for(ref.bundle_dir).read_bytes()
    )


def test_xlsx_refuses_more_rows_than_a_sheet_holds(tmp_path, monkeypatch):
    # the real limit is 1,048,575 data rows; lower it so a small province crosses it
    monkeypatch.setattr(synth_writer, "EXCEL_MAX_ROWS", 500)
    with pytest.raises(ValueError, match=r"Excel sheet holds .*format='parquet' or 'csv'"):
        write_synthetic_province(tmp_path / "x", 300, 1, format="xlsx")
    assert find_ground_truth(tmp_path / "x") is None
    assert not list(tmp_path.glob("*.partial"))


def test_failed_run_leaves_no_ground_truth(tmp_path):
    def boom(done: int) -> None:
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        write_synthetic_province(tmp_path / "p", 300, 1, progress=boom)
    assert find_ground_truth(tmp_path / "p") is None
    assert not list(tmp_path.glob("*.partial"))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_households": 0, "seed": 1}, "n_households must be a positive int. Got 0"),
        ({"n_households": 10, "seed": -1}, "seed must be a non-negative int. Got -1"),
        ({"n_households": 10, "seed": 1, "chunk_size": 0}, "chunk_size must be a positive int"),
        ({"n_households": 10, "seed": 1, "workers": 0}, "workers must be a positive int. Got 0"),
    ],
)
def test_bad_arguments_are_explained(kwargs, message):
    with pytest.raises(ValueError, match=message):
        next(synthesize(**kwargs))


def test_unknown_format_is_refused(tmp_path):
    with pytest.raises(ValueError, match="Unknown bundle format 'json'"):
        write_synthetic_province(tmp_path / "p", 10, 1, format="json")  # type: ignore[arg-type]


def test_cli_writes_bundle_and_truth(tmp_path):
    out = tmp_path / "cli_prov"
    result = CliRunner().invoke(
        app,
        ["synth", "--households", "200", "--seed", "4", "--out", str(out), "--chunk-size", "1000"],
    )
    assert result.exit_code == 0, result.output
    assert "ground truth" in result.output and "cli_prov.truth.parquet" in result.output.replace(
        "\n", ""
    )
    assert (out / "households.parquet").is_file()
    assert find_ground_truth(out) == truth_path_for(out)
    assert len(load_bundle(out).households) == 200


def test_cli_rejects_bad_format(tmp_path):
    result = CliRunner().invoke(
        app,
        [
            "synth",
            "--households",
            "10",
            "--seed",
            "1",
            "--out",
            str(tmp_path / "p"),
            "--format",
            "json",
        ],
    )
    assert result.exit_code == 2
    assert "'--format'" in result.output and "'json' is not one of 'parquet'" in result.output
