"""Reason codes: grouping by risk type, top-4 and floor, public mode, measures, reconciliation."""

from __future__ import annotations

import math
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from riskml.config import ConfigError
from riskml.config.explain import ExplainConfig, load_explain_config
from riskml.explain import (
    ReasonFeature,
    global_importance,
    reason_codes,
    reason_columns,
    reconcile,
    tree_shap,
)


@dataclass
class StandInFeature:
    """A catalog feature as reason codes see it (the real one lives in riskml.features)."""

    name: str
    risk_type: str
    reason_zh: str
    reason_en: str
    sensitive: bool = False
    label_zh: str = "标签"
    label_en: str = "label"
    unit: str = ""
    dtype: str = "float"
    calls: list[tuple[str, Any]] = field(default_factory=list, repr=False, compare=False)

    def render_reason(self, row: Mapping[str, Any], lang: str = "zh") -> str:
        template = self.reason_zh if lang == "zh" else self.reason_en
        self.calls.append((lang, row.get(self.name)))
        parts = []
        for literal, name, spec, _ in string.Formatter().parse(template):
            parts.append(literal)
            if name is None:
                continue
            value = row.get(self.name if name == "value" else name)
            missing = value is None or (isinstance(value, float) and math.isnan(value))
            parts.append("未知" if missing else format(value, spec or ""))
        return "".join(parts)


MEDICAL = [
    StandInFeature(
        "n_hospitalizations",
        "illness",
        "近12个月住院{value:.0f}次",
        "{value:.0f} hospital stays in 12 months",
        sensitive=True,
    ),
    StandInFeature(
        "oop_medical",
        "illness",
        "自付医疗费用{value:,.0f}元",
        "out-of-pocket medical costs {value:,.0f} yuan",
        sensitive=True,
    ),
    StandInFeature(
        "n_chronic",
        "illness",
        "慢性病成员{value:.0f}人",
        "{value:.0f} members with chronic illness",
        sensitive=True,
    ),
    StandInFeature(
        "serious_illness",
        "illness",
        "家庭成员患重大疾病（{diagnosis_code}）",
        "a member has a serious illness ({diagnosis_code})",
        sensitive=True,
    ),
    StandInFeature(
        "medical_bills",
        "illness",
        "医疗票据{value:.0f}张",
        "{value:.0f} medical bills",
        sensitive=True,
    ),
]
OTHERS = [
    StandInFeature(
        "n_disasters", "disaster", "近12个月受灾{value:.0f}次", "{value:.0f} disasters in 12 months"
    ),
    StandInFeature(
        "income_change",
        "income",
        "人均纯收入变化{value:+.0%}",
        "per-capita net income changed {value:+.0%}",
    ),
    StandInFeature(
        "n_disabled",
        "disability",
        "残疾成员{value:.0f}人（{value:.0f}级）",
        "{value:.0f} disabled members",
        sensitive=True,
    ),
    StandInFeature(
        "job_loss",
        "unstable_employment",
        "务工人员失业{value:.0f}人",
        "{value:.0f} migrant workers lost their jobs",
    ),
    StandInFeature(
        "dropout", "education", "辍学子女{value:.0f}人", "{value:.0f} children dropped out"
    ),
    StandInFeature(
        "labour_ratio", "labor_shortage", "劳动力占比{value:.0%}", "labour share {value:.0%}"
    ),
]
FEATURES = MEDICAL + OTHERS
NAMES = [f.name for f in FEATURES]


def frame(rows: list[dict[str, float]]) -> pd.DataFrame:
    df = pd.DataFrame([{n: r.get(n, 0.0) for n in NAMES} for r in rows])
    df["diagnosis_code"] = "C34.9"  # a sensitive detail a template may quote internally
    return df


def contrib_matrix(rows: list[dict[str, float]], base: float = -3.0) -> np.ndarray:
    out = np.zeros((len(rows), len(NAMES) + 1))
    for i, r in enumerate(rows):
        for name, value in r.items():
            out[i, NAMES.index(name)] = value
    out[:, -1] = base
    return out


def test_stand_in_satisfies_the_protocol():
    assert isinstance(FEATURES[0], ReasonFeature)


