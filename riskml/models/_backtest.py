"""Rolling-origin temporal backtest of the model against the baselines, and the final fit.

Folds step back from the latest labelled as-of date, one test period each. A fold's model (and
every fitted baseline) sees only rows whose ``as_of + gap`` (gap >= the label horizon) is on or
before the fold's first test date: each training label was already known when the model would
have been trained, and no household's future leaks into training. Every method is scored on the
same test rows; pooled metrics are computed on all folds' out-of-fold rows together.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pandas as pd

from riskml.config.rules import RulesConfig, load_rules_config
from riskml.config.training import TrainingConfig
from riskml.models._baselines import RuleBaseline, ScorecardBaseline
from riskml.models._calibration import (
    CANDIDATES,
    calibration_log_loss,
    fit_calibration,
    fit_level_shift,
)
from riskml.models._estimator import ProtectedAttributeError, RecurrenceRiskModel, _months_later
from riskml.models._fairness import fairness_gaps, fairness_table
from riskml.models._metrics import METRIC_ORDER as _METRIC_ORDER
from riskml.models._metrics import (
    _group_codes,
    _k_per_group,
    _select_top_k,
    brier,
    expected_calibration_error,
    largest_tie_share,
    pr_auc,
    roc_auc,
    top_decile_calibration,
)
from riskml.models._risktypes import recall_by_risk_type

__all__ = [
    "METHODS",
    "BacktestResult",
    "Fold",
    "TrainingSetLike",
    "backtest",
    "fit_final_model",
    "model_from_config",
    "temporal_folds",
]

METHODS = ("model", "rules", "persistence", "scorecard", "oracle")
"""Methods of a backtest, in table order (``oracle`` only with ground truth)."""

COMPARED_CALIBRATORS = (*CANDIDATES, "isotonic_step")
"""Calibrators every fold also fits on its model's out-of-fold raw scores, for the comparison
table (``isotonic_step``: the step-wise pooled isotonic map riskml used before, with plateaus)."""

POOLED_LEVEL = "chosen, pooled level"
"""Comparison row: the model's own calibrator with one level over every cross-fitting block
(``calibration_level: pooled``, what riskml did before), beside the latest block's level."""

log = logging.getLogger(__name__)


class TrainingSetLike(Protocol):
    """What :func:`backtest` needs of ``riskml.features.TrainingSet``."""

    frame: pd.DataFrame
    feature_names: Sequence[str]
    audit_columns: Sequence[str]
    metadata: Mapping[str, Any]


@dataclass(frozen=True)
class Fold:
    """One rolling-origin fold: boolean row masks over the frame it was cut from."""

    index: int
    """1-based, oldest first."""
    test_start: pd.Timestamp
    """First as-of date in the test window (training rows satisfy as_of + gap <= test_start)."""
    test_end: pd.Timestamp
    window_start: pd.Timestamp
    """The test window is (window_start, window_end]."""
    window_end: pd.Timestamp
    train: np.ndarray
    test: np.ndarray


def temporal_folds(
    as_of: Any,
    *,
    n_folds: int,
    test_period_months: int,
    gap_months: int,
    train_window_months: int | None = None,
) -> list[Fold]:
    """Rolling-origin folds over as-of dates.

    Fold ``i`` (of ``n``) tests on the as-of dates in ``(E - (n-i+1) P, E - (n-i) P]`` where
    ``E`` is the latest date and ``P`` the test period; it trains on rows with
    ``as_of + gap_months <= test_start`` (its first test date), and, with
    ``train_window_months``, ``as_of + train_window_months > test_start``. A window without
    dates gives a fold with an empty test mask.
    """
    dates = pd.to_datetime(pd.Series(as_of)).to_numpy()
    if len(dates) == 0:
        return []
    if pd.isna(dates).any():
        raise ValueError(
            f"as_of holds {int(pd.isna(dates).sum())} missing dates; every row needs one."
        )
    latest = pd.Timestamp(dates.max())
    plus_gap = _months_later(dates, gap_months)
    plus_window = _months_later(dates, train_window_months) if train_window_months else None
    folds = []
    for i in range(1, n_folds + 1):
        back = n_folds - i
        hi = latest - pd.DateOffset(months=back * test_period_months)
        lo = latest - pd.DateOffset(months=(back + 1) * test_period_months)
        test = (dates > np.datetime64(lo)) & (dates <= np.datetime64(hi))
        if test.any():
            start = dates[test].min()
            end = dates[test].max()
        else:
            start = end = np.datetime64(hi)
        train = plus_gap <= start
        if plus_window is not None:
            train &= plus_window > start
        folds.append(
            Fold(
                index=i,
                test_start=pd.Timestamp(start),
                test_end=pd.Timestamp(end),
                window_start=pd.Timestamp(lo),
                window_end=pd.Timestamp(hi),
                train=train,
                test=test,
            )
        )
    return folds


