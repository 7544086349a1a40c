"""Shared machinery for riskml's typed configuration files.

Every YAML file under ``configs/`` is described by a pydantic model with ``extra="forbid"`` so
that a misspelt key is an error, not a silently ignored setting. YAML is always loaded with
``yaml.safe_load``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

__all__ = [
    "ConfigError",
    "StrictModel",
    "catalog_dir",
    "config_dir",
    "load_config",
    "read_yaml",
    "validation_error_lines",
]

_REPO_ROOT = Path(__file__).resolve().parents[2]

M = TypeVar("M", bound=BaseModel)


class ConfigError(ValueError):
    """A configuration file is missing, unreadable or does not match its schema."""


class StrictModel(BaseModel):
    """Base for every config model: unknown keys are errors, values are validated."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def config_dir() -> Path:
    """The folder holding riskml's base configuration (``configs/``).

    ``RISKML_CONFIG_DIR`` overrides it (e.g. a province's own configuration folder).
    """
    override = os.environ.get("RISKML_CONFIG_DIR")
    return Path(override) if override else _REPO_ROOT / "configs"


def catalog_dir() -> Path:
    """The folder holding the declarative feature catalog (``features/``).

    ``RISKML_CATALOG_DIR`` overrides it.
    """
    override = os.environ.get("RISKML_CATALOG_DIR")
    return Path(override) if override else _REPO_ROOT / "features"


def read_yaml(path: str | Path) -> Any:
    """Read a YAML file safely (no arbitrary Python objects), with a clear error."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(
            f"Config file {path} does not exist. Give the path of an existing YAML file."
        )
    try:
        with path.open(encoding="utf-8") as fh:
            return yaml.safe_load(fh)
    except yaml.YAMLError as exc:
        raise ConfigError(f"Config file {path} is not valid YAML: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"Config file {path} is not UTF-8 text: {exc}. Save it as UTF-8."
        ) from exc


def validation_error_lines(head: str, exc: ValidationError, where: str = "") -> str:
    """``head``, then one line per error: the key (after ``where``) and what is wrong with it."""
    lines = [head]
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
        if err["type"] == "extra_forbidden":
            lines.append(f"  - {where}unknown key '{loc}': remove it or check its spelling")
        else:
            lines.append(f"  - {where}{loc}: {err['msg']} (got {err.get('input')!r})")
    return "\n".join(lines)


def _format_validation_error(path: Path, exc: ValidationError) -> str:
    return validation_error_lines(f"Config file {path} does not match its schema:", exc)


def load_config(path: str | Path, model: type[M]) -> M:
    """Load ``path`` and validate it against ``model``; errors name the file and key."""
    path = Path(path)
    data = read_yaml(path)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"Config file {path} must hold a mapping at the top level, got {type(data).__name__}."
        )
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_validation_error(path, exc)) from exc
