"""Decoding: exact top-k labels for each row of scores or of predicted vectors."""

from labelsphere.decode.exact import DEFAULT_BLOCK_BYTES, topk, topk_similar, topk_similar_torch

__all__ = ["DEFAULT_BLOCK_BYTES", "topk", "topk_similar", "topk_similar_torch"]
