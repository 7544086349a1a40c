"""The feature catalog: the shipped catalog's promises, validation errors, reason rendering."""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from riskml.data import TABLES
from riskml.features import FEATURE_RISK_TYPES, CatalogError, FeatureSet, load_catalog

DEPARTMENT_RULES = [
    "oop_medical_last_year",
    "oop_medical_12m",
    "new_social_assistance_12m",
    "severe_disability_members",
    "disaster_loss_12m",
    "pc_income_last",
    "pc_income_to_threshold_last",
    "school_dropout_12m",
    "accident_12m",
    "ever_monitored",
    "months_since_elimination",
]

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
    "reason_zh": "近12个月医疗支出 {value:,.0f} 元",
    "reason_en": "{value:,.0f} yuan",
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
    """department_rules contains the exact names the models engineer's rules baseline uses."""
    names = catalog.feature_set("department_rules").names
    assert set(DEPARTMENT_RULES) <= set(names)


def test_every_feature_declares_labels_risk_type_and_templates(catalog: Any) -> None:
    """Each feature: zh/en labels, a known risk type, reason templates in both languages."""
    for f in catalog.features.values():
        assert (
            f.label_zh and f.label_en and f.reason_zh and f.reason_en and f.unit and f.description
        ), f.name
        assert f.risk_type in FEATURE_RISK_TYPES
        assert f.dtype in {"float", "category"}


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
            _variant(reason_zh="支出 {value:,.0f} 元，占 {oop_ratio:.0%}"),
            "refers to unknown field 'oop_ratio'",
        ),
        (_variant(reason_en="{value:.0%d}"), "format spec"),
        (_variant(reason_en="{0}"), "must be a feature name or 'value'"),
        (_variant(reason_en="{value"), "not a valid template"),
        (_variant(risk_type="poverty"), "unknown risk_type 'poverty'"),
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
    """Unknown feature, an audit column, or a template field outside the set -> errors naming the set."""
    other = _variant(name="other", reason_zh="{value} 与 {med_12m}")
    cases = [
        ({"s": {"features": ["med_12m", "unknown_one"]}}, "unknown feature 'unknown_one'"),
        ({"s": {"features": ["med_12m", "audit_head_sex"]}}, "audit or reserved column"),
        ({"s": {"features": ["other"]}}, "quotes 'med_12m', which is not in the set"),
        ({"s": {"features": []}}, "lists no features"),
    ]
    for i, (sets, message) in enumerate(cases):
        with pytest.raises(CatalogError) as err:
            load_catalog(_write(tmp_path / str(i), [_OK_FEATURE, other], sets=sets))
        assert message in str(err.value) and "feature set 's'" in str(err.value)


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


# ---- reason rendering ------------------------------------------------------------------------------


def test_render_reason_quotes_the_households_values(catalog: Any) -> None:
    """oop_medical_12m=23,400 and oop_to_income_12m=0.61 -> the example sentence of the issue."""
    f = catalog.feature("oop_medical_12m")
    row = {"oop_medical_12m": 23400.0, "oop_to_income_12m": 0.61}
    assert f.render_reason(row, "zh") == "近12个月合规自付医疗支出 23,400 元，占家庭纯收入 61%"
    assert "23,400 yuan" in f.render_reason(row, "en")


def test_render_reason_is_safe_with_missing_values(catalog: Any) -> None:
    """NaN, None, pd.NA or an absent field -> 未知 / unknown; never an exception."""
    f = catalog.feature("oop_medical_12m")
    assert (
        f.render_reason({"oop_medical_12m": math.nan}, "zh")
        == "近12个月合规自付医疗支出 未知 元，占家庭纯收入 未知"
    )
    assert "unknown" in f.render_reason({"oop_medical_12m": None, "oop_to_income_12m": pd.NA}, "en")
    assert "unknown" in f.render_reason({}, "en")
    assert "unknown" in f.render_reason(pd.Series({"oop_medical_12m": np.float64("nan")}), "en")


def test_render_reason_odd_values_do_not_raise(catalog: Any) -> None:
    """A string where a number is expected, numpy scalars, a Series row -> text, no exception."""
    f = catalog.feature("oop_medical_12m")
    assert "abc" in f.render_reason({"oop_medical_12m": "abc", "oop_to_income_12m": 0.5}, "zh")
    assert "1,000" in f.render_reason(
        pd.Series({"oop_medical_12m": np.int64(1000), "oop_to_income_12m": np.float32(0.5)}), "zh"
    )
    with pytest.raises(ValueError, match="'lang' parameter"):
        f.render_reason({}, "fr")  # type: ignore[arg-type]


def test_render_reason_translates_categories(catalog: Any) -> None:
    """livelihood='pastoral' -> 牧业 / pastoral; last_elimination_method='natural' -> 自然消除."""
    assert (
        catalog.feature("livelihood").render_reason({"livelihood": "pastoral"}, "zh")
        == "主要生计为牧业"
    )
    assert "naturally" in catalog.feature("last_elimination_method").render_reason(
        {"last_elimination_method": "natural"}, "en"
    )


def test_every_shipped_template_renders(catalog: Any) -> None:
    """Every template of every set renders from a row of that set's own values in both languages."""
    for fs in catalog.feature_sets.values():
        row = {
            f.name: (next(iter(f.levels)) if f.dtype == "category" else 0.42) for f in fs.features
        }
        for f in fs.features:
            for lang in ("zh", "en"):
                text = f.render_reason(row, lang)
                assert "{" not in text and "未知" not in text and "unknown" not in text, (
                    f.name,
                    text,
                )
