"""Review outcomes back in: the registration workbook's layout and ``riskml reviews import``.

The registration workbook (核实登记表) that the reports layer writes and the cadres fill in has
the columns :data:`REGISTRATION_COLUMNS`; its 核实结论 drop-down is :data:`CONCLUSIONS_ZH` and its
风险类型 drop-down :data:`RISK_TYPES_ZH`. Both the writer (``riskml.reports``) and the reader here
use these constants, so the two cannot drift apart.

:func:`import_reviews` reads filled workbooks (``.xlsx``, or ``.csv`` saved from Excel/WPS in
UTF-8 or GBK) and merges their reviews into the bundle's optional ``reviews`` table, written
atomically (temp file + rename) as ``reviews.<ext>`` beside the bundle's other files.

Per row of a sheet:

=============================================  ============================================
row                                            outcome
=============================================  ============================================
核实结论 empty                                  not a review: skipped, counted
核实结论 / 风险类型 outside the drop-down        error (file, sheet, row, column, allowed)
核实日期 missing or not a date                  error
核实日期 after today (Beijing time)             error (no review can be dated in the future)
核实日期 after the bundle's extraction date      quarantined: import it into a newer extract
户编号 missing, or not a household of the bundle  quarantined
same review twice in the files given            counted once; differing details: error
review already in the bundle's table            nothing added (same household, date and
(household, date, outcome)                      outcome); a changed 风险类型/备注 updates it
=============================================  ============================================

Errors stop the import before anything is written (fix the sheet and import again: importing
is idempotent). 核实人 (the reviewer's name) is read but not stored: the contract keeps no
names of cadres.

Safety: only cached cell values are read (``openpyxl`` ``data_only=True``: formulas are never
evaluated), macro-enabled and legacy files (``.xlsm``, ``.xltm``, ``.xlsb``, ``.xls``, or an
``.xlsx`` holding a VBA project) are refused, and file size and rows read are limited
(:data:`MAX_FILE_BYTES`, :data:`MAX_ROWS`).
"""

from __future__ import annotations

import datetime as dt
import os
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from riskml.config.explain import load_explain_config
from riskml.data._cells import restore_cell
from riskml.data._errors import BundleError
from riskml.data._schema import OPTIONAL_TABLES, REVIEW_OUTCOMES, RISK_TYPES

__all__ = [
    "CONCLUSIONS_ZH",
    "MAX_FILE_BYTES",
    "MAX_ROWS",
    "OUTCOME_ZH",
    "REGISTRATION_CADRE_COLUMNS",
    "REGISTRATION_COLUMNS",
    "REGISTRATION_COLUMN_KEYS",
    "REGISTRATION_FIXED_COLUMNS",
    "ReviewImport",
    "ReviewImportError",
    "import_reviews",
    "read_registration_files",
    "risk_types_zh",
]

REGISTRATION_COLUMN_KEYS: dict[str, str] = {
    "户编号": "household_id",
    "嘎查村": "village",
    "村民小组": "group",
    "风险等级": "tier",
    "排名": "rank",
    "风险原因": "reasons",
    "建议帮扶措施": "measures",
    "核实日期": "reviewed_on",
    "核实人": "reviewer",
    "核实结论": "outcome",
    "风险类型": "risk_type",
    "备注": "note",
}
"""Header of each registration-workbook column -> its meaning (in sheet order)."""
REGISTRATION_COLUMNS: tuple[str, ...] = tuple(REGISTRATION_COLUMN_KEYS)
"""The 核实登记表 headers, in order: seven filled by riskml, then five for the cadres."""
REGISTRATION_FIXED_COLUMNS: tuple[str, ...] = REGISTRATION_COLUMNS[:7]
REGISTRATION_CADRE_COLUMNS: tuple[str, ...] = REGISTRATION_COLUMNS[7:]
_HEADER_ALIASES: dict[str, str] = {"村": "嘎查村", "行政村": "嘎查村", "组": "村民小组"}
"""Other headers accepted on import for the same column."""

CONCLUSIONS_ZH: dict[str, str] = {
    "纳入监测对象": "identified",
    "暂不纳入": "not_at_risk",
    "已是监测对象": "already_monitored",
    "无法核实": "unreachable",
}
"""The 核实结论 drop-down, in order -> ``reviews.outcome``."""
OUTCOME_ZH: dict[str, str] = {v: k for k, v in CONCLUSIONS_ZH.items()}
"""``reviews.outcome`` -> its 核实结论 label."""


