"""Spark for what outgrows one machine: the session, shipping partitions, and training sets.

**Shipping partitions** (shared with the scoring engine, ``riskml.scoring._spark``). Every
household gets a partition number; every table of the bundle is split by that number, so all rows
of a household land in the same partition. Each table's rows of a partition travel as one blob (a
pickled frame: the contract's pandas dtypes survive exactly) in a Spark DataFrame
``(_part, table, payload)``, repartitioned by ``_part``; one ``applyInPandas`` call per partition
rebuilds a :class:`~riskml.data.Bundle` and runs the very code the local engine runs.

**Training sets** (:func:`write_training_set_spark`, ``riskml features build --engine spark``)
run in three stages over partitions of consecutive households (bundle order), each partition a
whole number of the local engine's chunks:

1. per partition, what each household adds to its village's sums (``village_inputs``);
2. per village (a shuffle of one small row per household and date), the sums, added chunk by
   chunk in household order like the local engine, so the village-context table is identical;
   it comes back to the driver (one row per village and date) and is broadcast;
3. per partition, the local engine's training-set chunks (features, labels, audit columns), each
   written by the executor as a row group of a part file next to ``out``.

The driver then copies the part files' row groups, in household order, into ``out``: the same
rows, order, dtypes and metadata as the local engine's file.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pickle
import shutil
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from riskml.config.features import LabelConfig
from riskml.data._bundle import Bundle
from riskml.features._catalog import Catalog, FeatureSet
from riskml.features._engine import FeatureEngine
from riskml.features._training import (
    _chunks,
    _metadata,
    _Plan,
    _plan,
    stream_to_parquet,
)
from riskml.features._village import (
    VILLAGE_CHUNK_HOUSEHOLDS,
    VILLAGE_SUMS,
    context_frame,
    village_inputs,
    village_order,
)

__all__ = [
    "PART",
    "frame_from_blob",
    "frame_to_blob",
    "get_spark_session",
    "pack_partitions",
    "partition_of",
    "ship_packed",
    "write_training_set_spark",
]

PART = "_part"
_PART_KEY = "riskml-partition"  # 16 characters: pandas' hash key
_PACKED_SCHEMA = f"{PART} int, table string, payload binary"


def get_spark_session(
    master: str | None = None, *, app_name: str = "riskml-score", driver_memory: str | None = None
) -> Any:
    """A Spark session (``local[2]`` unless ``master`` says otherwise).

    In local mode the Python workers run this interpreter (``PYSPARK_PYTHON``); on a cluster the
    executors need riskml installed and ``PYSPARK_PYTHON`` pointing at that Python. The UI is
    off, and the session time zone is UTC so that dates cross the JVM unchanged. An active
    session is reused (its memory settings then stay as they are).
    """
    master = master or "local[2]"
    if master.startswith("local"):
        # the workers must run this virtual environment's interpreter (riskml, pyarrow, lightgbm)
        os.environ["PYSPARK_PYTHON"] = sys.executable
        os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    else:
        # a cluster's executors have their own Python with riskml installed; respect the
        # operator's PYSPARK_PYTHON, else assume the same path as here
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from pyspark.sql import SparkSession  # optional dependency (the 'spark' extra)

    builder = (
        SparkSession.builder.master(master)
        .appName(app_name)
        .config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.sql.execution.arrow.pyspark.fallback.enabled", "false")
        .config("spark.sql.adaptive.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
    )
    if master.startswith("local"):
        builder = builder.config("spark.driver.host", "127.0.0.1").config(
            "spark.driver.bindAddress", "127.0.0.1"
        )
    if driver_memory:
        builder = builder.config("spark.driver.memory", driver_memory)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def frame_to_blob(frame: pd.DataFrame) -> bytes:
    """A pandas frame as bytes that restore it exactly (dtypes, categories, string storage).

    Pickle, not Parquet: a Parquet round trip turns pyarrow-backed strings into Python ones.
    The blobs only ever travel between this process and its own Spark workers.
    """
    return pickle.dumps(frame.reset_index(drop=True), protocol=5)


def frame_from_blob(blob: bytes) -> pd.DataFrame:
    """Inverse of :func:`frame_to_blob`."""
    return pickle.loads(blob)


def ship_packed(spark: Any, blobs: pd.DataFrame, n_parts: int, staging: Path) -> Any:
    """``blobs`` (from :func:`pack_partitions`) as a Spark DataFrame by ``_part``, cached.

    The blobs are written as Parquet files under ``staging`` (one per partition) and read back
    by the executors, so no task carries the data: handing a bundle of a million households to
    ``createDataFrame`` puts it all in a few tasks, and the scheduler runs out of heap
    serializing them (Spark then waits forever). ``staging`` must be readable by every executor
    (any local path in local mode; a shared file system on a cluster) and must stay until the
    DataFrame is no longer used; the caller removes it.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    staging.mkdir(parents=True, exist_ok=True)
    schema = pa.schema([(PART, pa.int32()), ("table", pa.string()), ("payload", pa.binary())])
    parts = blobs[PART].to_numpy(dtype=np.int64)
    for k in range(n_parts):
        rows = np.flatnonzero(parts == k)
        if len(rows) == 0:
            continue
        with pq.ParquetWriter(staging / f"part-{k:05d}.parquet", schema) as writer:
            for i in rows:  # one row group per blob: a reader never holds two at once
                writer.write_table(
                    pa.table(
                        {
                            PART: pa.array([k], pa.int32()),
                            "table": pa.array([blobs["table"].iat[i]], pa.string()),
                            "payload": pa.array([blobs["payload"].iat[i]], pa.binary()),
                        },
                        schema=schema,
                    )
                )
    return (
        spark.read.schema(_PACKED_SCHEMA).parquet(str(staging)).repartition(n_parts, PART).cache()
    )


