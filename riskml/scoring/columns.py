"""The score file's columns in one place: names, dtypes, Chinese headers, value labels.

This is the public score-file contract: `riskml.scoring` writes and reads it, `riskml.reports`
and any other reader of score files import it from here.

Parquet keeps the English names below; CSV and Excel use :data:`HEADER_ZH` and
:data:`VALUE_ZH` so that cadres can read the file in Excel or WPS. :func:`riskml.scoring.read_scores`
maps both back to these names and dtypes.
"""

from __future__ import annotations

import pandas as pd

from riskml.data import OUTCOME_ZH
from riskml.scoring._ids import null_column

__all__ = [
    "BASE_COLUMNS",
    "BOOL_COLUMNS",
    "BOOL_ZH",
    "CHANGE_COLUMNS",
    "CHANGE_VALUES",
    "EVENT_TYPE_ZH",
    "EXPLANATION_COLUMNS",
    "FOLLOWUP_COLUMNS",
    "HEADER_ZH",
    "INCOME_COLUMNS",
    "INTERNAL_ONLY_COLUMNS",
    "INTERNAL_ONLY_REASON_FIELDS",
    "MAX_REASONS",
    "MONITORING_CATEGORY_ZH",
    "PLACE_COLUMNS",
    "REASON_FIELDS",
    "REVIEW_COLUMNS",
    "REVIEW_HOLD_VALUES",
    "SCORE_COLUMNS",
    "STATUS_VALUES",
    "VALUE_ZH",
    "columns_for_mode",
    "empty_scores",
    "reason_column",
    "reason_columns",
    "score_dtypes",
]

MAX_REASONS = 4

STATUS_VALUES = ("scored", "not_eligible", "rejected")
CHANGE_VALUES = (
    "new_flag",
    "no_longer_flagged",
    "score_up",
    "score_down",
    "unchanged",
    "new_household",
)

REVIEW_HOLD_VALUES = ("held_back", "flagged_again")

PLACE_COLUMNS: tuple[str, ...] = ("village_seq", "group_name", "head_name")
"""After ``village_name``: the household's number within its village (1, 2, … by
``household_id``; unique per village, so meeting mode can say 村内编号 12), its 村民小组 and the
head's name (both internal mode only)."""
_NAME_COLUMNS: tuple[str, ...] = ("group_name", "head_name")
"""Names: never in public output, logs or MLflow."""
REVIEW_COLUMNS: tuple[str, ...] = ("review_hold", "last_review_on", "last_review_outcome")
"""After ``flagged``: the household's last review on or before ``as_of`` (``reviews`` table) and,
for a household reviewed as not at risk within ``reviews.review_quiet_months``, whether it was
held back (``flagged`` false) or flagged again (``status_detail`` says why)."""
INCOME_COLUMNS: tuple[str, ...] = (
    "income_below_threshold",
    "income_year",
    "pc_income",
    "threshold",
)
"""The latest verified per-capita net income known on ``as_of`` (income rows recorded on or before
it, latest year), that year's monitoring line of the province, and whether it is below it."""
FOLLOWUP_COLUMNS: tuple[str, ...] = PLACE_COLUMNS + REVIEW_COLUMNS + INCOME_COLUMNS

BASE_COLUMNS: tuple[str, ...] = (
    "household_id",
    "county_code",
    "township_code",
    "village_code",
    "village_name",
    *PLACE_COLUMNS,
    "as_of",
    "status",
    "status_detail",
    "score",
    "raw_score",
    "rank_village",
    "rank_township",
    "tier",
    "flagged",
    *REVIEW_COLUMNS,
    *INCOME_COLUMNS,
)

REASON_FIELDS: tuple[str, ...] = (
    "type",
    "feature",
    "contribution",
    "zh",
    "en",
    "public_zh",
    "public_en",
)
"""Per-reason fields: ``reason_{k}_{field}`` for k = 1..4. ``feature`` is the catalog feature
whose fact the reason states first (traceable to the household's records); ``contribution`` is
the reason's share of the score in log-odds (for ordering and bars, never printed raw)."""

INTERNAL_ONLY_REASON_FIELDS: tuple[str, ...] = ("type", "feature", "zh", "en")
"""Dropped in ``public`` mode: the internal texts, the feature and the risk type (it can reveal
illness)."""

