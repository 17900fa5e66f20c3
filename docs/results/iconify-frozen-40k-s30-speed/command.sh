#!/bin/bash
# Session 30 on the frozen 40k subset (96 px, validation grouped by icon): the default and the
# prior-bias sigmoid head side by side in one invocation, one thread, for steps and seconds to
# the baseline's best; four other lanes ran beside it on this 2-core machine. GLaS was added to
# the same directory afterwards (docs/results/iconify-frozen-40k-s30-glas/command.sh).
cd "$(dirname "$0")/../../.."  # the repository root
labelsphere compare iconify-icons --data-dir ../shared/data --dataset-option max_icons=40000 \
  --image-size 96 --batch-size 256 --extend-grid 0 --seeds 3 --threads 1 --epochs 10 \
  --lrs 1e-3,3e-3 --baseline sigmoid-prior --out runs/s30-40k/speed \
  --heads "sigmoid-prior;embedding-scale-cap" "$@"
