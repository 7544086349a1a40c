"""The bad-input catalogue: each test feeds one kind of broken input and checks the outcome.

Every docstring reads "input → expected outcome" on one line (compiled into the docs' table).
Errors must name the table, the column, the offending rows and the fix; quarantined rows must
name table, row, column, value and reason, and their household must stay accounted for.
"""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from riskml.config import ConfigError
from riskml.config.mapping import BundleMapping
from riskml.data import BundleError, load_bundle, summarize_bundle

from ._builders import HH, MEMBER, load_text, quarantined, text_tables, write_text_bundle


def _error(folder: Path, tables: dict[str, pd.DataFrame] | None = None, **kwargs: object) -> str:
    with pytest.raises(BundleError) as info:
        load_text(folder, tables, **kwargs)
    return str(info.value)


def _all_households_accounted_for(bundle, source_ids: list[str]) -> None:
    kept = set(bundle.households["household_id"])
    aside = set(bundle.quarantine.loc[bundle.quarantine["table"] == "households", "household_id"])
    assert set(source_ids) <= kept | aside


# ---------------------------------------------------------------- structural errors


def test_missing_required_column(tmp_path: Path) -> None:
    """households without its village_code column → error naming table, column, the columns found and the fix."""
    t = text_tables()
    t["households"] = t["households"].drop(columns="village_code")
    msg = _error(tmp_path, t)
    assert "households" in msg and "'village_code'" in msg
    assert "Columns in the file: household_id, county_code" in msg
    assert "Fix:" in msg and "tables.households.columns" in msg


def test_renamed_required_column_suggests_close_match(tmp_path: Path) -> None:
    """income column household_size spelt 'Household_Sz' → error suggesting 'Household_Sz' as the match and a mapping fix."""
    t = text_tables()
    t["income"] = t["income"].rename(columns={"household_size": "Household_Sz"})
    msg = _error(tmp_path, t)
    assert "income" in msg and "'household_size'" in msg
    assert "may be the file's 'Household_Sz'" in msg
    assert "{Household_Sz: household_size}" in msg


def test_wrong_type_whole_column_is_an_error(tmp_path: Path) -> None:
    """income.year written as text ('2023年') in every row → error (systematic), naming column, rows 1-5 and the fix."""
    t = text_tables()
    t["income"]["year"] = t["income"]["year"] + "年"
    msg = _error(tmp_path, t)
    assert "income.year" in msg and "not a whole number" in msg
    assert "row 1 ('2023年')" in msg and "and 3 more rows" in msg
    assert "Fix:" in msg and "systematic" in msg


def test_wrong_type_single_cell_is_quarantined(tmp_path: Path) -> None:
    """one members.birth_year '19x0' → that member row quarantined (row 3, value '19x0'), its household kept."""
    t = text_tables()
    t["members"].loc[2, "birth_year"] = "19x0"
    bundle = load_text(tmp_path, t)
    q = quarantined(bundle, "members", "not a whole number")
    assert q[["row", "column", "value", "household_id"]].values.tolist() == [
        [3, "birth_year", "19x0", HH[1]]
    ]
    assert MEMBER[HH[1]][0] not in set(bundle.members["member_id"])
    assert HH[1] in set(bundle.households["household_id"])
    assert len(bundle.members) == 7


def test_empty_file(tmp_path: Path) -> None:
    """events.csv of 0 bytes → error naming the table and file, with the fix."""
    write_text_bundle(tmp_path)
    (tmp_path / "events.csv").write_bytes(b"")
    with pytest.raises(
        BundleError, match=r"events: events\.csv is empty .*Fix: export the table again"
    ):
        load_bundle(tmp_path)


def test_headers_only_households_is_an_error(tmp_path: Path) -> None:
    """households.csv with a header but no rows → error ('has a header but no rows')."""
    t = text_tables()
    t["households"] = t["households"].iloc[:0]
    msg = _error(tmp_path, t)
    assert "households: households.csv has a header but no rows" in msg and "Fix:" in msg


def test_headers_only_history_table_loads_empty(tmp_path: Path) -> None:
    """assistance.csv with a header only → loads; the assistance table is empty with every contract column."""
    t = text_tables()
    t["assistance"] = t["assistance"].iloc[:0]
    bundle = load_text(tmp_path, t)
    assert len(bundle.assistance) == 0
    assert str(bundle.assistance["start_date"].dtype) == "datetime64[ns]"
    assert len(bundle.quarantine) == 0


def test_duplicate_household_ids(tmp_path: Path) -> None:
    """households with HH[0] on rows 1 and 3 → error listing both rows, the id and the fix."""
    t = text_tables()
    t["households"].loc[2, "household_id"] = HH[0]
    msg = _error(tmp_path, t)
    assert "households.household_id" in msg and "appear more than once" in msg
    assert f"row 1 ('{HH[0]}'), row 3 ('{HH[0]}')" in msg
    assert "Fix: remove or merge the duplicate rows" in msg