EXPLANATION_COLUMNS: tuple[str, ...] = (
    "context_zh",
    "context_en",
    "measures_zh",
    "measures_en",
    "measures_in_place_zh",
    "measures_in_place_en",
    "public_measures_zh",
    "public_measures_en",
    "public_measures_in_place_zh",
    "public_measures_in_place_en",
)
"""Per household: village context (本村…, never a household fact), up to three suggested
measures weighted by the reasons and the assistance already in place (已享受…), in the internal
register and in the public one (no measure that would reveal a sensitive risk type)."""

INTERNAL_ONLY_COLUMNS: tuple[str, ...] = (
    *_NAME_COLUMNS,
    "measures_zh",
    "measures_en",
    "measures_in_place_zh",
    "measures_in_place_en",
)
"""Household-level columns dropped in ``public`` mode: names (never in public output, logs or
MLflow) and the internal measures (they can reveal illness)."""

CHANGE_COLUMNS: tuple[str, ...] = ("change", "previous_score", "previous_tier")


def reason_column(k: int, field: str) -> str:
    return f"reason_{k}_{field}"


def reason_columns(max_reasons: int = MAX_REASONS) -> tuple[str, ...]:
    return tuple(reason_column(k, f) for k in range(1, max_reasons + 1) for f in REASON_FIELDS)


SCORE_COLUMNS: tuple[str, ...] = (
    BASE_COLUMNS + reason_columns() + EXPLANATION_COLUMNS + CHANGE_COLUMNS
)
"""Every column of an internal score file, in file order."""


def columns_for_mode(mode: str) -> tuple[str, ...]:
    """The columns a score file has in ``mode`` (``internal`` or ``public``)."""
    if mode == "internal":
        return SCORE_COLUMNS
    if mode == "public":
        dropped = {
            reason_column(k, f)
            for k in range(1, MAX_REASONS + 1)
            for f in INTERNAL_ONLY_REASON_FIELDS
        } | set(INTERNAL_ONLY_COLUMNS)
        return tuple(c for c in SCORE_COLUMNS if c not in dropped)
    raise ValueError(f"mode must be 'internal' or 'public', got {mode!r}")


def score_dtypes() -> dict[str, str]:
    """pandas dtype of every score column."""
    dtypes: dict[str, str] = {
        "household_id": "string",
        "county_code": "string",
        "township_code": "string",
        "village_code": "string",
        "village_name": "string",
        "village_seq": "Int64",
        "group_name": "string",
        "head_name": "string",
        "as_of": "datetime64[ns]",
        "status": "string",
        "status_detail": "string",
        "score": "float64",
        "raw_score": "float64",
        "rank_village": "Int64",
        "rank_township": "Int64",
        "tier": "string",
        "flagged": "boolean",
        "review_hold": "string",
        "last_review_on": "datetime64[ns]",
        "last_review_outcome": "string",
        "income_below_threshold": "boolean",
        "income_year": "Int64",
        "pc_income": "float64",
        "threshold": "float64",
        "change": "string",
        "previous_score": "float64",
        "previous_tier": "string",
    }
    for k in range(1, MAX_REASONS + 1):
        for f in REASON_FIELDS:
            dtypes[reason_column(k, f)] = "float64" if f == "contribution" else "string"
    for c in EXPLANATION_COLUMNS:
        dtypes[c] = "string"
    return dtypes


def empty_scores(n: int = 0, columns: tuple[str, ...] = SCORE_COLUMNS) -> pd.DataFrame:
    """A frame of ``n`` all-missing rows with the score file's columns and dtypes."""
    dtypes = score_dtypes()
    blank = {d: null_column(n, d) for d in {dtypes[c] for c in columns}}
    return pd.DataFrame({c: blank[dtypes[c]].copy() for c in columns})


