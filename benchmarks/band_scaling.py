"""A head's ratio to the baseline by each label's share of the training set, across set sizes.

``label_diagnostics.py`` splits the test ranking into bands of a label's training *count*.
Across nested subsets of one dataset, the same count means a different share of the training
set, so the bands do not line up. This script reads several of its JSONs (one per set size)
and puts each band at its label's training share (the band's geometric middle over the number
of training samples), so the question "does the head's advantage depend on the set's size or
on how rare a label is within it?" can be read off one plot. It trains and scores nothing.

For each set: the bands with the head's R@5, R@100 and per-label mAP over the first run's,
the share of the test pairs each band holds, and the pair-weighted R@5 ratio over all bands
(the micro R@5 ratio). Markdown on stdout, the JSON (and a .md beside it), a PNG.

    python benchmarks/band_scaling.py \\
        --set "31k icons" docs/results/iconify-diagnostics-s21/40k.json 31255 \\
        --set "261k icons" docs/results/iconify-diagnostics-s21/full.json 260706 \\
        --json docs/results/x/scaling.json --png docs/results/x/scaling.png

The number of training samples may be left out where the JSON records it (``n_train``,
written by label_diagnostics since session 32). ``--head LABEL`` picks the run to compare
(default: each JSON's second); the baseline is each JSON's first run.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

from labelsphere.artifacts import atomic_write, atomic_write_text, write_json

RATIOS = ("R@5", "R@100", "mAP")


def band_share(band: dict[str, Any], n_train: int) -> float:
    """The band's geometric middle count over n_train; an open last band counts to 3x its low."""
    lo = max(band["lo"], 1)
    hi = band["hi"] if band["hi"] is not None else 3 * band["lo"]
    return math.sqrt(lo * (hi - 1 if hi - 1 >= lo else lo)) / n_train


def scale_rows(runs: dict[str, Any], n_train: int, head: str | None) -> dict[str, Any]:
    """Per band: the training share, the share of test pairs, the head's ratios to the first run."""
    names = list(runs)
    if len(names) < 2:
        raise ValueError("needs a baseline run and a head run")
    if head is None:
        head = names[1]
    if head not in runs:
        raise ValueError(f"no run named {head!r} (runs: {', '.join(names)})")
    base, other = runs[names[0]]["bands"], runs[head]["bands"]
    rows = []
    for b, h in zip(base, other, strict=True):
        row: dict[str, Any] = {"band": b["band"], "train_share": band_share(b, n_train)}
        row["positives_share"] = b["positives_share"]
        for c in RATIOS:
            ok = b[c] and not math.isnan(b[c]) and not math.isnan(h[c])
            row[c] = h[c] / b[c] if ok else float("nan")
        rows.append(row)
    micro = sum(b["positives_share"] * h["R@5"] for b, h in zip(base, other, strict=True))
    base_micro = sum(b["positives_share"] * b["R@5"] for b in base)
    micro = micro / base_micro if base_micro else float("nan")
    return {
        "baseline": names[0],
        "head": head,
        "n_train": n_train,
        "bands": rows,
        "micro R@5": micro,
    }


def markdown(sets: dict[str, dict[str, Any]]) -> str:
    lines = [
        "| set | band (train count) | train share | share of test pairs | R@5 × | R@100 × | mAP × |",
        "|---|---|---|---|---|---|---|",
    ]
    for label, s in sets.items():
        for r in s["bands"]:
            cells = [label, r["band"], f"{r['train_share']:.5f}", f"{r['positives_share']:.3f}"]
            cells += ["—" if math.isnan(r[c]) else f"{r[c]:.2f}" for c in RATIOS]
            lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "| set | n_train | head / baseline | micro R@5 × |", "|---|---|---|---|"]
    for label, s in sets.items():
        lines.append(
            f"| {label} | {s['n_train']} | {s['head']} / {s['baseline']} | {s['micro R@5']:.3f} |"
        )
    return "\n".join(lines) + "\n"


def plot(sets: dict[str, dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(RATIOS), figsize=(4.4 * len(RATIOS), 4))
    for label, s in sets.items():
        x = [r["train_share"] for r in s["bands"]]
        for ax, c in zip(axes, RATIOS, strict=True):
            ax.plot(x, [r[c] for r in s["bands"]], marker="o", ms=3, label=label)
    for ax, c in zip(axes, RATIOS, strict=True):
        ax.axhline(1.0, color="k", lw=0.8, ls="--")
        ax.set_xscale("log")
        ax.set_xlabel("label's share of the training samples")
        ax.set_title(f"test {c}: head / baseline")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    atomic_write(path, lambda p: fig.savefig(p, format="png", dpi=110, bbox_inches="tight"))
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--set", nargs="+", action="append", required=True, metavar="LABEL JSON [N_TRAIN]"
    )
    ap.add_argument("--head", default=None, help="the run to compare (default: each JSON's second)")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--png", type=Path)
    a = ap.parse_args(argv)
    sets: dict[str, dict[str, Any]] = {}
    for spec in a.set:
        if len(spec) not in (2, 3):
            raise SystemExit(f"--set: expected LABEL JSON [N_TRAIN], got {' '.join(spec)!r}")
        label, path = spec[0], Path(spec[1])
        try:
            runs = json.loads(path.read_text())["runs"]
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise SystemExit(f"{path}: not a label_diagnostics JSON ({e})") from None
        if len(spec) == 3:
            try:
                n_train = int(spec[2])
            except ValueError:
                n_train = 0
            if n_train <= 0:
                raise SystemExit(
                    f"--set {label}: N_TRAIN must be a positive integer, got {spec[2]!r}"
                )
        else:
            first = next(iter(runs.values()), {}) if isinstance(runs, dict) else {}
            n_train = first.get("n_train", 0) if isinstance(first, dict) else 0
            if not n_train:
                raise SystemExit(f"{path}: records no n_train; give it as --set's third word")
        try:
            sets[label] = scale_rows(runs, n_train, a.head)
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise SystemExit(f"{path}: {e}") from None
    table = markdown(sets)
    sys.stdout.write(table)
    if a.json:
        write_json(a.json, {"sets": sets})
        atomic_write_text(a.json.with_suffix(".md"), table)
    if a.png:
        plot(sets, a.png)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
