"""Decoding: top-k labels for each row of scores or of predicted vectors.

* ``topk(scores, k)``: top-k columns of an existing score matrix (n, L).
* ``topk_similar(queries, keys, k)``: exact top-k rows of ``keys`` (L, d) by inner product
  with each query (n, d): fp32 GEMM block by block (memory bounded for any L) + ``torch.topk``,
  ties to the lower label index. What the metrics are computed with.
* ``LabelIndex(backend=...).fit(keys).search(queries, k)``: the same search behind one
  interface, exact or through FAISS (flat, HNSW, IVF); ``recall_at_k`` scores an approximate
  search against the exact one.
"""

from labelsphere.decode.exact import DEFAULT_BLOCK_BYTES, topk, topk_similar, topk_similar_torch
from labelsphere.decode.index import BACKENDS, LabelIndex, recall_at_k

__all__ = [
    "BACKENDS",
    "DEFAULT_BLOCK_BYTES",
    "LabelIndex",
    "recall_at_k",
    "topk",
    "topk_similar",
    "topk_similar_torch",
]
