"""Probability calibration of raw log-odds, stored as plain numbers (no pickle).

Each calibrator maps the booster's raw score (log-odds) to a probability with ``predict(raw)``
and round-trips through ``to_dict()`` / :func:`calibrator_from_dict` as JSON-ready lists and
floats, so the tracking stage can store it next to the booster's model string.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit
from sklearn.isotonic import IsotonicRegression

__all__ = [
    "Calibrator",
    "IdentityCalibrator",
    "IsotonicCalibrator",
    "SigmoidCalibrator",
    "calibrator_from_dict",
    "fit_calibrator",
]

CalibrationMethod = Literal["isotonic", "sigmoid"]


@dataclass(frozen=True)
class IdentityCalibrator:
    """No calibration: probability = logistic(raw)."""

    method: str = "none"

    def predict(self, raw: np.ndarray) -> np.ndarray:
        return expit(np.asarray(raw, dtype=np.float64))

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method}


@dataclass(frozen=True)
class IsotonicCalibrator:
    """Isotonic regression on raw log-odds, as its knots.

    ``predict`` interpolates linearly between the knots ``(x, y)`` and clips outside them:
    exactly what ``sklearn.isotonic.IsotonicRegression(out_of_bounds="clip").predict`` does.
    The map is non-decreasing, so plateaus can tie households that the raw score separates:
    rank by the raw score (see ``RecurrenceRiskModel.predict_raw``).
    """

    x: tuple[float, ...]
    y: tuple[float, ...]
    method: str = "isotonic"

    def predict(self, raw: np.ndarray) -> np.ndarray:
        return np.interp(np.asarray(raw, dtype=np.float64), np.asarray(self.x), np.asarray(self.y))

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "x": list(self.x), "y": list(self.y)}


@dataclass(frozen=True)
class SigmoidCalibrator:
    """Platt scaling: probability = logistic(a * raw + b)."""

    a: float
    b: float
    method: str = "sigmoid"

    def predict(self, raw: np.ndarray) -> np.ndarray:
        return expit(self.a * np.asarray(raw, dtype=np.float64) + self.b)

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "a": self.a, "b": self.b}


Calibrator = IdentityCalibrator | IsotonicCalibrator | SigmoidCalibrator


MIN_ISOTONIC_BLOCK = 50
"""Fewest calibration rows behind one isotonic level. Plain isotonic regression puts a level on
a handful of rows at the top of the score range (often all positives: a "100 %" risk), which
no cadre should read; adjacent levels are pooled until each rests on this many rows."""


def _pooled_blocks(raw: np.ndarray, fitted: np.ndarray, y: np.ndarray, min_rows: int):
    """Isotonic levels as blocks (first/last raw score, rows, positives), small ones pooled.

    Pooling two adjacent levels of a non-decreasing step function gives a level between them,
    so the result stays non-decreasing.
    """
    order = np.argsort(raw, kind="stable")
    r, f, t = raw[order], fitted[order], y[order].astype(float)
    starts = np.flatnonzero(np.r_[True, np.diff(f) != 0])
    ends = np.r_[starts[1:], len(r)]
    blocks = [
        [r[a], r[b - 1], float(b - a), float(t[a:b].sum())]
        for a, b in zip(starts, ends, strict=True)
    ]
    while len(blocks) > 1:
        sizes = [b[2] for b in blocks]
        i = int(np.argmin(sizes))
        if sizes[i] >= min_rows:
            break
        if i == 0:
            j = 1
        elif i == len(blocks) - 1:
            j = i - 1
        else:  # pool with the neighbour whose level is closer
            mean = blocks[i][3] / blocks[i][2]
            left = abs(blocks[i - 1][3] / blocks[i - 1][2] - mean)
            right = abs(blocks[i + 1][3] / blocks[i + 1][2] - mean)
            j = i - 1 if left <= right else i + 1
        a, b = sorted((i, j))
        blocks[a] = [
            blocks[a][0],
            blocks[b][1],
            blocks[a][2] + blocks[b][2],
            blocks[a][3] + blocks[b][3],
        ]
        del blocks[b]
    return blocks


def _fit_isotonic(
    raw: np.ndarray, y: np.ndarray, *, min_block: int | None = None
) -> IsotonicCalibrator:
    """Isotonic calibration whose levels each rest on at least ``min_block`` rows.

    Default: ``MIN_ISOTONIC_BLOCK``, or 1 % of the rows when that is smaller (tiny slices).
    """
    if min_block is None:
        min_block = min(MIN_ISOTONIC_BLOCK, max(1, len(raw) // 100))
    iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0, increasing=True)
    iso.fit(raw, y)
    blocks = _pooled_blocks(np.asarray(raw, float), iso.predict(raw), np.asarray(y), min_block)
    xs: list[float] = []
    ys: list[float] = []
    for lo, hi, n, pos in blocks:
        level = pos / n
        xs.append(float(lo))
        ys.append(level)
        if hi > lo:
            xs.append(float(hi))
            ys.append(level)
    return IsotonicCalibrator(x=tuple(xs), y=tuple(ys))


def _fit_sigmoid(raw: np.ndarray, y: np.ndarray) -> SigmoidCalibrator:
    # Platt (1999) with his smoothed targets, as scikit-learn's sigmoid calibration does.
    n_pos = float(y.sum())
    n_neg = float(len(y) - n_pos)
    target = np.where(y > 0, (n_pos + 1.0) / (n_pos + 2.0), 1.0 / (n_neg + 2.0))

    def loss_grad(ab: np.ndarray) -> tuple[float, np.ndarray]:
        z = ab[0] * raw + ab[1]
        p = expit(z)
        # log-loss written with logaddexp for stability
        loss = float(np.sum(np.logaddexp(0.0, z) - target * z))
        d = p - target
        return loss, np.array([float(np.dot(d, raw)), float(d.sum())])

    prior = np.log((n_pos + 1.0) / (n_neg + 1.0))
    res = minimize(loss_grad, x0=np.array([1.0, prior]), jac=True, method="L-BFGS-B")
    return SigmoidCalibrator(a=float(res.x[0]), b=float(res.x[1]))


def fit_calibrator(method: CalibrationMethod | None, raw: np.ndarray, y: np.ndarray) -> Calibrator:
    """Fit a calibrator mapping raw log-odds ``raw`` to P(y = 1).

    Parameters
    ----------
    method : {"isotonic", "sigmoid"} or None
        None returns the identity (logistic of the raw score).
    raw : array of shape (n,)
        Raw scores of rows the booster was *not* trained on.
    y : array of shape (n,)
        0/1 outcomes of those rows; both classes must be present.
    """
    raw = np.asarray(raw, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if method is None:
        return IdentityCalibrator()
    if len(raw) != len(y):
        raise ValueError(f"fit_calibrator: raw has {len(raw)} values but y has {len(y)}.")
    if method == "isotonic":
        return _fit_isotonic(raw, y)
    if method == "sigmoid":
        return _fit_sigmoid(raw, y)
    raise ValueError(f"Unknown calibration method {method!r}; use 'isotonic', 'sigmoid' or None.")


def calibrator_from_dict(data: dict[str, Any]) -> Calibrator:
    """Rebuild a calibrator from its ``to_dict()`` form."""
    method = data.get("method")
    if method == "none":
        return IdentityCalibrator()
    if method == "isotonic":
        x, y = tuple(float(v) for v in data["x"]), tuple(float(v) for v in data["y"])
        if len(x) != len(y) or not x:
            raise ValueError("isotonic calibrator needs equally long, non-empty 'x' and 'y' lists.")
        return IsotonicCalibrator(x=x, y=y)
    if method == "sigmoid":
        return SigmoidCalibrator(a=float(data["a"]), b=float(data["b"]))
    raise ValueError(
        f"Unknown calibrator method {method!r} in saved model; expected none/isotonic/sigmoid."
    )
