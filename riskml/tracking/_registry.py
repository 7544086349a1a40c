"""The model registry: registering versions and the ``champion`` / ``challenger`` aliases.

A new version becomes ``challenger``; it becomes ``champion`` only through
:func:`riskml.tracking.promote` (or automatically when there is no champion yet). Stages are
deprecated in MLflow 3: riskml uses aliases only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from riskml.tracking._store import TrackingError, TrackingStore

__all__ = [
    "CHALLENGER",
    "CHAMPION",
    "MetricComparison",
    "alias_version",
    "compare_metrics",
    "register_version",
]

CHAMPION = "champion"
CHALLENGER = "challenger"

_DESCRIPTION = (
    "riskml recurrence-risk model: probability that a household not under monitoring is "
    "identified as a monitoring object within the horizon. Decision support for the village "
    "review, never an automatic label. See each version's model_card.md."
)


def alias_version(store: TrackingStore, name: str, alias: str) -> str | None:
    """The version an alias points at, or ``None`` when the alias (or the model) is absent."""
    from mlflow.exceptions import MlflowException

    with store.active():
        try:
            return str(store.client.get_model_version_by_alias(name, alias).version)
        except MlflowException:
            return None


def register_version(
    store: TrackingStore,
    *,
    name: str,
    model_uri: str,
    tags: Mapping[str, str] | None = None,
) -> tuple[str, list[str]]:
    """Register ``model_uri`` as a new version of ``name`` and set its aliases.

    The new version gets ``challenger``; it also gets ``champion`` when no champion exists.

    Returns
    -------
    (version, aliases)
    """
    import mlflow
    from mlflow.exceptions import MlflowException

    client = store.client
    with store.active():
        try:
            mv = mlflow.register_model(model_uri, name, tags=dict(tags or {}))
        except MlflowException as exc:
            raise TrackingError(
                f"Cannot register {model_uri} as a version of {name!r} in {store.display_uri}: "
                f"{exc.message}"
            ) from exc
        version = str(mv.version)
        if not client.get_registered_model(name).description:
            client.update_registered_model(name, description=_DESCRIPTION)
        client.set_registered_model_alias(name, CHALLENGER, version)
        aliases = [CHALLENGER]
        if alias_version(store, name, CHAMPION) is None:
            client.set_registered_model_alias(name, CHAMPION, version)
            aliases.append(CHAMPION)
    return version, aliases


@dataclass(frozen=True)
class MetricComparison:
    """Champion vs challenger on the same backtest."""

    beats: bool
    deciding_metric: str | None
    reason: str
    table: pd.DataFrame


_LOWER_IS_BETTER = ("brier", "ece", "log_loss", "logloss", "calibration_error")


def _higher_is_better(metric: str) -> bool:
    return not any(token in metric for token in _LOWER_IS_BETTER)


def compare_metrics(
    champion: Mapping[str, float],
    challenger: Mapping[str, float],
    primary: Sequence[str],
    *,
    tolerance: float = 1e-6,
    extra: Sequence[str] = (),
    inclusive: bool = False,
) -> MetricComparison:
    """Decide whether the challenger beats the champion, metric by metric in ``primary`` order.

    The first metric on which the two differ by more than ``tolerance`` (``inclusive``: by at
    least ``tolerance``) decides; a tie on every primary metric keeps the champion (the
    challenger must *beat* it). A metric missing (or NaN) for either model cannot decide and is
    skipped. ``extra`` metrics are only shown.
    """
    rows: list[dict[str, Any]] = []
    decided: tuple[bool, str, str] | None = None
    for metric in [*primary, *[m for m in extra if m not in primary]]:
        a, b = champion.get(metric), challenger.get(metric)
        a = float(a) if a is not None else math.nan
        b = float(b) if b is not None else math.nan
        higher = _higher_is_better(metric)
        rows.append(
            {
                "metric": metric,
                "champion": a,
                "challenger": b,
                "difference": b - a,
                "better": "higher" if higher else "lower",
                "primary": metric in primary,
            }
        )
        if decided is not None or metric not in primary or math.isnan(a) or math.isnan(b):
            continue
        gap = abs(b - a)
        if (gap < tolerance - 1e-12) if inclusive else (gap <= tolerance):
            continue
        wins = (b > a) if higher else (b < a)
        verdict = "beats" if wins else "does not beat"
        decided = (wins, metric, f"challenger {verdict} champion on {metric} ({b:.4f} vs {a:.4f})")
    table = pd.DataFrame(
        rows, columns=["metric", "champion", "challenger", "difference", "better", "primary"]
    )
    if decided is None:
        usable = [
            m
            for m in primary
            if not (
                math.isnan(float(champion.get(m, math.nan)))
                or math.isnan(float(challenger.get(m, math.nan)))
            )
        ]
        if not usable:
            return MetricComparison(
                False,
                None,
                f"no primary metric ({', '.join(primary)}) is available for both models",
                table,
            )
        within = f" (no difference of {tolerance:g} or more)" if tolerance >= 1e-4 else ""
        return MetricComparison(
            False, None, f"tie on every primary metric{within}: the champion stays", table
        )
    return MetricComparison(decided[0], decided[1], decided[2], table)
