"""Feature-stage benchmark: riskml's point-in-time engine, alone and against featuretools.

Two measurements in one run, on a province written by ``riskml synth``:

1. **Training set at scale** — ``riskml features build`` (the CLI, in a subprocess) on the whole
   province, 2021-03-31 to 2024-06-30 every 3 months (14 quarterly as-of dates), the ``default``
   feature set (66 features incl. village context), labels and audit columns, streamed to
   Parquet. Reported: wall time, CPU time and peak RSS of that process. Goals at full scale
   (1,000,000 households): <= 180 s on 2 cores and <= 6 GB.
2. **riskml vs featuretools** — the same households (a subset at full scale, where featuretools
   would take hours), the same 14 cutoff dates and a comparable feature subset: for 8 event types,
   count / sum / mean / max of amounts in the last 12 months, the same over all events, and
   count / sum / mean / max of four income columns recorded in the last 12 months (49 features).
   featuretools 1.31 runs DFS with ``cutoff_time`` (``include_cutoff_time=True``: rows at the
   cutoff count, like riskml's ``<= D``) and ``training_window="365 days"`` in its own virtual
   environment (it needs numpy < 2): ``benchmarks/work/ft-venv``. Both timings exclude reading
   files and include building their in-memory structures. riskml windows are 12 calendar months,
   featuretools' 365 days, so a few boundary rows differ; the agreement is reported.

Scales: ``small`` = 5,000 households (both parts on all of them); ``full`` = 1,000,000 households
(comparison on the first 20,000).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

SCALES: dict[str, dict[str, int]] = {
    "small": {"households": 5_000, "compare_households": 5_000},
    "full": {"households": 1_000_000, "compare_households": 20_000},
}
SEED = 11
START, END, EVERY = "2021-03-31", "2024-06-30", "3M"  # 14 quarterly as-of dates
GOAL_SECONDS, GOAL_PEAK_GIB, GOAL_RATIO = 180.0, 6.0, 50.0
FT_REQUIREMENTS = ["featuretools==1.31.0", "numpy<2", "pandas<2.2", "pyarrow<18"]
EVENT_TYPES = (
    "medical_bill",
    "hospitalization",
    "natural_disaster",
    "livestock_loss",
    "crop_failure",
    "accident",
    "job_loss",
    "dibao_granted",
)
INCOME_COLUMNS = ("wage_income", "business_income", "transfer_income", "oop_medical")
AGGREGATES = ("count", "sum", "mean", "max")

_MEASURE = textwrap.dedent(
    """
    import json, resource, subprocess, sys, time
    t0 = time.perf_counter()
    proc = subprocess.run(sys.argv[1:], capture_output=True, text=True)
    wall = time.perf_counter() - t0
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(json.dumps({"returncode": proc.returncode, "wall_seconds": wall, "cpu_seconds": ru.ru_utime + ru.ru_stime,
                      "peak_rss_kib": ru.ru_maxrss, "stdout": proc.stdout[-3000:], "stderr": proc.stderr[-3000:]}))
    """
)


def _measured(cmd: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run ``cmd`` under a small wrapper process: wall time, CPU time and peak RSS of ``cmd`` alone."""
    out = subprocess.run(
        [sys.executable, "-c", _MEASURE, *cmd], capture_output=True, text=True, env=env, check=True
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    if result["returncode"] != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{result['stderr']}")
    return result


def _province(workdir: Path, households: int) -> Path:
    """The synthetic province for this scale (written once with ``riskml synth``, then reused)."""
    out = workdir / "features" / f"province_{households}_seed{SEED}"
    if (out / "bundle.yaml").is_file() and (out / "events.parquet").exists():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    print(f"   writing a {households:,}-household province with riskml synth -> {out}", flush=True)
    cmd = [
        sys.executable,
        "-m",
        "riskml.cli",
        "synth",
        "--households",
        str(households),
        "--seed",
        str(SEED),
        "--out",
        str(out),
    ]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return out


def _training_set_at_scale(bundle_dir: Path, workdir: Path, households: int) -> dict[str, Any]:
    out = workdir / "features" / f"training_{households}.parquet"
    cmd = [
        sys.executable,
        "-m",
        "riskml.cli",
        "features",
        "build",
        "--data",
        str(bundle_dir),
        "--start",
        START,
        "--end",
        END,
        "--every",
        EVERY,
        "--out",
        str(out),
        "--include-censored",
    ]
    print(f"   riskml features build on {households:,} households x 14 dates", flush=True)
    m = _measured(cmd)
    import pyarrow.parquet as pq

    meta = pq.read_metadata(out)
    peak_gib = m["peak_rss_kib"] / 2**20
    return {
        "households": households,
        "as_of_dates": 14,
        "rows": meta.num_rows,
        "columns": meta.num_columns,
        "wall_seconds": round(m["wall_seconds"], 2),
        "cpu_seconds": round(m["cpu_seconds"], 2),
        "peak_rss_gib": round(peak_gib, 3),
        "rows_per_second": round(meta.num_rows / m["wall_seconds"]),
        "goal_seconds": GOAL_SECONDS if households >= 1_000_000 else None,
        "goal_peak_gib": GOAL_PEAK_GIB if households >= 1_000_000 else None,
        "meets_goals": (m["wall_seconds"] <= GOAL_SECONDS and peak_gib <= GOAL_PEAK_GIB)
        if households >= 1_000_000
        else None,
        "cli_output": m["stdout"].strip()[-400:],
    }


# ---- riskml vs featuretools ----------------------------------------------------------------------


def _comparison_catalog(folder: Path) -> Path:
    """A catalog of the 49 comparable features (declared like any riskml catalog)."""
    import yaml

    base = {
        "unit": "x",
        "risk_type": "other",
        "label_zh": "x",
        "label_en": "x",
        "reason_zh": "",
        "reason_en": "",
        "description": "benchmark",
    }
    features: list[dict[str, Any]] = []
    for label, filters in [("all", {}), *[(t, {"event_type": [t]}) for t in EVENT_TYPES]]:
        for agg in AGGREGATES:
            f = {
                **base,
                "name": f"{agg}_{label}",
                "table": "events",
                "primitive": agg,
                "window_months": 12,
                "filters": filters,
            }
            if agg != "count":
                f["column"] = "amount"
            features.append(f)
    features.append(
        {
            **base,
            "name": "count_income",
            "table": "income",
            "primitive": "count",
            "window_months": 12,
        }
    )
    for col in INCOME_COLUMNS:
        for agg in AGGREGATES[1:]:
            features.append(
                {
                    **base,
                    "name": f"{agg}_{col}",
                    "table": "income",
                    "primitive": agg,
                    "column": col,
                    "window_months": 12,
                }
            )
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "catalog.yaml").write_text(
        yaml.safe_dump({"version": "bench", "features": features}), encoding="utf-8"
    )
    sets = {"feature_sets": {"compare": {"features": [f["name"] for f in features]}}}
    (folder / "feature_sets.yaml").write_text(yaml.safe_dump(sets), encoding="utf-8")
    return folder


