#!/bin/bash
# Session 20: the default's end-to-end grid past its top edge. embedding-scale-cap picked 3e-3, the
# top of its grid {1e-3, 3e-3}, at 10 epochs (session 19); here 9e-3, seed 0, 10 epochs:
# `labelsphere compare iconify-icons --data-dir ../shared/data --dataset-option max_icons=20000
# --render-size 32 --batch-size 128 --hidden 256 --extend-grid 0 --threads 2 --epochs 10
# --lrs 9e-3 --seeds 3 --only-seed 0 --heads embedding-scale-cap --baseline embedding-scale-cap
# --out runs/s20-e2e/cap15-9e-3`. Session 19's rows are merged by their per-seed picks.
cd "$(dirname "$0")/../../.."  # the repository root
J=docs/results/iconify-e2e-20k-s19/budgets.json
python benchmarks/run_budgets.py --baseline sigmoid-prior --merge sigmoid-prior $J \
  --merge "cap 15 (1e-3)" $J --merge "cap 15 (3e-3)" $J \
  --run "cap 15 (9e-3), seed 0" runs/s20-e2e/cap15-9e-3/runs/embedding-scale-cap/lr=0.009/seed=0 \
  --pick "embedding-scale-cap, rate per budget" "cap 15 (1e-3)" "cap 15 (3e-3)" "cap 15 (9e-3), seed 0" \
  --metrics P@1,P@5,mAP,PSP@5 --budgets ${1:-1,2,3,5,10} --json docs/results/iconify-e2e-20k-s20/budgets.json
