#!/bin/bash
# Session 25 on the full set (frozen 96 px): embedding-free's three 1e-3 runs from session 24
# (5 epochs) continued to 10 epochs at the same constant rate (`compare` continues a finished run
# to more epochs where nothing depends on the total; the first 5 epochs are session 24's), beside
# the 3-seed baseline and the default (rate per budget: 1e-3 to 5 epochs, 3e-4 at 10). Each run
# is `labelsphere compare iconify-icons --data-dir ../shared/data --image-size 96 --epochs 10
# --batch-size 256 --lrs 1e-3 --extend-grid 0 --seeds 3 --only-seed K --threads 1
# --heads "embedding-scale-cap[free_logits=true,free_lr_scale=0.1]" --baseline (the same)
# --out runs/s25-full/free01-1e-3-10ep-sK`, on a copy of runs/s24-full/free01-1e-3-5ep-sK
# (runs/s25-full/exp.sh; two lanes, one thread each).
cd "$(dirname "$0")/../../.."  # the repository root
O=docs/results/iconify-frozen-full-s25
F="embedding-scale-cap_free_logits=true_free_lr_scale=0.1"
RUNS=()
for K in 0 1 2; do
  D=runs/s25-full/free01-1e-3-10ep-s$K/runs/$F/lr=0.001/seed=$K
  [ -f "$D/result.json" ] && RUNS+=(--run "embedding-free (1e-3)" "$D")
done
python benchmarks/run_budgets.py --baseline "sigmoid-prior (1e-3)" \
  --merge "sigmoid-prior (1e-3)" docs/results/iconify-frozen-full-s18/budgets.json \
  --merge "embedding-scale-cap (default), rate per budget" docs/results/iconify-frozen-full-s20/budgets.json \
  "embedding-scale-cap, rate per budget" \
  --merge "embedding-scale-cap (1e-3)" docs/results/iconify-frozen-full-s20/budgets.json "cap 15 (1e-3)" \
  "${RUNS[@]}" \
  --metrics P@1,P@5,PSP@5 --budgets ${1:-1,2,3,5,10} --json $O/budgets${1:+-to${1##*,}}.json | tee $O/budgets${1:+-to${1##*,}}.md