def risk_types_zh() -> dict[str, str]:
    """The official risk types of the 风险类型 drop-down, in order -> the contract's risk-type
    codes. Their one source is ``configs/explain.yaml``, read when first asked for (never at
    import: a served model ships riskml's code without the configs)."""
    return {
        wording.zh: code
        for code, wording in load_explain_config().risk_types.items()
        if code in RISK_TYPES
    }


def __getattr__(name: str) -> dict[str, str]:
    """``RISK_TYPES_ZH`` (official name -> code) and ``RISK_TYPE_ZH`` (code -> official name),
    computed from the config on first use."""
    if name == "RISK_TYPES_ZH":
        return risk_types_zh()
    if name == "RISK_TYPE_ZH":
        return {v: k for k, v in risk_types_zh().items()}
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_RISK_ALIASES: dict[str, str] = {
    "因灾": "disaster",
    "因意外": "accident",
    "因缺劳动力": "labor_shortage",
    "因产业失败": "industry_failure",
    "因务工就业不稳定": "unstable_employment",
}
"""Short forms the national system also uses."""

MAX_FILE_BYTES = 20 * 1024 * 1024
"""Largest registration file read (a township's list is a few hundred KB)."""
MAX_ROWS = 100_000
"""Most data rows read per sheet."""
_REFUSED_SUFFIXES = {
    ".xlsm": "a macro-enabled workbook",
    ".xltm": "a macro-enabled template",
    ".xlsb": "a binary workbook (may hold macros)",
    ".xls": "an old-style .xls workbook",
}
_HEADER_SEARCH_ROWS = 10
_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y年%m月%d日", "%Y%m%d")


class ReviewImportError(BundleError):
    """A registration file cannot be imported; the message names file, sheet, row and column."""


@dataclass
class ReviewImport:
    """What :func:`import_reviews` did (counts only: no ids, names or notes)."""

    path: Path | None
    """The bundle's reviews file written (None when nothing changed)."""
    files: list[str] = field(default_factory=list)
    sheets_read: list[str] = field(default_factory=list)
    sheets_skipped: list[str] = field(default_factory=list)
    rows_read: int = 0
    no_conclusion: int = 0
    no_conclusion_but_filled: int = 0
    reviews: int = 0
    duplicates_in_files: int = 0
    added: int = 0
    already_recorded: int = 0
    updated: int = 0
    quarantined: pd.DataFrame = field(default_factory=pd.DataFrame)
    quarantine_path: Path | None = None
    total_after: int = 0
    outcomes_added: dict[str, int] = field(default_factory=dict)

    def lines(self) -> list[str]:
        """The summary printed by ``riskml reviews import``."""
        out = [
            f"Files read: {len(self.files)}; sheets read: {len(self.sheets_read)}"
            + (
                f"; sheets without the 核实登记表 header skipped: {len(self.sheets_skipped)}"
                if self.sheets_skipped
                else ""
            ),
            f"Rows read: {self.rows_read:,}; rows with an empty 核实结论 (not reviews, skipped): "
            f"{self.no_conclusion:,}"
            + (
                f" (of which {self.no_conclusion_but_filled:,} have a date, risk type or note: "
                "fill in 核实结论 and import again)"
                if self.no_conclusion_but_filled
                else ""
            ),
            f"Reviews in the files: {self.reviews:,}"
            + (
                f" ({self.duplicates_in_files:,} repeated rows counted once)"
                if self.duplicates_in_files
                else ""
            ),
            f"Added: {self.added:,}; already recorded: {self.already_recorded:,}; updated (risk type or "
            f"note changed): {self.updated:,}; quarantined: {len(self.quarantined):,}",
        ]
        if len(self.quarantined):
            for reason, n in self.quarantined["reason"].value_counts().items():
                out.append(f"  quarantined — {reason}: {n:,}")
            if self.quarantine_path is not None:
                out.append(f"  quarantined rows written to {self.quarantine_path}")
        if self.outcomes_added:
            out.append(
                "Added by outcome: "
                + ", ".join(f"{OUTCOME_ZH.get(k, k)} {v:,}" for k, v in self.outcomes_added.items())
            )
        out.append(
            f"The bundle's reviews table now holds {self.total_after:,} reviews"
            + (f" ({self.path})" if self.path is not None else " (unchanged)")
        )
        return out


