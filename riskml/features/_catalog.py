"""The declarative feature catalog: loading, validation, named feature sets, reason templates.

The catalog lives in ``features/`` (``catalog.yaml`` with the feature definitions and
``feature_sets.yaml`` with the named sets). Each feature is declared once: its source table,
primitive, window, filters, unit, Chinese and English labels, the official risk type it speaks
to and reason templates in both languages. The catalog is checked as a whole when it is loaded;
every problem is reported at once, naming the feature and the key.
"""

from __future__ import annotations

import hashlib
import json
import re
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError

from riskml.config._base import (
    ConfigError,
    StrictModel,
    catalog_dir,
    read_yaml,
    validation_error_lines,
)
from riskml.data._schema import TABLES
from riskml.features._primitives import (
    DERIVED_COLUMNS,
    FEATURE_RISK_TYPES,
    FEATURES_TABLE,
    PRIMITIVES,
    PROTECTED_COLUMNS,
    RESERVED_NAMES,
    VILLAGE_CONTEXT_COLUMNS,
    VILLAGE_TABLE,
    PrimitiveInfo,
)
from riskml.features._statements import (
    AS_OF_FIELDS,
    Statement,
    as_of_values,
    first_statement,
    render_template,
    template_fields,
)

__all__ = [
    "Catalog",
    "CatalogError",
    "CatalogSettings",
    "Feature",
    "FeatureSet",
    "VillageContextSettings",
    "load_catalog",
]

_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_UNKNOWN = {"zh": "未知", "en": "unknown"}
Lang = Literal["zh", "en"]


class CatalogError(ConfigError):
    """The feature catalog is invalid (unknown primitive, table, column, template field ...)."""


class CatalogSettings(StrictModel):
    """``settings:`` in ``catalog.yaml``."""

    assistance_min_lag_months: int = Field(
        12,
        ge=0,
        description="Features on the assistance table must look back at least this many months: "
        "measures start because of an identification, and a backdated start could reveal it.",
    )


class VillageContextSettings(StrictModel):
    """``village_context:`` in ``catalog.yaml``: how the village-level table is computed."""

    recent_window_months: int = Field(12, gt=0)
    near_threshold_multiple: float = Field(1.5, gt=0)


