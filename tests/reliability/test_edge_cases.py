"""Odd but legal rosters, scored and reported end to end: nothing crashes, every number adds up.

A village where every household is already under monitoring (0 eligible), a county holding a
single household, and a roster of one household — each scored with the canary run's model and
turned into review reports.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from riskml.data import Bundle
from tests.reliability.conftest import SCORING_AS_OF


def _clean(bundle: Bundle, **tables: pd.DataFrame) -> Bundle:
    """The loaded bundle without its quarantine (those rows have their own tests), tables replaced."""
    return Bundle(
        tables={**bundle.tables, **tables},
        extracted_on=bundle.extracted_on,
        province=bundle.province,
        source=bundle.source,
    )


def _only(bundle: Bundle, ids: set[str]) -> Bundle:
    return _clean(
        bundle,
        **{
            n: t.loc[t["household_id"].isin(ids)].reset_index(drop=True)
            for n, t in bundle.tables.items()
        },
    )


def _score(bundle: Bundle, model: Any, out: Path) -> Any:
    from riskml.scoring import score_roster

    return score_roster(bundle, SCORING_AS_OF, out=out, model=model, quiet=True)


def _report(scores: Path, out: Path, level: str) -> dict[str, Any]:
    from riskml.reports import render_review_reports

    result = render_review_reports(scores, out, level=level, lang="zh", mode="public")
    return {u["code"]: u for u in result.units}


def test_village_with_no_eligible_household(
    canary_bundle: Bundle, canary_model: Any, tmp_path: Path
) -> None:
    """A village whose every household was identified as a monitoring object in 2024 and is still
    monitored → its households are all not_eligible (no score, rank, tier or flag), the other
    villages are scored as before, and the village report says 0 scored / 0 flagged."""
    hh = canary_bundle.households
    village = hh["village_code"].value_counts().index[-1]
    ids = hh.loc[hh["village_code"] == village, "household_id"]
    monitored = canary_bundle.monitoring
    new = pd.DataFrame(
        {
            "household_id": ids.to_numpy(),
            "identified_on": pd.Timestamp("2024-03-01"),
            "category": "edge",
            "risk_1": "illness",
        }
    ).astype({"household_id": "string"})
    for col in monitored.columns:
        if col not in new.columns:
            new[col] = pd.Series(pd.NA, index=new.index)
        new[col] = new[col].astype(monitored[col].dtype)
    bundle = _clean(
        canary_bundle, monitoring=pd.concat([monitored, new[monitored.columns]], ignore_index=True)
    )
    run = _score(bundle, canary_model, tmp_path / "scores.parquet")
    s = run.scores
    in_village = (s["village_code"] == village).to_numpy()
    assert (s.loc[in_village, "status"] == "not_eligible").all()
    assert s.loc[in_village, ["score", "rank_village", "tier"]].isna().all().all()
    assert not s.loc[in_village, "flagged"].fillna(False).any()
    assert (s.loc[~in_village, "status"] == "scored").sum() > 0
    assert sum(run.summary["status"].values()) == len(hh)
    units = _report(tmp_path / "scores.parquet", tmp_path / "reports", "village")
    counts = units[village]["counts"]
    assert counts["total"] == len(ids) == counts["not_eligible"]
    assert counts["scored"] == counts["flagged"] == 0


def test_county_with_one_household(
    canary_bundle: Bundle, canary_model: Any, tmp_path: Path
) -> None:
    """One household moved into a county, township and village of its own → scored, rank 1 of 1
    in its village and township, a county report with 1 household; everyone else unchanged."""
    hh = canary_bundle.households.copy()
    lone = hh["household_id"].iloc[0]
    base = _score(_clean(canary_bundle), canary_model, None).scores.set_index("household_id")
    hh.loc[0, ["county_code", "township_code", "village_code"]] = [
        "159998",
        "159998001",
        "159998001001",
    ]
    hh = hh.astype(canary_bundle.households.dtypes.to_dict())
    run = _score(_clean(canary_bundle, households=hh), canary_model, tmp_path / "scores.parquet")
    s = run.scores.set_index("household_id")
    row = s.loc[lone]
    if row["status"] == "scored":
        assert row["rank_village"] == 1 and row["rank_township"] == 1 and pd.notna(row["tier"])
    others = s.index != lone
    pd.testing.assert_series_equal(s.loc[others, "status"], base.loc[others, "status"])
    units = _report(tmp_path / "scores.parquet", tmp_path / "reports", "county")
    assert units["159998"]["counts"]["total"] == 1
    assert sum(u["counts"]["total"] for u in units.values()) == len(hh)


@pytest.mark.parametrize("which", ["scored", "not_eligible"])
def test_roster_of_a_single_household(
    canary_bundle: Bundle, canary_model: Any, full_run: Any, tmp_path: Path, which: str
) -> None:
    """A roster of one household (eligible, or already monitored) → a one-row score file, drift
    reported as computed or unavailable (never a crash), a village report with 1 household."""
    from riskml.scoring import read_scores

    full, _ = read_scores(full_run.scores)
    hid = str(full.loc[full["status"] == which, "household_id"].iloc[0])
    run = _score(_only(canary_bundle, {hid}), canary_model, tmp_path / "one.parquet")
    assert len(run.scores) == 1 and run.scores["status"].iloc[0] == which
    if which == "scored":
        # the score depends on the household's own history and its village's context, which a
        # one-household roster changes; the score is a probability all the same
        assert 0 < run.scores["score"].iloc[0] < 1
    summary = json.loads(Path(str(tmp_path / "one.parquet") + ".summary.json").read_text("utf-8"))
    assert summary["input_households"] == 1 and "drift" in summary
    units = _report(tmp_path / "one.parquet", tmp_path / "reports", "village")
    assert [u["counts"]["total"] for u in units.values()] == [1]