def model_from_config(config: TrainingConfig) -> RecurrenceRiskModel:
    """An unfitted :class:`RecurrenceRiskModel` with the config's parameters and seed.

    ``model.purge_months: null`` becomes the label horizon (``horizon_months``).
    """
    params = config.model.model_dump()
    if params["purge_months"] is None:
        params["purge_months"] = config.horizon_months
    if isinstance(params.get("class_weight"), dict):
        params["class_weight"] = dict(params["class_weight"])
    return RecurrenceRiskModel(
        **params, protected_attributes=tuple(config.protected_attributes), random_state=config.seed
    )


def _labelled_rows(
    training_set: TrainingSetLike, config: TrainingConfig
) -> tuple[pd.DataFrame, list[str], int]:
    frame = training_set.frame
    features = [str(f) for f in training_set.feature_names]
    label = config.label_column
    needed = ["household_id", "as_of", label, *features]
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise ValueError(
            f"The training set frame lacks column(s) {missing[:10]}; build it with "
            "riskml.features.build_training_set (it provides household_id, as_of, the labels and the features)."
        )
    if not features:
        raise ValueError("The training set has no feature columns (feature_names is empty).")
    protected = model_from_config(config).protected_columns(features)
    if protected:
        raise ProtectedAttributeError(
            f"The training set's features include protected attribute(s) {protected}; they are for the "
            "fairness audit only. Remove them from the feature set (features/feature_sets.yaml)."
        )
    horizon = training_set.metadata.get("horizon_months") if training_set.metadata else None
    if horizon is not None and int(horizon) != config.horizon_months:
        raise ValueError(
            f"The training set was built with horizon_months={horizon} but the config says "
            f"{config.horizon_months}; the backtest gap must cover the real horizon. Align them."
        )
    labelled = frame[label].notna().to_numpy()
    n_unlabelled = int((~labelled).sum())
    if not labelled.any():
        raise ValueError(
            f"No row of the training set has a '{label}' label ({len(frame)} rows, all unlabelled): the "
            "as-of range has no closed label window before the extraction date. Use earlier as-of dates."
        )
    data = frame.loc[labelled].reset_index(drop=True)
    values = data[label].to_numpy(dtype=np.float64)
    bad = ~np.isin(values, (0.0, 1.0))
    if bad.any():
        raise ValueError(
            f"Column '{label}' must hold 0/1 labels; found {np.unique(values[bad])[:5].tolist()}."
        )
    return data, features, n_unlabelled


def _check_classes(y: np.ndarray, what: str) -> None:
    if len(y) == 0:
        raise ValueError(f"The {what} is empty: no labelled rows.")
    if y.min() == y.max():
        raise ValueError(
            f"The {what} holds only {'positives' if y[0] else 'negatives'} ({len(y)} rows); a risk model "
            "needs both. Widen the as-of range or check the label definition."
        )


def fit_final_model(training_set: TrainingSetLike, config: TrainingConfig) -> RecurrenceRiskModel:
    """Fit the production model on every labelled row (time slices by ``as_of``).

    Unlabelled (censored) rows are left out. The booster trains on the earliest rows, stops
    early on a later slice and is calibrated on the latest one (see :class:`RecurrenceRiskModel`).
    """
    data, features, _ = _labelled_rows(training_set, config)
    y = data[config.label_column].to_numpy(dtype=np.float64)
    _check_classes(y, "training set")
    return model_from_config(config).fit(data[features], y.astype(np.int64), as_of=data["as_of"])


