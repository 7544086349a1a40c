"""The notebooks in ``notebooks/`` run top to bottom on a small synthetic province.

Each notebook is executed with nbclient in a Jupyter kernel that runs *this* interpreter (a
kernelspec written into a temporary ``JUPYTER_PATH``), with ``RISKML_NB_WORKDIR`` pointing at a
temporary folder, no ambient MLflow tracking URI and ``RISKML_MODELS_DIR`` pointing at a folder
that must still not exist afterwards: nothing may fall back to the repository's ``models/``.

The quickstart (~55 s on a loaded 2-core machine) runs in the default suite; the two in-depth
notebooks are marked ``slow``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat
import pyarrow.parquet as pq
import pytest

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
NAMES = (
    "01_quickstart.ipynb",
    "02_training_and_evaluation.ipynb",
    "03_explain_one_household.ipynb",
)
CELL_TIMEOUT_S = 600
_WHERE_AM_I = "import sys; print('KERNEL_PYTHON=' + sys.executable)"


def _read(name: str) -> nbformat.NotebookNode:
    return nbformat.read(NOTEBOOKS / name, as_version=4)


def _code_cells(nb: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [c for c in nb.cells if c.cell_type == "code"]


# ---- the committed notebooks (fast) ----


def test_every_notebook_is_listed() -> None:
    assert sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")) == sorted(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_committed_notebook_is_valid_and_has_no_outputs(name: str) -> None:
    nb = _read(name)
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    dirty = [c.get("id") for c in _code_cells(nb) if c.outputs or c.execution_count is not None]
    assert not dirty, f"{name}: clear the outputs of cells {dirty} before committing"


@pytest.mark.parametrize("name", NAMES)
def test_parameters_come_first_and_write_only_into_the_workdir(name: str) -> None:
    cells = _code_cells(_read(name))
    first = cells[0]
    assert "parameters" in first.metadata.get("tags", []), (
        "the first code cell holds the parameters"
    )
    assert 'os.environ.get("RISKML_NB_WORKDIR")' in first.source
    assert "N_HOUSEHOLDS = " in first.source
    source = "\n".join(c.source for c in cells)
    # no path into the repository's stores; the tracking store is a SQLite file in the workdir
    for forbidden in ('"models/', "'models/", '"data/', "'data/", "mlflow.set_tracking_uri"):
        assert forbidden not in source, f"{name} refers to {forbidden}"
    if "TRACKING_URI" in source:
        assert "TRACKING_URI = f\"sqlite:///{WORKDIR / 'mlflow.db'}\"" in first.source


@pytest.mark.parametrize("name", NAMES)
def test_notebooks_hold_no_logic_of_their_own(name: str) -> None:
    """They call the package: no functions or classes defined in a cell."""
    for cell in _code_cells(_read(name)):
        for line in cell.source.splitlines():
            stripped = line.lstrip()
            assert not stripped.startswith(("def ", "class ", "async def ")), (
                f"{name}, cell {cell.get('id')}: {line!r} — move logic into the riskml package"
            )


# ---- executing them ----


@pytest.fixture
def kernel_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """A ``python3`` kernelspec running this interpreter, and a clean environment."""
    spec_dir = tmp_path / "jupyter" / "kernels" / "python3"
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "riskml venv",
        "language": "python",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec), encoding="utf-8")
    workdir = tmp_path / "work"
    never = tmp_path / "default-models-never-used"
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")  # jupyter_core: no path-migration warning
    monkeypatch.setenv("RISKML_NB_WORKDIR", str(workdir))
    monkeypatch.setenv("RISKML_MODELS_DIR", str(never))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    return {"workdir": workdir, "never": never, "cwd": tmp_path}


def _execute(name: str, env: dict[str, Path]) -> nbformat.NotebookNode:
    from nbclient import NotebookClient

    nb = _read(name)
    nb.cells.append(nbformat.v4.new_code_cell(_WHERE_AM_I, id="test-kernel-python"))
    client = NotebookClient(
        nb,
        kernel_name="python3",
        timeout=CELL_TIMEOUT_S,
        resources={"metadata": {"path": str(env["cwd"])}},
    )
    client.execute()  # raises CellExecutionError naming the failing cell
    printed = "".join(o.get("text", "") for o in nb.cells[-1].outputs if o.output_type == "stream")
    assert f"KERNEL_PYTHON={sys.executable}" in printed, printed
    assert not env["never"].exists(), "a notebook fell back to the default models/ store"
    return nb


def _households(bundle_dir: Path) -> int:
    return pq.read_metadata(bundle_dir / "households.parquet").num_rows


def test_quickstart_runs_top_to_bottom(kernel_env: dict[str, Path]) -> None:
    from riskml.scoring import read_scores

    _execute("01_quickstart.ipynb", kernel_env)
    work = kernel_env["workdir"]
    scores, meta = read_scores(work / "scores.parquet")
    assert len(scores) == _households(work / "province")  # every household accounted for
    assert scores["household_id"].is_unique
    assert int(scores["flagged"].fillna(False).sum()) > 0
    assert meta["model"]["name"] == "riskml-quickstart"
    # the training bundle scored at its own extraction date: no drift warning (it warned on 11
    # features against a one-snapshot reference of another season)
    assert meta["drift_warnings"] == []
    assert (work / "reports" / "index.html").is_file()
    assert list((work / "reports").rglob("*.html"))
    assert not list((work / "reports").rglob("*.pdf"))  # html only
    assert (work / "mlflow.db").is_file()


@pytest.mark.slow
def test_training_and_evaluation_runs_top_to_bottom(kernel_env: dict[str, Path]) -> None:
    nb = _execute("02_training_and_evaluation.ipynb", kernel_env)
    work = kernel_env["workdir"]
    assert (work / "province" / "households.parquet").is_file()
    assert not (work / "mlflow.db").exists()  # this notebook logs nothing
    text = json.dumps([c.get("outputs", []) for c in nb.cells], ensure_ascii=False)
    for shown in ("recall_at_capacity_vs_rules", "calibration_gap", "risk_type_zh"):
        assert shown in text


@pytest.mark.slow
def test_explain_one_household_runs_top_to_bottom(kernel_env: dict[str, Path]) -> None:
    nb = _execute("03_explain_one_household.ipynb", kernel_env)
    text = json.dumps([c.get("outputs", []) for c in nb.cells], ensure_ascii=False)
    # the notebook's own checks (check_against_shap, reconcile) raise on a mismatch; the
    # reconciliation table is printed
    assert "raw score (score file)" in text and "residual" in text
    assert (kernel_env["workdir"] / "scores.parquet").is_file()
