"""FAISS indexes for inner-product top-k over label vectors (imported lazily).

``build_faiss_index`` makes one of three indexes over the keys (L, d), all by inner product:

* ``"faiss-flat"``: ``IndexFlatIP``, exact (brute force, FAISS's own BLAS + heap selection);
* ``"faiss-hnsw"``: ``IndexHNSWFlat(d, M, METRIC_INNER_PRODUCT)``, a graph; approximate;
* ``"faiss-ivf"``: ``IndexIVFFlat`` over an inner-product coarse quantiser of ``nlist`` cells,
  trained (k-means) on the keys themselves; approximate, ``nprobe`` cells searched per query.

Flat and IVF indexes move to the GPUs when FAISS sees one (``faiss.get_num_gpus() > 0``, the
``faiss-gpu`` build) and the device asks for it; FAISS has no GPU HNSW, so HNSW stays on the CPU.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["FAISS_BACKENDS", "build_faiss_index", "faiss_gpu_count", "import_faiss"]

FAISS_BACKENDS = ("faiss-flat", "faiss-hnsw", "faiss-ivf")

# Largest k a FAISS GPU index answers (FAISS's GPU selection kernels).
GPU_MAX_K = 2048


def import_faiss() -> Any:
    """``import faiss``, or an ImportError that says how to install it."""
    try:
        import faiss
    except ImportError as e:
        raise ImportError(
            "the FAISS backends of LabelIndex need the faiss package: pip install faiss-cpu "
            "(or faiss-gpu for CUDA); backend='exact' needs nothing extra"
        ) from e
    return faiss


def faiss_gpu_count() -> int:
    """GPUs FAISS can use (0 with faiss-cpu, or when FAISS is not installed)."""
    try:
        faiss = import_faiss()
    except ImportError:
        return 0
    get = getattr(faiss, "get_num_gpus", None)
    return int(get()) if get is not None else 0


def default_nlist(n_keys: int) -> int:
    """IVF cells for ``n_keys`` keys: about 4 sqrt(L), with >= 39 keys per cell to train on."""
    return int(max(1, min(round(4 * np.sqrt(n_keys)), n_keys // 39)))


def build_faiss_index(
    backend: str,
    keys: np.ndarray,
    *,
    M: int,
    ef_construction: int,
    ef_search: int,
    nlist: int,
    nprobe: int,
    gpu: bool,
) -> Any:
    """A FAISS index of ``backend`` over ``keys`` (L, d), C-contiguous float32, keys added.

    HNSW: ``hnsw.efConstruction`` is set before the keys are added and ``hnsw.efSearch`` after;
    IVF: the coarse quantiser (``IndexFlatIP``) is trained on the keys, ``nprobe`` set. With
    ``gpu`` the flat and IVF indexes are copied to all GPUs.
    """
    faiss = import_faiss()
    d = keys.shape[1]
    if backend == "faiss-flat":
        index = faiss.IndexFlatIP(d)
    elif backend == "faiss-hnsw":
        index = faiss.IndexHNSWFlat(d, M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = ef_construction
    elif backend == "faiss-ivf":
        quantizer = faiss.IndexFlatIP(d)
        index = faiss.IndexIVFFlat(quantizer, d, nlist, faiss.METRIC_INNER_PRODUCT)
        index.train(keys)
        # The index must not outlive its quantiser's Python object.
        index.own_fields = True
        quantizer.this.disown()
    else:
        raise ValueError(f"unknown FAISS backend {backend!r}; choose one of {FAISS_BACKENDS}")
    if gpu and backend != "faiss-hnsw":
        index = faiss.index_cpu_to_all_gpus(index)
    index.add(keys)
    set_search_params(index, backend, ef_search=ef_search, nprobe=nprobe)
    return index


def set_search_params(index: Any, backend: str, *, ef_search: int, nprobe: int) -> None:
    """Set HNSW's ``efSearch`` or IVF's ``nprobe`` on a built index (CPU or GPU)."""
    if backend == "faiss-hnsw":
        index.hnsw.efSearch = ef_search
    elif backend == "faiss-ivf":
        faiss = import_faiss()
        faiss.ParameterSpace().set_index_parameter(index, "nprobe", nprobe)