_RISKML_SIDE = textwrap.dedent(
    """
    import json, resource, sys, time
    from pathlib import Path
    import pandas as pd
    from riskml.data import Bundle, load_bundle
    from riskml.features import FeatureEngine, as_of_schedule, load_catalog

    bundle_dir, catalog_dir, export, n = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4])
    full = load_bundle(bundle_dir)
    keep = set(full.households["household_id"].sort_values().iloc[:n])
    tables = {k: v[v["household_id"].isin(keep)].reset_index(drop=True) for k, v in full.tables.items()}
    bundle = Bundle(tables=tables, extracted_on=full.extracted_on, province=full.province)
    dates = as_of_schedule(sys.argv[5], sys.argv[6], sys.argv[7])
    pairs = pd.DataFrame([(h, d) for h in sorted(keep) for d in dates], columns=["household_id", "as_of"])
    export.mkdir(parents=True, exist_ok=True)
    ev = tables["events"][["household_id", "event_type", "amount", "event_date", "recorded_on"]].copy()
    ev["recorded_on"] = ev["recorded_on"].fillna(ev["event_date"])
    ev = ev.drop(columns=["event_date"])
    ev["household_id"] = ev["household_id"].astype(str)
    ev["event_type"] = ev["event_type"].astype(str)
    ev.to_parquet(export / "events.parquet", index=False)
    inc = tables["income"][["household_id", "recorded_on", "wage_income", "business_income", "transfer_income", "oop_medical"]].copy()
    inc["household_id"] = inc["household_id"].astype(str)
    inc.to_parquet(export / "income.parquet", index=False)
    pd.DataFrame({"household_id": sorted(keep)}).astype(str).to_parquet(export / "households.parquet", index=False)
    pairs.astype({"household_id": str}).to_parquet(export / "pairs.parquet", index=False)
    catalog = load_catalog(catalog_dir)
    fs = catalog.feature_set("compare")
    t0, c0, r0 = time.perf_counter(), time.process_time(), resource.getrusage(resource.RUSAGE_SELF)
    engine = FeatureEngine(bundle, catalog=catalog)
    X = engine.compute(pairs, fs)
    seconds, cpu, r1 = time.perf_counter() - t0, time.process_time() - c0, resource.getrusage(resource.RUSAGE_SELF)
    X.insert(0, "household_id", pairs["household_id"].astype(str))
    X.insert(1, "as_of", pairs["as_of"])
    X.to_parquet(export / "riskml_features.parquet", index=False)
    print(json.dumps({"seconds": seconds, "cpu_seconds": cpu, "user_seconds": r1.ru_utime - r0.ru_utime,
                      "rows": len(X), "features": len(fs.features)}))
    """
)

