"""Labels and training sets: ``configs/labels.yaml``.

The default label follows the data contract: a household not under monitoring on the as-of
date D is positive when it is identified as a monitoring object in (D, D + horizon]. The
income-based alternative marks a household whose per-capita net income of a target year falls
below that year's monitoring threshold (times ``threshold_multiple``).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator

from riskml.config._base import StrictModel, config_dir, load_config

__all__ = [
    "AuditConfig",
    "IncomeLabelConfig",
    "LabelConfig",
    "TrainingSetConfig",
    "load_training_config",
]


class IncomeLabelConfig(StrictModel):
    """The income-based alternative label (``label_income``)."""

    enabled: bool = True
    target_year_offset: int = Field(
        0,
        ge=0,
        le=5,
        description="Target income year = year(as_of) + offset. 0: the as-of date's own year, whose "
        "income is verified and recorded only after the year ends.",
    )
    threshold_multiple: float = Field(
        1.0, gt=0, description="Positive when income < multiple x threshold."
    )


class LabelConfig(StrictModel):
    """How labels are defined."""

    horizon_months: int = Field(
        12, gt=0, description="Default horizon (the CLI's --horizon default)."
    )
    categories: list[str] | None = Field(
        None, description="Monitoring categories that count as positive; empty/None = any category."
    )
    income: IncomeLabelConfig = IncomeLabelConfig()

    @field_validator("categories")
    @classmethod
    def _no_empty_list(cls, v: list[str] | None) -> list[str] | None:
        # The names are checked against the data contract's vocabulary where the label is built
        # (riskml.features): config sits below data in the layering and knows no contract.
        return v or None


class AuditConfig(StrictModel):
    """Audit columns kept beside (never inside) the features."""

    elderly_head_age: int = Field(
        60, gt=0, description="audit_elderly_headed: head aged at least this on D."
    )


class TrainingSetConfig(StrictModel):
    """``configs/labels.yaml``."""

    label: LabelConfig = LabelConfig()
    audit: AuditConfig = AuditConfig()
    feature_set: str = "default"
    chunk_households: int = Field(
        25_000, gt=0, description="Households processed at once (bounds memory)."
    )


@lru_cache(maxsize=8)
def _load(path: str) -> TrainingSetConfig:
    return load_config(path, TrainingSetConfig)


def load_training_config(path: str | Path | None = None) -> TrainingSetConfig:
    """Load ``configs/labels.yaml`` (or ``path``)."""
    return _load(str(path or config_dir() / "labels.yaml"))