class Feature(StrictModel):
    """One feature as declared in the catalog (see ``riskml.features._primitives`` for the primitives)."""

    name: str
    table: str
    primitive: str
    column: str | None = None
    of: tuple[str, ...] = ()
    order_by: str | None = None
    time_column: str | None = None
    window_months: int | None = Field(None, gt=0)
    lag_months: int = Field(0, ge=0)
    last_n: int | None = Field(None, ge=1)
    filters: dict[str, tuple[str | int | bool, ...]] = Field(default_factory=dict)
    key: str | None = None
    starts: tuple[str, ...] = ()
    ends: tuple[str, ...] = ()
    age_min: int | None = Field(None, ge=0)
    age_max: int | None = Field(None, ge=0)
    numerator: tuple[str, ...] = ()
    denominator: tuple[str, ...] = ()
    unit: str
    dtype: Literal["float", "category"] = "float"
    risk_type: str
    """The official risk type (contract code) this feature's statements evidence."""
    sensitive: bool = False
    label_zh: str
    label_en: str
    statements: tuple[Statement, ...] = ()
    """When the feature may be stated as a reason, and the wording (``_statements.py``).
    Empty: neutral structure, never stated on its own."""
    fact: bool = False
    """A fact field for statements only (e.g. the income year): computed with the set, never a
    model input."""
    measures: tuple[str, ...] = ()
    """Measures this feature's statements suggest (keys of configs/explain.yaml ``measures``);
    default: the risk type's."""
    reason_zh: str = ""
    reason_en: str = ""
    """Superseded by ``statements``; accepted (and ignored) so older model bundles still load."""
    description: str
    levels: dict[str, dict[str, str]] | None = None
    """For categorical features: each category's display label, ``{value: {zh: .., en: ..}}``."""

    @property
    def inputs(self) -> tuple[str, ...]:
        """Other features this feature is computed from (``ratio`` only)."""
        return self.numerator + self.denominator

    @property
    def scope(self) -> Literal["household", "village"]:
        """``village`` for village-context features: stated only as village context, never as a
        fact about the household."""
        return "village" if self.table == VILLAGE_TABLE else "household"

    def statement_fields(self) -> list[str]:
        """Every field this feature's statements read (conditions and templates, both registers)."""
        names: list[str] = []
        for st in self.statements:
            names += st.fields(self.name)
        return list(dict.fromkeys(names))

    def template_fields(self, lang: Lang) -> list[str]:
        """Feature names this feature's statements quote in ``lang`` (``value`` = this feature)."""
        names: list[str] = []
        for st in self.statements:
            for public in (False, True):
                names += [
                    self.name if f == "value" else f for f in template_fields(st.text(lang, public))
                ]
        return [n for n in dict.fromkeys(names) if n not in AS_OF_FIELDS]

    def render_statement(
        self,
        row: Mapping[str, Any],
        lang: Lang = "zh",
        *,
        public: bool = False,
        as_of: Any = None,
    ) -> str | None:
        """The first of this feature's statements that holds for a household, filled in.

        ``row`` maps feature (and fact) names to one household's values. ``None`` when no
        statement holds (the feature is not a reason for this household).

        Examples
        --------
        >>> f = load_catalog().features["hospitalizations_12m"]
        >>> f.render_statement({"hospitalizations_12m": 2.0}, "zh")
        '近12个月有家庭成员住院 2 次'
        >>> f.render_statement({"hospitalizations_12m": 0.0}, "zh") is None
        True
        """
        if lang not in _UNKNOWN:
            raise ValueError(
                f"The 'lang' parameter of render_statement must be 'zh' or 'en'. Got {lang!r} instead."
            )
        import pandas as pd

        extra = as_of_values(as_of) or {}
        values = {**dict(row), **extra}
        frame = pd.DataFrame([values])
        k = first_statement(self.statements, self.name, frame, has_as_of=bool(extra))[0]
        if k < 0:
            return None
        return render_template(
            self.statements[k].text(lang, public), self.name, values, lang, self.levels
        )

    def render_reason(self, row: Mapping[str, Any], lang: Lang = "zh") -> str:
        """Internal wording of the first statement that holds (``""`` when none holds)."""
        return self.render_statement(row, lang) or ""


@dataclass(frozen=True)
class FeatureSet:
    """A named set of features a model version uses (like a Feast feature service).

    ``features`` are the set's own features in catalog order of the set file; ``required`` adds
    the helper features they are computed from (``ratio`` inputs), in dependency order.
    """

    name: str
    description: str
    features: tuple[Feature, ...]
    required: tuple[Feature, ...]
    version: str
    village: VillageContextSettings = field(default_factory=lambda: VillageContextSettings())
    """The catalog's village-context settings (how ``context`` features' table is computed)."""
    facts: tuple[Feature, ...] = ()
    """Fact fields the features' statements quote (income year, monitoring line ...): computed
    with the set for reasons, never model inputs (``compute_features(..., facts=True)``)."""

    @property
    def names(self) -> list[str]:
        """The feature column names, in order."""
        return [f.name for f in self.features]

    def feature(self, name: str) -> Feature:
        for f in self.features:
            if f.name == name:
                return f
        raise KeyError(
            f"feature '{name}' is not in feature set '{self.name}'; its features are {self.names}"
        )

    def __len__(self) -> int:
        return len(self.features)


