"""From SHAP contributions to reasons a village cadre can read out.

A reason is a **fact about the household**, filed under the official risk type that fact
evidences (docs/reasons.md):

1. Each catalog feature declares *statements*: conditions on the household's own values under
   which the feature may be stated, with internal and public wording
   (``features/catalog.yaml``, ``riskml/features/_statements.py``). A feature whose condition
   fails for a household is not stated for it, however large its SHAP contribution: that
   contribution goes to "other factors". Neutral structure (household size, livelihood, years
   since exit) has no statements.
2. The contributions of a household's *stated* features that push its risk up are summed by
   risk type; the types whose sum reaches ``min_contribution`` become reasons, largest first, at
   most ``max_reasons``. A reason quotes its type's top stated facts (internal wording) and the
   same facts in the public register (no diagnosis, no amounts of health spending).
3. Village-level features are never household reasons: when stated they appear apart, as
   village context ("本村…"); their contributions stay in "other factors".
4. Suggested measures: at most ``max_measures`` per household, weighted by the contributions of
   the reasons suggesting them, net of assistance already in place ("已享受低保").

The reason contributions plus ``other_contribution`` plus ``base_value`` add up to the model's
raw score (:func:`reconcile`). Contributions are log-odds, for ranking and bars, never shown raw.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np
import pandas as pd

from riskml.config.explain import ExplainConfig, load_explain_config
from riskml.data import RISK_TYPES
from riskml.features._statements import (
    AS_OF_FIELDS,
    as_of_values,
    first_statement,
    format_field,
    format_numbers,
    is_missing,
    template_parts,
)

__all__ = [
    "GlobalImportance",
    "ReasonFeature",
    "RiskTypeCoverage",
    "global_importance",
    "reason_codes",
    "reason_columns",
    "reconcile",
    "risk_type_coverage",
]

Lang = Literal["zh", "en"]
Mode = Literal["internal", "public"]
_LANGS: tuple[Lang, Lang] = ("zh", "en")

REASON_FIELDS_INTERNAL: tuple[str, ...] = (
    "type",
    "type_zh",
    "type_en",
    "contribution",
    "feature",
    "zh",
    "en",
    "public_zh",
    "public_en",
)
REASON_FIELDS_PUBLIC: tuple[str, ...] = ("contribution", "public_zh", "public_en")
HOUSEHOLD_FIELDS_PUBLIC: tuple[str, ...] = (
    "context_zh",
    "context_en",
    "public_measures_zh",
    "public_measures_en",
    "public_measures_in_place_zh",
    "public_measures_in_place_en",
)
HOUSEHOLD_FIELDS_INTERNAL: tuple[str, ...] = (
    *HOUSEHOLD_FIELDS_PUBLIC[:2],
    "measures_zh",
    "measures_en",
    "measures_in_place_zh",
    "measures_in_place_en",
    *HOUSEHOLD_FIELDS_PUBLIC[2:],
)


@runtime_checkable
class ReasonFeature(Protocol):
    """What reason codes need of a catalog feature (``riskml.features.Feature`` has it all)."""

    name: str
    risk_type: str
    label_zh: str
    label_en: str
    unit: str
    sensitive: bool
    dtype: str
    statements: tuple[Any, ...]
    measures: tuple[str, ...]
    levels: dict[str, dict[str, str]] | None

    @property
    def scope(self) -> str: ...


def reason_columns(max_reasons: int, mode: Mode = "internal") -> list[str]:
    """The columns :func:`reason_codes` returns, in order."""
    _check_mode(mode)
    per_reason = REASON_FIELDS_INTERNAL if mode == "internal" else REASON_FIELDS_PUBLIC
    cols = ["reason_count"]
    for k in range(1, max_reasons + 1):
        cols += [f"reason_{k}_{c}" for c in per_reason]
    household = HOUSEHOLD_FIELDS_INTERNAL if mode == "internal" else HOUSEHOLD_FIELDS_PUBLIC
    return [*cols, *household, "other_contribution", "base_value", "raw_score"]


def _check_mode(mode: str) -> None:
    if mode not in ("internal", "public"):
        raise ValueError(
            f"The 'mode' parameter of reason_codes must be 'internal' or 'public'. Got {mode!r} instead."
        )


def _resolve_config(config: ExplainConfig | str | Path | None) -> ExplainConfig:
    cfg = (
        load_explain_config()
        if config is None
        else config
        if isinstance(config, ExplainConfig)
        else load_explain_config(config)
    )
    if set(cfg.risk_types) != set(RISK_TYPES):
        raise ValueError(
            "configs/explain.yaml risk_types must be exactly the data contract's risk-type codes "
            f"{list(RISK_TYPES)} (riskml.data.RISK_TYPES); missing "
            f"{sorted(set(RISK_TYPES) - set(cfg.risk_types))}, unknown "
            f"{sorted(set(cfg.risk_types) - set(RISK_TYPES))}."
        )
    return cfg


def _as_features(features: Any, names: Sequence[str] | None = None) -> list[Any]:
    """A feature list from a list, a ``FeatureSet`` (``.features``) or a whole ``Catalog``
    (``.features`` maps names to features: picked by ``names``, the feature-value columns)."""
    inner = getattr(features, "features", features)
    if isinstance(inner, Mapping):
        if names is None:
            raise ValueError(
                "Given a whole catalog, reason_codes needs feature_values to know the model's "
                "features; pass the model's feature set (catalog.feature_set(name)) instead."
            )
        missing = [n for n in names if n not in inner]
        if missing:
            raise ValueError(
                f"Feature(s) {missing[:10]} are not in the catalog; pass the model's feature set."
            )
        return [inner[n] for n in names if not getattr(inner[n], "fact", False)]
    return list(inner)


def _risk_types(features: Sequence[Any], cfg: ExplainConfig) -> list[str]:
    types = [getattr(f, "risk_type", None) or "other" for f in features]
    unknown = sorted(
        {(t, f.name) for t, f in zip(types, features, strict=True) if t not in cfg.risk_types}
    )
    if unknown:
        listed = ", ".join(f"{name} ({t})" for t, name in unknown[:10])
        raise ValueError(
            f"Feature risk types not configured in configs/explain.yaml: {listed}. "
            f"Configured: {sorted(cfg.risk_types)}. Fix the feature's risk_type in the catalog: "
            "it must be the official type its facts evidence."
        )
    bad_measures = sorted(
        {
            (f.name, m)
            for f in features
            for m in (getattr(f, "measures", ()) or ())
            if m not in cfg.measures
        }
    )
    if bad_measures:
        listed = ", ".join(f"{name} ({m})" for name, m in bad_measures[:10])
        raise ValueError(
            f"Feature measures not configured in configs/explain.yaml 'measures': {listed}. "
            f"Configured: {sorted(cfg.measures)}. Fix the feature's 'measures' in the catalog."
        )
    return types


def _row_sums(a: np.ndarray) -> np.ndarray:
    """Row sums added column by column, left to right.

    ``a.sum(axis=1)`` lets numpy pick the summation order from the array's shape, so one
    household's sum could differ in the last bit between a batch of one row and a batch of
    many (scoring explains chunk by chunk). Adding whole columns in order gives every row the
    same result whatever the batch.
    """
    out = np.zeros(a.shape[0], dtype=np.float64)
    for j in range(a.shape[1]):
        out += a[:, j]
    return out


def _check_contrib(contrib: np.ndarray, n_features: int, what: str = "contrib") -> np.ndarray:
    contrib = np.asarray(contrib, dtype=np.float64)
    if contrib.ndim != 2 or contrib.shape[1] != n_features + 1:
        raise ValueError(
            f"{what} must have shape (n_households, n_features + 1) = (n, {n_features + 1}) with the base "
            f"value last, as returned by tree_shap / pred_contrib; got shape {contrib.shape}. "
            "Pass the model's features in the order of its columns."
        )
    return contrib


@dataclass(frozen=True)
class RiskTypeCoverage:
    """Which official risk types a model's reasons can state, and which they cannot."""

    visible: tuple[str, ...]
    invisible: tuple[str, ...]

    def names(self, which: str, lang: Lang, config: ExplainConfig | None = None) -> list[str]:
        cfg = config or load_explain_config()
        codes = self.visible if which == "visible" else self.invisible
        return [cfg.risk_types[c].zh if lang == "zh" else cfg.risk_types[c].en for c in codes]


