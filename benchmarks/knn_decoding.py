"""Decoding by nearest training samples (SLEEC-style) on top of finished `compare` runs.

SLEEC (Bhatia et al., 2015) ranks labels by the label sets of the training samples nearest to
the prediction in its embedding space. This script asks whether that decoding helps the
embedding head more than it helps the baseline. For each head of a finished comparison (seed 0
at its tuned learning rate) it embeds train/validation/test with the saved model -- the
d-dimensional output for the embedding head, the last hidden layer for the others -- and scores
label l of a query by ``a * p_l + (1 - a) * sum_j w_j y_jl / sum_j w_j`` over its k nearest
training samples by cosine, with ``w_j = max(cos, 0) ** p`` and ``p_l`` the head's own
probability (softmax for the heads trained with a softmax loss, sigmoid otherwise). ``k``, ``p`` and
``a`` are chosen on the validation split; test is scored once.

    python benchmarks/knn_decoding.py /work/exp/final-delicious /work/exp/final-bibtex \\
        --json docs/benchmarks/knn_decoding.json

prints a markdown table and writes the JSON.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch

from labelsphere.artifacts import write_json
from labelsphere.data import train_val_test
from labelsphere.metrics import evaluate
from labelsphere.train import Classifier, RunDir

REPO = Path(__file__).resolve().parents[1]
GRID = {"k": (10, 25, 50, 100), "p": (1, 4), "a": (0.0, 0.25, 0.5, 0.75)}


@torch.no_grad()
def represent(model: Classifier, X: np.ndarray | sp.csr_matrix, head_space: bool) -> tuple:
    """Unit-norm representations (n, r) and the head's probabilities (n, L)."""
    reps, probs = [], []
    for i in range(0, X.shape[0], 1024):
        x = X[i : i + 1024]
        x = torch.from_numpy(np.asarray(x.toarray() if sp.issparse(x) else x, np.float32))
        h = model.backbone(x)
        out = model.head(h)
        reps.append((out if head_space else h).float())
        probs.append(model.scores(out).float())
    rep = torch.nn.functional.normalize(torch.cat(reps), dim=1).numpy()
    return rep, torch.cat(probs).numpy()


def knn_scores(q: np.ndarray, ref: np.ndarray, Y: sp.csr_matrix, k: int, p: int) -> np.ndarray:
    """(n, L): similarity-weighted label frequencies among the k nearest reference rows."""
    sim = q @ ref.T
    idx = np.argpartition(-sim, k - 1, axis=1)[:, :k]
    w = np.take_along_axis(sim, idx, 1).clip(0) ** p
    rows = np.repeat(np.arange(q.shape[0]), k)
    W = sp.csr_matrix((w.ravel(), (rows, idx.ravel())), shape=(q.shape[0], ref.shape[0]))
    return np.asarray((W @ Y).todense(), np.float32) / (w.sum(1, keepdims=True) + 1e-12)


def probabilities(scores: np.ndarray, softmax: bool) -> np.ndarray:
    if softmax:
        e = np.exp(scores - scores.max(1, keepdims=True))
        return e / e.sum(1, keepdims=True)
    return 1.0 / (1.0 + np.exp(-scores))


