"""The recorded risk type behind each positive label, and recall by risk type.

A default label counts an identification as a monitoring object in ``(as_of, as_of + horizon]``.
The monitoring table records that identification's main risk (``risk_1``: illness, disaster,
labour shortage, ...). Recall by that type shows which kinds of hardship a ranking finds and
which it misses, for the model and for the department rules alike.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = ["UNRECORDED", "calibration_by_signal", "label_risk_types", "recall_by_risk_type"]

UNRECORDED = "unrecorded"
"""Risk type of a positive whose identification has no ``risk_1``."""


def label_risk_types(
    monitoring: pd.DataFrame,
    pairs: pd.DataFrame,
    horizon_months: int,
    *,
    categories: Sequence[str] | None = None,
) -> np.ndarray:
    """``risk_1`` of the first identification each ``(household_id, as_of)`` label counts.

    Parameters
    ----------
    monitoring : DataFrame
        The bundle's monitoring table (``household_id``, ``identified_on``, ``category``,
        ``risk_1``).
    pairs : DataFrame
        ``household_id`` and ``as_of`` per row (a training set's frame).
    horizon_months : int
        The label horizon: identifications in ``(as_of, as_of + horizon_months]`` count.
    categories : sequence of str, optional
        Monitoring categories the label counts (None = any).

    Returns
    -------
    ndarray of object, one per pair: the risk type, ``"unrecorded"`` when the identification
    has no ``risk_1``, or None when no identification falls in the window.
    """
    out = np.full(len(pairs), None, dtype=object)
    if len(pairs) == 0 or len(monitoring) == 0:
        return out
    mon = monitoring[["household_id", "identified_on", "category", "risk_1"]].copy()
    if categories is not None:
        mon = mon[mon["category"].astype("string").isin(list(categories)).to_numpy(dtype=bool)]
    mon = mon.dropna(subset=["identified_on"])
    mon["household_id"] = mon["household_id"].astype("string")
    mon["identified_on"] = pd.to_datetime(mon["identified_on"])
    mon["risk_1"] = mon["risk_1"].astype("string").fillna(UNRECORDED)
    left = pd.DataFrame(
        {
            "row": np.arange(len(pairs)),
            "household_id": pairs["household_id"].astype("string").to_numpy(),
            "as_of": pd.to_datetime(pairs["as_of"]).to_numpy(),
        }
    )
    merged = left.merge(mon, on="household_id", how="inner")
    if merged.empty:
        return out
    ends = merged["as_of"] + pd.DateOffset(months=int(horizon_months))
    inside = (merged["identified_on"] > merged["as_of"]) & (merged["identified_on"] <= ends)
    first = (
        merged.loc[inside.to_numpy()]
        .sort_values(["row", "identified_on"], kind="stable")
        .drop_duplicates("row")
    )
    out[first["row"].to_numpy()] = first["risk_1"].to_numpy(dtype=object)
    return out


def recall_by_risk_type(
    risk_type: np.ndarray, selections: dict[str, np.ndarray], y: np.ndarray
) -> pd.DataFrame:
    """Per recorded risk type of the positives: count, and each method's flagged count and recall.

    ``selections`` maps a method to its (expected) selection of each row at capacity (0..1).
    Positives without a recorded identification type (the label came from elsewhere) are
    ``unrecorded``. Rows: risk types by number of positives, then ``all``.
    """
    y = np.asarray(y, dtype=np.float64)
    pos = y > 0
    types = pd.Series(risk_type, dtype="object").where(pd.notna(risk_type), UNRECORDED)
    types = types.to_numpy(dtype=object)[pos]
    frame = pd.DataFrame({"risk_type": types})
    for method, sel in selections.items():
        frame[method] = np.asarray(sel, dtype=np.float64)[pos]
    grouped = frame.groupby("risk_type", sort=False)
    table = pd.DataFrame({"positives": grouped.size()})
    for method in selections:
        table[f"flagged_{method}"] = grouped[method].sum()
    total = pd.DataFrame(
        {"positives": [len(frame)], **{f"flagged_{m}": [frame[m].sum()] for m in selections}},
        index=["all"],
    )
    table = table.sort_values("positives", ascending=False, kind="stable")
    table = pd.concat([table, total])
    for method in selections:
        table[f"recall_{method}"] = table[f"flagged_{method}"] / table["positives"]
    table.index.name = "risk_type"
    return table


def calibration_by_signal(
    signals: pd.DataFrame, y: np.ndarray, probability: np.ndarray
) -> pd.DataFrame:
    """Observed rate against a model's mean probability on the rows where each signal is on.

    The diagnostic behind recall by risk type: a model that ranks a kind of household too low
    predicts, out of time, a lower rate for the rows a signal marks (a department rule firing,
    e.g. a severe disability certificate) than those rows show. Because a model's overall level
    can drift between years, each signal's ``ratio`` (mean probability / observed rate) is also
    given against the ratio over every row: ``relative_ratio`` < 1 means the signal's rows are
    under-predicted beyond the model's overall level (the signal's lift is shrunk).

    Parameters
    ----------
    signals : DataFrame of bool
        One column per signal (e.g. :meth:`RuleBaseline.fired`), one row per prediction.
    y : array of 0/1
        Labels of the same rows.
    probability : array of float
        The model's (calibrated) probability of the same rows.

    Returns
    -------
    DataFrame indexed by signal (and ``all``): ``rows``, ``positives``, ``observed``,
    ``predicted``, ``ratio`` and ``relative_ratio`` (NaN where a signal has no positives).
    """
    y = np.asarray(y, dtype=np.float64)
    probability = np.asarray(probability, dtype=np.float64)
    if not (len(signals) == len(y) == len(probability)):
        raise ValueError(
            f"signals ({len(signals)} rows), y ({len(y)}) and probability ({len(probability)}) "
            "must describe the same rows."
        )
    masks = {str(c): signals[c].to_numpy(dtype=bool) for c in signals.columns}
    masks["all"] = np.ones(len(y), dtype=bool)
    rows = []
    for name, on in masks.items():
        n, pos = int(on.sum()), float(y[on].sum())
        observed = pos / n if n else np.nan
        predicted = float(probability[on].mean()) if n else np.nan
        ratio = predicted / observed if pos else np.nan
        rows.append((name, n, pos, observed, predicted, ratio))
    table = pd.DataFrame(
        rows, columns=["signal", "rows", "positives", "observed", "predicted", "ratio"]
    ).set_index("signal")
    table["relative_ratio"] = table["ratio"] / table.loc["all", "ratio"]
    return table
