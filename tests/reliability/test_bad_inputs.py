"""Cross-stage bad inputs: what the stage catalogues (tests/<stage>/test_bad_inputs.py) leave out.

Each docstring reads "input → expected outcome" on its first line(s) (compiled into
docs/bad-inputs.md by scripts/bad_inputs_table.py). Most go through the command line, as an
operator meets them: exit code, one message naming the file/key/value and the fix, no
traceback, nothing written.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from riskml.data import Bundle
from tests.reliability.conftest import SCORING_AS_OF, FullRun, flat, invoke


def _score_args(run: FullRun, out: Path, *extra: str) -> list[str]:
    return [
        "score", "--data", str(run.data), "--as-of", SCORING_AS_OF, "--model", run.model_uri,
        "--tracking-uri", run.tracking_uri, "--out", str(out), *extra,
    ]  # fmt: skip


def _refused(result: Any, *fragments: str) -> str:
    text = flat(result.output)
    assert result.exit_code in (1, 2), (result.exit_code, text, result.exception)
    assert "Traceback" not in text
    for f in fragments:
        assert f in text, text
    return text


def _scoring_yaml(tmp_path: Path, edit: Callable[[dict[str, Any]], None]) -> Path:
    from riskml.config import config_dir

    data = yaml.safe_load((config_dir() / "scoring.yaml").read_text(encoding="utf-8"))
    edit(data)
    path = tmp_path / "scoring.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_scoring_config_with_unknown_key(full_run: FullRun, tmp_path: Path) -> None:
    """scoring.yaml with a misspelt key 'tiers.cutof' → `riskml score --config` exits 2 naming the
    file and the unknown key; no score file written."""
    cfg = _scoring_yaml(tmp_path, lambda d: d["tiers"].update(cutof={"high": 0.3}))
    out = tmp_path / "out"
    out.mkdir()
    result = invoke(*_score_args(full_run, out / "s.parquet", "--config", str(cfg)))
    _refused(result, str(cfg), "unknown key 'tiers.cutof'")
    assert list(out.iterdir()) == []


def test_scoring_config_with_wrong_type(full_run: FullRun, tmp_path: Path) -> None:
    """scoring.yaml with tiers.cutoffs.high: 'high' (text, not a probability) → exits 2 naming
    tiers.cutoffs.high and the value given; no score file written."""
    cfg = _scoring_yaml(tmp_path, lambda d: d["tiers"]["cutoffs"].update(high="high"))
    out = tmp_path / "out"
    out.mkdir()
    result = invoke(*_score_args(full_run, out / "s.parquet", "--config", str(cfg)))
    _refused(result, "tiers.cutoffs.high", "'high'")
    assert list(out.iterdir()) == []


def test_labels_config_with_unknown_key(full_run: FullRun, tmp_path: Path) -> None:
    """labels.yaml with 'horizon_month' (typo) → `riskml features build --labels` exits 2 naming the
    key; no training set written."""
    from riskml.config import config_dir

    data = yaml.safe_load((config_dir() / "labels.yaml").read_text(encoding="utf-8"))
    data["label"]["horizon_month"] = 6
    cfg = tmp_path / "labels.yaml"
    cfg.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    result = invoke(
        "features", "build", "--data", str(full_run.data), "--start", "2022-06-30", "--end",
        "2022-06-30", "--out", str(out / "t.parquet"), "--labels", str(cfg),
    )  # fmt: skip
    _refused(result, "label.horizon_month")
    assert list(out.iterdir()) == []


def test_reports_config_with_unknown_key_and_wrong_type(tmp_path: Path) -> None:
    """reports.yaml with 'public_show_scores' (typo), masked_id_visible_chars: four or
    pdf_engine: latex → ConfigError naming the file and the key."""
    from riskml.config import ConfigError, config_dir
    from riskml.config.reports import load_reports_config

    base = yaml.safe_load((config_dir() / "reports.yaml").read_text(encoding="utf-8"))
    for key, value, expected in [
        ("public_show_scores", True, "unknown key 'public_show_scores'"),
        ("masked_id_visible_chars", "four", "masked_id_visible_chars"),
        ("pdf_engine", "latex", "pdf_engine"),
    ]:
        path = tmp_path / f"{key}.yaml"
        path.write_text(yaml.safe_dump({**base, key: value}, allow_unicode=True), encoding="utf-8")
        with pytest.raises(ConfigError, match=expected) as err:
            load_reports_config(path)
        assert str(path) in str(err.value)


# every YAML file riskml reads, and how it reads it
def _yaml_entry_points(tmp_path: Path) -> dict[str, tuple[Callable[[Path], Any], str]]:
    from riskml.config.explain import load_explain_config
    from riskml.config.features import load_training_config as load_labels_config
    from riskml.config.reports import load_reports_config
    from riskml.config.rules import load_rules_config
    from riskml.config.scoring import load_scoring_config
    from riskml.config.synth import load_synth_config
    from riskml.config.thresholds import load_thresholds
    from riskml.config.training import load_training_config
    from riskml.data import load_bundle, load_mapping
    from riskml.features import load_catalog

    def bundle_yaml(path: Path) -> Any:
        from tests.data._builders import write_text_bundle

        folder = tmp_path / "bundle"
        write_text_bundle(folder)
        shutil.copyfile(path, folder / "bundle.yaml")
        return load_bundle(folder)

    return {
        "configs/training.yaml": (load_training_config, "model"),
        "configs/scoring.yaml": (load_scoring_config, "model_uri"),
        "configs/reports.yaml": (load_reports_config, "public_show_score"),
        "configs/labels.yaml": (load_labels_config, "feature_set"),
        "configs/explain.yaml": (load_explain_config, "max_reasons"),
        "configs/rules.yaml": (load_rules_config, "rules"),
        "configs/synth.yaml": (load_synth_config, "seed"),
        "configs/thresholds.yaml": (load_thresholds, "provinces"),
        "mapping file": (load_mapping, "tables"),
        "bundle.yaml": (bundle_yaml, "extracted_on"),
        "feature catalog": (load_catalog, "features"),
    }


@pytest.mark.parametrize(
    "entry",
    [
        "configs/training.yaml",
        "configs/scoring.yaml",
        "configs/reports.yaml",
        "configs/labels.yaml",
        "configs/explain.yaml",
        "configs/rules.yaml",
        "configs/synth.yaml",
        "configs/thresholds.yaml",
        "mapping file",
        "bundle.yaml",
        "feature catalog",
    ],
)
def test_yaml_with_a_python_object_tag_runs_nothing(tmp_path: Path, entry: str) -> None:
    """Any YAML riskml reads (11 kinds) holding `!!python/object/apply:os.system [touch FILE]` →
    a clear error naming the file (not valid YAML / config), and the command never ran."""
    loader, key = _yaml_entry_points(tmp_path)[entry]
    sentinel = tmp_path / "pwned"
    path = tmp_path / "evil.yaml"
    path.write_text(
        f'{key}: !!python/object/apply:os.system ["touch {sentinel}"]\n', encoding="utf-8"
    )
    with pytest.raises(ValueError) as err:
        loader(path)
    assert "evil.yaml" in str(err.value) or "bundle.yaml" in str(err.value), str(err.value)
    assert not sentinel.exists()


def test_new_households_in_a_county_the_model_never_saw(
    canary_bundle: Bundle, canary_model: Any
) -> None:
    """A whole village of households with ids the model never saw, moved into a county, township
    and village code that did not exist at training → scored like the same households under their
    old ids and codes (same scores, tiers and reasons), every one accounted for."""
    from riskml.scoring import score_roster

    hh = canary_bundle.households
    village = hh["village_code"].value_counts().index[0]
    moved = set(hh.loc[hh["village_code"] == village, "household_id"])
    rename = {h: "NEW" + h[::-1] for h in moved}
    tables = {}
    for name, t in canary_bundle.tables.items():
        t = t.copy()
        t["household_id"] = t["household_id"].astype("string").replace(rename).astype("string")
        tables[name] = t
    new = tables["households"]["household_id"].isin(set(rename.values()))
    for col, code in [
        ("county_code", "159997"),
        ("township_code", "159997001"),
        ("village_code", "159997001001"),
    ]:
        tables["households"][col] = tables["households"][col].astype("string")
        tables["households"].loc[new, col] = code
    bundle = Bundle(tables=tables, extracted_on=canary_bundle.extracted_on)
    base = Bundle(tables=dict(canary_bundle.tables), extracted_on=canary_bundle.extracted_on)
    got = score_roster(bundle, SCORING_AS_OF, out=None, model=canary_model, quiet=True).scores
    ref = score_roster(base, SCORING_AS_OF, out=None, model=canary_model, quiet=True).scores
    assert len(got) == len(ref) == len(hh)
    g = got.set_index("household_id").loc[[rename[h] for h in sorted(moved)]]
    r = ref.set_index("household_id").loc[sorted(moved)]
    assert (g["county_code"] == "159997").all() and g["status"].eq("scored").any()
    cols = ["status", "score", "tier", "reason_1_zh", "reason_1_contribution"]
    pd.testing.assert_frame_equal(g[cols].reset_index(drop=True), r[cols].reset_index(drop=True))


def test_score_an_empty_folder(full_run: FullRun, tmp_path: Path) -> None:
    """`riskml score --data` an empty folder (the export never arrived) → exit 2 naming the folder
    and the missing households file; nothing written."""
    empty = tmp_path / "export"
    empty.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    args = _score_args(full_run, out / "s.parquet")
    args[args.index("--data") + 1] = str(empty)
    text = _refused(invoke(*args), "households")
    assert str(empty) in text
    assert list(out.iterdir()) == []


@pytest.mark.parametrize("kind", ["a pickle file", "a folder without MLmodel"])
def test_model_given_as_a_path_that_is_not_a_model(
    full_run: FullRun, tmp_path: Path, kind: str
) -> None:
    """`riskml score --model ./model.pkl` (or a folder with no MLmodel) → exit 2 saying it is not a
    MLflow model folder (no MLmodel file); the file is never unpickled; nothing written."""
    import pickle

    if kind == "a pickle file":
        target = tmp_path / "model.pkl"
        target.write_bytes(pickle.dumps({"not": "a model"}))
        expected = "is not an MLflow model folder"
    else:
        target = tmp_path / "model"
        target.mkdir()
        (target / "model.json").write_text("{}", encoding="utf-8")
        expected = "is not an MLflow model folder"
    out = tmp_path / "out"
    out.mkdir()
    args = _score_args(full_run, out / "s.parquet")
    args[args.index("--model") + 1] = str(target)
    _refused(invoke(*args), expected)
    assert list(out.iterdir()) == []


def test_training_set_given_as_the_score_file(full_run: FullRun, tmp_path: Path) -> None:
    """`riskml report --scores training.parquet` (the wrong riskml file) → exit 2 naming the file and
    the score-file columns it lacks; no report folder."""
    result = invoke(
        "report",
        "--scores",
        str(full_run.training_set),
        "--out",
        str(tmp_path / "r"),
        "--mode",
        "public",
    )
    _refused(result, str(full_run.training_set), "lacks column")
    assert not (tmp_path / "r").exists()


def test_score_file_with_a_household_in_no_village(full_run: FullRun, tmp_path: Path) -> None:
    """A score file whose rejected households have no county/township/village code (the loader
    set them aside) → the report still renders every placed household, and the index accounts for
    the unplaced ones instead of refusing the whole province."""
    from riskml.reports import render_review_reports
    from riskml.scoring import read_scores

    frame, _ = read_scores(full_run.scores)
    unplaced = frame["village_code"].isna()
    assert unplaced.sum() == 2 and (frame.loc[unplaced, "status"] == "rejected").all()
    result = render_review_reports(full_run.scores, tmp_path / "r", level="village", mode="public")
    assert sum(u["counts"]["total"] for u in result.units) == int((~unplaced).sum())
    import json
    import re

    manifest = json.loads((result.out_dir / ".riskml-reports.json").read_text(encoding="utf-8"))
    assert manifest["unplaced_households"] == 2 and manifest["households"] == len(frame)
    note = re.search(
        r'<p[^>]*id="unplaced"[^>]*>(.*?)</p>', result.index.read_text(encoding="utf-8")
    )
    assert note and "另有 2 户" in note.group(1)