@dataclass
class BacktestResult:
    """Out-of-fold predictions and metrics of the model and every baseline.

    Attributes
    ----------
    metrics : DataFrame
        Tidy: ``fold`` ("1", "2", ... or "pooled"), ``method``, ``metric``, ``value``.
    predictions : DataFrame
        Out-of-fold rows: ``household_id``, ``as_of``, ``fold``, ``label``, context and audit
        columns, and per method ``score_<method>`` (probability) and ``rank_<method>`` (the key
        households are ranked by; for the model the raw log-odds, which order households as the
        calibrated probability does but without isotonic ties).
    fairness : DataFrame
        Per method, audit group and level (see ``riskml.models._fairness.FAIRNESS_COLUMNS``).
    folds : DataFrame
        One row per fold: test window, rows, training as-of range, trees, calibrator chosen,
        status and reason if skipped.
    calibration : DataFrame
        Pooled out-of-fold figures of every calibrator in :data:`COMPARED_CALIBRATORS`, each
        fitted in every fold on that fold model's own out-of-fold raw scores (the model's
        choice is one of them): log-loss, Brier, ECE, calibration within the top decile, and
        the largest share of flagged households sharing one score.
    top_decile : DataFrame
        Calibration by decile within the top 10 % (per as-of date, by the model's raw score),
        ``before`` (step isotonic) and ``after`` (the model's chosen calibrator).
    risk_types : DataFrame or None
        Recall at capacity by recorded risk type (``risk_1`` of the identification the label
        counts), per method, with counts; None when no risk types were given.
    """

    metrics: pd.DataFrame
    predictions: pd.DataFrame
    fairness: pd.DataFrame
    folds: pd.DataFrame
    capacity: str
    methods: tuple[str, ...]
    min_group_size: int = 200
    min_positives: int = 30
    info: dict[str, Any] = field(default_factory=dict)
    calibration: pd.DataFrame = field(default_factory=pd.DataFrame)
    top_decile: pd.DataFrame = field(default_factory=pd.DataFrame)
    risk_types: pd.DataFrame | None = None

    def table(self) -> pd.DataFrame:
        """Pooled metrics: methods as rows, metrics as columns, plus comparison ratios.

        ``recall_at_capacity_vs_rules``: recall at cadre capacity over the rules' recall at the
        same capacity. ``recall_at_rules_count_vs_rules``: recall when flagging as many
        households per as-of date as the rules flag, over the rules' own recall.
        ``auc_vs_oracle``: ROC-AUC over the oracle's (NaN without ground truth).
        """
        pooled = self.metrics[self.metrics["fold"] == "pooled"]
        wide = pooled.pivot(index="method", columns="metric", values="value")
        wide = wide.reindex(index=[m for m in self.methods if m in wide.index])
        wide = wide[[m for m in _METRIC_ORDER if m in wide.columns]]
        rules = wide.loc["rules"] if "rules" in wide.index else None
        wide["recall_at_capacity_vs_rules"] = (
            wide["recall_at_capacity"] / rules["recall_at_capacity"]
            if rules is not None
            else np.nan
        )
        wide["recall_at_rules_count_vs_rules"] = (
            wide["recall_at_rules_count"] / rules["recall_at_rules_count"]
            if rules is not None
            else np.nan
        )
        wide["auc_vs_oracle"] = (
            wide["roc_auc"] / wide.loc["oracle", "roc_auc"] if "oracle" in wide.index else np.nan
        )
        wide.columns.name = None
        return wide

    def fold_table(self, metric: str = "roc_auc") -> pd.DataFrame:
        """One metric per fold (rows) and method (columns), with the pooled value last."""
        part = self.metrics[self.metrics["metric"] == metric]
        wide = part.pivot(index="fold", columns="method", values="value")
        order = [*sorted((f for f in wide.index if f != "pooled"), key=int), "pooled"]
        wide = wide.reindex(index=order, columns=[m for m in self.methods if m in wide.columns])
        wide.columns.name = None
        return wide

    def fairness_gaps(self, method: str | None = "model") -> pd.DataFrame:
        """The largest gap between levels of each audit group (recall, FPR, calibration).

        ``method=None`` gives every method's gaps.
        """
        table = (
            self.fairness if method is None else self.fairness[self.fairness["method"] == method]
        )
        return fairness_gaps(
            table, min_group_size=self.min_group_size, min_positives=self.min_positives
        )

    def to_markdown(self) -> str:
        """A report: folds, the pooled comparison table, per-fold AUC and recall, fairness."""
        lines = ["# Temporal backtest", ""]
        lines.append(
            f"Label `{self.info.get('label')}`, horizon {self.info.get('horizon_months')} months, gap "
            f"{self.info.get('gap_months')} months; capacity: {self.capacity}. "
            f"{self.info.get('labelled_rows', 0):,} labelled rows"
            f" ({self.info.get('unlabelled_rows', 0):,} unlabelled rows left out)."
        )
        lines += ["", "## Folds", "", _markdown(self.folds), ""]
        skipped = self.folds[self.folds["status"] != "ok"] if "status" in self.folds else []
        if len(skipped):
            lines += [
                f"**{len(skipped)} fold(s) skipped:** "
                + "; ".join(f"fold {r.fold}: {r.reason}" for r in skipped.itertuples()),
                "",
            ]
        lines += ["## Pooled out-of-fold metrics", "", _markdown(self.table(), index=True), ""]
        if self.risk_types is not None and len(self.risk_types):
            lines += [
                "## Recall at capacity by recorded risk type",
                "",
                "Positives by `risk_1` of the identification the label counts; flagged = "
                "(expected) number of them within capacity.",
                "",
                _markdown(self.risk_types, index=True),
                "",
            ]
        if len(self.calibration):
            chosen = ", ".join(
                f"fold {r.fold}: {r.calibration}"
                for r in self.folds.itertuples()
                if getattr(r, "status", "ok") == "ok"
            )
            lines += [
                "## Calibrators compared (out of time)",
                "",
                "Each fold fits every calibrator on its model's out-of-fold raw scores (temporal "
                "cross-fitting inside the fold's training rows) and is scored on the fold's test "
                f"rows. The model chose: {chosen}. `isotonic_step` is the step-wise isotonic map "
                "used before (plateaus).",
                "",
                _markdown(self.calibration, index=True),
                "",
            ]
        if len(self.top_decile):
            lines += [
                "## Calibration within the top 10 % (by decile)",
                "",
                "Top 10 % of each as-of date by the model's raw score, pooled, cut into ten "
                "bins (1 = highest); observed rate with a 95 % Wilson interval.",
                "",
                _markdown(self.top_decile),
                "",
            ]
        for metric in ("roc_auc", "recall_at_capacity"):
            lines += [
                f"## {metric} by fold",
                "",
                _markdown(self.fold_table(metric), index=True),
                "",
            ]
        gaps = self.fairness_gaps("model")
        lines += ["## Fairness: largest gaps (model)", ""]
        lines.append(
            f"Levels with at least {self.min_group_size} rows (and {self.min_positives} positives for "
            "recall, negatives for FPR) are compared."
        )
        lines += ["", _markdown(gaps) if len(gaps) else "_No group has two comparable levels._", ""]
        model_fair = self.fairness[self.fairness["method"] == "model"]
        lines += [
            "## Fairness by group (model)",
            "",
            _markdown(model_fair.drop(columns="method")),
            "",
        ]
        return "\n".join(lines)


