"""``promote``: move ``champion`` to the challenger only when it beats the champion on the same
backtest."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from riskml.tracking._pipeline import DEFAULT_MIN_HISTORY_MONTHS, Progress
from riskml.tracking._registry import (
    CHALLENGER,
    CHAMPION,
    MetricComparison,
    alias_version,
    compare_metrics,
)
from riskml.tracking._store import TrackingError, TrackingStore, open_store
from riskml.tracking._train import DEFAULT_MODEL_NAME, PRIMARY_METRICS

__all__ = ["DEFAULT_MIN_IMPROVEMENT", "EXIT_KEPT", "EXIT_PROMOTED", "PromotionDecision", "promote"]

DEFAULT_MIN_IMPROVEMENT = 0.02
"""How much better (absolute, in the metric's own units) the challenger must be to replace the
champion. A smaller difference is a tie, and a tie keeps the champion: on a backtest of a few
thousand positives, recall at capacity moves by about 0.01 between two fits of the same model."""

EXIT_PROMOTED = 0
"""``riskml promote`` exit code: the challenger became champion."""
EXIT_KEPT = 3
"""``riskml promote`` exit code: the champion was kept (not promoted), the reason printed."""

_SHOWN = ("roc_auc", "pr_auc", "recall_at_capacity", "precision_at_capacity", "brier", "ece")


@dataclass
class PromotionDecision:
    """What :func:`promote` decided and why."""

    name: str
    moved: bool
    reason: str
    champion_before: str | None
    challenger: str | None
    champion_after: str | None
    basis: str
    """``"logged backtests"`` (same data and folds), ``"re-evaluation on <dir>"`` or ``"none"``."""
    comparison: pd.DataFrame
    deciding_metric: str | None = None
    """The metric that decided (``None``: no comparison, or a tie)."""
    metrics: tuple[str, ...] = ()
    """The metrics compared, in order."""
    min_improvement: float = DEFAULT_MIN_IMPROVEMENT
    """The smallest difference that counts (smaller ones are ties)."""

    @property
    def exit_code(self) -> int:
        """:data:`EXIT_PROMOTED` (0) when the champion moved, else :data:`EXIT_KEPT` (3)."""
        return EXIT_PROMOTED if self.moved else EXIT_KEPT

    def summary(self) -> str:
        verdict = "MOVED" if self.moved else "NOT moved"
        return (
            f"champion {verdict}: {self.reason}. {self.name}@champion = v{self.champion_after} "
            f"(before: v{self.champion_before}, challenger: v{self.challenger}); basis: {self.basis}"
            + (
                f"; compared on {', '.join(self.metrics)} with a minimum improvement of "
                f"{self.min_improvement:g}."
                if self.metrics and self.basis != "none"
                else "."
            )
        )


def _run_info(client: Any, name: str, version: str) -> tuple[dict[str, str], dict[str, float]]:
    mv = client.get_model_version(name, version)
    if not mv.run_id:
        return {}, {}
    run = client.get_run(mv.run_id)
    return dict(run.data.tags), dict(run.data.metrics)


def _pooled_model_metrics(metrics: dict[str, float]) -> dict[str, float]:
    prefix = "pooled.model."
    return {k[len(prefix) :]: v for k, v in metrics.items() if k.startswith(prefix)}


def _chosen_metrics(metrics: str | Sequence[str] | None, min_improvement: float) -> tuple[str, ...]:
    """The metrics to compare, in order (checked), after checking ``min_improvement``."""
    chosen = (metrics,) if isinstance(metrics, str) else tuple(metrics or PRIMARY_METRICS)
    if not chosen or not all(isinstance(m, str) and m.strip() for m in chosen):
        raise ValueError(
            f"metrics must name at least one backtest metric (e.g. pr_auc). Got {metrics!r} instead."
        )
    if not (isinstance(min_improvement, (int, float)) and 0 <= min_improvement < 1):
        raise ValueError(
            "min_improvement must be a number in [0, 1) (absolute, in the metric's units, e.g. "
            f"0.02). Got {min_improvement!r} instead."
        )
    return tuple(m.strip() for m in chosen)


def _require_registered(store: TrackingStore, model_name: str) -> None:
    from mlflow.exceptions import MlflowException

    with store.active():
        try:
            store.client.get_registered_model(model_name)
        except MlflowException as exc:
            from riskml.tracking._load import registered_models_summary

            raise TrackingError(
                f"No registered model named {model_name!r} in {store.display_uri}. "
                + registered_models_summary(store.client)
            ) from exc


_EMPTY_COMPARISON = ("metric", "champion", "challenger", "difference", "better", "primary")


@dataclass(frozen=True)
class _Promotion:
    """One promotion under way: the two versions, the metrics and the rule that decides."""

    store: TrackingStore
    name: str
    champion: str | None
    challenger: str | None
    chosen: tuple[str, ...]
    min_improvement: float

    def decide(
        self,
        moved: bool,
        reason: str,
        basis: str,
        table: pd.DataFrame | None = None,
        metric: str | None = None,
    ) -> PromotionDecision:
        """Move the alias (when ``moved``), record the decision as a tag and return it."""
        client = self.store.client
        after = self.challenger if moved else self.champion
        if moved:
            with self.store.active():
                client.set_registered_model_alias(self.name, CHAMPION, str(self.challenger))
        record = {
            "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "moved": moved,
            "from": self.champion,
            "to": after,
            "challenger": self.challenger,
            "reason": reason,
            "basis": basis,
        }
        with self.store.active():
            client.set_registered_model_tag(
                self.name, "riskml.last_promotion", json.dumps(record, ensure_ascii=False)[:5000]
            )
        return PromotionDecision(
            self.name,
            moved,
            reason,
            self.champion,
            self.challenger,
            after,
            basis,
            pd.DataFrame(columns=list(_EMPTY_COMPARISON)) if table is None else table,
            metric,
            self.chosen,
            float(self.min_improvement),
        )

    def compare(self, champ: dict[str, float], chall: dict[str, float]) -> MetricComparison:
        unknown = [m for m in self.chosen if m not in champ and m not in chall]
        if unknown:
            logged = sorted(set(champ) | set(chall))
            raise TrackingError(
                f"Metric(s) {', '.join(unknown)} were logged for neither version; choose from "
                f"{', '.join(logged) or '(none logged)'} (riskml promote --metric NAME)."
            )
        return compare_metrics(
            champ,
            chall,
            self.chosen,
            tolerance=float(self.min_improvement),
            extra=_SHOWN,
            inclusive=True,
        )


def _reevaluate(
    p: _Promotion,
    data_dir: str | Path,
    *,
    config_path: str | Path | None,
    mapping: str | Path | None,
    min_history_months: int,
    progress: Progress | None,
) -> tuple[MetricComparison, str]:
    """Compare both frozen models on the backtest test folds of ``data_dir``."""
    from riskml.tracking._evaluate import evaluate_frozen
    from riskml.tracking._load import load_risk_model
    from riskml.tracking._pipeline import load_inputs

    uri = p.store.tracking_uri
    models = {
        "champion": load_risk_model(f"models:/{p.name}/{p.champion}", tracking_uri=uri),
        "challenger": load_risk_model(f"models:/{p.name}/{p.challenger}", tracking_uri=uri),
    }
    inputs = load_inputs(
        data_dir,
        config_path=config_path,
        mapping=mapping,
        min_history_months=min_history_months,
        progress=progress,
    )
    result = evaluate_frozen(models, inputs, progress=progress)
    comparison = p.compare(result.pooled("champion"), result.pooled("challenger"))
    basis = f"re-evaluation of both frozen models on {Path(data_dir)} (data fingerprint {result.data_fingerprint})"
    return comparison, basis


def promote(
    model_name: str = DEFAULT_MODEL_NAME,
    *,
    tracking_uri: str | None = None,
    data_dir: str | Path | None = None,
    config_path: str | Path | None = None,
    mapping: str | Path | None = None,
    metrics: str | Sequence[str] | None = None,
    min_improvement: float = DEFAULT_MIN_IMPROVEMENT,
    min_history_months: int = DEFAULT_MIN_HISTORY_MONTHS,
    progress: Progress | None = None,
) -> PromotionDecision:
    """Move ``champion`` to the ``challenger`` version only if the challenger beats it.

    "Beats" is decided on the same backtest, metric by metric in ``metrics`` order (default:
    recall at cadre capacity, then PR-AUC). The first metric on which the two versions differ by
    at least ``min_improvement`` (absolute, in the metric's units; default
    :data:`DEFAULT_MIN_IMPROVEMENT`) decides: better by that much promotes, worse by that much
    keeps the champion. Smaller differences are ties; a tie on every metric keeps the champion.
    A metric that neither version logged is an error naming the metrics they did log.

    * When both versions' training runs logged a backtest with the same data fingerprint and
      fold definition (``riskml.backtest_fingerprint``), their logged pooled metrics are
      compared.
    * Otherwise, with ``data_dir``, both frozen models are re-evaluated on the backtest test folds
      of that bundle (:func:`riskml.tracking.evaluate_frozen`) and compared there.
    * Otherwise nothing moves, and the reason says to pass ``data_dir``.

    Without a champion the challenger becomes champion. The decision is recorded as tags on the
    registered model. ``PromotionDecision.exit_code`` is what ``riskml promote`` exits with:
    0 promoted, 3 kept.
    """
    chosen = _chosen_metrics(metrics, min_improvement)
    store = open_store(tracking_uri)
    _require_registered(store, model_name)
    champion = alias_version(store, model_name, CHAMPION)
    challenger = alias_version(store, model_name, CHALLENGER)
    p = _Promotion(store, model_name, champion, challenger, chosen, min_improvement)
    if challenger is None:
        return p.decide(False, "there is no challenger version", "none")
    if champion is None:
        return p.decide(True, "there was no champion", "none")
    if champion == challenger:
        return p.decide(False, f"the challenger (v{challenger}) already is the champion", "none")

    with store.active():
        champ_tags, champ_metrics = _run_info(store.client, model_name, champion)
        chall_tags, chall_metrics = _run_info(store.client, model_name, challenger)
    fp_a = champ_tags.get("riskml.backtest_fingerprint")
    fp_b = chall_tags.get("riskml.backtest_fingerprint")
    if fp_a and fp_a == fp_b:
        comparison = p.compare(
            _pooled_model_metrics(champ_metrics), _pooled_model_metrics(chall_metrics)
        )
        basis = f"logged backtests (same data and folds, fingerprint {fp_a})"
    elif data_dir is not None:
        comparison, basis = _reevaluate(
            p,
            data_dir,
            config_path=config_path,
            mapping=mapping,
            min_history_months=min_history_months,
            progress=progress,
        )
    else:
        why = (
            "the two versions were backtested on different data or folds"
            if fp_a and fp_b
            else "a version has no logged backtest fingerprint"
        )
        return p.decide(
            False,
            f"{why}; cannot compare them: pass data_dir (riskml promote --data DIR) to re-evaluate both "
            "on the same rows",
            "none",
        )
    return p.decide(
        comparison.beats, comparison.reason, basis, comparison.table, comparison.deciding_metric
    )
