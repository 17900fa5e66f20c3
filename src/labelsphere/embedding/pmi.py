"""The PMI matrix of label co-occurrence (Chollet, 2016, step 1) and its symmetric operator.

``pmi_matrix`` is the full (L, L) matrix for small label sets and inspection. At scale,
``_pmi_upper`` computes the float32 PMI values of the upper triangle only, sharing the counts'
index arrays, and ``_PMIOperator`` multiplies by the symmetric matrix from that triangle
(``U X + U^T X``, diagonal halved) without ever forming it.
"""

from __future__ import annotations

import itertools
from typing import Literal

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import LinearOperator

from labelsphere.counting.cooccurrence import CooccurrenceCounter

try:  # scipy's C++ sparse kernels: U x and U^T x from the same arrays, into one output
    from scipy.sparse import _sparsetools
except ImportError:  # pragma: no cover - a scipy without the private module: public operators
    _sparsetools = None

__all__ = ["pmi_matrix"]

PMIPolicy = Literal["zero", "positive", "smoothed"]
DiagonalPolicy = Literal["self_information", "zero"]
Factorization = Literal["eigh", "svd"]
Similarity = Literal["dot", "cosine"]
Solver = Literal["auto", "dense", "randomized", "arpack"]


def pmi_matrix(
    counts: CooccurrenceCounter,
    pmi: PMIPolicy = "zero",
    diagonal: DiagonalPolicy = "zero",
    smoothing: float = 1.0,
    dtype: type = np.float64,
) -> tuple[sp.csr_matrix, float]:
    """The PMI matrix of a counter, as ``M = S + offset * (m m^T - diag(m))`` (symmetric).

    ``S`` is sparse (entries only where labels co-occur, plus the diagonal); ``offset`` is the
    value given to pairs that never co-occur and ``m`` marks the labels seen at least once.
    ``offset`` is 0 except for ``pmi="smoothed"``, which keeps M = sparse + rank one so that
    even the smoothed matrix never has to be materialised densely for large L.

    Policies for a pair with co-occurrence ratio ``r = c_ij N / (c_i c_j)``:

    * ``"zero"``: ``log r`` where the pair co-occurs, 0 where it never does (the -inf is clipped).
    * ``"positive"``: ``max(log r, 0)`` (positive PMI), 0 where it never co-occurs.
    * ``"smoothed"``: ``log((r + a) / (1 + a))`` with ``a = smoothing``: the counts shrunk towards
      independence by ``a`` pseudo-samples' worth of the expected count ``c_i c_j / N``. Never
      co-occurring pairs get ``log(a / (1 + a))`` (-0.69 for a = 1) instead of -inf.

    The diagonal holds the self-information ``log(N / c_i)`` (the same formula with c_ii = c_i;
    smoothed under ``"smoothed"``) or 0. Labels never seen have an all-zero row and column.

    ``LabelEmbedding`` itself never builds this full matrix: it keeps the upper triangle only, in
    float32, sharing the counter's index arrays (see ``_pmi_upper``); the values are computed in
    float64 and rounded once.

    Returns
    -------
    S : csr_matrix of shape (L, L), ``dtype`` (float64 by default)
    offset : float
    """
    upper, offset = _pmi_upper(counts, pmi, diagonal, smoothing, dtype=dtype, compact=True)
    S = upper + sp.triu(upper, k=1).T
    return sp.csr_matrix(S), offset


def _check_pmi_args(counts: CooccurrenceCounter, pmi: str, diagonal: str, smoothing: float) -> None:
    if pmi not in ("zero", "positive", "smoothed"):
        raise ValueError(f"pmi must be 'zero', 'positive' or 'smoothed', got {pmi!r}")
    if diagonal not in ("self_information", "zero"):
        raise ValueError(f"diagonal must be 'self_information' or 'zero', got {diagonal!r}")
    if pmi == "smoothed" and not smoothing > 0:
        raise ValueError(f"smoothing must be > 0, got {smoothing}")
    if counts.n_samples_ == 0:
        raise ValueError("the counter holds no samples")


