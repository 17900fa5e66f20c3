#!/bin/bash
# Session 22: does the post-hoc prior adjustment (rank by score - tau * log prior, tau picked on
# validation) hold at the short budgets on the full set, not only at 10 epochs (session 21)?
# Each model is the best-validation checkpoint of a run trained for exactly that budget, seed 0,
# 1e-3 (both heads' pick at 1-5 epochs): a constant-rate run's first e epochs are the e-epoch run,
# so these are the models the per-budget tables read. Each run:
# `labelsphere compare iconify-icons --data-dir ../shared/data --image-size 96 --epochs E
# --batch-size 256 --lrs 1e-3 --extend-grid 0 --seeds 3 --only-seed 0 --threads 1 --heads H
# --baseline H --out runs/s22-full/H-1e-3-Eep` (two lanes, one thread each).
cd "$(dirname "$0")/../../.."  # the repository root
OUT=docs/results/iconify-diagnostics-s22
m() { echo "runs/s22-full/$1-1e-3-$2ep/runs/$1/lr=0.001/seed=0/model"; }
python benchmarks/label_diagnostics.py iconify-icons --data-dir ../shared/data \
  --run "sigmoid-prior, 1 ep" "$(m sigmoid-prior 1)" \
  --run "embedding-scale-cap, 1 ep" "$(m embedding-scale-cap 1)" \
  --run "sigmoid-prior, 3 ep" "$(m sigmoid-prior 3)" \
  --run "embedding-scale-cap, 3 ep" "$(m embedding-scale-cap 3)" \
  --run "embedding-scale-cap, 5 ep" "$(m embedding-scale-cap 5)" \
  --edges 0,5,10,20,50,100,300,1000 --json $OUT/full-budgets.json --png $OUT/bands-full-budgets.png
