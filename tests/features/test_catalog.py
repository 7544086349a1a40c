"""The feature catalog: the shipped catalog's promises, validation errors, statements (when a
feature may be stated as a reason about the household, and what it says)."""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from riskml.config.rules import load_rules_config
from riskml.data import RISK_TYPES, TABLES
from riskml.features import FEATURE_RISK_TYPES, CatalogError, FeatureSet, load_catalog
from riskml.features._statements import AS_OF_FIELDS, render_template, template_fields

_OK_FEATURE = {
    "name": "med_12m",
    "table": "events",
    "primitive": "sum",
    "column": "amount",
    "filters": {"event_type": ["medical_bill"]},
    "window_months": 12,
    "unit": "yuan",
    "risk_type": "illness",
    "label_zh": "近12个月医疗支出",
    "label_en": "medical costs",
    "statements": [
        {
            "when": {"value": {"ge": 5000}},
            "zh": "近12个月医疗支出 {value:,.0f} 元",
            "en": "{value:,.0f} yuan of medical costs",
        }
    ],
    "description": "test",
}

_VILLAGE_FEATURE = {
    "name": "v_monitored",
    "table": "village_context",
    "primitive": "context",
    "column": "monitored_share",
    "unit": "share",
    "risk_type": "other",
    "label_zh": "本村在监测户占比",
    "label_en": "share of the village under monitoring",
    "statements": [
        {
            "when": {"value": {"ge": 0.001}},
            "zh": "本村 {value:.1%} 的农户正在监测中",
            "en": "{value:.1%} of the village's households are under monitoring",
        }
    ],
    "description": "test",
}

_FACT = {
    "name": "income_year",
    "table": "income",
    "primitive": "last",
    "column": "year",
    "order_by": "year",
    "unit": "year",
    "risk_type": "other",
    "fact": True,
    "label_zh": "收入年度",
    "label_en": "income year",
    "description": "test",
}


def _write(
    folder: Path, features: list[dict[str, Any]], sets: dict[str, Any] | None = None
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "catalog.yaml").write_text(
        yaml.safe_dump({"version": "t", "features": features}, allow_unicode=True), encoding="utf-8"
    )
    sets = sets if sets is not None else {"s": {"features": [f["name"] for f in features]}}
    (folder / "feature_sets.yaml").write_text(
        yaml.safe_dump({"feature_sets": sets}, allow_unicode=True), encoding="utf-8"
    )
    return folder


def _variant(**changes: Any) -> dict[str, Any]:
    f = copy.deepcopy(_OK_FEATURE)
    for k, v in changes.items():
        if v is None:
            f.pop(k, None)
        else:
            f[k] = v
    return f


def _statement(**changes: Any) -> dict[str, Any]:
    """_OK_FEATURE with its one statement changed (``None`` drops a key of the statement)."""
    f = copy.deepcopy(_OK_FEATURE)
    st = f["statements"][0]
    for k, v in changes.items():
        if v is None:
            st.pop(k, None)
        else:
            st[k] = v
    return f


# ---- the shipped catalog ----------------------------------------------------------------------


def test_shipped_catalog_loads_with_versioned_sets(catalog: Any) -> None:
    """features/ -> a catalog whose version is 'declared+hash' and whose sets carry a version."""
    assert "+" in catalog.version and len(catalog.version.split("+")[1]) == 10
    default = catalog.feature_set("default")
    assert isinstance(default, FeatureSet)
    assert 40 <= len(default.features) <= 70
    assert default.version.startswith(catalog.declared_version + "+")
    assert default.names == [f.name for f in default.features]


def test_department_rules_set_has_the_baseline_features(catalog: Any) -> None:
    """department_rules contains every feature the shipped rules and persistence baselines read
    (configs/rules.yaml), so the rules baseline runs on that set."""
    rules = load_rules_config()
    read = {rule.feature for rule in (*rules.rules, *rules.persistence)}
    assert read and read <= set(catalog.feature_set("department_rules").names)