def test_duplicate_member_ids_conflicting(tmp_path: Path) -> None:
    """two members rows with one member_id and different values → both quarantined; their households stay."""
    t = text_tables()
    t["members"].loc[3, "member_id"] = t["members"].loc[2, "member_id"]
    bundle = load_text(tmp_path, t)
    q = quarantined(bundle, "members", "same member_id but different values")
    assert sorted(q["row"]) == [3, 4]
    assert len(bundle.members) == 6
    assert HH[1] in set(bundle.households["household_id"])


def test_duplicate_member_ids_exact_copy_keeps_first(tmp_path: Path) -> None:
    """a members row repeated verbatim → the copy (row 9) quarantined as exact duplicate, the first kept."""
    t = text_tables()
    t["members"] = pd.concat([t["members"], t["members"].iloc[[0]]], ignore_index=True)
    bundle = load_text(tmp_path, t)
    q = quarantined(bundle, "members", "exact duplicate")
    assert q["row"].tolist() == [9]
    assert (bundle.members["member_id"] == MEMBER[HH[0]][0]).sum() == 1


def test_orphan_rows(tmp_path: Path) -> None:
    """an income row for a household_id not in households → quarantined ('household_id not in households')."""
    t = text_tables()
    t["income"].loc[5, "household_id"] = "150500000000009999"
    bundle = load_text(tmp_path, t)
    q = quarantined(bundle, "income", "household_id not in households")
    assert q[["row", "household_id", "value"]].values.tolist() == [
        [6, "150500000000009999", "150500000000009999"]
    ]
    assert len(bundle.income) == 7
    assert summarize_bundle(bundle)["quarantine"]["rows_set_aside"] == {"income": 1}


def test_member_of_unknown_household(tmp_path: Path) -> None:
    """a members row whose household_id is not in households → quarantined; the 4 households all kept."""
    t = text_tables()
    t["members"].loc[7, "household_id"] = "150500000000008888"
    bundle = load_text(tmp_path, t)
    assert quarantined(bundle, "members", "household_id not in households")["row"].tolist() == [8]
    assert len(bundle.households) == 4


def test_negative_money(tmp_path: Path) -> None:
    """income.wage_income -500 → the income row quarantined ('negative amount'); the household stays."""
    t = text_tables()
    t["income"].loc[0, "wage_income"] = "-500"
    bundle = load_text(tmp_path, t)
    q = quarantined(bundle, "income", "negative amount")
    assert q[["row", "column", "value", "household_id"]].values.tolist() == [
        [1, "wage_income", "-500", HH[0]]
    ]
    assert HH[0] in set(bundle.households["household_id"])
    assert len(bundle.income) == 7


def test_absurd_money(tmp_path: Path) -> None:
    """events.amount 1e12 → the event quarantined ('amount above 1e+08 yuan'); a mapping can raise the cap."""
    t = text_tables()
    t["events"].loc[1, "amount"] = "1e12"
    bundle = load_text(tmp_path / "a", t)
    assert quarantined(bundle, "events", "amount above 1e+08 yuan")["row"].tolist() == [2]
    relaxed = BundleMapping.model_validate({"validation": {"max_money": 1e13}})
    assert len(load_text(tmp_path / "b", t, mapping=relaxed).events) == 6


def test_household_size_zero(tmp_path: Path) -> None:
    """income.household_size 0 → the income row quarantined ('household_size below 1')."""
    t = text_tables()
    t["income"].loc[4, "household_size"] = "0"
    bundle = load_text(tmp_path, t)
    assert quarantined(bundle, "income", "household_size below 1")["row"].tolist() == [5]


def test_dates_in_the_future(tmp_path: Path) -> None:
    """an event dated after bundle.yaml's extracted_on (2025-12-31) → quarantined ('dated after the extraction date')."""
    t = text_tables()
    t["events"].loc[5, "event_date"] = "2026-03-01"
    t["events"].loc[5, "recorded_on"] = "2026-03-05"
    bundle = load_text(tmp_path, t)
    q = quarantined(bundle, "events", "dated after the extraction date")
    assert set(q["row"]) == {6} and set(q["column"]) == {"event_date", "recorded_on"}
    assert len(bundle.events) == 5


def test_wrong_extraction_date_is_an_error(tmp_path: Path) -> None:
    """extracted_on 2020-01-01 (before most dates) → error (systematic) pointing at bundle.yaml extracted_on."""
    write_text_bundle(tmp_path)
    (tmp_path / "bundle.yaml").write_text("extracted_on: 2020-01-01\n", encoding="utf-8")
    with pytest.raises(BundleError, match=r"dated after the extraction date.*extracted_on"):
        load_bundle(tmp_path)


def test_recorded_on_before_event_date(tmp_path: Path) -> None:
    """events.recorded_on 2024-02-01 before event_date 2024-03-02 → quarantined ('recorded_on before event_date')."""
    t = text_tables()
    t["events"].loc[0, "recorded_on"] = "2024-02-01"
    bundle = load_text(tmp_path, t)
    q = quarantined(bundle, "events", "recorded_on before event_date")
    assert q[["row", "column", "value"]].values.tolist() == [[1, "recorded_on", "2024-02-01"]]


