"""Reason codes: facts about the household, stated only when their condition holds, grouped by
official risk type; top-4 and floor, the public register, village context, weighted measures
net of assistance in place, reconciliation."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from riskml.config import ConfigError
from riskml.config.explain import ExplainConfig, load_explain_config
from riskml.data import RISK_TYPES
from riskml.explain import (
    ReasonFeature,
    global_importance,
    reason_codes,
    reason_columns,
    reconcile,
    risk_type_coverage,
    tree_shap,
)
from riskml.explain._reasons import _measures
from riskml.features._statements import Statement

CONFIG = Path(__file__).resolve().parents[2] / "configs" / "explain.yaml"


@dataclass
class StandInFeature:
    """A catalog feature as reason codes see it (the real one lives in riskml.features)."""

    name: str
    risk_type: str
    statements: tuple[Statement, ...] = ()
    sensitive: bool = False
    measures: tuple[str, ...] = ()
    village: bool = False
    label_zh: str = "标签"
    label_en: str = "label"
    unit: str = ""
    dtype: str = "float"
    levels: dict[str, dict[str, str]] | None = None

    @property
    def scope(self) -> str:
        return "village" if self.village else "household"


def st(when: dict[str, dict[str, Any]], zh: str, en: str, **public: str) -> Statement:
    return Statement(when=when, zh=zh, en=en, **public)


MEDICAL = [
    StandInFeature(
        "n_hospitalizations", "illness", sensitive=True,
        statements=(st({"value": {"ge": 1}}, "近12个月住院{value:.0f}次", "{value:.0f} hospital stays",
                       public_zh="近12个月家庭有成员住院治疗", public_en="a member was treated in hospital"),),
    ),
    StandInFeature(
        "oop_medical", "illness", sensitive=True,
        statements=(st({"value": {"ge": 5000}}, "自付医疗费用{value:,.0f}元", "out-of-pocket costs {value:,.0f} yuan",
                       public_zh="家庭医疗自付费用较高", public_en="high out-of-pocket medical costs"),),
    ),
    StandInFeature(
        "n_chronic", "illness", sensitive=True,
        statements=(st({"value": {"ge": 1}}, "慢性病成员{value:.0f}人", "{value:.0f} chronically ill",
                       public_zh="家庭有成员需长期就医", public_en="a member needs long-term care"),),
    ),
    StandInFeature(
        "serious_illness", "illness", sensitive=True,
        statements=(st({"value": {"ge": 1}}, "家庭成员患重大疾病（{diagnosis_code}）",
                       "a member has a serious illness ({diagnosis_code})",
                       public_zh="家庭有成员需长期就医治疗", public_en="a member needs long-term treatment"),),
    ),
    StandInFeature(
        "medical_bills", "illness", sensitive=True,
        statements=(st({"value": {"ge": 2}}, "医疗票据{value:.0f}张", "{value:.0f} medical bills",
                       public_zh="家庭多次就医", public_en="repeated medical care"),),
    ),
]  # fmt: skip
OTHERS = [
    StandInFeature(
        "n_disasters", "disaster",
        statements=(st({"value": {"ge": 1}}, "近12个月受灾{value:.0f}次", "{value:.0f} disasters in 12 months"),),
    ),
    StandInFeature(
        "income_change", "other", measures=("employment_support", "industry_support"),
        statements=(st({"value": {"le": -0.15}}, "人均纯收入下降{value:abs:.0%}",
                       "per-capita income fell {value:abs:.0%}"),),
    ),
    StandInFeature(
        "n_disabled", "disability", sensitive=True,
        statements=(st({"value": {"ge": 1}}, "残疾成员{value:.0f}人", "{value:.0f} disabled members",
                       public_zh="家庭有成员劳动能力受限", public_en="a member's capacity to work is limited"),),
    ),
    StandInFeature(
        "job_loss", "unstable_employment",
        statements=(st({"value": {"ge": 1}}, "务工人员失业{value:.0f}人", "{value:.0f} lost their jobs"),),
    ),
    StandInFeature(
        "dropout", "education",
        statements=(st({"value": {"ge": 1}}, "辍学子女{value:.0f}人", "{value:.0f} children dropped out"),),
    ),
    StandInFeature(
        "labour_ratio", "labor_shortage",
        statements=(st({"value": {"le": 0.3}}, "劳动力占比{value:.0%}", "labour share {value:.0%}"),),
    ),
    StandInFeature("household_size", "labor_shortage"),  # neutral structure: never stated
    StandInFeature(
        "disaster_amount", "disaster",
        statements=(st({"value": {"ge": 1}}, "截至 {as_of_zh}的近12个月受灾损失 {value:,.0f} 元",
                       "disaster losses of {value:,.0f} yuan in the 12 months to {as_of_en}"),),
    ),
    StandInFeature(
        "village_monitored", "disaster", village=True,
        statements=(st({"value": {"ge": 0.01}}, "本村 {value:.0%} 的农户正在监测中",
                       "{value:.0%} of the village is under monitoring"),),
    ),
]  # fmt: skip
FEATURES = MEDICAL + OTHERS
NAMES = [f.name for f in FEATURES]
BY_NAME = {f.name: f for f in FEATURES}

STATED = {
    "n_hospitalizations": 3.0,
    "oop_medical": 24500.0,
    "n_chronic": 1.0,
    "serious_illness": 1.0,
    "medical_bills": 7.0,
    "n_disasters": 2.0,
    "income_change": -0.3,
    "n_disabled": 1.0,
    "job_loss": 1.0,
    "dropout": 1.0,
    "labour_ratio": 0.2,
    "household_size": 5.0,
    "disaster_amount": 12000.0,
    "village_monitored": 0.12,
}
"""Values for which every feature's statement holds (household_size has none)."""


def frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Feature values: ``STATED`` overridden by each row, plus a fact field a statement quotes."""
    df = pd.DataFrame([{n: r.get(n, STATED[n]) for n in NAMES} for r in rows])
    df["diagnosis_code"] = "C34.9"  # a sensitive detail an internal statement quotes
    return df


def contrib_matrix(rows: list[dict[str, float]], base: float = -3.0) -> np.ndarray:
    out = np.zeros((len(rows), len(NAMES) + 1))
    for i, r in enumerate(rows):
        for name, value in r.items():
            out[i, NAMES.index(name)] = value
    out[:, -1] = base
    return out


def test_stand_in_and_catalog_features_satisfy_the_protocol() -> None:
    from riskml.features import load_catalog

    assert isinstance(FEATURES[0], ReasonFeature)
    assert isinstance(load_catalog().feature("hospitalizations_12m"), ReasonFeature)


def test_five_medical_facts_make_one_illness_reason_quoting_the_top_two() -> None:
    shap_rows = [
        {"n_hospitalizations": 0.3, "oop_medical": 0.5, "n_chronic": 0.1, "serious_illness": 0.2, "medical_bills": 0.05,
         "n_disasters": 0.4, "income_change": -0.2}
    ]  # fmt: skip
    reasons = reason_codes(contrib_matrix(shap_rows), frame([{}]), FEATURES, min_contribution=0.1)
    row = reasons.iloc[0]
    assert list(reasons.columns) == reason_columns(4, "internal")
    assert row["reason_count"] == 2
    assert row["reason_1_type"] == "illness" and row["reason_1_type_zh"] == "因病"
    assert row["reason_1_contribution"] == pytest.approx(0.3 + 0.5 + 0.1 + 0.2 + 0.05)
    assert row["reason_1_feature"] == "oop_medical"  # the type's top stated fact
    # the two largest stated facts, internal and public register, in contribution order
    assert row["reason_1_zh"] == "自付医疗费用24,500元；近12个月住院3次"
    assert row["reason_1_en"] == "out-of-pocket costs 24,500 yuan; 3 hospital stays"
    assert row["reason_1_public_zh"] == "家庭医疗自付费用较高；近12个月家庭有成员住院治疗"
    assert (
        row["reason_1_public_en"]
        == "high out-of-pocket medical costs; a member was treated in hospital"
    )
    assert row["reason_2_type"] == "disaster" and row["reason_2_type_zh"] == "因自然灾害"
    assert row["reason_2_zh"] == "近12个月受灾2次"
    assert row["reason_2_public_zh"] == "近12个月受灾2次"  # not sensitive: the same wording
    assert pd.isna(row["reason_3_type"]) and pd.isna(row["reason_3_contribution"])
    # income_change pushes the risk down: not a reason, part of "other factors"
    assert row["other_contribution"] == pytest.approx(-0.2)
    reconcile(contrib_matrix(shap_rows), reasons)


def test_a_feature_whose_condition_fails_is_not_stated_and_goes_to_other() -> None:
    """SHAP moved the score, but the household's own value is no risk fact: no hospital stay,
    costs under the statement's level, a missing value, neutral structure. The contribution
    goes to other_contribution and the reasons still reconcile."""
    shap_rows = [
        {"n_hospitalizations": 0.6, "oop_medical": 0.5, "n_chronic": 0.3, "household_size": 0.9, "n_disasters": 0.2},
        {"n_hospitalizations": 0.6, "oop_medical": 0.5, "n_chronic": 0.3, "household_size": 0.9, "n_disasters": 0.2},
    ]  # fmt: skip
    values = frame(
        [
            {"n_hospitalizations": 0.0, "oop_medical": 3000.0, "n_chronic": np.nan},
            {"n_hospitalizations": 0.0, "oop_medical": 3000.0, "n_chronic": 2.0},
        ]
    )
    contrib = contrib_matrix(shap_rows)
    reasons = reason_codes(contrib, values, FEATURES, min_contribution=0.1)
    first, second = reasons.iloc[0], reasons.iloc[1]
    assert first["reason_count"] == 1 and first["reason_1_type"] == "disaster"
    assert first["reason_1_contribution"] == pytest.approx(0.2)
    assert first["other_contribution"] == pytest.approx(0.6 + 0.5 + 0.3 + 0.9)
    # only the stated fact counts towards its type's contribution
    assert second["reason_1_type"] == "illness" and second["reason_1_feature"] == "n_chronic"
    assert second["reason_1_contribution"] == pytest.approx(0.3)
    assert second["reason_1_zh"] == "慢性病成员2人"
    assert second["other_contribution"] == pytest.approx(0.6 + 0.5 + 0.9)
    texts = " ".join(
        reasons.filter(regex=r"^reason_\d_(zh|en|public_zh|public_en)$")
        .stack()
        .dropna()
        .astype(str)
    )
    assert "未知" not in texts and "unknown" not in texts and "nan" not in texts
    residual = reconcile(contrib, reasons, raw_score=contrib.sum(axis=1))
    assert np.abs(residual).max() <= 1e-12


def test_top_four_and_floor() -> None:
    shap_rows = [
        {"oop_medical": 0.9, "n_disasters": 0.8, "income_change": 0.7, "n_disabled": 0.6, "job_loss": 0.5,
         "dropout": 0.3, "labour_ratio": 0.05},
        {"oop_medical": 0.09, "n_disasters": 0.11, "income_change": -0.5},
        {"oop_medical": -0.4},
    ]  # fmt: skip
    values = frame([{}, {}, {}])
    reasons = reason_codes(contrib_matrix(shap_rows), values, FEATURES, min_contribution=0.1)
    first = reasons.iloc[0]
    assert first["reason_count"] == 4
    assert [first[f"reason_{k}_type"] for k in range(1, 5)] == [
        "illness",
        "disaster",
        "other",
        "disability",
    ]
    assert first["reason_3_zh"] == "人均纯收入下降30%"  # abs: the sentence says it is a drop
    assert first["other_contribution"] == pytest.approx(0.5 + 0.3 + 0.05)
    second = reasons.iloc[1]
    assert second["reason_count"] == 1 and second["reason_1_type"] == "disaster"  # 0.09 < floor
    third = reasons.iloc[2]
    assert third["reason_count"] == 0 and reasons.loc[2, "reason_1_zh"] is pd.NA
    assert pd.isna(third["measures_zh"]) and pd.isna(third["public_measures_zh"])
    # max_reasons and the floor come from the arguments ...
    two = reason_codes(
        contrib_matrix(shap_rows), values, FEATURES, max_reasons=2, min_contribution=0.0
    )
    assert list(two.columns) == reason_columns(2, "internal")
    assert two.loc[1, "reason_count"] == 2  # 0.11 and 0.09 both count without a floor
    # ... or from the configuration (default floor 0.1, four reasons)
    default = reason_codes(contrib_matrix(shap_rows), values, FEATURES)
    cfg = load_explain_config()
    assert default.loc[0, "reason_count"] == cfg.max_reasons == 4
    assert default.loc[1, "reason_count"] == 1


def test_ties_follow_the_configured_order_of_risk_types() -> None:
    rows = [{"n_disasters": 0.5, "job_loss": 0.5}]
    reasons = reason_codes(contrib_matrix(rows), frame([{}]), FEATURES, min_contribution=0.1)
    order = list(load_explain_config().risk_types)
    assert order.index("disaster") < order.index("unstable_employment")
    assert reasons.loc[0, "reason_1_type"] == "disaster"
    assert reasons.loc[0, "reason_2_type"] == "unstable_employment"


def test_statements_that_name_the_period_need_the_scoring_date() -> None:
    rows = [{"disaster_amount": 0.6}] * 3
    values = frame([{}, {"disaster_amount": 800.0}, {}])
    without = reason_codes(contrib_matrix(rows), values, FEATURES)
    assert (without["reason_count"] == 0).all()  # the month is unknown: not stated
    assert without["other_contribution"].tolist() == pytest.approx([0.6] * 3)
    one = reason_codes(contrib_matrix(rows), values, FEATURES, as_of="2024-06-30")
    assert one.loc[0, "reason_1_zh"] == "截至 2024 年 6 月的近12个月受灾损失 12,000 元"
    assert (
        one.loc[0, "reason_1_en"] == "disaster losses of 12,000 yuan in the 12 months to June 2024"
    )
    assert one.loc[1, "reason_1_zh"] == "截至 2024 年 6 月的近12个月受灾损失 800 元"
    per_row = reason_codes(
        contrib_matrix(rows),
        values,
        FEATURES,
        as_of=pd.to_datetime(["2024-06-30", "2025-01-31", "2023-12-31"]),
    )
    assert per_row.loc[0, "reason_1_zh"].startswith("截至 2024 年 6 月")
    assert per_row.loc[1, "reason_1_en"].endswith("to January 2025")
    assert per_row.loc[2, "reason_1_zh"].startswith("截至 2023 年 12 月")
    reconcile(contrib_matrix(rows), per_row)


def test_a_household_without_a_scoring_date_has_no_period_statement() -> None:
    rows = [{"disaster_amount": 0.6}] * 2
    per_row = reason_codes(
        contrib_matrix(rows),
        frame([{}, {}]),
        FEATURES,
        as_of=pd.to_datetime(["2024-06-30", pd.NaT]),
    )
    assert per_row.loc[0, "reason_count"] == 1
    assert per_row.loc[1, "reason_count"] == 0
    assert per_row.loc[1, "other_contribution"] == pytest.approx(0.6)


def test_village_features_are_context_never_a_reason() -> None:
    """A village-level feature with the largest contribution is never a household reason: it is
    stated apart, as 本村…, and its contribution stays in other_contribution."""
    rows = [
        {"village_monitored": 1.5, "n_disasters": 0.2},
        {"village_monitored": 1.5},
        {"village_monitored": -0.5, "n_disasters": 0.2},
    ]
    values = frame([{}, {"village_monitored": 0.0}, {}])
    reasons = reason_codes(contrib_matrix(rows), values, FEATURES)
    assert reasons.loc[0, "reason_count"] == 1 and reasons.loc[0, "reason_1_type"] == "disaster"
    assert reasons.loc[0, "reason_1_contribution"] == pytest.approx(0.2)
    assert reasons.loc[0, "context_zh"] == "本村 12% 的农户正在监测中"
    assert reasons.loc[0, "context_en"] == "12% of the village is under monitoring"
    assert reasons.loc[0, "other_contribution"] == pytest.approx(1.5)
    assert reasons.loc[1, "reason_count"] == 0 and pd.isna(
        reasons.loc[1, "context_zh"]
    )  # 0 %: no fact
    assert pd.isna(reasons.loc[2, "context_zh"])  # it lowered the risk: nothing to say
    features = reasons.filter(regex=r"reason_\d_feature$").stack().dropna()
    assert "village_monitored" not in set(features)
    reconcile(contrib_matrix(rows), reasons)
    public = reason_codes(contrib_matrix(rows), values, FEATURES, mode="public")
    assert public.loc[0, "context_zh"] == "本村 12% 的农户正在监测中"
    # max_context: 0 turns village context off
    cfg = load_explain_config().model_copy(update={"max_context": 0})
    assert (
        reason_codes(contrib_matrix(rows), values, FEATURES, config=cfg)["context_zh"].isna().all()
    )


def test_public_mode_never_shows_sensitive_values_types_or_internal_wording() -> None:
    rng = np.random.default_rng(0)
    n = 300
    shap_rows = [{name: float(rng.normal(0.1, 0.4)) for name in NAMES} for _ in range(n)]
    raw_values = [
        {"n_hospitalizations": int(rng.integers(1, 9)), "oop_medical": float(rng.integers(20000, 90000))}
        for _ in range(n)
    ]  # fmt: skip
    values = frame(raw_values)
    contrib = contrib_matrix(shap_rows)
    internal = reason_codes(contrib, values, FEATURES, as_of="2024-06-30")
    public = reason_codes(contrib, values, FEATURES, mode="public", as_of="2024-06-30")
    assert list(public.columns) == reason_columns(4, "public")
    assert (public["reason_count"] == internal["reason_count"]).all()
    # the public register is the same in both modes
    shared = [c for c in public.columns if c in internal.columns]
    pd.testing.assert_frame_equal(public[shared], internal[shared])
    assert internal["reason_1_zh"].notna().sum() > 0

    strings = " | ".join(
        str(v) for v in public.select_dtypes(exclude="number").to_numpy().ravel() if not pd.isna(v)
    )
    assert "家庭医疗自付费用较高" in strings  # illness in its public wording
    cfg = load_explain_config()
    forbidden = {"C34.9", "住院3次", "自付医疗费用", "残疾成员"}
    forbidden |= {cfg.risk_types[t].zh for t in ("illness", "disability")}
    forbidden |= {cfg.measures[m].zh for m in ("medical_assistance", "critical_illness_insurance",
                                               "health_support", "disability_subsidies")}  # fmt: skip
    forbidden |= set(NAMES)
    forbidden |= {f"{v:,.0f}" for v in values["oop_medical"]}
    sensitive = [f.name for f in FEATURES if f.sensitive]
    internal_texts = set()
    for k in range(1, 5):
        is_sensitive = internal[f"reason_{k}_feature"].isin(sensitive).fillna(False)
        internal_texts |= set(internal.loc[is_sensitive, f"reason_{k}_zh"].dropna().astype(str))
    assert internal_texts
    found = sorted(w for w in forbidden | internal_texts if w in strings)
    assert found == []
    # illness is named internally, with its internal measures
    assert internal["measures_zh"].str.contains("医疗救助").any()
    with pytest.raises(ValueError, match="needs feature_values"):
        reason_codes(contrib, None, FEATURES, mode="public")  # type: ignore[arg-type]


def test_measures_are_weighted_capped_and_net_of_assistance_in_place() -> None:
    cfg = load_explain_config()
    assert cfg.max_measures == 3
    rows = [
        {"oop_medical": 0.8, "dropout": 0.4},  # illness (3 measures) outweighs education (2)
        {"n_disasters": 1.0, "dropout": 0.2},  # education under 25 % of the top weight
        {"n_disasters": 1.0, "dropout": 0.3},  # education over it
        {"income_change": 0.5},  # the feature's own measures, not the type's
        {"labour_ratio": 0.5},
    ]
    values = frame([{}] * len(rows))
    reasons = reason_codes(contrib_matrix(rows), values, FEATURES)
    assert reasons["measures_zh"].tolist() == [
        "医疗救助、大病保险、健康帮扶",
        "受灾人员救助、农业保险",
        "受灾人员救助、农业保险、教育资助",
        "就业帮扶、产业帮扶",
        "最低生活保障（低保）、公益性岗位",
    ]
    assert reasons.loc[0, "measures_en"] == (
        "medical assistance; critical-illness insurance; health support"
    )
    assert reasons["measures_in_place_zh"].isna().all()
    # public register of a sensitive type: its own public measures, weighted the same way
    assert reasons.loc[0, "public_measures_zh"] == "临时救助、综合保障帮扶、教育资助"
    assert reasons.loc[3, "public_measures_zh"] == "就业帮扶、产业帮扶"

    in_place = [{"health"}, set(), None, {"employment"}, {"dibao", "public_welfare_job"}]
    net = reason_codes(contrib_matrix(rows), values, FEATURES, in_place=in_place)
    assert net.loc[0, "measures_zh"] == "大病保险、教育资助、雨露计划"
    assert net.loc[0, "measures_in_place_zh"] == "已享受医疗救助、已享受健康帮扶"
    assert net.loc[0, "measures_in_place_en"] == (
        "already receives medical assistance; already receives health support"
    )
    assert net.loc[2, "measures_zh"] == reasons.loc[2, "measures_zh"]  # None: nothing in place
    assert net.loc[3, "measures_zh"] == "产业帮扶"
    assert net.loc[3, "measures_in_place_zh"] == "已享受就业帮扶"
    assert pd.isna(net.loc[4, "measures_zh"])
    assert net.loc[4, "measures_in_place_zh"] == "已享受低保、已享受公益性岗位"
    assert net.loc[4, "measures_in_place_en"] == (
        "already receives dibao; already receives public-welfare job"
    )
    # in public mode the in-place list is built from the public measures
    public = reason_codes(contrib_matrix(rows), values, FEATURES, in_place=in_place, mode="public")
    assert public.loc[0, "public_measures_zh"] == "临时救助、综合保障帮扶、教育资助"
    assert pd.isna(public.loc[0, "public_measures_in_place_zh"])
    pd.testing.assert_series_equal(
        public["public_measures_in_place_zh"], net["public_measures_in_place_zh"]
    )


def test_measures_follow_the_config(tmp_path: Path) -> None:
    rows = [{"oop_medical": 0.8, "dropout": 0.4}]
    text = CONFIG.read_text(encoding="utf-8")
    custom = tmp_path / "explain.yaml"
    custom.write_text(
        text.replace("max_measures: 3 ", "max_measures: 1 ").replace(
            "education_grant: {zh: 教育资助, en: student financial aid",
            "education_grant: {zh: 助学金, en: grants",
        ),
        encoding="utf-8",
    )
    cfg = load_explain_config(custom)
    assert cfg.max_measures == 1
    reasons = reason_codes(contrib_matrix(rows), frame([{}]), FEATURES, config=custom)
    assert reasons.loc[0, "measures_zh"] == "医疗救助"
    only_education = reason_codes(
        contrib_matrix([{"dropout": 0.4}]), frame([{}]), FEATURES, config=custom
    )
    assert only_education.loc[0, "measures_zh"] == "助学金"
    assert only_education.loc[0, "measures_en"] == "grants"


def test_a_feature_naming_an_unknown_measure_is_a_clear_error() -> None:
    typo = StandInFeature(
        "income_change",
        "other",
        measures=("employmnet_support",),
        statements=BY_NAME["income_change"].statements,
    )
    features = [typo if f.name == "income_change" else f for f in FEATURES]
    with pytest.raises(ValueError, match="employmnet_support"):
        reason_codes(contrib_matrix([{"income_change": 0.5}]), frame([{}]), features)


def test_config_unknown_key_is_a_clear_error(tmp_path: Path) -> None:
    text = CONFIG.read_text(encoding="utf-8")
    bad = tmp_path / "explain.yaml"
    bad.write_text(text.replace("max_reasons: 4", "max_reason: 4"), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"unknown key 'max_reason'"):
        load_explain_config(bad)
    nested = tmp_path / "nested.yaml"
    nested.write_text(
        text.replace("    en: disability\n", "    en: disability\n    colour: red\n"),
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match=r"unknown key 'risk_types.disability.colour'"):
        load_explain_config(nested)


def test_config_rules() -> None:
    base = load_explain_config().model_dump()

    def variant(**types: Any) -> dict[str, Any]:
        out = dict(base, risk_types=dict(base["risk_types"]))
        for code, spec in types.items():
            if spec is None:
                out["risk_types"].pop(code)
            else:
                out["risk_types"][code] = spec
        return out

    leaky = variant(illness=dict(base["risk_types"]["illness"], public_measures=None))
    with pytest.raises(ValueError, match="sensitive risk type needs its own public_measures"):
        ExplainConfig.model_validate(leaky)
    unknown = variant(other=dict(base["risk_types"]["other"], measures=["free_money"]))
    with pytest.raises(ValueError, match=r"risk_types\.other names measure 'free_money'"):
        ExplainConfig.model_validate(unknown)
    unknown_public = variant(
        disability=dict(base["risk_types"]["disability"], public_measures=["free_money"])
    )
    with pytest.raises(ValueError, match="names measure 'free_money'"):
        ExplainConfig.model_validate(unknown_public)
    with pytest.raises(ValueError, match="at least 1 item"):
        ExplainConfig.model_validate(variant(other=dict(base["risk_types"]["other"], measures=[])))
    for key in ("fallback_risk_type", "income_public_zh"):
        with pytest.raises(ValueError, match="Extra inputs are not permitted"):
            ExplainConfig.model_validate(dict(base, **{key: "x"}))


def test_risk_types_must_be_exactly_the_contracts_codes() -> None:
    """The official types, no more ('income' is not one) and no fewer: refused when reasons are
    made, naming the missing and unknown codes."""
    base = load_explain_config()
    assert set(base.risk_types) == set(RISK_TYPES)
    extra = base.model_copy(
        update={"risk_types": {**base.risk_types, "income": base.risk_types["other"]}}
    )
    missing = base.model_copy(
        update={"risk_types": {k: v for k, v in base.risk_types.items() if k != "accident"}}
    )
    rows = contrib_matrix([{"n_disasters": 0.5}])
    with pytest.raises(ValueError, match=r"risk_types must be exactly.*unknown \['income'\]"):
        reason_codes(rows, frame([{}]), FEATURES, config=extra)
    with pytest.raises(ValueError, match=r"missing \['accident'\]"):
        reason_codes(rows, frame([{}]), FEATURES, config=missing)
    with pytest.raises(ValueError, match=r"missing \['accident'\]"):
        risk_type_coverage(FEATURES, config=missing)
    with pytest.raises(ValueError, match=r"missing \['accident'\]"):
        global_importance(rows, FEATURES, config=missing)


def test_unknown_risk_type_and_shape_errors() -> None:
    odd = [*FEATURES[:-1], StandInFeature("village_monitored", "income", village=True)]
    with pytest.raises(ValueError, match=r"configs/explain.yaml: village_monitored \(income\)"):
        reason_codes(contrib_matrix([{}]), frame([{}]), odd)
    with pytest.raises(
        ValueError, match=r"contrib must have shape \(n_households, n_features \+ 1\)"
    ):
        reason_codes(np.zeros((1, len(NAMES))), frame([{}]), FEATURES)
    with pytest.raises(ValueError, match="feature_values has 2 rows but contrib has 1"):
        reason_codes(contrib_matrix([{}]), frame([{}, {}]), FEATURES)
    with pytest.raises(
        ValueError, match="'mode' parameter of reason_codes must be 'internal' or 'public'"
    ):
        reason_codes(contrib_matrix([{}]), frame([{}]), FEATURES, mode="open")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="needs feature_values"):
        reason_codes(contrib_matrix([{}]), None, FEATURES)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"lacks the model's feature column\(s\) \['dropout'\]"):
        reason_codes(contrib_matrix([{}]), frame([{}]).drop(columns="dropout"), FEATURES)
    with pytest.raises(ValueError, match="in_place has 2 entries for 1 households"):
        reason_codes(contrib_matrix([{}]), frame([{}]), FEATURES, in_place=[set(), set()])
    with pytest.raises(ValueError, match="'max_reasons' parameter"):
        reason_codes(contrib_matrix([{}]), frame([{}]), FEATURES, max_reasons=0)
    with pytest.raises(ValueError, match="'min_contribution' parameter"):
        reason_codes(contrib_matrix([{}]), frame([{}]), FEATURES, min_contribution=-1.0)


def test_statements_rendered_once_per_distinct_value(monkeypatch: pytest.MonkeyPatch) -> None:
    """3,000 households with three distinct costs: each value is formatted once per language,
    and the public template (which quotes no value) needs no formatting at all."""
    import riskml.explain._reasons as reasons_module

    calls: list[tuple[Any, str]] = []
    real_field, real_numbers = reasons_module.format_field, reasons_module.format_numbers

    def one(value: Any, spec: str, lang: Any, levels: Any = None) -> str:
        calls.append((value, spec))
        return real_field(value, spec, lang, levels)

    def many(values: Any, spec: str) -> list[str]:
        calls.extend((v, spec) for v in values)
        return real_numbers(values, spec)

    monkeypatch.setattr(reasons_module, "format_field", one)
    monkeypatch.setattr(reasons_module, "format_numbers", many)
    n = 3000
    rows = [{"oop_medical": 1.0}] * n
    values = frame([{"oop_medical": [10000.0, 20000.0, 30000.0][i % 3]} for i in range(n)])
    reasons = reason_codes(contrib_matrix(rows), values, FEATURES)
    assert set(reasons["reason_1_zh"]) == {
        "自付医疗费用10,000元",
        "自付医疗费用20,000元",
        "自付医疗费用30,000元",
    }
    assert set(reasons["reason_1_public_zh"]) == {"家庭医疗自付费用较高"}
    assert sorted(calls) == sorted([(v, ",.0f") for v in (10000.0, 20000.0, 30000.0)] * 2)


LEVELS = {"flood": {"zh": "洪涝", "en": "flood"}, "drought": {"zh": "干旱", "en": "drought"}}
QUOTING = [
    StandInFeature(
        "disaster_kind", "disaster", dtype="category", levels=LEVELS,
        statements=(st({"value": {"ne": "none"}}, "{{受灾}}{value}，损失{loss:,.0f}元（{year}年）",
                       "{value} losses of {loss:,.0f} yuan in {year} {{est.}}"),),
    ),
    StandInFeature(
        "n_sick", "illness",
        statements=(st({"value": {"ge": 2}}, "{year}年病人{value}人，{note}", "{value} sick ({note}), {year}"),
                    st({"value": {"ge": 1}}, "病人{value:.0f}人", "{value:.0f} sick")),
    ),
]  # fmt: skip


def test_filled_statements_equal_the_template_filled_household_by_household() -> None:
    """Templates quoting several fields (a category with its labels, a nullable integer, a
    string, a float, signed zeros), escaped braces, missing values: the vectorised filling says
    exactly what filling each household's template alone says."""
    from riskml.features._statements import first_statement, render_template

    rng = np.random.default_rng(3)
    n = 500
    values = pd.DataFrame(
        {
            "disaster_kind": pd.Categorical(
                rng.choice(["flood", "drought", "none", None], n),
                categories=["flood", "drought", "none"],
            ),
            "n_sick": pd.array(rng.choice([0, 1, 2, 3, None], n), dtype="Int64"),
            "loss": np.where(rng.random(n) < 0.1, np.nan, rng.choice([0.0, -0.0, 1500.0, 2e6], n)),
            "year": pd.array(rng.choice([2023, 2024], n), dtype="Int64"),
            "note": pd.array(rng.choice(["需陪护", "a note", None], n), dtype="string"),
        }
    )
    contrib = np.column_stack([rng.random(n), rng.random(n), np.full(n, -3.0)])
    reasons = reason_codes(contrib, values, QUOTING, min_contribution=0.0)
    compared: list[str | None] = []
    for f in QUOTING:
        chosen = first_statement(f.statements, f.name, values, has_as_of=False)
        for k in (1, 2):
            rows = np.flatnonzero(reasons[f"reason_{k}_feature"].fillna("").to_numpy() == f.name)
            for i in rows:
                row = values.iloc[i].to_dict()
                for lang in ("zh", "en"):
                    template = f.statements[chosen[i]].text(lang, False)  # type: ignore[arg-type]
                    expected = render_template(template, f.name, row, lang, f.levels)  # type: ignore[arg-type]
                    got = reasons.loc[i, f"reason_{k}_{lang}"]
                    assert (pd.isna(got) and expected is None) or got == expected, (i, lang)
                    compared.append(expected)
    filled = {t for t in compared if t is not None}
    assert len(filled) > 20
    assert any(t.startswith("{受灾}洪涝") for t in filled) and any("est.}" in t for t in filled)
    assert any(t.startswith("病人") for t in filled) and any("年病人" in t for t in filled)