def test_every_feature_declares_labels_an_official_risk_type_and_statements(catalog: Any) -> None:
    """Each feature: zh/en labels, an official risk type (the contract's codes, no 'income'),
    statements with a condition; fact fields state nothing and are never in a set."""
    assert FEATURE_RISK_TYPES == RISK_TYPES and "income" not in FEATURE_RISK_TYPES
    stated = 0
    for f in catalog.features.values():
        assert f.label_zh and f.label_en and f.unit and f.description, f.name
        assert f.risk_type in RISK_TYPES, f.name
        assert f.dtype in {"float", "category"}
        for st in f.statements:
            assert st.when, f"{f.name}: a statement without a condition would always be stated"
            assert st.zh and st.en
            stated += 1
        if f.fact:
            assert not f.statements, f.name
            for fs in catalog.feature_sets.values():
                assert f.name not in fs.names, (f.name, fs.name)
    assert stated > 50
    # neutral structure (household size, livelihood ...) is declared, but never stated
    assert not catalog.feature("household_size").statements
    assert not catalog.feature("livelihood").statements


def test_default_set_computes_the_facts_its_statements_quote(catalog: Any) -> None:
    """The income year and the monitoring line are facts of the default set: in ``required`` (so
    the engine computes them), never in ``features`` (so no model ever sees them)."""
    fs = catalog.feature_set("default")
    facts = {f.name for f in fs.facts}
    assert {"income_year_last", "income_threshold_last"} <= facts
    assert all(f.fact for f in fs.facts)
    assert not facts & set(fs.names)
    assert facts <= {f.name for f in fs.required}
    for f in fs.features:
        for name in f.statement_fields():
            assert name in AS_OF_FIELDS or name in fs.names or name in facts, (f.name, name)


def test_sensitive_statements_have_a_public_register_without_details(catalog: Any) -> None:
    """Every statement of a sensitive feature has its own public_zh/public_en, different from the
    internal wording, quoting no feature value (no amount, count or diagnosis): only the year of
    the data and the scoring month."""
    checked = 0
    for f in catalog.features.values():
        if not f.sensitive:
            continue
        for st in f.statements:
            assert st.public_zh and st.public_en, f.name
            assert st.public_zh != st.zh and st.public_en != st.en, f.name
            for lang in ("zh", "en"):
                for name in template_fields(st.text(lang, True)):  # type: ignore[arg-type]
                    assert name in AS_OF_FIELDS or catalog.features[name].fact, (f.name, name)
            checked += 1
    assert checked >= 10


def test_village_features_speak_of_the_village(catalog: Any) -> None:
    """Village-context features have scope 'village' and every statement starts with 本村."""
    village = [f for f in catalog.features.values() if f.table == "village_context"]
    assert village
    for f in village:
        assert f.scope == "village"
        for st in f.statements:
            assert st.zh.startswith("本村"), f.name
    assert catalog.feature("hospitalizations_12m").scope == "household"


def test_default_set_covers_every_family_and_no_protected_attribute(catalog: Any) -> None:
    """default reads every contract table plus village context; no head_sex/head_ethnicity anywhere."""
    fs = catalog.feature_set("default")
    tables = {f.table for f in fs.required}
    assert {
        "members",
        "households",
        "income",
        "events",
        "monitoring",
        "assistance",
        "village_context",
    } <= tables
    for f in fs.required:
        cols = {f.column, f.key, f.order_by, *f.filters, *f.of}
        assert not cols & {"head_sex", "head_ethnicity"}, f.name
        assert not f.name.startswith("audit_")
        if f.table == "assistance":
            assert f.lag_months >= catalog.settings.assistance_min_lag_months


def test_health_features_are_marked_sensitive(catalog: Any) -> None:
    """Illness and disability features (health details) are hidden in public mode: sensitive=True."""
    for f in catalog.features.values():
        if f.risk_type in {"illness", "disability"}:
            assert f.sensitive, f.name


