#!/bin/bash
cd "$(dirname "$0")/../../.."  # the repository root
F=runs/iconify-frozen-full
D="embedding-learned_n_components=512_bias=true_prior_bias=true"
python benchmarks/run_budgets.py --baseline "sigmoid-prior (1e-3)" \
  --run "sigmoid-prior (1e-3)" "$F-10ep-3s/runs/sigmoid-prior/lr=0.001/seed=0" \
  --run "sigmoid-prior (3e-4)" "$F-10ep-3s/runs/sigmoid-prior/lr=0.0003/seed=0" \
  --run "embedding-learned-prior (1e-3)" "$F-def6/runs/$D/lr=0.001/seed=0" \
  --run "embedding-learned-prior (3e-4)" "$F-10ep-3s/runs/${D}_lr=0.0003/lr=0.0003/seed=0" \
  --run "embedding-learned-prior (1e-4)" "$F-ext-L/runs/embedding-learned-prior/lr=0.0001/seed=0" \
  --run "embedding-slow-scale (1e-3)" "$F-slow-A/runs/embedding-learned-prior_scale_lr_scale=0.3/lr=0.001/seed=0" \
  --run "hybrid[loss=softmax] (1e-3)" "$F-hyb/runs/hybrid_loss=softmax/lr=0.001/seed=0" \
  --run "hybrid[loss=softmax] (3e-4)" "$F-hyb/runs/hybrid_loss=softmax/lr=0.0003/seed=0" \
  --budgets ${1:-1,2,3,5,6,10} --json docs/results/iconify-frozen-full-s12/budgets.json
