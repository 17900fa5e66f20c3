"""Output heads and losses: the label-embedding (cosine-proximity) head and its baselines.

Every head is an ``nn.Module`` that maps backbone features (B, F) to its own outputs and
exposes the same two calls, so training and evaluation never branch on the head:

* ``head.loss(outputs, targets)``: scalar loss from the outputs and a multi-hot target
  batch (B, L) (float or bool, dense);
* ``head.scores(outputs)``: one score per label (B, L), higher is better, for ranking.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "AsymmetricHead",
    "CosineProximityLoss",
    "EmbeddingHead",
    "HybridHead",
    "MultiLabelHead",
    "SigmoidHead",
    "SoftmaxHead",
    "normalized_softmax_loss",
]


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


class SoftmaxHead(SigmoidHead):
    """Softmax cross-entropy over the L logits against the multi-hot target divided by its sum.

    A strong extreme-classification baseline (e.g. Mahajan et al., 2018): the loss is
    ``-sum_l (y_l / |y|) log softmax(z)_l``. Samples without labels are skipped.

    Shape: as ``SigmoidHead``.
    """

    def loss(self, outputs: Tensor, targets: Tensor) -> Tensor:
        return normalized_softmax_loss(outputs, targets)


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
        return self.criterion(outputs, targets)


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


class EmbeddingHead(MultiLabelHead):
    """The label-embedding head (Chollet, 2016): linear to d, scored against fixed label embeddings.

    Outputs are d-vectors; label l scores ``sim(output, E_l) + b_l``. The embeddings E are a
    fixed buffer (PMI, PCA or random; they are not trained).

    Args:
        in_features: F.
        embeddings: (L, d) label embeddings, e.g. ``LabelEmbedding.embeddings_``.
        loss: what the outputs are trained with.
            ``"cosine"``: the paper's cosine proximity ``1 - cos(output, t)`` to the unit target
            ``t = normalise(sum of the sample's label embeddings)``.
            ``"softmax"``: softmax cross-entropy over the L scaled scores
            ``scale * sim(output, E_l) + b_l`` against the normalised multi-hot target.
            ``"cosine+softmax"``: the sum of both.
            ``"bce"``: binary cross-entropy on the same scores, i.e. a sigmoid layer whose weight
            is constrained to the low-rank basis E (W = E A).
            ``"mse"``: squared error to the un-normalised sum of label embeddings.
        similarity: ``"dot"`` or ``"cosine"``: ``sim`` above.
        bias: learn a per-label bias ``b`` (used in scores; trained by the score-based losses).
        scale: initial value of the learnable scale (inverse temperature) of the score-based
            losses; learned in log space so it stays positive.
        learn_embeddings: train E too, starting from the given embeddings (the PMI embedding as
            the initialisation of a low-rank label layer). Only with the score-based losses:
            the cosine and mse targets are built from E and would move with it.
        normalize: unit-normalise the output before the score-based losses and their scores,
            so only ``scale`` sets the temperature. ``False`` scores ``scale * sim(output, E_l)``
            on the raw output: a linear layer of rank d on the fixed basis (W = E A).

    Shape:
        - forward: (B, F) -> (B, d).
        - loss(outputs (B, d), targets (B, L) multi-hot) -> scalar.
        - scores(outputs (B, d)) -> (B, L).
    """

    LOSSES = ("cosine", "softmax", "cosine+softmax", "bce", "mse")

    def __init__(
        self,
        in_features: int,
        embeddings: Tensor,
        loss: str = "cosine",
        similarity: str = "dot",
        bias: bool = False,
        scale: float = 10.0,
        learn_embeddings: bool = False,
        normalize: bool = True,
    ) -> None:
        super().__init__()
        if embeddings.dim() != 2:
            raise ValueError(f"embeddings must be (L, d), got shape {tuple(embeddings.shape)}")
        if similarity not in ("dot", "cosine"):
            raise ValueError(f"similarity must be 'dot' or 'cosine', got {similarity!r}")
        if loss not in self.LOSSES:
            raise ValueError(f"loss must be one of {self.LOSSES}, got {loss!r}")
        if not scale > 0:
            raise ValueError(f"scale must be > 0, got {scale}")
        if bias and loss in ("cosine", "mse"):
            raise ValueError(f"bias=True needs a score-based loss; loss={loss!r} never trains it")
        if learn_embeddings and loss not in ("softmax", "bce"):
            raise ValueError(
                f"learn_embeddings=True needs loss='softmax' or 'bce' (its targets do not move "
                f"with E), got loss={loss!r}"
            )
        self.in_features = in_features
        self.n_labels, self.dim = embeddings.shape
        self.loss_kind = loss
        self.similarity = similarity
        self.learn_embeddings = learn_embeddings
        self.normalize = bool(normalize)
        init = embeddings.detach().float().clone()
        if learn_embeddings:
            self.embeddings = nn.Parameter(init)
        else:
            self.register_buffer("embeddings", init)
        self.linear = nn.Linear(in_features, self.dim)
        self.bias = nn.Parameter(torch.zeros(self.n_labels)) if bias else None
        self.log_scale = nn.Parameter(torch.tensor(float(scale)).log())
        self.criterion = CosineProximityLoss()

    def forward(self, x: Tensor) -> Tensor:
        return self.linear(x)

    def targets(self, labels: Tensor) -> Tensor:
        """Unit-norm targets (B, d) from multi-hot labels (B, L); empty label sets give zeros."""
        s = labels.float() @ self.embeddings
        return F.normalize(s, dim=1, eps=1e-12)  # zero rows stay zero, never NaN

    def _keys(self) -> Tensor:
        if self.similarity == "cosine":
            return F.normalize(self.embeddings, dim=1, eps=1e-12)
        return self.embeddings

    def _similarities(self, outputs: Tensor) -> Tensor:
        return outputs.float() @ self._keys().T

    def _logits(self, outputs: Tensor) -> Tensor:
        # Score-based losses see the unit-normalised output so the learnable scale alone sets
        # the temperature; eps keeps a zero output finite.
        z = F.normalize(outputs.float(), dim=1, eps=1e-12) if self.normalize else outputs.float()
        logits = self.log_scale.exp() * (z @ self._keys().T)
        return logits if self.bias is None else logits + self.bias

    def loss(self, outputs: Tensor, targets: Tensor) -> Tensor:
        kind = self.loss_kind
        if kind == "cosine":
            return self.criterion(outputs, self.targets(targets))
        if kind == "softmax":
            return normalized_softmax_loss(self._logits(outputs), targets)
        if kind == "cosine+softmax":
            return self.criterion(outputs, self.targets(targets)) + normalized_softmax_loss(
                self._logits(outputs), targets
            )
        if kind == "bce":
            return F.binary_cross_entropy_with_logits(self._logits(outputs), targets.float())
        # "mse": regress onto the raw sum (its scale grows with the number of labels).
        return F.mse_loss(outputs.float(), targets.float() @ self.embeddings)

    def scores(self, outputs: Tensor) -> Tensor:
        if self.loss_kind in ("softmax", "cosine+softmax", "bce"):
            return self._logits(outputs)
        s = self._similarities(outputs)
        return s if self.bias is None else s + self.bias


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
    ) -> None:
        super().__init__()
        if embeddings.dim() != 2:
            raise ValueError(f"embeddings must be (L, d), got shape {tuple(embeddings.shape)}")
        if similarity not in ("dot", "cosine"):
            raise ValueError(f"similarity must be 'dot' or 'cosine', got {similarity!r}")
        if loss not in ("bce", "softmax"):
            raise ValueError(f"loss must be 'bce' or 'softmax', got {loss!r}")
        self.loss_kind = loss
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
            loss = normalized_softmax_loss(logits, targets)
        else:
            loss = F.binary_cross_entropy_with_logits(logits, targets.float())
        if self.cosine_weight:
            target = F.normalize(targets.float() @ self.embeddings, dim=1, eps=1e-12)
            loss = loss + self.cosine_weight * self.criterion(outputs[:, : self.dim], target)
        return loss