def test_catalog_version_changes_when_content_changes(tmp_path: Path) -> None:
    """Same declared version, edited feature -> a different content hash."""
    a = load_catalog(_write(tmp_path / "a", [_OK_FEATURE]))
    b = load_catalog(_write(tmp_path / "b", [_variant(window_months=6)]))
    assert a.declared_version == b.declared_version
    assert a.version != b.version
    assert a.feature_set("s").version != b.feature_set("s").version


def test_single_file_catalog_with_sets(tmp_path: Path) -> None:
    """A single YAML file holding both features and feature_sets loads too."""
    path = tmp_path / "one.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "version": "x",
                "features": [_OK_FEATURE],
                "feature_sets": {"s": {"features": ["med_12m"]}},
            }
        ),
        encoding="utf-8",
    )
    assert load_catalog(path).feature_set("s").names == ["med_12m"]


# ---- validation errors ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("feature", "message"),
    [
        (_variant(primitive="median"), "unknown primitive 'median'"),
        (_variant(table="visits"), "unknown table 'visits'"),
        (_variant(column="cost"), "unknown column 'cost' of table 'events'"),
        (_variant(filters={"evnt_type": ["medical_bill"]}), "unknown column 'evnt_type'"),
        (
            _variant(filters={"event_type": ["medical"]}),
            "filter values ['medical'] are not in the vocabulary",
        ),
        (
            _statement(zh="支出 {value:,.0f} 元，占 {oop_ratio:.0%}"),
            "zh refers to unknown field 'oop_ratio'",
        ),
        (
            _statement(public_en="costs were {oop_ratio:.0%} of income"),
            "public_en refers to unknown field 'oop_ratio'",
        ),
        (_statement(when={"oop_ratio": {"ge": 0.1}}), "when refers to unknown field 'oop_ratio'"),
        (_statement(when={"value": {"over": 1}}), "unknown operator(s) ['over']"),
        (_statement(when={"value": {"in": "medical"}}), "must be a list of values"),
        (_statement(when={"value": 1}), "statements.0.when.value: Input should be a valid dict"),
        (_statement(when={"value": {}}), "must be a mapping like {ge: 1}"),
        (_statement(en="{value:.0%d}"), "format spec"),
        (_statement(en="{0}"), "must be a feature name, 'value' or one of"),
        (_statement(en="{value!r}"), "!r conversion"),
        (_statement(en="{value"), "not a valid template"),
        (_statement(zh=None), "Field required"),
        (_statement(as_of_month="June"), "unknown key"),
        (_variant(risk_type="poverty"), "unknown risk_type 'poverty'"),
        (_variant(risk_type="income"), "unknown risk_type 'income'"),
        (_variant(sensitive=True), "is sensitive; give public_zh and public_en"),
        (
            _statement(public_zh="近12个月医疗支出较高", public_en="high medical costs"),
            None,
        ),
        (
            _variant(
                sensitive=True,
                statements=[{**_OK_FEATURE["statements"][0], "public_zh": "近12个月医疗支出较高"}],
            ),
            "is sensitive; give public_zh and public_en",
        ),
        (_variant(fact=True), "a fact field (fact: true) makes no statements"),
        (_statement(zh="截至 {as_of_zh}的近12个月医疗支出 {value:,.0f} 元"), None),
        (_variant(statements=[]), None),
        (_variant(name="Med"), "snake_case"),
        (_variant(name="audit_medical"), "reserved"),
        (_variant(name="label"), "reserved"),
        (_variant(primitive="count"), "takes no 'column'"),
        (_variant(primitive="last", column="event_type"), "declare dtype: category"),
        (_variant(column=None), "needs a 'column'"),
        (_variant(time_column="event_date"), "time_column 'event_date' is not allowed"),
        (
            _variant(
                table="members",
                primitive="member_count",
                column=None,
                window_months=None,
                filters={},
            ),
            None,
        ),
        (
            _variant(table="members", primitive="member_count", column=None, filters={}),
            "takes no 'window_months'",
        ),
        (_variant(table="assistance", column="amount", filters={}), "lag_months >= 12"),
        (
            _variant(
                table="households",
                primitive="static",
                column="head_ethnicity",
                window_months=None,
                filters={},
            ),
            "protected attribute",
        ),
        (
            _variant(
                table="households",
                primitive="static",
                column="head_sex",
                window_months=None,
                filters={},
            ),
            "protected attribute",
        ),
        (
            _variant(
                table="members",
                primitive="member_count",
                column=None,
                window_months=None,
                filters={},
                age_min=70,
                age_max=10,
            ),
            "age_min 70 is above age_max 10",
        ),
        (_variant(extra_key=1), "unknown key 'extra_key'"),
        (
            _variant(
                primitive="state_count",
                column="event_type",
                starts=["migrant_work_start"],
                filters={},
            ),
            "needs non-empty 'starts' and 'ends'",
        ),
        (_variant(primitive="share", column="amount"), "needs 'of'"),
    ],
)
def test_invalid_feature_is_refused_with_a_clear_message(
    tmp_path: Path, feature: dict[str, Any], message: str | None
) -> None:
    """One bad key in a feature -> CatalogError naming the feature and the problem (None: valid)."""
    folder = _write(tmp_path, [feature])
    if message is None:
        load_catalog(folder)
        return
    with pytest.raises(CatalogError) as err:
        load_catalog(folder)
    assert message in str(err.value)
    assert feature["name"] in str(err.value) or "feature #1" in str(err.value)


