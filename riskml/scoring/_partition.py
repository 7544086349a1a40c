"""The per-partition scoring function both engines run, and the roster's household universe.

:func:`score_partition` takes a bundle holding a subset of the roster's households (a chunk on
one machine, a hash partition on Spark) and returns one row per household of that subset:
features → signature check → raw score → calibrated score → TreeSHAP → reasons. Ranks and tiers
need the whole roster and are assigned afterwards (:mod:`riskml.scoring._tiers`).
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from riskml import features
from riskml.config.scoring import ScoringConfig
from riskml.data import Bundle
from riskml.scoring._columns import (
    EXPLANATION_COLUMNS,
    MAX_REASONS,
    MONITORING_CATEGORY_ZH,
    REASON_FIELDS,
    reason_column,
    score_dtypes,
)
from riskml.scoring._ids import arrow_ids, ids_in, null_column

__all__ = [
    "DRIFT_GROUP",
    "IDENTITY_COLUMNS",
    "PARTITION_COLUMNS",
    "ExplainSelection",
    "PartitionResult",
    "ScoringError",
    "SignatureMismatchError",
    "household_universe",
    "score_partition",
    "stable_sample_mask",
]

DRIFT_GROUP = "county_code"
"""The identity column the drift sample carries besides the features: rare events are compared
county by county too (:meth:`riskml.models.SeasonalReference.compare`)."""
IDENTITY_COLUMNS: tuple[str, ...] = (
    "household_id",
    "county_code",
    "township_code",
    "village_code",
    "village_name",
)
PARTITION_COLUMNS: tuple[str, ...] = (
    *IDENTITY_COLUMNS,
    "status",
    "status_detail",
    "score",
    "raw_score",
    *(reason_column(k, f) for k in range(1, MAX_REASONS + 1) for f in REASON_FIELDS),
    *EXPLANATION_COLUMNS,
    "explained",
    "drift_sample",
)
"""Columns :func:`score_partition` returns (``as_of``, ranks, tiers and change come later)."""

_SAMPLE_KEY = "riskml-drift-smp"  # 16 characters: pandas' hash key


class ScoringError(ValueError):
    """A roster cannot be scored as asked (bad as-of date, model, roster or configuration)."""


class SignatureMismatchError(ScoringError):
    """The roster's features do not match the model's input signature."""


@dataclass(frozen=True)
class ExplainSelection:
    """Which scored households of a partition get reasons.

    ``all``: every scored household; ``min_score``: households whose calibrated probability is at
    least this (the lowest flagged cut-off, when tiers are by cut-off); ``ids``: exactly these
    households (flagged by capacity, known only after the whole roster is scored).
    """

    all: bool = False
    min_score: float | None = None
    ids: frozenset[str] | None = None

    def mask(self, household_id: pd.Series, score: np.ndarray) -> np.ndarray:
        if self.all:
            return np.ones(len(score), dtype=bool)
        out = np.zeros(len(score), dtype=bool)
        if self.min_score is not None:
            out |= score >= self.min_score
        if self.ids is not None:
            out |= household_id.isin(self.ids).to_numpy(dtype=bool)
        return out

    @property
    def none(self) -> bool:
        return not self.all and self.min_score is None and not self.ids


@dataclass
class PartitionResult:
    """What :func:`score_partition` returns: one row per household, and the drift sample."""

    scores: pd.DataFrame
    drift_features: pd.DataFrame
    stats: dict[str, float] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------
# the households a bundle accounts for


def _quarantine_by_household(bundle: Bundle) -> pd.DataFrame:
    q = bundle.quarantine
    if q is None or len(q) == 0 or "household_id" not in q.columns:
        return pd.DataFrame(columns=["household_id", "table", "column", "reason"])
    q = q.loc[q["household_id"].notna()]
    return pd.DataFrame(
        {
            "household_id": q["household_id"].astype("string").to_numpy(),
            "table": q["table"].astype("string").to_numpy() if "table" in q else "",
            "column": q["column"].astype("string").to_numpy() if "column" in q else "",
            "reason": q["reason"].astype("string").to_numpy() if "reason" in q else "",
        }
    )


def _no_identity(n: int) -> pd.DataFrame:
    """``n`` rows of :data:`IDENTITY_COLUMNS`, all ``<NA>``."""
    return pd.DataFrame(
        {c: pd.Series(pd.NA, index=range(n), dtype="string") for c in IDENTITY_COLUMNS}
    )


def _roster_households(bundle: Bundle) -> pd.DataFrame:
    """The ``households`` table's identity columns, one row per household id, none rejected."""
    hh = bundle.households
    ids = hh["household_id"].astype("string")
    out = pd.DataFrame(
        {
            c: (
                hh[c].astype("string")
                if c in hh.columns
                else pd.Series(pd.NA, index=hh.index, dtype="string")
            )
            for c in IDENTITY_COLUMNS
        }
    )
    out["rejected_reason"] = pd.Series(pd.NA, index=hh.index, dtype="string")
    # the loader sets aside duplicate and id-less rows (they are in the quarantine); a bundle
    # built otherwise keeps its first row per household
    keep = (~ids.duplicated(keep="first") & ids.notna()).to_numpy(dtype=bool)
    return out.loc[keep]