@dataclass(frozen=True)
class Catalog:
    """The loaded, validated feature catalog."""

    declared_version: str
    content_hash: str
    features: dict[str, Feature]
    feature_sets: dict[str, FeatureSet]
    settings: CatalogSettings
    village: VillageContextSettings
    path: Path
    _order: tuple[str, ...] = field(default=(), repr=False)

    @property
    def version(self) -> str:
        """The declared version plus a hash of the catalog's content, e.g. ``2025.1+3fa2c81d9e``."""
        return f"{self.declared_version}+{self.content_hash}"

    def feature(self, name: str) -> Feature:
        """The feature called ``name``; an error names close matches."""
        try:
            return self.features[name]
        except KeyError:
            raise CatalogError(
                f"Feature '{name}' is not in the catalog {self.path}. "
                f"Close names: {_close(name, self.features)}."
            ) from None

    def feature_set(self, name: str) -> FeatureSet:
        """The named feature set; an error lists the known sets."""
        if isinstance(name, FeatureSet):
            return name
        try:
            return self.feature_sets[name]
        except (KeyError, TypeError):
            raise CatalogError(
                f"Unknown feature set {name!r}. Known feature sets in {self.path}: "
                f"{sorted(self.feature_sets)}. Add it to feature_sets.yaml or pick one of these."
            ) from None

    def closure(self, names: list[str] | tuple[str, ...]) -> tuple[Feature, ...]:
        """The features ``names`` plus everything they are computed from, in dependency order."""
        needed: set[str] = set()
        stack = list(names)
        while stack:
            n = stack.pop()
            if n in needed:
                continue
            needed.add(n)
            stack.extend(self.features[n].inputs)
        return tuple(self.features[n] for n in self._order if n in needed)


def _close(name: str, known: Mapping[str, Any] | list[str] | tuple[str, ...]) -> list[str]:
    import difflib

    return difflib.get_close_matches(name, list(known), n=3, cutoff=0.5) or sorted(known)[:5]


# ---------------------------------------------------------------------------------------------
# loading


class _CatalogFile(StrictModel):
    version: str
    settings: CatalogSettings = CatalogSettings()
    village_context: VillageContextSettings = VillageContextSettings()
    features: list[dict[str, Any]]
    feature_sets: dict[str, dict[str, Any]] | None = None


class _FeatureSetSpec(StrictModel):
    description: str = ""
    features: list[str]


def load_catalog(path: str | Path | None = None) -> Catalog:
    """Load and validate the feature catalog.

    Parameters
    ----------
    path
        A folder holding ``catalog.yaml`` and ``feature_sets.yaml`` (default
        ``riskml.config.catalog_dir()``), or a single YAML file with both ``features`` and
        ``feature_sets``.

    Returns
    -------
    Catalog

    Raises
    ------
    CatalogError
        Listing every problem: unknown primitive, table or column, a protected attribute used
        as a feature, an unknown template field, a feature set naming an unknown feature ...

    Examples
    --------
    >>> catalog = load_catalog()
    >>> "oop_medical_12m" in catalog.feature_set("department_rules").names
    True
    """
    path = Path(path) if path is not None else catalog_dir()
    files = [path / "catalog.yaml", path / "feature_sets.yaml"] if path.is_dir() else [path]
    stamp = tuple(
        (str(f.resolve()), f.stat().st_mtime_ns, f.stat().st_size)
        if f.is_file()
        else (str(f), None, None)
        for f in files
    )
    return _load_cached(str(path), stamp)


@lru_cache(maxsize=16)
def _load_cached(path_text: str, stamp: tuple[Any, ...]) -> Catalog:
    """The catalog at ``path_text``; ``stamp`` (file paths, mtimes, sizes) keys the cache so an
    edited catalog is read again."""
    path = Path(path_text)
    if path.is_dir():
        catalog_file = path / "catalog.yaml"
        raw = _read_yaml(catalog_file)
        sets_file = path / "feature_sets.yaml"
        raw_sets = _read_yaml(sets_file) if sets_file.is_file() else None
    else:
        catalog_file = path
        raw = _read_yaml(path)
        raw_sets = None
    if not isinstance(raw, dict):
        raise CatalogError(
            f"Catalog file {catalog_file} must hold a mapping with 'version' and 'features'."
        )
    try:
        spec = _CatalogFile.model_validate(raw)
    except ValidationError as exc:
        raise CatalogError(
            validation_error_lines(f"Catalog file {catalog_file} does not match its schema:", exc)
        ) from exc
    sets_raw: dict[str, Any] = dict(spec.feature_sets or {})
    if raw_sets is not None:
        if not isinstance(raw_sets, dict) or not isinstance(raw_sets.get("feature_sets"), dict):
            raise CatalogError(
                f"{path / 'feature_sets.yaml'} must hold a mapping 'feature_sets: {{name: ...}}'."
            )
        overlap = sorted(set(sets_raw) & set(raw_sets["feature_sets"]))
        if overlap:
            raise CatalogError(
                f"Feature sets {overlap} are defined both in {catalog_file} and feature_sets.yaml."
            )
        sets_raw.update(raw_sets["feature_sets"])
    return _build_catalog(spec, sets_raw, catalog_file)