def test_protected_attribute_refused_as_filter(tmp_path: Path) -> None:
    """A member_count filtered on households.head_sex is refused (unknown column of members), and a
    households feature ordering or filtering on head_ethnicity is refused as protected."""
    f = _variant(
        table="households",
        primitive="age",
        column="head_birth_year",
        window_months=None,
        filters={"head_ethnicity": ["汉族"]},
    )
    with pytest.raises(CatalogError, match="protected attribute"):
        load_catalog(_write(tmp_path, [f]))


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    """Two bad features -> one error listing both."""
    folder = _write(
        tmp_path, [_variant(name="a", primitive="median"), _variant(name="b", table="visits")]
    )
    with pytest.raises(CatalogError) as err:
        load_catalog(folder)
    assert "feature 'a'" in str(err.value) and "feature 'b'" in str(err.value)


def test_duplicate_feature_name_is_refused(tmp_path: Path) -> None:
    """The same name twice -> 'declared twice'."""
    with pytest.raises(CatalogError, match="declared twice"):
        load_catalog(
            _write(tmp_path, [_OK_FEATURE, _OK_FEATURE], sets={"s": {"features": ["med_12m"]}})
        )


def test_ratio_cycle_and_unknown_input_are_refused(tmp_path: Path) -> None:
    """ratio a -> b -> a is a cycle; a ratio of an unknown feature names it."""
    base = {k: v for k, v in _OK_FEATURE.items() if k not in {"column", "filters", "window_months"}}
    a = {
        **base,
        "name": "a",
        "table": "features",
        "primitive": "ratio",
        "numerator": ["b"],
        "denominator": ["med_12m"],
    }
    b = {
        **base,
        "name": "b",
        "table": "features",
        "primitive": "ratio",
        "numerator": ["a"],
        "denominator": ["med_12m"],
    }
    with pytest.raises(CatalogError, match="cycle"):
        load_catalog(_write(tmp_path / "1", [_OK_FEATURE, a, b]))
    c = {
        **base,
        "name": "c",
        "table": "features",
        "primitive": "ratio",
        "numerator": ["nope"],
        "denominator": ["med_12m"],
    }
    with pytest.raises(CatalogError, match="ratio input 'nope' is not a feature"):
        load_catalog(_write(tmp_path / "2", [_OK_FEATURE, c]))