def test_five_medical_features_make_one_illness_reason():
    shap_rows = [
        {"n_hospitalizations": 0.3, "oop_medical": 0.5, "n_chronic": 0.1, "serious_illness": 0.2, "medical_bills": 0.05,
         "n_disasters": 0.4, "income_change": -0.2}
    ]  # fmt: skip
    values = frame([{"n_hospitalizations": 3, "oop_medical": 24500, "n_chronic": 1, "serious_illness": 1,
                     "medical_bills": 7, "n_disasters": 2, "income_change": 0.1}])  # fmt: skip
    reasons = reason_codes(contrib_matrix(shap_rows), values, FEATURES, min_contribution=0.1)
    row = reasons.iloc[0]
    assert row["reason_count"] == 2
    assert row["reason_1_type"] == "illness"
    assert row["reason_1_type_zh"] == "因病"
    assert row["reason_1_contribution"] == pytest.approx(0.3 + 0.5 + 0.1 + 0.2 + 0.05)
    assert row["reason_1_feature"] == "oop_medical"  # the group's top contributor
    assert row["reason_1_zh"] == "自付医疗费用24,500元"  # its template, the household's own value
    assert row["reason_1_en"] == "out-of-pocket medical costs 24,500 yuan"
    assert row["reason_2_type"] == "disaster"
    assert row["reason_2_zh"] == "近12个月受灾2次"
    assert pd.isna(row["reason_3_type"]) and pd.isna(row["reason_3_contribution"])
    assert list(reasons.columns) == reason_columns(4, "internal")
    # income_change (negative) is not a reason; it is in other_contribution
    assert row["other_contribution"] == pytest.approx(-0.2)


def test_top_four_and_floor():
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
        "income",
        "disability",
    ]
    assert first["other_contribution"] == pytest.approx(0.5 + 0.3 + 0.05)
    second = reasons.iloc[1]
    assert (
        second["reason_count"] == 1 and second["reason_1_type"] == "disaster"
    )  # 0.09 is under the floor
    third = reasons.iloc[2]
    assert third["reason_count"] == 0 and reasons.loc[2, "reason_1_zh"] is pd.NA
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


def test_ties_and_no_features_of_a_type_are_deterministic():
    rows = [{"n_disasters": 0.5, "job_loss": 0.5}]
    reasons = reason_codes(contrib_matrix(rows), frame([{}]), FEATURES, min_contribution=0.1)
    # equal sums keep the configuration's risk-type order
    assert reasons.loc[0, "reason_1_type"] == "disaster"
    assert reasons.loc[0, "reason_2_type"] == "unstable_employment"


def test_public_mode_never_shows_sensitive_values_or_internal_wording():
    rng = np.random.default_rng(0)
    n = 300
    shap_rows = [{name: float(rng.normal(0.1, 0.4)) for name in NAMES} for _ in range(n)]
    raw_values = [
        {"n_hospitalizations": int(rng.integers(1, 9)), "oop_medical": float(rng.integers(20000, 90000)),
         "n_chronic": 1, "serious_illness": 1, "medical_bills": 5, "n_disasters": 1, "income_change": -0.3,
         "n_disabled": 1, "job_loss": 1, "dropout": 1, "labour_ratio": 0.2}
        for _ in range(n)
    ]  # fmt: skip
    values = frame(raw_values)
    contrib = contrib_matrix(shap_rows)
    internal = reason_codes(contrib, values, FEATURES)
    public = reason_codes(contrib, values, FEATURES, mode="public")
    assert list(public.columns) == reason_columns(4, "public")
    assert (public["reason_count"] == internal["reason_count"]).all()
    assert internal["reason_1_zh"].notna().sum() > 0

    strings = " | ".join(
        str(v) for v in public.select_dtypes(exclude="number").to_numpy().ravel() if not pd.isna(v)
    )
    assert "家庭刚性支出明显增加" in strings  # illness in its public wording
    forbidden = {
        "C34.9",
        "因病",
        "因残",
        "illness",
        "disab",
        "医疗",
        "medical",
        "住院",
        "hospital",
        "残疾",
    }
    forbidden |= set(NAMES)
    forbidden |= {f"{v:,.0f}" for v in values["oop_medical"]} | {
        f"{v:.0f}" for v in values["oop_medical"]
    }
    internal_texts = set(internal.filter(regex=r"reason_\d_(zh|en)$").stack().dropna().astype(str))
    assert internal_texts
    found = sorted(w for w in forbidden | internal_texts if w in strings)
    assert found == []
    # public mode needs no feature values at all
    without_values = reason_codes(contrib, None, FEATURES, mode="public")
    pd.testing.assert_frame_equal(
        without_values.reset_index(drop=True), public.reset_index(drop=True)
    )


