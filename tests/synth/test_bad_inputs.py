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


def _rename(section: str, key: str, old: str, new: str) -> Callable[[dict[str, Any]], None]:
    def change(d: dict[str, Any]) -> None:
        d[section][key][new] = d[section][key].pop(old)

    return change


def _drop(*path: str) -> Callable[[dict[str, Any]], None]:
    def change(d: dict[str, Any]) -> None:
        for part in path[:-1]:
            d = d[part]
        del d[path[-1]]

    return change


def _add(value: float, *path: str) -> Callable[[dict[str, Any]], None]:
    def change(d: dict[str, Any]) -> None:
        for part in path[:-1]:
            d = d[part]
        d[path[-1]] = value

    return change


@pytest.mark.parametrize(
    ("change", "key", "named"),
    [
        pytest.param(
            _rename("cadres", "detection_monthly", "disaster", "flood_damage"),
            "cadres.detection_monthly",
            ("flood_damage", "disaster"),
            id="unknown risk type",
        ),
        pytest.param(
            _drop("hardship", "recovery_monthly", "education"),
            "hardship.recovery_monthly",
            ("education",),
            id="missing risk type",
        ),
        pytest.param(
            _add(0.1, "cadres", "false_identification_cause", "bad_luck"),
            "cadres.false_identification_cause",
            ("bad_luck",),
            id="unknown false-identification cause",
        ),
        pytest.param(
            _add(0.2, "assistance", "after_identification", "illness", "charity"),
            "assistance.after_identification.illness",
            ("charity",),
            id="unknown measure",
        ),
        pytest.param(
            _add(2.0, "work", "education_wage_factor", "phd"),
            "work.education_wage_factor",
            ("phd",),
            id="unknown education level",
        ),
        pytest.param(
            _rename("shocks", "local_kinds", "hail", "tornado"),
            "shocks.local_kinds",
            ("tornado", "hail"),
            id="unknown disaster kind",
        ),
        pytest.param(
            _drop("recording_delay_days", "birth"),
            "recording_delay_days",
            ("birth",),
            id="event type without a recording delay",
        ),
    ],
)
def test_contract_keys_are_checked_by_the_generator(
    tmp_path: Path, change: Callable[[dict[str, Any]], None], key: str, named: tuple[str, ...]
) -> None:
    """A synth-config key that must be the contract's codes (risk types, measures, education
    levels, disaster kinds, event types) holding an unknown code or missing one → ConfigError
    naming the file, the key and the code; the loader accepts it (structure only)."""
    _refused(_write_config(tmp_path, change), key, *named)


def test_structure_is_still_checked_by_config(tmp_path: Path) -> None:
    """A probability above 1 in the synth config → ConfigError from the loader, naming the key."""

    def change(d: dict[str, Any]) -> None:
        d["assistance"]["after_identification"]["illness"]["health"] = 1.5

    path = _write_config(tmp_path, change)
    with pytest.raises(ConfigError, match="after_identification") as err:
        load_synth_config(path)
    assert str(path) in str(err.value)