def partition_of(household_id: pd.Series, n_parts: int) -> np.ndarray:
    """Each household's partition, ``0 .. n_parts - 1``: a stable hash of its id.

    The same id always lands in the same partition (whatever the row order, on every run).
    """
    if n_parts < 1:
        raise ValueError(f"n_parts must be a positive int. Got {n_parts!r} instead.")
    h = pd.util.hash_pandas_object(
        household_id.astype("string").fillna(""), index=False, hash_key=_PART_KEY
    )
    return (h.to_numpy() % np.uint64(n_parts)).astype(np.int64)


def pack_partitions(
    tables: dict[str, pd.DataFrame],
    universe: pd.DataFrame,
    n_parts: int,
    part: np.ndarray | None = None,
) -> pd.DataFrame:
    """``(_part, table, payload)`` rows: each table's rows of each partition as one blob.

    ``universe`` (the households to ship) decides the partitions: ``part`` gives each of its
    households' partition (default :func:`partition_of` its id). Rows of a table whose household
    is not in it are left out; rows keep their order within a partition. Empty (partition, table)
    pairs get no row; the receiving side then uses an empty frame of that table.
    """
    ids = pd.Index(universe["household_id"].astype("string").to_numpy(dtype=object))
    if part is None:
        part = partition_of(universe["household_id"], n_parts)
    rows: list[tuple[int, str, bytes]] = []
    for name, table in tables.items():
        pos = ids.get_indexer(table["household_id"].astype("string").to_numpy(dtype=object))
        p = np.where(pos >= 0, part[np.maximum(pos, 0)], -1)
        order = np.argsort(p, kind="stable")
        bounds = np.searchsorted(p[order], np.arange(n_parts + 1), side="left")
        for k in range(n_parts):
            lo, hi = int(bounds[k]), int(bounds[k + 1])
            if hi > lo:
                rows.append((k, name, frame_to_blob(table.iloc[order[lo:hi]])))
    return pd.DataFrame(rows, columns=[PART, "table", "payload"])


# ---- training sets --------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Shipped:
    """What every executor task gets: the bundle's facts, empty tables and the checked plan."""

    templates: dict[str, bytes]
    extracted_on: Any
    province: str | None
    source: str | None
    plan: _Plan
    households_per_partition: int

    def bundle(self, pdf: pd.DataFrame) -> tuple[int, Bundle]:
        """The partition number and the partition's bundle from its ``(_part, table, payload)``."""
        frames = {
            str(t): frame_from_blob(p) for t, p in zip(pdf["table"], pdf["payload"], strict=True)
        }
        tables = {
            name: frames[name] if name in frames else frame_from_blob(blob)
            for name, blob in self.templates.items()
        }
        bundle = Bundle(
            tables=tables,
            extracted_on=self.extracted_on,
            province=self.province,
            source=self.source,
        )
        return int(pdf[PART].iloc[0]), bundle

    def engine(self, bundle: Bundle) -> FeatureEngine:
        """The partition's engine, with the driver's catalog and monitoring thresholds: the
        executors read no configuration file."""
        thresholds = self.plan.engine.prepared.threshold_config
        return FeatureEngine(bundle, catalog=self.plan.catalog, thresholds=thresholds)


