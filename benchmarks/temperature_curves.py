"""The learned temperature against validation MAP@100, epoch by epoch, from finished runs.

Training records an embedding head's scale (inverse temperature) with each evaluation
(``"head": {"scale": ...}`` in ``metrics.jsonl``). This reads runs named one by one and writes,
per epoch, each run's validation MAP@100 and scale: a markdown table on stdout, the JSON, and a
PNG of both curves side by side. It trains nothing.

    python benchmarks/temperature_curves.py \\
        --run "learned-prior (1x)" runs/a/runs/embedding-learned-prior/lr=0.001/seed=0 \\
        --run "slow-scale (0.3x)" runs/b/runs/embedding-slow-scale/lr=0.001/seed=0 \\
        --json docs/results/x/temperature.json --png docs/results/x/temperature.png
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from labelsphere.artifacts import atomic_write, atomic_write_text, write_json


def read_curve(run: Path) -> dict[str, list[float]]:
    """Epochs, validation MAP@100 and scales of one run directory's evaluations."""
    path = run / "metrics.jsonl"
    try:
        lines = path.read_text().splitlines()
    except OSError as e:
        raise SystemExit(f"{path}: cannot read the run's history ({e})") from None
    curve: dict[str, list[float]] = {"epoch": [], "MAP@100": [], "scale": []}
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
            values = (float(rec["epoch"]), float(rec["MAP@100"]), float(rec["head"]["scale"]))
        except (json.JSONDecodeError, KeyError, TypeError, ValueError):
            raise SystemExit(
                f"{path}:{n}: expected JSON with 'epoch', 'MAP@100' and 'head': {{'scale'}} "
                "(runs trained before the scale was recorded have none)"
            ) from None
        for key, value in zip(curve, values, strict=True):
            curve[key].append(value)
    if not curve["epoch"]:
        raise SystemExit(f"{path}: no evaluation records")
    return curve


def markdown(curves: dict[str, dict[str, list[float]]]) -> str:
    """One row per epoch any run evaluated at: each label's validation MAP@100 (scale) there."""
    labels = list(curves)
    at = {
        label: {e: (m, sc) for e, m, sc in zip(c["epoch"], c["MAP@100"], c["scale"], strict=True)}
        for label, c in curves.items()
    }
    lines = [
        "| epoch | " + " | ".join(labels) + " |",
        "|---|" + "---|" * len(labels),
    ]
    for epoch in sorted(set().union(*at.values())):
        cells = [
            f"{at[label][epoch][0]:.4f} ({at[label][epoch][1]:.1f})" if epoch in at[label] else "—"
            for label in labels
        ]
        lines.append(f"| {epoch:g} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def plot(curves: dict[str, dict[str, list[float]]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.2))
    for label, c in curves.items():
        left.plot(c["epoch"], c["MAP@100"], marker="o", ms=3, label=label)
        right.plot(c["epoch"], c["scale"], marker="o", ms=3, label=label)
    left.set_ylabel("validation MAP@100")
    right.set_ylabel("scale (inverse temperature)")
    for ax in (left, right):
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    atomic_write(path, lambda p: fig.savefig(p, format="png", dpi=110, bbox_inches="tight"))
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", nargs=2, action="append", metavar=("LABEL", "RUN_DIR"), required=True)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--png", type=Path)
    a = ap.parse_args(argv)
    curves = {label: read_curve(Path(run)) for label, run in a.run}
    table = markdown(curves)
    sys.stdout.write(table)
    if a.json:
        write_json(a.json, {"runs": dict(a.run), "curves": curves})
        atomic_write_text(a.json.with_suffix(".md"), table)
    if a.png:
        plot(curves, a.png)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
