"""tree_shap must equal LightGBM's own pred_contrib (max abs diff <= 1e-9), row for row."""

from __future__ import annotations

import tomllib
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
from packaging.requirements import Requirement

from riskml.explain import (
    PredContribExplainer,
    TreeShapExplainer,
    _treeshap,
    check_against_shap,
    make_explainer,
    tree_shap,
)
from riskml.explain._check import _import_shap
from riskml.explain._ensemble import lightgbm_matrix

ATOL = 1e-9


def max_diff(a: np.ndarray, b: np.ndarray) -> float:
    assert a.shape == b.shape
    return float(np.abs(a - b).max())


def test_equals_pred_contrib_on_household_frame(household_booster, household_data):
    _, _, X_new = household_data
    ours = tree_shap(household_booster, X_new)
    ref = household_booster.predict(X_new, pred_contrib=True)
    assert ours.shape == (len(X_new), X_new.shape[1] + 1)
    assert max_diff(ours, ref) <= ATOL
    # the rows add up to the raw score, and the input really has NaNs, zeros and categories
    raw = household_booster.predict(X_new, raw_score=True)
    assert np.abs(ours.sum(axis=1) - raw).max() <= ATOL
    assert X_new.isna().any().sum() >= 3
    assert (X_new["signed"] == 0).sum() > 0
    assert household_booster.num_trees() == 200


def test_model_really_splits_on_categories_nan_and_zero(household_booster):
    dump = household_booster.dump_model()
    kinds = set()
    stack = [t["tree_structure"] for t in dump["tree_info"]]
    while stack:
        node = stack.pop()
        if "split_index" in node:
            kinds.add((node["decision_type"], node["missing_type"]))
            stack += [node["left_child"], node["right_child"]]
    assert ("==", "NaN") in kinds or ("==", "None") in kinds  # categorical splits
    assert ("<=", "NaN") in kinds  # numerical splits with a NaN direction


def test_leaf_index_equals_pred_leaf(household_booster, household_data):
    _, _, X_new = household_data
    explainer = TreeShapExplainer(household_booster)
    np.testing.assert_array_equal(
        explainer.leaf_index(X_new), household_booster.predict(X_new, pred_leaf=True)
    )


@pytest.mark.parametrize(
    "params",
    [
        {"use_missing": True},  # missing_type NaN
        {"zero_as_missing": True},  # missing_type Zero: zeros and NaN take the default side
        {"use_missing": False},  # missing_type None: NaN is read as 0
    ],
    ids=["nan", "zero_as_missing", "no_missing"],
)
def test_missing_value_handling(params, make_frame, make_booster):
    X, y = make_frame(2500, seed=3)
    X_new, _ = make_frame(1500, seed=4)
    booster = make_booster(X, y, rounds=60, **params)
    ours = tree_shap(booster, X_new)
    assert max_diff(ours, booster.predict(X_new, pred_contrib=True)) <= ATOL
    np.testing.assert_array_equal(
        TreeShapExplainer(booster).leaf_index(X_new), booster.predict(X_new, pred_leaf=True)
    )


