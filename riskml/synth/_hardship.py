"""Latent hardship, cadre identification and the true risk (ground truth) of every household.

The generator's monitoring process is a small Markov chain per household:

* a household not under monitoring is in latent hardship (``H = 1``) or not (``H = 0``);
* each month cadres identify a household in hardship with probability ``r`` (its cause's
  detection rate times the village's diligence, capped) and a household without hardship with
  the small false-identification rate ``f``;
* after that, ``H = 1`` recovers with probability ``b`` (by cause), and ``H = 0`` falls into
  hardship with probability ``a``: persistent state (low income ratio, medical burden, chronic
  illness, disability, no able worker) gives a base hazard, and shocks that happen this month
  (serious illness, disaster, job loss, ...) add their onset probabilities;
* a monitored household is eliminated (risk removed) with a monthly probability after the
  minimum monitoring time, and becomes eligible again with ``H = 0``.

Ground truth. ``p_month`` is exactly the probability the generator uses to draw an
identification that month. ``p_12m`` is the probability of at least one new identification in
the month and the 11 after it, computed from the household's state at the start of the month by
running the chain forward from that state: the onset hazard is its *expected* value under the
current shock rates, ``a = 1 - exp(-base) * prod_k(1 - rate_k * onset_k)``, so no future shock that
happened to occur is used. The medical-burden part of the base hazard is projected month by
month (bills already paid leave the 12-month window; new out-of-pocket costs arrive at their
expected rate); everything else is held at its current value: ageing, income changes within the
horizon and disaster seasons are not projected (the approximation; the truth's mean matches the
realised identification rate within a few percent, see ``tests/synth``).
"""

from __future__ import annotations

import numpy as np

__all__ = ["twelve_month_probability"]


def twelve_month_probability(
    *,
    t: int,
    monitoring_start: int,
    monitored: np.ndarray,
    months_monitored: np.ndarray,
    elimination: np.ndarray,
    min_months: int,
    hardship: np.ndarray,
    r_current: np.ndarray,
    b_current: np.ndarray,
    r_new: np.ndarray,
    b_new: np.ndarray,
    false_rate: np.ndarray,
    onset: np.ndarray,
    horizon: int = 12,
) -> tuple[np.ndarray, np.ndarray]:
    """``(p_month, p_horizon)`` for every household from its state at the start of month ``t``.

    Parameters
    ----------
    monitored, hardship : bool arrays
        Under monitoring / in latent hardship at the start of the month.
    months_monitored : int array
        Months since identification (for monitored households).
    elimination : float array
        Monthly elimination probability once ``min_months`` have passed.
    r_current, b_current : float arrays
        Detection and recovery rates of the current hardship's cause.
    r_new, b_new : float arrays
        The same for hardship that starts later (weighted by the cause mix of the onset hazard).
    false_rate : float array
        Monthly false-identification probability of a household without hardship.
    onset : float array, shape ``(n,)`` or ``(horizon, n)``
        Expected monthly probability of falling into hardship (per month ahead when 2-D).
    """
    m = monitored.astype(np.float64)
    n1c = (~monitored & hardship).astype(np.float64)
    n1n = np.zeros_like(m)
    n0 = (~monitored & ~hardship).astype(np.float64)
    identified = np.zeros_like(m)
    p_month = np.zeros_like(m)
    for k in range(horizon):
        if t + k >= monitoring_start:
            idp = n1c * r_current + n1n * r_new + n0 * false_rate
            identified += idp
            if k == 0:
                p_month = idp.copy()
            n1c = n1c * (1.0 - r_current)
            n1n = n1n * (1.0 - r_new)
            n0 = n0 * (1.0 - false_rate)
        due = (months_monitored + k) >= min_months
        out = m * np.where(due, elimination, 0.0)
        m = m - out
        n0 = n0 + out
        new = n0 * (onset[k] if onset.ndim == 2 else onset)
        rec_c = n1c * b_current
        rec_n = n1n * b_new
        n0 = n0 - new + rec_c + rec_n
        n1c = n1c - rec_c
        n1n = n1n - rec_n + new
    return p_month, np.clip(identified, 0.0, 1.0)
