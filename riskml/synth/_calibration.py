"""Calibration statistics of a province, to compare with the targets in ``docs/domain.md``.

Works on any bundle (synthetic or not) plus, optionally, the generator's ground truth.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from riskml.config.thresholds import load_thresholds
from riskml.data._bundle import Bundle

__all__ = ["calibration_statistics", "oracle_auc"]


def _auc(score: np.ndarray, label: np.ndarray) -> float:
    """Area under the ROC curve (ties averaged); NaN when a class is missing."""
    label = label.astype(bool)
    n_pos, n_neg = int(label.sum()), int((~label).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = pd.Series(score).rank(method="average").to_numpy()
    return float((ranks[label].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _labels(bundle: Bundle, as_of: pd.Timestamp, horizon_months: int = 12) -> pd.DataFrame:
    """Eligible households at ``as_of`` (not under monitoring) and the default label."""
    hh = bundle.households["household_id"].astype(str)
    mon = bundle.monitoring
    ident = mon["identified_on"]
    elim = mon["eliminated_on"]
    active = (ident <= as_of) & (elim.isna() | (elim > as_of))
    monitored = set(mon.loc[active, "household_id"].astype(str))
    end = as_of + pd.DateOffset(months=horizon_months)
    positive = set(mon.loc[(ident > as_of) & (ident <= end), "household_id"].astype(str))
    frame = pd.DataFrame({"household_id": hh})
    frame = frame[~frame["household_id"].isin(monitored)]
    frame["label"] = frame["household_id"].isin(positive)
    frame["as_of"] = as_of
    return frame


def oracle_auc(
    bundle: Bundle, truth: pd.DataFrame, as_of_dates: list[str] | None = None
) -> dict[str, float]:
    """AUC and base rate of the generator's ``p_12m`` against the realised default label."""
    as_of_dates = as_of_dates or [
        "2020-01-01",
        "2021-01-01",
        "2022-01-01",
        "2023-01-01",
        "2024-01-01",
    ]
    frames = [_labels(bundle, pd.Timestamp(d)) for d in as_of_dates]
    pairs = pd.concat(frames, ignore_index=True)
    t = truth[["household_id", "month", "p_12m"]].copy()
    t["household_id"] = t["household_id"].astype(str)
    merged = pairs.merge(
        t, left_on=["household_id", "as_of"], right_on=["household_id", "month"], how="left"
    )
    return {
        "oracle_auc": _auc(merged["p_12m"].to_numpy(), merged["label"].to_numpy()),
        "label_rate": float(merged["label"].mean()),
        "mean_p_12m": float(merged["p_12m"].mean()),
        "pairs": len(merged),
    }


def calibration_statistics(
    bundle: Bundle, truth: pd.DataFrame | None = None, province: str | None = None
) -> dict:
    """Per-year identification rates, risk and category mix, income against the threshold.

    Returns a JSON-friendly dict: ``new_identification_rate`` (households identified in the year /
    households), ``illness_share`` (risk_1 = illness among identifications), ``category_share``,
    ``income`` per year (median per-capita net income / threshold, share below the threshold)
    and, with ``truth``, the oracle AUC of ``p_12m``.
    """
    n = len(bundle.households)
    mon = bundle.monitoring
    year = mon["identified_on"].dt.year
    rate = (mon.groupby(year)["household_id"].nunique() / n).round(4)
    risk1 = mon["risk_1"].astype(str)
    thresholds = load_thresholds()
    inc = bundle.income
    net = (
        inc[["wage_income", "business_income", "property_income", "transfer_income"]]
        .fillna(0)
        .sum(axis=1)
        - inc["business_costs"].fillna(0)
    ) / inc["household_size"].astype(float)
    years = inc["year"].astype(int)
    thr = years.map(lambda y: thresholds.threshold(int(y), province or bundle.province))
    ratio = net / thr
    income = {
        int(y): {
            "median_per_capita": round(float(net[years == y].median()), 0),
            "threshold": float(thr[years == y].iloc[0]),
            "median_ratio": round(float(ratio[years == y].median()), 3),
            "share_below_threshold": round(float((ratio[years == y] < 1).mean()), 4),
            "share_below_1_5x": round(float((ratio[years == y] < 1.5).mean()), 4),
        }
        for y in sorted(years.unique())
    }
    out: dict = {
        "households": n,
        "identifications": len(mon),
        "new_identification_rate": {int(k): float(v) for k, v in rate.items()},
        "illness_share": round(float((risk1 == "illness").mean()), 4) if len(mon) else float("nan"),
        "risk_1_share": {
            k: round(float(v), 4) for k, v in risk1.value_counts(normalize=True).items()
        },
        "category_share": {
            k: round(float(v), 4)
            for k, v in mon["category"].astype(str).value_counts(normalize=True).items()
        },
        "eliminated_share": round(float(mon["eliminated_on"].notna().mean()), 4)
        if len(mon)
        else float("nan"),
        "natural_elimination_share": round(
            float(
                (mon["elimination_method"].astype(str) == "natural").sum()
                / max(1, mon["eliminated_on"].notna().sum())
            ),
            4,
        ),
        "reidentified_households": int((mon.groupby("household_id").size() > 1).sum()),
        "income": income,
        "events_per_household": round(len(bundle.events) / n, 2),
        "event_types": {
            k: int(v) for k, v in bundle.events["event_type"].astype(str).value_counts().items()
        },
    }
    if truth is not None:
        out.update(oracle_auc(bundle, truth))
    return out
