"""End-to-end scoring on the small province with a real model: reconciliation, tiers, reasons,
formats, public mode, change since the previous run, drift and refusals."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from riskml.config.explain import load_explain_config
from riskml.config.scoring import ScoringConfig, TierConfig, load_scoring_config
from riskml.config.training import load_training_config
from riskml.data import RISK_TYPES
from riskml.scoring import (
    SCORE_COLUMNS,
    SignatureMismatchError,
    columns_for_mode,
    read_scores,
    score_roster,
)
from riskml.scoring._columns import EXPLANATION_COLUMNS

from .conftest import SCORING_AS_OF, TRAIN_AS_OF, model_with_input_schema


def _config(**tiers: Any) -> ScoringConfig:
    cfg = load_scoring_config()
    if tiers:
        cfg = cfg.model_copy(update={"tiers": TierConfig(**(cfg.tiers.model_dump() | tiers))})
    return cfg


@pytest.fixture(scope="module")
def flawed_run(
    flawed_province_dir: tuple[Path, dict[str, str]],
    risk_model: Any,
    tmp_path_factory: pytest.TempPathFactory,
) -> Any:
    folder, _ = flawed_province_dir
    out = tmp_path_factory.mktemp("flawed-run") / "scores.parquet"
    return score_roster(
        folder,
        SCORING_AS_OF,
        out=out,
        model=risk_model,
        model_uri="models:/test@champion",
        quiet=True,
    )


def test_every_input_household_is_scored_not_eligible_or_rejected(
    flawed_run: Any, flawed_province_dir: Any
) -> None:
    folder, ids = flawed_province_dir
    roster = pd.read_parquet(folder / "households.parquet")["household_id"]
    scores = flawed_run.scores.set_index("household_id")
    expected = set(roster) | {ids["orphan"]}
    assert set(scores.index) == expected and scores.index.is_unique
    summary = flawed_run.summary
    assert summary["input_households"] == len(expected)
    assert sum(summary["status"].values()) == len(expected) and summary["reconciled"] is True
    assert summary["status"]["scored"] > 0 and summary["status"]["not_eligible"] > 0
    # the set-aside household and the orphan are rejected with the loader's reason
    assert scores.loc[ids["set_aside"], "status"] == "rejected"
    assert "village_code" in scores.loc[ids["set_aside"], "status_detail"]
    assert scores.loc[ids["orphan"], "status"] == "rejected"
    assert "not in households" in scores.loc[ids["orphan"], "status_detail"]
    assert summary["status"]["rejected"] == 2
    # a bad income row does not reject its household
    assert scores.loc[ids["bad_income"], "status"] in ("scored", "not_eligible")
    assert summary["quarantined_rows_by_table"]["income"] >= 1


def test_not_eligible_households_are_listed_with_since_when_and_category(
    flawed_run: Any, province_bundle: Any
) -> None:
    from riskml.features import monitoring_status

    s = flawed_run.scores
    ne = s.loc[s["status"] == "not_eligible"]
    pairs = pd.DataFrame(
        {"household_id": ne["household_id"].to_numpy(), "as_of": pd.Timestamp(SCORING_AS_OF)}
    )
    status = monitoring_status(province_bundle, pairs)
    assert status["under_monitoring"].all()
    first = ne.iloc[0]
    since = pd.Timestamp(status["identified_on"].iloc[0]).strftime("%Y-%m-%d")
    assert (
        since in first["status_detail"]
        and str(status["category"].iloc[0]) in first["status_detail"]
    )
    assert ne["score"].isna().all() and ne["tier"].isna().all() and not ne["flagged"].any()
    assert set(flawed_run.summary["not_eligible_by_category"]) <= {
        "edge",
        "unstable_exited",
        "sudden_hardship",
    }


def test_file_has_the_contract_columns_ranks_tiers_and_metadata(flawed_run: Any) -> None:
    frame, meta = read_scores(flawed_run.path)
    assert tuple(frame.columns) == SCORE_COLUMNS
    assert meta["model"]["name"] and meta["model"]["version"] and meta["feature_set"]["version"]
    assert meta["as_of"] == SCORING_AS_OF and meta["mode"] == "internal"
    scored = frame.loc[frame["status"] == "scored"]
    assert scored["score"].between(0, 1).all() and scored["raw_score"].notna().all()
    # ranks are 1..n within each village
    for _, g in scored.groupby(["county_code", "township_code", "village_code"]):
        assert sorted(g["rank_village"].tolist()) == list(range(1, len(g) + 1))
        assert g.sort_values("rank_village")["score"].is_monotonic_decreasing
    tiers = load_scoring_config().tiers
    assert tiers.method == "capacity" and tiers.flagged == ("high",)
    # the flagged tier is the capacity the model was backtested at (configs/training.yaml)
    share = load_training_config().capacity.share
    n = len(scored)
    assert int(scored["flagged"].sum()) == int(np.floor(share * n + 0.5))
    flagged = scored.loc[scored["flagged"].astype(bool)]
    assert (flagged["tier"] == "high").all()
    assert flagged["score"].min() >= scored.loc[~scored["flagged"].astype(bool), "score"].max()
    summary = json.loads(Path(str(flawed_run.path) + ".summary.json").read_text(encoding="utf-8"))
    assert summary["tiers"] == {
        t: int((scored["tier"] == t).sum()) for t in ("high", "medium", "low")
    }


def test_flagged_households_get_up_to_four_reasons_and_others_none(
    flawed_run: Any, risk_model: Any
) -> None:
    s = flawed_run.scores
    flagged = s.loc[s["flagged"]]
    assert len(flagged) > 0
    assert (
        flagged["reason_1_public_zh"].notna().mean() > 0.8
    )  # most flags have a positive risk group
    explanation = [c for c in s.columns if c.startswith("reason_") or c in EXPLANATION_COLUMNS]
    assert s.loc[~s["flagged"], explanation].isna().all().all()
    with_reason = flagged.loc[flagged["reason_1_zh"].notna()]
    assert (with_reason["reason_1_contribution"] > 0).all()
    both = with_reason["reason_2_contribution"].notna()
    assert (
        with_reason.loc[both, "reason_1_contribution"]
        >= with_reason.loc[both, "reason_2_contribution"]
    ).all()
    # a reason is a stated fact: its text, the catalog feature it quotes, an official type
    assert (
        with_reason[["reason_1_public_zh", "reason_1_feature", "reason_1_type"]].notna().all().all()
    )
    assert set(with_reason["reason_1_type"]) <= set(RISK_TYPES)
    features = {f.name: f for f in risk_model.feature_set.features}
    tops = set(flagged.filter(regex=r"^reason_\d_feature$").stack().dropna())
    assert tops and all(features[t].scope == "household" and features[t].statements for t in tops)
    # household-level measures: proposed or already in place, never more than max_measures
    cfg = load_explain_config()
    has_measure = with_reason["measures_zh"].notna() | with_reason["measures_in_place_zh"].notna()
    assert has_measure.all()
    proposed = with_reason["measures_zh"].dropna().str.split(cfg.measures_separator_zh)
    assert proposed.map(len).max() <= cfg.max_measures
    in_place = with_reason["measures_in_place_zh"].dropna()
    assert in_place.str.split(cfg.measures_separator_zh).explode().str.startswith("已享受").all()
    # village context is never a reason, only context
    assert flagged["context_zh"].dropna().str.startswith("本村").all()


def test_reasons_reconcile_with_the_models_raw_score(
    flawed_run: Any, flawed_province_dir: tuple[Path, dict[str, str]], risk_model: Any
) -> None:
    """Recompute TreeSHAP for the flagged households: the file's reasons are the top groups of
    stated facts' contributions that, with other factors and the base value, add up to the
    file's raw score; the texts and measures are the ones reason_codes gives with the facts,
    the scoring month and the assistance in place."""
    from riskml.data import load_bundle
    from riskml.explain import reason_codes, reconcile, tree_shap
    from riskml.features import assistance_in_place, village_context
    from riskml.scoring._partition import compute_features

    province_bundle = load_bundle(flawed_province_dir[0])

    s = flawed_run.scores
    flagged = s.loc[s["flagged"]].head(200).reset_index(drop=True)
    pairs = pd.DataFrame(
        {"household_id": flagged["household_id"].to_numpy(), "as_of": pd.Timestamp(SCORING_AS_OF)}
    )
    vt = village_context(province_bundle, [pd.Timestamp(SCORING_AS_OF)])
    X = compute_features(province_bundle, pairs, risk_model, vt)  # features and facts
    facts = [f.name for f in risk_model.feature_set.facts]
    assert facts and set(facts) <= set(X.columns)
    model_X = X.drop(columns=facts)
    contrib = tree_shap(risk_model.booster, risk_model.model.encode(risk_model.prepare(model_X)))
    in_place = assistance_in_place(province_bundle, pairs)
    reasons = reason_codes(
        contrib,
        X,
        risk_model.feature_set.features,
        max_reasons=4,
        as_of=SCORING_AS_OF,
        in_place=in_place,
    )
    reconcile(contrib, reasons, raw_score=flagged["raw_score"].to_numpy(), atol=1e-9)
    for k in range(1, 5):
        np.testing.assert_allclose(
            flagged[f"reason_{k}_contribution"].to_numpy(dtype=float, na_value=np.nan),
            reasons[f"reason_{k}_contribution"].to_numpy(dtype=float, na_value=np.nan),
            rtol=0,
            atol=1e-12,
        )
        for field in ("type", "feature", "zh", "en", "public_zh", "public_en"):
            pd.testing.assert_series_equal(
                flagged[f"reason_{k}_{field}"], reasons[f"reason_{k}_{field}"], check_names=False
            )
    for c in EXPLANATION_COLUMNS:
        pd.testing.assert_series_equal(flagged[c], reasons[c], check_names=False)
    # without the facts and the month, the file's reasons could not be stated
    bare = reason_codes(contrib, X, risk_model.feature_set.features, max_reasons=4)
    assert bare["reason_count"].sum() < reasons["reason_count"].sum()


def test_capacity_tiers_flag_the_top_of_each_village_and_explain_them(
    province_bundle: Any, risk_model: Any
) -> None:
    """A model recorded with capacity.per_village = 2 -> the top 2 of each village are flagged
    (high), the next 2 medium (medium_multiple 2), and every flagged one is explained."""
    risk_model.metadata["capacity"] = {"share": None, "per_village": 2}
    try:
        run = score_roster(
            province_bundle, SCORING_AS_OF, out=None, model=risk_model, config=_config(), quiet=True
        )
    finally:
        del risk_model.metadata["capacity"]
    s = run.scores
    scored = s.loc[s["status"] == "scored"]
    assert (scored.loc[scored["rank_village"] <= 2, "tier"] == "high").all()
    assert (scored.loc[scored["rank_village"].between(3, 4), "tier"] == "medium").all()
    assert (scored.loc[scored["rank_village"] > 4, "tier"] == "low").all()
    per_village = scored.groupby(["county_code", "township_code", "village_code"])["flagged"].sum()
    assert (per_village <= 2).all() and per_village.max() == 2
    # flagged only after ranking the whole roster: the second pass explained every one of them
    assert run.summary["explained"] == int(s["flagged"].sum())
    assert s.loc[s["flagged"], "reason_1_public_zh"].notna().mean() > 0.8


def test_explain_all_gives_reasons_to_every_scored_household(
    province_bundle: Any, risk_model: Any
) -> None:
    run = score_roster(
        province_bundle, SCORING_AS_OF, out=None, model=risk_model, explain="all", quiet=True
    )
    s = run.scores
    assert run.summary["explained"] == run.summary["status"]["scored"]
    assert s.loc[~s["flagged"] & (s["status"] == "scored"), "reason_1_public_zh"].notna().any()


@pytest.mark.parametrize("ext", [".csv", ".xlsx"])
def test_csv_and_excel_outputs_carry_chinese_headers_and_metadata(
    province_bundle: Any, risk_model: Any, tmp_path: Path, ext: str
) -> None:
    out = tmp_path / f"scores{ext}"
    run = score_roster(province_bundle, SCORING_AS_OF, out=out, model=risk_model, quiet=True)
    if ext == ".csv":
        assert out.read_bytes()[:3] == b"\xef\xbb\xbf"
        plain = pd.read_csv(out, encoding="utf-8-sig", dtype=str)
    else:
        plain = pd.read_excel(out, sheet_name="评分结果", dtype=str)
    assert plain.columns[0] == "户编号"
    for header in (
        "风险等级",
        "风险原因1",
        "风险原因1依据指标",
        "建议帮扶措施",
        "已享受帮扶",
        "本村情况",
    ):
        assert header in plain.columns, header
    assert "建议帮扶措施1" not in plain.columns  # measures are per household, not per reason
    assert len(plain) == run.summary["input_households"]
    meta = json.loads((tmp_path / f"scores{ext}.meta.json").read_text(encoding="utf-8"))
    assert meta["feature_set"]["version"] == run.metadata["feature_set"]["version"]
    back, _ = read_scores(out)
    assert back["household_id"].tolist() == run.scores["household_id"].tolist()


def test_public_mode_masks_ids_and_drops_internal_texts(
    province_bundle: Any, risk_model: Any, tmp_path: Path
) -> None:
    internal = score_roster(
        province_bundle, SCORING_AS_OF, out=None, model=risk_model, quiet=True
    ).scores
    out = tmp_path / "public.csv"
    run = score_roster(
        province_bundle, SCORING_AS_OF, out=out, model=risk_model, mode="public", quiet=True
    )
    frame, meta = read_scores(out)
    assert meta["mode"] == "public"
    assert tuple(frame.columns) == columns_for_mode("public")
    # internal texts, types, features and internal measures are not in the file; the village
    # context (本村…, never a household fact) is
    internal_only = [
        c
        for c in frame.columns
        if c.endswith(("_zh", "_en", "_type", "_feature"))
        and not c.startswith("public_")
        and "_public_" not in c
    ]
    assert internal_only == ["context_zh", "context_en"]
    assert "measures_zh" not in frame.columns and "measures_in_place_zh" not in frame.columns
    assert frame["household_id"].str.fullmatch(r"\*{6}.{4}").all()
    text = out.read_text(encoding="utf-8-sig")
    for hid in internal["household_id"].head(500):
        assert hid not in text
    # the internal wording of sensitive facts (health details, amounts) never reaches the file;
    # a non-sensitive fact has one wording for both registers
    sensitive = {f.name for f in risk_model.feature_set.features if f.sensitive}
    leaked: list[str] = []
    for k in range(1, 5):
        is_sensitive = internal[f"reason_{k}_feature"].isin(sensitive).fillna(False)
        for internal_text in internal.loc[is_sensitive, f"reason_{k}_zh"].dropna().unique()[:50]:
            if internal_text in text:
                leaked.append(internal_text)
    assert leaked == []
    assert internal["reason_1_feature"].isin(sensitive).any()
    assert (
        not frame["status_detail"]
        .dropna()
        .str.contains(r"\d{4}-\d{2}-\d{2}|edge|unstable|sudden")
        .any()
    )
    assert frame.loc[frame["flagged"].fillna(False), "reason_1_public_zh"].notna().any()
    # the public register is the same as in the internal run
    for c in ("reason_1_public_zh", "public_measures_zh", "public_measures_in_place_zh"):
        np.testing.assert_array_equal(
            frame[c].fillna("").to_numpy(), internal[c].fillna("").to_numpy()
        )
    # measures of sensitive risk types (they would reveal illness or disability) stay internal
    cfg = load_explain_config()
    assert internal["measures_zh"].str.contains(cfg.measures["medical_assistance"].zh).any()
    for code in ("medical_assistance", "critical_illness_insurance", "health_support"):
        assert cfg.measures[code].zh not in text
    # same scores as the internal run, only less detail
    np.testing.assert_array_equal(frame["score"].to_numpy(), internal["score"].to_numpy())
    assert run.summary["mode"] == "public"


def test_change_since_previous_run(province_bundle: Any, risk_model: Any, tmp_path: Path) -> None:
    first = tmp_path / "2025-03.parquet"
    score_roster(province_bundle, "2025-03-31", out=first, model=risk_model, quiet=True)
    run = score_roster(
        province_bundle,
        SCORING_AS_OF,
        out=tmp_path / "2025-06.parquet",
        model=risk_model,
        previous=first,
        quiet=True,
    )
    s = run.scores
    prev, _ = read_scores(first)
    assert s["change"].notna().all()
    merged = s.merge(
        prev[["household_id", "flagged", "score"]], on="household_id", suffixes=("", "_prev")
    )
    new_flag = merged["flagged"] & ~merged["flagged_prev"].fillna(False)
    assert (merged.loc[new_flag, "change"] == "new_flag").all()
    dropped = ~merged["flagged"] & merged["flagged_prev"].fillna(False)
    assert (merged.loc[dropped, "change"] == "no_longer_flagged").all()
    np.testing.assert_array_equal(
        merged["previous_score"].to_numpy(), merged["score_prev"].to_numpy()
    )
    counts = run.summary["change"]
    assert sum(v for k, v in counts.items() if k != "left_roster") == len(s)
    assert counts["left_roster"] == 0


def test_drift_warning_names_the_shifted_features(province_bundle: Any, risk_model: Any) -> None:
    from riskml.data import Bundle

    as_of = TRAIN_AS_OF[-1]  # a training as-of date: the roster looks like the reference
    base = score_roster(province_bundle, as_of, out=None, model=risk_model, quiet=True).summary[
        "drift"
    ]
    shifted_income = province_bundle.income.copy()
    for col in ("wage_income", "business_income", "transfer_income"):
        shifted_income[col] = shifted_income[col] * 4
    tables = dict(province_bundle.tables, income=shifted_income)
    shifted = Bundle(
        tables=tables,
        extracted_on=province_bundle.extracted_on,
        province=province_bundle.province,
        source=province_bundle.source,
    )
    drift = score_roster(shifted, as_of, out=None, model=risk_model, quiet=True).summary["drift"]
    assert "pc_income_last" not in base["warnings"]
    assert "pc_income_last" in drift["warnings"]
    assert drift["psi"]["pc_income_last"] >= drift["psi_warn"] > base["psi"]["pc_income_last"]


def test_signature_mismatch_is_refused_naming_the_columns(
    province_bundle: Any, risk_model: Any, tmp_path: Path
) -> None:
    other = model_with_input_schema(
        risk_model,
        pc_income_last="string",  # the model was trained with it as text: types differ
        household_assets_index="double",  # and with a feature this catalog cannot compute
    )
    out = tmp_path / "s.parquet"
    with pytest.raises(
        SignatureMismatchError, match=r"household_assets_index.*pc_income_last"
    ) as err:
        score_roster(province_bundle, SCORING_AS_OF, out=out, model=other, quiet=True)
    assert "does not match the signature" in str(err.value)
    assert list(tmp_path.iterdir()) == []


def test_pred_contrib_fallback_gives_the_same_reasons(
    province_bundle: Any, risk_model: Any
) -> None:
    """explain.method pred_contrib (LightGBM's own SHAP) → the same reasons as the kernel."""
    kernel = score_roster(
        province_bundle, SCORING_AS_OF, out=None, model=risk_model, explain="all", quiet=True
    )
    fallback = score_roster(
        province_bundle,
        SCORING_AS_OF,
        out=None,
        model=risk_model,
        explain="all",
        shap_method="pred_contrib",
        quiet=True,
    )
    assert kernel.summary["config"]["shap_method"] == "tree_shap"
    assert fallback.summary["config"]["shap_method"] == "pred_contrib"
    a, b = kernel.scores, fallback.scores
    numbers = [c for c in a.columns if c.endswith("_contribution") or c == "other_contribution"]
    assert numbers
    np.testing.assert_allclose(
        a[numbers].to_numpy(dtype=float, na_value=np.nan),
        b[numbers].to_numpy(dtype=float, na_value=np.nan),
        rtol=0,
        atol=1e-9,
    )
    texts = [c for c in a.columns if c.startswith("reason_") and c.endswith(("_zh", "_en"))]
    pd.testing.assert_frame_equal(a[texts], b[texts])
