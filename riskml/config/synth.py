"""``configs/synth.yaml``: every behavioural parameter of the synthetic province (``riskml.synth``).

Rates are per month unless a key says ``annual``. *Age tables* map an exclusive upper age bound
to a value: ``{30: a, 60: b, 200: c}`` is ``a`` below 30, ``b`` for 30-59 and ``c`` from 60.

This module checks structure only. Keys that must be the data contract's codes (risk types,
livelihoods, education levels, disaster kinds, measures, event types) are checked by
``riskml.synth`` before it generates anything: ``config`` sits below ``data`` in the layering
and holds no copy of the contract's vocabularies.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from pathlib import Path

from pydantic import Field, PrivateAttr, field_validator, model_validator

from riskml.config._base import StrictModel, config_dir, load_config

__all__ = [
    "BANNER_TYPES",
    "PerLivelihood",
    "SynthConfig",
    "load_synth_config",
]

BANNER_TYPES = ("pastoral", "semi", "farming")
"""Kinds of banner (旗) the generator knows, in the order of its codes."""


def _check_keys(name: str, mapping: dict, expected: tuple[str, ...]) -> None:
    missing = sorted(set(expected) - set(mapping))
    extra = sorted(set(mapping) - set(expected))
    if missing or extra:
        raise ValueError(
            f"{name} must have exactly the keys {list(expected)}; missing {missing}, unknown {extra}"
        )


def _check_probability(name: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be a probability in [0, 1], got {value}")


class PerLivelihood(StrictModel):
    """One value per livelihood; ``riskml.synth`` checks the fields are the contract's."""

    farming: float = Field(ge=0)
    pastoral: float = Field(ge=0)
    agro_pastoral: float = Field(ge=0)
    wage: float = Field(ge=0)
    mixed: float = Field(ge=0)

    def as_tuple(self) -> tuple[float, ...]:
        """The values in the order of the fields (the contract's ``LIVELIHOODS`` order)."""
        return tuple(getattr(self, k) for k in type(self).model_fields)


def _pair(v: list[float], name: str) -> list[float]:
    if len(v) != 2 or v[0] > v[1]:
        raise ValueError(f"{name} must be [low, high] with low <= high, got {v}")
    return v


class Period(StrictModel):
    start_month: str
    end_month: str
    monitoring_start: str

    @field_validator("start_month", "end_month", "monitoring_start")
    @classmethod
    def _month(cls, v: str) -> str:
        try:
            dt.datetime.strptime(v, "%Y-%m")
        except ValueError as exc:
            raise ValueError(f"must be a month 'YYYY-MM', got {v!r}") from exc
        return v

    @model_validator(mode="after")
    def _order(self) -> Period:
        if not self.start_month <= self.monitoring_start <= self.end_month:
            raise ValueError("need start_month <= monitoring_start <= end_month")
        return self


class MeanSdMin(StrictModel):
    mean: float = Field(gt=0)
    sd: float = Field(ge=0)
    min: float = Field(gt=0)


class MeanMin(StrictModel):
    mean: float = Field(gt=0)
    min: float = Field(gt=0)


class Syllables(StrictModel):
    mongolian: list[str] = Field(min_length=2)
    han: list[str] = Field(min_length=2)
    han_suffix: list[str] = Field(min_length=1)


class BannerType(StrictModel):
    livelihood: PerLivelihood
    formerly_poor_share: float = Field(ge=0, le=1)
    pv_share: float = Field(ge=0, le=1)
    snow_annual_prob: float = Field(ge=0, le=1)
    drought_annual_prob: float = Field(ge=0, le=1)


class Banner(StrictModel):
    code: str = Field(pattern=r"^\d{6}$")
    name: str
    type: str
    mongol_share: float = Field(ge=0, le=1)
    other_ethnic: dict[str, float] = Field(default_factory=dict)
    weight: float = Field(1.0, gt=0)

    @field_validator("type")
    @classmethod
    def _type(cls, v: str) -> str:
        if v not in BANNER_TYPES:
            raise ValueError(f"banner type must be one of {list(BANNER_TYPES)}, got {v!r}")
        return v


class League(StrictModel):
    code: str = Field(pattern=r"^\d{4}$")
    name: str
    banners: list[Banner] = Field(min_length=1)

    @model_validator(mode="after")
    def _codes(self) -> League:
        for b in self.banners:
            if not b.code.startswith(self.code):
                raise ValueError(
                    f"banner {b.code} {b.name} does not start with its league code {self.code}"
                )
        return self


