"""Probability calibration of raw log-odds, stored as plain numbers (no pickle).

Each calibrator maps the booster's raw score (log-odds) to a probability with ``predict(raw)``
and round-trips through ``to_dict()`` / :func:`calibrator_from_dict` as JSON-ready lists and
floats, so the tracking stage can store it next to the booster's model string.

The candidates a model chooses among (:data:`CANDIDATES`) are all *strictly* increasing in the
raw score: households the booster separates keep distinct probabilities, and no probability is
exactly 0 or 1. :func:`choose_calibrator` picks one on out-of-time log-loss. The step-wise
(pooled) isotonic map that riskml used before, which ties whole groups of households on one
value, is kept as ``isotonic_step`` for comparison and for loading models saved with it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit
from sklearn.isotonic import IsotonicRegression

__all__ = [
    "CANDIDATES",
    "LEVELS",
    "BetaCalibrator",
    "Calibrator",
    "CalibratorChoice",
    "IdentityCalibrator",
    "IsotonicCalibrator",
    "LevelShiftedCalibrator",
    "SigmoidCalibrator",
    "SplineIsotonicCalibrator",
    "calibration_log_loss",
    "calibrator_from_dict",
    "choose_calibrator",
    "fit_calibration",
    "fit_calibrator",
    "fit_level_shift",
]

CalibrationMethod = Literal["sigmoid", "beta", "isotonic", "isotonic_step"]
CANDIDATES: tuple[str, ...] = ("sigmoid", "beta", "isotonic")
"""Strictly monotone calibrators ``calibration="auto"`` chooses among."""

_Z_MAX = 35.0
"""Log-odds are capped at +-35 / -700 before the logistic, so a probability is never exactly
1 or 0 in float64 (only raw scores beyond any real booster's range would tie there)."""


def _expit_open(z: np.ndarray) -> np.ndarray:
    return expit(np.clip(z, -700.0, _Z_MAX))


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
    method: str = "isotonic_step"

    def predict(self, raw: np.ndarray) -> np.ndarray:
        return np.interp(np.asarray(raw, dtype=np.float64), np.asarray(self.x), np.asarray(self.y))

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "x": list(self.x), "y": list(self.y)}


@dataclass(frozen=True)
class SigmoidCalibrator:
    """Platt scaling: probability = logistic(a * raw + b), with ``a > 0``."""

    a: float
    b: float
    method: str = "sigmoid"

    def predict(self, raw: np.ndarray) -> np.ndarray:
        return _expit_open(self.a * np.asarray(raw, dtype=np.float64) + self.b)

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "a": self.a, "b": self.b}


@dataclass(frozen=True)
class BetaCalibrator:
    """Beta calibration (Kull et al., 2017) of the raw score's probability ``s = logistic(raw)``:
    ``logit(p) = c - a * log1p(exp(-raw)) + b * log1p(exp(raw))``, i.e.
    ``a * ln(s) - b * ln(1 - s) + c``, with ``a, b > 0``.

    The slope in ``raw`` is ``a * (1 - s) + b * s > 0``: strictly increasing, so households the
    raw score separates keep distinct probabilities, and the tails need not be symmetric as
    Platt scaling's are.
    """

    a: float
    b: float
    c: float
    method: str = "beta"

    def predict(self, raw: np.ndarray) -> np.ndarray:
        r = np.asarray(raw, dtype=np.float64)
        z = self.c - self.a * np.logaddexp(0.0, -r) + self.b * np.logaddexp(0.0, r)
        return _expit_open(z)

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "a": self.a, "b": self.b, "c": self.c}


@dataclass(frozen=True)
class SplineIsotonicCalibrator:
    """Isotonic regression made strictly increasing: knots at the raw-score centre of each
    (pooled) isotonic block, interpolated linearly in log-odds, with straight log-odds tails.

    ``x`` are the block centres (mean raw score of the block's rows), ``z`` the log-odds of the
    block's shrunk outcome rate (strictly increasing), ``slope_low`` / ``slope_high`` the
    log-odds slopes beyond the first / last knot (positive). Unlike the step isotonic map,
    distinct raw scores always get distinct probabilities, never exactly 0 or 1.
    """

    x: tuple[float, ...]
    z: tuple[float, ...]
    slope_low: float
    slope_high: float
    method: str = "isotonic"

    def predict(self, raw: np.ndarray) -> np.ndarray:
        r = np.asarray(raw, dtype=np.float64)
        x, z = np.asarray(self.x), np.asarray(self.z)
        out = np.interp(r, x, z)
        lo, hi = r < x[0], r > x[-1]
        out[lo] = z[0] + self.slope_low * (r[lo] - x[0])
        out[hi] = z[-1] + self.slope_high * (r[hi] - x[-1])
        return _expit_open(out)

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "x": list(self.x),
            "z": list(self.z),
            "slope_low": self.slope_low,
            "slope_high": self.slope_high,
        }