def _set_aside_households(bundle: Bundle, known: pd.Series) -> pd.DataFrame | None:
    """Households found only in the quarantine, rejected with the loader's reasons (or None)."""
    q = _quarantine_by_household(bundle)
    if not len(q):
        return None
    only_q = q.loc[~q["household_id"].isin(known.to_numpy())]
    if not len(only_q):
        return None
    only_q = only_q.assign(
        what=only_q["table"].fillna("?")
        + "."
        + only_q["column"].fillna("?")
        + ": "
        + only_q["reason"].fillna("?"),
        own_row=(only_q["table"] == "households").fillna(False),
    )
    # the households row's own problem explains the rest ("its household was set aside")
    has_own = only_q.groupby("household_id", sort=False)["own_row"].transform("any")
    only_q = only_q.loc[only_q["own_row"] | ~has_own]
    reasons = only_q.groupby("household_id", sort=False)["what"].agg(
        lambda s: "; ".join(dict.fromkeys(s))
    )
    extra = _no_identity(len(reasons))
    extra["household_id"] = pd.array(reasons.index.to_numpy(), dtype="string")
    extra["rejected_reason"] = pd.array(
        ("set aside by the loader: " + reasons.astype(str)).to_numpy(), dtype="string"
    )
    return extra


def _orphan_households(bundle: Bundle, known: pd.Series) -> pd.DataFrame | None:
    """Households with rows in other tables but no households row (nor quarantine), or None."""
    orphans: dict[str, list[str]] = {}
    known_ids = arrow_ids(known)
    for name, table in bundle.tables.items():
        if name == "households" or "household_id" not in table.columns or len(table) == 0:
            continue
        tid = arrow_ids(table["household_id"])
        alien = ~ids_in(tid, known_ids) & ~tid.is_null().to_numpy(zero_copy_only=False)
        if not alien.any():
            continue
        unknown = pd.unique(tid.filter(pa.array(alien)).to_numpy(zero_copy_only=False))
        for hid in unknown:
            orphans.setdefault(str(hid), []).append(name)
    if not orphans:
        return None
    extra = _no_identity(len(orphans))
    extra["household_id"] = pd.array(list(orphans), dtype="string")
    extra["rejected_reason"] = pd.array(
        [f"no row in the households table (rows in {', '.join(v)})" for v in orphans.values()],
        dtype="string",
    )
    return extra


def household_universe(bundle: Bundle) -> pd.DataFrame:
    """Every household the bundle accounts for, with its place and, if any, why it is rejected.

    The universe is the ``households`` table plus every household id that appears only in the
    quarantine (its households row, or all its rows, were set aside by the loader). Columns:
    :data:`IDENTITY_COLUMNS` and ``rejected_reason`` (``<NA>`` for households that can be scored).

    A household whose ``households`` row was quarantined is rejected with the loader's reason; a
    household with rows set aside in other tables is still scored on what remains, and the
    quarantine is reported in the run summary.
    """
    out = _roster_households(bundle)
    set_aside = _set_aside_households(bundle, out["household_id"])
    if set_aside is not None:
        out = pd.concat([out, set_aside], ignore_index=True)
    orphans = _orphan_households(bundle, out["household_id"])
    if orphans is not None:
        out = pd.concat([out, orphans], ignore_index=True)
    for c in IDENTITY_COLUMNS:
        out[c] = out[c].astype("string")
    out["rejected_reason"] = out["rejected_reason"].astype("string")
    return out.reset_index(drop=True)


