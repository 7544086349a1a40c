"""Every reason riskml states for a flagged household is true of that household's records.

On two provinces (the shared small province, and one generated with another seed and other
parameters: more accidents, job losses and dropouts, fewer hospital stays), score the roster with
the real pipeline in both modes, then derive, from the *raw bundle* with the slow row-by-row
reference of ``tests/features/test_primitives.py`` (not the feature engine), every catalog value
of each flagged household. From those values alone, rebuild the sentences each feature may
truthfully state (its first statement whose condition holds). Every fact in every stated reason
(internal and public, Chinese and English) must be one of them, under the risk type it is filed
under; and no sentence may break the wording rules.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from riskml.explain import wording_problems
from riskml.features._statements import as_of_values, first_statement, render_template
from riskml.scoring import score_roster
from tests.features.test_primitives import reference_value
from tests.scoring.conftest import _train_model, register_model

SEPARATORS = {"zh": "；", "en": "; "}


def _province_b(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Another seed and other parameters: non-health shocks three times as frequent."""
    from riskml.config.synth import load_synth_config
    from riskml.synth import write_synthetic_province

    cfg = load_synth_config()
    health = cfg.health.model_copy(
        update={
            "accident_annual_working_age": min(1.0, 3 * cfg.health.accident_annual_working_age),
            "serious_monthly_hospitalization": cfg.health.serious_monthly_hospitalization / 2,
        }
    )
    work = cfg.work.model_copy(
        update={
            "job_loss_monthly": {k: min(1.0, 3 * v) for k, v in cfg.work.job_loss_monthly.items()},
            "dropout_monthly": min(1.0, 3 * cfg.work.dropout_monthly),
        }
    )
    cfg = cfg.model_copy(update={"health": health, "work": work})
    out = tmp_path_factory.mktemp("province-b") / "province_b"
    write_synthetic_province(out, 2500, 23, format="parquet", config=cfg)
    return out


@pytest.fixture(scope="module", params=["province_a", "province_b"])
def province(
    request: pytest.FixtureRequest,
    small_province_dir: Path,
    registered_model: str,
    scoring_store: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, Any]:
    from riskml.data import load_bundle

    if request.param == "province_a":
        path, uri = small_province_dir, registered_model
    else:
        path = _province_b(tmp_path_factory)
        uri = register_model(
            _train_model(load_bundle(path)),
            scoring_store,
            tmp_path_factory.mktemp("b-model"),
            "truth-b",
        )
    bundle = load_bundle(path)
    as_of = bundle.extracted_on
    out = tmp_path_factory.mktemp(request.param)
    runs = {
        mode: score_roster(
            path,
            as_of,
            out=out / f"{mode}.parquet",
            model_uri=uri,
            mode=mode,  # type: ignore[arg-type]
            tracking_uri=scoring_store,
            quiet=True,
        )
        for mode in ("internal", "public")
    }
    return {
        "bundle": bundle,
        "as_of": pd.Timestamp(as_of),
        "runs": runs,
        "uri": uri,
        "store": scoring_store,
    }


def _restricted(bundle: Any, ids: set[str]) -> Any:
    """The bundle's rows of these households only (the slow reference loops over every row)."""
    tables = {
        name: frame.loc[frame["household_id"].astype("object").isin(ids)].reset_index(drop=True)
        for name, frame in bundle.tables.items()
    }
    return dataclasses.replace(bundle, tables=tables)


def _true_statements(
    bundle: Any, fs: Any, hid: str, as_of: pd.Timestamp
) -> dict[tuple[str, str, bool], set[str]]:
    """(risk type, lang, public) -> the sentences the household's own records support."""
    done: dict[str, Any] = {}
    for f in fs.required:
        if f.primitive == "context":
            continue
        done[f.name] = reference_value(bundle, f, hid, as_of, done)
    values = {**done, **(as_of_values(as_of) or {})}
    frame = pd.DataFrame([{k: (np.nan if v is None else v) for k, v in values.items()}])
    for f in fs.features:
        if f.dtype == "category":
            frame[f.name] = frame[f.name].astype("object")
    out: dict[tuple[str, str, bool], set[str]] = {}
    for f in fs.features:
        if f.scope != "household" or not f.statements:
            continue
        k = first_statement(f.statements, f.name, frame, has_as_of=True)[0]
        if k < 0:
            continue
        for lang in ("zh", "en"):
            for public in (False, True):
                text = render_template(
                    f.statements[k].text(lang, public), f.name, values, lang, f.levels
                )
                if text is not None:
                    out.setdefault((f.risk_type, lang, public), set()).add(text)
                    out.setdefault(("*", lang, public), set()).add(text)
    return out


