#!/bin/bash
# Session 32: does the default's lead narrow with the set's size, or with how rare its labels
# are? The prior-bias sigmoid head and the default (embedding-scale-cap), 1e-3, 3 epochs, seed 0,
# frozen 96 px, on the 40k and nested 100k subsets and the full set. Each run is
#   labelsphere compare iconify-icons --data-dir ../shared/data [--dataset-option max_icons=S] \
#     --image-size 96 --epochs 3 --batch-size 256 --lrs 1e-3 --extend-grid 0 --seeds 3 \
#     --only-seed 0 --threads 1 --heads H --baseline H --out runs/s32-.../H
# (runs/s32-full/lane.sh, runs/s32-full/sizes.sh). Then, per set, benchmarks/label_diagnostics.py
# (bands by training count, and vocabulary cuts: the full set's ranking restricted to labels
# with >= 16 / 42 training icons, the share of the training set the 5-icon minimum stands for
# at 80k / 31k training icons) and benchmarks/band_scaling.py (the bands at each label's share).
# Usage: bash run.sh [diagnose|scale]  (default both)
cd "$(dirname "$0")/../../.."  # the repository root
set -e
OUT=docs/results/iconify-diagnostics-s32
M=runs/s32-sizes
F=runs/s32-full
model() { echo "$1/runs/$2/lr=0.001/seed=0/model"; }
if [ "${1:-diagnose}" = diagnose ]; then
  for S in 40000 100000; do
    python benchmarks/label_diagnostics.py iconify-icons --data-dir ../shared/data \
      --dataset-option max_icons=$S --edges 0,5,10,20,50,100,300,1000 --taus 0 \
      --min-counts 0,5,10,20 \
      --run "sigmoid-prior (1e-3)" "$(model $M/$S-sigmoid-prior-s0 sigmoid-prior)" \
      --run "embedding-scale-cap (1e-3)" "$(model $M/$S-embedding-scale-cap-s0 embedding-scale-cap)" \
      --json $OUT/$S.json | tee $OUT/$S.md
  done
  python benchmarks/label_diagnostics.py iconify-icons --data-dir ../shared/data \
    --edges 0,5,10,20,50,100,300,1000 --taus 0 --min-counts 0,5,16,42 \
    --run "sigmoid-prior (1e-3)" "$(model $F/sigmoid-prior-1e-3-s0 sigmoid-prior)" \
    --run "embedding-scale-cap (1e-3)" "$(model $F/embedding-scale-cap-1e-3-s0 embedding-scale-cap)" \
    --json $OUT/full.json | tee $OUT/full.md
fi
if [ "${1:-scale}" = scale ]; then
  python benchmarks/band_scaling.py --set "31k icons" $OUT/40000.json --set "80k icons" $OUT/100000.json \
    --set "261k icons" $OUT/full.json --json $OUT/scaling.json --png $OUT/scaling.png | tee $OUT/scaling.md
fi
