"""Losses shared by the heads: cosine proximity (the paper's) and softmax over a multi-hot target."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["CosineProximityLoss", "normalized_softmax_loss"]


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


def normalized_softmax_loss(logits: Tensor, targets: Tensor) -> Tensor:
    """``-sum_l (y_l / |y|) log softmax(logits)_l``, mean over samples with at least one label.

    Shape: logits (B, L), targets (B, L) multi-hot -> scalar.
    """
    logits = logits.float()  # log_softmax over thousands of labels: keep float32 under autocast
    y = targets.float()
    n = y.sum(dim=1)
    valid = n > 0
    if not bool(valid.any()):
        return logits.sum() * 0.0
    logp = F.log_softmax(logits[valid], dim=1)
    return -((y[valid] * logp).sum(dim=1) / n[valid]).mean()
