#!/bin/bash
# Session 18: every head on the frozen 40k subset (96 px, validation grouped by icon, 10 epochs) with 3
# seeds, the rate re-tuned per budget on seed 0's validation. Seed 0 of every head but the default
# is session 5's comparison (docs/results/iconify-frozen-40k-g, grid extended at its edges; its run
# directories are gone, so its per-budget picks are read from its results.json); seeds 1-2 were
# trained here at each rate seed 0 picked at some budget, each only as long as the last budget that
# rate was picked for (a constant rate's first e epochs are the e-epoch run). The baseline and the
# old default have 3 seeds at every budget's pick in session 5's iconify-frozen-40k-g-S; the default
# (embedding-slow-scale) has 3 seeds at 1e-3 from session 12 (iconify-frozen-40k-slow-scale), and
# seed 0 at 3e-4, 3e-3 and 9e-3 plus seeds 1-2 at 3e-3 (3 epochs) from here; embedding-paper below. Each run is
# one `labelsphere compare iconify-icons --dataset-option max_icons=40000
# --image-size 96 --epochs E --batch-size 256 --lrs R --extend-grid 0 --seeds 3 --only-seed K
# --threads 1 --heads H --baseline H --out runs/s18-40k/TAG-Eep`.
cd "$(dirname "$0")/../../.."  # the repository root
G=docs/results/iconify-frozen-40k-g/results.json        # every head, seed 0
GS=docs/results/iconify-frozen-40k-g-S/results.json     # sigmoid-prior and the d = 512 head, 3 seeds
SS=docs/results/iconify-frozen-40k-slow-scale/results.json  # embedding-slow-scale at 1e-3, 3 seeds
N=runs/s18-40k
args=(--baseline sigmoid-prior --merge sigmoid-prior $GS
      --merge "embedding-learned-prior (session 8-13 default)" $GS "embedding-learned[n_components=512,bias=true,prior_bias=true]")
# one label per (head, rate): seeds 1-2 from here, seed 0's picks at that rate from session 5
rate() {  # HEAD HEAD_DIR TAG RATE RATE_DIR EPOCHS
  local label="$1 ($4)"
  for k in 1 2; do args+=(--run "$label" "$N/$3-$6ep/runs/$2/lr=$5/seed=$k"); done
  args+=(--merge "$label" $G "$1")
  picks+=("$label")
}
for spec in "embedding embedding emb 3e-3:0.003:2 1e-3:0.001:5 3e-4:0.0003:10" \
            "embedding-learned embedding-learned learned 3e-3:0.003:1 1e-3:0.001:5 3e-4:0.0003:10" \
            "hybrid[loss=softmax] hybrid_loss=softmax hybrid 3e-3:0.003:1 1e-3:0.001:10" \
            "softmax softmax softmax 3e-3:0.003:2 1e-3:0.001:10"; do
  set -f; read -r head dir tag rates <<<"$spec"; set +f
  picks=()
  for r in $rates; do IFS=: read -r rr rd e <<<"$r"; rate "$head" "$dir" "$tag" "$rr" "$rd" "$e"; done
  args+=(--pick "$head" "${picks[@]}")
done
S="$N/slow-10ep/runs/embedding-slow-scale"
args+=(--merge "embedding-slow-scale (1e-3)" $SS "embedding-learned-prior[scale_lr_scale=0.3]"
       --run "embedding-slow-scale (3e-3)" "$S/lr=0.003/seed=0"
       --run "embedding-slow-scale (3e-3)" "$N/slow-3ep/runs/embedding-slow-scale/lr=0.003/seed=1"
       --run "embedding-slow-scale (3e-3)" "$N/slow-3ep/runs/embedding-slow-scale/lr=0.003/seed=2"
       --run "embedding-slow-scale (3e-3), seed 0" "$S/lr=0.003/seed=0"
       --run "embedding-slow-scale (3e-4), seed 0" "$S/lr=0.0003/seed=0"
       --run "embedding-slow-scale (9e-3), seed 0" "$N/slow9-3ep/runs/embedding-slow-scale/lr=0.009/seed=0"
       --pick "embedding-slow-scale (the default), rate per budget" "embedding-slow-scale (3e-3)"
         "embedding-slow-scale (3e-3), seed 0" "embedding-slow-scale (1e-3)" "embedding-slow-scale (3e-4), seed 0"
         "embedding-slow-scale (9e-3), seed 0")
# embedding-paper (cosine regression, the paper's own loss) was not in session 5's comparison: seed 0
# at {3e-4, 1e-3, 3e-3, 9e-3} here (10 epochs), seeds 1-2 at its picks (3e-3 to 5 epochs, 1e-3 to 10)
P=embedding-paper
for r in 3e-4:0.0003 1e-3:0.001 3e-3:0.003 9e-3:0.009; do
  IFS=: read -r rr rd <<<"$r"; args+=(--run "$P ($rr), seed 0" "$N/paper$rr-10ep/runs/$P/lr=$rd/seed=0")
done
args+=(--run "$P (3e-3)" "$N/paper3e-3-10ep/runs/$P/lr=0.003/seed=0")
for k in 1 2; do args+=(--run "$P (3e-3)" "$N/paper3e-3-5ep/runs/$P/lr=0.003/seed=$k"); done
for k in 0 1 2; do args+=(--run "$P (1e-3)" "$N/paper1e-3-10ep/runs/$P/lr=0.001/seed=$k"); done
args+=(--pick "$P" "$P (3e-3)" "$P (1e-3)" "$P (3e-4), seed 0" "$P (3e-3), seed 0" "$P (9e-3), seed 0")
python benchmarks/run_budgets.py "${args[@]}" --metrics P@1,P@5,mAP,PSP@5 \
  --budgets ${1:-1,2,3,5,10} --json docs/results/iconify-frozen-40k-s18/budgets.json
