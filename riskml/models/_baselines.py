"""The baselines a model must beat: department alert rules, persistence, a logistic scorecard.

All three share one interface: ``fit(X, y)`` on training rows, then ``score(X)`` (the ranking
key: higher = visit first) and ``predict_proba(X)`` (a probability of the positive class, for
Brier score and calibration). They are scored on exactly the rows the model is scored on.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.linear_model import LogisticRegression

from riskml.config.rules import Rule

__all__ = ["RuleBaseline", "ScorecardBaseline"]

_OPS: dict[str, Callable[[np.ndarray, float], np.ndarray]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
}


class RuleBaseline:
    """Alert rules: flag a household when any rule fires; score = sum of the fired weights.

    Used for the department rules (``configs/rules.yaml`` ``rules``) and for persistence
    (``persistence``: previously monitored, or income below the line last year). A missing
    feature value never fires a rule. ``fit`` only learns, for :meth:`predict_proba`, the
    observed positive rate of each score level on the training rows (smoothed towards the
    overall rate with the weight of one row); ranking uses :meth:`score` and needs no fit.

    Examples
    --------
    >>> from riskml.config.rules import Rule
    >>> rules = RuleBaseline([Rule(name="oop", feature="oop_medical_last_year", op=">", value=20000)])
    >>> rules.flags(pd.DataFrame({"oop_medical_last_year": [25000.0, 100.0, None]})).tolist()
    [True, False, False]
    """

    def __init__(self, rules: Sequence[Rule], *, name: str = "rules") -> None:
        if not rules:
            raise ValueError(f"The {name} baseline needs at least one rule.")
        self.rules = list(rules)
        self.name = name

    @property
    def required_features(self) -> list[str]:
        """Feature columns the rules read (each once, in rule order)."""
        return list(dict.fromkeys(r.feature for r in self.rules))

    def _check(self, X: pd.DataFrame) -> None:
        missing = [f for f in self.required_features if f not in X.columns]
        if missing:
            raise ValueError(
                f"The {self.name} baseline needs feature column(s) {missing}, absent from the frame. "
                "Build the training set with a feature set that includes them (the catalog's "
                "'department_rules' set), or edit the rules YAML."
            )

    def fired(self, X: pd.DataFrame) -> pd.DataFrame:
        """One boolean column per rule: does it fire for the row?"""
        self._check(X)
        out = {}
        for rule in self.rules:
            col = X[rule.feature]
            if isinstance(col.dtype, pd.CategoricalDtype) or not (
                pd.api.types.is_numeric_dtype(col.dtype) or pd.api.types.is_bool_dtype(col.dtype)
            ):
                raise ValueError(
                    f"Rule '{rule.name}' compares feature '{rule.feature}' with a number, but the column "
                    f"has dtype {col.dtype}; rules need numeric features."
                )
            values = col.to_numpy(dtype=np.float64, na_value=np.nan)
            with np.errstate(invalid="ignore"):
                out[rule.name] = _OPS[rule.op](values, rule.value) & ~np.isnan(values)
        return pd.DataFrame(out, index=X.index)

    def score(self, X: pd.DataFrame) -> np.ndarray:
        """Sum of the weights of the rules that fire (0 = not flagged)."""
        fired = self.fired(X).to_numpy(dtype=np.float64)
        weights = np.array([r.weight for r in self.rules], dtype=np.float64)
        return fired @ weights

    def flags(self, X: pd.DataFrame) -> np.ndarray:
        """True where at least one rule fires."""
        return self.fired(X).to_numpy().any(axis=1)

    def fit(self, X: pd.DataFrame, y: Any) -> RuleBaseline:
        """Learn the positive rate of each score level (for :meth:`predict_proba`)."""
        score = self.score(X)
        y = np.asarray(pd.Series(y).to_numpy(dtype=np.float64, na_value=np.nan))
        if len(y) != len(score) or np.isnan(y).any():
            raise ValueError(
                f"The {self.name} baseline needs one 0/1 label per row, without missing labels."
            )
        base = float(y.mean()) if len(y) else 0.0
        levels, inverse = np.unique(score, return_inverse=True)
        n = np.bincount(inverse, minlength=len(levels))
        pos = np.bincount(inverse, weights=y, minlength=len(levels))
        self.levels_ = levels
        self.rates_ = (pos + base) / (n + 1.0)
        self.base_rate_ = base
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Observed training rate of the row's score level (nearest level if unseen)."""
        if not hasattr(self, "rates_"):
            raise ValueError(f"Call fit() on the {self.name} baseline before predict_proba().")
        score = self.score(X)
        idx = np.clip(np.searchsorted(self.levels_, score), 0, len(self.levels_) - 1)
        left = np.clip(idx - 1, 0, len(self.levels_) - 1)
        nearer_left = np.abs(self.levels_[left] - score) < np.abs(self.levels_[idx] - score)
        return self.rates_[np.where(nearer_left, left, idx)]


