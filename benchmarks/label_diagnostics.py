"""Where heads gain or lose by how common the label is, and a post-hoc prior adjustment.

Loads finished models (``model/`` of a run directory), scores the dataset's validation and
test splits once each, and reports two things. It trains nothing; image models read the
feature cache.

* **Bands** (:func:`labelsphere.metrics.metrics_by_frequency_band`): the test ranking split by
  each label's training count (saved with the model): R@5 and R@100 of the band's true
  (sample, label) pairs, the share of the top-5 slots the head spends on the band, and the
  band's mean per-label AP. The first run is the reference the others are divided by.
* **Vocabulary cuts** (``--min-counts``): test MAP@100, P@1 and P@5 with the ranking and the
  truth restricted to the labels seen at least m times in training, for each m; samples left
  without labels drop out. A larger set admits rarer labels under the same minimum count, so
  cutting its vocabulary at the same *share* of the training set (m = 5 x n / n_small) asks
  whether a ratio that narrows with data narrows on the labels both sets would keep.
* **Prior adjustment** (Menon et al., ICLR 2021, "Long-tail learning via logit adjustment"):
  ranking by ``score - tau * log(prior)``, the prior being the label's training count over the
  training sample count, for every tau of a grid; validation and test MAP@100, P@1 and PSP@5
  per tau. Each model's tau is the one with the best validation MAP@100, so the sigmoid
  baseline gets the same knob.

Markdown tables on stdout, the JSON (the tables beside it as .md) and a PNG of the bands.

    python benchmarks/label_diagnostics.py iconify-icons --data-dir ../shared/data \\
        --run sigmoid-prior runs/a/runs/sigmoid-prior/lr=0.001/seed=0/model \\
        --run embedding-scale-cap runs/b/runs/embedding-scale-cap/lr=0.001/seed=0/model \\
        --json docs/results/x/diagnostics.json --png docs/results/x/bands.png
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
from labelsphere.metrics import evaluate, metrics_by_frequency_band, propensities_from_counts
from labelsphere.predict import Predictor, load_split
from labelsphere.train.inputs import DEFAULT_FEATURE_CACHE

BAND_COLUMNS = ("R@5", "R@100", "top-5 share", "mAP")
PRIOR_METRICS = ("MAP@100", "P@1", "PSP@5")
CUT_METRICS = ("MAP@100", "P@1", "P@5")


def vocabulary_cuts(
    Y: Any, scores: np.ndarray, counts: np.ndarray, min_counts: list[int]
) -> list[dict[str, Any]]:
    """Test metrics over the labels with a training count of at least m, for each m.

    Parameters
    ----------
    Y : sparse matrix of shape (n, L)
    scores : ndarray of shape (n, L)
    counts : ndarray of shape (L,)
        Training count of each label.
    min_counts : list of int

    Returns
    -------
    rows : list of dict
        ``min_count``, ``n_labels`` (kept), ``n_samples`` (test samples with a kept label) and
        the metrics of ``CUT_METRICS``.
    """
    rows = []
    Y = Y.tocsr()
    for m in min_counts:
        keep = np.flatnonzero(counts >= m)
        if keep.size == 0:
            raise ValueError(f"--min-counts: no label has {m} training samples")
        Yk = Y[:, keep]
        has = np.flatnonzero(np.diff(Yk.indptr) > 0)
        ranked, _ = topk(scores[np.ix_(has, keep)], min(100, keep.size))
        res = evaluate(Yk[has], ranked=ranked, ks=(1, 5))
        row = {"min_count": m, "n_labels": int(keep.size), "n_samples": int(has.size)}
        rows.append(row | {k: res[k] for k in CUT_METRICS})
    return rows


def diagnose(
    model_dir: Path,
    dataset: str,
    data_dir: Path | None,
    edges: list[int],
    taus: list[float],
    options: dict[str, Any],
    cache_dir: Path,
    splits: dict[tuple[str, tuple[str, ...]], Any] | None = None,
    min_counts: list[int] | None = None,
) -> dict[str, Any]:
    """One model's band rows on test, and its metrics per split and tau with the picked tau.

    ``splits`` keeps the loaded splits between calls, keyed by (split, the vocabulary's
    names), so models with the same labels read each split once.
    """
    splits = {} if splits is None else splits
    t0 = time.perf_counter()
    # tau = 1: the Predictor's own log priors (unseen labels as if seen once), scaled per tau here.
    p = Predictor.load(model_dir, prior_adjustment=1.0)
    p.feature_cache = cache_dir
    log_prior = p.log_priors()
    counts, n = p.label_counts
    propensities = propensities_from_counts(counts, n)
    out: dict[str, Any] = {"model": str(model_dir), "taus": taus, "n_train": int(n)}
    for split in ("val", "test"):
        key = (split, tuple(p.vocabulary.names))
        if key not in splits:
            splits[key] = load_split(dataset, split, data_dir, vocabulary=p.vocabulary, **options)
        data = splits[key]
        scores, ok = p.scores(data.X)
        if not ok.all():
            print(f"{model_dir}: {int((~ok).sum())} {split} inputs unreadable", file=sys.stderr)
        rows = []
        for tau in taus:
            ranked, _ = topk(scores - np.float32(tau) * log_prior, 100)
            m = evaluate(data.Y, ranked=ranked, ks=(1, 5), propensities=propensities)
            rows.append({k: m[k] for k in PRIOR_METRICS})
            if split == "test" and tau == 0:
                out["bands"] = metrics_by_frequency_band(
                    data.Y, ranked, counts, edges, ks=(5, 100), scores=scores
                )
                if min_counts:
                    out["cuts"] = vocabulary_cuts(data.Y, scores, counts, min_counts)
        out[split] = rows
    out["picked_tau"] = taus[int(np.argmax([r["MAP@100"] for r in out["val"]]))]
    print(f"{model_dir}: {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return out


def bands_markdown(results: dict[str, dict[str, Any]]) -> str:
    """One line per band: its size, then each run's metrics (divided by the first run's)."""
    labels = list(results)
    ref = results[labels[0]]["bands"]
    head = ["train count", "labels (in test)", "share of test pairs"]
    for i, label in enumerate(labels):
        head += [f"{label} {c}" + ("" if i == 0 else " (×)") for c in BAND_COLUMNS]
    lines = ["| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
    for b, r0 in enumerate(ref):
        cells = [r0["band"], f"{r0['n_labels']} ({r0['n_test_labels']})"]
        cells.append(f"{r0['positives_share']:.3f}")
        for i, label in enumerate(labels):
            r = results[label]["bands"][b]
            for c in BAND_COLUMNS:
                ratio = "" if i == 0 or not r0[c] else f" ({r[c] / r0[c]:.2f}×)"
                cells.append("—" if math.isnan(r[c]) else f"{r[c]:.4f}{ratio}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def cuts_markdown(results: dict[str, dict[str, Any]]) -> str:
    """One line per vocabulary cut: labels and samples kept, each run's metrics (× the first)."""
    labels = list(results)
    ref = results[labels[0]].get("cuts")
    if not ref:
        return ""
    head = ["min train count", "labels", "test samples"]
    for i, label in enumerate(labels):
        head += [f"{label} {c}" + ("" if i == 0 else " (×)") for c in CUT_METRICS]
    lines = ["| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
    for b, r0 in enumerate(ref):
        cells = [str(r0["min_count"]), str(r0["n_labels"]), str(r0["n_samples"])]
        for i, label in enumerate(labels):
            r = results[label]["cuts"][b]
            for c in CUT_METRICS:
                cells.append(f"{r[c]:.4f}" + ("" if i == 0 else f" ({r[c] / r0[c]:.3f}×)"))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n" + "\n".join(lines) + "\n"


def prior_markdown(results: dict[str, dict[str, Any]]) -> str:
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


def plot(results: dict[str, dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(BAND_COLUMNS), figsize=(4.2 * len(BAND_COLUMNS), 4))
    for label, r in results.items():
        x = np.arange(len(r["bands"]))
        for ax, c in zip(axes, BAND_COLUMNS, strict=True):
            ax.plot(x, [row[c] for row in r["bands"]], marker="o", ms=3, label=label)
    ref = next(iter(results.values()))["bands"]
    share = [row["positives_share"] for row in ref]
    axes[2].plot(np.arange(len(share)), share, "k--", lw=1, label="share of test pairs")
    for ax, c in zip(axes, BAND_COLUMNS, strict=True):
        ax.set_xticks(np.arange(len(ref)), [row["band"] for row in ref], rotation=45, fontsize=8)
        ax.set_xlabel("training count of the label")
        ax.set_title(f"test {c}")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    axes[2].legend(fontsize=8)
    atomic_write(path, lambda p: fig.savefig(p, format="png", dpi=110, bbox_inches="tight"))
    plt.close(fig)


def _numbers(text: str, kind: type, flag: str) -> list:
    try:
        values = [kind(t) for t in text.split(",")]
    except ValueError:
        values = []
    if not values or not all(np.isfinite(v) for v in values):
        raise SystemExit(f"{flag}: expected comma-separated finite numbers, got {text!r}")
    return values


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dataset", help="a shared dataset name or an items file")
    ap.add_argument("--data-dir", type=Path, default=None)
    ap.add_argument(
        "--run", nargs=2, action="append", metavar=("LABEL", "MODEL_DIR"), required=True
    )
    ap.add_argument("--edges", default="5,10,20,50,100,300,1000", help="band lower bounds")
    ap.add_argument("--taus", default="0,0.05,0.1,0.2,0.3,0.5", help="comma-separated")
    ap.add_argument(
        "--min-counts", default="", help="vocabulary cuts: comma-separated minimum train counts"
    )
    ap.add_argument("--dataset-option", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--cache-dir", type=Path, default=DEFAULT_FEATURE_CACHE)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--png", type=Path)
    a = ap.parse_args(argv)
    edges = _numbers(a.edges, int, "--edges")
    taus = _numbers(a.taus, float, "--taus")
    min_counts = _numbers(a.min_counts, int, "--min-counts") if a.min_counts else []
    if any(m < 0 for m in min_counts):
        raise SystemExit(f"--min-counts: expected counts >= 0, got {a.min_counts!r}")
    if 0.0 not in taus:
        taus = [0.0, *taus]  # the model as trained: the bands and the reference row
    try:
        options = parse_dataset_options(a.dataset_option)
        splits: dict[tuple[str, tuple[str, ...]], Any] = {}
        results = {
            label: diagnose(
                Path(d),
                a.dataset,
                a.data_dir,
                edges,
                taus,
                options,
                a.cache_dir,
                splits,
                min_counts,
            )
            for label, d in a.run
        }
    except (OSError, ValueError) as e:
        raise SystemExit(f"label_diagnostics: {e}") from None
    tables = bands_markdown(results) + cuts_markdown(results) + "\n" + prior_markdown(results)
    sys.stdout.write(tables)
    if a.json:
        write_json(a.json, {"dataset": a.dataset, "options": options, "runs": results})
        atomic_write_text(a.json.with_suffix(".md"), tables)
    if a.png:
        plot(results, a.png)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
