"""Bad inputs get errors that say what was wrong, what was given and how to fix it."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
import pytest

from riskml.features import (
    CatalogError,
    as_of_schedule,
    build_training_set,
    compute_features,
    monitoring_status,
    village_context,
)


@pytest.fixture()
def bundle(make_bundle: Any, make_household: Any) -> Any:
    """Two households, extraction 2024-06-30."""
    return make_bundle(
        [make_household("H1"), make_household("H2", village="V2")],
        monitoring=[dict(household_id="H1", identified_on="2022-01-01", category="edge")],
        extracted_on="2024-06-30",
    )


@pytest.mark.parametrize("horizon", [-3, 0, 2.5, "12", True, None])
def test_horizon_must_be_a_positive_int(bundle: Any, horizon: Any) -> None:
    """horizon_months=-3 (or 0, 2.5, '12', True, None) -> "The 'horizon_months' parameter of
    build_training_set must be a positive int. Got -3 instead." """
    with pytest.raises(ValueError) as err:
        build_training_set(bundle, ["2022-06-30"], horizon)
    assert (
        str(err.value)
        == f"The 'horizon_months' parameter of build_training_set must be a positive int. Got {horizon!r} instead."
    )


def test_empty_as_of_list(bundle: Any) -> None:
    """as_of_dates=[] -> '... must be a non-empty list of dates. Got [] instead.'"""
    with pytest.raises(
        ValueError,
        match=r"'as_of_dates' parameter of build_training_set must be a non-empty list of dates\. Got \[\] instead",
    ):
        build_training_set(bundle, [], 12)


def test_single_date_instead_of_a_list(bundle: Any) -> None:
    """as_of_dates='2022-06-30' (a string, not a list) -> the same message naming the value."""
    with pytest.raises(
        ValueError, match=r"must be a non-empty list of dates\. Got '2022-06-30' instead"
    ):
        build_training_set(bundle, "2022-06-30", 12)


def test_unparsable_and_empty_dates(bundle: Any) -> None:
    """'2022-13-45' -> 'not a date'; None inside the list -> 'an empty date'."""
    with pytest.raises(ValueError, match="holds '2022-13-45', which is not a date"):
        build_training_set(bundle, ["2022-13-45"], 12)
    with pytest.raises(ValueError, match="an empty date"):
        build_training_set(bundle, ["2022-06-30", None], 12)


def test_as_of_after_extraction(bundle: Any) -> None:
    """An as-of date after the extraction date -> an error naming the date and the extraction date."""
    with pytest.raises(ValueError) as err:
        build_training_set(bundle, ["2022-06-30", "2024-07-01"], 12)
    assert "2024-07-01" in str(err.value) and "2024-06-30" in str(err.value)
    pairs = pd.DataFrame({"household_id": ["H1"], "as_of": [pd.Timestamp("2025-01-01")]})
    with pytest.raises(ValueError, match="after the bundle's extraction date 2024-06-30"):
        compute_features(bundle, pairs, "department_rules")


def test_all_dates_censored(bundle: Any) -> None:
    """Every as-of date right-censored (2024-01-31 + 12 months > 2024-06-30) -> an error offering
    include_censored; with it, rows come back with label NA."""
    with pytest.raises(ValueError, match="right-censored"):
        build_training_set(bundle, ["2024-01-31"], 12)
    ts = build_training_set(
        bundle, ["2024-01-31"], 12, feature_set="department_rules", include_censored=True
    )
    assert ts.frame["label"].isna().all() and len(ts.frame) == 1  # H1 is under monitoring


def test_unknown_feature_set(bundle: Any) -> None:
    """feature_set='defualt' -> CatalogError listing the known sets."""
    with pytest.raises(CatalogError, match=r"Unknown feature set 'defualt'.*'default'"):
        build_training_set(bundle, ["2022-06-30"], 12, feature_set="defualt")
    with pytest.raises(CatalogError, match="Unknown feature set"):
        compute_features(
            bundle, pd.DataFrame({"household_id": ["H1"], "as_of": ["2022-06-30"]}), "nope"
        )