def stable_sample_mask(household_id: pd.Series, fraction: float) -> np.ndarray:
    """A deterministic pseudo-random sample of households (same on every engine and run)."""
    if fraction >= 1:
        return np.ones(len(household_id), dtype=bool)
    h = pd.util.hash_pandas_object(
        household_id.astype("string").fillna(""), index=False, hash_key=_SAMPLE_KEY
    )
    return (h.to_numpy() % np.uint64(1_000_000)) < np.uint64(round(fraction * 1_000_000))


# ---------------------------------------------------------------------------------------------
# the stages


def _pairs(ids: pd.Series, as_of: dt.date) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "household_id": pd.array(ids.to_numpy(), dtype="string"),
            "as_of": pd.Series(pd.Timestamp(as_of), index=range(len(ids))).astype("datetime64[ns]"),
        }
    )


def _monitoring_detail(status: pd.DataFrame) -> pd.Series:
    identified = pd.to_datetime(status["identified_on"]).dt.strftime("%Y-%m-%d").fillna("?")
    category = status["category"].astype("string").fillna("?")
    zh = category.map(MONITORING_CATEGORY_ZH).fillna(category)
    return (
        "监测对象（"
        + zh
        + "），"
        + identified
        + " 识别 / under monitoring since "
        + identified
        + " ("
        + category
        + ")"
    ).astype("string")


def compute_features(
    bundle: Bundle, pairs: pd.DataFrame, model: Any, context: pd.DataFrame | None
) -> pd.DataFrame:
    """The model's features for ``pairs`` (the feature stage, with the roster-wide village context)."""
    if context is not None and "village_code" in context.columns:
        # only the villages of these households (the engine wants one row per village it knows,
        # and it may restrict the bundle to the households of ``pairs``)
        hh = bundle.households
        mine = ids_in(hh["household_id"], pairs["household_id"])
        here = hh.loc[mine, "village_code"].astype("object").dropna().unique()
        context = context.loc[context["village_code"].astype("object").isin(here)].reset_index(
            drop=True
        )
    return features.compute_features(
        bundle, pairs, model.feature_set, village_table=context, facts=True
    )


def fact_names(model: Any) -> list[str]:
    """The fact fields (income year, monitoring line ...) computed beside the model's features."""
    return [f.name for f in getattr(model.feature_set, "facts", ())]


def check_signature(X: pd.DataFrame, model: Any) -> None:
    """Refuse a feature frame that does not match the model's input signature."""
    try:
        model.check_input(X)
    except Exception as exc:  # the model's own check names missing / mistyped columns
        meta = getattr(model, "metadata", {}) or {}
        raise SignatureMismatchError(
            f"The roster does not match the signature of model {meta.get('name', '?')} "
            f"v{meta.get('version', '?')} (feature set {meta.get('feature_set', '?')}): {exc} "
            "Score the roster with a model trained on the same feature set and catalog version, "
            "or map the roster's columns onto the data contract first."
        ) from exc


def _unseen_categories(X: pd.DataFrame, model: Any) -> pd.Series:
    """Per row: '<feature>=<value>' for categorical values the model never saw (empty if none)."""
    reasons = pd.Series("", index=X.index, dtype=object)
    cats = getattr(model, "categories", {}) or {}
    schema = getattr(model, "input_schema", {}) or {}
    for name, kind in schema.items():
        known = cats.get(name)
        if kind != "string" or not known or name not in X.columns:
            continue
        col = X[name].astype("object")
        bad = col.notna() & ~col.isin(list(known))
        if bad.any():
            reasons[bad] = (
                reasons[bad]
                + np.where(reasons[bad] == "", "", "; ")
                + name
                + "="
                + col[bad].astype(str)
            )
    return reasons


def _missing_share(X: pd.DataFrame, names: list[str]) -> np.ndarray:
    if not names:
        return np.zeros(len(X))
    return X[names].isna().to_numpy().mean(axis=1)


