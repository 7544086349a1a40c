"""Yearly monitoring thresholds (per-capita net income, yuan) by province."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator

from riskml.config._base import ConfigError, StrictModel, config_dir, load_config

__all__ = ["ThresholdConfig", "load_thresholds"]


class ThresholdConfig(StrictModel):
    """``configs/thresholds.yaml``: monitoring threshold per province and year."""

    default_province: str
    after_last_year: str = Field(
        "carry_forward",
        description="'carry_forward' uses the last configured year's threshold for later years; "
        "'error' refuses years past the last configured one.",
    )
    provinces: dict[str, dict[int, float]]

    @field_validator("after_last_year")
    @classmethod
    def _check_policy(cls, v: str) -> str:
        if v not in {"carry_forward", "error"}:
            raise ValueError("must be 'carry_forward' or 'error'")
        return v

    @field_validator("provinces")
    @classmethod
    def _check_positive(cls, v: dict[str, dict[int, float]]) -> dict[str, dict[int, float]]:
        for prov, years in v.items():
            if not years:
                raise ValueError(f"province '{prov}' has no years")
            for year, value in years.items():
                if value <= 0:
                    raise ValueError(f"threshold for {prov} {year} must be positive, got {value}")
        return v

    def table(self, province: str | None = None) -> dict[int, float]:
        prov = province or self.default_province
        if prov not in self.provinces:
            raise ConfigError(
                f"No monitoring thresholds configured for province '{prov}'. "
                f"Known: {sorted(self.provinces)}. Add it to configs/thresholds.yaml."
            )
        return dict(sorted(self.provinces[prov].items()))

    def threshold(self, year: int, province: str | None = None) -> float:
        """The monitoring threshold for ``year``; earlier years than configured are an error."""
        table = self.table(province)
        if year in table:
            return table[year]
        first, last = min(table), max(table)
        if year > last and self.after_last_year == "carry_forward":
            return table[last]
        raise ConfigError(
            f"No monitoring threshold for year {year} (province '{province or self.default_province}'); "
            f"configured years are {first}-{last}. Add the year to configs/thresholds.yaml."
        )

    def thresholds_for_years(
        self, years: list[int] | range, province: str | None = None
    ) -> dict[int, float]:
        return {int(y): self.threshold(int(y), province) for y in years}


@lru_cache(maxsize=8)
def _load(path: str) -> ThresholdConfig:
    return load_config(path, ThresholdConfig)


def load_thresholds(path: str | Path | None = None) -> ThresholdConfig:
    """Load ``configs/thresholds.yaml`` (or ``path``)."""
    return _load(str(path or config_dir() / "thresholds.yaml"))
