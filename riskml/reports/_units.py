"""Per-unit data for the review reports, computed once for the whole roster with pandas.

Counts by unit, the flagged households in rank order with their reasons, reasons by risk type
(internal) or by public wording (public), the households no longer flagged, the rejected ones,
and the sub-units of a township or county. Each unit's page then gets its slice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from riskml.config.reports import ReportsConfig
from riskml.reports._labels import risk_type_labels
from riskml.reports._output import safe_filename, unique_stems
from riskml.reports._scorefile import TIERS, ScoreFile
from riskml.scoring.columns import MAX_REASONS, VALUE_ZH, reason_column

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


def _is_missing(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value))


def _dates(values: pd.Series) -> pd.Series:
    """``YYYY-MM-DD`` text of a date column (missing stays missing)."""
    return pd.to_datetime(values).dt.strftime("%Y-%m-%d").astype("string")


def outcome_labels(lang: str, t: dict[str, Any]) -> dict[str, str]:
    """``reviews.outcome`` -> its label: the 核实结论 names themselves in Chinese (one source,
    :data:`riskml.data.OUTCOME_ZH`), ``configs/reports.yaml`` ``outcomes`` in English."""
    from riskml.data import OUTCOME_ZH

    return dict(OUTCOME_ZH) if lang == "zh" else dict(t["outcomes"])


def _identify(df: pd.DataFrame, t: dict[str, Any], mode: str) -> None:
    """Add what identifies a household on the page, and its last review.

    ``_shown``: meeting (public) mode shows the village-local number 村内编号 N (unique within
    the village; the masked id is not) and falls back to the masked id when the score file has
    no number; internal mode shows the full id. ``_sub`` (internal only): 村内编号 N, the group
    (村民小组) where known and the head's name. ``_review``: the last review's date and outcome
    (both modes: the outcome is not sensitive). ``_hold``: 核实后暂缓/再次提示.
    """
    seq = (
        pd.to_numeric(df["village_seq"], errors="coerce").astype("Int64")
        if "village_seq" in df.columns
        else pd.Series(pd.NA, index=df.index, dtype="Int64")
    )
    df["_seq"] = seq
    before, _, after = str(t["village_seq_label"]).partition("{n}")
    seq_text = (before + seq.astype("string") + after).astype("string")
    df["_seq_text"] = seq_text
    if mode == "public":
        df["_shown"] = seq_text.fillna(df["_id"])
        df["_sub"] = ""
    else:
        df["_shown"] = df["_id"]
        parts = [seq_text]
        if "group_name" in df.columns:
            parts.append(df["group_name"].astype("string").str.strip().replace("", pd.NA))
        if "head_name" in df.columns:
            head = df["head_name"].astype("string").str.strip().replace("", pd.NA)
            parts.append((str(t["head_label"]) + " " + head).astype("string"))
        joined = pd.Series("", index=df.index, dtype="string")
        for part in parts:  # " · ".join of the known parts, vectorised
            part = part.astype("string")
            with_sep = (joined + " · " + part).where(joined != "", part)
            joined = with_sep.where(part.notna(), joined)
        df["_sub"] = joined.fillna("").astype(object)
    outcomes = outcome_labels(str(t.get("_lang", "zh")), t)
    if "last_review_on" in df.columns:
        date = _dates(df["last_review_on"])
        outcome = df["last_review_outcome"].astype("string")
        label = outcome.map(outcomes).fillna(outcome).fillna("")
        review = (str(t["last_review"]) + "：" + date + " " + label).str.strip()
        df["_review"] = review.where(date.notna(), "").fillna("").astype(object)
    else:
        df["_review"] = ""
    holds: dict[str, str] = t["review_hold"]  # type: ignore[assignment]
    hold = df["review_hold"].astype("string") if "review_hold" in df.columns else None
    df["_hold"] = "" if hold is None else hold.map(holds).fillna("").astype(object)
    detail = df["status_detail"].astype("string").fillna("")
    df["_hold_detail"] = (
        detail.where((df["_hold"] != "") & (mode == "internal"), "").astype(object)
        if hold is not None
        else ""
    )


def _flagged_tiers(df: pd.DataFrame) -> list[str]:
    """The tiers that are flagged: those of flagged or held-back households in this file, else
    ``configs/scoring.yaml`` ``tiers.flagged``."""
    flagged = df["flagged"].astype("boolean").fillna(False).astype(bool)
    if "review_hold" in df.columns:
        flagged = flagged | (df["review_hold"].astype("string") == "held_back").fillna(False)
    tiers = sorted(set(df.loc[flagged, "tier"].dropna().astype(str)))
    if tiers:
        return tiers
    from riskml.config.scoring import load_scoring_config

    return list(load_scoring_config().tiers.flagged)


def _previous_as_of(sf: ScoreFile) -> str | None:
    """The as-of date of the previous run (``--previous``): the metadata's ``previous_as_of``,
    else read from the previous score file's own metadata when it is still there; ``None`` when
    unknown (then any review on record counts as a review since the previous list)."""
    meta = sf.metadata if isinstance(sf.metadata, dict) else dict(sf.metadata or {})
    value = meta.get("previous_as_of")
    if value:
        return str(value)[:10]
    previous = meta.get("previous")
    if not previous:
        return None
    try:
        from pathlib import Path

        from riskml.scoring import read_scores

        path = Path(str(previous))
        if not path.is_file():
            return None
        prev_meta = read_scores(path)[1]
        as_of = prev_meta.get("as_of")
        return str(as_of)[:10] if as_of else None
    except (ValueError, OSError):
        return None


def _now_text(rows: pd.DataFrame, t: dict[str, Any]) -> pd.Series:
    """This run's state of each household: its tier and whether it is flagged, or its status."""
    tiers_t: dict[str, str] = t["tiers"]  # type: ignore[assignment]
    status_t: dict[str, str] = t["status_now"]  # type: ignore[assignment]
    status = rows["status"].astype("string")
    tier = rows["tier"].astype("string").map(tiers_t)
    flagged = rows["flagged"].astype("boolean").fillna(False).astype(bool)
    word = flagged.map({True: str(status_t["flagged"]), False: str(status_t["not_flagged"])})
    scored_text = str(t["tier_label"]) + " " + tier.fillna("—") + "，" + word.astype("string")
    out = status.map(status_t).astype("string")
    return scored_text.where(status == "scored", out).fillna("").astype(object)


