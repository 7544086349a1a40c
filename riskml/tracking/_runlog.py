"""What goes into an MLflow run: flattened params, metric keys, artifact folders.

Privacy: only configuration, aggregates and hashes are logged — never household ids, names or
ID numbers. Where an id must appear (it never needs to in training runs), use
:func:`pseudonymise` (keyed hash).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "flatten_params",
    "metric_key",
    "metrics_from_backtest",
    "pseudonymise",
]

_MAX_PARAM_LEN = 6000
_UNSAFE = re.compile(r"[^A-Za-z0-9_\-./ ]")


def pseudonymise(values: Iterable[str], *, key: str | bytes | None = None) -> list[str]:
    """Keyed hashes (HMAC-SHA256, 16 hex digits) of identifiers, for logs and MLflow.

    The key comes from ``RISKML_PSEUDONYM_KEY``; without one the hashes are still one-way but
    could be recomputed by anyone holding the ids, so set it in production.
    """
    raw = key if key is not None else os.environ.get("RISKML_PSEUDONYM_KEY", "riskml")
    k = raw.encode() if isinstance(raw, str) else raw
    return [hmac.new(k, str(v).encode(), hashlib.sha256).hexdigest()[:16] for v in values]


def _param_value(value: Any) -> str:
    if isinstance(value, list | tuple | dict):
        text = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    else:
        text = str(value)
    return text if len(text) <= _MAX_PARAM_LEN else text[: _MAX_PARAM_LEN - 1] + "…"


def flatten_params(data: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested config → ``{"model.num_leaves": "31", ...}`` (lists kept as JSON)."""
    out: dict[str, str] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten_params(value, prefix=f"{name}."))
        else:
            out[name] = _param_value(value)
    return out


def metric_key(*parts: str) -> str:
    """An MLflow-safe metric name from parts, e.g. ``pooled.model.roc_auc``."""
    return ".".join(_UNSAFE.sub("_", str(p)) for p in parts)


def metrics_from_backtest(
    metrics: pd.DataFrame, table: pd.DataFrame | None = None
) -> dict[str, float]:
    """Tidy backtest metrics (``fold, method, metric, value``) → ``fold{i}.{method}.{metric}``
    and ``pooled.{method}.{metric}``; plus the pooled table's comparison ratios. NaN is skipped."""
    out: dict[str, float] = {}
    for fold, method, metric, value in metrics[["fold", "method", "metric", "value"]].itertuples(
        index=False
    ):
        if value is None or (isinstance(value, float) and math.isnan(value)):
            continue
        scope = "pooled" if str(fold) == "pooled" else f"fold{fold}"
        out[metric_key(scope, method, metric)] = float(value)
    if table is not None:
        for method, row in table.iterrows():
            for metric, value in row.items():
                key = metric_key("pooled", str(method), str(metric))
                if key not in out and value is not None and np.isfinite(value):
                    out[key] = float(value)
    return out
