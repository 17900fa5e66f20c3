#!/bin/bash
# Session 26 on the full set (frozen 96 px), beside the default's and embedding-free's seed-0
# runs at the same rate (sessions 22, 24-25) and the 3-seed baseline:
# - the free layer on unit inputs (`free_normalize=true`, head embedding-free-unit) at 3x the
#   rate, 1e-3: seed 0 to 5 epochs (then continued to 10 on a copy, --epochs 10, --out
#   runs/s26-full/freenorm3-1e-3-10ep-s0), seeds 1-2 stopped after 3 (no result.json);
#   at 10x, seed 0, stopped after 3 epochs (both rates from the frozen-40k screen,
#   docs/results/iconify-frozen-40k-s26);
# - embedding-free at 3e-4 (the default's 10-epoch pick), seed 0, 10 epochs, beside the
#   default's three 3e-4 seeds.
# Each run is `labelsphere compare iconify-icons --data-dir ../shared/data --image-size 96
# --epochs E --batch-size 256 --lrs R --extend-grid 0 --seeds 3 --only-seed 0 --threads 1
# --heads H --baseline H --out runs/s26-full/NAME` (runs/s26-full/lanes.sh; two lanes, one
# thread each, with a copy of src on PYTHONPATH).
cd "$(dirname "$0")/../../.."  # the repository root
O=docs/results/iconify-frozen-full-s26
RUNS=()
add() {  # add LABEL RUN_DIR, if that run evaluated an epoch
  [ -s "$2/metrics.jsonl" ] && RUNS+=(--run "$1" "$2")
  return 0
}
add "embedding-scale-cap (1e-3), seed 0" \
  runs/s22-full/embedding-scale-cap-1e-3-5ep/runs/embedding-scale-cap/lr=0.001/seed=0
add "embedding-free (1e-3), seed 0" \
  runs/s25-full/free01-1e-3-10ep-s0/runs/embedding-scale-cap_free_logits=true_free_lr_scale=0.1/lr=0.001/seed=0
F="embedding-scale-cap_free_logits=true_free_lr_scale=3_free_normalize=true"
S0=runs/s26-full/freenorm3-1e-3-10ep-s0  # seed 0 continued from 5 to 10 epochs, when it finished
[ -f $S0/runs/$F/lr=0.001/seed=0/result.json ] || S0=runs/s26-full/freenorm3-1e-3-5ep-s0
add "[free_logits=true,free_lr_scale=3,free_normalize=true] (1e-3), seed 0" $S0/runs/$F/lr=0.001/seed=0
for K in 0 1 2; do
  add "embedding-free-unit (1e-3)" runs/s26-full/freenorm3-1e-3-5ep-s$K/runs/$F/lr=0.001/seed=$K
done
F10="embedding-scale-cap_free_logits=true_free_lr_scale=10_free_normalize=true"
add "[free_logits=true,free_lr_scale=10,free_normalize=true] (1e-3), seed 0" \
  runs/s26-full/freenorm10-1e-3-5ep-s0/runs/$F10/lr=0.001/seed=0
add "embedding-free (3e-4), seed 0" \
  runs/s26-full/free-3e-4-10ep-s0/runs/embedding-free/lr=0.0003/seed=0
python benchmarks/run_budgets.py --baseline "sigmoid-prior (1e-3)" \
  --merge "sigmoid-prior (1e-3)" docs/results/iconify-frozen-full-s18/budgets.json \
  --merge "embedding-scale-cap (3e-4)" docs/results/iconify-frozen-full-s20/budgets.json "cap 15 (3e-4)" \
  "${RUNS[@]}" \
  --metrics P@1,P@5,PSP@5 --budgets ${1:-1,2,3,5,10} --json $O/budgets${1:+-to${1##*,}}.json | tee $O/budgets${1:+-to${1##*,}}.md