def test_risk_type_coverage() -> None:
    """Visible: official types some household feature can be stated under; invisible: the
    others. 'other' is neither; a village feature and a feature with no statements make no type
    visible."""
    features = [
        BY_NAME["n_hospitalizations"],  # illness
        BY_NAME["n_disasters"],  # disaster
        BY_NAME["household_size"],  # labor_shortage, never stated
        StandInFeature(
            "village_accidents", "accident", village=True,
            statements=(st({"value": {"ge": 0.1}}, "本村事故多", "many accidents in the village"),),
        ),
        BY_NAME["income_change"],  # other
    ]  # fmt: skip
    cov = risk_type_coverage(features)
    assert cov.visible == ("illness", "disaster")
    assert set(cov.invisible) == set(RISK_TYPES) - {"illness", "disaster", "other"}
    assert "labor_shortage" in cov.invisible and "accident" in cov.invisible
    order = [t for t in load_explain_config().risk_types if t in cov.invisible]
    assert list(cov.invisible) == order
    assert cov.names("visible", "zh") == ["因病", "因自然灾害"]
    assert cov.names("visible", "en") == ["illness", "natural disaster"]
    assert "缺劳动力" in cov.names("invisible", "zh")


def test_risk_type_coverage_of_the_shipped_default_set() -> None:
    from riskml.features import load_catalog

    fs = load_catalog().feature_set("default")
    cov = risk_type_coverage(fs)
    expected = {f.risk_type for f in fs.features if f.statements and f.scope == "household"}
    assert set(cov.visible) == expected - {"other"}
    assert set(cov.visible) | set(cov.invisible) == set(RISK_TYPES) - {"other"}
    assert not set(cov.visible) & set(cov.invisible)
    assert risk_type_coverage(fs.features) == cov