def test_feature_set_errors(tmp_path: Path) -> None:
    """Unknown feature, an audit column, a statement quoting a field that is neither in the set
    nor a fact, a fact listed as a model feature -> errors naming the set."""
    quoting = _variant(
        name="other",
        statements=[{"when": {"value": {"ge": 1}}, "zh": "{value} 与 {med_12m}", "en": "{value}"}],
    )
    conditioned = _variant(
        name="conditioned",
        statements=[{"when": {"med_12m": {"ge": 1}}, "zh": "{value}", "en": "{value}"}],
    )
    cases = [
        ({"s": {"features": ["med_12m", "unknown_one"]}}, "unknown feature 'unknown_one'"),
        ({"s": {"features": ["med_12m", "audit_head_sex"]}}, "audit or reserved column"),
        (
            {"s": {"features": ["other"]}},
            "feature 'other' states 'med_12m', which is neither in the set nor a fact field",
        ),
        (
            {"s": {"features": ["conditioned"]}},
            "feature 'conditioned' states 'med_12m', which is neither in the set nor a fact field",
        ),
        ({"s": {"features": ["med_12m", "income_year"]}}, "'income_year' is a fact field"),
        ({"s": {"features": ["med_12m", "med_12m"]}}, "listed twice"),
        ({"s": {"features": []}}, "lists no features"),
    ]
    for i, (sets, message) in enumerate(cases):
        with pytest.raises(CatalogError) as err:
            load_catalog(
                _write(tmp_path / str(i), [_OK_FEATURE, quoting, conditioned, _FACT], sets=sets)
            )
        assert message in str(err.value) and "feature set 's'" in str(err.value)
    # the same statements load when the quoted field is in the set
    ok = load_catalog(
        _write(tmp_path / "ok", [_OK_FEATURE, quoting, conditioned, _FACT],
               sets={"s": {"features": ["other", "conditioned", "med_12m"]}})
    )  # fmt: skip
    assert ok.feature_set("s").facts == ()


def test_a_statement_may_quote_a_fact_the_set_then_computes(tmp_path: Path) -> None:
    """A statement quoting a fact field: the set loads, lists the fact in ``facts`` and
    ``required`` but not among its features; a fact field with statements is refused."""
    quoting = _statement(zh="{income_year:.0f} 年医疗支出 {value:,.0f} 元")
    catalog = load_catalog(
        _write(tmp_path / "a", [quoting, _FACT], sets={"s": {"features": ["med_12m"]}})
    )
    fs = catalog.feature_set("s")
    assert fs.names == ["med_12m"]
    assert [f.name for f in fs.facts] == ["income_year"]
    assert "income_year" in [f.name for f in fs.required]
    # a fact quoted only from the public register is still computed
    public_only = _statement(public_zh="{income_year:.0f} 年医疗支出较高")
    catalog = load_catalog(
        _write(tmp_path / "b", [public_only, _FACT], sets={"s": {"features": ["med_12m"]}})
    )
    assert [f.name for f in catalog.feature_set("s").facts] == ["income_year"]
    # a fact is a field, not a feature: it states nothing of its own
    talking_fact = {**_FACT, "statements": _OK_FEATURE["statements"]}
    with pytest.raises(CatalogError, match=r"fact field \(fact: true\) makes no statements"):
        load_catalog(
            _write(
                tmp_path / "c", [_OK_FEATURE, talking_fact], sets={"s": {"features": ["med_12m"]}}
            )
        )


def test_village_context_statements_must_speak_of_the_village(tmp_path: Path) -> None:
    """A village-context feature's statement that does not start with 本村 is refused; one that
    does loads, with scope 'village'."""
    ok = load_catalog(_write(tmp_path / "ok", [_VILLAGE_FEATURE]))
    assert ok.feature("v_monitored").scope == "village"
    bad = copy.deepcopy(_VILLAGE_FEATURE)
    bad["statements"][0]["zh"] = "{value:.1%} 的农户正在监测中"
    with pytest.raises(CatalogError) as err:
        load_catalog(_write(tmp_path / "bad", [bad]))
    assert "feature 'v_monitored' statements[0]" in str(err.value)
    assert "village-context statements speak of the village ('本村…')" in str(err.value)
    assert (
        load_catalog(_write(tmp_path / "hh", [_OK_FEATURE])).feature("med_12m").scope == "household"
    )


