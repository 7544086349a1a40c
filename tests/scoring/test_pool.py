"""The local engine's worker processes (``workers`` in the scoring config): same output as
scoring in the calling process, errors of a worker surface in the caller."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
import pytest

from riskml.config.scoring import ScoringConfig, load_scoring_config
from riskml.scoring import SignatureMismatchError
from riskml.scoring._local import run_local
from riskml.scoring._partition import ExplainSelection, household_universe
from riskml.scoring._run import score_bundle

from .conftest import SCORING_AS_OF, model_with_input_schema


def _config(workers: int, chunk_households: int) -> ScoringConfig:
    return load_scoring_config().model_copy(
        update={"workers": workers, "chunk_households": chunk_households}
    )


@pytest.mark.timeout(300)  # a worker hanging on OpenMP after fork would fail here, not stall
def test_scores_in_workers_equal_scores_in_process(province_bundle: Any, risk_model: Any) -> None:
    as_of = dt.date.fromisoformat(SCORING_AS_OF)
    n = len(household_universe(province_bundle))
    # in process first: the parent has used LightGBM's and numba's threads before it forks
    serial = score_bundle(province_bundle, as_of, risk_model, _config(1, n))
    parallel = score_bundle(province_bundle, as_of, risk_model, _config(2, n // 3))
    assert serial.explained > 0  # flagged households were explained in the second pass
    pd.testing.assert_frame_equal(parallel.scores, serial.scores)
    pd.testing.assert_frame_equal(parallel.drift_sample, serial.drift_sample)
    assert parallel.drift == serial.drift
    assert parallel.explained == serial.explained
    assert parallel.timings.keys() == serial.timings.keys()


@pytest.mark.timeout(300)
def test_an_error_in_a_worker_is_raised_with_its_message(
    province_bundle: Any, risk_model: Any
) -> None:
    # a feature this catalog cannot compute
    other = model_with_input_schema(risk_model, household_assets_index="double")
    universe = household_universe(province_bundle)
    with pytest.raises(SignatureMismatchError, match="household_assets_index"):
        run_local(
            province_bundle,
            universe,
            dt.date.fromisoformat(SCORING_AS_OF),
            other,
            None,
            _config(2, len(universe) // 4),
            explain=ExplainSelection(),
            drift_fraction=0.0,
        )
