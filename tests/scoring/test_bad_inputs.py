"""Bad inputs to scoring: each test's docstring says the input and the expected outcome."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from riskml.config import ConfigError, config_dir
from riskml.config.scoring import load_scoring_config
from riskml.data import Bundle
from riskml.scoring import (
    HEADER_ZH,
    ScoringError,
    ScoringOutputError,
    read_scores,
    score_roster,
    write_scores,
)

from ._frames import score_frame
from .conftest import MODEL_NAME, SCORING_AS_OF, TRAIN_AS_OF


def _subset(bundle: Bundle, ids: pd.Series) -> Bundle:
    keep = set(ids)
    tables = {
        n: t.loc[t["household_id"].isin(keep)].reset_index(drop=True)
        for n, t in bundle.tables.items()
    }
    return Bundle(
        tables=tables,
        extracted_on=bundle.extracted_on,
        province=bundle.province,
        source=bundle.source,
    )


def test_county_the_model_never_saw(
    small_province_dir: Path, risk_model: Any, tmp_path: Path
) -> None:
    """Input: a roster where 300 households sit in a county code that did not exist at training.
    Outcome: they are scored like everyone else. County is not a model feature and the village
    context is computed from the roster itself, so their scores equal those they get under their
    old county code; only the ranking groups change (a county of their own)."""
    from riskml.data import load_bundle

    folder = tmp_path / "roster"
    shutil.copytree(small_province_dir, folder)
    hh = pd.read_parquet(folder / "households.parquet")
    moved = hh.index[:300]
    hh.loc[moved, "county_code"] = "159999"
    hh.to_parquet(folder / "households.parquet", index=False)
    run = score_roster(
        load_bundle(folder), SCORING_AS_OF, out=None, model=risk_model, quiet=True
    ).scores
    base = score_roster(
        load_bundle(small_province_dir), SCORING_AS_OF, out=None, model=risk_model, quiet=True
    ).scores
    new = run["county_code"] == "159999"
    assert new.sum() == 300
    assert (run.loc[new, "status"] == base.loc[new, "status"]).all()
    assert (run.loc[new & (run["status"] == "scored"), "status_detail"]).isna().all()
    np.testing.assert_array_equal(run["score"].to_numpy(), base["score"].to_numpy())


def test_categorical_value_the_model_never_saw(
    province_bundle: Any, trained: Any, tmp_path: Path
) -> None:
    """Input: a model trained when no household had livelihood 'wage' (its category list lacks
    it), scoring a roster where some households do.
    Outcome: by default (``reject.unseen_categories: missing``) they are scored with livelihood
    treated as missing, as the model itself does, and status_detail says so; with ``reject``
    they are rejected as "not in the model's world". Either way every household is accounted for."""
    from riskml.features import load_catalog
    from riskml.models import RecurrenceRiskModel
    from riskml.tracking import RiskModel, feature_set_bundle
    from riskml.tracking._riskmodel import write_model_artifacts

    _, frame = trained
    catalog = load_catalog()
    fs = catalog.feature_set("default")
    X = frame[fs.names].copy()
    X["livelihood"] = X["livelihood"].cat.remove_categories(["wage"])
    narrow = RecurrenceRiskModel(n_estimators=15, num_leaves=7, early_stopping_rounds=None).fit(
        X, frame["label"].astype(int), as_of=frame["as_of"]
    )
    from riskml.tracking._riskmodel import input_schema_from_frame

    meta = {
        "name": "narrow",
        "version": "1",
        "as_of_first": TRAIN_AS_OF[0],
        "input_schema": input_schema_from_frame(X, fs.names),
    }
    paths = write_model_artifacts(
        tmp_path / "model",
        model=narrow,
        feature_set=feature_set_bundle(fs, catalog),
        reference=narrow.reference_,
        metadata=meta,
    )
    model = RiskModel.from_artifacts(paths)
    wage = province_bundle.households["livelihood"] == "wage"
    assert wage.any()
    scored = score_roster(province_bundle, SCORING_AS_OF, out=None, model=model, quiet=True)
    s = scored.scores.set_index("household_id")
    wage_ids = province_bundle.households.loc[wage, "household_id"]
    wage_scored = s.loc[wage_ids].query("status == 'scored'")
    assert len(wage_scored) > 0
    assert wage_scored["status_detail"].str.contains("treated as missing: livelihood=wage").all()

    cfg = load_scoring_config()
    cfg = cfg.model_copy(
        update={"reject": cfg.reject.model_copy(update={"unseen_categories": "reject"})}
    )
    rejected = score_roster(
        province_bundle, SCORING_AS_OF, out=None, model=model, config=cfg, quiet=True
    )
    r = rejected.scores.set_index("household_id").loc[wage_scored.index]
    assert (r["status"] == "rejected").all()
    assert r["status_detail"].str.startswith("not in the model's world").all()
    assert rejected.summary["rejected_by_reason"]["value never seen in training"] == len(
        wage_scored
    )
    assert sum(rejected.summary["status"].values()) == rejected.summary["input_households"]


def test_nonexistent_model_uri(
    small_province_dir: Path, registered_model: str, scoring_store: str, tmp_path: Path
) -> None:
    """Input: ``--model models:/no-such-model@champion``.
    Outcome: exit code 2, one line naming the URI and the store and listing the models that do
    exist (with their aliases); no file written."""
    from riskml.cli import app

    result = CliRunner().invoke(
        app,
        [
            "score",
            "--data",
            str(small_province_dir),
            "--as-of",
            SCORING_AS_OF,
            "--model",
            "models:/no-such-model@champion",
            "--tracking-uri",
            scoring_store,
            "--out",
            str(tmp_path / "s.parquet"),
        ],
    )
    text = " ".join(result.output.split())
    assert result.exit_code == 2
    assert "models:/no-such-model@champion does not exist" in text and MODEL_NAME in text
    assert list(tmp_path.iterdir()) == []


def test_as_of_before_the_training_data(province_bundle: Any, risk_model: Any) -> None:
    """Input: as-of 2021-06-30, before the model's first training as-of date.
    Outcome: ScoringError naming both dates; nothing scored."""
    with pytest.raises(
        ScoringError,
        match=f"2021-06-30 is before the model's training data, which starts at as-of {TRAIN_AS_OF[0]}",
    ):
        score_roster(province_bundle, "2021-06-30", out=None, model=risk_model, quiet=True)


def test_as_of_after_the_extraction_date(province_bundle: Any, risk_model: Any) -> None:
    """Input: an as-of date one day after the bundle's extraction date.
    Outcome: ScoringError: nothing after the extraction date is known."""
    after = (pd.Timestamp(province_bundle.extracted_on) + pd.Timedelta(days=1)).date()
    with pytest.raises(ScoringError, match="after the bundle's extraction date"):
        score_roster(province_bundle, after, out=None, model=risk_model, quiet=True)


def test_as_of_not_a_date(province_bundle: Any, risk_model: Any) -> None:
    """Input: ``--as-of 30/06/2025``. Outcome: ScoringError asking for YYYY-MM-DD."""
    with pytest.raises(ScoringError, match="YYYY-MM-DD"):
        score_roster(province_bundle, "30/06/2025", out=None, model=risk_model, quiet=True)


@pytest.mark.parametrize("name", ["scores.txt", "scores.xls", "scores"])
def test_unknown_output_extension_is_refused_before_any_work(tmp_path: Path, name: str) -> None:
    """Input: an output name whose extension is not .parquet/.pq/.csv/.xlsx.
    Outcome: ScoringOutputError listing the choices, raised before the bundle or the model is
    even looked at (the data folder here does not exist)."""
    with pytest.raises(
        ScoringOutputError, match=r"is not one of \['\.csv', '\.parquet', '\.pq', '\.xlsx'\]"
    ):
        score_roster(
            tmp_path / "no-bundle",
            SCORING_AS_OF,
            out=tmp_path / name,
            model_uri="models:/x@champion",
        )


def test_roster_where_everyone_is_already_monitored(
    province_bundle: Any, risk_model: Any, tmp_path: Path
) -> None:
    """Input: a roster holding only households under monitoring on the as-of date.
    Outcome: a complete file where every household is not_eligible, no tiers, no flags, the
    drift check reported as unavailable (nothing scored) rather than failing."""
    from riskml.features import monitoring_status

    hh = province_bundle.households["household_id"]
    status = monitoring_status(
        province_bundle, pd.DataFrame({"household_id": hh, "as_of": pd.Timestamp(SCORING_AS_OF)})
    )
    monitored = hh[status["under_monitoring"].to_numpy()]
    run = score_roster(
        _subset(province_bundle, monitored),
        SCORING_AS_OF,
        out=tmp_path / "s.csv",
        model=risk_model,
        quiet=True,
    )
    assert run.summary["status"] == {"scored": 0, "not_eligible": len(monitored), "rejected": 0}
    assert run.summary["flagged"] == 0 and run.summary["drift"]["available"] is False
    assert len(pd.read_csv(tmp_path / "s.csv", encoding="utf-8-sig")) == len(monitored)


def test_roster_lacking_an_optional_column(
    small_province_dir: Path, risk_model: Any, tmp_path: Path
) -> None:
    """Input: an export without the optional ``income.oop_medical`` column (out-of-pocket
    medical costs), which the model was trained with.
    Outcome: the loader supplies the column empty, households are scored, and the drift check
    warns naming the medical-cost features whose distribution no longer matches training."""
    from riskml.data import load_bundle

    folder = tmp_path / "roster"
    shutil.copytree(small_province_dir, folder)
    income = pd.read_parquet(folder / "income.parquet").drop(columns=["oop_medical"])
    income.to_parquet(folder / "income.parquet", index=False)
    run = score_roster(load_bundle(folder), TRAIN_AS_OF[-1], out=None, model=risk_model, quiet=True)
    assert run.summary["status"]["scored"] > 0
    warned = run.summary["drift"]["warnings"]
    assert "oop_medical_last_year" in warned


INJECTIONS = [
    '=HYPERLINK("http://example.invalid","点我")',
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "+1+2",
    "-2+3",
    "\t=1+1",
    "\r=1+1",
    "'already quoted",
    "#N/A",
]


@pytest.mark.parametrize("ext", [".csv", ".xlsx"])
def test_text_that_looks_like_a_formula_is_neutralised_and_read_back(
    tmp_path: Path, ext: str
) -> None:
    """village names / status text such as '=HYPERLINK(...)', '@SUM(1+1)*cmd|...', '-2+3', tab or CR first → score CSV/xlsx cells hold them as text with a leading quote (OWASP), xlsx cells typed text; read_scores gives the original text back."""
    frame = score_frame(len(INJECTIONS))
    frame["village_name"] = pd.array(INJECTIONS, dtype="string")
    frame.loc[0, "status_detail"] = "=1+1"
    path = write_scores(frame, tmp_path / f"s{ext}", metadata={"mode": "internal", "note": "=2+2"})
    if ext == ".csv":
        cells = pd.read_csv(path, encoding="utf-8-sig", dtype=str, keep_default_na=False)
        names = cells[HEADER_ZH["village_name"]].tolist()
        detail = cells[HEADER_ZH["status_detail"]].iloc[0]
    else:
        import openpyxl

        wb = openpyxl.load_workbook(path)  # not data_only: formulas would show as '=...'
        ws = wb["评分结果"]
        col = [c.value for c in ws[1]].index(HEADER_ZH["village_name"]) + 1
        cells_x = [ws.cell(row=r, column=col) for r in range(2, len(INJECTIONS) + 2)]
        assert all(c.data_type == "s" for c in cells_x)  # text, never a formula or an error
        names = [c.value for c in cells_x]
        detail = ws.cell(row=2, column=[c.value for c in ws[1]].index("状态说明") + 1).value
        info = [c.value for row in wb["说明"].iter_rows() for c in row]
        assert "'=2+2" in info
    # XML (inside .xlsx) turns a carriage return into a line feed; the quote is still there
    expected = [v.replace("\r", "\n") if ext == ".xlsx" else v for v in INJECTIONS]
    assert names == ["'" + v for v in expected[:-1]] + ["#N/A"]
    assert detail == "'=1+1"
    back, _ = read_scores(path)
    assert back["village_name"].tolist() == expected
    assert back.loc[0, "status_detail"] == "=1+1"


def _edited_scoring_config(tmp_path: Path, line: str, replacement: str) -> Path:
    """The shipped configs/scoring.yaml with ``line`` (which it must hold) replaced."""
    text = (config_dir() / "scoring.yaml").read_text(encoding="utf-8")
    assert line in text
    path = tmp_path / "scoring.yaml"
    path.write_text(text.replace(line, replacement), encoding="utf-8")
    return path


def test_unknown_shap_method_in_the_scoring_config(tmp_path: Path) -> None:
    """scoring.yaml explain.method: kernel → ConfigError naming the file and explain.method."""
    path = _edited_scoring_config(tmp_path, "  method: tree_shap\n", "  method: kernel\n")
    with pytest.raises(ConfigError, match=r"explain\.method") as err:
        load_scoring_config(path)
    assert str(path) in str(err.value)


def test_zero_workers_in_the_scoring_config(tmp_path: Path) -> None:
    """scoring.yaml workers: 0 → ConfigError naming the file and workers."""
    path = _edited_scoring_config(tmp_path, "\nworkers: 2\n", "\nworkers: 0\n")
    with pytest.raises(ConfigError, match=r"workers") as err:
        load_scoring_config(path)
    assert str(path) in str(err.value)
