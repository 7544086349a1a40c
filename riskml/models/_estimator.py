"""``RecurrenceRiskModel``: LightGBM on every row, with tree count and calibration cross-fitted
over time."""

from __future__ import annotations

import fnmatch
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils import assert_all_finite, check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from riskml import __version__
from riskml.config.training import (
    DEFAULT_HORIZON_MONTHS,
    DEFAULT_PROTECTED_ATTRIBUTES,
    ModelParams,
)
from riskml.models._calibration import (
    Calibrator,
    CalibratorChoice,
    calibrator_from_dict,
    choose_calibrator,
    fit_calibration,
    fit_calibrator,
)
from riskml.models._drift import ReferenceDistribution

__all__ = ["ProtectedAttributeError", "RecurrenceRiskModel", "TimeOrderWarning"]

_FORMAT = "riskml.RecurrenceRiskModel"
_FORMAT_VERSION = 2
_LGB_UNSAFE_NAME = re.compile(r'[",:\[\]{}]')
_P_CLIP = 1e-15
_D = ModelParams()
"""The one source of the estimator's defaults (``configs/training.yaml`` repeats them)."""
_CALIBRATIONS = (None, "auto", "sigmoid", "beta", "isotonic", "isotonic_step")
_LEVELS = ("final_latest", "latest_block", "pooled")


class TimeOrderWarning(UserWarning):
    """``fit`` was called without ``as_of``: row order is taken as time order."""


class ProtectedAttributeError(ValueError):
    """A protected attribute (ethnicity, sex of the head, an audit column) was given as a feature."""


def _months_later(dates: np.ndarray, months: int) -> np.ndarray:
    """``dates + months`` (calendar months), computed once per distinct date."""
    uniq, inverse = np.unique(dates, return_inverse=True)
    shifted = (pd.DatetimeIndex(uniq) + pd.DateOffset(months=int(months))).to_numpy()
    return shifted[inverse]


