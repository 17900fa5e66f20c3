"""Calibrated label sets: micro- and macro-F1 of every head's sets next to its ranking metrics.

Reads finished runs (each model directory holds the per-label thresholds fitted on the
validation split at the end of training, ``thresholds.safetensors``) laid out as a comparison
(``runs/<spec>/lr=<lr>/seed=<seed>``, e.g. the output of ``benchmarks/reproduce.py``), and
evaluates each head's best model on the test split: MAP@100, P@1, and the micro/macro-F1 of
the calibrated sets. Also the F1 of the simplest alternative, the top-1 label as the set, and
of one global threshold (the fallback for rare labels), so the per-label thresholds are judged.

    python benchmarks/calibration_table.py /tmp/repro3 docs/results/bibtex/results.json \\
        docs/results/corel5k/results.json --json docs/benchmarks/calibration.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from labelsphere.artifacts import write_json
from labelsphere.calibration import set_f1
from labelsphere.compare import run_dir_for
from labelsphere.train import ImageOptions, TrainConfig, prepare_inputs


def table(root: Path, results: Path, data_dir: Path | None) -> list[dict]:
    summary = json.loads(results.read_text())
    base = TrainConfig.from_json(summary["config"], source=str(results))
    images = ImageOptions(backbone=base.backbone, frozen=True) if base.backbone else None
    test = prepare_inputs(summary["dataset"], data_dir, images=images, progress=False).test
    rows = []
    for spec, res in summary["heads"].items():
        run = run_dir_for(root / results.parent.name, spec, res["lr"], 0)
        if not (run.model_dir / "thresholds.safetensors").is_file():
            continue
        p = run.load_predictor()
        m = p.evaluate(test)
        scores, _ = p.scores(test.X)
        top1 = sp.csr_matrix(
            (np.ones(len(scores), np.int8), (np.arange(len(scores)), scores.argmax(1))),
            shape=scores.shape,
        )
        one = sp.csr_matrix((scores >= p.thresholds.global_threshold_).astype(np.int8))
        rows.append(
            {
                "dataset": summary["dataset"],
                "head": spec,
                "MAP@100": m["MAP@100"],
                "P@1": m["P@1"],
                "micro-F1": m["micro-F1"],
                "macro-F1": m["macro-F1"],
                "top-1 set": set_f1(test.Y, top1),
                "global threshold": set_f1(test.Y, one),
            }
        )
        r = rows[-1]
        print(
            f"| {r['dataset']} | {spec} | {r['MAP@100']:.4f} | {r['micro-F1']:.4f} | "
            f"{r['macro-F1']:.4f} | {r['global threshold']['micro-F1']:.4f} | "
            f"{r['global threshold']['macro-F1']:.4f} | {r['top-1 set']['micro-F1']:.4f} | "
            f"{r['top-1 set']['macro-F1']:.4f} |",
            flush=True,
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", type=Path, help="where the runs are (reproduce.py's --out)")
    parser.add_argument("results", type=Path, nargs="+")
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    print(
        "| dataset | head | MAP@100 | micro-F1 | macro-F1 | global threshold micro / macro "
        "| | top-1 micro / macro | |\n|---|---|---|---|---|---|---|---|---|"
    )
    rows = [r for p in args.results for r in table(args.root, p, args.data_dir)]
    if args.json:
        write_json(
            args.json,
            {
                "command": "python benchmarks/calibration_table.py "
                + " ".join(map(str, [args.root, *args.results])),
                "date": time.strftime("%Y-%m-%d %H:%M"),
                "rows": rows,
            },
        )


if __name__ == "__main__":
    main()
