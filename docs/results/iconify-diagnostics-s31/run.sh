#!/bin/bash
# Session 31: where the label-to-sample softmax (`embedding-two-way`) gains, by training frequency
# of the label, against the default and the prior-bias sigmoid head (benchmarks/label_diagnostics.py).
# Frozen 96 px features, the 40k subset, 10 epochs at 1e-3, seed 0 each: session 30's runs
# (runs/s30-40k/speed, docs/results/iconify-frozen-40k-s30-speed/command.sh) and session 31's
# (docs/results/iconify-frozen-40k-s31/budgets.sh).
cd "$(dirname "$0")/../../.."  # the repository root
OUT=docs/results/iconify-diagnostics-s31
S=runs/s30-40k/speed/runs
T=runs/s31-40k/capss1-1e-3-s0/runs/embedding-scale-cap_sample_softmax=1/lr=0.001/seed=0/model
python benchmarks/label_diagnostics.py iconify-icons --data-dir ../shared/data \
  --dataset-option max_icons=40000 --edges 0,5,10,20,50,100,300,1000 \
  --run "sigmoid-prior (1e-3)" $S/sigmoid-prior/lr=0.001/seed=0/model \
  --run "embedding-scale-cap (1e-3)" $S/embedding-scale-cap/lr=0.001/seed=0/model \
  --run "embedding-two-way (1e-3)" $T \
  --json $OUT/40k.json --png $OUT/bands-40k.png | tee $OUT/40k.md
