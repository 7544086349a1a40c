"""Fixtures for the models tests: simulated training sets in the shape of ``TrainingSet``.

The simulation is deliberately simple and fully known: the true probability of each row (the
oracle) is a logistic function of the features plus an unobserved household shock, so tests can
assert real behaviour (the model ranks better than the rules, calibration is honest) without the
feature engine. Sizes stay small so the default suite is fast.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

RULE_FEATURES = (
    "oop_medical_last_year",
    "oop_medical_12m",
    "new_social_assistance_12m",
    "severe_disability_members",
    "disaster_loss_12m",
    "pc_income_last",
    "pc_income_to_threshold_last",
    "school_dropout_12m",
    "accident_12m",
    "ever_monitored",
    "months_since_elimination",
)
EXTRA_FEATURES = ("household_size", "head_age", "wage_share_last", "livelihood")
AUDIT = (
    "audit_county",
    "audit_livelihood",
    "audit_head_sex",
    "audit_head_ethnicity",
    "audit_disability_in_household",
    "audit_female_headed",
    "audit_elderly_headed",
)
LIVELIHOODS = ["farming", "pastoral", "agro_pastoral", "wage", "mixed"]


@dataclass
class SimulatedTrainingSet:
    """Same attributes as ``riskml.features.TrainingSet``, plus the true probabilities."""

    frame: pd.DataFrame
    feature_names: list[str]
    audit_columns: list[str] = field(default_factory=lambda: list(AUDIT))
    metadata: dict[str, Any] = field(default_factory=dict)
    oracle: np.ndarray = field(default_factory=lambda: np.zeros(0))


def simulate_training_set(
    n_households: int = 2000,
    n_dates: int = 12,
    *,
    seed: int = 0,
    start: str = "2019-01-01",
    step_months: int = 3,
    base_logit: float = -5.0,
    censored_dates: int = 0,
) -> SimulatedTrainingSet:
    """A household x quarterly-as-of training set with a known true probability per row.

    The last ``censored_dates`` as-of dates get ``label`` = NA (right-censored).
    """
    rng = np.random.default_rng(seed)
    H, D = n_households, n_dates
    dates = pd.date_range(start, periods=D, freq=f"{step_months}MS")
    n_villages = max(H // 40, 2)
    village = rng.integers(0, n_villages, H)
    county = village % 4
    livelihood = rng.choice(len(LIVELIHOODS), H, p=[0.35, 0.2, 0.2, 0.15, 0.1])
    ethnicity = rng.choice(["han", "mongol", "hui"], H, p=[0.6, 0.35, 0.05])
    female = rng.random(H) < 0.2
    head_age0 = rng.integers(25, 80, H)
    disabled = rng.random(H) < 0.1
    size = rng.integers(1, 7, H)
    income_level = rng.lognormal(np.log(1.9), 0.45, H)  # per-capita income / threshold
    frailty = rng.normal(0, 0.6, H)  # unobserved household effect (oracle only)

    h = np.repeat(np.arange(H), D)
    t = np.tile(np.arange(D), H)
    n = H * D
    ratio = income_level[h] * np.exp(rng.normal(0, 0.25, n) - 0.02 * t)
    oop12 = np.where(rng.random(n) < 0.15, rng.lognormal(np.log(6000), 1.0, n), 0.0)
    oop_last = np.where(
        rng.random(n) < 0.5,
        oop12,
        np.where(rng.random(n) < 0.12, rng.lognormal(np.log(5000), 1.0, n), 0.0),
    )
    county_shock = rng.random((4, D)) < 0.15
    disaster = county_shock[county[h], t] & (rng.random(n) < 0.5)
    disaster_loss = np.where(disaster, 1.0, 0.0)
    new_assist = (rng.random(n) < 0.03 + 0.05 * (ratio < 1)).astype(float)
    severe = (disabled[h] & (rng.random(n) < 0.6)).astype(float)
    dropout = (rng.random(n) < 0.01).astype(float)
    accident = (rng.random(n) < 0.02).astype(float)
    ever = ((rng.random(H) < 0.12)[h] | ((t > 6) & (rng.random(n) < 0.02))).astype(float)
    since_elim = np.where(ever > 0, rng.integers(1, 60, n).astype(float), np.nan)
    wage_share = np.clip(rng.beta(2, 3, H)[h] + rng.normal(0, 0.05, n), 0, 1)
    wage_share[rng.random(n) < 0.03] = np.nan  # missing income structure
    pastoral = livelihood[h] == 1

    logit = (
        base_logit
        + 1.6 * (ratio < 1.0)
        + 0.8 * (ratio < 1.3)
        - 0.9 * np.log(ratio)
        + 0.9 * np.log1p(oop12 / 10000.0)
        + 1.0 * new_assist
        + 0.7 * severe
        + 0.5 * disaster_loss
        + 0.9 * (disaster_loss * pastoral)
        + 0.7 * accident
        + 0.6 * dropout
        + 0.5 * ever
        + 0.3 * (size[h] >= 5)
        + frailty[h]
    )
    p = expit(logit)
    label = (rng.random(n) < p).astype(np.int8)
    frame = pd.DataFrame(
        {
            "household_id": pd.array([f"H{i:07d}" for i in h], dtype="string"),
            "as_of": dates[t].to_numpy(),
            "oop_medical_last_year": oop_last,
            "oop_medical_12m": oop12,
            "new_social_assistance_12m": new_assist,
            "severe_disability_members": severe,
            "disaster_loss_12m": disaster_loss,
            "pc_income_last": ratio * 7000.0,
            "pc_income_to_threshold_last": ratio,
            "school_dropout_12m": dropout,
            "accident_12m": accident,
            "ever_monitored": ever,
            "months_since_elimination": since_elim,
            "household_size": size[h].astype(float),
            "head_age": (head_age0[h] + t * step_months // 12).astype(float),
            "wage_share_last": wage_share,
            "livelihood": pd.Categorical.from_codes(livelihood[h], categories=LIVELIHOODS),
            "label": pd.array(label, dtype="Int8"),
            "label_income": pd.array((ratio < 1).astype(np.int8), dtype="Int8"),
            "county_code": pd.array([f"C{c}" for c in county[h]], dtype="string"),
            "township_code": pd.array([f"T{v // 5}" for v in village[h]], dtype="string"),
            "village_code": pd.array([f"V{v:04d}" for v in village[h]], dtype="string"),
            "audit_county": pd.array([f"C{c}" for c in county[h]], dtype="string"),
            "audit_livelihood": pd.Categorical.from_codes(livelihood[h], categories=LIVELIHOODS),
            "audit_head_sex": pd.Categorical(np.where(female[h], "F", "M"), categories=["M", "F"]),
            "audit_head_ethnicity": pd.array(ethnicity[h], dtype="string"),
            "audit_disability_in_household": pd.array(disabled[h], dtype="boolean"),
            "audit_female_headed": pd.array(female[h], dtype="boolean"),
            "audit_elderly_headed": pd.array(head_age0[h] >= 60, dtype="boolean"),
        }
    )
    if censored_dates:
        late = t >= D - censored_dates
        frame.loc[late, "label"] = pd.NA
    return SimulatedTrainingSet(
        frame=frame,
        feature_names=[*RULE_FEATURES, *EXTRA_FEATURES],
        metadata={"horizon_months": 12, "source": "tests/models simulation"},
        oracle=p,
    )


@pytest.fixture(scope="session")
def training_set() -> SimulatedTrainingSet:
    """2,000 households x 12 quarterly as-of dates (24,000 rows), about 3-4 % positives."""
    return simulate_training_set()


@pytest.fixture(scope="session")
def make_training_set() -> Callable[..., SimulatedTrainingSet]:
    """The simulator itself, for tests that need another size or shape."""
    return simulate_training_set
