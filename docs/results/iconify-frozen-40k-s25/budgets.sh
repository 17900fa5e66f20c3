#!/bin/bash
# Session 25: embedding-free (the default plus a free per-label layer at 0.1x the rate) on the
# frozen 40k subset (96 px, grouped validation), session 19's protocol: seed 0 over {3e-4, 1e-3,
# 3e-3}, seeds 1-2 at 1e-3 and 3e-3, 10 epochs at a constant rate (shorter budgets read off the
# same runs), the rate picked per budget on validation. Beside session 18's baseline and session
# 19's default (their budgets.json, merged by their per-seed picks). Each run is `labelsphere
# compare iconify-icons --data-dir ../shared/data --dataset-option max_icons=40000 --image-size 96
# --batch-size 256 --extend-grid 0 --seeds 3 --threads 1 --epochs 10 --lrs R --only-seed K
# --heads embedding-free --baseline embedding-free --out runs/s25-40k/free-R-sK`
# (runs/s25-40k/lane.sh).
cd "$(dirname "$0")/../../.."  # the repository root
N=runs/s25-40k
args=(--baseline sigmoid-prior --merge sigmoid-prior docs/results/iconify-frozen-40k-s18/budgets.json
      --merge "embedding-scale-cap (the default), rate per budget" docs/results/iconify-frozen-40k-s19/budgets.json
      "embedding-scale-cap (cap 15), rate per budget")
. docs/results/embedding_free_runs.sh
free_runs $N 1e-3 3e-3 3e-4
python benchmarks/run_budgets.py "${args[@]}" \
  --metrics P@1,P@5,mAP,PSP@5 --budgets ${1:-1,2,3,5,10} \
  --json docs/results/iconify-frozen-40k-s25/budgets.json | tee docs/results/iconify-frozen-40k-s25/budgets.md