def test_reasons_reconcile_with_the_raw_score(make_frame: Any, make_booster: Any) -> None:
    X, y = make_frame(3000, seed=21)
    booster = make_booster(X, y, rounds=80)
    pastoral = {"pastoral": {"zh": "牧业", "en": "pastoral"}}
    catalog = {
        "household_size": StandInFeature("household_size", "labor_shortage"),
        "n_hospitalizations": BY_NAME["n_hospitalizations"],
        "oop_medical": BY_NAME["oop_medical"],
        "n_disasters": BY_NAME["n_disasters"],
        "pc_income": StandInFeature(
            "pc_income", "other",
            statements=(st({"value": {"le": 6000}}, "人均纯收入{value:,.0f}元", "income {value:,.0f} yuan"),),
        ),
        "income_change": BY_NAME["income_change"],
        "dibao": StandInFeature(
            "dibao", "other", statements=(st({"value": {"eq": 1}}, "享受低保", "receives dibao"),)
        ),
        "signed": StandInFeature("signed", "other"),
        "livelihood": StandInFeature(
            "livelihood", "industry_failure", dtype="category", levels=pastoral,
            statements=(st({"value": {"in": ["pastoral"]}}, "主要生计为{value}", "livelihood: {value}"),),
        ),
        "county": StandInFeature("county", "other", dtype="category"),
    }  # fmt: skip
    features = [catalog[c] for c in X.columns]
    X_new, _ = make_frame(2000, seed=22)
    contrib = tree_shap(booster, X_new)
    raw = booster.predict(X_new, raw_score=True)
    for mode in ("internal", "public"):
        reasons = reason_codes(contrib, X_new, features, mode=mode, min_contribution=0.05)  # type: ignore[arg-type]
        residual = reconcile(contrib, reasons, raw_score=raw)
        assert np.abs(residual).max() <= 1e-9
        assert reasons["reason_count"].between(0, 4).all()
        assert reasons["reason_count"].max() >= 2
    reasons = reason_codes(contrib, X_new, features, min_contribution=0.05)
    texts = reasons.filter(regex=r"reason_\d_(zh|en)$").stack().dropna().astype(str)
    assert len(texts) and not texts.str.contains(r"未知|unknown|\bnan\b|[{}]").any()
    assert texts.str.contains("主要生计为牧业").any()  # a category in its label
    # a fact is quoted only when its condition holds for the household
    for k in range(1, 5):
        top = reasons[f"reason_{k}_feature"]
        assert (X_new.loc[top == "n_hospitalizations", "n_hospitalizations"] >= 1).all()
        assert (X_new.loc[top == "oop_medical", "oop_medical"] >= 5000).all()
        assert not top.isin(["household_size", "signed", "county"]).any()
    # an illness reason is the sum of the illness facts that hold and raised the score; the
    # rest of the illness contributions (costs under 5,000 yuan, unknown costs ...) is 'other'
    cols = [list(X_new.columns).index(n) for n in ("n_hospitalizations", "oop_medical")]
    holds = np.column_stack(
        [(X_new["n_hospitalizations"] >= 1).to_numpy(), (X_new["oop_medical"] >= 5000).to_numpy()]
    )
    phi = contrib[:, cols]
    stated = np.where(holds & (phi > 0), phi, 0.0).sum(axis=1)
    unstated = np.where(~holds & (phi > 0), phi, 0.0).sum(axis=1)
    assert (unstated > 0.05).sum() >= 10  # the model also learns from values that are no fact
    seen = 0
    for k in range(1, 5):
        ill = (reasons[f"reason_{k}_type"] == "illness").fillna(False).to_numpy(dtype=bool)
        np.testing.assert_allclose(
            reasons.loc[ill, f"reason_{k}_contribution"].to_numpy(float), stated[ill], atol=1e-12
        )
        seen += int((ill & (unstated > 0.05)).sum())
    assert seen > 0
    tampered = reasons.copy()
    tampered.loc[tampered.index[5], "other_contribution"] += 0.01
    with pytest.raises(ValueError, match=r"(?s)do not reconcile.*first \['5'\]"):
        reconcile(contrib, tampered)
    with pytest.raises(ValueError, match="raw score"):
        reconcile(contrib, reasons, raw_score=raw + 0.5)