def test_left_on_before_joined_on(tmp_path: Path) -> None:
    """members.left_on 2011-01-01 before joined_on 2012-05-04 → the member quarantined ('left_on before joined_on')."""
    t = text_tables()
    t["members"].loc[7, "left_on"] = "2011-01-01"
    bundle = load_text(tmp_path, t)
    assert quarantined(bundle, "members", "left_on before joined_on")["row"].tolist() == [8]


def test_income_recorded_before_its_year(tmp_path: Path) -> None:
    """income for 2024 recorded on 2023-12-01 → quarantined ('recorded before the year it describes began')."""
    t = text_tables()
    t["income"].loc[1, "recorded_on"] = "2023-12-01"
    bundle = load_text(tmp_path, t)
    assert quarantined(bundle, "income", "recorded before the year")["row"].tolist() == [2]


def test_unknown_vocabulary_value_is_an_error(tmp_path: Path) -> None:
    """events.event_type 'flood_damage' (not in the vocabulary) → error listing the code, its rows and the recode/fallback fix."""
    t = text_tables()
    t["events"].loc[3, "event_type"] = "flood_damage"
    msg = _error(tmp_path, t)
    assert "events.event_type" in msg and "'flood_damage' (1 rows)" in msg
    assert "row 4 ('flood_damage')" in msg
    assert "tables.events.recode.event_type" in msg and "tables.events.fallback.event_type" in msg


def test_unknown_vocabulary_value_with_fallbacks(tmp_path: Path) -> None:
    """the same unknown event_type with fallback 'quarantine' → row quarantined; with fallback 'natural_disaster' → recoded."""
    t = text_tables()
    t["events"].loc[3, "event_type"] = "flood_damage"
    quarantine = BundleMapping.model_validate(
        {"tables": {"events": {"fallback": {"event_type": "quarantine"}}}}
    )
    bundle = load_text(tmp_path / "q", t, mapping=quarantine)
    assert quarantined(bundle, "events", "code not in the vocabulary")["row"].tolist() == [4]
    to_value = BundleMapping.model_validate(
        {"tables": {"events": {"fallback": {"event_type": "natural_disaster"}}}}
    )
    bundle = load_text(tmp_path / "v", t, mapping=to_value)
    assert bundle.events["event_type"].tolist()[3] == "natural_disaster"
    assert summarize_bundle(bundle)["fallback_values"] == {"events.event_type": 1}


def test_household_with_bad_optional_value_keeps_household(tmp_path: Path) -> None:
    """households.livelihood 'fishing' with fallback quarantine → value cleared (action 'value cleared'), household kept."""
    t = text_tables()
    t["households"].loc[1, "livelihood"] = "fishing"
    mapping = BundleMapping.model_validate({"unknown_categories": "quarantine"})
    bundle = load_text(tmp_path, t, mapping=mapping)
    q = quarantined(bundle, "households", "code not in the vocabulary")
    assert q[["row", "value", "action"]].values.tolist() == [[2, "fishing", "value cleared"]]
    assert len(bundle.households) == 4 and pd.isna(bundle.households["livelihood"][1])


def test_household_missing_required_value_cascades(tmp_path: Path) -> None:
    """households row 2 with empty village_code → household set aside, and its members/income/events/... rows too."""
    t = text_tables()
    t["households"].loc[1, "village_code"] = ""
    bundle = load_text(tmp_path, t)
    assert HH[1] not in set(bundle.households["household_id"])
    hq = quarantined(bundle, "households", "required value missing")
    assert hq[["row", "column", "action"]].values.tolist() == [
        [2, "village_code", "household set aside"]
    ]
    for table in ("members", "income", "events", "monitoring"):
        assert HH[1] not in set(bundle.tables[table]["household_id"])
        assert len(quarantined(bundle, table, "its household was set aside")) > 0
    _all_households_accounted_for(bundle, HH)
    assert summarize_bundle(bundle)["quarantine"]["households_set_aside"] == 1


def test_gbk_file_read_as_utf8(tmp_path: Path) -> None:
    """a GBK-encoded bundle loaded with encoding='utf-8' → error naming the file and line, suggesting GB18030."""
    write_text_bundle(tmp_path, encoding="gbk")
    with pytest.raises(BundleError) as info:
        load_bundle(tmp_path, encoding="utf-8")
    msg = str(info.value)
    assert "households: households.csv is not valid utf-8 text" in msg
    assert "line 2" in msg and "looks like GB18030" in msg and "--encoding gb18030" in msg


def test_utf8_file_read_as_gbk(tmp_path: Path) -> None:
    """a UTF-8 bundle with Chinese text loaded with encoding='gbk' → error saying the file is UTF-8 and to use utf-8 or detection."""
    write_text_bundle(tmp_path)
    with pytest.raises(BundleError) as info:
        load_bundle(tmp_path, encoding="gbk")
    msg = str(info.value)
    assert "households: households.csv" in msg
    assert "looks like UTF-8" in msg or "is valid UTF-8" in msg
    assert "--encoding utf-8" in msg


