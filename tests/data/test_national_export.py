"""Source exports through mapping files: the national-system sample, and a differently arranged one."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from riskml.config.mapping import BundleMapping
from riskml.data import TABLES, load_bundle, load_mapping, summarize_bundle

# A copy of the shared national-export sample, kept in the repository so every clone runs these.
SAMPLE = Path(__file__).parent / "samples/national-export"

# Source file -> (source column, contract table, contract column) of every coded column in the sample.
CODED = {
    "户基本信息.csv": [
        ("hzxb", "households", "head_sex"),
        ("sfydbq", "households", "relocated"),
        ("zysj", "households", "livelihood"),
    ],
    "家庭成员.csv": [
        ("xb", "members", "sex"),
        ("yhzgx", "members", "relation"),
        ("whcd", "members", "education"),
    ],
    "预警信息.csv": [("sjlx", "events", "event_type"), ("xq", "events", "detail")],
    "帮扶措施.csv": [("bfcs", "assistance", "measure")],
    "监测信息.csv": [
        ("jcdxlb", "monitoring", "category"),
        ("fx1", "monitoring", "risk_1"),
        ("fxxcfs", "monitoring", "elimination_method"),
    ],
}


@pytest.fixture(scope="module")
def national():
    return load_bundle(SAMPLE, mapping="national_export")


def _source(name: str) -> pd.DataFrame:
    return pd.read_csv(SAMPLE / name, dtype=str, keep_default_na=False, encoding="gb18030")


def test_sample_loads_with_expected_counts(national) -> None:
    """the national-export sample + national_export.yaml → 400 households, 1307 members, 2400 income, 1975 events, 161 measures, 73 records; nothing quarantined."""
    assert {n: len(f) for n, f in national.tables.items()} == {
        "households": 400,
        "members": 1307,
        "income": 2400,
        "events": 1975,
        "assistance": 161,
        "monitoring": 73,
    }
    assert len(national.quarantine) == 0
    files = national.load_report["files"]
    assert (
        files["households"]["encoding"] == "gb18030"
        and files["households"]["file"] == "户基本信息.csv"
    )
    assert national.load_report["ignored_columns"] == {}


def test_sample_ids_stay_exact_text(national) -> None:
    """18-digit hbh and 20-digit cybh → the same strings as in the file (no float mangling), every member joined to a household."""
    source = _source("户基本信息.csv")["hbh"].tolist()
    assert national.households["household_id"].tolist() == source
    assert national.households["household_id"].str.len().eq(18).all()
    assert national.members["member_id"].tolist() == _source("家庭成员.csv")["cybh"].tolist()
    assert set(national.members["household_id"]) <= set(source)


def test_sample_recodes_cover_every_code(national) -> None:
    """every distinct code in the sample's coded columns → recoded into the contract vocabulary (no unknown, no empty where the source has a value)."""
    for file, columns in CODED.items():
        source = _source(file)
        for source_col, table, column in columns:
            present = source[source_col] != ""
            loaded = national.tables[table][column]
            assert loaded[present.to_numpy()].notna().all(), (file, source_col)
            assert loaded[~present.to_numpy()].isna().all(), (file, source_col)
            vocab = TABLES[table].column(column).vocab
            if vocab is not None:
                assert set(loaded.dropna()) <= set(vocab)


def test_sample_codes_and_dates(national) -> None:
    """Chinese codes, YYYY/MM/DD, YYYYMM and datetime-text dates → contract codes and dates (first of month for YYYYMM)."""
    hh = national.households.set_index("household_id")
    first = hh.loc["150500000000000000"]
    assert (
        first["head_sex"],
        first["livelihood"],
        first["relocated"],
        first["poverty_exit_year"],
    ) == ("M", "pastoral", False, 2016)
    assert national.households["relocated"].sum() == 20
    assert national.households["poverty_exit_year"].isna().sum() == 115
    assert national.members["relation"].value_counts()["head"] == 400
    ev = national.events
    assert ev["event_type"].value_counts()["hospitalization"] == 487
    assert (ev["detail"] == "snow").sum() == 101
    mon = national.monitoring.set_index("household_id")
    row = mon.loc["150500000000000386"]
    assert row["identified_on"] == pd.Timestamp("2019-11-01")  # 201911
    assert row["eliminated_on"] == pd.Timestamp("2020-05-11")  # "2020-05-11 00:00:00"
    assert (row["category"], row["risk_1"], row["elimination_method"]) == (
        "unstable_exited",
        "unstable_employment",
        "assisted",
    )
    assert (national.monitoring["identified_on"].dt.day == 1).all()
    inc = national.income
    assert inc["recorded_on"].min() == pd.Timestamp("2020-02-01")
    assert national.extracted_on == dt.date(
        2026, 2, 1
    )  # the latest date in the sample (no bundle.yaml)