def test_global_importance() -> None:
    rng = np.random.default_rng(3)
    scales = [0.1, 0.5, 0.2, 1.0, 0.3, 0.05, 0.2, 0.4, 0.1, 0.1, 0.3, 0.2, 0.1, 0.1]
    assert len(scales) == len(NAMES)
    contrib = np.column_stack([rng.normal(0, s, 500) for s in scales] + [np.full(500, -3.0)])
    gi = global_importance(contrib, FEATURES)
    by_feature = gi.by_feature.set_index("feature")
    assert by_feature.loc["oop_medical", "mean_abs_shap"] == pytest.approx(
        np.abs(contrib[:, 1]).mean()
    )
    assert by_feature.loc["income_change", "risk_type"] == "other"
    assert gi.by_feature["mean_abs_shap"].is_monotonic_decreasing
    assert by_feature["share"].sum() == pytest.approx(1.0)
    by_type = gi.by_risk_type.set_index("risk_type")
    assert set(by_type.index) <= set(RISK_TYPES)
    assert by_type.loc["illness", "n_features"] == 5
    assert by_type.loc["illness", "mean_abs_shap"] == pytest.approx(
        np.abs(contrib[:, :5].sum(axis=1)).mean()
    )
    assert by_type.loc["illness", "risk_type_zh"] == "因病"
    names_only = global_importance(contrib, NAMES)
    assert names_only.by_risk_type.empty
    assert names_only.by_feature["risk_type"].isna().all()


