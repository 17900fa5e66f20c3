#!/bin/bash
# Session 15: embedding-slow-scale end to end (PixelCNN from scratch, 32 px, the grouped 20k subset),
# seeds 1-2 trained here at seed 0's per-budget picks (1e-3 for 1-5 epochs, 3e-3 for 10), pooled with
# seed 0 (session 12's comparison) and set beside the 3-seed rows of session 11's comparison, whose
# rates were re-tuned per budget there. Every row's per-seed picks come from a committed results.json.
cd "$(dirname "$0")/../../.."  # the repository root
G=docs/results/iconify-e2e-20k-g10-3s/results.json   # sigmoid-prior, embedding-learned-prior, hybrid: 3 seeds
S=docs/results/iconify-e2e-20k-s12/results.json      # embedding-slow-scale, seed 0, rates {1e-3, 3e-3}
H="embedding-learned-prior_scale_lr_scale=0.3"
python benchmarks/run_budgets.py --baseline sigmoid-prior \
  --merge sigmoid-prior $G \
  --merge embedding-learned-prior $G \
  --merge "hybrid[loss=softmax]" $G \
  --run "embedding-slow-scale (1e-3)" runs/e2e-slow-1e-3/runs/$H/lr=0.001/seed=1 \
  --run "embedding-slow-scale (1e-3)" runs/e2e-slow-1e-3/runs/$H/lr=0.001/seed=2 \
  --merge "embedding-slow-scale (1e-3)" $S embedding-slow-scale \
  --run "embedding-slow-scale (3e-3)" runs/e2e-slow-3e-3/runs/$H/lr=0.003/seed=1 \
  --run "embedding-slow-scale (3e-3)" runs/e2e-slow-3e-3/runs/$H/lr=0.003/seed=2 \
  --merge "embedding-slow-scale (3e-3)" $S embedding-slow-scale \
  --pick "embedding-slow-scale, seed 0's per-budget picks" "embedding-slow-scale (1e-3)" "embedding-slow-scale (3e-3)" \
  --budgets ${1:-1,2,3,5,10} --json docs/results/iconify-e2e-20k-s15/budgets.json
