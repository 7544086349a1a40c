"""The Spark engine: partitioning keeps every household's rows together, dtypes survive, and
both engines give the same scores and reasons."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from riskml.scoring import household_universe
from riskml.scoring._spark import _PART, frame_from_blob, pack_partitions, partition_of

from .conftest import SCORING_AS_OF


def test_partitions_hold_whole_households_and_exact_dtypes(province_bundle: Any) -> None:
    """What the Spark engine ships: every row once, every household whole, dtypes exact."""
    uni = household_universe(province_bundle)
    n_parts = 3
    packed = pack_partitions(province_bundle.tables, uni, n_parts)
    part_of = dict(
        zip(uni["household_id"], partition_of(uni["household_id"], n_parts), strict=True)
    )
    assert set(part_of.values()) == {0, 1, 2}
    for name, table in province_bundle.tables.items():
        mine = packed.loc[packed["table"] == name]
        parts = {
            int(p): frame_from_blob(b) for p, b in zip(mine[_PART], mine["payload"], strict=True)
        }
        for p, frame in parts.items():
            assert {part_of[h] for h in frame["household_id"]} == {p}, name
        back = pd.concat(parts.values(), ignore_index=True)
        assert dict(back.dtypes) == dict(table.dtypes), name
        key = list(table.columns)
        pd.testing.assert_frame_equal(
            back.sort_values(key, kind="stable").reset_index(drop=True),
            table.sort_values(key, kind="stable").reset_index(drop=True),
            check_exact=True,
        )


def test_partition_of_a_household_does_not_depend_on_row_order(province_bundle: Any) -> None:
    ids = province_bundle.households["household_id"]
    shuffled = ids.sample(frac=1.0, random_state=3)
    a = dict(zip(ids, partition_of(ids, 7), strict=True))
    b = dict(zip(shuffled, partition_of(shuffled, 7), strict=True))
    assert a == b


@pytest.mark.spark
def test_local_and_spark_engines_give_identical_scores_and_reasons(
    province_bundle: Any, risk_model: Any, spark_session: Any, tmp_path: Path
) -> None:
    from riskml.config.scoring import load_scoring_config
    from riskml.data import Bundle
    from riskml.scoring import score_roster

    cfg = load_scoring_config()
    staging = tmp_path / "staging"
    staging.mkdir()
    cfg = cfg.model_copy(
        update={
            "spark": cfg.spark.model_copy(
                update={"households_per_partition": 700, "staging_dir": str(staging)}
            )
        }
    )
    # reviews of 60 households (not at risk two months ago): the review columns and the quiet
    # period must come out the same on both engines
    ids = province_bundle.households["household_id"].iloc[:60]
    empty = province_bundle.reviews
    reviews = pd.DataFrame(
        {
            "household_id": pd.array(ids.to_numpy(), dtype="string"),
            "reviewed_on": pd.Series(pd.Timestamp("2025-04-30"), index=range(60)).astype(
                "datetime64[ns]"
            ),
            "outcome": pd.Categorical(
                ["not_at_risk"] * 60, categories=empty["outcome"].cat.categories
            ),
            "risk_type": pd.Categorical([None] * 60, categories=empty["risk_type"].cat.categories),
            "note": pd.array([None] * 60, dtype="string"),
        }
    )
    bundle = Bundle(
        tables={**province_bundle.tables, "reviews": reviews},
        extracted_on=province_bundle.extracted_on,
        province=province_bundle.province,
        source=province_bundle.source,
        quarantine=province_bundle.quarantine,
    )
    local = score_roster(bundle, SCORING_AS_OF, out=None, model=risk_model, config=cfg, quiet=True)
    spark = score_roster(
        bundle,
        SCORING_AS_OF,
        out=None,
        model=risk_model,
        config=cfg,
        engine="spark",
        spark=spark_session,
        quiet=True,
    )
    # the shipped partitions went through the staging folder and were removed after the run
    assert list(staging.iterdir()) == []
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
    assert (a["last_review_outcome"] == "not_at_risk").sum() == 60
    assert a["income_below_threshold"].fillna(False).sum() > 0
    assert a["village_seq"].notna().sum() > 2000
    pd.testing.assert_frame_equal(a, b, check_exact=True)  # ranks, tiers, every reason text
    assert local.summary["followup"] == spark.summary["followup"]
    assert local.summary["status"] == spark.summary["status"]
    assert local.summary["drift"]["psi"] == spark.summary["drift"]["psi"]
