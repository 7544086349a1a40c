"""The ground truth beside a bundle and the oracle lookup."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from riskml.synth import (
    GroundTruthOracle,
    find_ground_truth,
    oracle_probability,
    read_ground_truth,
)


@pytest.fixture(scope="module")
def truth(small_province):
    return small_province[1]


def test_truth_covers_every_household_and_month(small_province, truth):
    bundle = small_province[0]
    months = pd.date_range("2019-01-01", pd.Timestamp(bundle.extracted_on), freq="MS")
    assert len(truth) == len(bundle.households) * len(months)
    assert set(truth["household_id"]) == set(bundle.households["household_id"])
    assert (
        truth.groupby("household_id")["month"].apply(
            lambda m: (m.to_numpy() == months.to_numpy()).all()
        )
    ).all()
    assert truth["p_month"].dtype == np.float32 and truth["p_12m"].dtype == np.float32
    for col in ("p_month", "p_12m"):
        assert truth[col].between(0, 1).all()
    assert (truth["p_12m"] >= truth["p_month"] - 1e-6).all()


def test_truth_is_zero_in_a_month_when_already_monitored(small_province, truth):
    mon = small_province[0].monitoring
    row = mon[mon["eliminated_on"].notna()].iloc[0]
    inside = row["identified_on"].to_period("M").to_timestamp() + pd.DateOffset(months=2)
    t = truth[(truth["household_id"] == row["household_id"]) & (truth["month"] == inside)]
    assert float(t["p_month"].iloc[0]) == 0.0
    assert (
        0.0 <= float(t["p_12m"].iloc[0]) <= 1.0
    )  # still a value: re-identification after elimination


def test_truth_mean_matches_realised_identifications(small_province, truth):
    """p_12m is a probability: its mean over eligible households equals the realised rate."""
    from riskml.synth._calibration import oracle_auc

    stats = oracle_auc(small_province[0], truth)
    assert stats["pairs"] > 5000
    assert stats["mean_p_12m"] == pytest.approx(stats["label_rate"], rel=0.3)
    assert 0.7 < stats["oracle_auc"] < 0.97


def test_oracle_probability_looks_up_month_starts(small_province_dir, truth):
    path = find_ground_truth(small_province_dir)
    assert path is not None
    sample = truth.sample(50, random_state=1)
    pairs = pd.DataFrame(
        {
            "household_id": [*list(sample["household_id"]), "HH9999999999"],
            "as_of": [
                *list(sample["month"] + pd.to_timedelta(np.arange(50) % 27, unit="D")),
                pd.Timestamp("2021-03-05"),
            ],
        }
    )
    got = oracle_probability(path, pairs)
    assert got.shape == (51,)
    np.testing.assert_allclose(got[:50], sample["p_12m"].to_numpy(dtype=np.float64), rtol=0, atol=0)
    assert np.isnan(got[50])  # unknown household
    monthly = oracle_probability(path, pairs.iloc[:50], column="p_month")
    np.testing.assert_array_equal(monthly, sample["p_month"].to_numpy(dtype=np.float64))
    strings = pairs.iloc[:3].assign(as_of=lambda d: d["as_of"].dt.strftime("%Y-%m-%d"))
    np.testing.assert_array_equal(oracle_probability(path, strings), got[:3])


def test_read_ground_truth_subset(small_province_dir, truth):
    path = find_ground_truth(small_province_dir)
    ids = truth["household_id"].unique()[:3]
    sub = read_ground_truth(path, ids)
    assert set(sub["household_id"]) == set(ids)
    assert len(sub) == 3 * truth["month"].nunique()


def test_oracle_errors_are_explained(small_province_dir, tmp_path):
    path = find_ground_truth(small_province_dir)
    with pytest.raises(ValueError, match=r"lacks columns \['as_of'\]"):
        oracle_probability(path, pd.DataFrame({"household_id": ["HH0000000001"]}))
    with pytest.raises(ValueError, match=r"as_of of row 0 .* is not a date"):
        oracle_probability(
            path, pd.DataFrame({"household_id": ["HH0000000001"], "as_of": ["soon"]})
        )
    with pytest.raises(FileNotFoundError, match="riskml synth"):
        oracle_probability(
            tmp_path / "none.truth.parquet",
            pd.DataFrame({"household_id": ["x"], "as_of": ["2020-01-01"]}),
        )
    assert find_ground_truth(tmp_path / "nothing") is None


def test_ground_truth_oracle_is_the_oracle_probability_of_its_file(small_province_dir, truth):
    path = find_ground_truth(small_province_dir)
    sample = truth.sample(20, random_state=2)
    pairs = pd.DataFrame({"household_id": sample["household_id"], "as_of": sample["month"]})
    oracle = GroundTruthOracle(path)
    np.testing.assert_array_equal(oracle(pairs), oracle_probability(path, pairs))
    assert str(oracle) == path.name


def test_ground_truth_oracle_of_a_missing_file_names_the_fix(tmp_path):
    with pytest.raises(
        FileNotFoundError, match=r"none\.truth\.parquet does not exist.*riskml synth"
    ):
        GroundTruthOracle(tmp_path / "none.truth.parquet")
