"""Training sets: eligibility, labels, censoring, audit columns, metadata, partitions, Parquet."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from riskml.config import ConfigError
from riskml.config.features import IncomeLabelConfig, LabelConfig
from riskml.features import (
    AUDIT_COLUMNS,
    TrainingSet,
    as_of_schedule,
    build_training_set,
    compute_features,
    data_fingerprint,
    monitoring_status,
    village_context,
    write_training_set,
)


@pytest.fixture()
def hand_bundle(make_bundle: Any, make_household: Any) -> Any:
    """Four households with a known history (extraction 2024-06-30).

    H1: identified 2022-08-15 (edge), eliminated 2023-03-01.  H2: identified 2021-02-01, still
    monitored.  H3: nothing.  H4: female, pastoral, disability recorded 2022-01-10, identified
    2024-01-05 (sudden_hardship).
    """
    return make_bundle(
        [
            make_household("H1", head_birth_year=1950),
            make_household("H2"),
            make_household("H3", village="V2"),
            make_household("H4", head_sex="F", livelihood="pastoral", head_ethnicity="蒙古族"),
        ],
        members=[
            dict(household_id="H1", member_id="H1a", sex="M", birth_year=1950),
            dict(household_id="H4", member_id="H4a", sex="F", birth_year=1980),
        ],
        income=[
            dict(
                household_id="H3",
                year=2022,
                recorded_on="2023-02-01",
                household_size=2,
                wage_income=9000,
                transfer_income=1000,
            ),
            dict(
                household_id="H3",
                year=2023,
                recorded_on="2024-02-01",
                household_size=2,
                wage_income=30000,
            ),
        ],
        events=[
            dict(
                household_id="H4",
                member_id="H4a",
                event_date="2022-01-05",
                recorded_on="2022-01-10",
                event_type="disability",
                detail="2",
            )
        ],
        monitoring=[
            dict(
                household_id="H1",
                identified_on="2022-08-15",
                category="edge",
                eliminated_on="2023-03-01",
                elimination_method="assisted",
            ),
            dict(household_id="H2", identified_on="2021-02-01", category="unstable_exited"),
            dict(household_id="H4", identified_on="2024-01-05", category="sudden_hardship"),
        ],
        extracted_on="2024-06-30",
    )


def _row(ts: TrainingSet, hid: str, as_of: str) -> pd.Series:
    f = ts.frame
    hit = f[(f["household_id"] == hid) & (f["as_of"] == pd.Timestamp(as_of))]
    assert len(hit) == 1, (hid, as_of, len(hit))
    return hit.iloc[0]


def test_labels_eligibility_and_counts_on_a_known_history(hand_bundle: Any) -> None:
    """H1 positive at 2022-03-31 (identified 2022-08-15), ineligible at 2022-12-31 (monitored),
    eligible again and negative at 2023-06-30; H2 never eligible; H4 positive at 2023-03-31."""
    dates = ["2022-03-31", "2022-12-31", "2023-06-30"]
    ts = build_training_set(hand_bundle, dates, 12, feature_set="department_rules")
    assert _row(ts, "H1", "2022-03-31")["label"] == 1
    assert not (
        (ts.frame["household_id"] == "H1") & (ts.frame["as_of"] == pd.Timestamp("2022-12-31"))
    ).any()
    assert _row(ts, "H1", "2023-06-30")["label"] == 0
    assert _row(ts, "H1", "2023-06-30")["ever_monitored"] == 1.0
    assert "H2" not in set(ts.frame["household_id"])
    assert _row(ts, "H4", "2022-03-31")["label"] == 0
    assert _row(ts, "H4", "2023-06-30")["label"] == 1
    counts = ts.metadata["counts"]
    assert counts["household_dates"] == 4 * 3
    assert counts["excluded_under_monitoring"] == 3 + 1  # H2 x 3, H1 at 2022-12-31
    assert (
        counts["rows"]
        == len(ts.frame)
        == counts["household_dates"]
        - counts["excluded_under_monitoring"]
        - counts["excluded_censored"]
    )
    assert counts["positives"] == int(ts.frame["label"].sum())
    assert ts.frame["label"].dtype == "Int8" and ts.frame["label_income"].dtype == "Int8"


def test_monitoring_status_reports_the_active_episode(hand_bundle: Any) -> None:
    """Under monitoring iff identified_on <= D < eliminated_on; identified_on and category of it."""
    pairs = pd.DataFrame(
        {
            "household_id": ["H1", "H1", "H1", "H2", "H3"],
            "as_of": pd.to_datetime(
                ["2022-08-14", "2022-08-15", "2023-03-01", "2024-06-30", "2023-01-01"]
            ),
        }
    )
    st = monitoring_status(hand_bundle, pairs)
    assert st["under_monitoring"].tolist() == [False, True, False, True, False]
    assert st["identified_on"].iloc[1] == pd.Timestamp("2022-08-15")
    assert st["category"].iloc[1] == "edge" and st["category"].iloc[3] == "unstable_exited"
    assert pd.isna(st["identified_on"].iloc[0]) and pd.isna(st["category"].iloc[2])


def test_censored_dates_are_left_out_or_kept_with_na_label(hand_bundle: Any) -> None:
    """2023-12-31 + 12 months > extraction (2024-06-30): excluded by default; with
    include_censored the rows stay with label NA — never a negative."""
    dates = ["2022-06-30", "2023-12-31"]
    ts = build_training_set(hand_bundle, dates, 12, feature_set="department_rules")
    assert set(ts.frame["as_of"]) == {pd.Timestamp("2022-06-30")}
    assert ts.metadata["censored_as_of_dates"] == ["2023-12-31"]
    assert ts.metadata["counts"]["excluded_censored"] == 3  # H1, H3, H4 eligible on 2023-12-31
    kept = build_training_set(
        hand_bundle, dates, 12, feature_set="department_rules", include_censored=True
    )
    censored = kept.frame[kept.frame["as_of"] == pd.Timestamp("2023-12-31")]
    assert len(censored) == 3 and censored["label"].isna().all()
    assert kept.frame.loc[kept.frame["as_of"] == pd.Timestamp("2022-06-30"), "label"].notna().all()
    assert kept.metadata["counts"]["censored_rows_kept"] == 3


def test_income_label_alternative(hand_bundle: Any) -> None:
    """H3 income 2022: (9000+1000)/2 = 5000 < 6600 -> 1; 2023: 15000 >= 7200 -> 0; unknown -> NA;
    a multiple of 3 flips 2023 to 1; disabled -> all NA."""
    ts = build_training_set(
        hand_bundle, ["2022-06-30", "2023-06-30"], 12, feature_set="department_rules"
    )
    assert _row(ts, "H3", "2022-06-30")["label_income"] == 1
    assert _row(ts, "H3", "2023-06-30")["label_income"] == 0
    assert pd.isna(_row(ts, "H1", "2022-06-30")["label_income"])
    cfg = LabelConfig(income=IncomeLabelConfig(threshold_multiple=3.0))
    assert (
        _row(
            build_training_set(
                hand_bundle, ["2023-06-30"], 12, feature_set="department_rules", label_config=cfg
            ),
            "H3",
            "2023-06-30",
        )["label_income"]
        == 1
    )
    off = LabelConfig(income=IncomeLabelConfig(enabled=False))
    assert (
        build_training_set(
            hand_bundle, ["2023-06-30"], 12, feature_set="department_rules", label_config=off
        )
        .frame["label_income"]
        .isna()
        .all()
    )


def test_label_categories_from_config(hand_bundle: Any) -> None:
    """Counting only sudden_hardship: H1 (edge) becomes negative, H4 stays positive."""
    cfg = LabelConfig(categories=["sudden_hardship"])
    ts = build_training_set(
        hand_bundle,
        ["2022-03-31", "2023-06-30"],
        12,
        feature_set="department_rules",
        label_config=cfg,
    )
    assert _row(ts, "H1", "2022-03-31")["label"] == 0
    assert _row(ts, "H4", "2023-06-30")["label"] == 1


def test_unknown_label_category_is_a_config_error(hand_bundle: Any) -> None:
    """A label category outside the contract's monitoring categories names itself and the choices."""
    with pytest.raises(ConfigError, match=r"unknown monitoring categories \['sudden'\].*edge"):
        build_training_set(
            hand_bundle,
            ["2022-03-31"],
            12,
            feature_set="department_rules",
            label_config=LabelConfig(categories=["sudden"]),
        )


