"""The generator's view of ``configs/synth.yaml``: arrays, calendars and vocabulary codes."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from riskml.config.synth import CAUSES, LIVELIHOOD_KEYS, SynthConfig
from riskml.config.thresholds import load_thresholds
from riskml.data._schema import (
    ASSISTANCE_MEASURES,
    DISASTER_KINDS,
    EDUCATION,
    EVENT_TYPES,
    MONITORING_CATEGORIES,
    RELATIONS,
)

__all__ = [
    "CAUSES",
    "DETAILS",
    "EPOCH",
    "EV",
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
    """Check the config's measure and event names against the data contract."""
    unknown_measures = sorted(
        {m for ms in config.assistance.after_identification.values() for m in ms}
        - set(ASSISTANCE_MEASURES)
        | (set(config.assistance.amount) ^ set(ASSISTANCE_MEASURES))
    )
    if unknown_measures:
        raise ValueError(
            f"configs/synth.yaml assistance lists measures {unknown_measures} that are not exactly the "
            f"contract's measures {list(ASSISTANCE_MEASURES)}"
        )
    delays = set(config.recording_delay_days)
    if delays != set(EVENT_TYPES):
        raise ValueError(
            "configs/synth.yaml recording_delay_days must list every contract event type: "
            f"missing {sorted(set(EVENT_TYPES) - delays)}, unknown {sorted(delays - set(EVENT_TYPES))}"
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
