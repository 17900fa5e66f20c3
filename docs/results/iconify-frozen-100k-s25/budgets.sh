#!/bin/bash
# Session 25: embedding-free on the nested 100k subset (96 px, grouped validation), session 19's
# protocol for the default there: 3 seeds at 1e-3 and seed 0 at 3e-3 (the rates the default
# picked), 10 epochs at a constant rate, the rate picked per budget on validation; beside
# session 17's baseline and session 19's default (their budgets.json, merged by their per-seed
# picks). Each run is `labelsphere compare iconify-icons --data-dir ../shared/data
# --dataset-option max_icons=100000 --image-size 96 --batch-size 256 --extend-grid 0 --seeds 3
# --threads 1 --epochs 10 --lrs R --only-seed K --heads embedding-free --baseline embedding-free
# --out runs/s25-100k/free-R-sK` (runs/s25-100k/lane.sh).
cd "$(dirname "$0")/../../.."  # the repository root
N=runs/s25-100k
args=(--baseline "sigmoid-prior (1e-3)" --merge "sigmoid-prior (1e-3)" docs/results/iconify-frozen-100k-s17/budgets.json
      --merge "embedding-scale-cap (the default), rate per budget" docs/results/iconify-frozen-100k-s19/budgets.json
      "embedding-scale-cap, rate per budget")
. docs/results/embedding_free_runs.sh
free_runs $N 1e-3 3e-3
python benchmarks/run_budgets.py "${args[@]}" \
  --metrics P@1,P@5,mAP,PSP@5 --budgets ${1:-1,2,3,5,10} \
  --json docs/results/iconify-frozen-100k-s25/budgets.json | tee docs/results/iconify-frozen-100k-s25/budgets.md