def risk_type_coverage(
    features: Iterable[Any], *, config: ExplainConfig | str | Path | None = None
) -> RiskTypeCoverage:
    """The risk types at least one household feature can be stated under (``visible``) and the
    official types none can (``invisible``): what a report must say the list cannot see."""
    cfg = _resolve_config(config)
    feats = _as_features(features)
    seen = {
        f.risk_type
        for f in feats
        if getattr(f, "statements", ()) and getattr(f, "scope", "household") == "household"
    }
    visible = tuple(t for t in cfg.risk_types if t in seen and t != "other")
    invisible = tuple(t for t in cfg.risk_types if t not in seen and t != "other")
    return RiskTypeCoverage(visible=visible, invisible=invisible)


# ---------------------------------------------------------------------------------------------
# statements


def _statement_frame(feature_values: pd.DataFrame, as_of: Any, n: int) -> tuple[pd.DataFrame, bool]:
    """The values statements read: the features and facts, plus the as-of fields."""
    frame = feature_values.reset_index(drop=True)
    if as_of is None:
        return frame, False
    if np.ndim(as_of) == 0:
        extra = as_of_values(as_of)
        if extra is None:
            return frame, False
        frame = frame.assign(**{k: pd.Series([v] * n, dtype=object) for k, v in extra.items()})
        return frame, True
    days = pd.to_datetime(pd.Series(np.asarray(as_of)).reset_index(drop=True))
    labels = {k: [] for k in AS_OF_FIELDS}  # type: dict[str, list[Any]]
    for d in days:
        vals = as_of_values(d) if not pd.isna(d) else None
        for k in AS_OF_FIELDS:
            labels[k].append(None if vals is None else vals[k])
    return frame.assign(**{k: pd.Series(v, dtype=object) for k, v in labels.items()}), True


def _chosen_statements(feats: Sequence[Any], frame: pd.DataFrame, has_as_of: bool) -> np.ndarray:
    """(n, n_features) index of the first statement that holds for each household, or -1."""
    n = len(frame)
    chosen = np.full((n, len(feats)), -1, dtype=np.int64)
    for j, f in enumerate(feats):
        statements = getattr(f, "statements", ())
        if statements and n:
            chosen[:, j] = first_statement(statements, f.name, frame, has_as_of=has_as_of)
    return chosen


