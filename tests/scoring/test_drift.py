"""Drift that means something, end to end: a model registered with the seasonal reference of its
training bundle stays quiet on that bundle, and warns when the roster really shifted.

The model is the scoring tests' small real model; its drift reference is built the way
``riskml train`` builds it (:func:`riskml.tracking._reference.training_reference`: the bundle's
features at its extraction date and every month of the year before), logged and registered in a
temporary SQLite store, and loaded back as scoring loads it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import pytest

from riskml.data import Bundle
from riskml.scoring import score_roster

MODEL = "riskml-drift-test"


@pytest.fixture(scope="module")
def seasonal_model(
    trained: tuple[Any, pd.DataFrame],
    province_bundle: Any,
    scoring_store: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Any:
    from riskml.features import load_catalog
    from riskml.models import SeasonalReference
    from riskml.tracking import (
        feature_set_bundle,
        load_risk_model,
        log_risk_model,
        open_store,
        register_version,
    )
    from riskml.tracking._reference import training_reference

    model, frame = trained
    catalog = load_catalog()
    fs = catalog.feature_set("default")
    reference = training_reference(province_bundle, fs, catalog=catalog)
    store = open_store(scoring_store)
    with store.active(), mlflow.start_run(experiment_id=store.experiment_id) as run:
        info = log_risk_model(
            model,
            feature_set_definition=feature_set_bundle(fs, catalog),
            X_reference=frame[fs.names],
            metadata={
                "name": MODEL,
                "feature_set": fs.name,
                "horizon_months": 12,
                "as_of_first": str(frame["as_of"].min().date()),
                "run_id": run.info.run_id,
            },
            workdir=tmp_path_factory.mktemp("drift-model"),
            reference=reference,
        )
    register_version(store, name=MODEL, model_uri=info.model_uri)
    loaded = load_risk_model(f"models:/{MODEL}@champion", tracking_uri=scoring_store)
    assert isinstance(loaded.reference, SeasonalReference)
    return loaded


def _drift(bundle: Bundle, as_of: Any, model: Any) -> dict[str, Any]:
    return score_roster(bundle, as_of, out=None, model=model, quiet=True).summary["drift"]


def _with(bundle: Bundle, **tables: pd.DataFrame) -> Bundle:
    return Bundle(
        tables=dict(bundle.tables, **tables),
        extracted_on=bundle.extracted_on,
        province=bundle.province,
        source=bundle.source,
    )


def test_no_warning_on_the_training_bundle(seasonal_model: Any, province_bundle: Any) -> None:
    """The training bundle scored at its own extraction date, and mid-month two weeks before it
    (a date no snapshot has), raises no drift warning; the features that age by construction are
    compared after the elapsed time, and the reference is of the same season."""
    extracted = province_bundle.extracted_on
    for as_of in (extracted, extracted - dt.timedelta(days=15)):
        drift = _drift(province_bundle, as_of, seasonal_model)
        assert drift["available"] and drift["warnings"] == [], (as_of, drift["psi"])
        assert drift["reference"]["as_of"] == extracted.isoformat()
        assert abs(drift["reference"]["elapsed_months"]) <= 0.5
    aging = seasonal_model.reference.aging
    assert aging["years_since_poverty_exit"]["mode"] == "elapsed"  # one more year every year
    assert aging["months_since_income_record"]["mode"] == "within_year"  # a yearly record
    assert "years_since_poverty_exit" in drift["aged"]
    # a year earlier: compared with the snapshot of the same season, ages taken one year back
    year_ago = extracted.replace(year=extracted.year - 1)
    drift = _drift(province_bundle, year_ago, seasonal_model)
    assert drift["reference"]["as_of"] == year_ago.isoformat()
    assert "years_since_poverty_exit" not in drift["warnings"]


def test_incomes_halved_in_the_latest_year_are_caught(
    seasonal_model: Any, province_bundle: Any
) -> None:
    """Every income of the latest year halved -> warnings on the income features, at the same
    extraction date where the unchanged bundle is quiet."""
    income = province_bundle.income.copy()
    latest = income["year"] == income["year"].max()
    for col in ("wage_income", "business_income", "property_income", "transfer_income"):
        income.loc[latest, col] = income.loc[latest, col] * 0.5
    drift = _drift(
        _with(province_bundle, income=income), province_bundle.extracted_on, seasonal_model
    )
    assert {"pc_income_last", "pc_income_change_last"} <= set(drift["warnings"])
    assert drift["psi"]["pc_income_last"] >= drift["psi_warn"]


def test_a_rare_event_twice_as_common_is_caught(seasonal_model: Any, province_bundle: Any) -> None:
    """Disaster records doubled (as many again, for other households of the same counties, in
    the last 12 months) -> the disaster features warn; the count of disasters by its rate
    (x1.5 or more), which PSI alone misses."""
    events = province_bundle.events
    hh = province_bundle.households
    end = pd.Timestamp(province_bundle.extracted_on)
    recent = events.loc[
        (events["event_type"] == "natural_disaster")
        & (events["event_date"] > end - pd.DateOffset(months=12))
    ]
    assert len(recent) >= 20, "the small province needs recent disasters for this test"
    county = hh.set_index("household_id")["county_code"]
    hit = set(county.reindex(recent["household_id"]).dropna())
    spared = hh.loc[hh["county_code"].isin(hit), "household_id"]
    spared = spared.loc[~spared.isin(set(recent["household_id"]))].to_numpy()
    rng = np.random.default_rng(0)
    extra = recent.copy()
    extra["household_id"] = rng.choice(spared, size=len(extra), replace=len(spared) < len(extra))
    doubled = _with(province_bundle, events=pd.concat([events, extra], ignore_index=True))
    drift = _drift(doubled, province_bundle.extracted_on, seasonal_model)
    assert {"natural_disasters_12m", "disaster_loss_12m"} <= set(drift["warnings"]), drift["psi"]
    # natural_disasters_12m: PSI under the threshold, caught by its rate
    assert drift["psi"]["natural_disasters_12m"] < drift["psi_warn"]
    rate = drift["event_rates"]["natural_disasters_12m"]
    assert rate["ratio"] >= 1.5 and rate["now"] > rate["reference"]
