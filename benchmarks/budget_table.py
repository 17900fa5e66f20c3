"""Which head is ahead when training stops early: validation MAP@100 at shorter budgets.

``labelsphere compare`` trains with a constant learning rate, so the first e epochs of a
30-epoch run *are* a run with an e-epoch budget (same seed, same batches, same updates). This
script reads finished comparisons and, for each budget e, picks every head's learning rate
again on validation (``labelsphere.compare.best_within_budgets``, which ``compare`` also uses for
its report; seed 0, best checkpoint within the budget) and reports
its best validation MAP@100 within e epochs and the ratio to the sigmoid head's. It re-reads
the runs' ``metrics.jsonl``; it trains nothing. Test metrics exist only for the full budget
(see docs/results.md), so these are validation figures: the selection and the figure share a
split, which flatters every head alike.

    python benchmarks/budget_table.py /work/exp/final-delicious /work/exp/final-bibtex ... \\
        --json docs/benchmarks/budget.json

Several directories of one dataset are merged into one learning-rate grid (same network and
data, other rates: the grid tuned for 30 epochs is too low for the sigmoid head at 1-3 epochs,
so short extra runs at higher rates belong in it); budgets are then limited to the shortest.

prints a markdown table and writes the JSON, a .md and a PNG plot beside it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from labelsphere.artifacts import atomic_write, atomic_write_text, write_json
from labelsphere.compare import best_within_budgets, run_dir_for

REPO = Path(__file__).resolve().parents[1]
BUDGETS = (1, 2, 3, 5, 10, 20, 30)


def _histories(compare_dir: Path, spec: str, lrs: list[str]) -> dict[str, list[dict]]:
    out = {}
    for lr in lrs:
        run = run_dir_for(compare_dir, spec, float(lr), 0)
        if not run.metrics_path.is_file():
            raise SystemExit(
                f"{run.metrics_path}: missing (the comparison's run directory is incomplete)"
            )
        out[lr] = run.read_history()
    return out


def budget_rows(compare_dirs: list[Path], heads: list[str], budgets: tuple[int, ...]) -> list[dict]:
    """Rows per dataset, head and budget. Directories of one dataset are merged: the same
    network and data with other learning rates (e.g. a short extra run at higher rates) widen
    the grid; budgets are then limited to the shortest of their runs."""
    summaries = [json.loads((d / "results.json").read_text()) for d in compare_dirs]
    by_dataset: dict[str, list[tuple[Path, dict]]] = {}
    for d, s in zip(compare_dirs, summaries, strict=True):
        by_dataset.setdefault(s["dataset"], []).append((d, s))
    out = []
    for dataset, group in by_dataset.items():
        shared = [
            {k: v for k, v in s["config"].items() if k not in ("epochs", "lr")} for _, s in group
        ]
        if any(c != shared[0] for c in shared):
            raise SystemExit(f"{dataset}: the directories differ in more than epochs and lr")
        max_epochs = min(s["config"]["epochs"] for _, s in group)
        within = [e for e in budgets if e <= max_epochs]
        for spec in heads:
            histories: dict[str, list[dict]] = {}
            for d, s in group:
                if spec in s["heads"]:
                    histories.update(_histories(d, spec, list(s["heads"][spec]["lr_search"])))
            for e, best in best_within_budgets(histories, within).items():
                out.append(
                    {
                        "dataset": dataset,
                        "head": spec,
                        "epochs": int(float(e)),
                        "lr": best["lr"],
                        "lrs_searched": sorted(histories, key=float),
                        "val_MAP@100": best["value"],
                    }
                )
    return out


def markdown(rows: list[dict], budgets: tuple[int, ...]) -> str:
    lines = [
        "| dataset | head | " + " | ".join(f"{e} ep" for e in budgets) + " |",
        "|---|---|" + "---|" * len(budgets),
    ]
    by = {(r["dataset"], r["head"], r["epochs"]): r for r in rows}
    for ds in dict.fromkeys(r["dataset"] for r in rows):
        for head in dict.fromkeys(r["head"] for r in rows if r["dataset"] == ds):
            cells = []
            for e in budgets:
                r, b = by.get((ds, head, e)), by.get((ds, "sigmoid", e))
                if r is None or b is None:
                    cells.append("—")
                elif head == "sigmoid":
                    cells.append(f"{r['val_MAP@100']:.4f}")
                else:
                    cells.append(f"{r['val_MAP@100'] / b['val_MAP@100']:.3f}×")
            lines.append(f"| {ds} | {head} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(rows: list[dict], path: Path) -> None:
    """Ratio to the sigmoid head by budget: the embedding head solid, the softmax head dashed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    sig = {(r["dataset"], r["epochs"]): r["val_MAP@100"] for r in rows if r["head"] == "sigmoid"}
    for i, ds in enumerate(dict.fromkeys(r["dataset"] for r in rows)):
        for head, style in (("embedding", "-"), ("softmax", "--")):
            pts = [
                (r["epochs"], r["val_MAP@100"] / sig[(ds, r["epochs"])])
                for r in rows
                if r["dataset"] == ds and r["head"] == head
            ]
            if pts:
                ax.plot(
                    *zip(*pts, strict=True), style, marker="o", color=f"C{i}", label=f"{ds} {head}"
                )
    ax.axhline(1.0, color="grey", lw=0.8)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.minorticks_off()
    ticks = sorted({r["epochs"] for r in rows})
    ax.set_xticks(ticks, [str(t) for t in ticks])
    yt = [0.9, 1.0, 1.25, 1.5, 2, 3, 5]
    ax.set_yticks(yt, [f"{y:g}" for y in yt])
    ax.set_xlabel("training budget (epochs; lr re-tuned per budget)")
    ax.set_ylabel("best validation MAP@100 / sigmoid head's")
    ax.set_title("Lead over the sigmoid head by budget (solid: embedding, dashed: softmax)")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    atomic_write(path, lambda p: fig.savefig(p, format="png", dpi=110))
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("compare_dirs", nargs="+", type=Path)
    parser.add_argument(
        "--heads",
        nargs="+",
        default=["embedding", "hybrid[loss=softmax]", "softmax", "asl", "sigmoid"],
    )
    parser.add_argument("--budgets", nargs="+", type=int, default=list(BUDGETS))
    parser.add_argument("--json", type=Path, default=REPO / "docs" / "benchmarks" / "budget.json")
    args = parser.parse_args(argv)
    budgets = tuple(sorted(args.budgets))
    for d in args.compare_dirs:
        if not (d / "results.json").is_file():
            parser.error(f"{d}: no results.json (not a finished `labelsphere compare` directory)")
        config = json.loads((d / "results.json").read_text())["config"]
        if config["schedule"] != "constant" or config.get("warmup", 0):
            parser.error(f"{d}: budgets can be read off a run only with a constant schedule")
    rows = budget_rows(args.compare_dirs, args.heads, budgets)
    table = markdown(rows, budgets)
    print(table)
    write_json(
        args.json,
        {
            "command": "python benchmarks/budget_table.py "
            + " ".join(sys.argv[1:] if argv is None else argv),
            "date": time.strftime("%Y-%m-%d"),
            "rows": rows,
        },
    )
    atomic_write_text(args.json.with_suffix(".md"), table + "\n")
    plot(rows, args.json.with_suffix(".png"))
    print(
        f"\nwrote {args.json}, {args.json.with_suffix('.md')} and {args.json.with_suffix('.png')}"
    )


if __name__ == "__main__":
    main()
