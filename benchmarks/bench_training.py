"""Training time of riskml's pipeline vs LightGBM alone on the same matrix (overhead ratio).

riskml's ``RecurrenceRiskModel.fit`` = encode the frame (categories frozen) + one early-stopped
``lightgbm.train`` per temporal cross-fitting block + calibrator choice on the blocks'
out-of-fold scores + the final booster on every row + frozen PSI reference bins. It is compared, in the same process and run, with:

- ``lgb_same_trees``: ``lightgbm.train`` on the *whole* matrix (pandas frame, native categorical)
  with the same parameters (``model.lightgbm_params()``) and riskml's final tree count, no
  validation set — "LightGBM alone on the same matrix" (riskml's final booster alone).
- ``lgb_same_slices``: the same blocks, early-stopped the same way, then that final booster —
  the identical boosting work, so the ratio is riskml's own overhead (encoding, calibration,
  reference bins).

Threads: the config's ``model.n_jobs`` (null = LightGBM's default, all cores), or the
``RISKML_BENCH_THREADS`` environment variable.

The matrix is a documented simulation shaped like riskml's household features (the feature
engine on a synthetic province would need far longer to build 1M rows than the fit itself):
quarterly as-of dates, ~40 columns of zero-inflated counts, heavy-tailed yuan amounts with 5 %
missing, ratios, two categorical columns (livelihood, last monitoring category) and a label at
about 3 % from a logistic model with interactions. Scales: ``full`` = 1,000,000 rows,
``small`` = 50,000 rows.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROWS = {"full": 1_000_000, "small": 50_000}
N_DATES = 16


def simulate_matrix(n_rows: int, *, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """A household-feature-like matrix, labels (~3 %) and quarterly as-of dates (sorted)."""
    rng = np.random.default_rng(seed)
    n = n_rows
    cols: dict[str, Any] = {}
    for i in range(12):  # event counts in a window: mostly zero
        cols[f"count_{i}"] = rng.poisson(rng.uniform(0.02, 0.6), n).astype(np.float64)
    for i in range(10):  # yuan amounts: zero-inflated lognormal, some missing
        v = np.where(rng.random(n) < rng.uniform(0.1, 0.6), rng.lognormal(8 + i % 3, 1.0, n), 0.0)
        v[rng.random(n) < 0.05] = np.nan
        cols[f"amount_{i}"] = v
    for i in range(10):  # ratios and shares
        cols[f"ratio_{i}"] = rng.beta(2, 3, n) * (1 + i % 3)
    for i in range(6):  # composition
        cols[f"members_{i}"] = rng.integers(0, 5, n).astype(np.float64)
    cols["months_since_event"] = np.where(rng.random(n) < 0.3, rng.integers(1, 60, n), np.nan)
    cols["livelihood"] = pd.Categorical(
        rng.choice(["farming", "pastoral", "agro_pastoral", "wage", "mixed"], n)
    )
    cols["last_monitoring_category"] = pd.Categorical(
        np.where(
            rng.random(n) < 0.85,
            None,
            rng.choice(["unstable_exited", "edge", "sudden_hardship"], n),
        ),
        categories=["unstable_exited", "edge", "sudden_hardship"],
    )
    X = pd.DataFrame(cols)
    logit = (
        -4.6
        + 0.5 * np.minimum(X["count_0"], 3)
        + 0.4 * np.log1p(X["amount_0"].fillna(0) / 5000)
        - 1.2 * X["ratio_0"]
        + 0.8 * (X["ratio_1"] < 0.3)
        + 0.6 * (X["livelihood"] == "pastoral") * (X["count_1"] > 0)
        + 0.7 * X["last_monitoring_category"].notna()
        + 0.3 * X["members_0"]
    )
    y = (rng.random(n) < 1 / (1 + np.exp(-logit.to_numpy()))).astype(np.int64)
    dates = pd.date_range("2019-01-01", periods=N_DATES, freq="3MS").to_numpy()
    as_of = np.sort(dates[rng.integers(0, N_DATES, n)])
    return X, y, as_of


def _timed(fn: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    out = fn()
    return time.perf_counter() - started, out


def run(scale: str, workdir: Path) -> dict[str, Any]:
    """Time riskml's fit and LightGBM alone; return seconds and overhead ratios."""
    import lightgbm as lgb

    from riskml.config.training import load_training_config
    from riskml.models import RecurrenceRiskModel, model_from_config

    n_rows = ROWS[scale]
    repeats = 2 if scale == "full" else 3  # interleaved; the minimum of each is reported
    X, y, as_of = simulate_matrix(n_rows)
    config = load_training_config()
    threads = os.environ.get("RISKML_BENCH_THREADS")  # e.g. 1 on a machine shared with others
    if threads:
        config = config.model_copy(
            update={"model": config.model.model_copy(update={"n_jobs": int(threads)})}
        )

    def fit_riskml() -> RecurrenceRiskModel:
        return model_from_config(config).fit(X, y, as_of=as_of)

    t_riskml, model = _timed(fit_riskml)
    params = model.lightgbm_params()
    rounds = model.n_boosting_rounds_
    cat = ["livelihood", "last_monitoring_category"]

    def lgb_same_trees() -> lgb.Booster:
        ds = lgb.Dataset(X, label=y, categorical_feature=cat, free_raw_data=True)
        return lgb.train(params, ds, num_boost_round=rounds)

    summary = model.training_summary_
    dates = pd.to_datetime(as_of)
    blocks = []
    for block in summary["blocks"]:
        train = np.asarray(dates <= pd.Timestamp(block["train_as_of_last"]))
        test = np.asarray(
            (dates >= pd.Timestamp(block["test_as_of_first"]))
            & (dates <= pd.Timestamp(block["test_as_of_last"]))
        )
        if train.sum() != block["train_rows"] or test.sum() != block["test_rows"]:
            raise RuntimeError("could not reproduce riskml's blocks from its training summary")
        blocks.append((train, test))

    def lgb_same_slices() -> lgb.Booster:
        """The same boosting work: every cross-fitting block (early stopping on its test
        rows), then the final booster on every row with riskml's tree count."""
        for train, test in blocks:
            dtrain = lgb.Dataset(X[train], label=y[train], categorical_feature=cat)
            dval = dtrain.create_valid(X[test], label=y[test])
            lgb.train(
                params,
                dtrain,
                num_boost_round=int(config.model.n_estimators),
                valid_sets=[dval],
                callbacks=[
                    lgb.early_stopping(int(config.model.early_stopping_rounds or 0), verbose=False)
                ],
            )
        return lgb_same_trees()

    t_same_trees, _ = _timed(lgb_same_trees)
    t_same_slices, _ = _timed(lgb_same_slices)
    for _ in range(repeats - 1):  # interleave so that machine noise hits every variant alike
        t_riskml = min(t_riskml, _timed(fit_riskml)[0])
        t_same_trees = min(t_same_trees, _timed(lgb_same_trees)[0])
        t_same_slices = min(t_same_slices, _timed(lgb_same_slices)[0])
    return {
        "rows": n_rows,
        "features": X.shape[1],
        "positive_rate": round(float(y.mean()), 4),
        "as_of_dates": N_DATES,
        "matrix": "simulated household-feature matrix (see module docstring)",
        "repeats": repeats,
        "threads": config.model.n_jobs or "lightgbm default (all cores)",
        "trees_kept": model.best_iteration_,
        "boosting_rounds_run": rounds,
        "crossfit_blocks": [
            {k: b[k] for k in ("train_rows", "test_rows", "best_iteration")}
            for b in summary["blocks"]
        ],
        "seconds_riskml_fit": round(t_riskml, 3),
        "seconds_lgb_same_trees_whole_matrix": round(t_same_trees, 3),
        "seconds_lgb_same_blocks_and_final": round(t_same_slices, 3),
        "overhead_ratio_vs_lgb_same_trees": round(t_riskml / t_same_trees, 3),
        "overhead_ratio_vs_lgb_same_slices": round(t_riskml / t_same_slices, 3),
        "note": "riskml boosts one booster per temporal cross-fitting block (early-stopped) and "
        "then the final booster on every row; lgb_same_trees is that final booster alone, "
        "lgb_same_slices does the identical boosting work (blocks + final).",
    }
