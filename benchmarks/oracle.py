"""The oracle test: how much label information each LabelEmbedding design keeps.

For every dataset, the embedding is fitted on the training labels; then each test sample's true
label set is encoded (sum of its labels' embeddings, L2-normalised) and decoded again (top-100
labels by similarity). A perfect embedding gives MAP@100 = P@1 = 1; what is lost here is lost
before any network is trained.

Grid: pmi in {zero, positive, smoothed} x diagonal in {self_information, zero} x factorization
in {eigh, svd} x similarity in {dot, cosine} x d in {64, 128, 256, 512} (d < L only), on
delicious, bibtex, corel5k and nus-wide-81-labels.

    python benchmarks/oracle.py --data-dir ../shared/data --out docs/benchmarks/oracle.json

writes the JSON and prints markdown tables (used in docs/oracle.md).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import sys
import time
import warnings
from collections import defaultdict
from pathlib import Path

import numpy as np
from tqdm import tqdm

from labelsphere import LabelEmbedding
from labelsphere.data import load_dataset
from labelsphere.metrics import evaluate

REPO = Path(__file__).resolve().parents[1]
DATASETS = ("delicious", "bibtex", "corel5k", "nus-wide-81-labels")
DIMS = (64, 128, 256, 512)
GRID = {
    "pmi": ("zero", "positive", "smoothed"),
    "diagonal": ("self_information", "zero"),
    "factorization": ("eigh", "svd"),
    "similarity": ("dot", "cosine"),
}
METRICS = ("MAP@100", "P@1", "P@3", "P@5")


def run(data_dir: Path, datasets: tuple[str, ...], dims: tuple[int, ...]) -> list[dict]:
    rows: list[dict] = []
    configs = [dict(zip(GRID, values, strict=True)) for values in itertools.product(*GRID.values())]
    for name in datasets:
        train = load_dataset(name, split="train", data_dir=data_dir)
        test = load_dataset(name, split="test", data_dir=data_dir)
        L = train.Y.shape[1]
        todo = [(c, d) for c in configs for d in dims if d < L]
        for config, d in tqdm(todo, desc=name, unit="fit"):
            t0 = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "fewer positive eigenvalues": recorded below
                est = LabelEmbedding(n_components=d, random_state=0, **config).fit(train.Y)
            fit_s = time.perf_counter() - t0
            idx, _ = est.decode(est.encode(test.Y), k=100)
            m = evaluate(test.Y, ranked=idx, ks=(1, 3, 5), map_k=100)
            rows.append(
                {
                    "dataset": name,
                    "n_labels": L,
                    "d": d,
                    "d_kept": est.n_components_,
                    **config,
                    **{k: float(m[k]) for k in METRICS},
                    "fit_seconds": fit_s,
                }
            )
    return rows


def config_key(r: dict) -> str:
    return "/".join(str(r[k]) for k in GRID)


def markdown(rows: list[dict]) -> str:
    out: list[str] = []
    datasets = list(dict.fromkeys(r["dataset"] for r in rows))
    # 1. Each choice's effect: mean MAP@100 over all other settings, per dataset and d.
    out.append("### Mean MAP@100 by choice (averaged over the other settings)\n")
    for factor, values in GRID.items():
        header = "| dataset | d | " + " | ".join(values) + " |"
        out += [f"**{factor}**\n", header, "|" + "---|" * (len(values) + 2)]
        for ds in datasets:
            for d in sorted({r["d"] for r in rows if r["dataset"] == ds}):
                cells = []
                for v in values:
                    vals = [
                        r["MAP@100"]
                        for r in rows
                        if r["dataset"] == ds and r["d"] == d and r[factor] == v
                    ]
                    cells.append(f"{np.mean(vals):.4f}")
                best = int(np.argmax([float(c) for c in cells]))
                cells[best] = f"**{cells[best]}**"
                out.append(f"| {ds} | {d} | " + " | ".join(cells) + " |")
        out.append("")
    # 2. Rank configurations by mean rank across (dataset, d) cells.
    ranks: dict[str, list[float]] = defaultdict(list)
    maps: dict[str, list[float]] = defaultdict(list)
    for ds in datasets:
        for d in sorted({r["d"] for r in rows if r["dataset"] == ds}):
            cell = [r for r in rows if r["dataset"] == ds and r["d"] == d]
            order = np.argsort(np.argsort([-r["MAP@100"] for r in cell]))
            for r, rank in zip(cell, order, strict=True):
                ranks[config_key(r)].append(rank + 1)
                maps[config_key(r)].append(r["MAP@100"])
    out.append("### Configurations ranked by mean rank of MAP@100 over all (dataset, d) cells\n")
    out.append("| pmi / diagonal / factorization / similarity | mean rank | mean MAP@100 |")
    out.append("|---|---|---|")
    for key in sorted(ranks, key=lambda k: np.mean(ranks[k])):
        out.append(f"| {key} | {np.mean(ranks[key]):.2f} | {np.mean(maps[key]):.4f} |")
    out.append("")
    # 3. The best configuration and the paper's plain one per dataset and d, all metrics.
    out.append("### Per dataset and d: best configuration vs the plain formulation\n")
    out.append(
        "plain = zero / self_information / svd / dot (the paper's U sqrt(S), -inf clipped to 0)\n"
    )
    out.append("| dataset | d | config | d kept | MAP@100 | P@1 | P@3 | P@5 |")
    out.append("|---|---|---|---|---|---|---|---|")
    plain = "zero/self_information/svd/dot"
    best_overall = min(ranks, key=lambda k: np.mean(ranks[k]))
    for ds in datasets:
        for d in sorted({r["d"] for r in rows if r["dataset"] == ds}):
            cell = [r for r in rows if r["dataset"] == ds and r["d"] == d]
            chosen = {"plain": plain, "best overall": best_overall}
            chosen["best here"] = config_key(max(cell, key=lambda r: r["MAP@100"]))
            for label, key in chosen.items():
                r = next(r for r in cell if config_key(r) == key)
                out.append(
                    f"| {ds} | {d} | {label}: {key} | {r['d_kept']} | {r['MAP@100']:.4f} | "
                    f"{r['P@1']:.4f} | {r['P@3']:.4f} | {r['P@5']:.4f} |"
                )
    return "\n".join(out)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path(os.environ.get("LABELSPHERE_DATA", REPO.parent / "shared" / "data")),
    )
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "benchmarks" / "oracle.json")
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS))
    parser.add_argument("--dims", nargs="+", type=int, default=list(DIMS))
    args = parser.parse_args(argv)
    t0 = time.time()
    rows = run(args.data_dir, tuple(args.datasets), tuple(args.dims))
    table = markdown(rows)
    print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    result = {
        "command": "python benchmarks/oracle.py "
        + " ".join(sys.argv[1:] if argv is None else argv),
        "date": time.strftime("%Y-%m-%d"),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "seconds": time.time() - t0,
        "rows": rows,
    }
    args.out.write_text(json.dumps(result, indent=1))
    args.out.with_suffix(".md").write_text(table + "\n")
    print(f"\nwrote {args.out} and {args.out.with_suffix('.md')}")


if __name__ == "__main__":
    main()