def test_audit_columns_are_beside_not_inside_the_features(hand_bundle: Any) -> None:
    """Audit columns hold county, livelihood, head sex/ethnicity, disability (point in time),
    female-/elderly-headed; none is a feature."""
    ts = build_training_set(hand_bundle, ["2021-12-31", "2022-06-30"], 12)
    assert ts.audit_columns == list(AUDIT_COLUMNS)
    assert not set(ts.audit_columns) & set(ts.feature_names)
    assert not {"head_sex", "head_ethnicity"} & set(ts.feature_names)
    h4_before, h4_after = _row(ts, "H4", "2021-12-31"), _row(ts, "H4", "2022-06-30")
    assert (
        not h4_before["audit_disability_in_household"] and h4_after["audit_disability_in_household"]
    )
    assert h4_after["audit_female_headed"] and h4_after["audit_head_ethnicity"] == "蒙古族"
    assert h4_after["audit_livelihood"] == "pastoral" and h4_after["audit_head_sex"] == "F"
    assert (
        _row(ts, "H1", "2022-06-30")["audit_elderly_headed"]
        and not h4_after["audit_elderly_headed"]
    )
    assert h4_after["audit_county"] == "C1" and h4_after["village_code"] == "V1"
    expected_order = [
        "household_id",
        "as_of",
        *ts.feature_names,
        "label",
        "label_income",
        "county_code",
        "township_code",
        "village_code",
        *AUDIT_COLUMNS,
    ]
    assert list(ts.frame.columns) == expected_order


