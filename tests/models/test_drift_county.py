"""A shift confined to one county: rare events compared area by area, with a Bonferroni threshold.

Province-wide, a county's disaster records doubled is diluted by the other counties. The seasonal
reference keeps each rare event's count per county; :meth:`SeasonalReference.compare` tests every
county x event with an exact binomial test, and warns naming the county, the event and both
rates. Both directions: nothing on the reference's own data (or a fresh draw of the same
population), one county named when its records are doubled.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pytest

from riskml.data import Bundle
from riskml.features import build_training_set, load_catalog
from riskml.models import LOCAL_ALPHA, SeasonalReference
from riskml.scoring._summary import drift_item
from riskml.tracking._reference import GROUP_COLUMN, training_reference

# ---- a simulated population of ten counties: the statistics of the alarm ----


def _counties(n: int = 20_000, seed: int = 0, day: str = "2025-12-31") -> pd.DataFrame:
    """One month's roster: ten counties of unequal size, a rare event at 4-8 % per county."""
    rng = np.random.default_rng(seed)
    county = rng.choice(10, n, p=np.linspace(1, 2, 10) / np.linspace(1, 2, 10).sum())
    rate = np.linspace(0.04, 0.08, 10)[county]
    return pd.DataFrame(
        {
            "as_of": pd.Timestamp(day),
            "county": pd.array([f"C{c:02d}" for c in county], dtype="string"),
            "disasters_12m": rng.poisson(rate).astype(float),
            "income": rng.lognormal(9, 0.5, n),
        }
    )


@pytest.fixture(scope="module")
def simulated() -> tuple[pd.DataFrame, SeasonalReference]:
    frame = _counties()
    ref = SeasonalReference.fit(
        frame[["disasters_12m", "income"]],
        frame["as_of"],
        groups=frame["county"],
        group_by="county",
    )
    return frame, ref


def test_a_fresh_draw_of_the_same_population_raises_nothing(simulated) -> None:
    """The reference's own rows, and ten independent draws of the same counties (chance
    alone), raise no county alarm: the threshold allows for the 10 x 1 tests made."""
    frame, ref = simulated
    same = ref.compare(frame[["disasters_12m", "income"]], "2025-12-31", groups=frame["county"])
    assert same["warnings"] == [] and same["local"]["tested"] == 10
    assert same["local"]["p_threshold"] == pytest.approx(LOCAL_ALPHA / 10)
    for seed in range(1, 11):
        other = _counties(seed=seed)
        found = ref.compare(
            other[["disasters_12m", "income"]], "2025-12-31", groups=other["county"]
        )
        assert found["warnings"] == [], (seed, found["event_rates"])


def test_one_county_doubled_is_named_where_the_province_misses_it(simulated) -> None:
    """Records of the smallest county entered twice: the province's rate moves by under x1.2
    (no province-wide warning), the county's doubles -> one warning naming it, with both rates
    and the p-value; the reference round-trips through JSON with its county counts."""
    frame, ref = simulated
    X = frame[["disasters_12m", "income"]].copy()
    smallest = frame["county"].value_counts().idxmin()
    in_county = (frame["county"] == smallest).to_numpy()
    X.loc[in_county, "disasters_12m"] *= 2
    province = X["disasters_12m"].sum() / frame["disasters_12m"].sum()
    assert province < 1.2
    found = ref.compare(X, "2025-12-31", groups=frame["county"])
    key = f"disasters_12m in county {smallest}"
    assert found["warnings"] == [key]
    rate = found["event_rates"][key]
    assert rate["county"] == smallest and rate["feature"] == "disasters_12m"
    assert rate["ratio"] == pytest.approx(2.0, abs=0.01) and rate["now"] > rate["reference"]
    assert rate["p_value"] < found["local"]["p_threshold"]
    again = SeasonalReference.from_dict(json.loads(json.dumps(ref.to_dict())))
    assert again.compare(X, "2025-12-31", groups=frame["county"]) == found
    # without county codes the same shift goes unnoticed, and the summary says why
    blind = ref.compare(X, "2025-12-31")
    assert blind["warnings"] == [] and blind["local"]["reason"] == "no area codes given"


def test_a_shift_in_every_county_is_left_to_the_province_wide_checks(simulated) -> None:
    """Every county's records doubled: the province-wide rate check says it once; the counties
    are not listed one by one."""
    frame, ref = simulated
    X = frame[["disasters_12m", "income"]].assign(disasters_12m=frame["disasters_12m"] * 2)
    found = ref.compare(X, "2025-12-31", groups=frame["county"])
    assert not any(" in county " in w for w in found["warnings"])
    assert "disasters_12m" in found["warnings"]


