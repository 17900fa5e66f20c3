"""Ranking metrics at a cut-off k: P@k, R@k, nDCG@k and MAP@k (see the package docstring)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from labelsphere.metrics._inputs import (
    _check_label_vector,
    _mean,
    _prepare,
    _row_topk_sum,
)


def _discounts(k: int) -> np.ndarray:
    # 1 / log2(i + 1) for ranks i = 1..k.
    return 1.0 / np.log2(np.arange(2, k + 2, dtype=np.float64))


def _precision(H: np.ndarray, k: int) -> float:
    return _mean(H[:, :k].sum(axis=1) / k)


def _recall(H: np.ndarray, n_true: np.ndarray, k: int) -> float:
    has = n_true > 0
    return _mean(H[has, :k].sum(axis=1) / n_true[has])


def _ndcg(H: np.ndarray, n_true: np.ndarray, k: int) -> float:
    w = min(k, H.shape[1])
    disc = _discounts(w)
    has = n_true > 0
    dcg = H[has, :w] @ disc
    # Ideal DCG: all min(k, |true|) relevant labels at the top; ideal[m - 1] = sum of the first m
    # discounts. |true| <= L, and w = min(k, L), so the index stays in range.
    ideal = np.cumsum(disc)[np.minimum(n_true[has], w) - 1]
    return _mean(dcg / ideal)


def _map(
    Y: sp.csr_matrix,
    R: np.ndarray,
    H: np.ndarray,
    n_true: np.ndarray,
    k: int,
    label_weights: np.ndarray | None,
) -> float:
    w = min(k, H.shape[1])
    Hk = H[:, :w].astype(np.float64)
    prec_at_i = np.cumsum(Hk, axis=1) / np.arange(1, w + 1)  # P@i for i = 1..w
    gain = Hk * prec_at_i
    if label_weights is None:
        norm = np.minimum(k, n_true).astype(np.float64)
    else:
        gain *= label_weights[R[:, :w]]
        norm = _row_topk_sum(Y, label_weights, k)
    valid = norm > 0
    return _mean(gain[valid].sum(axis=1) / norm[valid])


def precision_at_k(Y_true: sp.spmatrix | np.ndarray, ranked: np.ndarray, k: int) -> float:
    """Precision at k: mean over samples of |top-k ∩ true| / k.

    Parameters
    ----------
    Y_true : sparse matrix or ndarray of shape (n, L)
        Multi-hot ground truth.
    ranked : ndarray of shape (n, k'), int
        Label indices, best first; ``k' >= min(k, L)``.
    k : int

    Returns
    -------
    float
        Averaged over **all** samples; a sample with no true label scores 0 (Extreme
        Classification Repository / pyxclib convention). The denominator is k even when k > L.

    Examples
    --------
    >>> Y = np.array([[1, 0, 1], [0, 1, 0]])
    >>> ranked = np.array([[0, 2], [2, 1]])
    >>> precision_at_k(Y, ranked, 1), precision_at_k(Y, ranked, 2)
    (0.5, 0.75)
    """
    _, _, H, _, k = _prepare(Y_true, ranked, k, "P")
    return _precision(H, k)


def recall_at_k(Y_true: sp.spmatrix | np.ndarray, ranked: np.ndarray, k: int) -> float:
    """Recall at k: mean of |top-k ∩ true| / |true| over samples with at least one true label.

    Shapes as in :func:`precision_at_k`. NaN when no sample has a true label.

    Examples
    --------
    >>> Y = np.array([[1, 0, 1], [0, 1, 0], [0, 0, 0]])
    >>> ranked = np.array([[0, 2], [2, 1], [0, 1]])
    >>> recall_at_k(Y, ranked, 1), recall_at_k(Y, ranked, 2)
    (0.25, 1.0)
    """
    _, _, H, n_true, k = _prepare(Y_true, ranked, k, "R")
    return _recall(H, n_true, k)


def ndcg_at_k(Y_true: sp.spmatrix | np.ndarray, ranked: np.ndarray, k: int) -> float:
    """Normalised discounted cumulative gain at k with binary relevance.

    DCG@k = Σ_{i≤k} rel_i / log2(i + 1) (ranks i from 1); the ideal DCG places all
    min(k, |true|) relevant labels first. Averaged over samples with at least one true label
    (NaN if none). Equals ``sklearn.metrics.ndcg_score(Y, S, k=k)`` on those samples when the
    scores have no ties. Shapes as in :func:`precision_at_k`.

    Examples
    --------
    >>> Y = np.array([[1, 0, 1], [0, 1, 0]])
    >>> ranked = np.array([[0, 2], [2, 1]])
    >>> round(ndcg_at_k(Y, ranked, 2), 4)  # (1 + 1/log2(3)) / 2
    0.8155
    """
    _, _, H, n_true, k = _prepare(Y_true, ranked, k, "nDCG")
    return _ndcg(H, n_true, k)


def map_at_k(
    Y_true: sp.spmatrix | np.ndarray,
    ranked: np.ndarray,
    k: int = 100,
    label_weights: np.ndarray | None = None,
) -> float:
    """Mean average precision at k (the MAP@100 of Chollet, 2016, for k = 100).

    Per sample, AP@k = (1 / min(k, |true|)) · Σ_{i≤k} P@i · rel_i, where rel_i says whether the
    label at rank i is true and P@i is the precision of the first i ranked labels. The mean is
    taken over samples with at least one true label. With k ≥ L this equals scikit-learn's
    ``average_precision_score(Y, S, average="samples")`` on those samples (scores without ties).

    With ``label_weights`` w of shape (L,), w ≥ 0, each hit is weighted by its label's weight:

        AP@k_w = Σ_{i≤k} rel_i · w[label_i] · P@i / Σ(largest min(k, |true|) weights among the
        sample's true labels),

    so a ranking that puts all true labels first (heaviest first, when there are more than k)
    scores 1, and all-ones weights give the unweighted AP. Samples whose normaliser is 0 (no true
    label, or only zero-weight true labels) are left out of the mean.

    Parameters
    ----------
    Y_true : sparse matrix or ndarray of shape (n, L)
    ranked : ndarray of shape (n, k'), int, best first, ``k' >= min(k, L)``
    k : int, default 100
    label_weights : ndarray of shape (L,), optional

    Returns
    -------
    float (NaN when no sample qualifies)

    Examples
    --------
    >>> Y = np.array([[1, 0, 1], [0, 1, 0]])
    >>> ranked = np.array([[0, 2], [2, 1]])
    >>> map_at_k(Y, ranked, 2)  # ((1 + 1) / 2 + (1/2) / 1) / 2
    0.75
    """
    Y, R, H, n_true, k = _prepare(Y_true, ranked, k, "MAP")
    w = (
        None
        if label_weights is None
        else _check_label_vector(label_weights, Y.shape[1], "label_weights", positive=False)
    )
    return _map(Y, R, H, n_true, k, w)
