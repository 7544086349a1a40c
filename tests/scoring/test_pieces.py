"""The household universe, chunking, assembling, public masking and reconciliation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from riskml.scoring import (
    BundleChunker,
    ReconciliationError,
    household_universe,
    mask_ids,
    reconcile_households,
    to_public,
)
from riskml.scoring._columns import SCORE_COLUMNS, columns_for_mode
from riskml.scoring._output import assemble_scores

from ._frames import score_frame


def test_universe_adds_set_aside_and_orphan_households_with_the_loaders_reason(
    flawed_province_dir: Any,
) -> None:
    from riskml.data import load_bundle

    folder, ids = flawed_province_dir
    bundle = load_bundle(folder)
    uni = household_universe(bundle).set_index("household_id")
    assert len(uni) == len(bundle.households) + 2 and uni.index.is_unique
    assert (
        uni.loc[ids["set_aside"], "rejected_reason"]
        == "set aside by the loader: households.village_code: required value missing"
    )
    assert "household_id not in households" in uni.loc[ids["orphan"], "rejected_reason"]
    assert pd.isna(
        uni.loc[ids["bad_income"], "rejected_reason"]
    )  # one bad row does not reject a household
    assert uni["rejected_reason"].notna().sum() == 2


def test_universe_of_a_bundle_built_without_the_loader_counts_orphans_too(
    province_bundle: Any,
) -> None:
    from riskml.data import Bundle

    members = province_bundle.members.copy()
    extra = members.iloc[:3].copy()
    extra["household_id"] = pd.array(
        ["GHOST-1", "GHOST-1", "GHOST-2"], dtype=members["household_id"].dtype
    )
    extra["member_id"] = pd.array(["g1", "g2", "g3"], dtype=members["member_id"].dtype)
    tables = dict(province_bundle.tables, members=pd.concat([members, extra], ignore_index=True))
    bundle = Bundle(tables=tables, extracted_on=province_bundle.extracted_on)
    uni = household_universe(bundle).set_index("household_id")
    assert (
        uni.loc["GHOST-1", "rejected_reason"] == "no row in the households table (rows in members)"
    )
    assert len(uni) == len(province_bundle.households) + 2


@pytest.mark.parametrize("size", [1, 333, 1000, 10_000])
def test_chunks_hold_every_row_once_with_its_household(province_bundle: Any, size: int) -> None:
    uni = household_universe(province_bundle)
    chunker = BundleChunker(province_bundle, uni, size)
    assert len(chunker) == -(-len(uni) // size)
    if size == 1:  # the one-household chunks are many: check a sample of them
        picks = [0, 1, len(chunker) // 2, len(chunker) - 1]
        for i in picks:
            part, u = chunker.chunk(i)
            assert len(u) == 1 and set(part.households["household_id"]) == set(u["household_id"])
        return
    for name, table in province_bundle.tables.items():
        got = []
        for part, u in chunker:
            t = part.tables[name]
            assert set(t["household_id"]) <= set(u["household_id"])
            got.append(t)
        back = pd.concat(got)
        assert len(back) == len(table)
        pd.testing.assert_frame_equal(back.sort_index(), table, check_exact=True)


def test_assemble_puts_rows_in_roster_order_and_reasons_on_their_households() -> None:
    frame = score_frame(6)
    core = frame.drop(columns=[c for c in frame.columns if c.startswith("reason_")]).iloc[::-1]
    reasons = frame.loc[
        frame["flagged"], ["household_id", *[c for c in frame.columns if c.startswith("reason_")]]
    ]
    out = assemble_scores(
        core, reasons.iloc[::-1], frame["household_id"], pd.Timestamp("2025-06-30").date()
    )
    assert tuple(out.columns) == SCORE_COLUMNS
    pd.testing.assert_frame_equal(out, frame, check_exact=True)


def test_public_version_masks_ids_and_keeps_only_public_texts() -> None:
    frame = score_frame(6)
    pub = to_public(frame, visible_chars=4)
    assert tuple(pub.columns) == columns_for_mode("public")
    assert pub["household_id"].tolist() == ["******" + h[-4:] for h in frame["household_id"]]
    assert "reason_1_zh" not in pub and "reason_1_type" not in pub and "reason_1_public_zh" in pub
    assert pub["status_detail"].tolist()[1:3] == [
        "已纳入监测 / already under monitoring",
        "数据有误，未评分 / data problem, not scored",
    ]
    np.testing.assert_array_equal(pub["score"].to_numpy(), frame["score"].to_numpy())
    assert mask_ids(pd.Series(["AB"]), 4).tolist() == ["******AB"]
    assert mask_ids(pd.Series(["ABCDEFGH"]), 0).tolist() == ["******"]


def test_reconcile_raises_when_a_household_is_lost_duplicated_or_invented(tmp_path: Path) -> None:
    frame = score_frame(6)
    universe = frame[["household_id"]]
    assert reconcile_households(frame, universe) == {"scored": 4, "not_eligible": 1, "rejected": 1}
    with pytest.raises(ReconciliationError, match="1 input household\\(s\\) missing"):
        reconcile_households(frame.iloc[1:], universe)
    with pytest.raises(ReconciliationError, match="listed more than once"):
        reconcile_households(pd.concat([frame, frame.iloc[:1]]), universe)
    with pytest.raises(ReconciliationError, match="not in the input"):
        reconcile_households(frame, universe.iloc[1:])
    bad = frame.assign(status=frame["status"].replace({"rejected": "skipped"}))
    with pytest.raises(ReconciliationError, match="unknown status"):
        reconcile_households(bad, universe)
