"""Heads with a full L x F output layer: sigmoid (the paper's baseline), softmax and ASL."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from labelsphere.heads.base import MultiLabelHead
from labelsphere.heads.losses import bce_with_logits, normalized_softmax_loss
from labelsphere.heads.targets import dense

__all__ = ["AsymmetricHead", "SigmoidHead", "SoftmaxHead", "log_label_share", "log_prior_odds"]


def log_prior_odds(counts: np.ndarray, n_samples: int) -> np.ndarray:
    """(L,) log prior odds ``log(p / (1 - p))`` of each label's frequency in n samples.

    The sigmoid heads' prior bias; p is clipped into [1 / (n + 1), n / (n + 1)] so a label
    seen never or always stays finite.
    """
    p = np.clip(counts / max(n_samples, 1), 1 / (n_samples + 1), n_samples / (n_samples + 1))
    return np.log(p / (1 - p))


def log_label_share(counts: np.ndarray) -> np.ndarray:
    """(L,) log of each label's share of the label occurrences: the softmax heads' prior bias."""
    counts = np.maximum(counts, 0.5)  # an unseen label gets half an occurrence, not -inf
    return np.log(counts / counts.sum())


class SigmoidHead(MultiLabelHead):
    """The baseline: a linear layer to L logits trained with binary cross-entropy.

    Args:
        in_features: F.
        n_labels: L.
        prior_bias: start each label's bias at its log prior odds ``log(p / (1 - p))``, p its
            training frequency (clipped to [1/(n+1), n/(n+1)]), as large-label and detection
            practice does (Lin et al., 2017, focal loss): the first steps then predict the
            label frequencies instead of p = 0.5 for every label, and do not spend themselves
            pushing L biases down. The weights keep PyTorch's default initialisation.

    Shape:
        - forward: (B, F) -> logits (B, L).
        - loss(logits (B, L), targets (B, L) multi-hot) -> scalar, mean over B * L.
        - scores(logits) -> (B, L): the logits (monotone in the probabilities).
    """

    def __init__(self, in_features: int, n_labels: int, prior_bias: bool = False) -> None:
        super().__init__()
        self.in_features = in_features
        self.n_labels = n_labels
        self.prior_bias = bool(prior_bias)
        self.linear = nn.Linear(in_features, n_labels)

    def initialize(self, label_counts: np.ndarray, n_samples: int) -> None:
        if not self.prior_bias:
            return
        counts = self.checked_counts(label_counts)
        with torch.no_grad():
            self.linear.bias.copy_(torch.from_numpy(self._prior(counts, n_samples)).float())

    def _prior(self, counts: np.ndarray, n_samples: int) -> np.ndarray:
        return log_prior_odds(counts, n_samples)

    def forward(self, x: Tensor) -> Tensor:
        return self.linear(x)

    def loss(self, outputs: Tensor, targets: Tensor) -> Tensor:
        # BCE-with-logits is the numerically stable form (log-sum-exp inside); float32 under autocast.
        return bce_with_logits(outputs, targets)

    def scores(self, outputs: Tensor) -> Tensor:
        return outputs


class SoftmaxHead(SigmoidHead):
    """Softmax cross-entropy over the L logits against the multi-hot target divided by its sum.

    A strong extreme-classification baseline (e.g. Mahajan et al., 2018): the loss is
    ``-sum_l (y_l / |y|) log softmax(z)_l``. Samples without labels are skipped.
    ``prior_bias`` starts the biases at ``log p`` (the softmax's own prior: the label
    frequencies up to a constant). ``pick_all`` gives each positive its own softmax term
    (``-sum_l y_l log softmax(z)_l``; see :func:`normalized_softmax_loss`).

    Shape: as ``SigmoidHead``.
    """

    def __init__(
        self, in_features: int, n_labels: int, prior_bias: bool = False, pick_all: bool = False
    ) -> None:
        super().__init__(in_features, n_labels, prior_bias)
        self.pick_all = bool(pick_all)

    def loss(self, outputs: Tensor, targets: Tensor) -> Tensor:
        return normalized_softmax_loss(outputs, targets, self.pick_all)

    def _prior(self, counts: np.ndarray, n_samples: int) -> np.ndarray:
        return log_label_share(counts)


class AsymmetricHead(SigmoidHead):
    """Linear to L logits with the asymmetric loss (Ridnik et al., 2021), via timm.

    ``timm.loss.AsymmetricLossMultiLabel`` is the reference implementation; its
    ``"batchmean"`` reduction (sum over labels, mean over the batch) is used so the loss scale
    does not depend on the batch size.

    Args:
        gamma_neg, gamma_pos, clip: the ASL focusing and clipping parameters (timm's defaults).

    Shape: as ``SigmoidHead``.
    """

    def __init__(
        self,
        in_features: int,
        n_labels: int,
        gamma_neg: float = 4.0,
        gamma_pos: float = 1.0,
        clip: float = 0.05,
    ) -> None:
        super().__init__(in_features, n_labels)
        from timm.loss import AsymmetricLossMultiLabel

        self.criterion = AsymmetricLossMultiLabel(
            gamma_neg=gamma_neg, gamma_pos=gamma_pos, clip=clip, reduction="batchmean"
        )

    def loss(self, outputs: Tensor, targets: Tensor) -> Tensor:
        return self.criterion(outputs, dense(targets))  # timm's ASL takes dense targets
