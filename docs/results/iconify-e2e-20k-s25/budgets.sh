#!/bin/bash
# Session 25: embedding-free end to end (PixelCNN from scratch, 32 px, the grouped 20k subset),
# session 19's protocol for the default there: seed 0 at 1e-3 and 3e-3 (10 epochs), seeds 1-2 at
# 1e-3 to 5 epochs and 3e-3 to 10, the rate picked per budget on validation; beside session
# 19's rows (its budgets.json, merged by their per-seed picks). Each run is `labelsphere compare
# iconify-icons --data-dir ../shared/data --dataset-option max_icons=20000 --render-size 32
# --batch-size 128 --hidden 256 --extend-grid 0 --threads 1 --epochs E --lrs R --seeds 3
# --only-seed K --heads embedding-free --baseline embedding-free --out runs/s25-e2e/free-R-Eep-sK`
# (runs/s25-e2e/lane.sh).
cd "$(dirname "$0")/../../.."  # the repository root
N=runs/s25-e2e
J=docs/results/iconify-e2e-20k-s19/budgets.json
args=(--baseline sigmoid-prior --merge sigmoid-prior $J
      --merge "embedding-scale-cap (the default), rate per budget" $J "embedding-scale-cap, rate per budget"
      --merge "hybrid[loss=softmax]" $J --merge "softmax, rate per budget" $J)
. docs/results/embedding_free_runs.sh
free_runs $N 1e-3 3e-3
python benchmarks/run_budgets.py "${args[@]}" \
  --metrics P@1,P@5,mAP,PSP@5 --budgets ${1:-1,2,3,5,10} \
  --json docs/results/iconify-e2e-20k-s25/budgets.json | tee docs/results/iconify-e2e-20k-s25/budgets.md
