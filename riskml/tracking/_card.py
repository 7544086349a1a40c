"""The model card logged with every registered model (``model_card.md`` + ``model_card.json``).

A card says what the model is for (decision support for the village review, never an
automatic label), what data it learnt from (period and counts, no personal data), how well it
did against the baselines on a temporal backtest, how it behaves by subgroup, and its limits.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

__all__ = ["INTENDED_USE", "build_model_card", "render_model_card"]

INTENDED_USE = (
    "Decision support for the village review (民主评议) in the dynamic monitoring to prevent "
    "return to poverty: the score ranks households not yet under monitoring by their risk of "
    "being identified as a monitoring object within the horizon, so that cadres can plan home "
    "visits. It is never an automatic label: every flagged household goes through the home check, "
    "data cross-check, village review, public notice and township/county approval, and a "
    "household that is not flagged can still apply or be found by department screening."
)

NOT_INTENDED = (
    "Deciding identification, risk elimination, benefits or sanctions without human review.",
    "Ranking individuals, or any use outside the province and period it was trained for without "
    "re-validation.",
    "Publishing scores; reports read at village meetings must not show diagnoses or ID numbers.",
)

_STANDARD_LIMITATIONS = (
    "Labels are administrative: a household counts as positive when it was identified as a "
    "monitoring object, so the model learns where the current system finds households, including "
    "its blind spots (households never visited stay negative).",
    "Point-in-time features use only what was recorded on or before each as-of date; data that "
    "arrives late in the real system (income verified months after the year) is treated as unknown "
    "until it was recorded.",
    "Subgroup metrics on small groups are noisy; gaps listed above are descriptive, not tests.",
    "Rules, thresholds and label definitions change (routine monitoring from 2026): re-train and "
    "re-validate after such changes, and watch drift (PSI) on every scoring run.",
    "Ethnicity is used only for the fairness audit, never as a feature.",
)


def _clean(value: Any) -> Any:
    """JSON-safe scalars (NaN → None, numpy → Python, dates → ISO)."""
    if isinstance(value, Mapping):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        value = value.item()
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else round(value, 6)
    if isinstance(value, dt.datetime | dt.date | pd.Timestamp):
        return value.isoformat()[:10]
    return value


def _records(frame: pd.DataFrame | None) -> list[dict[str, Any]]:
    if frame is None or len(frame) == 0:
        return []
    named = any(n is not None for n in frame.index.names)
    flat = frame.reset_index() if named else frame.reset_index(drop=True)
    return [_clean(rec) for rec in flat.to_dict(orient="records")]


def _limitations(extra: Sequence[str], positives: Any) -> list[str]:
    limitations = list(_STANDARD_LIMITATIONS) + list(extra)
    if isinstance(positives, int | float) and positives < 100:
        limitations.append(
            f"Only {int(positives)} positive examples: metrics have wide uncertainty."
        )
    return limitations


def _calibration_records(calibration: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if calibration is None:
        return None
    return {k: (_records(v) if isinstance(v, pd.DataFrame) else v) for k, v in calibration.items()}


def build_model_card(
    *,
    model_name: str,
    feature_set: Mapping[str, Any],
    training: Mapping[str, Any],
    data: Mapping[str, Any],
    metrics: pd.DataFrame,
    baselines: Sequence[str],
    subgroups: pd.DataFrame | None = None,
    subgroup_gaps: pd.DataFrame | None = None,
    extra_limitations: Sequence[str] = (),
    version: str | None = None,
    run_id: str | None = None,
    calibration: Mapping[str, Any] | None = None,
    risk_types: pd.DataFrame | None = None,
) -> dict[str, Any]:
    """Assemble the card as a JSON-ready dict.

    Parameters
    ----------
    model_name, version, run_id
        Registry name, version (when known) and MLflow run.
    feature_set
        ``name``, ``version``, ``catalog_version``, ``n_features``.
    training
        ``horizon_months``, ``label_definition``, ``as_of_first``, ``as_of_last``, and the
        backtest's fold definition.
    data
        Aggregates only: ``extracted_on``, ``households``, ``rows``, ``positives``,
        ``positive_rate``, ``data_fingerprint``. Never identifiers, names or ID numbers.
    metrics
        Pooled backtest metrics, one row per scorer (the model and every baseline).
    baselines
        Names of the baselines compared with.
    subgroups, subgroup_gaps
        The fairness table (metrics by subgroup) and, optionally, its largest gaps.
    calibration
        ``final_model`` (the chosen calibrator, why, and its candidates' out-of-time figures),
        ``backtest_choice_by_fold``, ``compared`` (every calibrator's pooled out-of-fold figures,
        a DataFrame) and ``top_decile`` (calibration by decile within the top 10 %, before and
        after, a DataFrame).
    risk_types
        Recall at capacity by recorded risk type, per method, with counts.
    """
    return _clean(
        {
            "model": {
                "name": model_name,
                "version": version,
                "run_id": run_id,
                "created": dt.date.today().isoformat(),
                "feature_set": dict(feature_set),
            },
            "intended_use": INTENDED_USE,
            "not_intended_for": list(NOT_INTENDED),
            "training": dict(training),
            "data": {
                **dict(data),
                "personal_data": "none (aggregates only; no ids, names or ID numbers)",
            },
            "metrics": _records(metrics),
            "baselines": list(baselines),
            "calibration": _calibration_records(calibration),
            "recall_by_risk_type": _records(risk_types),
            "subgroups": _records(subgroups),
            "subgroup_gaps": _records(subgroup_gaps),
            "limitations": _limitations(extra_limitations, data.get("positives")),
        }
    )


def _md_table(records: Sequence[Mapping[str, Any]]) -> str:
    if not records:
        return "_(none)_"
    columns = list(dict.fromkeys(k for rec in records for k in rec))

    def fmt(v: Any) -> str:
        if v is None:
            return ""
        if isinstance(v, float):
            if v.is_integer() and abs(v) >= 1000:
                return f"{int(v):,}"
            return f"{v:.4g}"
        if isinstance(v, int) and not isinstance(v, bool) and abs(v) >= 1000:
            return f"{v:,}"
        return str(v).replace("|", "\\|")

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(fmt(rec.get(c)) for c in columns) + " |" for rec in records]
    return "\n".join(lines)


def _md_kv(mapping: Mapping[str, Any]) -> str:
    return "\n".join(
        f"- **{k}**: {json.dumps(v, ensure_ascii=False) if isinstance(v, dict | list) else v}"
        for k, v in mapping.items()
    )


def render_model_card(card: Mapping[str, Any]) -> str:
    """Render a card from :func:`build_model_card` as Markdown."""
    model = card["model"]
    title = model["name"] + (f" v{model['version']}" if model.get("version") else "")
    parts = [
        f"# Model card: {title}",
        _md_kv({k: v for k, v in model.items() if k not in ("name", "feature_set")}),
        "## Intended use",
        card["intended_use"],
        "**Not intended for:**",
        "\n".join(f"- {x}" for x in card["not_intended_for"]),
        "## Model",
        _md_kv(model.get("feature_set", {})),
        "## Training and evaluation",
        _md_kv(card["training"]),
        "## Data",
        _md_kv(card["data"]),
        "## Metrics (pooled temporal backtest)",
        "Baselines: " + (", ".join(card["baselines"]) or "none"),
        _md_table(card["metrics"]),
    ]
    if card.get("recall_by_risk_type"):
        parts += [
            "## Recall at capacity by recorded risk type",
            "Positives by `risk_1` of the identification the label counts; flagged = households "
            "of that type within capacity (expected count under ties), for the model and every "
            "baseline.",
            _md_table(card["recall_by_risk_type"]),
        ]
    cal = card.get("calibration")
    if cal:
        final = cal.get("final_model") or {}
        parts += [
            "## Calibration",
            f"The final model's calibrator: **{final.get('method')}** ({final.get('reason')}), "
            f"fitted on {final.get('fitted_on_out_of_fold_rows')} out-of-fold rows of temporal "
            "cross-fitting. Every candidate maps raw scores strictly increasingly: households "
            "the model separates get distinct probabilities, never exactly 0 or 1.",
        ]
        if final.get("candidates"):
            parts.append(_md_table([{"candidate": k, **v} for k, v in final["candidates"].items()]))
        parts += [
            "### Calibrators compared in the backtest (out of time)",
            "Chosen per fold: "
            + ", ".join(f"fold {k}: {v}" for k, v in cal.get("backtest_choice_by_fold", {}).items())
            + ". `isotonic_step` is the step-wise isotonic map used before (plateaus).",
            _md_table(cal.get("compared", [])),
            "### Calibration by decile within the top 10 %, before and after",
            "Top 10 % of each as-of date by the model's raw score, pooled and cut into ten bins "
            "(1 = highest); observed rate with a 95 % Wilson interval.",
            _md_table(cal.get("top_decile", [])),
        ]
    parts += [
        "## Subgroups",
        _md_table(card["subgroups"]),
    ]
    if card.get("subgroup_gaps"):
        parts += ["### Largest gaps", _md_table(card["subgroup_gaps"])]
    parts += ["## Limitations", "\n".join(f"- {x}" for x in card["limitations"])]
    return "\n\n".join(parts) + "\n"
