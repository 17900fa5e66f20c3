"""The interface every head implements, so training and evaluation never branch on the head.

* ``head.loss(outputs, targets)``: scalar loss from the outputs and a multi-hot target
  batch (B, L) (float or bool, dense);
* ``head.scores(outputs)``: one score per label (B, L), higher is better, for ranking;
* ``head.initialize(label_counts, n_samples)``: data-dependent initialisation before training;
* ``head.prepare(Y)``: training statistics the loss reads (not saved with the model);
* ``head.lr_scales()``: learning-rate multipliers of some of its parameters;
* ``head.diagnostics()``: scalars training records with each evaluation (a learned temperature).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from torch import Tensor, nn

__all__ = ["MultiLabelHead", "check_label_basis"]


class MultiLabelHead(nn.Module):
    """Base class: a head over ``n_labels`` labels on ``in_features``-dimensional features."""

    in_features: int
    n_labels: int

    def loss(self, outputs: Tensor, targets: Tensor) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def scores(self, outputs: Tensor) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def initialize(self, label_counts: np.ndarray, n_samples: int) -> None:
        """Set data-dependent initial values from the training label counts (L,) of n samples.

        Called once by training before the first step (never on resume or load); heads
        without such an initialisation keep their construction-time values.
        """

    def checked_counts(self, label_counts: np.ndarray) -> np.ndarray:
        """``label_counts`` as float64 (L,), refused unless there is one count per label."""
        counts = np.asarray(label_counts, dtype=np.float64)
        if counts.shape != (self.n_labels,):
            raise ValueError(f"label_counts must have shape ({self.n_labels},), got {counts.shape}")
        return counts

    def prepare(self, Y: sp.csr_matrix) -> None:
        """Keep statistics of the training labels Y (n, L) that :meth:`loss` reads.

        Called by training before every run, fresh or resumed (unlike :meth:`initialize`);
        what it keeps is not a parameter and is not saved with the model. Heads whose loss
        needs nothing beyond the batch ignore it.
        """

    def lr_scales(self) -> dict[str, float]:
        """Learning-rate multipliers by parameter name (relative to the head); the rest get 1.

        Training puts each multiplied parameter in its own optimizer group at ``lr * scale``.
        """
        return {}

    def diagnostics(self) -> dict[str, float]:
        """Scalars worth following through training, such as a learned temperature; none here.

        Training records them with each evaluation, under ``"head"`` in ``metrics.jsonl``.
        """
        return {}


def check_label_basis(embeddings: Tensor, similarity: str) -> None:
    """The checks every head built on an (L, d) label basis makes of its arguments."""
    if embeddings.dim() != 2:
        raise ValueError(f"embeddings must be (L, d), got shape {tuple(embeddings.shape)}")
    if similarity not in ("dot", "cosine"):
        raise ValueError(f"similarity must be 'dot' or 'cosine', got {similarity!r}")