def _read_yaml(path: Path) -> Any:
    """Safe YAML with libyaml's C parser when available (the catalog is large); same errors as
    ``riskml.config.read_yaml``."""
    if not path.is_file() or not getattr(yaml, "__with_libyaml__", False):
        return read_yaml(path)
    try:
        with path.open(encoding="utf-8") as fh:
            return yaml.load(fh, Loader=yaml.CSafeLoader)
    except (yaml.YAMLError, UnicodeDecodeError):
        return read_yaml(path)  # re-read for the standard, helpful error message


def _build_catalog(spec: _CatalogFile, sets_raw: dict[str, Any], source: Path) -> Catalog:
    errors: list[str] = []
    features: dict[str, Feature] = {}
    for i, raw_feature in enumerate(spec.features):
        label = (
            f"feature #{i + 1} ({raw_feature.get('name', '?')!s})"
            if isinstance(raw_feature, dict)
            else f"feature #{i + 1}"
        )
        try:
            feature = Feature.model_validate(raw_feature)
        except ValidationError as exc:
            errors.append(
                validation_error_lines(f"{label} does not match the feature schema:", exc)
            )
            continue
        if feature.name in features:
            errors.append(
                f"{label}: the name '{feature.name}' is declared twice; each feature is declared once."
            )
            continue
        features[feature.name] = feature
    for feature in features.values():
        errors.extend(_check_feature(feature, features, spec.settings))
    order: tuple[str, ...] = ()
    if not errors:
        order, cycle_errors = _dependency_order(features)
        errors.extend(cycle_errors)
    if not errors:
        for feature in features.values():
            errors.extend(_check_templates(feature, features))
    content_hash = _hash({"catalog": spec.model_dump(mode="json"), "feature_sets": sets_raw})
    catalog = Catalog(
        declared_version=spec.version,
        content_hash=content_hash,
        features=features,
        feature_sets={},
        settings=spec.settings,
        village=spec.village_context,
        path=source,
        _order=order,
    )
    sets: dict[str, FeatureSet] = {}
    if not errors:
        for set_name, raw_set in sets_raw.items():
            fs, set_errors = _build_set(set_name, raw_set, catalog)
            errors.extend(set_errors)
            if fs is not None:
                sets[set_name] = fs
    if errors:
        body = "\n".join("  - " + e.replace("\n", "\n    ") for e in errors)
        raise CatalogError(f"Feature catalog {source} is invalid:\n{body}")
    catalog.feature_sets.update(sets)
    return catalog


def _hash(obj: Any) -> str:
    text = json.dumps(obj, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:10]


def _column_kind(table: str, column: str) -> str | None:
    schema = TABLES.get(table)
    if schema is None:
        return None
    if column in schema.column_names:
        return schema.column(column).kind
    if column in DERIVED_COLUMNS.get(table, {}):
        return "money"
    return None


def _column_vocab(table: str, column: str) -> tuple[str, ...] | None:
    schema = TABLES.get(table)
    if schema is None or column not in schema.column_names:
        return None
    return schema.column(column).vocab


def _known_columns(table: str) -> list[str]:
    schema = TABLES[table]
    return list(schema.column_names) + list(DERIVED_COLUMNS.get(table, {}))


def _check_identity(f: Feature, where: str) -> list[str]:
    """The name is a free snake_case identifier, the risk type a contract code."""
    errs: list[str] = []
    if not _NAME_RE.match(f.name):
        errs.append(
            f"{where}: names are lower-case snake_case identifiers (a-z, 0-9, _), starting with a letter."
        )
    if f.name in RESERVED_NAMES or f.name.startswith("audit_"):
        errs.append(
            f"{where}: the name is reserved for a training-set column (household_id, as_of, label*, "
            "area codes, audit_*); choose another name."
        )
    if f.risk_type not in FEATURE_RISK_TYPES:
        errs.append(
            f"{where}: unknown risk_type '{f.risk_type}'; use one of {list(FEATURE_RISK_TYPES)}."
        )
    return errs


