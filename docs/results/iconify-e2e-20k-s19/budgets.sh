#!/bin/bash
# Session 19: end to end (PixelCNN from scratch, 32 px, the grouped 20k subset), every head with
# 3 seeds at seed 0's per-budget picks, and the two grid edges session 18 left open. Session 18's
# rows (docs/results/iconify-e2e-20k-s18/budgets.json, which holds session 15's) are merged by
# their per-seed picks, since their run directories are gone from this machine; the new runs are
# `labelsphere compare iconify-icons --data-dir ../shared/data --dataset-option max_icons=20000
# --render-size 32 --batch-size 128 --hidden 256 --extend-grid 0 --threads 1 --epochs E --lrs R
# --seeds 3 --only-seed K --heads H --baseline H --out runs/s19-e2e/TAG`, each only as long as
# the last budget its rate is picked at (a constant rate's first e epochs are the e-epoch run).
cd "$(dirname "$0")/../../.."  # the repository root
J=docs/results/iconify-e2e-20k-s18/budgets.json
R=runs/s19-e2e
args=(--baseline sigmoid-prior --merge sigmoid-prior $J
      --merge "embedding-slow-scale (the default)" $J "embedding-slow-scale (the default)"
      --merge "embedding-learned-prior" $J --merge "hybrid[loss=softmax]" $J)
# softmax: seed 2 at 3e-3, its pick at every budget (TAG softmax3-s2, 10 epochs)
args+=(--merge "softmax (1e-3), seed 0" $J --merge "softmax (9e-3), seed 0" $J
       --merge "softmax (3e-3)" $J --run "softmax (3e-3)" $R/softmax3-s2/runs/softmax/lr=0.003/seed=2
       --pick "softmax, rate per budget" "softmax (3e-3)" "softmax (1e-3), seed 0" "softmax (9e-3), seed 0")
# embedding (fixed PMI): seed 2 at each pick (emb1-s2-2ep, emb3-s2-5ep, emb9-s2), and seed 0 at
# 2.7e-2, past the top edge 9e-3 took at 10 epochs (emb27)
E=runs/embedding
args+=(--merge "embedding (1e-3)" $J --run "embedding (1e-3)" $R/emb1-s2-2ep/$E/lr=0.001/seed=2
       --merge "embedding (3e-3)" $J --run "embedding (3e-3)" $R/emb3-s2-5ep/$E/lr=0.003/seed=2
       --merge "embedding (9e-3)" $J --run "embedding (9e-3)" $R/emb9-s2/$E/lr=0.009/seed=2
       --run "embedding (2.7e-2), seed 0" $R/emb27/$E/lr=0.027/seed=0
       --pick "embedding, rate per budget" "embedding (1e-3)" "embedding (3e-3)" "embedding (9e-3)"
         "embedding (2.7e-2), seed 0")
# embedding-paper: seeds 1-2 at its picks, 1e-3 to 2 epochs (paper1-s1-2ep, paper1-s2-2ep) and
# 3e-3 to 10 (paper3-s1, paper3-s2); seed 0 at 3e-4, below the bottom edge 1e-3 took (paper03)
P=runs/embedding-paper
args+=(--merge "embedding-paper (1e-3)" $J "embedding-paper (1e-3), seed 0"
       --run "embedding-paper (1e-3)" $R/paper1-s1-2ep/$P/lr=0.001/seed=1
       --run "embedding-paper (1e-3)" $R/paper1-s2-2ep/$P/lr=0.001/seed=2
       --merge "embedding-paper (3e-3)" $J "embedding-paper (3e-3), seed 0"
       --run "embedding-paper (3e-3)" $R/paper3-s1/$P/lr=0.003/seed=1
       --run "embedding-paper (3e-3)" $R/paper3-s2/$P/lr=0.003/seed=2
       --merge "embedding-paper (9e-3), seed 0" $J
       --run "embedding-paper (3e-4), seed 0" $R/paper03/$P/lr=0.0003/seed=0
       --pick "embedding-paper, rate per budget" "embedding-paper (1e-3)" "embedding-paper (3e-3)"
         "embedding-paper (9e-3), seed 0" "embedding-paper (3e-4), seed 0")
# embedding-scale-cap (embedding-learned-prior[max_scale=15], the cap chosen on frozen 40k, not
# re-tuned here): seed 0 over the default's grid {1e-3, 3e-3} (cap15-1e-3, cap15-3e-3, 10 epochs),
# then seeds 1-2 at its picks, 1e-3 to 5 epochs (cap15-1e-3-5ep) and 3e-3 to 10 (cap15-3e-3-10ep)
C=runs/embedding-learned-prior_max_scale=15
args+=(--run "cap 15 (1e-3)" $R/cap15-1e-3/$C/lr=0.001/seed=0
       --run "cap 15 (1e-3)" $R/cap15-1e-3-5ep/$C/lr=0.001/seed=1
       --run "cap 15 (1e-3)" $R/cap15-1e-3-5ep/$C/lr=0.001/seed=2
       --run "cap 15 (3e-3)" $R/cap15-3e-3/$C/lr=0.003/seed=0
       --run "cap 15 (3e-3)" $R/cap15-3e-3-10ep/$C/lr=0.003/seed=1
       --run "cap 15 (3e-3)" $R/cap15-3e-3-10ep/$C/lr=0.003/seed=2
       --pick "embedding-scale-cap, rate per budget" "cap 15 (1e-3)" "cap 15 (3e-3)")
python benchmarks/run_budgets.py "${args[@]}" --metrics P@1,P@5,mAP,PSP@5 \
  --budgets ${1:-1,2,3,5,10} --json docs/results/iconify-e2e-20k-s19/budgets.json