def _explain(
    model: Any,
    X_prepared: pd.DataFrame,
    X_raw: pd.DataFrame,
    config: ScoringConfig,
    mode: str,
    cache: dict[str, Any],
    *,
    facts: pd.DataFrame | None = None,
    as_of: Any = None,
    in_place: list[frozenset[str]] | None = None,
) -> pd.DataFrame:
    """Reason columns (``reason_{k}_{field}``) for the rows of ``X_prepared``.

    TreeSHAP runs on the matrix the booster was trained on (categories as codes); the explainer
    is kept per process so decision patterns seen in one chunk are reused in the next.
    """
    from riskml import explain

    booster = model.booster
    method = config.explain.method
    # keep the booster itself, not its id(): an id can be reused once a model is garbage-collected
    if cache.get("booster") is not booster or cache.get("method") != method:
        cache.clear()
        cache["booster"] = booster
        cache["method"] = method
        cache["explainer"] = explain.make_explainer(booster, method)
    explainer = cache["explainer"]
    matrix = model.encode(X_raw) if hasattr(model, "encode") else model.model.encode(X_prepared)
    contrib = explainer.shap_values(matrix)
    values = X_raw if facts is None or facts.shape[1] == 0 else pd.concat([X_raw, facts], axis=1)
    return explain.reason_codes(
        contrib,
        values,
        model.feature_set.features,
        max_reasons=config.explain.max_reasons,
        mode=mode,  # type: ignore[arg-type]
        as_of=as_of,
        in_place=in_place,
    )


_EXPLAINERS: dict[str, Any] = {}


def score_partition(
    bundle: Bundle,
    as_of: dt.date,
    model: Any,
    context: pd.DataFrame | None,
    config: ScoringConfig,
    *,
    explain: ExplainSelection = ExplainSelection(),
    drift_fraction: float = 0.0,
    universe: pd.DataFrame | None = None,
    reason_mode: str = "internal",
) -> PartitionResult:
    """Score every household of ``bundle`` as of ``as_of``.

    Parameters
    ----------
    bundle : Bundle
        A contract bundle holding a subset of the roster (all rows of its households).
    as_of : date
        The scoring date; features use only what was recorded on or before it.
    model : RiskModel
        From :func:`riskml.tracking.load_risk_model`.
    context : DataFrame or None
        The roster-wide village context table (:func:`riskml.features.village_context`),
        computed once over the whole roster and passed to every partition.
    config : ScoringConfig
    explain : ExplainSelection
        Which scored households get reasons.
    drift_fraction : float
        Share of households (stable hash sample) whose features are returned for PSI.
    universe : DataFrame, optional
        This partition's rows of :func:`household_universe` (computed from ``bundle`` if omitted).
    reason_mode : {"internal", "public"}
        ``public`` fills only the public reason texts and public measures
        (:func:`riskml.explain.reason_codes` in public mode).

    Returns
    -------
    PartitionResult
        ``scores`` has one row per household of the universe and :data:`PARTITION_COLUMNS`;
        ``status`` is ``scored``, ``not_eligible`` (under monitoring at ``as_of``) or
        ``rejected`` (with the reason in ``status_detail``).

    Raises
    ------
    SignatureMismatchError
        The computed features do not match the model's signature (the whole run is refused).
    """
    started = time.perf_counter()
    uni = household_universe(bundle) if universe is None else universe.reset_index(drop=True)
    feature_names = list(getattr(model, "input_schema", None) or model.feature_names)
    p = _Partition(
        bundle, as_of, model, context, config, uni, _blank_output(uni), feature_names, started
    )
    drift = _score_households(p, explain, drift_fraction, reason_mode)
    return PartitionResult(p.out[list(PARTITION_COLUMNS)], drift, p.timings)


@dataclass
class _Partition:
    """One partition being scored: its inputs, and the output rows and timings filled step by step."""

    bundle: Bundle
    as_of: dt.date
    model: Any
    context: pd.DataFrame | None
    config: ScoringConfig
    uni: pd.DataFrame
    out: pd.DataFrame
    feature_names: list[str]
    started: float
    timings: dict[str, float] = field(default_factory=dict)