class Geography(StrictModel):
    households_per_banner: int = Field(gt=0)
    min_banners: int = Field(ge=1)
    village_households: MeanSdMin
    villages_per_township: MeanMin
    gacha_share: dict[str, float]
    syllables: Syllables
    other_ethnicity: dict[str, float]
    banner_types: dict[str, BannerType]
    leagues: list[League] = Field(min_length=1)

    @model_validator(mode="after")
    def _types(self) -> Geography:
        _check_keys("geography.banner_types", self.banner_types, BANNER_TYPES)
        _check_keys("geography.gacha_share", self.gacha_share, BANNER_TYPES)
        codes = [b.code for lg in self.leagues for b in lg.banners]
        if len(set(codes)) != len(codes):
            raise ValueError("banner codes must be unique")
        return self


class AgeDist(StrictModel):
    mean: float
    sd: float = Field(gt=0)
    min: float
    max: float


class MeanSd(StrictModel):
    mean: float
    sd: float = Field(ge=0)


class Households(StrictModel):
    head_age: AgeDist
    head_female_share: float = Field(ge=0, le=1)
    spouse_prob_by_head_age: dict[int, float]
    spouse_age_gap: MeanSd
    children_mean_by_head_age: dict[int, float]
    child_age_gap: list[float]
    parents_prob_by_head_age: dict[int, float]
    second_parent_prob: float = Field(ge=0, le=1)
    parent_age_gap: list[float]
    grandchildren_prob_by_head_age: dict[int, float]
    second_grandchild_prob: float = Field(ge=0, le=1)
    birth_in_period_prob: float = Field(ge=0, le=1)
    inlaw_in_period_prob: float = Field(ge=0, le=1)
    exit_year_weights: dict[int, float]
    relocated_share: dict[str, float]
    relocation_years: list[int]
    scale_sd: float = Field(ge=0)
    formerly_poor_scale_shift: float
    dibao_initial_share: dict[str, float]
    dibao_initial_no_labour_mult: float = Field(ge=0)
    education_by_birth_year: dict[int, dict[str, float]]

    @field_validator("child_age_gap", "parent_age_gap", "relocation_years")
    @classmethod
    def _pairs(cls, v: list) -> list:
        return _pair(v, "range")

    @model_validator(mode="after")
    def _groups(self) -> Households:
        _check_keys("households.relocated_share", self.relocated_share, ("formerly_poor", "other"))
        _check_keys(
            "households.dibao_initial_share", self.dibao_initial_share, ("formerly_poor", "other")
        )
        return self


class LogNormal(StrictModel):
    median: float = Field(gt=0)
    sd: float = Field(ge=0)


class ShareLogNormal(StrictModel):
    share: PerLivelihood
    median: float = Field(gt=0)
    sd: float = Field(ge=0)


class FlatShareLogNormal(StrictModel):
    share: float = Field(ge=0, le=1)
    median: float = Field(gt=0)
    sd: float = Field(ge=0)


class LivelihoodLogNormal(StrictModel):
    median: PerLivelihood
    sd: float = Field(ge=0)


class Income(StrictModel):
    growth_by_year: dict[int, float]
    business_base: PerLivelihood
    business_cost_ratio: PerLivelihood
    livestock_share: PerLivelihood
    cattle_price_index: dict[int, float]
    labour_floor: float = Field(ge=0, le=1)
    full_labour_workers: int = Field(ge=1)
    business_noise_sd: float = Field(ge=0)
    migrant_wage_monthly: LogNormal
    migrant_months_per_year: float = Field(gt=0, le=12)
    local_wage_monthly: float = Field(gt=0)
    local_work_share_of_year: float = Field(gt=0, le=1)
    public_welfare_job_monthly: float = Field(ge=0)
    migrant_share_initial: PerLivelihood
    local_job_share_initial: PerLivelihood
    land_rent: ShareLogNormal
    collective_dividend: FlatShareLogNormal
    pension_monthly_by_year: dict[int, float]
    pension_age: int
    eco_subsidy: LivelihoodLogNormal
    farmland_subsidy: LivelihoodLogNormal
    dibao_monthly_per_person_by_year: dict[int, float]
    disability_subsidy_annual: float = Field(ge=0)
    pv_dividend_annual: LogNormal
    chronic_medication_monthly: float = Field(ge=0)
    recorded_days_after_year_end: list[int]


