"""Output heads: the label-embedding (cosine-proximity) head and its peers, behind one interface.

Every head is an ``nn.Module`` mapping backbone features (B, F) to its own outputs with
``head.loss(outputs, multi_hot)`` and ``head.scores(outputs)`` (B, L), so training and
evaluation never branch on the head.

    losses.py     CosineProximityLoss, normalized_softmax_loss
    base.py       MultiLabelHead, the interface
    linear.py     SigmoidHead (the baseline), SoftmaxHead, AsymmetricHead: L x F output layers
    embedding.py  EmbeddingHead: d outputs scored against (L, d) label vectors
    hybrid.py     HybridHead: the PMI basis plus free weights
    registry.py   name -> class, the arguments the name sets, the label basis it needs
    spec.py       "embedding[loss=softmax,lr=0.01]" parsed and checked before any data
"""

from labelsphere.heads.base import MultiLabelHead
from labelsphere.heads.embedding import EmbeddingHead
from labelsphere.heads.hybrid import HybridHead
from labelsphere.heads.linear import AsymmetricHead, SigmoidHead, SoftmaxHead
from labelsphere.heads.losses import CosineProximityLoss, normalized_softmax_loss
from labelsphere.heads.registry import (
    DEFAULT_HEAD,
    HEAD_REGISTRY,
    HEADS,
    HeadEntry,
    build_head,
    check_options,
    head_entry,
    label_basis,
)
from labelsphere.heads.spec import HeadSpec, parse_head_spec, split_specs

__all__ = [
    "DEFAULT_HEAD",
    "HEADS",
    "HEAD_REGISTRY",
    "AsymmetricHead",
    "CosineProximityLoss",
    "EmbeddingHead",
    "HeadEntry",
    "HeadSpec",
    "HybridHead",
    "MultiLabelHead",
    "SigmoidHead",
    "SoftmaxHead",
    "build_head",
    "check_options",
    "head_entry",
    "label_basis",
    "normalized_softmax_loss",
    "parse_head_spec",
    "split_specs",
]
