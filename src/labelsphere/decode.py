"""Decoding: exact top-k labels for each row of scores or of predicted vectors.

Two entry points:

* ``topk(scores, k)``: top-k columns of an existing score matrix (n, L).
* ``topk_similar(queries, keys, k)``: top-k rows of ``keys`` (L, d) by inner product with each
  query (n, d), computed block by block so memory stays bounded for any L. Exact: no
  approximate index. (For millions of labels and latency-critical serving, an ANN index such as
  FAISS is the next step; the exact search here is what the metrics are computed with.)
"""

from __future__ import annotations

import numpy as np

__all__ = ["DEFAULT_BLOCK_BYTES", "topk", "topk_similar"]

# Upper bound on the temporary score block (float32), per call. 256 MiB keeps decoding
# of 1M labels possible on a laptop while large enough for BLAS to run at full speed.
DEFAULT_BLOCK_BYTES = 256 * 2**20


def topk(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-k columns of each row of ``scores``, best first.

    Parameters
    ----------
    scores : ndarray of shape (n, L)
    k : int
        Clipped to L.

    Returns
    -------
    indices : ndarray of shape (n, min(k, L)), int64
        Column indices, sorted by decreasing score; ties go to the lower index.
    values : ndarray of shape (n, min(k, L))
        The matching scores.

    Examples
    --------
    >>> topk(np.array([[0.1, 0.9, 0.5]]), 2)[0]
    array([[1, 2]])
    """
    scores = np.asarray(scores)
    if scores.ndim != 2:
        raise ValueError(f"scores must be 2-D (n, L), got shape {scores.shape}")
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    n, L = scores.shape
    k = min(k, L)
    if k < L:
        # argpartition is O(L) per row; only the k survivors are sorted.
        part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    else:
        part = np.broadcast_to(np.arange(L), (n, L))
    part_scores = np.take_along_axis(scores, part, axis=1)
    # Sort by (-score, index) so ties are deterministic (lower label index first).
    order = np.lexsort((part, -part_scores), axis=1)
    idx = np.take_along_axis(part, order, axis=1).astype(np.int64)
    return idx, np.take_along_axis(part_scores, order, axis=1)


def topk_similar(
    queries: np.ndarray,
    keys: np.ndarray,
    k: int,
    bias: np.ndarray | None = None,
    block_bytes: int = DEFAULT_BLOCK_BYTES,
) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-k keys by inner product ``queries @ keys.T (+ bias)``, memory-bounded.

    Parameters
    ----------
    queries : ndarray of shape (n, d)
    keys : ndarray of shape (L, d)
    k : int
        Clipped to L.
    bias : ndarray of shape (L,), optional
        Added to every row of scores (e.g. a per-label bias).
    block_bytes : int
        Largest temporary score block, in bytes. Rows are processed in blocks and, when even
        one row of L scores exceeds the budget, labels are processed in blocks too and the
        running top-k merged.

    Returns
    -------
    indices : ndarray of shape (n, min(k, L)), int64
    scores : ndarray of shape (n, min(k, L)), float32
    """
    queries = np.asarray(queries, dtype=np.float32)
    keys = np.asarray(keys, dtype=np.float32)
    if queries.ndim != 2 or keys.ndim != 2 or queries.shape[1] != keys.shape[1]:
        raise ValueError(
            f"queries (n, d) and keys (L, d) must share d; got {queries.shape} and {keys.shape}"
        )
    n, L = queries.shape[0], keys.shape[0]
    k = min(k, L)
    if bias is not None:
        bias = np.asarray(bias, dtype=np.float32)
        if bias.shape != (L,):
            raise ValueError(f"bias must have shape ({L},), got {bias.shape}")
    out_idx = np.empty((n, k), dtype=np.int64)
    out_val = np.empty((n, k), dtype=np.float32)
    cols = max(k, min(L, block_bytes // 4))  # label block width
    rows = max(1, block_bytes // (4 * cols))
    for r0 in range(0, n, rows):
        q = queries[r0 : r0 + rows]
        best_idx: np.ndarray | None = None
        best_val: np.ndarray | None = None
        for c0 in range(0, L, cols):
            s = q @ keys[c0 : c0 + cols].T
            if bias is not None:
                s += bias[c0 : c0 + cols]
            idx, val = topk(s, k)
            idx += c0
            if best_idx is None:
                best_idx, best_val = idx, val
            else:
                # Merge two sorted top-k lists: rank the 2k candidates again.
                cand_idx = np.concatenate([best_idx, idx], axis=1)
                cand_val = np.concatenate([best_val, val], axis=1)
                sel, best_val = topk(cand_val, k)
                best_idx = np.take_along_axis(cand_idx, sel, axis=1)
        out_idx[r0 : r0 + rows] = best_idx
        out_val[r0 : r0 + rows] = best_val
    return out_idx, out_val
