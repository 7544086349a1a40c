"""Model quality on two synthetic provinces, before and after a change to how riskml trains.

For each province (a bundle written by ``riskml synth``, ground truth beside it) this builds the
training set exactly as ``riskml train`` does, runs the temporal backtest with the default
``configs/training.yaml``, fits the final model, and records:

- ROC-AUC, PR-AUC and recall at capacity of the model, the department rules, the scorecard and
  the oracle (the generator's true probability);
- recall at capacity by recorded risk type (``risk_1`` of the identification each positive
  label counts), model vs rules, with counts;
- the largest share of flagged households (model, at capacity) sharing one score, and how many
  distinct scores they have;
- calibration by decile within the top 10 % (predicted mean vs observed rate, 95 % interval);
- which rows the final model learnt from.

Every figure is computed here from the backtest's out-of-fold predictions, so the same script
measures any riskml version: run it once with the old code importable (``before``) and once
with the new (``after``). The helpers it needs (risk types, top-decile calibration) are loaded
from *this* checkout's files, which import nothing from riskml.

Usage (from the repository root)::

    riskml synth --households 20000 --seed 7 --out /tmp/demo
    riskml synth --households 20000 --seed 23 --config benchmarks/synth_province_b.yaml \\
        --out /tmp/prov_b
    PYTHONPATH=. python benchmarks/models_two_provinces.py run after demo=/tmp/demo \\
        b=/tmp/prov_b
    python benchmarks/models_two_provinces.py report      # -> results/models_two_provinces.md

``run VARIANT [--config=PATH] NAME=DIR ...`` writes ``benchmarks/results/models_<name>_<variant>.json``
(``--config`` = a training config other than ``configs/training.yaml``, to compare two settings of
one checkout); the ground truth beside each bundle (``DIR.truth.parquet``) adds the oracle.
``report`` combines whatever JSON files exist into one markdown table. Variant names hold no
underscore.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
ROOT = HERE.parent
METHODS = ("model", "rules", "scorecard", "oracle")


def _load(name: str, path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


_metrics = _load("_bench_metrics", ROOT / "riskml" / "models" / "_metrics.py")
_risk = _load("_bench_risktypes", ROOT / "riskml" / "models" / "_risktypes.py")


def _git(path: Path) -> str:
    stamp = path.parent / "COMMIT"  # an exported tree (git archive) can carry its commit here
    if stamp.is_file():
        return stamp.read_text(encoding="utf-8").strip()
    try:
        return subprocess.run(
            ["git", "-C", str(path), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "?"


def _oracle(data_dir: str) -> Any:
    """The province's ground truth (``<bundle>.truth.parquet`` beside it), when there is one."""
    truth = Path(str(data_dir).rstrip("/") + ".truth.parquet")
    if not truth.is_file():
        return None
    from riskml.synth import GroundTruthOracle

    return GroundTruthOracle(truth)