def run(compare_dir: Path, data_dir: Path) -> list[dict]:
    summary = json.loads((compare_dir / "results.json").read_text())
    tr, va, te = train_val_test(summary["dataset"], data_dir)
    Ytr = sp.csr_matrix(tr.Y, dtype=np.float32)
    rows = []
    for spec, res in summary["heads"].items():
        if res["head"] not in ("embedding", "sigmoid", "hybrid", "softmax", "asl"):
            continue
        model = RunDir(res["runs"][0]["run_dir"]).load_predictor().model
        head_space = res["head"] == "embedding"
        # Probabilities as the head was trained: softmax for the softmax-trained heads
        # (softmax, the default embedding head, hybrid[loss=softmax]), sigmoid otherwise.
        softmax = res["head"] == "softmax" or getattr(model.head, "loss_kind", None) in (
            "softmax",
            "cosine+softmax",
        )
        ref, _ = represent(model, tr.X, head_space)
        qv, sv = represent(model, va.X, head_space)
        qt, st = represent(model, te.X, head_space)
        pv, pt = probabilities(sv, softmax), probabilities(st, softmax)
        best = (evaluate(va.Y, scores=sv, map_k=100)["MAP@100"], None)
        for k, p in itertools.product(GRID["k"], GRID["p"]):
            kv = knn_scores(qv, ref, Ytr, k, p)
            for a in GRID["a"]:
                v = evaluate(va.Y, scores=a * pv + (1 - a) * kv, map_k=100)["MAP@100"]
                if v > best[0]:
                    best = (v, (k, p, a))
        plain = evaluate(te.Y, scores=st, ks=(1, 3, 5), map_k=100)
        blended = plain
        if best[1] is not None:
            k, p, a = best[1]
            scores = a * pt + (1 - a) * knn_scores(qt, ref, Ytr, k, p)
            blended = evaluate(te.Y, scores=scores, ks=(1, 3, 5), map_k=100)
        rows.append(
            {
                "dataset": summary["dataset"],
                "head": spec,
                "space": "head output" if head_space else "last hidden layer",
                "chosen": None if best[1] is None else dict(zip("kpa", best[1], strict=True)),
                "test": {m: float(plain[m]) for m in ("MAP@100", "P@1", "P@3", "P@5")},
                "test_knn": {m: float(blended[m]) for m in ("MAP@100", "P@1", "P@3", "P@5")},
            }
        )
        print(f"{summary['dataset']} {spec}: done", file=sys.stderr, flush=True)
    return rows


def markdown(rows: list[dict]) -> str:
    lines = [
        "| dataset | head | kNN over | k, p, a (val) | MAP@100 | + kNN | P@1 | + kNN | MAP@100 vs sigmoid | + kNN, vs sigmoid + kNN |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    base = {r["dataset"]: r for r in rows if r["head"] == "sigmoid"}
    for r in rows:
        b = base.get(r["dataset"])
        c = r["chosen"]
        chosen = "— (no gain)" if c is None else f"{c['k']}, {c['p']}, {c['a']}"
        lines.append(
            f"| {r['dataset']} | {r['head']} | {r['space']} | {chosen} "
            f"| {r['test']['MAP@100']:.4f} | {r['test_knn']['MAP@100']:.4f} "
            f"| {100 * r['test']['P@1']:.2f} | {100 * r['test_knn']['P@1']:.2f} "
            + (
                f"| {r['test']['MAP@100'] / b['test']['MAP@100']:.3f}× "
                f"| {r['test_knn']['MAP@100'] / b['test_knn']['MAP@100']:.3f}× |"
                if b
                else "| — | — |"
            )
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("compare_dirs", nargs="+", type=Path)
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path(os.environ.get("LABELSPHERE_DATA", REPO.parent / "shared" / "data")),
    )
    parser.add_argument(
        "--json", type=Path, default=REPO / "docs" / "benchmarks" / "knn_decoding.json"
    )
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    for d in args.compare_dirs:
        if not (d / "results.json").is_file():
            parser.error(f"{d}: no results.json (not a finished `labelsphere compare` directory)")
    t0 = time.time()
    rows = [r for d in args.compare_dirs for r in run(d, args.data_dir)]
    table = markdown(rows)
    print(table)
    write_json(
        args.json,
        {
            "command": "python benchmarks/knn_decoding.py "
            + " ".join(sys.argv[1:] if argv is None else argv),
            "date": time.strftime("%Y-%m-%d"),
            "seconds": time.time() - t0,
            "grid": GRID,
            "rows": rows,
        },
    )
    print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
