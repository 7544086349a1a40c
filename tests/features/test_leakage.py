"""Leakage tests that could fail: nothing known after the as-of date D may change a feature at D.

Property-based (hypothesis): random small bundles, random as-of dates, random records appended or
altered after D; the whole default feature set (village context included) must not move.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from riskml.data import Bundle
from riskml.data._schema import ASSISTANCE_MEASURES, EVENT_TYPES, MONITORING_CATEGORIES
from riskml.features import build_training_set, compute_features

_SETTINGS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
_EXTRACTED = pd.Timestamp("2025-06-30")

as_of_days = st.integers(
    min_value=0, max_value=(pd.Timestamp("2025-06-29") - pd.Timestamp("2019-01-01")).days
).map(lambda n: pd.Timestamp("2019-01-01") + pd.Timedelta(days=n))


def _features_at(bundle: Bundle, as_of: pd.Timestamp, catalog: Any) -> pd.DataFrame:
    pairs = pd.DataFrame({"household_id": bundle.households["household_id"], "as_of": as_of})
    return compute_features(bundle, pairs, catalog.feature_set("default"))


def _future_rows(draw: Any, bundle: Bundle, as_of: pd.Timestamp) -> dict[str, list[dict[str, Any]]]:
    """Records of every table that became known only after ``as_of``."""
    hids = bundle.households["household_id"].tolist()
    span = (_EXTRACTED - as_of).days
    after = st.integers(min_value=1, max_value=max(1, span)).map(
        lambda n: as_of + pd.Timedelta(days=n)
    )
    before_or_after = st.integers(min_value=-900, max_value=max(1, span)).map(
        lambda n: as_of + pd.Timedelta(days=n)
    )
    hid = st.sampled_from(hids)
    events = []
    for _ in range(draw(st.integers(0, 6))):
        recorded = draw(after)
        events.append(
            dict(
                household_id=draw(hid),
                event_date=min(
                    recorded, draw(before_or_after)
                ),  # may happen before D, but recorded after
                event_type=draw(st.sampled_from(EVENT_TYPES)),
                member_id=draw(
                    st.sampled_from([None, "NEW1", *bundle.members["member_id"].tolist()[:5]])
                ),
                recorded_on=recorded,
                amount=draw(st.one_of(st.none(), st.floats(0, 1e5))),
                detail=draw(st.sampled_from([None, "1", "2", "snow"])),
            )
        )
    income = []
    taken = set(zip(bundle.income["household_id"], bundle.income["year"], strict=True))
    for _ in range(draw(st.integers(0, 3))):
        row = dict(
            household_id=draw(hid),
            year=draw(st.integers(2015, 2025)),
            recorded_on=draw(after),
            household_size=draw(st.integers(1, 6)),
            wage_income=draw(st.floats(0, 5e4)),
            oop_medical=draw(st.floats(0, 5e4)),
        )
        if (row["household_id"], row["year"]) not in taken:  # one row per household-year
            taken.add((row["household_id"], row["year"]))
            income.append(row)
    monitoring = []
    for _ in range(draw(st.integers(0, 2))):
        ident = draw(after)
        monitoring.append(
            dict(
                household_id=draw(hid),
                identified_on=ident,
                category=draw(st.sampled_from(MONITORING_CATEGORIES)),
            )
        )
    assistance = []
    for _ in range(draw(st.integers(0, 3))):
        assistance.append(
            dict(
                household_id=draw(hid),
                measure=draw(st.sampled_from(ASSISTANCE_MEASURES)),
                start_date=draw(after),
                amount=draw(st.floats(0, 1e4)),
            )
        )
    members = []
    for i in range(draw(st.integers(0, 2))):
        members.append(
            dict(
                household_id=draw(hid),
                member_id=f"NEWM{i}",
                sex="F",
                birth_year=draw(st.integers(1950, 2025)),
                joined_on=draw(after),
            )
        )
    return {
        "events": events,
        "income": income,
        "monitoring": monitoring,
        "assistance": assistance,
        "members": members,
    }


@_SETTINGS
@given(seed=st.integers(0, 10_000), as_of=as_of_days, data=st.data())
def test_appending_records_known_after_D_never_changes_features_at_D(
    seed: int,
    as_of: pd.Timestamp,
    data: Any,
    make_random_bundle: Any,
    append_rows: Any,
    catalog: Any,
) -> None:
    """Bundle + any rows recorded / identified / started / joined after D -> identical features at D
    (every family, village context included)."""
    bundle = make_random_bundle(seed, n_households=5, n_events=40)
    before = _features_at(bundle, as_of, catalog)
    rows = _future_rows(data.draw, bundle, as_of)
    changed = bundle
    for table, new in rows.items():
        changed = append_rows(changed, table, new)
    after = _features_at(changed, as_of, catalog)
    pd.testing.assert_frame_equal(before, after)


@_SETTINGS
@given(
    seed=st.integers(0, 10_000),
    as_of=as_of_days,
    factor=st.floats(0.0, 10.0),
    shift=st.integers(-2000, 2000),
)
def test_altering_records_known_after_D_never_changes_features_at_D(
    seed: int, as_of: pd.Timestamp, factor: float, shift: int, make_random_bundle: Any, catalog: Any
) -> None:
    """Rows known only after D get new amounts, types, details, event dates (even backdated before D)
    and elimination dates -> identical features at D."""
    bundle = make_random_bundle(seed, n_households=5, n_events=50)
    before = _features_at(bundle, as_of, catalog)
    tables = {k: v.copy() for k, v in bundle.tables.items()}
    ev = tables["events"]
    known = ev["recorded_on"].fillna(ev["event_date"])
    late = (known > as_of).to_numpy()
    ev.loc[late, "amount"] = ev.loc[late, "amount"] * factor + 1.0
    ev.loc[late, "event_type"] = "medical_bill"
    ev.loc[late, "detail"] = "1"
    ev.loc[late, "event_date"] = (ev.loc[late, "event_date"] + pd.Timedelta(days=shift)).clip(
        upper=ev.loc[late, "recorded_on"].fillna(_EXTRACTED)
    )
    ev.loc[late, "recorded_on"] = known[late]  # stays after D
    inc = tables["income"]
    late = (inc["recorded_on"] > as_of).to_numpy()
    inc.loc[late, "wage_income"] = inc.loc[late, "wage_income"] * factor
    inc.loc[late, "household_size"] = 1
    mon = tables["monitoring"]
    elim_late = (mon["eliminated_on"] > as_of).to_numpy()
    mon.loc[elim_late, "elimination_method"] = "natural"
    mon.loc[elim_late, "eliminated_on"] = (
        mon.loc[elim_late, "eliminated_on"] + pd.Timedelta(days=abs(shift))
    ).clip(upper=_EXTRACTED)
    mon.loc[(mon["identified_on"] > as_of).to_numpy(), "category"] = "edge"
    asg = tables["assistance"]
    asg.loc[(asg["start_date"] > as_of).to_numpy(), "amount"] = 1e6
    changed = Bundle(tables=tables, extracted_on=bundle.extracted_on, province=bundle.province)
    after = _features_at(changed, as_of, catalog)
    pd.testing.assert_frame_equal(before, after)


@_SETTINGS
@given(seed=st.integers(0, 10_000), as_of=as_of_days, horizon=st.integers(1, 24), data=st.data())
def test_label_uses_only_identifications_in_D_to_D_plus_h(
    seed: int,
    as_of: pd.Timestamp,
    horizon: int,
    data: Any,
    make_random_bundle: Any,
    append_rows: Any,
) -> None:
    """label = any identification in (D, D+h]; moving identifications that lie after D+h anywhere
    else after D+h, or adding one exactly at D+h, changes labels only as that rule says."""
    bundle = make_random_bundle(seed, n_households=6, n_events=20)
    end = as_of + pd.DateOffset(months=horizon)
    if end > _EXTRACTED:
        as_of = _EXTRACTED - pd.DateOffset(months=horizon)
        end = as_of + pd.DateOffset(months=horizon)
    ts = build_training_set(bundle, [as_of], horizon, feature_set="department_rules")
    mon = bundle.monitoring
    for hid, label in zip(ts.frame["household_id"], ts.frame["label"], strict=True):
        ident = mon.loc[mon["household_id"] == hid, "identified_on"]
        assert label == int(((ident > as_of) & (ident <= end)).any())
    # identifications after D+h: move them to other dates after D+h -> same labels
    tables = {k: v.copy() for k, v in bundle.tables.items()}
    m = tables["monitoring"]
    beyond = (m["identified_on"] > end).to_numpy()
    span = max(1, (_EXTRACTED - end).days)
    m.loc[beyond, "identified_on"] = [
        end + pd.Timedelta(days=data.draw(st.integers(1, span))) for _ in range(int(beyond.sum()))
    ]
    m.loc[beyond, "eliminated_on"] = pd.NaT
    m.loc[beyond, "elimination_method"] = None
    moved = build_training_set(
        Bundle(tables=tables, extracted_on=bundle.extracted_on),
        [as_of],
        horizon,
        feature_set="department_rules",
    )
    pd.testing.assert_series_equal(ts.frame["label"], moved.frame["label"])
    # a new identification exactly at D+h for an eligible household -> positive
    hid = data.draw(st.sampled_from(ts.frame["household_id"].tolist())) if len(ts.frame) else None
    if hid is not None:
        added = append_rows(
            bundle, "monitoring", [dict(household_id=hid, identified_on=end, category="edge")]
        )
        if not (
            (bundle.monitoring["household_id"] == hid) & (bundle.monitoring["identified_on"] == end)
        ).any():
            again = build_training_set(
                added, [as_of], horizon, feature_set="department_rules"
            ).frame
            assert int(again.loc[again["household_id"] == hid, "label"].iloc[0]) == 1


@_SETTINGS
@given(
    seed=st.integers(0, 10_000),
    offsets=st.lists(st.integers(-364, 600), min_size=1, max_size=4),
    measure=st.sampled_from(ASSISTANCE_MEASURES),
)
def test_assistance_after_an_identification_cannot_reveal_it(
    seed: int,
    offsets: list[int],
    measure: str,
    make_random_bundle: Any,
    append_rows: Any,
    catalog: Any,
) -> None:
    """Measures started on or after an identification — even backdated by up to a year — leave
    every feature unchanged at every as-of date before the identification."""
    bundle = make_random_bundle(seed, n_households=5, n_events=30)
    mon = bundle.monitoring
    if mon.empty:
        return
    target = mon.iloc[int(seed % len(mon))]
    hid, ident = target["household_id"], pd.Timestamp(target["identified_on"])
    rows = [
        dict(
            household_id=hid,
            measure=measure,
            start_date=min(_EXTRACTED, ident + pd.Timedelta(days=o)),
            amount=5000.0,
        )
        for o in offsets
    ]
    changed = append_rows(bundle, "assistance", rows)
    dates = [d for d in pd.date_range("2018-03-31", ident - pd.Timedelta(days=1), freq="QE")] + [
        ident - pd.Timedelta(days=1)
    ]
    pairs = pd.DataFrame({"household_id": hid, "as_of": dates})
    fs = catalog.feature_set("default")
    pd.testing.assert_frame_equal(
        compute_features(bundle, pairs, fs), compute_features(changed, pairs, fs)
    )


def test_unlagged_assistance_would_leak(
    make_bundle: Any, make_household: Any, catalog: Any, tmp_path: Any
) -> None:
    """Control: the same backdated measure *does* change an assistance count without the lag —
    which is why the catalog requires lag_months >= 12 on the assistance table."""
    from riskml.features._catalog import Feature
    from riskml.features._engine import FeatureEngine

    bundle = make_bundle(
        [make_household("H1")],
        monitoring=[dict(household_id="H1", identified_on="2023-05-10", category="edge")],
        assistance=[dict(household_id="H1", measure="health", start_date="2023-01-01")],
    )
    spec = dict(
        unit="x",
        risk_type="other",
        label_zh="x",
        label_en="x",
        reason_zh="",
        reason_en="",
        description="x",
    )
    unlagged = Feature(name="a", table="assistance", primitive="count", **spec)
    lagged = catalog.feature("assistance_measures_past")
    engine = FeatureEngine(bundle, catalog=catalog)
    h, d = engine.pairs_to_arrays(
        pd.DataFrame({"household_id": ["H1"], "as_of": [pd.Timestamp("2023-03-31")]}), "test"
    )
    values = engine.compute_arrays(h, d, [unlagged, lagged])
    assert values["a"][0] == 1.0  # a naive feature sees the measure that follows the identification
    assert values["assistance_measures_past"][0] == 0.0
    assert np.isfinite(values["a"]).all()
