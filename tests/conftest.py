"""Shared fixtures. Stages add theirs below; a small seeded province is the common ground."""

from __future__ import annotations

import pytest

# ---- synth: the small seeded province every stage's tests share ----
SMALL_PROVINCE_HOUSEHOLDS = 2500
SMALL_PROVINCE_SEED = 7


@pytest.fixture(scope="session")
def small_province():
    """``(Bundle, ground_truth)`` of a 2,500-household synthetic province (seed 7), in memory.

    ``ground_truth`` is the long frame ``household_id, month, p_month, p_12m`` (see
    ``riskml.synth``). Generated once per test session (a few seconds).
    """
    from riskml.synth import generate_province

    return generate_province(SMALL_PROVINCE_HOUSEHOLDS, SMALL_PROVINCE_SEED)


@pytest.fixture(scope="session")
def small_province_dir(tmp_path_factory):
    """A written Parquet bundle folder of the same province, with ``<dir>.truth.parquet`` beside it."""
    from riskml.synth import write_synthetic_province

    out = tmp_path_factory.mktemp("synth") / "small_province"
    write_synthetic_province(out, SMALL_PROVINCE_HOUSEHOLDS, SMALL_PROVINCE_SEED, format="parquet")
    return out
