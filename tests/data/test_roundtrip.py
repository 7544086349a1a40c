"""write_bundle → load_bundle gives back identical typed frames, in every format and encoding."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from riskml.data import (
    EXCEL_MAX_ROWS,
    TABLE_ORDER,
    TABLES,
    Bundle,
    BundleError,
    load_bundle,
    write_bundle,
)

from ._builders import EXTRACTED_ON, HH, text_tables, typed_bundle, write_text_bundle

EXPECTED_DTYPES = {
    "id": "string",
    "string": "string",
    "int": "Int64",
    "money": "float64",
    "date": "datetime64[ns]",
    "bool": "boolean",
    "category": "category",
}


def _assert_same(loaded: Bundle, original: Bundle) -> None:
    for name in TABLE_ORDER:
        pd.testing.assert_frame_equal(loaded.tables[name], original.tables[name], check_exact=True)
    assert loaded.extracted_on == original.extracted_on
    assert loaded.province == original.province and loaded.source == original.source
    assert len(loaded.quarantine) == 0


@pytest.mark.parametrize("fmt", ["parquet", "csv", "xlsx"])
def test_round_trip(tmp_path: Path, fmt: str) -> None:
    """a typed bundle written as parquet/csv/xlsx and loaded again → identical frames, dtypes, bundle.yaml."""
    original = typed_bundle()
    out = write_bundle(original, tmp_path / "b", format=fmt)  # type: ignore[arg-type]
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [f"{t}.{fmt}" for t in TABLE_ORDER] + ["bundle.yaml"]
    )
    _assert_same(load_bundle(out), original)


def test_round_trip_csv_gbk(tmp_path: Path) -> None:
    """the CSV bundle re-encoded as GBK → detected as GB18030 and loaded identical; encoding='gbk' works too."""
    original = typed_bundle()
    out = write_bundle(original, tmp_path / "b", format="csv")
    for name in TABLE_ORDER:
        path = out / f"{name}.csv"
        path.write_bytes(path.read_text(encoding="utf-8").encode("gbk"))
    loaded = load_bundle(out)
    _assert_same(loaded, original)
    assert loaded.load_report["files"]["households"]["encoding"] == "gb18030"
    _assert_same(load_bundle(out, encoding="gbk"), original)


def test_round_trip_csv_utf8_bom(tmp_path: Path) -> None:
    """CSV files saved as UTF-8 with BOM (Excel's 'CSV UTF-8') → loaded identical (BOM not part of the first header)."""
    original = typed_bundle()
    out = write_bundle(original, tmp_path / "b", format="csv")
    for name in TABLE_ORDER:
        path = out / f"{name}.csv"
        path.write_bytes(path.read_text(encoding="utf-8").encode("utf-8-sig"))
    _assert_same(load_bundle(out), original)


def test_loaded_dtypes_follow_the_contract(tmp_path: Path) -> None:
    """a text CSV bundle → every contract column present with its contract dtype; vocab categories = the contract vocabulary."""
    bundle = load_bundle(write_text_bundle(tmp_path))
    for name, schema in TABLES.items():
        frame = bundle.tables[name]
        assert list(frame.columns) == list(schema.column_names)
        for col in schema.columns:
            assert str(frame[col.name].dtype) == EXPECTED_DTYPES[col.kind], (name, col.name)
            if col.kind in {"id", "string"}:
                assert frame[col.name].dtype == pd.StringDtype("pyarrow")
            if col.vocab is not None:
                assert list(frame[col.name].cat.categories) == list(col.vocab)
    assert bundle.households["household_id"].tolist() == HH


def test_optional_columns_absent_from_source_are_added_empty(tmp_path: Path) -> None:
    """a source lacking every optional column → each added, empty, with its contract dtype."""
    tables = {
        name: frame[[c for c in frame.columns if TABLES[name].column(c).required]]
        for name, frame in text_tables().items()
    }
    bundle = load_bundle(write_text_bundle(tmp_path, tables))
    for name, schema in TABLES.items():
        frame = bundle.tables[name]
        assert list(frame.columns) == list(schema.column_names)
        for col in schema.columns:
            if not col.required and not (name == "events" and col.name == "recorded_on"):
                assert frame[col.name].isna().all(), (name, col.name)
            assert str(frame[col.name].dtype) == EXPECTED_DTYPES[col.kind]


def test_events_recorded_on_defaults_to_event_date(tmp_path: Path) -> None:
    """events with empty recorded_on → filled with event_date (the contract's default), counted in the report."""
    t = text_tables()
    t["events"].loc[[0, 2], "recorded_on"] = ""
    bundle = load_bundle(write_text_bundle(tmp_path, t))
    ev = bundle.events
    assert (
        ev["recorded_on"][0] == ev["event_date"][0] and ev["recorded_on"][2] == ev["event_date"][2]
    )
    assert bundle.load_report["filled_values"] == {"events.recorded_on": 2}


def test_parquet_with_stored_types(tmp_path: Path) -> None:
    """a parquet bundle whose ids are int64, years float, dates date32 and codes dictionary → converted to contract dtypes, ids exact."""
    write_bundle(typed_bundle(), tmp_path, format="parquet")
    hh = pq.read_table(tmp_path / "households.parquet")
    hh = hh.set_column(0, "household_id", pa.array([int(x) for x in HH], pa.int64()))
    hh = hh.set_column(
        hh.schema.get_field_index("head_birth_year"),
        "head_birth_year",
        pa.array([1962.0, 1975.0, 1958.0, None]),
    )
    hh = hh.set_column(
        hh.schema.get_field_index("livelihood"), "livelihood", pc_dict(hh.column("livelihood"))
    )
    pq.write_table(hh, tmp_path / "households.parquet")
    bundle = load_bundle(tmp_path)
    pd.testing.assert_frame_equal(bundle.households, typed_bundle().households)


def pc_dict(column: pa.ChunkedArray) -> pa.Array:
    return column.combine_chunks().dictionary_encode()


def test_large_ids_never_become_floats(tmp_path: Path) -> None:
    """18-digit ids and ids with leading zeros in CSV → loaded as the exact same text (no float, no scientific notation)."""
    t = text_tables()
    ids = ["999999999999999999", "000000000000000123", "150500000000000003", "150500000000000004"]
    for frame in t.values():
        frame["household_id"] = frame["household_id"].map(dict(zip(HH, ids, strict=True)))
    t["members"]["member_id"] = (
        t["members"]["member_id"].str.replace(HH[0], ids[0]).str.replace(HH[1], ids[1])
    )
    t["events"]["member_id"] = (
        t["events"]["member_id"].str.replace(HH[0], ids[0]).str.replace(HH[1], ids[1])
    )
    bundle = load_bundle(write_text_bundle(tmp_path, t))
    assert bundle.households["household_id"].tolist() == ids
    assert len(bundle.quarantine) == 0


def test_write_xlsx_refuses_too_many_rows(tmp_path: Path) -> None:
    """a table of 1,048,576 rows written as xlsx → error naming the table, its rows and the fix (parquet/csv)."""
    ids = np.arange(EXCEL_MAX_ROWS + 1).astype(str)
    big = pd.DataFrame({"household_id": pd.array(ids, dtype="string[pyarrow]")})
    bundle = typed_bundle()
    bundle.tables["households"] = big
    with pytest.raises(
        BundleError, match=r"households has 1,048,576 rows.*at most 1,048,575 rows.*parquet or csv"
    ):
        write_bundle(bundle, tmp_path / "x", format="xlsx")
    assert not (tmp_path / "x").exists()


def test_write_refuses_mixed_formats(tmp_path: Path) -> None:
    """writing csv into a folder holding a parquet bundle → error (ambiguous bundle) naming the clashing files."""
    write_bundle(typed_bundle(), tmp_path, format="parquet")
    with pytest.raises(BundleError, match=r"already holds .*households\.parquet.*ambiguous"):
        write_bundle(typed_bundle(), tmp_path, format="csv")


def test_write_refuses_columns_outside_the_contract(tmp_path: Path) -> None:
    """a households frame with an extra 'score' column → error naming it (nothing dropped silently)."""
    bundle = typed_bundle()
    bundle.tables["households"] = bundle.households.assign(score=1.0)
    with pytest.raises(
        BundleError, match=r"households has columns outside the contract: \['score'\]"
    ):
        write_bundle(bundle, tmp_path)


def test_write_refuses_values_outside_vocabulary(tmp_path: Path) -> None:
    """an events frame with event_type 'flood' (object dtype) → error naming the value and the vocabulary."""
    bundle = typed_bundle()
    bundle.tables["events"] = bundle.events.assign(event_type=["flood"] * len(bundle.events))
    with pytest.raises(
        BundleError, match=r"events\.event_type holds \['flood'\] outside its vocabulary"
    ):
        write_bundle(bundle, tmp_path)


def test_write_accepts_plain_pandas_dtypes(tmp_path: Path) -> None:
    """frames with object ids, int64 years and str codes (not the contract dtypes) → written and loaded back typed."""
    original = typed_bundle()
    plain = {name: frame.copy() for name, frame in original.tables.items()}
    plain["members"]["member_id"] = plain["members"]["member_id"].astype(object)
    plain["members"]["birth_year"] = plain["members"]["birth_year"].astype("int64")
    plain["members"]["sex"] = plain["members"]["sex"].astype(str)
    write_bundle(
        Bundle(tables=plain, extracted_on=EXTRACTED_ON, province="测试省", source="tests"), tmp_path
    )
    _assert_same(load_bundle(tmp_path), original)


@pytest.mark.parametrize("stored", [pa.date32(), pa.timestamp("us"), pa.timestamp("ns")])
def test_parquet_dates_outside_the_years_are_set_aside(tmp_path: Path, stored: pa.DataType) -> None:
    """a parquet members.joined_on stored as dates or timestamps holding 1899-12-31 and 2262-01-01 → those members set aside (not a date between 1900 and 2261); 1900-01-01, 2000-01-01 and 2012-05-04 kept as days."""
    write_bundle(typed_bundle(), tmp_path, format="parquet")
    members = pq.read_table(tmp_path / "members.parquet")
    # members no event names: rows 2 and 6 out of range, rows 3, 5 and 8 in it
    days = [None, dt.date(1899, 12, 31), dt.date(1900, 1, 1), None, dt.date(2000, 1, 1)]
    joined = pa.array([*days, dt.date(2262, 1, 1), None, dt.date(2012, 5, 4)], pa.date32())
    joined = joined.cast(stored)
    if pa.types.is_timestamp(stored):  # a time of day too: the loader keeps the day
        joined = pc.add(
            joined, pa.scalar(3_600 * 10**6, pa.duration("us")).cast(pa.duration(stored.unit))
        )
    members = members.set_column(members.schema.get_field_index("joined_on"), "joined_on", joined)
    pq.write_table(members, tmp_path / "members.parquet")
    bundle = load_bundle(tmp_path)
    q = bundle.quarantine
    assert q[["table", "row", "column"]].values.tolist() == [
        ["members", 2, "joined_on"],
        ["members", 6, "joined_on"],
    ]
    assert set(q["reason"]) == {"not a date between 1900 and 2261"}
    assert bundle.members["joined_on"].dropna().tolist() == [
        pd.Timestamp("1900-01-01"),
        pd.Timestamp("2000-01-01"),
        pd.Timestamp("2012-05-04"),
    ]
