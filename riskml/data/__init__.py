"""Household-history bundles: the contract's schema, reading, mapping, validation, quarantine."""

from riskml.data._bundle import QUARANTINE_COLUMNS, Bundle
from riskml.data._check import CheckResult, check_bundle, default_quarantine_path
from riskml.data._errors import BundleError
from riskml.data._load import empty_frame, load_bundle, write_quarantine
from riskml.data._mapping import check_mapping, load_mapping
from riskml.data._schema import TABLE_ORDER, TABLES, Column, TableSchema
from riskml.data._summary import render_summary, summarize_bundle
from riskml.data._validate import QUARANTINE_FRAME_COLUMNS
from riskml.data._write import ARROW_TYPES, EXCEL_MAX_ROWS, write_bundle

__all__ = [
    "ARROW_TYPES",
    "EXCEL_MAX_ROWS",
    "QUARANTINE_COLUMNS",
    "QUARANTINE_FRAME_COLUMNS",
    "TABLES",
    "TABLE_ORDER",
    "Bundle",
    "BundleError",
    "CheckResult",
    "Column",
    "TableSchema",
    "check_bundle",
    "check_mapping",
    "default_quarantine_path",
    "empty_frame",
    "load_bundle",
    "load_mapping",
    "render_summary",
    "summarize_bundle",
    "write_bundle",
    "write_quarantine",
]