def _pmi_upper(
    counts: CooccurrenceCounter,
    pmi: PMIPolicy = "zero",
    diagonal: DiagonalPolicy = "zero",
    smoothing: float = 1.0,
    dtype: type = np.float32,
    compact: bool = False,
) -> tuple[sp.csr_matrix, float]:
    """The upper triangle (diagonal included) of ``S`` in ``pmi_matrix``, and ``offset``.

    Values are computed in float64 in chunks of rows and stored as ``dtype``. With
    ``compact=False`` the result shares the counter's ``indices`` and ``indptr`` arrays (no
    copy: only the values are new) and may hold explicit zeros (a pair with PMI exactly 0, a
    zero diagonal); they are dropped when they are over a quarter of the entries, or always
    with ``compact=True``.
    """
    _check_pmi_args(counts, pmi, diagonal, smoothing)
    N = counts.n_samples_
    upper = counts._upper()
    L = upper.shape[0]
    log_c = np.log(np.maximum(counts.label_counts_, 1).astype(np.float64))
    indptr, indices, data = upper.indptr, upper.indices, upper.data
    vals = np.empty(upper.nnz, dtype=dtype)
    a = float(smoothing)
    offset = float(np.log(a) - np.log1p(a)) if pmi == "smoothed" else 0.0
    log_n = float(np.log(N))
    # ~4M entries a chunk: float64 temporaries of ~32 MB each.
    bounds = np.searchsorted(indptr, np.arange(0, upper.nnz, 1 << 22), side="right") - 1
    rows = np.unique(np.r_[bounds, L]).astype(np.int64)
    for r0, r1 in itertools.pairwise(rows):
        p0, p1 = int(indptr[r0]), int(indptr[r1])
        if p1 == p0:
            continue
        i = np.repeat(np.arange(r0, r1), np.diff(indptr[r0 : r1 + 1]))
        j = indices[p0:p1]
        # log r in float64: c_ij * N can exceed 2^53 only beyond any realistic data set.
        v = np.log(data[p0:p1].astype(np.float64))
        v += log_n
        v -= log_c[i]
        v -= log_c[j]
        on_diag = i == j
        if pmi == "positive":
            np.maximum(v, 0.0, out=v)
        elif pmi == "smoothed":
            v = np.logaddexp(v, np.log(a)) - np.log1p(a)  # log((r + a) / (1 + a)), overflow-free
            # Off-diagonal entries are stored relative to the constant background; the
            # background term (m m^T - diag(m)) is zero on the diagonal, stored as is.
            v[~on_diag] -= offset
        if diagonal == "zero":
            v[on_diag] = 0.0
        vals[p0:p1] = v
    zeros = int(np.count_nonzero(vals == 0))
    if compact or zeros > vals.size // 4:
        # New arrays without the zeros (scipy's eliminate_zeros would compact the counter's
        # shared index array in place).
        keep = vals != 0
        kept_before = np.zeros(vals.size + 1, dtype=np.int64)
        np.cumsum(keep, out=kept_before[1:])
        new_ptr = kept_before[indptr].astype(indptr.dtype)
        del kept_before
        out = sp.csr_matrix(upper.shape, dtype=dtype)
        out.data, out.indices, out.indptr = vals[keep], indices[keep], new_ptr
        out.has_canonical_format = True
        return out, offset
    out = sp.csr_matrix(upper.shape, dtype=dtype)
    out.data, out.indices, out.indptr = vals, indices, indptr
    out.has_canonical_format = True
    return out, offset