def test_undecodable_file(tmp_path: Path) -> None:
    """households.csv with bytes valid in neither UTF-8 nor GB18030 → error ('neither UTF-8 nor GB18030') and the fix."""
    write_text_bundle(tmp_path)
    data = (tmp_path / "households.csv").read_bytes()
    (tmp_path / "households.csv").write_bytes(
        data.replace(b"15050000000000", b"\x80\xff\x80\xff", 1)
    )
    with pytest.raises(BundleError, match=r"neither UTF-8 nor GB18030.*Fix: save it as UTF-8"):
        load_bundle(tmp_path)


def _xlsx(
    path: Path, sheets: dict[str, list[list[object]]], merge: dict[str, list[str]] | None = None
) -> None:
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for row in rows:
            ws.append(row)
        for cells in (merge or {}).get(name, []):
            ws.merge_cells(cells)
    wb.save(path)


def _frame_rows(frame: pd.DataFrame) -> list[list[object]]:
    return [list(frame.columns), *frame.astype(object).where(frame != "", None).values.tolist()]


def test_excel_merged_header_rows(tmp_path: Path) -> None:
    """income.xlsx whose header spans two rows (merged '收入' over the income columns) → error saying so, naming columns and the fix."""
    write_text_bundle(tmp_path)
    (tmp_path / "income.csv").unlink()
    income = text_tables()["income"]
    top = [
        "household_id",
        "year",
        "recorded_on",
        "household_size",
        "收入",
        None,
        None,
        None,
        None,
        None,
    ]
    second = [None, None, None, None, *income.columns[4:]]
    _xlsx(
        tmp_path / "income.xlsx",
        {"收支": [top, second, *_frame_rows(income)[1:]]},
        {"收支": ["E1:J1"]},
    )
    with pytest.raises(BundleError) as info:
        load_bundle(tmp_path)
    msg = str(info.value)
    assert (
        "income: the header of income.xlsx (sheet '收支') looks merged or spread over several rows"
        in msg
    )
    assert "column(s) F, G, H, I, J" in msg and "row 2 continues it ('business_income'" in msg
    assert "unmerge the header cells" in msg and "header_row:" in msg


def test_excel_title_row_above_header_with_header_row(tmp_path: Path) -> None:
    """events.xlsx with a title row above the header → loads when the mapping sets header_row: 2."""
    write_text_bundle(tmp_path)
    (tmp_path / "events.csv").unlink()
    rows = _frame_rows(text_tables()["events"])
    _xlsx(
        tmp_path / "events.xlsx",
        {"events": [["2025年预警信息", *[None] * 6], *rows]},
        {"events": ["A1:G1"]},
    )
    with pytest.raises(BundleError, match="looks merged"):
        load_bundle(tmp_path)
    bundle = load_bundle(
        tmp_path, mapping=BundleMapping.model_validate({"tables": {"events": {"header_row": 2}}})
    )
    assert len(bundle.events) == 6


def test_excel_with_several_sheets(tmp_path: Path) -> None:
    """events.xlsx with two sheets holding data → error naming both sheets and tables.events.sheet; naming the sheet loads it."""
    write_text_bundle(tmp_path)
    (tmp_path / "events.csv").unlink()
    rows = _frame_rows(text_tables()["events"])
    _xlsx(tmp_path / "events.xlsx", {"2024": rows[:3], "全部": rows})
    with pytest.raises(BundleError) as info:
        load_bundle(tmp_path)
    msg = str(info.value)
    assert "events: events.xlsx has several sheets with data (2024, 全部)" in msg
    assert "tables.events.sheet" in msg
    bundle = load_bundle(
        tmp_path, mapping=BundleMapping.model_validate({"tables": {"events": {"sheet": "全部"}}})
    )
    assert len(bundle.events) == 6


def test_excel_ids_stored_as_numbers(tmp_path: Path) -> None:
    """households.xlsx with 18-digit ids typed as Excel numbers (1.505e17) → error: digits lost, format the column as Text."""
    write_text_bundle(tmp_path)
    (tmp_path / "households.csv").unlink()
    rows = _frame_rows(text_tables()["households"])
    for row in rows[1:]:
        row[0] = float(row[0])
    _xlsx(tmp_path / "households.xlsx", {"households": rows})
    with pytest.raises(
        BundleError,
        match=r"households\.household_id .*Excel numbers of 16\+ digits.*format the id column as Text",
    ):
        load_bundle(tmp_path)


def test_ids_in_scientific_notation(tmp_path: Path) -> None:
    """income.csv ids written '1.505E+17' (CSV saved from Excel) → error: ids in scientific notation, export as text."""
    t = text_tables()
    t["income"]["household_id"] = "1.505E+17"
    msg = _error(tmp_path, t)
    assert "income.household_id" in msg and "scientific notation" in msg and "row 1" in msg


