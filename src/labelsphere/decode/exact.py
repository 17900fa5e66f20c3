"""Exact top-k decoding: ``topk`` on a score matrix, ``topk_similar`` by blocked GEMM.

``topk_similar`` runs at the speed of the matrix product: each block of scores is one fp32
GEMM written into a preallocated buffer (numpy's BLAS on the CPU, torch on a GPU), followed by
``torch.topk`` on the block (multi-threaded over rows). Blocks span (queries x labels): a block
holds up to ``_ROW_BLOCK`` queries and as many labels as the memory budget allows, so at 1M
labels a block still holds hundreds of queries. Each label chunk contributes k + 1 candidates
per query (``torch.topk``); the candidates are reduced to the exact top-k at the end.

Ties are deterministic everywhere: among equal scores the lower label index ranks first, also
at the k-th place (the rare rows with equal scores among their k + 1 best are ranked again by
a stable sort). Threads: the GEMM uses numpy's BLAS threads (on this project's CPUs it is as
fast as torch's MKL or faster, measured in benchmarks/decode_scale.py's development), the
selection torch's (``torch.set_num_threads``).
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["DEFAULT_BLOCK_BYTES", "topk", "topk_similar", "topk_similar_torch"]

# Upper bound on the temporary score block (float32), per call. 256 MiB keeps decoding
# of 1M labels possible on a laptop while large enough for BLAS to run at full speed.
DEFAULT_BLOCK_BYTES = 256 * 2**20

# Most queries in one block: enough for GEMM to reach its peak and for torch.topk to split
# rows over threads; the rest of the budget goes to labels (fewer partial top-k merges).
_ROW_BLOCK = 1024
# Smallest block, in floats (4 KiB): smaller budgets are raised to it.
_MIN_BLOCK = 1024
# Label chunks whose candidates (k + 1 per query each) are kept before compacting to k.
_MAX_CANDIDATES = 16


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


def block_shape(n: int, L: int, k: int, block_bytes: int) -> tuple[int, int]:
    """(rows, cols) of one float32 score block under ``block_bytes``.

    Rows first (up to ``_ROW_BLOCK`` queries), then as many label columns as fit, at least
    ``k`` (so a budget smaller than one row still works, at ``rows * k`` floats). When whole
    rows fit, rows grow to fill the budget instead. Budgets under 4 KiB count as 4 KiB.
    """
    if block_bytes < 1:
        raise ValueError(f"block_bytes must be >= 1, got {block_bytes}")
    budget = max(block_bytes // 4, _MIN_BLOCK)  # floats
    rows = max(1, min(n, _ROW_BLOCK, budget // max(k, 1)))
    cols = max(k, min(L, budget // rows))
    if cols == L:  # whole rows fit: take as many queries as the budget allows
        rows = max(1, min(n, budget // L))
    return rows, cols


def _tied_rows(val: torch.Tensor) -> torch.Tensor:
    """Rows of a descending ``val`` (r, m) with two equal neighbours: where ``torch.topk`` may
    have ordered or cut tied scores otherwise than by index."""
    return (val[:, 1:] == val[:, :-1]).any(dim=1).nonzero().flatten()


def _chunk_candidates(s: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The first ``min(k + 1, c)`` labels of each row of one score block ``s`` (r, c) under
    the order (-score, index), in that order.

    One extra label beyond k shows whether the k-th score ties with the next. ``torch.topk``
    orders (and cuts) equal scores arbitrarily, so the rare rows with two equal scores among
    those kept are taken again from a stable sort of the whole row, which puts the lower
    index first; other rows need nothing more.
    """
    m = min(k + 1, s.shape[1])
    val, idx = torch.topk(s, m, dim=1, largest=True, sorted=True)
    tied = _tied_rows(val)
    if len(tied):
        v, i = torch.sort(s[tied], dim=1, descending=True, stable=True)
        val[tied], idx[tied] = v[:, :m], i[:, :m]
    return idx, val


