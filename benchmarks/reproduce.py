"""Reproduce runs of a finished comparison with the current code, and compare test metrics.

A refactor must keep behaviour: the same config, data, seed and learning rate must give the
same test metrics. This script reads a comparison's ``results.json`` (e.g. the committed
``docs/results/<dataset>/results.json``), retrains the selected runs from scratch with the
current code through the library's own path (``prepare_inputs`` -> ``train`` ->
``Predictor.evaluate``), and prints, per run, the stored and the reproduced test metrics and
whether they agree to the 4 printed digits.

    python benchmarks/reproduce.py docs/results/bibtex/results.json --heads embedding,sigmoid \\
        --seeds 0 --threads 1 --out /tmp/reproduce --json docs/benchmarks/reproduce_bibtex.json

The stored runs were trained with 1 torch thread on the CPU (``machine`` in results.json);
use ``--threads`` to match, since the order of floating-point sums depends on it.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from labelsphere.artifacts import write_json
from labelsphere.compare import run_dir_for
from labelsphere.heads import parse_head_spec, split_specs
from labelsphere.train import ImageOptions, TrainConfig, prepare_inputs, train

METRICS = ("MAP@100", "P@1", "P@5", "PSP@5")


def reproduce(
    results: Path, heads: list[str] | None, seeds: list[int], out: Path, data_dir: Path | None
) -> list[dict]:
    summary = json.loads(results.read_text())
    base = TrainConfig.from_json(summary["config"], source=str(results))
    images = ImageOptions(backbone=base.backbone, frozen=True) if base.backbone else None
    inputs = prepare_inputs(summary["dataset"], data_dir, images=images, progress=False)
    rows = []
    for spec in heads or list(summary["heads"]):
        res = summary["heads"][spec]
        for seed in seeds:
            stored = res["runs"][seed]["test"]
            cfg = parse_head_spec(spec).config(base, lr=res["lr"], seed=seed)
            run = run_dir_for(out, spec, res["lr"], seed)
            t0 = time.perf_counter()
            result = train(
                cfg,
                inputs.train,
                inputs.val,
                run,
                progress=False,
                feature_extractor=inputs.feature_extractor,
            )
            got = result.load_predictor().evaluate(inputs.test)
            row = {
                "dataset": summary["dataset"],
                "head": spec,
                "lr": res["lr"],
                "seed": seed,
                "seconds": time.perf_counter() - t0,
                "stored": {m: stored[m] for m in METRICS},
                "reproduced": {m: got[m] for m in METRICS},
                "max_abs_diff": max(abs(stored[m] - got[m]) for m in METRICS),
                "same_to_4_digits": all(f"{stored[m]:.4f}" == f"{got[m]:.4f}" for m in METRICS),
            }
            rows.append(row)
            print(
                f"| {row['dataset']} | {spec} | {res['lr']:g} | {seed} | "
                f"{stored['MAP@100']:.4f} | {got['MAP@100']:.4f} | {row['max_abs_diff']:.1e} | "
                f"{'yes' if row['same_to_4_digits'] else 'NO'} | {row['seconds']:.0f} |",
                flush=True,
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", type=Path, nargs="+", help="results.json of comparisons")
    parser.add_argument("--heads", default=None, help="head specs (default: every head)")
    parser.add_argument("--seeds", default="0", help="comma-separated seeds (default 0)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--out", type=Path, default=Path("runs/reproduce"))
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None, help="write the rows here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    heads = split_specs(args.heads) if args.heads else None
    seeds = [int(s) for s in args.seeds.split(",")]
    print(
        "| dataset | head | lr | seed | stored test MAP@100 | reproduced | max abs diff (MAP@100, P@1, P@5, PSP@5) | same 4 digits | seconds |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    rows = []
    for path in args.results:
        rows += reproduce(path, heads, seeds, args.out / path.parent.name, args.data_dir)
    same = sum(r["same_to_4_digits"] for r in rows)
    print(f"\n{same} of {len(rows)} runs reproduce their test metrics to 4 digits")
    if args.json:
        write_json(
            args.json,
            {
                "command": "python benchmarks/reproduce.py " + " ".join(map(str, args.results)),
                "threads": args.threads,
                "torch": torch.__version__,
                "date": time.strftime("%Y-%m-%d %H:%M"),
                "rows": rows,
            },
        )


if __name__ == "__main__":
    main()
