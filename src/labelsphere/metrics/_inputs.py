"""What every metric reads from its inputs: the checks of ``Y_true``, ``ranked``, ``scores``
and ``k``, and the (n, k) hit matrix the ranking metrics are computed from."""

from __future__ import annotations

import math
import operator

import numpy as np
import scipy.sparse as sp

from labelsphere.labels import check_multihot


def _check_y(Y_true: sp.spmatrix | np.ndarray) -> sp.csr_matrix:
    if not sp.issparse(Y_true) and not isinstance(Y_true, np.ndarray):
        Y_true = np.asarray(Y_true)
    return check_multihot(Y_true, name="Y_true")


def _check_k(k: int, name: str = "k") -> int:
    try:
        k = operator.index(k)
    except TypeError:
        raise ValueError(f"{name} must be an integer, got {k!r}") from None
    if k < 1:
        raise ValueError(f"{name} must be >= 1, got {k}")
    return k


def _check_ranked(ranked: np.ndarray, n: int, L: int, width: int, what: str) -> np.ndarray:
    """Validate ``ranked`` against Y_true of shape (n, L) and return its first ``width`` columns.

    ``width`` is min(k, L) for the largest k requested; ``what`` names the metric for messages.
    """
    R = np.asarray(ranked)
    if R.ndim != 2:
        raise ValueError(f"ranked must be 2-D (n_samples, k), got shape {R.shape}")
    if not np.issubdtype(R.dtype, np.integer):
        raise ValueError(f"ranked must hold integer label indices, got dtype {R.dtype}")
    if R.shape[0] != n:
        raise ValueError(f"ranked has {R.shape[0]} rows but Y_true has {n} samples")
    if R.shape[1] < width:
        raise ValueError(
            f"ranked has {R.shape[1]} columns but {what} needs the top {width} labels "
            f"(ranked must be at least min(k, n_labels) = {width} wide)"
        )
    R = R[:, :width].astype(np.int64, copy=False)
    if R.size:
        bad = (R < 0) | (R >= L)
        if bad.any():
            r, c = np.argwhere(bad)[0]
            raise ValueError(f"ranked[{r}, {c}] = {R[r, c]} is not a label index in [0, {L})")
        # Repeated labels would be counted as several hits.
        srt = np.sort(R, axis=1)
        dup = srt[:, 1:] == srt[:, :-1]
        if dup.any():
            r, c = np.argwhere(dup)[0]
            raise ValueError(f"ranked row {r} lists label {srt[r, c]} more than once")
    return R


def _check_scores(scores: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    if sp.issparse(scores):
        raise ValueError("scores must be a dense array of shape (n, L), got a sparse matrix")
    S = np.asarray(scores)
    if S.shape != shape:
        raise ValueError(f"scores has shape {S.shape} but Y_true has shape {shape}")
    if not np.issubdtype(S.dtype, np.floating):
        S = S.astype(np.float64)
    if np.isnan(S).any():
        r, c = np.argwhere(np.isnan(S))[0]
        raise ValueError(f"scores[{r}, {c}] is NaN")
    return S


def _check_label_vector(v: np.ndarray, L: int, name: str, positive: bool) -> np.ndarray:
    v = np.asarray(v, dtype=np.float64)
    if v.shape != (L,):
        raise ValueError(f"{name} must have shape ({L},) (one per label), got {v.shape}")
    ok = np.isfinite(v) & ((v > 0) if positive else (v >= 0))
    if not ok.all():
        j = int(np.flatnonzero(~ok)[0])
        need = "finite and > 0" if positive else "finite and >= 0"
        raise ValueError(f"{name} must be {need}; label {j} has {v[j]!r}")
    return v


def _hits(Y: sp.csr_matrix, R: np.ndarray) -> np.ndarray:
    """Boolean (n, w): ``hits[i, j]`` is True when label ``R[i, j]`` is a true label of row i.

    Each true entry is encoded as the key ``row * L + col``; canonical CSR (rows in order, sorted
    column indices) makes these keys sorted, so membership is one ``searchsorted``. int64 keys
    are exact for n * L < 2**63.
    """
    n, L = Y.shape
    if R.size == 0 or Y.nnz == 0:
        return np.zeros(R.shape, dtype=bool)
    rows = np.repeat(np.arange(n, dtype=np.int64), np.diff(Y.indptr))
    keys = rows * L + Y.indices.astype(np.int64)
    query = np.arange(n, dtype=np.int64)[:, None] * L + R
    pos = np.searchsorted(keys, query)
    np.minimum(pos, keys.size - 1, out=pos)
    return keys[pos] == query


def _n_true(Y: sp.csr_matrix) -> np.ndarray:
    return np.diff(Y.indptr).astype(np.int64)


def _mean(x: np.ndarray) -> float:
    """Mean as a Python float; NaN (without a warning) for an empty array."""
    return float(x.mean()) if x.size else math.nan


def _row_topk_sum(Y: sp.csr_matrix, values: np.ndarray, k: int) -> np.ndarray:
    """Per row of Y, the sum of the k largest ``values[label]`` over the row's true labels."""
    n = Y.shape[0]
    counts = np.diff(Y.indptr)
    rows = np.repeat(np.arange(n), counts)
    v = values[Y.indices]
    # Sort by row, then by decreasing value within the row; rows stay in CSR order, so the
    # position of an entry within its row is its global position minus the row start.
    order = np.lexsort((-v, rows))
    v = v[order]
    pos = np.arange(v.size) - Y.indptr[rows]
    keep = pos < k
    return np.bincount(rows[keep], weights=v[keep], minlength=n)


def _prepare(
    Y_true: sp.spmatrix | np.ndarray, ranked: np.ndarray, k: int, what: str
) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray, np.ndarray, int]:
    Y = _check_y(Y_true)
    k = _check_k(k)
    n, L = Y.shape
    R = _check_ranked(ranked, n, L, min(k, L), f"{what}@{k}")
    return Y, R, _hits(Y, R), _n_true(Y), k
