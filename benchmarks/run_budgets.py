"""Test metrics at each budget of finished runs named one by one, one rate per head.

``compare`` re-tunes the rate per budget over the runs of one output directory. Runs made
in separate lanes (other directories, other total epochs) are compared here instead: each
label names the run directories of one head at one rate (one per seed); for each budget e
the checkpoint validation picks within e epochs is read on test
(``labelsphere.compare.budget_test_metrics``), averaged over the label's runs, and set
against the baseline label's. It reads ``metrics.jsonl``; it trains nothing.

    python benchmarks/run_budgets.py --baseline sigmoid-prior \\
        --run sigmoid-prior runs/x/runs/sigmoid-prior/lr=0.001/seed=0 \\
        --run default runs/y/runs/embedding-learned-prior/lr=0.001/seed=0 \\
        --budgets 1,2,3,5 --json docs/results/x/budgets.json

prints a markdown table and writes the JSON (and a .md beside it). ``--merge LABEL JSON`` adds
the per-seed picks a label had in an earlier run of this script, for runs whose directories are
gone (a fresh machine) or were made elsewhere (a third word names the label there, if it
differs): a label with new runs too pools both seed sets, at the budgets both reach::

    python benchmarks/run_budgets.py --baseline sigmoid-prior \\
        --merge sigmoid-prior docs/results/x/budgets.json \\
        --merge default docs/results/x/budgets.json \\
        --run default runs/z/runs/embedding-learned-prior/lr=0.001/seed=1 ...
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from labelsphere.artifacts import atomic_write_text, write_json
from labelsphere.compare.speed import budget_test_metrics, seed_summary


def _history(run: Path) -> list[dict]:
    path = run / "metrics.jsonl" if run.is_dir() else run
    try:
        lines = path.read_text().splitlines()
    except OSError as e:
        raise SystemExit(f"{path}: cannot read the run's history ({e})") from None
    history = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            raise SystemExit(f"{path}:{n}: not JSON ({e})") from None
        if not isinstance(record, dict) or not {"epoch", "MAP@100"} <= record.keys():
            raise SystemExit(f"{path}:{n}: an evaluation record needs 'epoch' and 'MAP@100'")
        history.append(record)
    if not history:
        raise SystemExit(f"{path}: no evaluation records")
    return history


def budget_table(
    runs: dict[str, list[Path]],
    baseline: str,
    budgets: list[int],
    key: str = "MAP@100",
    require_baseline: bool = True,
) -> dict[str, dict[str, dict]]:
    """``{label: {budget: budget_test_metrics' entry}}`` for every label and budget its runs reach."""
    picks = {str(e): {"lr": "one"} for e in budgets}
    out = {}
    for label, dirs in runs.items():
        histories = [_history(d) for d in dirs]
        reached = {
            e: p for e, p in picks.items() if all(h[-1]["epoch"] >= int(e) for h in histories)
        }
        out[label] = budget_test_metrics({"one": histories}, reached, key)
    if require_baseline and baseline not in out:
        raise SystemExit(f"--baseline {baseline!r} is not one of the --run labels {sorted(out)}")
    return out


def _earlier_label(path: Path, label: str) -> dict[str, dict]:
    """One label's ``{budget: entry}`` from an earlier --json, its shape checked field by field."""
    try:
        budgets = json.loads(path.read_text())["budgets"]
    except OSError as e:
        raise SystemExit(f"{path}: cannot read ({e})") from None
    except (json.JSONDecodeError, TypeError, KeyError) as e:
        raise SystemExit(f"{path}: not a run_budgets JSON ({type(e).__name__}: {e})") from None
    if not isinstance(budgets, dict) or label not in budgets:
        raise SystemExit(f"{path}: has no label {label!r} under 'budgets'")
    row = budgets[label]
    for e, entry in row.items() if isinstance(row, dict) else [("?", None)]:
        where = f"{path}: budgets.{label}.{e}"
        if not isinstance(entry, dict) or not isinstance(entry.get("per_seed"), list):
            raise SystemExit(f"{where}: expected an entry with 'lr' and a 'per_seed' list")
        if "lr" not in entry or not entry["per_seed"]:
            raise SystemExit(f"{where}: expected an entry with 'lr' and a 'per_seed' list")
        for i, seed in enumerate(entry["per_seed"]):
            if not isinstance(seed, dict) or not isinstance(seed.get("test"), dict):
                raise SystemExit(f"{where}.per_seed[{i}]: expected a pick with 'test' metrics")
            if not all(isinstance(v, (int, float)) for v in seed["test"].values()):
                raise SystemExit(f"{where}.per_seed[{i}].test: every metric must be a number")
    return row


def merge_table(
    table: dict[str, dict[str, dict]], merges: list[tuple[str, Path, str]]
) -> dict[str, dict[str, dict]]:
    """``table`` with each (label, earlier JSON, label there)'s per-seed picks pooled into label.

    A label only in the earlier JSON is taken whole; one in both keeps the budgets both reach,
    with the earlier seeds first. Picks made at different rates are not pooled.
    """
    out = dict(table)
    for label, path, label_there in merges:
        earlier = _earlier_label(path, label_there)
        if label not in out:
            out[label] = earlier
            continue
        merged = {}
        for e, now in out[label].items():
            if e not in earlier:
                continue
            if earlier[e]["lr"] != now["lr"]:
                raise SystemExit(
                    f"{path}: {label!r} at {e} epochs was picked at rate {earlier[e]['lr']}, "
                    f"the new runs at {now['lr']}"
                )
            merged[e] = seed_summary(now["lr"], [*earlier[e]["per_seed"], *now["per_seed"]])
        out[label] = merged
    return out


def markdown(table: dict[str, dict[str, dict]], baseline: str, budgets: list[int]) -> str:
    last = str(budgets[-1])
    head = " | ".join(f"{e} ep" for e in budgets)
    lines = [
        f"| head | seeds | {head} | P@1 (%) at {last} | P@5 at {last} |",
        "|---" * (len(budgets) + 4) + "|",
    ]
    base = table[baseline]
    for label, row in table.items():
        cells = []
        for e in map(str, budgets):
            if e not in row:
                cells.append("—")
                continue
            v = row[e]["test"]["MAP@100"]
            ratio = (
                f" ({v / base[e]['test']['MAP@100']:.3f}×)"
                if e in base and label != baseline
                else ""
            )
            cells.append(f"{v:.4f}{ratio}")
        n = max((r["n_seeds"] for r in row.values()), default=0)
        p1 = f"{row[last]['test']['P@1'] * 100:.2f}" if last in row else "—"
        p5 = f"{row[last]['test']['P@5']:.4f}" if last in row else "—"
        lines.append(f"| {label} | {n} | {' | '.join(cells)} | {p1} | {p5} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--run",
        nargs=2,
        action="append",
        default=[],
        metavar=("LABEL", "RUN_DIR"),
        help="a head's run (repeat a label for its seeds)",
    )
    ap.add_argument(
        "--merge",
        nargs="+",
        action="append",
        default=[],
        metavar="LABEL JSON [LABEL_THERE]",
        help="add the label's per-seed picks from an earlier --json of this script",
    )
    ap.add_argument("--baseline", required=True)
    ap.add_argument("--budgets", default="1,2,3,5,10")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    runs: dict[str, list[Path]] = {}
    for label, path in args.run:
        runs.setdefault(label, []).append(Path(path))
    try:
        budgets = [int(b) for b in args.budgets.split(",")]
    except ValueError:
        raise SystemExit(f"--budgets {args.budgets!r}: expected integers like 1,2,3") from None
    if not args.run and not args.merge:
        ap.error("give at least one --run or --merge")
    merges = []
    for words in args.merge:
        if len(words) not in (2, 3):
            ap.error(f"--merge takes LABEL JSON [LABEL_THERE], got {len(words)} words: {words}")
        merges.append((words[0], Path(words[1]), words[-1] if len(words) == 3 else words[0]))
    table = budget_table(runs, args.baseline, budgets, require_baseline=not merges)
    table = merge_table(table, merges)
    if args.baseline not in table:
        raise SystemExit(f"--baseline {args.baseline!r} is not one of the labels {sorted(table)}")
    text = markdown(table, args.baseline, budgets)
    print(text)
    if args.json:
        write_json(
            args.json,
            {
                "baseline": args.baseline,
                "runs": {k: [str(p) for p in v] for k, v in runs.items()},
                "merged": [[label, str(path), there] for label, path, there in merges],
                "budgets": table,
            },
        )
        atomic_write_text(
            args.json.with_suffix(".md"),
            shlex.join(["python", "benchmarks/run_budgets.py", *(argv or sys.argv[1:])])
            + "\n\n"
            + text,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