def _measures_one_by_one(feats, groups, reason_types, reason_features, chosen_sum, valid, cfg,
                         public, in_place):  # fmt: skip
    """The per-household loop the vectorised ``_measures`` replaced (its wording cache too)."""
    keys = ("measures_zh", "measures_en", "measures_in_place_zh", "measures_in_place_en")
    n = valid.shape[0]
    out = {k: np.full(n, None, dtype=object) for k in keys}
    cache: dict[Any, Any] = {}
    for i in range(n):
        weights: dict[str, float] = {}
        for k in range(valid.shape[1]):
            if not valid[i, k]:
                continue
            rt = cfg.risk_types[groups[int(reason_types[i, k])]]
            j = int(reason_features[k][i])
            own = tuple(getattr(feats[j], "measures", ()) or ()) if j >= 0 else ()
            if own and not (public and rt.sensitive):
                names = [m for m in own if m in cfg.measures]
            else:
                names = rt.measures_for(public)
            for pos, m in enumerate(names):
                weights[m] = weights.get(m, 0.0) + float(chosen_sum[i, k]) * (1.0 - 0.01 * pos)
        if not weights:
            continue
        have = frozenset(in_place[i] or ())
        ranked = sorted(weights, key=lambda m: -weights[m])
        top_w = weights[ranked[0]]
        key = (tuple(ranked), tuple(round(weights[m] / top_w, 6) for m in ranked), have)
        if key not in cache:
            proposed: list[str] = []
            already: list[str] = []
            for m in ranked:
                if set(cfg.measures[m].covers) & have:
                    already.append(m)
                elif (
                    len(proposed) < cfg.max_measures and weights[m] >= cfg.measure_min_share * top_w
                ):
                    proposed.append(m)
            cache[key] = (
                cfg.measures_separator_zh.join(cfg.measures[m].zh for m in proposed) or None,
                cfg.measures_separator_en.join(cfg.measures[m].en for m in proposed) or None,
                cfg.measures_separator_zh.join(cfg.measures[m].in_place("zh") for m in already)
                or None,
                cfg.measures_separator_en.join(cfg.measures[m].in_place("en") for m in already)
                or None,
            )
        for name, value in zip(keys, cache[key], strict=True):
            out[name][i] = value
    return out


