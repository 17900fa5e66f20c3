"""Does the embedding head's ratio to the sigmoid head grow with the amount of training data?

The paper's advantage is claimed at 300M images; the shared feature datasets have 4-12k
training samples. This benchmark runs ``labelsphere compare`` (same protocol: learning rate
searched per head on the validation split, test metrics of the best validation checkpoint) on
nested random subsets of one dataset's training split -- the validation and test splits stay
whole -- and reports test MAP@100 per head and the ratio to the sigmoid head at each size.

    python benchmarks/data_scaling.py delicious --fractions 0.1 0.25 0.5 1 \\
        --out /work/exp/scaling-delicious --json docs/benchmarks/data_scaling_delicious.json

prints a markdown table and writes the JSON and a PNG plot next to it. Finished runs in
``--out`` are reused (as in ``labelsphere compare``), so an interrupted sweep resumes.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

from labelsphere.artifacts import atomic_write, atomic_write_text, write_json
from labelsphere.compare import compare, parse_head_spec
from labelsphere.data import train_val_test
from labelsphere.train import TrainConfig

REPO = Path(__file__).resolve().parents[1]


def run(
    dataset: str,
    data_dir: Path,
    fractions: list[float],
    heads: list[str],
    seeds: int,
    lrs: list[float],
    out: Path,
    epochs: int,
    baseline: str = "sigmoid",
) -> list[dict]:
    tr, va, te = train_val_test(dataset, data_dir)
    # Nested subsets: every smaller training set is contained in the larger ones.
    order = np.random.default_rng(0).permutation(len(tr))
    base = TrainConfig(head=parse_head_spec(baseline).head, epochs=epochs)
    rows = []
    for frac in fractions:
        n = max(1, round(frac * len(tr)))
        sub = tr if n == len(tr) else tr.subset(np.sort(order[:n]))
        summary = compare(
            dataset,
            sub,
            va,
            te,
            heads,
            base,
            out / f"n={n}",
            n_seeds=seeds,
            lrs=lrs,
            progress=False,
            baseline=baseline,
        )
        # The runs' own training time, also for runs reused from an earlier invocation.
        row: dict = {"fraction": frac, "n_train": n, "run_seconds": summary["run_seconds"]}
        for spec, res in summary["heads"].items():
            runs = res["runs"]
            row[spec] = {
                "lr": res["lr"],
                "test_MAP@100": [r["test"]["MAP@100"] for r in runs],
                "test_P@1": [r["test"]["P@1"] for r in runs],
                "best_step": [r["best"]["step"] for r in runs],
                "steps_to_90pct_of_baseline_best": [r["to_baseline_90"]["steps"] for r in runs],
            }
        rows.append(row)
        print(f"n_train={n}: {row['run_seconds']:.0f} s of training", file=sys.stderr, flush=True)
    return rows


def _mean(v: list[float]) -> float:
    return float(np.mean(v))


def markdown(rows: list[dict], heads: list[str], baseline: str = "sigmoid") -> str:
    head = "| train samples | " + " | ".join(f"{h} MAP@100" for h in heads)
    head += " | " + " | ".join(f"{h} / {baseline}" for h in heads if h != baseline) + " |"
    lines = [head, "|" + "---|" * (1 + len(heads) + len(heads) - 1)]
    for r in rows:
        cells = [str(r["n_train"])]
        cells += [f"{_mean(r[h]['test_MAP@100']):.4f}" for h in heads]
        base = _mean(r[baseline]["test_MAP@100"])
        cells += [f"{_mean(r[h]['test_MAP@100']) / base:.3f}×" for h in heads if h != baseline]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(
    rows: list[dict], heads: list[str], dataset: str, path: Path, baseline: str = "sigmoid"
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = [r["n_train"] for r in rows]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    for h in heads:
        ax1.plot(n, [_mean(r[h]["test_MAP@100"]) for r in rows], marker="o", label=h)
        if h != baseline:
            ratio = [_mean(r[h]["test_MAP@100"]) / _mean(r[baseline]["test_MAP@100"]) for r in rows]
            ax2.plot(n, ratio, marker="o", label=f"{h} / {baseline}")
    ax2.axhline(1.0, color="grey", lw=0.8)
    for ax in (ax1, ax2):
        ax.set_xscale("log")
        ax.minorticks_off()
        ax.set_xticks(n, [str(v) for v in n])
        ax.set_xlabel("training samples")
        ax.legend()
    ax1.set_ylabel("test MAP@100")
    ax2.set_ylabel("test MAP@100 ratio")
    fig.suptitle(f"{dataset}: test MAP@100 against training-set size (lr tuned per size)")
    fig.tight_layout()
    atomic_write(path, lambda p: fig.savefig(p, format="png", dpi=110))
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset")
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path(os.environ.get("LABELSPHERE_DATA", REPO.parent / "shared" / "data")),
    )
    parser.add_argument("--fractions", nargs="+", type=float, default=[0.1, 0.25, 0.5, 1.0])
    parser.add_argument("--heads", nargs="+", default=["embedding", "sigmoid"])
    parser.add_argument("--baseline", default="sigmoid", help="the head the others are divided by")
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--lrs", nargs="+", type=float, default=[3e-4, 1e-3, 3e-3])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--out", type=Path, default=None, help="run directory")
    parser.add_argument("--json", type=Path, default=None, help="result JSON (PNG beside it)")
    args = parser.parse_args(argv)
    if any(not 0 < f <= 1 for f in args.fractions):
        parser.error(f"--fractions must lie in (0, 1], got {args.fractions}")
    try:
        parse_head_spec(args.baseline)
    except ValueError as e:
        parser.error(f"--baseline: {e}")
    if args.baseline not in args.heads:
        args.heads.append(args.baseline)  # compare always runs the baseline; so does this table
    if args.threads:
        torch.set_num_threads(args.threads)
    out = args.out or Path("runs") / f"data-scaling-{args.dataset}"
    js = args.json or REPO / "docs" / "benchmarks" / f"data_scaling_{args.dataset}.json"
    t0 = time.time()
    rows = run(
        args.dataset,
        args.data_dir,
        sorted(args.fractions),
        args.heads,
        args.seeds,
        args.lrs,
        out,
        args.epochs,
        args.baseline,
    )
    table = markdown(rows, args.heads, args.baseline)
    print(table)
    js.parent.mkdir(parents=True, exist_ok=True)
    write_json(
        js,
        {
            "command": "python benchmarks/data_scaling.py "
            + " ".join(sys.argv[1:] if argv is None else argv),
            "dataset": args.dataset,
            "date": time.strftime("%Y-%m-%d"),
            "machine": {
                "python": platform.python_version(),
                "torch": torch.__version__,
                "threads": torch.get_num_threads(),
                "cpus": os.cpu_count(),
            },
            "wall_seconds": time.time() - t0,
            "run_seconds": sum(r["run_seconds"] for r in rows),
            "heads": args.heads,
            "baseline": args.baseline,
            "rows": rows,
        },
    )
    atomic_write_text(js.with_suffix(".md"), table + "\n")
    plot(rows, args.heads, args.dataset, js.with_suffix(".png"), args.baseline)
    print(f"\nwrote {js}, {js.with_suffix('.md')} and {js.with_suffix('.png')}")


if __name__ == "__main__":
    main()
