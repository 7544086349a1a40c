"""The score file's columns in one place: names, dtypes, Chinese headers, value labels.

This is the public score-file contract: `riskml.scoring` writes and reads it, `riskml.reports`
and any other reader of score files import it from here.

Parquet keeps the English names below; CSV and Excel use :data:`HEADER_ZH` and
:data:`VALUE_ZH` so that cadres can read the file in Excel or WPS. :func:`riskml.scoring.read_scores`
maps both back to these names and dtypes.
"""

from __future__ import annotations

import pandas as pd

__all__ = [
    "BASE_COLUMNS",
    "BOOL_ZH",
    "CHANGE_COLUMNS",
    "CHANGE_VALUES",
    "HEADER_ZH",
    "INTERNAL_ONLY_REASON_FIELDS",
    "MAX_REASONS",
    "MONITORING_CATEGORY_ZH",
    "REASON_FIELDS",
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

BASE_COLUMNS: tuple[str, ...] = (
    "household_id",
    "county_code",
    "township_code",
    "village_code",
    "village_name",
    "as_of",
    "status",
    "status_detail",
    "score",
    "raw_score",
    "rank_village",
    "rank_township",
    "tier",
    "flagged",
)

REASON_FIELDS: tuple[str, ...] = (
    "type",
    "contribution",
    "zh",
    "en",
    "public_zh",
    "public_en",
    "measures_zh",
    "measures_en",
)
"""Per-reason fields: ``reason_{k}_{field}`` for k = 1..4."""

INTERNAL_ONLY_REASON_FIELDS: tuple[str, ...] = ("type", "zh", "en")
"""Dropped in ``public`` mode: the internal texts and the risk type (it can reveal illness)."""

CHANGE_COLUMNS: tuple[str, ...] = ("change", "previous_score", "previous_tier")


def reason_column(k: int, field: str) -> str:
    return f"reason_{k}_{field}"


def reason_columns(max_reasons: int = MAX_REASONS) -> tuple[str, ...]:
    return tuple(reason_column(k, f) for k in range(1, max_reasons + 1) for f in REASON_FIELDS)


SCORE_COLUMNS: tuple[str, ...] = BASE_COLUMNS + reason_columns() + CHANGE_COLUMNS
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
        }
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
        "as_of": "datetime64[ns]",
        "status": "string",
        "status_detail": "string",
        "score": "float64",
        "raw_score": "float64",
        "rank_village": "Int64",
        "rank_township": "Int64",
        "tier": "string",
        "flagged": "boolean",
        "change": "string",
        "previous_score": "float64",
        "previous_tier": "string",
    }
    for k in range(1, MAX_REASONS + 1):
        for f in REASON_FIELDS:
            dtypes[reason_column(k, f)] = "float64" if f == "contribution" else "string"
    return dtypes


def empty_scores(n: int = 0, columns: tuple[str, ...] = SCORE_COLUMNS) -> pd.DataFrame:
    """A frame of ``n`` all-missing rows with the score file's columns and dtypes."""
    dtypes = score_dtypes()
    return pd.DataFrame({c: pd.Series([None] * n, dtype=dtypes[c]) for c in columns})


HEADER_ZH: dict[str, str] = {
    "household_id": "户编号",
    "county_code": "旗县代码",
    "township_code": "苏木乡镇代码",
    "village_code": "嘎查村代码",
    "village_name": "嘎查村名称",
    "as_of": "评估日期",
    "status": "状态",
    "status_detail": "状态说明",
    "score": "风险概率",
    "raw_score": "原始分",
    "rank_village": "村内排名",
    "rank_township": "乡镇内排名",
    "tier": "风险等级",
    "flagged": "是否预警",
    "change": "较上次变化",
    "previous_score": "上次风险概率",
    "previous_tier": "上次风险等级",
}
for _k in range(1, MAX_REASONS + 1):
    HEADER_ZH[reason_column(_k, "type")] = f"风险原因{_k}类型"
    HEADER_ZH[reason_column(_k, "contribution")] = f"风险原因{_k}贡献值"
    HEADER_ZH[reason_column(_k, "zh")] = f"风险原因{_k}"
    HEADER_ZH[reason_column(_k, "en")] = f"风险原因{_k}(英文)"
    HEADER_ZH[reason_column(_k, "public_zh")] = f"风险原因{_k}(公示用)"
    HEADER_ZH[reason_column(_k, "public_en")] = f"风险原因{_k}(公示用英文)"
    HEADER_ZH[reason_column(_k, "measures_zh")] = f"建议帮扶措施{_k}"
    HEADER_ZH[reason_column(_k, "measures_en")] = f"建议帮扶措施{_k}(英文)"
del _k

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
}
"""Value labels used in CSV/Excel (Parquet keeps the codes); read back by ``read_scores``."""

BOOL_ZH = {True: "是", False: "否"}

MONITORING_CATEGORY_ZH: dict[str, str] = {
    "unstable_exited": "脱贫不稳定户",
    "edge": "边缘易致贫户",
    "sudden_hardship": "突发严重困难户",
}
"""Chinese names of the contract's monitoring categories (for ``status_detail``)."""
