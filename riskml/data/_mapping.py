"""Applying a mapping file to a source table: contract checks, renames, splits, constants.

``riskml.config.mapping`` holds the pydantic model of mapping files; this module checks a
mapping against the data contract (which the config layer does not know) and turns a source
table into one raw column per contract column.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path

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
from riskml.data._schema import ALL_TABLES, OPTIONAL_TABLES

__all__ = ["MappedTable", "check_mapping", "close_matches", "load_mapping", "map_table"]


def close_matches(name: str, candidates: list[str] | tuple[str, ...], n: int = 3) -> list[str]:
    """Candidates that look like ``name`` (case-insensitive), best first."""
    lowered = {c.lower(): c for c in candidates}
    hits = difflib.get_close_matches(name.lower(), list(lowered), n=n, cutoff=0.6)
    return [lowered[h] for h in hits]


def _did_you_mean(name: str, candidates: list[str] | tuple[str, ...]) -> str:
    hits = close_matches(name, candidates)
    return f"; did you mean {' or '.join(repr(h) for h in hits)}?" if hits else ""


def _table_problems(name: str, spec: TableMapping) -> list[str]:
    schema = ALL_TABLES[name]
    names = schema.column_names
    where = f"tables.{name}"
    problems: list[str] = []

    def unknown(key: str, column: str) -> bool:
        if column in names:
            return False
        problems.append(
            f"{where}.{key}: {column!r} is not a column of the contract table '{name}'"
            f"{_did_you_mean(column, names)} (its columns: {', '.join(names)})"
        )
        return True

    targets: dict[str, str] = {}
    for source, target in spec.columns.items():
        unknown(f"columns.{source}", target)
        if target in targets:
            problems.append(
                f"{where}.columns: source columns {targets[target]!r} and {source!r} are both mapped "
                f"onto '{name}.{target}'. Fix: map only one of them (or combine them in the export)."
            )
        targets[target] = source
    for source, split in spec.split.items():
        for target in split.into:
            unknown(f"split.{source}.into", target)
            if target in targets:
                problems.append(
                    f"{where}: source columns {targets[target]!r} and {source!r} (split) are both "
                    f"mapped onto '{name}.{target}'. Fix: map only one of them."
                )
            targets[target] = source
    for column, value in spec.constants.items():
        if not unknown(f"constants.{column}", column) and column in targets:
            problems.append(
                f"{where}: '{name}.{column}' is both a constant ({value!r}) and mapped from source "
                f"column {targets[column]!r}. Fix: keep only one."
            )
    for column, codes in spec.recode.items():
        if unknown(f"recode.{column}", column):
            continue
        col = schema.column(column)
        for source_value, target in codes.items():
            text = scalar_text(target)
            if col.vocab is not None and text is not None and text not in col.vocab:
                problems.append(
                    f"{where}.recode.{column}: {source_value!r} -> {target!r} is not in the "
                    f"vocabulary of '{name}.{column}'{_did_you_mean(text, col.vocab)} "
                    f"(allowed: {', '.join(col.vocab)})"
                )
            if col.kind == "bool" and text not in (None, "true", "false"):
                problems.append(
                    f"{where}.recode.{column}: {source_value!r} -> {target!r}: '{name}.{column}' "
                    "is a yes/no column; recode to true or false"
                )
    for column, policy in spec.fallback.items():
        if unknown(f"fallback.{column}", column):
            continue
        col = schema.column(column)
        if col.vocab is None and col.kind != "bool":
            problems.append(
                f"{where}.fallback.{column}: '{name}.{column}' has no vocabulary, so it takes no "
                "fallback. Fix: remove the entry."
            )
            continue
        allowed = (*(col.vocab or ("true", "false")), FALLBACK_QUARANTINE, FALLBACK_ERROR)
        if policy not in allowed:
            problems.append(
                f"{where}.fallback.{column}: {policy!r} is neither a vocabulary value of "
                f"'{name}.{column}' nor 'quarantine'/'error'{_did_you_mean(policy, allowed)}"
            )
    for column, formats in spec.date_formats.items():
        if unknown(f"date_formats.{column}", column):
            continue
        if schema.column(column).kind != "date":
            problems.append(
                f"{where}.date_formats.{column}: '{name}.{column}' is not a date column"
            )
        problems.extend(
            f"{where}.date_formats.{column}: {fmt!r} is not a strptime format (e.g. '%Y/%m/%d', '%Y%m')"
            for fmt in formats
            if "%" not in fmt
        )
    return problems


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