HEADER_ZH: dict[str, str] = {
    "household_id": "户编号",
    "county_code": "旗县代码",
    "township_code": "苏木乡镇代码",
    "village_code": "嘎查村代码",
    "village_name": "嘎查村名称",
    "village_seq": "村内编号",
    "group_name": "村民小组",
    "head_name": "户主姓名",
    "as_of": "评估日期",
    "status": "状态",
    "status_detail": "状态说明",
    "score": "风险概率",
    "raw_score": "原始分",
    "rank_village": "村内排名",
    "rank_township": "乡镇内排名",
    "tier": "风险等级",
    "flagged": "是否预警",
    "review_hold": "核实后预警处理",
    "last_review_on": "最近核实日期",
    "last_review_outcome": "最近核实结论",
    "income_below_threshold": "收入低于监测线",
    "income_year": "收入年份",
    "pc_income": "人均纯收入",
    "threshold": "当年监测线",
    "change": "较上次变化",
    "previous_score": "上次风险概率",
    "previous_tier": "上次风险等级",
}
for _k in range(1, MAX_REASONS + 1):
    HEADER_ZH[reason_column(_k, "type")] = f"风险原因{_k}类型"
    HEADER_ZH[reason_column(_k, "feature")] = f"风险原因{_k}依据指标"
    HEADER_ZH[reason_column(_k, "contribution")] = f"风险原因{_k}贡献值"
    HEADER_ZH[reason_column(_k, "zh")] = f"风险原因{_k}"
    HEADER_ZH[reason_column(_k, "en")] = f"风险原因{_k}(英文)"
    HEADER_ZH[reason_column(_k, "public_zh")] = f"风险原因{_k}(公示用)"
    HEADER_ZH[reason_column(_k, "public_en")] = f"风险原因{_k}(公示用英文)"
del _k
HEADER_ZH.update(
    {
        "context_zh": "本村情况",
        "context_en": "本村情况(英文)",
        "measures_zh": "建议帮扶措施",
        "measures_en": "建议帮扶措施(英文)",
        "measures_in_place_zh": "已享受帮扶",
        "measures_in_place_en": "已享受帮扶(英文)",
        "public_measures_zh": "建议帮扶措施(公示用)",
        "public_measures_en": "建议帮扶措施(公示用英文)",
        "public_measures_in_place_zh": "已享受帮扶(公示用)",
        "public_measures_in_place_en": "已享受帮扶(公示用英文)",
    }
)

VALUE_ZH: dict[str, dict[str, str]] = {
    "status": {"scored": "已评分", "not_eligible": "已纳入监测", "rejected": "数据有误未评分"},
    "tier": {"high": "高", "medium": "中", "low": "低"},
    "previous_tier": {"high": "高", "medium": "中", "low": "低"},
    "change": {
        "new_flag": "新预警",
        "no_longer_flagged": "解除预警",
        "score_up": "风险上升",
        "score_down": "风险下降",
        "unchanged": "无明显变化",
        "new_household": "新增农户",
    },
    "review_hold": {"held_back": "核实后暂缓预警", "flagged_again": "核实后再次预警"},
    "last_review_outcome": dict(OUTCOME_ZH),
}
"""Value labels used in CSV/Excel (Parquet keeps the codes); read back by ``read_scores``."""

BOOL_ZH = {True: "是", False: "否"}
BOOL_COLUMNS: tuple[str, ...] = ("flagged", "income_below_threshold")
"""Boolean columns, written 是/否 in CSV/Excel."""

EVENT_TYPE_ZH: dict[str, str] = {
    "hospitalization": "住院",
    "serious_illness": "患大病",
    "chronic_illness": "慢性病",
    "disability": "残疾",
    "death": "死亡",
    "birth": "出生",
    "medical_bill": "医疗费用",
    "school_enrollment": "入学",
    "school_dropout": "辍学",
    "job_loss": "失业",
    "migrant_work_start": "外出务工",
    "migrant_work_end": "务工返乡",
    "natural_disaster": "自然灾害",
    "livestock_loss": "牲畜损失",
    "crop_failure": "农作物绝收",
    "accident": "意外事故",
    "housing_damage": "房屋损毁",
    "business_failure": "经营失败",
    "dibao_granted": "纳入低保",
    "dibao_ended": "退出低保",
    "temporary_assistance": "临时救助",
}
"""Chinese names of the contract's event types (for ``status_detail``)."""

MONITORING_CATEGORY_ZH: dict[str, str] = {
    "unstable_exited": "脱贫不稳定户",
    "edge": "边缘易致贫户",
    "sudden_hardship": "突发严重困难户",
}
"""Chinese names of the contract's monitoring categories (for ``status_detail``)."""
