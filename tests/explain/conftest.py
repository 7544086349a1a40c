"""Fixtures for riskml.explain: household-like frames with NaNs, zeros and categories, and
small LightGBM models trained on them (real boosters, no mocks)."""

from __future__ import annotations

from collections.abc import Callable

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

LIVELIHOODS = ["farming", "pastoral", "agro_pastoral", "wage", "mixed"]


def household_frame(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Counts that are mostly zero, flags, ratios, incomes with NaN gaps, two categoricals."""
    rng = np.random.default_rng(seed)
    size = rng.integers(1, 8, n).astype(float)
    hosp = rng.poisson(0.15, n).astype(float)
    oop = np.where(hosp > 0, rng.lognormal(8.5, 1.0, n).round(), 0.0)
    oop[rng.random(n) < 0.05] = np.nan
    disaster = rng.poisson(0.1, n).astype(float)
    income = rng.lognormal(9.0, 0.6, n).round()
    income[rng.random(n) < 0.08] = np.nan
    change = rng.normal(0, 0.3, n)
    change[rng.random(n) < 0.1] = np.nan
    change[rng.random(n) < 0.1] = 0.0
    dibao = (rng.random(n) < 0.1).astype(float)
    neg = rng.normal(0, 1, n)  # a feature with negative values and exact zeros
    neg[rng.random(n) < 0.2] = 0.0
    livelihood = pd.Categorical(rng.choice(LIVELIHOODS, n), categories=LIVELIHOODS)
    county = pd.Categorical(rng.choice([f"c{i}" for i in range(12)], n))
    county[rng.random(n) < 0.05] = np.nan
    X = pd.DataFrame(
        {
            "household_size": size,
            "n_hospitalizations": hosp,
            "oop_medical": oop,
            "n_disasters": disaster,
            "pc_income": income,
            "income_change": change,
            "dibao": dibao,
            "signed": neg,
            "livelihood": livelihood,
            "county": county,
        }
    )
    logit = (
        -2.5
        + 0.8 * hosp
        + 0.0001 * np.nan_to_num(oop)
        + 0.6 * disaster
        - 0.0002 * (np.nan_to_num(income, nan=8000) - 8000)
        - 1.5 * np.nan_to_num(change)
        + 0.5 * dibao
        + 0.4 * (livelihood == "pastoral")
        + 0.3 * np.sign(neg)
    )
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return X, y


def train(X: pd.DataFrame, y: np.ndarray, rounds: int, **params: object) -> lgb.Booster:
    base = {
        "objective": "binary",
        "num_leaves": 15,
        "learning_rate": 0.1,
        "min_data_in_leaf": 20,
        "min_data_per_group": 10,
        "cat_smooth": 1.0,
        "verbose": -1,
        "num_threads": 2,
        "seed": 1,
        "deterministic": True,
    }
    base.update(params)
    return lgb.train(base, lgb.Dataset(X, y), num_boost_round=rounds)


@pytest.fixture(scope="session")
def household_data() -> tuple[pd.DataFrame, np.ndarray, pd.DataFrame]:
    X, y = household_frame(4000, seed=11)
    X_new, _ = household_frame(3000, seed=12)
    return X, y, X_new


@pytest.fixture(scope="session")
def household_booster(household_data: tuple[pd.DataFrame, np.ndarray, pd.DataFrame]) -> lgb.Booster:
    X, y, _ = household_data
    return train(X, y, rounds=200)


@pytest.fixture(scope="session")
def make_frame() -> Callable[[int, int], tuple[pd.DataFrame, np.ndarray]]:
    """``make_frame(n, seed) -> (X, y)``: a household-like frame (see ``household_frame``)."""
    return household_frame


@pytest.fixture(scope="session")
def make_booster() -> Callable[..., lgb.Booster]:
    """``make_booster(X, y, rounds, **params) -> lightgbm.Booster``."""
    return train