@pytest.mark.parametrize("chunk", [0, -1, 1.5])
def test_chunk_households_must_be_positive(bundle: Any, chunk: Any) -> None:
    """chunk_households=0 -> "The 'chunk_households' parameter ... must be a positive int." """
    with pytest.raises(
        ValueError,
        match=f"'chunk_households' parameter of build_training_set must be a positive int. Got {chunk!r} instead",
    ):
        build_training_set(bundle, ["2022-06-30"], 12, chunk_households=chunk)


def test_include_censored_and_label_config_types(bundle: Any) -> None:
    """include_censored='yes' -> must be a bool; label_config={} -> must be a LabelConfig."""
    with pytest.raises(
        ValueError, match="'include_censored' parameter of build_training_set must be a bool"
    ):
        build_training_set(bundle, ["2022-06-30"], 12, include_censored="yes")  # type: ignore[arg-type]
    with pytest.raises(
        TypeError, match="'label_config' parameter of build_training_set must be a LabelConfig"
    ):
        build_training_set(bundle, ["2022-06-30"], 12, label_config={})  # type: ignore[arg-type]


def test_not_a_bundle() -> None:
    """A folder path instead of a loaded bundle -> TypeError saying to pass a Bundle."""
    with pytest.raises(TypeError, match=r"must be a riskml\.data\.Bundle"):
        build_training_set("data/demo", ["2022-06-30"], 12)  # type: ignore[arg-type]


def test_bundle_without_households(make_bundle: Any) -> None:
    """No households -> 'has no households'."""
    empty = make_bundle([])
    with pytest.raises(ValueError, match="has no households"):
        build_training_set(empty, ["2022-06-30"], 12)


@pytest.mark.parametrize(
    ("pairs", "message"),
    [
        (pd.DataFrame({"household_id": ["H1"]}), r"lacks column\(s\) \['as_of'\]"),
        (pd.DataFrame({"household_id": ["H1"], "as_of": [None]}), "empty in rows"),
        (
            pd.DataFrame({"household_id": [None], "as_of": ["2022-01-01"]}),
            "household_id given to compute_features is empty",
        ),
        (
            pd.DataFrame({"household_id": ["H9"], "as_of": ["2022-01-01"]}),
            r"not in the bundle's households table \(e.g. \['H9'\]\)",
        ),
        (pd.DataFrame({"household_id": ["H1"], "as_of": ["yesterday"]}), "not dates"),
    ],
)
def test_bad_pairs(bundle: Any, pairs: pd.DataFrame, message: str) -> None:
    """Missing columns, empty dates or ids, unknown households, unparsable dates -> clear errors."""
    with pytest.raises(ValueError, match=message):
        compute_features(bundle, pairs, "department_rules")


def test_pairs_not_a_frame(bundle: Any) -> None:
    """A list instead of a DataFrame -> TypeError naming the parameter."""
    with pytest.raises(
        TypeError, match="'pairs' parameter of monitoring_status must be a DataFrame"
    ):
        monitoring_status(bundle, [("H1", "2022-01-01")])  # type: ignore[arg-type]


def test_empty_pairs_give_empty_typed_frame(bundle: Any, catalog: Any) -> None:
    """Zero pairs -> zero rows with every feature column and its dtype."""
    pairs = pd.DataFrame(
        {
            "household_id": pd.Series([], dtype="string"),
            "as_of": pd.Series([], dtype="datetime64[ns]"),
        }
    )
    out = compute_features(bundle, pairs, "default")
    assert len(out) == 0 and list(out.columns) == catalog.feature_set("default").names
    assert isinstance(out["livelihood"].dtype, pd.CategoricalDtype)


def test_village_table_must_cover_the_pairs(bundle: Any) -> None:
    """A village table computed for other dates -> 'has no row for village ... as of ...'."""
    table = village_context(bundle, [dt.date(2022, 1, 1)])
    pairs = pd.DataFrame({"household_id": ["H1"], "as_of": [pd.Timestamp("2023-01-01")]})
    with pytest.raises(ValueError, match="has no row for village 'V1' as of 2023-01-01"):
        compute_features(bundle, pairs, "default", village_table=table)
    with pytest.raises(ValueError, match="needs at least one as-of date"):
        village_context(bundle, [])


