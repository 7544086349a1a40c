"""Training inputs: the bundle, config and training set, and the oracle only when a caller gives one."""

from __future__ import annotations

import numpy as np
import yaml

from riskml.config import config_dir, read_yaml
from riskml.synth import GroundTruthOracle, find_ground_truth
from riskml.tracking import load_inputs


def test_training_never_looks_for_ground_truth_beside_the_bundle(small_province_dir, tmp_path):
    """The synthetic truth sits beside the bundle, yet without an oracle argument none is used."""
    assert find_ground_truth(small_province_dir) is not None
    config = tmp_path / "training.yaml"
    fast = read_yaml(config_dir() / "training.yaml")
    fast["training_set"].update(as_of_start="2022-01-01", step_months=6)
    config.write_text(yaml.safe_dump(fast), encoding="utf-8")
    plain = load_inputs(small_province_dir, config_path=config)
    assert plain.oracle is None and plain.oracle_note == "no oracle given (real data)"

    given = load_inputs(
        small_province_dir,
        config_path=config,
        oracle=GroundTruthOracle(find_ground_truth(small_province_dir)),
    )
    assert given.oracle is not None and given.oracle.shape == (len(given.training_set.frame),)
    labelled = given.training_set.frame["label"].notna().to_numpy()
    assert np.isfinite(given.oracle[labelled]).all()
    assert given.oracle_note.endswith(".truth.parquet")
