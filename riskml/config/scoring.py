"""Roster scoring policy: ``configs/scoring.yaml`` (tiers, reasons, change, drift, output)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from riskml.config._base import StrictModel, config_dir, load_config

__all__ = [
    "TIER_ORDER",
    "ChangeConfig",
    "DriftConfig",
    "OutputConfig",
    "RejectConfig",
    "ReviewConfig",
    "ScoringConfig",
    "ScoringExplainConfig",
    "SparkConfig",
    "TierCapacity",
    "TierConfig",
    "TierCutoffs",
    "load_scoring_config",
]

Tier = Literal["high", "medium", "low"]
TIER_ORDER: tuple[str, ...] = ("low", "medium", "high")
"""Tiers from lowest to highest risk."""


class TierCutoffs(StrictModel):
    """Probability cut-offs: ``high`` if score >= ``high``, ``medium`` if score >= ``medium``."""

    high: float = Field(gt=0, le=1)
    medium: float = Field(gt=0, le=1)

    @model_validator(mode="after")
    def _ordered(self) -> TierCutoffs:
        if self.medium > self.high:
            raise ValueError(
                f"cutoffs.medium ({self.medium}) must not exceed cutoffs.high ({self.high})"
            )
        return self


class TierCapacity(StrictModel):
    """Tiers by the cadres' visiting capacity.

    The capacity itself is *one* setting, ``capacity`` in ``configs/training.yaml`` (a share of
    households, or a number per village): the backtest measures recall at exactly that
    capacity, the model records it, and scoring flags exactly that many households as ``high``.
    Here only what follows from it: ``medium`` = the households ranked after them, up to
    ``medium_multiple`` times the capacity, and a floor below which nobody is flagged.
    """

    medium_multiple: float = Field(
        2.0, ge=1.0, le=10.0, description="medium = ranked within this multiple of the capacity"
    )
    min_score: float = Field(0.0, ge=0, le=1)

    @model_validator(mode="before")
    @classmethod
    def _old_keys(cls, data: object) -> object:
        if isinstance(data, dict):
            old = [k for k in ("high_per_village", "medium_per_village") if k in data]
            if old:
                raise ValueError(
                    f"tiers.capacity.{old[0]} is no longer a setting: the flagged (high) tier is "
                    "the cadres' capacity set once in configs/training.yaml (capacity.share or "
                    "capacity.per_village), the same capacity the backtest measures recall at. "
                    "Remove it here; use tiers.capacity.medium_multiple for the medium tier."
                )
        return data


class TierConfig(StrictModel):
    """How scored households are tiered and which tiers are flagged.

    ``method: capacity`` (default): ``high`` = the top of the roster within the cadres'
    capacity (``configs/training.yaml`` ``capacity``, as recorded with the model), the only
    flagged tier, so the flagged list is exactly what the backtest evaluated. ``method:
    cutoffs``: tiers by calibrated probability; then the number flagged follows the scores, not
    the capacity, and every scoring run prints both.
    """

    method: Literal["cutoffs", "capacity"] = "capacity"
    cutoffs: TierCutoffs = TierCutoffs(high=0.2, medium=0.08)
    capacity: TierCapacity = TierCapacity()
    flagged: tuple[Tier, ...] = ("high",)

    @field_validator("flagged")
    @classmethod
    def _nonempty(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if not v:
            raise ValueError("list at least one flagged tier (e.g. [high])")
        if "low" in v:
            raise ValueError("'low' cannot be a flagged tier: every household would be flagged")
        return tuple(dict.fromkeys(v))

    @model_validator(mode="after")
    def _capacity_flags_high_only(self) -> TierConfig:
        if self.method == "capacity" and tuple(self.flagged) != ("high",):
            raise ValueError(
                f"tiers.flagged is {list(self.flagged)} but with method: capacity the flagged "
                "tier is exactly the cadres' capacity (configs/training.yaml capacity): flag "
                "[high] only, or use method: cutoffs"
            )
        return self


class ScoringExplainConfig(StrictModel):
    """Which households get reasons, and how many (``explain:``). The wording of reasons is
    :class:`riskml.config.explain.ExplainConfig` (``configs/explain.yaml``)."""

    which: Literal["flagged", "all"] = "flagged"
    max_reasons: int = Field(4, ge=1, le=4)
    method: Literal["tree_shap", "pred_contrib"] = Field(
        "tree_shap",
        description="How SHAP values are computed: tree_shap (riskml's exact decision-pattern "
        "kernel, the default) or pred_contrib (LightGBM's own, same values, far slower: the "
        "fallback).",
    )


class ChangeConfig(StrictModel):
    big_move: float = Field(0.05, gt=0, le=1)
    tier_change_is_move: bool = True


class DriftConfig(StrictModel):
    psi_warn: float = Field(0.25, gt=0)
    rate_ratio_warn: float = Field(
        1.5,
        gt=1,
        description="a rare event (non-zero for at most 20 % of households) warns when its rate "
        "is this many times the reference's, or 1/this of it",
    )
    sample_households: int = Field(200_000, ge=1000)


class RejectConfig(StrictModel):
    missing_feature_share: float = Field(1.0, gt=0, le=1)
    unseen_categories: Literal["missing", "reject"] = "missing"


class OutputConfig(StrictModel):
    public_id_visible_chars: int = Field(4, ge=0, le=8)


class SparkConfig(StrictModel):
    households_per_partition: int = Field(50_000, ge=1)
    min_partitions: int = Field(2, ge=1)
    driver_memory: str | None = Field(
        "4g",
        description="spark.driver.memory when riskml starts the session (the bundle passes through the driver)",
    )
    staging_dir: str | None = Field(
        None,
        description=(
            "Folder for the partitions shipped to the executors (Parquet, removed after the run). "
            "Default: the system's temporary folder, right for local masters; on a cluster give "
            "a folder every executor can read (a shared mount)."
        ),
    )


DEFAULT_ADVERSE_EVENT_TYPES: tuple[str, ...] = (
    "hospitalization",
    "serious_illness",
    "chronic_illness",
    "disability",
    "death",
    "medical_bill",
    "school_dropout",
    "job_loss",
    "migrant_work_end",
    "natural_disaster",
    "livestock_loss",
    "crop_failure",
    "accident",
    "housing_damage",
    "business_failure",
    "dibao_ended",
)


class ReviewConfig(StrictModel):
    """How review outcomes (the bundle's ``reviews`` table) act on the list."""

    review_quiet_months: int = Field(
        6,
        ge=0,
        le=36,
        description="a household reviewed as not at risk is not flagged again for this many "
        "months, unless an adverse record arrived since its review or its tier rose (0 = off)",
    )
    adverse_event_types: tuple[str, ...] = Field(
        DEFAULT_ADVERSE_EVENT_TYPES,
        description="event types (contract vocabulary) that end the quiet period when recorded "
        "after the review",
    )
    income_below_line_is_adverse: bool = Field(
        True,
        description="an income row recorded after the review whose per-capita net income is "
        "below that year's monitoring line also ends the quiet period",
    )

    @field_validator("adverse_event_types")
    @classmethod
    def _unique(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(v))


class ScoringConfig(StrictModel):
    """``configs/scoring.yaml``: how a roster is scored, tiered, explained and compared."""

    model_uri: str = "models:/riskml-recurrence@champion"
    chunk_households: int = Field(100_000, ge=1)
    workers: int = Field(
        2,
        ge=1,
        description="Processes the local engine scores in (capped by the cores); 1 scores in "
        "the calling process. A chunk of chunk_households is split among the workers, so about "
        "as many households are in memory at once. The output does not depend on it.",
    )
    tiers: TierConfig
    explain: ScoringExplainConfig = ScoringExplainConfig()
    change: ChangeConfig = ChangeConfig()
    drift: DriftConfig = DriftConfig()
    reject: RejectConfig = RejectConfig()
    output: OutputConfig = OutputConfig()
    spark: SparkConfig = SparkConfig()
    reviews: ReviewConfig = ReviewConfig()


@lru_cache(maxsize=8)
def _load(path: str) -> ScoringConfig:
    return load_config(path, ScoringConfig)


def load_scoring_config(path: str | Path | None = None) -> ScoringConfig:
    """Load ``configs/scoring.yaml`` (or ``path``); errors name the file and the key."""
    return _load(str(path or config_dir() / "scoring.yaml"))
