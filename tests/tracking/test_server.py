"""The same model round trip through a real ``mlflow server`` process on localhost."""

from __future__ import annotations

import numpy as np
import pytest

from riskml.tracking import load_risk_model, open_store, promote

pytestmark = pytest.mark.mlflow_server


def test_log_register_load_and_promote_through_a_server(
    mlflow_server, tiny, logger, tmp_path, monkeypatch
):
    store = open_store(mlflow_server)
    assert store.tracking_uri == mlflow_server
    run_id, version, _ = logger(store, tiny, name="served", workdir=tmp_path / "a")
    rm = load_risk_model("models:/served@champion", tracking_uri=mlflow_server)
    np.testing.assert_array_equal(rm.predict_proba(tiny.X), tiny.model.predict_proba(tiny.X))
    assert (rm.metadata["version"], rm.metadata["run_id"]) == (version, run_id)
    # the artifacts went through the server (proxied), not to a local folder
    run = store.client.get_run(run_id)
    assert run.info.artifact_uri.startswith("mlflow-artifacts:")

    # MLFLOW_TRACKING_URI is honoured when no URI is given
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server)
    rm2 = load_risk_model("models:/served@challenger")
    np.testing.assert_array_equal(rm2.raw_score(tiny.X), tiny.model.predict_raw(tiny.X))
    d = promote("served")
    assert not d.moved and "already is the champion" in d.reason
