"""Backtest on a written synthetic province (the figures in benchmarks/results/backtest_200k_seed7.md).

Usage: python benchmarks/backtest_province.py DIR  (DIR from `riskml synth --households 200000 --seed 7 --out DIR`)
"""

import sys
import time

from riskml.config.training import load_training_config
from riskml.data import load_bundle
from riskml.features import build_training_set
from riskml.models import backtest
from riskml.synth import find_ground_truth, oracle_probability

d = sys.argv[1]
t0 = time.time()
b = load_bundle(d)
cfg = load_training_config()
dates = cfg.as_of_dates(b.extracted_on)
print("as_of dates", dates[0], dates[-1], len(dates), flush=True)
ts = build_training_set(
    b, dates, horizon_months=cfg.horizon_months if hasattr(cfg, "horizon_months") else 12
)
print(
    "training set",
    ts.frame.shape,
    "label rate",
    float(ts.frame.label.mean()),
    time.time() - t0,
    flush=True,
)
oracle = oracle_probability(find_ground_truth(d), ts.frame[["household_id", "as_of"]])
res = backtest(ts, cfg, oracle=oracle)
print(res.to_markdown(), flush=True)
print("fairness gaps\n", res.fairness_gaps().to_string(), flush=True)
res.table().to_csv("/tmp/bt200k_table.csv")
res.fairness.to_csv("/tmp/bt200k_fairness.csv")
print("total", time.time() - t0, flush=True)
