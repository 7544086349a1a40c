"""riskml's code imports without its configs: a served model ships the code, not configs/."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def test_data_and_model_code_import_with_no_configs_folder(tmp_path: Path) -> None:
    env = {**os.environ, "RISKML_CONFIG_DIR": str(tmp_path / "no-configs")}
    code = "import riskml.data, riskml.features, riskml.models, riskml.tracking._pyfunc_entry"
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