def test_metadata_and_parquet_round_trip(hand_bundle: Any, tmp_path: Path, catalog: Any) -> None:
    """to_parquet -> read_parquet: same frame (dtypes included) and metadata (catalog version, set
    version, fingerprint, horizon, dates)."""
    ts = build_training_set(hand_bundle, ["2022-03-31", "2022-09-30"], 12)
    meta = ts.metadata
    assert meta["catalog_version"] == catalog.version
    assert (
        meta["feature_set"] == "default"
        and meta["feature_set_version"] == catalog.feature_set("default").version
    )
    assert meta["data_fingerprint"] == data_fingerprint(hand_bundle)
    assert meta["horizon_months"] == 12 and meta["as_of_dates"] == ["2022-03-31", "2022-09-30"]
    assert meta["extracted_on"] == "2024-06-30"
    path = ts.to_parquet(tmp_path / "ts.parquet")
    back = TrainingSet.read_parquet(path)
    pd.testing.assert_frame_equal(ts.frame, back.frame)
    assert back.metadata == meta
    assert back.feature_names == ts.feature_names and back.audit_columns == ts.audit_columns


def test_streamed_file_equals_the_in_memory_training_set(
    make_random_bundle: Any, tmp_path: Path
) -> None:
    """write_training_set in chunks of 2 households == build_training_set in one chunk."""
    bundle = make_random_bundle(4, n_households=7)
    dates = as_of_schedule("2021-03-31", "2023-12-31", "3M")
    whole = build_training_set(bundle, dates, 12, chunk_households=100)
    meta = write_training_set(bundle, dates, tmp_path / "out.parquet", 12, chunk_households=2)
    back = TrainingSet.read_parquet(tmp_path / "out.parquet")
    pd.testing.assert_frame_equal(whole.frame, back.frame)
    for key in ("counts", "data_fingerprint", "feature_set_version", "as_of_dates"):
        assert meta[key] == whole.metadata[key] == back.metadata[key]
    assert not (tmp_path / "out.parquet.partial").exists()


def test_partitioned_computation_equals_the_whole(make_random_bundle: Any, catalog: Any) -> None:
    """compute_features on any subset of households (with the village table of the whole bundle)
    gives exactly the rows of the whole computation."""
    bundle = make_random_bundle(8, n_households=9, n_events=90)
    dates = pd.to_datetime(["2020-06-30", "2022-01-15", "2024-03-31"])
    hids = bundle.households["household_id"].tolist()
    pairs = pd.DataFrame([(h, d) for h in hids for d in dates], columns=["household_id", "as_of"])
    fs = catalog.feature_set("default")
    village = village_context(bundle, list(dates))
    whole = compute_features(bundle, pairs, fs, village_table=village)
    for part in (hids[:3], hids[3:4], hids[4:]):
        sub_pairs = pairs[pairs["household_id"].isin(part)]
        sub_tables = {
            k: v[v["household_id"].isin(part)].reset_index(drop=True)
            for k, v in bundle.tables.items()
        }
        sub_bundle = type(bundle)(tables=sub_tables, extracted_on=bundle.extracted_on)
        got = compute_features(sub_bundle, sub_pairs, fs, village_table=village)
        pd.testing.assert_frame_equal(got, whole.loc[sub_pairs.index])