# ---------------------------------------------------------------------------------------------
# reading registration files


@dataclass
class _Row:
    file: str
    sheet: str
    row: int
    values: dict[str, Any]


def _where(file: str, sheet: str, row: int, column: str) -> str:
    sheet_part = f", sheet {sheet!r}" if sheet else ""
    return f"{file}{sheet_part}, row {row}, column {column!r}"


def _check_file(path: Path, max_bytes: int) -> None:
    if not path.is_file():
        raise ReviewImportError(
            f"{path}: no such file. Fix: give the filled 核实登记表 (.xlsx or .csv)."
        )
    suffix = path.suffix.lower()
    if suffix in _REFUSED_SUFFIXES:
        raise ReviewImportError(
            f"{path}: {_REFUSED_SUFFIXES[suffix]} is refused (riskml never opens files that can carry "
            "macros or that it cannot read safely). Fix: in Excel or WPS, save it as 'Excel 工作簿 "
            "(*.xlsx)' or as 'CSV UTF-8', and import that file."
        )
    if suffix not in {".xlsx", ".csv"}:
        raise ReviewImportError(
            f"{path}: unknown kind of file ({suffix or 'no extension'}). Fix: import the filled "
            "核实登记表 as .xlsx, or as .csv saved from Excel/WPS (UTF-8 or GBK)."
        )
    size = path.stat().st_size
    if size > max_bytes:
        raise ReviewImportError(
            f"{path}: {size / 1e6:.1f} MB is larger than a registration workbook can be (limit "
            f"{max_bytes / 1e6:.0f} MB). Fix: import the township's 核实登记表 itself, not a larger export."
        )
    if suffix == ".xlsx":
        try:
            with zipfile.ZipFile(path) as zf:
                names = zf.namelist()
        except zipfile.BadZipFile:
            raise ReviewImportError(
                f"{path}: not a valid .xlsx workbook (damaged, or another format renamed). Fix: open it "
                "in Excel/WPS and save it again as .xlsx."
            ) from None
        if any(n.lower().endswith("vbaproject.bin") for n in names):
            raise ReviewImportError(
                f"{path}: the workbook holds macros (a VBA project) although it is named .xlsx; refused. "
                "Fix: save it again as a plain 'Excel 工作簿 (*.xlsx)'."
            )


def _header_index(row: Sequence[Any]) -> dict[str, int] | None:
    names = [str(v).strip() if v is not None else "" for v in row]
    names = [_HEADER_ALIASES.get(n, n) for n in names]
    if "户编号" not in names or "核实结论" not in names:
        return None
    index: dict[str, int] = {}
    for i, n in enumerate(names):
        if n in REGISTRATION_COLUMN_KEYS and n not in index:
            index[n] = i
    return index


def _sheet_rows(
    file: str, sheet: str, rows: Iterator[Sequence[Any]], max_rows: int, result: ReviewImport
) -> Iterator[_Row]:
    index: dict[str, int] | None = None
    header_at = 0
    for number, row in enumerate(rows, start=1):
        if index is None:
            index = _header_index(row)
            header_at = number
            if index is None and number >= _HEADER_SEARCH_ROWS:
                result.sheets_skipped.append(f"{file}:{sheet}" if sheet else file)
                return
            continue
        if number - header_at > max_rows:
            raise ReviewImportError(
                f"{file}{f', sheet {sheet!r}' if sheet else ''}: more than {max_rows:,} data rows. A "
                "registration workbook lists a township's flagged households; this is not one. Fix: "
                "import the 核实登记表 itself."
            )
        if all(v is None or (isinstance(v, str) and not v.strip()) for v in row):
            continue
        values = {
            REGISTRATION_COLUMN_KEYS[h]: (row[i] if i < len(row) else None)
            for h, i in index.items()
        }
        yield _Row(file, sheet, number, values)
    if index is None:
        result.sheets_skipped.append(f"{file}:{sheet}" if sheet else file)
    else:
        result.sheets_read.append(f"{file}:{sheet}" if sheet else file)


