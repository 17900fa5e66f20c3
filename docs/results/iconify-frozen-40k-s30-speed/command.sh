#!/bin/bash
# Session 30 on the frozen 40k subset (96 px, validation grouped by icon), two invocations into one
# directory, one thread each, while four other lanes ran beside them on this 2-core machine:
# 1. the default and the prior-bias sigmoid head side by side, for steps and seconds to the
#    baseline's best (its report is docs/results/iconify-frozen-40k-s30-speed);
# 2. the same plus GLaS, as its own head (embedding-learned + GLaS, Guo et al. 2019) and on the
#    default (embedding-scale-cap[glas=1]), reusing the runs of 1 (this directory's report).
cd "$(dirname "$0")/../../.."  # the repository root
common=(iconify-icons --data-dir ../shared/data --dataset-option max_icons=40000 --image-size 96
        --batch-size 256 --extend-grid 0 --seeds 3 --threads 1 --epochs 10 --lrs 1e-3,3e-3
        --baseline sigmoid-prior --out runs/s30-40k/speed)
labelsphere compare "${common[@]}" --heads "sigmoid-prior;embedding-scale-cap"
labelsphere compare "${common[@]}" \
  --heads "sigmoid-prior;embedding-scale-cap;embedding-glas;embedding-scale-cap[glas=1]"
