"""Test recall and per-label AP by training-frequency band: which labels a head gains or loses on.

Loads finished models (``model/`` of a run directory), scores the dataset's test split with
each, and splits the ranking metrics by how often each label occurs in training
(:func:`labelsphere.metrics.metrics_by_frequency_band`): R@5 and R@100 of the band's true
pairs, the share of the top-5 slots the head gives the band, and the band's mean per-label AP.
The first run is the reference the others are divided by. Writes a markdown table on stdout,
the JSON (and the table beside it as .md) and a PNG. It trains nothing.

    python benchmarks/label_bands.py iconify-icons --data-dir ../shared/data \\
        --run "sigmoid-prior" runs/a/runs/sigmoid-prior/lr=0.001/seed=0/model \\
        --run "embedding-scale-cap" runs/b/runs/embedding-scale-cap/lr=0.001/seed=0/model \\
        --json docs/results/x/bands.json --png docs/results/x/bands.png
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from labelsphere.artifacts import atomic_write, atomic_write_text, write_json
from labelsphere.data import parse_dataset_options
from labelsphere.decode import topk
from labelsphere.metrics import metrics_by_frequency_band
from labelsphere.predict import Predictor, load_split
from labelsphere.train.inputs import DEFAULT_FEATURE_CACHE

COLUMNS = ("R@5", "R@100", "top-5 share", "mAP")


def band_rows(
    runs: list[tuple[str, Path]],
    dataset: str,
    data_dir: Path | None,
    edges: list[int],
    options: dict[str, Any],
    cache_dir: Path,
) -> dict[str, list[dict]]:
    """Per run label, the band rows of its model on the test split."""
    out: dict[str, list[dict]] = {}
    test = None
    for label, model_dir in runs:
        t0 = time.perf_counter()
        p = Predictor.load(model_dir)
        p.feature_cache = cache_dir
        if p.label_counts is None:
            raise SystemExit(f"{model_dir}: the model has no training label counts")
        if test is None or test.vocabulary != p.vocabulary:
            test = load_split(dataset, "test", data_dir, vocabulary=p.vocabulary, **options)
        scores, ok = p.scores(test.X)
        if not ok.all():
            print(f"{label}: {int((~ok).sum())} test inputs could not be read", file=sys.stderr)
        ranked, _ = topk(scores, 100)
        out[label] = metrics_by_frequency_band(
            test.Y, ranked, p.label_counts[0], edges, ks=(5, 100), scores=scores
        )
        print(
            f"{label}: {len(ranked)} test samples, {time.perf_counter() - t0:.0f} s",
            file=sys.stderr,
        )
    return out


def markdown(rows: dict[str, list[dict]]) -> str:
    """One line per band: its size, then each run's metrics (divided by the first run's)."""
    labels = list(rows)
    ref = rows[labels[0]]
    head = ["train count", "labels (in test)", "share of test pairs"]
    for i, label in enumerate(labels):
        head += [f"{label} {c}" + ("" if i == 0 else " (×)") for c in COLUMNS]
    lines = ["| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
    for b, r0 in enumerate(ref):
        cells = [
            r0["band"],
            f"{r0['n_labels']} ({r0['n_test_labels']})",
            f"{r0['positives_share']:.3f}",
        ]
        for i, label in enumerate(labels):
            r = rows[label][b]
            for c in COLUMNS:
                ratio = "" if i == 0 or not r0[c] else f" ({r[c] / r0[c]:.2f}×)"
                cells.append("—" if math.isnan(r[c]) else f"{r[c]:.4f}{ratio}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def plot(rows: dict[str, list[dict]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(COLUMNS), figsize=(4.2 * len(COLUMNS), 4))
    for label, rs in rows.items():
        x = np.arange(len(rs))
        for ax, c in zip(axes, COLUMNS, strict=True):
            ax.plot(x, [r[c] for r in rs], marker="o", ms=3, label=label)
    bands = [r["band"] for r in next(iter(rows.values()))]
    share = [r["positives_share"] for r in next(iter(rows.values()))]
    axes[2].plot(np.arange(len(share)), share, "k--", lw=1, label="share of test pairs")
    for ax, c in zip(axes, COLUMNS, strict=True):
        ax.set_xticks(np.arange(len(bands)), bands, rotation=45, fontsize=8)
        ax.set_xlabel("training count of the label")
        ax.set_title(f"test {c}")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    axes[2].legend(fontsize=8)
    atomic_write(path, lambda p: fig.savefig(p, format="png", dpi=110, bbox_inches="tight"))
    plt.close(fig)


def _edges(text: str) -> list[int]:
    try:
        return [int(e) for e in text.split(",")]
    except ValueError:
        raise SystemExit(f"--edges: expected comma-separated integers, got {text!r}") from None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dataset", help="a shared dataset name or an items file")
    ap.add_argument("--data-dir", type=Path, default=None)
    ap.add_argument(
        "--run", nargs=2, action="append", metavar=("LABEL", "MODEL_DIR"), required=True
    )
    ap.add_argument("--edges", default="5,10,20,50,100,300,1000", help="band lower bounds")
    ap.add_argument("--dataset-option", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--cache-dir", type=Path, default=DEFAULT_FEATURE_CACHE)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--png", type=Path)
    a = ap.parse_args(argv)
    try:
        options = parse_dataset_options(a.dataset_option)
    except ValueError as e:
        raise SystemExit(str(e)) from None
    runs = [(label, Path(d)) for label, d in a.run]
    try:
        rows = band_rows(runs, a.dataset, a.data_dir, _edges(a.edges), options, a.cache_dir)
    except (OSError, ValueError) as e:
        raise SystemExit(f"label_bands: {e}") from None
    table = markdown(rows)
    sys.stdout.write(table)
    if a.json:
        write_json(
            a.json, {"dataset": a.dataset, "options": options, "runs": dict(a.run), "bands": rows}
        )
        atomic_write_text(a.json.with_suffix(".md"), table)
    if a.png:
        plot(rows, a.png)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
