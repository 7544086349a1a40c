"""The in-memory history bundle: the contract's tables plus what the bundle says about itself."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from riskml.data._schema import OPTIONAL_TABLES, TABLE_ORDER

__all__ = ["QUARANTINE_COLUMNS", "Bundle"]

QUARANTINE_COLUMNS = ("table", "row", "household_id", "column", "value", "reason")
"""Columns of the quarantine frame: ``row`` is the 1-based data row in the source file."""


@dataclass
class Bundle:
    """A validated household-history bundle.

    ``tables`` maps each contract table name to a typed frame; ``quarantine`` lists rows that
    were set aside with the reason (one row per problem; frames made by ``load_bundle`` add an
    ``action`` column saying whether the row, the household or only the value was set aside).
    ``extracted_on`` is the bundle's extraction date (from ``bundle.yaml`` or the latest date
    found in it).
    """

    tables: dict[str, pd.DataFrame]
    extracted_on: dt.date
    province: str | None = None
    source: str | None = None
    quarantine: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(
            {c: pd.Series(dtype="object") for c in QUARANTINE_COLUMNS}
        )
    )
    load_report: dict[str, Any] = field(default_factory=dict)
    """What loading did besides quarantine (files and encodings read, ids normalised, codes
    recoded, ignored source columns, where the extraction date came from); empty for a bundle
    built in memory. ``summarize_bundle`` reports it."""

    def __getitem__(self, name: str) -> pd.DataFrame:
        return self.tables[name]

    @property
    def households(self) -> pd.DataFrame:
        return self.tables["households"]

    @property
    def members(self) -> pd.DataFrame:
        return self.tables["members"]

    @property
    def income(self) -> pd.DataFrame:
        return self.tables["income"]

    @property
    def events(self) -> pd.DataFrame:
        return self.tables["events"]

    @property
    def assistance(self) -> pd.DataFrame:
        return self.tables["assistance"]

    @property
    def monitoring(self) -> pd.DataFrame:
        return self.tables["monitoring"]

    @property
    def reviews(self) -> pd.DataFrame:
        """The optional ``reviews`` table; an empty typed frame when the bundle has none."""
        frame = self.tables.get("reviews")
        if frame is not None:
            return frame
        from riskml.data._load import empty_frame

        return empty_frame(OPTIONAL_TABLES["reviews"])

    def table_names(self) -> tuple[str, ...]:
        return tuple(t for t in (*TABLE_ORDER, *OPTIONAL_TABLES) if t in self.tables)
