"""Reason codes: ``configs/explain.yaml``.

How SHAP contributions become reasons a village cadre can read: how many reasons, the floor a
risk type's summed contribution must clear, each risk type's display name, its public wording
(what may be read out at a village meeting: never a diagnosis or a sensitive value) and the
assistance measures it suggests.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator, model_validator

from riskml.config._base import StrictModel, config_dir, load_config

__all__ = ["ExplainConfig", "RiskTypeWording", "load_explain_config"]


class RiskTypeWording(StrictModel):
    """Display name, public wording and suggested measures of one risk type."""

    zh: str = Field(min_length=1, description="Display name, e.g. 因病.")
    en: str = Field(min_length=1, description="Display name, e.g. illness.")
    sensitive: bool = Field(
        False,
        description="The risk type itself is sensitive personal information (health: PIPL Art. 28). "
        "Its public wording and public measures must not reveal it.",
    )
    public_zh: str = Field(min_length=1, description="Public wording (no personal details).")
    public_en: str = Field(min_length=1)
    measures_zh: list[str] = Field(
        min_length=1, description="Suggested assistance measures (internal)."
    )
    measures_en: list[str] = Field(min_length=1)
    public_measures_zh: list[str] | None = Field(
        None,
        description="Measures shown in public mode; default: the internal measures (not allowed for sensitive types).",
    )
    public_measures_en: list[str] | None = None

    @model_validator(mode="after")
    def _check(self) -> RiskTypeWording:
        if len(self.measures_zh) != len(self.measures_en):
            raise ValueError(
                f"measures_zh has {len(self.measures_zh)} entries but measures_en has {len(self.measures_en)}; "
                "give each measure in both languages"
            )
        if (self.public_measures_zh is None) != (self.public_measures_en is None):
            raise ValueError("give both public_measures_zh and public_measures_en, or neither")
        if self.public_measures_zh is not None and self.public_measures_en is not None:
            if len(self.public_measures_zh) != len(self.public_measures_en):
                raise ValueError(
                    "public_measures_zh and public_measures_en must have the same length"
                )
        elif self.sensitive:
            raise ValueError(
                "a sensitive risk type needs its own public_measures_zh/public_measures_en "
                "(its internal measures would reveal it)"
            )
        return self

    def public_measures(self, lang: str) -> list[str]:
        """Measures shown in public mode, in ``lang`` (``zh`` or ``en``)."""
        if lang == "zh":
            return list(
                self.public_measures_zh if self.public_measures_zh is not None else self.measures_zh
            )
        return list(
            self.public_measures_en if self.public_measures_en is not None else self.measures_en
        )


class ExplainConfig(StrictModel):
    """``configs/explain.yaml``."""

    max_reasons: int = Field(4, ge=1, le=10, description="At most this many reasons per household.")
    min_contribution: float = Field(
        0.1,
        ge=0,
        description="Floor (log-odds) a risk type's summed SHAP contribution must reach to be a reason.",
    )
    fallback_risk_type: str = Field("other", description="Risk type of features that name none.")
    measures_separator_zh: str = "、"
    measures_separator_en: str = "; "
    risk_types: dict[str, RiskTypeWording]

    @field_validator("risk_types")
    @classmethod
    def _not_empty(cls, v: dict[str, RiskTypeWording]) -> dict[str, RiskTypeWording]:
        if not v:
            raise ValueError("configure at least one risk type")
        return v

    @model_validator(mode="after")
    def _fallback_known(self) -> ExplainConfig:
        if self.fallback_risk_type not in self.risk_types:
            raise ValueError(
                f"fallback_risk_type '{self.fallback_risk_type}' is not among risk_types {sorted(self.risk_types)}"
            )
        return self


@lru_cache(maxsize=8)
def _load(path: str) -> ExplainConfig:
    return load_config(path, ExplainConfig)


def load_explain_config(path: str | Path | None = None) -> ExplainConfig:
    """Load ``configs/explain.yaml`` (or ``path``)."""
    return _load(str(path or config_dir() / "explain.yaml"))
