"""The Spark engine: the same :func:`score_partition` over hash partitions of the roster.

Every household gets a partition number from a stable hash of its ``household_id``
(:func:`partition_of`); every table of the bundle (and the roster's household universe) is split
by that number, so all rows of a household land in the same partition. Each table's rows of a
partition travel as one blob (a pickled frame: the contract's pandas dtypes survive exactly) in a
Spark DataFrame ``(_part, table, payload)``, repartitioned by ``_part``; one ``applyInPandas``
call per partition rebuilds a :class:`~riskml.data.Bundle` and runs the very function the local
engine runs. The model is broadcast once (its pickled bytes); the village context table,
computed over the whole roster on the driver, travels with the function.

The bundle is read and validated on the driver (``load_bundle``: the same quarantine and
household universe as the local engine), so the blobs are cut there: one cheap pass, and only one
Python stage on the executors instead of a shuffle per table.

Ranks and tiers are assigned on the driver from the collected score columns (one small row per
household), with the same code as the local engine, so both engines give identical files.
"""

from __future__ import annotations

import datetime as dt
import os
import pickle
import sys
import time
from typing import Any

import numpy as np
import pandas as pd

from riskml.config.scoring import ScoringConfig
from riskml.data import Bundle
from riskml.scoring._local import EngineOutput, split_result
from riskml.scoring._partition import PARTITION_COLUMNS, ExplainSelection, score_partition

__all__ = [
    "UNIVERSE_TABLE",
    "SparkRun",
    "frame_from_blob",
    "frame_to_blob",
    "get_spark_session",
    "pack_partitions",
    "partition_of",
    "partition_scorer",
    "run_spark",
]

UNIVERSE_TABLE = "_universe"
_PART = "_part"
_PART_KEY = "riskml-partition"  # 16 characters: pandas' hash key


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
    from pyspark.sql import SparkSession

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
    tables: dict[str, pd.DataFrame], universe: pd.DataFrame, n_parts: int
) -> pd.DataFrame:
    """``(_part, table, payload)`` rows: each table's rows of each partition as one blob.

    ``universe`` (the households to score, :func:`household_universe`) decides the partitions;
    rows of a table whose household is not in it are left out. Empty (partition, table) pairs
    get no row; the scorer then uses an empty frame of that table.
    """
    ids = pd.Index(universe["household_id"].astype("string").to_numpy(dtype=object))
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
    return pd.DataFrame(rows, columns=[_PART, "table", "payload"])


_MODEL_CACHE: dict[str, Any] = {}


def _model_from(broadcast: Any, key: str) -> Any:
    model = _MODEL_CACHE.get(key)
    if model is None:
        model = pickle.loads(broadcast.value)  # our own broadcast of the driver's model
        _one_thread_per_task(model)
        _MODEL_CACHE.clear()
        _MODEL_CACHE[key] = model
    return model


def _one_thread_per_task(model: Any) -> None:
    """Spark runs one task per core: LightGBM and numba threads on top only oversubscribe."""
    import contextlib

    estimator = getattr(model, "model", None)
    if estimator is not None and hasattr(estimator, "n_jobs"):
        estimator.n_jobs = 1
    with contextlib.suppress(ImportError, ValueError):
        import numba

        numba.set_num_threads(1)


def _output_template() -> pd.DataFrame:
    from riskml.scoring._columns import score_dtypes

    dtypes = score_dtypes()
    cols: dict[str, Any] = {}
    for c in PARTITION_COLUMNS:
        if c in ("explained", "drift_sample"):
            cols[c] = pd.Series(dtype=bool)
        else:
            cols[c] = pd.Series(dtype=dtypes[c])
    cols["drift_payload"] = pd.Series(dtype=object)
    return pd.DataFrame(cols)


def _output_schema() -> Any:
    from pyspark.sql import types as T

    tmpl = _output_template()
    fields = []
    for col in tmpl.columns:
        dtype = tmpl[col].dtype
        if col == "drift_payload":
            t: Any = T.BinaryType()
        elif pd.api.types.is_bool_dtype(dtype):
            t = T.BooleanType()
        elif pd.api.types.is_float_dtype(dtype):
            t = T.DoubleType()
        else:
            t = T.StringType()
        fields.append(T.StructField(col, t, True))
    return T.StructType(fields)