def test_groups_must_match_the_rows(simulated) -> None:
    """Fewer county codes than rows -> ValueError naming both counts."""
    frame, ref = simulated
    with pytest.raises(ValueError, match="groups has 3 codes but X has"):
        ref.compare(frame[["disasters_12m", "income"]], "2025-12-31", groups=frame["county"][:3])


# ---- the seeded test province: the training bundle, and one county's disasters doubled ----


@pytest.fixture(scope="module")
def province(small_province: tuple[Bundle, Any]) -> tuple[Bundle, Any, Any]:
    bundle, _ = small_province
    catalog = load_catalog()
    fs = catalog.feature_set("default")
    return bundle, training_reference(bundle, fs, catalog=catalog), (fs, catalog)


def _roster(bundle: Bundle, as_of: Any, fs_catalog: Any) -> tuple[pd.DataFrame, pd.Series]:
    """The features of the bundle's eligible households at ``as_of``, and their county codes."""
    fs, catalog = fs_catalog
    ts = build_training_set(
        bundle, [as_of], 12, feature_set=fs, catalog=catalog, include_censored=True
    )
    return ts.frame[ts.feature_names], ts.frame[GROUP_COLUMN]


def test_the_training_bundle_raises_no_county_warning(province) -> None:
    """The training bundle at its extraction date and two weeks before: every county x rare
    event tested, none warns."""
    bundle, ref, fs_catalog = province
    assert ref.group_by == GROUP_COLUMN
    for as_of in (bundle.extracted_on, bundle.extracted_on - pd.Timedelta(days=15)):
        X, counties = _roster(bundle, as_of, fs_catalog)
        found = ref.compare(X, as_of, groups=counties)
        assert found["warnings"] == [], (as_of, found["event_rates"])
        assert found["local"]["tested"] >= counties.nunique()


def _doubled(bundle: Bundle, county: str) -> Bundle:
    """``county``'s natural-disaster records entered a second time, two days earlier (as a
    repeated import shows them)."""
    events = bundle.events
    hh = bundle.households
    in_county = set(hh.loc[hh["county_code"] == county, "household_id"])
    rows = events.loc[
        (events["event_type"] == "natural_disaster") & events["household_id"].isin(in_county)
    ].copy()
    for col in ("event_date", "recorded_on"):
        rows[col] = rows[col] - pd.Timedelta(days=2)
    tables = dict(bundle.tables, events=pd.concat([events, rows], ignore_index=True))
    return Bundle(
        tables=tables,
        extracted_on=bundle.extracted_on,
        province=bundle.province,
        source=bundle.source,
    )


def test_one_county_with_its_disaster_records_doubled_is_named(province) -> None:
    """The county with the most disaster records in the last year has them entered twice ->
    warnings name that county (and no other), the disaster count among them, with the
    reference and current records per household."""
    bundle, ref, fs_catalog = province
    events, hh = bundle.events, bundle.households
    end = pd.Timestamp(bundle.extracted_on)
    recent = events.loc[
        (events["event_type"] == "natural_disaster")
        & (events["event_date"] > end - pd.DateOffset(months=12))
    ]
    county_of = hh.set_index("household_id")["county_code"]
    county = str(county_of.reindex(recent["household_id"]).value_counts().idxmax())
    X, counties = _roster(_doubled(bundle, county), bundle.extracted_on, fs_catalog)
    found = ref.compare(X, bundle.extracted_on, groups=counties)
    local = [w for w in found["warnings"] if f" in {GROUP_COLUMN} " in w]
    assert local and all(w.endswith(f" in {GROUP_COLUMN} {county}") for w in local), local
    key = f"natural_disasters_12m in {GROUP_COLUMN} {county}"
    assert key in local
    rate = found["event_rates"][key]
    assert rate[GROUP_COLUMN] == county
    assert rate["ratio"] == pytest.approx(2.0, abs=0.05) and rate["now"] > rate["reference"]
    # A count of records is said as records per 100 households, never as a share above 100 %.
    assert rate["per"] == "record"
    said = drift_item(found, key)
    ref100, now100 = 100 * rate["reference"], 100 * rate["now"]
    assert said == f"{key} ({ref100:.1f} → {now100:.1f} records per 100 households)"
    assert "%" not in said
