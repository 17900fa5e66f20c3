#!/bin/bash
# Session 21: does a wider network change the default's lead on the full set? Both heads with a
# 1024-wide hidden layer (the default's label vectors d = 1024 too, so its output is not
# narrower than the sigmoid head's), 1e-3 (both heads' pick at 1-5 epochs at width 512), seed 0,
# 5 epochs, beside the width-512 runs at the same rate and seed (session 20's default, session
# 21's sigmoid-prior). Each wide run is `labelsphere compare iconify-icons --data-dir
# ../shared/data --image-size 96 --epochs 5 --batch-size 256 --lrs 1e-3 --extend-grid 0 --seeds 3
# --only-seed 0 --threads 1 --hidden 1024 --heads H --baseline H --out runs/s21-full/wide-T`, H =
# sigmoid-prior (T = sigmoid-1e-3) or "embedding-scale-cap[n_components=1024]" (T = cap-1e-3).
# Two tables, each against the sigmoid head of its own width.
cd "$(dirname "$0")/../../.."  # the repository root
OUT=docs/results/iconify-frozen-full-wide-s21
set -e
python benchmarks/run_budgets.py --baseline "sigmoid-prior, hidden 512" \
  --run "sigmoid-prior, hidden 512" runs/s21-full/sigmoid-prior-1e-3/runs/sigmoid-prior/lr=0.001/seed=0 \
  --run "embedding-scale-cap, hidden 512" runs/s20-full/cap15-1e-3/runs/embedding-scale-cap/lr=0.001/seed=0 \
  --metrics P@1,PSP@5 --budgets 1,2,3,5 --json $OUT/hidden512.json
python benchmarks/run_budgets.py --baseline "sigmoid-prior, hidden 1024" \
  --run "sigmoid-prior, hidden 1024" runs/s21-full/wide-sigmoid-1e-3/runs/sigmoid-prior/lr=0.001/seed=0 \
  --run "embedding-scale-cap, hidden 1024, d 1024" "runs/s21-full/wide-cap-1e-3/runs/embedding-scale-cap_n_components=1024/lr=0.001/seed=0" \
  --metrics P@1,PSP@5 --budgets 1,2,3,5 --json $OUT/hidden1024.json
