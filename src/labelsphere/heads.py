"""Output heads and losses: the label-embedding (cosine-proximity) head and its baselines.

Every head is an ``nn.Module`` that maps backbone features (B, F) to its own outputs and
exposes the same two calls, so training and evaluation never branch on the head:

* ``head.loss(outputs, targets)``: scalar loss from the outputs and a multi-hot target
  batch (B, L) (float or bool, dense);
* ``head.scores(outputs)``: one score per label (B, L), higher is better, for ranking.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["CosineProximityLoss", "EmbeddingHead", "MultiLabelHead", "SigmoidHead"]


class CosineProximityLoss(nn.Module):
    """``1 - cos(input, target)``, averaged over the rows whose target is not empty.

    A sample without labels has a zero target vector (``LabelEmbedding.encode``); its cosine is
    undefined, so such rows are excluded from the mean instead of contributing a constant 1 or
    a NaN. A batch with no usable row returns a zero that still depends on ``input`` (so
    ``backward`` works and adds nothing).

    Args:
        eps: norms are clamped to at least ``eps`` before dividing.

    Shape:
        - input: (B, d) predictions, any scale.
        - target: (B, d) targets (unit-norm or zero rows).
        - output: scalar.
    """

    def __init__(self, eps: float = 1e-8) -> None:
        super().__init__()
        self.eps = eps

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        if input.shape != target.shape or input.dim() != 2:
            raise ValueError(
                f"input and target must both be (B, d); got {input.shape} and {target.shape}"
            )
        # Compute in float32 even under autocast: fp16 norms of d=256 vectors lose precision.
        input = input.float()
        target = target.float()
        valid = target.norm(dim=1) > self.eps
        if not bool(valid.any()):
            return input.sum() * 0.0
        cos = F.cosine_similarity(input[valid], target[valid], dim=1, eps=self.eps)
        return (1.0 - cos).mean()


class MultiLabelHead(nn.Module):
    """Base class: a head over ``n_labels`` labels on ``in_features``-dimensional features."""

    in_features: int
    n_labels: int

    def loss(self, outputs: Tensor, targets: Tensor) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def scores(self, outputs: Tensor) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError


class SigmoidHead(MultiLabelHead):
    """The baseline: a linear layer to L logits trained with binary cross-entropy.

    Args:
        in_features: F.
        n_labels: L.

    Shape:
        - forward: (B, F) -> logits (B, L).
        - loss(logits (B, L), targets (B, L) multi-hot) -> scalar, mean over B * L.
        - scores(logits) -> (B, L): the logits (monotone in the probabilities).
    """

    def __init__(self, in_features: int, n_labels: int) -> None:
        super().__init__()
        self.in_features = in_features
        self.n_labels = n_labels
        self.linear = nn.Linear(in_features, n_labels)

    def forward(self, x: Tensor) -> Tensor:
        return self.linear(x)

    def loss(self, outputs: Tensor, targets: Tensor) -> Tensor:
        # BCE-with-logits is the numerically stable form (log-sum-exp inside); float32 under autocast.
        return F.binary_cross_entropy_with_logits(outputs.float(), targets.float())

    def scores(self, outputs: Tensor) -> Tensor:
        return outputs


class EmbeddingHead(MultiLabelHead):
    """The label-embedding head (Chollet, 2016): linear to d, cosine proximity to the label sum.

    The target of a sample is the L2-normalised sum of its labels' embeddings; labels are
    scored by similarity of the output with each label embedding.

    Args:
        in_features: F.
        embeddings: (L, d) label embeddings (``LabelEmbedding.embeddings_``); stored as a
            fixed buffer (not trained).
        similarity: ``"dot"`` or ``"cosine"``, how ``scores`` compares outputs with embeddings.

    Shape:
        - forward: (B, F) -> (B, d).
        - loss(outputs (B, d), targets (B, L) multi-hot) -> scalar.
        - scores(outputs (B, d)) -> (B, L).
    """

    def __init__(self, in_features: int, embeddings: Tensor, similarity: str = "dot") -> None:
        super().__init__()
        if embeddings.dim() != 2:
            raise ValueError(f"embeddings must be (L, d), got shape {tuple(embeddings.shape)}")
        if similarity not in ("dot", "cosine"):
            raise ValueError(f"similarity must be 'dot' or 'cosine', got {similarity!r}")
        self.in_features = in_features
        self.n_labels, self.dim = embeddings.shape
        self.similarity = similarity
        self.register_buffer("embeddings", embeddings.detach().float().clone())
        self.linear = nn.Linear(in_features, self.dim)
        self.criterion = CosineProximityLoss()

    def forward(self, x: Tensor) -> Tensor:
        return self.linear(x)

    def targets(self, labels: Tensor) -> Tensor:
        """Unit-norm targets (B, d) from multi-hot labels (B, L); empty label sets give zeros."""
        s = labels.float() @ self.embeddings
        return F.normalize(s, dim=1, eps=1e-12)  # zero rows stay zero, never NaN

    def loss(self, outputs: Tensor, targets: Tensor) -> Tensor:
        return self.criterion(outputs, self.targets(targets))

    def scores(self, outputs: Tensor) -> Tensor:
        keys = self.embeddings
        if self.similarity == "cosine":
            keys = F.normalize(keys, dim=1, eps=1e-12)
        return outputs.float() @ keys.T
