"""Post-hoc logit adjustment: rank by score - tau * log(prior), tau picked on validation.

Menon et al. (ICLR 2021, "Long-tail learning via logit adjustment") subtract a multiple of
each label's log prior from the logits at inference, trading frequent labels for rare ones.
This loads finished models, scores the validation and test splits once each, and for every
tau in the grid reports MAP@100, P@1 and PSP@5 on both; each model's tau is the one with the
best validation MAP@100 (so it is fair to every head, the sigmoid baseline included). The
prior is the model's saved training label count over its training sample count. A markdown
table on stdout, the JSON (and the table beside it as .md). It trains nothing.

    python benchmarks/prior_adjustment.py iconify-icons --data-dir ../shared/data \\
        --run sigmoid-prior runs/a/runs/sigmoid-prior/lr=0.001/seed=0/model \\
        --run embedding-scale-cap runs/b/runs/embedding-scale-cap/lr=0.001/seed=0/model \\
        --json docs/results/x/prior_adjustment.json
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

from labelsphere.artifacts import atomic_write_text, write_json
from labelsphere.data import parse_dataset_options
from labelsphere.decode import topk
from labelsphere.metrics import evaluate, propensities_from_counts
from labelsphere.predict import Predictor, load_split
from labelsphere.train.inputs import DEFAULT_FEATURE_CACHE

METRICS = ("MAP@100", "P@1", "PSP@5")


def sweep(
    model_dir: Path,
    dataset: str,
    data_dir: Path | None,
    taus: list[float],
    options: dict[str, Any],
    cache_dir: Path,
) -> dict[str, Any]:
    """Metrics of one model per split and tau, and the tau with the best validation MAP@100."""
    p = Predictor.load(model_dir)
    p.feature_cache = cache_dir
    if p.label_counts is None:
        raise SystemExit(f"{model_dir}: the model has no training label counts")
    counts, n = p.label_counts
    log_prior = np.log(np.maximum(counts, 1) / n).astype(np.float32)  # unseen labels as if once
    propensities = propensities_from_counts(counts, n)
    out: dict[str, Any] = {"model": str(model_dir), "taus": taus}
    for split in ("val", "test"):
        data = load_split(dataset, split, data_dir, vocabulary=p.vocabulary, **options)
        scores, _ = p.scores(data.X)
        rows = []
        for tau in taus:
            ranked, _ = topk(scores - np.float32(tau) * log_prior, 100)
            m = evaluate(data.Y, ranked=ranked, ks=(1, 5), propensities=propensities)
            rows.append({k: m[k] for k in METRICS})
        out[split] = rows
    out["picked_tau"] = taus[int(np.argmax([r["MAP@100"] for r in out["val"]]))]
    return out


def markdown(results: dict[str, dict[str, Any]]) -> str:
    """One line per run and tau: validation and test metrics; the picked tau in bold."""
    lines = [
        "| run | tau | val MAP@100 | test MAP@100 | test P@1 (%) | test PSP@5 |",
        "|---|---|---|---|---|---|",
    ]
    for label, r in results.items():
        for tau, va, te in zip(r["taus"], r["val"], r["test"], strict=True):
            mark = "**" if tau == r["picked_tau"] else ""
            lines.append(
                f"| {label} | {mark}{tau:g}{mark} | {va['MAP@100']:.4f} | {te['MAP@100']:.4f} | "
                f"{100 * te['P@1']:.2f} | {te['PSP@5']:.4f} |"
            )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dataset", help="a shared dataset name or an items file")
    ap.add_argument("--data-dir", type=Path, default=None)
    ap.add_argument(
        "--run", nargs=2, action="append", metavar=("LABEL", "MODEL_DIR"), required=True
    )
    ap.add_argument("--taus", default="0,0.05,0.1,0.2,0.3,0.5", help="comma-separated")
    ap.add_argument("--dataset-option", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--cache-dir", type=Path, default=DEFAULT_FEATURE_CACHE)
    ap.add_argument("--json", type=Path)
    a = ap.parse_args(argv)
    try:
        taus = [float(t) for t in a.taus.split(",")]
    except ValueError:
        raise SystemExit(f"--taus: expected comma-separated numbers, got {a.taus!r}") from None
    try:
        options = parse_dataset_options(a.dataset_option)
    except ValueError as e:
        raise SystemExit(str(e)) from None
    try:
        results = {
            label: sweep(Path(d), a.dataset, a.data_dir, taus, options, a.cache_dir)
            for label, d in a.run
        }
    except (OSError, ValueError) as e:
        raise SystemExit(f"prior_adjustment: {e}") from None
    table = markdown(results)
    sys.stdout.write(table)
    if a.json:
        write_json(a.json, {"dataset": a.dataset, "options": options, "runs": results})
        atomic_write_text(a.json.with_suffix(".md"), table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
