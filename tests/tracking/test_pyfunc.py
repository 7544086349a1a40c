"""Save → load through MLflow → identical predictions; the signature refuses bad frames."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from riskml.tracking import (
    RiskModel,
    SchemaMismatchError,
    load_risk_model,
    open_store,
)


@pytest.fixture(scope="module")
def logged(store_factory, tiny, logger, tmp_path_factory):
    """One store per module holding one registered version of the tiny model."""
    root = tmp_path_factory.mktemp("pyfunc")
    store = open_store(store_factory(root / "store"))
    run_id, version, model_uri = logger(store, tiny, name="tiny-model", workdir=root / "bundle")
    return store, run_id, version, model_uri


def test_registered_model_predicts_exactly_like_the_in_memory_model(logged, tiny):
    store, run_id, version, _ = logged
    expected = tiny.model.predict_proba(tiny.X)[:, 1]
    expected_raw = tiny.model.predict_raw(tiny.X)
    for uri in (
        "models:/tiny-model@challenger",
        "models:/tiny-model@champion",
        f"models:/tiny-model/{version}",
        f"runs:/{run_id}/model",
    ):
        rm = load_risk_model(uri, tracking_uri=store.tracking_uri)
        assert isinstance(rm, RiskModel)
        np.testing.assert_array_equal(rm.predict_proba(tiny.X)[:, 1], expected)
        np.testing.assert_array_equal(rm.raw_score(tiny.X), expected_raw)
        np.testing.assert_array_equal(rm.calibrate(expected_raw), expected)
        assert rm.booster.model_to_string() == tiny.model.booster_.model_to_string()


def test_pyfunc_load_model_gives_identical_scores(logged, tiny):
    import mlflow.pyfunc

    store, *_ = logged
    with store.active():
        pyfunc = mlflow.pyfunc.load_model("models:/tiny-model@challenger")
    # MLflow's schema enforcement wants categorical features as strings, not pandas category
    X = tiny.X.assign(livelihood=tiny.X["livelihood"].astype(object))
    out = pyfunc.predict(X)
    assert list(out.columns) == ["score", "raw_score"]
    np.testing.assert_array_equal(out["score"].to_numpy(), tiny.model.predict_proba(tiny.X)[:, 1])
    np.testing.assert_array_equal(out["raw_score"].to_numpy(), tiny.model.predict_raw(tiny.X))


def test_metadata_schema_reference_and_feature_set_come_back(logged, tiny):
    store, run_id, version, _ = logged
    rm = load_risk_model("models:/tiny-model@champion", tracking_uri=store.tracking_uri)
    m = rm.metadata
    assert (m["name"], m["version"], m["alias"], m["run_id"]) == (
        "tiny-model",
        version,
        "champion",
        run_id,
    )
    assert (m["as_of_first"], m["as_of_last"], m["horizon_months"]) == (
        "2021-01-01",
        "2022-04-01",
        12,
    )
    assert m["feature_set"] == "tiny" and m["feature_set_version"] == "tiny-test-1"
    # ints that can be missing are double; the categorical feature is a string
    assert rm.input_schema == {
        "household_size": "double",
        "dependency_ratio": "double",
        "head_age": "double",
        "livelihood": "string",
        "oop_medical_12m": "double",
        "pc_income_last": "double",
    }
    # the reference distribution (drift) is the model's own, frozen at training
    assert rm.reference.to_dict() == tiny.model.reference_.to_dict()
    assert rm.reference.psi(tiny.X).max() < 0.05
    # the bundled feature set is rebuilt with the catalog entries, helpers in dependency order
    fs = rm.feature_set
    assert fs.names == list(tiny.X.columns)
    assert fs.version == "tiny-test-1"
    assert {"children_under_16", "elderly_members", "working_age_members"} <= {
        f.name for f in fs.required
    }
    assert rm.catalog.feature_set("tiny") is fs
    assert rm.catalog.version == m["catalog_version"]
    from riskml.features import load_catalog

    assert fs.feature("livelihood") == load_catalog().feature("livelihood")


def test_signature_refuses_missing_and_mistyped_columns(logged, tiny):
    import mlflow.pyfunc
    from mlflow.exceptions import MlflowException

    store, *_ = logged
    rm = load_risk_model("models:/tiny-model@challenger", tracking_uri=store.tracking_uri)
    with pytest.raises(SchemaMismatchError, match=r"missing columns: pc_income_last"):
        rm.predict_proba(tiny.X.drop(columns="pc_income_last"))
    bad = tiny.X.assign(head_age=tiny.X["head_age"].astype(object))
    bad.loc[3, "head_age"] = "sixty"
    with pytest.raises(
        SchemaMismatchError,
        match=r"head_age \(expected double, got non-numeric values such as 'sixty'\)",
    ):
        rm.raw_score(bad)
    with pytest.raises(SchemaMismatchError, match="livelihood"):
        rm.check_input(tiny.X.assign(livelihood=np.arange(len(tiny.X), dtype=float)))
    # numbers stored as Int64 or text digits are fine (same values)
    ok = tiny.X.assign(head_age=tiny.X["head_age"].astype("Int64"))
    np.testing.assert_array_equal(rm.raw_score(ok), tiny.model.predict_raw(tiny.X))

    with store.active():
        pyfunc = mlflow.pyfunc.load_model("models:/tiny-model@challenger")
    X = tiny.X.assign(livelihood=tiny.X["livelihood"].astype(object))
    with pytest.raises(MlflowException, match="missing columns: head_age"):
        pyfunc.predict(X.drop(columns="head_age"))
    with pytest.raises(MlflowException, match="head_age"):
        pyfunc.predict(X.assign(head_age="sixty"))


def test_unseen_category_is_scored_as_missing_like_the_model(logged, tiny):
    store, *_ = logged
    rm = load_risk_model("models:/tiny-model@challenger", tracking_uri=store.tracking_uri)
    X = tiny.X.head(50).assign(livelihood=pd.Series(["fishing"] * 50, dtype=object))
    missing = tiny.X.head(50).assign(
        livelihood=pd.Categorical([None] * 50, categories=rm.categories["livelihood"])
    )
    np.testing.assert_array_equal(rm.raw_score(X), tiny.model.predict_raw(missing))


def test_local_model_folder_loads_without_a_store(logged, tiny, tmp_path):
    import mlflow.artifacts

    store, *_ = logged
    with store.active():
        local = mlflow.artifacts.download_artifacts(
            "models:/tiny-model@challenger", dst_path=str(tmp_path / "dl")
        )
    rm = load_risk_model(local)
    np.testing.assert_array_equal(rm.predict_proba(tiny.X), tiny.model.predict_proba(tiny.X))
    assert rm.metadata["model_uri"] == local


def test_pyfunc_takes_compute_features_output_as_it_comes(logged, tiny):
    """category columns and integer counts (what riskml.features.compute_features and a JSON
    request give) -> the same scores as the in-memory model, no conversion by the caller."""
    import mlflow.pyfunc

    store, *_ = logged
    with store.active():
        pyfunc = mlflow.pyfunc.load_model("models:/tiny-model@challenger")
    X = tiny.X.loc[tiny.X["household_size"].notna()]
    assert isinstance(X["livelihood"].dtype, pd.CategoricalDtype)
    assert (X["household_size"] == X["household_size"].round()).all()
    expected = tiny.model.predict_proba(X)[:, 1]
    counts = X["household_size"].astype("int64")
    for frame in (
        X,
        X.assign(household_size=counts),
        X.assign(household_size=counts.astype("Int64")),
    ):
        np.testing.assert_array_equal(pyfunc.predict(frame)["score"].to_numpy(), expected)


def test_pyfunc_warns_on_unseen_categories(logged, tiny):
    """A livelihood the model never saw -> UnseenCategoryWarning naming the column, the count
    and the value; scored as missing, as the model itself does."""
    import mlflow.pyfunc

    from riskml.tracking._pyfunc import UnseenCategoryWarning

    store, *_ = logged
    with store.active():
        pyfunc = mlflow.pyfunc.load_model("models:/tiny-model@challenger")
    X = tiny.X.head(40).assign(livelihood=["fishing"] * 3 + [None] * 37)
    with pytest.warns(UnseenCategoryWarning, match=r"3 row\(s\) of 'livelihood' .*\(fishing\)"):
        out = pyfunc.predict(X)
    missing = X.assign(livelihood=pd.Categorical([None] * 40, categories=["farming"]))
    np.testing.assert_array_equal(
        out["raw_score"].to_numpy(),
        tiny.model.predict_raw(missing.astype({"livelihood": tiny.X["livelihood"].dtype})),
    )


def test_pyfunc_errors_come_first_not_after_the_data(logged, tiny):
    """A mistyped or missing column over 3,000 rows -> a short message that starts with what is
    wrong and names the column (MLflow's own enforcement printed the data first)."""
    import mlflow.pyfunc
    from mlflow.exceptions import MlflowException

    store, *_ = logged
    with store.active():
        pyfunc = mlflow.pyfunc.load_model("models:/tiny-model@challenger")
    with pytest.raises(MlflowException) as err:
        pyfunc.predict(tiny.X.assign(head_age="sixty"))
    message = err.value.message
    assert message.startswith("riskml model input does not match the model: ")
    assert "head_age (expected double, got non-numeric values such as 'sixty')" in message
    assert len(message) < 600
    with pytest.raises(MlflowException) as err:
        pyfunc.predict(tiny.X.drop(columns="head_age"))
    message = err.value.message
    assert message.startswith("riskml model input does not match the model: ")
    assert "missing columns: head_age" in message and len(message) < 600
