"""Score files: formats by extension, Chinese headers and BOM, metadata, atomic writing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from riskml.scoring import HEADER_ZH, ScoringOutputError, read_scores, write_scores
from riskml.scoring._writer import check_output_path, clean_stale_temps, output_format

from ._frames import score_frame

META = {
    "model": {"name": "riskml-recurrence", "version": "3"},
    "feature_set": {"name": "default", "version": "2025.1+abc"},
    "mode": "internal",
    "as_of": "2025-06-30",
}


@pytest.mark.parametrize("ext", [".parquet", ".csv", ".xlsx"])
def test_every_format_round_trips_exactly(tmp_path: Path, ext: str) -> None:
    frame = score_frame(8)
    path = write_scores(frame, tmp_path / f"scores{ext}", metadata=META)
    back, meta = read_scores(path)
    if (
        ext == ".xlsx"
    ):  # Excel cells hold a double printed to 17 digits: equal to the last bit or so
        pd.testing.assert_frame_equal(back, frame, check_exact=False, rtol=1e-15, atol=0)
    else:
        pd.testing.assert_frame_equal(back, frame, check_exact=True)
    assert meta["model"]["version"] == "3" and meta["feature_set"]["version"] == "2025.1+abc"
    assert [p.name for p in tmp_path.iterdir() if ".tmp-" in p.name] == []


def test_parquet_keeps_english_names_and_metadata_in_the_schema(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    path = write_scores(score_frame(), tmp_path / "s.parquet", metadata=META)
    schema = pq.read_schema(path)
    assert schema.names[:3] == ["household_id", "county_code", "township_code"]
    assert json.loads(schema.metadata[b"riskml"])["model"]["name"] == "riskml-recurrence"
    assert not (tmp_path / "s.parquet.meta.json").exists()


def test_csv_has_bom_chinese_headers_and_labels_and_opens_with_pandas(tmp_path: Path) -> None:
    frame = score_frame()
    path = write_scores(frame, tmp_path / "s.csv", metadata=META)
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    plain = pd.read_csv(path, encoding="utf-8-sig", dtype=str)
    assert list(plain.columns) == [HEADER_ZH[c] for c in frame.columns]
    assert plain.columns[:9].tolist() == [
        "户编号",
        "旗县代码",
        "苏木乡镇代码",
        "嘎查村代码",
        "嘎查村名称",
        "村内编号",
        "村民小组",
        "户主姓名",
        "评估日期",
    ]
    for header in (
        "风险原因1",
        "风险原因1依据指标",
        "风险原因1(公示用)",
        "建议帮扶措施",
        "已享受帮扶",
        "本村情况",
    ):
        assert header in plain.columns, header
    flagged = plain["是否预警"] == "是"
    assert flagged.any()
    assert (plain.loc[flagged, "已享受帮扶"] == "已享受医疗救助").all()
    assert (plain.loc[flagged, "风险原因1"] == "近12个月有家庭成员住院 2 次").all()
    assert plain["状态"].tolist()[:3] == ["已评分", "已纳入监测", "数据有误未评分"]
    assert set(plain["是否预警"]) <= {"是", "否"}
    assert plain["评估日期"].iloc[0] == "2025-06-30"
    assert plain["户编号"].iloc[0] == "150421100000000"  # ids stay text, leading digits intact
    assert (
        json.loads((tmp_path / "s.csv.meta.json").read_text(encoding="utf-8"))["mode"] == "internal"
    )


def test_xlsx_has_chinese_headers_and_an_explanation_sheet(tmp_path: Path) -> None:
    from openpyxl import load_workbook

    path = write_scores(score_frame(), tmp_path / "s.xlsx", metadata=META)
    wb = load_workbook(path, read_only=True)
    assert wb.sheetnames == ["评分结果", "说明"]
    header = next(wb["评分结果"].iter_rows(max_row=1, values_only=True))
    assert header[:3] == ("户编号", "旗县代码", "苏木乡镇代码")
    info = dict(wb["说明"].iter_rows(min_row=2, values_only=True))
    assert info["model.version"] == "3" and info["feature_set.name"] == "default"
    wb.close()
    assert (tmp_path / "s.xlsx.meta.json").is_file()


@pytest.mark.parametrize("name", ["scores.txt", "scores", "scores.xls", "scores.json"])
def test_unknown_extension_is_refused_with_the_choices(tmp_path: Path, name: str) -> None:
    with pytest.raises(ScoringOutputError, match=r"\.csv.*\.parquet.*\.xlsx"):
        output_format(tmp_path / name)


def test_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    target = tmp_path / "nope" / "scores.parquet"
    with pytest.raises(ScoringOutputError, match="does not exist; create it first") as err:
        check_output_path(target)
    assert str(target.parent) in str(err.value)


def _unwritable_folder(tmp_path: Path) -> Path:
    if os.geteuid() == 0:  # root writes anywhere it may; /sys refuses even root
        return Path("/sys")
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    return folder


def test_unwritable_folder_is_a_clear_error_naming_the_path(tmp_path: Path) -> None:
    target = _unwritable_folder(tmp_path) / "scores.csv"
    with pytest.raises(ScoringOutputError, match="permission denied") as err:
        check_output_path(target)
    assert str(target) in str(err.value)


def test_failed_write_leaves_neither_file_nor_temp_and_keeps_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "s.parquet"
    write_scores(score_frame(4), path, metadata=META)
    before = path.read_bytes()
    bad = score_frame(4)
    bad["score"] = bad["score"].astype(object)
    bad.loc[0, "score"] = object()  # pyarrow cannot write it: fails midway
    with pytest.raises(Exception, match="object"):
        write_scores(bad, path, metadata=META)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.parquet"]


def test_file_size_limit_midway_is_a_clear_error_and_leaves_nothing(tmp_path: Path) -> None:
    """A real write failure in a child process: RLIMIT_FSIZE makes the disk 'full' at 64 KiB."""
    script = textwrap.dedent(
        f"""
        import resource, signal, sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from _frames import score_frame
        from riskml.scoring import ScoringOutputError, write_scores
        frame = score_frame(20000)
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))
        try:
            write_scores(frame, {str(tmp_path / "big.csv")!r}, metadata={{}})
        except ScoringOutputError as exc:
            print("ERROR:", exc)
        """
    )
    res = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert "ERROR: Cannot write" in res.stdout, res.stderr
    assert "big.csv" in res.stdout and "file-size limit" in res.stdout
    assert not (tmp_path / "big.csv").exists()
    assert [p.name for p in tmp_path.iterdir() if ".tmp-" in p.name] == []


def test_stale_temps_of_dead_processes_are_cleaned(tmp_path: Path) -> None:
    out = tmp_path / "s.parquet"
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    stale = tmp_path / f"s.parquet.tmp-{dead.stdout.strip()}"
    stale.write_bytes(b"partial")
    alive = tmp_path / f"s.parquet.tmp-{os.getppid()}"  # a live process's temp is left alone
    alive.write_bytes(b"in progress")
    removed = clean_stale_temps(out)
    assert removed == [stale]
    assert alive.exists() and not stale.exists()