BaseCalibrator = (
    IdentityCalibrator
    | IsotonicCalibrator
    | SigmoidCalibrator
    | BetaCalibrator
    | SplineIsotonicCalibrator
)


@dataclass(frozen=True)
class LevelShiftedCalibrator:
    """A calibrator whose log-odds are moved by ``shift``: ``logit(p) = logit(base(raw)) + shift``.

    The shape (how risk rises with the raw score) comes from every out-of-fold block; the level
    from the latest block only, so a base rate that drifts over the years is not averaged into
    the scores (see :func:`fit_level_shift`). Adding a constant to the log-odds keeps the map
    strictly increasing: households keep their order and distinct scores. ``method`` is the
    base's, so tables and saved models name the shape; ``to_dict`` adds ``level_shift``.
    """

    base: BaseCalibrator
    shift: float

    @property
    def method(self) -> str:
        return self.base.method

    def predict(self, raw: np.ndarray) -> np.ndarray:
        p = np.clip(self.base.predict(raw), 1e-300, None)
        z = np.log(p) - np.log1p(-np.minimum(p, 1.0 - 1e-16))
        return _expit_open(z + self.shift)

    def to_dict(self) -> dict[str, Any]:
        return {**self.base.to_dict(), "level_shift": self.shift}


Calibrator = BaseCalibrator | LevelShiftedCalibrator

LEVELS: tuple[str, ...] = ("final_latest", "latest_block", "pooled")
"""Where a calibrator's level comes from (see :func:`fit_calibration`)."""

_MAX_SHIFT = 5.0
"""Largest level correction in log-odds (a factor of about 150 in the odds): beyond it the
latest block says something other than drift (too few rows, a broken label)."""


MIN_ISOTONIC_BLOCK = 50
"""Fewest calibration rows behind one isotonic level. Plain isotonic regression puts a level on
a handful of rows at the top of the score range (often all positives: a "100 %" risk), which
no cadre should read; adjacent levels are pooled until each rests on this many rows."""

_SHRINK_ROWS = 2.0
"""Pseudo-rows of the Platt fit added to every isotonic block of the interpolated map, so that a
block of only negatives (or only positives) gets a small positive rate, not 0 (or 1)."""
_MIN_SLOPE_SHARE = 0.05
"""The interpolated isotonic map rises at least this share of the Platt slope (in log-odds per
unit of raw score) between knots: strictly increasing, not flat where isotonic pooled."""
_MIN_SLOPE = 1e-3


def _pooled_blocks(
    raw: np.ndarray, fitted: np.ndarray, y: np.ndarray, min_rows: int
) -> list[list[float]]:
    """Isotonic levels as blocks (first/last raw score, rows, positives, sum of raw scores),
    small ones pooled.

    Pooling two adjacent levels of a non-decreasing step function gives a level between them,
    so the result stays non-decreasing.
    """
    order = np.argsort(raw, kind="stable")
    r, f, t = raw[order], fitted[order], y[order].astype(float)
    starts = np.flatnonzero(np.r_[True, np.diff(f) != 0])
    ends = np.r_[starts[1:], len(r)]
    blocks = [
        [r[a], r[b - 1], float(b - a), float(t[a:b].sum()), float(r[a:b].sum())]
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
            blocks[a][4] + blocks[b][4],
        ]
        del blocks[b]
    return blocks


