"""The local engine: stream the roster through :func:`score_partition` in household chunks.

Each table of the bundle is split by household once (one hash lookup and one stable argsort per
table), so taking a chunk is a slice; only one chunk's features and SHAP values are in memory at
a time, and only the score columns (and the reasons of the explained households) are kept.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from riskml.config.scoring import ScoringConfig
from riskml.data import Bundle
from riskml.scoring._ids import arrow_ids, id_positions
from riskml.scoring._partition import ExplainSelection, PartitionResult, score_partition
from riskml.scoring._pool import score_in_workers, usable_workers
from riskml.scoring.columns import EXPLANATION_COLUMNS

__all__ = ["BundleChunker", "EngineOutput", "run_local"]


class BundleChunker:
    """Split a bundle into sub-bundles of at most ``chunk_households`` households.

    Parameters
    ----------
    bundle : Bundle
    universe : DataFrame
        The households to split (``household_id`` first; :func:`household_universe` order).
        Rows of households not in ``universe`` are left out of every chunk.
    chunk_households : int
    """

    def __init__(self, bundle: Bundle, universe: pd.DataFrame, chunk_households: int) -> None:
        if chunk_households < 1:
            raise ValueError(
                f"chunk_households must be a positive int. Got {chunk_households!r} instead."
            )
        self.bundle = bundle
        self.universe = universe.reset_index(drop=True)
        self.size = int(chunk_households)
        self.n_chunks = max(1, -(-len(self.universe) // self.size))
        index = arrow_ids(self.universe["household_id"])
        self._slices: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for name, table in bundle.tables.items():
            self._slices[name] = self._split(index, table)
        self._quarantine = (
            self._split(index, bundle.quarantine) if "household_id" in bundle.quarantine else None
        )
        # rows of households outside the universe sort first, before chunk 0
        self.orphan_rows = {
            name: int(self._slices[name][1][0])
            for name, t in bundle.tables.items()
            if "household_id" in t.columns and name != "households"
        }

    def _split(self, index: pa.Array, table: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Row order grouping ``table`` by chunk (rows outside the universe first), and the
        bounds of each chunk in it."""
        pos = id_positions(table["household_id"], index)
        # a small integer type: numpy's stable sort is then a radix sort
        kind = np.int16 if self.n_chunks < np.iinfo(np.int16).max else np.int64
        chunk = np.where(pos >= 0, pos // self.size, -1).astype(kind)
        order = np.argsort(chunk, kind="stable")
        bounds = np.searchsorted(chunk[order], np.arange(self.n_chunks + 1), side="left")
        return order, bounds

    def __len__(self) -> int:
        return self.n_chunks

    def chunk(self, i: int) -> tuple[Bundle, pd.DataFrame]:
        """The ``i``-th sub-bundle and its rows of the universe."""
        if not 0 <= i < self.n_chunks:
            raise IndexError(f"chunk {i} out of range 0..{self.n_chunks - 1}")
        tables = {
            name: _rows(table, *self._slices[name], i) for name, table in self.bundle.tables.items()
        }
        if self._quarantine is not None:
            quarantine = _rows(self.bundle.quarantine, *self._quarantine, i)
        else:
            quarantine = self.bundle.quarantine
        part = Bundle(
            tables=tables,
            extracted_on=self.bundle.extracted_on,
            province=self.bundle.province,
            source=self.bundle.source,
            quarantine=quarantine,
        )
        return part, self.universe.iloc[i * self.size : (i + 1) * self.size]

    def __iter__(self) -> Iterator[tuple[Bundle, pd.DataFrame]]:
        for i in range(self.n_chunks):
            yield self.chunk(i)


def _rows(table: pd.DataFrame, order: np.ndarray, bounds: np.ndarray, i: int) -> pd.DataFrame:
    """The rows of chunk ``i`` in table order: a slice when they are contiguous (a table grouped
    by household in roster order), else a take."""
    rows = order[bounds[i] : bounds[i + 1]]
    if len(rows) and rows[-1] - rows[0] == len(rows) - 1:  # increasing, so contiguous
        return table.iloc[int(rows[0]) : int(rows[-1]) + 1]
    return table.iloc[rows]


@dataclass
class EngineOutput:
    """What an engine hands back: score columns for all, reasons for the explained, drift sample."""

    scores: pd.DataFrame
    reasons: pd.DataFrame
    drift_features: pd.DataFrame
    timings: dict[str, float]


def split_result(result: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split a partition's rows into the score columns and the explanation columns (reasons,
    village context, measures) of explained rows."""
    reason_cols = [c for c in result.columns if c.startswith("reason_") or c in EXPLANATION_COLUMNS]
    core = result.drop(columns=reason_cols)
    explained = result["explained"].to_numpy(dtype=bool)
    reasons = result.loc[explained, ["household_id", *reason_cols]]
    return core, reasons


def _progress(
    total: int, description: str, console: Any
) -> tuple[Callable[[int], None], Callable[[], None]]:
    """A rich progress bar on an interactive terminal, a plain line per chunk otherwise."""
    from rich.console import Console

    con = console or Console(stderr=True)
    if con.is_terminal:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("households"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=con,
            transient=False,
        )
        progress.start()
        task = progress.add_task(description, total=total)
        return (lambda k: progress.advance(task, k)), progress.stop
    done = [0]

    def advance(k: int) -> None:
        done[0] += k
        print(f"{description}: {done[0]:,}/{total:,} households", file=sys.stderr, flush=True)

    return advance, lambda: None


@dataclass(frozen=True)
class ChunkJob:
    """What every chunk of one pass is scored with (shipped once to each worker process)."""

    as_of: dt.date
    model: Any
    context: pd.DataFrame | None
    config: ScoringConfig
    explain: ExplainSelection
    drift_fraction: float
    reason_mode: str


@dataclass
class ChunkResult:
    """One scored chunk: score columns, reasons of the explained rows, drift sample, timings."""

    core: pd.DataFrame
    reasons: pd.DataFrame
    drift: pd.DataFrame
    stats: dict[str, float]
    households: int


def score_chunk(job: ChunkJob, part: Bundle, uni: pd.DataFrame) -> ChunkResult:
    """Score one chunk with :func:`score_partition` (in this process or in a worker)."""
    res: PartitionResult = score_partition(
        part,
        job.as_of,
        job.model,
        job.context,
        job.config,
        explain=job.explain,
        drift_fraction=job.drift_fraction,
        universe=uni,
        reason_mode=job.reason_mode,
    )
    core, why = split_result(res.scores)
    return ChunkResult(core, why, res.drift_features, dict(res.stats), len(uni))


def _chunk_size(n_households: int, chunk_households: int, workers: int) -> int:
    """``chunk_households`` shared by the workers (as many households in memory at once as in
    one process), and small enough to give every worker a chunk."""
    if workers <= 1:
        return chunk_households
    return max(1, min(-(-chunk_households // workers), -(-n_households // workers)))


def _score_chunks(
    chunker: BundleChunker, job: ChunkJob, workers: int, progress: Callable[[], Any]
) -> list[ChunkResult]:
    """Every chunk scored, in chunk order: in this process (``workers`` 1) or in workers."""
    if workers > 1:

        def start() -> tuple[Callable[[ChunkResult], None], Callable[[], None]]:
            advance, stop = progress()
            return (lambda r: advance(r.households)), stop

        return score_in_workers(chunker, score_chunk, job, workers, start)
    results = []
    advance, stop = progress()
    try:
        for i in range(len(chunker)):
            results.append(score_chunk(job, *chunker.chunk(i)))
            advance(results[-1].households)
    finally:
        stop()
    return results


def run_local(
    bundle: Bundle,
    universe: pd.DataFrame,
    as_of: dt.date,
    model: Any,
    context: pd.DataFrame | None,
    config: ScoringConfig,
    *,
    explain: ExplainSelection,
    drift_fraction: float,
    description: str = "scoring",
    console: Any = None,
    reason_mode: str = "internal",
) -> EngineOutput:
    """Score ``universe``'s households chunk by chunk; see :func:`score_partition`.

    With ``config.workers`` > 1 the chunks are scored in that many processes (capped by the
    cores and the households; :mod:`riskml.scoring._pool`); the output is the same.
    """
    workers = usable_workers(config.workers, len(universe))
    size = _chunk_size(len(universe), config.chunk_households, workers)
    chunker = BundleChunker(bundle, universe, size)
    workers = min(workers, len(chunker))
    job = ChunkJob(as_of, model, context, config, explain, drift_fraction, reason_mode)
    results = _score_chunks(
        chunker, job, workers, lambda: _progress(len(universe), description, console)
    )
    timings: dict[str, float] = {}
    for r in results:
        for k, v in r.stats.items():
            timings[k] = timings.get(k, 0.0) + v
    scores = pd.concat([r.core for r in results], ignore_index=True)
    reason_frame = pd.concat([r.reasons for r in results], ignore_index=True)
    drifts = [r.drift for r in results if len(r.drift)]
    drift = pd.concat(drifts, ignore_index=True) if drifts else pd.DataFrame()
    return EngineOutput(scores, reason_frame, drift, timings)