def _check_primitive_table(f: Feature, where: str) -> list[str]:
    """The primitive is known and works on the feature's (known) table."""
    info = PRIMITIVES.get(f.primitive)
    if info is None:
        return [
            f"{where}: unknown primitive '{f.primitive}'. Known primitives: {sorted(PRIMITIVES)} "
            "(see riskml/features/_primitives.py)."
        ]
    known_tables = [*TABLES, FEATURES_TABLE, VILLAGE_TABLE]
    if f.table not in known_tables:
        return [f"{where}: unknown table '{f.table}'. Known tables: {known_tables}."]
    if f.table not in info.tables:
        return [
            f"{where}: primitive '{f.primitive}' works on table(s) {list(info.tables)}, not '{f.table}'."
        ]
    return []


def _check_referenced_columns(f: Feature, where: str) -> list[str]:
    """Every column the feature reads exists and is not a protected attribute."""
    errs: list[str] = []
    referenced = [
        ("column", f.column),
        ("order_by", f.order_by),
        ("time_column", f.time_column),
        ("key", f.key),
    ]
    referenced += [("of", c) for c in f.of] + [("filters", c) for c in f.filters]
    for key, col in referenced:
        if col is None:
            continue
        if (f.table, col) in PROTECTED_COLUMNS:
            errs.append(
                f"{where}: {key} uses {f.table}.{col}, a protected attribute. Protected attributes "
                "(head_sex, head_ethnicity) are for fairness audits only and never model features."
            )
        elif _column_kind(f.table, col) is None:
            errs.append(
                f"{where}: {key} names unknown column '{col}' of table '{f.table}'. Known columns: "
                f"{_known_columns(f.table)}."
            )
    return errs


def _check_column(f: Feature, where: str, info: PrimitiveInfo, kind: str | None) -> list[str]:
    """The primitive's column requirement: none, a village-context column or a column kind."""
    if info.column == "none":
        if f.column is not None:
            return [f"{where}: primitive '{f.primitive}' takes no 'column' (got '{f.column}')."]
        return []
    if info.column == "context":
        if f.column not in VILLAGE_CONTEXT_COLUMNS:
            return [
                f"{where}: 'column' must be a village-context column, one of {list(VILLAGE_CONTEXT_COLUMNS)} "
                f"(got {f.column!r})."
            ]
        return []
    if f.column is None:
        return [f"{where}: primitive '{f.primitive}' needs a 'column' of table '{f.table}'."]
    ok = {
        "numeric": kind in {"int", "money"},
        "any": kind in {"id", "string", "category", "int"},
        "category_or_numeric": kind in {"category", "int", "money", "bool"},
        "year": kind == "int",
    }[info.column]
    if not ok:
        return [
            f"{where}: primitive '{f.primitive}' cannot use column '{f.table}.{f.column}' of kind '{kind}' "
            f"(needs {info.column})."
        ]
    return []


def _check_state_count(f: Feature, where: str, kind: str | None) -> list[str]:
    """``starts``/``ends``/``key`` of primitive ``state_count`` (and only of it)."""
    errs: list[str] = []
    if f.primitive == "state_count":
        vocab = _column_vocab(f.table, f.column) if f.column else None
        if f.column and kind != "category":
            errs.append(
                f"{where}: state_count needs a category column (e.g. events.event_type), not '{f.column}'."
            )
        if not f.starts or not f.ends:
            errs.append(f"{where}: state_count needs non-empty 'starts' and 'ends' value lists.")
        if set(f.starts) & set(f.ends):
            errs.append(
                f"{where}: 'starts' and 'ends' share values {sorted(set(f.starts) & set(f.ends))}."
            )
        if vocab is not None:
            bad = sorted((set(f.starts) | set(f.ends)) - set(vocab))
            if bad:
                errs.append(
                    f"{where}: starts/ends values {bad} are not in the vocabulary of {f.table}.{f.column}: {list(vocab)}."
                )
    elif f.starts or f.ends or f.key:
        errs.append(f"{where}: 'starts', 'ends' and 'key' apply to primitive 'state_count' only.")
    if f.key is not None and _column_kind(f.table, f.key) not in {
        "id",
        "category",
        "string",
        "int",
    }:
        errs.append(f"{where}: 'key' must be an id or category column.")
    return errs


