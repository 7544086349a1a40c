"""The real chain: synthetic province -> feature engine (catalog set ``default``) -> LightGBM ->
tree_shap -> reason codes with the real catalog templates and ``configs/explain.yaml``."""

from __future__ import annotations

from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from riskml.config.explain import load_explain_config
from riskml.data import RISK_TYPES
from riskml.explain import (
    TreeShapExplainer,
    global_importance,
    reason_codes,
    reconcile,
)

AS_OF = ["2022-06-30", "2023-06-30", "2024-06-30"]


@pytest.fixture(scope="module")
def explained(small_province: Any) -> tuple[Any, ...]:
    from riskml.features import build_training_set, compute_features, load_catalog

    bundle, _ = small_province
    training = build_training_set(bundle, AS_OF)
    X = training.X
    feature_set = load_catalog().feature_set("default")
    # the facts the statements quote (income year, monitoring line), computed for the same rows
    facts = compute_features(
        bundle, training.frame[["household_id", "as_of"]], feature_set, facts=True
    )[[f.name for f in feature_set.facts]].set_index(X.index)
    values = pd.concat([X, facts], axis=1)
    as_of = training.frame["as_of"].to_numpy()
    y = training.y.astype(int).to_numpy()
    booster = lgb.train(
        {"objective": "binary", "num_leaves": 15, "learning_rate": 0.05, "min_data_in_leaf": 20,
         "verbose": -1, "num_threads": 2, "seed": 3},
        lgb.Dataset(X, y),
        num_boost_round=80,
    )  # fmt: skip
    explainer = TreeShapExplainer(booster)
    contrib = explainer.shap_values(X)
    return X, booster, explainer, contrib, feature_set, values, as_of


def test_exact_on_engine_features(explained: tuple[Any, ...]) -> None:
    X, booster, explainer, contrib, feature_set, _, _ = explained
    assert list(X.columns) == feature_set.names
    assert np.abs(contrib - booster.predict(X, pred_contrib=True)).max() <= 1e-9
    # the premise of the method, on riskml's own features: far fewer patterns than rows
    patterns = explainer.patterns_per_tree()
    assert np.median(patterns) < 0.25 * len(X)


def test_reasons_with_the_real_catalog(explained: tuple[Any, ...]) -> None:
    X, booster, _, contrib, feature_set, values, as_of = explained
    raw = booster.predict(X, raw_score=True)
    internal = reason_codes(contrib, values, feature_set, min_contribution=0.05, as_of=as_of)
    reconcile(contrib, internal, raw_score=raw)
    assert internal["reason_count"].max() >= 2
    texts = internal.filter(regex=r"^reason_\d_(zh|en)$").stack().dropna().astype(str)
    assert len(texts) > 0
    assert not texts.str.contains(r"[{}]|未知|unknown|\bnan\b").any()  # every field was filled
    assert texts.str.contains(r"\d{4} 年").any()  # facts name the year of the data ...
    assert texts.str.contains(r"截至 20\d\d 年 \d{1,2} 月").any()  # ... and the scoring month
    # every filled reason slot has its text: a reason is always a stated fact
    for k in range(1, 5):
        filled = internal[f"reason_{k}_contribution"].notna()
        assert internal.loc[filled, [f"reason_{k}_zh", f"reason_{k}_public_zh"]].notna().all().all()
    # reasons are filed under official types only and never quote a village or neutral feature
    types = internal.filter(regex=r"^reason_\d_type$").stack().dropna()
    assert set(types) <= set(RISK_TYPES) and "income" not in set(types)
    tops = set(internal.filter(regex=r"^reason_\d_feature$").stack().dropna())
    by_name = {f.name: f for f in feature_set.features}
    assert tops and all(by_name[t].scope == "household" and by_name[t].statements for t in tops)
    context = internal["context_zh"].dropna()
    assert len(context) and context.str.startswith("本村").all()
    cfg = load_explain_config()
    measures = internal["measures_zh"].dropna().str.split(cfg.measures_separator_zh)
    assert len(measures) and measures.map(len).max() <= cfg.max_measures
    official = {m.zh for m in cfg.measures.values()}
    assert set(measures.explode()) <= official

    public = reason_codes(
        contrib, values, feature_set, mode="public", min_contribution=0.05, as_of=as_of
    )
    reconcile(contrib, public, raw_score=raw)
    shared = [c for c in public.columns if c in internal.columns]
    pd.testing.assert_frame_equal(public[shared], internal[shared])
    cells = set(public.select_dtypes(exclude="number").stack().dropna().astype(str))
    assert cells
    # nothing internal in public mode: no sensitive fact's internal wording, no risk-type name,
    # no feature name, no internal measure of a sensitive type
    sensitive = {f.name for f in feature_set.features if f.sensitive}
    assert sensitive  # the catalog marks health features
    leaks: set[str] = set()
    for k in range(1, 5):
        mask = internal[f"reason_{k}_feature"].isin(sensitive).fillna(False)
        leaks |= set(internal.loc[mask, f"reason_{k}_zh"].dropna())
        leaks |= set(internal.loc[mask, f"reason_{k}_en"].dropna())
    assert leaks
    leaks |= {cfg.risk_types[t].zh for t in cfg.risk_types if cfg.risk_types[t].sensitive}
    for t in cfg.risk_types.values():
        if t.sensitive:
            leaks |= {cfg.measures[m].zh for m in t.measures} - {
                cfg.measures[m].zh
                for t2 in cfg.risk_types.values()
                if not t2.sensitive
                for m in t2.measures_for(True)
            }
    text = " | ".join(cells)
    assert sorted(w for w in leaks if w in text) == []
    assert not any(name in text for name in feature_set.names)
    # a whole catalog works too (narrowed to the frame's feature columns, facts kept as facts)
    from riskml.features import load_catalog

    via_catalog = reason_codes(contrib, values, load_catalog(), min_contribution=0.05, as_of=as_of)
    pd.testing.assert_frame_equal(via_catalog, internal)


def test_the_shipped_catalog_names_only_configured_measures() -> None:
    """Every feature's own ``measures`` is a key of configs/explain.yaml ``measures``."""
    from riskml.features import load_catalog

    cfg = load_explain_config()
    for f in load_catalog().features.values():
        assert set(f.measures) <= set(cfg.measures), (f.name, f.measures)


def test_global_importance_by_risk_type(explained: tuple[Any, ...]) -> None:
    _, _, _, contrib, feature_set, _, _ = explained
    gi = global_importance(contrib, feature_set)
    assert len(gi.by_feature) == len(feature_set)
    assert set(gi.by_risk_type["risk_type"]) <= set(load_explain_config().risk_types)
    assert gi.by_risk_type["share"].sum() == pytest.approx(1.0)
    assert isinstance(gi.by_risk_type, pd.DataFrame)
