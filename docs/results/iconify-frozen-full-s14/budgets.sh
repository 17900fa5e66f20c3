#!/bin/bash
# Session 14: embedding-slow-scale at 3e-4 on the full set with seeds 1-2 (trained here, two lanes),
# pooled with seed 0 and set beside the 3-seed rows of session 13, whose run directories are gone:
# their per-seed picks are read from docs/results/iconify-frozen-full-s13/budgets.json.
# The --pick rows re-tune the rate per budget on seed 0's validation (added in session 15).
cd "$(dirname "$0")/../../.."  # the repository root
J=docs/results/iconify-frozen-full-s13/budgets.json
R="runs/iconify-frozen-full-slow-3e-4/runs/embedding-learned-prior_scale_lr_scale=0.3/lr=0.0003"
python benchmarks/run_budgets.py --baseline "sigmoid-prior (1e-3)" \
  --merge "sigmoid-prior (1e-3)" $J \
  --merge "embedding-learned-prior (3e-4)" $J \
  --merge "embedding-learned-prior (1e-3), seed 0" $J \
  --merge "embedding-learned-prior (1e-4), seed 0" $J \
  --merge "embedding-slow-scale (1e-3)" $J \
  --merge "embedding-slow-scale (3e-4)" $J "embedding-slow-scale (3e-4), seed 0" \
  --run "embedding-slow-scale (3e-4)" "$R/seed=1" --run "embedding-slow-scale (3e-4)" "$R/seed=2" \
  --pick "embedding-slow-scale, rate per budget" "embedding-slow-scale (1e-3)" "embedding-slow-scale (3e-4)" \
  --pick "embedding-learned-prior, rate per budget" "embedding-learned-prior (1e-3), seed 0" \
    "embedding-learned-prior (3e-4)" "embedding-learned-prior (1e-4), seed 0" \
  --budgets ${1:-1,2,3,5,10} --json docs/results/iconify-frozen-full-s14/budgets.json