def _xlsx_rows(path: Path, max_rows: int, result: ReviewImport) -> Iterator[_Row]:
    import warnings

    import openpyxl

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            wb = openpyxl.load_workbook(path, read_only=True, data_only=True, keep_links=False)
    except Exception as exc:  # zip, XML and openpyxl errors alike
        raise ReviewImportError(
            f"{path.name}: cannot read the workbook ({type(exc).__name__}: {exc}). Fix: open it in "
            "Excel/WPS and save it again as .xlsx."
        ) from exc
    try:
        for ws in wb.worksheets:
            yield from _sheet_rows(
                path.name, ws.title, ws.iter_rows(values_only=True), max_rows, result
            )
    finally:
        wb.close()


def _csv_rows(path: Path, max_rows: int, result: ReviewImport) -> Iterator[_Row]:
    import csv
    import io

    raw = path.read_bytes()
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - gb18030 decodes any byte string
        raise ReviewImportError(f"{path.name}: neither UTF-8 nor GBK text.")
    reader = csv.reader(io.StringIO(text, newline=""))
    yield from _sheet_rows(
        path.name, "", ([c if c != "" else None for c in r] for r in reader), max_rows, result
    )


def read_registration_files(
    files: Iterable[str | Path],
    *,
    max_bytes: int = MAX_FILE_BYTES,
    max_rows: int = MAX_ROWS,
    result: ReviewImport | None = None,
    today: dt.date | None = None,
) -> pd.DataFrame:
    """The reviews in filled registration files, checked cell by cell.

    Returns one row per review with ``household_id``, ``reviewed_on`` (datetime64), ``outcome``,
    ``risk_type``, ``note`` and where it came from (``file``, ``sheet``, ``row``). Raises
    :class:`ReviewImportError` listing every bad cell (file, sheet, row, column, the fix).
    """
    result = result if result is not None else ReviewImport(path=None)
    if today is None:  # the cadres' date: Beijing time, whatever the server's time zone
        from riskml.clock import beijing_now

        today = beijing_now().date()
    problems: list[str] = []
    records: list[dict[str, Any]] = []
    for f in files:
        path = Path(f)
        _check_file(path, max_bytes)
        result.files.append(path.name)
        rows = (
            _xlsx_rows(path, max_rows, result)
            if path.suffix.lower() == ".xlsx"
            else _csv_rows(path, max_rows, result)
        )
        found_sheet = len(result.sheets_read)
        for r in rows:
            result.rows_read += 1
            rec = _review_of(r, today, problems, result)
            if rec is not None:
                records.append(rec)
        if len(result.sheets_read) == found_sheet:
            problems.append(
                f"{path.name}: no sheet with the 核实登记表 header (columns 户编号 and 核实结论 within "
                f"the first {_HEADER_SEARCH_ROWS} rows). Fix: import the registration workbook riskml "
                "wrote, filled in, with its header row kept."
            )
    if problems:
        shown = problems[:20]
        more = f"\n  … and {len(problems) - 20} more problems" if len(problems) > 20 else ""
        raise ReviewImportError(
            "Nothing was imported; fix these cells and import again (importing twice adds nothing):\n"
            + "\n".join(f"  - {p}" for p in shown)
            + more
        )
    frame = pd.DataFrame(
        records,
        columns=[
            "household_id",
            "reviewed_on",
            "outcome",
            "risk_type",
            "note",
            "file",
            "sheet",
            "row",
        ],
    )
    frame["reviewed_on"] = pd.to_datetime(frame["reviewed_on"]).astype("datetime64[ns]")
    return frame


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and np.isnan(value):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(restore_cell(value) if isinstance(value, str) else value).strip()
    return text or None


def _date(value: Any) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = _text(value)
    if text is None:
        return None
    text = text.split(" ")[0] if " " in text and ":" in text else text
    for fmt in _DATE_FORMATS:
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ValueError(text)