def _left_explanation(
    rows: pd.DataFrame, t: dict[str, Any], mode: str, reviewed_since: pd.Series
) -> pd.Series:
    """Why each household flagged last time is no longer on the list: identified (now a
    monitoring object), not assessed (data problem), held back after a review, reviewed, or its
    risk fell (previous tier → this tier)."""
    texts: dict[str, str] = t["left"]  # type: ignore[assignment]
    tiers_t: dict[str, str] = t["tiers"]  # type: ignore[assignment]
    sep, (open_, close) = ("；", ("（", "）")) if t.get("_lang") == "zh" else ("; ", (" (", ")"))
    hold = (
        rows["review_hold"].astype("string")
        if "review_hold" in rows.columns
        else pd.Series(pd.NA, index=rows.index, dtype="string")
    )
    out = []
    for review, status, held, tier, prev, since in zip(
        rows["_review"].astype(str),
        rows["status"].astype(str),
        hold.fillna("").astype(str),
        rows["tier"].astype("string").fillna("").astype(str),
        rows["previous_tier"].astype("string").fillna("").astype(str),
        reviewed_since.to_numpy(dtype=bool),
        strict=True,
    ):
        fell = texts["risk_fell"].format(
            previous=tiers_t.get(prev, "—"), now=tiers_t.get(tier, "—")
        )
        if status == "not_eligible":
            text = texts["monitored"]
        elif status == "rejected":
            text = texts["rejected"]
        elif held == "held_back":
            text = texts["held_back"]
        elif review and since:
            text = texts["reviewed"]
            if tier != prev and tier in tiers_t:
                text += sep + fell
        else:
            text = fell
        if review:
            text = f"{text}{open_}{review}{close}"
        out.append(text)
    return pd.Series(out, index=rows.index, dtype=object)