def test_output_is_aligned_to_input_order_and_index(make_random_bundle: Any, catalog: Any) -> None:
    """Shuffled pairs with a custom index and duplicates -> rows follow the input exactly."""
    bundle = make_random_bundle(9)
    hids = bundle.households["household_id"].tolist()
    pairs = pd.DataFrame(
        {
            "household_id": hids * 2 + [hids[0]],
            "as_of": [pd.Timestamp("2023-01-01")] * len(hids)
            + [pd.Timestamp("2021-05-05")] * len(hids)
            + [pd.Timestamp("2023-01-01")],
        }
    )
    pairs.index = np.arange(len(pairs))[::-1] * 10
    fs = catalog.feature_set("department_rules")
    got = compute_features(bundle, pairs, fs)
    assert got.index.equals(pairs.index)
    for i in range(len(pairs)):
        single = compute_features(bundle, pairs.iloc[[i]], fs)
        pd.testing.assert_frame_equal(single, got.iloc[[i]])
    pd.testing.assert_series_equal(got.iloc[0], got.iloc[-1], check_names=False)


def test_fingerprint_tracks_content(hand_bundle: Any, append_rows: Any) -> None:
    """Same content -> same fingerprint; one more event -> a different one."""
    again = type(hand_bundle)(
        tables={k: v.copy() for k, v in hand_bundle.tables.items()},
        extracted_on=hand_bundle.extracted_on,
    )
    assert data_fingerprint(again) == data_fingerprint(hand_bundle)
    changed = append_rows(
        hand_bundle,
        "events",
        [dict(household_id="H3", event_date="2023-01-01", event_type="accident")],
    )
    assert data_fingerprint(changed) != data_fingerprint(hand_bundle)


def test_small_province_training_set(small_province: Any) -> None:
    """The shared synthetic province: every household-date accounted for, labels 0/1, features of
    the default set, identification rate in a sane range."""
    bundle, _ = small_province
    dates = as_of_schedule("2021-03-31", "2023-12-31", "3M")
    ts = build_training_set(bundle, dates, 12)
    c = ts.metadata["counts"]
    assert c["household_dates"] == len(bundle.households) * len(dates)
    assert (
        c["rows"] + c["excluded_under_monitoring"] + c["excluded_censored"] == c["household_dates"]
    )
    assert set(ts.frame["label"].unique()) <= {0, 1}
    assert 0.001 < ts.frame["label"].mean() < 0.5
    assert ts.frame[ts.feature_names].shape[1] == len(ts.feature_names) >= 40
    eligible = monitoring_status(bundle, ts.frame[["household_id", "as_of"]])
    assert not eligible["under_monitoring"].any()


def test_grid_and_binary_search_routes_agree(
    make_random_bundle: Any, catalog: Any, monkeypatch: Any
) -> None:
    """Dense (household x date) pairs use a histogram of rows, sparse ones a binary search per
    pair: forcing either route gives identical features."""
    from riskml.features import _engine

    bundle = make_random_bundle(21, n_households=8, n_events=90)
    dates = as_of_schedule("2020-03-31", "2024-12-31", "3M")
    pairs = pd.DataFrame(
        [(h, d) for h in bundle.households["household_id"] for d in dates],
        columns=["household_id", "as_of"],
    )
    fs = catalog.feature_set("default")
    village = village_context(bundle, dates)
    grid = compute_features(bundle, pairs, fs, village_table=village)
    monkeypatch.setattr(_engine, "_GRID_CELLS_PER_PAIR", -1)
    monkeypatch.setattr(_engine, "_GRID_MIN_CELLS", -1)
    searched = compute_features(bundle, pairs, fs, village_table=village)
    pd.testing.assert_frame_equal(grid, searched)
