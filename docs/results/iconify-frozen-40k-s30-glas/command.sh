#!/bin/bash
# Session 30 on the frozen 40k subset: GLaS (Guo et al. 2019) as its own head (embedding-learned +
# GLaS) and on the default (embedding-scale-cap[glas=1]), beside the default and the prior-bias
# sigmoid head, in the speed run's directory so its runs are reused (this directory's report).
cd "$(dirname "$0")/../../.."  # the repository root
bash docs/results/iconify-frozen-40k-s30-speed/command.sh
bash docs/results/iconify-frozen-40k-s30-speed/command.sh \
  --heads "sigmoid-prior;embedding-scale-cap;embedding-glas;embedding-scale-cap[glas=1]"