class RecurrenceRiskModel(ClassifierMixin, BaseEstimator):
    """Risk that a household is identified as a monitoring object within the label horizon.

    A scikit-learn classifier wrapping LightGBM. ``fit`` uses every row, in three steps:

    1. **Temporal cross-fitting.** The latest ``cv_fraction`` of the rows (whole as-of dates) is
       cut into ``cv_folds`` consecutive test blocks. Each block gets a booster trained only on
       earlier rows whose label window has closed by the block's first date
       (``as_of + purge_months``), early-stopped on the block. Their raw scores on their own
       blocks are *out-of-fold*: later than anything their booster saw.
    2. **Tree count and calibrator.** The number of trees is the median of the blocks'
       early-stopping iterations. The out-of-fold raw scores (re-scored at that tree count) fit
       the calibrator; with ``calibration="auto"`` the strictly monotone candidate (Platt, beta,
       or interpolated isotonic) with the lowest out-of-time log-loss is chosen, by forward
       chaining over the blocks (fit on the earlier blocks, score on the next). Its level is
       then refitted on the latest block (``calibration_level``), after step 3.
    3. **Final booster** on *every* row with that many trees, calibrated by the map from step 2.

    So a probability of 0.08 means about 8 % on data later than the booster that produced the
    score had seen; the calibrator's map is strictly increasing, so households the raw score
    separates get distinct probabilities, never exactly 0 or 1. When there are too few as-of
    dates for ``cv_folds`` blocks, fewer are used; when not even one block fits (fewer than
    ``purge_months`` of history before the latest date), ``fit`` raises a ``ValueError`` saying so.

    Parameters
    ----------
    All defaults come from :class:`riskml.config.training.ModelParams`, the defaults of
    ``configs/training.yaml``'s ``model:`` section.

    n_estimators : int, default=600
        Maximum boosting rounds (early stopping usually stops sooner).
    learning_rate, num_leaves, max_depth, min_child_samples, subsample, subsample_freq, \
colsample_bytree, reg_alpha, reg_lambda, min_split_gain, max_bin, max_cat_to_onehot, cat_smooth
        LightGBM parameters (scikit-learn names, as in ``lightgbm.LGBMClassifier``).
    class_weight : None, "balanced" or dict, default=None
        Weights of the booster's training rows per class (``"balanced"``: inversely
        proportional to class frequencies). The calibrator is fitted unweighted, so calibration
        removes the bias weighting puts into the raw scores.
    calibration : {"auto", "sigmoid", "beta", "isotonic"} or None, default="auto"
        How out-of-fold raw log-odds become probabilities (see step 2); ``"isotonic_step"``,
        the step-wise isotonic map that ties households on plateaus, is accepted for
        comparisons only. None = no calibration, probability = logistic(raw score).
    calibration_level : {"final_latest", "latest_block", "pooled"}, default="final_latest"
        Where the calibrator's level (its log-odds intercept) comes from; its shape always comes
        from every block's out-of-fold scores. ``"final_latest"``: the level at which the final
        booster's scores on the latest block's rows match their observed rate. The blocks'
        boosters learnt from older, fewer rows than the final one, and when the base rate
        drifts over the years (identifications rising or falling) one level pooled over every
        block misses the rate the final model will be scored at. ``"latest_block"``: the level
        of the latest block's out-of-fold scores. ``"pooled"``: one level over every block.
    early_stopping_rounds : int or None, default=50
        Stop a cross-fitting booster when its block's ``early_stopping_metric`` has not improved
        for this many rounds; None = ``n_estimators`` trees.
    early_stopping_metric : {"binary_logloss", "auc", "average_precision"}
    cv_folds : int, default=3
        Temporal cross-fitting blocks (fewer when the as-of dates cannot hold them).
    cv_fraction : float, default=0.5
        Share of the rows (latest whole as-of dates) the blocks test on.
    purge_months : int, default=12
        With ``as_of``: a cross-fitting booster trains only on rows whose ``as_of +
        purge_months`` is on or before its block's first date. Set it to the label horizon:
        with overlapping as-of dates one identification labels several rows of the same
        household, and without the gap the booster learns a household's outcome from its
        training rows and "predicts" it on the block, so early stopping keeps adding trees that
        do not generalise and the calibrator learns overconfident probabilities.
    protected_attributes : tuple of str
        ``fnmatch`` patterns (case-insensitive) of column names that may never be features;
        ``fit`` refuses a DataFrame holding a matching column.
    n_jobs : int or None
        LightGBM threads (None = LightGBM's default, all cores).
    random_state : int, RandomState or None
        Seed for LightGBM's bagging and feature sampling.

    Attributes
    ----------
    booster_ : lightgbm.Booster
        Trained on every row with ``best_iteration_`` trees. It takes the matrix from
        :meth:`encode` (categorical features as integer codes).
    calibrator_ : SigmoidCalibrator, BetaCalibrator, SplineIsotonicCalibrator, ...
        ``calibrator_.predict(raw)``; plain numbers, see ``to_dict()``.
    feature_names_in_ : ndarray of str
        Feature names, when fitted on a DataFrame with string column names.
    n_features_in_ : int
    classes_ : ndarray of shape (2,)
        ``classes_[1]`` is the positive class (the larger label, e.g. 1).
    categories_ : dict[str, list]
        Levels of each categorical (pandas ``category``) feature, frozen at fit. At prediction a
        level unseen at fit is treated as missing (LightGBM sends it down the missing-value
        branch); it is not an error. Drift checks (``reference_``) count unseen levels.
    best_iteration_ : int
        Trees of the final booster (median early-stopping iteration of the cross-fitting
        blocks, or ``n_estimators`` without early stopping).
    n_boosting_rounds_ : int
        The same number (the final booster is not early-stopped).
    reference_ : ReferenceDistribution
        Frozen feature distribution of the latest as-of date, for PSI drift checks at scoring.
    training_summary_ : dict
        Rows and positives, the cross-fitting blocks (test and training as-of ranges, rows,
        early-stopping iteration), the calibrator chosen and every candidate's out-of-time
        log-loss and calibration error.
    crossfit_raw_, crossfit_y_, crossfit_block_ : ndarray
        Out-of-fold raw scores, outcomes and block numbers the calibrator was fitted on (only
        after ``fit``; not saved by ``to_dict``). The backtest compares calibrators on them.

    Notes
    -----
    Without ``as_of``, ``fit`` takes **row order as time order** and warns
    (:class:`TimeOrderWarning`): the last rows form the cross-fitting blocks, and rows cannot
    be purged. ``riskml.features.build_training_set`` returns rows grouped by household, not
    by time: pass its ``as_of`` column.

    ``predict`` thresholds the calibrated probability at 0.5 (``decision_function > 0``), as
    scikit-learn expects; with base rates of a few per cent it rarely predicts the positive
    class. Flag households by ranking instead (:func:`riskml.models.select_at_capacity`).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"income_ratio": rng.gamma(2.0, 1.0, 3000), "visits": rng.poisson(1.0, 3000)})
    >>> y = (rng.random(3000) < 1 / (1 + np.exp(2 * X["income_ratio"] - 1))).astype(int)
    >>> as_of = np.repeat(pd.date_range("2021-01-01", periods=6, freq="QS").to_numpy(), 500)
    >>> model = RecurrenceRiskModel(n_estimators=50, random_state=0).fit(X, y, as_of=as_of)
    >>> model.predict_proba(X.head(2)).shape
    (2, 2)
    """

    def __init__(
        self,
        *,
        n_estimators: int = _D.n_estimators,
        learning_rate: float = _D.learning_rate,
        num_leaves: int = _D.num_leaves,
        max_depth: int = _D.max_depth,
        min_child_samples: int = _D.min_child_samples,
        subsample: float = _D.subsample,
        subsample_freq: int = _D.subsample_freq,
        colsample_bytree: float = _D.colsample_bytree,
        reg_alpha: float = _D.reg_alpha,
        reg_lambda: float = _D.reg_lambda,
        min_split_gain: float = _D.min_split_gain,
        max_bin: int = _D.max_bin,
        max_cat_to_onehot: int = _D.max_cat_to_onehot,
        cat_smooth: float = _D.cat_smooth,
        class_weight: Literal["balanced"] | dict[Any, float] | None = _D.class_weight,
        calibration: str | None = _D.calibration,
        calibration_level: str = _D.calibration_level,
        early_stopping_rounds: int | None = _D.early_stopping_rounds,
        early_stopping_metric: str = _D.early_stopping_metric,
        cv_folds: int = _D.cv_folds,
        cv_fraction: float = _D.cv_fraction,
        purge_months: int = DEFAULT_HORIZON_MONTHS,
        protected_attributes: tuple[str, ...] = DEFAULT_PROTECTED_ATTRIBUTES,
        n_jobs: int | None = _D.n_jobs,
        random_state: int | np.random.RandomState | None = None,
    ) -> None:
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.max_depth = max_depth
        self.min_child_samples = min_child_samples
        self.subsample = subsample
        self.subsample_freq = subsample_freq
        self.colsample_bytree = colsample_bytree
        self.reg_alpha = reg_alpha
        self.reg_lambda = reg_lambda
        self.min_split_gain = min_split_gain
        self.max_bin = max_bin
        self.max_cat_to_onehot = max_cat_to_onehot
        self.cat_smooth = cat_smooth
        self.class_weight = class_weight
        self.calibration = calibration
        self.calibration_level = calibration_level
        self.early_stopping_rounds = early_stopping_rounds
        self.early_stopping_metric = early_stopping_metric
        self.cv_folds = cv_folds
        self.cv_fraction = cv_fraction
        self.purge_months = purge_months
        self.protected_attributes = protected_attributes
        self.n_jobs = n_jobs
        self.random_state = random_state

    # ------------------------------------------------------------------ scikit-learn plumbing
    def __sklearn_tags__(self):  # type: ignore[no-untyped-def]
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.categorical = True
        tags.classifier_tags.multi_class = False
        return tags

    def _check_params(self) -> None:
        def bad(name: str, expected: str) -> ValueError:
            return ValueError(
                f"The '{name}' parameter of RecurrenceRiskModel must be {expected}. "
                f"Got {getattr(self, name)!r} instead."
            )

        def is_int(v: Any) -> bool:
            return isinstance(v, (int, np.integer)) and not isinstance(v, bool)

        def is_num(v: Any) -> bool:
            return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)

        for name in (
            "n_estimators",
            "num_leaves",
            "min_child_samples",
            "max_bin",
            "max_cat_to_onehot",
        ):
            if not is_int(getattr(self, name)) or getattr(self, name) < (
                2 if name in ("num_leaves", "max_bin") else 1
            ):
                raise bad(
                    name, "a positive int" + (" >= 2" if name in ("num_leaves", "max_bin") else "")
                )
        if not is_int(self.max_depth):
            raise bad("max_depth", "an int (-1 = no limit)")
        if not is_num(self.learning_rate) or not 0 < self.learning_rate <= 1:
            raise bad("learning_rate", "a float in (0, 1]")
        for name in ("subsample", "colsample_bytree"):
            if not is_num(getattr(self, name)) or not 0 < getattr(self, name) <= 1:
                raise bad(name, "a float in (0, 1]")
        for name in ("reg_alpha", "reg_lambda", "min_split_gain", "cat_smooth"):
            if not is_num(getattr(self, name)) or getattr(self, name) < 0:
                raise bad(name, "a non-negative float")
        if not is_int(self.subsample_freq) or self.subsample_freq < 0:
            raise bad("subsample_freq", "a non-negative int")
        if not (
            self.class_weight is None
            or self.class_weight == "balanced"
            or isinstance(self.class_weight, dict)
        ):
            raise bad("class_weight", "None, 'balanced' or a dict {class: weight}")
        if self.calibration not in _CALIBRATIONS:
            raise bad("calibration", "'auto', 'sigmoid', 'beta', 'isotonic' or None")
        if self.calibration_level not in _LEVELS:
            raise bad("calibration_level", "'final_latest', 'latest_block' or 'pooled'")
        if self.early_stopping_rounds is not None and (
            not is_int(self.early_stopping_rounds) or self.early_stopping_rounds < 1
        ):
            raise bad("early_stopping_rounds", "a positive int or None")
        if self.early_stopping_metric not in ("binary_logloss", "auc", "average_precision"):
            raise bad("early_stopping_metric", "'binary_logloss', 'auc' or 'average_precision'")
        if not is_int(self.cv_folds) or self.cv_folds < 1:
            raise bad("cv_folds", "a positive int")
        if not is_num(self.cv_fraction) or not 0 < self.cv_fraction < 1:
            raise bad("cv_fraction", "a float in (0, 1)")
        if not is_int(self.purge_months) or self.purge_months < 0:
            raise bad("purge_months", "a non-negative int")
        if isinstance(self.protected_attributes, str) or not all(
            isinstance(p, str) for p in self.protected_attributes
        ):
            raise bad("protected_attributes", "a tuple of column-name patterns")
        if self.n_jobs is not None and not is_int(self.n_jobs):
            raise bad("n_jobs", "an int or None")

    def protected_columns(self, columns: Sequence[Any]) -> list[str]:
        """The names in ``columns`` that match a protected-attribute pattern."""
        patterns = [p.lower() for p in self.protected_attributes]
        return [
            str(c) for c in columns if any(fnmatch.fnmatchcase(str(c).lower(), p) for p in patterns)
        ]

    def lightgbm_params(self) -> dict[str, Any]:
        """The ``lightgbm.train`` parameters this model trains with (for comparisons)."""
        seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        return {
            "objective": "binary",
            "learning_rate": float(self.learning_rate),
            "num_leaves": int(self.num_leaves),
            "max_depth": int(self.max_depth),
            "min_data_in_leaf": int(self.min_child_samples),
            "bagging_fraction": float(self.subsample),
            "bagging_freq": int(self.subsample_freq),
            "feature_fraction": float(self.colsample_bytree),
            "lambda_l1": float(self.reg_alpha),
            "lambda_l2": float(self.reg_lambda),
            "min_gain_to_split": float(self.min_split_gain),
            "max_bin": int(self.max_bin),
            "max_cat_to_onehot": int(self.max_cat_to_onehot),
            "cat_smooth": float(self.cat_smooth),
            "metric": self.early_stopping_metric,
            "seed": seed,
            "deterministic": True,
            "feature_pre_filter": False,
            "num_threads": int(self.n_jobs or 0),
            "verbosity": -1,
        }

    # ------------------------------------------------------------------ encoding
    def _encode(self, X: Any, *, reset: bool) -> np.ndarray:
        if isinstance(X, pd.DataFrame):
            if reset:
                protected = self.protected_columns(list(X.columns))
                if protected:
                    raise ProtectedAttributeError(
                        f"X holds protected attribute column(s) {protected}; ethnicity, the head's sex "
                        "and audit columns are for fairness audits only and may never be model features. "
                        "Remove them from the feature columns (patterns: "
                        f"{list(self.protected_attributes)})."
                    )
                categories = {
                    str(c): list(X[c].cat.categories)
                    for c in X.columns
                    if isinstance(X[c].dtype, pd.CategoricalDtype)
                }
            else:
                categories = self.categories_
                names = getattr(self, "feature_names_in_", None)
                if names is not None:
                    missing = [n for n in names if n not in X.columns]
                    if missing:
                        raise ValueError(
                            f"X lacks {len(missing)} feature column(s) the model was fitted on: "
                            f"{missing[:10]}. Give a frame with every feature in feature_names_in_."
                        )
                    X = X.loc[:, list(names)]
            # one float64 matrix, filled column by column (Fortran order: no copy for pandas,
            # scikit-learn's checks or LightGBM)
            matrix = np.empty((len(X), X.shape[1]), dtype=np.float64, order="F")
            for j, name in enumerate(X.columns):
                matrix[:, j] = self._encode_column(X.iloc[:, j], str(name), categories)
            frame = pd.DataFrame(matrix, index=X.index, columns=X.columns, copy=False)
            if reset:
                self.categories_ = categories
            return validate_data(
                self, frame, reset=reset, dtype=np.float64, ensure_all_finite="allow-nan"
            )
        if reset:
            self.categories_ = {}
        return validate_data(self, X, reset=reset, dtype=np.float64, ensure_all_finite="allow-nan")

    @staticmethod
    def _encode_column(col: pd.Series, name: str, categories: dict[str, list[Any]]) -> np.ndarray:
        if name in categories:
            levels = categories[name]
            if isinstance(col.dtype, pd.CategoricalDtype):
                if list(col.cat.categories) != levels:
                    col = col.cat.set_categories(levels)
                codes = col.cat.codes.to_numpy()
            else:
                codes = pd.Categorical(col, categories=levels).codes
            out = codes.astype(np.float64)
            out[codes < 0] = np.nan  # missing or unseen level -> missing
            return out
        if isinstance(col.dtype, pd.CategoricalDtype):
            raise ValueError(
                f"Column '{name}' is categorical now but was numeric when the model was fitted; "
                "give it the dtype it had at fit."
            )
        if pd.api.types.is_bool_dtype(col.dtype) or pd.api.types.is_numeric_dtype(col.dtype):
            return col.to_numpy(dtype=np.float64, na_value=np.nan)
        raise ValueError(
            f"Feature column '{name}' has dtype {col.dtype}; features must be numeric (float, int, "
            "bool) or pandas 'category'. Convert it (e.g. .astype('category')) or drop it."
        )

    def encode(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        """The float64 matrix ``booster_`` takes: features in fit order, categories as codes.

        A categorical level unseen at fit, or a missing value, becomes NaN (LightGBM's missing
        branch). Extra DataFrame columns are ignored; a missing feature column is an error. A
        NumPy array is taken as already encoded.
        """
        check_is_fitted(self, "booster_")
        return self._encode(X, reset=False)

    # ------------------------------------------------------------------ fitting
    def fit(
        self,
        X: pd.DataFrame | np.ndarray,
        y: Any,
        *,
        as_of: Any = None,
    ) -> RecurrenceRiskModel:
        """Cross-fit over time (tree count, calibrator), then fit the booster on every row.

        Parameters
        ----------
        X : DataFrame or array of shape (n, p)
            Features: float/int/bool columns, or pandas ``category`` columns (native LightGBM
            categorical splits). Missing values are allowed. A column matching
            ``protected_attributes`` is refused with :class:`ProtectedAttributeError`.
        y : array of shape (n,)
            Two classes (e.g. 0/1); missing labels are an error.
        as_of : array of dates of shape (n,), optional
            Each row's as-of date; the cross-fitting blocks follow it. Without it, row order is
            taken as time order, rows cannot be purged, and a :class:`TimeOrderWarning` says so.

        Returns
        -------
        self
        """
        self._check_params()
        M = self._encode(X, reset=True)
        y_enc = self._encode_target(y, len(M))
        n = len(M)
        dates, key = self._time_order(as_of, n)
        data = _TrainingData(M, y_enc, self._class_weights(y_enc, np.ones(n, dtype=bool)), self)
        if self.calibration is not None or self.early_stopping_rounds is not None:
            crossfit = self._crossfit(data, key, dates)
        else:
            crossfit = _Crossfit(
                blocks=[],
                note="no cross-fitting (calibration=None and early_stopping_rounds=None)",
                trees=int(self.n_estimators),
            )
        booster = data.train(np.ones(n, dtype=bool), crossfit.trees)
        self.booster_ = lgb.Booster(model_str=booster.model_to_string())
        self.best_iteration_ = crossfit.trees
        self.n_boosting_rounds_ = crossfit.trees
        choice = self._fit_calibrator(crossfit, data)
        self.crossfit_raw_, self.crossfit_y_, self.crossfit_block_ = (
            crossfit.raw,
            crossfit.y,
            crossfit.block,
        )
        self.reference_ = ReferenceDistribution.fit(
            self._reference_frame(X, M, self._reference_rows(dates, n))
        )
        self.training_summary_ = self._summary(
            y_enc, dates, n, crossfit.blocks, crossfit.note, choice
        )
        return self

    def _time_order(self, as_of: Any, n: int) -> tuple[np.ndarray | None, np.ndarray]:
        """The rows' as-of dates (or None) and the key the cross-fitting blocks follow."""
        if as_of is not None:
            dates = pd.to_datetime(pd.Series(as_of)).to_numpy()
            if len(dates) != n:
                raise ValueError(
                    f"as_of has {len(dates)} values but X has {n} rows; give one date per row."
                )
            if pd.isna(dates).any():
                raise ValueError(
                    f"as_of holds {int(pd.isna(dates).sum())} missing dates; every row needs one."
                )
            return dates, dates
        if self.calibration is not None or self.early_stopping_rounds is not None:
            warnings.warn(
                "RecurrenceRiskModel.fit without as_of takes row order as time order (the last "
                "rows become the cross-fitting blocks) and cannot purge overlapping label "
                f"windows (purge_months={self.purge_months} is not applied). "
                "riskml.features.build_training_set returns rows grouped by household, not by "
                "time: pass as_of=training_set.frame['as_of'].",
                TimeOrderWarning,
                stacklevel=3,
            )
        return None, np.arange(n)

    def _crossfit(
        self, data: _TrainingData, key: np.ndarray, dates: np.ndarray | None
    ) -> _Crossfit:
        """Step 1-2: a booster per block, the tree count, and the out-of-fold raw scores."""
        plan, note = self._crossfit_plan(key, dates)
        blocks: list[dict[str, Any]] = []
        boosters = []
        for j, (train_rows, test_rows) in enumerate(plan, start=1):
            entry = self._block_entry(j, train_rows, test_rows, data.y, dates)
            blocks.append(entry)
            if data.y[train_rows].min() == data.y[train_rows].max():
                entry["status"] = "skipped: its training rows hold one class"
                continue
            booster = data.train(train_rows, int(self.n_estimators), stop_on=test_rows)
            entry["best_iteration"] = (
                int(booster.best_iteration)
                if self.early_stopping_rounds is not None and booster.best_iteration > 0
                else booster.current_iteration()
            )
            entry["status"] = "ok"
            boosters.append((j, booster, train_rows, test_rows))
        if not boosters:
            raise ValueError(
                "No temporal cross-fitting block could be trained: "
                + "; ".join(f"block {b['block']}: {b['status']}" for b in blocks)
                + ". Give a longer as-of range (more dates with both outcomes)."
            )
        iterations = [b["best_iteration"] for b in blocks if b["status"] == "ok"]
        trees = (
            max(1, round(float(np.median(iterations))))
            if self.early_stopping_rounds is not None
            else int(self.n_estimators)
        )
        raws, ys, ids = [], [], []
        for j, booster, train_rows, test_rows in boosters:
            if booster.current_iteration() < trees:  # stopped early: boost on to `trees`
                booster = data.train(train_rows, trees - booster.current_iteration(), booster)
            raws.append(booster.predict(data.M[test_rows], raw_score=True, num_iteration=trees))
            ys.append(data.y[test_rows])
            ids.append(np.full(int(test_rows.sum()), j, dtype=np.int64))
        return _Crossfit(
            blocks=blocks,
            note=note,
            trees=trees,
            raw=np.concatenate(raws),
            y=np.concatenate(ys),
            block=np.concatenate(ids),
            latest_rows=boosters[-1][3],
        )

    def _fit_calibrator(self, crossfit: _Crossfit, data: _TrainingData) -> CalibratorChoice | None:
        """Step 2: the calibrator's shape on the out-of-fold raw scores of every block, its level
        as ``calibration_level`` says (``final_latest``: the final booster's scores on the
        latest block's rows)."""
        if self.calibration is None:
            self.calibrator_: Calibrator = fit_calibrator(None, np.zeros(0), np.zeros(0))
            return None
        oof_raw, oof_y, oof_block = crossfit.raw, crossfit.y, crossfit.block
        if oof_y.min() == oof_y.max():
            raise ValueError(
                f"The out-of-fold rows of the cross-fitting blocks ({len(oof_y)} rows) hold only "
                f"class {self.classes_[int(oof_y[0])]!r}, so probabilities cannot be calibrated. "
                "Give more recent rows, raise cv_fraction, or set calibration=None."
            )
        choice = None
        method = self.calibration
        if method == "auto":
            choice = choose_calibrator(
                [(oof_raw[oof_block == j], oof_y[oof_block == j]) for j in np.unique(oof_block)],
                level=self.calibration_level,
            )
            method = choice.method
        self.level_raw_, self.level_y_ = np.zeros(0), np.zeros(0)
        if self.calibration_level == "final_latest" and crossfit.latest_rows is not None:
            rows = crossfit.latest_rows
            self.level_raw_ = self.booster_.predict(
                data.M[rows], raw_score=True, num_threads=int(self.n_jobs or 0)
            )
            self.level_y_ = data.y[rows]
        self.calibrator_ = fit_calibration(
            method,
            oof_raw,
            oof_y,
            oof_block,
            level=self.calibration_level,
            level_scores=(self.level_raw_, self.level_y_),
        )
        return choice

    def _crossfit_plan(
        self, key: np.ndarray, dates: np.ndarray | None
    ) -> tuple[list[tuple[np.ndarray, np.ndarray]], str]:
        """(training rows, test rows) of each cross-fitting block, oldest first, and a note.

        The test blocks are the latest keys (as-of dates, or rows without dates) holding about
        ``cv_fraction`` of the rows, split into ``cv_folds`` consecutive blocks of whole keys.
        A block trains on the keys before it whose ``date + purge_months`` is on or before its
        first date. When the first block would have no training rows, the test region shrinks,
        then the number of blocks, and the note says so.
        """
        uniq, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
        n_keys = len(uniq)
        purge = dates is not None and self.purge_months > 0
        if purge:
            shifted = _months_later(uniq, self.purge_months)
        rows_from_end = np.cumsum(counts[::-1])  # rows in the latest 1, 2, ... keys
        wanted = int(np.searchsorted(rows_from_end, float(self.cv_fraction) * len(key))) + 1
        what = "as-of dates" if dates is not None else "rows"

        def first_train_keys(start: int) -> int:
            """How many keys before key index ``start`` may train its block."""
            if not purge:
                return start
            return int(np.searchsorted(shifted[:start], uniq[start], side="right"))

        for k in range(int(self.cv_folds), 0, -1):
            for m in range(max(min(wanted, n_keys - 1), k), k - 1, -1):
                start = n_keys - m
                if start < 1 or first_train_keys(start) < 1:
                    continue
                groups = np.array_split(np.arange(start, n_keys), k)
                plan = []
                for g in groups:
                    test_keys = np.zeros(n_keys, dtype=bool)
                    test_keys[g] = True
                    train_keys = np.zeros(n_keys, dtype=bool)
                    train_keys[: first_train_keys(int(g[0]))] = True
                    plan.append((train_keys[inverse], test_keys[inverse]))
                note = f"{k} block(s) over the latest {m} of {n_keys} distinct {what}"
                if k < self.cv_folds or m < min(wanted, n_keys - 1):
                    note += (
                        f" (fewer than cv_folds={self.cv_folds} / cv_fraction={self.cv_fraction}"
                        f" asks: the earliest block needs training rows"
                        + (
                            f" at least purge_months={self.purge_months} before it)"
                            if purge
                            else ")"
                        )
                    )
                return plan, note
        detail = f" with purge_months={self.purge_months}" if purge else ""
        raise ValueError(
            f"Cannot cross-fit over time: {n_keys} distinct {what}{detail} leave no block with "
            f"earlier training rows. Give more distinct {what} (a longer as-of range), lower "
            "purge_months, or set early_stopping_rounds=None and calibration=None."
        )

    @staticmethod
    def _block_entry(
        j: int,
        train_rows: np.ndarray,
        test_rows: np.ndarray,
        y_enc: np.ndarray,
        dates: np.ndarray | None,
    ) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "block": j,
            "train_rows": int(train_rows.sum()),
            "test_rows": int(test_rows.sum()),
            "test_positives": int(y_enc[test_rows].sum()),
        }
        if dates is not None:
            for name, rows in (("train", train_rows), ("test", test_rows)):
                entry[f"{name}_as_of_first"] = str(pd.Timestamp(dates[rows].min()).date())
                entry[f"{name}_as_of_last"] = str(pd.Timestamp(dates[rows].max()).date())
        return entry

    def _encode_target(self, y: Any, n: int) -> np.ndarray:
        if isinstance(y, (pd.Series, pd.DataFrame)) and y.isna().to_numpy().any():
            raise ValueError(
                f"y holds {int(y.isna().to_numpy().sum())} missing labels; drop unlabelled (censored) rows first."
            )
        y = column_or_1d(y, warn=True)
        if y.dtype.kind in "fc":
            assert_all_finite(y, input_name="y")
        if len(y) != n:
            raise ValueError(f"y has {len(y)} labels but X has {n} rows.")
        check_classification_targets(y)
        classes = np.unique(y)
        if len(classes) < 2:
            raise ValueError(
                f"y holds only one class ({classes[0]!r} for all {n} rows); a risk model needs both "
                "positives and negatives. Widen the as-of range or check the label definition."
            )
        if len(classes) > 2:
            raise ValueError(
                f"Only binary classification is supported. y holds {len(classes)} classes "
                f"({classes[:5].tolist()}); RecurrenceRiskModel predicts one 0/1 label."
            )
        self.classes_ = classes
        return (y == classes[1]).astype(np.float64)

    def _class_weights(self, y_enc: np.ndarray, train_rows: np.ndarray) -> np.ndarray | None:
        if self.class_weight is None:
            return None
        if self.class_weight == "balanced":
            n_pos = y_enc[train_rows].sum()
            n_tr = train_rows.sum()
            if n_pos == 0 or n_pos == n_tr:
                raise ValueError(
                    "class_weight='balanced' needs both classes in the training slice; it holds only one."
                )
            w = {0: n_tr / (2.0 * (n_tr - n_pos)), 1: n_tr / (2.0 * n_pos)}
        else:
            w = {i: float(self.class_weight.get(self.classes_[i], 1.0)) for i in (0, 1)}
        return np.where(y_enc > 0, w[1], w[0])

    def _booster_feature_names(self) -> list[str]:
        names = getattr(self, "feature_names_in_", None)
        if names is None:
            return [f"x{i}" for i in range(self.n_features_in_)]
        unsafe = [n for n in names if _LGB_UNSAFE_NAME.search(n)]
        if unsafe:
            raise ValueError(
                f'Feature name(s) {unsafe[:5]} contain one of the characters " , : [ ] {{ }}, which '
                "LightGBM cannot store; rename the columns."
            )
        return [str(n) for n in names]

    @staticmethod
    def _reference_rows(dates: np.ndarray | None, n: int) -> np.ndarray:
        """Rows of the drift reference: the latest as-of date seen in ``fit``.

        A monthly roster is one snapshot at one as-of date, so it is compared with one
        snapshot: pooling every training date would mix years in which history features were
        still missing and "months since" features sat elsewhere, and PSI would warn on every
        run. Without dates, every row is the reference.
        """
        if dates is None:
            return np.ones(n, dtype=bool)
        return dates == dates.max()

    def _reference_frame(self, X: Any, M: np.ndarray, rows: np.ndarray) -> pd.DataFrame:
        if isinstance(X, pd.DataFrame) and getattr(self, "feature_names_in_", None) is not None:
            return X.iloc[np.flatnonzero(rows)][list(self.feature_names_in_)]
        return pd.DataFrame(M[rows], columns=self._booster_feature_names())

    def _summary(
        self,
        y_enc: np.ndarray,
        dates: np.ndarray | None,
        n: int,
        blocks: list[dict[str, Any]],
        plan_note: str,
        choice: CalibratorChoice | None,
    ) -> dict[str, Any]:
        summary: dict[str, Any] = {
            "rows": int(n),
            "positives": int(y_enc.sum()),
            "time_order": "as_of" if dates is not None else "row order",
            "trees": int(self.best_iteration_),
            "best_iteration": int(self.best_iteration_),
            "trees_from": (
                "median early-stopping iteration of the cross-fitting blocks"
                if self.early_stopping_rounds is not None
                else "n_estimators (no early stopping)"
            ),
            "crossfit": plan_note,
            "blocks": blocks,
            "calibration": {
                "requested": self.calibration,
                "method": self.calibrator_.method,
                "level": self.calibration_level if self.calibration is not None else None,
                "level_shift": float(getattr(self.calibrator_, "shift", 0.0)),
                "fitted_on_rows": len(getattr(self, "crossfit_y_", ())),
                "reason": (choice.reason if choice is not None else "as configured")
                + self._level_note(),
                "candidates": choice.scores if choice is not None else {},
            },
        }
        if dates is not None:
            summary["as_of_first"] = str(pd.Timestamp(dates.min()).date())
            summary["as_of_last"] = str(pd.Timestamp(dates.max()).date())
        return summary

    def _level_note(self) -> str:
        """How the calibrator's level was set, for the summary and the console."""
        shift = getattr(self.calibrator_, "shift", None)
        if self.calibration is None or shift is None:
            return ""
        source = {
            "final_latest": "the final booster's scores on the latest block's rows",
            "latest_block": "the latest block's out-of-fold scores",
        }.get(self.calibration_level, "")
        return f"; level refitted on {source} ({shift:+.2f} log-odds)" if source else ""

    # ------------------------------------------------------------------ prediction
    def predict_raw(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        """Uncalibrated raw score (log-odds) of the positive class, shape (n,).

        The calibrated probability is a strictly increasing function of it, so both order
        households the same way."""
        M = self.encode(X)
        return self.booster_.predict(M, raw_score=True, num_threads=int(self.n_jobs or 0))

    def decision_function(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        """Log-odds of the *calibrated* probability (its sign agrees with :meth:`predict`).

        scikit-learn expects ``decision_function > 0`` exactly where ``predict`` gives
        ``classes_[1]``; the uncalibrated booster score is :meth:`predict_raw`. Probabilities are
        clipped to [1e-15, 1 - 1e-15] first, so the values are finite.
        """
        p = np.clip(self.calibrate(self.predict_raw(X)), _P_CLIP, 1.0 - _P_CLIP)
        return np.log(p) - np.log1p(-p)

    def calibrate(self, raw: np.ndarray) -> np.ndarray:
        """Map raw log-odds to calibrated probabilities of the positive class."""
        check_is_fitted(self, "calibrator_")
        return np.clip(self.calibrator_.predict(np.asarray(raw, dtype=np.float64)), 0.0, 1.0)

    def predict_proba(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        """Calibrated probabilities, shape (n, 2): columns ``classes_[0]``, ``classes_[1]``."""
        p = self.calibrate(self.predict_raw(X))
        return np.column_stack((1.0 - p, p))

    def predict(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        """``classes_[1]`` where the calibrated probability is above 0.5, else ``classes_[0]``."""
        positive = self.decision_function(X) > 0
        return self.classes_[positive.astype(np.int64)]

    # ------------------------------------------------------------------ serialisation
    def to_dict(self) -> dict[str, Any]:
        """Everything needed to rebuild the fitted model, as JSON-ready values (no pickle).

        Keys: ``format``, ``format_version``, ``riskml_version``, ``params`` (constructor
        arguments), ``booster`` (LightGBM model string), ``calibrator``, ``categories``,
        ``feature_names`` (or None), ``n_features``, ``classes``, ``best_iteration``,
        ``boosting_rounds``, ``reference`` and ``training_summary``.
        """
        check_is_fitted(self, "booster_")
        params = self.get_params()
        params["protected_attributes"] = list(self.protected_attributes)
        if isinstance(self.class_weight, dict):
            params["class_weight"] = [
                [_json_scalar(k), float(v)] for k, v in self.class_weight.items()
            ]
        if not (params["random_state"] is None or isinstance(params["random_state"], int)):
            params["random_state"] = (
                None  # a RandomState object is not serialisable; the booster is
            )
        names = getattr(self, "feature_names_in_", None)
        return {
            "format": _FORMAT,
            "format_version": _FORMAT_VERSION,
            "riskml_version": __version__,
            "params": params,
            "booster": self.booster_.model_to_string(),
            "calibrator": self.calibrator_.to_dict(),
            "categories": {k: [_json_scalar(v) for v in lv] for k, lv in self.categories_.items()},
            "feature_names": None if names is None else [str(n) for n in names],
            "n_features": int(self.n_features_in_),
            "classes": [_json_scalar(c) for c in self.classes_],
            "best_iteration": int(self.best_iteration_),
            "boosting_rounds": int(self.n_boosting_rounds_),
            "reference": self.reference_.to_dict(),
            "training_summary": self.training_summary_,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RecurrenceRiskModel:
        """Rebuild a fitted model from :meth:`to_dict` output; predictions are identical."""
        if data.get("format") != _FORMAT:
            raise ValueError(
                f"Not a saved RecurrenceRiskModel (format {data.get('format')!r}, expected {_FORMAT!r})."
            )
        if int(data.get("format_version", 0)) > _FORMAT_VERSION:
            raise ValueError(
                f"Saved model format version {data['format_version']} is newer than this riskml "
                f"({__version__}) reads ({_FORMAT_VERSION}); upgrade riskml."
            )
        # models saved by earlier riskml versions carry parameters that no longer exist
        # (validation_fraction, calibration_fraction): they only shaped the fit, not predictions
        known = set(cls._get_param_names())
        params = {k: v for k, v in dict(data["params"]).items() if k in known}
        params["protected_attributes"] = tuple(
            params.get("protected_attributes", DEFAULT_PROTECTED_ATTRIBUTES)
        )
        if isinstance(params.get("class_weight"), list):
            params["class_weight"] = {k: v for k, v in params["class_weight"]}
        model = cls(**params)
        model.booster_ = lgb.Booster(model_str=data["booster"])
        model.calibrator_ = calibrator_from_dict(data["calibrator"])
        model.categories_ = {k: list(v) for k, v in data["categories"].items()}
        if data.get("feature_names") is not None:
            model.feature_names_in_ = np.asarray(data["feature_names"], dtype=object)
        model.n_features_in_ = int(data["n_features"])
        model.classes_ = np.asarray(data["classes"])
        model.best_iteration_ = int(data["best_iteration"])
        model.n_boosting_rounds_ = int(data.get("boosting_rounds", data["best_iteration"]))
        model.reference_ = ReferenceDistribution.from_dict(data["reference"])
        model.training_summary_ = dict(data.get("training_summary", {}))
        return model


@dataclass
class _Crossfit:
    """What temporal cross-fitting gives ``fit``: the blocks, the tree count, out-of-fold scores."""

    blocks: list[dict[str, Any]]
    note: str
    trees: int
    raw: np.ndarray = field(default_factory=lambda: np.zeros(0))
    y: np.ndarray = field(default_factory=lambda: np.zeros(0))
    block: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    latest_rows: np.ndarray | None = None
    """Rows of the latest block trained (its as-of dates), for ``calibration_level``."""


class _TrainingData:
    """The encoded matrix, labels and weights of one ``fit``, and how a booster trains on rows."""

    def __init__(
        self, M: np.ndarray, y: np.ndarray, weights: np.ndarray | None, model: RecurrenceRiskModel
    ) -> None:
        self.M, self.y, self.weights = M, y, weights
        self.names = model._booster_feature_names()
        self.cat_idx = [i for i, nme in enumerate(self.names) if nme in model.categories_]
        self.params = model.lightgbm_params()
        self.early_stopping_rounds = model.early_stopping_rounds

    def dataset(self, rows: np.ndarray) -> lgb.Dataset:
        return lgb.Dataset(
            self.M[rows],
            label=self.y[rows],
            weight=None if self.weights is None else self.weights[rows],
            feature_name=self.names,
            categorical_feature=self.cat_idx,
            free_raw_data=True,
        )

    def train(
        self,
        rows: np.ndarray,
        rounds: int,
        init_model: lgb.Booster | None = None,
        *,
        stop_on: np.ndarray | None = None,
    ) -> lgb.Booster:
        """A booster on ``rows`` (continuing ``init_model``), early-stopped on ``stop_on`` rows
        when the model has early stopping."""
        dtrain = self.dataset(rows)
        valid_sets: list[lgb.Dataset] = []
        callbacks: list[Any] = []
        if stop_on is not None and self.early_stopping_rounds is not None:
            valid_sets = [dtrain.create_valid(self.M[stop_on], label=self.y[stop_on])]
            callbacks.append(
                lgb.early_stopping(
                    int(self.early_stopping_rounds), first_metric_only=True, verbose=False
                )
            )
        return lgb.train(
            self.params,
            dtrain,
            num_boost_round=int(rounds),
            valid_sets=valid_sets,
            valid_names=["block"] if valid_sets else None,
            callbacks=callbacks,
            init_model=init_model,
        )


def _json_scalar(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v