_FEATURETOOLS_SIDE = textwrap.dedent(
    """
    import json, resource, sys, time, warnings
    from pathlib import Path
    warnings.filterwarnings("ignore")
    import pandas as pd
    import featuretools as ft
    from woodwork.logical_types import Categorical, Datetime, Double

    export, types = Path(sys.argv[1]), sys.argv[2].split(",")
    households = pd.read_parquet(export / "households.parquet")
    events = pd.read_parquet(export / "events.parquet")
    income = pd.read_parquet(export / "income.parquet")
    pairs = pd.read_parquet(export / "pairs.parquet")
    events.insert(0, "event_id", range(len(events)))
    income.insert(0, "income_id", range(len(income)))
    cutoff = pairs.rename(columns={"as_of": "time"})
    t0, c0, r0 = time.perf_counter(), time.process_time(), resource.getrusage(resource.RUSAGE_SELF)
    es = ft.EntitySet("bundle")
    es.add_dataframe(dataframe_name="households", dataframe=households, index="household_id")
    es.add_dataframe(dataframe_name="events", dataframe=events, index="event_id", time_index="recorded_on",
                     logical_types={"event_type": Categorical, "amount": Double, "recorded_on": Datetime})
    es.add_dataframe(dataframe_name="income", dataframe=income, index="income_id", time_index="recorded_on",
                     logical_types={c: Double for c in ["wage_income", "business_income", "transfer_income", "oop_medical"]})
    es.add_relationship("households", "household_id", "events", "household_id")
    es.add_relationship("households", "household_id", "income", "household_id")
    es.add_interesting_values(dataframe_name="events", values={"event_type": types})
    fm, defs = ft.dfs(entityset=es, target_dataframe_name="households", agg_primitives=["count", "sum", "mean", "max"],
                      where_primitives=["count", "sum", "mean", "max"], trans_primitives=[], max_depth=1,
                      cutoff_time=cutoff, training_window="365 days", include_cutoff_time=True,
                      cutoff_time_in_index=True, verbose=False)
    seconds, cpu, r1 = time.perf_counter() - t0, time.process_time() - c0, resource.getrusage(resource.RUSAGE_SELF)
    fm = fm.reset_index()
    fm.columns = [str(c) for c in fm.columns]
    fm.to_parquet(export / "featuretools_features.parquet", index=False)
    print(json.dumps({"seconds": seconds, "cpu_seconds": cpu, "user_seconds": r1.ru_utime - r0.ru_utime,
                      "rows": len(fm), "features": len(defs)}))
    """
)


def _ft_python(workdir: Path) -> Path:
    """featuretools' own virtual environment (created once; it needs numpy < 2)."""
    venv = workdir / "ft-venv"
    python = venv / "bin" / "python"
    if not python.exists():
        print(f"   creating {venv} with {' '.join(FT_REQUIREMENTS)}", flush=True)
        subprocess.run(["python3", "-m", "venv", str(venv)], check=True)
    check = subprocess.run(
        [str(python), "-c", "import featuretools, pyarrow; print(featuretools.__version__)"],
        capture_output=True,
        text=True,
    )
    if check.returncode != 0 or check.stdout.strip() != "1.31.0":
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", *FT_REQUIREMENTS], check=True
        )
    return python


