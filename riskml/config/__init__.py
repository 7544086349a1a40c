"""Typed configuration: one pydantic model (``extra="forbid"``) per YAML file in ``configs/``.

Stage-specific models live in their own modules (``riskml.config.thresholds``, ...).
"""

from riskml.config._base import (
    ConfigError,
    StrictModel,
    catalog_dir,
    config_dir,
    load_config,
    read_yaml,
)

__all__ = ["ConfigError", "StrictModel", "catalog_dir", "config_dir", "load_config", "read_yaml"]
