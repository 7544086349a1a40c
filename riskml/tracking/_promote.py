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
from riskml.tracking._store import TrackingError, open_store
from riskml.tracking._train import DEFAULT_MODEL_NAME, PRIMARY_METRICS

__all__ = ["PromotionDecision", "promote"]

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

    def summary(self) -> str:
        verdict = "MOVED" if self.moved else "NOT moved"
        return (
            f"champion {verdict}: {self.reason}. {self.name}@champion = v{self.champion_after} "
            f"(before: v{self.champion_before}, challenger: v{self.challenger}); basis: {self.basis}."
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


def promote(
    model_name: str = DEFAULT_MODEL_NAME,
    *,
    tracking_uri: str | None = None,
    data_dir: str | Path | None = None,
    config_path: str | Path | None = None,
    mapping: str | Path | None = None,
    primary_metrics: Sequence[str] = PRIMARY_METRICS,
    tolerance: float = 1e-6,
    min_history_months: int = DEFAULT_MIN_HISTORY_MONTHS,
    progress: Progress | None = None,
) -> PromotionDecision:
    """Move ``champion`` to the ``challenger`` version only if the challenger beats it.

    "Beats" is decided on the same backtest, metric by metric in ``primary_metrics`` order
    (default: recall at cadre capacity, then PR-AUC; the first metric that differs by more than
    ``tolerance`` decides, a tie keeps the champion):

    * When both versions' training runs logged a backtest with the same data fingerprint and
      fold definition (``riskml.backtest_fingerprint``), their logged pooled metrics are
      compared.
    * Otherwise, with ``data_dir``, both frozen models are re-evaluated on the backtest test folds
      of that bundle (:func:`riskml.tracking.evaluate_frozen`) and compared there.
    * Otherwise nothing moves, and the reason says to pass ``data_dir``.

    Without a champion the challenger becomes champion. The decision is recorded as tags on the
    registered model.
    """
    store = open_store(tracking_uri)
    client = store.client
    from mlflow.exceptions import MlflowException

    with store.active():
        try:
            client.get_registered_model(model_name)
        except MlflowException as exc:
            from riskml.tracking._load import registered_models_summary

            raise TrackingError(
                f"No registered model named {model_name!r} in {store.display_uri}. "
                + registered_models_summary(client)
            ) from exc
    champion = alias_version(store, model_name, CHAMPION)
    challenger = alias_version(store, model_name, CHALLENGER)
    empty = pd.DataFrame(
        columns=["metric", "champion", "challenger", "difference", "better", "primary"]
    )

    def decision(
        moved: bool, reason: str, basis: str, table: pd.DataFrame = empty, metric: str | None = None
    ) -> PromotionDecision:
        after = challenger if moved else champion
        if moved:
            with store.active():
                client.set_registered_model_alias(model_name, CHAMPION, str(challenger))
        with store.active():
            client.set_registered_model_tag(
                model_name,
                "riskml.last_promotion",
                json.dumps(
                    {
                        "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                        "moved": moved,
                        "from": champion,
                        "to": after,
                        "challenger": challenger,
                        "reason": reason,
                        "basis": basis,
                    },
                    ensure_ascii=False,
                )[:5000],
            )
        return PromotionDecision(
            model_name, moved, reason, champion, challenger, after, basis, table, metric
        )

    if challenger is None:
        return decision(False, "there is no challenger version", "none")
    if champion is None:
        return decision(True, "there was no champion", "none")
    if champion == challenger:
        return decision(False, f"the challenger (v{challenger}) already is the champion", "none")

    with store.active():
        champ_tags, champ_metrics = _run_info(client, model_name, champion)
        chall_tags, chall_metrics = _run_info(client, model_name, challenger)
    fp_a = champ_tags.get("riskml.backtest_fingerprint")
    fp_b = chall_tags.get("riskml.backtest_fingerprint")
    comparison: MetricComparison
    if fp_a and fp_a == fp_b:
        comparison = compare_metrics(
            _pooled_model_metrics(champ_metrics),
            _pooled_model_metrics(chall_metrics),
            primary_metrics,
            tolerance=tolerance,
            extra=_SHOWN,
        )
        basis = f"logged backtests (same data and folds, fingerprint {fp_a})"
    elif data_dir is not None:
        from riskml.tracking._evaluate import evaluate_frozen
        from riskml.tracking._load import load_risk_model
        from riskml.tracking._pipeline import load_inputs

        models = {
            "champion": load_risk_model(
                f"models:/{model_name}/{champion}", tracking_uri=store.tracking_uri
            ),
            "challenger": load_risk_model(
                f"models:/{model_name}/{challenger}", tracking_uri=store.tracking_uri
            ),
        }
        inputs = load_inputs(
            data_dir,
            config_path=config_path,
            mapping=mapping,
            min_history_months=min_history_months,
            progress=progress,
        )
        result = evaluate_frozen(models, inputs, progress=progress)
        comparison = compare_metrics(
            result.pooled("champion"),
            result.pooled("challenger"),
            primary_metrics,
            tolerance=tolerance,
            extra=_SHOWN,
        )
        basis = f"re-evaluation of both frozen models on {Path(data_dir)} (data fingerprint {result.data_fingerprint})"
    else:
        why = (
            "the two versions were backtested on different data or folds"
            if fp_a and fp_b
            else "a version has no logged backtest fingerprint"
        )
        return decision(
            False,
            f"{why}; cannot compare them: pass data_dir (riskml promote --data DIR) to re-evaluate both "
            "on the same rows",
            "none",
        )
    return decision(
        comparison.beats, comparison.reason, basis, comparison.table, comparison.deciding_metric
    )