def partition_scorer(
    *,
    templates: dict[str, bytes],
    extracted_on: dt.date,
    province: str | None,
    source: str | None,
    as_of: dt.date,
    model_broadcast: Any,
    model_key: str,
    context_blob: bytes | None,
    config: ScoringConfig,
    explain: ExplainSelection,
    drift_fraction: float,
    only_ids: frozenset[str] | None = None,
    reason_mode: str = "internal",
) -> Any:
    """The function ``applyInPandas`` runs per partition: unpack, rebuild a Bundle, score.

    Its input rows are ``(_part, table, payload)``, one per table present in the partition; its
    output is :data:`PARTITION_COLUMNS` plus ``drift_payload`` (the drift sample's features as
    a Parquet blob on the partition's first row).
    """

    def score(pdf: pd.DataFrame) -> pd.DataFrame:
        frames = {
            str(t): frame_from_blob(p) for t, p in zip(pdf["table"], pdf["payload"], strict=True)
        }
        tables: dict[str, pd.DataFrame] = {}
        for name, blob in templates.items():
            tables[name] = frames[name] if name in frames else frame_from_blob(blob)
        universe = tables.pop(UNIVERSE_TABLE)
        if only_ids is not None:
            universe = universe.loc[universe["household_id"].isin(only_ids)].reset_index(drop=True)
            tables = {
                n: t.loc[t["household_id"].isin(only_ids)].reset_index(drop=True)
                for n, t in tables.items()
            }
        bundle = Bundle(tables=tables, extracted_on=extracted_on, province=province, source=source)
        model = _model_from(model_broadcast, model_key)
        context = frame_from_blob(context_blob) if context_blob is not None else None
        res = score_partition(
            bundle,
            as_of,
            model,
            context,
            config,
            explain=explain,
            drift_fraction=drift_fraction,
            universe=universe,
            reason_mode=reason_mode,
        )
        out = res.scores.copy()
        out["drift_payload"] = pd.Series([None] * len(out), dtype=object)
        if len(res.drift_features) and len(out):
            out.iloc[0, out.columns.get_loc("drift_payload")] = frame_to_blob(res.drift_features)
        for col in out.columns:
            if (
                col not in ("drift_payload", "explained", "drift_sample")
                and out[col].dtype != "float64"
            ):
                out[col] = out[col].astype(object).where(out[col].notna(), None)
        return out

    return score


def _collect(df: Any) -> pd.DataFrame:
    """The scored rows on the driver, with the score file's dtypes."""
    from riskml.scoring._columns import score_dtypes

    pdf = df.toPandas()
    dtypes = score_dtypes()
    for col in pdf.columns:
        if col in ("explained", "drift_sample"):
            pdf[col] = pdf[col].astype("boolean").fillna(False).astype(bool)
        elif col in dtypes:
            pdf[col] = pdf[col].astype(dtypes[col])
    return pdf


def run_spark(
    bundle: Bundle,
    universe: pd.DataFrame,
    as_of: dt.date,
    model: Any,
    context: pd.DataFrame | None,
    config: ScoringConfig,
    *,
    explain: ExplainSelection,
    drift_fraction: float,
    spark_master: str | None = None,
    spark: Any = None,
    console: Any = None,
    reason_mode: str = "internal",
) -> SparkRun:
    """Score ``universe``'s households on Spark; see :func:`score_partition`.

    Returns a :class:`SparkRun` whose ``output`` is the engine output and which can rerun the
    scoring for a subset of households (``only_ids``) on the same prepared partitions.
    """
    started = time.perf_counter()
    spark = spark or get_spark_session(spark_master, driver_memory=config.spark.driver_memory)
    n_parts = max(
        config.spark.min_partitions, -(-len(universe) // config.spark.households_per_partition)
    )
    spark.conf.set("spark.sql.shuffle.partitions", str(n_parts))
    tables: dict[str, pd.DataFrame] = dict(bundle.tables)
    tables[UNIVERSE_TABLE] = universe.reset_index(drop=True)
    templates = {name: frame_to_blob(t.iloc[:0]) for name, t in tables.items()}
    blobs = pack_partitions(tables, universe, n_parts)
    packed = (
        spark.createDataFrame(blobs, schema=f"{_PART} int, table string, payload binary")
        .repartition(n_parts, _PART)
        .cache()
    )
    del blobs
    model_bytes = pickle.dumps(model)
    model_key = f"{id(model)}-{len(model_bytes)}-{time.time_ns()}"
    broadcast = spark.sparkContext.broadcast(model_bytes)
    context_blob = frame_to_blob(context) if context is not None else None
    common = dict(
        templates=templates,
        extracted_on=bundle.extracted_on,
        province=bundle.province,
        source=bundle.source,
        as_of=as_of,
        model_broadcast=broadcast,
        model_key=model_key,
        context_blob=context_blob,
        config=config,
        reason_mode=reason_mode,
    )
    run = SparkRun(spark=spark, packed=packed, common=common, broadcast=broadcast)
    run.output = run.score(explain=explain, drift_fraction=drift_fraction)
    run.output.timings["spark_total"] = time.perf_counter() - started
    return run


class SparkRun:
    """Prepared partitions of one roster on Spark, scored once and re-scorable for a subset."""

    def __init__(self, *, spark: Any, packed: Any, common: dict[str, Any], broadcast: Any) -> None:
        self.spark = spark
        self.packed = packed
        self.common = common
        self.broadcast = broadcast
        self.output: EngineOutput | None = None

    def score(
        self,
        *,
        explain: ExplainSelection,
        drift_fraction: float,
        only_ids: frozenset[str] | None = None,
    ) -> EngineOutput:
        fn = partition_scorer(
            **self.common, explain=explain, drift_fraction=drift_fraction, only_ids=only_ids
        )
        result = _collect(self.packed.groupBy(_PART).applyInPandas(fn, schema=_output_schema()))
        payloads = [p for p in result["drift_payload"] if p is not None]
        result = result.drop(columns=["drift_payload"])
        drift = (
            pd.concat([frame_from_blob(bytes(p)) for p in payloads], ignore_index=True)
            if payloads
            else pd.DataFrame()
        )
        core, reasons = split_result(result)
        return EngineOutput(core, reasons, drift, {})

    def close(self) -> None:
        """Release the cached partitions and the model broadcast (the session stays up)."""
        import contextlib

        with contextlib.suppress(Exception):
            self.packed.unpersist()
        with contextlib.suppress(Exception):
            self.broadcast.unpersist()
