"""Assistance already in place on a date: the assistance table's live measures and 低保 from
events, point in time (what suggested measures are net of)."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from riskml.features import assistance_in_place


def _pairs(*rows: tuple[str, str]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "household_id": [h for h, _ in rows],
            "as_of": pd.to_datetime([d for _, d in rows]),
        }
    )


@pytest.fixture(scope="module")
def bundle(make_bundle: Any, make_household: Any) -> Any:
    hh = [make_household(h) for h in ("H1", "H2", "H3", "H4")]
    assistance = [
        # H1: a health measure 2023-03-01 .. 2024-03-01 (ends that day) and an open-ended job
        dict(household_id="H1", measure="health", start_date="2023-03-01", end_date="2024-03-01"),
        dict(household_id="H1", measure="public_welfare_job", start_date="2024-01-15"),
        # H2: a measure that starts later than every as-of date below
        dict(household_id="H2", measure="education", start_date="2030-01-01"),
        # H3: dibao in the assistance table itself
        dict(household_id="H3", measure="dibao", start_date="2022-01-01"),
    ]
    events = [
        # H2: 低保 granted, ended, granted again (as reported by civil affairs)
        dict(household_id="H2", event_type="dibao_granted", event_date="2022-01-10",
             recorded_on="2022-02-01"),
        dict(household_id="H2", event_type="dibao_ended", event_date="2023-01-10",
             recorded_on="2023-02-01"),
        dict(household_id="H2", event_type="dibao_granted", event_date="2024-05-01",
             recorded_on="2024-06-01"),
        # H4: other events are not assistance in place
        dict(household_id="H4", event_type="temporary_assistance", event_date="2024-01-01",
             recorded_on="2024-01-02", amount=800.0),
        dict(household_id="H4", event_type="hospitalization", event_date="2024-01-01",
             recorded_on="2024-01-02"),
    ]  # fmt: skip
    return make_bundle(hh, assistance=assistance, events=events)


def test_live_measures_on_the_date(bundle: Any) -> None:
    """A measure is in place from its start date until (not on) its end date; open-ended
    measures stay in place; one that has not started is not."""
    got = assistance_in_place(
        bundle,
        _pairs(
            ("H1", "2023-02-28"),  # before anything started
            ("H1", "2023-03-01"),  # the start day counts
            ("H1", "2024-02-29"),  # both live
            ("H1", "2024-03-01"),  # health ended that day
            ("H2", "2025-06-30"),  # education starts in 2030
            ("H3", "2025-06-30"),
            ("H4", "2025-06-30"),
        ),
    )
    assert got == [
        frozenset(),
        frozenset({"health"}),
        frozenset({"health", "public_welfare_job"}),
        frozenset({"public_welfare_job"}),
        frozenset({"dibao"}),
        frozenset({"dibao"}),
        frozenset(),
    ]
    assert all(isinstance(s, frozenset) for s in got)


def test_dibao_from_events_follows_the_latest_record_known_on_the_date(bundle: Any) -> None:
    """低保 is in place when the latest dibao event recorded on or before the date is a grant:
    not before the first record, not between the end and the new grant."""
    got = assistance_in_place(
        bundle,
        _pairs(
            ("H2", "2022-01-31"),  # granted, but not yet recorded
            ("H2", "2022-02-01"),
            ("H2", "2023-01-31"),
            ("H2", "2023-02-01"),  # ended (recorded that day)
            ("H2", "2024-05-31"),
            ("H2", "2024-06-01"),  # granted again
        ),
    )
    assert got == [set(), {"dibao"}, {"dibao"}, set(), set(), {"dibao"}]


def test_rows_follow_the_pairs_order_and_unknown_households(bundle: Any) -> None:
    """One entry per pair, in the pairs' order, duplicates kept; a household with no records
    or unknown to the bundle has nothing in place; no pairs -> an empty list."""
    got = assistance_in_place(
        bundle,
        _pairs(("H3", "2025-06-30"), ("NOPE", "2025-06-30"), ("H1", "2024-02-29"), ("H3", "2021-01-01"),
               ("H3", "2025-06-30")),
    )  # fmt: skip
    assert got == [{"dibao"}, set(), {"health", "public_welfare_job"}, set(), {"dibao"}]
    assert assistance_in_place(bundle, _pairs()) == []


def test_an_empty_bundle_has_nothing_in_place(make_bundle: Any, make_household: Any) -> None:
    empty = make_bundle([make_household("H1")])
    assert assistance_in_place(empty, _pairs(("H1", "2025-06-30"))) == [frozenset()]


def test_dibao_event_without_recorded_on_counts_from_its_event_date(
    make_bundle: Any, make_household: Any
) -> None:
    bundle = make_bundle(
        [make_household("H1")],
        events=[dict(household_id="H1", event_type="dibao_granted", event_date="2024-01-10")],
    )
    assert assistance_in_place(bundle, _pairs(("H1", "2025-06-30"))) == [frozenset({"dibao"})]