def _score_households(
    p: _Partition, explain: ExplainSelection, drift_fraction: float, reason_mode: str
) -> pd.DataFrame:
    """Steps 1 to 3 (status, features, unscorable), then scores and reasons for the rest.

    Returns the drift sample's prepared features (no rows when nothing was sampled).
    """
    drift = pd.DataFrame(columns=p.feature_names)
    candidates = p.uni["rejected_reason"].isna().to_numpy(dtype=bool)
    if not candidates.any():
        return drift

    # 1. under monitoring at as_of -> not eligible
    cand_idx = np.flatnonzero(candidates)
    pairs = _pairs(p.uni["household_id"].iloc[cand_idx], p.as_of)
    monitored = _mark_not_eligible(p.out, p.bundle, pairs, cand_idx)
    eligible_idx = cand_idx[~monitored]
    p.timings["status"] = time.perf_counter() - p.started
    if len(eligible_idx) == 0:
        return drift

    # 2. features, checked against the model's signature
    t1 = time.perf_counter()
    X, F = _features_and_facts(
        p.bundle, pairs.iloc[np.flatnonzero(~monitored)].reset_index(drop=True), p.model, p.context
    )
    p.timings["features"] = time.perf_counter() - t1

    # 3. households the model cannot score (too sparse; unseen categories, per config)
    ok, has_unseen, unseen = _reject_unscorable(
        p.out, X, p.model, p.config, p.feature_names, eligible_idx
    )
    if len(eligible_idx[ok]) == 0:
        return drift
    return _score_and_explain(
        p, X, F, ok, eligible_idx, has_unseen, unseen, drift, explain, drift_fraction, reason_mode
    )


def _score_and_explain(
    p: _Partition,
    X: pd.DataFrame,
    F: pd.DataFrame,
    ok: np.ndarray,
    eligible_idx: np.ndarray,
    has_unseen: np.ndarray,
    unseen: pd.Series,
    drift: pd.DataFrame,
    explain: ExplainSelection,
    drift_fraction: float,
    reason_mode: str,
) -> pd.DataFrame:
    """Steps 4 and 5: scores of the scorable households, the drift sample, then reasons."""
    ok_idx = eligible_idx[ok]
    Xok = X.loc[ok].reset_index(drop=True)
    Fok = F.loc[ok].reset_index(drop=True)

    # 4. raw and calibrated scores
    t2 = time.perf_counter()
    prob = _write_scores(p.out, p.model, Xok, ok_idx)
    p.timings["score"] = time.perf_counter() - t2
    noted = has_unseen & ok
    if noted.any():
        p.out.loc[eligible_idx[noted], "status_detail"] = (
            "scored with value(s) never seen in training treated as missing: " + unseen[noted]
        ).to_numpy()

    ids_ok = p.uni["household_id"].iloc[ok_idx].reset_index(drop=True)
    if drift_fraction > 0:
        smp = stable_sample_mask(ids_ok, drift_fraction)
        p.out.loc[ok_idx[smp], "drift_sample"] = True
        drift = p.model.prepare(Xok.loc[smp]).reset_index(drop=True) if smp.any() else drift
        if smp.any() and DRIFT_GROUP not in drift.columns:  # rare events are compared by county
            drift[DRIFT_GROUP] = p.uni[DRIFT_GROUP].iloc[ok_idx[smp]].astype("string").to_numpy()

    # 5. reasons
    sel = explain.mask(ids_ok, prob) if not explain.none else np.zeros(len(prob), dtype=bool)
    if sel.any():
        t3 = time.perf_counter()
        _write_reasons(
            p.out, p.bundle, p.as_of, p.model, p.config, reason_mode, Xok, Fok, ids_ok, ok_idx, sel
        )
        p.timings["explain"] = time.perf_counter() - t3
    p.timings["total"] = time.perf_counter() - p.started
    return drift


def _blank_output(uni: pd.DataFrame) -> pd.DataFrame:
    """One row per household of the universe: rejected (with the reason) until scored."""
    n = len(uni)
    dtypes = score_dtypes()
    blank = {d: null_column(n, d) for d in ("string", "float64")}  # copied into each column
    empty = [
        *(reason_column(k, f) for k in range(1, MAX_REASONS + 1) for f in REASON_FIELDS),
        *EXPLANATION_COLUMNS,
    ]
    columns: dict[str, Any] = {c: uni[c].astype("string") for c in IDENTITY_COLUMNS}
    columns["status"] = pd.arrays.StringArray(np.full(n, "rejected", dtype=object))
    columns["status_detail"] = uni["rejected_reason"].astype("string")
    columns["score"] = np.full(n, np.nan)
    columns["raw_score"] = np.full(n, np.nan)
    columns.update({c: blank[dtypes[c]].copy() for c in empty})
    columns["explained"] = np.zeros(n, dtype=bool)
    columns["drift_sample"] = np.zeros(n, dtype=bool)
    return pd.DataFrame(columns, index=uni.index)