@pytest.mark.parametrize("public", [False, True])
def test_vectorised_measures_equal_the_household_loop(public: bool) -> None:
    """Random reasons (ties, equal weights, assistance in place) → the same measures and wording
    as the per-household loop, household for household."""
    cfg = load_explain_config()
    rng = np.random.default_rng(3)
    groups = [t for t in cfg.risk_types if cfg.risk_types[t].measures_for(public)]
    measure_names = list(cfg.measures)

    @dataclass
    class F:
        measures: tuple[str, ...]

    feats = [F(tuple(rng.choice(measure_names, size=rng.integers(0, 3), replace=False)))
             for _ in range(12)]  # fmt: skip
    n, slots = 3000, 4
    valid = rng.random((n, slots)) < 0.6
    reason_types = rng.integers(0, len(groups), size=(n, slots))
    reason_features = [
        np.where(rng.random(n) < 0.3, -1, rng.integers(0, 12, n)) for _ in range(slots)
    ]
    # a few repeated values: equal weights and ties between households
    chosen_sum = rng.choice([0.1, 0.2, 0.25, 0.4, 1.0], size=(n, slots)) * (
        1 + (rng.random((n, slots)) < 0.5) * rng.random((n, slots))
    )
    codes = ["health", "education", "social_assistance", "industry", "public_welfare_job"]
    in_place = [
        None
        if rng.random() < 0.2
        else set(rng.choice(codes, size=rng.integers(0, 3), replace=False))
        for _ in range(n)
    ]
    args = (feats, groups, reason_types, reason_features, chosen_sum, valid, cfg, public, in_place)
    ours = _measures(*args, n)
    ref = _measures_one_by_one(*args)
    assert any(v is not None for v in ref["measures_in_place_zh"])
    assert sum(v is not None for v in ref["measures_zh"]) > n // 2
    for key, values in ref.items():
        assert list(ours[key]) == list(values), key


