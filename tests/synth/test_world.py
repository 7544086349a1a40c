"""The synthetic world behaves like Inner Mongolia 2019-2025 in the ways downstream stages rely on."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from riskml.config.synth import load_synth_config


@pytest.fixture(scope="module")
def bundle(small_province):
    return small_province[0]


def test_banners_have_their_own_livelihood_and_ethnic_mix(bundle):
    hh = bundle.households
    assert hh["county_code"].nunique() >= 3
    assert set(hh["livelihood"].astype(str)) == {
        "farming",
        "pastoral",
        "agro_pastoral",
        "wage",
        "mixed",
    }
    mix = pd.crosstab(hh["county_code"], hh["livelihood"], normalize="index")
    assert (mix.max() - mix.min()).max() > 0.2  # banners differ
    assert {"汉族", "蒙古族"} <= set(hh["head_ethnicity"])
    formerly_poor = hh["poverty_exit_year"].notna().mean()
    assert 0.25 <= formerly_poor <= 0.45
    assert hh["poverty_exit_year"].dropna().between(2014, 2020).all()
    assert (
        hh["relocated"].any() and hh.loc[hh["relocated"], "poverty_exit_year"].notna().mean() > 0.5
    )


def test_banner_disasters_hit_many_households_of_one_banner_at_once(bundle):
    ev = bundle.events
    dis = ev[(ev["event_type"] == "natural_disaster") & ev["detail"].isin(["snow", "drought"])]
    assert len(dis) > 0
    dis = dis.merge(bundle.households[["household_id", "county_code"]], on="household_id")
    size = bundle.households.groupby("county_code").size()
    hit = dis.groupby(["county_code", dis["event_date"].dt.to_period("M")])[
        "household_id"
    ].nunique()
    share = hit / size.reindex(hit.index.get_level_values(0)).to_numpy()
    assert share.max() > 0.3  # a banner-wide disaster, not scattered incidents
    # snow comes in winter, drought in summer
    months = dis.groupby("detail")["event_date"].agg(lambda d: set(d.dt.month))
    assert months.get("snow", set()) <= {1, 2, 3, 4, 11, 12}
    assert months.get("drought", set()) <= {6, 7, 8, 9}
    losses = ev[ev["event_type"].isin(["livestock_loss", "crop_failure"])]
    assert len(losses) > 0 and (losses["amount"] > 0).all()


def test_cattle_price_fall_hits_pastoral_business_income(bundle):
    cfg = load_synth_config()
    inc = bundle.income.merge(bundle.households[["household_id", "livelihood"]], on="household_id")
    med = inc.groupby(["livelihood", "year"], observed=True)["business_income"].median().unstack(0)
    price = cfg.income.cattle_price_index
    low_year = min((y for y in med.index if y in price), key=lambda y: price[y])
    top_year = max((y for y in med.index if y in price and y < low_year), key=lambda y: price[y])
    pastoral_change = med.loc[low_year, "pastoral"] / med.loc[top_year, "pastoral"]
    farming_change = med.loc[low_year, "farming"] / med.loc[top_year, "farming"]
    assert pastoral_change < farming_change


def test_illness_and_disability_persist_and_cost_money(bundle):
    ev = bundle.events
    bills = ev[ev["event_type"] == "medical_bill"]
    assert (bills["amount"] > 0).all()
    serious = ev[ev["event_type"] == "serious_illness"]
    # a serious illness brings repeated hospital stays for the same person
    stays = ev[(ev["event_type"] == "hospitalization") & ev["member_id"].isin(serious["member_id"])]
    assert stays.groupby("member_id").size().mean() > 1.5
    grades = ev.loc[ev["event_type"] == "disability", "detail"]
    assert set(grades) <= {"1", "2", "3", "4"} and len(grades) > 0
    # yearly out-of-pocket costs are higher in households with a serious illness that year
    sick = set(zip(serious["household_id"], serious["event_date"].dt.year, strict=True))
    inc = bundle.income
    flag = [(h, y) in sick for h, y in zip(inc["household_id"], inc["year"], strict=True)]
    assert (
        inc.loc[flag, "oop_medical"].median() > 3 * inc.loc[~np.array(flag), "oop_medical"].median()
    )


def test_assistance_follows_identification_and_some_does_not(bundle):
    mon, a = bundle.monitoring, bundle.assistance
    m = a.merge(mon[["household_id", "identified_on", "risk_1"]], on="household_id")
    lag = (m["start_date"] - m["identified_on"]).dt.days
    right_after = m[(lag >= 0) & (lag <= 60)]
    share_assisted = right_after["identified_on"].nunique() / mon["identified_on"].nunique()
    assert share_assisted > 0.6  # the leakage trap: measures start because of identification
    health = right_after[right_after["measure"] == "health"]
    assert (health["risk_1"] == "illness").mean() > 0.5
    background = set(a["measure"].astype(str)) & {"pv_dividend", "ecological_compensation"}
    assert background == {"pv_dividend", "ecological_compensation"}
    never_identified = set(a["household_id"]) - set(mon["household_id"])
    assert len(never_identified) > 0


def test_members_age_are_born_and_die(bundle):
    ev = bundle.events
    counts = ev["event_type"].value_counts()
    for kind in (
        "birth",
        "death",
        "school_enrollment",
        "migrant_work_start",
        "job_loss",
        "accident",
    ):
        assert counts.get(kind, 0) > 0, kind
    m = bundle.members
    assert {"head", "spouse", "child", "parent", "grandchild"} <= set(m["relation"].astype(str))
    assert m["left_on"].notna().any() and m["joined_on"].notna().any()
    size = m.groupby("household_id").size()
    assert 2.3 <= size.mean() <= 4.5


def test_identification_is_late_relative_to_the_causing_event(bundle):
    mon = bundle.monitoring[bundle.monitoring["risk_1"] == "illness"]
    ev = bundle.events[bundle.events["event_type"].isin(["serious_illness", "hospitalization"])]
    m = mon.merge(ev[["household_id", "event_date"]], on="household_id")
    lag = (m["identified_on"] - m["event_date"]).dt.days
    before = m[(lag > 0) & (lag <= 365)]
    nearest = before.groupby(["household_id", "identified_on"])["event_date"].max()
    gap = (nearest.index.get_level_values("identified_on") - nearest).dt.days
    assert gap.median() > 20  # cadres notice weeks to months later, not the same day
