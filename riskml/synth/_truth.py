"""Reading the ground truth that ``riskml synth`` writes beside a bundle."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from riskml.synth._writer import truth_path_for

__all__ = ["GroundTruthOracle", "find_ground_truth", "oracle_probability", "read_ground_truth"]


def find_ground_truth(bundle_dir: str | Path) -> Path | None:
    """The ground-truth file of a synthetic bundle (``<bundle_dir>.truth.parquet``), or ``None``.

    Examples
    --------
    >>> find_ground_truth("/nonexistent/bundle") is None
    True
    """
    path = truth_path_for(bundle_dir)
    return path if path.is_file() else None


def read_ground_truth(
    truth_path: str | Path, household_ids: np.ndarray | list[str] | None = None
) -> pd.DataFrame:
    """The truth as a long frame ``household_id, month, p_month, p_12m`` (optionally a subset)."""
    path = Path(truth_path)
    if not path.is_file():
        raise FileNotFoundError(
            f"Ground-truth file {path} does not exist; generate it with `riskml synth`."
        )
    filters = None
    if household_ids is not None:
        filters = pc.is_in(
            pc.field("household_id"),
            value_set=pa.array(np.unique(np.asarray(household_ids, dtype=str))),
        )
    table = pq.read_table(path, filters=filters)
    frame = table.to_pandas()
    frame["household_id"] = frame["household_id"].astype("string")
    frame["month"] = pd.to_datetime(frame["month"])
    return frame


def oracle_probability(
    truth_path: str | Path, pairs: pd.DataFrame, *, column: str = "p_12m"
) -> np.ndarray:
    """The generator's true probability for each ``(household_id, as_of)`` row of ``pairs``.

    ``as_of`` is mapped to the first day of its month; the value is the probability, given the
    generator's full state at that month start, that the household is identified as a monitoring
    object (any category) in that month or the 11 after it — the default label's horizon.
    Households under monitoring at ``as_of`` have a value too (re-identification after
    elimination). Pairs outside the simulated households or months give ``NaN``.

    Parameters
    ----------
    truth_path : path
        A ``*.truth.parquet`` file (see :func:`find_ground_truth`).
    pairs : DataFrame
        Columns ``household_id`` and ``as_of`` (dates); any order, duplicates allowed.
    column : {"p_12m", "p_month"}
        Which truth to return.

    Returns
    -------
    ndarray of float64, one value per row of ``pairs``, in order.
    """
    missing = {"household_id", "as_of"} - set(pairs.columns)
    if missing:
        raise ValueError(
            f"oracle_probability: pairs lacks columns {sorted(missing)}; it needs household_id and as_of."
        )
    if column not in ("p_12m", "p_month"):
        raise ValueError(
            f"oracle_probability: column must be 'p_12m' or 'p_month', got {column!r}."
        )
    if len(pairs) == 0:
        return np.zeros(0)
    as_of = pd.to_datetime(pairs["as_of"], errors="coerce")
    if as_of.isna().any():
        bad = int(np.flatnonzero(as_of.isna().to_numpy())[0])
        raise ValueError(
            f"oracle_probability: as_of of row {bad} ({pairs['as_of'].iloc[bad]!r}) is not a date."
        )
    ids = pairs["household_id"].astype(str).to_numpy()
    truth = read_ground_truth(truth_path, ids)
    key = pd.DataFrame(
        {"household_id": ids, "month": as_of.dt.to_period("M").dt.to_timestamp().to_numpy()}
    )
    key["household_id"] = key["household_id"].astype("string")
    merged = key.merge(
        truth[["household_id", "month", column]], on=["household_id", "month"], how="left"
    )
    return merged[column].to_numpy(dtype=np.float64)


@dataclass(frozen=True)
class GroundTruthOracle:
    """The oracle baseline of a synthetic province, for callers that know the data is synthetic.

    ``riskml.tracking.train_and_register(..., oracle=GroundTruthOracle(path))`` (and
    ``evaluate``) add it to the backtest as the ceiling; training itself never looks for ground
    truth. Called with ``(household_id, as_of)`` pairs it returns :func:`oracle_probability`.
    """

    truth_path: Path

    def __post_init__(self) -> None:
        path = Path(self.truth_path)
        if not path.is_file():
            raise FileNotFoundError(
                f"Ground-truth file {path} does not exist; `riskml synth` writes it beside the "
                "bundle as <bundle>.truth.parquet."
            )
        object.__setattr__(self, "truth_path", path)

    def __call__(self, pairs: pd.DataFrame) -> np.ndarray:
        return oracle_probability(self.truth_path, pairs)

    def __str__(self) -> str:
        return self.truth_path.name
