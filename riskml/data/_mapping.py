"""Applying a mapping file to a source table: contract checks, renames, splits, constants.

``riskml.config.mapping`` holds the pydantic model of mapping files; this module checks a
mapping against the data contract (which the config layer does not know) and turns a source
table into one raw column per contract column.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from riskml.config import ConfigError
from riskml.config.mapping import (
    FALLBACK_ERROR,
    FALLBACK_QUARANTINE,
    BundleMapping,
    TableMapping,
    mapping_path,
    scalar_text,
)
from riskml.config.mapping import load_mapping as _load_mapping_file
from riskml.data._convert import factorize, one_array
from riskml.data._errors import BundleError
from riskml.data._read import RawTable
from riskml.data._schema import ALL_TABLES, OPTIONAL_TABLES, Column, TableSchema

V = TypeVar("V")

__all__ = ["MappedTable", "check_mapping", "close_matches", "load_mapping", "map_table"]


def close_matches(name: str, candidates: list[str] | tuple[str, ...], n: int = 3) -> list[str]:
    """Candidates that look like ``name`` (case-insensitive), best first."""
    lowered = {c.lower(): c for c in candidates}
    hits = difflib.get_close_matches(name.lower(), list(lowered), n=n, cutoff=0.6)
    return [lowered[h] for h in hits]


def _did_you_mean(name: str, candidates: list[str] | tuple[str, ...]) -> str:
    hits = close_matches(name, candidates)
    return f"; did you mean {' or '.join(repr(h) for h in hits)}?" if hits else ""


@dataclass
class _TableCheck:
    """The problems found in one table's mapping, section by section."""

    name: str
    problems: list[str] = field(default_factory=list)
    targets: dict[str, str] = field(default_factory=dict)
    """Contract column → the source column mapped onto it."""

    @property
    def schema(self) -> TableSchema:
        return ALL_TABLES[self.name]

    @property
    def where(self) -> str:
        return f"tables.{self.name}"

    def unknown(self, key: str, column: str) -> bool:
        """Note (and say True) when ``column`` is not a column of the contract table."""
        names = self.schema.column_names
        if column in names:
            return False
        self.problems.append(
            f"{self.where}.{key}: {column!r} is not a column of the contract table '{self.name}'"
            f"{_did_you_mean(column, names)} (its columns: {', '.join(names)})"
        )
        return True

    def known(self, section: str, entries: Mapping[str, V]) -> Iterator[tuple[str, V, Column, str]]:
        """The entries of ``section`` whose column is in the contract (the others are noted),
        with that column and the entry's key for messages."""
        for column, value in entries.items():
            if not self.unknown(f"{section}.{column}", column):
                yield column, value, self.schema.column(column), f"{self.where}.{section}.{column}"

    def targets_once(self, spec: TableMapping) -> None:
        """Every contract column is mapped from one source column at most."""
        for source, target in spec.columns.items():
            self.unknown(f"columns.{source}", target)
            if target in self.targets:
                self.problems.append(
                    f"{self.where}.columns: source columns {self.targets[target]!r} and {source!r} "
                    f"are both mapped onto '{self.name}.{target}'. Fix: map only one of them (or "
                    "combine them in the export)."
                )
            self.targets[target] = source
        for source, split in spec.split.items():
            for target in split.into:
                self.unknown(f"split.{source}.into", target)
                if target in self.targets:
                    self.problems.append(
                        f"{self.where}: source columns {self.targets[target]!r} and {source!r} "
                        f"(split) are both mapped onto '{self.name}.{target}'. Fix: map only one "
                        "of them."
                    )
                self.targets[target] = source
        for column, value in spec.constants.items():
            if not self.unknown(f"constants.{column}", column) and column in self.targets:
                self.problems.append(
                    f"{self.where}: '{self.name}.{column}' is both a constant ({value!r}) and mapped "
                    f"from source column {self.targets[column]!r}. Fix: keep only one."
                )

    def recode(self, spec: TableMapping) -> None:
        """Recoded values are in the column's vocabulary (true/false for a yes/no column)."""
        for column, codes, col, at in self.known("recode", spec.recode):
            for source_value, target in codes.items():
                text = scalar_text(target)
                if col.vocab is not None and text is not None and text not in col.vocab:
                    self.problems.append(
                        f"{at}: {source_value!r} -> {target!r} is not in the vocabulary of "
                        f"'{self.name}.{column}'{_did_you_mean(text, col.vocab)} "
                        f"(allowed: {', '.join(col.vocab)})"
                    )
                if col.kind == "bool" and text not in (None, "true", "false"):
                    self.problems.append(
                        f"{at}: {source_value!r} -> {target!r}: '{self.name}.{column}' "
                        "is a yes/no column; recode to true or false"
                    )

    def fallback(self, spec: TableMapping) -> None:
        """A fallback is a vocabulary value, 'quarantine' or 'error', on a coded column."""
        for column, policy, col, at in self.known("fallback", spec.fallback):
            if col.vocab is None and col.kind != "bool":
                self.problems.append(
                    f"{at}: '{self.name}.{column}' has no vocabulary, so it takes no "
                    "fallback. Fix: remove the entry."
                )
                continue
            allowed = (*(col.vocab or ("true", "false")), FALLBACK_QUARANTINE, FALLBACK_ERROR)
            if policy not in allowed:
                self.problems.append(
                    f"{at}: {policy!r} is neither a vocabulary value of "
                    f"'{self.name}.{column}' nor 'quarantine'/'error'{_did_you_mean(policy, allowed)}"
                )

    def date_formats(self, spec: TableMapping) -> None:
        """Date formats go on date columns and are strptime formats."""
        for column, formats, col, at in self.known("date_formats", spec.date_formats):
            if col.kind != "date":
                self.problems.append(f"{at}: '{self.name}.{column}' is not a date column")
            self.problems.extend(
                f"{at}: {fmt!r} is not a strptime format (e.g. '%Y/%m/%d', '%Y%m')"
                for fmt in formats
                if "%" not in fmt
            )


