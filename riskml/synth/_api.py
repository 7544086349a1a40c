"""Public entry points: stream a province chunk by chunk, write it, or hold a small one in memory."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from riskml.config.synth import SynthConfig, load_synth_config
from riskml.data._bundle import Bundle
from riskml.data._schema import TABLE_ORDER, TABLES
from riskml.synth._geography import Geography, build_geography
from riskml.synth._params import Calendar, check_vocabulary
from riskml.synth._rng import world_rng
from riskml.synth._simulate import simulate_chunk
from riskml.synth._tables import TRUTH_SCHEMA, arrow_schema, chunk_tables
from riskml.synth._writer import FORMATS, BundleWriter, Format

__all__ = [
    "ProvinceChunk",
    "SynthResult",
    "generate_province",
    "synthesize",
    "write_synthetic_province",
]


@dataclass(frozen=True)
class ProvinceChunk:
    """One chunk of a synthetic province: contract tables (Arrow) and its ground truth.

    ``first`` is the index of the chunk's first household, ``n_households`` its size.
    """

    first: int
    n_households: int
    tables: dict[str, pa.Table]
    truth: pa.Table
    extracted_on: dt.date
    province: str


@dataclass(frozen=True)
class SynthResult:
    """What :func:`write_synthetic_province` wrote."""

    bundle_dir: Path
    truth_path: Path | None
    n_households: int
    rows: dict[str, int]
    extracted_on: dt.date
    seconds: float


def _check_args(n_households: int, seed: int) -> None:
    if (
        not isinstance(n_households, int | np.integer)
        or isinstance(n_households, bool)
        or n_households < 1
    ):
        raise ValueError(f"n_households must be a positive int. Got {n_households!r} instead.")
    if not isinstance(seed, int | np.integer) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative int. Got {seed!r} instead.")


def _chunk_households(chunk_size: int | None, config: SynthConfig) -> int:
    size = config.default_chunk_size if chunk_size is None else chunk_size
    if not isinstance(size, int | np.integer) or isinstance(size, bool) or size < 1:
        raise ValueError(f"chunk_size must be a positive int. Got {chunk_size!r} instead.")
    block = config.block_size
    return max(block, (int(size) + block - 1) // block * block)


def synthesize(
    n_households: int,
    seed: int,
    *,
    config: SynthConfig | None = None,
    chunk_size: int | None = None,
    workers: int = 1,
) -> Iterator[ProvinceChunk]:
    """Generate a synthetic province chunk by chunk (bounded memory).

    The output for a ``(n_households, seed, config)`` is the same whatever ``chunk_size``:
    households are drawn in fixed blocks of ``config.block_size`` with one random stream per
    block (``SeedSequence(seed, spawn_key=(1, block))``), and ``chunk_size`` is rounded up to a
    whole number of blocks.

    Parameters
    ----------
    n_households : int
        Households in the province.
    seed : int
        Random seed.
    config : SynthConfig, optional
        Defaults to ``configs/synth.yaml``.
    chunk_size : int, optional
        Households simulated together (default ``config.default_chunk_size``).
    workers : int
        Processes simulating chunks in parallel (chunks are still yielded in order, and the
        output does not change). Memory grows with ``workers + 1`` chunks in flight.

    Yields
    ------
    ProvinceChunk

    Examples
    --------
    >>> from riskml.synth import synthesize
    >>> chunk = next(synthesize(200, seed=1))
    >>> chunk.tables["households"].num_rows
    200
    """
    _check_args(n_households, seed)
    config = config or load_synth_config()
    check_vocabulary(config)
    step = _chunk_households(chunk_size, config)
    if not isinstance(workers, int | np.integer) or isinstance(workers, bool) or workers < 1:
        raise ValueError(f"workers must be a positive int. Got {workers!r} instead.")
    starts = [
        (first, min(step, int(n_households) - first)) for first in range(0, int(n_households), step)
    ]
    if workers == 1 or len(starts) == 1:
        for first, n in starts:
            yield _make_chunk(config, int(n_households), int(seed), first, n)
        return
    yield from _parallel_chunks(config, int(n_households), int(seed), starts, int(workers))


_WORLD: dict[tuple[int, int, str], tuple[Calendar, Geography]] = {}


def _world(config: SynthConfig, n_households: int, seed: int) -> tuple[Calendar, Geography]:
    """Calendar and map of a province, built once per process."""
    key = (n_households, seed, config.model_dump_json())
    if key not in _WORLD:
        _WORLD.clear()
        cal = Calendar.from_config(config)
        _WORLD[key] = (cal, build_geography(config, n_households, world_rng(seed), cal))
    return _WORLD[key]


def _make_chunk(
    config: SynthConfig, n_households: int, seed: int, first: int, n: int
) -> ProvinceChunk:
    cal, geo = _world(config, n_households, seed)
    rec = simulate_chunk(config, cal, geo, seed, first, n)
    tables, truth = chunk_tables(rec, geo, cal, config.household_id_prefix)
    return ProvinceChunk(first, n, tables, truth, cal.extracted_on, config.province)


def _parallel_chunks(
    config: SynthConfig, n_households: int, seed: int, starts: list[tuple[int, int]], workers: int
) -> Iterator[ProvinceChunk]:
    """Simulate chunks in ``workers`` processes, yielding them in order (at most workers + 1 pending)."""
    import multiprocessing as mp
    from collections import deque
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn")) as pool:
        pending: deque = deque()
        todo = iter(starts)
        for first, n in todo:
            pending.append(pool.submit(_make_chunk, config, n_households, seed, first, n))
            if len(pending) > workers:
                break
        while pending:
            chunk = pending.popleft().result()
            nxt = next(todo, None)
            if nxt is not None:
                pending.append(pool.submit(_make_chunk, config, n_households, seed, *nxt))
            yield chunk


def write_synthetic_province(
    out_dir: str | Path,
    n_households: int,
    seed: int,
    *,
    format: Format = "parquet",
    chunk_size: int | None = None,
    config: SynthConfig | None = None,
    progress: Callable[[int], None] | None = None,
    workers: int = 1,
) -> SynthResult:
    """Write a synthetic province as a bundle in ``out_dir`` and its ground truth beside it.

    Files: ``out_dir/<table>.<format>`` for the six contract tables, ``out_dir/bundle.yaml``
    (``extracted_on``, ``province``, ``source: synthetic``) and ``<out_dir>.truth.parquet``
    (long: ``household_id, month, p_month, p_12m``; see :mod:`riskml.synth._hardship`).

    Parameters
    ----------
    out_dir : path
        Bundle folder (created; existing contract files replaced).
    n_households, seed : int
    format : {"parquet", "csv", "xlsx"}
        ``xlsx`` refuses tables over 1,048,575 rows.
    chunk_size : int, optional
        Households per chunk (memory is bounded by it); does not change the output.
    config : SynthConfig, optional
    progress : callable, optional
        Called with the number of households finished after each chunk.
    workers : int
        Processes simulating chunks in parallel (same output; see :func:`synthesize`).
    """
    import time

    if format not in FORMATS:
        raise ValueError(f"Unknown bundle format {format!r}; use one of {list(FORMATS)}.")
    _check_args(n_households, seed)
    config = config or load_synth_config()
    check_vocabulary(config)
    started = time.perf_counter()
    cal = Calendar.from_config(config)
    writer = BundleWriter(
        out_dir,
        format=format,
        extracted_on=cal.extracted_on,
        province=config.province,
        truth_metadata={
            "riskml.synth.seed": str(seed),
            "riskml.synth.households": str(n_households),
            "riskml.synth.p_12m": "P(identified in month .. month+11 | state at month start)",
        },
    )
    done = 0
    try:
        for chunk in synthesize(
            n_households, seed, config=config, chunk_size=chunk_size, workers=workers
        ):
            writer.write(chunk.tables, chunk.truth)
            done += chunk.n_households
            if progress is not None:
                progress(done)
    except BaseException:
        writer.abort()
        raise
    writer.close()
    return SynthResult(
        bundle_dir=Path(out_dir),
        truth_path=writer.truth_path,
        n_households=done,
        rows=writer.rows,
        extracted_on=cal.extracted_on,
        seconds=time.perf_counter() - started,
    )


def _typed_frame(name: str, table: pa.Table) -> pd.DataFrame:
    """An Arrow contract table as the typed frame ``Bundle`` holds (see ``riskml.data._schema``)."""
    frame = table.to_pandas(date_as_object=False)
    out = {}
    for col in TABLES[name].columns:
        s = frame[col.name]
        if col.kind in ("id", "string"):
            out[col.name] = s.astype(pd.StringDtype("pyarrow"))
        elif col.kind == "category":
            out[col.name] = pd.Categorical(
                s.astype(object).where(s.notna(), None), categories=list(col.vocab or ())
            )
        elif col.kind == "int":
            out[col.name] = s.astype("Int64")
        elif col.kind == "money":
            out[col.name] = s.astype("float64")
        elif col.kind == "date":
            out[col.name] = pd.to_datetime(s).astype("datetime64[ns]")
        else:
            out[col.name] = s.astype("boolean")
    return pd.DataFrame(out)


def generate_province(
    n_households: int, seed: int, *, config: SynthConfig | None = None
) -> tuple[Bundle, pd.DataFrame]:
    """A small synthetic province in memory: ``(Bundle, ground_truth)``.

    ``ground_truth`` is the long frame ``household_id, month, p_month, p_12m`` (float32) that
    :func:`write_synthetic_province` writes beside a bundle. Meant for tests and notebooks; write
    large provinces with :func:`write_synthetic_province`.

    Examples
    --------
    >>> bundle, truth = generate_province(300, seed=3)
    >>> len(bundle.households)
    300
    """
    parts: dict[str, list[pa.Table]] = {t: [] for t in TABLE_ORDER}
    truths: list[pa.Table] = []
    extracted_on, province = None, None
    for chunk in synthesize(n_households, seed, config=config):
        for t in TABLE_ORDER:
            parts[t].append(chunk.tables[t])
        truths.append(chunk.truth)
        extracted_on, province = chunk.extracted_on, chunk.province
    tables = {
        t: _typed_frame(
            t, pa.concat_tables(parts[t]) if parts[t] else arrow_schema(t).empty_table()
        )
        for t in TABLE_ORDER
    }
    truth = pa.concat_tables(truths) if truths else TRUTH_SCHEMA.empty_table()
    gt = truth.to_pandas(date_as_object=False)
    gt["household_id"] = gt["household_id"].astype(pd.StringDtype("pyarrow"))
    gt["month"] = pd.to_datetime(gt["month"]).astype("datetime64[ns]")
    if extracted_on is None:  # unreachable: n_households >= 1 gives at least one chunk
        raise RuntimeError("generate_province produced no chunk")
    return Bundle(
        tables=tables, extracted_on=extracted_on, province=province, source="synthetic"
    ), gt


def province_geography(
    n_households: int, seed: int, *, config: SynthConfig | None = None
) -> Geography:
    """The map (banners, townships, villages, disasters) a province of this size and seed uses."""
    config = config or load_synth_config()
    check_vocabulary(config)
    return build_geography(config, n_households, world_rng(seed), Calendar.from_config(config))
