"""The label-embedding report behind ``labelsphere report``: what a PMI embedding keeps.

Fits a ``LabelEmbedding`` on a dataset's training labels and reports the label statistics, the
oracle test (``decode(encode(Y_test))`` against ``Y_test``: MAP@100, P@1/3/5) and the nearest
labels of the most frequent ones; with ``out`` it also writes the embedding, ``report.md``, a
PMI spectrum and a 2-D label map (PNG).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from labelsphere.artifacts import atomic_write_text
from labelsphere.counting.cooccurrence import CooccurrenceCounter
from labelsphere.data import dataset_splits, load_dataset
from labelsphere.embedding import LabelEmbedding
from labelsphere.metrics import evaluate

__all__ = ["EmbeddingReport", "embedding_report", "label_space_map", "nearest_labels"]


@dataclass
class EmbeddingReport:
    """The report's Markdown ``text``, the fitted ``embedding`` and the ``files`` written."""

    text: str
    embedding: LabelEmbedding
    oracle: dict[str, float] | None = None
    files: list[Path] = field(default_factory=list)


def embedding_report(
    dataset: str,
    data_dir: str | Path | None = None,
    n_components: int = 256,
    pmi: str = "zero",
    diagonal: str = "zero",
    factorization: str = "svd",
    similarity: str = "cosine",
    out: str | Path | None = None,
) -> EmbeddingReport:
    """Fit a PMI label embedding on ``dataset``'s training labels and report what it keeps.

    ``n_components`` is capped at L - 1. The other parameters are ``LabelEmbedding``'s.
    """
    splits = dataset_splits(dataset)
    fit_split = "train" if "train" in splits else "all"
    train_ds = load_dataset(dataset, fit_split, data_dir)
    L = train_ds.Y.shape[1]
    d = min(n_components, L - 1)
    counts = CooccurrenceCounter(vocabulary=train_ds.vocabulary).update(train_ds.Y)
    t0 = time.perf_counter()
    est = LabelEmbedding(
        n_components=d,
        pmi=pmi,
        diagonal=diagonal,
        factorization=factorization,
        similarity=similarity,
        random_state=0,
    ).fit_counts(counts)
    fit_s = time.perf_counter() - t0
    lines = [
        f"# Label embedding report: {dataset}",
        "",
        f"- fitted on `{train_ds.name}`: {len(train_ds)} samples, {L} labels, {train_ds.cardinality:.2f} labels/sample",
        f"- co-occurring label pairs: {counts.n_pairs_ - int((counts.label_counts_ > 0).sum())} "
        f"(of {L * (L - 1) // 2} possible)",
        f"- LabelEmbedding(n_components={d}, pmi={pmi!r}, diagonal={diagonal!r}, factorization={factorization!r}, "
        f"similarity={similarity!r}): solver {est.solver_}, {fit_s:.2f} s",
        f"- eigenvalues kept: {est.eigenvalues_[0]:.2f} ... {est.eigenvalues_[-1]:.2f}",
    ]
    oracle = None
    if "test" in splits:
        test_ds = load_dataset(dataset, "test", data_dir)
        idx, _ = est.decode(est.encode(test_ds.Y), k=100)
        oracle = evaluate(test_ds.Y, ranked=idx, ks=(1, 3, 5), map_k=100)
        lines += [
            "",
            f"## Oracle test on `{test_ds.name}` ({len(test_ds)} samples): decode(encode(Y)) vs Y",
            "",
            "| MAP@100 | P@1 | P@3 | P@5 |",
            "|---|---|---|---|",
            f"| {oracle['MAP@100']:.4f} | {oracle['P@1']:.4f} | {oracle['P@3']:.4f} | {oracle['P@5']:.4f} |",
        ]
    lines += ["", "## Nearest labels (cosine) of the most frequent labels", ""]
    for i in np.argsort(-est.label_counts_)[:8]:
        name = est.vocabulary_.names[i]
        near = ", ".join(f"{n} ({s:.2f})" for n, s in est.similar(name, k=5))
        lines.append(f"- **{name}** ({est.label_counts_[i]}): {near}")
    report = EmbeddingReport("\n".join(lines) + "\n", est, oracle)
    if out is not None:
        report.files = _write(report, dataset, Path(out))
    return report


def _write(report: EmbeddingReport, dataset: str, out: Path) -> list[Path]:
    from labelsphere.plots import plot_label_map, plot_spectrum

    est = report.embedding
    est.save(out / "embedding")
    plot_spectrum(
        est.eigenvalues_, out / "spectrum.png", f"{dataset}: PMI eigenvalues of the kept components"
    )
    plot_label_map(
        est.embeddings_,
        est.vocabulary_.names,
        est.label_counts_,
        out / "label_map.png",
        title=dataset,
    )
    atomic_write_text(
        out / "report.md",
        report.text + "\n![spectrum](spectrum.png)\n\n![label map](label_map.png)\n",
    )
    return [out / "report.md", out / "spectrum.png", out / "label_map.png", out / "embedding"]


def _label_space(source: str | Path) -> tuple[np.ndarray, list[str], np.ndarray | None, object]:
    """(vectors (L, k), names, training counts or None, the loaded object) of a model directory
    (``model.json``) or a saved ``LabelEmbedding`` directory (``embedding.json``)."""
    source = Path(source)
    if (source / "model.json").is_file():
        from labelsphere.predict import Predictor

        p = Predictor.load(source)
        V, _ = p.label_vectors()
        return V, p.vocabulary.names, p.label_counts_or_none(), p
    if (source / "embedding.json").is_file():
        est = LabelEmbedding.load(source)
        names = (
            est.vocabulary_.names
            if est.vocabulary_ is not None
            else [str(i) for i in range(est.n_labels_)]
        )
        return est.embeddings_, names, est.label_counts_, est
    raise FileNotFoundError(f"{source}: neither a model directory nor a saved label embedding")


def nearest_labels(source: str | Path, label: str, k: int = 10) -> list[tuple[str, float]]:
    """The ``k`` labels nearest to ``label`` (cosine) in a model's or an embedding's label space."""
    _, _, _, obj = _label_space(source)
    if isinstance(obj, LabelEmbedding):
        if obj.vocabulary_ is None or label not in obj.vocabulary_:
            raise KeyError(f"unknown label {label!r}")
        return [(str(n), float(s)) for n, s in obj.similar(label, k=k)]
    return obj.similar(label, k)  # type: ignore[attr-defined]


def label_space_map(source: str | Path, out: str | Path, n_labels: int = 150) -> Path:
    """Write a 2-D map (PNG) of a model's or an embedding's label space; returns its path.

    Labels are placed by scikit-learn's t-SNE on cosine distances; the most frequent (by the
    training counts saved with the model) are drawn and named.
    """
    from labelsphere.plots import plot_label_map

    V, names, counts, _ = _label_space(source)
    if counts is None:
        counts = np.ones(len(names))
    return plot_label_map(V, list(names), counts, out, n_labels=n_labels, title=Path(source).name)
