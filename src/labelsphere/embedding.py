"""PMI label embeddings (Chollet, 2016): fit from label co-occurrence, encode targets, decode.

``LabelEmbedding`` turns co-occurrence counts into a symmetric PMI matrix M (L x L), factorises
it into E (L x d) with E E^T ~ M, encodes each sample's label set as the unit-normalised sum of
its labels' rows of E, and decodes a predicted d-vector by ranking the labels by similarity.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Sequence
from numbers import Integral, Real
from pathlib import Path
from typing import Literal

import numpy as np
import scipy.linalg
import scipy.linalg.blas
import scipy.sparse as sp
from scipy.sparse.linalg import LinearOperator, eigsh
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from tqdm.auto import tqdm

from labelsphere.artifacts import (
    FormatError,
    check_format,
    load_arrays,
    read_json,
    save_arrays,
    write_json,
)
from labelsphere.cooccurrence import CooccurrenceCounter, _as_counting_matrix
from labelsphere.decode import DEFAULT_BLOCK_BYTES, topk_similar
from labelsphere.labels import LabelVocabulary, as_multihot, check_multihot

try:  # scipy's C++ sparse kernels: U x and U^T x from the same arrays, into one output
    from scipy.sparse import _sparsetools
except ImportError:  # pragma: no cover - a scipy without the private module: public operators
    _sparsetools = None

__all__ = ["LabelEmbedding", "pmi_matrix"]

PMIPolicy = Literal["zero", "positive", "smoothed"]
DiagonalPolicy = Literal["self_information", "zero"]
Factorization = Literal["eigh", "svd"]
Similarity = Literal["dot", "cosine"]
Solver = Literal["auto", "dense", "randomized", "arpack"]

_FORMAT = "labelsphere.LabelEmbedding"
_FORMAT_VERSION = 1
# Below this many labels a dense eigendecomposition is exact and takes seconds.
_DENSE_MAX_LABELS = 2000
# Norms below this are treated as zero when normalising (float32 targets).
_EPS = 1e-12


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


def _symmetric_operator(S: sp.csr_matrix, offset: float, seen: np.ndarray) -> LinearOperator:
    """``x -> S x + offset * (m m^T - diag(m)) x`` for a full symmetric ``S`` (float64)."""
    return _PMIOperator(sp.triu(S, format="csr"), offset, seen).linear_operator()


def _cholqr_(X: np.ndarray, passes: int = 1) -> np.ndarray:
    """Orthonormalise the columns of a Fortran-ordered float32 block in place (Cholesky-QR).

    ``X <- X R^{-1}`` with ``R`` the Cholesky factor of ``X^T X`` (float64): two BLAS-3 calls
    and no copy of X. Two passes give orthogonality to float32 precision (Fukaya et al., 2014).
    A Gram matrix too ill-conditioned to factorise gets a small shift first (shifted
    Cholesky-QR, Fukaya et al., 2020), which always succeeds; the next pass cleans up.
    Returns ``R`` (float64, upper triangular) with ``X_before = X_after @ R``.
    """
    k = X.shape[1]
    R_total = np.eye(k)
    for _ in range(passes):
        G = (X.T @ X).astype(np.float64)
        G = (G + G.T) / 2
        try:
            R = np.linalg.cholesky(G).T
        except np.linalg.LinAlgError:
            shift = 11 * (X.shape[0] * k + k * (k + 1)) * np.finfo(np.float32).eps * np.trace(G)
            try:
                R = np.linalg.cholesky(G + shift * np.eye(k)).T
            except np.linalg.LinAlgError:  # pragma: no cover - NaN or inf in X
                raise ValueError("the PMI operator produced non-finite values") from None
        out = scipy.linalg.blas.strsm(
            1.0, R.astype(np.float32), X, side=1, lower=0, trans_a=0, diag=0, overwrite_b=1
        )
        if not np.shares_memory(out, X):  # pragma: no cover - f2py could not work in place
            X[...] = out
        R_total = R @ R_total
    return R_total


def _project_out_(W: np.ndarray, K: np.ndarray) -> np.ndarray:
    """``W <- W - K (K^T W)`` twice (classical Gram-Schmidt, reorthogonalised); the coefficients."""
    C = np.zeros((K.shape[1], W.shape[1]))
    if K.shape[1] == 0:
        return C
    for _ in range(2):
        c = K.T @ W
        W -= K @ c
        C += c
    return C


def _randomized_eigh(
    op: _PMIOperator,
    L: int,
    d: int,
    size: int,
    n_iter: int,
    rng: np.random.RandomState,
    progress: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Approximate dominant eigenpairs of a symmetric operator by randomized block Krylov.

    A block Lanczos process with full reorthogonalisation (Golub & Underwood, 1977; as a
    randomized method, Musco & Musco, 2015) from a Gaussian block of ``b`` columns: the basis
    ``K = [K_0, K_1, ...]`` of ``n = max(n_iter * d, size)`` columns (``size``: d oversampled)
    in blocks of ``b = size / 20`` columns spans the Krylov space
    ``{Ω, M Ω, M^2 Ω, ...}``, and ``T = K^T M K`` is assembled from the Gram-Schmidt
    coefficients, so each block is multiplied by M once (n column-products in all), then
    Rayleigh-Ritz on T. Narrow blocks reach a high polynomial degree (n / b - 1) for the
    same basis size: on PMI matrices, whose spectra decay slowly, that converges far faster
    per product than subspace iteration (measured in docs/scale.md). Everything runs in
    float32 on the one (L, n) basis, Fortran-ordered, plus one block at a time; T and its
    eigendecomposition in float64.

    Returns ``(w, K, V)``: the eigenvectors are ``K @ V`` (left to the caller, who needs only
    the selected columns).
    """
    b = min(L, max(8, -(-size // 20)))
    n_blocks = max(1, min(L, max(n_iter * d, size)) // b)
    n = n_blocks * b
    K = np.empty((L, n), dtype=np.float32, order="F")
    step = max(1, (1 << 22) // b)
    for r0 in range(0, L, step):
        K[r0 : r0 + step, :b] = rng.standard_normal((min(step, L - r0), b))
    _cholqr_(K[:, :b], passes=2)
    T = np.zeros((n, n))
    with tqdm(total=n_blocks, disable=not progress, desc="factorising", unit="product") as bar:
        for j in range(n_blocks):
            cols, end = slice(j * b, (j + 1) * b), (j + 1) * b
            W = op.matmat(np.ascontiguousarray(K[:, cols]))
            if j + 1 == n_blocks:
                T[:, cols] = K.T @ W
                bar.update()
                break
            nxt = K[:, end : end + b]
            nxt[...] = W
            del W
            before = np.linalg.norm(nxt, axis=0)
            T[:end, cols] = _project_out_(nxt, K[:, :end])
            # A column already in the span (an invariant subspace was found): continue from a
            # random direction instead; its coefficient in T is zero.
            dead = np.linalg.norm(nxt, axis=0) <= 1e-5 * max(float(before.max()), 1e-30)
            if dead.any():
                nxt[:, dead] = rng.standard_normal((L, int(dead.sum())))
                _project_out_(nxt, K[:, :end])
            R = _cholqr_(nxt, passes=2)
            R[:, dead] = 0.0
            T[end : end + b, cols] = R
            bar.update()
    T = (T + T.T) / 2
    w, V = scipy.linalg.eigh(T)
    return w, K, V


def _basis_times(Q: np.ndarray, V: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """``(Q @ V) * scale`` as a C-ordered float32 array, in row chunks (no L x k temporary)."""
    L = Q.shape[0]
    out = np.empty((L, V.shape[1]), dtype=np.float32)
    V32 = (V * scale[None, :]).astype(np.float32)
    step = max(1, (1 << 24) // max(1, Q.shape[1]))
    for r0 in range(0, L, step):
        np.matmul(Q[r0 : r0 + step], V32, out=out[r0 : r0 + step])
    return out


class LabelEmbedding(BaseEstimator):
    """PMI label embedding: E (L x d) with E E^T ~ PMI, and encode/decode of label sets.

    Parameters
    ----------
    n_components : int, default=256
        Embedding dimension d; must be < L. ``factorization="eigh"`` may keep fewer (only
        positive eigenvalues); ``n_components_`` gives the number kept.
    pmi : {"zero", "positive", "smoothed"}, default="zero"
        Value of pairs that never co-occur (PMI = -inf) and of negative PMI; see ``pmi_matrix``.
        ``"zero"`` keeps the most label information in the oracle test (docs/oracle.md).
    diagonal : {"self_information", "zero"}, default="zero"
        Diagonal of the PMI matrix: each label's self-information log(N / c_i), or 0.
    smoothing : float, default=1.0
        Pseudo-count strength for ``pmi="smoothed"``; ignored otherwise.
    factorization : {"eigh", "svd"}, default="svd"
        ``"svd"``: the paper's U_d sqrt(S_d), the top singular triplets, i.e. the eigenpairs of
        largest |lambda| (E E^T = V |Lambda| V^T: negative directions are kept, sign dropped).
        ``"eigh"``: the top positive eigenpairs, E = V sqrt(lambda), the best positive
        semi-definite approximation of M; may keep fewer than d components.
    similarity : {"dot", "cosine"}, default="cosine"
        How ``decode`` ranks labels: inner product with E's rows, or with E's rows normalised
        (cosine removes the advantage of labels with long embeddings, i.e. frequent ones).
    solver : {"auto", "dense", "randomized", "arpack"}, default="auto"
        ``"dense"``: exact LAPACK eigendecomposition (O(L^2) memory, O(L^3) time).
        ``"randomized"``: randomized block Krylov (block Lanczos) on the sparse PMI operator.
        ``"arpack"``: scipy's Lanczos ``eigsh`` on the sparse operator.
        ``"auto"``: dense up to 2,000 labels, randomized above.
    n_iter : int, default=2
        Size of the Krylov basis of ``solver="randomized"``, in units of d: the basis holds
        ``max(n_iter * d, d + d/4)`` columns, each multiplied by the PMI matrix once (in blocks
        of d/16). More is closer to the exact eigenvectors, slower, and needs
        ``4 * n_labels * n_iter * d`` bytes. At 100,000 labels and d = 256 the default reaches
        an eigen-residual ``||M V - V Lambda|| / ||Lambda||`` of 0.06, better than
        scikit-learn's ``randomized_svd`` with 4 power iterations (0.07; docs/scale.md); on
        delicious (d = 256 of L = 983, forced ``solver="randomized"``) the oracle MAP@100 is
        0.826 / 0.838 / 0.838 for n_iter = 1 / 2 / 4, 0.838 exact.
    random_state : int, RandomState or None, default=None
        Seeds the randomized and ARPACK solvers.

    Attributes
    ----------
    embeddings_ : ndarray of shape (n_labels, n_components_), float32
        One row per label.
    eigenvalues_ : ndarray of shape (n_components_,), float64
        Eigenvalues of the PMI matrix for the kept components (for ``"svd"``, the singular
        values are their absolute values), in decreasing order of what was selected.
    n_components_ : int
    n_labels_ : int
    n_samples_ : int
        Number of samples the counts came from.
    label_counts_ : ndarray of shape (n_labels,), int64
    vocabulary_ : LabelVocabulary or None
        Set when fitted on label names or given a vocabulary.

    Examples
    --------
    >>> from labelsphere import LabelEmbedding
    >>> Y = [["cat", "pet"], ["dog", "pet"], ["cat", "pet"], ["car"], ["car", "road"]]
    >>> emb = LabelEmbedding(n_components=3, random_state=0).fit(Y)
    >>> emb.embeddings_.shape
    (5, 3)
    >>> idx, scores = emb.decode(emb.encode([["cat", "pet"]]), k=2)
    >>> sorted(emb.vocabulary_.names[i] for i in idx[0])
    ['cat', 'pet']
    """

    # Checked by scikit-learn's ``_validate_params`` at fit time, with its error messages.
    _parameter_constraints: dict = {  # noqa: RUF012 - scikit-learn's declared-constraints idiom
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "pmi": [StrOptions({"zero", "positive", "smoothed"})],
        "diagonal": [StrOptions({"self_information", "zero"})],
        "smoothing": [Interval(Real, 0, None, closed="neither")],
        "factorization": [StrOptions({"eigh", "svd"})],
        "similarity": [StrOptions({"dot", "cosine"})],
        "solver": [StrOptions({"auto", "dense", "randomized", "arpack"})],
        "n_iter": [Interval(Integral, 0, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        n_components: int = 256,
        *,
        pmi: PMIPolicy = "zero",
        diagonal: DiagonalPolicy = "zero",
        smoothing: float = 1.0,
        factorization: Factorization = "svd",
        similarity: Similarity = "cosine",
        solver: Solver = "auto",
        n_iter: int = 2,
        random_state: int | np.random.RandomState | None = None,
    ) -> None:
        self.n_components = n_components
        self.pmi = pmi
        self.diagonal = diagonal
        self.smoothing = smoothing
        self.factorization = factorization
        self.similarity = similarity
        self.solver = solver
        self.n_iter = n_iter
        self.random_state = random_state

    # ------------------------------------------------------------------ fitting
    def fit(
        self,
        Y: sp.spmatrix | np.ndarray | Sequence[Sequence[str]] | Sequence[Sequence[int]],
        y: None = None,
        vocabulary: LabelVocabulary | None = None,
        progress: bool = False,
    ) -> LabelEmbedding:
        """Count co-occurrences in ``Y`` and fit the embedding.

        Parameters
        ----------
        Y : multi-hot matrix of shape (n_samples, n_labels), or lists of label names
            Lists of names build a vocabulary (labels ordered by frequency) unless
            ``vocabulary`` is given.
        y : ignored
        vocabulary : LabelVocabulary, optional
            Names for the columns of a multi-hot ``Y``, or the vocabulary to encode names with.
        progress : bool, default=False
            Progress bars (rate and ETA) for counting and for the power iterations.

        Returns
        -------
        self
        """
        if not (sp.issparse(Y) or isinstance(Y, np.ndarray)):
            rows = [list(r) for r in Y]
            if any(isinstance(x, str) for r in rows for x in r):
                if vocabulary is None:
                    vocabulary = LabelVocabulary.from_lists(rows)
                Y = vocabulary.encode(rows)
            elif vocabulary is None:
                raise TypeError(
                    "lists of label indices are ambiguous about L; pass a multi-hot matrix "
                    "or a vocabulary"
                )
            else:
                Y = check_multihot(rows, n_labels=len(vocabulary))
        if not (
            isinstance(Y, (sp.csr_matrix, sp.csr_array))
            and (vocabulary is None or Y.shape[1] == len(vocabulary))
            and _as_counting_matrix(Y, Y.shape[1], None) is Y
        ):  # a canonical binary CSR matrix is counted as it is, without a copy
            Y = check_multihot(Y, n_labels=None if vocabulary is None else len(vocabulary))
        self._check_params(Y.shape[1])
        counter = CooccurrenceCounter(n_labels=Y.shape[1], vocabulary=vocabulary)
        counter.update(Y, progress=progress)
        del Y
        return self._fit(counter, progress, consume=True)

    def fit_counts(self, counts: CooccurrenceCounter, progress: bool = False) -> LabelEmbedding:
        """Fit from a ``CooccurrenceCounter`` (e.g. one merged from shards). Returns ``self``.

        ``progress=True`` shows a progress bar over the power iterations.
        """
        return self._fit(counts, progress, consume=False)

    def _fit(self, counts: CooccurrenceCounter, progress: bool, consume: bool) -> LabelEmbedding:
        """Fit from counts; ``consume=True`` drops the counts' pairs once PMI is computed."""
        self._check_params(counts.n_labels)
        L = counts.n_labels
        d = int(self.n_components)
        solver = self.solver
        if solver == "auto":
            solver = "dense" if L <= _DENSE_MAX_LABELS else "randomized"
        if solver == "dense":
            # Small L: the float64 matrix exactly as fitted before the float32 operator existed,
            # so the committed results reproduce bit for bit (float32 PMI values move nearly
            # degenerate eigenvectors; see docs/benchmarks/reproduce.md).
            S, offset = pmi_matrix(counts, self.pmi, self.diagonal, self.smoothing)
            M = S.toarray()
            if offset:
                seen = counts.label_counts_ > 0
                M += offset * (np.outer(seen, seen) - np.diag(seen.astype(np.float64)))
            w, V = scipy.linalg.eigh(M)
            del M, S
            w, V = self._select(w, V, d)
            E = V * np.sqrt(np.abs(w))[None, :]
            E = np.ascontiguousarray(_fix_signs(E), dtype=np.float32)
            return self._set_fitted(E, w, counts, solver)
        # The upper triangle of PMI, float32, sharing the counter's index arrays.
        upper, offset = _pmi_upper(counts, self.pmi, self.diagonal, self.smoothing)
        seen = counts.label_counts_ > 0
        n_samples, label_counts = int(counts.n_samples_), counts.label_counts_.copy()
        vocabulary = counts.vocabulary
        if consume:  # fit's own counter: its int64 counts are no longer needed
            counts._pairs = None  # type: ignore[assignment]
            del counts
        op = _PMIOperator(upper, offset, seen, copy=False)  # the values are ours: no copy
        del upper
        rng = check_random_state(self.random_state)
        if solver == "randomized":
            # Oversample generously: components must be picked by sign (eigh) or magnitude
            # (svd) from the subspace, and Ritz values near the cut converge last.
            size = min(L, d + max(d // 4, 16))
            w, Q, V = _randomized_eigh(op, L, d, size, int(self.n_iter), rng, progress)
            del op
            w, V = self._select(w, V, d)
            E = _basis_times(Q, V, np.sqrt(np.abs(w)))
            del Q
        else:
            if solver == "dense":
                w, V = scipy.linalg.eigh(op.dense())
            else:
                which = "LA" if self.factorization == "eigh" else "LM"
                v0 = rng.uniform(-1, 1, L)
                w, V = eigsh(op.linear_operator(), k=d, which=which, v0=v0)
            del op
            w, V = self._select(w, V, d)
            E = np.ascontiguousarray(V * np.sqrt(np.abs(w))[None, :], dtype=np.float32)
        _fix_signs(E)
        self.embeddings_ = E
        self.eigenvalues_ = w
        self.n_components_ = int(E.shape[1])
        self.n_labels_ = L
        self.n_samples_ = n_samples
        self.label_counts_ = label_counts
        self.vocabulary_ = vocabulary
        self.solver_ = solver
        self._set_decode_keys()
        return self

    def _set_fitted(
        self, E: np.ndarray, w: np.ndarray, counts: CooccurrenceCounter, solver: str
    ) -> LabelEmbedding:
        self.embeddings_ = E
        self.eigenvalues_ = w
        self.n_components_ = int(E.shape[1])
        self.n_labels_ = counts.n_labels
        self.n_samples_ = int(counts.n_samples_)
        self.label_counts_ = counts.label_counts_.copy()
        self.vocabulary_ = counts.vocabulary
        self.solver_ = solver
        self._set_decode_keys()
        return self

    def _select(self, w: np.ndarray, V: np.ndarray, d: int) -> tuple[np.ndarray, np.ndarray]:
        if self.factorization == "eigh":
            order = np.argsort(-w)[:d]
            order = order[w[order] > 0]
            if len(order) < d:
                warnings.warn(
                    f"the PMI matrix has only {len(order)} positive eigenvalues among those "
                    f"computed; keeping {len(order)} < n_components={d} components",
                    stacklevel=4,
                )
            if len(order) == 0:
                raise ValueError("the PMI matrix has no positive eigenvalue to embed with")
        else:
            order = np.argsort(-np.abs(w))[:d]
        return w[order], V[:, order]

    def _check_params(self, n_labels: int) -> None:
        """The declared constraints (scikit-learn's), then d < L, which needs the data."""
        self._validate_params()
        if self.n_components >= n_labels:
            raise ValueError(
                f"n_components={self.n_components} must be smaller than the number of labels "
                f"({n_labels})"
            )

    def _set_decode_keys(self) -> None:
        if self.similarity == "cosine":
            norms = np.linalg.norm(self.embeddings_, axis=1, keepdims=True)
            self._keys = self.embeddings_ / np.maximum(norms, _EPS)
        else:
            self._keys = self.embeddings_

    def _check_fitted(self) -> None:
        if not hasattr(self, "embeddings_"):
            raise NotFittedError("this LabelEmbedding is not fitted yet; call fit or fit_counts")

    # ------------------------------------------------------------------ encode / decode
    def encode(
        self, Y: sp.spmatrix | np.ndarray | Sequence[Sequence[str]] | Sequence[Sequence[int]]
    ) -> np.ndarray:
        """Targets on the unit sphere: each sample's label embeddings summed, L2-normalised.

        Parameters
        ----------
        Y : multi-hot matrix of shape (n_samples, n_labels), or lists of label names/indices

        Returns
        -------
        ndarray of shape (n_samples, n_components_), float32
            Unit-norm rows. A sample with no labels (or whose embeddings sum to ~0) gets the
            zero vector, never NaN; ``CosineProximityLoss`` skips such rows.
        """
        self._check_fitted()
        Y = as_multihot(Y, self.n_labels_, self.vocabulary_)
        T = np.asarray(Y.astype(np.float32) @ self.embeddings_, dtype=np.float32)
        norms = np.linalg.norm(T, axis=1, keepdims=True)
        # Divide only where the norm is meaningful: empty label sets stay exactly zero.
        np.divide(T, norms, out=T, where=norms > _EPS)
        T[(norms <= _EPS).ravel()] = 0.0
        return T

    def decode(
        self,
        vectors: np.ndarray,
        k: int = 10,
        block_bytes: int = DEFAULT_BLOCK_BYTES,
        backend: str | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k labels of each predicted vector by similarity with the label embeddings.

        Exact by default, in blocks so that memory stays under ``block_bytes``.

        Parameters
        ----------
        vectors : ndarray of shape (n, n_components_)
        k : int, default=10
        backend : str, optional
            A ``labelsphere.decode.LabelIndex`` backend (``"exact"``, ``"faiss-flat"``,
            ``"faiss-hnsw"``, ``"faiss-ivf"``), built once over the label vectors and kept;
            ``None`` is the exact blocked search.

        Returns
        -------
        indices : ndarray of shape (n, min(k, n_labels_)), int64, best first
        scores : ndarray of shape (n, min(k, n_labels_)), float32
        """
        self._check_fitted()
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[1] != self.n_components_:
            raise ValueError(
                f"vectors must have shape (n, {self.n_components_}), got {vectors.shape}"
            )
        if not np.all(np.isfinite(vectors)):
            raise ValueError("vectors contain NaN or infinite values")
        if backend is None:
            return topk_similar(vectors, self._keys, k, block_bytes=block_bytes)
        from labelsphere.decode import LabelIndex

        indexes = self.__dict__.setdefault("_indexes", {})
        if backend not in indexes:
            indexes[backend] = LabelIndex(backend, device="cpu").fit(self._keys)
        return indexes[backend].search(vectors, min(k, self.n_labels_))

    def scores(self, vectors: np.ndarray) -> np.ndarray:
        """Similarity of each vector with every label: shape (n, n_labels_). Dense; small n only."""
        self._check_fitted()
        return np.asarray(vectors, dtype=np.float32) @ self._keys.T

    def similar(self, label: str | int, k: int = 10) -> list[tuple[str | int, float]]:
        """The k labels nearest to ``label`` by cosine similarity of their embeddings.

        ``label`` is a name (needs a vocabulary) or an index. Returns ``(label, similarity)``
        pairs, best first, the label itself excluded; labels are names when a vocabulary exists.
        """
        self._check_fitted()
        if isinstance(label, str):
            if self.vocabulary_ is None:
                raise TypeError("label names need a vocabulary; pass an index")
            i = self.vocabulary_.index(label)
        else:
            i = int(label)
            if not 0 <= i < self.n_labels_:
                raise IndexError(f"label index {i} outside [0, {self.n_labels_})")
        norms = np.linalg.norm(self.embeddings_, axis=1)
        unit = self.embeddings_ / np.maximum(norms, _EPS)[:, None]
        idx, sims = topk_similar(unit[i : i + 1], unit, k + 1)
        keep = idx[0] != i
        names = self.vocabulary_.names if self.vocabulary_ is not None else None
        return [
            (names[j] if names else int(j), float(s))
            for j, s in zip(idx[0][keep][:k], sims[0][keep][:k], strict=True)
        ]

    # ------------------------------------------------------------------ persistence
    def save(self, directory: str | Path) -> None:
        """Write ``embedding.safetensors`` and ``embedding.json`` into ``directory`` (atomically).

        Arrays go to safetensors, parameters, counts metadata and vocabulary to JSON; nothing
        is pickled.
        """
        self._check_fitted()
        directory = Path(directory)
        save_arrays(
            directory / "embedding.safetensors",
            {
                "embeddings": self.embeddings_,
                "eigenvalues": np.asarray(self.eigenvalues_, dtype=np.float64),
                "label_counts": self.label_counts_,
            },
        )
        params = {k: v for k, v in self.get_params().items() if k != "random_state"}
        rs = self.random_state
        params["random_state"] = rs if rs is None or isinstance(rs, (int, np.integer)) else None
        write_json(
            directory / "embedding.json",
            {
                "format": _FORMAT,
                "format_version": _FORMAT_VERSION,
                "params": params,
                "n_samples": self.n_samples_,
                "n_labels": self.n_labels_,
                "n_components": self.n_components_,
                "solver": self.solver_,
                "vocabulary": None if self.vocabulary_ is None else self.vocabulary_.to_json(),
            },
        )

    @classmethod
    def load(cls, directory: str | Path) -> LabelEmbedding:
        """Read an embedding written by ``save``. Corrupt or mismatched files raise ``FormatError``."""
        directory = Path(directory)
        meta_path = directory / "embedding.json"
        meta = read_json(meta_path)
        if not isinstance(meta, dict):
            raise FormatError(f"{meta_path}: expected a JSON object")
        check_format(meta, meta_path, _FORMAT, _FORMAT_VERSION)
        arrays = load_arrays(directory / "embedding.safetensors")
        try:
            est = cls(**meta["params"])
            E = arrays["embeddings"]
            L, d = int(meta["n_labels"]), int(meta["n_components"])
            vocab = (
                LabelVocabulary.from_json(meta["vocabulary"], source=str(meta_path))
                if meta.get("vocabulary")
                else None
            )
        except (KeyError, TypeError, ValueError) as e:
            raise FormatError(f"{meta_path}: missing or invalid field ({e})") from None
        if E.shape != (L, d) or E.dtype != np.float32:
            raise FormatError(
                f"{directory / 'embedding.safetensors'}: embeddings have shape {E.shape} "
                f"{E.dtype}, metadata says ({L}, {d}) float32"
            )
        if vocab is not None and len(vocab) != L:
            raise FormatError(f"{meta_path}: vocabulary has {len(vocab)} names for {L} labels")
        est.embeddings_ = E
        est.eigenvalues_ = arrays["eigenvalues"]
        est.label_counts_ = arrays["label_counts"]
        est.n_components_ = d
        est.n_labels_ = L
        est.n_samples_ = int(meta["n_samples"])
        est.vocabulary_ = vocab
        est.solver_ = meta.get("solver", "unknown")
        est._set_decode_keys()
        return est


def _fix_signs(E: np.ndarray) -> np.ndarray:
    """Make each column's largest-magnitude entry positive (in place), so fits are reproducible.

    Eigenvectors are defined up to sign; solvers and BLAS builds disagree on it. The pivots
    are found in row chunks, so no temporary as large as E is made.
    """
    if E.size == 0:
        return E
    L, d = E.shape
    best = np.full(d, -1.0)
    sign = np.ones(d, dtype=E.dtype)
    step = max(1, (1 << 22) // max(1, d))
    for r0 in range(0, L, step):
        block = E[r0 : r0 + step]
        arg = np.argmax(np.abs(block), axis=0)
        vals = block[arg, np.arange(d)]
        better = np.abs(vals) > best
        best[better] = np.abs(vals[better])
        sign[better] = np.where(vals[better] < 0, -1, 1)
    E *= sign[None, :]
    return E
