"""Chunked writing of a bundle (``<table>.<ext>`` + ``bundle.yaml``) and of its ground truth.

Parquet: one ``ParquetWriter`` per table, one row group per chunk. CSV: UTF-8, header once,
dates ISO, empty cells for missing values. XLSX: one workbook per table, only for small
provinces (Excel holds at most 1,048,576 rows per sheet, header included).

``riskml.data.write_bundle`` writes a bundle that is in memory; a province is generated chunk by
chunk and does not fit in memory, so it streams through this writer instead (same file layout,
same Arrow types: ``riskml.data.ARROW_TYPES``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import shutil
from pathlib import Path
from typing import Literal

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import yaml

from riskml.data import EXCEL_MAX_ROWS
from riskml.data._schema import TABLE_ORDER
from riskml.synth._tables import TRUTH_SCHEMA, arrow_schema

__all__ = ["EXCEL_MAX_ROWS", "FORMATS", "BundleWriter", "SynthError", "truth_path_for"]

FORMATS = ("parquet", "csv", "xlsx")


class SynthError(ValueError):
    """The province cannot be written as asked (e.g. too many rows for xlsx); the message says
    what to change."""


Format = Literal["parquet", "csv", "xlsx"]


def truth_path_for(out_dir: str | Path) -> Path:
    """Where the ground truth of the bundle in ``out_dir`` goes: beside it, never inside."""
    return Path(str(Path(out_dir)) + ".truth.parquet")


class BundleWriter:
    """Write a bundle chunk by chunk.

    Parameters
    ----------
    out_dir : path
        The bundle folder; created if missing. Existing contract files in it are replaced.
    format : {"parquet", "csv", "xlsx"}
    extracted_on, province : what ``bundle.yaml`` says about the bundle.
    truth : bool
        Also write the ground truth to :func:`truth_path_for` ``(out_dir)``.
    """

    def __init__(
        self,
        out_dir: str | Path,
        *,
        format: Format,
        extracted_on: dt.date,
        province: str,
        truth: bool = True,
        truth_metadata: dict[str, str] | None = None,
    ) -> None:
        if format not in FORMATS:
            raise ValueError(f"Unknown bundle format {format!r}; use one of {list(FORMATS)}.")
        self.out_dir = Path(out_dir)
        self.format = format
        self.extracted_on = extracted_on
        self.province = province
        self.out_dir.mkdir(parents=True, exist_ok=True)
        for table in TABLE_ORDER:
            for ext in FORMATS:
                stale = self.out_dir / f"{table}.{ext}"
                if stale.exists():
                    stale.unlink()
        self._parquet: dict[str, pq.ParquetWriter] = {}
        self._csv: dict[str, pacsv.CSVWriter] = {}
        self._xlsx: dict[str, list[pa.Table]] = {t: [] for t in TABLE_ORDER}
        self._rows: dict[str, int] = dict.fromkeys(TABLE_ORDER, 0)
        self.truth_path = truth_path_for(out_dir) if truth else None
        self._truth_tmp = None
        self._truth_writer: pq.ParquetWriter | None = None
        if self.truth_path is not None:
            self._truth_tmp = self.truth_path.with_name(self.truth_path.name + ".partial")
            schema = TRUTH_SCHEMA.with_metadata(
                {k.encode(): v.encode() for k, v in (truth_metadata or {}).items()}
            )
            self._truth_writer = pq.ParquetWriter(self._truth_tmp, schema, compression="zstd")

    @property
    def rows(self) -> dict[str, int]:
        """Rows written so far, per table."""
        return dict(self._rows)

    def path(self, table: str) -> Path:
        return self.out_dir / f"{table}.{self.format}"

    def write(self, tables: dict[str, pa.Table], truth: pa.Table | None = None) -> None:
        """Append one chunk."""
        for name in TABLE_ORDER:
            t = tables[name].cast(arrow_schema(name))
            self._rows[name] += t.num_rows
            if self.format == "parquet":
                if name not in self._parquet:
                    self._parquet[name] = pq.ParquetWriter(
                        self.path(name), arrow_schema(name), compression="zstd"
                    )
                self._parquet[name].write_table(t)
            elif self.format == "csv":
                if name not in self._csv:
                    self._csv[name] = pacsv.CSVWriter(str(self.path(name)), arrow_schema(name))
                self._csv[name].write_table(t)
            else:
                if self._rows[name] > EXCEL_MAX_ROWS:
                    raise SynthError(
                        f"Table '{name}' has {self._rows[name]:,} rows so far, more than an Excel sheet holds "
                        f"({EXCEL_MAX_ROWS:,} data rows). Write this province with format='parquet' or 'csv', "
                        "or generate fewer households for xlsx."
                    )
                self._xlsx[name].append(t)
        if truth is not None and self._truth_writer is not None:
            self._truth_writer.write_table(truth.cast(TRUTH_SCHEMA))

    def close(self) -> None:
        """Finish every file and write ``bundle.yaml``; the truth file appears only when complete."""
        for w in self._parquet.values():
            w.close()
        for w in self._csv.values():
            w.close()
        if self.format == "xlsx":
            self._write_xlsx()
        if (
            self._truth_writer is not None
            and self._truth_tmp is not None
            and self.truth_path is not None
        ):
            self._truth_writer.close()
            shutil.move(self._truth_tmp, self.truth_path)
        meta = {
            "extracted_on": self.extracted_on.isoformat(),
            "province": self.province,
            "source": "synthetic",
        }
        (self.out_dir / "bundle.yaml").write_text(
            yaml.safe_dump(meta, allow_unicode=True, sort_keys=False), encoding="utf-8"
        )

    def abort(self) -> None:
        """Close open files after an error, leaving no half-written truth file."""
        for w in (*self._parquet.values(), *self._csv.values()):
            with contextlib.suppress(Exception):
                w.close()
        if self._truth_writer is not None:
            with contextlib.suppress(Exception):
                self._truth_writer.close()
        if self._truth_tmp is not None and self._truth_tmp.exists():
            self._truth_tmp.unlink()

    def _write_xlsx(self) -> None:
        import pandas as pd

        for name in TABLE_ORDER:
            schema = arrow_schema(name)
            parts = self._xlsx[name]
            table = pa.concat_tables(parts) if parts else schema.empty_table()
            frame = table.to_pandas(date_as_object=True)
            with pd.ExcelWriter(self.path(name), engine="openpyxl") as xw:
                frame.to_excel(xw, sheet_name=name, index=False)