def _income_text(rows: pd.DataFrame, t: dict[str, Any], mode: str) -> pd.Series:
    """ "2024 年人均纯收入 4,498 元，低于当年监测线 8,000 元" (internal) or the year and "低于当年
    监测线" without the amounts (public)."""
    out = []
    key = "below_line_internal" if mode == "internal" else "below_line_public"
    for year, income, line in zip(
        rows["income_year"], rows["pc_income"], rows["threshold"], strict=True
    ):
        if _is_missing(year):
            out.append(str(t["below_line_no_year"]))
            continue
        if mode == "internal" and not (_is_missing(income) or _is_missing(line)):
            out.append(
                str(t[key]).format(
                    year=int(year), income=f"{float(income):,.0f}", threshold=f"{float(line):,.0f}"
                )
            )
        else:
            out.append(str(t["below_line_public"]).format(year=int(year)))
    return pd.Series(out, index=rows.index, dtype=object)


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
    unreviewed: dict[str, pd.DataFrame] = field(default_factory=dict)
    """Flagged in the previous list, no review since (follow-up)."""
    held_back: dict[str, pd.DataFrame] = field(default_factory=dict)
    """Held back by the quiet period after a review (internal mode only)."""
    below_line: dict[str, pd.DataFrame] = field(default_factory=dict)
    """Scored (not monitored) households whose latest verified income is below the line."""
    previous_as_of: str | None = None


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
    """Everything the unit pages show, computed once for the whole roster and split by unit."""
    t = {**config.text[lang], "_lang": lang}  # type: ignore[index]
    df = sf.frame.assign(_unit=sf.frame[UNIT_COLUMN[level]].astype("string"))
    df["_village"] = df["village_name"].astype("string").fillna(df["village_code"].astype("string"))
    units = _unit_table(df, level)
    _describe(df, sf, t, mode, config)
    _identify(df, t, mode)
    previous_as_of = _previous_as_of(sf)
    flagged_mask = df["flagged"].fillna(False).astype(bool)
    fl = _ranked_flagged(df[flagged_mask].copy(), level)
    _household_texts(fl, lang, mode)
    long = _reasons_long(fl, sf, lang, mode, config)
    by_type = mode == "internal" and sf.has_risk_types
    reasons_by_type, reasons = _reason_counts(long, by_type)
    sections = _follow_up(df, t, mode, flagged_mask, previous_as_of)
    return Prepared(
        by_type=by_type,
        units=units,
        flagged={u: g for u, g in fl.groupby("_unit", sort=False)},
        no_longer=_by_unit(sections["no_longer"]),
        rejected=_by_unit(df[df["status"].astype("string") == "rejected"]),
        reasons=reasons,
        reasons_by_type=reasons_by_type,
        subunits=_subunits(df, level),
        unreviewed=_by_unit(sections["unreviewed"]),
        held_back=_by_unit(sections["held_back"]) if mode == "internal" else {},
        below_line=_by_unit(sections["below_line"]),
        previous_as_of=previous_as_of,
    )


def _unit_table(df: pd.DataFrame, level: str) -> pd.DataFrame:
    """One row per unit: its counts, name and a file stem unique in the report folder."""
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
    return units


def _describe(
    df: pd.DataFrame, sf: ScoreFile, t: dict[str, Any], mode: str, config: ReportsConfig
) -> None:
    """Add the id as shown (masked in public mode), the score as a percentage and the change
    since the previous list with its detail."""
    ids = df["household_id"].astype("string")
    if mode == "public" and sf.mode == "internal":  # a public file is masked already
        visible = config.masked_id_visible_chars
        ids = ("******" + (ids.str[-visible:] if visible else "")).astype("string")
    df["_id"] = ids
    tiers_t: dict[str, str] = t["tiers"]  # type: ignore[assignment]
    changes_t: dict[str, str] = t["changes"]  # type: ignore[assignment]
    df["_score"] = _pct(df["score"])
    change = df["change"].astype("string").fillna("na")
    df["_change"] = change
    df["_change_label"] = change.map(changes_t).fillna(change)
    prev_tier = df["previous_tier"].astype("string").map(tiers_t)
    prev_text = (str(t["previous"]) + ": " + prev_tier.fillna("—")).astype("string")
    if mode == "internal" or config.public_show_score:
        prev_text = prev_text.where(
            df["previous_score"].isna(),
            prev_text + ", " + _pct(df["previous_score"]).astype("string"),
        )
    df["_change_detail"] = prev_text.where(change != "new_household", "").fillna("")


