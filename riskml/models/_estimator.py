"""``RecurrenceRiskModel``: LightGBM with time-ordered early stopping and calibration."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Sequence
from typing import Any, Literal

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils import assert_all_finite, check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from riskml import __version__
from riskml.config.training import DEFAULT_PROTECTED_ATTRIBUTES
from riskml.models._calibration import Calibrator, calibrator_from_dict, fit_calibrator
from riskml.models._drift import ReferenceDistribution

__all__ = ["ProtectedAttributeError", "RecurrenceRiskModel"]

_FORMAT = "riskml.RecurrenceRiskModel"
_FORMAT_VERSION = 1
_LGB_UNSAFE_NAME = re.compile(r'[",:\[\]{}]')
_SLICE_NAMES = ("training", "early_stopping", "calibration")
_P_CLIP = 1e-15


class ProtectedAttributeError(ValueError):
    """A protected attribute (ethnicity, sex of the head, an audit column) was given as a feature."""


def _months_later(dates: np.ndarray, months: int) -> np.ndarray:
    """``dates + months`` (calendar months), computed once per distinct date."""
    uniq, inverse = np.unique(dates, return_inverse=True)
    shifted = (pd.DatetimeIndex(uniq) + pd.DateOffset(months=int(months))).to_numpy()
    return shifted[inverse]


class RecurrenceRiskModel(ClassifierMixin, BaseEstimator):
    """Risk that a household is identified as a monitoring object within the label horizon.

    A scikit-learn classifier wrapping LightGBM. ``fit`` orders rows in time by their as-of
    date and cuts three consecutive slices, each made of whole as-of dates: the earliest rows
    train the booster, a later slice (``validation_fraction`` of the rows) decides when to stop
    boosting, and the latest slice (``calibration_fraction``) fits the calibrator, so a
    probability of 0.08 means about 8 % *on data later than anything the booster saw*. The
    booster is **not** refitted on the later slices afterwards: refitting would change the raw
    scores the calibrator was fitted on. The price is that the booster never sees the most
    recent ~35 % of rows; give more as-of dates rather than smaller slices.

    Parameters
    ----------
    n_estimators : int, default=500
        Maximum boosting rounds (early stopping usually stops sooner).
    learning_rate, num_leaves, max_depth, min_child_samples, subsample, subsample_freq, \
