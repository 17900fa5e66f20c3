#!/bin/bash
# Session 24: does the free per-label layer (embedding-free, i.e. embedding-scale-cap
# [free_logits=true,free_lr_scale=0.1]) recover the per-label ranking session 21 found the
# default losing on the full set? Frozen 96 px, seed 0, 1e-3, each run's best validation
# checkpoint: sigmoid-prior (session 21's 10-epoch run; best at 6), the default (session 22's
# 5-epoch run) and embedding-free (this session's 5-epoch run), by training count of the label.
cd "$(dirname "$0")/../../.."  # the repository root
OUT=docs/results/iconify-diagnostics-s24
S=runs/s21-full/sigmoid-prior-1e-3/runs/sigmoid-prior/lr=0.001/seed=0/model
E=runs/s22-full/embedding-scale-cap-1e-3-5ep/runs/embedding-scale-cap/lr=0.001/seed=0/model
F=runs/s24-full/free01-1e-3-5ep-s0/runs/embedding-scale-cap_free_logits=true_free_lr_scale=0.1/lr=0.001/seed=0/model
python benchmarks/label_diagnostics.py iconify-icons --data-dir ../shared/data \
  --run "sigmoid-prior (1e-3)" $S --run "embedding-scale-cap (1e-3)" $E --run "embedding-free (1e-3)" $F \
  --edges 0,5,10,20,50,100,300,1000 --taus 0 --json $OUT/full.json --png $OUT/bands-full.png | tee $OUT/full.md