def _default_min_block(n: int) -> int:
    return min(MIN_ISOTONIC_BLOCK, max(1, n // 100))


def _isotonic_blocks(raw: np.ndarray, y: np.ndarray, min_block: int | None) -> list[list[float]]:
    if min_block is None:
        min_block = _default_min_block(len(raw))
    iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0, increasing=True)
    iso.fit(raw, y)
    return _pooled_blocks(np.asarray(raw, float), iso.predict(raw), np.asarray(y), min_block)


def _fit_isotonic(
    raw: np.ndarray, y: np.ndarray, *, min_block: int | None = None
) -> IsotonicCalibrator:
    """Step-wise isotonic calibration whose levels each rest on at least ``min_block`` rows.

    Default: ``MIN_ISOTONIC_BLOCK``, or 1 % of the rows when that is smaller (tiny slices).
    Kept for comparison (``isotonic_step``): its levels tie households the raw score separates.
    """
    xs: list[float] = []
    ys: list[float] = []
    for lo, hi, n, pos, _ in _isotonic_blocks(raw, y, min_block):
        level = pos / n
        xs.append(float(lo))
        ys.append(level)
        if hi > lo:
            xs.append(float(hi))
            ys.append(level)
    return IsotonicCalibrator(x=tuple(xs), y=tuple(ys))


def _fit_spline_isotonic(
    raw: np.ndarray, y: np.ndarray, *, min_block: int | None = None
) -> SplineIsotonicCalibrator:
    """Isotonic levels (pooled to ``min_block`` rows) as knots at their blocks' mean raw score,
    each level shrunk towards the Platt fit by ``_SHRINK_ROWS`` pseudo-rows, joined linearly in
    log-odds with a slope of at least ``_MIN_SLOPE_SHARE`` of Platt's, and Platt-sloped tails."""
    platt = _fit_sigmoid(raw, y)
    min_slope = max(_MIN_SLOPE_SHARE * platt.a, _MIN_SLOPE)
    blocks = _isotonic_blocks(raw, y, min_block)
    centres = np.array([b[4] / b[2] for b in blocks])
    n = np.array([b[2] for b in blocks])
    pos = np.array([b[3] for b in blocks])
    prior = platt.predict(centres)
    level = (pos + _SHRINK_ROWS * prior) / (n + _SHRINK_ROWS)
    z = np.log(level) - np.log1p(-level)
    for k in range(1, len(z)):
        z[k] = max(z[k], z[k - 1] + min_slope * (centres[k] - centres[k - 1]))
    tail = max(platt.a, min_slope)
    return SplineIsotonicCalibrator(
        x=tuple(float(v) for v in centres),
        z=tuple(float(v) for v in z),
        slope_low=float(tail),
        slope_high=float(tail),
    )


def _fit_sigmoid(raw: np.ndarray, y: np.ndarray) -> SigmoidCalibrator:
    # Platt (1999) with his smoothed targets, as scikit-learn's sigmoid calibration does; the
    # slope is kept positive so the map never reverses (or flattens) the booster's ordering.
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
    res = minimize(
        loss_grad,
        x0=np.array([1.0, prior]),
        jac=True,
        method="L-BFGS-B",
        bounds=[(_MIN_SLOPE, None), (None, None)],
    )
    return SigmoidCalibrator(a=float(res.x[0]), b=float(res.x[1]))


def _fit_beta(raw: np.ndarray, y: np.ndarray) -> BetaCalibrator:
    # logistic regression of y on (-ln s, ln(1 - s)) = (-softplus(-raw) ... ), a, b >= _MIN_SLOPE
    n_pos = float(y.sum())
    n_neg = float(len(y) - n_pos)
    target = np.where(y > 0, (n_pos + 1.0) / (n_pos + 2.0), 1.0 / (n_neg + 2.0))
    f1 = -np.logaddexp(0.0, -raw)  # ln s
    f2 = np.logaddexp(0.0, raw)  # -ln(1 - s)

    def loss_grad(abc: np.ndarray) -> tuple[float, np.ndarray]:
        z = abc[0] * f1 + abc[1] * f2 + abc[2]
        loss = float(np.sum(np.logaddexp(0.0, z) - target * z))
        d = expit(z) - target
        return loss, np.array([float(np.dot(d, f1)), float(np.dot(d, f2)), float(d.sum())])

    prior = np.log((n_pos + 1.0) / (n_neg + 1.0))
    res = minimize(
        loss_grad,
        x0=np.array([1.0, 1.0, prior]),
        jac=True,
        method="L-BFGS-B",
        bounds=[(_MIN_SLOPE, None), (_MIN_SLOPE, None), (None, None)],
    )
    return BetaCalibrator(a=float(res.x[0]), b=float(res.x[1]), c=float(res.x[2]))


def fit_calibrator(method: str | None, raw: np.ndarray, y: np.ndarray) -> Calibrator:
    """Fit a calibrator mapping raw log-odds ``raw`` to P(y = 1).

    Parameters
    ----------
    method : {"sigmoid", "beta", "isotonic", "isotonic_step"} or None
        ``sigmoid``: Platt scaling; ``beta``: beta calibration; ``isotonic``: isotonic
        regression interpolated strictly monotonically between block centres;
        ``isotonic_step``: the step-wise pooled isotonic map (ties; for comparison only).
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
    fitters: dict[str, Callable[[np.ndarray, np.ndarray], Calibrator]] = {
        "sigmoid": _fit_sigmoid,
        "beta": _fit_beta,
        "isotonic": _fit_spline_isotonic,
        "isotonic_step": _fit_isotonic,
    }
    if method not in fitters:
        raise ValueError(
            f"Unknown calibration method {method!r}; use one of {sorted(fitters)} or None."
        )
    if len(y) == 0 or y.min() == y.max():
        raise ValueError(
            f"fit_calibrator: the {len(y)} calibration rows hold only one class; both are needed."
        )
    return fitters[method](raw, y)


def fit_level_shift(calibrator: Calibrator, raw: np.ndarray, y: np.ndarray) -> Calibrator:
    """``calibrator`` with its level refitted on ``(raw, y)``: the one log-odds shift at which
    the mean predicted probability equals the observed rate (the maximum-likelihood intercept).

    Used with the latest out-of-fold block: a pooled calibrator averages the base rate over
    every block, and when the rate drifts (identifications rising or falling over the years) it
    under- or over-predicts at the level the final model will be scored at. Rows of one class
    only, or an empty block, leave the calibrator unchanged. The shift is bounded by
    ``_MAX_SHIFT``.
    """
    base = calibrator.base if isinstance(calibrator, LevelShiftedCalibrator) else calibrator
    y = np.asarray(y, dtype=np.float64)
    if len(y) == 0 or y.min() == y.max() or isinstance(base, IdentityCalibrator):
        return base
    p = np.clip(base.predict(np.asarray(raw, dtype=np.float64)), 1e-12, 1.0 - 1e-12)
    z = np.log(p) - np.log1p(-p)
    target = float(y.sum())
    shift = 0.0
    for _ in range(50):  # Newton on a convex, monotone equation: a handful of steps
        q = expit(z + shift)
        gap, slope = float(q.sum()) - target, float((q * (1.0 - q)).sum())
        if abs(gap) < 1e-9 * max(target, 1.0) or slope <= 0:
            break
        shift = float(np.clip(shift - gap / slope, -_MAX_SHIFT, _MAX_SHIFT))
    return LevelShiftedCalibrator(base=base, shift=shift)


def calibration_log_loss(y: np.ndarray, p: np.ndarray) -> float:
    """Mean log-loss of probabilities ``p`` (clipped to [1e-15, 1 - 1e-15])."""
    y = np.asarray(y, dtype=np.float64)
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-15, 1.0 - 1e-15)
    return float(-np.mean(y * np.log(p) + (1.0 - y) * np.log1p(-p)))


@dataclass(frozen=True)
class CalibratorChoice:
    """Which calibrator :func:`choose_calibrator` picked, and every candidate's figures.

    ``scores`` maps each candidate to ``log_loss`` and ``ece`` (10 equal-mass bins) pooled over
    the evaluation blocks, and ``rows``; ``reason`` says how the choice was made.
    """

    method: str
    scores: dict[str, dict[str, float]]
    reason: str


def fit_calibration(
    method: str | None,
    raw: np.ndarray,
    y: np.ndarray,
    block: np.ndarray,
    *,
    level: str = "latest_block",
    level_scores: tuple[np.ndarray, np.ndarray] | None = None,
) -> Calibrator:
    """The calibrator of out-of-fold raw scores from time blocks (``block`` numbers, the latest
    the largest): ``method`` fitted on every row (its shape), then its level (log-odds
    intercept) as ``level`` says (:func:`fit_level_shift`):

    - ``"pooled"``: kept, one level over every block;
    - ``"latest_block"``: refitted on the latest block's out-of-fold rows;
    - ``"final_latest"``: refitted on ``level_scores`` = (raw scores of the final booster on the
      latest block's rows, their outcomes), so that the model that will score, not the
      blocks' boosters trained on older rows, matches the latest observed rate. Without
      ``level_scores`` it is ``"pooled"``.
    """
    calibrator = fit_calibrator(method, raw, y)
    if level not in LEVELS:
        raise ValueError(f"Unknown calibration level {level!r}; use one of {list(LEVELS)}.")
    if level == "pooled" or method is None or len(block) == 0:
        return calibrator
    if level == "final_latest":
        if level_scores is None or len(level_scores[1]) == 0:
            return calibrator
        return fit_level_shift(calibrator, *level_scores)
    latest = np.asarray(block) == np.max(block)
    return fit_level_shift(calibrator, np.asarray(raw)[latest], np.asarray(y)[latest])


def choose_calibrator(
    blocks: list[tuple[np.ndarray, np.ndarray]],
    candidates: tuple[str, ...] = CANDIDATES,
    *,
    level: str = "pooled",
) -> CalibratorChoice:
    """Choose a calibrator on out-of-time log-loss by forward chaining over time blocks.

    ``blocks`` are ``(raw, y)`` out-of-fold raw scores and outcomes, oldest first. Each
    candidate is fitted on blocks ``0..j-1`` (with ``level="latest_block"`` its level refitted
    on block ``j-1``, as :func:`fit_calibration` does) and scored on block ``j`` (j >= 1, when
    the fitted blocks hold both classes); the candidate with the lowest pooled log-loss wins.
    With fewer than two usable blocks there is nothing out of time to score on: ``sigmoid``
    (two parameters, the least able to overfit) is chosen and ``reason`` says so.
    """
    from riskml.models._metrics import expected_calibration_error

    preds: dict[str, list[np.ndarray]] = {m: [] for m in candidates}
    ys: list[np.ndarray] = []
    for j in range(1, len(blocks)):
        raw_fit = np.concatenate([b[0] for b in blocks[:j]])
        y_fit = np.concatenate([b[1] for b in blocks[:j]])
        block_fit = np.concatenate([np.full(len(b[1]), i) for i, b in enumerate(blocks[:j])])
        raw_ev, y_ev = blocks[j]
        if len(y_ev) == 0 or len(y_fit) == 0 or y_fit.min() == y_fit.max():
            continue
        ys.append(np.asarray(y_ev, dtype=np.float64))
        for m in candidates:
            fitted = fit_calibration(
                m, raw_fit, y_fit, block_fit, level="pooled" if level == "final_latest" else level
            )
            preds[m].append(fitted.predict(raw_ev))
    if not ys:
        fallback = "sigmoid" if "sigmoid" in candidates else candidates[0]
        return CalibratorChoice(
            method=fallback,
            scores={},
            reason=f"fewer than two usable time blocks of out-of-fold scores: {fallback} "
            "(no out-of-time comparison possible)",
        )
    y_all = np.concatenate(ys)
    scores = {}
    for m in candidates:
        p = np.concatenate(preds[m])
        scores[m] = {
            "log_loss": calibration_log_loss(y_all, p),
            "ece": expected_calibration_error(y_all, p),
            "rows": float(len(y_all)),
        }
    best = min(candidates, key=lambda m: scores[m]["log_loss"])
    return CalibratorChoice(
        method=best,
        scores=scores,
        reason=f"lowest out-of-time log-loss over {len(ys)} forward-chained block(s)",
    )


def calibrator_from_dict(data: dict[str, Any]) -> Calibrator:
    """Rebuild a calibrator from its ``to_dict()`` form (also the step isotonic form that
    earlier riskml versions saved as ``isotonic``)."""
    if "level_shift" in data:
        base = calibrator_from_dict({k: v for k, v in data.items() if k != "level_shift"})
        if isinstance(base, LevelShiftedCalibrator):  # pragma: no cover - keys were removed
            base = base.base
        return LevelShiftedCalibrator(base=base, shift=float(data["level_shift"]))
    method = data.get("method")
    if method == "none":
        return IdentityCalibrator()
    if method == "isotonic" and "z" in data:
        x, z = tuple(float(v) for v in data["x"]), tuple(float(v) for v in data["z"])
        if len(x) != len(z) or not x:
            raise ValueError("isotonic calibrator needs equally long, non-empty 'x' and 'z' lists.")
        return SplineIsotonicCalibrator(
            x=x, z=z, slope_low=float(data["slope_low"]), slope_high=float(data["slope_high"])
        )
    if method in ("isotonic", "isotonic_step"):
        x, y = tuple(float(v) for v in data["x"]), tuple(float(v) for v in data["y"])
        if len(x) != len(y) or not x:
            raise ValueError("isotonic calibrator needs equally long, non-empty 'x' and 'y' lists.")
        return IsotonicCalibrator(x=x, y=y)
    if method == "sigmoid":
        return SigmoidCalibrator(a=float(data["a"]), b=float(data["b"]))
    if method == "beta":
        return BetaCalibrator(a=float(data["a"]), b=float(data["b"]), c=float(data["c"]))
    raise ValueError(
        f"Unknown calibrator method {method!r} in saved model; expected "
        "none/sigmoid/beta/isotonic/isotonic_step."
    )
