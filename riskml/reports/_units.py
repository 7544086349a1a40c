"""Per-unit data for the review reports, computed once for the whole roster with pandas.

Counts by unit, the flagged households in rank order with their reasons, reasons by risk type
(internal) or by public wording (public), the households no longer flagged, the rejected ones,
and the sub-units of a township or county. Each unit's page then gets its slice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from riskml.config.reports import ReportsConfig
from riskml.reports._labels import risk_type_labels
from riskml.reports._output import safe_filename, unique_stems
from riskml.reports._scorefile import TIERS, ScoreFile

__all__ = [
    "UNIT_COLUMN",
    "Prepared",
    "household_records",
    "prepare_units",
    "registration_rows",
    "sensitive_texts",
]

UNIT_COLUMN = {"village": "village_code", "township": "township_code", "county": "county_code"}
_SUB_LEVEL = {"township": "village", "county": "township"}


def _pct(score: pd.Series) -> pd.Series:
    pct = (score * 100).round(0)
    text = pct.map(lambda v: f"{v:.0f}%", na_action="ignore")
    return text.where(~((score < 0.01) & (score > 0)), "<1%").astype(object)


@dataclass
class Prepared:
    by_type: bool  # reasons counted by official risk type (internal) or by public wording
    units: pd.DataFrame  # one row per unit: code, name, counts, stem
    flagged: dict[str, pd.DataFrame]
    no_longer: dict[str, pd.DataFrame]
    rejected: dict[str, pd.DataFrame]
    reasons: dict[str, list[dict[str, Any]]]  # unit -> reasons of flagged households, long
    reasons_by_type: dict[str, pd.DataFrame]
    subunits: dict[str, pd.DataFrame]


def _counts(df: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    status = df["status"].astype("string")
    flagged = df["flagged"].fillna(False).astype(bool)
    tier = df["tier"].astype("string")
    change = df["change"].astype("string")
    parts = pd.DataFrame(
        {
            "total": 1,
            "scored": (status == "scored").to_numpy(),
            "not_eligible": (status == "not_eligible").to_numpy(),
            "rejected": (status == "rejected").to_numpy(),
            "flagged": flagged.to_numpy(),
            "new_flags": (
                flagged & change.isin(["new_flag", "new_household"]).fillna(False)
            ).to_numpy(),
            "no_longer": (change == "no_longer_flagged").fillna(False).to_numpy(),
            **{code: (flagged & (tier == code).fillna(False)).to_numpy() for code in TIERS},
        },
        index=df.index,
    )
    for k in keys:
        parts[k] = df[k].astype("string").to_numpy()
    return parts.groupby(keys, sort=True).sum().astype(int).reset_index()


def prepare_units(
    sf: ScoreFile, level: str, lang: str, mode: str, config: ReportsConfig
) -> Prepared:
    from riskml.scoring._columns import MAX_REASONS, reason_column

    t = config.text[lang]  # type: ignore[index]
    df = sf.frame
    unit_col = UNIT_COLUMN[level]
    df = df.assign(_unit=df[unit_col].astype("string"))
    village_name = df["village_name"].astype("string").fillna(df["village_code"].astype("string"))
    df["_village"] = village_name

    units = _counts(df, ["_unit"])
    if level == "village":
        names = df.groupby("_unit", sort=True)["_village"].first()
        units["name"] = units["_unit"].map(names).fillna(units["_unit"]).astype(str)
    else:
        units["name"] = units["_unit"].astype(str)
    stems = [
        safe_filename(code, fallback="unit") + ("" if name == code else "_" + safe_filename(name))
        for code, name in zip(units["_unit"], units["name"], strict=True)
    ]
    units["stem"] = unique_stems(stems)

    # household id as shown: masked in public mode (a public file is masked already)
    ids = df["household_id"].astype("string")
    if mode == "public" and sf.mode == "internal":
        visible = config.masked_id_visible_chars
        ids = ("******" + (ids.str[-visible:] if visible else "")).astype("string")
    df["_id"] = ids
    tiers_t: dict[str, str] = t["tiers"]  # type: ignore[assignment]
    changes_t: dict[str, str] = t["changes"]  # type: ignore[assignment]
    previous_word = str(t["previous"])
    df["_score"] = _pct(df["score"])
    change = df["change"].astype("string").fillna("na")
    df["_change"] = change
    df["_change_label"] = change.map(changes_t).fillna(change)
    prev_tier = df["previous_tier"].astype("string").map(tiers_t)
    prev_text = (previous_word + ": " + prev_tier.fillna("—")).astype("string")
    show_score = mode == "internal" or config.public_show_score
    if show_score:
        prev_text = prev_text.where(
            df["previous_score"].isna(),
            prev_text + ", " + _pct(df["previous_score"]).astype("string"),
        )
    df["_change_detail"] = prev_text.where(change != "new_household", "").fillna("")

    flagged_mask = df["flagged"].fillna(False).astype(bool)
    sort_rank = {"village": "rank_village", "township": "rank_township", "county": None}[level]
    fl = df[flagged_mask].copy()
    if sort_rank is not None:
        fl["_rank"] = fl[sort_rank].astype("Float64")
        fl = fl.sort_values(
            ["_unit", "_rank", "score"],
            ascending=[True, True, False],
            na_position="last",
            kind="mergesort",
        )
        missing_rank = fl["_rank"].isna()
        fl["_rank"] = fl["_rank"].astype(object).where(~missing_rank, None)
        if missing_rank.any():  # rank absent: position within the unit
            pos = fl.groupby("_unit").cumcount() + 1
            fl.loc[missing_rank, "_rank"] = pos[missing_rank]
    else:
        fl = fl.sort_values(["_unit", "score"], ascending=[True, False], kind="mergesort")
        fl["_rank"] = fl.groupby("_unit").cumcount() + 1
    fl["_rank"] = fl["_rank"].map(lambda v: int(v))

    # reasons, long: one row per (flagged household, reason)
    type_labels = risk_type_labels(lang)
    colors = config.chart.risk_type_colors
    text_field = lang if mode == "internal" else f"public_{lang}"

    # measures and village context are per household; a public report shows the public
    # register (an internal measure such as 医疗救助 would reveal a sensitive risk type)
    prefix = "" if mode == "internal" else "public_"
    for src, dst in (
        (f"{prefix}measures_{lang}", "_measures"),
        (f"{prefix}measures_in_place_{lang}", "_in_place"),
        (f"context_{lang}", "_context"),
    ):
        fl[dst] = fl[src].astype("string") if src in fl.columns else pd.NA

    long_parts = []
    for k in range(1, MAX_REASONS + 1):
        part = pd.DataFrame(
            {
                "_row": fl.index.to_numpy(),
                "_unit": fl["_unit"].to_numpy(),
                "k": k,
                "type": fl[reason_column(k, "type")].astype("string").to_numpy()
                if sf.has_risk_types
                else pd.NA,
                "contribution": fl[reason_column(k, "contribution")].to_numpy(dtype=float),
                "text": fl[reason_column(k, text_field)].astype("string").to_numpy(),
            }
        )
        long_parts.append(part)
    long = pd.concat(long_parts, ignore_index=True) if long_parts else pd.DataFrame()
    if len(long):
        long = long[long["text"].notna() | long["type"].notna()]
        long["type"] = long["type"].astype("string")
        long["type_label"] = long["type"].map(type_labels).fillna(long["type"]).astype(object)
        long["color"] = long["type"].map(colors).fillna(config.chart.other_color).astype(object)
        long["text"] = long["text"].fillna(long["type_label"]).astype(object)
        unit_max = long.groupby("_unit")["contribution"].transform("max")
        long["bar_pct"] = (
            (100 * long["contribution"].clip(lower=0) / unit_max.where(unit_max > 0))
            .round(1)
            .fillna(0.0)
        )
        long = long.sort_values(["_row", "k"], kind="mergesort")

    # Reasons among flagged households: internal reports count official risk types; public ones
    # count the public wording, which explain keeps free of sensitive types (因病 and 因残 are
    # health data: their public wording must not reveal them, so neither may a public chart).
    by_type = mode == "internal" and sf.has_risk_types
    if len(long):
        key = "type_label" if by_type else "text"
        rbt = (
            long.drop_duplicates(["_row", key])
            .groupby(["_unit", key], sort=False)
            .agg(households=("_row", "size"), color=("color", "first"), type=("type", "first"))
            .reset_index()
            .rename(columns={key: "label"})
            .sort_values(
                ["_unit", "households", "label"], ascending=[True, False, True], kind="mergesort"
            )
        )
        if not by_type:
            rbt["color"] = "#2f6f9f"
        reasons_by_type = {u: g for u, g in rbt.groupby("_unit", sort=False)}
        reasons = {u: g.to_dict("records") for u, g in long.groupby("_unit", sort=False)}
    else:
        reasons_by_type, reasons = {}, {}

    nl = df[(df["_change"] == "no_longer_flagged") & ~flagged_mask]
    rejected = df[df["status"].astype("string") == "rejected"]
    subunits: dict[str, pd.DataFrame] = {}
    if level in _SUB_LEVEL:
        sub_col = UNIT_COLUMN[_SUB_LEVEL[level]]
        sub = _counts(df, ["_unit", sub_col])
        if _SUB_LEVEL[level] == "village":
            vnames = df.groupby(sub_col, sort=True)["_village"].first()
            sub["name"] = sub[sub_col].map(vnames).fillna(sub[sub_col]).astype(str)
        else:
            sub["name"] = sub[sub_col].astype(str)
        sub["code"] = sub[sub_col]
        subunits = {u: g for u, g in sub.groupby("_unit", sort=False)}
    return Prepared(
        by_type=by_type,
        units=units,
        flagged={u: g for u, g in fl.groupby("_unit", sort=False)},
        no_longer={u: g for u, g in nl.groupby("_unit", sort=False)},
        rejected={u: g for u, g in rejected.groupby("_unit", sort=False)},
        reasons=reasons,
        reasons_by_type=reasons_by_type,
        subunits=subunits,
    )


def _split(value: Any, separator: str) -> list[str]:
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return []
    return [m.strip() for m in str(value).split(separator) if m.strip()]


def household_records(
    fl: pd.DataFrame, reasons: list[dict[str, Any]], separator: str
) -> list[dict[str, Any]]:
    if fl.empty:
        return []
    by_row: dict[Any, list[dict[str, Any]]] = {}
    for r in reasons:
        by_row.setdefault(r["_row"], []).append(
            {
                "type": None if pd.isna(r["type"]) else r["type"],
                "type_label": None if pd.isna(r["type"]) else r["type_label"],
                "text": r["text"],
                "contribution": None if pd.isna(r["contribution"]) else float(r["contribution"]),
                "bar_pct": r["bar_pct"],
                "color": r["color"],
            }
        )
    out = []
    cols = [
        "_rank",
        "_id",
        "_village",
        "tier",
        "_score",
        "_change",
        "_change_label",
        "_change_detail",
        "_measures",
        "_in_place",
        "_context",
    ]
    for row, (
        rank,
        hid,
        village,
        tier,
        score,
        change,
        change_label,
        detail,
        measures,
        in_place,
        context,
    ) in zip(fl.index, fl[cols].itertuples(index=False, name=None), strict=True):
        rs = by_row.get(row, [])
        out.append(
            {
                "rank": rank,
                "id": hid,
                "village": village,
                "tier": None if pd.isna(tier) else tier,
                "score": ""
                if score is None or (isinstance(score, float) and np.isnan(score))
                else score,
                "change": change,
                "change_label": change_label,
                "change_detail": detail,
                "reasons": rs,
                "measures": _split(measures, separator),
                "in_place": _split(in_place, separator),
                "context": None if context is None or context is pd.NA else str(context),
            }
        )
    return out


def sensitive_texts(sf: ScoreFile, rows: pd.DataFrame) -> list[str]:
    """Internal reason texts of ``rows`` that are not also public wording or measures."""
    if sf.mode != "internal" or rows.empty:
        return []
    from riskml.scoring._columns import MAX_REASONS, reason_column

    internal: set[str] = set()
    public: set[str] = set()
    for k in range(1, MAX_REASONS + 1):
        for f in ("zh", "en"):
            internal.update(rows[reason_column(k, f)].dropna().astype(str).unique().tolist())
        for f in ("public_zh", "public_en"):
            public.update(rows[reason_column(k, f)].dropna().astype(str).unique().tolist())
    for c in ("public_measures_zh", "public_measures_en", "context_zh", "context_en"):
        if c in rows.columns:
            public.update(rows[c].dropna().astype(str).unique().tolist())
    return sorted(internal - public)


def _cell(value: Any) -> str | None:
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return None
    text = str(value).strip()
    return text or None


def registration_rows(fl: pd.DataFrame) -> list[list[Any]]:
    """The 核实登记表 rows of a unit's flagged households (internal mode), in rank order.

    In :data:`riskml.data.REGISTRATION_FIXED_COLUMNS` order: full household id, village, 村民小组
    (when known), tier (高/中/低), rank, the internal reason texts (facts with their data year)
    joined with "；", and the suggested measures. The workbook is a Chinese form whatever the
    report language.
    """
    from riskml.scoring._columns import MAX_REASONS, VALUE_ZH, reason_column

    if fl.empty:
        return []
    tiers = VALUE_ZH["tier"]
    out: list[list[Any]] = []
    reason_cols = [reason_column(k, "zh") for k in range(1, MAX_REASONS + 1)]
    group = fl["group_name"] if "group_name" in fl.columns else pd.Series(None, index=fl.index)
    for hid, village, grp, tier, rank, measures, *reasons in zip(
        fl["household_id"].astype("string"),
        fl["_village"],
        group,
        fl["tier"].astype("string"),
        fl["_rank"],
        fl["measures_zh"] if "measures_zh" in fl.columns else [None] * len(fl),
        *[fl[c] if c in fl.columns else [None] * len(fl) for c in reason_cols],
        strict=True,
    ):
        texts = [t for t in (_cell(r) for r in reasons) if t]
        out.append(
            [
                _cell(hid),
                _cell(village),
                _cell(grp),
                tiers.get(str(tier), _cell(tier)) if _cell(tier) else None,
                int(rank),
                "；".join(texts) or None,
                _cell(measures),
            ]
        )
    return out