def test_unknown_feature_set_name_lists_known_sets(catalog: Any) -> None:
    """catalog.feature_set('nope') -> error listing default and department_rules."""
    with pytest.raises(CatalogError) as err:
        catalog.feature_set("nope")
    assert "default" in str(err.value) and "department_rules" in str(err.value)


def test_missing_catalog_file_is_a_clear_error(tmp_path: Path) -> None:
    """An empty folder -> an error naming catalog.yaml."""
    with pytest.raises(ValueError, match=r"catalog\.yaml does not exist"):
        load_catalog(tmp_path)


def test_yaml_on_off_keys_would_not_parse_as_states(tmp_path: Path) -> None:
    """state_count uses 'starts'/'ends' (YAML reads bare on/off as booleans): old keys are refused."""
    f = _variant(primitive="state_count", column="event_type", filters={}, window_months=None)
    text = yaml.safe_dump({"version": "t", "features": [f]}).replace(
        "column: event_type",
        "column: event_type\n  on: [migrant_work_start]\n  off: [migrant_work_end]",
    )
    (tmp_path / "catalog.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(CatalogError):
        load_catalog(tmp_path)


def test_every_contract_table_name_is_known_to_the_catalog() -> None:
    """Features can name any contract table (guards against the contract growing a table)."""
    from riskml.features._primitives import PRIMITIVES

    tables = {t for info in PRIMITIVES.values() for t in info.tables}
    assert set(TABLES) <= tables


# ---- statements ------------------------------------------------------------------------------------


def test_render_statement_quotes_the_households_values_the_data_year_and_the_month(
    catalog: Any,
) -> None:
    """oop_medical_12m=23,400, 61 % of 2024's income, scored in June 2025 -> the full fact,
    internally; the same fact without the amount in the public register."""
    f = catalog.feature("oop_medical_12m")
    row = {"oop_medical_12m": 23400.0, "oop_to_income_12m": 0.61, "income_year_last": 2024.0}
    assert (
        f.render_statement(row, "zh", as_of="2025-06-30")
        == "截至 2025 年 6 月的近12个月合规自付医疗支出 23,400 元，相当于 2024 年家庭纯收入的 61%"
    )
    assert f.render_statement(row, "en", as_of="2025-06-30") == (
        "out-of-pocket medical costs of 23,400 yuan in the 12 months to June 2025, "
        "61% of the household's net income in 2024"
    )
    public = f.render_statement(row, "zh", public=True, as_of="2025-06-30")
    assert public == "近12个月（截至 2025 年 6 月）家庭医疗自付费用较高"
    assert "23,400" not in f.render_statement(row, "en", public=True, as_of="2025-06-30")
    # a statement naming the period is not stated without the scoring date
    assert f.render_statement(row, "zh") is None


def test_the_first_statement_that_holds_is_stated_and_none_when_none_holds(catalog: Any) -> None:
    """Conditions decide: 0 hospital stays is no fact; 1 and 3 read differently; costs that are a
    small share of income are stated only from 5,000 yuan; income at or below zero wins over
    'below the line'."""
    h = catalog.feature("hospitalizations_12m")
    assert h.render_statement({"hospitalizations_12m": 0.0}) is None
    assert h.render_statement({"hospitalizations_12m": 1.0}) == "近12个月有家庭成员住院 1 次"
    assert h.render_statement({"hospitalizations_12m": 3.0}) == "近12个月有家庭成员住院 3 次"
    assert h.render_reason({"hospitalizations_12m": 0.0}) == ""
    oop = catalog.feature("oop_medical_12m")
    small = {"oop_to_income_12m": 0.05, "income_year_last": 2024.0}
    assert oop.render_statement({**small, "oop_medical_12m": 3000.0}, as_of="2025-06-30") is None
    assert (
        oop.render_statement({**small, "oop_medical_12m": 6000.0}, as_of="2025-06-30")
        == "截至 2025 年 6 月的近12个月合规自付医疗支出 6,000 元"
    )
    income = catalog.feature("pc_income_last")
    facts = {"income_year_last": 2023.0, "income_threshold_last": 7200.0}
    loss = {"pc_income_last": -100.0, "pc_income_to_threshold_last": -0.01, **facts}
    assert income.render_statement(loss) == "2023 年人均纯收入为零或亏损，低于当年监测线 7,200 元"
    near = {"pc_income_last": 8000.0, "pc_income_to_threshold_last": 1.2, **facts}
    assert (
        income.render_statement(near)
        == "2023 年人均纯收入 8,000 元，不到当年监测线 7,200 元的 1.5 倍"
    )
    assert income.render_statement(near, public=True) == "2023 年人均纯收入接近当年监测线"
    assert income.render_statement({**near, "pc_income_to_threshold_last": 2.0}) is None
    # a feature with no statements (neutral structure) is never stated
    assert catalog.feature("household_size").render_statement({"household_size": 9.0}) is None


def test_render_statement_is_none_with_missing_values(catalog: Any) -> None:
    """NaN, None, pd.NA or an absent field in the condition or in a quoted fact -> None (the
    feature is not stated), never '未知' and never an exception."""
    h = catalog.feature("hospitalizations_12m")
    for value in (math.nan, None, pd.NA, np.float64("nan")):
        assert h.render_statement({"hospitalizations_12m": value}) is None
    assert h.render_statement({}) is None
    assert h.render_statement(pd.Series({"hospitalizations_12m": np.float64("nan")}), "en") is None
    income = catalog.feature("pc_income_last")
    row = {"pc_income_last": 8000.0, "pc_income_to_threshold_last": 1.2, "income_year_last": 2023.0}
    assert income.render_statement(row) is None  # the line it quotes is unknown
    assert income.render_statement({**row, "income_threshold_last": math.nan}) is None


def test_render_statement_odd_values_do_not_raise(catalog: Any) -> None:
    """A string where a number is expected -> not stated; numpy scalars and a Series row -> text;
    an unknown language -> a clear error."""
    h = catalog.feature("hospitalizations_12m")
    assert h.render_statement({"hospitalizations_12m": "abc"}) is None
    assert (
        h.render_statement(pd.Series({"hospitalizations_12m": np.int64(2)}))
        == "近12个月有家庭成员住院 2 次"
    )
    assert (
        h.render_statement({"hospitalizations_12m": np.float32(1)}, "en")
        == "one hospital stay in the last 12 months"
    )
    with pytest.raises(ValueError, match="'lang' parameter"):
        h.render_statement({}, "fr")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="'lang' parameter"):
        h.render_reason({}, "fr")  # type: ignore[arg-type]


