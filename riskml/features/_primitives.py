"""What each feature primitive means, which tables and columns it accepts, and what it returns.

This module is the single description of the primitives that the catalog may use; the catalog
loader checks every feature against it and the engine (``_engine.py``) implements each one.
Every time-based primitive sees, for a household as of date ``D``, only the rows of its table
whose time column is on or before ``D - lag_months`` (and after ``D - lag_months -
window_months`` when a window is given): the point-in-time rule of the data contract.

===================  =========================================================================
primitive            value for one (household, as_of)
===================  =========================================================================
``count``            number of selected rows (0 when none)
``exists``           1.0 when at least one row is selected, else 0.0
``sum``              sum of ``column`` over selected rows (missing values count as 0; 0 when none)
``mean``             mean of the non-missing values of ``column`` (NaN when none)
``max`` / ``min``    largest / smallest non-missing value of ``column`` (NaN when none)
``std``              sample standard deviation (ddof=1) of the non-missing values (NaN when < 2)
``count_distinct``   number of distinct values of ``column`` (a missing value counts as one value)
``last``             ``column`` of the selected row with the largest ``order_by`` (ties: the
                     later recorded row); a category for categorical columns
``slope``            least-squares slope of ``column`` against ``order_by`` in units per year
                     (NaN with fewer than 2 distinct ``order_by`` values)
``pct_change``       (last - previous) / abs(previous) over the two rows with the largest
                     ``order_by`` (NaN with < 2 rows or previous = 0)
``share``            sum(``column``) / sum(columns in ``of``) over selected rows (NaN when the
                     denominator is not positive)
``days_since``       days from the latest selected row's time to ``D`` (NaN when none)
``months_since``     the same in months of 30.4375 days
``state_count``      number of keys (``key`` column, or the household) whose latest ``starts``/``ends``
                     row is a ``starts`` row (e.g. members currently away for migrant work)
``member_count``     members belonging to the household on ``D`` (joined_on <= D < left_on), aged
                     ``age_min``..``age_max`` in ``D``'s year, matching ``filters``
``static``           a household registry attribute (category, bool or number)
``age``              ``year(D) - column`` (a birth year)
``years_since``      ``year(D) - column`` when ``column <= year(D)``, else NaN
``ratio``            sum(``numerator`` features) / sum(``denominator`` features); NaN when the
                     denominator is missing or not positive
``context``          a column of the village-context table for the household's village at ``D``
===================  =========================================================================

``last_n`` keeps only the ``last_n`` selected rows with the largest ``order_by`` before
aggregating (e.g. the last three known income years).
"""

from __future__ import annotations

from dataclasses import dataclass

from riskml.data._schema import RISK_TYPES, TABLES

__all__ = [
    "DERIVED_COLUMNS",
    "FEATURE_RISK_TYPES",
    "PRIMITIVES",
    "PROTECTED_COLUMNS",
    "RESERVED_NAMES",
    "TIMED_TABLES",
    "VILLAGE_CONTEXT_COLUMNS",
    "PrimitiveInfo",
]

TIMED_TABLES: tuple[str, ...] = tuple(name for name, t in TABLES.items() if t.time_column)
"""Contract tables with a time column (the point-in-time rule applies row by row)."""

FEATURES_TABLE = "features"
"""Pseudo-table of ``ratio`` features: their inputs are other features."""

VILLAGE_TABLE = "village_context"
"""Pseudo-table of ``context`` features: the point-in-time village-level table."""

FEATURE_RISK_TYPES: tuple[str, ...] = RISK_TYPES
"""Risk types a feature can evidence: exactly the contract's official codes (``riskml.data``);
their wording is in ``configs/explain.yaml``."""

PROTECTED_COLUMNS: frozenset[tuple[str, str]] = frozenset(
    {("households", "head_ethnicity"), ("households", "head_sex")}
)
"""Protected attributes: audit columns only, never model features (nor feature filters)."""

