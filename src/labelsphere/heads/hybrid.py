"""The hybrid head: a sigmoid (or softmax) layer on the PMI basis plus free weights."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from labelsphere.heads.base import MultiLabelHead, check_label_basis
from labelsphere.heads.losses import (
    CosineProximityLoss,
    bce_with_logits,
    normalized_softmax_loss,
)
from labelsphere.heads.targets import label_matmul

__all__ = ["HybridHead"]


class HybridHead(MultiLabelHead):
    """A sigmoid layer on the PMI basis plus a free part: logits = (A h) E^T + V h + b.

    The d-dimensional projection ``z = A h`` is also trained towards the paper's unit target
    with the cosine-proximity loss, so the low-rank PMI part learns as fast as the embedding
    head, while the free weights ``V`` (zero at start) add what the rank-d basis cannot
    express. Loss: ``BCE(logits, y) + cosine_weight * (1 - cos(z, t(y)))``, or with
    ``loss="softmax"`` the normalised softmax cross-entropy over the logits in place of BCE.

    Args:
        in_features: F.
        embeddings: (L, d) fixed label embeddings.
        cosine_weight: weight of the cosine-proximity term (0 turns it off).
        similarity: ``"dot"`` or ``"cosine"`` between z and the label embeddings.
        loss: ``"bce"`` or ``"softmax"``: the loss on the logits.
        pick_all: with ``loss="softmax"``, each positive its own softmax term (see
            ``normalized_softmax_loss``).

    Shape:
        - forward: (B, F) -> (B, d + L): z and the free logits, concatenated.
        - loss(outputs, targets (B, L) multi-hot) -> scalar.
        - scores(outputs) -> (B, L): the logits.
    """

    def __init__(
        self,
        in_features: int,
        embeddings: Tensor,
        cosine_weight: float = 1.0,
        similarity: str = "cosine",
        loss: str = "bce",
        pick_all: bool = False,
    ) -> None:
        super().__init__()
        check_label_basis(embeddings, similarity)
        if loss not in ("bce", "softmax"):
            raise ValueError(f"loss must be 'bce' or 'softmax', got {loss!r}")
        if pick_all and loss != "softmax":
            raise ValueError(f"pick_all=True needs loss='softmax', got loss={loss!r}")
        self.loss_kind = loss
        self.pick_all = bool(pick_all)
        self.in_features = in_features
        self.n_labels, self.dim = embeddings.shape
        self.cosine_weight = float(cosine_weight)
        self.similarity = similarity
        self.register_buffer("embeddings", embeddings.detach().float().clone())
        self.project = nn.Linear(in_features, self.dim)
        self.free = nn.Linear(in_features, self.n_labels)
        nn.init.zeros_(self.free.weight)  # start as the pure low-rank PMI classifier
        self.criterion = CosineProximityLoss()

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([self.project(x), self.free(x)], dim=1)

    def scores(self, outputs: Tensor) -> Tensor:
        z, free = outputs[:, : self.dim].float(), outputs[:, self.dim :].float()
        keys = (
            F.normalize(self.embeddings, dim=1, eps=1e-12)
            if self.similarity == "cosine"
            else self.embeddings
        )
        return z @ keys.T + free

    def loss(self, outputs: Tensor, targets: Tensor) -> Tensor:
        logits = self.scores(outputs)
        if self.loss_kind == "softmax":
            loss = normalized_softmax_loss(logits, targets, self.pick_all)
        else:
            loss = bce_with_logits(logits, targets)
        if self.cosine_weight:
            target = F.normalize(label_matmul(targets, self.embeddings), dim=1, eps=1e-12)
            loss = loss + self.cosine_weight * self.criterion(outputs[:, : self.dim], target)
        return loss
