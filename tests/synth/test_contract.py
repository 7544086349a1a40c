"""Every table of the synthetic province satisfies the data contract (docs/data-contract.md)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from riskml.data import TABLES, load_bundle
from riskml.synth import find_ground_truth


@pytest.fixture(scope="module")
def bundle(small_province):
    return small_province[0]


def test_tables_have_exactly_the_contract_columns(bundle):
    assert bundle.table_names() == tuple(TABLES)
    for name, schema in TABLES.items():
        assert tuple(bundle[name].columns) == schema.column_names, name


def test_required_columns_are_filled_and_vocabularies_respected(bundle):
    for name, schema in TABLES.items():
        frame = bundle[name]
        for col in schema.columns:
            if col.required:
                assert frame[col.name].notna().all(), f"{name}.{col.name} has missing values"
            if col.vocab is not None:
                values = set(frame[col.name].dropna().astype(str))
                assert values <= set(col.vocab), f"{name}.{col.name}: {values - set(col.vocab)}"
            if col.nonnegative:
                assert (frame[col.name].dropna() >= 0).all(), (
                    f"{name}.{col.name} has negative amounts"
                )


def test_keys_are_unique(bundle):
    for name, schema in TABLES.items():
        if schema.key:
            assert not bundle[name].duplicated(list(schema.key)).any(), (
                f"{name} key {schema.key} not unique"
            )


def test_referential_integrity(bundle):
    households = set(bundle.households["household_id"])
    for name in ("members", "income", "events", "assistance", "monitoring"):
        assert set(bundle[name]["household_id"]) <= households, name
    ev = bundle.events.dropna(subset=["member_id"])
    members = bundle.members.set_index("member_id")["household_id"]
    assert ev["member_id"].isin(members.index).all()
    assert (members.loc[ev["member_id"]].to_numpy() == ev["household_id"].to_numpy()).all()
    # every household has its head and an income row for every recorded year
    heads = bundle.members[bundle.members["relation"] == "head"]
    assert heads["household_id"].nunique() == len(households)
    per_year = bundle.income.groupby("year")["household_id"].nunique()
    assert (per_year == len(households)).all()


def test_nothing_is_dated_after_extraction_and_dates_are_ordered(bundle):
    end = pd.Timestamp(bundle.extracted_on)
    for name, schema in TABLES.items():
        frame = bundle[name]
        for col in schema.columns:
            if col.kind == "date":
                assert (frame[col.name].dropna() <= end).all(), (
                    f"{name}.{col.name} after {end.date()}"
                )
        for early, late in schema.date_columns_order:
            both = frame[[early, late]].dropna()
            assert (both[early] <= both[late]).all(), f"{name}: {early} after {late}"


def test_department_records_arrive_late(bundle):
    ev = bundle.events
    delay = (ev["recorded_on"] - ev["event_date"]).dt.days
    assert (delay >= 0).all()
    assert delay.median() >= 10  # days to months, not same-day
    inc = bundle.income
    # a year's income is entered in the first months of the next year
    assert (inc["recorded_on"].dt.year == inc["year"] + 1).all()
    assert (inc["recorded_on"].dt.month <= 4).all()


def test_codes_and_ids(bundle):
    hh = bundle.households
    assert hh["household_id"].str.fullmatch(r"HH\d{10}").all()
    assert hh["county_code"].str.fullmatch(r"15\d{4}").all()
    assert hh["township_code"].str.fullmatch(r"\d{9}").all()
    assert hh["village_code"].str.fullmatch(r"\d{12}").all()
    assert (hh["township_code"].str[:6] == hh["county_code"]).all()
    assert (hh["village_code"].str[:9] == hh["township_code"]).all()
    assert hh["village_name"].str.contains("嘎查|村").all()
    assert bundle.members["member_id"].str.fullmatch(r"HH\d{10}M\d{2}").all()
    # a village has one name and belongs to one township
    assert (hh.groupby("village_code")["village_name"].nunique() == 1).all()


def test_monitoring_rules(bundle):
    mon = bundle.monitoring.merge(
        bundle.households[["household_id", "poverty_exit_year"]], on="household_id"
    )
    formerly_poor = mon["poverty_exit_year"].notna()
    assert ((mon["category"] == "unstable_exited") == formerly_poor).all()
    done = mon.dropna(subset=["eliminated_on"])
    months = (done["eliminated_on"].dt.year - done["identified_on"].dt.year) * 12 + (
        done["eliminated_on"].dt.month - done["identified_on"].dt.month
    )
    assert (months >= 6).all()  # risk removed only after at least half a year
    assert done["elimination_method"].notna().all()
    assert mon.loc[mon["eliminated_on"].isna(), "elimination_method"].isna().all()
    # episodes of one household do not overlap
    mon = mon.sort_values(["household_id", "identified_on"])
    nxt = mon.groupby("household_id")["identified_on"].shift(-1)
    has_next = nxt.notna()
    assert (mon.loc[has_next, "eliminated_on"] <= nxt[has_next]).all()
    # secondary risks differ from the first
    for col in ("risk_2", "risk_3"):
        both = mon.dropna(subset=[col])
        assert (both[col].astype(str) != both["risk_1"].astype(str)).all()


def test_members_life_events_match_the_registry(bundle):
    m = bundle.members.set_index("member_id")
    births = bundle.events[bundle.events["event_type"] == "birth"]
    assert len(births) > 0
    assert (
        m.loc[births["member_id"], "joined_on"].to_numpy() == births["event_date"].to_numpy()
    ).all()
    deaths = bundle.events[bundle.events["event_type"] == "death"]
    assert len(deaths) > 0
    assert (
        m.loc[deaths["member_id"], "left_on"].to_numpy() == deaths["event_date"].to_numpy()
    ).all()
    age = bundle.extracted_on.year - bundle.members["birth_year"]
    assert age.between(0, 110).all()
    assert bundle.income["household_size"].min() >= 1


def test_written_bundle_loads_cleanly_and_truth_stays_outside(small_province_dir, small_province):
    files = sorted(p.name for p in small_province_dir.iterdir())
    assert files == sorted([f"{t}.parquet" for t in TABLES] + ["bundle.yaml"])
    truth = find_ground_truth(small_province_dir)
    assert truth is not None and truth.parent == small_province_dir.parent
    assert truth.name == small_province_dir.name + ".truth.parquet"
    loaded = load_bundle(small_province_dir)
    assert len(loaded.quarantine) == 0
    assert loaded.source == "synthetic"
    assert loaded.extracted_on == small_province[0].extracted_on
    for name in TABLES:
        pd.testing.assert_frame_equal(
            loaded[name].reset_index(drop=True),
            small_province[0][name].reset_index(drop=True),
            check_categorical=False,
        )
    # and nothing of the truth leaked into the bundle's tables
    for name in TABLES:
        assert not {"p_month", "p_12m"} & set(loaded[name].columns)


def test_money_is_in_fen(bundle):
    for name in ("income", "events", "assistance"):
        frame = bundle[name]
        for col in TABLES[name].columns:
            if col.kind == "money":
                x = frame[col.name].dropna().to_numpy()
                assert np.allclose(x, np.round(x, 2)), f"{name}.{col.name}"
