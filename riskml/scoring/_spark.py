"""The Spark engine: the same :func:`score_partition` over hash partitions of the roster.

Every household gets a partition number from a stable hash of its ``household_id``
(:func:`partition_of`); every table of the bundle (and the roster's household universe) is split
by that number and shipped as blobs (``riskml.features._spark``, shared with the training-set
engine); one ``applyInPandas`` call per partition rebuilds a :class:`~riskml.data.Bundle` and
runs the very function the local engine runs. The model is broadcast once (its pickled bytes); the village context table,
computed over the whole roster on the driver, travels with the function.

The bundle is read and validated on the driver (``load_bundle``: the same quarantine and
household universe as the local engine), so the blobs are cut there: one cheap pass, and only one
Python stage on the executors instead of a shuffle per table.

Ranks and tiers are assigned on the driver from the collected score columns (one small row per
household), with the same code as the local engine, so both engines give identical files.
"""

from __future__ import annotations

import datetime as dt
import pickle
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd

from riskml.config.scoring import ScoringConfig
from riskml.data import Bundle
from riskml.features._spark import PART as _PART
from riskml.features._spark import (
    frame_from_blob,
    frame_to_blob,
    get_spark_session,
    pack_partitions,
    partition_of,
    ship_packed,
)
from riskml.scoring._local import EngineOutput, split_result
from riskml.scoring._partition import PARTITION_COLUMNS, ExplainSelection, score_partition
from riskml.scoring._pool import one_thread

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


_MODEL_CACHE: dict[str, Any] = {}


def _model_from(broadcast: Any, key: str) -> Any:
    model = _MODEL_CACHE.get(key)
    if model is None:
        model = pickle.loads(broadcast.value)  # our own broadcast of the driver's model
        one_thread(model)  # Spark runs one task per core
        _MODEL_CACHE.clear()
        _MODEL_CACHE[key] = model
    return model


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
    staging = Path(tempfile.mkdtemp(prefix="riskml-spark-", dir=config.spark.staging_dir))
    try:
        packed = ship_packed(spark, blobs, n_parts, staging)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
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
    run = SparkRun(spark=spark, packed=packed, common=common, broadcast=broadcast, staging=staging)
    try:
        run.output = run.score(explain=explain, drift_fraction=drift_fraction)
    except BaseException:
        run.close()
        raise
    run.output.timings["spark_total"] = time.perf_counter() - started
    return run


class SparkRun:
    """Prepared partitions of one roster on Spark, scored once and re-scorable for a subset."""

    def __init__(
        self,
        *,
        spark: Any,
        packed: Any,
        common: dict[str, Any],
        broadcast: Any,
        staging: Path | None = None,
    ) -> None:
        self.spark = spark
        self.staging = staging
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
        """Release the cached partitions, their staging folder and the model broadcast (the
        session stays up)."""
        import contextlib

        with contextlib.suppress(Exception):
            self.packed.unpersist()
        with contextlib.suppress(Exception):
            self.broadcast.unpersist()
        if self.staging is not None:
            shutil.rmtree(self.staging, ignore_errors=True)
