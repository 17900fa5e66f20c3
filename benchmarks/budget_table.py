"""Which head is ahead when training stops early: validation MAP@100 at shorter budgets.

``labelsphere compare`` trains with a constant learning rate, so the first e epochs of a
30-epoch run *are* a run with an e-epoch budget (same seed, same batches, same updates). This
script reads finished comparisons and, for each budget e, picks every head's learning rate
again on validation (``labelsphere.compare.best_within_budgets``, which ``compare`` also uses for
its report) (seed 0, from the same grid, best checkpoint within the budget) and reports
its best validation MAP@100 within e epochs and the ratio to the sigmoid head's. It re-reads
the runs' ``metrics.jsonl``; it trains nothing. Test metrics exist only for the full budget
(see docs/results.md), so these are validation figures: the selection and the figure share a
split, which flatters every head alike.

    python benchmarks/budget_table.py /work/exp/final-delicious /work/exp/final-bibtex ... \\
        --json docs/benchmarks/budget.json

prints a markdown table and writes the JSON, a .md and a PNG plot beside it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from labelsphere.artifacts import atomic_write, atomic_write_text, write_json
from labelsphere.compare import _slug, best_within_budgets

REPO = Path(__file__).resolve().parents[1]
BUDGETS = (1, 2, 3, 5, 10, 20, 30)


def budget_rows(compare_dir: Path, heads: list[str], budgets: tuple[int, ...]) -> list[dict]:
    summary = json.loads((compare_dir / "results.json").read_text())
    out = []
    for spec in heads:
        res = summary["heads"].get(spec)
        if res is None:
            continue
        histories = {}
        for lr in res["lr_search"]:
            path = compare_dir / "runs" / _slug(spec) / f"lr={lr}" / "seed=0" / "metrics.jsonl"
            if not path.is_file():
                raise SystemExit(f"{path}: missing (the comparison's run directory is incomplete)")
            histories[lr] = [json.loads(line) for line in path.read_text().splitlines()]
        within = [e for e in budgets if e <= summary["config"]["epochs"]]
        for e, best in best_within_budgets(histories, within).items():
            out.append(
                {
                    "dataset": summary["dataset"],
                    "head": spec,
                    "epochs": int(float(e)),
                    "lr": best["lr"],
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
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    sig = {(r["dataset"], r["epochs"]): r["val_MAP@100"] for r in rows if r["head"] == "sigmoid"}
    for ds in dict.fromkeys(r["dataset"] for r in rows):
        pts = [
            (r["epochs"], r["val_MAP@100"] / sig[(ds, r["epochs"])])
            for r in rows
            if r["dataset"] == ds and r["head"] == "embedding"
        ]
        ax.plot(*zip(*pts, strict=True), marker="o", label=ds)
    ax.axhline(1.0, color="grey", lw=0.8)
    ax.set_xscale("log")
    ax.minorticks_off()
    ticks = sorted({r["epochs"] for r in rows})
    ax.set_xticks(ticks, [str(t) for t in ticks])
    ax.set_xlabel("training budget (epochs; lr re-tuned per budget)")
    ax.set_ylabel("embedding / sigmoid, best validation MAP@100")
    ax.set_title("The embedding head's lead over the sigmoid head, by budget")
    ax.legend()
    fig.tight_layout()
    atomic_write(path, lambda p: fig.savefig(p, format="png", dpi=110))
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("compare_dirs", nargs="+", type=Path)
    parser.add_argument("--heads", nargs="+", default=["embedding", "hybrid", "sigmoid"])
    parser.add_argument("--budgets", nargs="+", type=int, default=list(BUDGETS))
    parser.add_argument("--json", type=Path, default=REPO / "docs" / "benchmarks" / "budget.json")
    args = parser.parse_args(argv)
    budgets = tuple(sorted(args.budgets))
    rows = []
    for d in args.compare_dirs:
        if not (d / "results.json").is_file():
            parser.error(f"{d}: no results.json (not a finished `labelsphere compare` directory)")
        config = json.loads((d / "results.json").read_text())["config"]
        if config["schedule"] != "constant" or config.get("warmup", 0):
            parser.error(f"{d}: budgets can be read off a run only with a constant schedule")
        rows += budget_rows(d, args.heads, budgets)
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
