"""Privacy and security across stages: scan everything a full run writes for planted personal data.

The canary export (``_canary.py``) carries 18-digit resident ID numbers as household and member
ids, the head's name, phone number and ID number in extra columns, and diagnoses in
``events.detail``. After the whole job has run on it through the CLI, every log record, console
line, MLflow param/metric/tag/artifact (the SQLite database itself and the artifact folder),
public score file and public report is read back and searched.

Where planted values may appear: household ids in internal outputs (training set, internal
score file, quarantine file) — they are the operator's own keys; the head's name and the group
(村民小组, the contract's optional ``head_name`` / ``group_name``) in the internal score file's
own ``head_name`` / ``group_name`` columns. Nowhere else; phone numbers and diagnoses nowhere at
all.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pandas as pd
import pytest

from tests.reliability._canary import ID_NUMBER, Finding, file_text, scan_paths, scan_text
from tests.reliability.conftest import PSEUDONYM_KEY, FullRun

REPO = Path(__file__).resolve().parents[2]


def _report(findings: list[Finding]) -> str:
    return "\n".join(str(f) for f in findings[:20]) + (
        f"\n... and {len(findings) - 20} more" if len(findings) > 20 else ""
    )


def test_the_whole_job_runs_on_a_messy_county_export(full_run: FullRun) -> None:
    """GB18030 CSVs, ID numbers as ids, extra personal columns, an orphan event, a negative income
    and a household without a village code → validate, features build, train, score (internal
    and public), report and report-model all exit 0."""
    assert not full_run.failed_steps(), full_run.failed_steps()


def test_logs_and_console_output_hold_no_personal_data(full_run: FullRun) -> None:
    """Every log record (riskml, MLflow, root) and everything the commands printed → no ids, ID
    numbers, names, phone numbers or diagnoses (the console shows masked ids only)."""
    logs = full_run.log_file.read_text(encoding="utf-8")
    findings = scan_text(logs, "log records", full_run.canaries)
    for step, text in full_run.console.items():
        findings += scan_text(text, f"console of {step}", full_run.canaries)
    assert not findings, _report(findings)
    # not vacuous: the commands did print, and the score command listed masked households
    assert "Top 10 flagged households" in full_run.console["score"]
    assert re.search(r"\*{6}\w{4}", full_run.console["score"])
    assert "quarantine records written to" in full_run.console["validate"]


def test_mlflow_params_metrics_tags_and_artifacts_hold_no_personal_data(full_run: FullRun) -> None:
    """The MLflow store (SQLite database: params, metrics, tags, registry; artifact folder: model,
    card, tables, report) → none of the planted values, no raw or masked ID numbers."""
    from riskml.tracking import open_store

    skipped: list[str] = []
    findings, n_files = scan_paths([full_run.store_dir], full_run.canaries, skipped=skipped)
    store = open_store(full_run.tracking_uri, experiment=None)
    client = store.client
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()])
    assert runs, "the store holds no run: nothing was scanned"
    for run in runs:
        text = json.dumps(
            {"params": run.data.params, "tags": run.data.tags, "metrics": list(run.data.metrics)},
            ensure_ascii=False,
        )
        findings += scan_text(text, f"run {run.info.run_id}", full_run.canaries)
    assert not findings, _report(findings)
    assert n_files >= 10  # database, model bundle, card, backtest tables, model report
    assert any(p.endswith(".png") for p in skipped)  # plots are images: not text-scanned
    # the model report was logged back into the training run
    assert any(
        "model_report" in p or "report" in p for p in map(str, full_run.store_dir.rglob("*"))
    )


def test_public_score_file_and_public_reports_hold_no_personal_data(full_run: FullRun) -> None:
    """Public score file (+ its .meta.json / .summary.json) and the public village reports → no
    ids, ID numbers, names, groups (村民小组), phones or diagnoses; ids appear masked (******1234)
    and households are numbered within their village (村内编号)."""
    paths = sorted(full_run.public_scores.parent.glob(full_run.public_scores.name + "*"))
    assert len(paths) >= 2, paths  # the file and its summary
    findings, n = scan_paths([*paths, full_run.public_reports], full_run.canaries)
    assert not findings, _report(findings)
    public = pd.read_csv(full_run.public_scores, encoding="utf-8-sig", dtype=str)
    assert len(public) > 900 and public.iloc[:, 0].str.fullmatch(r"\*{6}\w{4}").all()
    # no name or group columns; the village-local number that replaces them is there
    assert "户主姓名" not in public.columns and "村民小组" not in public.columns
    assert public["村内编号"].notna().sum() > 900
    pages = [file_text(p) or "" for p in full_run.public_reports.rglob("*.html")]
    # meeting-mode pages number households within their village (the masked id is not unique)
    assert n > 3 and any(re.search(r"村内编号 \d+", p) for p in pages)


def test_model_report_holds_no_personal_data(full_run: FullRun) -> None:
    """The model evaluation report (HTML, for data scientists) → no ids or personal data."""
    findings, n = scan_paths([full_run.model_report], full_run.canaries)
    assert n >= 1 and not findings, _report(findings)


def test_internal_outputs_hold_ids_but_no_names_phones_or_diagnoses(full_run: FullRun) -> None:
    """Training set, internal score file (its summary and metadata), quarantine file → household
    ids allowed (internal keys); names and groups only in the internal score file's head_name /
    group_name columns; phone numbers and diagnoses never (the loader ignores the extra columns,
    features use event types and amounts, never free-text details or names)."""
    internal = [
        full_run.training_set,
        *[
            p
            for p in full_run.scores.parent.glob(full_run.scores.name + "*")
            if p != full_run.scores
        ],
        full_run.quarantine,
    ]
    findings, n = scan_paths(internal, full_run.canaries, ids_allowed=True)
    assert n >= 3 and not findings, _report(findings)
    scores = pd.read_parquet(full_run.scores)
    assert set(scores["household_id"]) & full_run.canaries.household_ids  # not vacuous
    # names and groups: in their own internal-only columns, nowhere else in the file
    c = full_run.canaries
    assert set(scores["head_name"].dropna()) <= c.names and scores["head_name"].notna().sum() > 900
    assert set(scores["group_name"].dropna()) <= c.groups and scores["group_name"].notna().any()
    rest = scores.drop(columns=["head_name", "group_name"])
    text = "\n".join(rest[col].dropna().astype(str).str.cat(sep="\n") for col in rest.columns)
    findings = scan_text(
        text, "internal score file outside head_name/group_name", c, ids_allowed=True
    )
    assert not findings, _report(findings)


def test_every_household_of_the_export_is_accounted_for(full_run: FullRun) -> None:
    """Every household id of the export (households file and any other table) → exactly one row
    of the score file: scored, not eligible, or rejected with the loader's reason (the household
    without a village code, and the id only an orphan event carries); and in the quarantine file."""
    data = full_run.data
    ids: set[str] = set()
    for f in data.glob("*.csv"):
        ids |= set(
            pd.read_csv(f, dtype=str, encoding="gb18030", usecols=["household_id"])["household_id"]
        )
    scores = pd.read_parquet(full_run.scores).set_index("household_id")
    assert set(scores.index) == ids and scores.index.is_unique
    c = full_run.canaries
    detail = scores["status_detail"]
    assert scores.loc[c.set_aside_household, "status"] == "rejected"
    assert "households.village_code" in detail[c.set_aside_household]
    assert scores.loc[c.orphan_household, "status"] == "rejected"
    assert "not in households" in detail[c.orphan_household]
    assert scores.loc[c.negative_income_household, "status"] in ("scored", "not_eligible")
    quarantine = pd.read_csv(full_run.quarantine, dtype=str, encoding="utf-8-sig")
    assert {c.set_aside_household, c.orphan_household, c.negative_income_household} <= set(
        quarantine["household_id"]
    )
    summary = json.loads(Path(str(full_run.scores) + ".summary.json").read_text(encoding="utf-8"))
    assert sum(summary["status"].values()) == summary["input_households"] == len(ids)


def test_pseudonyms_are_keyed_hashes() -> None:
    """riskml.tracking.pseudonymise: the same id and key → the same 16-hex pseudonym; another key →
    another pseudonym; the id itself is not recoverable from the text."""
    from riskml.tracking import pseudonymise

    ids = ["150521194001010009", "15232219610906040X"]
    a = pseudonymise(ids, key=PSEUDONYM_KEY)
    assert a == pseudonymise(ids, key=PSEUDONYM_KEY)
    assert a != pseudonymise(ids, key="another key")
    assert all(re.fullmatch(r"[0-9a-f]{16}", p) for p in a)
    assert not any(ID_NUMBER.search(p) for p in a)


# ---------------------------------------------------------------------------------- security

_ALLOWED_PICKLE = {  # the Spark engines' own frames and model, between their workers
    "riskml/scoring/_spark.py",
    "riskml/features/_spark.py",
}


def _calls(tree: ast.AST) -> list[tuple[str, ast.Call]]:
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            name = (
                f"{f.value.id}.{f.attr}"
                if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name)
                else f.id
                if isinstance(f, ast.Name)
                else ""
            )
            out.append((name, node))
    return out


def test_package_loads_no_yaml_unsafely_and_unpickles_nothing_from_users() -> None:
    """riskml/**/*.py → no yaml.load without a safe loader, no yaml.unsafe_load/full_load, no
    eval/exec, no pickle/joblib/cloudpickle loads outside the Spark engine's own broadcasts, no
    mlflow model loading outside riskml.tracking (models load only through the registry or a
    folder the user names)."""
    problems = []
    for path in sorted((REPO / "riskml").rglob("*.py")):
        rel = path.relative_to(REPO).as_posix()
        for name, node in _calls(ast.parse(path.read_text(encoding="utf-8"))):
            where = f"{rel}:{node.lineno} {name}"
            if name in ("yaml.unsafe_load", "yaml.full_load", "yaml.load_all", "eval", "exec"):
                problems.append(where)
            elif name == "yaml.load":
                loader = next((k.value for k in node.keywords if k.arg == "Loader"), None)
                if not (isinstance(loader, ast.Attribute) and "Safe" in loader.attr):
                    problems.append(where)
            elif name.split(".")[0] in (
                "pickle",
                "joblib",
                "cloudpickle",
                "dill",
            ) and name.endswith(("load", "loads")):
                if rel not in _ALLOWED_PICKLE:
                    problems.append(where)
            elif ".load_model" in name and not rel.startswith("riskml/tracking/"):
                problems.append(where)
    assert not problems, problems


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("model_class", "os:system", "riskml only loads its own classes"),
        ("model_class", "subprocess:Popen", "riskml only loads its own classes"),
    ],
)
def test_a_tampered_model_folder_cannot_import_foreign_code(
    full_run: FullRun, tmp_path: Path, field: str, value: str, message: str
) -> None:
    """A downloaded model folder whose metadata.json names a non-riskml class (os:system) → refused
    before anything is imported from it or called."""
    import mlflow.artifacts

    from riskml.tracking import load_risk_model, open_store

    store = open_store(full_run.tracking_uri, experiment=None)
    with store.active():
        folder = Path(
            mlflow.artifacts.download_artifacts(full_run.model_uri, dst_path=str(tmp_path / "m"))
        )
    meta_files = list(folder.rglob("metadata.json"))
    assert meta_files
    for f in meta_files:
        meta = json.loads(f.read_text(encoding="utf-8"))
        meta[field] = value
        f.write_text(json.dumps(meta), encoding="utf-8")
    with pytest.raises(Exception, match=message):
        load_risk_model(folder)


def test_id_pattern_catches_id_numbers_not_floats() -> None:
    """The scanner's own check: an 18-digit ID number ending in X, and a float's 18 digits → the
    first matches, the second does not."""
    assert ID_NUMBER.search("户主 15232219610906040X 住院")
    assert not ID_NUMBER.search("0.123456789012345678 and 1.5e17 and ******040X")


def test_internal_reports_name_households_but_hold_no_phones_or_diagnoses(
    full_run: FullRun,
) -> None:
    """Internal review reports (lists, 入户核实表, 核实登记表 workbooks) → ids, heads' names and
    groups are shown (staff material: that is their purpose), phone numbers and the free-text
    diagnoses of the export never (reasons state facts from event types and amounts)."""
    assert full_run.internal_reports is not None
    findings, n = scan_paths([full_run.internal_reports], full_run.canaries, ids_allowed=True)
    bad = [f for f in findings if f.kind in ("phone", "diagnosis")]
    assert n > 3 and not bad, _report(bad)
    files = list(full_run.internal_reports.rglob("*"))
    assert any(f.name.endswith("_核实登记表.xlsx") for f in files)
    assert any(f.name.endswith(".verification.html") for f in files)
    shown = {f.kind for f in findings}
    assert "name" in shown  # not vacuous: internal pages do name heads of households
