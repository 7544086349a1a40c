"""The synthetic province: riskml's embedded default data for the demo, tests and benchmarks.

An Inner-Mongolia-like rural registry, 2019-2025: leagues -> banners (旗县) -> townships (苏木乡镇)
-> villages (嘎查村); farming, pastoral, agro-pastoral, wage and mixed livelihoods; members who
age, are born, fall ill, become disabled, migrate for work and die; banner-wide snow disasters
and droughts, a cattle-price fall; cadres who identify households in hardship imperfectly and
late; assistance that follows identification. Written in the data contract, so nothing
downstream knows it is synthetic. Parameters: ``configs/synth.yaml``.

The generator's true risk of every household and month is written *beside* the bundle
(``<bundle>.truth.parquet``), never inside it; see :func:`oracle_probability`.
"""

from riskml.synth._api import (
    ProvinceChunk,
    SynthResult,
    generate_province,
    province_geography,
    synthesize,
    write_synthetic_province,
)
from riskml.synth._calibration import calibration_statistics, oracle_auc
from riskml.synth._truth import (
    GroundTruthOracle,
    find_ground_truth,
    oracle_probability,
    read_ground_truth,
)
from riskml.synth._writer import SynthError, truth_path_for

__all__ = [
    "GroundTruthOracle",
    "ProvinceChunk",
    "SynthError",
    "SynthResult",
    "calibration_statistics",
    "find_ground_truth",
    "generate_province",
    "oracle_auc",
    "oracle_probability",
    "province_geography",
    "read_ground_truth",
    "synthesize",
    "truth_path_for",
    "write_synthetic_province",
]