def _review_of(
    r: _Row, today: dt.date, problems: list[str], result: ReviewImport
) -> dict[str, Any] | None:
    v = r.values
    conclusion = _text(v.get("outcome"))
    if conclusion is None:
        result.no_conclusion += 1
        if any(_text(v.get(k)) is not None for k in ("reviewed_on", "risk_type", "note")):
            result.no_conclusion_but_filled += 1
        return None
    outcome = CONCLUSIONS_ZH.get(conclusion) or (
        conclusion if conclusion in REVIEW_OUTCOMES else None
    )
    ok = True
    if outcome is None:
        problems.append(
            f"{_where(r.file, r.sheet, r.row, '核实结论')}: {conclusion!r} is not one of the drop-down's "
            f"values ({' / '.join(CONCLUSIONS_ZH)}). Fix: choose one of them from the drop-down."
        )
        ok = False
    risk_text = _text(v.get("risk_type"))
    risk = None
    if risk_text is not None:
        risk = (
            risk_types_zh().get(risk_text)
            or _RISK_ALIASES.get(risk_text)
            or (risk_text if risk_text in RISK_TYPES else None)
        )
        if risk is None:
            problems.append(
                f"{_where(r.file, r.sheet, r.row, '风险类型')}: {risk_text!r} is not an official risk "
                f"type ({'、'.join(risk_types_zh())}). Fix: choose one from the drop-down, or leave it empty."
            )
            ok = False
    try:
        reviewed = _date(v.get("reviewed_on"))
    except ValueError as exc:
        problems.append(
            f"{_where(r.file, r.sheet, r.row, '核实日期')}: {str(exc)!r} is not a date. Fix: write it as "
            "YYYY-MM-DD (e.g. 2025-07-15) or use a date cell."
        )
        reviewed, ok = None, False
    else:
        if reviewed is None:
            problems.append(
                f"{_where(r.file, r.sheet, r.row, '核实日期')}: a review ({conclusion}) without a date. "
                "Fix: fill in the date of the visit."
            )
            ok = False
        elif reviewed > today:
            problems.append(
                f"{_where(r.file, r.sheet, r.row, '核实日期')}: {reviewed.isoformat()} is in the future "
                f"(today is {today.isoformat()}). Fix: correct the date (year typed wrong?)."
            )
            ok = False
    if not ok:
        return None
    hid = v.get("household_id")
    if isinstance(hid, float) and not hid.is_integer():
        hid = None
    hid_text = _text(hid)
    return {
        "household_id": hid_text,
        "reviewed_on": pd.Timestamp(reviewed),
        "outcome": outcome,
        "risk_type": risk,
        "note": _text(v.get("note")),
        "file": r.file,
        "sheet": r.sheet,
        "row": r.row,
    }


# ---------------------------------------------------------------------------------------------
# merging into the bundle


_KEY = ["household_id", "reviewed_on", "outcome"]


def _reviews_file(folder: Path) -> Path | None:
    from riskml.data._read import locate_table_file

    return locate_table_file(folder, "reviews", None)


def _bundle_format(folder: Path) -> str:
    for suffix in (".parquet", ".csv", ".xlsx"):
        if (folder / f"households{suffix}").is_file():
            return suffix
    return ".csv"