def test_every_stated_fact_is_true_of_the_households_records(province: dict[str, Any]) -> None:
    from riskml.tracking import load_risk_model

    internal = province["runs"]["internal"].scores
    public = province["runs"]["public"].scores
    fs = load_risk_model(province["uri"], tracking_uri=province["store"]).feature_set
    flagged = internal.loc[internal["flagged"].fillna(False).astype(bool)].reset_index(drop=True)
    assert len(flagged) >= 30
    ids = set(flagged["household_id"].astype(str))
    bundle = _restricted(province["bundle"], ids)
    as_of = province["as_of"]
    # the public file masks ids; its rows are in the same roster order as the internal file
    pub = public.loc[internal["flagged"].fillna(False).astype(bool).to_numpy()].reset_index(
        drop=True
    )

    checked = true = 0
    false_facts: list[tuple[str, str, str]] = []
    wording: list[str] = []
    for i, row in flagged.iterrows():
        truth = _true_statements(bundle, fs, str(row["household_id"]), as_of)
        for k in range(1, 5):
            rtype = row[f"reason_{k}_type"]
            if pd.isna(rtype):
                assert pd.isna(row[f"reason_{k}_zh"])
                continue
            assert rtype in {f.risk_type for f in fs.features}
            columns = [
                (row[f"reason_{k}_zh"], "zh", False, rtype),
                (row[f"reason_{k}_en"], "en", False, rtype),
                (row[f"reason_{k}_public_zh"], "zh", True, rtype),
                (row[f"reason_{k}_public_en"], "en", True, rtype),
                # the public file: no risk type there, the fact must still be the household's
                (pub.loc[i, f"reason_{k}_public_zh"], "zh", True, "*"),
                (pub.loc[i, f"reason_{k}_public_en"], "en", True, "*"),
            ]
            for text, lang, is_public, key in columns:
                assert isinstance(text, str) and text, (row["household_id"], k, lang)
                wording += wording_problems(text, lang)
                for fact in text.split(SEPARATORS[lang]):
                    checked += 1
                    if fact in truth.get((key, lang, is_public), set()):
                        true += 1
                    else:
                        false_facts.append((str(row["household_id"]), key, fact))
    assert checked > 100
    print(f"facts true of the records: {true}/{checked} ({true / checked:.2%})")
    assert true / checked >= 0.99, (true, checked, false_facts[:10])
    assert not wording, wording[:10]


def test_village_context_is_never_a_household_reason(province: dict[str, Any]) -> None:
    internal = province["runs"]["internal"].scores
    flagged = internal.loc[internal["flagged"].fillna(False).astype(bool)]
    for k in range(1, 5):
        texts = flagged[f"reason_{k}_zh"].dropna()
        assert not texts.str.contains("本村").any()
    ctx = flagged["context_zh"].dropna()
    assert ctx.str.startswith("本村").all()
    for text in [*ctx.unique(), *flagged["context_en"].dropna().unique()]:
        assert not wording_problems(text, "zh" if "本村" in text else "en")


def test_neutral_structure_is_never_stated(province: dict[str, Any]) -> None:
    """Household size, livelihood, years since exit, income shares: never a reason."""
    internal = province["runs"]["internal"].scores
    flagged = internal.loc[internal["flagged"].fillna(False).astype(bool)]
    stated = Counter(
        v for k in range(1, 5) for v in flagged[f"reason_{k}_feature"].dropna().astype(str)
    )
    for name in (
        "household_size",
        "livelihood",
        "years_since_poverty_exit",
        "wage_share_last",
        "business_share_last",
        "assistance_amount_past_36m",
        "months_since_income_record",
    ):
        assert stated[name] == 0, name


def test_measures_are_capped_official_and_net_of_assistance_in_place(
    province: dict[str, Any],
) -> None:
    from riskml.config.explain import load_explain_config
    from riskml.features import assistance_in_place

    cfg = load_explain_config()
    internal = province["runs"]["internal"].scores
    flagged = internal.loc[internal["flagged"].fillna(False).astype(bool)].reset_index(drop=True)
    official = {m.zh for m in cfg.measures.values()}
    measures = flagged["measures_zh"].dropna().str.split(cfg.measures_separator_zh)
    assert len(measures) > 0
    assert measures.map(len).max() <= cfg.max_measures
    assert set(measures.explode()) <= official
    # a household on 低保 is never proposed 低保; it is told it already receives it
    pairs = pd.DataFrame({"household_id": flagged["household_id"], "as_of": province["as_of"]})
    have = assistance_in_place(province["bundle"], pairs)
    dibao = cfg.measures["dibao"]
    for i, codes in enumerate(have):
        proposed = flagged.loc[i, "measures_zh"]
        if set(dibao.covers) & codes:
            assert pd.isna(proposed) or dibao.zh not in str(proposed)


def test_public_sentences_vary_with_the_facts(province: dict[str, Any]) -> None:
    """No single public sentence stands in for a whole risk type: the public register follows
    the household's facts."""
    public = province["runs"]["public"].scores
    flagged = public.loc[public["flagged"].fillna(False).astype(bool)]
    sentences = Counter(
        s for k in range(1, 5) for s in flagged[f"reason_{k}_public_zh"].dropna().astype(str)
    )
    first = flagged["reason_1_public_zh"].dropna()
    assert len(sentences) >= 5
    # the most common first reason is carried by well under all flagged households
    assert first.value_counts().iloc[0] / max(len(first), 1) < 0.8
