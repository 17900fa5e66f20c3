"""Is the fast fit a worse embedding? Oracle quality and eigen-residual on real label sets.

``benchmarks/embedding_scale.py`` times ``LabelEmbedding.fit`` against the plain pipeline (scipy
sparse PMI + scikit-learn ``randomized_svd``) on a seeded generator, whose oracle says nothing
about quality. This script judges the same contenders on real label sets: the oracle test
(encode each held-out sample's true labels, decode the top 100 again: MAP@100, P@1, P@5) and the
eigen-residual ``||M V - V Lambda|| / ||Lambda||`` of the top-d eigenpairs on the same PMI
matrix.

    python benchmarks/embedding_quality.py --data-dir ../shared/data          # ~8 min here

Contenders (d = 256, or L - 1 where smaller): labelsphere at its default ``n_iter=2`` and at
``n_iter=4``; plain with ``randomized_svd(n_iter=4)`` (the embedding_scale.py baseline). Every
embedding decodes by cosine (labelsphere's default). debian-depends has one split: a seeded
80/20 split of its packages, said in the output. Writes ``docs/benchmarks/embedding_quality.json``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from labelsphere.artifacts import write_json
from labelsphere.data import load_dataset
from labelsphere.decode import topk_similar
from labelsphere.metrics import evaluate

REPO_ROOT = Path(__file__).resolve().parents[1]
# (dataset, train split, test split); None: a seeded 80/20 split of the single split.
DATASETS = {
    "debian-depends": ("all", None),
    "delicious": ("train", "test"),
    "nus-wide-81-labels": ("train", "test"),
    "iconify-icons": ("train", "test"),
}


def _scale_module():
    spec = importlib.util.spec_from_file_location(
        "embedding_scale", REPO_ROOT / "benchmarks/embedding_scale.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def oracle(E: np.ndarray, Y_test: sp.csr_matrix) -> dict[str, float]:
    """decode(encode(Y_test)) by cosine against Y_test: MAP@100, P@1, P@5."""
    K = E / np.maximum(np.linalg.norm(E, axis=1, keepdims=True), 1e-12)
    Q = np.asarray(Y_test.astype(np.float32) @ K)
    Q /= np.maximum(np.linalg.norm(Q, axis=1, keepdims=True), 1e-12)
    idx, _ = topk_similar(Q.astype(np.float32), K.astype(np.float32), 100)
    m = evaluate(Y_test, ranked=idx, ks=(1, 5), map_k=100)
    return {k: float(m[k]) for k in ("MAP@100", "P@1", "P@5")}


def residual(E: np.ndarray, Y: sp.csr_matrix) -> float:
    """||M V - V Lambda||_F / ||Lambda||_F on labelsphere's PMI operator (pmi=zero, zero diagonal)."""
    from labelsphere import CooccurrenceCounter
    from labelsphere.embedding.pmi import _pmi_upper, _PMIOperator

    counts = CooccurrenceCounter(n_labels=Y.shape[1]).update(Y)
    upper, offset = _pmi_upper(counts, "zero", "zero")
    op = _PMIOperator(upper, offset, counts.label_counts_ > 0)
    V = E.astype(np.float64)
    V /= np.maximum(np.linalg.norm(V, axis=0), 1e-300)
    MV = op.matmat(V)
    lam = np.einsum("ij,ij->j", V, MV)
    return float(np.linalg.norm(MV - V * lam) / np.linalg.norm(lam))


def splits(name: str, data_dir: Path) -> tuple[sp.csr_matrix, sp.csr_matrix, str]:
    train_split, test_split = DATASETS[name]
    train = load_dataset(name, split=train_split, data_dir=data_dir)
    if test_split is not None:
        test = load_dataset(name, split=test_split, data_dir=data_dir)
        return train.Y.tocsr(), test.Y.tocsr(), f"{train_split}/{test_split}"
    Y = train.Y.tocsr()
    perm = np.random.default_rng(0).permutation(Y.shape[0])
    cut = int(0.8 * Y.shape[0])
    return Y[np.sort(perm[:cut])], Y[np.sort(perm[cut:])], "seeded 80/20 of 'all' (seed 0)"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", type=Path, default=REPO_ROOT.parent / "shared/data")
    ap.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    ap.add_argument("--dims", type=int, default=256)
    ap.add_argument(
        "--out", type=Path, default=REPO_ROOT / "docs/benchmarks/embedding_quality.json"
    )
    args = ap.parse_args(argv)
    scale = _scale_module()
    contenders = {
        "labelsphere n_iter=2 (default)": lambda Y, d: scale.labelsphere_embedding(Y, d, 2),
        "labelsphere n_iter=4": lambda Y, d: scale.labelsphere_embedding(Y, d, 4),
        "plain randomized_svd n_iter=4": lambda Y, d: scale.plain_embedding(Y, d, 4),
    }
    rows = []
    for name in args.datasets:
        Y_train, Y_test, split = splits(name, args.data_dir)
        d = min(args.dims, Y_train.shape[1] - 1)
        for contender, fit in contenders.items():
            t0 = time.perf_counter()
            E = fit(Y_train, d)
            seconds = time.perf_counter() - t0
            row = {
                "dataset": name,
                "split": split,
                "n_train": Y_train.shape[0],
                "n_test": Y_test.shape[0],
                "n_labels": Y_train.shape[1],
                "d": d,
                "contender": contender,
                "fit_seconds": seconds,
                **oracle(E, Y_test),
                "residual": residual(E, Y_train),
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
    lines = [
        "| dataset | labels | train / test | contender | MAP@100 | P@1 | P@5 | eigen-residual | fit (s) |",
        "|---|---:|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['dataset']} | {r['n_labels']:,} | {r['n_train']:,} / {r['n_test']:,} | "
            f"{r['contender']} | {r['MAP@100']:.4f} | {r['P@1']:.4f} | {r['P@5']:.4f} | "
            f"{r['residual']:.4f} | {r['fit_seconds']:.1f} |"
        )
    table = "\n".join(lines)
    print()
    print(table)
    out = {
        "command": " ".join(["python", *sys.argv]),
        "dims": args.dims,
        "rows": rows,
        "table_markdown": table,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_json(args.out, out)  # atomic: a failed run leaves the last result in place
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
