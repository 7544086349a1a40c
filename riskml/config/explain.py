"""Reason codes: ``configs/explain.yaml``.

How SHAP contributions become reasons a village cadre can read: how many reasons, the floor a
risk type's summed contribution must clear, the official risk types' wording, and the
assistance measures (official names) each type suggests. When a feature may be *stated* and
what it says is the catalog's business (``features/catalog.yaml`` ``statements``).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator, model_validator

from riskml.config._base import StrictModel, config_dir, load_config

__all__ = ["ExplainConfig", "MeasureWording", "RiskTypeWording", "load_explain_config"]


class MeasureWording(StrictModel):
    """One assistance measure by its official name."""

    zh: str = Field(min_length=1, description="Official name, e.g. 公益性岗位.")
    en: str = Field(min_length=1)
    covers: list[str] = Field(
        default_factory=list,
        description="Assistance-table measure codes (and 'dibao') meaning it is already in place.",
    )
    in_place_zh: str | None = Field(None, description="Default: 已享受<zh>.")
    in_place_en: str | None = Field(None, description="Default: already receives <en>.")

    def label(self, lang: str) -> str:
        return self.zh if lang == "zh" else self.en

    def in_place(self, lang: str) -> str:
        if lang == "zh":
            return self.in_place_zh or f"已享受{self.zh}"
        return self.in_place_en or f"already receives {self.en}"


class RiskTypeWording(StrictModel):
    """Official wording and suggested measures of one risk type."""

    zh: str = Field(min_length=1, description="Official name, e.g. 因病.")
    en: str = Field(min_length=1, description="Display name, e.g. illness.")
    sensitive: bool = Field(
        False,
        description="The risk type itself is sensitive personal information (health: PIPL Art. 28): "
        "never named in meeting (public) mode, and its internal measures are not shown there.",
    )
    measures: list[str] = Field(min_length=1, description="Keys of 'measures' (internal).")
    public_measures: list[str] | None = Field(
        None,
        description="Measures shown in public mode; default: the internal ones (required for sensitive types).",
    )

    @model_validator(mode="after")
    def _check(self) -> RiskTypeWording:
        if self.sensitive and self.public_measures is None:
            raise ValueError(
                "a sensitive risk type needs its own public_measures (its internal measures would reveal it)"
            )
        return self

    def measures_for(self, public: bool) -> list[str]:
        if public and self.public_measures is not None:
            return list(self.public_measures)
        return list(self.measures)


class ExplainConfig(StrictModel):
    """``configs/explain.yaml``."""

    max_reasons: int = Field(4, ge=1, le=10, description="At most this many reasons per household.")
    min_contribution: float = Field(
        0.1,
        ge=0,
        description="Floor (log-odds) a risk type's summed SHAP contribution must reach to be a reason.",
    )
    max_measures: int = Field(3, ge=1, le=10, description="Suggested measures per household.")
    max_context: int = Field(1, ge=0, le=5, description="Village-context statements per household.")
    measure_min_share: float = Field(
        0.25,
        ge=0,
        le=1,
        description="A measure is proposed only when its weight (the contributions of the reasons "
        "suggesting it) reaches this share of the top measure's weight.",
    )
    max_facts_per_reason: int = Field(2, ge=1, le=5)
    measures_separator_zh: str = "、"
    measures_separator_en: str = "; "
    facts_separator_zh: str = "；"
    facts_separator_en: str = "; "
    risk_types: dict[str, RiskTypeWording]
    measures: dict[str, MeasureWording]

    @field_validator("risk_types")
    @classmethod
    def _not_empty(cls, v: dict[str, RiskTypeWording]) -> dict[str, RiskTypeWording]:
        if not v:
            raise ValueError("configure at least one risk type")
        return v

    @model_validator(mode="after")
    def _measures_known(self) -> ExplainConfig:
        for code, rt in self.risk_types.items():
            for m in [*rt.measures, *(rt.public_measures or [])]:
                if m not in self.measures:
                    raise ValueError(
                        f"risk_types.{code} names measure '{m}', which is not under 'measures' "
                        f"({sorted(self.measures)})"
                    )
        return self


@lru_cache(maxsize=8)
def _load(path: str) -> ExplainConfig:
    return load_config(path, ExplainConfig)


def load_explain_config(path: str | Path | None = None) -> ExplainConfig:
    """Load ``configs/explain.yaml`` (or ``path``)."""
    return _load(str(path or config_dir() / "explain.yaml"))
