"""The vectorised rules at a few thousand households: injected faults are found exactly, nothing else."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from riskml.data import load_bundle, summarize_bundle

from ._builders import scaled_text_tables, write_text_bundle

N = 3000


def test_injected_faults_are_found_exactly(tmp_path: Path) -> None:
    """3,000 households with 40 orphan incomes, 30 negative wages, 25 future events, 20 repeated income rows, 50 full-width ids → exactly those quarantined/normalised, every household kept."""
    rng = np.random.default_rng(1)
    t = scaled_text_tables(N, seed=1)
    inc, ev, mem = t["income"], t["events"], t["members"]
    rows = rng.permutation(len(inc))
    orphan, negative = rows[:40], rows[40:70]
    inc.loc[orphan, "household_id"] = [f"99{i:016d}" for i in range(40)]
    inc.loc[negative, "wage_income"] = "-" + inc.loc[negative, "wage_income"]
    future = rng.choice(len(ev), 25, replace=False)
    ev.loc[future, ["event_date", "recorded_on"]] = "2026-01-05"
    repeated = inc.iloc[rows[100:120]]
    t["income"] = pd.concat([inc, repeated], ignore_index=True)
    wide = rng.choice(len(mem), 50, replace=False)
    mem.loc[wide, "household_id"] = mem.loc[wide, "household_id"].str.translate(
        str.maketrans("0123456789", "０１２３４５６７８９")
    )

    bundle = load_bundle(write_text_bundle(tmp_path, t))
    q = bundle.quarantine
    by = q.groupby(["table", "reason"]).size().to_dict()
    assert by == {
        ("income", "household_id not in households"): 40,
        ("income", "negative amount"): 30,
        (
            "income",
            "exact duplicate of an earlier row (same household_id, year); first copy kept",
        ): 20,
        ("events", "dated after the extraction date"): 50,  # event_date and recorded_on
    }
    assert sorted(q.loc[q["reason"] == "household_id not in households", "row"]) == sorted(
        orphan + 1
    )
    assert sorted(q.loc[q["reason"] == "negative amount", "row"]) == sorted(negative + 1)
    assert sorted(q.loc[q["reason"].str.startswith("exact duplicate"), "row"]) == list(
        range(3 * N + 1, 3 * N + 21)
    )
    assert set(q.loc[q["table"] == "events", "row"]) == set(future + 1)
    assert len(bundle.income) == 3 * N + 20 - 40 - 30 - 20
    assert len(bundle.events) == 4 * N - 25
    assert len(bundle.members) == 3 * N and len(bundle.households) == N
    assert summarize_bundle(bundle)["normalised_ids"]["columns"] == {"members.household_id": 50}
