"""The Spark engine: partitioning keeps every household's rows together, dtypes survive, and
both engines give the same scores and reasons."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from riskml.scoring._spark import _PART, _packer, _to_spark, frame_from_blob

from .conftest import SCORING_AS_OF

pytestmark = pytest.mark.spark


@pytest.mark.slow  # ~30 s on a busy 2-core machine; the engine test below covers the same path end to end
def test_hash_partitions_hold_whole_households_and_exact_dtypes(
    province_bundle: Any, spark_session: Any
) -> None:
    n_parts = 2
    names = (
        "households",
        "income",
        "events",
    )  # every contract dtype: ids, vocab, Int64, bool, dates, money
    packed = None
    for name in names:
        table = province_bundle.tables[name]
        blobs = (
            _to_spark(spark_session, table, n_parts)
            .groupBy(_PART)
            .applyInPandas(
                _packer(name, table.iloc[:0]), schema=f"{_PART} int, table string, payload binary"
            )
        )
        packed = blobs if packed is None else packed.unionByName(blobs)
    rows = packed.toPandas()
    for name in names:
        table = province_bundle.tables[name]
        mine = rows.loc[rows["table"] == name]
        parts = {
            int(p): frame_from_blob(bytes(b))
            for p, b in zip(mine[_PART], mine["payload"], strict=True)
        }
        assert len(parts) == n_parts
        seen: dict[str, int] = {}  # every household in exactly one partition
        for p, frame in parts.items():
            for hid in frame["household_id"].unique():
                assert seen.setdefault(hid, p) == p, (
                    f"{name}: household {hid} split across partitions"
                )
        back = pd.concat(parts.values(), ignore_index=True)
        assert dict(back.dtypes) == dict(table.dtypes), name
        key = list(table.columns)
        ordered = back.sort_values(key, kind="stable").reset_index(drop=True)
        expected = table.sort_values(key, kind="stable").reset_index(drop=True)
        pd.testing.assert_frame_equal(ordered, expected, check_exact=True)


def test_local_and_spark_engines_give_identical_scores_and_reasons(
    province_bundle: Any, risk_model: Any, spark_session: Any
) -> None:
    from riskml.config.scoring import load_scoring_config
    from riskml.scoring import score_roster

    cfg = load_scoring_config()
    cfg = cfg.model_copy(
        update={"spark": cfg.spark.model_copy(update={"households_per_partition": 700})}
    )
    local = score_roster(
        province_bundle, SCORING_AS_OF, out=None, model=risk_model, config=cfg, quiet=True
    )
    spark = score_roster(
        province_bundle,
        SCORING_AS_OF,
        out=None,
        model=risk_model,
        config=cfg,
        engine="spark",
        spark=spark_session,
        quiet=True,
    )
    a, b = local.scores, spark.scores
    assert a["household_id"].tolist() == b["household_id"].tolist()
    scored = (a["status"] == "scored").to_numpy()
    assert scored.sum() > 1000
    assert np.max(np.abs(a["score"].to_numpy()[scored] - b["score"].to_numpy()[scored])) <= 1e-12
    assert (
        np.max(np.abs(a["raw_score"].to_numpy()[scored] - b["raw_score"].to_numpy()[scored]))
        <= 1e-12
    )
    assert a["flagged"].sum() > 0 and a["reason_1_zh"].notna().sum() > 0
    pd.testing.assert_frame_equal(a, b, check_exact=True)  # ranks, tiers, every reason text
    assert local.summary["status"] == spark.summary["status"]
    assert local.summary["drift"]["psi"] == spark.summary["drift"]["psi"]