def measure(data_dir: str, config_path: str | None = None) -> dict[str, Any]:
    """Backtest one province with the importable riskml and return every figure."""
    import riskml
    from riskml.models import backtest as run_backtest
    from riskml.models import fit_final_model
    from riskml.tracking._pipeline import load_inputs

    t0 = time.perf_counter()
    inputs = load_inputs(
        data_dir,
        config_path=config_path,
        oracle=_oracle(data_dir),
        progress=lambda m: print("  ", m, flush=True),
    )
    ts, config = inputs.training_set, inputs.config
    said: list[str] = []
    try:
        bt = run_backtest(ts, config, oracle=inputs.oracle, progress=said.append)
    except TypeError:  # riskml before the progress argument
        bt = run_backtest(ts, config, oracle=inputs.oracle)
    backtest_s = time.perf_counter() - t0
    table = bt.table()
    pred = bt.predictions
    y = pred["label"].to_numpy(dtype=float)

    # capacity selection per as-of date (or village and date), as the backtest does
    cap = config.capacity
    if cap.per_village is not None:
        groups = pred[["village_code", "as_of"]]
        capacity: float | int = int(cap.per_village)
    else:
        groups = pred["as_of"]
        capacity = float(cap.share)
    selections = {
        m: _metrics.select_at_capacity(pred[f"rank_{m}"].to_numpy(dtype=float), capacity, groups)
        for m in METHODS
        if f"rank_{m}" in pred
    }
    # recall by recorded risk type of the identification each positive label counts
    frame = ts.frame
    labelled = frame[config.label_column].notna().to_numpy()
    types = _risk.label_risk_types(
        inputs.bundle.tables["monitoring"], frame.loc[labelled], int(config.horizon_months)
    )
    key = pd.MultiIndex.from_arrays(
        [
            frame.loc[labelled, "household_id"].astype(str),
            pd.to_datetime(frame.loc[labelled, "as_of"]),
        ]
    )
    lookup = pd.Series(types, index=key)
    pred_key = pd.MultiIndex.from_arrays(
        [pred["household_id"].astype(str), pd.to_datetime(pred["as_of"])]
    )
    pred_types = lookup.reindex(pred_key).to_numpy(dtype=object)
    by_type = _risk.recall_by_risk_type(pred_types, selections, y)
    by_rule = _by_rule(frame.loc[labelled], pred, config, y)

    flagged = selections["model"] > 0
    score = pred["score_model"].to_numpy(dtype=float)
    rank = pred["rank_model"].to_numpy(dtype=float)
    top = _metrics.top_decile_calibration(y, score, rank, pred["as_of"])

    t1 = time.perf_counter()
    model = fit_final_model(ts, config)
    final_s = time.perf_counter() - t1
    summary = dict(getattr(model, "training_summary_", {}) or {})
    if "training" in summary:  # riskml before cross-fitting: three slices
        booster_rows = summary["training"]["rows"]
        booster_last = summary["training"].get("as_of_last")
    else:
        booster_rows = summary.get("rows")
        booster_last = summary.get("as_of_last")
    labelled_frame = frame.loc[labelled]

    figures = {
        m: {
            k: float(table.loc[m, k])
            for k in ("roc_auc", "pr_auc", "recall_at_capacity", "precision_at_capacity", "ece")
            if k in table.columns and m in table.index
        }
        for m in METHODS
        if m in table.index
    }
    for m in figures:
        if "oracle" in figures:
            figures[m]["roc_auc_vs_oracle"] = figures[m]["roc_auc"] / figures["oracle"]["roc_auc"]
            figures[m]["pr_auc_vs_oracle"] = figures[m]["pr_auc"] / figures["oracle"]["pr_auc"]
    return {
        "data": str(data_dir),
        "riskml": str(Path(riskml.__file__).parent.parent),
        "riskml_commit": _git(Path(riskml.__file__).parent),
        "config": config_path or "configs/training.yaml",
        "extracted_on": str(inputs.bundle.extracted_on),
        "households": len(inputs.bundle.households),
        "as_of_first": str(pd.Timestamp(labelled_frame["as_of"].min()).date()),
        "as_of_last": str(pd.Timestamp(labelled_frame["as_of"].max()).date()),
        "labelled_rows": int(labelled.sum()),
        "positives": int(labelled_frame[config.label_column].sum()),
        "capacity": bt.capacity,
        "folds": [
            {
                k: (str(v)[:10] if isinstance(v, pd.Timestamp) else v)
                for k, v in rec.items()
                if k
                in (
                    "fold",
                    "test_start",
                    "test_end",
                    "test_rows",
                    "test_positives",
                    "train_rows",
                    "best_iteration",
                    "calibration",
                    "fit_seconds",
                    "status",
                    "reason",
                )
            }
            for rec in bt.folds.to_dict(orient="records")
        ],
        "console_fold_messages": said,
        "per_fold": {
            str(fold): {
                m: {
                    k: float(v)
                    for k, v in part[part["method"] == m].set_index("metric")["value"].items()
                    if k in ("roc_auc", "pr_auc", "recall_at_capacity", "positives")
                }
                for m in METHODS
                if (part["method"] == m).any()
            }
            for fold, part in bt.metrics.groupby("fold")
            if fold != "pooled"
        },
        "methods": figures,
        "recall_by_risk_type": json.loads(by_type.reset_index().to_json(orient="records")),
        "calibration_by_rule": json.loads(by_rule.reset_index().to_json(orient="records")),
        "flagged": int(flagged.sum()),
        "flagged_distinct_scores": len(np.unique(score[flagged])),
        "flagged_largest_tie_share": _metrics.largest_tie_share(score, flagged),
        "zero_scores": int((score == 0).sum()),
        "mean_predicted": float(score.mean()),
        "mean_observed": float(y.mean()),
        "top_decile": json.loads(top.to_json(orient="records")),
        "calibrators": (
            json.loads(bt.calibration.reset_index().to_json(orient="records"))
            if len(getattr(bt, "calibration", ()))
            else []
        ),
        "final_model_calibration": summary.get("calibration")
        if isinstance(summary.get("calibration"), dict)
        else None,
        "final_model": {
            "booster_rows": booster_rows,
            "booster_as_of_last": booster_last,
            "trees": int(getattr(model, "best_iteration_", 0)),
            "calibration": getattr(getattr(model, "calibrator_", None), "method", None),
            "fit_seconds": round(final_s, 1),
        },
        "backtest_seconds": round(backtest_s, 1),
    }


