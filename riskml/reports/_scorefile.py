"""Reading a score file (written by ``riskml score``) for reports, and checking it is usable.

The file format belongs to ``riskml.scoring`` (columns in ``riskml/scoring/_columns.py``); this
module reads it through the scoring reader, so Parquet, CSV (UTF-8 with BOM, Chinese headers)
and Excel all work, and checks what reports rely on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["ReportInputError", "ScoreFile", "load_score_file"]

TIERS = ("high", "medium", "low")


class ReportInputError(ValueError):
    """The score file cannot be turned into the requested reports."""


@dataclass(frozen=True)
class ScoreFile:
    """A score file read for reporting.

    Attributes
    ----------
    frame
        One row per household, the score file's English columns and dtypes.
    mode
        ``internal`` (full ids, internal reason texts) or ``public`` (masked ids, public texts).
    metadata
        The run's metadata (model name/version, feature set version, as-of, ...).
    path
        Where it was read from (named in error messages).
    """

    frame: pd.DataFrame
    mode: str
    metadata: Mapping[str, Any] = field(default_factory=dict)
    path: Path | None = None

    @property
    def has_risk_types(self) -> bool:
        return "reason_1_type" in self.frame.columns

    def model_text(self) -> str:
        """``name vN`` of the model that scored the file (from ``riskml score``'s metadata)."""
        model = self.metadata.get("model")
        if isinstance(model, Mapping):
            name, version = model.get("name") or model.get("uri"), model.get("version")
        else:
            name, version = (
                model or self.metadata.get("model_name"),
                self.metadata.get("model_version"),
            )
        return _name_version(name, version)

    def feature_set_text(self) -> str:
        fs = self.metadata.get("feature_set")
        if isinstance(fs, Mapping):
            return _name_version(fs.get("name"), fs.get("version"))
        return _name_version(fs, self.metadata.get("feature_set_version"))

    def as_of_text(self) -> str:
        """The as-of date from the metadata, else from the ``as_of`` column (a range if mixed)."""
        value = self.metadata.get("as_of")
        if value:
            return str(value)[:10]
        as_of = self.frame["as_of"].dropna()
        if as_of.empty:
            return ""
        values = sorted({str(pd.Timestamp(v).date()) for v in as_of.unique()})
        return values[0] if len(values) == 1 else f"{values[0]} – {values[-1]}"


def _name_version(name: Any, version: Any) -> str:
    name = "" if name in (None, "") else str(name)
    version = "" if version in (None, "") else str(version)
    if version and not version.startswith("v"):
        version = "v" + version
    return " ".join(x for x in (name, version) if x)


def _scoring_columns() -> Any:
    from riskml.scoring import columns as _columns

    return _columns


def _first_rows(mask: pd.Series, n: int = 5) -> list[int]:
    return [int(i) + 2 for i in mask.to_numpy().nonzero()[0][:n]]  # 1-based + header line


def load_score_file(path: str | Path) -> ScoreFile:
    """Read and check a score file.

    Parameters
    ----------
    path
        A score file written by ``riskml score`` (``.parquet``, ``.csv`` or ``.xlsx``).

    Raises
    ------
    ReportInputError
        Missing columns, unknown status/tier/change values, households without a unit code.
    """
    from riskml.scoring import read_scores

    path = Path(path)
    if not path.is_file():
        raise ReportInputError(
            f"Score file {path} does not exist. Give the file written by 'riskml score'."
        )
    try:
        frame, metadata = read_scores(path)
    except (ValueError, OSError) as exc:
        raise ReportInputError(f"Cannot read score file {path}: {exc}") from exc
    return check_scores(frame, metadata, path=path)


def check_scores(
    frame: pd.DataFrame, metadata: Mapping[str, Any] | None = None, *, path: Path | None = None
) -> ScoreFile:
    """Check a score frame (as read by the scoring reader) and decide its mode."""
    cols = _scoring_columns()
    where = f"score file {path}" if path else "the score frame"
    metadata = dict(metadata or {})
    public_cols = cols.columns_for_mode("public")
    missing = [c for c in public_cols if c not in frame.columns]
    if missing:
        raise ReportInputError(
            f"The {where} lacks column(s) {missing}. Give a score file written by 'riskml score' "
            "(see riskml/scoring/_columns.py)."
        )
    internal_only = [c for c in cols.columns_for_mode("internal") if c not in public_cols]
    has_internal = all(c in frame.columns for c in internal_only)
    declared = str(metadata.get("mode") or "").strip().lower()
    if declared not in ("", "internal", "public"):
        raise ReportInputError(
            f"The {where} declares mode {declared!r}; expected 'internal' or 'public'."
        )
    mode = declared or ("internal" if has_internal else "public")
    if mode == "internal" and not has_internal:
        raise ReportInputError(
            f"The {where} says it is an internal score file but lacks {internal_only[:3]}...; "
            "write it again with 'riskml score --mode internal'."
        )

    checks: list[tuple[str, tuple[str, ...]]] = [
        ("status", tuple(cols.STATUS_VALUES)),
        ("tier", TIERS),
        ("previous_tier", TIERS),
        ("change", tuple(cols.CHANGE_VALUES)),
    ]
    for col, allowed in checks:
        s = frame[col].astype("string")
        bad = s.notna() & ~s.isin(allowed)
        if bad.any():
            raise ReportInputError(
                f"The {where} has unknown {col} value(s) {sorted(s[bad].unique().tolist())[:5]} "
                f"(rows {_first_rows(bad)}); allowed: {list(allowed)}."
            )
    # households the loader set aside (no usable household row) are rejected without unit codes:
    # reports count them as unplaced instead of refusing the whole roster
    rejected = frame["status"].astype("string") == "rejected"
    for col in ("household_id", "county_code", "township_code", "village_code", "status"):
        bad = frame[col].isna() | (frame[col].astype("string").str.strip() == "")
        if col.endswith("_code"):
            bad = bad & ~rejected.fillna(False)
        if bad.any():
            raise ReportInputError(
                f"The {where} has {int(bad.sum())} row(s) with an empty {col} (rows {_first_rows(bad)}); "
                "every household needs its codes so it can be placed in a report. Fix the roster and score again."
            )
    scored = frame["status"].astype("string") == "scored"
    no_score = scored & frame["score"].isna()
    if no_score.any():
        raise ReportInputError(
            f"The {where} has {int(no_score.sum())} scored household(s) without a score (rows {_first_rows(no_score)})."
        )
    return ScoreFile(frame=frame.reset_index(drop=True), mode=mode, metadata=metadata, path=path)