def _village_input_stage(shipped: _Shipped) -> Any:
    """Stage 1: per partition, each (household, date)'s additions to its village's sums."""

    def run(pdf: pd.DataFrame) -> pd.DataFrame:
        k, bundle = shipped.bundle(pdf)
        engine = shipped.engine(bundle)
        codes = np.arange(engine.prepared.n_households, dtype=np.int64)
        h, didx, weights = village_inputs(
            engine, codes, shipped.plan.dates, shipped.plan.fs.village
        )
        vcode, villages = engine.village_codes()
        return pd.DataFrame(
            {
                "village_code": np.asarray(villages, dtype=object)[vcode[h]],
                "code": h + k * shipped.households_per_partition,
                "didx": didx.astype(np.int32),
                **weights,
            }
        )

    return run


def _village_sum_stage(n_dates: int, chunk_households: int = VILLAGE_CHUNK_HOUSEHOLDS) -> Any:
    """Stage 2: per village, the sums in the local engine's order of additions (household order
    within a chunk of :data:`VILLAGE_CHUNK_HOUSEHOLDS`, chunk after chunk)."""

    def run(pdf: pd.DataFrame) -> pd.DataFrame:
        pdf = pdf.iloc[np.lexsort((pdf["didx"].to_numpy(), pdf["code"].to_numpy()))]
        chunk = pdf["code"].to_numpy() // chunk_households
        didx = pdf["didx"].to_numpy()
        sums = {name: np.zeros(n_dates) for name in VILLAGE_SUMS}
        for c in np.unique(chunk):
            mine = chunk == c
            for name in VILLAGE_SUMS:
                w = pdf[name].to_numpy()[mine]
                sums[name] += np.bincount(didx[mine], weights=w, minlength=n_dates)
        out = pd.DataFrame(sums)
        out.insert(0, "didx", np.arange(n_dates, dtype=np.int32))
        out.insert(0, "village_code", pdf["village_code"].iloc[0])
        return out

    return run


def _training_stage(shipped: _Shipped, village: Any, parts_dir: str) -> Any:
    """Stage 3: per partition, the local engine's training-set chunks into a part file."""

    def run(pdf: pd.DataFrame) -> pd.DataFrame:
        import pyarrow as pa
        import pyarrow.parquet as pq

        k, bundle = shipped.bundle(pdf)
        plan = dataclasses.replace(
            shipped.plan,
            engine=shipped.engine(bundle),
            village=frame_from_blob(village.value) if village is not None else None,
            counts=dict.fromkeys(shipped.plan.counts, 0),
        )
        writer: pq.ParquetWriter | None = None
        try:
            for frame in _chunks(plan):
                table = pa.Table.from_pandas(frame, preserve_index=False)
                if writer is None:
                    writer = pq.ParquetWriter(Path(parts_dir) / _part_name(k), table.schema)
                writer.write_table(table.cast(writer.schema))
        finally:
            if writer is not None:
                writer.close()
        return pd.DataFrame({PART: [k], "counts": [json.dumps(plan.counts)]})

    return run


def _part_name(k: int) -> str:
    return f"part-{k:06d}.parquet"


def _village_table(spark: Any, packed: Any, shipped: _Shipped, bundle: Bundle) -> pd.DataFrame:
    """Stages 1 and 2, then the village-context table on the driver (villages in bundle order)."""
    from pyspark.sql import types as T  # optional dependency (the 'spark' extra)

    dates = shipped.plan.dates
    weights = [T.StructField(name, T.DoubleType(), False) for name in VILLAGE_SUMS]
    inputs_schema = T.StructType(
        [
            T.StructField("village_code", T.StringType(), False),
            T.StructField("code", T.LongType(), False),
            T.StructField("didx", T.IntegerType(), False),
            *weights,
        ]
    )
    sums_schema = T.StructType(
        [
            T.StructField("village_code", T.StringType(), False),
            T.StructField("didx", T.IntegerType(), False),
            *weights,
        ]
    )
    inputs = packed.groupBy(PART).applyInPandas(_village_input_stage(shipped), schema=inputs_schema)
    sums_df = inputs.groupBy("village_code").applyInPandas(
        _village_sum_stage(len(dates)), schema=sums_schema
    )
    got = sums_df.toPandas()
    _, villages = village_order(bundle.households)
    cell = villages.get_indexer(got["village_code"].astype(object)) * len(dates) + got["didx"]
    sums = {name: np.zeros(len(villages) * len(dates)) for name in VILLAGE_SUMS}
    for name in VILLAGE_SUMS:
        sums[name][cell.to_numpy()] = got[name].to_numpy()
    return context_frame(villages, dates, sums)


