"""Bad synth configs: keys that must be the data contract's codes are refused by the generator.

``riskml.config.synth`` checks structure only (config may not import data); ``riskml.synth``
holds every key that names a contract code to the contract before generating anything.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from riskml.config import ConfigError, config_dir
from riskml.config.synth import load_synth_config
from riskml.synth import synthesize


def _write_config(tmp_path: Path, change: Callable[[dict[str, Any]], None]) -> Path:
    data = yaml.safe_load((config_dir() / "synth.yaml").read_text(encoding="utf-8"))
    change(data)
    path = tmp_path / "synth.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def _refused(path: Path, key: str, *names: str) -> None:
    config = load_synth_config(path)  # the structure is fine: config accepts it
    with pytest.raises(ConfigError) as err:
        next(synthesize(50, seed=1, config=config))
    message = str(err.value)
    assert str(path) in message and key in message
    for name in names:
        assert name in message


def test_unknown_risk_type(tmp_path: Path) -> None:
    """cadres.detection_monthly with a risk type the contract lacks → ConfigError naming file, key and type."""

    def change(d: dict[str, Any]) -> None:
        d["cadres"]["detection_monthly"]["flood_damage"] = d["cadres"]["detection_monthly"].pop(
            "disaster"
        )

    _refused(
        _write_config(tmp_path, change), "cadres.detection_monthly", "flood_damage", "disaster"
    )


def test_missing_risk_type_in_recovery(tmp_path: Path) -> None:
    """hardship.recovery_monthly without one of the contract's risk types → ConfigError naming it."""

    def change(d: dict[str, Any]) -> None:
        del d["hardship"]["recovery_monthly"]["education"]

    _refused(_write_config(tmp_path, change), "hardship.recovery_monthly", "education")


def test_unknown_false_identification_cause(tmp_path: Path) -> None:
    """cadres.false_identification_cause naming an unknown risk type → ConfigError naming it."""

    def change(d: dict[str, Any]) -> None:
        d["cadres"]["false_identification_cause"]["bad_luck"] = 0.1

    _refused(_write_config(tmp_path, change), "cadres.false_identification_cause", "bad_luck")


def test_unknown_measure(tmp_path: Path) -> None:
    """assistance.after_identification.illness with an unknown measure → ConfigError naming it."""

    def change(d: dict[str, Any]) -> None:
        d["assistance"]["after_identification"]["illness"]["charity"] = 0.2

    _refused(_write_config(tmp_path, change), "assistance.after_identification.illness", "charity")


def test_unknown_education_level(tmp_path: Path) -> None:
    """work.education_wage_factor with a level the contract lacks → ConfigError naming it."""

    def change(d: dict[str, Any]) -> None:
        d["work"]["education_wage_factor"]["phd"] = 2.0

    _refused(_write_config(tmp_path, change), "work.education_wage_factor", "phd")


def test_unknown_local_disaster_kind(tmp_path: Path) -> None:
    """shocks.local_kinds naming a disaster kind the contract lacks → ConfigError naming it."""

    def change(d: dict[str, Any]) -> None:
        d["shocks"]["local_kinds"]["tornado"] = d["shocks"]["local_kinds"].pop("hail")

    _refused(_write_config(tmp_path, change), "shocks.local_kinds", "tornado", "hail")


def test_event_type_without_recording_delay(tmp_path: Path) -> None:
    """recording_delay_days without one of the contract's event types → ConfigError naming it."""

    def change(d: dict[str, Any]) -> None:
        del d["recording_delay_days"]["birth"]

    _refused(_write_config(tmp_path, change), "recording_delay_days", "birth")


def test_structure_is_still_checked_by_config(tmp_path: Path) -> None:
    """A probability above 1 in the synth config → ConfigError from the loader, naming the key."""

    def change(d: dict[str, Any]) -> None:
        d["assistance"]["after_identification"]["illness"]["health"] = 1.5

    path = _write_config(tmp_path, change)
    with pytest.raises(ConfigError, match="after_identification") as err:
        load_synth_config(path)
    assert str(path) in str(err.value)
