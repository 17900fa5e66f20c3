"""New labels without retraining: how well folded-in labels rank, against training with them.

For each dataset and head: hold out 10% of the labels (seeded), train the head on the other
90% (the committed comparison's config and the head's tuned learning rate, seed 0), fold the
held-out labels in from their co-occurrence with the kept ones on the training split
(``labelsphere.foldin.fold_in``, each method that applies: the network untouched), and compare
the held-out labels' per-label average precision on the test split with the same head trained
with every label. The ratio of mean AP (folded / trained with them) is the number to read.

    python benchmarks/fold_in.py docs/results/delicious/results.json \\
        docs/results/tabler-icons/results.json --json docs/benchmarks/fold_in.json
    python benchmarks/fold_in.py docs/results/fair-delicious/results.json \\
        docs/results/fair-bibtex/results.json --heads "embedding;embedding-learned-prior" \\
        --methods lstsq,centroid --json docs/benchmarks/fold_in_heads.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from labelsphere.artifacts import write_json
from labelsphere.compare import run_slug
from labelsphere.data import MultiLabelDataset
from labelsphere.foldin import fold_in
from labelsphere.heads import parse_head_spec
from labelsphere.labels import LabelVocabulary
from labelsphere.metrics import average_precision_per_label
from labelsphere.predict import Predictor
from labelsphere.train import ImageOptions, TrainConfig, prepare_inputs, train


def _keep_columns(ds: MultiLabelDataset, cols: np.ndarray, vocab: LabelVocabulary):
    return MultiLabelDataset(ds.X, ds.Y[:, cols], vocab, ds.name, ds.ids, ds.info)


def run(
    results: Path,
    out: Path,
    data_dir: Path | None,
    fraction: float,
    seed: int,
    heads: list[str],
    methods: list[str],
) -> list[dict]:
    summary = json.loads(results.read_text())
    base = TrainConfig.from_json(summary["config"], source=str(results))
    images = ImageOptions(backbone=base.backbone, frozen=True) if base.backbone else None
    inputs = prepare_inputs(summary["dataset"], data_dir, images=images, progress=False)
    tr, va, te = inputs.splits
    L = tr.Y.shape[1]
    rng = np.random.default_rng(seed)
    held = np.sort(rng.choice(L, size=max(1, round(fraction * L)), replace=False))
    keep = np.setdiff1d(np.arange(L), held)
    names = np.asarray(tr.vocabulary.names, dtype=object)
    kept_vocab = LabelVocabulary(list(names[keep]))
    rows = []
    for head in heads:
        if head not in summary["heads"]:
            raise SystemExit(f"{results}: no head {head!r} (it has {sorted(summary['heads'])})")
        cfg = parse_head_spec(head).config(base, lr=summary["heads"][head]["lr"], seed=0)
        hout = out / run_slug(head)
        t0 = time.perf_counter()
        with_all = train(cfg, tr, va, hout / "with-all", progress=False)
        without = train(
            cfg,
            _keep_columns(tr, keep, kept_vocab),
            _keep_columns(va, keep, kept_vocab),
            hout / "without-held",
            progress=False,
        )
        train_seconds = time.perf_counter() - t0
        s_all, _ = with_all.load_predictor().scores(te.X)
        ap_all = average_precision_per_label(te.Y[:, held], s_all[:, held])
        for method in methods:
            t0 = time.perf_counter()
            try:
                folded = fold_in(
                    without.run_dir / "model",
                    tr.Y[:, keep],
                    tr.Y[:, held],
                    list(names[held]),
                    hout / f"folded-{method}",
                    method=method,
                )
            except ValueError as e:  # a method this head cannot take: say so, go on
                print(f"| {summary['dataset']} | {head} | {method} | not applicable: {e} |")
                continue
            fold_seconds = time.perf_counter() - t0
            s_fold, _ = Predictor.load(folded).scores(te.X)
            # In the folded model the held-out labels are the last columns, in `held` order.
            ap_fold = average_precision_per_label(te.Y[:, held], s_fold[:, len(keep) :])
            ok = ~np.isnan(ap_all) & ~np.isnan(ap_fold)
            # Chance: AP of a random ranking is the label's test prevalence.
            prevalence = np.asarray(te.Y[:, held].mean(axis=0)).ravel()[ok]
            row = {
                "dataset": summary["dataset"],
                "head": head,
                "method": json.loads((folded / "model.json").read_text())["folded_in"]["method"],
                "labels": L,
                "held_out": len(held),
                "held_out_with_test_positives": int(ok.sum()),
                "mean_AP_trained_with_them": float(ap_all[ok].mean()),
                "mean_AP_folded_in": float(ap_fold[ok].mean()),
                "ratio": float(ap_fold[ok].mean() / ap_all[ok].mean()),
                "mean_AP_chance": float(prevalence.mean()),
                "kept_labels_MAP@100_with_all": with_all.best["MAP@100"],
                "kept_labels_MAP@100_without": without.best["MAP@100"],
                "train_seconds": train_seconds,
                "fold_in_seconds": fold_seconds,
            }
            print(
                f"| {row['dataset']} | {head} | {row['method']} | {L} | {len(held)} "
                f"({row['held_out_with_test_positives']}) | "
                f"{row['mean_AP_trained_with_them']:.4f} | {row['mean_AP_folded_in']:.4f} | "
                f"{row['ratio']:.3f}× | {row['mean_AP_chance']:.4f} |",
                flush=True,
            )
            rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", type=Path, nargs="+")
    parser.add_argument("--fraction", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("runs/fold_in"))
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument(
        "--heads", default="embedding", help="';'-separated head specs of the results' heads"
    )
    parser.add_argument(
        "--methods", default="auto", help="','-separated fold-in methods: auto, lstsq, centroid"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(
        "| dataset | head | method | labels | held out (with test positives) "
        "| mean AP, trained with them | mean AP, folded in | ratio | mean AP, chance |\n"
        "|---|---|---|---|---|---|---|---|---|"
    )
    heads, methods = args.heads.split(";"), args.methods.split(",")
    rows = [
        row
        for p in args.results
        for row in run(
            p, args.out / p.parent.name, args.data_dir, args.fraction, args.seed, heads, methods
        )
    ]
    if args.json:
        write_json(
            args.json,
            {
                "command": "python benchmarks/fold_in.py "
                + " ".join(str(p) for p in args.results)
                + f" --heads '{args.heads}' --methods {args.methods}",
                "fraction": args.fraction,
                "seed": args.seed,
                "date": time.strftime("%Y-%m-%d %H:%M"),
                "rows": rows,
            },
        )


if __name__ == "__main__":
    main()