def _check_levels(f: Feature, where: str) -> list[str]:
    """A categorical feature labels every category of its column, in zh and en."""
    errs: list[str] = []
    vocab = _column_vocab(f.table, f.column or "") or ()
    missing = [v for v in vocab if not f.levels or v not in f.levels]
    if missing:
        errs.append(
            f"{where}: 'levels' must give zh/en labels for every category; missing {missing}."
        )
    extra = sorted(set(f.levels or {}) - set(vocab))
    if extra:
        errs.append(
            f"{where}: 'levels' has values {extra} that are not categories of {f.table}.{f.column}."
        )
    for value, labels in (f.levels or {}).items():
        if set(labels) != {"zh", "en"}:
            errs.append(f"{where}: levels.{value} must have exactly the keys 'zh' and 'en'.")
    return errs


def _check_dtype(f: Feature, where: str, info: PrimitiveInfo, kind: str | None) -> list[str]:
    if f.dtype == "category":
        if not info.can_be_category or kind != "category":
            return [
                f"{where}: dtype 'category' needs primitive 'last' or 'static' on a category column."
            ]
        return _check_levels(f, where)
    if kind == "category" and f.primitive in {"last", "static"}:
        return [
            f"{where}: '{f.table}.{f.column}' is categorical; declare dtype: category (and levels)."
        ]
    if f.levels is not None:
        return [f"{where}: 'levels' applies to categorical features only."]
    return []


def _check_window(
    f: Feature, where: str, info: PrimitiveInfo, settings: CatalogSettings
) -> list[str]:
    """Window keys on windowed primitives only; point-in-time time columns; assistance lag."""
    errs: list[str] = []
    if not info.windowed:
        for key in ("window_months", "last_n", "order_by", "time_column"):
            if getattr(f, key) is not None:
                errs.append(f"{where}: primitive '{f.primitive}' takes no '{key}'.")
        if f.lag_months:
            errs.append(f"{where}: primitive '{f.primitive}' takes no 'lag_months'.")
    if f.time_column is not None and f.table in TABLES:
        schema = TABLES[f.table]
        if (schema.time_column, f.time_column) not in schema.date_columns_order:
            errs.append(
                f"{where}: time_column '{f.time_column}' is not allowed: only a date that is never earlier "
                f"than the table's own time column '{schema.time_column}' keeps the point-in-time rule."
            )
    if f.order_by is not None and _column_kind(f.table, f.order_by) not in {"int", "date", "money"}:
        errs.append(f"{where}: order_by must be a year, date or number column.")
    if f.table == "assistance" and f.lag_months < settings.assistance_min_lag_months:
        errs.append(
            f"{where}: reads table 'assistance' with lag_months={f.lag_months}; assistance measures can follow "
            "the identification the model predicts (and start dates are sometimes backdated), so features on "
            f"this table need lag_months >= {settings.assistance_min_lag_months} (settings.assistance_min_lag_months)."
        )
    return errs


def _check_share_and_members(f: Feature, where: str) -> list[str]:
    """``of`` belongs to ``share`` (numeric columns); ``age_min``/``age_max`` to ``member_count``."""
    errs: list[str] = []
    if f.primitive == "share" and not f.of:
        errs.append(f"{where}: primitive 'share' needs 'of' (the denominator columns).")
    elif f.of and f.primitive != "share":
        errs.append(f"{where}: 'of' applies to primitive 'share' only.")
    for col in f.of:
        if _column_kind(f.table, col) not in {"int", "money"}:
            errs.append(f"{where}: 'of' column '{col}' is not numeric.")
    if f.age_min is not None or f.age_max is not None:
        if f.primitive != "member_count":
            errs.append(f"{where}: 'age_min'/'age_max' apply to primitive 'member_count' only.")
        elif f.age_min is not None and f.age_max is not None and f.age_min > f.age_max:
            errs.append(f"{where}: age_min {f.age_min} is above age_max {f.age_max}.")
    return errs


