"""ReferenceDistribution: frozen bins, PSI, missing and unseen values, round trip."""

from __future__ import annotations

import json

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