class Health(StrictModel):
    death_annual_by_age: dict[int, float]
    death_mult_serious: float = Field(ge=0)
    death_mult_chronic: float = Field(ge=0)
    serious_annual_by_age: dict[int, float]
    serious_mult_chronic: float = Field(ge=0)
    serious_duration_months: list[int]
    serious_monthly_hospitalization: float = Field(ge=0, le=1)
    hospitalization_annual_by_age: dict[int, float]
    chronic_prevalence_by_age: dict[int, float]
    chronic_onset_annual_by_age: dict[int, float]
    disability_prevalence_by_age: dict[int, float]
    disability_onset_annual_by_age: dict[int, float]
    disability_grade_weights: dict[int, float]
    serious_bill: LogNormal
    hospitalization_bill: LogNormal
    oop_share: list[float]
    accident_annual_working_age: float = Field(ge=0, le=1)
    accident_cost: LogNormal
    accident_disability_prob: float = Field(ge=0, le=1)
    accident_disability_days: list[int]
    health_aid_oop_mult: float = Field(ge=0, le=1)
    serious_to_chronic_prob: float = Field(ge=0, le=1)
    followup_bill_mult: float = Field(ge=0)
    bill_days_after_stay: list[int]

    @model_validator(mode="after")
    def _grades(self) -> Health:
        if sorted(self.disability_grade_weights) != [1, 2, 3, 4]:
            raise ValueError("health.disability_grade_weights must have grades 1, 2, 3, 4")
        _pair(self.serious_duration_months, "health.serious_duration_months")
        _pair(self.oop_share, "health.oop_share")
        return self


class Work(StrictModel):
    working_age: list[int]
    migrant_start_monthly: PerLivelihood
    migrant_end_monthly: float = Field(ge=0, le=1)
    job_loss_monthly: dict[str, float]
    job_loss_2020_mult: float = Field(ge=0)
    local_job_start_monthly: PerLivelihood
    move_out_monthly: float = Field(ge=0, le=1)
    dropout_monthly: float = Field(ge=0, le=1)
    college_prob: float = Field(ge=0, le=1)
    college_tuition: LogNormal
    migrant_max_age: int
    move_out_ages: list[int]
    dropout_ages: list[int]
    dropout_below_ratio: float = Field(gt=0)
    school_ages: dict[str, int]
    college_leave_age: int
    out_of_school_share: float = Field(ge=0, le=1)
    education_wage_factor: dict[str, float]
    wage_scale_elasticity: float

    @model_validator(mode="after")
    def _keys(self) -> Work:
        _check_keys("work.job_loss_monthly", self.job_loss_monthly, ("migrant", "local"))
        _pair(self.working_age, "work.working_age")
        for name in ("move_out_ages", "dropout_ages"):
            _pair(getattr(self, name), f"work.{name}")
        return self


class BetaParams(StrictModel):
    a: float = Field(gt=0)
    b: float = Field(gt=0)


class Exposure(StrictModel):
    snow: PerLivelihood
    drought: PerLivelihood
    local: PerLivelihood


class Shocks(StrictModel):
    business_failure_monthly: PerLivelihood
    business_failure_loss: list[float]
    business_failure_carry_next_year: float = Field(ge=0, le=1)
    snow_months: list[int]
    drought_months: list[int]
    disaster_severity: BetaParams
    household_severity_sd: float = Field(ge=0)
    exposure: Exposure
    local_disaster_monthly_per_township: float = Field(ge=0, le=1)
    local_kinds: dict[str, float]
    local_severity: list[float]
    housing_damage_prob: dict[str, float]
    housing_damage_cost: LogNormal
    livestock_loss_min_share: float = Field(ge=0, le=1)
    crop_failure_max_share: float = Field(ge=0, le=1)
    report_spread_days: int = Field(ge=1)
    loss_report_days: dict[str, int]

    @model_validator(mode="after")
    def _kinds(self) -> Shocks:
        for m in (*self.snow_months, *self.drought_months):
            if not 1 <= m <= 12:
                raise ValueError(f"disaster months must be 1-12, got {m}")
        return self


class Logistic(StrictModel):
    amplitude: float = Field(ge=0)
    center: float
    width: float = Field(gt=0)


class Vulnerability(StrictModel):
    floor: float = Field(ge=0)
    amplitude: float = Field(ge=0)
    center: float
    width: float = Field(gt=0)


SHOCK_KEYS = (
    "serious_illness",
    "hospitalization",
    "chronic_onset",
    "disability_onset",
    "accident",
    "disaster",
    "job_loss",
    "business_failure",
    "working_age_death",
    "college",
    "dropout",
)


class Hardship(StrictModel):
    income: Logistic
    medical_burden: Logistic
    rigid_medical_yuan: float = Field(gt=0)
    rigid_medical_hazard: float = Field(ge=0, le=1)
    chronic_per_member: float = Field(ge=0, le=1)
    disability_by_grade: dict[int, float]
    labour_shortage: float = Field(ge=0, le=1)
    elderly_only: float = Field(ge=0, le=1)
    shock_onset: dict[str, float]
    vulnerability: Vulnerability
    formerly_poor_mult: float = Field(ge=0)
    relocated_mult: float = Field(ge=0)
    recovery_monthly: dict[str, float]
    disaster_loss_reference: float = Field(gt=0)
    elderly_age: int
    industry_price_below: float = Field(gt=0)
    industry_livestock_share: float = Field(ge=0, le=1)
    initial_prevalence_cap: float = Field(ge=0, le=1)
    initial_prevalence_mult: float = Field(ge=0)

    @model_validator(mode="after")
    def _keys(self) -> Hardship:
        _check_keys("hardship.shock_onset", self.shock_onset, SHOCK_KEYS)
        if sorted(self.disability_by_grade) != [1, 2, 3, 4]:
            raise ValueError("hardship.disability_by_grade must have grades 1, 2, 3, 4")
        return self