def _check_filters(f: Feature, where: str) -> list[str]:
    """Filters are on contract tables, not on dates, non-empty and within the vocabulary."""
    errs: list[str] = []
    if f.filters and f.table not in TABLES:
        errs.append(f"{where}: 'filters' apply to contract tables only.")
    for col, values in f.filters.items():
        if _column_kind(f.table, col) == "date":
            errs.append(f"{where}: cannot filter on date column '{col}'; use window_months.")
        if not values:
            errs.append(f"{where}: filter on '{col}' has no values.")
        vocab = _column_vocab(f.table, col)
        if vocab is not None:
            bad = [v for v in values if v not in vocab]
            if bad:
                errs.append(
                    f"{where}: filter values {bad} are not in the vocabulary of {f.table}.{col}: {list(vocab)}."
                )
    return errs


def _check_ratio(f: Feature, where: str, features: Mapping[str, Feature]) -> list[str]:
    """A ratio divides numeric features of the catalog; numerator/denominator are its own."""
    if f.primitive != "ratio":
        if f.numerator or f.denominator:
            return [f"{where}: 'numerator'/'denominator' apply to primitive 'ratio' only."]
        return []
    errs: list[str] = []
    if not f.numerator or not f.denominator:
        errs.append(
            f"{where}: primitive 'ratio' needs 'numerator' and 'denominator' feature lists."
        )
    for name in f.inputs:
        if name not in features:
            errs.append(
                f"{where}: ratio input '{name}' is not a feature in the catalog. Close names: {_close(name, features)}."
            )
        elif features[name].dtype != "float":
            errs.append(f"{where}: ratio input '{name}' is categorical.")
    return errs


def _check_feature(
    f: Feature, features: Mapping[str, Feature], settings: CatalogSettings
) -> list[str]:
    """Every problem of one catalog entry (the checks that need a known primitive, table and
    columns run only once those are right)."""
    where = f"feature '{f.name}'"
    errs = _check_identity(f, where)
    unusable = _check_primitive_table(f, where)
    if unusable:
        return errs + unusable
    if f.table in TABLES:
        errs += _check_referenced_columns(f, where)
        if errs:
            return errs
    info = PRIMITIVES[f.primitive]
    kind = _column_kind(f.table, f.column) if f.column and f.table in TABLES else None
    return [
        *errs,
        *_check_column(f, where, info, kind),
        *_check_state_count(f, where, kind),
        *_check_dtype(f, where, info, kind),
        *_check_window(f, where, info, settings),
        *_check_share_and_members(f, where),
        *_check_filters(f, where),
        *_check_ratio(f, where, features),
    ]


def _dependency_order(features: Mapping[str, Feature]) -> tuple[tuple[str, ...], list[str]]:
    order: list[str] = []
    state: dict[str, int] = {}
    errors: list[str] = []

    def visit(name: str, path: list[str]) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            errors.append(
                f"feature '{name}': ratio inputs form a cycle {' -> '.join([*path, name])}."
            )
            return
        state[name] = 1
        for dep in features[name].inputs:
            visit(dep, [*path, name])
        state[name] = 2
        order.append(name)

    for name in features:
        visit(name, [])
    return tuple(order), errors