@pytest.mark.parametrize(
    ("every", "message"),
    [("3", "must look like 3M"), ("0M", "must look like 3M"), ("quarterly", "must look like 3M")],
)
def test_bad_schedule_step(every: str, message: str) -> None:
    """--every 3 / 0M / quarterly -> an error showing the accepted forms."""
    with pytest.raises(ValueError, match=message):
        as_of_schedule("2021-01-01", "2022-01-01", every)


def test_schedule_end_before_start_and_month_ends() -> None:
    """End before start -> error; month-end start steps to month ends without drifting."""
    with pytest.raises(ValueError, match="before the start date"):
        as_of_schedule("2022-01-01", "2021-01-01", "3M")
    dates = as_of_schedule("2021-03-31", "2022-03-31", "3M")
    assert [d.strftime("%m-%d") for d in dates] == ["03-31", "06-30", "09-30", "12-31", "03-31"]


def test_extreme_amounts_give_values_not_warnings(make_bundle: Any, make_household: Any) -> None:
    """A denormal net income and astronomically large bills -> finite/NaN/inf features, no
    RuntimeWarning (pytest turns warnings into errors)."""
    b = make_bundle(
        [make_household("H1")],
        income=[
            dict(
                household_id="H1",
                year=2022,
                recorded_on="2023-02-01",
                household_size=1,
                wage_income=2.2e-308,
                oop_medical=1e308,
            )
        ],
        events=[
            dict(
                household_id="H1", event_date="2023-01-01", event_type="medical_bill", amount=1e308
            ),
            dict(
                household_id="H1", event_date="2023-02-01", event_type="medical_bill", amount=1e308
            ),
        ],
    )
    out = compute_features(
        b, pd.DataFrame({"household_id": ["H1"], "as_of": ["2023-06-30"]}), "default"
    )
    assert out.loc[0, "oop_medical_12m"] == float("inf")


def test_unknown_province_is_an_error(make_bundle: Any, make_household: Any) -> None:
    """bundle.yaml names a province (atlantis) without thresholds in configs/thresholds.yaml ->
    "The bundle's province 'atlantis' has no monitoring thresholds in .../configs/thresholds.yaml
    (provinces there: inner_mongolia). Add it under 'provinces:' ..." (no silent fallback to
    another province's line)."""
    from riskml.config import ConfigError, config_dir

    bundle = make_bundle(
        [make_household("H1")],
        income=[
            dict(
                household_id="H1",
                year=2023,
                recorded_on="2024-02-01",
                household_size=3,
                wage_income=9000.0,
            )
        ],
        extracted_on="2024-06-30",
        province="atlantis",
    )
    pairs = pd.DataFrame({"household_id": ["H1"], "as_of": [pd.Timestamp("2024-06-30")]})
    with pytest.raises(ConfigError) as err:
        compute_features(bundle, pairs, "default")
    message = str(err.value)
    assert message.startswith("The bundle's province 'atlantis' has no monitoring thresholds in ")
    assert str(config_dir() / "thresholds.yaml") in message
    assert "Add it under 'provinces:'" in message
    assert "bundle.yaml" in message


def test_bundle_without_province_uses_the_default_visibly(
    make_bundle: Any,
    make_household: Any,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A bundle that names no province -> the thresholds file's default_province, with a warning
    (once per process) that names it and the file."""
    from riskml.config.thresholds import load_thresholds
    from riskml.features import _tables

    monkeypatch.setattr(_tables, "_DEFAULT_PROVINCE_WARNED", set())

    bundle = make_bundle(
        [make_household("H1")],
        income=[
            dict(
                household_id="H1",
                year=2023,
                recorded_on="2024-02-01",
                household_size=3,
                wage_income=9000.0,
            )
        ],
        extracted_on="2024-06-30",
    )
    pairs = pd.DataFrame({"household_id": ["H1"], "as_of": [pd.Timestamp("2024-06-30")]})
    with caplog.at_level("WARNING", logger="riskml.features"):
        X = compute_features(bundle, pairs, "default")
    default = load_thresholds().default_province
    assert f"default_province '{default}'" in caplog.text
    assert "thresholds.yaml" in caplog.text
    expected = 9000.0 / 3 / load_thresholds().threshold(2023, default)
    assert X.loc[0, "pc_income_to_threshold_last"] == pytest.approx(expected)
