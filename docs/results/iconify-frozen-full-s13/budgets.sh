#!/bin/bash
# Session 13: embedding-slow-scale on the full set, 3 seeds at 1e-3 and seed 0 at 3e-4, against the
# 3-seed session-10 runs of the baseline (1e-3) and the default (3e-4), and the default's other rates.
cd "$(dirname "$0")/../../.."  # the repository root
F=runs/iconify-frozen-full
D="embedding-learned_n_components=512_bias=true_prior_bias=true"
S="embedding-learned-prior_scale_lr_scale=0.3"
runs=()
for s in 0 1 2; do
  runs+=(--run "sigmoid-prior (1e-3)" "$F-10ep-3s/runs/sigmoid-prior/lr=0.001/seed=$s")
  runs+=(--run "embedding-learned-prior (3e-4)" "$F-10ep-3s/runs/${D}_lr=0.0003/lr=0.0003/seed=$s")
  runs+=(--run "embedding-slow-scale (1e-3)" "$F-slow-10/runs/$S/lr=0.001/seed=$s")
done
runs+=(--run "embedding-learned-prior (1e-3), seed 0" "$F-def6/runs/$D/lr=0.001/seed=0")
runs+=(--run "embedding-learned-prior (1e-4), seed 0" "$F-ext-L/runs/embedding-learned-prior/lr=0.0001/seed=0")
runs+=(--run "embedding-slow-scale (3e-4), seed 0" "$F-slow-3e-4/runs/$S/lr=0.0003/seed=0")
python benchmarks/run_budgets.py --baseline "sigmoid-prior (1e-3)" "${runs[@]}" \
  --budgets ${1:-1,2,3,5,10} --json docs/results/iconify-frozen-full-s13/budgets.json
