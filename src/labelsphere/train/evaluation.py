"""Scoring a model and its metrics: what validation (in the loop) and test evaluation share."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch

from labelsphere.metrics import evaluate
from labelsphere.train.batches import input_tensor
from labelsphere.train.model import Classifier, image_backbone

__all__ = [
    "FULL_SCORES_LIMIT",
    "blocked_metrics",
    "evaluate_model",
    "predict_scores",
    "score_metrics",
]

# Above this many (sample, label) scores an evaluation keeps only each sample's top 100 labels,
# computed block by block: 10k validation samples x 1M labels would be 40 GB of float32 scores.
FULL_SCORES_LIMIT = 2**27
RANKED_K = 100


@torch.no_grad()
def predict_scores(
    model: Classifier,
    X: np.ndarray | sp.csr_matrix | list[str],
    device: torch.device,
    batch_size: int = 1024,
    num_workers: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Scores (n, L) float32 of the model on features X, or on image files for an image model.

    Returns ``(scores, ok)``: ``ok`` (n,) is False for images that could not be loaded (their
    scores rows are 0); always True for features.
    """
    was_training = model.training
    model.eval()
    n_labels = model.head.n_labels
    try:
        if isinstance(X, list):
            from labelsphere.images import ImageDataset, image_transform

            image = image_backbone(model)
            if image is None:
                raise ValueError("this model takes feature vectors, not image files")
            ds = ImageDataset(X, None, image_transform(image.data_config, training=False))
            scores = np.zeros((len(X), n_labels), np.float32)
            ok = np.zeros(len(X), bool)
            for batch in ds.batches(min(batch_size, 64), num_workers=num_workers):
                s = model.scores(model(batch.images.to(device))).float().cpu().numpy()
                scores[batch.indices.numpy()] = s
                ok[batch.indices.numpy()] = True
            return scores, ok
        out = []
        for i in range(0, X.shape[0], batch_size):
            xb = input_tensor(X[i : i + batch_size]).to(device)
            out.append(model.scores(model(xb)).float().cpu().numpy())
        scores = np.concatenate(out) if out else np.zeros((0, n_labels), np.float32)
        return scores, np.ones(len(scores), bool)
    finally:
        model.train(was_training)


def score_metrics(
    Y: sp.csr_matrix,
    scores: np.ndarray,
    ok: np.ndarray | None = None,
    propensities: np.ndarray | None = None,
) -> dict[str, float]:
    """MAP@100, mAP, P@1/3/5, R@k, nDCG@k and (with ``propensities``) PSP@k of scores (n, L).

    Rows with ``ok`` False (images that could not be loaded) are left out and counted in
    ``"n_skipped"``. Every evaluation in labelsphere (validation in the loop, test in
    ``train``, ``compare`` and ``evaluate``) computes its metrics here.
    """
    Y = sp.csr_matrix(Y)
    ok = np.ones(scores.shape[0], bool) if ok is None else ok
    if not ok.all():
        scores, Y = scores[ok], Y[ok]
    m = evaluate(Y, scores=scores, ks=(1, 3, 5), map_k=100, propensities=propensities)
    out = {k: float(v) for k, v in m.items()}
    if not ok.all():
        out["n_skipped"] = int((~ok).sum())
    return out


def blocked_metrics(
    score_fn: Callable[[Any], tuple[np.ndarray, np.ndarray]],
    X: np.ndarray | sp.csr_matrix | list[str],
    Y: sp.csr_matrix,
    propensities: np.ndarray | None = None,
    limit: int = FULL_SCORES_LIMIT,
) -> dict[str, float]:
    """:func:`score_metrics` of ``score_fn`` (inputs -> (scores, ok)) on (X, Y), in bounded memory.

    Up to ``limit`` scores it is exactly ``score_metrics`` on the full (n, L) matrix. Above, rows
    are scored in blocks of ``limit // L`` and only each row's top-100 labels are kept, so every
    metric at k <= 100 (MAP@100, P@k, R@k, nDCG@k, PSP@k) is exact and mAP, which needs every
    score of every label, is left out (``"mAP"`` absent).
    """
    Y = sp.csr_matrix(Y)
    n, L = Y.shape
    if n * L <= limit:
        scores, ok = score_fn(X)
        return score_metrics(Y, scores, ok, propensities)
    from labelsphere.decode import topk

    rows = max(1, limit // L)
    ranked = np.zeros((n, min(RANKED_K, L)), dtype=np.int64)
    ok = np.ones(n, bool)
    for a in range(0, n, rows):
        scores, ok[a : a + rows] = score_fn(X[a : a + rows])
        ranked[a : a + rows], _ = topk(scores, ranked.shape[1])
    if not ok.all():
        ranked, Y = ranked[ok], Y[ok]
    m = evaluate(Y, ranked=ranked, ks=(1, 3, 5), map_k=100, propensities=propensities)
    out = {k: float(v) for k, v in m.items()}
    if not ok.all():
        out["n_skipped"] = int((~ok).sum())
    return out


def evaluate_model(
    model: Classifier,
    X: np.ndarray | sp.csr_matrix | list[str],
    Y: sp.csr_matrix,
    device: torch.device,
    propensities: np.ndarray | None = None,
) -> dict[str, float]:
    """:func:`score_metrics` of the model on (X, Y); images that cannot be loaded are left out.

    At a large ``n x L`` the metrics come from blocked top-100 rankings (:func:`blocked_metrics`).
    """
    return blocked_metrics(lambda x: predict_scores(model, x, device), X, Y, propensities)
