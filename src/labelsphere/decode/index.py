"""``LabelIndex``: top-k labels by inner product, exact or through FAISS, one interface.

    index = LabelIndex(backend="exact").fit(keys)        # keys (L, d) float32
    indices, scores = index.search(queries, k=100)       # (n, k) int64, (n, k) float32

Inner product throughout; normalise keys and queries for cosine similarity.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from labelsphere.decode.exact import DEFAULT_BLOCK_BYTES, topk_similar_torch
from labelsphere.decode.faiss_index import (
    FAISS_BACKENDS,
    GPU_MAX_K,
    build_faiss_index,
    default_nlist,
    faiss_gpu_count,
    import_faiss,
)
from labelsphere.device import resolve_device

__all__ = ["BACKENDS", "LabelIndex", "recall_at_k"]

BACKENDS = ("exact", *FAISS_BACKENDS)


class LabelIndex:
    """Top-k label search by inner product: exact blocked GEMM, or a FAISS index.

    Parameters
    ----------
    backend : {"exact", "faiss-flat", "faiss-hnsw", "faiss-ivf"}, default="exact"
        ``"exact"``: :func:`labelsphere.decode.topk_similar` (fp32 GEMM per block +
        ``torch.topk``; ties to the lower label index). ``"faiss-flat"``: ``faiss.IndexFlatIP``
        (exact). ``"faiss-hnsw"``: ``faiss.IndexHNSWFlat`` with ``METRIC_INNER_PRODUCT``
        (approximate). ``"faiss-ivf"``: ``faiss.IndexIVFFlat`` by inner product, trained on
        the keys (approximate). The FAISS backends need ``pip install faiss-cpu``.
    M : int, default=32
        HNSW: graph neighbours per node.
    ef_construction : int, default=200
        HNSW: candidate list size while building (FAISS's ``efConstruction``).
    ef_search : int, default=128
        HNSW: candidate list size while searching (``efSearch``); a search for k labels uses
        ``max(ef_search, k)``.
    nlist : int or None, default=None
        IVF: number of cells; None: ``round(4 sqrt(L))``, at most ``L // 39`` (FAISS wants
        >= 39 training keys per cell), at least 1.
    nprobe : int, default=32
        IVF: cells searched per query (clipped to ``nlist``).
    block_bytes : int, default=DEFAULT_BLOCK_BYTES
        Exact: the largest temporary score block (see ``topk_similar``).
    device : str, default="auto"
        ``"auto"``: the GPU when there is one (torch's for ``"exact"``; FAISS's, i.e. a
        faiss-gpu build with ``faiss.get_num_gpus() > 0``, for flat and IVF), else the CPU.
        ``"cpu"`` or ``"cuda"`` to choose. HNSW always runs on the CPU (FAISS has no GPU HNSW).

    Attributes
    ----------
    n_labels_ : int
        L, the number of keys.
    n_features_in_ : int
        d, their dimension.
    device_ : str
        Where searches run: ``"cpu"`` or ``"cuda"`` (``"cuda:0"`` etc. for exact).
    index_ : faiss.Index or torch.Tensor
        The FAISS index (a copy of the keys), or (exact) the keys as a float32 tensor on
        ``device_``: on the CPU it shares memory with ``keys`` when they already are
        C-contiguous float32 (as scikit-learn's brute-force neighbours do), so don't modify
        them in place after ``fit``.
    nlist_ : int
        IVF only: the number of cells used.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> keys = rng.standard_normal((1000, 16)).astype(np.float32)
    >>> index = LabelIndex(backend="exact", device="cpu").fit(keys)
    >>> idx, scores = index.search(keys[:3], k=5)
    >>> idx.shape, idx.dtype, scores.dtype
    ((3, 5), dtype('int64'), dtype('float32'))
    >>> bool(np.all(scores[:, :-1] >= scores[:, 1:]))  # best first
    True
    """

    def __init__(
        self,
        backend: str = "exact",
        *,
        M: int = 32,
        ef_construction: int = 200,
        ef_search: int = 128,
        nlist: int | None = None,
        nprobe: int = 32,
        block_bytes: int = DEFAULT_BLOCK_BYTES,
        device: str = "auto",
    ) -> None:
        self.backend = backend
        self.M = M
        self.ef_construction = ef_construction
        self.ef_search = ef_search
        self.nlist = nlist
        self.nprobe = nprobe
        self.block_bytes = block_bytes
        self.device = device

    def __repr__(self) -> str:
        return f"LabelIndex(backend={self.backend!r})"

    # ------------------------------------------------------------------ checks
    def _check_params(self) -> None:
        if self.backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {self.backend!r}")
        for name in ("M", "ef_construction", "ef_search", "nprobe", "block_bytes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if self.M < 2:
            raise ValueError(f"M must be >= 2, got {self.M}")
        if self.nlist is not None and (
            isinstance(self.nlist, bool)
            or not isinstance(self.nlist, (int, np.integer))
            or self.nlist < 1
        ):
            raise ValueError(f"nlist must be a positive int or None, got {self.nlist!r}")
        if self.device not in ("auto", "cpu") and not str(self.device).startswith("cuda"):
            raise ValueError(f"device must be 'auto', 'cpu' or 'cuda[:i]', got {self.device!r}")

    @staticmethod
    def _as_matrix(x: Any, what: str) -> np.ndarray:
        if isinstance(x, torch.Tensor):
            x = x.detach().cpu().numpy()
        x = np.asarray(x)
        if x.ndim != 2:
            raise ValueError(f"{what} must be a 2-D array, got shape {x.shape}")
        if not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)):
            raise ValueError(f"{what} must be numeric, got dtype {x.dtype}")
        x = np.ascontiguousarray(x, dtype=np.float32)
        if not np.all(np.isfinite(x)):
            raise ValueError(f"{what} contain NaN or infinite values")
        return x

    def _check_fitted(self) -> None:
        if not hasattr(self, "index_"):
            raise RuntimeError("this LabelIndex is not fitted yet; call fit(keys) first")

    # ------------------------------------------------------------------ fit / search
    def fit(self, keys: np.ndarray, y: None = None) -> LabelIndex:
        """Index the label vectors ``keys``.

        Parameters
        ----------
        keys : array of shape (L, d)
            One row per label, converted to C-contiguous float32; must be finite.
        y : ignored

        Returns
        -------
        self
        """
        self._check_params()
        keys = self._as_matrix(keys, "keys")
        L, d = keys.shape
        if L == 0 or d == 0:
            raise ValueError(f"keys must have at least one row and one column, got {keys.shape}")
        if self.backend == "exact":
            dev = resolve_device(self.device)
            self.index_ = torch.from_numpy(keys).to(dev)
            self.device_ = str(dev)
        else:
            if self.backend == "faiss-ivf":
                nlist = default_nlist(L) if self.nlist is None else int(self.nlist)
                if nlist > L:
                    raise ValueError(f"nlist={nlist} is larger than the number of keys ({L})")
                self.nlist_ = nlist
            else:
                nlist = 1
            import_faiss()  # the install hint, before anything else can fail
            n_gpus = faiss_gpu_count()
            if str(self.device).startswith("cuda") and n_gpus == 0:
                raise ValueError(
                    "device='cuda' with a FAISS backend needs a faiss-gpu build that sees a "
                    "GPU (faiss.get_num_gpus() == 0 here); use device='auto' or 'cpu'"
                )
            gpu = self.backend != "faiss-hnsw" and self.device != "cpu" and n_gpus > 0
            self.index_ = build_faiss_index(
                self.backend,
                keys,
                M=int(self.M),
                ef_construction=int(self.ef_construction),
                ef_search=int(self.ef_search),
                nlist=nlist,
                nprobe=int(min(self.nprobe, nlist)),
                gpu=gpu,
            )
            self.device_ = "cuda" if gpu else "cpu"
        self.n_labels_, self.n_features_in_ = L, d
        return self

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-k labels of each query by inner product, best first.

        Parameters
        ----------
        queries : array of shape (n, d)
            Finite; converted to float32.
        k : int
            1 <= k <= L.

        Returns
        -------
        indices : ndarray of shape (n, k), int64
            Label indices by decreasing score. Exact backends rank ties by the lower index
            (``"exact"``; FAISS flat in its own order). An approximate index that finds fewer
            than k labels for a query pads its row with -1 (score ``-inf``).
        scores : ndarray of shape (n, k), float32
            The inner products.
        """
        self._check_fitted()
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ValueError(f"k must be a positive int, got {k!r}")
        if k > self.n_labels_:
            raise ValueError(f"k={k} is larger than the number of labels ({self.n_labels_})")
        queries = self._as_matrix(queries, "queries")
        if queries.shape[1] != self.n_features_in_:
            raise ValueError(
                f"queries have {queries.shape[1]} columns; the index was fitted on "
                f"d={self.n_features_in_}"
            )
        k = int(k)
        if self.backend == "exact":
            q = torch.from_numpy(queries).to(self.index_.device)
            idx, val = topk_similar_torch(q, self.index_, k, block_bytes=int(self.block_bytes))
            return idx.cpu().numpy(), val.cpu().numpy()
        if self.device_ == "cuda" and k > GPU_MAX_K:
            raise ValueError(f"FAISS on the GPU returns at most k={GPU_MAX_K}, got k={k}")
        if len(queries) == 0:
            return np.empty((0, k), np.int64), np.empty((0, k), np.float32)
        if self.backend == "faiss-hnsw":
            self.index_.hnsw.efSearch = max(int(self.ef_search), k)
        scores, idx = self.index_.search(queries, k)
        idx = np.ascontiguousarray(idx, dtype=np.int64)
        scores = np.ascontiguousarray(scores, dtype=np.float32)
        scores[idx < 0] = -np.inf
        return idx, scores


def recall_at_k(approx_idx: np.ndarray, exact_idx: np.ndarray) -> float:
    """Mean fraction of each row's exact top-k found among its approximate results.

    Parameters
    ----------
    approx_idx : array of shape (n, k_a), int
        Label indices from an approximate search; -1 (padding) never matches.
    exact_idx : array of shape (n, k), int
        The exact top-k; ``k`` sets the recall's k (``k_a`` is usually k too).

    Returns
    -------
    float
        ``mean_i |approx_i ∩ exact_i| / k``, in [0, 1].

    Examples
    --------
    >>> recall_at_k(np.array([[0, 1, 2], [3, 4, -1]]), np.array([[0, 1, 5], [3, 4, 6]]))
    0.6666666666666666
    """
    a = np.asarray(approx_idx)
    e = np.asarray(exact_idx)
    if a.ndim != 2 or e.ndim != 2 or a.shape[0] != e.shape[0]:
        raise ValueError(
            f"approx_idx (n, k_a) and exact_idx (n, k) must be 2-D with the same n; got "
            f"{a.shape} and {e.shape}"
        )
    n, k = e.shape
    if n == 0 or k == 0:
        raise ValueError("exact_idx is empty")
    a = a.astype(np.int64)
    e = e.astype(np.int64)
    span = int(max(a.max(initial=0), e.max(initial=0))) + 2
    rows = np.arange(n, dtype=np.int64)[:, None] * span
    hits = np.isin(e + rows, np.where(a >= 0, a + rows, -1))
    return float(hits.sum() / (n * k))
