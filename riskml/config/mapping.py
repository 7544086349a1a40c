"""Mapping files (``configs/mappings/*.yaml``): how a source export maps onto the data contract.

A mapping describes, per contract table, which source file holds it, how to read it (sheet,
encoding, header row), which source column becomes which contract column, how source codes
are recoded onto the contract vocabulary, which date formats the export uses, constant
columns, and columns that must be split (e.g. one "风险类型" cell holding ``因病、因残`` into
``risk_1``/``risk_2``). Tables a mapping does not mention are read from ``<table>.<ext>`` as in
a plain bundle.

An unknown key or an unknown encoding is a configuration error naming the key. This module knows
nothing of the contract (config sits below data in the layering): ``riskml.data.load_mapping``
adds the checks that need it (unknown table or column, two source columns mapped onto one
contract column, recode targets outside the vocabulary, date formats on non-date columns).

Example
-------
>>> from riskml.config.mapping import BundleMapping
>>> m = BundleMapping.model_validate({
...     "tables": {"households": {"file": "户基本信息.csv", "columns": {"hbh": "household_id"},
...                               "recode": {"head_sex": {"男": "M", "女": "F"}}}}})
>>> m.table("households").columns["hbh"]
'household_id'
"""

from __future__ import annotations

import codecs
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from riskml.config._base import StrictModel, config_dir, load_config

__all__ = [
    "DEFAULT_NULL_VALUES",
    "FALLBACK_ERROR",
    "FALLBACK_QUARANTINE",
    "BundleMapping",
    "SplitSpec",
    "TableMapping",
    "ValidationRules",
    "load_mapping",
    "mapping_path",
    "scalar_text",
]

DEFAULT_NULL_VALUES: tuple[str, ...] = (
    "",
    "NULL",
    "null",
    "None",
    "NaN",
    "nan",
    "NA",
    "N/A",
    "#N/A",
)
"""Cell texts read as empty in every column (after trimming spaces)."""

FALLBACK_ERROR = "error"
FALLBACK_QUARANTINE = "quarantine"

Scalar = str | bool | int | float


def _check_encoding(value: str | None) -> str | None:
    if value is None or value.lower() == "auto":
        return None
    try:
        codecs.lookup(value)
    except LookupError:
        raise ValueError(
            f"unknown encoding {value!r}; use 'utf-8', 'gb18030' (covers GBK/GB2312) or 'auto'"
        ) from None
    return value


