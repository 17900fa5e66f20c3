"""Label propensities (Jain, Prabhu & Varma, KDD 2016) and propensity-scored precision PSP@k."""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp

from labelsphere.metrics._inputs import _check_label_vector, _check_y, _prepare, _row_topk_sum


def _psp(Y: sp.csr_matrix, R: np.ndarray, H: np.ndarray, inv_p: np.ndarray, k: int) -> float:
    w = min(k, H.shape[1])
    num = float((H[:, :w] * inv_p[R[:, :w]]).sum())
    den = float(_row_topk_sum(Y, inv_p, k).sum())
    return num / den if den > 0 else math.nan


def propensity_scores(
    Y_train: sp.spmatrix | np.ndarray, A: float = 0.55, B: float = 1.5
) -> np.ndarray:
    """Label propensities of Jain, Prabhu & Varma (KDD 2016).

    p_l = 1 / (1 + C · exp(-A · log(N_l + B))) = 1 / (1 + C · (N_l + B)^(-A)), with
    C = (log N − 1) · (B + 1)^A, N the number of training samples and N_l the number of training
    samples carrying label l. The paper's defaults are A = 0.55, B = 1.5 (A = 0.6, B = 2.6 for
    Amazon, A = 0.5, B = 0.4 for Wikipedia). Rare labels get small propensities; a label never
    seen in training gets 1 / (1 + C · B^(-A)).

    Parameters
    ----------
    Y_train : sparse matrix or ndarray of shape (N, L)
    A, B : float
        A > 0, B > 0.

    Returns
    -------
    ndarray of shape (L,), float64, in (0, 1)

    Examples
    --------
    >>> Y_train = np.array([[1, 0], [1, 0], [1, 1], [1, 0], [1, 0]])
    >>> propensity_scores(Y_train).round(4).tolist()  # N_l = 1 gives exactly 1 / log N
    [0.7351, 0.6213]
    """
    Y = _check_y(Y_train)
    N, L = Y.shape
    return propensities_from_counts(np.bincount(Y.indices, minlength=L), N, A, B)


def propensities_from_counts(
    label_counts: np.ndarray, n_samples: int, A: float = 0.55, B: float = 1.5
) -> np.ndarray:
    """:func:`propensity_scores` from the training label counts (L,) and sample count N.

    What a saved model keeps (``label_counts.safetensors``), so PSP@k can be computed without
    the training data.

    Examples
    --------
    >>> propensities_from_counts(np.array([5, 1]), 5).round(4).tolist()
    [0.7351, 0.6213]
    """
    if not (math.isfinite(A) and A > 0 and math.isfinite(B) and B > 0):
        raise ValueError(f"A and B must be finite and > 0, got A={A!r}, B={B!r}")
    N = int(n_samples)
    if N < 3:
        # C must be positive (log N > 1), otherwise p_l >= 1 and the formula is meaningless.
        raise ValueError(f"propensity_scores needs at least 3 training samples, got {N}")
    counts = np.asarray(label_counts).astype(np.float64)
    C = (math.log(N) - 1.0) * (B + 1.0) ** A
    return 1.0 / (1.0 + C * np.exp(-A * np.log(counts + B)))


def psp_at_k(
    Y_true: sp.spmatrix | np.ndarray, ranked: np.ndarray, k: int, propensities: np.ndarray
) -> float:
    """Propensity-scored precision at k, normalised as in pyxclib.

    PSP@k = Σ_samples Σ_{i≤k} rel_i / p[label_i]  /  Σ_samples (sum of the min(k, |true|)
    largest 1/p over the sample's true labels).

    The denominator is the best value any ranking could reach, so PSP@k lies in [0, 1] and a
    perfect ranking scores 1. It is a ratio of sums over samples (not a mean of per-sample
    ratios); samples with no true label add 0 to both sums. (The unnormalised PSP@k of the
    paper, Σ rel/p / (k · n), equals this value times the same expression for the best
    ranking.) NaN if no sample has a true label.

    Parameters
    ----------
    Y_true : sparse matrix or ndarray of shape (n, L)
    ranked : ndarray of shape (n, k'), int, best first, ``k' >= min(k, L)``
    k : int
    propensities : ndarray of shape (L,), > 0
        From :func:`propensity_scores` on the training labels.

    Examples
    --------
    >>> Y = np.array([[1, 0, 1], [0, 1, 0]])
    >>> ranked = np.array([[0, 2], [2, 1]])
    >>> p = np.array([0.5, 0.25, 1.0])  # 1/p = 2, 4, 1
    >>> round(psp_at_k(Y, ranked, 1, p), 4)  # (2 + 0) / (2 + 4)
    0.3333
    """
    Y, R, H, _, k = _prepare(Y_true, ranked, k, "PSP")
    p = _check_label_vector(propensities, Y.shape[1], "propensities", positive=True)
    return _psp(Y, R, H, 1.0 / p, k)
