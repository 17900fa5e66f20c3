#!/bin/bash
# Session 21: where the default embedding head gains and loses against the tuned prior-bias
# sigmoid head, by training frequency of the label, and whether a post-hoc logit adjustment
# tuned on validation moves either (both from benchmarks/label_diagnostics.py).
# Frozen 96 px features, 10 epochs, one seed per head at the rate each picks at 10 epochs:
# - 40k subset: sigmoid-prior at 1e-3, seed 1 (`labelsphere compare iconify-icons --data-dir
#   ../shared/data --dataset-option max_icons=40000 --image-size 96 --batch-size 256
#   --extend-grid 0 --seeds 3 --threads 1 --epochs 10 --lrs 1e-3 --only-seed 1 --heads
#   sigmoid-prior --baseline sigmoid-prior --out runs/s21-40k/sigmoid-prior-1e-3`; test MAP@100
#   0.2460, its 3-seed mean 0.2478) against session 19's cap-15 run at 1e-3, seed 1.
# - 100k subset: sigmoid-prior at 1e-3, seed 0 (the same with --dataset-option max_icons=100000,
#   --only-seed 0, --out runs/s21-100k/sigmoid-prior-1e-3) against session 19's default at 1e-3,
#   seed 0.
# - full set: sigmoid-prior at 1e-3, seed 0 (the same without --dataset-option, --only-seed 0,
#   --out runs/s21-full/sigmoid-prior-1e-3) against session 20's default at 3e-4, seed 0.
# Usage: bash run.sh [40k|100k|full]  (default all three)
cd "$(dirname "$0")/../../.."  # the repository root
OUT=docs/results/iconify-diagnostics-s21
EDGES=0,5,10,20,50,100,300,1000
set -e
if [ "${1:-40k}" = 40k ]; then
  S=runs/s21-40k/sigmoid-prior-1e-3/runs/sigmoid-prior/lr=0.001/seed=1/model
  E=runs/s19-40k/cap15-1e-3-10ep/runs/embedding-learned-prior_max_scale=15/lr=0.001/seed=1/model
  A=(iconify-icons --data-dir ../shared/data --dataset-option max_icons=40000
     --run "sigmoid-prior (1e-3)" $S --run "embedding-scale-cap (1e-3)" $E)
  python benchmarks/label_diagnostics.py "${A[@]}" --edges $EDGES --json $OUT/40k.json --png $OUT/bands-40k.png
fi
if [ "${1:-100k}" = 100k ]; then
  S=runs/s21-100k/sigmoid-prior-1e-3/runs/sigmoid-prior/lr=0.001/seed=0/model
  E=runs/s19-100k/cap15-1e-3/runs/embedding-scale-cap/lr=0.001/seed=0/model
  A=(iconify-icons --data-dir ../shared/data --dataset-option max_icons=100000
     --run "sigmoid-prior (1e-3)" $S --run "embedding-scale-cap (1e-3)" $E)
  python benchmarks/label_diagnostics.py "${A[@]}" --edges $EDGES --json $OUT/100k.json --png $OUT/bands-100k.png
fi
if [ "${1:-full}" = full ]; then
  S=runs/s21-full/sigmoid-prior-1e-3/runs/sigmoid-prior/lr=0.001/seed=0/model
  E=runs/s20-full/cap15-3e-4/runs/embedding-scale-cap/lr=0.0003/seed=0/model
  A=(iconify-icons --data-dir ../shared/data --run "sigmoid-prior (1e-3)" $S
     --run "embedding-scale-cap (3e-4)" $E)
  python benchmarks/label_diagnostics.py "${A[@]}" --edges $EDGES --json $OUT/full.json --png $OUT/bands-full.png
fi