def _by_rule(labelled: pd.DataFrame, pred: pd.DataFrame, config: Any, y: np.ndarray) -> Any:
    """Observed rate vs the model's mean probability on the test rows where each department
    rule fires (``calibration_by_signal``)."""
    from riskml.config.rules import load_rules_config
    from riskml.models import RuleBaseline

    rules = RuleBaseline(load_rules_config(config.rules_config).rules)
    cols = rules.required_features
    keyed = labelled.assign(
        household_id=labelled["household_id"].astype(str), as_of=pd.to_datetime(labelled["as_of"])
    ).set_index(["household_id", "as_of"])[cols]
    rows = keyed.reindex(
        pd.MultiIndex.from_arrays([pred["household_id"].astype(str), pd.to_datetime(pred["as_of"])])
    ).reset_index(drop=True)
    return _risk.calibration_by_signal(
        rules.fired(rows), y, pred["score_model"].to_numpy(dtype=float)
    )


def _fmt(v: Any, digits: int = 3) -> str:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return ""
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return f"{v:,}" if isinstance(v, int) else str(v)


def report() -> str:
    """One markdown page from every ``models_<name>_<variant>.json`` in results/."""
    runs: dict[str, dict[str, dict[str, Any]]] = {}
    for path in sorted(RESULTS.glob("models_*_*.json")):
        name, variant = path.stem.removeprefix("models_").rsplit("_", 1)
        runs.setdefault(name, {})[variant] = json.loads(path.read_text(encoding="utf-8"))
    lines = [
        "# Model quality on two provinces, before and after",
        "",
        "Produced by `benchmarks/models_two_provinces.py` (see its docstring for the commands). "
        "Out-of-fold figures of the default `configs/training.yaml` temporal backtest. "
        "Three versions of riskml, each named by its commit below: `before` = pooled step "
        "isotonic calibration on the latest 20 %, early stopping on the 15 % before it, the "
        "final booster on rows up to the calibration slice; `after` = temporal cross-fitting, a "
        "strictly monotone calibrator chosen out of time with one level over every "
        "cross-fitting block, the final booster on every labelled row; `level` = `after` plus "
        "the calibrator's level (log-odds intercept) refitted so that the final booster's "
        "scores on the latest block match its observed rate (`calibration_level: "
        "final_latest`, the default) and two features from the official criteria "
        "(`new_disability_12m`, `disaster_loss_to_income_12m`). Nothing was tuned. Run times "
        "are not comparable between versions: `before` and `after` ran on a loaded machine.",
        "",
    ]
    for name, variants in runs.items():
        first = next(iter(variants.values()))
        lines += [
            f"## Province `{name}`",
            "",
            f"{first['households']:,} households, extracted {first['extracted_on']}, labelled "
            f"as-of dates {first['as_of_first']} … {first['as_of_last']} "
            f"({first['labelled_rows']:,} rows, {first['positives']:,} positives); capacity "
            f"{first['capacity']}.",
            "",
            *[
                f"- `{variant}`: riskml from `{run['riskml']}` (commit {run['riskml_commit']}); "
                f"backtest {run['backtest_seconds']} s, final fit {run['final_model']['fit_seconds']} s"
                for variant, run in variants.items()
            ],
            "",
            "| variant | method | ROC-AUC | × oracle | PR-AUC | × oracle | recall at capacity | ECE |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for variant, run in variants.items():
            for method, f in run["methods"].items():
                lines.append(
                    f"| {variant} | {method} | {_fmt(f.get('roc_auc'))} | "
                    f"{_fmt(f.get('roc_auc_vs_oracle'))} | {_fmt(f.get('pr_auc'))} | "
                    f"{_fmt(f.get('pr_auc_vs_oracle'))} | {_fmt(f.get('recall_at_capacity'))} | "
                    f"{_fmt(f.get('ece'), 4)} |"
                )
        lines += [
            "",
            "| variant | model ECE | mean predicted | mean observed | top-10 % predicted | "
            "top-10 % observed | top-10 % deciles in 95 % CI | backtest fold fits (s) |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for variant, run in variants.items():
            top = run["top_decile"]
            rows = sum(d["rows"] for d in top) or 1
            lines.append(
                f"| {variant} | {_fmt(run['methods']['model'].get('ece'), 4)} | "
                f"{_fmt(run.get('mean_predicted'), 4)} | {_fmt(run.get('mean_observed'), 4)} | "
                f"{sum(d['predicted'] * d['rows'] for d in top) / rows:.3f} | "
                f"{sum(d['observed'] * d['rows'] for d in top) / rows:.3f} | "
                f"{sum(1 for d in top if d['in_ci'])}/{len(top)} | "
                + (
                    ", ".join(
                        str(f["fit_seconds"])
                        for f in run["folds"]
                        if f.get("fit_seconds") == f.get("fit_seconds") and f.get("fit_seconds")
                    )
                    or "not recorded"
                )
                + " |"
            )
        lines += [
            "",
            "| variant | flagged (model) | distinct scores | largest share on one score | "
            "exact 0 scores | folds evaluated | final booster rows | its last as-of | trees | "
            "calibrator |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for variant, run in variants.items():
            ok = sum(1 for f in run["folds"] if f.get("status") == "ok")
            fm = run["final_model"]
            lines.append(
                f"| {variant} | {run['flagged']:,} | {run['flagged_distinct_scores']:,} | "
                f"{run['flagged_largest_tie_share']:.1%} | {run['zero_scores']:,} | "
                f"{ok} of {len(run['folds'])} | {_fmt(fm['booster_rows'])} of "
                f"{run['labelled_rows']:,} | {fm['booster_as_of_last']} | {fm['trees']} | "
                f"{fm['calibration']} |"
            )
        for variant, run in variants.items():
            skipped = [f for f in run["folds"] if f.get("status") != "ok"]
            if skipped:
                lines.append("")
                lines.append(
                    f"{variant}: skipped "
                    + "; ".join(f"fold {f['fold']} ({f['reason'][:160]})" for f in skipped)
                    + (
                        " — said on the console."
                        if run["console_fold_messages"]
                        else " — visible only in folds.csv."
                    )
                )
        folds = sorted({f for run in variants.values() for f in run.get("per_fold", {})}, key=int)
        if folds:
            lines += [
                "",
                "### Per fold (the same test rows in every variant), model / oracle",
                "",
                "| variant | fold | positives | ROC-AUC | oracle | PR-AUC | oracle | recall at capacity "
                "| oracle | rules |",
                "|---|---|---|---|---|---|---|---|---|---|",
            ]
            for variant, run in variants.items():
                for f in folds:
                    r = run.get("per_fold", {}).get(f)
                    if not r:
                        lines.append(f"| {variant} | {f} | | skipped | | | | | | |")
                        continue
                    mo, orc, ru = r["model"], r.get("oracle", {}), r.get("rules", {})
                    lines.append(
                        f"| {variant} | {f} | {mo['positives']:.0f} | {mo['roc_auc']:.3f} | "
                        f"{_fmt(orc.get('roc_auc'))} | {mo['pr_auc']:.3f} | {_fmt(orc.get('pr_auc'))} | "
                        f"{mo['recall_at_capacity']:.3f} | {_fmt(orc.get('recall_at_capacity'))} | "
                        f"{_fmt(ru.get('recall_at_capacity'))} |"
                    )
        lines += ["", "### Recall at capacity by recorded risk type (`risk_1`)", ""]
        # the ceiling: the oracle's recall by type, from the last run that had the oracle
        ceiling = next(
            (
                run["recall_by_risk_type"]
                for run in reversed(list(variants.values()))
                if "recall_oracle" in run["recall_by_risk_type"][0]
            ),
            None,
        )
        header = "| risk type | positives |" + "".join(
            f" {v} model | {v} rules |" for v in variants
        )
        header += " oracle |" if ceiling else ""
        lines += [header, "|---|---|" + "---|---|" * len(variants) + ("---|" if ceiling else "")]
        base = next(iter(variants.values()))["recall_by_risk_type"]
        for row in base:
            t = row["risk_type"]
            cells = ""
            for run in variants.values():
                r = next((x for x in run["recall_by_risk_type"] if x["risk_type"] == t), None)
                if r is None:
                    cells += " | |"
                    continue
                cells += (
                    f" {r['flagged_model']:.0f}/{r['positives']} ({r['recall_model']:.0%}) |"
                    f" {r['flagged_rules']:.0f}/{r['positives']} ({r['recall_rules']:.0%}) |"
                )
            if ceiling:
                o = next((x for x in ceiling if x["risk_type"] == t), None)
                cells += (
                    f" {o['flagged_oracle']:.0f}/{o['positives']} ({o['recall_oracle']:.0%}) |"
                    if o
                    else " |"
                )
            lines.append(f"| {t} | {row['positives']} |{cells}")
        with_rules = {
            v: r["calibration_by_rule"] for v, r in variants.items() if r.get("calibration_by_rule")
        }
        if with_rules:
            lines += [
                "",
                "### Out-of-time calibration where each department rule fires (model)",
                "",
                "Mean predicted probability / observed rate on the test rows where the rule fires; "
                "`relative` = that ratio over the ratio on every row (below 1: the rule's rows are "
                "under-predicted beyond the model's overall level, i.e. its lift is shrunk).",
                "",
                "| variant | rule | rows | observed | predicted | ratio | relative |",
                "|---|---|---|---|---|---|---|",
            ]
            for variant, table in with_rules.items():
                for r in table:
                    lines.append(
                        f"| {variant} | {r['signal']} | {r['rows']:,} | {_fmt(r['observed'], 4)} | "
                        f"{_fmt(r['predicted'], 4)} | {_fmt(r['ratio'], 2)} | "
                        f"{_fmt(r['relative_ratio'], 2)} |"
                    )
        for variant, run in variants.items():
            if not run.get("calibrators"):
                continue
            lines += [
                "",
                f"### Calibrators compared out of time ({variant})",
                "",
                "Each backtest fold fits every calibrator on its model's out-of-fold raw scores "
                "(temporal cross-fitting inside the fold's training rows); pooled over the folds' "
                "test rows, each with the model's own level policy. `isotonic_step` = the "
                "step-wise isotonic map riskml used before; `chosen, pooled level` = the "
                "model's calibrator with one level over every block (`calibration_level: "
                "pooled`).",
                "",
                "| calibrator | log-loss | Brier | ECE | top-10 % predicted | observed | deciles in 95 % CI "
                "| largest tie share (flagged) |",
                "|---|---|---|---|---|---|---|---|",
            ]
            for c in run["calibrators"]:
                lines.append(
                    f"| {c['calibrator']} | {c['log_loss']:.5f} | {c['brier']:.5f} | {c['ece']:.4f} | "
                    f"{c['top10_predicted']:.3f} | {c['top10_observed']:.3f} | "
                    f"{c['top10_deciles_in_ci']}/10 | {c['tie_share_flagged']:.2%} |"
                )
            final = run.get("final_model_calibration") or {}
            if final.get("candidates"):
                lines += [
                    "",
                    f"Final model ({variant}): {final.get('method')} — {final.get('reason')}; "
                    + ", ".join(
                        f"{k} log-loss {v['log_loss']:.5f}" for k, v in final["candidates"].items()
                    )
                    + ".",
                ]
        lines += ["", "### Calibration within the top 10 % (by decile, 1 = highest)", ""]
        lines += [
            "| variant | bin | rows | predicted | observed | 95 % interval | inside |",
            "|---|---|---|---|---|---|---|",
        ]
        for variant, run in variants.items():
            for d in run["top_decile"]:
                lines.append(
                    f"| {variant} | {d['bin']} | {d['rows']:,} | {d['predicted']:.3f} | "
                    f"{d['observed']:.3f} | {d['ci_low']:.3f}–{d['ci_high']:.3f} | "
                    f"{'yes' if d['in_ci'] else 'no'} |"
                )
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str]) -> None:
    if not argv or argv[0] not in ("run", "report"):
        raise SystemExit(__doc__)
    RESULTS.mkdir(exist_ok=True)
    if argv[0] == "run":
        variant, specs = argv[1], argv[2:]
        config_path = None
        if specs and specs[0].startswith("--config="):
            config_path, specs = specs[0].split("=", 1)[1], specs[1:]
        for spec in specs:
            name, data_dir = spec.split("=", 1)
            print(f"{name} ({variant}): {data_dir}", flush=True)
            result = measure(data_dir, config_path)
            out = RESULTS / f"models_{name}_{variant}.json"
            out.write_text(json.dumps(result, indent=1, ensure_ascii=False, default=str))
            print(f"wrote {out}", flush=True)
    page = report()
    (RESULTS / "models_two_provinces.md").write_text(page, encoding="utf-8")
    print(page)


if __name__ == "__main__":
    main(sys.argv[1:])
