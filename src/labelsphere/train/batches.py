"""Mini-batches for the loop: in-memory features or decoded images, and mixup on a batch.

The order of epoch e is a pure function of (seed, e), which is what makes resuming
mid-epoch exact.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor

from labelsphere.heads.targets import csr_batch, mix

__all__ = [
    "FeatureBatches",
    "ImageBatches",
    "epoch_batches",
    "input_tensor",
    "mixup_batch",
    "steps_per_epoch",
]


def steps_per_epoch(n: int, batch_size: int) -> int:
    """Equal-sized steps: the ragged last batch is dropped, unless the data is under a batch."""
    return max(1, n // batch_size)


def epoch_batches(
    n: int, seed: int, epoch: int, batch_size: int, skip: int = 0, rank: int = 0, world: int = 1
) -> list[np.ndarray]:
    """The sample indices of each batch of epoch ``epoch``, from batch ``skip`` on.

    The order is a pure function of (seed, epoch), which makes resuming mid-epoch exact; with
    ``world`` processes, each takes its contiguous part (``rank``) of every global batch.
    """
    order = np.random.default_rng([seed, epoch]).permutation(n)
    return [
        np.array_split(order[b * batch_size : (b + 1) * batch_size], world)[rank]
        for b in range(skip, steps_per_epoch(n, batch_size))
    ]


def input_tensor(x: np.ndarray | sp.spmatrix) -> Tensor:
    """Rows of inputs as the network takes them: uint8 renders stay uint8, the rest float32.

    Shapes: (B, ...) -> (B, ...), CSR rows densified. The ``PixelCNN`` scales uint8 pixels on
    the device it runs on, so a batch of 224 px renders is copied there as 6.4 MB of bytes
    instead of 25.7 MB of floats, without a host-side conversion; the values it computes are
    the same, since every uint8 is exact in float32.
    """
    if sp.issparse(x):
        x = x.toarray()
    if isinstance(x, np.ndarray) and x.dtype == np.uint8:
        return torch.from_numpy(np.ascontiguousarray(x))
    return torch.from_numpy(np.asarray(x, dtype=np.float32))


class FeatureBatches:
    """Mini-batches of (features, multi-hot labels) from in-memory arrays.

    Features may be dense or CSR; both become dense float32 tensors per batch (a bag of words
    of 2k features x 128 rows is 1 MB). Labels become a dense (B, L) float32 tensor, or with
    ``sparse_targets`` a ``torch.sparse_csr`` one built from the CSR rows (what a million
    labels need; see ``labelsphere.heads.targets``). The shuffling order of epoch e is a pure
    function of (seed, e), which is what makes resuming mid-epoch exact. Under
    ``torch.distributed`` each of ``world`` processes takes its own contiguous part of every
    global batch, so the global batches are those of one process.
    """

    def __init__(
        self, X: np.ndarray | sp.csr_matrix, Y: sp.csr_matrix, sparse_targets: bool = False
    ) -> None:
        if X.shape[0] != Y.shape[0]:
            raise ValueError(f"X has {X.shape[0]} rows but Y has {Y.shape[0]}")
        # uint8 renders stay uint8 (a quarter of the memory), in memory and in batches.
        keep = sp.issparse(X) or X.dtype == np.uint8
        self.X = X if keep else np.ascontiguousarray(X, dtype=np.float32)
        self.Y = sp.csr_matrix(Y)
        self.n = X.shape[0]
        self.sparse_targets = sparse_targets

    def rows(self, idx: np.ndarray) -> tuple[Tensor, Tensor]:
        x = input_tensor(self.X[idx])
        if self.sparse_targets:
            return x, csr_batch(self.Y[idx])
        return x, torch.from_numpy(self.Y[idx].toarray().astype(np.float32))

    def epoch(
        self,
        seed: int,
        epoch: int,
        batch_size: int,
        skip: int = 0,
        rank: int = 0,
        world: int = 1,
    ) -> Iterator[tuple[Tensor, Tensor]]:
        for batch in epoch_batches(self.n, seed, epoch, batch_size, skip, rank, world):
            yield self.rows(batch)

    def steps_per_epoch(self, batch_size: int) -> int:
        return steps_per_epoch(self.n, batch_size)


class ImageBatches:
    """Mini-batches of (augmented images, multi-hot labels) decoded from files by a DataLoader.

    Same contract as ``FeatureBatches``: the order of epoch e is a pure function of (seed, e).
    Images that fail to load are dropped from their batch, warned about and counted in
    ``skipped`` (an epoch never stops on a bad file).
    """

    def __init__(self, paths: list[str], Y: sp.csr_matrix, data_config: dict, num_workers: int = 0):
        from labelsphere.images import ImageDataset, image_transform

        self.dataset = ImageDataset(paths, Y, image_transform(data_config, training=True))
        self.n = len(paths)
        self.num_workers = num_workers

    @property
    def skipped(self) -> list:
        return self.dataset.skipped

    def epoch(
        self,
        seed: int,
        epoch: int,
        batch_size: int,
        skip: int = 0,
        rank: int = 0,
        world: int = 1,
    ) -> Iterator[tuple[Tensor, Tensor]]:
        from torch.utils.data import DataLoader

        from labelsphere.images import collate_images

        batches = [
            b.tolist() for b in epoch_batches(self.n, seed, epoch, batch_size, skip, rank, world)
        ]
        # Augmentation randomness comes from torch's RNG, which checkpoints save and restore.
        loader = DataLoader(
            self.dataset,
            batch_sampler=batches,
            num_workers=self.num_workers,
            collate_fn=collate_images,
        )
        for batch in loader:
            self.dataset.record(batch)
            if len(batch):
                yield batch.images, batch.labels

    def steps_per_epoch(self, batch_size: int) -> int:
        return steps_per_epoch(self.n, batch_size)


def mixup_batch(x: Tensor, y: Tensor, alpha: float) -> tuple[Tensor, Tensor]:
    """Mixup (Zhang et al., 2018): ``lam * (x, y) + (1 - lam) * (x, y)[perm]``, lam ~ Beta(a, a).

    Shapes: x (B, ...) float, y (B, L) multi-hot, dense or sparse CSR -> the same shapes and
    layout, y now soft. Draws from torch's global generator (saved in checkpoints), so resumed
    runs mix identically.
    """
    lam = float(torch.distributions.Beta(alpha, alpha).sample())
    perm = torch.randperm(x.shape[0])
    return lam * x + (1.0 - lam) * x[perm], mix(y, lam, perm)
