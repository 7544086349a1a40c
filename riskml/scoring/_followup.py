"""The review loop on the score file: places people can use, last reviews, the below-line route.

Computed on the driver from the whole bundle, after tiers, with the same code for both engines
(so the Spark and local score files are identical):

- :func:`add_followup_columns` fills :data:`~riskml.scoring._columns.FOLLOWUP_COLUMNS` except
  ``review_hold``: ``village_seq`` (1, 2, … within each village by ``household_id``),
  ``group_name`` / ``head_name`` (internal mode only), the last review on or before ``as_of``
  (``last_review_on``, ``last_review_outcome``) and the latest verified income known on
  ``as_of`` against that year's monitoring line (``income_year``, ``pc_income``, ``threshold``,
  ``income_below_threshold``).
- :func:`apply_quiet_period` holds back households reviewed as not at risk within
  ``reviews.review_quiet_months`` of ``as_of`` unless an adverse record arrived since the review
  or the tier rose since the previous run; ``review_hold`` and ``status_detail`` say which and
  why.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from riskml.config.scoring import TIER_ORDER, ReviewConfig
from riskml.data import Bundle
from riskml.data._schema import EVENT_TYPES
from riskml.scoring._columns import EVENT_TYPE_ZH, score_dtypes
from riskml.scoring._ids import arrow_ids, id_positions, null_column

__all__ = ["OUTCOME_PRIORITY", "add_followup_columns", "apply_quiet_period", "followup_counts"]

OUTCOME_PRIORITY: tuple[str, ...] = (
    "identified",
    "already_monitored",
    "not_at_risk",
    "unreachable",
)
"""When one household has several reviews on its latest review date, the first of these wins."""
_TIER_ZH = {"high": "高", "medium": "中", "low": "低"}


def _last_reviews(bundle: Bundle, as_of: dt.date) -> pd.DataFrame:
    r = bundle.reviews
    if len(r) == 0:
        return pd.DataFrame(columns=["last_review_on", "last_review_outcome"])
    r = r.loc[r["household_id"].notna() & r["reviewed_on"].notna() & r["outcome"].notna()]
    r = r.loc[r["reviewed_on"] <= pd.Timestamp(as_of)]
    prio = {o: i for i, o in enumerate(OUTCOME_PRIORITY)}
    frame = pd.DataFrame(
        {
            "household_id": r["household_id"].astype("string").to_numpy(dtype=object),
            "last_review_on": r["reviewed_on"].to_numpy(),
            "last_review_outcome": r["outcome"].astype(str).to_numpy(dtype=object),
        }
    )
    frame["_p"] = frame["last_review_outcome"].map(prio)
    frame = frame.sort_values(
        ["household_id", "last_review_on", "_p"], ascending=[True, False, True], kind="stable"
    )
    return frame.drop_duplicates("household_id").set_index("household_id")[
        ["last_review_on", "last_review_outcome"]
    ]


def _latest_income(income: pd.DataFrame, as_of: dt.date, ids: pa.Array) -> pd.DataFrame:
    """Per household of ``ids`` (in that order): its income row of the latest year known on
    ``as_of`` (the last recorded one of that year; the last such row in table order on ties)."""
    pos = id_positions(income["household_id"], ids)
    recorded = income["recorded_on"]
    keep = (
        (pos >= 0)
        & income["year"].notna().to_numpy(dtype=bool)
        & recorded.notna().to_numpy(dtype=bool)
        & (recorded <= pd.Timestamp(as_of)).fillna(False).to_numpy(dtype=bool)
    )
    rows = np.flatnonzero(keep)
    year = income["year"].to_numpy(dtype=float, na_value=np.nan)[rows]
    when = recorded.to_numpy(dtype="datetime64[ns]")[rows].view(np.int64)
    # lexsort is stable, the last key first: household, then year, then recording date
    rows = rows[np.lexsort((when, year, pos[rows]))]
    last = np.r_[pos[rows][1:] != pos[rows][:-1], True] if len(rows) else np.zeros(0, bool)
    rows = rows[last]
    at = np.full(len(ids), -1, dtype=np.int64)
    at[pos[rows]] = rows
    return pd.DataFrame(
        {c: income[c].array.take(at, allow_fill=True) for c in ("year", "pc_income", "threshold")}
    )


def _village_seq(village: pd.Series, ids: pd.Series) -> pd.api.extensions.ExtensionArray:
    """1, 2, ... by household id within each village (``<NA>`` without a village or id)."""
    placed = (village.notna() & ids.notna()).to_numpy(dtype=bool)
    rows = np.flatnonzero(placed)
    seq = np.zeros(len(ids), dtype=np.int64)
    if len(rows):
        table = pa.table({"v": arrow_ids(village.iloc[rows]), "h": arrow_ids(ids.iloc[rows])})
        order = pc.sort_indices(table, sort_keys=[("v", "ascending"), ("h", "ascending")])
        order_np = order.to_numpy()
        v_sorted = table.column("v").take(order).combine_chunks()
        starts = np.r_[True, ~pc.equal(v_sorted[1:], v_sorted[:-1]).to_numpy(zero_copy_only=False)]
        position = np.arange(len(order_np))
        first = np.maximum.accumulate(np.where(starts, position, 0))
        seq[rows[order_np]] = position - first + 1
    return pd.arrays.IntegerArray(seq, ~placed)


def add_followup_columns(
    scores: pd.DataFrame, bundle: Bundle, as_of: dt.date, *, thresholds: Any = None
) -> pd.DataFrame:
    """``scores`` (one row per household) with the place, last-review and income columns filled.

    ``review_hold`` is left empty (see :func:`apply_quiet_period`).
    """
    from riskml.features import income_against_threshold

    out = scores.copy()
    dtypes = score_dtypes()
    ids = out["household_id"].astype("string")
    id_obj = ids.to_numpy(dtype=object)
    id_arrow = arrow_ids(ids)

    # village_seq: 1, 2, ... by household_id within each village (unique per village)
    out["village_seq"] = _village_seq(out["village_code"].astype("string"), ids)

    # internal-only names from the households table (its first row per household)
    hh = bundle.households
    at = id_positions(ids, hh["household_id"])
    for col in ("group_name", "head_name"):
        out[col] = (
            pd.Series(hh[col].array.take(at, allow_fill=True), index=out.index).astype("string")
            if col in hh.columns
            else pd.Series(null_column(len(out), "string"), index=out.index)
        )

    # last review on or before as_of
    last = _last_reviews(bundle, as_of).reindex(id_obj)
    out["last_review_on"] = pd.to_datetime(last["last_review_on"].to_numpy()).astype(
        "datetime64[ns]"
    )
    out["last_review_outcome"] = pd.array(
        last["last_review_outcome"].to_numpy(dtype=object), dtype="string"
    )
    out["review_hold"] = null_column(len(out), "string")

    # the latest verified income known on as_of against that year's line
    latest = _latest_income(
        income_against_threshold(bundle, thresholds=thresholds), as_of, id_arrow
    )
    pc_income = latest["pc_income"].to_numpy(dtype=float, na_value=np.nan)
    line = latest["threshold"].to_numpy(dtype=float, na_value=np.nan)
    known = ~np.isnan(pc_income) & ~np.isnan(line)
    out["income_year"] = pd.array(latest["year"].to_numpy(dtype=object), dtype="Int64")
    out["pc_income"] = pc_income
    out["threshold"] = line
    out["income_below_threshold"] = pd.array(
        np.where(known, pc_income < line, False), dtype="boolean"
    )
    out.loc[~known, "income_below_threshold"] = pd.NA
    for col in ("village_seq", "group_name", "head_name", "last_review_on", "last_review_outcome"):
        out[col] = out[col].astype(dtypes[col])
    return out


def _money(x: float) -> str:
    return f"{x:,.0f}"


def _check_adverse_types(config: ReviewConfig) -> None:
    unknown = sorted(set(config.adverse_event_types) - set(EVENT_TYPES))
    if unknown:
        from riskml.scoring._partition import ScoringError

        raise ScoringError(
            f"reviews.adverse_event_types in the scoring config lists {unknown}, which are not "
            f"contract event types ({', '.join(EVENT_TYPES)}). Fix the config."
        )


def _quiet_candidates(out: pd.DataFrame, as_of: pd.Timestamp, months: int) -> np.ndarray:
    """Scored, flagged households whose last review (not at risk) is within ``months``."""
    reviewed = pd.to_datetime(out["last_review_on"])
    flagged = out["flagged"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    recent = (reviewed + pd.DateOffset(months=months)) > as_of
    return (
        flagged
        & (out["status"].astype("string") == "scored").fillna(False).to_numpy(dtype=bool)
        & (out["last_review_outcome"].astype("string") == "not_at_risk")
        .fillna(False)
        .to_numpy(dtype=bool)
        & recent.fillna(False).to_numpy(dtype=bool)
    )


@dataclass
class _WhatIsNew:
    """Per candidate household: its review date and what is new since, in Chinese and English."""

    since: pd.Series
    zh: dict[str, list[str]]
    en: dict[str, list[str]]

    @classmethod
    def start(cls, cand_ids: np.ndarray, reviewed: np.ndarray) -> _WhatIsNew:
        return cls(
            since=pd.Series(reviewed, index=cand_ids),
            zh={h: [] for h in cand_ids},
            en={h: [] for h in cand_ids},
        )

    @property
    def ids(self) -> np.ndarray:
        return self.since.index.to_numpy(dtype=object)


def _adverse_events(
    new: _WhatIsNew, bundle: Bundle, config: ReviewConfig, as_of: pd.Timestamp
) -> None:
    """Adverse events recorded after the review (and on or before ``as_of``)."""
    ev = bundle.events
    if not len(ev) or not config.adverse_event_types:
        return
    # the candidates' adverse events first (cheap masks over the whole table), then the rest
    mine = ev["household_id"].isin(new.ids).fillna(False).to_numpy(dtype=bool)
    mine &= ev["event_type"].isin(config.adverse_event_types).fillna(False).to_numpy(dtype=bool)
    ev = ev.loc[mine]
    recorded = ev["recorded_on"].fillna(ev["event_date"])
    sel = (recorded <= as_of).to_numpy(dtype=bool)
    part = pd.DataFrame(
        {
            "h": ev["household_id"].astype("string").to_numpy(dtype=object)[sel],
            "t": ev["event_type"].astype(str).to_numpy(dtype=object)[sel],
            "d": ev["event_date"].to_numpy()[sel],
            "r": recorded.to_numpy()[sel],
        }
    )
    part = part.loc[part["r"].to_numpy() > new.since.reindex(part["h"]).to_numpy()]
    for h, grp in part.sort_values(["h", "r", "d", "t"], kind="stable").groupby("h", sort=False):
        items = [
            (t, pd.Timestamp(d).date().isoformat(), pd.Timestamp(r).date().isoformat())
            for t, d, r in zip(grp["t"], grp["d"], grp["r"], strict=True)
        ]
        shown = items[:3]
        more_zh = f"等 {len(items)} 条" if len(items) > 3 else ""
        more_en = f" and {len(items) - 3} more" if len(items) > 3 else ""
        new.zh[h].append(
            "新录入"
            + "、".join(f"{EVENT_TYPE_ZH.get(t, t)}（{d} 发生，{r} 录入）" for t, d, r in shown)
            + more_zh
        )
        new.en[h].append(
            "recorded since: "
            + ", ".join(f"{t} (occurred {d}, recorded {r})" for t, d, r in shown)
            + more_en
        )


def _income_below_line(
    new: _WhatIsNew, bundle: Bundle, as_of: pd.Timestamp, thresholds: Any
) -> None:
    """Income below that year's monitoring line, recorded after the review."""
    from riskml.features import income_against_threshold

    cand_ids = new.ids
    hh, income = bundle.households, bundle.income
    only = Bundle(
        tables={
            "households": hh.loc[hh["household_id"].isin(cand_ids).fillna(False)],
            "income": income.loc[income["household_id"].isin(cand_ids).fillna(False)],
        },
        extracted_on=bundle.extracted_on,
        province=bundle.province,
        source=bundle.source,
    )
    inc = income_against_threshold(only, thresholds=thresholds)
    inc = inc.loc[
        inc["household_id"].isin(cand_ids).fillna(False)
        & (inc["recorded_on"] <= as_of)
        & (inc["pc_income"] < inc["threshold"]).fillna(False)
    ]
    inc = inc.loc[
        inc["recorded_on"].to_numpy()
        > new.since.reindex(inc["household_id"].to_numpy(dtype=object)).to_numpy()
    ]
    for h, grp in inc.sort_values(["household_id", "year"]).groupby("household_id", sort=False):
        r = grp.iloc[-1]
        new.zh[h].append(
            f"新录入 {int(r['year'])} 年人均纯收入 {_money(r['pc_income'])} 元，低于当年监测线 "
            f"{_money(r['threshold'])} 元"
        )
        new.en[h].append(
            f"new income record: {int(r['year'])} per-capita net income "
            f"{_money(r['pc_income'])} yuan, below that year's line of "
            f"{_money(r['threshold'])} yuan"
        )