def _order(idx: torch.Tensor, val: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Each row's (index, score) pairs (distinct indices) ordered by (-score, index)."""
    o = torch.argsort(idx, dim=1)
    idx, val = idx.gather(1, o), val.gather(1, o)
    val, o = torch.sort(val, dim=1, descending=True, stable=True)
    return idx.gather(1, o), val


def _select(idx: torch.Tensor, val: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The first k of each row's candidates (distinct indices) under (-score, index), in order.

    ``torch.topk`` takes k + 1 per row; rows with tied scores among them are ordered in full.
    """
    m = min(k + 1, idx.shape[1])
    val_m, pos = torch.topk(val, m, dim=1, largest=True, sorted=True)
    idx_m = idx.gather(1, pos)
    tied = _tied_rows(val_m)
    if len(tied):
        i, v = _order(idx[tied], val[tied])
        idx_m[tied], val_m[tied] = i[:, :m], v[:, :m]
    return idx_m[:, :k], val_m[:, :k]


def topk_similar_torch(
    queries: torch.Tensor,
    keys: torch.Tensor,
    k: int,
    bias: torch.Tensor | None = None,
    block_bytes: int = DEFAULT_BLOCK_BYTES,
) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`topk_similar` on float32 tensors of one device (CPU or GPU), same semantics.

    On the CPU the GEMM goes through numpy's BLAS (``np.matmul(..., out=)`` into a shared
    buffer) and the selection through ``torch.topk``; elsewhere both are torch.

    Returns
    -------
    indices : tensor of shape (n, min(k, L)), int64
    scores : tensor of shape (n, min(k, L)), float32
    """
    n, L = queries.shape[0], keys.shape[0]
    k = min(k, L)
    dev = queries.device
    out_idx = torch.empty((n, k), dtype=torch.int64, device=dev)
    out_val = torch.empty((n, k), dtype=torch.float32, device=dev)
    if n == 0:
        return out_idx, out_val
    rows, cols = block_shape(n, L, k, block_bytes)
    buf = torch.empty(rows * cols, dtype=torch.float32, device=dev)
    on_cpu = dev.type == "cpu"
    if on_cpu:
        buf_np, q_np, k_np = buf.numpy(), queries.numpy(), keys.numpy()
    n_chunks = -(-L // cols)
    if n_chunks > 1:
        # Candidates of a row block's label chunks, compacted to the exact top-k when full:
        # at most _MAX_CANDIDATES chunks' worth per query.
        width = (min(n_chunks, _MAX_CANDIDATES) + 1) * (k + 1)
        cand_idx = torch.empty((rows, width), dtype=torch.int64, device=dev)
        cand_val = torch.empty((rows, width), dtype=torch.float32, device=dev)
    for r0 in range(0, n, rows):
        r = min(rows, n - r0)
        filled = 0
        for c0 in range(0, L, cols):
            c = min(cols, L - c0)
            s = buf[: r * c].view(r, c)
            if on_cpu:
                np.matmul(q_np[r0 : r0 + r], k_np[c0 : c0 + c].T, out=buf_np[: r * c].reshape(r, c))
            else:
                torch.matmul(queries[r0 : r0 + r], keys[c0 : c0 + c].T, out=s)
            if bias is not None:
                s += bias[c0 : c0 + c]
            idx, val = _chunk_candidates(s, k)
            if n_chunks == 1:
                break
            m = idx.shape[1]
            if filled + m > width:
                idx_b, val_b = _select(cand_idx[:r, :filled], cand_val[:r, :filled], k)
                cand_idx[:r, :k], cand_val[:r, :k] = idx_b, val_b
                filled = k
            cand_idx[:r, filled : filled + m] = idx + c0
            cand_val[:r, filled : filled + m] = val
            filled += m
        if n_chunks > 1:
            idx, val = _select(cand_idx[:r, :filled], cand_val[:r, :filled], k)
        out_idx[r0 : r0 + r], out_val[r0 : r0 + r] = idx[:, :k], val[:, :k]
    return out_idx, out_val


def topk_similar(
    queries: np.ndarray,
    keys: np.ndarray,
    k: int,
    bias: np.ndarray | None = None,
    block_bytes: int = DEFAULT_BLOCK_BYTES,
) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-k keys by inner product ``queries @ keys.T (+ bias)``, memory-bounded.

    The scores are computed block by block, one fp32 GEMM into a preallocated buffer per
    block, and reduced with ``torch.topk`` (torch's threads); partial top-k lists over label
    chunks are merged. Ties rank the lower label index first, at the k-th place too.

    Parameters
    ----------
    queries : ndarray of shape (n, d)
    keys : ndarray of shape (L, d)
    k : int
        Clipped to L.
    bias : ndarray of shape (L,), optional
        Added to every row of scores (e.g. a per-label bias).
    block_bytes : int
        Largest temporary score block, in bytes. A block holds up to 1,024 queries and as
        many labels as fit (at least ``k``, so a budget smaller than one row still works;
        budgets under 4 KiB count as 4 KiB);
        when one row of L scores does not fit, labels are processed in chunks and the
        chunks' candidates (k + 1 per query each, up to 16 chunks' worth before they are
        compacted) reduced to the top-k.

    Returns
    -------
    indices : ndarray of shape (n, min(k, L)), int64
        Sorted by decreasing score; ties go to the lower index.
    scores : ndarray of shape (n, min(k, L)), float32

    Examples
    --------
    >>> keys = np.array([[1.0, 0.0], [0.0, 1.0], [0.7, 0.7]], dtype=np.float32)
    >>> idx, scores = topk_similar(np.array([[1.0, 0.2]], dtype=np.float32), keys, 2)
    >>> idx
    array([[0, 2]])
    """
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    keys = np.ascontiguousarray(keys, dtype=np.float32)
    if queries.ndim != 2 or keys.ndim != 2 or queries.shape[1] != keys.shape[1]:
        raise ValueError(
            f"queries (n, d) and keys (L, d) must share d; got {queries.shape} and {keys.shape}"
        )
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    L = keys.shape[0]
    if L == 0:
        raise ValueError("keys is empty (L = 0)")
    bias_t = None
    if bias is not None:
        bias = np.asarray(bias, dtype=np.float32)
        if bias.shape != (L,):
            raise ValueError(f"bias must have shape ({L},), got {bias.shape}")
        bias_t = torch.from_numpy(np.ascontiguousarray(bias))
    idx, val = topk_similar_torch(
        torch.from_numpy(queries), torch.from_numpy(keys), k, bias_t, block_bytes
    )
    return idx.numpy(), val.numpy()
