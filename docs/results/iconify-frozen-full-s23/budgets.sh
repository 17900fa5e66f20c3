#!/bin/bash
# Session 23: the full softmax head on the full set (frozen 96 px, 10 epochs; until now it had
# 3 epochs, seed 0), at the two rates the default uses there (1e-3, 3e-4), seeds 0-1, beside the
# 3-seed baseline and default rows merged from session 18's and session 20's budgets.json (their
# run directories are not kept). Each run is `labelsphere compare iconify-icons --data-dir
# ../shared/data --image-size 96 --epochs 10 --batch-size 256 --lrs R --extend-grid 0 --seeds 3
# --only-seed K --threads 1 --heads softmax --baseline softmax --out runs/s23-full/softmax-R-sK`
# (two lanes, one thread each; runs/s23-full/lane.sh). The default with loss=softmax+bce (seed 0,
# 1e-3, 3 epochs; runs/s23-full/exp.sh) is the session's one new head on this set. The fixed-PMI
# head (`--heads embedding`, 3 epochs, 1e-3, seeds 0-2 as --only-seed lanes; runs/s23-full/pmi.sh)
# had seed 0 at 3 epochs only (session 7).
cd "$(dirname "$0")/../../.."  # the repository root
O=docs/results/iconify-frozen-full-s23
RUNS=()
for R in 1e-3 3e-4; do
  LR=$(python -c "print(float('$R'))")
  for K in 0 1 2; do
    D=runs/s23-full/softmax-$R-s$K/runs/softmax/lr=$LR/seed=$K
    [ -f "$D/result.json" ] && RUNS+=(--run "softmax ($R)" "$D")
  done
done
for K in 0 1 2; do  # the fixed-PMI head, 3 epochs at 1e-3 (session 7's pick), 3 seeds
  D=runs/s23-full/pmi-1e-3-s$K/runs/embedding/lr=0.001/seed=$K
  [ -f "$D/result.json" ] && RUNS+=(--run "embedding (fixed PMI, 1e-3), 3 epochs" "$D")
done
D="runs/s23-full/sbce-1e-3-3ep/runs/embedding-scale-cap_loss=softmax_bce/lr=0.001/seed=0"
[ -f "$D/result.json" ] && RUNS+=(--run "embedding-scale-cap[loss=softmax+bce] (1e-3), seed 0" "$D")
# The same seed, rate and budget of the default, from session 22's runs, side by side.
D=runs/s22-full/embedding-scale-cap-1e-3-3ep/runs/embedding-scale-cap/lr=0.001/seed=0
[ -f "$D/result.json" ] && RUNS+=(--run "embedding-scale-cap (1e-3), seed 0, 3 epochs" "$D")
python benchmarks/run_budgets.py --baseline "sigmoid-prior (1e-3)" \
  --merge "sigmoid-prior (1e-3)" docs/results/iconify-frozen-full-s18/budgets.json \
  --merge "embedding-scale-cap (default), rate per budget" docs/results/iconify-frozen-full-s20/budgets.json \
  "embedding-scale-cap, rate per budget" \
  "${RUNS[@]}" --pick "softmax, rate per budget" "softmax (1e-3)" "softmax (3e-4)" \
  --metrics P@1,P@5,PSP@5 --budgets ${1:-1,2,3,5,10} --json $O/budgets.json | tee $O/budgets.md
