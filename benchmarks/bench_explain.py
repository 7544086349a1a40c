"""Exact TreeSHAP for a whole roster: ``riskml.explain.tree_shap`` vs LightGBM ``pred_contrib``.

Data: riskml's own features. A synthetic province (``riskml.synth.generate_province``) goes
through the feature engine (catalog set ``default``): the model is trained on
``build_training_set`` at four yearly as-of dates, and the roster is ``compute_features`` for
every household at several monthly as-of dates (each row a real (household, as_of) feature
vector: counts that are mostly zero, flags, ratios, yuan amounts, three categorical columns).
Scales: ``small`` = 50,000 roster rows (10,000 households x 5 dates), ``full`` = 1,000,000 rows
(50,000 households x 20 dates). The roster is cached in ``workdir`` (Parquet) between runs.

For each model (300 trees; 15 and 31 leaves) it measures, in the same process:

- ``pred_contrib`` rows/s on a subsample (exact TreeSHAP row by row is slow; the full-roster
  time is *extrapolated* from the subsample, and said so), four times, interleaved with three
  runs of the default tree_shap (the machine is shared: the medians are compared, not one shot
  each);
- ``tree_shap`` rows/s on all roster rows (a fresh explainer each run; numba compilation is
  done once beforehand and reported separately), with its phase breakdown: with the default
  units of at most 8 leaves (three runs, the median reported, every run's time listed), and
  once with whole trees (``max_group_leaves=None``);
- the ratios (wall clock and CPU time: other engineers share the 2 cores, the load average is
  recorded), the max abs difference vs ``pred_contrib`` on the subsample, distinct decision
  patterns per tree (median/max), and the distinct *full* patterns over all trees on the
  subsample (the "one pred_contrib call on unique rows" alternative);
- ``reason_codes`` rows/s (internal mode, real catalog templates) on up to 200,000 rows.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

SCALES: dict[str, dict[str, int]] = {
    "small": {"households": 10_000, "roster_dates": 5, "contrib_sample": 10_000, "seed": 11},
    "full": {"households": 50_000, "roster_dates": 20, "contrib_sample": 20_000, "seed": 11},
}
TRAIN_AS_OF = ["2021-06-30", "2022-06-30", "2023-06-30", "2024-06-30"]
TREES = 300
LEAVES = (15, 31)
REASON_ROWS = 200_000
REPEATS = 3  # interleaved runs of pred_contrib and the default tree_shap (medians reported)


def _load() -> dict[str, float]:
    one, five, _ = os.getloadavg()
    return {"load_1min": round(one, 2), "load_5min": round(five, 2), "cpus": os.cpu_count() or 0}


def _roster(
    scale: str, workdir: Path
) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray, dict[str, Any]]:
    """(training X, roster X, training y, facts), cached in ``workdir``."""
    from riskml.features import build_training_set, compute_features
    from riskml.synth import generate_province

    p = SCALES[scale]
    cache = workdir / f"explain_{scale}_{p['households']}_{p['roster_dates']}_{p['seed']}"
    facts: dict[str, Any] = {"households": p["households"], "roster_dates": p["roster_dates"]}
    if (cache / "roster.parquet").is_file():
        train = pd.read_parquet(cache / "train.parquet")
        roster = pd.read_parquet(cache / "roster.parquet")
        facts["data_seconds"] = "cached"
        y = train.pop("label").to_numpy()
        return train, roster, y, facts
    t0 = time.perf_counter()
    bundle, _ = generate_province(p["households"], p["seed"])
    t1 = time.perf_counter()
    training = build_training_set(bundle, TRAIN_AS_OF)
    last = pd.Timestamp(bundle.extracted_on)
    dates = [(last - pd.DateOffset(months=m)).date() for m in range(p["roster_dates"])]
    ids = bundle.households["household_id"].to_numpy()
    pairs = pd.DataFrame(
        {
            "household_id": np.repeat(ids, len(dates)),
            "as_of": np.tile(np.array(dates, dtype="datetime64[ns]"), len(ids)),
        }
    )
    roster = compute_features(bundle, pairs, "default")
    t2 = time.perf_counter()
    train = training.X.copy()
    y = training.y.astype(int).to_numpy()
    cache.mkdir(parents=True, exist_ok=True)
    train.assign(label=y).to_parquet(cache / "train.parquet")
    roster.reset_index(drop=True).to_parquet(cache / "roster.parquet")
    facts["data_seconds"] = {"synth": round(t1 - t0, 1), "features": round(t2 - t1, 1)}
    return train, roster.reset_index(drop=True), y, facts


def _pred_contrib(booster: Any, X: pd.DataFrame) -> dict[str, Any]:
    cpu0, t0 = time.process_time(), time.perf_counter()
    values = booster.predict(X, pred_contrib=True)
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    return {
        "seconds": round(wall, 2),
        "cpu_seconds": round(cpu, 2),
        "rows_per_s": round(len(X) / wall, 1),
        "rows_per_cpu_s": round(len(X) / cpu, 1),
        "values": values,
    }


def _tree_shap(
    explainer_class: Any, booster: Any, roster: pd.DataFrame, group: int | None
) -> tuple[Any, np.ndarray, float, float]:
    """(explainer, values, wall s, CPU s) of a fresh explainer on the whole roster."""
    cpu0, t0 = time.process_time(), time.perf_counter()
    explainer = explainer_class(booster, max_group_leaves=group)
    contrib = explainer.shap_values(roster)
    return explainer, contrib, time.perf_counter() - t0, time.process_time() - cpu0


def _distinct_full_patterns(explainer: Any, X: pd.DataFrame) -> int:
    pid = np.ascontiguousarray(explainer.pattern_ids(X).T)  # (n, trees)
    rows = pid.view(np.dtype((np.void, pid.dtype.itemsize * pid.shape[1]))).ravel()
    return int(np.unique(rows).shape[0])


def _bench_model(
    leaves: int, train: pd.DataFrame, y: np.ndarray, roster: pd.DataFrame, sample_n: int
) -> dict[str, Any]:
    import lightgbm as lgb

    from riskml.explain import TreeShapExplainer

    t = time.perf_counter()
    booster = lgb.train(
        {"objective": "binary", "num_leaves": leaves, "learning_rate": 0.03, "min_data_in_leaf": 20,
         "feature_fraction": 0.8, "bagging_fraction": 0.8, "bagging_freq": 1, "verbose": -1, "seed": 5},
        lgb.Dataset(train, y),
        num_boost_round=TREES,
    )  # fmt: skip
    train_seconds = time.perf_counter() - t
    n = len(roster)
    rng = np.random.default_rng(0)
    sample_idx = np.sort(rng.choice(n, size=min(sample_n, n), replace=False))
    sample = roster.iloc[sample_idx]

    # numba compilation (once per process; cached on disk afterwards) on other rows
    t = time.perf_counter()
    TreeShapExplainer(booster).shap_values(roster.iloc[:500])
    warmup_seconds = time.perf_counter() - t

    load_before = _load()
    # pred_contrib and the default tree_shap alternate REPEATS times (the machine is shared:
    # medians of interleaved runs, not one shot each); whole trees run once, after them
    pcs = [_pred_contrib(booster, sample)]
    unit_runs = []
    for _ in range(REPEATS):
        unit_runs.append(_tree_shap(TreeShapExplainer, booster, roster, 8))
        pcs.append(_pred_contrib(booster, sample))
    unit_runs.sort(key=lambda r: r[2])
    runs = {
        "units_of_8_leaves": unit_runs[len(unit_runs) // 2],
        "whole_trees": _tree_shap(TreeShapExplainer, booster, roster, None),
    }
    load_after = _load()
    ref = pcs[0]["values"]
    for pc in pcs:
        pc.pop("values")

    pc_wall = float(np.median([pc["rows_per_s"] for pc in pcs]))
    pc_cpu = float(np.median([pc["rows_per_cpu_s"] for pc in pcs]))
    unit_seconds = [round(r[2], 2) for r in unit_runs]
    leaves_per_tree = [t["num_leaves"] for t in booster.dump_model(num_iteration=-1)["tree_info"]]
    out: dict[str, Any] = {
        "model": {
            "trees": booster.num_trees(),
            "num_leaves_param": leaves,
            "leaves_mean": round(float(np.mean(leaves_per_tree)), 1),
            "leaves_max": int(np.max(leaves_per_tree)),
            "features": booster.num_feature(),
            "train_seconds": round(train_seconds, 1),
        },
        "pred_contrib": {
            "sample_rows": len(sample),
            "runs": pcs,
            "rows_per_s": round(pc_wall, 1),
            "rows_per_cpu_s": round(pc_cpu, 1),
            "roster_seconds_extrapolated": round(n / pc_wall, 1),
            "note": f"measured on the sample ({len(pcs)} runs interleaved with tree_shap's, "
            "medians), roster time extrapolated",
        },
        "tree_shap_warmup_seconds": round(warmup_seconds, 2),
        "load": {"before": load_before, "after": load_after},
    }
    for label, (explainer, contrib, wall, cpu) in runs.items():
        patterns = explainer.patterns_per_tree()
        out[f"tree_shap_{label}"] = {
            "rows": n,
            **(
                {"runs_seconds": unit_seconds, "reported": "median run"}
                if label == "units_of_8_leaves"
                else {}
            ),
            "units": explainer.units.n_units,
            "seconds": round(wall, 2),
            "cpu_seconds": round(cpu, 2),
            "rows_per_s": round(n / wall, 1),
            "rows_per_cpu_s": round(n / cpu, 1),
            "speedup_vs_pred_contrib": round(n / wall / pc_wall, 1),
            "speedup_vs_pred_contrib_cpu": round(n / cpu / pc_cpu, 1),
            "phases_seconds": explainer.stats.as_dict()["seconds"],
            "pattern_evaluations": explainer.stats.pattern_evaluations,
            "work_reduction": round(
                n * booster.num_trees() / max(1, explainer.stats.pattern_evaluations), 1
            ),
            "patterns_per_tree": {
                "median": float(np.median(patterns)),
                "max": int(patterns.max()),
                "mean": round(float(patterns.mean()), 1),
            },
            "max_abs_diff_vs_pred_contrib": float(np.abs(contrib[sample_idx] - ref).max()),
        }
    whole = runs["whole_trees"][0]
    out["distinct_full_patterns_in_sample"] = {
        "rows": len(sample),
        "distinct": _distinct_full_patterns(whole, sample),
        "note": "decision vectors over all trees at once: one pred_contrib call on unique rows "
        "would still explain this many rows",
    }
    out["_booster"] = booster
    out["_contrib"] = runs["units_of_8_leaves"][1]
    return out


def run(scale: str, workdir: Path) -> dict[str, Any]:
    """Run the benchmark at ``scale`` (``small`` or ``full``); see the module docstring."""
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {sorted(SCALES)}. Got {scale!r} instead.")
    from riskml.explain import reason_codes, reconcile
    from riskml.features import load_catalog

    workdir.mkdir(parents=True, exist_ok=True)
    train, roster, y, facts = _roster(scale, workdir)
    if list(roster.columns) != list(train.columns):
        raise RuntimeError(
            "roster and training features differ in columns; clear the benchmark cache in "
            f"{workdir}"
        )
    result: dict[str, Any] = {
        "data": {
            **facts,
            "source": "riskml.synth province -> riskml.features (catalog set 'default')",
            "train_rows": len(train),
            "train_positive_rate": round(float(y.mean()), 4),
            "roster_rows": len(roster),
            "roster_zero_share": round(
                float((roster.select_dtypes("number") == 0).to_numpy().mean()), 3
            ),
            "roster_nan_share": round(float(roster.isna().to_numpy().mean()), 3),
        },
        "models": {},
    }
    feature_set = load_catalog().feature_set("default")
    for leaves in LEAVES:
        out = _bench_model(leaves, train, y, roster, SCALES[scale]["contrib_sample"])
        booster, contrib = out.pop("_booster"), out.pop("_contrib")
        m = min(len(roster), REASON_ROWS)
        t = time.perf_counter()
        reasons = reason_codes(contrib[:m], roster.iloc[:m], feature_set)
        seconds = time.perf_counter() - t
        reconcile(contrib[:m], reasons, raw_score=booster.predict(roster.iloc[:m], raw_score=True))
        out["reason_codes"] = {
            "rows": m,
            "seconds": round(seconds, 2),
            "rows_per_s": round(m / seconds, 1),
            "mean_reasons": round(float(reasons["reason_count"].mean()), 2),
            "reconciled": True,
        }
        result["models"][f"{TREES}x{leaves}"] = out
        print(
            f"  {TREES} trees x {leaves} leaves: speed-up "
            f"{out['tree_shap_units_of_8_leaves']['speedup_vs_pred_contrib']}x",
            flush=True,
        )
    return result


if __name__ == "__main__":  # pragma: no cover - `python -m benchmarks.bench_explain small`
    import json
    import sys

    root = Path(__file__).resolve().parent
    print(
        json.dumps(
            run(sys.argv[1] if len(sys.argv) > 1 else "small", root / "work"),
            indent=2,
            ensure_ascii=False,
        )
    )
