"""The eigensolver of ``LabelEmbedding`` (step 2): randomized block Krylov on the PMI operator.

Block Lanczos with full reorthogonalisation in one float32, Fortran-ordered L x (n_iter * d)
basis; Cholesky-QR in place; the Rayleigh-Ritz matrix assembled from the Gram-Schmidt
coefficients. Memory is that basis plus the operator (docs/scale.md).
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
import scipy.linalg.blas
from tqdm.auto import tqdm

from labelsphere.embedding.pmi import _PMIOperator


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