def _ranked_flagged(fl: pd.DataFrame, level: str) -> pd.DataFrame:
    """The flagged households in rank order within their unit, with ``_rank``: the score
    file's rank at this level, else (county level, or a missing rank) the position by score."""
    sort_rank = {"village": "rank_village", "township": "rank_township", "county": None}[level]
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
    return fl


def _household_texts(fl: pd.DataFrame, lang: str, mode: str) -> None:
    """Measures and village context per household; a public report shows the public register
    (an internal measure such as 医疗救助 would reveal a sensitive risk type)."""
    prefix = "" if mode == "internal" else "public_"
    for src, dst in (
        (f"{prefix}measures_{lang}", "_measures"),
        (f"{prefix}measures_in_place_{lang}", "_in_place"),
        (f"context_{lang}", "_context"),
    ):
        fl[dst] = fl[src].astype("string") if src in fl.columns else pd.NA


def _reasons_long(
    fl: pd.DataFrame, sf: ScoreFile, lang: str, mode: str, config: ReportsConfig
) -> pd.DataFrame:
    """The flagged households' reasons, long: one row per (household, reason), with the type
    label, colour, text in this mode's register and the bar length within the unit."""
    text_field = lang if mode == "internal" else f"public_{lang}"
    parts = [
        pd.DataFrame(
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
        for k in range(1, MAX_REASONS + 1)
    ]
    long = pd.concat(parts, ignore_index=True)
    if not len(long):
        return long
    long = long[long["text"].notna() | long["type"].notna()]
    long["type"] = long["type"].astype("string")
    long["type_label"] = (
        long["type"].map(risk_type_labels(lang)).fillna(long["type"]).astype(object)
    )
    colors = config.chart.risk_type_colors
    long["color"] = long["type"].map(colors).fillna(config.chart.other_color).astype(object)
    long["text"] = long["text"].fillna(long["type_label"]).astype(object)
    unit_max = long.groupby("_unit")["contribution"].transform("max")
    long["bar_pct"] = (
        (100 * long["contribution"].clip(lower=0) / unit_max.where(unit_max > 0))
        .round(1)
        .fillna(0.0)
    )
    return long.sort_values(["_row", "k"], kind="mergesort")


def _reason_counts(
    long: pd.DataFrame, by_type: bool
) -> tuple[dict[str, pd.DataFrame], dict[str, list[dict[str, Any]]]]:
    """Households per reason in each unit, and each unit's reason rows.

    Internal reports count official risk types; public ones count the public wording, which
    explain keeps free of sensitive types (因病 and 因残 are health data: their public wording
    must not reveal them, so neither may a public chart). A public report counts facts (the
    first of each reason), not whole reason sentences.
    """
    if not len(long):
        return {}, {}
    long["fact"] = long["text"].astype(str).str.split("；|; ", n=1, regex=True).str[0]
    key = "type_label" if by_type else "fact"
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
    return reasons_by_type, reasons


def _follow_up(
    df: pd.DataFrame,
    t: dict[str, Any],
    mode: str,
    flagged_mask: pd.Series,
    previous_as_of: str | None,
) -> dict[str, pd.DataFrame]:
    """The list's smaller sections, in village and 村内编号 order: no longer flagged (with why),
    flagged last time and not reviewed since, held back after a review, below the line."""
    status = df["status"].astype("string")
    prev_flagged = df["previous_tier"].astype("string").isin(_flagged_tiers(df)).fillna(False)
    reviewed_on = pd.to_datetime(df["last_review_on"])
    if previous_as_of is not None:
        reviewed_since = (reviewed_on >= pd.Timestamp(previous_as_of)).fillna(False)
    else:  # the previous run's date is unknown: any review on record counts
        reviewed_since = reviewed_on.notna()
    nl = df[(prev_flagged | (df["_change"] == "no_longer_flagged")) & ~flagged_mask].copy()
    nl["_change_detail"] = _left_explanation(nl, t, mode, reviewed_since.loc[nl.index])
    unreviewed = df[prev_flagged & ~reviewed_since & (status != "not_eligible").fillna(True)].copy()
    unreviewed["_now"] = _now_text(unreviewed, t)
    held = df[(df["review_hold"].astype("string") == "held_back").fillna(False)].copy()
    below = df[
        (status == "scored").fillna(False)
        & df["income_below_threshold"].astype("boolean").fillna(False).astype(bool)
    ].copy()
    below["_income"] = _income_text(below, t, mode)
    below["_now"] = _now_text(below, t)
    order = ["_unit", "village_code", "_seq_sort", "household_id"]
    sections = {"no_longer": nl, "unreviewed": unreviewed, "held_back": held, "below_line": below}
    for name, frame_ in sections.items():
        frame_["_seq_sort"] = frame_["_seq"].astype("Float64")
        sections[name] = frame_.sort_values(order, kind="mergesort", na_position="last")
    return sections


def _subunits(df: pd.DataFrame, level: str) -> dict[str, pd.DataFrame]:
    """A township's villages or a county's townships, with their counts."""
    if level not in _SUB_LEVEL:
        return {}
    sub_col = UNIT_COLUMN[_SUB_LEVEL[level]]
    sub = _counts(df, ["_unit", sub_col])
    if _SUB_LEVEL[level] == "village":
        vnames = df.groupby(sub_col, sort=True)["_village"].first()
        sub["name"] = sub[sub_col].map(vnames).fillna(sub[sub_col]).astype(str)
    else:
        sub["name"] = sub[sub_col].astype(str)
    sub["code"] = sub[sub_col]
    return {u: g for u, g in sub.groupby("_unit", sort=False)}


_SECTION_COLUMNS = (
    "_unit",
    "_id",
    "_shown",
    "_sub",
    "_village",
    "tier",
    "previous_tier",
    "status_detail",
    "_now",
    "_review",
    "_income",
    "_change_detail",
)
"""What the list's smaller sections (follow-up, below-line, rejected) show: splitting only these
columns by unit keeps a 200,000-household roster fast."""


def _by_unit(frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
    slim = frame[[c for c in _SECTION_COLUMNS if c in frame.columns]]
    return {u: g for u, g in slim.groupby("_unit", sort=False)}


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
        "_shown",
        "_sub",
        "_village",
        "tier",
        "_score",
        "_change",
        "_change_label",
        "_change_detail",
        "_measures",
        "_in_place",
        "_context",
        "_review",
        "_hold",
        "_hold_detail",
    ]
    for row, values in zip(fl.index, fl[cols].itertuples(index=False, name=None), strict=True):
        v = dict(zip(cols, values, strict=True))
        rs = by_row.get(row, [])
        score = v["_score"]
        out.append(
            {
                "rank": v["_rank"],
                "id": v["_shown"],
                "sub": v["_sub"] or "",
                "village": v["_village"],
                "tier": None if pd.isna(v["tier"]) else v["tier"],
                "score": "" if _is_missing(score) else score,
                "change": v["_change"],
                "change_label": v["_change_label"],
                "change_detail": v["_change_detail"],
                "reasons": rs,
                "measures": _split(v["_measures"], separator),
                "in_place": _split(v["_in_place"], separator),
                "context": None if _is_missing(v["_context"]) else str(v["_context"]),
                "review": v["_review"] or "",
                "hold": v["_hold"] or "",
                "hold_detail": v["_hold_detail"] or "",
            }
        )
    return out


def sensitive_texts(sf: ScoreFile, rows: pd.DataFrame) -> list[str]:
    """What a public page of ``rows`` must not show: internal reason texts that are not also
    public wording or measures, heads' names and groups (村民小组)."""
    if sf.mode != "internal" or rows.empty:
        return []
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
    # heads' names and groups (村民小组): internal mode only; a group name that is also part of
    # a village name or a public text cannot be told apart on the page and is not checked
    names: set[str] = set()
    for c in ("head_name", "group_name"):
        if c in rows.columns:
            names.update(v.strip() for v in rows[c].dropna().astype(str) if len(v.strip()) >= 2)
    shown = [*rows["village_name"].dropna().astype(str).unique().tolist(), *public]
    names = {n for n in names if not any(n in text for text in shown)}
    return sorted((internal - public) | names)


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