def _row_groups(parts_dir: Path, n_parts: int) -> Iterator[Any]:
    """The part files' row groups, partition after partition (household order)."""
    import pyarrow.parquet as pq

    for k in range(n_parts):
        path = parts_dir / _part_name(k)
        if not path.exists():  # a partition without eligible rows writes no file
            continue
        with pq.ParquetFile(path) as part:
            for i in range(part.num_row_groups):
                yield part.read_row_group(i)


def _partitions(bundle: Bundle, chunk: int, households_per_partition: int) -> tuple[int, int]:
    """(households per partition, a whole number of chunks; number of partitions)."""
    per_part = max(chunk, (households_per_partition // chunk) * chunk)
    return per_part, max(1, -(-len(bundle.households) // per_part))


def write_training_set_spark(
    bundle: Bundle,
    as_of_dates: Sequence[Any],
    out: str | Path,
    horizon_months: int = 12,
    *,
    feature_set: FeatureSet | str = "default",
    label_config: LabelConfig | None = None,
    include_censored: bool = False,
    chunk_households: int | None = None,
    catalog: Catalog | None = None,
    households_per_partition: int = 50_000,
    spark_master: str | None = None,
    spark: Any = None,
    driver_memory: str | None = "4g",
) -> dict[str, Any]:
    """:func:`~riskml.features.write_training_set` on Spark: the same file, built in partitions.

    ``households_per_partition`` is rounded down to a whole number of chunks (at least one).
    ``spark_master`` is the master URL (default ``local[2]``) unless a session ``spark`` is
    given. ``out`` must be on a file system the executors can read and write: the shipped
    partitions go to ``<out>.staging/`` and the part files to ``<out>.parts/``; both are removed
    once the part files are copied into ``out``. Returns the metadata.
    """
    plan = _plan(
        bundle,
        as_of_dates,
        horizon_months,
        feature_set,
        label_config,
        include_censored,
        chunk_households,
        catalog,
        "write_training_set_spark",
        engine_bundle=_empty_like(bundle),  # computes nothing on the driver
        with_village=False,
    )
    _ = plan.engine.prepared.province  # an unknown province fails here, before Spark starts
    spark = spark or get_spark_session(
        spark_master, app_name="riskml-features", driver_memory=driver_memory
    )
    per_part, n_parts = _partitions(bundle, plan.chunk, households_per_partition)
    spark.conf.set("spark.sql.shuffle.partitions", str(n_parts))
    out = Path(out)
    staging = out.with_name(out.name + ".staging")
    shutil.rmtree(staging, ignore_errors=True)
    packed = _packed(spark, bundle, per_part, n_parts, staging)
    shipped = _Shipped(
        templates={name: frame_to_blob(t.iloc[:0]) for name, t in bundle.tables.items()},
        extracted_on=bundle.extracted_on,
        province=bundle.province,
        source=bundle.source,
        plan=plan,
        households_per_partition=per_part,
    )
    parts_dir = out.with_name(out.name + ".parts")
    shutil.rmtree(parts_dir, ignore_errors=True)
    parts_dir.mkdir(parents=True)
    village = None
    try:
        if any(f.primitive == "context" for f in plan.fs.required):
            table = _village_table(spark, packed, shipped, bundle)
            village = spark.sparkContext.broadcast(frame_to_blob(table))
        done = (
            packed.groupBy(PART)
            .applyInPandas(
                _training_stage(shipped, village, str(parts_dir)),
                schema=f"{PART} int, counts string",
            )
            .toPandas()
        )
        for counts in done["counts"]:
            for key, value in json.loads(counts).items():
                plan.counts[key] += value
        return stream_to_parquet(
            out, _row_groups(parts_dir, n_parts), lambda: _metadata(plan, bundle), plan.fs.names
        )
    finally:
        packed.unpersist()
        if village is not None:
            village.unpersist()
        shutil.rmtree(parts_dir, ignore_errors=True)
        shutil.rmtree(staging, ignore_errors=True)


def _packed(spark: Any, bundle: Bundle, per_part: int, n_parts: int, staging: Path) -> Any:
    """The bundle's partitions of consecutive households as a cached Spark DataFrame."""
    part = np.arange(len(bundle.households), dtype=np.int64) // per_part
    blobs = pack_partitions(dict(bundle.tables), bundle.households, n_parts, part)
    return ship_packed(spark, blobs, n_parts, staging)


def _empty_like(bundle: Bundle) -> Bundle:
    """The bundle with no rows (same tables, dtypes and facts)."""
    return Bundle(
        tables={name: t.iloc[:0] for name, t in bundle.tables.items()},
        extracted_on=bundle.extracted_on,
        province=bundle.province,
        source=bundle.source,
    )
