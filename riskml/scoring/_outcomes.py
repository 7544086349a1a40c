"""What came of riskml's flags: the confirmed share of reviewed flags, by tier and by risk type.

A list riskml handed out (an internal score file) and the bundle's ``reviews`` table meet here:
for each flagged household of the list, its first review on or after the list's as-of date.

These are **not** training labels as they stand. A flag decides who gets visited, so only flagged
households (and the few reviewed for other reasons) have an outcome: the labels are selective,
and a model trained on them would learn the old model's choices. riskml's training label stays
the monitoring record (identified or not within the horizon), which every household has.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["OUTCOME_COLUMNS", "review_outcomes"]

OUTCOME_COLUMNS: tuple[str, ...] = (
    "flagged",
    "reviewed",
    "identified",
    "already_monitored",
    "not_at_risk",
    "unreachable",
    "never_reviewed",
    "confirmed_share",
)
"""Columns of each outcome table. ``confirmed_share`` = identified / (identified + not at risk):
of the flags that got a verdict, the share confirmed as monitoring objects (NaN when none)."""

_OUTCOMES = ("identified", "already_monitored", "not_at_risk", "unreachable")


def _first_review(flags: pd.DataFrame, reviews: pd.DataFrame) -> pd.Series:
    """Per flagged row: the outcome of its first review on or after the list's as-of date."""
    out = pd.Series("never_reviewed", index=flags.index, dtype=object)
    if reviews.empty or flags.empty:
        return out
    r = pd.DataFrame(
        {
            "household_id": reviews["household_id"].astype(str).to_numpy(),
            "reviewed_on": pd.to_datetime(reviews["reviewed_on"]).to_numpy(),
            "outcome": reviews["outcome"].astype(str).to_numpy(),
        }
    )
    f = pd.DataFrame(
        {
            "row": flags.index.to_numpy(),
            "household_id": flags["household_id"].astype(str).to_numpy(),
            "as_of": pd.to_datetime(flags["as_of"]).to_numpy(),
        }
    )
    m = f.merge(r, on="household_id", how="inner")
    m = m.loc[m["reviewed_on"] >= m["as_of"]].sort_values(["row", "reviewed_on"], kind="stable")
    first = m.groupby("row", sort=False)["outcome"].first()
    out.loc[first.index] = first.to_numpy()
    return out


def _table(keys: pd.Series, outcome: pd.Series) -> pd.DataFrame:
    frame = pd.DataFrame({"key": keys.to_numpy(), "outcome": outcome.to_numpy()})
    counts = pd.crosstab(frame["key"], frame["outcome"])
    for c in (*_OUTCOMES, "never_reviewed"):
        if c not in counts.columns:
            counts[c] = 0
    table = pd.DataFrame(index=counts.index)
    table["flagged"] = counts.sum(axis=1)
    table["reviewed"] = counts[list(_OUTCOMES)].sum(axis=1)
    for c in (*_OUTCOMES, "never_reviewed"):
        table[c] = counts[c]
    verdict = table["identified"] + table["not_at_risk"]
    table["confirmed_share"] = np.where(
        verdict > 0, table["identified"] / verdict.where(verdict > 0, 1), np.nan
    )
    table.index.name = None
    return table[list(OUTCOME_COLUMNS)]


def review_outcomes(scores: pd.DataFrame, reviews: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """How the flags of one or more lists were reviewed.

    Parameters
    ----------
    scores : DataFrame
        Internal score files (``riskml.scoring.read_scores``), concatenated: ``household_id``,
        ``as_of``, ``tier``, ``flagged`` and the reasons' ``reason_k_type``.
    reviews : DataFrame
        The bundle's ``reviews`` table.

    Returns
    -------
    dict
        ``by_tier`` and ``by_risk_type`` (a household counts under each type its reasons state),
        each with :data:`OUTCOME_COLUMNS` and a ``total`` row.
    """
    if "reason_1_type" not in scores.columns:
        raise ValueError(
            "Review outcomes by risk type need an internal score file (the public one carries no "
            "risk types); pass the file 'riskml score --mode internal' wrote."
        )
    flags = scores.loc[scores["flagged"].fillna(False).astype(bool)].reset_index(drop=True)
    outcome = _first_review(flags, reviews)
    by_tier = _table(flags["tier"].astype(str), outcome)
    total = _table(pd.Series(["total"] * len(flags)), outcome)
    by_tier = pd.concat([by_tier, total]) if len(flags) else total
    type_cols = [c for c in flags.columns if c.startswith("reason_") and c.endswith("_type")]
    long = flags[type_cols].stack().reset_index(level=1, drop=True) if type_cols else pd.Series()
    long = long.dropna().astype(str)
    rows = long.index.to_numpy()
    unique = ~pd.DataFrame({"r": rows, "t": long.to_numpy()}).duplicated().to_numpy()
    by_type = _table(
        pd.Series(long.to_numpy()[unique]), outcome.iloc[rows[unique]].reset_index(drop=True)
    )
    by_type = pd.concat([by_type, total]) if len(long) else total
    return {"by_tier": by_tier, "by_risk_type": by_type}
