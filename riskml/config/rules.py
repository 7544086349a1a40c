"""Department alert rules and the persistence baseline (``configs/rules.yaml``).

A rule is *feature, operator, value* over the catalog's ``department_rules`` feature set
(e.g. ``oop_medical_last_year > 20000``). A household is flagged when any rule fires; its
documented baseline score is the sum of the weights of the rules that fire (by default the
number of rules), so the rules can be ranked and compared with a model at the same number of
flags. A missing feature value never fires a rule.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from riskml.config._base import StrictModel, config_dir, load_config

__all__ = ["Rule", "RulesConfig", "load_rules_config"]

Operator = Literal[">", ">=", "<", "<=", "==", "!="]


class Rule(StrictModel):
    """One alert rule: fires when ``feature op value`` holds (missing values never fire)."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    feature: str
    op: Operator
    value: float
    weight: float = Field(1.0, gt=0)
    label_zh: str = ""
    label_en: str = ""


def _unique_names(rules: list[Rule], what: str) -> list[Rule]:
    if not rules:
        raise ValueError(f"{what} needs at least one rule")
    names = [r.name for r in rules]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"{what} rule names must be unique; repeated: {dupes}")
    return rules


class RulesConfig(StrictModel):
    """``configs/rules.yaml``: the department alert rules and the persistence baseline."""

    rules: list[Rule]
    persistence: list[Rule]

    @field_validator("rules")
    @classmethod
    def _check_rules(cls, v: list[Rule]) -> list[Rule]:
        return _unique_names(v, "rules")

    @field_validator("persistence")
    @classmethod
    def _check_persistence(cls, v: list[Rule]) -> list[Rule]:
        return _unique_names(v, "persistence")


@lru_cache(maxsize=8)
def _load(path: str) -> RulesConfig:
    return load_config(path, RulesConfig)


def load_rules_config(path: str | Path | None = None) -> RulesConfig:
    """Load ``configs/rules.yaml`` (or ``path``); a bad key or value raises ``ConfigError``."""
    return _load(str(path or config_dir() / "rules.yaml"))
