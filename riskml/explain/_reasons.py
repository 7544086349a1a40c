"""From SHAP contributions to reasons a village cadre can read.

A household's SHAP contributions (log-odds, one per feature) are summed by the catalog's
``risk_type``, so five medical features make one 因病 reason. The risk-raising groups whose sum
reaches a floor become reasons, largest first, at most four. Each reason carries:

* internal mode — the risk type, its summed contribution, the group's top feature, that
  feature's catalog template filled with the household's own values (``render_reason``), the
  public wording and the suggested assistance measures;
* public mode — only the summed contribution, the risk type's public wording and its public
  measures from ``configs/explain.yaml``: no feature value, no feature name, no risk type code,
  never anything marked sensitive.

Contributions are never shown as probability percentages; the reason contributions plus
``other_contribution`` plus ``base_value`` add up to the model's raw score (:func:`reconcile`).
"""

from __future__ import annotations

import string
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np
import pandas as pd

from riskml.config.explain import ExplainConfig, load_explain_config

__all__ = [
    "GlobalImportance",
    "ReasonFeature",
    "global_importance",
    "reason_codes",
    "reason_columns",
    "reconcile",
]

Lang = Literal["zh", "en"]
Mode = Literal["internal", "public"]
_LANGS: tuple[Lang, Lang] = ("zh", "en")


@runtime_checkable
class ReasonFeature(Protocol):
    """What reason codes need of a catalog feature (``riskml.features.Feature`` has it all)."""

    name: str
    risk_type: str
    label_zh: str
    label_en: str
    reason_zh: str
    reason_en: str
    unit: str
    sensitive: bool
    dtype: str

    def render_reason(self, row: Mapping[str, Any], lang: Lang = "zh") -> str:
        """The reason template filled with one household's values."""
        ...


def reason_columns(max_reasons: int, mode: Mode = "internal") -> list[str]:
    """The columns :func:`reason_codes` returns, in order."""
    _check_mode(mode)
    per_reason_internal = [
        "type",
        "type_zh",
        "type_en",
        "contribution",
        "feature",
        "zh",
        "en",
        "public_zh",
        "public_en",
        "measures_zh",
        "measures_en",
    ]
    per_reason_public = ["contribution", "public_zh", "public_en", "measures_zh", "measures_en"]
    per_reason = per_reason_internal if mode == "internal" else per_reason_public
    cols = ["reason_count"]
    for k in range(1, max_reasons + 1):
        cols += [f"reason_{k}_{c}" for c in per_reason]
    return [*cols, "other_contribution", "base_value", "raw_score"]


def _check_mode(mode: str) -> None:
    if mode not in ("internal", "public"):
        raise ValueError(
            f"The 'mode' parameter of reason_codes must be 'internal' or 'public'. Got {mode!r} instead."
        )


def _resolve_config(config: ExplainConfig | str | Path | None) -> ExplainConfig:
    if config is None:
        return load_explain_config()
    if isinstance(config, ExplainConfig):
        return config
    return load_explain_config(config)


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
        return [inner[n] for n in names]
    return list(inner)