def test_sample_summary(national) -> None:
    """summarize_bundle on the sample → 400 households, identification counts per year summing to the households ever monitored."""
    summary = summarize_bundle(national)
    assert summary["households"] == 400
    ident = summary["identification"]
    assert (
        sum(ident["households_first_identified"].values())
        == national.monitoring["household_id"].nunique()
        == 68
    )
    for year, n in ident["households_first_identified"].items():
        assert ident["rate"][year] == pytest.approx(n / 400)
    assert summary["date_range"]["first"] == "2019-01-03"


def test_shipped_mapping_is_valid() -> None:
    """configs/mappings/national_export.yaml → loads and passes the contract checks (recode targets in the vocabularies)."""
    mapping = load_mapping("national_export")
    assert mapping.table("households").file == "户基本信息.csv"
    assert mapping.table("monitoring").date_formats["identified_on"] == ["%Y%m"]


# ---------------------------------------------------------------- a differently arranged export

OTHER_MAPPING = """
description: 省级平台导出 (Excel, 中文表头, YYYY年MM月DD日)
date_formats: ["%Y年%m月%d日", "%Y.%m.%d"]
tables:
  households:
    file: "户信息*.xlsx"
    sheet: 户表
    columns: {户编号: household_id, 村代码: village_code, 乡镇代码: township_code, 户主性别: head_sex, 主要生计: livelihood}
    constants: {county_code: "152301"}
    recode:
      head_sex: {1: M, 2: F}
      livelihood: {种植: farming, 养殖: pastoral}
    fallback: {livelihood: mixed}
  members:
    file: 成员.xlsx
    columns: {户编号: household_id, 人员编号: member_id, 性别: sex, 出生年份: birth_year}
    recode: {sex: {1: M, 2: F}}
  income:
    file: 收入.xlsx
    columns: {户编号: household_id, 年度: year, 填报时间: recorded_on, 家庭人口: household_size, 工资性收入: wage_income, 转移性收入: transfer_income}
  events:
    file: 预警.xlsx
    columns: {户编号: household_id, 日期: event_date, 类型: event_type}
    recode: {event_type: {住院: hospitalization, 受灾: natural_disaster}}
  assistance:
    file: 措施.xlsx
    columns: {户编号: household_id, 措施: measure, 开始: start_date}
    recode: {measure: {低保: dibao}}
  monitoring:
    file: 监测.xlsx
    columns: {户编号: household_id, 纳入时间: identified_on, 类别: category}
    split:
      风险类型: {into: [risk_1, risk_2, risk_3]}
    recode:
      category: {边缘易致贫户: edge}
      risk_1: &risk {因病: illness, 因学: education, 因灾: disaster, 因缺劳动力: labor_shortage}
      risk_2: *risk
      risk_3: *risk
"""


def _sheet(path: Path, rows: list[list[object]], title: str = "Sheet1") -> None:
    wb = openpyxl.Workbook()
    wb.active.title = title
    for row in rows:
        wb.active.append(row)
    wb.save(path)


