"""Verification sheets (入户核实表): one printed page per flagged household, internal mode only.

A unit's sheets are a separate document beside its list, ``units/<stem>.verification.html``
(and ``.verification.pdf`` with ``--format pdf``): cadres print the sheets they take on the visit
without reprinting the list, and the list's PDF stays short. Each sheet starts on a new page
(CSS ``break-before: page``) and shows:

- who: household id, 村内编号, village, group (村民小组) and head where known, tier and rank;
- the facts behind its reasons (the reason texts carry their data year) and the village context;
- its income against that year's monitoring line, when known;
- its last review, if any (and whether the quiet period held it back or it was flagged again);
- the suggested measures and those already in place;
- a checklist chosen by its reasons' risk types (``configs/verification.yaml``);
- tick boxes for the conclusion (exactly :data:`riskml.data.CONCLUSIONS_ZH`) and the risk type,
  the review vote (赞成/反对/弃权) and signatures with dates.

Verification sheets hold health facts and names, so public (meeting) mode never writes them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from riskml.config.verification import VerificationConfig

__all__ = ["verification_records"]


def _missing(v: Any) -> bool:
    return v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v))


def _income_line(row: pd.Series, t: dict[str, Any]) -> str:
    year, income, line = row.get("income_year"), row.get("pc_income"), row.get("threshold")
    if _missing(year) or _missing(income):
        return str(t["v_no_income"])
    text = str(t["v_income"]).format(year=int(year), income=f"{float(income):,.0f}")
    if not _missing(line):
        text += str(t["v_income_line"]).format(threshold=f"{float(line):,.0f}")
        below = row.get("income_below_threshold")
        if not _missing(below):
            text += str(t["v_below"] if bool(below) else t["v_not_below"])
    return text


def verification_records(
    fl: pd.DataFrame,
    households: list[dict[str, Any]],
    *,
    lang: str,
    t: dict[str, Any],
    config: VerificationConfig,
) -> list[dict[str, Any]]:
    """One record per flagged household of a unit (``households`` from ``household_records``,
    same order as ``fl``), with what its sheet adds: group, head, number, income, checklist."""
    from riskml.scoring.columns import MAX_REASONS, reason_column

    out = []
    for (_, row), h in zip(fl.iterrows(), households, strict=True):
        types = [
            str(row[reason_column(k, "type")])
            for k in range(1, MAX_REASONS + 1)
            if reason_column(k, "type") in row.index and not _missing(row[reason_column(k, "type")])
        ]
        out.append(
            {
                **h,
                "household_id": str(row["household_id"]),
                "seq": "" if _missing(row.get("village_seq")) else int(row["village_seq"]),
                "group": "" if _missing(row.get("group_name")) else str(row["group_name"]),
                "head": "" if _missing(row.get("head_name")) else str(row["head_name"]),
                "income": _income_line(row, t),
                "questions": config.questions(types, lang),
            }
        )
    return out