class _Renderer:
    """Fills statements for many households: each field value is formatted once, and each
    template filled once per distinct combination of the values it quotes (over all the
    households of the call, cached across slots, facts and registers)."""

    def __init__(self, feats: Sequence[Any], frame: pd.DataFrame, chosen: np.ndarray) -> None:
        self.feats = feats
        self.frame = frame
        self.chosen = chosen
        self._codes: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._numeric: set[str] = set()  # columns of numbers (formatted by format_numbers)
        self._combos: dict[tuple[str, ...], tuple[np.ndarray, np.ndarray]] = {}
        self._formatted: dict[tuple[Any, ...], tuple[np.ndarray, np.ndarray]] = {}
        self._texts: dict[tuple[Any, ...], tuple[np.ndarray, np.ndarray]] = {}
        self.table: list[str] = []  # every distinct text filled, by id
        self._ids: dict[str, int] = {}

    def intern(self, texts: Iterable[str | None]) -> np.ndarray:
        """Each text's id in ``table`` (added when new); -1 for None."""
        ids = self._ids
        out = []
        for t in texts:
            if t is None:
                out.append(-1)
                continue
            i = ids.get(t)
            if i is None:
                i = ids[t] = len(self.table)
                self.table.append(t)
            out.append(i)
        return np.asarray(out, dtype=np.int64)

    def render(self, j: int, rows: np.ndarray, lang: Lang, public: bool) -> np.ndarray:
        """Feature ``j``'s chosen statement for ``rows``, in ``lang`` and register, as ids into
        ``table`` (-1: not stated, or a quoted value is missing)."""
        f = self.feats[j]
        out = np.full(len(rows), -1, dtype=np.int64)
        chosen = self.chosen[rows, j]
        for s in np.unique(chosen):
            if s < 0:
                continue
            mask = chosen == s
            out[mask] = self._statement(j, f.statements[s].text(lang, public), rows[mask], lang)
        return out

    def _statement(self, j: int, template: str, rows: np.ndarray, lang: Lang) -> np.ndarray:
        """``template`` filled for ``rows`` with feature ``j``'s values."""
        name = self.feats[j].name
        parts = template_parts(template)
        fields = tuple(dict.fromkeys(name if x == "value" else x for _, x, _ in parts if x))
        if not fields:
            return np.repeat(self.intern(["".join(p[0] for p in parts)]), len(rows))
        if any(c not in self.frame.columns for c in fields):
            return np.full(len(rows), -1, dtype=np.int64)
        combo, members = self._combination(fields)
        texts, done = self._cache(self._texts, (j, template, lang), len(members), ids=True)
        codes = combo[rows]
        need = np.unique(codes[~done[codes]])
        if need.size:
            texts[need] = self.intern(self._fill(j, parts, lang, members[need]))
            done[need] = True
        return texts[codes]

    def _fill(self, j: int, parts: Any, lang: Lang, rows: np.ndarray) -> list[str | None]:
        """The template ``parts`` filled for each of ``rows`` (one per distinct combination)."""
        f = self.feats[j]
        pieces: list[list[Any]] = []
        for _, field, spec in parts:
            if field is None:
                continue
            name = f.name if field == "value" else field
            levels = f.levels if name == f.name else None
            pieces.append(self._format(name, spec, lang, j if levels else -1, rows).tolist())
        # the literals around positional slots for the formatted values ({{ and }} kept literal)
        slots = iter(range(len(pieces)))
        layout = "".join(
            lit.replace("{", "{{").replace("}", "}}") + ("" if x is None else f"{{{next(slots)}}}")
            for lit, x, _ in parts
        )
        return [
            None if None in values else layout.format(*values)
            for values in zip(*pieces, strict=True)
        ]

    def _format(
        self, name: str, spec: str, lang: Lang, levels_of: int, rows: np.ndarray
    ) -> np.ndarray:
        """Column ``name`` formatted with ``spec`` at ``rows`` (once per distinct value)."""
        codes, uniques = self.codes(name)
        formatted, done = self._cache(self._formatted, (name, spec, lang, levels_of), len(uniques))
        wanted = codes[rows]
        need = np.unique(wanted[~done[wanted]])
        known = need[need > 0]  # code 0, the missing value, stays None
        if levels_of < 0 and name in self._numeric:
            formatted[known] = format_numbers(uniques[known], spec)
        else:
            levels = self.feats[levels_of].levels if levels_of >= 0 else None
            formatted[known] = [
                None if is_missing(v) else format_field(v, spec, lang, levels)
                for v in uniques[known].tolist()
            ]
        done[need] = True
        return formatted[wanted]

    def codes(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """(each row's value code, the distinct values): code 0 is the missing value (None)."""
        if name not in self._codes:
            col = self.frame[name]
            if pd.api.types.is_numeric_dtype(col.dtype):
                self._numeric.add(name)
            codes, uniques = pd.factorize(col, use_na_sentinel=True)
            values = np.empty(len(uniques) + 1, dtype=object)
            values[1:] = np.asarray(uniques, dtype=object)
            self._codes[name] = (codes.astype(np.int64) + 1, values)
        return self._codes[name]

    def _combination(self, fields: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
        """(each row's combination of the fields' values, a row of each combination)."""
        if fields not in self._combos:
            firsts, key = _combination_codes([self.codes(name)[0] for name in fields])
            self._combos[fields] = (key, firsts)
        return self._combos[fields]

    @staticmethod
    def _cache(
        store: dict[tuple[Any, ...], tuple[np.ndarray, np.ndarray]],
        key: tuple[Any, ...],
        size: int,
        ids: bool = False,
    ) -> tuple[np.ndarray, np.ndarray]:
        """(values, filled mask) of ``size`` entries under ``key``, created empty on first use:
        ids into ``table`` (-1) or objects (None)."""
        if key not in store:
            empty = np.full(size, -1, dtype=np.int64) if ids else np.full(size, None, dtype=object)
            store[key] = (empty, np.zeros(size, dtype=bool))
        return store[key]


def _combination_codes(columns: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(first row of each distinct combination of the columns' values, each row's combination).

    Combinations are numbered in order of first appearance (as ``pd.factorize`` numbers), so a
    combination's first row is where its number first shows. Integer columns of a short range
    are packed into one key without hashing; other columns are factorized first."""
    n = len(columns[0])
    key = np.zeros(n, dtype=np.int64)
    size = 1
    for col in columns:
        codes, k = _dense_codes(col)
        if k <= 1:
            continue  # one value: it tells no rows apart
        if size * k >= 2**62:
            key, uniques = pd.factorize(key)
            size = len(uniques)
        key = key * k + codes
        size *= k
    key = pd.factorize(key)[0].astype(np.int64)
    seen = np.maximum.accumulate(np.concatenate([[-1], key[:-1]])) if n else key
    return np.flatnonzero(key > seen), key


def _dense_codes(col: np.ndarray) -> tuple[np.ndarray, int]:
    """(codes in ``range(k)``, k) that are equal exactly where the column's values are."""
    if col.dtype.kind in "iu" and len(col):
        lo, hi = int(col.min()), int(col.max())
        if hi - lo < max(len(col), 2**16):
            return col.astype(np.int64) - lo, hi - lo + 1
    codes, uniques = pd.factorize(col, use_na_sentinel=False)
    return codes.astype(np.int64), len(uniques)


def _join_one(texts: Iterable[Any], sep: str) -> str | None:
    seen: list[str] = []
    for t in texts:
        if not t or any(t in s for s in seen):
            continue  # the same fact (or a fuller wording of it) is already stated
        seen = [s for s in seen if s not in t]
        seen.append(t)
    return sep.join(seen) if seen else None


def _join_facts(columns: list[np.ndarray], sep: str, table: Sequence[str]) -> np.ndarray:
    """Per row: the non-empty texts of ``columns`` (ids into ``table``, -1 for none),
    duplicates dropped, joined by ``sep`` (once per distinct combination of texts)."""
    n = len(columns[0]) if columns else 0
    if n == 0:
        return np.full(n, None, dtype=object)
    first, inverse = _combination_codes(columns)
    joined = np.empty(len(first), dtype=object)
    joined[:] = [
        _join_ids([c for c in ids if c >= 0], table, sep)
        for ids in np.stack(columns, axis=1)[first].tolist()
    ]
    return joined[inverse]


def _join_ids(ids: list[int], table: Sequence[str], sep: str) -> str | None:
    """:func:`_join_one` of the texts ``ids`` name (one text, or one text repeated: itself)."""
    if not ids:
        return None
    if ids.count(ids[0]) == len(ids):
        return table[ids[0]] or None
    return _join_one((table[c] for c in ids), sep)


# ---------------------------------------------------------------------------------------------
# reason codes


def reason_codes(
    contrib: np.ndarray,
    feature_values: pd.DataFrame,
    features: Iterable[Any],
    *,
    max_reasons: int | None = None,
    mode: Mode = "internal",
    min_contribution: float | None = None,
    config: ExplainConfig | str | Path | None = None,
    as_of: Any = None,
    in_place: Sequence[Iterable[str] | None] | None = None,
) -> pd.DataFrame:
    """Reasons per household from SHAP contributions: facts about the household, by risk type.

    Parameters
    ----------
    contrib : ndarray of shape (n, n_features + 1)
        SHAP values in log-odds, base value last (:func:`riskml.explain.tree_shap`).
    feature_values : DataFrame
        The households' feature values (rows aligned with ``contrib``), plus the feature set's
        fact fields (``compute_features(..., facts=True)``): statements are checked against and
        quote them, in both modes.
    features : sequence of catalog features, a ``FeatureSet`` or a ``Catalog``
        The model's features, in ``contrib``'s column order. A whole catalog is narrowed to
        ``feature_values``' feature columns.
    max_reasons : int, optional
        At most this many reasons (default ``configs/explain.yaml`` ``max_reasons``, 4).
    mode : {"internal", "public"}
        ``"public"`` returns only the public register of each fact and public measures: no risk
        type, no feature name, no diagnosis, no health amounts (for village meetings).
    min_contribution : float, optional
        Floor (log-odds) a risk type's summed contribution must reach (default from config).
    config : ExplainConfig or path, optional
        The reason-code configuration (default ``configs/explain.yaml``).
    as_of : date or array of dates, optional
        The scoring date(s) (one, or one per row): statements that name the period
        ("截至 2024 年 6 月的近12个月…") need it and are not stated without it.
    in_place : sequence of sets of str, optional
        Per household, the assistance already in place at ``as_of`` (assistance-table measure
        codes, and ``dibao``): measures covering them are reported as in place, not proposed.

    Returns
    -------
    DataFrame
        One row per household (``feature_values``' index), columns :func:`reason_columns`.
        Empty slots hold NA. ``other_contribution`` is everything not shown as a reason
        (features not stated for the household, village context, negative contributions,
        types under the floor or beyond ``max_reasons``), so that
        ``sum(reason contributions) + other_contribution + base_value == raw_score``.

    Examples
    --------
    >>> contrib = tree_shap(booster, X)                                       # doctest: +SKIP
    >>> reasons = reason_codes(contrib, X, feature_set, as_of="2024-06-30")   # doctest: +SKIP
    >>> reasons.loc[0, "reason_1_zh"]                                         # doctest: +SKIP
    '近12个月有家庭成员住院 2 次'
    """
    _check_mode(mode)
    cfg, max_reasons, floor = _checked_options(config, max_reasons, min_contribution)
    feats, contrib = _checked_inputs(contrib, feature_values, features, in_place)
    n, n_features = contrib.shape[0], len(feats)
    names = [f.name for f in feats]
    frame, has_as_of = _statement_frame(feature_values, as_of, n)
    chosen = _chosen_statements(feats, frame, has_as_of)
    types = _risk_types(feats, cfg)
    phi = contrib[:, :n_features]
    household = np.array([getattr(f, "scope", "household") == "household" for f in feats])
    stated = (chosen >= 0) & (phi > 0) & household[None, :]
    ranking = _rank_risk_types(phi, stated, types, household, cfg, floor, max_reasons)

    renderer = _Renderer(feats, frame, chosen)
    out: dict[str, Any] = {"reason_count": ranking.valid.sum(axis=1).astype(np.int64)}
    reason_types = np.full((n, max_reasons), -1, dtype=np.int64)
    reason_features: list[np.ndarray] = []  # per slot: top stated feature per row (-1 = none)
    for k in range(max_reasons):
        texts, top = _slot_texts(k, ranking, phi, stated, renderer, reason_types, cfg)
        reason_features.append(top)
        out.update(_slot_columns(k, ranking, texts, top, reason_types, names, cfg, mode))

    context = _village_context(feats, phi, chosen, household, floor, cfg, renderer, n)
    for lang in _LANGS:
        out[f"context_{lang}"] = pd.array(context[lang], dtype="string")
    covered = _covered(in_place, cfg, n)  # assistance in place: the same in both registers
    for register in (False, True) if mode == "internal" else (True,):
        measures = _measures(
            feats,
            ranking.groups,
            reason_types,
            reason_features,
            ranking.chosen_sum,
            ranking.valid,
            cfg,
            register,
            in_place,
            n,
            covered,
        )
        prefix = "public_" if register else ""
        for key, values in measures.items():
            out[prefix + key] = pd.array(values, dtype="string")

    out["other_contribution"] = _row_sums(phi) - ranking.shown
    out["base_value"] = contrib[:, n_features]
    out["raw_score"] = _row_sums(contrib)
    result = pd.DataFrame(out, index=feature_values.index)
    return result[reason_columns(max_reasons, mode)]


def _checked_options(
    config: ExplainConfig | str | Path | None,
    max_reasons: int | None,
    min_contribution: float | None,
) -> tuple[ExplainConfig, int, float]:
    """(config, max_reasons, floor) from the arguments and the config, checked."""
    cfg = _resolve_config(config)
    max_reasons = cfg.max_reasons if max_reasons is None else max_reasons
    if (
        not isinstance(max_reasons, int | np.integer)
        or isinstance(max_reasons, bool)
        or max_reasons < 1
    ):
        raise ValueError(
            f"The 'max_reasons' parameter of reason_codes must be a positive int. Got {max_reasons!r} instead."
        )
    floor = cfg.min_contribution if min_contribution is None else float(min_contribution)
    if not np.isfinite(floor) or floor < 0:
        raise ValueError(
            f"The 'min_contribution' parameter of reason_codes must be >= 0 (log-odds). Got {min_contribution!r} instead."
        )
    return cfg, int(max_reasons), floor


def _checked_inputs(
    contrib: np.ndarray,
    feature_values: pd.DataFrame,
    features: Iterable[Any],
    in_place: Sequence[Iterable[str] | None] | None,
) -> tuple[list[Any], np.ndarray]:
    """(the model's features, the SHAP matrix), checked against each other and the values."""
    if feature_values is None:
        raise ValueError(
            "reason_codes needs feature_values (with the fact fields) in both modes: a reason is "
            "stated only when the household's own values satisfy its condition."
        )
    feats = _as_features(features, [str(c) for c in feature_values.columns])
    contrib = _check_contrib(contrib, len(feats))
    n = contrib.shape[0]
    if len(feature_values) != n:
        raise ValueError(
            f"feature_values has {len(feature_values)} rows but contrib has {n}; pass the frame the "
            "SHAP values were computed on, row for row."
        )
    missing = [f.name for f in feats if f.name not in feature_values.columns]
    if missing:
        raise ValueError(
            f"feature_values lacks the model's feature column(s) {missing[:10]}; pass the frame the "
            "SHAP values were computed on (with facts=True)."
        )
    if in_place is not None and len(in_place) != n:
        raise ValueError(f"in_place has {len(in_place)} entries for {n} households.")
    return feats, contrib


@dataclass(frozen=True)
class _Ranking:
    """The risk types each household's reasons are filed under, largest first."""

    groups: list[str]  # household risk types, config order
    cols_of: dict[str, np.ndarray]  # feature columns of each type
    slots: int  # reason slots that can be filled (at most the number of types)
    order: np.ndarray  # (n, slots) type index per slot
    chosen_sum: np.ndarray  # (n, slots) the type's summed stated contribution (-inf: none)
    valid: np.ndarray  # (n, slots) the slot holds a reason
    shown: np.ndarray  # (n,) sum of the reasons' contributions


def _rank_risk_types(
    phi: np.ndarray,
    stated: np.ndarray,
    types: list[str],
    household: np.ndarray,
    cfg: ExplainConfig,
    floor: float,
    max_reasons: int,
) -> _Ranking:
    """Sum the stated contributions by risk type; the types reaching the floor, largest first."""
    n = phi.shape[0]
    groups = [t for t in cfg.risk_types if t in set(np.asarray(types)[household])]
    cols_of = {
        g: np.array([j for j, t in enumerate(types) if t == g and household[j]], dtype=np.int64)
        for g in groups
    }
    group_sum = np.zeros((n, len(groups)), dtype=np.float64)
    for g, name in enumerate(groups):
        cols = cols_of[name]
        group_sum[:, g] = _row_sums(np.where(stated[:, cols], phi[:, cols], 0.0))
    eligible = (group_sum > 0) & (group_sum >= floor)
    score = np.where(eligible, group_sum, -np.inf)
    slots = min(max_reasons, len(groups))
    order = np.argsort(-score, axis=1, kind="stable")[:, :slots]
    chosen_sum = np.take_along_axis(score, order, axis=1)
    valid = np.isfinite(chosen_sum)
    shown = _row_sums(np.where(valid, chosen_sum, 0.0))
    return _Ranking(groups, cols_of, slots, order, chosen_sum, valid, shown)


def _slot_texts(
    k: int,
    ranking: _Ranking,
    phi: np.ndarray,
    stated: np.ndarray,
    renderer: _Renderer,
    reason_types: np.ndarray,
    cfg: ExplainConfig,
) -> tuple[dict[tuple[Lang, bool], np.ndarray], np.ndarray]:
    """Reason ``k``'s texts (by language and register) and top fact per household; records the
    slot's risk type in ``reason_types``."""
    n = phi.shape[0]
    texts = {
        (lang, pub): np.full(n, None, dtype=object) for lang in _LANGS for pub in (False, True)
    }
    top = np.full(n, -1, dtype=np.int64)
    if k >= ranking.slots:
        return texts, top
    sep = {"zh": cfg.facts_separator_zh, "en": cfg.facts_separator_en}
    g_of_row = np.where(ranking.valid[:, k], ranking.order[:, k], -1)
    reason_types[:, k] = g_of_row
    for g in np.unique(g_of_row[g_of_row >= 0]):
        rows = np.flatnonzero(g_of_row == g)
        cols = ranking.cols_of[ranking.groups[g]]
        block = np.where(stated[np.ix_(rows, cols)], phi[np.ix_(rows, cols)], -np.inf)
        rank = np.argsort(-block, axis=1, kind="stable")[:, : cfg.max_facts_per_reason]
        picked = cols[rank]  # (rows, n_facts) feature indices
        ok = np.isfinite(np.take_along_axis(block, rank, axis=1))
        top[rows] = np.where(ok[:, 0], picked[:, 0], -1)
        for lang in _LANGS:
            for pub in (False, True):
                parts: list[np.ndarray] = []
                for r in range(picked.shape[1]):
                    col = np.full(len(rows), -1, dtype=np.int64)
                    for j in np.unique(picked[ok[:, r], r]):
                        sel = np.flatnonzero(ok[:, r] & (picked[:, r] == j))
                        col[sel] = renderer.render(int(j), rows[sel], lang, pub)
                    parts.append(col)
                texts[(lang, pub)][rows] = _join_facts(parts, sep[lang], renderer.table)
    return texts, top


def _slot_columns(
    k: int,
    ranking: _Ranking,
    texts: dict[tuple[Lang, bool], np.ndarray],
    top: np.ndarray,
    reason_types: np.ndarray,
    names: list[str],
    cfg: ExplainConfig,
    mode: Mode,
) -> dict[str, Any]:
    """The output columns of reason ``k`` (``reason_{k+1}_*``) in ``mode``."""
    n = len(top)
    p = f"reason_{k + 1}_"
    in_range = k < ranking.slots
    contribution = (
        np.where(ranking.valid[:, k], ranking.chosen_sum[:, k], np.nan)
        if in_range
        else np.full(n, np.nan)
    )
    out: dict[str, Any] = {}
    if mode == "internal":
        idx = reason_types[:, k] if in_range else None
        wording = [cfg.risk_types[g] for g in ranking.groups]
        out[p + "type"] = _pick([*ranking.groups], idx, n)
        out[p + "type_zh"] = _pick([w.zh for w in wording], idx, n)
        out[p + "type_en"] = _pick([w.en for w in wording], idx, n)
        out[p + "contribution"] = contribution
        out[p + "feature"] = pd.array(
            np.array([*names, None], dtype=object)[np.where(top >= 0, top, len(names))],
            dtype="string",
        )
        out[p + "zh"] = pd.array(texts[("zh", False)], dtype="string")
        out[p + "en"] = pd.array(texts[("en", False)], dtype="string")
    else:
        out[p + "contribution"] = contribution
    out[p + "public_zh"] = pd.array(texts[("zh", True)], dtype="string")
    out[p + "public_en"] = pd.array(texts[("en", True)], dtype="string")
    return out


def _pick(values: list[str], idx: np.ndarray | None, n: int) -> pd.arrays.StringArray:
    if idx is None:
        return pd.array(np.full(n, None, dtype=object), dtype="string")
    arr = np.array([*values, None], dtype=object)
    return pd.array(arr[np.where(idx >= 0, idx, len(values))], dtype="string")


def _village_context(
    feats: Sequence[Any],
    phi: np.ndarray,
    chosen: np.ndarray,
    household: np.ndarray,
    floor: float,
    cfg: ExplainConfig,
    renderer: _Renderer,
    n: int,
) -> dict[str, np.ndarray]:
    """Per household: the village-level facts that raised its risk, stated as village context."""
    out: dict[str, np.ndarray] = {lang: np.full(n, None, dtype=object) for lang in _LANGS}
    cols = np.flatnonzero(~household)
    if cfg.max_context == 0 or len(cols) == 0 or n == 0:
        return out
    block = np.where(
        (chosen[:, cols] >= 0) & (phi[:, cols] >= max(floor, 1e-12)), phi[:, cols], -np.inf
    )
    rank = np.argsort(-block, axis=1, kind="stable")[:, : cfg.max_context]
    picked = cols[rank]
    ok = np.isfinite(np.take_along_axis(block, rank, axis=1))
    sep = {"zh": cfg.facts_separator_zh, "en": cfg.facts_separator_en}
    for lang in _LANGS:
        parts = []
        for r in range(picked.shape[1]):
            col = np.full(n, -1, dtype=np.int64)
            for j in np.unique(picked[ok[:, r], r]):
                sel = np.flatnonzero(ok[:, r] & (picked[:, r] == j))
                col[sel] = renderer.render(int(j), sel, lang, False)
            parts.append(col)
        out[lang] = _join_facts(parts, sep[lang], renderer.table)
    return out


def _measure_names(
    feats: Sequence[Any], rt: Any, j: int, cfg: ExplainConfig, public: bool
) -> list[str]:
    """The measures a reason suggests: its top fact's own, else its risk type's."""
    own = tuple(getattr(feats[j], "measures", ()) or ()) if j >= 0 else ()
    if own and not (public and rt.sensitive):
        return [m for m in own if m in cfg.measures]
    return list(rt.measures_for(public))


def _measure_weights(
    feats: Sequence[Any],
    groups: list[str],
    reason_types: np.ndarray,
    reason_features: list[np.ndarray],
    chosen_sum: np.ndarray,
    valid: np.ndarray,
    cfg: ExplainConfig,
    public: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """(weights, first mention) per household and measure (``cfg.measures`` order).

    A reason adds its contribution to each measure it suggests (1 % less per position), slot by
    slot, in the order the per-household dictionary of the original loop added them; ``first``
    is the order in which each measure was first mentioned (``inf`` when never)."""
    codes = {m: c for c, m in enumerate(cfg.measures)}
    n, slots = valid.shape
    weights = np.zeros((n, len(codes)), dtype=np.float64)
    first = np.full((n, len(codes)), np.inf)
    for k in range(slots):
        rows = np.flatnonzero(valid[:, k])
        if rows.size == 0:
            continue
        pair = reason_types[rows, k] * (len(feats) + 1) + (reason_features[k][rows] + 1)
        for code in np.unique(pair):
            sub = rows[pair == code]
            g, j = int(code) // (len(feats) + 1), int(code) % (len(feats) + 1) - 1
            names = _measure_names(feats, cfg.risk_types[groups[g]], j, cfg, public)
            w = chosen_sum[sub, k]
            for pos, m in enumerate(names):
                c = codes[m]
                weights[sub, c] = weights[sub, c] + w * (1.0 - 0.01 * pos)
                first[sub, c] = np.minimum(first[sub, c], k * 1000 + pos)
    return weights, first


def _measure_choice(
    weights: np.ndarray, first: np.ndarray, covered: np.ndarray, cfg: ExplainConfig
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per household: measures by weight (``ranked``, ``-1`` padded, ties by first mention), the
    proposed ones (``proposed``) and the ones already in place (``already``), as masks over
    ``ranked``'s positions."""
    mentioned = np.isfinite(first)
    ranked = np.lexsort((first, np.where(mentioned, -weights, np.inf)), axis=1)
    ranked_w = np.take_along_axis(weights, ranked, axis=1)
    ranked_in = np.take_along_axis(mentioned, ranked, axis=1)
    ranked_cov = np.take_along_axis(covered, ranked, axis=1) & ranked_in
    top_w = ranked_w[:, :1]
    candidate = ranked_in & ~ranked_cov & (ranked_w >= cfg.measure_min_share * top_w)
    proposed = candidate & (np.cumsum(candidate, axis=1) <= cfg.max_measures)
    return np.where(ranked_in, ranked, -1), proposed, ranked_cov


def _measure_keys(ranked: np.ndarray, weights: np.ndarray, have: np.ndarray) -> np.ndarray:
    """Each household's first household with the same measures, weight ratios (6 decimals) and
    assistance in place: the original loop reused that household's wording."""
    n, m = ranked.shape
    ranked_w = np.take_along_axis(weights, np.maximum(ranked, 0), axis=1)
    top = ranked_w[:, :1]
    mentioned = ranked >= 0
    ratios = np.zeros((n, m), dtype=np.float64)
    ratios[mentioned] = _round6(ranked_w[mentioned] / np.broadcast_to(top, (n, m))[mentioned])
    columns = [*ranked.T, *ratios.T, have]
    firsts, key = _combination_codes(columns)
    return firsts[key]


def _round6(x: np.ndarray) -> np.ndarray:
    """``round(v, 6)`` of every value, as Python rounds (correctly, half to even).

    numpy's ``round`` takes the nearest integer of ``x * 1e6`` and divides by ``1e6``: the same
    double as Python's unless ``x * 1e6`` lies (within its rounding error) on a half, where
    the product's error may tip it. Those few values, and large or non-finite ones, are
    rounded by Python."""
    with np.errstate(invalid="ignore", over="ignore"):
        scaled = x * 1e6
        out = np.round(x, 6)
        near_half = ~(np.abs(scaled - np.floor(scaled) - 0.5) > 1e-6)
    doubt = np.flatnonzero(near_half | ~(np.abs(x) < 1e6))
    out[doubt] = [round(v, 6) for v in x[doubt].tolist()]
    return out


def _measure_texts(
    ranked: np.ndarray, proposed: np.ndarray, already: np.ndarray, cfg: ExplainConfig
) -> tuple[np.ndarray, list[tuple[str | None, ...]]]:
    """Each household's wording (an index into the returned list of distinct wordings)."""
    codes = np.concatenate([np.where(proposed, ranked, -1), np.where(already, ranked, -1)], axis=1)
    firsts, inverse = _combination_codes(list(codes.T))
    names = list(cfg.measures)
    m = ranked.shape[1]
    texts: list[tuple[str | None, ...]] = []
    for values in codes[firsts]:
        prop = [names[c] for c in values[:m] if c >= 0]
        have = [names[c] for c in values[m:] if c >= 0]
        texts.append(
            (
                cfg.measures_separator_zh.join(cfg.measures[x].zh for x in prop) or None,
                cfg.measures_separator_en.join(cfg.measures[x].en for x in prop) or None,
                cfg.measures_separator_zh.join(cfg.measures[x].in_place("zh") for x in have)
                or None,
                cfg.measures_separator_en.join(cfg.measures[x].in_place("en") for x in have)
                or None,
            )
        )
    return inverse.reshape(-1), texts


def _covered(
    in_place: Sequence[Iterable[str] | None] | None, cfg: ExplainConfig, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """(each household's assistance-in-place code, (n, measures) measures it already covers)."""
    if in_place is None:
        sets: list[frozenset[str]] = [frozenset()]
        have = np.zeros(n, dtype=np.int64)
    else:
        have, uniques = pd.factorize(
            pd.Series([frozenset(x or ()) for x in in_place], dtype=object)
        )
        sets = list(uniques)
    table = np.array(
        [[bool(set(spec.covers) & s) for spec in cfg.measures.values()] for s in sets],
        dtype=bool,
    ).reshape(len(sets), len(cfg.measures))
    return have, table[have]


def _measures(
    feats: Sequence[Any],
    groups: list[str],
    reason_types: np.ndarray,
    reason_features: list[np.ndarray],
    chosen_sum: np.ndarray,
    valid: np.ndarray,
    cfg: ExplainConfig,
    public: bool,
    in_place: Sequence[Iterable[str] | None] | None,
    n: int,
    covered: tuple[np.ndarray, np.ndarray] | None = None,
) -> dict[str, np.ndarray]:
    """At most ``max_measures`` measures per household, weighted by the contributions of the
    reasons suggesting them, net of assistance in place (reported as "已享受…" instead).

    Vectorised over households; wording is assembled once per distinct choice. ``covered``:
    ``_covered(in_place, cfg, n)`` when already known (both registers share it)."""
    keys = ("measures_zh", "measures_en", "measures_in_place_zh", "measures_in_place_en")
    out = {k: np.full(n, None, dtype=object) for k in keys}
    if n == 0 or not cfg.measures:
        return out
    weights, first = _measure_weights(
        feats, groups, reason_types, reason_features, chosen_sum, valid, cfg, public
    )
    have, in_place_covers = covered or _covered(in_place, cfg, n)
    ranked, proposed, already = _measure_choice(weights, first, in_place_covers, cfg)
    any_weight = ranked[:, 0] >= 0
    source = _measure_keys(ranked, weights, have)
    wording, texts = _measure_texts(ranked, proposed, already, cfg)
    rows = np.flatnonzero(any_weight)
    chosen = wording[source[rows]]
    for pos, key_name in enumerate(keys):
        column = np.array([t[pos] for t in texts] + [None], dtype=object)
        out[key_name][rows] = column[chosen]
    return out


def reconcile(
    contrib: np.ndarray,
    reasons: pd.DataFrame,
    *,
    raw_score: np.ndarray | None = None,
    atol: float = 1e-9,
) -> pd.Series:
    """Check that the reasons account for the whole score; return the per-household residual.

    For every household: ``sum(reason_k_contribution) + other_contribution + base_value`` must
    equal the SHAP row sum (and ``raw_score``, e.g. ``booster.predict(X, raw_score=True)``, when
    given) within ``atol``; ``base_value`` must be the SHAP base value and ``reason_count`` the
    number of filled reason slots.

    Raises
    ------
    ValueError
        Naming the first households that do not reconcile and by how much.
    """
    contrib = np.asarray(contrib, dtype=np.float64)
    if contrib.ndim != 2 or len(reasons) != contrib.shape[0]:
        raise ValueError(
            f"reconcile needs the SHAP matrix the reasons were made from: contrib has shape "
            f"{contrib.shape}, reasons has {len(reasons)} rows."
        )
    needed = {"reason_count", "other_contribution", "base_value"}
    if needed - set(reasons.columns):
        raise ValueError(
            f"reasons lacks column(s) {sorted(needed - set(reasons.columns))}; pass reason_codes' output."
        )
    contribution_cols = sorted(
        (c for c in reasons.columns if c.startswith("reason_") and c.endswith("_contribution")),
        key=lambda c: int(c.split("_")[1]),
    )
    shown = reasons[contribution_cols].to_numpy(dtype=np.float64, na_value=np.nan)
    total = np.nan_to_num(shown, nan=0.0).sum(axis=1) + reasons["other_contribution"].to_numpy(
        np.float64
    )
    total = total + reasons["base_value"].to_numpy(np.float64)
    target = contrib.sum(axis=1)
    residual = total - target
    problems: list[str] = []

    def report(what: str, bad: np.ndarray, values: np.ndarray) -> None:
        if bad.any():
            rows = np.flatnonzero(bad)
            labels = [str(reasons.index[r]) for r in rows[:5]]
            problems.append(
                f"{what}: {bad.sum()} household(s), first {labels}, max |difference| {np.abs(values[bad]).max():.3g}"
            )

    report("reasons + other + base != SHAP row sum", ~(np.abs(residual) <= atol), residual)
    base_diff = reasons["base_value"].to_numpy(np.float64) - contrib[:, -1]
    report("base_value != SHAP base value", ~(np.abs(base_diff) <= atol), base_diff)
    filled = np.isfinite(shown).sum(axis=1)
    count_diff = reasons["reason_count"].to_numpy(np.int64) - filled
    report("reason_count != filled reason slots", count_diff != 0, count_diff.astype(np.float64))
    if raw_score is not None:
        raw = np.asarray(raw_score, dtype=np.float64).reshape(-1)
        if raw.shape[0] != contrib.shape[0]:
            raise ValueError(
                f"raw_score has {raw.shape[0]} values for {contrib.shape[0]} households."
            )
        raw_diff = total - raw
        report("reasons + other + base != raw score", ~(np.abs(raw_diff) <= atol), raw_diff)
    if problems:
        raise ValueError(
            "Reason codes do not reconcile with the score (atol "
            + f"{atol:g}):\n  - "
            + "\n  - ".join(problems)
        )
    return pd.Series(residual, index=reasons.index, name="residual")


@dataclass(frozen=True)
class GlobalImportance:
    """Mean |SHAP| per feature and per risk type (for model reports)."""

    by_feature: pd.DataFrame
    by_risk_type: pd.DataFrame


def global_importance(
    contrib: np.ndarray,
    feature_names: Sequence[str] | Iterable[Any],
    *,
    config: ExplainConfig | str | Path | None = None,
) -> GlobalImportance:
    """Global SHAP importance: mean |contribution| per feature and per risk type.

    Parameters
    ----------
    contrib : ndarray of shape (n, n_features + 1)
        SHAP values, base value last.
    feature_names : list of str, or catalog features (or a ``FeatureSet``)
        With features, the per-risk-type table sums each household's contributions within the
        risk type first (as reasons do) and then averages the absolute value.

    Returns
    -------
    GlobalImportance
        ``by_feature``: ``feature``, ``risk_type`` (NA for bare names), ``mean_abs_shap``,
        ``mean_shap``, ``share`` — sorted by ``mean_abs_shap``, descending.
        ``by_risk_type``: ``risk_type``, ``risk_type_zh``, ``risk_type_en``, ``n_features``,
        ``mean_abs_shap``, ``mean_shap``, ``share`` (empty for bare names).
    """
    items = _as_features(feature_names)
    names = [x if isinstance(x, str) else x.name for x in items]
    contrib = _check_contrib(contrib, len(names))
    phi = contrib[:, : len(names)]
    with_types = bool(items) and not isinstance(items[0], str)
    types: list[str | None] = [None] * len(names)
    cfg: ExplainConfig | None = None
    if with_types:
        cfg = _resolve_config(config)
        types = list(_risk_types(items, cfg))
    mean_abs = np.abs(phi).mean(axis=0) if len(phi) else np.zeros(len(names))
    mean = phi.mean(axis=0) if len(phi) else np.zeros(len(names))
    total = mean_abs.sum()
    by_feature = pd.DataFrame(
        {
            "feature": pd.array(names, dtype="string"),
            "risk_type": pd.array(types, dtype="string"),
            "mean_abs_shap": mean_abs,
            "mean_shap": mean,
            "share": mean_abs / total if total > 0 else np.zeros(len(names)),
        }
    ).sort_values("mean_abs_shap", ascending=False, kind="stable", ignore_index=True)

    rows: list[dict[str, Any]] = []
    if with_types and cfg is not None:
        for g in [t for t in cfg.risk_types if t in set(types)]:
            cols = [j for j, t in enumerate(types) if t == g]
            summed = phi[:, cols].sum(axis=1)
            rows.append(
                {
                    "risk_type": g,
                    "risk_type_zh": cfg.risk_types[g].zh,
                    "risk_type_en": cfg.risk_types[g].en,
                    "n_features": len(cols),
                    "mean_abs_shap": float(np.abs(summed).mean()) if len(summed) else 0.0,
                    "mean_shap": float(summed.mean()) if len(summed) else 0.0,
                }
            )
    by_type = pd.DataFrame(
        rows,
        columns=[
            "risk_type",
            "risk_type_zh",
            "risk_type_en",
            "n_features",
            "mean_abs_shap",
            "mean_shap",
        ],
    )
    group_total = by_type["mean_abs_shap"].sum()
    by_type["share"] = by_type["mean_abs_shap"] / group_total if group_total > 0 else 0.0
    by_type = by_type.sort_values(
        "mean_abs_shap", ascending=False, kind="stable", ignore_index=True
    )
    for c in ("risk_type", "risk_type_zh", "risk_type_en"):
        by_type[c] = by_type[c].astype("string")
    return GlobalImportance(by_feature=by_feature, by_risk_type=by_type)
