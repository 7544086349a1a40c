"""The generator's view of ``configs/synth.yaml``: arrays, calendars and vocabulary codes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from riskml.config import ConfigError
from riskml.config.synth import PerLivelihood, SynthConfig
from riskml.config.thresholds import load_thresholds
from riskml.data._schema import (
    ASSISTANCE_MEASURES,
    DISASTER_KINDS,
    EDUCATION,
    EVENT_TYPES,
    LIVELIHOODS,
    MONITORING_CATEGORIES,
    RELATIONS,
    RISK_TYPES,
)

__all__ = [
    "CAUSES",
    "DETAILS",
    "EPOCH",
    "EV",
    "KIND_DROUGHT",
    "KIND_SNOW",
    "LIVELIHOOD_KEYS",
    "MEASURE",
    "Calendar",
    "age_lookup",
    "annual_to_monthly",
    "check_vocabulary",
    "day_number",
    "logistic",
]

EPOCH = dt.date(1970, 1, 1)
CAUSES = RISK_TYPES
"""Risk types the generator attributes hardship to (codes are indices, the contract's order)."""
LIVELIHOOD_KEYS = LIVELIHOODS
"""Livelihoods inside the generator (codes are indices, the contract's order)."""
KIND_SNOW, KIND_DROUGHT = "snow", "drought"
"""Disasters that strike whole banners; the other contract kinds strike single townships."""
LOCAL_DISASTER_KINDS = tuple(k for k in DISASTER_KINDS if k not in (KIND_SNOW, KIND_DROUGHT))
EV = {name: i for i, name in enumerate(EVENT_TYPES)}
"""Event type -> code (the contract's order)."""
MEASURE = {name: i for i, name in enumerate(ASSISTANCE_MEASURES)}
CAUSE = {name: i for i, name in enumerate(CAUSES)}
CATEGORY = {name: i for i, name in enumerate(MONITORING_CATEGORIES)}
EDU = {name: i for i, name in enumerate(EDUCATION)}
REL = {name: i for i, name in enumerate(RELATIONS)}
DETAILS: tuple[str, ...] = (
    *DISASTER_KINDS,
    "1",
    "2",
    "3",
    "4",
    "primary",
    "junior",
    "senior",
    "college",
    "migrant",
    "local",
)
"""The ``detail`` strings the generator writes (codes are indices into this tuple)."""
DETAIL = {name: i for i, name in enumerate(DETAILS)}


def check_vocabulary(config: SynthConfig) -> None:
    """Check every key of the config that names a contract code against the data contract.

    ``riskml.config.synth`` checks structure only (config may not import data); this is where
    risk types, livelihoods, education levels, disaster kinds, measures and event types are
    held to the contract. Raises :class:`ConfigError` naming the file and the key.
    """
    for key, names, expected in _vocabulary_keys(config):
        _check_names(config.source, key, names, expected)
    for cause, measures in config.assistance.after_identification.items():
        _check_names(
            config.source,
            f"assistance.after_identification.{cause}",
            measures,
            ASSISTANCE_MEASURES,
            subset=True,
        )
    if tuple(PerLivelihood.model_fields) != LIVELIHOODS:
        raise ConfigError(
            f"{config.source}: per-livelihood keys {list(PerLivelihood.model_fields)} must be the data "
            f"contract's livelihoods {list(LIVELIHOODS)}, in that order."
        )
    unknown = sorted(set(config.cadres.false_identification_cause) - set(RISK_TYPES))
    if unknown:
        raise ConfigError(
            f"{config.source}: cadres.false_identification_cause has unknown risk types {unknown}; "
            f"use the contract's risk types {list(RISK_TYPES)}."
        )


def _vocabulary_keys(
    config: SynthConfig,
) -> list[tuple[str, Iterable[str], tuple[str, ...]]]:
    """(key, the names it holds, the contract codes they must be exactly)."""
    hs, wk, sh = config.households, config.work, config.shocks
    return [
        ("hardship.recovery_monthly", config.hardship.recovery_monthly, RISK_TYPES),
        ("cadres.detection_monthly", config.cadres.detection_monthly, RISK_TYPES),
        ("cadres.elimination_monthly", config.cadres.elimination_monthly, RISK_TYPES),
        ("assistance.after_identification", config.assistance.after_identification, RISK_TYPES),
        ("assistance.amount", config.assistance.amount, ASSISTANCE_MEASURES),
        ("recording_delay_days", config.recording_delay_days, EVENT_TYPES),
        ("work.education_wage_factor", wk.education_wage_factor, EDUCATION),
        ("work.school_ages", wk.school_ages, EDUCATION[1:]),
        ("shocks.housing_damage_prob", sh.housing_damage_prob, DISASTER_KINDS),
        ("shocks.local_kinds", sh.local_kinds, LOCAL_DISASTER_KINDS),
        *(
            (f"households.education_by_birth_year.{year}", shares, EDUCATION)
            for year, shares in hs.education_by_birth_year.items()
        ),
    ]


def _check_names(
    source: str, key: str, names: Iterable[str], expected: tuple[str, ...], subset: bool = False
) -> None:
    names = set(names)
    unknown = sorted(names - set(expected))
    missing = [] if subset else [n for n in expected if n not in names]
    if unknown or missing:
        wanted = "only" if subset else "exactly"
        raise ConfigError(
            f"{source}: {key} must name {wanted} the data contract's codes {list(expected)}; "
            f"missing {missing}, unknown {unknown}."
        )


def day_number(d: dt.date) -> int:
    """Days since 1970-01-01 (Arrow's ``date32``)."""
    return (d - EPOCH).days


def annual_to_monthly(p: np.ndarray | float) -> np.ndarray:
    """Monthly probability with the same yearly total as the annual probability ``p``."""
    return 1.0 - np.power(1.0 - np.clip(np.asarray(p, dtype=np.float64), 0.0, 0.999999), 1.0 / 12.0)


def logistic(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -40.0, 40.0)))