def _check_templates(f: Feature, features: Mapping[str, Feature]) -> list[str]:
    """Statements: known fields, valid templates and format specs, a public register for
    sensitive features, village features stated as village context."""
    errs: list[str] = []
    if f.fact and f.statements:
        errs.append(
            f"feature '{f.name}': a fact field (fact: true) makes no statements of its own."
        )
    for i, st in enumerate(f.statements):
        where = f"feature '{f.name}' statements[{i}]"
        for name in st.when:
            target = f.name if name == "value" else name
            if target not in features:
                errs.append(
                    f"{where}: when refers to unknown field '{name}'. Close names: {_close(name, features)}."
                )
        if f.sensitive and (st.public_zh is None or st.public_en is None):
            errs.append(
                f"{where}: '{f.name}' is sensitive; give public_zh and public_en (the same fact "
                "without the sensitive detail), or the internal wording would be read out."
            )
        if f.scope == "village":
            for lang in ("zh", "en"):
                text = st.text(lang, False)  # type: ignore[arg-type]
                if lang == "zh" and not text.startswith("本村"):
                    errs.append(
                        f"{where}: village-context statements speak of the village ('本村…'), never of the household."
                    )
        for lang in ("zh", "en"):
            for public in (False, True):
                template = st.text(lang, public)  # type: ignore[arg-type]
                key = f"{'public_' if public else ''}{lang}"
                try:
                    parsed = list(string.Formatter().parse(template))
                except ValueError as exc:
                    errs.append(
                        f"{where}: {key} is not a valid template ({exc}); escape literal braces as {{{{ }}}}."
                    )
                    continue
                for _, field_name, spec, conversion in parsed:
                    if field_name is None:
                        continue
                    if field_name in AS_OF_FIELDS:
                        continue
                    if field_name == "" or not _NAME_RE.match(field_name):
                        errs.append(
                            f"{where}: {key} field '{{{field_name}}}' must be a feature name, 'value' or "
                            f"one of {list(AS_OF_FIELDS)} (no positional, attribute or index fields)."
                        )
                        continue
                    if conversion:
                        errs.append(
                            f"{where}: {key} field '{field_name}' uses a !{conversion} conversion; remove it."
                        )
                    name = f.name if field_name == "value" else field_name
                    if name not in features:
                        errs.append(
                            f"{where}: {key} refers to unknown field '{field_name}'; template fields are "
                            f"feature names of the same household or 'value'. Close names: {_close(field_name, features)}."
                        )
                        continue
                    target = features[name]
                    probe: Any = "x" if target.dtype == "category" else 1.0
                    spec_text = spec or ""
                    if spec_text.startswith("abs:") and target.dtype != "category":
                        spec_text = spec_text[4:]
                    try:
                        format(probe, spec_text)
                    except (ValueError, TypeError) as exc:
                        errs.append(
                            f"{where}: {key} format spec ':{spec}' does not fit field '{field_name}' "
                            f"({target.dtype} feature): {exc}."
                        )
    return errs


def _build_set(name: str, raw: Any, catalog: Catalog) -> tuple[FeatureSet | None, list[str]]:
    where = f"feature set '{name}'"
    try:
        spec = _FeatureSetSpec.model_validate(raw)
    except ValidationError as exc:
        return None, [validation_error_lines(f"{where} does not match its schema:", exc)]
    errs: list[str] = []
    if not _NAME_RE.match(name):
        errs.append(f"{where}: set names are lower-case snake_case identifiers.")
    seen: set[str] = set()
    for n in spec.features:
        if n.startswith("audit_") or n in RESERVED_NAMES:
            errs.append(f"{where}: '{n}' is an audit or reserved column, never a feature.")
        elif n not in catalog.features:
            errs.append(
                f"{where}: unknown feature '{n}'. Close names: {_close(n, catalog.features)}."
            )
        if n in seen:
            errs.append(f"{where}: feature '{n}' is listed twice.")
        seen.add(n)
    if not spec.features:
        errs.append(f"{where}: lists no features.")
    if errs:
        return None, errs
    members = set(spec.features)
    facts: list[str] = []
    for n in spec.features:
        f = catalog.features[n]
        if f.fact:
            errs.append(
                f"{where}: '{n}' is a fact field (fact: true), computed for statements only; it is "
                "never a model feature. Remove it from the set."
            )
        for field_name in f.statement_fields():
            if field_name in AS_OF_FIELDS or field_name in members:
                continue
            target = catalog.features.get(field_name)
            if target is not None and target.fact:
                facts.append(field_name)
            else:
                errs.append(
                    f"{where}: feature '{n}' states '{field_name}', which is neither in the set nor a "
                    "fact field (fact: true); add it to the set so every reason can be checked and "
                    "rendered from the household's own values."
                )
    if errs:
        return None, errs
    own = tuple(catalog.features[n] for n in spec.features)
    fact_names = list(dict.fromkeys(facts))
    required = catalog.closure([*spec.features, *fact_names])
    version = f"{catalog.declared_version}+{_hash([f.model_dump(mode='json') for f in required] + [list(spec.features)])}"
    fs = FeatureSet(
        name=name,
        description=spec.description,
        features=own,
        required=required,
        version=version,
        village=catalog.village,
        facts=tuple(catalog.features[n] for n in fact_names),
    )
    return fs, []