def _read_existing(path: Path) -> pd.DataFrame:
    """The bundle's current reviews file, as contract-typed rows (every row kept)."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            raw = pd.read_parquet(path)
        elif suffix == ".csv":
            raw = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        else:
            raw = pd.read_excel(path, dtype=str, keep_default_na=False, engine="openpyxl")
    except Exception as exc:
        raise ReviewImportError(
            f"{path}: the bundle's reviews file cannot be read ({type(exc).__name__}: {exc}). Fix: "
            "repair or remove it, then import again."
        ) from exc
    schema = OPTIONAL_TABLES["reviews"]
    missing = [c for c in schema.required if c not in raw.columns]
    if missing:
        raise ReviewImportError(
            f"{path}: the bundle's reviews file lacks column(s) {missing}; it is not a riskml reviews "
            "table. Fix: move it away, then import again."
        )
    out = pd.DataFrame(
        {c: raw[c] if c in raw.columns else None for c in schema.column_names}
    ).astype(object)
    out = out.where(out.notna() & (out != ""), None)
    try:
        out["reviewed_on"] = pd.to_datetime(out["reviewed_on"], errors="raise").astype(
            "datetime64[ns]"
        )
    except (ValueError, TypeError) as exc:
        raise ReviewImportError(
            f"{path}: a reviewed_on value is not a date ({exc}). Fix: correct it (YYYY-MM-DD)."
        ) from exc
    out["household_id"] = (
        out["household_id"].astype(object).map(lambda x: None if x is None else str(x))
    )
    return out


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    schema = OPTIONAL_TABLES["reviews"]
    out = pd.DataFrame(
        {
            "household_id": pd.array(frame["household_id"].astype(object), dtype="string"),
            "reviewed_on": pd.to_datetime(frame["reviewed_on"]).astype("datetime64[ns]"),
            "outcome": pd.Categorical(
                frame["outcome"].astype(object),
                categories=list(schema.column("outcome").vocab or ()),
            ),
            "risk_type": pd.Categorical(
                frame["risk_type"].astype(object),
                categories=list(schema.column("risk_type").vocab or ()),
            ),
            "note": pd.array(frame["note"].astype(object), dtype="string"),
        }
    )
    return out.sort_values(["reviewed_on", "household_id"], kind="stable").reset_index(drop=True)


def _write_atomic(frame: pd.DataFrame, path: Path) -> None:
    from riskml.data._write import _frame_to_arrow, _write_xlsx

    table = _frame_to_arrow(frame, OPTIONAL_TABLES["reviews"])
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        suffix = path.suffix.lower()
        if suffix == ".parquet":
            import pyarrow.parquet as pq

            pq.write_table(table, tmp)
        elif suffix == ".csv":
            import pyarrow.csv as pcsv

            pcsv.write_csv(table, tmp)
        else:
            _write_xlsx(table, tmp, "reviews")
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _refuse_mapped_reviews(folder: Path, mapping: str | Path) -> None:
    """A source export that holds its own reviews file is the record of reviews: refuse."""
    from riskml.data._mapping import load_mapping
    from riskml.data._read import locate_table_file

    m = load_mapping(mapping)
    spec = m.tables.get("reviews")
    source = locate_table_file(folder, "reviews", spec.file) if spec and spec.file else None
    if source is not None:
        raise ReviewImportError(
            f"The export in {folder} carries its own review results ({source.name}, read "
            f"through the mapping {mapping}); riskml will not keep a second reviews table "
            "beside it. Fix: record the outcomes in the source system, or drop "
            "tables.reviews from the mapping to keep them in riskml's reviews file instead."
        )


def _drop_repeats(found: pd.DataFrame, result: ReviewImport) -> pd.DataFrame:
    """The same review listed twice in the files counts once; differing details are refused."""
    details = (
        found[["risk_type", "note"]].astype(object).where(found[["risk_type", "note"]].notna(), "")
    )
    found = found.assign(
        _detail=details["risk_type"].astype(str) + "\x1f" + details["note"].astype(str)
    )
    groups = found.groupby(_KEY, dropna=False, sort=False)["_detail"].transform("nunique")
    clash = found.loc[groups > 1]
    if len(clash):
        r = clash.iloc[0]
        rows = ", ".join(
            f"{x['file']}{':' + x['sheet'] if x['sheet'] else ''} row {x['row']}"
            for _, x in clash.head(4).iterrows()
        )
        raise ReviewImportError(
            f"The same review (household, 核实日期 {r['reviewed_on'].date()}, 核实结论 "
            f"{OUTCOME_ZH[r['outcome']]}) appears with different 风险类型/备注 in {rows}. Fix: keep one "
            "of them, then import again."
        )
    dup = found.duplicated(_KEY, keep="first")
    result.duplicates_in_files = int(dup.sum())
    return found.loc[~dup].reset_index(drop=True)


def _quarantine(found: pd.DataFrame, bundle: Any) -> pd.DataFrame:
    """Rows with no household id, an unknown household, or reviewed after the extraction date."""
    known = pd.Index(bundle.households["household_id"].astype("string").to_numpy(dtype=object))
    reasons = pd.Series(pd.NA, index=found.index, dtype="object")
    no_id = found["household_id"].isna()
    reasons[no_id] = "户编号 empty"
    unknown = ~no_id & ~found["household_id"].isin(known)
    reasons[unknown] = "household_id not in the bundle's households"
    late = reasons.isna() & (found["reviewed_on"] > pd.Timestamp(bundle.extracted_on))
    reasons[late] = (
        f"reviewed after the bundle's extraction date ({bundle.extracted_on.isoformat()}): import "
        "it into an extract dated on or after the review"
    )
    bad = reasons.notna()
    return pd.DataFrame(
        {
            "file": found.loc[bad, "file"],
            "sheet": found.loc[bad, "sheet"],
            "row": found.loc[bad, "row"].astype("int64"),
            "household_id": found.loc[bad, "household_id"],
            "column": np.where(late[bad], "核实日期", "户编号"),
            "value": np.where(
                late[bad],
                found.loc[bad, "reviewed_on"].dt.strftime("%Y-%m-%d"),
                found.loc[bad, "household_id"].astype(object),
            ),
            "reason": reasons[bad].astype(str),
        },
        index=found.index[bad],
    )


def _merge_existing(
    good: pd.DataFrame, existing_path: Path | None, result: ReviewImport
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(the reviews added, the whole table after the import); counts go to ``result``."""
    existing = _read_existing(existing_path) if existing_path is not None else None
    if existing is None or not len(existing):
        return good.set_index(_KEY), good.reset_index(drop=True)
    if existing.duplicated(_KEY).any():
        raise ReviewImportError(
            f"{existing_path}: the bundle's reviews file lists the same review (household, "
            "reviewed_on, outcome) more than once. Fix: remove the repeated rows, then import again."
        )
    old = existing.set_index(_KEY)
    new = good.set_index(_KEY)
    seen = new.index.isin(old.index)
    result.already_recorded = int(seen.sum())
    same = new.loc[seen]
    before = old.loc[same.index]
    changed = (
        before["risk_type"].astype(object).fillna("").to_numpy()
        != same["risk_type"].astype(object).fillna("").to_numpy()
    ) | (
        before["note"].astype(object).fillna("").to_numpy()
        != same["note"].astype(object).fillna("").to_numpy()
    )
    result.updated = int(changed.sum())
    result.already_recorded -= result.updated
    old.loc[same.index[changed], ["risk_type", "note"]] = same.loc[
        changed, ["risk_type", "note"]
    ].to_numpy()
    added = new.loc[~seen]
    return added, pd.concat([old, added]).reset_index()


