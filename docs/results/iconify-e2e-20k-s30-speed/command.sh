#!/bin/bash
# Session 30 end to end (PixelCNN from scratch, 32 px, the grouped 20k subset): the default and the
# prior-bias sigmoid head in one invocation, each at its 10-epoch pick (3e-3 for both, sessions
# 15-19), 2 seeds (a run is 13 min here), for steps and seconds to the baseline's best. The
# embedding head runs first, so it ran under the heavier load (five lanes on two cores, then four).
cd "$(dirname "$0")/../../.."  # the repository root
labelsphere compare iconify-icons --data-dir ../shared/data --dataset-option max_icons=20000 \
  --render-size 32 --batch-size 128 --hidden 256 --extend-grid 0 --threads 1 --epochs 10 \
  --lrs 3e-3 --seeds 2 --heads "embedding-scale-cap;sigmoid-prior" --baseline sigmoid-prior \
  --out runs/s30-e2e/speed