RESERVED_NAMES: frozenset[str] = frozenset(
    {
        "household_id",
        "as_of",
        "label",
        "label_income",
        "county_code",
        "township_code",
        "village_code",
        "value",
    }
)
"""Names a feature may not take (training-set columns and the template field ``value``)."""

DERIVED_COLUMNS: dict[str, dict[str, str]] = {
    "income": {
        "gross_income": "wage + business + property + transfer income (missing parts count as 0)",
        "net_income": "gross_income - business_costs (家庭纯收入)",
        "pc_net_income": "net_income / household_size (家庭人均纯收入)",
        "threshold": "the monitoring threshold of the row's year and the bundle's province",
        "pc_income_to_threshold": "pc_net_income / threshold",
        "max_source_share": "largest of the four income sources / gross_income (one-source dependence)",
        "oop_to_net_income": "oop_medical / net_income (NaN when net_income <= 0)",
    },
}
"""Columns the engine derives from a contract table; the catalog may use them like contract columns."""

VILLAGE_CONTEXT_COLUMNS: dict[str, str] = {
    "households": "households registered in the village",
    "identified_share_recent": "share of the village's households identified in (D - window, D]",
    "monitored_share": "share of the village's households under monitoring on D",
    "mean_pc_income": "mean last known per-capita net income of the village's households",
    "near_threshold_share": "share of households with known income whose last known per-capita net "
    "income is below near_threshold_multiple x that year's threshold",
    "disaster_share_recent": "share of households with a disaster, livestock-loss or crop-failure "
    "event recorded in (D - window, D]",
}
"""Columns of ``village_context(bundle, as_of_dates)`` other than the keys."""


@dataclass(frozen=True)
class PrimitiveInfo:
    """What the catalog loader checks for one primitive."""

    tables: tuple[str, ...]
    column: str
    """'none' (no column), 'numeric', 'any' (category, id, string or number), 'category_or_numeric',
    'year' (an int column), or 'context' (a village-context column)."""
    windowed: bool = True
    """Accepts ``window_months`` / ``lag_months`` / ``last_n`` / ``order_by``."""
    can_be_category: bool = False


PRIMITIVES: dict[str, PrimitiveInfo] = {
    "count": PrimitiveInfo(TIMED_TABLES, "none"),
    "exists": PrimitiveInfo(TIMED_TABLES, "none"),
    "sum": PrimitiveInfo(TIMED_TABLES, "numeric"),
    "mean": PrimitiveInfo(TIMED_TABLES, "numeric"),
    "max": PrimitiveInfo(TIMED_TABLES, "numeric"),
    "min": PrimitiveInfo(TIMED_TABLES, "numeric"),
    "std": PrimitiveInfo(TIMED_TABLES, "numeric"),
    "count_distinct": PrimitiveInfo(TIMED_TABLES, "any"),
    "last": PrimitiveInfo(TIMED_TABLES, "category_or_numeric", can_be_category=True),
    "slope": PrimitiveInfo(TIMED_TABLES, "numeric"),
    "pct_change": PrimitiveInfo(TIMED_TABLES, "numeric"),
    "share": PrimitiveInfo(TIMED_TABLES, "numeric"),
    "days_since": PrimitiveInfo(TIMED_TABLES, "none"),
    "months_since": PrimitiveInfo(TIMED_TABLES, "none"),
    "state_count": PrimitiveInfo(TIMED_TABLES, "any"),
    "member_count": PrimitiveInfo(("members",), "none", windowed=False),
    "static": PrimitiveInfo(
        ("households",), "category_or_numeric", windowed=False, can_be_category=True
    ),
    "age": PrimitiveInfo(("households",), "year", windowed=False),
    "years_since": PrimitiveInfo(("households",), "year", windowed=False),
    "ratio": PrimitiveInfo((FEATURES_TABLE,), "none", windowed=False),
    "context": PrimitiveInfo((VILLAGE_TABLE,), "context", windowed=False),
}
"""Every primitive the catalog may use."""
