"""Frozen reference distributions of the training matrix, for drift checks (PSI) at scoring.

Numeric features: quantile bin edges frozen at training time, plus a bin of their own for
missing values. Categorical features: the frequency of each training level, plus a bin for
levels unseen at training and one for missing values. The population stability index (PSI)
compares a new matrix with these frozen shares; the usual reading is < 0.1 stable, 0.1-0.25
moderate shift, > 0.25 a shift worth investigating before trusting the scores.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["PSI_WARN", "ReferenceDistribution"]

PSI_WARN = 0.25
"""PSI above which a feature's shift is worth a warning."""

_EPS = 1e-4  # floor for empty bins so that PSI stays finite


def _numeric(col: pd.Series) -> np.ndarray:
    return pd.to_numeric(col, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


@dataclass
class ReferenceDistribution:
    """Per-feature reference shares frozen from a training matrix.

    Attributes
    ----------
    numeric : dict
        ``name -> {"edges": [...], "shares": [...]}``: ``edges`` are the inner cut points
        (bins ``(-inf, e0], (e0, e1], ..., (e_last, inf)``), ``shares`` has one entry per bin
        and a last one for missing values.
    categorical : dict
        ``name -> {"levels": [...], "shares": [...]}``: one share per level, then unseen, then
        missing.
    n_rows : int
        Rows the reference was computed from (after sampling, see :meth:`fit`).
    """

    numeric: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    categorical: dict[str, dict[str, list[Any]]] = field(default_factory=dict)
    n_rows: int = 0

    @classmethod
    def fit(
        cls, X: pd.DataFrame, *, n_bins: int = 10, max_rows: int | None = 500_000
    ) -> ReferenceDistribution:
        """Freeze the distribution of every column of ``X`` (category dtype = categorical).

        Above ``max_rows`` rows, a fixed-seed random sample of ``max_rows`` rows is used (shares
        then carry a standard error below 0.001, far under any PSI threshold).
        """
        if n_bins < 2:
            raise ValueError(f"n_bins must be >= 2. Got {n_bins} instead.")
        if max_rows is not None and len(X) > max_rows:
            rows = np.sort(np.random.default_rng(0).choice(len(X), size=max_rows, replace=False))
            X = X.iloc[rows]
        ref = cls(n_rows=len(X))
        qs = np.linspace(0, 1, n_bins + 1)[1:-1]
        for name in X.columns:
            col = X[name]
            if isinstance(col.dtype, pd.CategoricalDtype):
                levels = list(col.cat.categories)
                counts = np.bincount(col.cat.codes.to_numpy() + 1, minlength=len(levels) + 1)
                # codes -1 (missing) land in slot 0
                shares = np.concatenate((counts[1:], [0], counts[:1])) / max(len(col), 1)
                ref.categorical[str(name)] = {
                    "levels": [_json_scalar(v) for v in levels],
                    "shares": [float(v) for v in shares],
                }
            else:
                values = _numeric(col)
                present = values[~np.isnan(values)]
                edges = np.unique(np.quantile(present, qs)) if len(present) else np.array([])
                ref.numeric[str(name)] = {
                    "edges": [float(v) for v in edges],
                    "shares": [float(v) for v in _numeric_shares(values, edges)],
                }
        return ref

    @property
    def features(self) -> list[str]:
        return [*self.numeric, *self.categorical]

    def shares(self, X: pd.DataFrame) -> dict[str, np.ndarray]:
        """The shares of ``X`` in the frozen bins of each reference feature present in ``X``."""
        missing = [f for f in self.features if f not in X.columns]
        if missing:
            raise ValueError(
                f"The matrix lacks reference feature(s) {missing[:10]}; give the same features as at training."
            )
        out: dict[str, np.ndarray] = {}
        for name, spec in self.numeric.items():
            out[name] = _numeric_shares(
                _numeric(X[name]), np.asarray(spec["edges"], dtype=np.float64)
            )
        for name, spec in self.categorical.items():
            levels = spec["levels"]
            col = X[name]
            values = col.astype("object") if isinstance(col.dtype, pd.CategoricalDtype) else col
            codes = pd.Categorical(values, categories=levels).codes.astype(np.int64)
            isna = pd.isna(values).to_numpy()
            slot = np.where(codes >= 0, codes, np.where(isna, len(levels) + 1, len(levels)))
            counts = np.bincount(slot, minlength=len(levels) + 2)
            out[name] = counts / max(len(col), 1)
        return out

    def psi(self, X: pd.DataFrame) -> pd.Series:
        """Population stability index of each feature of ``X`` against the reference.

        Missing values are their own bin; empty bins are floored at 1e-4 so the index stays
        finite. Returns a Series indexed by feature name (reference order).
        """
        if len(X) == 0:
            raise ValueError("Cannot compute PSI of an empty matrix; give at least one row.")
        new = self.shares(X)
        values = {}
        for name in self.features:
            spec = self.numeric.get(name) or self.categorical[name]
            expected = np.maximum(np.asarray(spec["shares"], dtype=np.float64), _EPS)
            actual = np.maximum(new[name], _EPS)
            values[name] = float(np.sum((actual - expected) * np.log(actual / expected)))
        return pd.Series(values, name="psi", dtype=np.float64)

    def drifted(self, X: pd.DataFrame, threshold: float = PSI_WARN) -> pd.Series:
        """Features whose PSI exceeds ``threshold``, largest first."""
        psi = self.psi(X)
        return psi[psi > threshold].sort_values(ascending=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (lists and floats)."""
        return {
            "numeric": self.numeric,
            "categorical": self.categorical,
            "n_rows": int(self.n_rows),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ReferenceDistribution:
        """Rebuild from :meth:`to_dict` output."""
        try:
            return cls(
                numeric={str(k): dict(v) for k, v in data["numeric"].items()},
                categorical={str(k): dict(v) for k, v in data["categorical"].items()},
                n_rows=int(data.get("n_rows", 0)),
            )
        except (KeyError, AttributeError, TypeError) as exc:
            raise ValueError(
                f"Not a saved ReferenceDistribution (needs 'numeric' and 'categorical'): {exc}"
            ) from exc


def _numeric_shares(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    isna = np.isnan(values)
    bins = np.searchsorted(edges, values[~isna], side="left")
    counts = np.bincount(bins, minlength=len(edges) + 1).astype(np.float64)
    counts = np.append(counts, isna.sum())
    return counts / max(len(values), 1)


def _json_scalar(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v
