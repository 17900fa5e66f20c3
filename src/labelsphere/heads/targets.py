"""Multi-hot targets, dense (B, L) or sparse CSR (B, L), behind the few operations heads need.

At a million labels a dense float32 target batch of 256 rows is 1 GB, more than the embedding
head's whole step; the loop then hands heads a ``torch.sparse_csr`` batch built straight from
the CSR label rows (``csr_batch``). Heads read targets only through these functions, so each
works with both layouts; the dense layout is kept for small label sets, where it is what the
committed results were computed with.
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor

__all__ = [
    "csr_batch",
    "dense",
    "is_sparse",
    "label_matmul",
    "mix",
    "positives",
    "row_sums",
]


def is_sparse(targets: Tensor) -> bool:
    return targets.layout == torch.sparse_csr


def csr_batch(Y: sp.csr_matrix) -> Tensor:
    """A (B, L) float32 ``torch.sparse_csr`` tensor from CSR label rows, without densifying."""
    Y = sp.csr_matrix(Y)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
        return torch.sparse_csr_tensor(
            torch.from_numpy(Y.indptr.astype(np.int64)),
            torch.from_numpy(Y.indices.astype(np.int64)),
            torch.from_numpy(Y.data.astype(np.float32)),
            size=Y.shape,
            check_invariants=False,  # scipy's canonical CSR (check_multihot) already holds them
        )


def dense(targets: Tensor) -> Tensor:
    """The (B, L) float32 dense form (what losses over all L logits need anyway)."""
    return targets.to_dense().float() if is_sparse(targets) else targets.float()


def positives(targets: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """``(rows, cols, values)`` of the non-zero targets, each (nnz,)."""
    if is_sparse(targets):
        crow = targets.crow_indices()
        rows = torch.repeat_interleave(
            torch.arange(targets.shape[0], device=crow.device), crow.diff()
        )
        return rows, targets.col_indices(), targets.values().float()
    rows, cols = targets.nonzero(as_tuple=True)
    return rows, cols, targets[rows, cols].float()


def row_sums(targets: Tensor) -> Tensor:
    """(B,) label mass per sample."""
    if not is_sparse(targets):
        return targets.float().sum(dim=1)
    rows, _, values = positives(targets)
    return torch.zeros(targets.shape[0], device=values.device).index_add_(0, rows, values)


def label_matmul(targets: Tensor, embeddings: Tensor) -> Tensor:
    """``targets @ embeddings``: (B, L) x (L, d) -> (B, d), a sparse product for sparse targets."""
    if is_sparse(targets):
        # Gather the positives' rows (nnz x d): no float32 copy of an fp16 (L, d) embedding.
        rows, cols, values = positives(targets)
        out = torch.zeros(targets.shape[0], embeddings.shape[1], device=values.device)
        return out.index_add_(0, rows, values[:, None] * embeddings[cols].float())
    return targets.float() @ embeddings.float()


def mix(targets: Tensor, lam: float, perm: Tensor) -> Tensor:
    """``lam * targets + (1 - lam) * targets[perm]`` in the same layout (mixup's label side)."""
    if not is_sparse(targets):
        return lam * targets + (1.0 - lam) * targets[perm]
    rows, cols, values = positives(targets)
    inverse = torch.empty_like(perm)
    inverse[perm] = torch.arange(len(perm), device=perm.device)
    mixed = torch.sparse_coo_tensor(
        torch.stack([torch.cat([rows, inverse[rows]]), torch.cat([cols, cols])]),
        torch.cat([lam * values, (1.0 - lam) * values]),
        size=targets.shape,
    ).coalesce()
    return mixed.to_sparse_csr()
