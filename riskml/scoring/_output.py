"""Assembling the score file's frame, and the public (village-meeting) version of it."""

from __future__ import annotations

import contextlib
import datetime as dt

import numpy as np
import pandas as pd

from riskml.scoring._columns import SCORE_COLUMNS, columns_for_mode, empty_scores, score_dtypes
from riskml.scoring._ids import id_positions

__all__ = ["assemble_scores", "mask_ids", "to_public"]

PUBLIC_DETAIL = {
    "not_eligible": "已纳入监测 / already under monitoring",
    "rejected": "数据有误，未评分 / data problem, not scored",
}
PUBLIC_REVIEW_DETAIL = {
    "held_back": "近期已核实，暂缓预警 / reviewed recently, held back",
    "flagged_again": "近期已核实，有新情况再次预警 / reviewed recently, flagged again on new records",
}


def mask_ids(ids: pd.Series, visible: int) -> pd.Series:
    """``******1234``: household ids with all but the last ``visible`` characters hidden.

    Examples
    --------
    >>> mask_ids(pd.Series(["150421100001234"]), 4).tolist()
    ['******1234']
    """
    s = ids.astype("string")
    tail = s.str[-visible:] if visible > 0 else s.str[:0]
    return ("******" + tail.fillna("")).astype("string")


def assemble_scores(
    core: pd.DataFrame, reasons: pd.DataFrame, universe_order: pd.Series, as_of: dt.date
) -> pd.DataFrame:
    """One frame with every score column, in the roster's order.

    ``core`` holds the score columns of every household (any order), ``reasons`` the reason
    columns of the explained households, ``universe_order`` the household ids in input order.
    """
    pos = id_positions(core["household_id"], universe_order)
    core = core.iloc[np.argsort(pos, kind="stable")].reset_index(drop=True)
    out = empty_scores(len(core))
    dtypes = score_dtypes()
    for col in core.columns:
        if col in out.columns:
            out[col] = core[col].astype(dtypes[col]).array
    out["as_of"] = pd.Series(pd.Timestamp(as_of), index=out.index).astype("datetime64[ns]")
    if len(reasons):
        rpos = id_positions(reasons["household_id"], out["household_id"])
        keep = rpos >= 0
        for col in reasons.columns:
            if col == "household_id" or col not in out.columns:
                continue
            out[col] = _with_values(out[col], rpos[keep], reasons[col].loc[keep], dtypes[col])
    return out[list(SCORE_COLUMNS)]


def _with_values(
    column: pd.Series, at: np.ndarray, values: pd.Series, dtype: str
) -> np.ndarray | pd.api.extensions.ExtensionArray:
    """``column`` (of ``dtype``) with its rows ``at`` set to ``values``."""
    if dtype == "float64":
        floats = column.to_numpy(dtype=float, na_value=np.nan).copy()
        floats[at] = values.to_numpy(dtype=float)
        return floats
    objects = column.to_numpy(dtype=object, na_value=None).copy()
    objects[at] = values.to_numpy(dtype=object)
    if dtype == "string" and pd.StringDtype().storage == "python":
        # strings and missing values only: wrap them as they are (no per-value conversion)
        with contextlib.suppress(ValueError):
            return pd.arrays.StringArray(objects)
    return pd.Series(objects, dtype=dtype).array


def to_public(scores: pd.DataFrame, *, visible_chars: int) -> pd.DataFrame:
    """The village-meeting version: masked ids, no internal reason texts, no diagnoses.

    Household ids keep only their last ``visible_chars`` characters; the internal reason texts
    and risk types (``reason_k_type``, ``reason_k_zh``, ``reason_k_en``) are dropped; the
    status detail (which can name a monitoring category or a data problem) becomes a generic
    phrase. The public reason texts and suggested measures stay; the head's name and the group
    (``INTERNAL_ONLY_COLUMNS``) are dropped; ``village_seq`` (村内编号) stays, so a meeting can
    name a household uniquely within its village while the internal list holds the key.
    """
    out = scores.copy()
    out["household_id"] = mask_ids(out["household_id"], visible_chars)
    status = out["status"].astype("string")
    detail = pd.Series(pd.NA, index=out.index, dtype="string")
    for s, text in PUBLIC_DETAIL.items():
        detail[status == s] = text
    if "review_hold" in out.columns:
        hold = out["review_hold"].astype("string")
        for s, text in PUBLIC_REVIEW_DETAIL.items():
            detail[(hold == s).fillna(False)] = text
    out["status_detail"] = detail
    return out[list(columns_for_mode("public"))]
