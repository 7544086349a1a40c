"""When a feature may be stated as a reason, and what it says: the catalog's ``statements``.

A feature's SHAP contribution says how much its value moved the score; it does not say that the
value is a *risk fact* about the household. A household of five is not short of labour because
its size moved the score, and "0 个月前有家庭成员住院" is not a sentence anyone should read out.
So every feature declares, in ``features/catalog.yaml``, the statements it can make::

    statements:
      - when: {value: {eq: 1}}            # all clauses must hold for this household
        zh: "近12个月有家庭成员住院 1 次"
        en: "one hospital stay in the last 12 months"
        public_zh: "近12个月家庭有成员住院治疗"   # the same fact without the sensitive detail
        public_en: "a member was treated in hospital in the last 12 months"
      - when: {value: {ge: 2}}
        zh: "近12个月有家庭成员住院 {value:.0f} 次"
        ...

The first statement whose ``when`` holds is the one stated; a feature with no statement that
holds (or none at all: neutral structure such as household size) is never stated, and its
contribution goes to "other factors". A clause on a missing value never holds, and neither does
a statement quoting a field the household lacks.

Templates are Python ``str.format`` strings over the household's feature and fact values
(``{value}`` is the feature itself), plus ``{as_of_zh}`` / ``{as_of_en}`` (the scoring month,
"2024 年 6 月" / "June 2024"). A format spec may start with ``abs:`` to print the magnitude
(``{value:abs:.0%}`` for a drop that the sentence already calls a drop).
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import string
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import Field, field_validator

from riskml.config._base import StrictModel

__all__ = [
    "AS_OF_FIELDS",
    "OPERATORS",
    "Statement",
    "format_field",
    "format_numbers",
    "is_missing",
    "month_label",
    "render_template",
    "statement_mask",
    "template_fields",
    "template_parts",
]

Lang = Literal["zh", "en"]

OPERATORS: tuple[str, ...] = ("eq", "ne", "ge", "gt", "le", "lt", "in")
"""Comparison operators a ``when`` clause may use (``in``: one of a list of values)."""

AS_OF_FIELDS: tuple[str, ...] = ("as_of_zh", "as_of_en")
"""Template fields that are not features: the scoring month in Chinese and English."""

_MONTHS_EN = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


class Statement(StrictModel):
    """One way a feature may be stated: a condition on the household's values and the wording."""

    when: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Field -> {operator: level}; every clause must hold. 'value' is the feature "
        "itself; other fields are features or facts of the same household.",
    )
    zh: str = Field(min_length=1, description="Internal wording (Chinese).")
    en: str = Field(min_length=1, description="Internal wording (English).")
    public_zh: str | None = Field(
        None,
        description="Meeting wording: the same fact without sensitive detail "
        "(default: the internal wording; required for sensitive features).",
    )
    public_en: str | None = None

    @field_validator("when")
    @classmethod
    def _operators(cls, when: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        for name, clause in when.items():
            if not isinstance(clause, dict) or not clause:
                raise ValueError(f"when.{name} must be a mapping like {{ge: 1}}")
            bad = sorted(set(clause) - set(OPERATORS))
            if bad:
                raise ValueError(f"when.{name}: unknown operator(s) {bad}; use {list(OPERATORS)}")
            if "in" in clause and not isinstance(clause["in"], list | tuple):
                raise ValueError(f"when.{name}.in must be a list of values")
        return when

    def text(self, lang: Lang, public: bool) -> str:
        """The template for ``lang`` in the internal or public register."""
        if public:
            own = self.public_zh if lang == "zh" else self.public_en
            if own is not None:
                return own
        return self.zh if lang == "zh" else self.en

    def fields(self, feature_name: str) -> list[str]:
        """Every field the statement reads: its condition's and all four templates'."""
        names = [feature_name if n == "value" else n for n in self.when]
        langs: tuple[Lang, Lang] = ("zh", "en")
        for lang in langs:
            for public in (False, True):
                names += [
                    feature_name if f == "value" else f
                    for f in template_fields(self.text(lang, public))
                ]
        return list(dict.fromkeys(names))


@functools.lru_cache(maxsize=4096)
def template_parts(template: str) -> tuple[tuple[str, str | None, str], ...]:
    """A template as ``(literal, field or None, format spec)`` pieces, parsed once per template."""
    return tuple(
        (literal, field, spec or "")
        for literal, field, spec, _ in string.Formatter().parse(template)
    )


def template_fields(template: str) -> list[str]:
    """Field names in a template, in order (``value`` kept as written)."""
    return [f for _, f, _ in template_parts(template) if f is not None]


def month_label(day: Any, lang: Lang) -> str:
    """``2024 年 6 月`` / ``June 2024`` for a date (the scoring month of a reason)."""
    ts = pd.Timestamp(day)
    if lang == "zh":
        return f"{ts.year} 年 {ts.month} 月"
    return f"{_MONTHS_EN[ts.month - 1]} {ts.year}"


def is_missing(value: Any) -> bool:
    """A value a template cannot quote: None, NA, NaT or NaN."""
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    try:
        return bool(value != value)
    except (TypeError, ValueError):
        return False


def format_field(
    value: Any, spec: str, lang: Lang, levels: Mapping[str, Mapping[str, str]] | None = None
) -> str:
    """One template field: a category's label, or a number in ``spec`` (``abs:`` prefix = magnitude)."""
    if isinstance(value, str):
        if levels and value in levels:
            return str(levels[value].get(lang, value))
        return value
    number = float(value)
    if spec.startswith("abs:"):
        number, spec = abs(number), spec[4:]
    if number == 0:
        number = 0.0  # never "-0"
    return format(number, spec)


def format_numbers(values: np.ndarray, spec: str) -> list[str]:
    """:func:`format_field` of many known numbers at once (``abs:`` prefix = magnitude).

    The same strings, value for value: ``x + 0.0`` turns ``-0.0`` into ``0.0`` (never "-0")
    and leaves every other number as it is."""
    numbers = np.asarray(values, dtype=np.float64)
    if spec.startswith("abs:"):
        numbers, spec = np.abs(numbers), spec[4:]
    return [format(x, spec) for x in (numbers + 0.0).tolist()]


def render_template(
    template: str,
    feature_name: str,
    row: Mapping[str, Any],
    lang: Lang,
    levels: Mapping[str, Mapping[str, str]] | None = None,
) -> str | None:
    """Fill ``template`` with one household's values; ``None`` when a quoted value is missing."""
    parts: list[str] = []
    for literal, field_name, spec in template_parts(template):
        parts.append(literal)
        if field_name is None:
            continue
        name = feature_name if field_name == "value" else field_name
        value = row.get(name) if hasattr(row, "get") else None
        if is_missing(value):
            return None
        parts.append(format_field(value, spec, lang, levels if name == feature_name else None))
    return "".join(parts)


def _as_array(col: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(values as float or object, missing mask)."""
    missing = col.isna().to_numpy(dtype=bool)
    if (
        isinstance(col.dtype, pd.CategoricalDtype)
        or col.dtype == object
        or pd.api.types.is_string_dtype(col.dtype)
    ):
        return col.astype("object").to_numpy(), missing
    return pd.to_numeric(col, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan), missing


def statement_mask(
    statement: Statement,
    feature_name: str,
    frame: pd.DataFrame,
    *,
    has_as_of: bool = True,
    columns: dict[str, tuple[np.ndarray | None, np.ndarray]] | None = None,
) -> np.ndarray:
    """Rows of ``frame`` for which ``statement`` holds and every field it quotes is known.

    ``columns``: the frame's columns as (values or None, missing mask), filled as they are
    read (pass the same dict for many statements on one frame)."""
    n = len(frame)
    ok = np.ones(n, dtype=bool)
    seen = {} if columns is None else columns
    for name, clause in statement.when.items():
        col = feature_name if name == "value" else name
        if col not in frame.columns:
            return np.zeros(n, dtype=bool)
        cached = seen.get(col)
        if cached is not None and cached[0] is not None:
            values, missing = cached[0], cached[1]
        else:
            values, missing = _as_array(frame[col])
            seen[col] = (values, missing)
        ok &= ~missing
        for op, level in clause.items():
            with np.errstate(invalid="ignore"):
                if op == "in":
                    hit = np.isin(values, np.asarray(list(level), dtype=values.dtype))
                elif values.dtype == object and op in ("eq", "ne") and isinstance(level, str):
                    hit = _compare_object(values, op, level)
                elif values.dtype == object:
                    numeric = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(
                        dtype=np.float64, na_value=np.nan
                    )
                    hit = _compare(numeric, op, float(level))
                else:
                    hit = _compare(values, op, float(level))
            ok &= hit & ~missing
    for name in statement.fields(feature_name):
        if name in AS_OF_FIELDS:
            if not has_as_of:
                return np.zeros(n, dtype=bool)
            if name in frame.columns:  # one scoring date per row: a row without one is not stated
                ok &= _known(frame, name, seen)
            continue
        if name not in frame.columns:
            return np.zeros(n, dtype=bool)
        ok &= _known(frame, name, seen)
    return ok


def _known(
    frame: pd.DataFrame, name: str, columns: dict[str, tuple[np.ndarray | None, np.ndarray]]
) -> np.ndarray:
    """Rows where column ``name`` has a value."""
    if name not in columns:
        columns[name] = (None, frame[name].isna().to_numpy(dtype=bool))
    return ~columns[name][1]


def _compare(values: np.ndarray, op: str, level: float) -> np.ndarray:
    if op == "eq":
        return values == level
    if op == "ne":
        return values != level
    if op == "ge":
        return values >= level
    if op == "gt":
        return values > level
    if op == "le":
        return values <= level
    return values < level


def _compare_object(values: np.ndarray, op: str, level: Any) -> np.ndarray:
    if op == "eq":
        return np.asarray([v == level for v in values], dtype=bool)
    if op == "ne":
        return np.asarray([v != level for v in values], dtype=bool)
    raise ValueError(f"operator '{op}' needs a numeric field")


def first_statement(
    statements: Sequence[Statement], feature_name: str, frame: pd.DataFrame, *, has_as_of: bool
) -> np.ndarray:
    """Per row: the index of the first statement that holds, or -1 (the feature is not stated)."""
    chosen = np.full(len(frame), -1, dtype=np.int64)
    columns: dict[str, tuple[np.ndarray | None, np.ndarray]] = {}
    for k, st in enumerate(statements):
        hit = statement_mask(st, feature_name, frame, has_as_of=has_as_of, columns=columns)
        hit &= chosen < 0
        chosen[hit] = k
    return chosen


def as_of_values(as_of: Any) -> dict[str, str] | None:
    """The ``as_of_*`` template fields for a scoring date (``None`` when unknown)."""
    if as_of is None or is_missing(as_of):
        return None
    if isinstance(as_of, str):
        as_of = dt.date.fromisoformat(as_of[:10])
    return {"as_of_zh": month_label(as_of, "zh"), "as_of_en": month_label(as_of, "en")}
