#!/bin/bash
# The full set (frozen 96 px, seed 0 runs) beside session 14's rows, whose per-seed picks are read
# from its budgets.json (their run directories are gone):
# - session 15: the temperature warmed at 0.1x the rate under a 1e-3 run (its log-scale moves at most
#   1e-4 a step, as embedding-slow-scale's does at 3e-4); its table was docs/results/iconify-frozen-full-k01;
# - session 18: the default's bottom rate edge, embedding-slow-scale at 1e-4, 10 epochs
#   (`labelsphere compare iconify-icons --image-size 96 --epochs 10 --batch-size 256 --lrs 1e-4
#   --extend-grid 0 --seeds 1 --threads 1 --heads embedding-slow-scale --baseline embedding-slow-scale
#   --out runs/s18-full-slow-1e-4`, 43 min on one core).
cd "$(dirname "$0")/../../.."  # the repository root
J=docs/results/iconify-frozen-full-s14/budgets.json
python benchmarks/run_budgets.py --baseline "sigmoid-prior (1e-3)" \
  --merge "sigmoid-prior (1e-3)" $J \
  --merge "embedding-slow-scale (1e-3)" $J \
  --merge "embedding-slow-scale (3e-4)" $J \
  --run "embedding-slow-scale (1e-4), seed 0" runs/s18-full-slow-1e-4/runs/embedding-slow-scale/lr=0.0001/seed=0 \
  --pick "embedding-slow-scale, rate per budget" "embedding-slow-scale (1e-3)" "embedding-slow-scale (3e-4)" \
    "embedding-slow-scale (1e-4), seed 0" \
  --run "embedding-learned-prior[scale_lr_scale=0.1] (1e-3), seed 0" \
    "runs/iconify-frozen-full-k01/runs/embedding-learned-prior_scale_lr_scale=0.1/lr=0.001/seed=0" \
  --metrics P@1,P@5,PSP@5 --budgets ${1:-1,2,3,5,10} --json docs/results/iconify-frozen-full-s18/budgets.json
