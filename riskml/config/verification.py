"""Home-visit checklists (``configs/verification.yaml``): the questions of the 入户核实表.

Each flagged household's verification sheet asks the ``general`` questions and, for each
official risk type among its reasons (in reason order), that type's questions. Keys of
``by_risk_type`` are the risk-type codes of ``configs/explain.yaml``; an unknown code is an
error (a typo would silently drop a checklist).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, model_validator

from riskml.config._base import StrictModel, config_dir, load_config

__all__ = ["Question", "VerificationConfig", "load_verification_config"]


class Question(StrictModel):
    """One checklist line, in both report languages."""

    zh: str = Field(..., min_length=1)
    en: str = Field(..., min_length=1)

    def label(self, lang: str) -> str:
        return self.zh if lang == "zh" else self.en


class VerificationConfig(StrictModel):
    """``configs/verification.yaml``."""

    general: tuple[Question, ...] = Field(
        (), description="Asked on every household's sheet, after the risk-type questions."
    )
    by_risk_type: dict[str, tuple[Question, ...]] = Field(
        ..., description="Risk-type code (configs/explain.yaml) -> its questions."
    )
    fallback_risk_type: str = Field(
        "other",
        description="Whose questions a household gets when its reasons carry no risk type.",
    )

    @model_validator(mode="after")
    def _known_types(self) -> VerificationConfig:
        from riskml.config.explain import load_explain_config

        known = set(load_explain_config().risk_types)
        unknown = sorted(set(self.by_risk_type) - known)
        if unknown:
            raise ValueError(
                f"by_risk_type has unknown risk type(s) {unknown}; use the codes of "
                f"configs/explain.yaml risk_types: {sorted(known)}"
            )
        if self.fallback_risk_type not in self.by_risk_type:
            raise ValueError(
                f"fallback_risk_type {self.fallback_risk_type!r} has no questions in by_risk_type"
            )
        return self

    def questions(self, risk_types: list[str], lang: str) -> list[str]:
        """The checklist for a household whose reasons have ``risk_types`` (in order)."""
        types = [t for t in risk_types if t in self.by_risk_type] or [self.fallback_risk_type]
        out: list[str] = []
        for t in dict.fromkeys(types):
            out.extend(q.label(lang) for q in self.by_risk_type[t])
        out.extend(q.label(lang) for q in self.general)
        return list(dict.fromkeys(out))


@lru_cache(maxsize=8)
def _load(path: str) -> VerificationConfig:
    return load_config(path, VerificationConfig)


def load_verification_config(path: str | Path | None = None) -> VerificationConfig:
    """Load ``configs/verification.yaml`` (or ``path``)."""
    return _load(str(path or config_dir() / "verification.yaml"))
