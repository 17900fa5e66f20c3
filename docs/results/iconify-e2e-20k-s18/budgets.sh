#!/bin/bash
# Session 18: the softmax head and the fixed-PMI embedding head end to end (PixelCNN from scratch,
# 32 px, the grouped 20k subset) to 10 epochs, seed 0 over a rate grid each (`labelsphere compare
# iconify-icons --dataset-option max_icons=20000 --render-size 32 --lrs R --extend-grid 0 --epochs 10
# --batch-size 128 --hidden 256 --seeds 1 --threads 1 --heads H --baseline H --out runs/s18-e2e/TAG`),
# set beside session 15's 3-seed rows, whose per-seed picks are read from its budgets.json.
cd "$(dirname "$0")/../../.."  # the repository root
J=docs/results/iconify-e2e-20k-s15/budgets.json
args=(--baseline sigmoid-prior --merge sigmoid-prior $J
      --merge "embedding-slow-scale (the default)" $J "embedding-slow-scale, seed 0's per-budget picks"
      --merge "embedding-learned-prior" $J --merge "hybrid[loss=softmax]" $J)
# softmax: seed 0 over {1e-3, 3e-3, 9e-3}; 3e-3, its pick at every budget, also with seed 1
# (--seeds 2 --only-seed 1 --lrs 3e-3 --out runs/s18-e2e/softmax3-10ep)
S=runs/s18-e2e/softmax/runs/softmax
args+=(--run "softmax (1e-3), seed 0" $S/lr=0.001/seed=0
       --run "softmax (3e-3)" $S/lr=0.003/seed=0 --run "softmax (3e-3)" runs/s18-e2e/softmax3-10ep/runs/softmax/lr=0.003/seed=1
       --run "softmax (9e-3), seed 0" $S/lr=0.009/seed=0
       --pick "softmax, rate per budget" "softmax (3e-3)" "softmax (1e-3), seed 0" "softmax (9e-3), seed 0")
# embedding (fixed PMI): seed 0 over {1e-3, 3e-3}, then 9e-3 past the top edge 3e-3 took
# (--seeds 2 --only-seed 0 --lrs 9e-3 --out runs/s18-e2e/emb9-10ep)
# seed 1 at each pick, as long as its last picked budget (--seeds 2 --only-seed 1 --out runs/s18-e2e/emb{1,3,9}-Eep)
E=runs/s18-e2e/emb/runs/embedding
args+=(--run "embedding (1e-3)" $E/lr=0.001/seed=0 --run "embedding (1e-3)" runs/s18-e2e/emb1-2ep/runs/embedding/lr=0.001/seed=1
       --run "embedding (3e-3)" $E/lr=0.003/seed=0 --run "embedding (3e-3)" runs/s18-e2e/emb3-5ep/runs/embedding/lr=0.003/seed=1
       --run "embedding (9e-3)" runs/s18-e2e/emb9-10ep/runs/embedding/lr=0.009/seed=0
       --run "embedding (9e-3)" runs/s18-e2e/emb9-10ep/runs/embedding/lr=0.009/seed=1
       --pick "embedding, rate per budget" "embedding (1e-3)" "embedding (3e-3)" "embedding (9e-3)")
# embedding-paper (cosine regression): seed 0 over {1e-3, 3e-3, 9e-3} (--seeds 1 --out runs/s18-e2e/paper)
P=runs/s18-e2e/paper/runs/embedding-paper
args+=(--run "embedding-paper (1e-3), seed 0" $P/lr=0.001/seed=0 --run "embedding-paper (3e-3), seed 0" $P/lr=0.003/seed=0
       --run "embedding-paper (9e-3), seed 0" $P/lr=0.009/seed=0
       --pick "embedding-paper, seed 0, rate per budget" "embedding-paper (1e-3), seed 0" "embedding-paper (3e-3), seed 0"
         "embedding-paper (9e-3), seed 0")
python benchmarks/run_budgets.py "${args[@]}" --metrics P@1,P@5,mAP,PSP@5 \
  --budgets ${1:-1,2,3,5,10} --json docs/results/iconify-e2e-20k-s18/budgets.json
