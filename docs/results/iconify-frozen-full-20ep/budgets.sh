#!/bin/bash
# Session 15: the full set (frozen 96 px) to 20 epochs, seed 1: the prior-bias sigmoid head at its 10-epoch
# rate (1e-3, trained here from scratch) and embedding-slow-scale at its 10-epoch rate (3e-4, session 14's
# seed-1 run continued from 10 to 20 epochs at the same constant rate). Checkpoints picked on validation.
cd "$(dirname "$0")/../../.."  # the repository root
python benchmarks/run_budgets.py --baseline "sigmoid-prior (1e-3), seed 1" \
  --run "sigmoid-prior (1e-3), seed 1" runs/iconify-frozen-full-base-20/runs/sigmoid-prior/lr=0.001/seed=1 \
  --run "embedding-slow-scale (3e-4), seed 1" \
    "runs/iconify-frozen-full-slow-3e-4/runs/embedding-learned-prior_scale_lr_scale=0.3/lr=0.0003/seed=1" \
  --budgets ${1:-1,2,3,5,10,15,20} --json docs/results/iconify-frozen-full-20ep/budgets.json
