"""ReferenceDistribution: frozen bins, PSI, missing and unseen values, round trip."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pytest

from riskml.models import ReferenceDistribution


@pytest.fixture
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 20_000
    income = rng.lognormal(9, 0.5, n)
    income[rng.random(n) < 0.05] = np.nan
    return pd.DataFrame(
        {
            "income": income,
            "bills": np.where(rng.random(n) < 0.8, 0.0, rng.lognormal(8, 1, n)),
            "livelihood": pd.Categorical(
                rng.choice(["farming", "pastoral", "wage"], n, p=[0.5, 0.3, 0.2])
            ),
        }
    )


def test_psi_is_zero_on_reference_and_large_on_shift(frame):
    """Same data -> PSI 0; incomes halved -> PSI above 0.25 for income only."""
    ref = ReferenceDistribution.fit(frame)
    assert ref.psi(frame).max() == pytest.approx(0.0, abs=1e-12)
    shifted = frame.assign(income=frame["income"] * 0.5)
    psi = ref.psi(shifted)
    assert psi["income"] > 0.25
    assert psi["bills"] == pytest.approx(0.0, abs=1e-12)
    assert list(ref.drifted(shifted).index) == ["income"]


def test_missing_values_are_their_own_bin(frame):
    """Missing share 5 % -> 50 %: PSI of income reacts although present values keep their shape."""
    ref = ReferenceDistribution.fit(frame)
    assert ref.numeric["income"]["shares"][-1] == pytest.approx(frame["income"].isna().mean())
    more_missing = frame.copy()
    more_missing.loc[more_missing.index[::2], "income"] = np.nan
    assert ref.psi(more_missing)["income"] > 0.25


def test_unseen_and_missing_categories(frame):
    """Unseen levels and missing values land in their own bins: a new livelihood shows as drift."""
    ref = ReferenceDistribution.fit(frame)
    changed = frame.copy()
    changed["livelihood"] = pd.Categorical(
        np.where(np.arange(len(frame)) % 3 == 0, "fishing", frame["livelihood"].astype(str))
    )
    shares = ref.shares(changed)["livelihood"]
    assert shares[3] == pytest.approx((np.arange(len(frame)) % 3 == 0).mean())  # unseen bin
    assert ref.psi(changed)["livelihood"] > 0.25


def test_round_trip_is_json(frame):
    """to_dict -> JSON -> from_dict -> same PSI."""
    ref = ReferenceDistribution.fit(frame)
    again = ReferenceDistribution.from_dict(json.loads(json.dumps(ref.to_dict())))
    shifted = frame.assign(income=frame["income"] * 0.7)
    pd.testing.assert_series_equal(again.psi(shifted), ref.psi(shifted))


def test_missing_reference_feature_is_an_error(frame):
    """A matrix lacking a reference feature -> ValueError naming it."""
    ref = ReferenceDistribution.fit(frame)
    with pytest.raises(ValueError, match="bills"):
        ref.psi(frame.drop(columns="bills"))


# -- SeasonalReference: snapshots by season, features that age, low cardinality, rare events ----


def _province_months(n: int = 6000, months: int = 13, seed: int = 1) -> pd.DataFrame:
    """Monthly snapshots of one population (the same households every month).

    - ``years_since_exit``: whole years since leaving poverty; one more every year;
    - ``months_since_record``: a yearly income record entered in March: grows within the year,
      resets every year;
    - ``months_since_bill``: a stationary renewal process (new bills keep resetting it);
    - ``village_share``: one value per village (40 villages), as village context is;
    - ``disaster_12m``: a rare event (about 8 % of households);
    - ``income``: continuous.
    """
    rng = np.random.default_rng(seed)
    exit_year = rng.integers(2016, 2021, n)
    village = rng.integers(0, 40, n)
    share = np.round(rng.uniform(0.05, 0.4, 40), 3)
    base_income = rng.lognormal(9, 0.5, n)
    rows = []
    for day in pd.date_range("2024-12-31", periods=months, freq="ME"):
        since_march = ((day.month - 3) % 12) + day.day / 31 + rng.uniform(-0.3, 0.3, n)
        rows.append(
            pd.DataFrame(
                {
                    "as_of": day,
                    "years_since_exit": (day.year - exit_year).astype(float),
                    "months_since_record": since_march,
                    "months_since_bill": rng.exponential(8, n),
                    "village_share": share[village],
                    "disaster_12m": (rng.random(n) < 0.08).astype(float),
                    "income": base_income * rng.lognormal(0, 0.05, n),
                }
            )
        )
    return pd.concat(rows, ignore_index=True)


AGING = {"years_since_exit": 12, "months_since_record": 1, "months_since_bill": 1}


@pytest.fixture(scope="module")
def seasonal() -> tuple[pd.DataFrame, Any]:
    from riskml.models import SeasonalReference

    frame = _province_months()
    ref = SeasonalReference.fit(frame.drop(columns="as_of"), frame["as_of"], aging=AGING)
    return frame, ref


def test_seasonal_reference_learns_how_each_feature_ages(seasonal):
    """A year apart the exit years moved by one, the yearly record did not; a month apart the
    record moved by one month, the bills did not -> elapsed / within_year / as_is."""
    _, ref = seasonal
    assert len(ref.snapshots) == 13 and ref.snapshots[-1].as_of == "2025-12-31"
    modes = {name: entry["mode"] for name, entry in ref.aging.items()}
    assert modes == {
        "years_since_exit": "elapsed",
        "months_since_record": "within_year",
        "months_since_bill": "as_is",
    }
    year = ref.aging["years_since_exit"]["over_year"]
    assert year["psi_after_elapsed"] < 0.01 < 0.25 < year["psi_as_is"]


def test_a_later_roster_of_the_same_population_raises_no_warning(seasonal):
    """The same population a year and a half later, mid-month: the same-season snapshot is
    used, exit years are taken back by the elapsed years, the record by the part of the gap
    within a year -> no warning, although as-is comparison against the latest snapshot warns."""
    from riskml.models import ReferenceDistribution

    frame, ref = seasonal
    later = pd.Timestamp("2027-06-15")
    june = frame.loc[frame["as_of"] == "2025-06-30"].drop(columns="as_of").copy()
    X = june.assign(
        years_since_exit=june["years_since_exit"] + 2,  # 2027 - 2025
        months_since_record=june["months_since_record"] - 0.5,  # June 15 instead of June 30
    )
    found = ref.compare(X, later)
    assert found["reference"]["as_of"] == "2025-06-30"
    assert found["reference"]["elapsed_months"] == pytest.approx(23.5, abs=0.1)
    assert found["warnings"] == [], found["psi"]
    assert set(found["aged"]) == {"years_since_exit", "months_since_record"}
    naive = ReferenceDistribution.from_dict(ref.snapshots[-1].to_dict()).psi(X)
    assert naive["years_since_exit"] > 0.25 and naive["months_since_record"] > 0.25


def test_real_shifts_are_caught_in_both_directions(seasonal):
    """Incomes halved -> income warns by PSI; the rare event twice as common -> warns by its
    rate (its PSI stays under the threshold); the unchanged roster -> nothing."""
    frame, ref = seasonal
    day = pd.Timestamp("2025-12-31")
    X = frame.loc[frame["as_of"] == day].drop(columns="as_of").reset_index(drop=True)
    assert ref.compare(X, day)["warnings"] == []
    halved = ref.compare(X.assign(income=X["income"] * 0.5), day)
    assert halved["warnings"] == ["income"]
    rng = np.random.default_rng(5)
    doubled = X.assign(disaster_12m=np.maximum(X["disaster_12m"], rng.random(len(X)) < 0.09))
    found = ref.compare(doubled, day)
    assert found["psi"]["disaster_12m"] < 0.25
    assert found["warnings"] == ["disaster_12m"]
    assert found["event_rates"]["disaster_12m"]["ratio"] > 1.5


def test_low_cardinality_features_get_stable_bins(seasonal):
    """Whole numbers with few values: one bin per value. A village share (40 values, each held
    by a whole village): edges sit between values, so a tiny change of every village's value
    moves nobody across a bin."""
    frame, ref = seasonal
    snap = ref.snapshots[-1]
    spec = snap.numeric["years_since_exit"]
    assert spec.get("discrete") and len(spec["shares"]) == 5 + 1  # 5 exit years + missing
    assert not snap.numeric["village_share"].get("discrete")  # not whole numbers
    X = frame.loc[frame["as_of"] == "2025-12-31"].drop(columns="as_of")
    nudged = X.assign(village_share=X["village_share"] + 1e-6)
    assert snap.psi(nudged)["village_share"] == pytest.approx(0.0, abs=1e-12)


def test_seasonal_reference_round_trip_and_errors(seasonal):
    """to_dict -> JSON -> from_dict compares the same; an unknown aging cannot be told without
    a snapshot a month or a year back, and is then left out of the alarm with the reason."""
    from riskml.models import SeasonalReference

    frame, ref = seasonal
    again = SeasonalReference.from_dict(json.loads(json.dumps(ref.to_dict())))
    X = frame.loc[frame["as_of"] == "2025-03-31"].drop(columns="as_of")
    assert again.compare(X, "2026-03-20") == ref.compare(X, "2026-03-20")
    one = frame.loc[frame["as_of"] == "2025-12-31"]
    single = SeasonalReference.fit(one.drop(columns="as_of"), one["as_of"], aging=AGING)
    found = single.compare(one.drop(columns="as_of").assign(years_since_exit=9.0), "2026-12-31")
    assert "years_since_exit" not in found["warnings"]
    assert "no snapshots a month and a year apart" in found["left_out"]["years_since_exit"]
    with pytest.raises(ValueError, match="as_of has 3 dates but X has"):
        SeasonalReference.fit(one.drop(columns="as_of"), one["as_of"][:3])
    with pytest.raises(ValueError, match="Not a saved SeasonalReference"):
        SeasonalReference.from_dict({"numeric": {}})