@dataclass(frozen=True)
class AgeTable:
    bounds: np.ndarray
    values: np.ndarray

    def __call__(self, age: np.ndarray) -> np.ndarray:
        idx = np.searchsorted(self.bounds, age, side="right")
        return self.values[np.minimum(idx, len(self.values) - 1)]


def age_lookup(table: dict[int, float], *, monthly: bool = False) -> AgeTable:
    """An age table (exclusive upper bound -> value) as a vectorised lookup."""
    bounds = np.array(sorted(table), dtype=np.int64)
    values = np.array([table[b] for b in sorted(table)], dtype=np.float64)
    if monthly:
        values = annual_to_monthly(values)
    return AgeTable(bounds, values)


def per_livelihood(values: tuple[float, ...]) -> np.ndarray:
    return np.asarray(values, dtype=np.float64)


@dataclass(frozen=True)
class Calendar:
    """The simulated months and the thresholds that apply to them."""

    first_year: int
    n_months: int
    month_start: np.ndarray  # day number of each month's first day
    days_in_month: np.ndarray
    year: np.ndarray  # calendar year of each month
    month_of_year: np.ndarray  # 1..12
    monitoring_start: int  # index of the first month with identifications
    extracted_on: dt.date
    thresholds: dict[int, float]

    @property
    def extracted_day(self) -> int:
        return day_number(self.extracted_on)

    @property
    def last_year(self) -> int:
        return int(self.year[-1])

    def year_of(self, i: int) -> int:
        """Calendar year of month index ``i`` (also past the period's end)."""
        return self.first_year + (int(self.month_of_year[0]) - 1 + i) // 12

    @classmethod
    def from_config(cls, config: SynthConfig) -> Calendar:
        start = np.datetime64(config.period.start_month, "M")
        end = np.datetime64(config.period.end_month, "M")
        months = np.arange(start, end + 1)
        starts = months.astype("datetime64[D]")
        ends = (months + 1).astype("datetime64[D]")
        year = months.astype("datetime64[Y]").astype(int) + 1970
        moy = months.astype(int) % 12 + 1
        mon_start = int((np.datetime64(config.period.monitoring_start, "M") - start).astype(int))
        extracted = (ends[-1] - np.timedelta64(1, "D")).astype(dt.date)
        thresholds = load_thresholds().thresholds_for_years(
            range(int(year[0]), int(year[-1]) + 2), config.province
        )
        return cls(
            first_year=int(year[0]),
            n_months=len(months),
            month_start=starts.astype(np.int64),
            days_in_month=(ends - starts).astype(np.int64),
            year=year.astype(np.int64),
            month_of_year=moy.astype(np.int64),
            monitoring_start=mon_start,
            extracted_on=extracted,
            thresholds=thresholds,
        )
