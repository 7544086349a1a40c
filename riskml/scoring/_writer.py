"""Score files: atomic writing (temp file, fsync, rename) in Parquet, CSV or Excel, and reading back.

Parquet keeps the English column names and carries the run's metadata in its schema metadata
(key ``riskml``). CSV (UTF-8 with BOM, so Excel and WPS open it) and Excel use Chinese headers
and value labels; their metadata goes to a sidecar ``<out>.meta.json`` (and, for Excel, a
``说明`` sheet).

CSV and Excel are opened by people in Excel/WPS, and their text comes from exports riskml does
not control: every text cell passes through :func:`riskml.data.neutralise_cell` (a leading ``'``
before ``=``, ``+``, ``-``, ``@``, tab, carriage return, or ``'`` itself) and Excel text cells are
stored as text, never as formulas. :func:`read_scores` removes exactly one leading ``'`` from
every text cell of a CSV/Excel score file, which gives back the original text (Parquet is not
touched: it is not opened in a spreadsheet).
"""

from __future__ import annotations

import contextlib
import csv
import errno
import io
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from riskml.data import EXCEL_MAX_ROWS  # data rows below the header
from riskml.data._cells import excel_row, neutralise_cell, restore_cell
from riskml.scoring._columns import (
    BOOL_COLUMNS,
    BOOL_ZH,
    HEADER_ZH,
    SCORE_COLUMNS,
    VALUE_ZH,
    score_dtypes,
)

__all__ = [
    "EXCEL_MAX_ROWS",
    "FORMATS",
    "ScoringOutputError",
    "atomic_path",
    "check_output_path",
    "clean_stale_temps",
    "output_format",
    "read_scores",
    "sidecar_path",
    "write_json_atomic",
    "write_scores",
]

FORMATS: dict[str, str] = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".xlsx": "xlsx"}
METADATA_KEY = b"riskml"
DATA_SHEET = "评分结果"
INFO_SHEET = "说明"
_WRITE_ROWS = 200_000


class ScoringOutputError(OSError):
    """A score file cannot be written (unknown extension, unwritable folder, full disk)."""


def output_format(path: str | Path) -> str:
    """The format chosen by ``path``'s extension: ``parquet``, ``csv`` or ``xlsx``."""
    suffix = Path(path).suffix.lower()
    if suffix in FORMATS:
        return FORMATS[suffix]
    hint = " (the old .xls format is not supported; use .xlsx)" if suffix == ".xls" else ""
    raise ScoringOutputError(
        f"Cannot tell the output format of {path}: extension '{suffix or '(none)'}' is not one of "
        f"{sorted(FORMATS)}{hint}. Name the output e.g. scores.parquet, scores.csv or scores.xlsx."
    )


def sidecar_path(path: str | Path, kind: str) -> Path:
    """``<out>.<kind>.json`` beside the score file (``kind`` = ``summary`` or ``meta``)."""
    path = Path(path)
    return path.with_name(f"{path.name}.{kind}.json")


def _temp_for(path: Path) -> Path:
    return path.with_name(f"{path.name}.tmp-{os.getpid()}")


def _explain_oserror(path: Path, exc: OSError) -> ScoringOutputError:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        why = "the disk is full (or the disk quota is used up); free space or write to another disk"
    elif exc.errno == errno.EFBIG:
        why = "the file is larger than this file system or the process's file-size limit allows; write to another disk"
    elif exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        why = "permission denied; choose a folder you can write to"
    elif exc.errno == errno.ENOENT:
        why = "the folder does not exist; create it first"
    else:
        why = exc.strerror or str(exc)
    return ScoringOutputError(f"Cannot write {path}: {why} ({type(exc).__name__}: {exc}).")