colsample_bytree, reg_alpha, reg_lambda, min_split_gain, max_bin, max_cat_to_onehot, cat_smooth
        LightGBM parameters (scikit-learn names, as in ``lightgbm.LGBMClassifier``).
    class_weight : None, "balanced" or dict, default=None
        Weights of the training and early-stopping rows per class (``"balanced"``: inversely
        proportional to class frequencies). The calibration slice is never weighted, so
        calibration removes the bias weighting puts into the raw scores.
    calibration : {"isotonic", "sigmoid"} or None, default="isotonic"
        Isotonic regression or Platt scaling of the raw log-odds on the calibration slice;
        None = no calibration slice, probability = logistic(raw score).
    early_stopping_rounds : int or None, default=50
        Stop when the early-stopping slice's ``early_stopping_metric`` has not improved for this
        many rounds; None = no early stopping (and no early-stopping slice).
    early_stopping_metric : {"binary_logloss", "auc", "average_precision"}
    validation_fraction, calibration_fraction : float, default=0.15, 0.2
        Approximate row shares of the early-stopping and calibration slices. Slices are whole
        as-of dates (the number of dates whose row share is closest to the fraction, at least
        one), so with few as-of dates the shares are coarse.
    purge_months : int, default=0
        With ``as_of``: drop training rows whose ``as_of + purge_months`` falls after the first
        date of the early-stopping (or calibration) slice. Set it to the label horizon: with
        overlapping as-of dates one identification labels several rows of the same household,
        and without the gap the booster can learn a household's outcome from its training rows
        and "predict" it on the later slices, so early stopping keeps adding trees that do not
        generalise and the calibrator learns overconfident probabilities. It costs
        ``purge_months`` of training rows.
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
        Trained on the training slice, trimmed to ``best_iteration_`` trees. It takes the
        matrix from :meth:`encode` (categorical features as integer codes).
    calibrator_ : IsotonicCalibrator, SigmoidCalibrator or IdentityCalibrator
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
        Trees kept.
    n_boosting_rounds_ : int
        Rounds actually run before early stopping.
    reference_ : ReferenceDistribution
        Frozen feature distribution of the training slice, for PSI drift checks at scoring.
    training_summary_ : dict
        Rows, positives and as-of range of each slice, and how the slices were cut.

    Notes
    -----
    Without ``as_of``, ``fit`` takes **row order as time order**: the last rows form the
    calibration slice, the rows before them the early-stopping slice. Pass ``as_of`` whenever the
    rows are not already sorted by time.

    ``predict`` thresholds the calibrated probability at 0.5 (``decision_function > 0``), as scikit-learn expects; with base
    rates of a few per cent it rarely predicts the positive class. Flag households by ranking
    instead (:func:`riskml.models.select_at_capacity`); rank by :meth:`predict_raw`, which is
    strictly finer than the isotonic probability and orders households the same way.

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
        n_estimators: int = 500,
        learning_rate: float = 0.05,
        num_leaves: int = 31,
        max_depth: int = -1,
        min_child_samples: int = 50,
        subsample: float = 0.8,
        subsample_freq: int = 1,
        colsample_bytree: float = 0.8,
        reg_alpha: float = 0.0,
        reg_lambda: float = 1.0,
        min_split_gain: float = 0.0,
        max_bin: int = 255,
        max_cat_to_onehot: int = 4,
        cat_smooth: float = 10.0,
        class_weight: Literal["balanced"] | dict[Any, float] | None = None,
        calibration: Literal["isotonic", "sigmoid"] | None = "isotonic",
        early_stopping_rounds: int | None = 50,
        early_stopping_metric: str = "binary_logloss",
        validation_fraction: float = 0.15,
        calibration_fraction: float = 0.2,
        purge_months: int = 0,
        protected_attributes: tuple[str, ...] = DEFAULT_PROTECTED_ATTRIBUTES,
        n_jobs: int | None = None,
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
        self.early_stopping_rounds = early_stopping_rounds
        self.early_stopping_metric = early_stopping_metric
        self.validation_fraction = validation_fraction
        self.calibration_fraction = calibration_fraction
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
        if self.calibration not in (None, "isotonic", "sigmoid"):
            raise bad("calibration", "'isotonic', 'sigmoid' or None")
        if self.early_stopping_rounds is not None and (
            not is_int(self.early_stopping_rounds) or self.early_stopping_rounds < 1
        ):
            raise bad("early_stopping_rounds", "a positive int or None")
        if self.early_stopping_metric not in ("binary_logloss", "auc", "average_precision"):
            raise bad("early_stopping_metric", "'binary_logloss', 'auc' or 'average_precision'")
        for name in ("validation_fraction", "calibration_fraction"):
            if not is_num(getattr(self, name)) or not 0 < getattr(self, name) < 1:
                raise bad(name, "a float in (0, 1)")
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
        """Fit the booster, stop early on a later slice and calibrate on the latest slice.

        Parameters
        ----------
        X : DataFrame or array of shape (n, p)
            Features: float/int/bool columns, or pandas ``category`` columns (native LightGBM
            categorical splits). Missing values are allowed. A column matching
            ``protected_attributes`` is refused with :class:`ProtectedAttributeError`.
        y : array of shape (n,)
            Two classes (e.g. 0/1); missing labels are an error.
        as_of : array of dates of shape (n,), optional
            Each row's as-of date; the slices follow it. Without it, row order is time order.

        Returns
        -------
        self
        """
        self._check_params()
        M = self._encode(X, reset=True)
        y_enc = self._encode_target(y, len(M))
        n = len(M)
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
            key = dates
        else:
            if self.purge_months:
                raise ValueError(
                    "purge_months needs as_of dates; pass as_of=... or set purge_months=0."
                )
            dates = None
            key = np.arange(n)
        slot = self._slices(key, dates)
        names = self._booster_feature_names()
        cat_idx = (
            [i for i, nme in enumerate(names) if nme in self.categories_]
            if self.categories_
            else []
        )
        weights = self._class_weights(y_enc, slot == 0)
        params = self.lightgbm_params()

        train_rows = slot == 0
        dtrain = lgb.Dataset(
            M[train_rows],
            label=y_enc[train_rows],
            weight=None if weights is None else weights[train_rows],
            feature_name=names,
            categorical_feature=cat_idx,
            free_raw_data=True,
        )
        rounds_run = [0]

        def _count_rounds(env: Any) -> None:
            rounds_run[0] = env.iteration + 1

        callbacks: list[Any] = [_count_rounds]
        valid_sets = []
        if self.early_stopping_rounds is not None:
            val_rows = slot == 1
            dval = dtrain.create_valid(
                M[val_rows],
                label=y_enc[val_rows],
                weight=None if weights is None else weights[val_rows],
            )
            valid_sets = [dval]
            callbacks.append(
                lgb.early_stopping(
                    int(self.early_stopping_rounds), first_metric_only=True, verbose=False
                )
            )
        booster = lgb.train(
            params,
            dtrain,
            num_boost_round=int(self.n_estimators),
            valid_sets=valid_sets,
            valid_names=["early_stopping"] if valid_sets else None,
            callbacks=callbacks,
        )
        self.n_boosting_rounds_ = int(rounds_run[0])
        best = (
            int(booster.best_iteration)
            if valid_sets and booster.best_iteration > 0
            else self.n_boosting_rounds_
        )
        if booster.current_iteration() > best:  # lightgbm.train trims to the best iteration itself
            booster = lgb.Booster(model_str=booster.model_to_string(num_iteration=best))
        self.booster_ = booster
        self.best_iteration_ = best

        if self.calibration is not None:
            cal_rows = slot == 2
            raw = self.booster_.predict(M[cal_rows], raw_score=True)
            y_cal = y_enc[cal_rows]
            if y_cal.min() == y_cal.max():
                raise ValueError(
                    f"The calibration slice ({self._describe_slice(dates, cal_rows)}) holds only class "
                    f"{self.classes_[int(y_cal[0])]!r}, so probabilities cannot be calibrated. Give more "
                    "recent rows, raise calibration_fraction, or set calibration=None."
                )
            self.calibrator_: Calibrator = fit_calibrator(self.calibration, raw, y_cal)
        else:
            self.calibrator_ = fit_calibrator(None, np.zeros(0), np.zeros(0))
        self.reference_ = ReferenceDistribution.fit(
            self._reference_frame(X, M, self._reference_rows(dates, n))
        )
        self.training_summary_ = self._summary(slot, y_enc, dates, n)
        return self

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

    def _slices(self, key: np.ndarray, dates: np.ndarray | None) -> np.ndarray:
        """0 = training, 1 = early stopping, 2 = calibration, -1 = purged.

        Slices are cut from the latest key backwards: calibration first, then early stopping.
        With ``purge_months``, training keys (dates) whose ``date + purge_months`` passes the
        start of the first later slice are dropped. The early-stopping and calibration slices
        need no gap between them: the booster is fitted on neither.
        """
        uniq, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
        n = len(key)
        slot_of_key = np.zeros(len(uniq), dtype=np.int64)
        end = len(uniq)
        wanted = []
        if self.calibration is not None:
            wanted.append((float(self.calibration_fraction), 2))
        if self.early_stopping_rounds is not None:
            wanted.append((float(self.validation_fraction), 1))
        purge = dates is not None and self.purge_months > 0
        for fraction, label in wanted:
            if end <= 1:
                break
            cum = np.cumsum(counts[:end][::-1])
            m = (
                int(np.argmin(np.abs(cum[: end - 1] - fraction * n))) + 1
            )  # keep >= 1 key for training
            slot_of_key[end - m : end] = label
            end -= m
        if purge and end < len(uniq):
            # only the booster's own rows must not share label windows with later slices
            later = _months_later(uniq[:end], self.purge_months)
            keep = int(np.searchsorted(later, uniq[end], side="right"))  # later is sorted
            slot_of_key[keep:end] = -1
        needed = {label for _, label in wanted}
        present = set(np.unique(slot_of_key).tolist())
        if not needed <= present or 0 not in present:
            what = "as-of dates" if dates is not None else "rows"
            slices = ", ".join(_SLICE_NAMES[label] for label in (0, *sorted(needed)))
            detail = f" with purge_months={self.purge_months}" if purge else ""
            raise ValueError(
                f"Cannot cut {1 + len(needed)} time slices ({slices}) from {len(uniq)} distinct {what}{detail}. "
                f"Give more distinct {what} (a longer as-of range), lower purge_months, or set "
                "early_stopping_rounds=None / calibration=None."
            )
        return slot_of_key[inverse]

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

    def _describe_slice(self, dates: np.ndarray | None, rows: np.ndarray) -> str:
        if dates is None:
            idx = np.flatnonzero(rows)
            return f"rows {idx.min()}-{idx.max()}, {len(idx)} rows" if len(idx) else "no rows"
        d = dates[rows]
        return f"as_of {pd.Timestamp(d.min()).date()} to {pd.Timestamp(d.max()).date()}, {int(rows.sum())} rows"

    def _summary(
        self, slot: np.ndarray, y_enc: np.ndarray, dates: np.ndarray | None, n: int
    ) -> dict[str, Any]:
        summary: dict[str, Any] = {
            "rows": int(n),
            "time_order": "as_of" if dates is not None else "row order",
            "purged_rows": int((slot == -1).sum()),
            "best_iteration": int(self.best_iteration_),
            "boosting_rounds": int(self.n_boosting_rounds_),
        }
        for label, name in enumerate(_SLICE_NAMES):
            rows = slot == label
            if not rows.any():
                continue
            entry: dict[str, Any] = {"rows": int(rows.sum()), "positives": int(y_enc[rows].sum())}
            if dates is not None:
                entry["as_of_first"] = str(pd.Timestamp(dates[rows].min()).date())
                entry["as_of_last"] = str(pd.Timestamp(dates[rows].max()).date())
            summary[name] = entry
        return summary

    # ------------------------------------------------------------------ prediction
    def predict_raw(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        """Uncalibrated raw score (log-odds) of the positive class, shape (n,)."""
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
        params = dict(data["params"])
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


def _json_scalar(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v