def _table_problems(name: str, spec: TableMapping) -> list[str]:
    check = _TableCheck(name)
    check.targets_once(spec)
    check.recode(spec)
    check.fallback(spec)
    check.date_formats(spec)
    return check.problems


def check_mapping(mapping: BundleMapping, origin: str = "mapping") -> BundleMapping:
    """Check ``mapping`` against the data contract; raise ``ConfigError`` listing every problem."""
    known = tuple(ALL_TABLES)
    problems: list[str] = []
    for name in mapping.tables:
        if name not in ALL_TABLES:
            problems.append(
                f"tables.{name}: {name!r} is not a contract table{_did_you_mean(name, known)} "
                f"(tables: {', '.join(known)})"
            )
        else:
            problems.extend(_table_problems(name, mapping.tables[name]))
    for name in mapping.missing_tables:
        if name not in ALL_TABLES:
            problems.append(
                f"missing_tables: {name!r} is not a contract table{_did_you_mean(name, known)}"
            )
        elif name in OPTIONAL_TABLES:
            problems.append(
                f"missing_tables: {name!r} is an optional table; leave it out (a bundle without "
                "its file simply has none)"
            )
    if "households" in mapping.missing_tables:
        problems.append("missing_tables: 'households' cannot be missing; every bundle needs it")
    problems.extend(
        f"date_formats: {fmt!r} is not a strptime format (e.g. '%Y/%m/%d')"
        for fmt in mapping.date_formats
        if "%" not in fmt
    )
    if problems:
        raise ConfigError(
            f"Mapping {origin} does not fit the data contract:\n"
            + "\n".join(f"  - {p}" for p in problems)
        )
    return mapping


def load_mapping(path: str | Path) -> BundleMapping:
    """Load a mapping file (a path or a name under ``configs/mappings/``) and check it.

    Raises
    ------
    riskml.config.ConfigError
        The file is missing or malformed, or does not fit the contract; the message names the
        file and the key.
    """
    mapping = _load_mapping_file(path)
    return check_mapping(mapping, str(mapping_path(path)))


