"""Training, backtest and audit settings (``configs/training.yaml``).

One file says how a recurrence-risk model is trained and judged: the LightGBM parameters of
:class:`riskml.models.RecurrenceRiskModel`, the calibration method, which feature set and label
the training set uses, the as-of dates it is built on, the rolling-origin backtest, the cadres'
visiting capacity, the fairness audit and the attributes that may never be features.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from riskml.config._base import StrictModel, config_dir, load_config

__all__ = [
    "DEFAULT_HORIZON_MONTHS",
    "DEFAULT_PROTECTED_ATTRIBUTES",
    "BacktestSettings",
    "CapacitySettings",
    "FairnessSettings",
    "ModelParams",
    "TrainingConfig",
    "TrainingSetSettings",
    "load_training_config",
]

DEFAULT_PROTECTED_ATTRIBUTES: tuple[str, ...] = (
    "audit_*",
    "*ethnicity*",
    "head_sex",
    "sex",
    "female_headed",
)
"""Column-name patterns (``fnmatch``) that may never be model features: ethnicity and sex of the
household head, and every audit column. Disability and the head's age stay legitimate risk
factors (因残, 缺劳动力); they are audited, not banned."""


DEFAULT_HORIZON_MONTHS = 12
"""The label horizon when ``configs/training.yaml`` does not set one (and the estimator's
default ``purge_months``)."""


class ModelParams(StrictModel):
    """Parameters of :class:`riskml.models.RecurrenceRiskModel` (same names).

    These defaults are the estimator's defaults too (``RecurrenceRiskModel()`` reads them from
    here), and ``configs/training.yaml`` repeats them (a test keeps the three equal), so the
    Python API, the CLI and the config cannot drift apart.
    """

    n_estimators: int = Field(
        600, ge=1, description="maximum boosting rounds (early stopping picks the number of trees)"
    )
    learning_rate: float = Field(0.05, gt=0, le=1)
    num_leaves: int = Field(15, ge=2)
    max_depth: int = Field(-1, description="-1 = no limit")
    min_child_samples: int = Field(500, ge=1)
    subsample: float = Field(0.8, gt=0, le=1)
    subsample_freq: int = Field(1, ge=0)
    colsample_bytree: float = Field(0.5, gt=0, le=1)
    reg_alpha: float = Field(0.0, ge=0)
    reg_lambda: float = Field(10.0, ge=0)
    min_split_gain: float = Field(0.0, ge=0)
    max_bin: int = Field(255, ge=2)
    max_cat_to_onehot: int = Field(4, ge=1)
    cat_smooth: float = Field(10.0, ge=0)
    class_weight: Literal["balanced"] | dict[int, float] | None = Field(
        None, description="None, 'balanced' or {0: w0, 1: w1}; calibration undoes the bias it adds"
    )
    calibration: Literal["auto", "sigmoid", "beta", "isotonic"] | None = Field(
        "auto",
        description="auto = the strictly monotone calibrator with the lowest out-of-time "
        "log-loss (sigmoid, beta or interpolated isotonic); None = logistic of the raw score",
    )
    calibration_level: Literal["final_latest", "latest_block", "pooled"] = Field(
        "final_latest",
        description="where the calibrator's level (log-odds intercept) comes from; its shape "
        "always comes from every cross-fitting block. final_latest = the final booster's "
        "scores on the latest block's rows match their observed rate; latest_block = the "
        "latest block's out-of-fold scores do; pooled = one level over every block",
    )
    early_stopping_rounds: int | None = Field(50, ge=1)
    early_stopping_metric: Literal["binary_logloss", "auc", "average_precision"] = "binary_logloss"
    cv_folds: int = Field(
        3,
        ge=1,
        le=20,
        description="temporal cross-fitting folds inside fit: their early stopping gives the "
        "number of trees and their out-of-fold raw scores fit the calibrator",
    )
    cv_fraction: float = Field(
        0.5, gt=0, lt=1, description="share of the rows (latest as-of dates) the folds test on"
    )
    purge_months: int | None = Field(
        None,
        ge=0,
        description="cross-fitting folds train only on rows whose as_of + purge_months is on or "
        "before the fold's first test date; None = the label horizon (no shared label window)",
    )
    n_jobs: int | None = Field(None, description="LightGBM threads; None = LightGBM's default")


class TrainingSetSettings(StrictModel):
    """Which as-of dates the training set is built on (passed to ``build_training_set``)."""

    as_of_start: dt.date
    as_of_end: dt.date | None = Field(
        None, description="None = the latest as-of date whose label window is closed"
    )
    step_months: int = Field(3, ge=1, le=24)

    @model_validator(mode="after")
    def _ordered(self) -> TrainingSetSettings:
        if self.as_of_end is not None and self.as_of_end < self.as_of_start:
            raise ValueError(f"as_of_end {self.as_of_end} is before as_of_start {self.as_of_start}")
        return self


class BacktestSettings(StrictModel):
    """Rolling-origin backtest over as-of dates.

    Fold ``i`` tests on the as-of dates in a window of ``test_period_months``; the last window
    ends at the latest labelled as-of date and earlier windows step back one period each. The
    model of a fold sees only rows whose ``as_of + gap_months`` is on or before the fold's first
    test date, so every training label was known when the model would have been trained.
    """

    n_folds: int = Field(3, ge=1, le=50)
    test_period_months: int = Field(12, ge=1, le=60)
    gap_months: int | None = Field(
        None, description="None = the label horizon; a larger gap models reporting delays"
    )
    train_window_months: int | None = Field(
        None, ge=1, description="None = expanding window (all earlier rows)"
    )


class CapacitySettings(StrictModel):
    """How many households cadres can visit per round: a share, or a number per village."""

    share: float | None = Field(None, gt=0, le=1, description="share of households per as-of date")
    per_village: int | None = Field(None, ge=1, description="households per village per as-of date")

    @model_validator(mode="after")
    def _exactly_one(self) -> CapacitySettings:
        if (self.share is None) == (self.per_village is None):
            raise ValueError("set exactly one of capacity.share or capacity.per_village")
        return self

    def describe(self) -> str:
        if self.share is not None:
            return f"{self.share:.1%} of households per as-of date"
        return f"{self.per_village} households per village per as-of date"


class FairnessSettings(StrictModel):
    """Subgroup audit: which groups are compared and how small a group may be to be ranked."""

    min_group_size: int = Field(
        200, ge=1, description="levels with fewer rows are reported, not ranked"
    )
    min_positives: int = Field(
        30,
        ge=1,
        description="levels with fewer positives (negatives) get no recall (FPR) gap: with 30 "
        "positives a recall still has a standard error near 0.09",
    )


class TrainingConfig(StrictModel):
    """``configs/training.yaml``: everything needed to train, backtest and audit a model."""

    feature_set: str = "default"
    label: Literal["default", "income"] = "default"
    horizon_months: int = Field(DEFAULT_HORIZON_MONTHS, ge=1, le=60)
    training_set: TrainingSetSettings
    model: ModelParams = ModelParams()
    backtest: BacktestSettings = BacktestSettings()
    capacity: CapacitySettings
    fairness: FairnessSettings = FairnessSettings()
    protected_attributes: tuple[str, ...] = DEFAULT_PROTECTED_ATTRIBUTES
    rules_config: str | None = Field(
        None, description="path of the department-rules YAML; None = configs/rules.yaml"
    )
    seed: int = 42

    @field_validator("protected_attributes")
    @classmethod
    def _protect_audit_columns(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if "audit_*" not in v:
            raise ValueError(
                "protected_attributes must keep 'audit_*' (audit columns are never features)"
            )
        return v

    @model_validator(mode="after")
    def _gap_covers_horizon(self) -> TrainingConfig:
        gap = self.backtest.gap_months
        if gap is not None and gap < self.horizon_months:
            raise ValueError(
                f"backtest.gap_months={gap} is shorter than horizon_months={self.horizon_months}: "
                "training labels would overlap the test period; use a gap >= the horizon or null"
            )
        return self

    @property
    def label_column(self) -> str:
        """The training-set column holding the configured label."""
        return "label" if self.label == "default" else "label_income"

    def as_of_dates(self, extracted_on: dt.date) -> list[dt.date]:
        """The training set's as-of dates for a bundle extracted on ``extracted_on``.

        From ``training_set.as_of_start`` every ``step_months`` up to ``as_of_end``, or, when that
        is null, up to the latest date whose label window (``horizon_months``) has closed by the
        extraction date. Raises ``ValueError`` when no date qualifies.
        """
        import pandas as pd

        settings = self.training_set
        start = pd.Timestamp(settings.as_of_start)
        extracted = pd.Timestamp(extracted_on)
        if settings.as_of_end is not None:
            last = min(pd.Timestamp(settings.as_of_end), extracted)
        else:
            last = extracted - pd.DateOffset(months=self.horizon_months)
        dates = []
        k = 0
        while (d := start + pd.DateOffset(months=k * settings.step_months)) <= last:
            dates.append(d.date())
            k += 1
        if not dates:
            raise ValueError(
                f"No as-of date between training_set.as_of_start {settings.as_of_start} and {last.date()} "
                f"(extraction {extracted.date()}, horizon {self.horizon_months} months): every label "
                "window is still open. Use an earlier as_of_start or a later extraction."
            )
        return dates

    def fallbacks(self) -> dict[str, str]:
        """Every setting left null (or ``auto``) in this config and the value it falls back to.

        ``riskml train`` prints these and logs them as MLflow params (``fallback.<key>``), so
        no default is applied silently.
        """
        out: dict[str, str] = {}
        if self.model.purge_months is None:
            out["model.purge_months"] = f"{self.horizon_months} (null = horizon_months)"
        if self.backtest.gap_months is None:
            out["backtest.gap_months"] = f"{self.horizon_months} (null = horizon_months)"
        if self.training_set.as_of_end is None:
            out["training_set.as_of_end"] = (
                "the latest as-of date whose label window has closed by the extraction date"
            )
        if self.backtest.train_window_months is None:
            out["backtest.train_window_months"] = "expanding window (every earlier row)"
        if self.rules_config is None:
            out["rules_config"] = str(config_dir() / "rules.yaml")
        if self.model.n_jobs is None:
            out["model.n_jobs"] = "LightGBM's default (all cores)"
        if self.model.calibration == "auto":
            out["model.calibration"] = (
                "auto: the candidate with the lowest out-of-time log-loss, chosen at fit"
            )
        if self.model.early_stopping_rounds is None:
            out["model.early_stopping_rounds"] = f"none: {self.model.n_estimators} trees"
        return out

    @property
    def gap_months(self) -> int:
        """The backtest gap between a training row's as-of date and the test start."""
        return (
            self.backtest.gap_months
            if self.backtest.gap_months is not None
            else self.horizon_months
        )


@lru_cache(maxsize=8)
def _load(path: str) -> TrainingConfig:
    return load_config(path, TrainingConfig)


def load_training_config(path: str | Path | None = None) -> TrainingConfig:
    """Load ``configs/training.yaml`` (or ``path``); a bad key or value raises ``ConfigError``."""
    return _load(str(path or config_dir() / "training.yaml"))