def test_full_width_digits_and_stray_spaces_in_ids(tmp_path: Path) -> None:
    """ids with full-width digits / spaces in members and income → normalised to ASCII, joined to their households, counted."""
    t = text_tables()
    full = HH[0].translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    t["members"].loc[0, "household_id"] = full
    t["members"].loc[1, "household_id"] = f" {HH[0][:6]} {HH[0][6:]}\u3000"
    t["income"].loc[0, "household_id"] = f"{HH[0]} "
    t["households"].loc[3, "household_id"] = f"\t{HH[3]}"
    bundle = load_text(tmp_path, t)
    assert len(bundle.quarantine) == 0
    assert (bundle.members["household_id"] == HH[0]).sum() == 2
    assert bundle.households["household_id"].tolist() == HH
    summary = summarize_bundle(bundle)
    assert summary["normalised_ids"]["total"] == 4
    assert summary["normalised_ids"]["columns"] == {
        "households.household_id": 1,
        "members.household_id": 2,
        "income.household_id": 1,
    }


def test_event_member_of_another_household(tmp_path: Path) -> None:
    """an event whose member_id belongs to another household → member_id cleared (value cleared), event kept."""
    t = text_tables()
    t["events"].loc[2, "member_id"] = MEMBER[HH[3]][1]
    bundle = load_text(tmp_path, t)
    q = quarantined(bundle, "events", "not a member of this household")
    assert q[["row", "action"]].values.tolist() == [[3, "value cleared"]]
    assert len(bundle.events) == 6 and pd.isna(bundle.events["member_id"][2])


def test_unparseable_date_and_date_format(tmp_path: Path) -> None:
    """all assistance dates as YYYY/MM/DD → error suggesting date_formats; declared '%Y/%m/%d' → loads; one bad date → quarantined."""
    t = text_tables()
    for col in ("start_date", "end_date"):
        t["assistance"][col] = t["assistance"][col].str.replace("-", "/")
    msg = _error(tmp_path / "a", t)
    assert (
        "assistance.start_date" in msg and "not a date" in msg and "date_formats.start_date" in msg
    )
    mapping = BundleMapping.model_validate(
        {
            "tables": {
                "assistance": {"date_formats": {"start_date": "%Y/%m/%d", "end_date": "%Y/%m/%d"}}
            }
        }
    )
    assert len(load_text(tmp_path / "b", t, mapping=mapping).assistance) == 3
    t["assistance"].loc[1, "start_date"] = "2024/13/45"
    bundle = load_text(tmp_path / "c", t, mapping=mapping)
    assert quarantined(bundle, "assistance", "not a date")[["row", "value"]].values.tolist() == [
        [2, "2024/13/45"]
    ]


def test_missing_table_file(tmp_path: Path) -> None:
    """no assistance file → error naming the table, the files present and the fix; missing_tables: [assistance] → loads empty."""
    write_text_bundle(tmp_path)
    (tmp_path / "assistance.csv").unlink()
    with pytest.raises(BundleError, match=r"assistance: no file for this table .*missing_tables"):
        load_bundle(tmp_path)
    bundle = load_bundle(
        tmp_path, mapping=BundleMapping.model_validate({"missing_tables": ["assistance"]})
    )
    assert len(bundle.assistance) == 0 and bundle.assistance.columns[0] == "household_id"


def test_malformed_csv_row(tmp_path: Path) -> None:
    """a CSV row with an extra field → error naming the file and the fix (quote values holding commas)."""
    write_text_bundle(tmp_path)
    with (tmp_path / "monitoring.csv").open("a", encoding="utf-8") as fh:
        fh.write(f"{HH[2]},2025-01-01,edge,illness,,,,,extra\n")
    with pytest.raises(
        BundleError,
        match=r"monitoring: monitoring\.csv is not a well-formed CSV file.*quote values",
    ):
        load_bundle(tmp_path)


def test_manifest_with_unknown_key(tmp_path: Path) -> None:
    """bundle.yaml with 'extract_date:' → error naming the unknown key and the allowed ones."""
    write_text_bundle(tmp_path)
    (tmp_path / "bundle.yaml").write_text("extract_date: 2025-12-31\n", encoding="utf-8")
    with pytest.raises(
        BundleError, match=r"unknown key 'extract_date' \(allowed: extracted_on, province, source\)"
    ):
        load_bundle(tmp_path)


# ---------------------------------------------------------------- mapping errors


def test_mapping_maps_two_columns_to_one(tmp_path: Path) -> None:
    """a mapping with hbh → household_id and hh_no → household_id → config error naming both source columns."""
    path = tmp_path / "m.yaml"
    path.write_text(
        "tables:\n  households:\n    columns: {hbh: household_id, hh_no: household_id}\n",
        encoding="utf-8",
    )
    write_text_bundle(tmp_path / "b")
    with pytest.raises(ConfigError) as info:
        load_bundle(tmp_path / "b", mapping=path)
    msg = str(info.value)
    assert (
        "'hbh' and 'hh_no' are both mapped onto 'households.household_id'" in msg
        and str(path) in msg
    )


def test_mapping_and_file_both_provide_a_column(tmp_path: Path) -> None:
    """a file holding household_id plus a column the mapping renames to household_id → error naming both."""
    t = text_tables()
    t["households"]["hbh"] = t["households"]["household_id"]
    mapping = BundleMapping.model_validate(
        {"tables": {"households": {"columns": {"hbh": "household_id"}}}}
    )
    msg = _error(tmp_path, t, mapping=mapping)
    assert "households.csv has a column 'household_id' and the mapping also maps 'hbh'" in msg