def test_measures_come_from_the_config(tmp_path: Path):
    rows = [{"oop_medical": 0.8, "dropout": 0.4}]
    reasons = reason_codes(contrib_matrix(rows), frame([{}]), FEATURES)
    assert reasons.loc[0, "reason_1_measures_zh"] == "医疗救助、大病保险、健康帮扶"
    assert reasons.loc[0, "reason_2_measures_zh"] == "教育资助、雨露计划"
    public = reason_codes(contrib_matrix(rows), frame([{}]), FEATURES, mode="public")
    assert (
        "医疗" not in public.loc[0, "reason_1_measures_zh"]
    )  # public measures of a sensitive type

    text = (Path(__file__).resolve().parents[2] / "configs" / "explain.yaml").read_text(
        encoding="utf-8"
    )
    text = text.replace(
        "measures_zh: [教育资助, 雨露计划]", "measures_zh: [助学金, 雨露计划, 学费减免]"
    )
    text = text.replace("measures_en: [education grants, Yulu vocational training plan]",
                        "measures_en: [grants, Yulu plan, fee waivers]")  # fmt: skip
    custom = tmp_path / "explain.yaml"
    custom.write_text(text, encoding="utf-8")
    reasons = reason_codes(contrib_matrix(rows), frame([{}]), FEATURES, config=custom)
    assert reasons.loc[0, "reason_2_measures_zh"] == "助学金、雨露计划、学费减免"
    assert reasons.loc[0, "reason_2_measures_en"] == "grants; Yulu plan; fee waivers"


def test_config_unknown_key_is_a_clear_error(tmp_path: Path):
    text = (Path(__file__).resolve().parents[2] / "configs" / "explain.yaml").read_text(
        encoding="utf-8"
    )
    bad = tmp_path / "explain.yaml"
    bad.write_text(text.replace("max_reasons: 4", "max_reason: 4"), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"unknown key 'max_reason'"):
        load_explain_config(bad)
    nested = tmp_path / "nested.yaml"
    nested.write_text(
        text.replace(
            "    public_zh: 家庭劳动能力受限", "    public_zh: 家庭劳动能力受限\n    colour: red"
        ),
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match=r"unknown key 'risk_types.disability.colour'"):
        load_explain_config(nested)


def test_config_rules():
    base = load_explain_config().model_dump()
    leaky = dict(base, risk_types=dict(base["risk_types"]))
    leaky["risk_types"]["illness"] = dict(
        base["risk_types"]["illness"], public_measures_zh=None, public_measures_en=None
    )
    with pytest.raises(ValueError, match="sensitive risk type needs its own public_measures"):
        ExplainConfig.model_validate(leaky)
    with pytest.raises(ValueError, match="fallback_risk_type 'nothing'"):
        ExplainConfig.model_validate(dict(base, fallback_risk_type="nothing"))
    uneven = dict(base, risk_types=dict(base["risk_types"]))
    uneven["risk_types"]["other"] = dict(base["risk_types"]["other"], measures_en=["one"])
    with pytest.raises(ValueError, match="give each measure in both languages"):
        ExplainConfig.model_validate(uneven)


def test_unknown_risk_type_and_shape_errors():
    odd = [*FEATURES[:-1], StandInFeature("labour_ratio", "bad_luck", "x", "x")]
    with pytest.raises(ValueError, match=r"configs/explain.yaml: labour_ratio \(bad_luck\)"):
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
        reason_codes(contrib_matrix([{}]), frame([{}]), FEATURES, mode="open")
    with pytest.raises(ValueError, match="needs feature_values in internal mode"):
        reason_codes(contrib_matrix([{}]), None, FEATURES)


def test_templates_rendered_once_per_distinct_value():
    feature = StandInFeature("oop_medical", "illness", "自付{value:,.0f}元", "{value:,.0f} yuan")
    features = [feature if f.name == "oop_medical" else f for f in FEATURES]
    n = 3000
    rows = [{"oop_medical": 1.0}] * n
    values = frame([{"oop_medical": [1000.0, 2000.0, 3000.0][i % 3]} for i in range(n)])
    reasons = reason_codes(contrib_matrix(rows), values, features)
    assert set(reasons["reason_1_zh"]) == {"自付1,000元", "自付2,000元", "自付3,000元"}
    assert len(feature.calls) == 3 * 2  # three distinct values, two languages


