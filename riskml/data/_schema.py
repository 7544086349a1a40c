"""The household-history data contract (``docs/data-contract.md``) in one place.

Every other module reads table and column definitions from here; nothing else hard-codes them.

In-memory types after loading:

=========  =====================================================
kind       pandas dtype
=========  =====================================================
id/string  ``string`` (pyarrow-backed)
category   ``category`` whose categories are the contract vocabulary
int        ``Int64`` (nullable)
money      ``float64`` (yuan)
date       ``datetime64[ns]`` (midnight; ``NaT`` when empty)
bool       ``boolean`` (nullable)
=========  =====================================================
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "ALL_TABLES",
    "ASSISTANCE_MEASURES",
    "DISASTER_KINDS",
    "EVENT_TYPES",
    "MONITORING_CATEGORIES",
    "OPTIONAL_TABLES",
    "REVIEW_OUTCOMES",
    "RISK_TYPES",
    "TABLES",
    "TABLE_ORDER",
    "Column",
    "TableSchema",
]

Kind = Literal["id", "string", "category", "int", "money", "date", "bool"]

LIVELIHOODS = ("farming", "pastoral", "agro_pastoral", "wage", "mixed")
SEXES = ("M", "F")
RELATIONS = ("head", "spouse", "child", "parent", "grandchild", "other")
EDUCATION = ("none", "primary", "junior", "senior", "college")
EVENT_TYPES = (
    "hospitalization",
    "serious_illness",
    "chronic_illness",
    "disability",
    "death",
    "birth",
    "medical_bill",
    "school_enrollment",
    "school_dropout",
    "job_loss",
    "migrant_work_start",
    "migrant_work_end",
    "natural_disaster",
    "livestock_loss",
    "crop_failure",
    "accident",
    "housing_damage",
    "business_failure",
    "dibao_granted",
    "dibao_ended",
    "temporary_assistance",
)
DISASTER_KINDS = ("drought", "flood", "snow", "hail", "sandstorm")
ASSISTANCE_MEASURES = (
    "industry",
    "employment",
    "public_welfare_job",
    "microcredit",
    "health",
    "education",
    "housing",
    "dibao",
    "social_assistance",
    "pv_dividend",
    "ecological_compensation",
    "relocation",
)
MONITORING_CATEGORIES = ("unstable_exited", "edge", "sudden_hardship")
RISK_TYPES = (
    "illness",
    "disability",
    "disaster",
    "accident",
    "labor_shortage",
    "industry_failure",
    "unstable_employment",
    "education",
    "other",
)
ELIMINATION_METHODS = ("assisted", "natural")
REVIEW_OUTCOMES = ("identified", "not_at_risk", "already_monitored", "unreachable")
"""Outcomes of a household review (入户核实 / 民主评议): made a monitoring object (纳入监测对象),
found not at risk (暂不纳入), already a monitoring object (已是监测对象), not reachable (无法核实)."""


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind
    required: bool = False
    vocab: tuple[str, ...] | None = None
    nonnegative: bool = False
    min_value: float | None = None
    description: str = ""


@dataclass(frozen=True)
class TableSchema:
    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    """Columns that identify a row uniquely (empty = no uniqueness rule)."""
    time_column: str | None = None
    """The column that says when a row became known (point-in-time rule)."""
    date_columns_order: tuple[tuple[str, str], ...] = field(default=())
    """Pairs (earlier, later) that must be ordered when both are present."""

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"table '{self.name}' has no column '{name}' in the contract")


def _money(name: str, description: str = "", required: bool = False) -> Column:
    return Column(name, "money", required=required, nonnegative=True, description=description)


HOUSEHOLDS = TableSchema(
    name="households",
    columns=(
        Column("household_id", "id", required=True, description="户编号"),
        Column("county_code", "id", required=True, description="旗县"),
        Column("township_code", "id", required=True, description="苏木乡镇"),
        Column("village_code", "id", required=True, description="嘎查村"),
        Column("village_name", "string"),
        Column("group_name", "string", description="村民小组; internal-mode output only"),
        Column("head_name", "string", description="户主姓名; internal-mode output only"),
        Column("head_sex", "category", vocab=SEXES),
        Column("head_birth_year", "int", min_value=1900),
        Column("head_ethnicity", "string", description="fairness audits only, never a feature"),
        Column("poverty_exit_year", "int", min_value=1978),
        Column("relocated", "bool"),
        Column("livelihood", "category", vocab=LIVELIHOODS),
    ),
    key=("household_id",),
)

MEMBERS = TableSchema(
    name="members",
    columns=(
        Column("household_id", "id", required=True),
        Column("member_id", "id", required=True),
        Column("sex", "category", required=True, vocab=SEXES),
        Column("birth_year", "int", required=True, min_value=1900),
        Column("relation", "category", vocab=RELATIONS),
        Column("education", "category", vocab=EDUCATION),
        Column("joined_on", "date"),
        Column("left_on", "date"),
    ),
    key=("member_id",),
    date_columns_order=(("joined_on", "left_on"),),
)

INCOME = TableSchema(
    name="income",
    columns=(
        Column("household_id", "id", required=True),
        Column("year", "int", required=True, min_value=1978),
        Column("recorded_on", "date", required=True),
        Column("household_size", "int", required=True, min_value=1),
        _money("wage_income", "工资性收入"),
        _money("business_income", "生产经营性收入"),
        _money("property_income", "财产性收入"),
        _money("transfer_income", "转移性收入"),
        _money("business_costs", "生产经营性支出"),
        _money("oop_medical", "合规自付医疗支出"),
    ),
    key=("household_id", "year"),
    time_column="recorded_on",
)

EVENTS = TableSchema(
    name="events",
    columns=(
        Column("household_id", "id", required=True),
        Column("event_date", "date", required=True),
        Column("event_type", "category", required=True, vocab=EVENT_TYPES),
        Column("member_id", "id"),
        Column("recorded_on", "date"),
        _money("amount"),
        Column("detail", "string"),
    ),
    key=(),
    time_column="recorded_on",
    date_columns_order=(("event_date", "recorded_on"),),
)

ASSISTANCE = TableSchema(
    name="assistance",
    columns=(
        Column("household_id", "id", required=True),
        Column("measure", "category", required=True, vocab=ASSISTANCE_MEASURES),
        Column("start_date", "date", required=True),
        Column("end_date", "date"),
        _money("amount"),
    ),
    key=(),
    time_column="start_date",
    date_columns_order=(("start_date", "end_date"),),
)

MONITORING = TableSchema(
    name="monitoring",
    columns=(
        Column("household_id", "id", required=True),
        Column("identified_on", "date", required=True),
        Column("category", "category", required=True, vocab=MONITORING_CATEGORIES),
        Column("risk_1", "category", vocab=RISK_TYPES),
        Column("risk_2", "category", vocab=RISK_TYPES),
        Column("risk_3", "category", vocab=RISK_TYPES),
        Column("eliminated_on", "date"),
        Column("elimination_method", "category", vocab=ELIMINATION_METHODS),
    ),
    key=("household_id", "identified_on"),
    time_column="identified_on",
    date_columns_order=(("identified_on", "eliminated_on"),),
)

REVIEWS = TableSchema(
    name="reviews",
    columns=(
        Column("household_id", "id", required=True),
        Column("reviewed_on", "date", required=True, description="核实日期"),
        Column("outcome", "category", required=True, vocab=REVIEW_OUTCOMES, description="核实结论"),
        Column("risk_type", "category", vocab=RISK_TYPES, description="风险类型"),
        Column("note", "string", description="备注"),
    ),
    key=("household_id", "reviewed_on", "outcome"),
    time_column="reviewed_on",
)

TABLES: dict[str, TableSchema] = {
    t.name: t for t in (HOUSEHOLDS, MEMBERS, INCOME, EVENTS, ASSISTANCE, MONITORING)
}
"""The history tables every bundle has (a file each, or declared missing by a mapping)."""
TABLE_ORDER: tuple[str, ...] = tuple(TABLES)
OPTIONAL_TABLES: dict[str, TableSchema] = {REVIEWS.name: REVIEWS}
"""Tables a bundle may hold: no file means an empty table. ``reviews`` records what cadres
decided about listed households (``riskml reviews import``); it is never a feature source."""
ALL_TABLES: dict[str, TableSchema] = {**TABLES, **OPTIONAL_TABLES}