def test_render_statement_translates_categories_and_prints_magnitudes(catalog: Any) -> None:
    """last_monitoring_category='edge' -> 边缘易致贫户 / edge household; an 'assisted'
    elimination is no risk fact; a drop of -25 % reads '下降 25%' (``abs:``)."""
    cat = catalog.feature("last_monitoring_category")
    assert (
        cat.render_statement({"last_monitoring_category": "edge"}, "zh") == "曾被认定为边缘易致贫户"
    )
    assert "edge household" in cat.render_statement({"last_monitoring_category": "edge"}, "en")
    method = catalog.feature("last_elimination_method")
    assert method.render_statement({"last_elimination_method": "assisted"}) is None
    assert "naturally" in method.render_statement({"last_elimination_method": "natural"}, "en")
    change = catalog.feature("pc_income_change_last")
    assert (
        change.render_statement({"pc_income_change_last": -0.25, "income_year_last": 2024.0})
        == "2024 年人均纯收入比上一核实年度下降 25%"
    )
    assert (
        change.render_statement({"pc_income_change_last": 0.25, "income_year_last": 2024.0}) is None
    )


def test_every_shipped_template_renders(catalog: Any) -> None:
    """Every template (4 per statement) of every set renders from a row of that set's own
    values, facts and an as-of month in both languages, with no field left unfilled."""
    from riskml.features._statements import as_of_values

    months = as_of_values("2025-06-30")
    assert months == {"as_of_zh": "2025 年 6 月", "as_of_en": "June 2025"}
    rendered = 0
    for fs in catalog.feature_sets.values():
        row: dict[str, Any] = {
            f.name: (next(iter(f.levels)) if f.dtype == "category" else 0.42)
            for f in (*fs.features, *fs.facts)
        }
        row.update(months)
        for f in fs.features:
            for st in f.statements:
                for lang in ("zh", "en"):
                    for public in (False, True):
                        text = render_template(st.text(lang, public), f.name, row, lang, f.levels)  # type: ignore[arg-type]
                        assert text is not None and "{" not in text and "未知" not in text, (
                            f.name,
                            text,
                        )
                        rendered += 1
    assert rendered > 200