def test_reasons_reconcile_with_the_raw_score(make_frame, make_booster):
    X, y = make_frame(3000, seed=21)
    booster = make_booster(X, y, rounds=80)
    catalog = {
        "household_size": StandInFeature(
            "household_size", "labor_shortage", "家庭人口{value:.0f}人", "{value:.0f} members"
        ),
        "n_hospitalizations": StandInFeature(
            "n_hospitalizations",
            "illness",
            "住院{value:.0f}次",
            "{value:.0f} stays",
            sensitive=True,
        ),
        "oop_medical": StandInFeature(
            "oop_medical", "illness", "自付{value:,.0f}元", "{value:,.0f} yuan", sensitive=True
        ),
        "n_disasters": StandInFeature(
            "n_disasters", "disaster", "受灾{value:.0f}次", "{value:.0f} disasters"
        ),
        "pc_income": StandInFeature(
            "pc_income", "income", "人均纯收入{value:,.0f}元", "income {value:,.0f} yuan"
        ),
        "income_change": StandInFeature(
            "income_change", "income", "收入变化{value:+.0%}", "income changed {value:+.0%}"
        ),
        "dibao": StandInFeature("dibao", "other", "享受低保", "receives dibao"),
        "signed": StandInFeature("signed", "other", "指标{value:.2f}", "index {value:.2f}"),
        "livelihood": StandInFeature(
            "livelihood",
            "industry_failure",
            "生计方式：{value}",
            "livelihood: {value}",
            dtype="category",
        ),
        "county": StandInFeature(
            "county", "other", "所在旗县{value}", "county {value}", dtype="category"
        ),
    }
    features = [catalog[c] for c in X.columns]
    X_new, _ = make_frame(2000, seed=22)
    contrib = tree_shap(booster, X_new)
    raw = booster.predict(X_new, raw_score=True)
    for mode in ("internal", "public"):
        reasons = reason_codes(contrib, X_new, features, mode=mode, min_contribution=0.05)
        residual = reconcile(contrib, reasons, raw_score=raw)
        assert np.abs(residual).max() <= 1e-9
        assert reasons["reason_count"].between(0, 4).all()
        assert reasons["reason_count"].max() >= 2
    reasons = reason_codes(contrib, X_new, features)
    assert reasons["reason_1_zh"].str.contains("未知").any()  # NaN values render as unknown
    tampered = reasons.copy()
    tampered.loc[tampered.index[5], "other_contribution"] += 0.01
    with pytest.raises(ValueError, match=r"(?s)do not reconcile.*first \['5'\]"):
        reconcile(contrib, tampered)
    with pytest.raises(ValueError, match="raw score"):
        reconcile(contrib, reasons, raw_score=raw + 0.5)


def test_global_importance():
    rng = np.random.default_rng(3)
    contrib = np.column_stack(
        [rng.normal(0, s, 500) for s in [0.1, 0.5, 0.2, 1.0, 0.3, 0.05, 0.2, 0.4, 0.1, 0.1, 0.3]]
    )
    contrib = np.column_stack([contrib, np.full(500, -3.0)])
    gi = global_importance(contrib, FEATURES)
    by_feature = gi.by_feature.set_index("feature")
    assert by_feature.loc["oop_medical", "mean_abs_shap"] == pytest.approx(
        np.abs(contrib[:, 1]).mean()
    )
    assert gi.by_feature["mean_abs_shap"].is_monotonic_decreasing
    assert by_feature["share"].sum() == pytest.approx(1.0)
    by_type = gi.by_risk_type.set_index("risk_type")
    assert by_type.loc["illness", "n_features"] == 5
    assert by_type.loc["illness", "mean_abs_shap"] == pytest.approx(
        np.abs(contrib[:, :5].sum(axis=1)).mean()
    )
    assert by_type.loc["illness", "risk_type_zh"] == "因病"
    names_only = global_importance(contrib, NAMES)
    assert names_only.by_risk_type.empty
    assert names_only.by_feature["risk_type"].isna().all()
