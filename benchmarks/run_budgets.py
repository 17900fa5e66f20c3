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

The JSON may also be a ``compare`` report's ``results.json``, whose heads' ``budget_test``
rows hold the same per-seed picks (LABEL_THERE is then the head's name there). Picks are pooled
at the budgets both sides reach at the same rate (each run's ``config.json`` records its rate;
JSONs written before rates were recorded say ``one``, which matches any); a budget picked at
another rate there is left out of the pooled row, and a line on stderr says so.
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


def _rate(dirs: list[Path]) -> str:
    """The runs' common learning rate as compare writes it (``0.001``), or ``one`` if unrecorded."""
    rates = set()
    for run in dirs:
        config = run / "config.json" if run.is_dir() else run.with_name("config.json")
        try:
            rates.add(f"{float(json.loads(config.read_text())['lr']):g}")
        except (OSError, json.JSONDecodeError, KeyError, TypeError, ValueError):
            return "one"
    if len(rates) > 1:
        raise SystemExit(f"runs of one label must share a rate, got {sorted(rates)}: {dirs}")
    return rates.pop()


def budget_table(
    runs: dict[str, list[Path]],
    baseline: str,
    budgets: list[int],
    key: str = "MAP@100",
    require_baseline: bool = True,
) -> dict[str, dict[str, dict]]:
    """``{label: {budget: budget_test_metrics' entry}}`` for every label and budget its runs reach."""
    out = {}
    for label, dirs in runs.items():
        histories = [_history(d) for d in dirs]
        lr = _rate(dirs)
        reached = {
            str(e): {"lr": lr} for e in budgets if all(h[-1]["epoch"] >= e for h in histories)
        }
        out[label] = budget_test_metrics({lr: histories}, reached, key)
    if require_baseline and baseline not in out:
        raise SystemExit(f"--baseline {baseline!r} is not one of the --run labels {sorted(out)}")
    return out


def _earlier_label(path: Path, label: str) -> dict[str, dict]:
    """One label's ``{budget: entry}`` from an earlier --json or a compare ``results.json``,
    its shape checked field by field."""
    try:
        data = json.loads(path.read_text())
        if isinstance(data, dict) and "heads" in data:  # compare's results.json
            heads = data["heads"]
            if not isinstance(heads, dict) or label not in heads:
                raise SystemExit(f"{path}: has no head {label!r} under 'heads'")
            row, where = heads[label]["budget_test"], f"heads.{label}.budget_test"
        else:
            budgets = data["budgets"]
            if not isinstance(budgets, dict) or label not in budgets:
                raise SystemExit(f"{path}: has no label {label!r} under 'budgets'")
            row, where = budgets[label], f"budgets.{label}"
    except OSError as e:
        raise SystemExit(f"{path}: cannot read ({e})") from None
    except (json.JSONDecodeError, TypeError, KeyError) as e:
        raise SystemExit(
            f"{path}: not a run_budgets JSON or compare results.json ({type(e).__name__}: {e})"
        ) from None
    for e, entry in row.items() if isinstance(row, dict) else [("?", None)]:
        at = f"{path}: {where}.{e}"
        if not isinstance(entry, dict) or not isinstance(entry.get("per_seed"), list):
            raise SystemExit(f"{at}: expected an entry with 'lr' and a 'per_seed' list")
        if "lr" not in entry or not entry["per_seed"]:
            raise SystemExit(f"{at}: expected an entry with 'lr' and a 'per_seed' list")
        for i, seed in enumerate(entry["per_seed"]):
            if not isinstance(seed, dict) or not isinstance(seed.get("test"), dict):
                raise SystemExit(f"{at}.per_seed[{i}]: expected a pick with 'test' metrics")
            if not all(isinstance(v, (int, float)) for v in seed["test"].values()):
                raise SystemExit(f"{at}.per_seed[{i}].test: every metric must be a number")
    return row


def merge_table(
    table: dict[str, dict[str, dict]], merges: list[tuple[str, Path, str]]
) -> dict[str, dict[str, dict]]:
    """``table`` with each (label, earlier JSON, label there)'s per-seed picks pooled into label.

    A label only in the earlier JSON is taken whole; one in both keeps the budgets both reach
    at the same rate, with the earlier seeds first. A budget picked at another rate there is left
    out (a line on stderr names it); if no budget is left, that is an error.
    """
    out = dict(table)
    for label, path, label_there in merges:
        earlier = _earlier_label(path, label_there)
        if label not in out:
            out[label] = earlier
            continue
        merged, other_rate = {}, []
        for e, now in out[label].items():
            if e not in earlier:
                continue
            lr = _same_rate(str(earlier[e]["lr"]), str(now["lr"]))
            if lr is None:
                other_rate.append(f"{e} ({earlier[e]['lr']} there, {now['lr']} here)")
                continue
            merged[e] = seed_summary(lr, [*earlier[e]["per_seed"], *now["per_seed"]])
        if other_rate:
            print(
                f"{path}: {label!r} left out at budgets picked at other rates: "
                + ", ".join(other_rate),
                file=sys.stderr,
            )
        if not merged:
            raise SystemExit(
                f"{path}: {label!r} shares no budget at one rate with the new runs"
                + (f" (other rates at {', '.join(other_rate)})" if other_rate else "")
            )
        out[label] = merged
    return out


def _same_rate(a: str, b: str) -> str | None:
    """The rate two picks share (``one``, unrecorded, matches any), or None if they differ."""
    if a == "one" or b == "one":
        return b if a == "one" else a
    return a if float(a) == float(b) else None


def pick_table(
    table: dict[str, dict[str, dict]], picks: list[list[str]]
) -> dict[str, dict[str, dict]]:
    """``table`` with a row per ``[new label, label, label...]``: at each budget, the entry of
    the label (one head at one rate each) whose first seed validated best, as ``compare``
    re-tunes the rate per budget on seed 0's validation, among the labels that reach it.
    """
    out = dict(table)
    for new, *labels in picks:
        missing = [label for label in labels if label not in table]
        if missing:
            raise SystemExit(f"--pick {new!r}: no label {missing[0]!r} among {sorted(table)}")
        reached = set.union(*(set(table[label]) for label in labels))
        out[new] = {
            e: max(
                (table[label][e] for label in labels if e in table[label]),
                key=lambda r: r["per_seed"][0]["val"],
            )
            for e in sorted(reached, key=int)
        }
    return out


def markdown(
    table: dict[str, dict[str, dict]],
    baseline: str,
    budgets: list[int],
    metrics: tuple[str, ...] = ("P@1", "P@5"),
) -> str:
    """The table of MAP@100 per budget (ratio to the baseline), then ``metrics`` at the last."""
    last = str(budgets[-1])
    head = " | ".join(f"{e} ep" for e in budgets)
    at_last = " | ".join(f"{m} (%) at {last}" if m == "P@1" else f"{m} at {last}" for m in metrics)
    lines = [
        f"| head | seeds | {head} | {at_last} |",
        "|---" * (len(budgets) + 2 + len(metrics)) + "|",
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
        counts = sorted({r["n_seeds"] for r in row.values()})
        n = "–".join(map(str, counts[:: max(len(counts) - 1, 1)])) if counts else "0"
        for m in metrics:
            v = row[last]["test"].get(m) if last in row else None
            cells.append("—" if v is None else f"{v * 100:.2f}" if m == "P@1" else f"{v:.4f}")
        lines.append(f"| {label} | {n} | {' | '.join(cells)} |")
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
    ap.add_argument(
        "--pick",
        nargs="+",
        action="append",
        default=[],
        metavar="NEW_LABEL LABEL",
        help="a row re-tuned per budget: of the labels (one head's rates), the entry whose "
        "first seed validated best",
    )
    ap.add_argument("--baseline", required=True)
    ap.add_argument("--budgets", default="1,2,3,5,10")
    ap.add_argument(
        "--metrics",
        default="P@1,P@5",
        help="test metrics shown at the last budget, comma-separated (mAP, PSP@5, nDCG@5, ...)",
    )
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
    picked = {words[0] for words in args.pick}
    table = budget_table(
        runs, args.baseline, budgets, require_baseline=not merges and args.baseline not in picked
    )
    table = merge_table(table, merges)
    for words in args.pick:
        if len(words) < 3:
            ap.error(f"--pick takes NEW_LABEL and at least two labels, got {words}")
    table = pick_table(table, args.pick)
    if args.baseline not in table:
        raise SystemExit(f"--baseline {args.baseline!r} is not one of the labels {sorted(table)}")
    metrics = tuple(args.metrics.split(","))
    recorded = {m for row in table.values() for entry in row.values() for m in entry["test"]}
    unknown = [m for m in metrics if m not in recorded]
    if unknown:
        raise SystemExit(f"--metrics: no run records {unknown[0]!r} (recorded: {sorted(recorded)})")
    text = markdown(table, args.baseline, budgets, metrics)
    print(text)
    if args.json:
        write_json(
            args.json,
            {
                "baseline": args.baseline,
                "runs": {k: [str(p) for p in v] for k, v in runs.items()},
                "merged": [[label, str(path), there] for label, path, there in merges],
                "picked": args.pick,
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