def _tier_rose(new: _WhatIsNew, current: np.ndarray, previous: pd.DataFrame) -> None:
    """The tier is higher than in the previous run's score file."""
    prev_tier = pd.Series(
        previous["tier"].astype("string").to_numpy(dtype=object),
        index=previous["household_id"].astype("string").to_numpy(dtype=object),
    )
    prev_tier = prev_tier[~prev_tier.index.duplicated()]
    rank = {t: i for i, t in enumerate(TIER_ORDER)}
    before = prev_tier.reindex(new.ids).to_numpy(dtype=object)
    for h, c, b in zip(new.ids, current, before, strict=True):
        if isinstance(b, str) and isinstance(c, str) and rank.get(c, -1) > rank.get(b, 99):
            new.zh[h].append(f"风险等级由{_TIER_ZH.get(b, b)}升为{_TIER_ZH.get(c, c)}")
            new.en[h].append(f"tier rose from {b} to {c}")


def _hold_text(h: str, new: _WhatIsNew, months: int) -> str:
    """``status_detail`` of a candidate: held back until when, or flagged again because of what."""
    d = pd.Timestamp(new.since[h]).date()
    until = (pd.Timestamp(d) + pd.DateOffset(months=months)).date()
    if not new.zh[h]:
        return (
            f"核实后暂缓预警：{d.isoformat()} 核实结论为暂不纳入，{until.isoformat()} 前无新的不利记录"
            f"不再预警 / held back: reviewed as not at risk on {d.isoformat()}; not flagged "
            f"again before {until.isoformat()} unless something adverse is recorded"
        )
    return (
        f"核实后再次预警：{d.isoformat()} 核实结论为暂不纳入，此后"
        + "；".join(new.zh[h])
        + f" / flagged again although reviewed as not at risk on {d.isoformat()}: "
        + "; ".join(new.en[h])
    )


