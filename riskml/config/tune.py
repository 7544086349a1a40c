"""The hyper-parameter search space of ``riskml tune`` (``configs/tune.yaml``).

Each entry names a parameter of :class:`riskml.config.training.ModelParams` (the ``model:``
section of ``configs/training.yaml``) and the range a trial draws it from. Whole-number
parameters (``num_leaves``, ``min_child_samples``) are drawn as integers. Both ends of every
range must be values ``ModelParams`` accepts, so a tuned config always validates.
"""

from __future__ import annotations

import typing
from functools import lru_cache
from pathlib import Path

from pydantic import Field, ValidationError, model_validator

from riskml.config._base import StrictModel, config_dir, load_config
from riskml.config.training import ModelParams

__all__ = ["ParamRange", "TuneConfig", "load_tune_config"]


class ParamRange(StrictModel):
    """The range one parameter is drawn from: ``[low, high]``, on a log scale when ``log``."""

    low: float
    high: float
    log: bool = Field(False, description="draw uniformly on a log scale (needs low > 0)")

    @model_validator(mode="after")
    def _ordered(self) -> ParamRange:
        if not self.low < self.high:
            raise ValueError(f"low ({self.low:g}) must be below high ({self.high:g})")
        if self.log and self.low <= 0:
            raise ValueError(f"a log range needs low > 0 (got {self.low:g})")
        return self


def _param_kind(name: str) -> type:
    """``int`` or ``float``: the type of a tunable ``ModelParams`` field (else ValueError)."""
    field = ModelParams.model_fields.get(name)
    if field is None:
        raise ValueError(
            f"'{name}' is not a model parameter; use one of {sorted(ModelParams.model_fields)}"
        )
    if field.annotation not in (int, float):
        raise ValueError(
            f"'{name}' is a {typing.get_origin(field.annotation) or field.annotation} parameter; "
            "only plain numbers (int or float) can be searched"
        )
    return typing.cast(type, field.annotation)


class TuneConfig(StrictModel):
    """``configs/tune.yaml``: which model parameters ``riskml tune`` searches, and where."""

    search_space: dict[str, ParamRange] = Field(
        description="model parameter -> range; parameters not listed keep the training config's value"
    )
    startup_trials: int = Field(
        10,
        ge=1,
        le=1000,
        description="trials drawn at random (seeded) before the TPE sampler models the results",
    )

    @model_validator(mode="after")
    def _valid_parameters(self) -> TuneConfig:
        if not self.search_space:
            raise ValueError("search_space needs at least one parameter")
        for name, rng in self.search_space.items():
            kind = _param_kind(name)
            if kind is int and not (rng.low.is_integer() and rng.high.is_integer()):
                raise ValueError(
                    f"search_space.{name}: a whole-number parameter needs whole bounds"
                )
            for end in (rng.low, rng.high):
                try:
                    ModelParams.model_validate({name: kind(end)})
                except ValidationError as exc:
                    msg = exc.errors()[0]["msg"]
                    raise ValueError(
                        f"search_space.{name}: {end:g} is not allowed ({msg})"
                    ) from exc
        return self

    def kinds(self) -> dict[str, type]:
        """``int`` or ``float`` for each searched parameter."""
        return {name: _param_kind(name) for name in self.search_space}


@lru_cache(maxsize=8)
def _load(path: str) -> TuneConfig:
    return load_config(path, TuneConfig)


def load_tune_config(path: str | Path | None = None) -> TuneConfig:
    """Load ``configs/tune.yaml`` (or ``path``); a bad key or range raises ``ConfigError``."""
    return _load(str(path or config_dir() / "tune.yaml"))
