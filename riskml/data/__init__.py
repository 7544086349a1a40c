"""Household-history bundles: the contract's schema, reading, mapping, validation, quarantine."""

from riskml.data._bundle import QUARANTINE_COLUMNS, Bundle
from riskml.data._cells import (
    FORMULA_TRIGGERS,
    neutralise_cell,
    neutralise_frame,
    restore_cell,
    restore_frame,
)
from riskml.data._check import CheckResult, check_bundle, default_quarantine_path
from riskml.data._errors import BundleError
from riskml.data._load import empty_frame, load_bundle, write_quarantine
from riskml.data._mapping import check_mapping, load_mapping
from riskml.data._reviews import (
    CONCLUSIONS_ZH,
    OUTCOME_ZH,
    REGISTRATION_CADRE_COLUMNS,
    REGISTRATION_COLUMN_KEYS,
    REGISTRATION_COLUMNS,
    REGISTRATION_FIXED_COLUMNS,
    ReviewImport,
    ReviewImportError,
    import_reviews,
    read_registration_files,
    risk_types_zh,
)
from riskml.data._schema import (
    ALL_TABLES,
    OPTIONAL_TABLES,
    REVIEW_OUTCOMES,
    RISK_TYPES,
    TABLE_ORDER,
    TABLES,
    Column,
    TableSchema,
)
from riskml.data._summary import render_summary, summarize_bundle
from riskml.data._validate import QUARANTINE_FRAME_COLUMNS
from riskml.data._write import ARROW_TYPES, EXCEL_MAX_ROWS, write_bundle

__all__ = [
    "ALL_TABLES",
    "ARROW_TYPES",
    "CONCLUSIONS_ZH",
    "EXCEL_MAX_ROWS",
    "FORMULA_TRIGGERS",
    "OPTIONAL_TABLES",
    "OUTCOME_ZH",
    "QUARANTINE_COLUMNS",
    "QUARANTINE_FRAME_COLUMNS",
    "REGISTRATION_CADRE_COLUMNS",
    "REGISTRATION_COLUMNS",
    "REGISTRATION_COLUMN_KEYS",
    "REGISTRATION_FIXED_COLUMNS",
    "REVIEW_OUTCOMES",
    "RISK_TYPES",
    "TABLES",
    "TABLE_ORDER",
    "Bundle",
    "BundleError",
    "CheckResult",
    "Column",
    "ReviewImport",
    "ReviewImportError",
    "TableSchema",
    "check_bundle",
    "check_mapping",
    "default_quarantine_path",
    "empty_frame",
    "import_reviews",
    "load_bundle",
    "load_mapping",
    "neutralise_cell",
    "neutralise_frame",
    "read_registration_files",
    "render_summary",
    "restore_cell",
    "restore_frame",
    "risk_types_zh",
    "summarize_bundle",
    "write_bundle",
    "write_quarantine",
]


def __getattr__(name: str) -> dict[str, str]:
    """``RISK_TYPES_ZH`` / ``RISK_TYPE_ZH`` come from configs/explain.yaml on first use."""
    if name in ("RISK_TYPES_ZH", "RISK_TYPE_ZH"):
        from riskml.data import _reviews

        return getattr(_reviews, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