def _mark_not_eligible(
    out: pd.DataFrame, bundle: Bundle, pairs: pd.DataFrame, cand_idx: np.ndarray
) -> np.ndarray:
    """Mark households under monitoring at the as-of date not eligible; return that mask."""
    status = features.monitoring_status(bundle, pairs)
    monitored = status["under_monitoring"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    if monitored.any():
        idx = cand_idx[monitored]
        out.loc[idx, "status"] = "not_eligible"
        out.loc[idx, "status_detail"] = _monitoring_detail(status.loc[monitored]).to_numpy()
    return monitored


def _features_and_facts(
    bundle: Bundle, pairs: pd.DataFrame, model: Any, context: pd.DataFrame | None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(the model's features, checked against its signature; the fact fields beside them)."""
    X = compute_features(bundle, pairs, model, context)
    facts_cols = [c for c in fact_names(model) if c in X.columns]
    F = X[facts_cols].reset_index(drop=True)
    X = X.drop(columns=facts_cols)
    check_signature(X, model)
    return X.reset_index(drop=True), F


def _reject_unscorable(
    out: pd.DataFrame,
    X: pd.DataFrame,
    model: Any,
    config: ScoringConfig,
    feature_names: list[str],
    eligible_idx: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, pd.Series]:
    """Reject households with too many features missing, or categorical values never seen in
    training (when the config says so); return (scorable, has unseen values, which values)."""
    unseen = _unseen_categories(X, model)
    has_unseen = (unseen != "").to_numpy(dtype=bool)
    share = _missing_share(X, feature_names)
    too_sparse = share >= config.reject.missing_feature_share - 1e-12
    bad_unseen = has_unseen & (config.reject.unseen_categories == "reject")
    if bad_unseen.any():
        idx = eligible_idx[bad_unseen]
        out.loc[idx, "status_detail"] = (
            "not in the model's world: value(s) never seen in training: " + unseen[bad_unseen]
        ).to_numpy()
    sparse_only = too_sparse & ~bad_unseen
    if sparse_only.any():
        idx = eligible_idx[sparse_only]
        out.loc[idx, "status_detail"] = [
            f"features missing: {round(s * len(feature_names))} of {len(feature_names)}"
            for s in share[sparse_only]
        ]
    return ~(bad_unseen | too_sparse), has_unseen, unseen


def _write_scores(
    out: pd.DataFrame, model: Any, Xok: pd.DataFrame, ok_idx: np.ndarray
) -> np.ndarray:
    """Raw and calibrated scores of the scorable households; return the calibrated ones."""
    raw = np.asarray(model.raw_score(Xok), dtype=float)
    prob = np.asarray(model.calibrate(raw), dtype=float)
    out.loc[ok_idx, "status"] = "scored"
    out.loc[ok_idx, "status_detail"] = pd.NA
    out.loc[ok_idx, "raw_score"] = raw
    out.loc[ok_idx, "score"] = prob
    return prob


def _write_reasons(
    out: pd.DataFrame,
    bundle: Bundle,
    as_of: dt.date,
    model: Any,
    config: ScoringConfig,
    reason_mode: str,
    Xok: pd.DataFrame,
    Fok: pd.DataFrame,
    ids_ok: pd.Series,
    ok_idx: np.ndarray,
    sel: np.ndarray,
) -> None:
    """Reasons for the selected scored households, into their rows of ``out``."""
    X_sel = Xok.loc[sel].reset_index(drop=True)
    sel_pairs = pd.DataFrame(
        {"household_id": ids_ok[sel].to_numpy(dtype=object), "as_of": pd.Timestamp(as_of)}
    )
    reasons = _explain(
        model,
        model.prepare(X_sel),
        X_sel,
        config,
        reason_mode,
        _EXPLAINERS,
        facts=Fok.loc[sel].reset_index(drop=True),
        as_of=as_of,
        in_place=features.assistance_in_place(bundle, sel_pairs),
    )
    idx = ok_idx[sel]
    for c in reasons.columns:
        if c in out.columns:
            out.loc[idx, c] = reasons[c].to_numpy()
    out.loc[idx, "explained"] = True