def import_reviews(
    files: Sequence[str | Path],
    data: str | Path,
    *,
    mapping: str | Path | None = None,
    quarantine_path: str | Path | None = None,
    max_bytes: int = MAX_FILE_BYTES,
    max_rows: int = MAX_ROWS,
    today: dt.date | None = None,
) -> ReviewImport:
    """Import filled registration workbooks into the bundle's ``reviews`` table.

    Parameters
    ----------
    files
        Filled 核实登记表 files (``.xlsx``, or ``.csv`` in UTF-8 or GBK).
    data
        The bundle folder the reviews belong to (its households and extraction date are checked;
        import into the extract you will score next).
    mapping
        The bundle's mapping file, when it is a source export. When the export itself holds
        the mapping's reviews file, the import is refused (the export is then the record of
        reviews); otherwise reviews go to ``reviews.<ext>``, which the loader reads when the
        mapping's file is absent.
    quarantine_path
        Where quarantined rows go as CSV; default ``<data>.reviews-quarantine.csv`` beside the
        bundle folder (never inside it).
    today
        For tests; default today's date in Beijing time (UTC+8), whatever the server's zone.

    Returns
    -------
    ReviewImport
        Counts (:meth:`ReviewImport.lines` is the printed summary) and the quarantined rows.

    Raises
    ------
    ReviewImportError
        Unsafe or unreadable files, and bad cells (file, sheet, row, column and the fix).
    """
    from riskml.data._load import load_bundle, write_quarantine

    folder = Path(data)
    if mapping is not None:
        _refuse_mapped_reviews(folder, mapping)
    result = ReviewImport(path=None)
    found = read_registration_files(
        files, max_bytes=max_bytes, max_rows=max_rows, result=result, today=today
    )
    bundle = load_bundle(folder, mapping=mapping)
    found = _drop_repeats(found, result)
    result.reviews = len(found)

    quarantine = _quarantine(found, bundle)
    result.quarantined = quarantine.reset_index(drop=True)
    if len(quarantine):
        resolved = folder.resolve()
        qpath = (
            Path(quarantine_path)
            if quarantine_path
            else resolved.parent / f"{resolved.name}.reviews-quarantine.csv"
        )
        result.quarantine_path = write_quarantine(result.quarantined, qpath)
    good = found.drop(index=quarantine.index)[
        ["household_id", "reviewed_on", "outcome", "risk_type", "note"]
    ]

    existing_path = _reviews_file(folder)
    added, merged = _merge_existing(good, existing_path, result)
    result.added = len(added)
    result.outcomes_added = {
        k: int(v) for k, v in added.reset_index()["outcome"].value_counts().items() if v
    }
    result.total_after = len(merged)
    if result.added or result.updated:
        target = existing_path or folder / f"reviews{_bundle_format(folder)}"
        _write_atomic(_typed(merged), target)
        result.path = target
    return result
