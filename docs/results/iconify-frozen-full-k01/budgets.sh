#!/bin/bash
# Session 15: the temperature warmed at 0.1x the rate under a 1e-3 run (its log-scale moves at most 1e-4 a
# step, as embedding-slow-scale's does at 3e-4), full set, frozen 96 px, seed 0, beside session 14's rows.
cd "$(dirname "$0")/../../.."  # the repository root
J=docs/results/iconify-frozen-full-s14/budgets.json
python benchmarks/run_budgets.py --baseline "sigmoid-prior (1e-3)" \
  --merge "sigmoid-prior (1e-3)" $J \
  --merge "embedding-slow-scale (1e-3)" $J \
  --merge "embedding-slow-scale (3e-4)" $J \
  --merge "embedding-slow-scale, rate per budget" $J \
  --run "embedding-learned-prior[scale_lr_scale=0.1] (1e-3), seed 0" \
    "runs/iconify-frozen-full-k01/runs/embedding-learned-prior_scale_lr_scale=0.1/lr=0.001/seed=0" \
  --budgets ${1:-1,2,3,5,10} --json docs/results/iconify-frozen-full-k01/budgets.json