@dataclass
class MappedTable:
    """A source table laid out as contract columns (values still raw: text or stored types)."""

    name: str
    label: str
    columns: dict[str, pa.Array]
    origin: dict[str, str]
    """Contract column -> source column it came from (for messages)."""
    num_rows: int
    ignored: list[str] = field(default_factory=list)
    """Source columns the mapping does not use."""
    unmatched: list[str] = field(default_factory=list)
    """Source columns the mapping names but the file lacks (optional targets only)."""
    split_dropped: int = 0
    """Codes beyond the last split target (e.g. a 4th risk type), counted not kept."""


def _split(arr: pa.Array, separators: str, width: int) -> tuple[list[pa.Array], int]:
    text = pc.utf8_trim_whitespace(
        pc.cast(arr, pa.string()) if not pa.types.is_string(arr.type) else arr
    )
    codes, uniques = factorize(text)
    pattern = re.compile("[" + re.escape(separators) + "]")
    parts = [
        [p.strip() for p in pattern.split(u) if p.strip()] if u is not None else []
        for u in uniques.to_pylist()
    ]
    counts = np.bincount(codes[codes >= 0], minlength=len(parts))
    dropped = int(sum(max(0, len(p) - width) * int(c) for p, c in zip(parts, counts, strict=True)))
    out = []
    indices = pa.array(codes, type=pa.int64(), mask=codes < 0)
    for i in range(width):
        distinct = pa.array([p[i] if len(p) > i else None for p in parts], pa.string())
        out.append(distinct.take(indices))
    return out, dropped


def map_table(raw: RawTable, spec: TableMapping) -> MappedTable:
    """Lay ``raw`` out as contract columns following ``spec``.

    Raises ``BundleError`` when two source columns land on one contract column (e.g. the file
    has both ``household_id`` and a column the mapping renames to ``household_id``).
    """
    name = raw.table
    schema = ALL_TABLES[name]
    source_names = list(raw.data.column_names)
    n = raw.data.num_rows
    columns: dict[str, pa.Array] = {}
    origin: dict[str, str] = {}
    used: set[str] = set()
    unmatched: list[str] = []
    for source, target in spec.columns.items():
        if source in raw.data.column_names:
            columns[target] = one_array(raw.data.column(source))
            origin[target] = source
            used.add(source)
        elif schema.column(target).required:
            origin.setdefault(target, source)  # reported as a missing required column
        else:
            unmatched.append(source)
    split_dropped = 0
    for source, split in spec.split.items():
        if source not in raw.data.column_names:
            unmatched.append(source)
            continue
        parts, split_dropped = _split(
            one_array(raw.data.column(source)), split.separators, len(split.into)
        )
        for target, part in zip(split.into, parts, strict=True):
            columns[target] = part
            origin[target] = f"{source} (part {split.into.index(target) + 1})"
        used.add(source)
    conflicts = []
    for source in source_names:
        if source in schema.column_names and source not in used:
            if source in columns:
                conflicts.append(
                    f"{name}: {raw.label} has a column {source!r} and the mapping also maps "
                    f"{origin[source]!r} onto '{name}.{source}'. Fix: drop one of them from the "
                    f"file or from the mapping (tables.{name})."
                )
                continue
            columns[source] = one_array(raw.data.column(source))
            origin[source] = source
            used.add(source)
    if conflicts:
        raise BundleError(conflicts)
    for column, value in spec.constants.items():
        columns[column] = pa.repeat(pa.scalar(scalar_text(value), pa.string()), n)
        origin[column] = f"constant {value!r}"
    ignored = [s for s in source_names if s not in used]
    return MappedTable(
        name=name,
        label=raw.label,
        columns=columns,
        origin=origin,
        num_rows=n,
        ignored=ignored,
        unmatched=unmatched,
        split_dropped=split_dropped,
    )