def test_mapping_with_unknown_key(tmp_path: Path) -> None:
    """a mapping file with 'colums:' (typo) → config error naming the key tables.households.colums."""
    path = tmp_path / "m.yaml"
    path.write_text("tables:\n  households:\n    colums: {hbh: household_id}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"unknown key 'tables\.households\.colums'"):
        load_bundle(tmp_path, mapping=path)


def test_mapping_with_unknown_table_and_column(tmp_path: Path) -> None:
    """a mapping naming table 'household' and column 'village_cd' → config error with both and the close matches."""
    path = tmp_path / "m.yaml"
    path.write_text(
        "tables:\n  household: {}\n  members:\n    columns: {cun: village_cd}\n", encoding="utf-8"
    )
    with pytest.raises(ConfigError) as info:
        load_bundle(tmp_path, mapping=path)
    msg = str(info.value)
    assert "tables.household: 'household' is not a contract table; did you mean 'households'" in msg
    assert (
        "tables.members.columns.cun: 'village_cd' is not a column of the contract table 'members'"
        in msg
    )


def test_mapping_recode_outside_vocabulary(tmp_path: Path) -> None:
    """a recode 因病 → 'ilness' → config error naming the key and suggesting 'illness'."""
    path = tmp_path / "m.yaml"
    path.write_text(
        "tables:\n  monitoring:\n    recode:\n      risk_1: {因病: ilness}\n", encoding="utf-8"
    )
    with pytest.raises(
        ConfigError,
        match=r"tables\.monitoring\.recode\.risk_1: '因病' -> 'ilness' .*did you mean 'illness'",
    ):
        load_bundle(tmp_path, mapping=path)


def test_mapping_with_unknown_encoding(tmp_path: Path) -> None:
    """a mapping with encoding 'gbk2' → config error naming the encoding key."""
    path = tmp_path / "m.yaml"
    path.write_text("encoding: gbk2\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"encoding: .*unknown encoding 'gbk2'"):
        load_bundle(tmp_path, mapping=path)


def test_csv_title_line_above_header(tmp_path: Path) -> None:
    """income.csv with a title line above the header → error hinting header_row; header_row: 2 in the mapping → loads."""
    write_text_bundle(tmp_path)
    path = tmp_path / "income.csv"
    path.write_text("2024年收支情况表\n" + path.read_text(encoding="utf-8"), encoding="utf-8")
    with pytest.raises(
        BundleError, match=r"income: income\.csv is not a well-formed CSV.*header_row"
    ):
        load_bundle(tmp_path)
    mapping = BundleMapping.model_validate({"tables": {"income": {"header_row": 2}}})
    assert len(load_bundle(tmp_path, mapping=mapping).income) == 8


def test_bad_arguments(tmp_path: Path) -> None:
    """encoding='gbk2' or extracted_on='2025-13-01' → BundleError naming the value and the fix (no LookupError/ValueError traceback)."""
    write_text_bundle(tmp_path)
    with pytest.raises(BundleError, match=r"Unknown encoding 'gbk2'"):
        load_bundle(tmp_path, encoding="gbk2")
    with pytest.raises(BundleError, match=r"'2025-13-01' is not a date.*YYYY-MM-DD"):
        load_bundle(tmp_path, extracted_on="2025-13-01")


def test_utf8_text_that_also_decodes_as_gbk(tmp_path: Path) -> None:
    """a UTF-8 file whose bytes happen to decode as GBK ('中文'), read with encoding='gbk' → error: valid UTF-8, would be garbled."""
    from riskml.data._read import read_table_file

    path = tmp_path / "households.csv"
    path.write_text("household_id,village_name\n1,中文\n", encoding="utf-8")
    with pytest.raises(BundleError, match=r"was to be read as gbk, but it is valid UTF-8"):
        read_table_file(path, "households", encoding="gbk")


def test_parquet_column_of_unsupported_type(tmp_path: Path) -> None:
    """a parquet income.year stored as lists → error naming the column, its stored type and the fix."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from riskml.data import write_bundle

    from ._builders import typed_bundle

    write_bundle(typed_bundle(), tmp_path, format="parquet")
    income = pq.read_table(tmp_path / "income.parquet")
    index = income.schema.get_field_index("year")
    lists = pa.array([[y] for y in income.column("year").to_pylist()])
    pq.write_table(income.set_column(index, "year", lists), tmp_path / "income.parquet")
    with pytest.raises(
        BundleError,
        match=r"income\.year \(income\.parquet\): 'year' is stored as list<.*Fix",
    ):
        load_bundle(tmp_path)


# ---------------------------------------------------------------- reviews: the table and the import

_TODAY = __import__("datetime").date(2026, 3, 1)


def _import_error(tmp_path: Path, rows: list[list[object]], **kwargs: object) -> str:
    from riskml.data import ReviewImportError, import_reviews

    from ._builders import registration_workbook

    folder = write_text_bundle(tmp_path / "bundle")
    wb = registration_workbook(tmp_path / "登记表.xlsx", rows)
    with pytest.raises(ReviewImportError) as info:
        import_reviews([wb], folder, today=_TODAY, **kwargs)
    assert not (folder / "reviews.csv").exists()  # nothing written
    return str(info.value)


def test_reviews_file_with_unknown_outcome(tmp_path: Path) -> None:
    """reviews.csv with outcome 'maybe' → error naming reviews.outcome, the value and the allowed outcomes."""
    t = text_tables()
    t["reviews"] = pd.DataFrame(
        {"household_id": [HH[2]], "reviewed_on": ["2025-07-15"], "outcome": ["maybe"]}
    )
    msg = _error(tmp_path / "b", t)
    assert "reviews.outcome" in msg and "'maybe'" in msg and "not_at_risk" in msg


def test_reviews_file_row_of_unknown_household(tmp_path: Path) -> None:
    """a reviews row for a household not in households → quarantined ('household_id not in households')."""
    t = text_tables()
    t["reviews"] = pd.DataFrame(
        {
            "household_id": [HH[2], "999"],
            "reviewed_on": ["2025-07-15", "2025-07-16"],
            "outcome": ["not_at_risk", "identified"],
        }
    )
    bundle = load_text(tmp_path / "b", t)
    assert bundle.reviews["household_id"].tolist() == [HH[2]]
    assert quarantined(bundle, "reviews")["reason"].tolist() == ["household_id not in households"]


def test_review_import_conclusion_outside_the_dropdown(tmp_path: Path) -> None:
    """a 核实登记表 row whose 核实结论 is '同意' → error naming file, sheet, row, column '核实结论' and the four allowed values; nothing written."""
    from ._builders import sheet_row

    msg = _import_error(tmp_path, [sheet_row(HH[2], "2025-07-15", "同意")])
    assert "登记表.xlsx, sheet '嘎查11', row 3, column '核实结论': '同意'" in msg
    assert "纳入监测对象 / 暂不纳入 / 已是监测对象 / 无法核实" in msg


def test_review_import_unknown_risk_type(tmp_path: Path) -> None:
    """a 核实登记表 row whose 风险类型 is '因穷' → error naming row and column '风险类型' and the official types."""
    from ._builders import sheet_row

    msg = _import_error(tmp_path, [sheet_row(HH[2], "2025-07-15", "暂不纳入", "因穷")])
    assert "row 3, column '风险类型': '因穷'" in msg and "因自然灾害" in msg


def test_review_import_bad_or_missing_date(tmp_path: Path) -> None:
    """核实日期 '2025-13-45', or empty with a conclusion → error naming row and column '核实日期' for each."""
    from ._builders import sheet_row

    msg = _import_error(
        tmp_path,
        [sheet_row(HH[2], "2025-13-45", "暂不纳入"), sheet_row(HH[3], None, "暂不纳入")],
    )
    assert "row 3, column '核实日期': '2025-13-45' is not a date" in msg
    assert "row 4, column '核实日期': a review (暂不纳入) without a date" in msg


def test_review_import_date_in_the_future(tmp_path: Path) -> None:
    """核实日期 after today → error ('is in the future'), naming row and column."""
    from ._builders import sheet_row

    msg = _import_error(tmp_path, [sheet_row(HH[2], "2027-01-01", "暂不纳入")])
    assert "row 3, column '核实日期': 2027-01-01 is in the future (today is 2026-03-01)" in msg


def test_review_import_unknown_household_and_late_review(tmp_path: Path) -> None:
    """a review of a household not in the bundle, and one dated after the extraction date → both quarantined with the reason (file, sheet, row) beside the bundle; the good review imported."""
    from riskml.data import import_reviews

    from ._builders import registration_workbook, sheet_row

    folder = write_text_bundle(tmp_path / "bundle")
    wb = registration_workbook(
        tmp_path / "登记表.xlsx",
        [
            sheet_row(HH[2], "2025-07-15", "暂不纳入"),
            sheet_row("150500000000009999", "2025-08-03", "无法核实"),
            sheet_row(HH[3], "2026-01-10", "纳入监测对象"),
        ],
    )
    result = import_reviews([wb], folder, today=_TODAY)
    assert result.added == 1
    q = pd.read_csv(result.quarantine_path, dtype=str, encoding="utf-8-sig")
    assert q["row"].tolist() == ["4", "5"]
    assert q["reason"].str.startswith("household_id not in").tolist() == [True, False]
    assert "after the bundle's extraction date (2025-12-31)" in q["reason"].iloc[1]


def test_review_import_empty_conclusion(tmp_path: Path) -> None:
    """a 核实登记表 row with a date and a note but no 核实结论 → not a review: skipped, counted in the summary with a hint."""
    from riskml.data import import_reviews

    from ._builders import registration_workbook, sheet_row

    folder = write_text_bundle(tmp_path / "bundle")
    wb = registration_workbook(
        tmp_path / "a.xlsx", [sheet_row(HH[2], "2025-07-15", None, None, "再去")]
    )
    result = import_reviews([wb], folder, today=_TODAY)
    assert (result.added, result.no_conclusion, result.no_conclusion_but_filled) == (0, 1, 1)
    assert "fill in 核实结论" in " ".join(result.lines())


def test_review_import_macro_workbook(tmp_path: Path) -> None:
    """a .xlsm workbook, or an .xlsx holding xl/vbaProject.bin → refused, saying to save as plain .xlsx."""
    import zipfile

    from riskml.data import ReviewImportError, import_reviews

    from ._builders import registration_workbook, sheet_row

    folder = write_text_bundle(tmp_path / "bundle")
    good = registration_workbook(tmp_path / "ok.xlsx", [sheet_row(HH[2], "2025-07-15", "暂不纳入")])
    xlsm = tmp_path / "宏.xlsm"
    xlsm.write_bytes(good.read_bytes())
    with pytest.raises(ReviewImportError, match=r"macro-enabled workbook is refused.*\*\.xlsx"):
        import_reviews([xlsm], folder, today=_TODAY)
    disguised = tmp_path / "disguised.xlsx"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(disguised, "w") as dst:
        for item in src.infolist():
            dst.writestr(item, src.read(item))
        dst.writestr("xl/vbaProject.bin", b"\0" * 16)
    with pytest.raises(ReviewImportError, match="holds macros"):
        import_reviews([disguised], folder, today=_TODAY)


def test_review_import_oversized_file_or_too_many_rows(tmp_path: Path) -> None:
    """a file above the size limit, or a sheet with more rows than the limit → refused with the limit named."""
    from riskml.data import ReviewImportError, import_reviews

    from ._builders import registration_workbook, sheet_row

    folder = write_text_bundle(tmp_path / "bundle")
    wb = registration_workbook(tmp_path / "a.xlsx", [sheet_row(HH[2], None, None)] * 6)
    with pytest.raises(ReviewImportError, match="larger than a registration workbook"):
        import_reviews([wb], folder, today=_TODAY, max_bytes=100)
    with pytest.raises(ReviewImportError, match="more than 5 data rows"):
        import_reviews([wb], folder, today=_TODAY, max_rows=5)


def test_review_import_not_a_registration_workbook(tmp_path: Path) -> None:
    """an .xlsx without the 户编号 / 核实结论 header, or a .docx → error saying what file is expected."""
    from riskml.data import ReviewImportError, import_reviews

    folder = write_text_bundle(tmp_path / "bundle")
    other = tmp_path / "other.xlsx"
    wb = openpyxl.Workbook()
    wb.active.append(["户号", "结论"])
    wb.save(other)
    with pytest.raises(ReviewImportError, match="no sheet with the 核实登记表 header"):
        import_reviews([other], folder, today=_TODAY)
    doc = tmp_path / "a.docx"
    doc.write_bytes(b"PK")
    with pytest.raises(ReviewImportError, match="unknown kind of file"):
        import_reviews([doc], folder, today=_TODAY)


def test_review_import_formula_cells(tmp_path: Path) -> None:
    """formula cells in a filled workbook (=HYPERLINK in 备注, =IF in 核实结论) → never evaluated: only cached values are read (none here, so empty)."""
    from riskml.data import import_reviews

    from ._builders import registration_workbook, sheet_row

    folder = write_text_bundle(tmp_path / "bundle")
    wb = registration_workbook(
        tmp_path / "f.xlsx",
        [
            sheet_row(HH[2], "2025-07-15", "暂不纳入", None, '=HYPERLINK("http://x","点我")'),
            sheet_row(HH[3], "2025-07-15", '=IF(1,"纳入监测对象","")'),
        ],
    )
    result = import_reviews([wb], folder, today=_TODAY)
    assert (result.added, result.no_conclusion) == (1, 1)
    assert load_bundle(folder).reviews["note"].isna().all()


def test_formula_text_in_the_quarantine_csv(tmp_path: Path) -> None:
    """a quarantined cell holding '=HYPERLINK(...)' → written to the quarantine CSV as text with a leading quote (OWASP), a plain '-1' left as is."""
    from riskml.data import write_quarantine

    t = text_tables()
    t["income"].loc[1, "business_income"] = '=HYPERLINK("http://x","点我")'
    t["income"].loc[0, "wage_income"] = "-1"
    bundle = load_text(tmp_path / "b", t)
    path = write_quarantine(bundle.quarantine, tmp_path / "q.csv")
    q = pd.read_csv(path, dtype=str, encoding="utf-8-sig")
    assert q["value"].tolist() == ["-1", '\'=HYPERLINK("http://x","点我")']


def test_formula_text_in_an_xlsx_bundle(tmp_path: Path) -> None:
    """a village named '=1+1' written with write_bundle(format='xlsx') → stored as a text cell, read back as '=1+1' (not a formula, not empty)."""
    from riskml.data import write_bundle

    t = text_tables()
    t["households"].loc[0, "village_name"] = "=1+1"
    out = write_bundle(load_text(tmp_path / "b", t), tmp_path / "x", format="xlsx")
    cell = openpyxl.load_workbook(out / "households.xlsx")["households"]["E2"]
    assert (cell.value, cell.data_type) == ("=1+1", "s")
    assert load_bundle(out).households["village_name"].iloc[0] == "=1+1"
