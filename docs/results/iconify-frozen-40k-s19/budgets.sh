#!/bin/bash
# Session 19: the learned temperature capped (EmbeddingHead max_scale; head embedding-scale-cap =
# embedding-learned-prior[max_scale=15]) on the frozen 40k subset (96 px, grouped validation),
# beside session 18's baseline, default and old default (docs/results/iconify-frozen-40k-s18/
# budgets.json, merged by their per-seed picks). Seed 0 at 1e-3 with the cap at 12, 15 and 20
# chose 15 on validation; seed 0 over {3e-4, 1e-3, 3e-3, 9e-3} at 15, then seeds 1-2 at each
# rate seed 0 picked, as long as its last picked budget. Each run is one `labelsphere compare
# iconify-icons --data-dir ../shared/data --dataset-option max_icons=40000 --image-size 96
# --batch-size 256 --extend-grid 0 --seeds 3 --threads 1 --epochs E --lrs R --only-seed K
# --heads "embedding-learned-prior[max_scale=S]" --baseline (the same) --out runs/s19-40k/TAG`.
cd "$(dirname "$0")/../../.."  # the repository root
J=docs/results/iconify-frozen-40k-s18/budgets.json
N=runs/s19-40k
H=runs/embedding-learned-prior_max_scale
args=(--baseline sigmoid-prior --merge sigmoid-prior $J
      --merge "embedding-slow-scale (the default)" $J "embedding-slow-scale (the default), rate per budget"
      --merge "embedding-learned-prior (session 8-13 default)" $J)
args+=(--run "cap 12 (1e-3), seed 0" $N/cap12-1e-3/${H}=12/lr=0.001/seed=0
       --run "cap 20 (1e-3), seed 0" $N/cap20-1e-3/${H}=20/lr=0.001/seed=0)
args+=(--run "cap 15 (1e-3)" $N/cap15-1e-3/${H}=15/lr=0.001/seed=0
       --run "cap 15 (1e-3)" $N/cap15-1e-3-10ep/${H}=15/lr=0.001/seed=1
       --run "cap 15 (1e-3)" $N/cap15-1e-3-10ep/${H}=15/lr=0.001/seed=2
       --run "cap 15 (3e-3)" $N/cap15-3e-3/${H}=15/lr=0.003/seed=0
       --run "cap 15 (3e-3)" $N/cap15-3e-3-1ep/${H}=15/lr=0.003/seed=1
       --run "cap 15 (3e-3)" $N/cap15-3e-3-1ep/${H}=15/lr=0.003/seed=2
       --run "cap 15 (3e-4), seed 0" $N/cap15-3e-4/${H}=15/lr=0.0003/seed=0
       --run "cap 15 (9e-3), seed 0" $N/cap15-9e-3/${H}=15/lr=0.009/seed=0
       --pick "embedding-scale-cap (cap 15), rate per budget" "cap 15 (1e-3)" "cap 15 (3e-3)"
         "cap 15 (3e-4), seed 0" "cap 15 (9e-3), seed 0")
python benchmarks/run_budgets.py "${args[@]}" --metrics P@1,P@5,mAP,PSP@5 \
  --budgets ${1:-1,2,3,5,10} --json docs/results/iconify-frozen-40k-s19/budgets.json