class _PMIOperator:
    """``x -> S x + offset * (m m^T - diag(m)) x`` from the upper triangle of ``S`` alone.

    ``S x = U x + U^T x`` where ``U`` is the stored upper triangle with its diagonal halved
    (exact in floating point), so the symmetric matrix is never materialised: scipy's CSR
    kernel gives ``U x`` and its CSC kernel, reading the same three arrays, ``U^T x``, both
    accumulating into one output. Products run on column chunks of a Fortran-ordered block,
    which is overwritten with the result (``matmat_``): besides the block, one chunk of input
    and of output is held.
    """

    def __init__(
        self, upper: sp.csr_matrix, offset: float, seen: np.ndarray, copy: bool = True
    ) -> None:
        # The diagonal is halved in the values: a copy unless the caller hands them over.
        data = np.array(upper.data, dtype=np.float32, copy=copy or upper.data.dtype != np.float32)
        ip, ij = upper.indptr, upper.indices
        L = upper.shape[0]
        first = ip[:-1]
        has = np.diff(ip) > 0
        diag_pos = first[has][ij[first[has]] == np.flatnonzero(has)]
        data[diag_pos] *= 0.5
        self.L = L
        self.indptr, self.indices, self.data = ip, ij, data
        self.offset = float(offset)
        self.seen = seen.astype(np.float32)
        self._data64: np.ndarray | None = None

    def _accumulate(self, X: np.ndarray, out: np.ndarray, data: np.ndarray) -> None:
        """``out += S X`` (sparse part) for C-ordered ``X`` and ``out`` of shape (L, k)."""
        k = X.shape[1]
        if _sparsetools is None:  # pragma: no cover
            U = sp.csr_matrix((data, self.indices, self.indptr), shape=(self.L, self.L))
            out += U @ X + U.T @ X
            return
        xr, outr = X.reshape(-1), out.reshape(-1)
        _sparsetools.csr_matvecs(self.L, self.L, k, self.indptr, self.indices, data, xr, outr)
        _sparsetools.csc_matvecs(self.L, self.L, k, self.indptr, self.indices, data, xr, outr)

    def _rank_one(self, X: np.ndarray, out: np.ndarray) -> None:
        if self.offset:
            m = self.seen.astype(out.dtype)
            out += self.offset * (np.outer(m, m @ X) - m[:, None] * X)

    def matmat(self, X: np.ndarray) -> np.ndarray:
        """``M X`` as a new array; float32 in, float32 out, anything else in float64."""
        X = np.asarray(X)
        vec = X.ndim == 1
        X2 = X.reshape(self.L, -1)
        if X2.dtype == np.float32:
            data = self.data
        else:
            if self._data64 is None:
                self._data64 = self.data.astype(np.float64)
            data = self._data64
            X2 = X2.astype(np.float64, copy=False)
        X2 = np.ascontiguousarray(X2)
        out = np.zeros_like(X2)
        self._accumulate(X2, out, data)
        self._rank_one(X2, out)
        return out.ravel() if vec else out

    def matmat_(self, X: np.ndarray, chunk: int = 32) -> np.ndarray:
        """Overwrite a Fortran-ordered float32 block ``X`` (L, k) with ``M X``, column chunk by chunk."""
        for a in range(0, X.shape[1], chunk):
            X[:, a : a + chunk] = self.matmat(np.ascontiguousarray(X[:, a : a + chunk]))
        return X

    def rayleigh(self, Q: np.ndarray, chunk: int = 32) -> np.ndarray:
        """``Q^T M Q`` (float64, symmetrised) without holding ``M Q`` whole."""
        k = Q.shape[1]
        B = np.empty((k, k), dtype=np.float64)
        for a in range(0, k, chunk):
            MQ = self.matmat(np.ascontiguousarray(Q[:, a : a + chunk]))
            B[:, a : a + chunk] = Q.T @ MQ
        return (B + B.T) / 2

    def dense(self) -> np.ndarray:
        """The full matrix, float64: for the dense solver (small L only)."""
        U = sp.csr_matrix(
            (self.data.astype(np.float64), self.indices, self.indptr), shape=(self.L, self.L)
        ).toarray()
        M = U + U.T
        if self.offset:
            m = self.seen.astype(np.float64)
            M += self.offset * (np.outer(m, m) - np.diag(m))
        return M

    def linear_operator(self) -> LinearOperator:
        L = self.L
        f = self.matmat
        return LinearOperator((L, L), matvec=f, matmat=f, rmatvec=f, dtype=np.float64)