def scalar_text(value: Scalar | None) -> str | None:
    """The text form in which a YAML scalar is compared with source cells."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


class ValidationRules(StrictModel):
    """Thresholds of the validation rules (the ``validation:`` section of a mapping)."""

    max_money: float = Field(
        1e8,
        gt=0,
        description="Money above this many yuan in one cell is absurd: the row is quarantined.",
    )
    max_invalid_share: float = Field(
        0.5,
        gt=0,
        le=1,
        description="When one rule rejects more than this share of a column's non-empty values, "
        "the problem is systematic (wrong date format, ids written differently in two files, "
        "wrong extraction date): loading stops with an error instead of quarantining. 1 disables.",
    )


class SplitSpec(StrictModel):
    """Split one source column holding several codes into several contract columns."""

    into: list[str] = Field(min_length=1, description="Contract columns, in order.")
    separators: str = Field(
        ",，、;；/|", min_length=1, description="Every character here separates two codes."
    )


class TableMapping(StrictModel):
    """How one contract table is found in, and read from, the source export."""

    file: str | None = Field(
        None,
        description="Source file name or glob, relative to the bundle folder "
        "(default: <table>.parquet/.csv/.xlsx).",
    )
    sheet: str | int | None = Field(
        None, description="Excel sheet name (or 0-based index); default: the only sheet with data."
    )
    encoding: str | None = Field(None, description="CSV encoding; default: detect UTF-8 / GB18030.")
    header_row: int = Field(1, ge=1, description="1-based line/row holding the column names.")
    columns: dict[str, str] = Field(
        default_factory=dict, description="Source column name -> contract column name."
    )
    recode: dict[str, dict[str, Scalar | None]] = Field(
        default_factory=dict,
        description="Contract column -> {source value: contract value}. Values already in the "
        "contract vocabulary pass through unchanged.",
    )
    fallback: dict[str, str] = Field(
        default_factory=dict,
        description="Contract column -> what to do with a value neither recoded nor in the "
        "vocabulary: a vocabulary value (e.g. 'other'), 'quarantine' or 'error'.",
    )
    date_formats: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Contract date column -> strptime formats tried after ISO YYYY-MM-DD "
        "(e.g. '%Y/%m/%d', '%Y%m' = first of month, '%Y-%m-%d %H:%M:%S').",
    )
    constants: dict[str, Scalar] = Field(
        default_factory=dict, description="Contract column -> value for every row."
    )
    split: dict[str, SplitSpec] = Field(
        default_factory=dict, description="Source column -> contract columns it is split into."
    )
    null_values: list[str] | None = Field(
        None, description="Cell texts read as empty (default: the mapping's null_values)."
    )

    @field_validator("recode", mode="before")
    @classmethod
    def _keys_as_text(cls, value: object) -> object:
        # YAML reads ``1: M`` with an int key and ``是: true`` with a bool value; source cells
        # are text, so keys are compared as text.
        if isinstance(value, dict):
            return {
                col: (
                    {scalar_text(k): v for k, v in codes.items()}
                    if isinstance(codes, dict)
                    else codes
                )
                for col, codes in value.items()
            }
        return value

    @field_validator("date_formats", mode="before")
    @classmethod
    def _formats_as_lists(cls, value: object) -> object:
        if isinstance(value, dict):
            return {k: [v] if isinstance(v, str) else v for k, v in value.items()}
        return value

    @field_validator("encoding")
    @classmethod
    def _encoding(cls, value: str | None) -> str | None:
        return _check_encoding(value)

    def targets(self) -> dict[str, str]:
        """Contract column -> the source column (or ``split``/``constant`` origin) it comes from."""
        out = {target: source for source, target in self.columns.items()}
        for source, spec in self.split.items():
            out.update({target: source for target in spec.into})
        out.update({col: "(constant)" for col in self.constants})
        return out


class BundleMapping(StrictModel):
    """A mapping file: how one kind of source export maps onto the contract tables."""

    description: str = ""
    encoding: str | None = Field(None, description="Default CSV encoding for every file.")
    date_formats: list[str] = Field(
        default_factory=list, description="Formats tried in every date column after ISO."
    )
    null_values: list[str] = Field(default_factory=lambda: list(DEFAULT_NULL_VALUES))
    unknown_categories: Literal["error", "quarantine"] = Field(
        "error",
        description="Default for a value outside a column's vocabulary when the column has no "
        "fallback: stop with an error listing the unknown codes, or quarantine the rows.",
    )
    missing_tables: list[str] = Field(
        default_factory=list,
        description="Contract tables this export does not provide; they load empty.",
    )
    validation: ValidationRules = Field(default_factory=ValidationRules)
    tables: dict[str, TableMapping] = Field(default_factory=dict)

    @field_validator("encoding")
    @classmethod
    def _encoding(cls, value: str | None) -> str | None:
        return _check_encoding(value)

    @field_validator("date_formats", mode="before")
    @classmethod
    def _formats_as_list(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value

    @model_validator(mode="after")
    def _check_tables(self) -> BundleMapping:
        both = sorted(set(self.missing_tables) & set(self.tables))
        if both:
            raise ValueError(f"missing_tables: {both} are also described under tables; keep one")
        return self

    def table(self, name: str) -> TableMapping:
        """The mapping of contract table ``name`` (an identity mapping when not described)."""
        return self.tables.get(name) or TableMapping()


def mapping_path(name: str | Path) -> Path:
    """Resolve a mapping given as a path or as a name under ``configs/mappings/``."""
    path = Path(name)
    if path.is_file():
        return path
    candidate = config_dir() / "mappings" / (path.name if path.suffix else f"{path.name}.yaml")
    return candidate if candidate.is_file() else path


def load_mapping(path: str | Path) -> BundleMapping:
    """Load a mapping file (a path, or a name under ``configs/mappings/``).

    Only the file's own structure is checked here; ``riskml.data.load_mapping`` also checks it
    against the data contract (tables, columns, vocabularies) — use that one.

    Raises
    ------
    riskml.config.ConfigError
        The file is missing, is not YAML, or has an unknown or malformed key (named).
    """
    return load_config(mapping_path(path), BundleMapping)
