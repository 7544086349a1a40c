"""Subgroup audit: recall, false-positive rate and calibration by audit group.

Audit columns (``audit_*``: county, livelihood, head's sex and ethnicity, disability in the
household, female- and elderly-headed) describe households for this audit only; they are never
model features. Flags are the households selected at cadre capacity (expected selection under
ties, see :func:`riskml.models.select_at_capacity`), so recall and false-positive rate are those
of the visit list cadres would actually get.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["FAIRNESS_COLUMNS", "GAP_COLUMNS", "fairness_gaps", "fairness_table"]

FAIRNESS_COLUMNS = (
    "method",
    "group",
    "level",
    "n",
    "positives",
    "flagged",
    "recall",
    "fpr",
    "precision",
    "mean_predicted",
    "observed_rate",
    "calibration_gap",
)
"""Columns of the fairness table; ``calibration_gap`` = mean predicted - observed rate."""

GAP_COLUMNS = (
    "method",
    "group",
    "metric",
    "gap",
    "highest_level",
    "highest_value",
    "lowest_level",
    "lowest_value",
    "levels_compared",
)

_MISSING_LEVEL = "(missing)"


def _levels(col: pd.Series) -> pd.Series:
    out = col.astype("object").where(col.notna(), _MISSING_LEVEL)
    return out.map(str)


def fairness_table(
    labels: np.ndarray,
    probability: np.ndarray,
    flagged: np.ndarray,
    audit: pd.DataFrame,
    *,
    method: str,
) -> pd.DataFrame:
    """One row per audit group and level.

    Parameters
    ----------
    labels : array of 0/1
    probability : array
        Predicted probability (for calibration by group).
    flagged : array in [0, 1]
        (Expected) selection at capacity.
    audit : DataFrame
        Audit columns aligned with the rows; the group name drops the ``audit_`` prefix.
    method : str
        Method name written into the table.
    """
    y = np.asarray(labels, dtype=np.float64)
    p = np.asarray(probability, dtype=np.float64)
    f = np.asarray(flagged, dtype=np.float64)
    frames = []
    for col in audit.columns:
        group = str(col).removeprefix("audit_")
        stats = pd.DataFrame(
            {
                "level": _levels(audit[col]).to_numpy(),
                "y": y,
                "p": p,
                "f": f,
                "tp": f * y,
                "fp": f * (1 - y),
            }
        ).groupby("level", sort=True)
        agg = stats.agg(
            n=("y", "size"),
            positives=("y", "sum"),
            flagged=("f", "sum"),
            tp=("tp", "sum"),
            fp=("fp", "sum"),
            mean_predicted=("p", "mean"),
            observed_rate=("y", "mean"),
        ).reset_index()
        negatives = agg["n"] - agg["positives"]
        agg["recall"] = agg["tp"] / agg["positives"].where(agg["positives"] > 0)
        agg["fpr"] = agg["fp"] / negatives.where(negatives > 0)
        agg["precision"] = agg["tp"] / agg["flagged"].where(agg["flagged"] > 0)
        agg["calibration_gap"] = agg["mean_predicted"] - agg["observed_rate"]
        agg["group"] = group
        agg["method"] = method
        frames.append(agg)
    if not frames:
        return pd.DataFrame(columns=list(FAIRNESS_COLUMNS))
    table = pd.concat(frames, ignore_index=True)
    table["positives"] = table["positives"].round().astype(np.int64)
    return table[list(FAIRNESS_COLUMNS)]


def fairness_gaps(
    table: pd.DataFrame, *, min_group_size: int = 200, min_positives: int = 30
) -> pd.DataFrame:
    """The largest gap between levels of each audit group, per method and metric.

    A level is compared only when it has at least ``min_group_size`` rows, and (for recall and
    false-positive rate) at least ``min_positives`` positives, respectively negatives; smaller
    levels stay in the table but are too noisy to rank. Sorted by gap, largest first.
    """
    rows = []
    for (method, group), part in table.groupby(["method", "group"], sort=False):
        big = part[part["n"] >= min_group_size]
        for metric, enough in (
            ("recall", big["positives"] >= min_positives),
            ("fpr", (big["n"] - big["positives"]) >= min_positives),
            ("calibration_gap", pd.Series(True, index=big.index)),
        ):
            cand = big[enough & big[metric].notna()]
            if len(cand) < 2:
                continue
            hi = cand.loc[cand[metric].idxmax()]
            lo = cand.loc[cand[metric].idxmin()]
            rows.append(
                {
                    "method": method,
                    "group": group,
                    "metric": metric,
                    "gap": float(hi[metric] - lo[metric]),
                    "highest_level": hi["level"],
                    "highest_value": float(hi[metric]),
                    "lowest_level": lo["level"],
                    "lowest_value": float(lo[metric]),
                    "levels_compared": len(cand),
                }
            )
    out = pd.DataFrame(rows, columns=list(GAP_COLUMNS))
    return out.sort_values(["metric", "gap"], ascending=[True, False], ignore_index=True)