class ScorecardBaseline:
    """Logistic-regression scorecard on binned features (the classic credit-scoring recipe).

    Each numeric feature is cut into up to ``n_bins`` quantile bins frozen at fit (money is
    heavy-tailed, so bins beat standardising), plus a bin for missing values; each categorical
    feature gets a column per level plus one for missing or unseen levels. An L2-penalised
    logistic regression on these indicator columns gives the score. Equivalent in spirit to a
    weight-of-evidence scorecard, without hand-tuned bins.
    """

    def __init__(self, *, n_bins: int = 10, C: float = 1.0, max_iter: int = 2000) -> None:
        if n_bins < 2:
            raise ValueError(f"n_bins must be >= 2. Got {n_bins} instead.")
        self.n_bins = n_bins
        self.C = C
        self.max_iter = max_iter

    def _design(self, X: pd.DataFrame) -> sparse.csr_matrix:
        missing = [c for c in self.columns_ if c not in X.columns]
        if missing:
            raise ValueError(
                f"The scorecard needs feature column(s) {missing[:10]} absent from the frame."
            )
        n = len(X)
        blocks = []
        offset = 0
        for name in self.columns_:
            col = X[name]
            if name in self.levels_:
                levels = self.levels_[name]
                codes = pd.Categorical(
                    col.astype(object) if isinstance(col.dtype, pd.CategoricalDtype) else col,
                    categories=levels,
                ).codes.astype(np.int64)
                idx = np.where(codes >= 0, codes, len(levels))
                width = len(levels) + 1
            else:
                edges = self.edges_[name]
                values = col.to_numpy(dtype=np.float64, na_value=np.nan)
                isna = np.isnan(values)
                idx = np.where(
                    isna, len(edges) + 1, np.searchsorted(edges, np.nan_to_num(values), side="left")
                )
                width = len(edges) + 2
            blocks.append(idx + offset)
            offset += width
        if not blocks:
            return sparse.csr_matrix((n, 0))
        cols = np.column_stack(blocks).ravel()
        rows = np.repeat(np.arange(n), len(blocks))
        return sparse.csr_matrix((np.ones(len(cols)), (rows, cols)), shape=(n, offset))

    def fit(self, X: pd.DataFrame, y: Any) -> ScorecardBaseline:
        """Freeze bins and levels on ``X`` and fit the logistic regression."""
        y = np.asarray(pd.Series(y).to_numpy(dtype=np.float64, na_value=np.nan))
        if np.isnan(y).any() or len(np.unique(y)) < 2:
            raise ValueError(
                "The scorecard needs 0/1 labels with both classes and no missing labels."
            )
        self.columns_ = [str(c) for c in X.columns]
        self.levels_: dict[str, list[Any]] = {}
        self.edges_: dict[str, np.ndarray] = {}
        qs = np.linspace(0, 1, self.n_bins + 1)[1:-1]
        for name in self.columns_:
            col = X[name]
            if isinstance(col.dtype, pd.CategoricalDtype):
                self.levels_[name] = list(col.cat.categories)
            else:
                values = col.to_numpy(dtype=np.float64, na_value=np.nan)
                present = values[~np.isnan(values)]
                self.edges_[name] = (
                    np.unique(np.quantile(present, qs)) if len(present) else np.array([])
                )
        self.model_ = LogisticRegression(C=self.C, max_iter=self.max_iter)
        self.model_.fit(self._design(X), y)
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Probability of the positive class, shape (n,)."""
        if not hasattr(self, "model_"):
            raise ValueError("Call fit() on the scorecard before predict_proba().")
        return self.model_.predict_proba(self._design(X))[:, 1]

    def score(self, X: pd.DataFrame) -> np.ndarray:
        """Ranking key: the probability itself."""
        return self.predict_proba(X)
