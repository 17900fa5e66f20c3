#!/bin/bash
# Session 24 on the full set (frozen 96 px): the second and third seeds of hybrid[loss=softmax]
# (1e-3, 3 epochs; seed 0 from session 12's budgets.json), the second seed of embedding-pal
# (3e-4, 10 epochs; seed 0 from session 11's compare report), and the default with a free
# per-label layer beside its scaled cosine (`free_logits=true`, seed 0, 1e-3, 5 epochs; the free
# layer at 1x, 0.3x and 0.1x the rate; seeds 1-2 at 0.1x, the head registered as embedding-free) beside the default's own seed-0 run at 1e-3 (session 22).
# Each run is `labelsphere compare iconify-icons --data-dir ../shared/data --image-size 96
# --epochs E --batch-size 256 --lrs R --extend-grid 0 --seeds 3 --only-seed K --threads 1
# --heads H --baseline H --out runs/s24-full/NAME-R-Eep-sK` (runs/s24-full/exp.sh; two lanes,
# one thread each, with a copy of src on PYTHONPATH).
cd "$(dirname "$0")/../../.."  # the repository root
O=docs/results/iconify-frozen-full-s24
S=runs/s24-full
RUNS=()
for K in 1 2; do
  D=$S/hybrid-1e-3-3ep-s$K/runs/hybrid_loss=softmax/lr=0.001/seed=$K
  [ -f "$D/result.json" ] && RUNS+=(--run "hybrid[loss=softmax] (1e-3)" "$D")
done
D=$S/pal-3e-4-10ep-s1/runs/embedding-pal/lr=0.0003/seed=1
[ -f "$D/result.json" ] && RUNS+=(--run "embedding-pal (3e-4)" "$D")
D=runs/s22-full/embedding-scale-cap-1e-3-5ep/runs/embedding-scale-cap/lr=0.001/seed=0
[ -f "$D/result.json" ] && RUNS+=(--run "embedding-scale-cap (1e-3), seed 0" "$D")
F="embedding-scale-cap_free_logits=true"
D=$S/free-1e-3-5ep-s0/runs/$F/lr=0.001/seed=0
[ -f "$D/result.json" ] && RUNS+=(--run "embedding-scale-cap[free_logits=true] (1e-3), seed 0" "$D")
for X in 0.3 0.1; do
  N=free${X/./}
  D=$S/$N-1e-3-5ep-s0/runs/${F}_free_lr_scale=$X/lr=0.001/seed=0
  [ -f "$D/result.json" ] && RUNS+=(--run "embedding-scale-cap[free_logits=true,free_lr_scale=$X] (1e-3), seed 0" "$D")
done
for K in 0 1 2; do  # embedding-free with 3 seeds (1e-3, 5 epochs)
  D=$S/free01-1e-3-5ep-s$K/runs/${F}_free_lr_scale=0.1/lr=0.001/seed=$K
  [ -f "$D/result.json" ] && RUNS+=(--run "embedding-free (1e-3)" "$D")
done
python benchmarks/run_budgets.py --baseline "sigmoid-prior (1e-3)" \
  --merge "sigmoid-prior (1e-3)" docs/results/iconify-frozen-full-s18/budgets.json \
  --merge "embedding-scale-cap (default), rate per budget" docs/results/iconify-frozen-full-s20/budgets.json \
  "embedding-scale-cap, rate per budget" \
  "${RUNS[@]}" \
  --merge "hybrid[loss=softmax] (1e-3)" docs/results/iconify-frozen-full-s12/budgets.json \
  --merge "embedding-pal (3e-4)" docs/results/iconify-frozen-full-pal/results.json "embedding-pal[lr=0.0003]" \
  --metrics P@1,P@5,PSP@5 --budgets ${1:-1,2,3,5,10} --json $O/budgets${1:+-to${1##*,}}.json | tee $O/budgets${1:+-to${1##*,}}.md