class Cadres(StrictModel):
    detection_monthly: dict[str, float]
    diligence_sd: float = Field(ge=0)
    max_detection: float = Field(gt=0, le=1)
    false_identification_monthly: float = Field(ge=0, le=1)
    false_identification_low_income_mult: float = Field(ge=0)
    edge_ratio: float = Field(gt=0)
    min_monitoring_months: int = Field(ge=0)
    elimination_monthly: dict[str, float]
    no_labour_elimination_mult: float = Field(ge=0)
    natural_elimination_share: float = Field(ge=0, le=1)
    false_identification_cause: dict[str, float]
    secondary_risk_threshold: float = Field(ge=0)


class Background(StrictModel):
    pv_dividend_start_years: list[int]
    ecological_compensation_share: PerLivelihood
    ecological_compensation_start_years: list[int]
    industry_share_formerly_poor: float = Field(ge=0, le=1)
    employment_share_migrant_formerly_poor: float = Field(ge=0, le=1)
    education_share_formerly_poor_students: float = Field(ge=0, le=1)
    industry_duration_days: list[int]
    employment_duration_days: list[int]
    education_duration_days: list[int]
    education_start_window_days: int = Field(ge=1)


class Assistance(StrictModel):
    after_identification: dict[str, dict[str, float]]
    start_days_after_identification: list[int]
    end_days_after_elimination: list[int]
    amount: dict[str, float]
    amount_sd: float = Field(ge=0)
    background: Background
    dibao_grant_monthly_low_income: float = Field(ge=0, le=1)
    dibao_end_monthly_high_income: float = Field(ge=0, le=1)
    dibao_grant_below_ratio: float = Field(gt=0)
    dibao_end_above_ratio: float = Field(gt=0)
    dibao_end_days_after_elimination: list[int]
    temporary_assistance_days: list[int]
    temporary_assistance_prob: float = Field(ge=0, le=1)

    @model_validator(mode="after")
    def _keys(self) -> Assistance:
        for cause, measures in self.after_identification.items():
            for m, p in measures.items():
                _check_probability(f"assistance.after_identification.{cause}.{m}", p)
        return self


class SynthConfig(StrictModel):
    """The whole of ``configs/synth.yaml``."""

    province: str
    period: Period
    block_size: int = Field(gt=0, le=100_000)
    default_chunk_size: int = Field(gt=0)
    household_id_prefix: str = Field(pattern=r"^[A-Za-z]{0,6}$")
    geography: Geography
    households: Households
    income: Income
    health: Health
    work: Work
    shocks: Shocks
    hardship: Hardship
    cadres: Cadres
    assistance: Assistance
    recording_delay_days: dict[str, list[int]]
    history_years: list[int]
    _source: str = PrivateAttr(default="the synth config")

    @model_validator(mode="after")
    def _delays(self) -> SynthConfig:
        for k, v in self.recording_delay_days.items():
            _pair(v, f"recording_delay_days.{k}")
            if v[0] < 0:
                raise ValueError(f"recording_delay_days.{k} must not be negative")
        first, last = self.first_year, self.last_year
        for name, table in (
            ("income.growth_by_year", self.income.growth_by_year),
            ("income.cattle_price_index", self.income.cattle_price_index),
            ("income.pension_monthly_by_year", self.income.pension_monthly_by_year),
            (
                "income.dibao_monthly_per_person_by_year",
                self.income.dibao_monthly_per_person_by_year,
            ),
        ):
            missing = [y for y in range(first, last + 1) if y not in table]
            if missing:
                raise ValueError(f"{name} has no value for simulated years {missing}")
        return self

    @property
    def source(self) -> str:
        """The file this config was read from (for error messages)."""
        return self._source

    @property
    def first_year(self) -> int:
        return int(self.period.start_month[:4])

    @property
    def last_year(self) -> int:
        return int(self.period.end_month[:4])


@lru_cache(maxsize=4)
def _load(path: str) -> SynthConfig:
    config = load_config(path, SynthConfig)
    config._source = path
    return config


def load_synth_config(path: str | Path | None = None) -> SynthConfig:
    """Load ``configs/synth.yaml`` (or ``path``) as a validated :class:`SynthConfig`."""
    return _load(str(path or config_dir() / "synth.yaml"))