def test_values_exactly_at_thresholds_and_tiny_values(household_booster, household_data):
    """Rows whose values sit on, just above and just below every split threshold, and values
    within LightGBM's zero threshold (1e-35), go the way LightGBM sends them."""
    _, _, X_new = household_data
    dump = household_booster.dump_model()
    names = dump["feature_names"]
    thresholds: dict[str, set[float]] = {}
    stack = [t["tree_structure"] for t in dump["tree_info"]]
    while stack:
        node = stack.pop()
        if "split_index" in node:
            if node["decision_type"] == "<=":
                thresholds.setdefault(names[node["split_feature"]], set()).add(
                    float(node["threshold"])
                )
            stack += [node["left_child"], node["right_child"]]
    base = X_new.iloc[: len(X_new) // 2].reset_index(drop=True)
    rng = np.random.default_rng(0)
    frames = []
    for name, values in thresholds.items():
        vals = np.array(sorted(values))
        probe = np.concatenate(
            [vals, np.nextafter(vals, np.inf), np.nextafter(vals, -np.inf), [1e-36, -1e-36, 1e-30]]
        )
        rows = base.sample(
            len(probe), replace=True, random_state=int(rng.integers(1 << 30))
        ).reset_index(drop=True)
        rows[name] = probe
        frames.append(rows)
    X_probe = pd.concat(frames, ignore_index=True)
    ours = tree_shap(household_booster, X_probe)
    assert max_diff(ours, household_booster.predict(X_probe, pred_contrib=True)) <= ATOL


def test_unseen_and_missing_categories(household_booster, household_data):
    _, _, X_new = household_data
    X = X_new.iloc[:500].copy()
    county = X["county"].astype("object")
    county.iloc[:50] = "a_county_never_seen"
    county.iloc[50:100] = np.nan
    X["county"] = pd.Categorical(county)  # different category list from training
    ours = tree_shap(household_booster, X)
    assert max_diff(ours, household_booster.predict(X, pred_contrib=True)) <= ATOL


def test_numpy_input_with_odd_category_codes(household_booster, household_data):
    """A float matrix: categorical columns hold codes; negative, fractional, huge and NaN codes
    follow LightGBM (negative / NaN / out-of-range go right, fractions truncate)."""
    _, _, X_new = household_data
    mat = lightgbm_matrix(household_booster, X_new.iloc[:600])
    cat_col = X_new.columns.get_loc("county")
    odd = np.array([-1.0, -0.5, 0.5, 2.9, 1e12, -1e12, np.nan, 31.0, 32.0, 64.0, 3.0])
    mat[: len(odd) * 50, cat_col] = np.repeat(odd, 50)
    ours = tree_shap(household_booster, mat)
    assert max_diff(ours, household_booster.predict(mat, pred_contrib=True)) <= ATOL
    # integer matrices are read as float32 by LightGBM, as here
    ints = np.nan_to_num(mat[:200]).astype(np.int64)
    assert (
        max_diff(
            tree_shap(household_booster, ints), household_booster.predict(ints, pred_contrib=True)
        )
        <= ATOL
    )


def test_float32_and_integer_columns(make_frame, make_booster):
    X, y = make_frame(2000, seed=5)
    X = X.drop(columns=["livelihood", "county"])
    X["household_size"] = X["household_size"].astype(np.int64)
    booster = make_booster(X, y, rounds=40)
    X_new, _ = make_frame(1000, seed=6)
    X_new = X_new.drop(columns=["livelihood", "county"]).astype(np.float32)
    assert max_diff(tree_shap(booster, X_new), booster.predict(X_new, pred_contrib=True)) <= ATOL


def test_wide_trees_need_several_key_words(make_frame, make_booster):
    """More than 64 internal nodes per tree: decision keys span two 64-bit words."""
    X, y = make_frame(6000, seed=7)
    booster = make_booster(X, y, rounds=15, num_leaves=100, min_data_in_leaf=5, learning_rate=0.3)
    explainer = TreeShapExplainer(booster)
    assert explainer.ensemble.key_words >= 2
    X_new, _ = make_frame(1000, seed=8)
    assert max_diff(explainer.shap_values(X_new), booster.predict(X_new, pred_contrib=True)) <= ATOL


def test_chunks_reuse_patterns_and_tables_grow(household_booster, household_data, monkeypatch):
    X_new = household_data[2].iloc[:1500]
    ref = household_booster.predict(X_new, pred_contrib=True)
    monkeypatch.setattr(_treeshap, "_INITIAL_CAPACITY", 4)  # force many table growths
    explainer = TreeShapExplainer(household_booster, chunk_rows=257)
    ours = explainer.shap_values(X_new)
    assert max_diff(ours, ref) <= ATOL
    stats = explainer.stats
    assert stats.chunks == -(-len(X_new) // 257)
    patterns = explainer.patterns_per_tree()
    assert (patterns >= 1).all()
    # every pattern was evaluated exactly once although it recurs across chunks
    assert stats.pattern_evaluations == patterns.sum()
    assert patterns.sum() < 0.5 * len(X_new) * household_booster.num_trees()
    # a second call on the same rows finds every pattern in the tables
    again = explainer.shap_values(X_new)
    assert stats.pattern_evaluations == patterns.sum()
    np.testing.assert_array_equal(again, ours)


def test_growing_tables_move_only_their_units_and_stay_consistent(
    household_booster, household_data, monkeypatch
):
    """Tiny tables (4 slots) and small chunks -> many growths and compactions; the values are
    bit-identical to one explainer whose tables never grow, and every unit's region still holds
    exactly its own patterns, each findable under its key."""
    X_new = household_data[2].iloc[:1500]
    monkeypatch.setattr(_treeshap, "_INITIAL_CAPACITY", 1 << 16)
    roomy = TreeShapExplainer(household_booster, chunk_rows=257)
    expected = roomy.shap_values(X_new)
    monkeypatch.setattr(_treeshap, "_INITIAL_CAPACITY", 4)
    small = TreeShapExplainer(household_booster, chunk_rows=257)
    got = small.shap_values(X_new)
    np.testing.assert_array_equal(got, expected)
    assert (small._capacity > 4).any()  # it did grow
    for u in range(small.units.n_units):
        lo, cap = int(small._tab_offset[u]), int(small._capacity[u])
        ids = small._tab_pid[lo : lo + cap]
        found = np.sort(ids[ids >= 0])
        np.testing.assert_array_equal(found, np.arange(small._count[u]))
        keys = small._tab_keys[lo : lo + cap][ids >= 0]
        stored = small._pat_keys[int(small._pat_offset[u]) + ids[ids >= 0]]
        np.testing.assert_array_equal(keys, stored)
    # regions units grew out of are dropped when the arrays are compacted (sized half again
    # the live tables): what is handed out stays within 1.5x the live tables
    live = int(small._capacity.sum())
    assert live <= small._tab_used <= 1.5 * live


def test_cache_limit_resets_and_stays_exact(household_booster, household_data):
    X_new = household_data[2].iloc[:1000]
    explainer = TreeShapExplainer(household_booster, chunk_rows=400, max_cache_bytes=1)
    ours = explainer.shap_values(X_new)
    assert explainer.stats.cache_resets >= 1
    assert max_diff(ours, household_booster.predict(X_new, pred_contrib=True)) <= ATOL


def test_iterations_follow_predict(make_frame, make_booster):
    X, y = make_frame(3000, seed=9)
    X_valid, y_valid = make_frame(1500, seed=10)
    booster = lgb.train(
        {
            "objective": "binary",
            "num_leaves": 15,
            "learning_rate": 0.3,
            "verbose": -1,
            "num_threads": 2,
        },
        lgb.Dataset(X, y),
        num_boost_round=300,
        valid_sets=[lgb.Dataset(X_valid, y_valid)],
        callbacks=[lgb.early_stopping(5, verbose=False)],
        keep_training_booster=True,
    )
    assert 0 < booster.best_iteration < booster.current_iteration()
    X_new, _ = make_frame(800, seed=11)
    assert max_diff(tree_shap(booster, X_new), booster.predict(X_new, pred_contrib=True)) <= ATOL
    for start, num in [(3, 5), (0, 2), (10, -1)]:
        ref = booster.predict(X_new, pred_contrib=True, start_iteration=start, num_iteration=num)
        ours = tree_shap(booster, X_new, start_iteration=start, num_iteration=num)
        assert max_diff(ours, ref) <= ATOL


def test_regression_objective(make_frame, make_booster):
    X, _ = make_frame(2000, seed=12)
    target = (
        np.nan_to_num(X["pc_income"].to_numpy(), nan=5000.0) / 1000
        + X["n_hospitalizations"].to_numpy()
    )
    booster = make_booster(X, target, rounds=30, objective="regression")
    assert max_diff(tree_shap(booster, X), booster.predict(X, pred_contrib=True)) <= ATOL


def test_shap_package_agrees(household_booster, household_data):
    _, _, X_new = household_data
    check = check_against_shap(household_booster, X_new.iloc[:500])
    assert check.ok
    assert check.rows == 500
    assert check.tree_shap_vs_shap <= ATOL


def test_empty_input(household_booster, household_data):
    _, _, X_new = household_data
    out = tree_shap(household_booster, X_new.iloc[:0])
    assert out.shape == (0, X_new.shape[1] + 1)


def test_wrong_columns_is_a_clear_error(household_booster, household_data):
    _, _, X_new = household_data
    with pytest.raises(
        ValueError, match=r"X has 9 columns but the model was trained on 10 features"
    ):
        tree_shap(household_booster, X_new.drop(columns=["dibao"]))
    with pytest.raises(ValueError, match="chunk_rows must be a positive int"):
        tree_shap(household_booster, X_new, chunk_rows=0)


def test_multiclass_and_linear_trees_are_refused(make_frame):
    X, y = make_frame(600, seed=13)
    X = X.drop(columns=["livelihood", "county"]).fillna(0.0)
    multi = lgb.train(
        {"objective": "multiclass", "num_class": 3, "verbose": -1, "num_threads": 2},
        lgb.Dataset(X, (np.arange(len(X)) % 3)),
        num_boost_round=3,
    )
    with pytest.raises(ValueError, match="multiclass"):
        tree_shap(multi, X)
    linear = lgb.train(
        {"objective": "binary", "linear_tree": True, "verbose": -1, "num_threads": 2},
        lgb.Dataset(X, y),
        num_boost_round=3,
    )
    with pytest.raises(ValueError, match="linear_tree=True"):
        tree_shap(linear, X)


def test_units_give_the_same_values_as_whole_trees(make_frame, make_booster):
    """Cutting trees into units of at most k leaves changes the work, never the values."""
    X, y = make_frame(3000, seed=14)
    booster = make_booster(X, y, rounds=25, num_leaves=31, min_data_in_leaf=10)
    X_new, _ = make_frame(1500, seed=15)
    ref = booster.predict(X_new, pred_contrib=True)
    evaluations = {}
    for group in (None, 16, 8, 3, 1):
        explainer = TreeShapExplainer(booster, max_group_leaves=group)
        assert max_diff(explainer.shap_values(X_new), ref) <= ATOL
        units = explainer.units
        # every leaf of every tree belongs to exactly one unit of at most `group` leaves
        n_trees = explainer.ensemble.n_trees
        leaves_per_tree = np.bincount(
            units.tree, weights=units.leaf_in.sum(axis=1), minlength=n_trees
        )
        split = explainer.ensemble.n_nodes > 0
        np.testing.assert_array_equal(leaves_per_tree[split], explainer.ensemble.n_nodes[split] + 1)
        if group is not None:
            assert units.leaf_in.sum(axis=1).max() <= group
        evaluations[group] = explainer.stats.pattern_evaluations
    assert evaluations[8] < evaluations[None]


def test_object_columns_are_a_clear_error(household_booster, household_data):
    X = household_data[2].iloc[:10].copy()
    X["county"] = X["county"].astype(str)
    with pytest.raises(
        ValueError, match=r"\['county'\] are neither numeric, boolean nor categorical"
    ):
        tree_shap(household_booster, X)


def test_trees_without_splits(make_frame):
    """A model whose trees are single leaves: SHAP values are zero, the base value is the score."""
    X, y = make_frame(300, seed=16)
    stump = lgb.train(
        {"objective": "binary", "min_data_in_leaf": 1000, "verbose": -1, "num_threads": 2},
        lgb.Dataset(X, y),
        num_boost_round=3,
    )
    explainer = TreeShapExplainer(stump)
    assert explainer.units.n_units == 0
    assert max_diff(explainer.shap_values(X), stump.predict(X, pred_contrib=True)) <= ATOL


def test_installed_lightgbm_is_in_the_range_the_kernel_mirrors():
    """The kernel mirrors LightGBM 4.x decisions and dump_model: the pin keeps the install there."""
    pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
    deps = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["dependencies"]
    (pin,) = [Requirement(d) for d in deps if Requirement(d).name == "lightgbm"]
    assert pin.specifier.contains(lgb.__version__)
    assert not pin.specifier.contains("5.0.0")  # an upper bound: a new major is tested first


@pytest.mark.parametrize("method", ["tree_shap", "pred_contrib"])
def test_both_methods_equal_pred_contrib_and_the_shap_package(
    household_booster, household_data, method
):
    _, _, X_new = household_data
    X = X_new.iloc[:400]
    explainer = make_explainer(household_booster, method)
    ours = explainer.shap_values(X)
    assert max_diff(ours, household_booster.predict(X, pred_contrib=True)) <= ATOL
    from_shap = _import_shap().TreeExplainer(household_booster)(X)
    ref = np.column_stack([from_shap.values, np.broadcast_to(from_shap.base_values, (len(X),))])
    assert max_diff(ours, ref) <= ATOL
    assert explainer.stats.rows == len(X)
    assert explainer.shap_values(X.iloc[:0]).shape == (0, X.shape[1] + 1)


def test_pred_contrib_explainer_follows_iterations(make_frame, make_booster):
    X, target = make_frame(600, 4)
    booster = make_booster(X, target, rounds=20)
    fallback = PredContribExplainer(booster, start_iteration=3, num_iteration=5)
    ref = booster.predict(X, pred_contrib=True, start_iteration=3, num_iteration=5)
    assert max_diff(fallback.shap_values(X), ref) <= ATOL
    assert max_diff(tree_shap(booster, X, start_iteration=3, num_iteration=5), ref) <= ATOL


def test_unknown_shap_method_is_refused(household_booster):
    with pytest.raises(ValueError, match="'tree_shap', 'pred_contrib'"):
        make_explainer(household_booster, "kernel")
