"""The vectorised rules at a few thousand households: injected faults are found exactly, nothing else."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from riskml.config.mapping import BundleMapping
from riskml.data import BundleError, load_bundle, summarize_bundle

from ._builders import scaled_text_tables, text_tables, write_text_bundle

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


def _write_parquet_bundle(folder: Path, tables: dict[str, pd.DataFrame], csv_folder: Path) -> Path:
    """The text frames as Parquet text columns, with the CSV bundle's ``bundle.yaml``."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        text = frame.replace("", None)
        pq.write_table(pa.Table.from_pandas(text, preserve_index=False), folder / f"{name}.parquet")
    (folder / "bundle.yaml").write_bytes((csv_folder / "bundle.yaml").read_bytes())
    return folder


def test_parquet_bundle_with_faults_loads_as_its_csv(tmp_path: Path) -> None:
    """3,000 households with orphans, negative wages, unknown event codes (quarantined), conflicting members and foreign event members, as CSV and as Parquet (codes read as dictionaries) → the same frames, quarantine and load report."""
    rng = np.random.default_rng(2)
    t = scaled_text_tables(N, seed=2)
    inc, ev, mem = t["income"], t["events"], t["members"]
    inc.loc[rng.choice(len(inc), 15, replace=False), "household_id"] = "990000000000000001"
    inc.loc[rng.choice(len(inc), 20, replace=False), "wage_income"] = "-3"
    ev.loc[rng.choice(len(ev), 12, replace=False), "event_type"] = "flood_damage"
    ev.loc[rng.choice(len(ev), 8, replace=False), "event_type"] = "   "
    first_member = mem.drop_duplicates("household_id").set_index("household_id")["member_id"]
    with_member = rng.choice(len(ev), 600, replace=False)
    ev.loc[with_member, "member_id"] = first_member[ev.loc[with_member, "household_id"]].to_numpy()
    ev.loc[with_member[:30], "member_id"] = rng.choice(mem["member_id"].to_numpy(), 30)
    conflicting = mem.iloc[rng.choice(len(mem), 5, replace=False)].assign(birth_year="1950")
    t["members"] = pd.concat([mem, conflicting], ignore_index=True)
    mapping = BundleMapping.model_validate(
        {"tables": {"events": {"fallback": {"event_type": "quarantine"}}}}
    )

    csv_folder = write_text_bundle(tmp_path / "csv", t)
    from_csv = load_bundle(csv_folder, mapping=mapping)
    from_parquet = load_bundle(
        _write_parquet_bundle(tmp_path / "parquet", t, csv_folder), mapping=mapping
    )

    assert set(from_csv.quarantine["reason"]) >= {
        "household_id not in households",
        "negative amount",
        "member_id is not a member of this household",
        "several rows with the same member_id but different values",
    }
    assert any(from_csv.quarantine["reason"].str.startswith("code not in the vocabulary"))
    for name in from_csv.tables:
        pd.testing.assert_frame_equal(from_parquet.tables[name], from_csv.tables[name])
    pd.testing.assert_frame_equal(from_parquet.quarantine, from_csv.quarantine)
    for key in ("recoded_values", "fallback_values", "normalised_ids", "filled_values"):
        assert from_parquet.load_report[key] == from_csv.load_report[key]
    assert list(from_parquet.load_report["files"]) == list(from_csv.load_report["files"])


def test_unknown_codes_of_a_parquet_dictionary_are_listed_as_in_csv(tmp_path: Path) -> None:
    """events.parquet whose event_type dictionary lists two unknown codes in the reverse of their row order → the same error as the CSV: codes by count then first appearance, first rows."""
    t = text_tables()
    t["events"].loc[1, "event_type"] = "zz_first"
    t["events"].loc[4, "event_type"] = "aa_second"
    csv_folder = write_text_bundle(tmp_path / "csv", t)
    with pytest.raises(BundleError) as from_csv:
        load_bundle(csv_folder)
    folder = _write_parquet_bundle(tmp_path / "parquet", t, csv_folder)
    events = pq.read_table(folder / "events.parquet")
    codes = events.column("event_type").combine_chunks()
    dictionary = pa.array(sorted(set(codes.to_pylist())), pa.string())
    as_dictionary = pa.DictionaryArray.from_arrays(
        pc.index_in(codes, value_set=dictionary), dictionary
    )
    events = events.set_column(
        events.schema.get_field_index("event_type"), "event_type", as_dictionary
    )
    pq.write_table(events, folder / "events.parquet")
    with pytest.raises(BundleError) as from_parquet:
        load_bundle(folder)
    assert "'zz_first' (1 rows), 'aa_second' (1 rows)" in str(from_csv.value)
    assert str(from_parquet.value) == str(from_csv.value).replace("events.csv", "events.parquet")