def test_weight_ratios_round_as_python_rounds() -> None:
    """The measures' wording key rounds weight ratios to 6 decimals exactly as ``round`` does,
    at halves and next to them too (numpy's own rounding can differ there)."""
    from riskml.explain._reasons import _round6

    rng = np.random.default_rng(5)
    halves = (rng.integers(0, 10**6, 20_000) + 0.5) / 1e6
    values = np.concatenate(
        [
            rng.random(50_000),
            halves,
            np.nextafter(halves, 1.0),
            np.nextafter(halves, 0.0),
            [0.0, -0.0, 1.0, 2.5e-6, -1.2345675, 1e300, np.inf, -np.inf, np.nan],
        ]
    )
    got = _round6(values.copy())
    expected = np.array([round(v, 6) for v in values.tolist()])
    same = (got == expected) & (np.signbit(got) == np.signbit(expected))
    assert (same | (np.isnan(got) & np.isnan(expected))).all()


def test_combinations_are_numbered_by_first_appearance() -> None:
    """Rows with equal values in every column share a combination (missing values equal to each
    other), numbered in order of first appearance; wide integer ranges and floats too."""
    from riskml.explain._reasons import _combination_codes

    rng = np.random.default_rng(11)
    n = 5000
    columns = [
        rng.integers(-1, 9, n),
        rng.choice([3, 10**12], n),  # a range too wide to pack: factorized
        np.where(rng.random(n) < 0.2, np.nan, rng.choice([0.5, 1.5], n)),
        np.array(rng.choice(["a", "b", None], n), dtype=object),
        np.zeros(n, dtype=np.int64),  # one value
    ]
    firsts, key = _combination_codes(columns)
    seen: dict[tuple[Any, ...], int] = {}
    expected = []
    for i in range(n):
        row = tuple("nan" if isinstance(c[i], float) and np.isnan(c[i]) else c[i] for c in columns)
        expected.append(seen.setdefault(row, len(seen)))
    assert key.tolist() == expected
    assert firsts.tolist() == [expected.index(k) for k in range(len(seen))]
