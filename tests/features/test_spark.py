"""``riskml features build --engine spark``: the same training set as the local engine."""

from __future__ import annotations

import filecmp
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from riskml.cli import app
from riskml.data import load_bundle
from riskml.features import (
    TrainingSet,
    as_of_schedule,
    village_context,
    write_training_set,
    write_training_set_spark,
)
from riskml.features._spark import (
    PART,
    _partitions,
    _village_sum_stage,
    pack_partitions,
    ship_packed,
)
from riskml.features._village import VILLAGE_SUMS

runner = CliRunner()


@pytest.fixture(scope="module")
def spark_session() -> Any:
    """A local Spark session (2 cores) for this module."""
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip(
            "Spark needs Java (java on PATH or JAVA_HOME); scripts/install-system-deps.sh installs it"
        )
    from riskml.features._spark import get_spark_session

    spark = get_spark_session("local[2]", app_name="riskml-features-test", driver_memory="2g")
    yield spark
    spark.stop()


@pytest.mark.slow
@pytest.mark.spark
def test_spark_engine_writes_the_local_engines_file(
    small_province_dir: Path, tmp_path: Path, spark_session: Any
) -> None:
    """The seeded province on Spark, through the CLI (one partition) and in 4 partitions of 2
    chunks each -> both the byte-identical Parquet file of the local engine: same values (exact,
    village context included), row order, dtypes and metadata."""
    spark_out = tmp_path / "spark.parquet"
    args = ["features", "build", "--data", str(small_province_dir), "--out", str(spark_out)]
    args += ["--start", "2021-03-31", "--end", "2023-06-30", "--every", "3M"]
    args += ["--chunk-households", "350", "--include-censored"]
    result = runner.invoke(app, [*args, "--engine", "spark", "--spark-master", "local[2]"])
    assert result.exit_code == 0, result.output
    local_out = tmp_path / "local.parquet"
    bundle = load_bundle(small_province_dir)
    dates = as_of_schedule("2021-03-31", "2023-06-30", "3M")
    write_training_set(bundle, dates, local_out, include_censored=True, chunk_households=350)
    parts_out = tmp_path / "parts.parquet"
    meta = write_training_set_spark(
        bundle,
        dates,
        parts_out,
        include_censored=True,
        chunk_households=350,
        households_per_partition=700,
        spark=spark_session,
    )
    assert _partitions(bundle, 350, 700)[1] == 4
    local_ts = TrainingSet.read_parquet(local_out)
    assert len(local_ts.frame) > 10_000 and local_ts.frame["label"].sum() > 0
    assert meta["counts"] == local_ts.metadata["counts"]
    for out in (spark_out, parts_out):
        spark_ts = TrainingSet.read_parquet(out)
        assert dict(spark_ts.frame.dtypes) == dict(local_ts.frame.dtypes)
        pd.testing.assert_frame_equal(spark_ts.frame, local_ts.frame, check_exact=True)
        assert spark_ts.metadata == local_ts.metadata
        assert filecmp.cmp(out, local_out, shallow=False)
        assert not out.with_name(out.name + ".parts").exists()
        assert not out.with_name(out.name + ".staging").exists()


@pytest.mark.slow
@pytest.mark.spark
def test_shipped_partitions_come_back_whole_through_the_staging_folder(
    small_province: Any, spark_session: Any, tmp_path: Path
) -> None:
    bundle, _ = small_province
    blobs = pack_partitions(dict(bundle.tables), bundle.households, 3)
    staging = tmp_path / "staging"
    packed = ship_packed(spark_session, blobs, 3, staging)
    try:
        files = sorted(p.name for p in staging.iterdir())
        assert files == [f"part-{k:05d}.parquet" for k in sorted(set(blobs[PART]))]
        got = packed.toPandas()
        assert packed.rdd.getNumPartitions() == 3
    finally:
        packed.unpersist()
    key = [PART, "table"]
    got = got.sort_values(key, ignore_index=True)
    want = blobs.sort_values(key, ignore_index=True)
    assert got[key].astype(str).equals(want[key].astype(str))
    assert [bytes(b) for b in got["payload"]] == list(want["payload"])


def test_partitions_are_whole_chunks(small_province: Any) -> None:
    """households_per_partition is rounded down to whole chunks (at least one), so each
    partition's chunks are the local engine's chunks."""
    bundle, _ = small_province
    n = len(bundle.households)
    assert _partitions(bundle, 350, 1000) == (700, -(-n // 700))
    assert _partitions(bundle, 350, 100) == (350, -(-n // 350))
    assert _partitions(bundle, 25_000, 50_000) == (50_000, 1)


def test_village_sums_add_in_the_local_order(small_province: Any) -> None:
    """The per-village stage, fed every household's inputs in shuffled order, gives the local
    village-context sums exactly (households in bundle order, chunk after chunk)."""
    from riskml.features import FeatureEngine, load_catalog
    from riskml.features._tables import dates_to_days
    from riskml.features._village import village_inputs

    bundle, _ = small_province
    dates = as_of_schedule("2022-03-31", "2023-03-31", "6M")
    settings = load_catalog().village
    expected = village_context(bundle, dates, settings=settings, chunk_households=700)
    engine = FeatureEngine(bundle)
    days = np.unique(dates_to_days(pd.Series(dates)))
    codes = np.arange(engine.prepared.n_households, dtype=np.int64)
    h, didx, weights = village_inputs(engine, codes, days, settings)
    vcode, villages = engine.village_codes()
    rows = pd.DataFrame(
        {"village_code": np.asarray(villages, dtype=object)[vcode[h]], "code": h, "didx": didx}
        | weights
    ).sample(frac=1.0, random_state=1)
    sums = pd.concat(
        [
            _village_sum_stage(len(days), chunk_households=700)(g)
            for _, g in rows.groupby("village_code", sort=False)
        ]
    )
    got = expected[["village_code"]].assign(didx=np.tile(np.arange(len(days)), len(villages)))
    got = got.merge(sums.astype({"village_code": "string"}), on=["village_code", "didx"])
    assert len(got) == len(expected) and len(codes) > 3 * 700  # four chunks
    np.testing.assert_array_equal(got["households"], expected["households"])
    mean = np.where(got["income_n"] > 0, got["income_sum"] / got["income_n"], np.nan)
    np.testing.assert_array_equal(mean, expected["mean_pc_income"])
    near = np.where(got["ratio_n"] > 0, got["near"] / got["ratio_n"], np.nan)
    np.testing.assert_array_equal(near, expected["near_threshold_share"])
    assert set(VILLAGE_SUMS) <= set(sums.columns)


def test_unknown_engine_is_refused(small_province_dir: Path, tmp_path: Path) -> None:
    """--engine flink -> exit 2 naming the choices, nothing written."""
    out = tmp_path / "x.parquet"
    args = ["features", "build", "--data", str(small_province_dir), "--start", "2021-03-31"]
    args += ["--end", "2021-06-30", "--out", str(out), "--engine", "flink"]
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert "local" in result.output and "spark" in result.output
    assert not out.exists()
