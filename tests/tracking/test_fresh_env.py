"""The registered model loads and predicts in a fresh environment built only from its own
requirements: a new virtual environment, ``pip install -r requirements.txt`` of the model
folder, no riskml installed. riskml's source comes with the model (``code_paths``).

Slow (a pip install from the package index, minutes): ``pytest -m slow``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import venv
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

_SCRIPT = """
import importlib.util, json, sys
assert importlib.util.find_spec("riskml") is None, "riskml is installed in the fresh environment"
import mlflow.pyfunc
import pandas as pd
model_dir, features, out = sys.argv[1:4]
model = mlflow.pyfunc.load_model(model_dir)
X = pd.read_parquet(features)
model.predict(X).to_parquet(out)
import riskml
print(json.dumps({"riskml": riskml.__file__, "dtypes": sorted({str(t) for t in X.dtypes})}))
"""


@pytest.mark.slow
def test_registered_model_loads_in_a_fresh_venv_from_its_requirements(
    store_factory, tiny, logger, tmp_path
):
    import mlflow.artifacts

    from riskml.tracking import open_store

    store = open_store(store_factory(tmp_path / "store"))
    logger(store, tiny, name="fresh", workdir=tmp_path / "bundle")
    with store.active():
        model_dir = Path(
            mlflow.artifacts.download_artifacts(
                "models:/fresh@champion", dst_path=str(tmp_path / "model")
            )
        )
    requirements = (model_dir / "requirements.txt").read_text().split()
    assert not any(r.split("==")[0] == "riskml" for r in requirements)
    assert (model_dir / "code" / "riskml" / "tracking" / "_pyfunc.py").is_file()

    env = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True, system_site_packages=False).create(env)
    python = env / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "-r", str(model_dir / "requirements.txt")],
        check=True,
        timeout=1800,
    )

    # compute_features output as it comes: a category column and integer counts
    X = tiny.X.loc[tiny.X["household_size"].notna()]
    X = X.assign(household_size=X["household_size"].astype("int64"))
    X.to_parquet(tmp_path / "X.parquet")
    script = tmp_path / "load.py"
    script.write_text(_SCRIPT)
    done = subprocess.run(
        [
            str(python),
            str(script),
            str(model_dir),
            str(tmp_path / "X.parquet"),
            str(tmp_path / "out.parquet"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,  # not the repository: nothing of riskml's checkout on sys.path
    )
    assert done.returncode == 0, done.stderr[-3000:]
    facts = json.loads(done.stdout.strip().splitlines()[-1])
    assert Path(facts["riskml"]).is_relative_to(model_dir / "code")
    assert facts["dtypes"] == ["category", "float64", "int64"]
    out = pd.read_parquet(tmp_path / "out.parquet")
    expected = tiny.model.predict_proba(X.astype({"household_size": float}))[:, 1]
    np.testing.assert_array_equal(out["score"].to_numpy(), expected)
    assert sys.prefix != str(env)