def test_new_disability_and_disaster_loss_to_income_on_a_hand_made_bundle(
    catalog: Any, make_bundle: Any, make_household: Any
) -> None:
    """A disability recorded 3 months before D is new (one member); one recorded 5 years before
    is not, nor one recorded after D. A 6,000-yuan disaster loss in the 12 months to D against a
    20,000-yuan net income is 30 %; a loss older than 12 months does not count."""
    from riskml.features import compute_features

    events = [
        {
            "household_id": "H1",
            "member_id": "M1",
            "event_date": "2023-10-01",
            "event_type": "disability",
            "detail": "2",
        },
        {
            "household_id": "H1",
            "member_id": "M2",
            "event_date": "2019-01-10",
            "event_type": "disability",
            "detail": "4",
        },
        {
            "household_id": "H1",
            "member_id": "M3",
            "event_date": "2024-02-01",
            "event_type": "disability",
            "detail": "1",
        },
        {
            "household_id": "H1",
            "event_date": "2023-07-15",
            "event_type": "natural_disaster",
            "amount": 6000.0,
            "detail": "snow",
        },
        {
            "household_id": "H1",
            "event_date": "2022-06-15",
            "event_type": "crop_failure",
            "amount": 9000.0,
        },
    ]
    income = [
        {
            "household_id": "H1",
            "year": 2022,
            "recorded_on": "2023-03-01",
            "household_size": 4,
            "wage_income": 15000.0,
            "business_income": 5000.0,
            "property_income": 0.0,
            "transfer_income": 0.0,
            "business_costs": 0.0,
            "oop_medical": 0.0,
        },
    ]
    bundle = make_bundle(
        [make_household("H1")], events=events, income=income, extracted_on="2024-06-30"
    )
    pairs = pd.DataFrame({"household_id": ["H1"], "as_of": [pd.Timestamp("2024-01-01")]})
    got = compute_features(bundle, pairs, catalog.feature_set("default")).iloc[0]
    assert got["new_disability_12m"] == 1.0
    assert got["members_with_disability"] == 2.0
    assert got["disaster_loss_amount_12m"] == 6000.0
    assert got["disaster_loss_to_income_12m"] == pytest.approx(0.3)
    f = catalog.feature("disaster_loss_to_income_12m")
    row = {**got.to_dict(), "income_year_last": 2022.0}
    assert f.render_statement(row, "zh", as_of="2024-01-01") == (
        "截至 2024 年 1 月的近12个月受灾损失 6,000 元，相当于 2022 年家庭纯收入的 30%"
    )
    # a loss below a tenth of the income is not stated as this fact
    assert (
        f.render_statement({**row, "disaster_loss_to_income_12m": 0.05}, as_of="2024-01-01") is None
    )