def _agreement(export: Path) -> dict[str, Any]:
    """How often riskml and featuretools agree on the matching features (same household, date)."""
    import numpy as np
    import pandas as pd

    ours = pd.read_parquet(export / "riskml_features.parquet")
    theirs = pd.read_parquet(export / "featuretools_features.parquet")
    theirs = theirs.rename(columns={"time": "as_of"})
    merged = ours.merge(theirs, on=["household_id", "as_of"], how="inner", suffixes=("", "_ft"))
    pairs = {
        "count_all": "COUNT(events)",
        "sum_all": "SUM(events.amount)",
        "count_income": "COUNT(income)",
    }
    for t in EVENT_TYPES:
        pairs[f"count_{t}"] = f"COUNT(events WHERE event_type = {t})"
        pairs[f"sum_{t}"] = f"SUM(events.amount WHERE event_type = {t})"
    for col in INCOME_COLUMNS:
        pairs[f"mean_{col}"] = f"MEAN(income.{col})"
    compared, agree, missing = 0, 0, []
    for ours_col, ft_col in pairs.items():
        if ft_col not in merged.columns:
            missing.append(ft_col)
            continue
        a, b = merged[ours_col].to_numpy(dtype=float), merged[ft_col].to_numpy(dtype=float)
        same = np.isclose(a, b, rtol=1e-6, atol=1e-6) | (np.isnan(a) & np.isnan(b))
        compared += len(a)
        agree += int(same.sum())
    return {
        "rows_matched": len(merged),
        "feature_pairs_compared": len(pairs) - len(missing),
        "values_compared": compared,
        "share_equal": round(agree / compared, 5) if compared else None,
        "featuretools_columns_missing": missing,
        "note": "riskml windows are 12 calendar months, featuretools' 365 days: boundary rows can differ",
    }


def _compare_with_featuretools(bundle_dir: Path, workdir: Path, households: int) -> dict[str, Any]:
    folder = workdir / "features" / f"compare_{households}"
    catalog = _comparison_catalog(folder / "catalog")
    export = folder / "export"
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    print(
        f"   riskml on the comparison subset ({households:,} households x 14 dates, 49 features)",
        flush=True,
    )
    ours = subprocess.run(
        [
            sys.executable,
            "-c",
            _RISKML_SIDE,
            str(bundle_dir),
            str(catalog),
            str(export),
            str(households),
            START,
            END,
            EVERY,
        ],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    ours_result = json.loads(ours.stdout.strip().splitlines()[-1])
    python = _ft_python(workdir)
    print("   featuretools DFS with cutoff times on the same subset", flush=True)
    started = time.perf_counter()
    theirs = subprocess.run(
        [str(python), "-c", _FEATURETOOLS_SIDE, str(export), ",".join(EVENT_TYPES)],
        capture_output=True,
        text=True,
        env=env,
    )
    if theirs.returncode != 0:
        raise RuntimeError(
            f"featuretools side failed after {time.perf_counter() - started:.0f} s:\n{theirs.stderr[-3000:]}"
        )
    ft_result = json.loads(theirs.stdout.strip().splitlines()[-1])
    return {
        "households": households,
        "cutoff_rows": ours_result["rows"],
        "riskml_features": ours_result["features"],
        "featuretools_features": ft_result["features"],
        "riskml_seconds": round(ours_result["seconds"], 3),
        "featuretools_seconds": round(ft_result["seconds"], 3),
        "speed_ratio": round(ft_result["seconds"] / ours_result["seconds"], 1),
        "riskml_cpu_seconds": round(ours_result["cpu_seconds"], 3),
        "featuretools_cpu_seconds": round(ft_result["cpu_seconds"], 3),
        "cpu_ratio": round(ft_result["cpu_seconds"] / ours_result["cpu_seconds"], 1),
        # user time alone: without the kernel's page-fault time, which swings with the load
        "riskml_user_seconds": round(ours_result["user_seconds"], 3),
        "featuretools_user_seconds": round(ft_result["user_seconds"], 3),
        "user_cpu_ratio": round(ft_result["user_seconds"] / ours_result["user_seconds"], 1),
        "goal_ratio": GOAL_RATIO,
        "meets_goal": ft_result["seconds"] / ours_result["seconds"] >= GOAL_RATIO,
        "agreement": _agreement(export),
    }


def run(scale: str, workdir: Path) -> dict[str, Any]:
    """Both measurements at ``scale`` ("small" or "full"); see the module docstring."""
    if scale not in SCALES:
        raise ValueError(f"Unknown scale {scale!r}; use one of {sorted(SCALES)}.")
    cfg = SCALES[scale]
    workdir = Path(workdir)
    bundle_dir = _province(workdir, cfg["households"])
    return {
        "training_set": _training_set_at_scale(bundle_dir, workdir, cfg["households"]),
        "featuretools_comparison": _compare_with_featuretools(
            bundle_dir, workdir, cfg["compare_households"]
        ),
    }


if __name__ == "__main__":  # pragma: no cover - python -m benchmarks.bench_features [small|full]
    print(
        json.dumps(
            run(
                sys.argv[1] if len(sys.argv) > 1 else "small",
                Path(__file__).resolve().parent / "work",
            ),
            indent=2,
        )
    )
