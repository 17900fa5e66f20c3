#!/bin/bash
# Session 19: the learned temperature and validation MAP@100 epoch by epoch on the frozen 40k subset,
# seed 0 at 1e-3 (the runs of budgets.sh beside this, and the two heads without a cap, made with the
# same command and --heads embedding-learned-prior / embedding-slow-scale --out runs/s19-40k/lp-1e-3,
# runs/s19-40k/slow-1e-3).
cd "$(dirname "$0")/../../.."  # the repository root
N=runs/s19-40k
H=runs/embedding-learned-prior_max_scale
python benchmarks/temperature_curves.py \
  --run "learned-prior (scale at 1x the rate)" $N/lp-1e-3/runs/embedding-learned-prior/lr=0.001/seed=0 \
  --run "slow-scale (0.3x, the previous default)" $N/slow-1e-3/runs/embedding-slow-scale/lr=0.001/seed=0 \
  --run "cap 12" $N/cap12-1e-3/${H}=12/lr=0.001/seed=0 \
  --run "cap 15 (embedding-scale-cap, the default)" $N/cap15-1e-3/${H}=15/lr=0.001/seed=0 \
  --run "cap 20" $N/cap20-1e-3/${H}=20/lr=0.001/seed=0 \
  --json docs/results/iconify-frozen-40k-s19/temperature.json --png docs/results/iconify-frozen-40k-s19/temperature.png