def _mark_holds(out: pd.DataFrame, idx: np.ndarray, new: _WhatIsNew, months: int) -> np.ndarray:
    """Write ``review_hold``, ``flagged`` and ``status_detail`` of the candidates; say who is held."""
    hold = np.array([not new.zh[h] for h in new.ids], dtype=bool)
    detail = out["status_detail"].astype("string").to_numpy(dtype=object).copy()
    review_hold = out["review_hold"].astype("string").to_numpy(dtype=object).copy()
    flag_values = out["flagged"].astype("boolean").to_numpy(dtype=object).copy()
    for j, h, held in zip(idx, new.ids, hold, strict=True):
        text = _hold_text(h, new, months)
        review_hold[j] = "held_back" if held else "flagged_again"
        if held:
            flag_values[j] = False
        prior = detail[j]
        detail[j] = text if prior is None or prior is pd.NA else f"{prior}; {text}"
    out["status_detail"] = pd.array([None if v is pd.NA else v for v in detail], dtype="string")
    out["review_hold"] = pd.array([None if v is pd.NA else v for v in review_hold], dtype="string")
    out["flagged"] = pd.array([None if v is pd.NA else v for v in flag_values], dtype="boolean")
    return hold


def apply_quiet_period(
    scores: pd.DataFrame,
    bundle: Bundle,
    as_of: dt.date,
    config: ReviewConfig,
    previous: pd.DataFrame | None = None,
    *,
    thresholds: Any = None,
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Hold back flagged households recently reviewed as not at risk, unless something is new.

    A household is *held back* (``flagged`` false, ``review_hold`` = ``held_back``) when it is
    scored and flagged, its last review on or before ``as_of`` found it ``not_at_risk``, ``as_of``
    is less than ``config.review_quiet_months`` after that review, and none of these happened:

    - an event of a type in ``config.adverse_event_types`` recorded after the review (and on or
      before ``as_of``);
    - (with ``config.income_below_line_is_adverse``) an income row recorded after the review
      whose per-capita net income is below that year's monitoring line;
    - its tier is higher than in ``previous`` (the previous run's score file, when given).

    Otherwise it stays flagged with ``review_hold`` = ``flagged_again``. ``status_detail`` says
    which, with the review date and what is new, in Chinese and English. The tier, score and rank
    are not changed. Returns the frame and counts ``held_back`` / ``flagged_again``.
    """
    _check_adverse_types(config)
    out = scores.copy()
    counts = {"held_back": 0, "flagged_again": 0}
    months = config.review_quiet_months
    if months <= 0 or len(out) == 0:
        return out, counts
    as_of_ts = pd.Timestamp(as_of)
    cand = _quiet_candidates(out, as_of_ts, months)
    if not cand.any():
        return out, counts
    idx = np.flatnonzero(cand)
    new = _WhatIsNew.start(
        out["household_id"].astype("string").to_numpy(dtype=object)[idx],
        pd.to_datetime(out["last_review_on"]).to_numpy()[idx],
    )
    _adverse_events(new, bundle, config, as_of_ts)
    if config.income_below_line_is_adverse:
        _income_below_line(new, bundle, as_of_ts, thresholds)
    if previous is not None and "tier" in previous.columns:
        _tier_rose(new, out["tier"].astype("string").to_numpy(dtype=object)[idx], previous)
    hold = _mark_holds(out, idx, new, months)
    counts["held_back"] = int(hold.sum())
    counts["flagged_again"] = int((~hold).sum())
    return out, counts


def followup_counts(scores: pd.DataFrame, hold: dict[str, int] | None = None) -> dict[str, int]:
    """Run-summary counts of the review loop and the below-line route (no household ids)."""
    status = scores["status"].astype("string")
    flagged = scores["flagged"].astype("boolean").fillna(False)
    below = scores["income_below_threshold"].astype("boolean").fillna(False)
    eligible = status != "not_eligible"
    outcome = scores["last_review_outcome"].astype("string")
    out = {
        "with_review": int(outcome.notna().sum()),
        **{f"last_review_{o}": int((outcome == o).sum()) for o in OUTCOME_PRIORITY},
        "income_below_threshold": int(below.sum()),
        "income_below_threshold_not_monitored": int((below & eligible.fillna(True)).sum()),
        "income_below_threshold_not_flagged": int((below & eligible.fillna(True) & ~flagged).sum()),
    }
    out.update(hold or {"held_back": 0, "flagged_again": 0})
    return out
