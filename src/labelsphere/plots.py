"""PNG plots of results: validation curves of a comparison, label-embedding spectra and maps.

matplotlib runs on the Agg backend (no display needed); every figure is written atomically.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from labelsphere.artifacts import atomic_write

__all__ = ["plot_curves", "plot_label_map", "plot_spectrum"]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: Path) -> None:
    atomic_write(path, lambda p: fig.savefig(p, format="png", dpi=110, bbox_inches="tight"))


def plot_curves(
    summary: dict[str, Any], out_dir: str | Path, metrics: tuple[str, ...] = ("MAP@100", "P@1")
) -> list[Path]:
    """Validation ``metrics`` per head over steps and over seconds: mean over seeds, band min..max.

    Writes ``curves_steps.png`` and ``curves_time.png`` into ``out_dir``; returns their paths.
    """
    plt = _pyplot()
    out_dir = Path(out_dir)
    paths = []
    for axis, fname, xlabel in (
        ("step", "curves_steps.png", "training steps"),
        ("seconds", "curves_time.png", "wall-clock seconds (training + validation)"),
    ):
        fig, axes = plt.subplots(1, len(metrics), figsize=(6 * len(metrics), 4.2), squeeze=False)
        for ax, metric in zip(axes[0], metrics, strict=True):
            for spec, res in summary["heads"].items():
                curves = [
                    ([h[axis] for h in r["history"]], [h[metric] for h in r["history"]])
                    for r in res["runs"]
                ]
                if not curves or not curves[0][0]:
                    continue
                # Seeds evaluate at the same steps but different times: interpolate onto one grid.
                end = min(max(x) for x, _ in curves)
                grid = (
                    np.linspace(min(min(x) for x, _ in curves), end, 60)
                    if axis == "seconds"
                    else np.asarray(curves[0][0], float)
                )
                ys = np.array([np.interp(grid, x, y) for x, y in curves])
                (line,) = ax.plot(grid, ys.mean(0), label=f"{spec} (lr {res['lr']:g})", lw=1.8)
                if len(ys) > 1:
                    ax.fill_between(
                        grid, ys.min(0), ys.max(0), color=line.get_color(), alpha=0.2, lw=0
                    )
            ax.set_xlabel(xlabel)
            ax.set_ylabel(f"validation {metric}")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8)
        fig.suptitle(
            f"{summary['dataset']}: validation {', '.join(metrics)} (mean over {summary['n_seeds']} seeds, band = min..max)"
        )
        path = out_dir / fname
        _save(fig, path)
        plt.close(fig)
        paths.append(path)
    return paths


def plot_spectrum(eigenvalues: np.ndarray, path: str | Path, title: str = "PMI spectrum") -> Path:
    """Sorted eigenvalues of a PMI matrix (the kept components), as a PNG."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    w = np.asarray(eigenvalues)
    ax.plot(np.arange(1, len(w) + 1), w, marker=".", lw=1)
    ax.axhline(0, color="k", lw=0.6)
    ax.set_xlabel("component")
    ax.set_ylabel("eigenvalue")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    path = Path(path)
    _save(fig, path)
    plt.close(fig)
    return path


def plot_label_map(
    embeddings: np.ndarray,
    names: list[str],
    counts: np.ndarray,
    path: str | Path,
    n_labels: int = 150,
    title: str = "label map",
    random_state: int = 0,
) -> Path:
    """A 2-D map of the ``n_labels`` most frequent labels' embeddings, names written on it.

    The map is scikit-learn's t-SNE with the cosine metric (the similarity the labels are
    decoded with), so labels that co-occur land near each other; marker area follows frequency.

    Args:
        embeddings: (L, d) label embeddings.
        names: the L label names.
        counts: (L,) label frequencies in the training data.
    """
    from sklearn.manifold import TSNE

    E = np.asarray(embeddings, dtype=np.float64)
    counts = np.asarray(counts)
    if E.ndim != 2 or len(names) != E.shape[0] or counts.shape != (E.shape[0],):
        raise ValueError(
            f"need (L, d) embeddings with L names and L counts, got {E.shape}, "
            f"{len(names)} names, counts {counts.shape}"
        )
    top = np.argsort(-counts, kind="stable")[: min(n_labels, E.shape[0])]
    # Labels with an all-zero embedding (never seen) have no direction; cosine needs one.
    top = top[np.linalg.norm(E[top], axis=1) > 0]
    if len(top) < 3:
        raise ValueError(
            f"a label map needs at least 3 labels with a nonzero embedding, got {len(top)}"
        )
    xy = TSNE(
        n_components=2,
        metric="cosine",
        init="random",
        perplexity=min(30.0, (len(top) - 1) / 3),
        random_state=random_state,
    ).fit_transform(E[top])
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(11, 9))
    size = 10 + 190 * counts[top] / counts[top].max()
    ax.scatter(xy[:, 0], xy[:, 1], s=size, alpha=0.35)
    for (x, y), i in zip(xy, top, strict=True):
        ax.annotate(str(names[i]), (x, y), fontsize=7, ha="center", va="bottom")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(f"{title}: t-SNE (cosine) of the {len(top)} most frequent labels")
    path = Path(path)
    _save(fig, path)
    plt.close(fig)
    return path
