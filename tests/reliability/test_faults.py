"""Faults: runs killed by real signals, a full disk and a read-only folder, for every writer.

Every writer (``riskml validate``'s quarantine file, ``riskml features build``, ``riskml score``,
``riskml report``) must either finish or leave nothing that looks like a finished output, and
fail with a one-line error naming the path and what to do — never a traceback. A rerun after a
kill produces the complete result.

The full disk is a real tmpfs of a few KiB and the read-only folder a read-only tmpfs (mounting
needs root; the tests are skipped with the reason otherwise, except the read-only case, which
uses ``chmod`` when not root).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from tests.reliability.conftest import SCORING_AS_OF, FullRun, flat, invoke

_RUN = """
import sys
from riskml.cli import app
sys.argv = ["riskml", *sys.argv[1:]]
app()
"""


def _riskml_process(*args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env["COLUMNS"] = "250"
    return subprocess.Popen(
        [sys.executable, "-c", _RUN, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _visible(folder: Path) -> list[str]:
    """Everything under ``folder`` a person would take for output (hidden entries excluded)."""
    return sorted(
        str(p.relative_to(folder))
        for p in folder.rglob("*")
        if not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )


# ------------------------------------------------------------------------------------- mounts


@contextlib.contextmanager
def _mounted(folder: Path, options: str) -> Iterator[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    res = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)],
        capture_output=True,
        text=True,
    )
    if res.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {res.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


@pytest.fixture
def full_disk(tmp_path: Path) -> Iterator[Path]:
    """A folder on a 32 KiB tmpfs: the first few KiB of any output fit, the rest does not."""
    if os.geteuid() != 0:
        pytest.skip("a full disk is simulated with a tiny tmpfs, which only root can mount")
    with _mounted(tmp_path / "disk", "size=32k,mode=0777") as folder:
        yield folder


@pytest.fixture
def read_only(tmp_path: Path) -> Iterator[Path]:
    """A folder nothing can be written to (a read-only tmpfs as root, chmod 0500 otherwise)."""
    folder = tmp_path / "ro"
    if os.geteuid() != 0:
        folder.mkdir()
        folder.chmod(0o500)
        yield folder
        folder.chmod(0o700)
        return
    with _mounted(folder, "ro,size=64k") as mounted:
        yield mounted


def _assert_clear_failure(result, path: Path, *words: str) -> str:  # type: ignore[no-untyped-def]
    text = flat(result.output)
    assert result.exit_code in (1, 2), (result.exit_code, text, result.exception)
    assert "Traceback" not in text and not isinstance(result.exception, OSError | ValueError), text
    assert str(path.parent) in text or str(path) in text, text
    for w in words:
        assert w.lower() in text.lower(), text
    return text


_NO_SPACE = "no space left"
_READ_ONLY = ("read-only", "permission denied")


def _mentions_read_only(text: str) -> bool:
    return any(w in text.lower() for w in _READ_ONLY)


# ------------------------------------------------------------------------- per-writer outputs


def _many_quarantined_rows(full_run: FullRun, tmp_path: Path) -> Path:
    """The canary export with every tenth income row's wage negative: ~600 quarantine records
    (a few bad rows, not a systematic error)."""
    import shutil

    data = tmp_path / "export"
    shutil.copytree(full_run.data, data)
    income = pd.read_csv(data / "income.csv", dtype=str, keep_default_na=False, encoding="gb18030")
    income.loc[::10, "wage_income"] = "-1"
    income.to_csv(data / "income.csv", index=False, encoding="utf-8")
    return data


def _writer_args(kind: str, full_run: FullRun, target: Path, tmp_path: Path) -> list[str]:
    if kind == "validate quarantine":
        data = _many_quarantined_rows(full_run, tmp_path)
        return ["validate", str(data), "--quarantine", str(target / "quarantine.csv")]
    if kind == "features build":
        return [
            "features", "build", "--data", str(full_run.data), "--start", "2022-06-30",
            "--end", "2023-06-30", "--every", "6M", "--out", str(target / "training.parquet"),
        ]  # fmt: skip
    if kind == "score":
        return [
            "score", "--data", str(full_run.data), "--as-of", SCORING_AS_OF, "--model",
            full_run.model_uri, "--tracking-uri", full_run.tracking_uri,
            "--out", str(target / "scores.csv"),
        ]  # fmt: skip
    if kind == "report":
        return [
            "report", "--scores", str(full_run.scores), "--out", str(target / "reports"),
            "--mode", "public", "--level", "village", "--format", "html",
        ]  # fmt: skip
    raise AssertionError(kind)


_OUTPUT_NAME = {
    "validate quarantine": "quarantine.csv",
    "features build": "training.parquet",
    "score": "scores.csv",
    "report": "reports",
}


@pytest.mark.parametrize("writer", ["validate quarantine", "features build", "score", "report"])
def test_full_disk_is_a_clear_error_and_leaves_no_partial_output(
    writer: str, full_run: FullRun, full_disk: Path, tmp_path: Path
) -> None:
    """Each writer (validate's quarantine file, features build, score, report) with its output
    folder on a 32 KiB disk that fills up midway → exit 1/2 with one message naming the
    output path and 'No space left', no traceback, and nothing left in the folder (no truncated
    file, no temp file)."""
    args = _writer_args(writer, full_run, full_disk, tmp_path)
    result = invoke(*args)
    _assert_clear_failure(result, full_disk / _OUTPUT_NAME[writer], _NO_SPACE)
    assert sorted(os.listdir(full_disk)) == [], os.listdir(full_disk)


@pytest.mark.parametrize("writer", ["validate quarantine", "features build", "score", "report"])
def test_read_only_output_folder_is_a_clear_error(
    writer: str, full_run: FullRun, read_only: Path, tmp_path: Path
) -> None:
    """Each writer (validate's quarantine file, features build, score, report) with an output
    folder that cannot be written (read-only file system, or no permission) → exit 1/2
    with one message naming the path and saying it is read-only / permission denied, no
    traceback, no output anywhere."""
    args = _writer_args(writer, full_run, read_only, tmp_path)
    result = invoke(*args)
    text = _assert_clear_failure(result, read_only / _OUTPUT_NAME[writer])
    assert _mentions_read_only(text), text
    assert os.listdir(read_only) == []


# ------------------------------------------------------------------------------ killed runs


def _big_score_file(tmp_path: Path) -> Path:
    """An internal score file of 36 villages (the report stage's generator): a few seconds of
    rendering, so there is time to kill the run midway."""
    from tests.reports._scores import ProvinceSpec, make_scores, write_scores

    spec = ProvinceSpec(
        n_households=2400, n_villages=36, villages_per_township=6, townships_per_county=3, seed=3
    )
    return write_scores(tmp_path / "scores.parquet", make_scores(spec), mode="internal")


def _wait_for(predicate, proc: subprocess.Popen[str], timeout: float = 240) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if predicate():
            return True
        time.sleep(0.01)
    return False


def _staged_pages(parent: Path, name: str) -> list[Path]:
    return [p for d in parent.glob(f".{name}.partial-*") for p in d.glob("units/*.html")]


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_report_run_killed_midway_leaves_nothing_that_looks_complete_and_a_rerun_completes(
    sig: signal.Signals, tmp_path: Path
) -> None:
    """`riskml report` killed (SIGKILL, or SIGTERM as a scheduler sends) after its first unit pages
    are written → no report folder and no index anywhere visible; a rerun writes every unit and
    the index, and no staging folder of the killed run is left behind."""
    scores = _big_score_file(tmp_path)
    out_parent = tmp_path / "out"
    out_parent.mkdir()
    out = out_parent / "reports"
    args = [
        "report",
        "--scores",
        str(scores),
        "--out",
        str(out),
        "--level",
        "village",
        "--format",
        "html",
    ]
    proc = _riskml_process(*args)
    seen = _wait_for(lambda: len(_staged_pages(out_parent, "reports")) >= 3, proc)
    if seen:
        proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert seen, (
        f"the run ended before 3 unit pages were staged; nothing was tested:\n{err[-2000:]}"
    )
    if sig == signal.SIGKILL:
        assert proc.returncode == -signal.SIGKILL
    else:
        assert proc.returncode == 130, err[-2000:]
        assert "interrupted" in err
    assert not out.exists()
    assert _visible(out_parent) == []
    rerun = _riskml_process(*args)
    _, err = rerun.communicate(timeout=600)
    assert rerun.returncode == 0, err[-3000:]
    manifest = json.loads((out / ".riskml-reports.json").read_text(encoding="utf-8"))
    villages = pd.read_parquet(scores)["village_code"].nunique()
    assert len(manifest["units"]) == villages and (out / "index.html").is_file()
    assert len(list((out / "units").glob("*.html"))) == villages
    assert [p.name for p in out_parent.iterdir()] == ["reports"], list(out_parent.iterdir())


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_features_build_killed_midway_leaves_no_training_set_and_a_rerun_completes(
    sig: signal.Signals, full_run: FullRun, tmp_path: Path
) -> None:
    """`riskml features build` killed while streaming chunks of 50 households → no training.parquet
    (only a '.partial' the rerun replaces); the rerun writes the complete set (the same rows as the
    full run's)."""
    out = tmp_path / "training.parquet"
    partial = tmp_path / "training.parquet.partial"
    args = [
        "features", "build", "--data", str(full_run.data), "--start", "2021-06-30", "--end",
        "2023-06-30", "--every", "6M", "--out", str(out), "--chunk-households", "50",
    ]  # fmt: skip
    proc = _riskml_process(*args)
    seen = _wait_for(lambda: partial.exists() and partial.stat().st_size > 0, proc)
    if seen:
        proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert seen, (
        f"the build ended before its partial file appeared; nothing was tested:\n{err[-2000:]}"
    )
    assert proc.returncode != 0
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name != partial.name] == []
    rerun = _riskml_process(*args)
    _, err = rerun.communicate(timeout=600)
    assert rerun.returncode == 0, err[-3000:]
    pd.testing.assert_frame_equal(
        pd.read_parquet(out), pd.read_parquet(full_run.training_set), check_exact=True
    )
    assert [p.name for p in tmp_path.iterdir()] == ["training.parquet"]


@pytest.mark.parametrize("command", ["score", "train", "evaluate", "report-model", "promote"])
def test_unreachable_mlflow_server_is_a_clear_error_naming_the_uri(
    command: str, full_run: FullRun, fast_training_config: Path, tmp_path: Path
) -> None:
    """Every command that talks to MLflow (score, train, evaluate, report-model, promote) with
    --tracking-uri http://127.0.0.1:<closed port> → exit 2 within seconds, one message naming the
    URI, no traceback, nothing written (tracking tests cover the library call)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    uri = f"http://127.0.0.1:{port}"
    model, data = full_run.model_uri, str(full_run.data)
    args = {
        "score": [
            "--data",
            data,
            "--as-of",
            SCORING_AS_OF,
            "--model",
            model,
            "--out",
            str(tmp_path / "s.parquet"),
        ],
        "train": ["--data", data, "--config", str(fast_training_config)],
        "evaluate": ["--data", data, "--model", model, "--config", str(fast_training_config)],
        "report-model": ["--model", model, "--out", str(tmp_path / "r")],
        "promote": ["--name", "riskml-canary"],
    }[command]
    started = time.monotonic()
    result = invoke(command, *args, "--tracking-uri", uri)
    text = flat(result.output)
    assert result.exit_code == 2, (text, result.exception)
    assert uri in text and "Traceback" not in text
    assert time.monotonic() - started < 60
    assert list(tmp_path.iterdir()) == []