def check_output_path(path: str | Path) -> Path:
    """Check, before any expensive work, that a score file can be written at ``path``.

    Checks the extension, that the folder exists and that a file can be created in it.
    Raises :class:`ScoringOutputError` naming the path otherwise.
    """
    path = Path(path)
    output_format(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise ScoringOutputError(
            f"Cannot write {path}: the folder {folder} does not exist; create it first."
        )
    if path.is_dir():
        raise ScoringOutputError(
            f"Cannot write {path}: it is a folder; give a file name such as {path / 'scores.parquet'}."
        )
    probe = _temp_for(path)
    try:
        with open(probe, "wb") as fh:
            fh.write(b"")
    except OSError as exc:
        raise _explain_oserror(path, exc) from exc
    finally:
        with contextlib.suppress(OSError):
            probe.unlink()
    return path


def clean_stale_temps(path: str | Path) -> list[Path]:
    """Remove temp files ``<out>.tmp-<pid>`` left by interrupted runs whose process is gone."""
    import psutil

    path = Path(path)
    removed: list[Path] = []
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        return removed
    for candidate in folder.glob(f"{path.name}.tmp-*"):
        pid_text = candidate.name.rsplit("-", 1)[-1]
        alive = (
            pid_text.isdigit() and int(pid_text) != os.getpid() and psutil.pid_exists(int(pid_text))
        )
        if not alive:
            with contextlib.suppress(OSError):
                candidate.unlink()
                removed.append(candidate)
    return removed


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temp path beside ``path``; on success fsync and rename it onto ``path``.

    On any exception (including KeyboardInterrupt / SystemExit) the temp file is removed and
    ``path`` is left as it was, so an interrupted run never leaves a file that looks complete.
    """
    path = Path(path)
    tmp = _temp_for(path)
    try:
        yield tmp
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        _fsync_dir(path.parent if str(path.parent) else Path("."))
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(exc, ScoringOutputError):
            raise
        raise _explain_oserror(path, exc) from exc
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def write_json_atomic(payload: dict[str, Any], path: str | Path) -> Path:
    """Write ``payload`` as UTF-8 JSON atomically."""
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(
            json.dumps(payload, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8"
        )
    return path


# ---------------------------------------------------------------------------------------------
# writing


def _to_display(frame: pd.DataFrame) -> pd.DataFrame:
    """Chinese value labels and ``YYYY-MM-DD`` dates for CSV/Excel (object columns, None = empty)."""
    out = {}
    for col in frame.columns:
        s = frame[col]
        if col in VALUE_ZH:
            s = s.astype("string").map(VALUE_ZH[col], na_action="ignore").astype(object)
        elif col in BOOL_COLUMNS:
            s = (
                s.astype("boolean")
                .astype(object)
                .map(lambda v: BOOL_ZH.get(v) if isinstance(v, bool | np.bool_) else None)
            )
        elif pd.api.types.is_datetime64_any_dtype(s):
            s = s.dt.strftime("%Y-%m-%d").astype(object)
        else:
            s = s.astype(object)
        s = s.where(pd.notna(s), None)
        if s.dtype == object:  # text cells: neutralise formula triggers (OWASP)
            s = s.map(neutralise_cell)
        out[col] = s
    return pd.DataFrame(out, index=frame.index)


def _write_parquet(frame: pd.DataFrame, tmp: Path, metadata: dict[str, Any]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.Schema.from_pandas(frame.iloc[:0], preserve_index=False)
    meta = dict(schema.metadata or {})
    meta[METADATA_KEY] = json.dumps(metadata, ensure_ascii=False, default=str).encode("utf-8")
    schema = schema.with_metadata(meta)
    with pq.ParquetWriter(tmp, schema, compression="zstd") as writer:
        for start in range(0, max(len(frame), 1), _WRITE_ROWS):
            part = frame.iloc[start : start + _WRITE_ROWS]
            writer.write_table(pa.Table.from_pandas(part, schema=schema, preserve_index=False))


def _write_csv(frame: pd.DataFrame, tmp: Path) -> None:
    header = [HEADER_ZH.get(c, c) for c in frame.columns]
    with open(tmp, "w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        for start in range(0, len(frame), _WRITE_ROWS):
            part = _to_display(frame.iloc[start : start + _WRITE_ROWS])
            buf = io.StringIO()
            part.to_csv(buf, header=False, index=False, lineterminator="\r\n")
            fh.write(buf.getvalue())


def _write_xlsx(frame: pd.DataFrame, tmp: Path, metadata: dict[str, Any]) -> None:
    from openpyxl import Workbook

    if len(frame) > EXCEL_MAX_ROWS:
        raise ScoringOutputError(
            f"Cannot write {len(frame):,} households to Excel (at most {EXCEL_MAX_ROWS:,} rows per "
            "sheet). Write .parquet or .csv instead."
        )
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(DATA_SHEET)
    ws.append([HEADER_ZH.get(c, c) for c in frame.columns])
    for start in range(0, len(frame), _WRITE_ROWS):
        part = _to_display(frame.iloc[start : start + _WRITE_ROWS])
        for row in part.itertuples(index=False, name=None):
            ws.append(excel_row(ws, list(row)))
    info = wb.create_sheet(INFO_SHEET)
    info.append(["项目", "内容"])
    for key, value in _flatten(metadata).items():
        info.append(excel_row(info, [neutralise_cell(key), neutralise_cell(value)]))
    wb.save(tmp)


def _flatten(meta: dict[str, Any], prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in meta.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, name + "."))
        elif isinstance(value, list | tuple):
            flat[name] = json.dumps(value, ensure_ascii=False, default=str)
        else:
            flat[name] = "" if value is None else str(value)
    return flat


def write_scores(frame: pd.DataFrame, path: str | Path, *, metadata: dict[str, Any]) -> Path:
    """Write a score frame atomically in the format chosen by ``path``'s extension.

    Parameters
    ----------
    frame : DataFrame
        Score columns (a subset of :data:`SCORE_COLUMNS`, in file order).
    path : path
        ``.parquet`` / ``.pq`` (English names, metadata in the schema), ``.csv`` (UTF-8 with BOM,
        Chinese headers and labels, metadata in ``<out>.meta.json``) or ``.xlsx`` (likewise, plus
        a ``说明`` sheet).
    metadata : dict
        JSON-serialisable run metadata (model, feature set, as-of, mode, counts).

    Returns
    -------
    Path of the written file. Nothing is left at ``path`` if writing fails or is interrupted.
    """
    path = Path(path)
    fmt = output_format(path)
    dtypes = score_dtypes()
    unknown = [c for c in frame.columns if c not in dtypes]
    if unknown:
        raise ValueError(
            f"Cannot write column(s) {unknown} to a score file: they are not score-file columns."
        )
    frame = frame.astype({c: dtypes[c] for c in frame.columns if str(frame[c].dtype) != dtypes[c]})
    with atomic_path(path) as tmp:
        if fmt == "parquet":
            _write_parquet(frame, tmp, metadata)
        elif fmt == "csv":
            _write_csv(frame, tmp)
        else:
            _write_xlsx(frame, tmp, metadata)
        # the sidecar only once the data is fully written (a failed write leaves neither)
        if fmt != "parquet":
            write_json_atomic(metadata, sidecar_path(path, "meta"))
    return path


# ---------------------------------------------------------------------------------------------
# reading


def _from_display(raw: pd.DataFrame, path: Path) -> pd.DataFrame:
    back = {v: k for k, v in HEADER_ZH.items()}
    raw = raw.rename(columns=lambda c: back.get(str(c).strip(), str(c).strip()))
    unknown = [c for c in raw.columns if c not in SCORE_COLUMNS]
    if unknown:
        raise ValueError(
            f"{path} has column(s) {unknown} that are not score-file columns; is it a riskml score file?"
        )
    dtypes = score_dtypes()
    out = {}
    for col in raw.columns:
        s = raw[col].astype(object).where(raw[col].notna(), None)
        s = s.map(lambda v: None if isinstance(v, str) and v == "" else restore_cell(v))
        if col in VALUE_ZH:
            inv = {v: k for k, v in VALUE_ZH[col].items()}
            s = s.map(lambda v, inv=inv: inv.get(v, v) if v is not None else None)
        if col in BOOL_COLUMNS:
            inv_b = {v: k for k, v in BOOL_ZH.items()}
            s = s.map(lambda v, inv_b=inv_b: inv_b.get(v, v) if v is not None else None)
        dtype = dtypes[col]
        if dtype == "datetime64[ns]":
            out[col] = pd.to_datetime(s, format="%Y-%m-%d")
        elif dtype == "float64":  # float() round-trips exactly; pd.to_numeric's parser does not
            out[col] = pd.Series([np.nan if v is None else float(v) for v in s], dtype="float64")
        elif dtype == "Int64":
            out[col] = pd.array([None if v is None else int(float(v)) for v in s], dtype="Int64")
        else:
            out[col] = s.astype(dtype)
    return pd.DataFrame(out)


def read_scores(path: str | Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Read a score file written by :func:`write_scores` back into English columns and dtypes.

    Returns ``(frame, metadata)``; ``metadata`` is empty when a CSV/Excel file's sidecar is
    missing.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Score file {path} does not exist.")
    fmt = output_format(path)
    meta: dict[str, Any] = {}
    if fmt == "parquet":
        import pyarrow.parquet as pq

        table = pq.read_table(path)
        raw_meta = (table.schema.metadata or {}).get(METADATA_KEY)
        meta = json.loads(raw_meta.decode("utf-8")) if raw_meta else {}
        frame = table.to_pandas()
        dtypes = score_dtypes()
        for col in frame.columns:
            if col in dtypes and str(frame[col].dtype) != dtypes[col]:
                frame[col] = frame[col].astype(dtypes[col])
        return frame, meta
    side = sidecar_path(path, "meta")
    if side.is_file():
        meta = json.loads(side.read_text(encoding="utf-8"))
    if fmt == "csv":
        raw = pd.read_csv(path, encoding="utf-8-sig", dtype=str, keep_default_na=False)
    else:
        raw = pd.read_excel(
            path, sheet_name=DATA_SHEET, dtype=str, engine="openpyxl", keep_default_na=False
        )
    return _from_display(raw, path), meta