def _fmt(v: Any) -> str:
    if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
        return f"{int(v):,}"
    if isinstance(v, (float, np.floating)):
        if np.isnan(v):
            return ""
        if float(v).is_integer() and abs(v) >= 1000:
            return f"{int(v):,}"
        return f"{v:.4g}" if abs(v) < 1000 else f"{v:,.0f}"
    if isinstance(v, pd.Timestamp):
        return str(v.date())
    return str(v)


def _markdown(df: pd.DataFrame, *, index: bool = False) -> str:
    frame = df.reset_index() if index else df
    header = "| " + " | ".join(str(c) for c in frame.columns) + " |"
    sep = "|" + "|".join("---" for _ in frame.columns) + "|"
    body = ["| " + " | ".join(_fmt(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([header, sep, *body])


def _metrics_for(
    y: np.ndarray,
    prob: np.ndarray,
    rank: np.ndarray,
    capacity_codes: np.ndarray,
    capacity_k: np.ndarray,
    date_codes: np.ndarray,
    rules_k: np.ndarray,
) -> tuple[dict[str, float], np.ndarray]:
    sel = _select_top_k(rank, capacity_codes, capacity_k)
    sel_rules = _select_top_k(rank, date_codes, rules_k)
    positives = float(y.sum())
    out = {
        "n": float(len(y)),
        "positives": positives,
        "base_rate": positives / len(y),
        "roc_auc": roc_auc(y, rank),
        "pr_auc": pr_auc(y, rank),
        "log_loss": calibration_log_loss(y, prob),
        "brier": brier(y, prob),
        "ece": expected_calibration_error(y, prob),
        "tie_share_at_capacity": largest_tie_share(prob, sel),
    }
    for suffix, s in (("capacity", sel), ("rules_count", sel_rules)):
        flags = float(s.sum())
        tp = float(np.dot(s, y))
        out[f"flags_at_{suffix}"] = flags
        out[f"recall_at_{suffix}"] = tp / positives if positives else np.nan
        out[f"precision_at_{suffix}"] = tp / flags if flags else np.nan
        if suffix == "capacity":
            out["lift_at_capacity"] = (
                (tp / flags) / (positives / len(y)) if flags and positives else np.nan
            )
    return out, sel


def backtest(
    training_set: TrainingSetLike,
    config: TrainingConfig,
    *,
    oracle: np.ndarray | None = None,
    rules: RulesConfig | None = None,
    risk_types: np.ndarray | None = None,
    progress: Callable[[str], None] | None = None,
) -> BacktestResult:
    """Rolling-origin backtest of the model, the department rules, persistence and a scorecard.

    Parameters
    ----------
    training_set : TrainingSet
        From ``riskml.features.build_training_set``: ``.frame`` with ``household_id``,
        ``as_of``, the features, ``label`` / ``label_income``, ``village_code`` and the audit
        columns; the rule features (catalog set ``department_rules``) must be columns too.
    config : TrainingConfig
        Model parameters, label, horizon, folds, capacity and fairness settings.
    oracle : array of shape (len(training_set.frame),), optional
        True probabilities (synthetic ground truth) aligned with the frame's rows; adds the
        ``oracle`` method, the ceiling.
    rules : RulesConfig, optional
        Alert rules and persistence; default ``config.rules_config`` or ``configs/rules.yaml``.
    risk_types : array of shape (len(training_set.frame),), optional
        Recorded risk type of each positive row's identification
        (:func:`riskml.models.label_risk_types`); adds recall by risk type.
    progress : callable, optional
        Called with a message for every fold that is skipped, and why (also logged as a
        warning), so that a skipped fold is never silent.

    Returns
    -------
    BacktestResult
        Rows whose label is missing (censored) are left out and counted in ``info``; folds that
        cannot be trained (no training rows, one class, too few as-of dates) are listed in
        ``folds`` with the reason. If no fold can be evaluated, a ``ValueError`` says why.
    """
    run = _prepare_run(training_set, config, oracle, rules, risk_types)
    say = progress or (lambda _: None)
    fold_rows = []
    pred_frames = []
    for fold in temporal_folds(
        run.as_of,
        n_folds=config.backtest.n_folds,
        test_period_months=config.backtest.test_period_months,
        gap_months=config.gap_months,
        train_window_months=config.backtest.train_window_months,
    ):
        info = _fold_info(fold, run)
        fold_rows.append(info)
        part = _run_fold(fold, info, run, say)
        if part is not None:
            pred_frames.append(part)
    if not pred_frames:
        reasons = "; ".join(f"fold {r['fold']}: {r['reason']}" for r in fold_rows) or "no folds"
        raise ValueError(
            f"No backtest fold could be evaluated ({reasons}). Give a longer as-of range, fewer folds or "
            "a shorter test period."
        )
    return _result(run, pd.DataFrame(fold_rows), pd.concat(pred_frames, ignore_index=True))


@dataclass
class _Run:
    """Everything the folds of one backtest share."""

    config: TrainingConfig
    data: pd.DataFrame
    features: list[str]
    n_unlabelled: int
    metadata: dict[str, Any]
    oracle: np.ndarray | None
    risk_types: np.ndarray | None
    rule_model: RuleBaseline
    persistence: RuleBaseline
    methods: tuple[str, ...]
    y: np.ndarray
    as_of: pd.Series
    rule_cols: list[str]
    audit_cols: list[str]
    context_cols: list[str]


def _aligned(values: np.ndarray | None, labelled: np.ndarray, what: str, dtype: Any) -> Any:
    """``values`` (one per training-set row) restricted to the labelled rows."""
    if values is None:
        return None
    values = np.asarray(values, dtype=dtype)
    if values.shape != (len(labelled),):
        noun = "probability" if what == "oracle" else "value"
        raise ValueError(
            f"{what} must hold one {noun} per training-set row ({len(labelled)}); "
            f"got shape {values.shape}."
        )
    values = values[labelled]
    if dtype is np.float64 and np.isnan(values).any():
        raise ValueError(
            f"{what} holds {int(np.isnan(values).sum())} missing probabilities for labelled rows."
        )
    return values


def _prepare_run(
    training_set: TrainingSetLike,
    config: TrainingConfig,
    oracle: np.ndarray | None,
    rules: RulesConfig | None,
    risk_types: np.ndarray | None,
) -> _Run:
    """Check the inputs and gather the labelled rows, baselines and columns the folds use."""
    data, features, n_unlabelled = _labelled_rows(training_set, config)
    labelled = training_set.frame[config.label_column].notna().to_numpy()
    oracle = _aligned(oracle, labelled, "oracle", np.float64)
    risk_types = _aligned(risk_types, labelled, "risk_types", object)
    rules = rules or load_rules_config(config.rules_config)
    rule_model = RuleBaseline(rules.rules, name="rules")
    persistence = RuleBaseline(rules.persistence, name="persistence")
    for baseline in (rule_model, persistence):
        baseline.fired(data.head(0))  # fails early, naming any missing rule feature
    if config.capacity.per_village is not None and "village_code" not in data.columns:
        raise ValueError(
            "capacity.per_village needs a 'village_code' column in the training set frame."
        )
    return _Run(
        config=config,
        data=data,
        features=features,
        n_unlabelled=n_unlabelled,
        metadata=dict(training_set.metadata or {}),
        oracle=oracle,
        risk_types=risk_types,
        rule_model=rule_model,
        persistence=persistence,
        methods=tuple(m for m in METHODS if m != "oracle" or oracle is not None),
        y=data[config.label_column].to_numpy(dtype=np.float64),
        as_of=pd.to_datetime(data["as_of"]),
        rule_cols=list(
            dict.fromkeys([*rule_model.required_features, *persistence.required_features])
        ),
        audit_cols=[c for c in training_set.audit_columns if c in data.columns],
        context_cols=[
            c for c in ("county_code", "township_code", "village_code") if c in data.columns
        ],
    )


def _fold_info(fold: Fold, run: _Run) -> dict[str, Any]:
    """The fold's row of ``BacktestResult.folds`` (filled in as the fold runs)."""
    train_dates = run.as_of[fold.train]
    return {
        "fold": str(fold.index),
        "test_start": fold.test_start,
        "test_end": fold.test_end,
        "test_rows": int(fold.test.sum()),
        "test_positives": int(run.y[fold.test].sum()),
        "train_rows": int(fold.train.sum()),
        "train_as_of_first": train_dates.min() if fold.train.any() else pd.NaT,
        "train_as_of_last": train_dates.max() if fold.train.any() else pd.NaT,
        "train_as_of_dates": int(train_dates.nunique()),
        "best_iteration": np.nan,
        "calibration": "",
        "crossfit": "",
        "fit_seconds": np.nan,
        "status": "ok",
        "reason": "",
    }


def _run_fold(
    fold: Fold, info: dict[str, Any], run: _Run, say: Callable[[str], None]
) -> pd.DataFrame | None:
    """Fit the fold's model and baselines and score its test rows (None: skipped, and said)."""

    def skip(reason: str) -> None:
        info.update(status="skipped", reason=reason)
        message = (
            f"backtest fold {info['fold']} (test {pd.Timestamp(info['test_start']).date()} … "
            f"{pd.Timestamp(info['test_end']).date()}) skipped: {reason}"
        )
        log.warning(message)
        say(message)

    if not fold.test.any():
        skip("no labelled as-of date in the test window")
        return None
    y_tr = run.y[fold.train]
    if len(y_tr) == 0 or y_tr.min() == y_tr.max():
        skip(
            "no training rows before the test start minus the gap"
            if len(y_tr) == 0
            else "training rows hold only one class"
        )
        return None
    model = _fit_fold_model(fold, info, run, skip)
    if model is None:
        return None
    scores, compared = _fold_scores(fold, model, run)
    return _fold_predictions(fold, run, scores, compared)


def _fit_fold_model(
    fold: Fold, info: dict[str, Any], run: _Run, skip: Callable[[str], None]
) -> RecurrenceRiskModel | None:
    started = time.perf_counter()
    try:
        model = model_from_config(run.config).fit(
            run.data.loc[fold.train, run.features],
            run.y[fold.train].astype(np.int64),
            as_of=run.as_of[fold.train],
        )
    except ProtectedAttributeError:
        raise
    except ValueError as exc:
        skip(
            f"its {info['train_as_of_dates']} training as-of date(s) "
            f"({pd.Timestamp(info['train_as_of_first']).date()} … "
            f"{pd.Timestamp(info['train_as_of_last']).date()}) cannot hold the model's "
            f"temporal cross-fitting: {exc}"
        )
        return None
    info["fit_seconds"] = round(time.perf_counter() - started, 2)
    info["best_iteration"] = model.best_iteration_
    info["calibration"] = model.calibrator_.method
    info["crossfit"] = model.training_summary_.get("crossfit", "")
    return model


def _fold_scores(
    fold: Fold, model: RecurrenceRiskModel, run: _Run
) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], dict[str, np.ndarray]]:
    """Per method (probability, ranking key) on the fold's test rows, and the compared
    calibrators' probabilities."""
    X_te = run.data.loc[fold.test, run.features]
    raw = model.predict_raw(X_te)
    scores: dict[str, tuple[np.ndarray, np.ndarray]] = {"model": (model.calibrate(raw), raw)}
    compared = _compared_calibrators(model, raw)
    y_tr = run.y[fold.train]
    rules_tr = run.data.loc[fold.train, run.rule_cols]
    rules_te = run.data.loc[fold.test, run.rule_cols]
    for name, baseline in (("rules", run.rule_model), ("persistence", run.persistence)):
        baseline.fit(rules_tr, y_tr)
        scores[name] = (baseline.predict_proba(rules_te), baseline.score(rules_te))
    card = ScorecardBaseline().fit(run.data.loc[fold.train, run.features], y_tr)
    p_card = card.predict_proba(X_te)
    scores["scorecard"] = (p_card, p_card)
    if run.oracle is not None:
        scores["oracle"] = (run.oracle[fold.test], run.oracle[fold.test])
    return scores, compared


def _compared_calibrators(model: RecurrenceRiskModel, raw: np.ndarray) -> dict[str, np.ndarray]:
    """Every compared calibrator fitted as the model fits its own (same level policy) on the
    model's out-of-fold raw scores, and the model's own method with a pooled level."""
    if model.calibration is None or not len(model.crossfit_y_):
        return {}
    oof = (model.crossfit_raw_, model.crossfit_y_, model.crossfit_block_)
    level_scores = (getattr(model, "level_raw_", np.zeros(0)), getattr(model, "level_y_", ()))
    compared = {}
    for method in COMPARED_CALIBRATORS:
        calibrator = fit_calibration(method, *oof, level="pooled")
        if model.calibration_level == "final_latest" and len(level_scores[1]):
            # the final booster's scores on the latest block, as the model's own level
            calibrator = fit_level_shift(calibrator, level_scores[0], np.asarray(level_scores[1]))
        elif model.calibration_level == "latest_block":
            calibrator = fit_calibration(method, *oof, level="latest_block")
        compared[method] = calibrator.predict(raw)
    if model.calibration_level != "pooled":
        chosen = model.calibrator_.method
        compared[POOLED_LEVEL] = fit_calibration(chosen, *oof, level="pooled").predict(raw)
    return compared


def _fold_predictions(
    fold: Fold,
    run: _Run,
    scores: dict[str, tuple[np.ndarray, np.ndarray]],
    compared: dict[str, np.ndarray],
) -> pd.DataFrame:
    """The fold's rows of ``BacktestResult.predictions``."""
    part = run.data.loc[fold.test, ["household_id", *run.context_cols, *run.audit_cols]].copy()
    part.insert(1, "as_of", run.as_of[fold.test].to_numpy())
    part.insert(2, "fold", str(fold.index))
    part.insert(3, "label", run.y[fold.test].astype(np.int8))
    if run.risk_types is not None:
        part["risk_type"] = run.risk_types[fold.test]
    for name in run.methods:
        part[f"score_{name}"] = scores[name][0]
        part[f"rank_{name}"] = scores[name][1]
    for method, p in compared.items():
        part[f"calibrated_{method}"] = p
    return part


def _result(run: _Run, folds_frame: pd.DataFrame, predictions: pd.DataFrame) -> BacktestResult:
    """Metrics, fairness, calibration and risk-type tables of the pooled out-of-fold rows."""
    config = run.config
    metrics, fairness, selections = _score_predictions(
        predictions, run.methods, config, run.audit_cols
    )
    calibration, top_decile = _calibration_tables(predictions, selections["model"])
    by_type = (
        recall_by_risk_type(
            predictions["risk_type"].to_numpy(dtype=object),
            selections,
            predictions["label"].to_numpy(),
        )
        if "risk_type" in predictions
        else None
    )
    return BacktestResult(
        metrics=metrics,
        predictions=predictions,
        fairness=fairness,
        folds=folds_frame,
        capacity=config.capacity.describe(),
        methods=run.methods,
        min_group_size=config.fairness.min_group_size,
        min_positives=config.fairness.min_positives,
        info={
            "label": config.label,
            "horizon_months": config.horizon_months,
            "gap_months": config.gap_months,
            "labelled_rows": len(run.data),
            "unlabelled_rows": run.n_unlabelled,
            "features": run.features,
            "training_set_metadata": run.metadata,
            "skipped_folds": [
                f"fold {r['fold']}: {r['reason']}"
                for r in folds_frame.to_dict(orient="records")
                if r["status"] != "ok"
            ],
        },
        calibration=calibration,
        top_decile=top_decile,
        risk_types=by_type,
    )


def _calibration_tables(
    predictions: pd.DataFrame, flagged: np.ndarray
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Pooled comparison of the calibrators, and top-decile calibration before and after."""
    columns = [c for c in predictions.columns if c.startswith("calibrated_")]
    if not columns:
        return pd.DataFrame(), pd.DataFrame()
    y = predictions["label"].to_numpy(dtype=np.float64)
    rank = predictions["rank_model"].to_numpy(dtype=np.float64)
    dates = predictions["as_of"]
    rows = {}
    deciles = []
    probs = {
        c.removeprefix("calibrated_"): predictions[c].to_numpy(dtype=np.float64) for c in columns
    }
    probs["model (chosen)"] = predictions["score_model"].to_numpy(dtype=np.float64)
    for name, p in probs.items():
        top = top_decile_calibration(y, p, rank, dates)
        rows[name] = {
            "log_loss": calibration_log_loss(y, p),
            "brier": brier(y, p),
            "ece": expected_calibration_error(y, p),
            "top10_predicted": float(np.average(top["predicted"], weights=top["rows"])),
            "top10_observed": float(np.average(top["observed"], weights=top["rows"])),
            "top10_deciles_in_ci": int(top["in_ci"].sum()),
            "top10_max_gap": float((top["predicted"] - top["observed"]).abs().max()),
            "tie_share_flagged": largest_tie_share(p, flagged),
            "distinct_scores_flagged": float(len(np.unique(p[flagged > 0]))),
            "distinct_raw_flagged": float(len(np.unique(rank[flagged > 0]))),
            "flagged": float((flagged > 0).sum()),
        }
        if name in ("isotonic_step", "model (chosen)"):
            deciles.append(
                top.assign(
                    calibrator="before: isotonic_step"
                    if name == "isotonic_step"
                    else "after: model"
                )
            )
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "calibrator"
    top_decile = pd.concat(deciles, ignore_index=True) if deciles else pd.DataFrame()
    if len(top_decile):
        top_decile = top_decile[
            ["calibrator", *[c for c in top_decile.columns if c != "calibrator"]]
        ]
    return table, top_decile


def _score_predictions(
    predictions: pd.DataFrame,
    methods: tuple[str, ...],
    config: TrainingConfig,
    audit_cols: list[str],
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, np.ndarray]]:
    records = []
    fairness_frames = []
    selections: dict[str, np.ndarray] = {}
    scopes = [(f, predictions["fold"].to_numpy() == f) for f in predictions["fold"].unique()]
    scopes.append(("pooled", np.ones(len(predictions), dtype=bool)))
    cap = config.capacity
    for scope, mask in scopes:
        part = predictions.loc[mask]
        y = part["label"].to_numpy(dtype=np.float64)
        date_codes = _group_codes(part["as_of"], len(part))
        if cap.per_village is not None:
            cap_codes = _group_codes(part[["village_code", "as_of"]], len(part))
            cap_k = _k_per_group(int(cap.per_village), np.bincount(cap_codes))
        else:
            cap_codes = date_codes
            cap_k = _k_per_group(float(cap.share), np.bincount(cap_codes))
        rules_k = np.bincount(
            date_codes, weights=(part["rank_rules"].to_numpy() > 0).astype(np.float64)
        )
        for name in methods:
            prob = part[f"score_{name}"].to_numpy(dtype=np.float64)
            rank = part[f"rank_{name}"].to_numpy(dtype=np.float64)
            values, sel = _metrics_for(y, prob, rank, cap_codes, cap_k, date_codes, rules_k)
            records += [
                {"fold": scope, "method": name, "metric": k, "value": float(v)}
                for k, v in values.items()
            ]
            if scope == "pooled":
                selections[name] = sel
                fairness_frames.append(fairness_table(y, prob, sel, part[audit_cols], method=name))
    metrics = pd.DataFrame.from_records(records, columns=["fold", "method", "metric", "value"])
    fairness = pd.concat(fairness_frames, ignore_index=True) if fairness_frames else pd.DataFrame()
    return metrics, fairness, selections
