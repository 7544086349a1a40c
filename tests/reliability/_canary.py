"""A messy, personal-data-laden export built from the shared small province, and scanners.

``write_canary_export`` takes whole villages of the synthetic province and turns them into what
a county really sends: CSV files in GB18030, 18-digit resident ID numbers (身份证号) as household
and member ids, extra columns holding the head's name, phone number and ID number, diagnoses in
``events.detail``, the contract's optional ``head_name`` and ``group_name`` (村民小组) columns
(which riskml may show in internal outputs only), and a few broken rows (an orphan event, a negative income, a household with
no village code). Every planted personal value is returned in :class:`Canaries` so a test can
look for it in everything riskml writes.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from riskml.data import Bundle, write_bundle

__all__ = [
    "ID_NUMBER",
    "Canaries",
    "Finding",
    "id_numbers",
    "scan_paths",
    "scan_text",
    "subset_villages",
    "write_canary_export",
]

ID_NUMBER = re.compile(r"(?<![\d.])\d{17}[\dXx](?![\d.])")
"""An 18-character resident ID number (not the digits of a float's fractional part)."""

_ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
_ID_CHECK = "10X98765432"
_SURNAMES = ("张", "王", "包", "乌", "白", "宝", "那", "敖", "韩", "席")
_GIVEN = ("建国", "金花", "其其格", "巴特尔", "秀兰", "额尔敦", "桂芳", "朝鲁", "玉梅", "苏和")
DIAGNOSES = ("尿毒症", "恶性肿瘤", "精神分裂症", "白血病", "肺结核", "系统性红斑狼疮")
_HEALTH_EVENTS = ("hospitalization", "serious_illness", "chronic_illness", "medical_bill")


@dataclass(frozen=True)
class Canaries:
    """The personal values planted in a canary export (what must never leak)."""

    household_ids: frozenset[str]
    member_ids: frozenset[str]
    names: frozenset[str]
    groups: frozenset[str]
    phones: frozenset[str]
    diagnoses: frozenset[str]
    village_names: frozenset[str]
    orphan_household: str
    set_aside_household: str
    negative_income_household: str
    extra_columns: tuple[str, ...] = ("户主姓名", "联系电话", "身份证号")

    @property
    def ids(self) -> frozenset[str]:
        return self.household_ids | self.member_ids | {self.orphan_household}


def id_numbers(region: str, start: int, n: int) -> list[str]:
    """``n`` distinct, well-formed 18-character resident ID numbers (GB 11643 check digit)."""
    idx = np.arange(start, start + n)
    births = pd.Timestamp("1940-01-01") + pd.to_timedelta((idx * 7919) % 25000, unit="D")
    body = [
        f"{region}{b:%Y%m%d}{i % 1000:03d}"
        for b, i in zip(births, idx // 25 + idx % 25 * 40, strict=True)
    ]
    digits = np.array([[int(c) for c in s] for s in body])
    check = [_ID_CHECK[v] for v in (digits @ _ID_WEIGHTS) % 11]
    out = [b + c for b, c in zip(body, check, strict=True)]
    if len(set(out)) != n:  # pragma: no cover - the construction above is injective for n < 25,000
        raise RuntimeError("id_numbers produced duplicates")
    return out


def subset_villages(bundle: Bundle, min_households: int) -> Bundle:
    """Whole villages (in code order) until at least ``min_households`` households."""
    hh = bundle.households
    sizes = hh.groupby("village_code", observed=True).size().sort_index()
    keep_villages = sizes.index[
        : int(np.searchsorted(sizes.cumsum().to_numpy(), min_households)) + 1
    ]
    ids = set(hh.loc[hh["village_code"].isin(keep_villages), "household_id"])
    tables = {
        n: t.loc[t["household_id"].isin(ids)].reset_index(drop=True)
        for n, t in bundle.tables.items()
    }
    return Bundle(
        tables=tables,
        extracted_on=bundle.extracted_on,
        province=bundle.province,
        source=bundle.source,
    )


def write_canary_export(bundle: Bundle, out: Path, *, seed: int = 0) -> Canaries:
    """Write ``bundle`` as a messy county export with planted personal data; see the module doc."""
    rng = np.random.default_rng(seed)
    tables = {n: t.copy() for n, t in bundle.tables.items()}
    hh = tables["households"]
    old_hh = hh["household_id"].astype(str).tolist()
    new_hh = id_numbers("150521", 0, len(old_hh))
    hh_map = dict(zip(old_hh, new_hh, strict=True))
    members = tables["members"]
    old_m = members["member_id"].astype(str).tolist()
    m_map = dict(zip(old_m, id_numbers("152322", 50_000, len(old_m)), strict=True))
    for name, t in tables.items():
        t["household_id"] = pd.array(t["household_id"].astype(str).map(hh_map), dtype="string")
        if "member_id" in t.columns:
            mid = t["member_id"].astype("string")
            t["member_id"] = pd.array(
                [m_map.get(v, v) if isinstance(v, str) else v for v in mid.tolist()], dtype="string"
            )
        tables[name] = t

    events = tables["events"]
    health = events["event_type"].astype(str).isin(_HEALTH_EVENTS).to_numpy()
    diag = np.array(DIAGNOSES, dtype=object)[rng.integers(0, len(DIAGNOSES), int(health.sum()))]
    detail = events["detail"].astype("string").to_numpy(dtype=object, na_value=None).copy()
    detail[health] = diag
    events["detail"] = pd.array(detail, dtype="string")

    # the broken rows a real export carries
    orphan = "150521299912319999"
    stray = events.iloc[:1].copy()
    stray["household_id"] = pd.array([orphan], dtype="string")
    stray["member_id"] = pd.array([None], dtype="string")
    tables["events"] = pd.concat([events, stray], ignore_index=True)
    income = tables["income"]
    bad_row = int(np.flatnonzero(income["wage_income"].to_numpy() > 0)[3])
    income.loc[bad_row, "wage_income"] = -1200.0
    negative_hh = str(income.loc[bad_row, "household_id"])
    write_bundle(
        Bundle(
            tables=tables,
            extracted_on=bundle.extracted_on,
            province=bundle.province,
            source="county export",
        ),
        out,
        format="csv",
    )

    # the columns a county export adds, which the contract does not use
    heads = tables["members"].loc[tables["members"]["relation"].astype(str) == "head"]
    head_id = dict(
        zip(heads["household_id"].astype(str), heads["member_id"].astype(str), strict=True)
    )
    text = pd.read_csv(out / "households.csv", dtype=str, keep_default_na=False, encoding="utf-8")
    n = len(text)
    names = [
        _SURNAMES[a] + _GIVEN[b] + ("" if c == 0 else _GIVEN[c][:1])
        for a, b, c in zip(
            rng.integers(0, 10, n), rng.integers(0, 10, n), rng.integers(0, 10, n), strict=True
        )
    ]
    phones = [
        f"1{p}{d:09d}"
        for p, d in zip(rng.choice(list("3456789"), n), rng.integers(0, 10**9, n), strict=True)
    ]
    groups = [f"敖包{k}社" for k in rng.integers(1, 10, n)]
    text.insert(1, "户主姓名", names)
    text["head_name"] = names  # the contract's optional columns: internal outputs only
    text["group_name"] = groups
    text["联系电话"] = phones
    text["身份证号"] = [head_id.get(h, "") for h in text["household_id"]]
    set_aside = text.loc[7, "household_id"]
    text.loc[7, "village_code"] = ""
    text.to_csv(out / "households.csv", index=False, encoding="gb18030")
    for other in ("members", "income", "events", "assistance", "monitoring"):
        path = out / f"{other}.csv"
        path.write_bytes(path.read_text(encoding="utf-8").encode("gb18030"))
    return Canaries(
        household_ids=frozenset(new_hh),
        member_ids=frozenset(m_map.values()),
        names=frozenset(names),
        groups=frozenset(groups),
        phones=frozenset(phones),
        diagnoses=frozenset(DIAGNOSES),
        village_names=frozenset(hh["village_name"].dropna().astype(str)),
        orphan_household=orphan,
        set_aside_household=set_aside,
        negative_income_household=negative_hh,
    )


# ------------------------------------------------------------------------------------ scanning


@dataclass
class Finding:
    """One planted value (or an ID-number-shaped string) found where it may not be."""

    where: str
    kind: str
    value: str

    def __str__(self) -> str:
        return f"{self.where}: {self.kind} {self.value!r}"


def scan_text(
    text: str, where: str, canaries: Canaries, *, ids_allowed: bool = False
) -> list[Finding]:
    """Planted names, groups (村民小组), phone numbers and diagnoses; and, unless allowed, ids and
    ID numbers."""
    found: list[Finding] = []
    for kind, values in (
        ("name", canaries.names),
        ("group", canaries.groups),
        ("phone", canaries.phones),
        ("diagnosis", canaries.diagnoses),
    ):
        for v in values:
            if v in text:
                found.append(Finding(where, kind, v))
    if not ids_allowed:
        for m in ID_NUMBER.finditer(text):
            found.append(Finding(where, "ID number", m.group(0)))
        tokens = set(re.findall(r"[0-9A-Za-z]+", text))
        for v in tokens & canaries.ids:
            if not ID_NUMBER.fullmatch(v):  # already reported above
                found.append(Finding(where, "id", v))
    return found


def _frame_text(frame: pd.DataFrame) -> str:
    parts = [" ".join(map(str, frame.columns))]
    for col in frame.columns:
        s = frame[col]
        if s.dtype.kind in "fiub":
            continue
        parts.append("\n".join(s.dropna().astype(str).unique().tolist()))
    return "\n".join(parts)


def file_text(path: Path) -> str | None:
    """The text a person or a program could read out of ``path`` (None: an image, not scanned)."""
    suffix = path.suffix.lower()
    if suffix in (".png", ".jpg", ".jpeg", ".gif", ".svg", ".woff", ".woff2", ".ttf", ".otf"):
        return None
    if suffix in (".parquet", ".pq"):
        import pyarrow.parquet as pq

        meta = pq.read_schema(path).metadata or {}
        extra = "\n".join(v.decode("utf-8", "replace") for v in meta.values())
        return _frame_text(pd.read_parquet(path)) + "\n" + extra
    if suffix == ".xlsx":
        import openpyxl

        wb = openpyxl.load_workbook(path, read_only=True)
        cells = [
            str(c)
            for ws in wb.worksheets
            for row in ws.iter_rows(values_only=True)
            for c in row
            if c is not None
        ]
        wb.close()
        return "\n".join(cells)
    if suffix == ".pdf":
        res = subprocess.run(
            ["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True, check=True
        )
        return res.stdout.decode("utf-8", "replace")
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        # binary (e.g. an SQLite database): scan the UTF-8 runs it holds
        return raw.decode("utf-8", "ignore")


def iter_files(paths: Iterable[Path]) -> Iterator[Path]:
    for p in paths:
        if p.is_file():
            yield p
        elif p.is_dir():
            yield from sorted(q for q in p.rglob("*") if q.is_file())


def scan_paths(
    paths: Iterable[Path],
    canaries: Canaries,
    *,
    ids_allowed: bool = False,
    skipped: list[str] | None = None,
) -> tuple[list[Finding], int]:
    """Scan every file under ``paths``; return the findings and the number of files read."""
    findings: list[Finding] = []
    n = 0
    for f in iter_files(paths):
        text = file_text(f)
        if text is None:
            if skipped is not None:
                skipped.append(str(f))
            continue
        n += 1
        findings += scan_text(text, str(f), canaries, ids_allowed=ids_allowed)
    return findings, n