def test_differently_arranged_export(tmp_path: Path) -> None:
    """an xlsx export with Chinese headers (户编号, 工资性收入), numeric sex codes, 'YYYY年MM月DD日' dates, a constant county and one combined 风险类型 cell → loads into the contract through a mapping alone."""
    src = tmp_path / "export"
    src.mkdir()
    ids = ["152301000000000101", "152301000000000102"]
    _sheet(
        src / "户信息_2025.xlsx",
        [
            ["户编号", "乡镇代码", "村代码", "户主性别", "主要生计"],
            [ids[0], "152301001", "152301001001", 1, "种植"],
            [ids[1], "152301001", "152301001002", 2, "捕鱼"],
        ],
        title="户表",
    )
    _sheet(
        src / "成员.xlsx",
        [
            ["户编号", "人员编号", "性别", "出生年份"],
            [ids[0], ids[0] + "01", 1, 1970],
            [ids[1], ids[1] + "01", 2, 1985],
        ],
    )
    _sheet(
        src / "收入.xlsx",
        [
            ["户编号", "年度", "填报时间", "家庭人口", "工资性收入", "转移性收入"],
            [ids[0], 2024, "2025年02月10日", 3, 12000.5, 3000],
            [ids[1], 2024, "2025.03.01", 2, 0, 5100.25],
        ],
    )
    _sheet(
        src / "预警.xlsx",
        [
            ["户编号", "日期", "类型"],
            [ids[0], "2025年04月01日", "住院"],
            [ids[1], dt.datetime(2025, 5, 6), "受灾"],
        ],
    )
    _sheet(src / "措施.xlsx", [["户编号", "措施", "开始"], [ids[1], "低保", "2025年06月01日"]])
    _sheet(
        src / "监测.xlsx",
        [
            ["户编号", "纳入时间", "类别", "风险类型"],
            [ids[0], "2025年04月20日", "边缘易致贫户", "因病、因缺劳动力"],
        ],
    )
    mapping_path = tmp_path / "provincial.yaml"
    mapping_path.write_text(OTHER_MAPPING, encoding="utf-8")

    bundle = load_bundle(src, mapping=mapping_path)
    hh = bundle.households
    assert hh["household_id"].tolist() == ids
    assert hh["county_code"].tolist() == ["152301", "152301"]
    assert hh["head_sex"].tolist() == ["M", "F"]
    assert hh["livelihood"].tolist() == ["farming", "mixed"]  # 捕鱼 -> fallback
    assert bundle.members["birth_year"].tolist() == [1970, 1985]
    inc = bundle.income
    assert inc["recorded_on"].tolist() == [pd.Timestamp("2025-02-10"), pd.Timestamp("2025-03-01")]
    assert inc["wage_income"].tolist() == [12000.5, 0.0] and inc["business_income"].isna().all()
    assert bundle.events["event_type"].tolist() == ["hospitalization", "natural_disaster"]
    assert bundle.events["event_date"].tolist() == [
        pd.Timestamp("2025-04-01"),
        pd.Timestamp("2025-05-06"),
    ]
    mon = bundle.monitoring.iloc[0]
    assert (mon["risk_1"], mon["risk_2"], mon["category"]) == ("illness", "labor_shortage", "edge")
    assert pd.isna(mon["risk_3"])
    assert bundle.extracted_on == dt.date(2025, 6, 1)
    assert len(bundle.quarantine) == 0
    summary = summarize_bundle(bundle)
    assert summary["fallback_values"] == {"households.livelihood": 1}
    assert summary["files"]["households"]["sheet"] == "户表"


def test_split_keeps_three_risks_and_counts_the_rest(tmp_path: Path) -> None:
    """a 风险类型 cell with four risks split into risk_1..risk_3 → three kept, the fourth counted in the summary (not silently lost)."""
    src = tmp_path / "export"
    src.mkdir()
    from ._builders import text_tables, write_text_bundle

    t = text_tables()
    mon = t["monitoring"].drop(columns=["risk_1", "risk_2", "risk_3"])
    mon["fxlx"] = ["因病,因学;因灾、因缺劳动力", "因病"]
    t["monitoring"] = mon
    write_text_bundle(src, t)
    mapping = BundleMapping.model_validate(
        {
            "tables": {
                "monitoring": {
                    "split": {"fxlx": {"into": ["risk_1", "risk_2", "risk_3"]}},
                    "recode": {
                        f"risk_{i}": {
                            "因病": "illness",
                            "因学": "education",
                            "因灾": "disaster",
                            "因缺劳动力": "labor_shortage",
                        }
                        for i in (1, 2, 3)
                    },
                }
            }
        }
    )
    bundle = load_bundle(src, mapping=mapping)
    first = bundle.monitoring.iloc[0]
    assert (first["risk_1"], first["risk_2"], first["risk_3"]) == (
        "illness",
        "education",
        "disaster",
    )
    assert summarize_bundle(bundle)["split_values_dropped"] == {"monitoring": 1}


def test_shipped_template_is_valid() -> None:
    """configs/mappings/template.yaml (every key, annotated) → a valid mapping that reads a plain bundle unchanged."""
    mapping = load_mapping("template")
    assert mapping.unknown_categories == "error" and mapping.validation.max_money == 1e8
    assert mapping.table("households").file == "households.csv"
