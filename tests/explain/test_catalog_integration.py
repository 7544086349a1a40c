"""The real chain: synthetic province -> feature engine (catalog set ``default``) -> LightGBM ->
tree_shap -> reason codes with the real catalog templates and ``configs/explain.yaml``."""

from __future__ import annotations

from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from riskml.config.explain import load_explain_config
from riskml.explain import (
    TreeShapExplainer,
    global_importance,
    reason_codes,
    reconcile,
)

AS_OF = ["2022-06-30", "2023-06-30", "2024-06-30"]


@pytest.fixture(scope="module")
def explained(small_province: Any) -> tuple[Any, ...]:
    from riskml.features import build_training_set, load_catalog

    bundle, _ = small_province
    training = build_training_set(bundle, AS_OF)
    X = training.X
    y = training.y.astype(int).to_numpy()
    booster = lgb.train(
        {"objective": "binary", "num_leaves": 15, "learning_rate": 0.05, "min_data_in_leaf": 20,
         "verbose": -1, "num_threads": 2, "seed": 3},
        lgb.Dataset(X, y),
        num_boost_round=80,
    )  # fmt: skip
    explainer = TreeShapExplainer(booster)
    contrib = explainer.shap_values(X)
    feature_set = load_catalog().feature_set("default")
    return X, booster, explainer, contrib, feature_set


def test_exact_on_engine_features(explained: tuple[Any, ...]) -> None:
    X, booster, explainer, contrib, feature_set = explained
    assert list(X.columns) == feature_set.names
    assert np.abs(contrib - booster.predict(X, pred_contrib=True)).max() <= 1e-9
    # the premise of the method, on riskml's own features: far fewer patterns than rows
    patterns = explainer.patterns_per_tree()
    assert np.median(patterns) < 0.25 * len(X)


def test_reasons_with_the_real_catalog(explained: tuple[Any, ...]) -> None:
    X, booster, _, contrib, feature_set = explained
    raw = booster.predict(X, raw_score=True)
    internal = reason_codes(contrib, X, feature_set, min_contribution=0.05)
    reconcile(contrib, internal, raw_score=raw)
    assert internal["reason_count"].max() >= 2
    texts = internal.filter(regex=r"^reason_\d_(zh|en)$").stack().dropna().astype(str)
    assert len(texts) > 0
    assert not texts.str.contains(r"[{}]").any()  # every template field was filled
    cfg = load_explain_config()
    types = internal.filter(regex=r"^reason_\d_type$").stack().dropna()
    assert set(types) <= set(cfg.risk_types)

    public = reason_codes(contrib, X, feature_set, mode="public", min_contribution=0.05)
    reconcile(contrib, public, raw_score=raw)
    allowed = set()
    for w in cfg.risk_types.values():
        allowed |= {w.public_zh, w.public_en}
        allowed |= {cfg.measures_separator_zh.join(w.public_measures("zh"))}
        allowed |= {cfg.measures_separator_en.join(w.public_measures("en"))}
    cells = set(public.select_dtypes(exclude="number").stack().dropna().astype(str))
    assert cells and cells <= allowed  # nothing but configured public wording
    # a whole catalog works too (narrowed to the frame's columns)
    from riskml.features import load_catalog

    via_catalog = reason_codes(contrib, X, load_catalog(), min_contribution=0.05)
    pd.testing.assert_frame_equal(via_catalog, internal)
    sensitive = [f.name for f in feature_set.features if f.sensitive]
    assert sensitive  # the catalog marks health features
    assert not any(name in cell for cell in cells for name in feature_set.names)


def test_global_importance_by_risk_type(explained: tuple[Any, ...]) -> None:
    _, _, _, contrib, feature_set = explained
    gi = global_importance(contrib, feature_set)
    assert len(gi.by_feature) == len(feature_set)
    assert set(gi.by_risk_type["risk_type"]) <= set(load_explain_config().risk_types)
    assert gi.by_risk_type["share"].sum() == pytest.approx(1.0)
    assert isinstance(gi.by_risk_type, pd.DataFrame)
