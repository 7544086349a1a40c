"""Household-history bundles: the contract's schema, reading, mapping, validation, quarantine."""

from riskml.data._bundle import QUARANTINE_COLUMNS, Bundle
from riskml.data._schema import TABLE_ORDER, TABLES, Column, TableSchema

__all__ = [
    "QUARANTINE_COLUMNS",
    "TABLES",
    "TABLE_ORDER",
    "Bundle",
    "Column",
    "TableSchema",
]