def _risk_types(features: Sequence[Any], cfg: ExplainConfig) -> list[str]:
    types = [getattr(f, "risk_type", None) or cfg.fallback_risk_type for f in features]
    unknown = sorted(
        {(t, f.name) for t, f in zip(types, features, strict=True) if t not in cfg.risk_types}
    )
    if unknown:
        listed = ", ".join(f"{name} ({t})" for t, name in unknown[:10])
        raise ValueError(
            f"Feature risk types not configured in configs/explain.yaml: {listed}. "
            f"Configured: {sorted(cfg.risk_types)}. Add the risk type under 'risk_types' or fix the "
            "feature's risk_type in the catalog."
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


def _template_fields(feature: Any, lang: Lang) -> list[str]:
    fields = getattr(feature, "template_fields", None)
    if callable(fields):
        return list(dict.fromkeys(fields(lang)))
    template = feature.reason_zh if lang == "zh" else feature.reason_en
    names = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
    return list(
        dict.fromkeys(
            feature.name if f == "value" else f.split(".")[0].split("[")[0] for f in names
        )
    )


def _render(feature: Any, values: pd.DataFrame, rows: np.ndarray, lang: Lang) -> np.ndarray:
    """``feature.render_reason`` for ``rows``, called once per distinct combination of the values
    its template uses (not once per household)."""
    sub = values.iloc[rows]
    fields = [c for c in _template_fields(feature, lang) if c in sub.columns]
    if fields:
        key = (
            sub[fields].groupby(fields, dropna=False, sort=False, observed=True).ngroup().to_numpy()
        )
    else:
        key = np.zeros(len(rows), dtype=np.int64)
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    records = sub.iloc[first].to_dict("records")
    rendered = np.array([feature.render_reason(rec, lang) for rec in records], dtype=object)
    return rendered[inverse]


def reason_codes(
    contrib: np.ndarray,
    feature_values: pd.DataFrame | None,
    features: Iterable[Any],
    *,
    max_reasons: int | None = None,
    mode: Mode = "internal",
    min_contribution: float | None = None,
    config: ExplainConfig | str | Path | None = None,
) -> pd.DataFrame:
    """Reasons per household from SHAP contributions, grouped by risk type.

    Parameters
    ----------
    contrib : ndarray of shape (n, n_features + 1)
        SHAP values in log-odds, base value last (:func:`riskml.explain.tree_shap`).
    feature_values : DataFrame or None
        The households' feature values (rows aligned with ``contrib``); the internal reason texts
        quote them. May be ``None`` in public mode, which never quotes values.
    features : sequence of catalog features, a ``FeatureSet`` or a ``Catalog``
        The model's features, in ``contrib``'s column order; each has ``name``, ``risk_type``,
        reason templates and ``render_reason(row, lang)`` (:class:`ReasonFeature`). A whole
        catalog is narrowed to ``feature_values``' columns (which must then be the model's).
    max_reasons : int, optional
        At most this many reasons (default ``configs/explain.yaml`` ``max_reasons``, 4).
    mode : {"internal", "public"}
        ``"public"`` returns only public wording and public measures: no feature values, feature
        names, risk-type codes or internal texts (for village meetings and public notices).
    min_contribution : float, optional
        Floor (log-odds) a risk type's summed contribution must reach (default from config).
    config : ExplainConfig or path, optional
        The reason-code configuration (default ``configs/explain.yaml``).

    Returns
    -------
    DataFrame
        One row per household (``feature_values``' index), columns :func:`reason_columns`.
        Empty reason slots hold NA. ``other_contribution`` is everything not shown as a reason
        (negative groups, groups under the floor or beyond ``max_reasons``), so that
        ``sum(reason contributions) + other_contribution + base_value == raw_score``.

    Examples
    --------
    >>> contrib = tree_shap(booster, X)                                     # doctest: +SKIP
    >>> reasons = reason_codes(contrib, X, catalog.feature_set("default"))  # doctest: +SKIP
    >>> reasons.loc[0, "reason_1_zh"]                                       # doctest: +SKIP
    '近12个月住院3次，合规自付医疗费用24,500元'
    """
    _check_mode(mode)
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
    max_reasons = int(max_reasons)
    floor = cfg.min_contribution if min_contribution is None else float(min_contribution)
    if not np.isfinite(floor) or floor < 0:
        raise ValueError(
            f"The 'min_contribution' parameter of reason_codes must be >= 0 (log-odds). Got {min_contribution!r} instead."
        )

    feats = _as_features(
        features, None if feature_values is None else [str(c) for c in feature_values.columns]
    )
    n_features = len(feats)
    contrib = _check_contrib(contrib, n_features)
    n = contrib.shape[0]
    names = [f.name for f in feats]
    if feature_values is None:
        if mode == "internal":
            raise ValueError(
                "reason_codes needs feature_values in internal mode (the reasons quote them)."
            )
        index: pd.Index = pd.RangeIndex(n)
    else:
        if len(feature_values) != n:
            raise ValueError(
                f"feature_values has {len(feature_values)} rows but contrib has {n}; pass the frame the "
                "SHAP values were computed on, row for row."
            )
        missing = [c for c in names if c not in feature_values.columns]
        if missing and mode == "internal":
            raise ValueError(
                f"feature_values lacks the model's feature column(s) {missing[:10]}; pass the frame the "
                "SHAP values were computed on."
            )
        index = feature_values.index

    types = _risk_types(feats, cfg)
    groups = [t for t in cfg.risk_types if t in set(types)]  # config order: deterministic ties
    cols_of = {
        g: np.array([j for j, t in enumerate(types) if t == g], dtype=np.int64) for g in groups
    }
    phi = contrib[:, :n_features]
    base = contrib[:, n_features]

    n_groups = len(groups)
    group_sum = np.empty((n, n_groups), dtype=np.float64)
    top_feature = np.empty((n, n_groups), dtype=np.int64)
    for g, name in enumerate(groups):
        cols = cols_of[name]
        block = phi[:, cols]
        group_sum[:, g] = _row_sums(block)
        top_feature[:, g] = cols[np.argmax(block, axis=1)] if n else cols[:0]

    eligible = (group_sum > 0) & (group_sum >= floor)
    score = np.where(eligible, group_sum, -np.inf)
    slots = min(max_reasons, n_groups)
    order = np.argsort(-score, axis=1, kind="stable")[:, :slots]
    chosen = np.take_along_axis(score, order, axis=1)
    valid = np.isfinite(chosen)
    shown = _row_sums(np.where(valid, chosen, 0.0))

    out: dict[str, Any] = {"reason_count": valid.sum(axis=1).astype(np.int64)}
    wording = [cfg.risk_types[g] for g in groups]
    sep = {"zh": cfg.measures_separator_zh, "en": cfg.measures_separator_en}

    def per_group(values: list[str], k: int) -> pd.arrays.StringArray:
        arr = np.array([*values, None], dtype=object)  # last entry: empty slot
        pick = np.where(valid[:, k], order[:, k], n_groups) if k < slots else np.full(n, n_groups)
        return pd.array(arr[pick], dtype="string")

    for k in range(max_reasons):
        p = f"reason_{k + 1}_"
        in_range = k < slots
        contribution = (
            np.where(valid[:, k], chosen[:, k], np.nan) if in_range else np.full(n, np.nan)
        )
        if mode == "internal":
            out[p + "type"] = per_group(groups, k)
            out[p + "type_zh"] = per_group([w.zh for w in wording], k)
            out[p + "type_en"] = per_group([w.en for w in wording], k)
            out[p + "contribution"] = contribution
            feat_idx = (
                np.take_along_axis(top_feature, order[:, k : k + 1], axis=1)[:, 0]
                if in_range
                else None
            )
            feature_col = np.full(n, None, dtype=object)
            texts = {lang: np.full(n, None, dtype=object) for lang in _LANGS}
            if in_range and feature_values is not None:
                rows_k = np.flatnonzero(valid[:, k])
                fk = feat_idx[rows_k] if feat_idx is not None else rows_k[:0]
                for j in np.unique(fk):
                    rows = rows_k[fk == j]
                    feature_col[rows] = names[j]
                    for lang in _LANGS:
                        texts[lang][rows] = _render(feats[j], feature_values, rows, lang)
            out[p + "feature"] = pd.array(feature_col, dtype="string")
            out[p + "zh"] = pd.array(texts["zh"], dtype="string")
            out[p + "en"] = pd.array(texts["en"], dtype="string")
            out[p + "public_zh"] = per_group([w.public_zh for w in wording], k)
            out[p + "public_en"] = per_group([w.public_en for w in wording], k)
            out[p + "measures_zh"] = per_group([sep["zh"].join(w.measures_zh) for w in wording], k)
            out[p + "measures_en"] = per_group([sep["en"].join(w.measures_en) for w in wording], k)
        else:
            out[p + "contribution"] = contribution
            out[p + "public_zh"] = per_group([w.public_zh for w in wording], k)
            out[p + "public_en"] = per_group([w.public_en for w in wording], k)
            out[p + "measures_zh"] = per_group(
                [sep["zh"].join(w.public_measures("zh")) for w in wording], k
            )
            out[p + "measures_en"] = per_group(
                [sep["en"].join(w.public_measures("en")) for w in wording], k
            )

    out["other_contribution"] = _row_sums(phi) - shown
    out["base_value"] = base
    out["raw_score"] = _row_sums(contrib)
    frame = pd.DataFrame(out, index=index)
    return frame[reason_columns(max_reasons, mode)]


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
