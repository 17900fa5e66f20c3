"""Image datasets that never raise on a bad file, their batches and the timm transforms.

A sample that fails to load is not an exception: ``dataset[i]`` returns the
:class:`~labelsphere.images.loading.ImageError` in place of the tensor, :func:`collate_images`
drops it from the batch and lists it in ``ImageBatch.failed``, and :meth:`ImageDataset.record`
(called in the main process, so it also counts failures that happened in DataLoader worker
processes) warns with an :class:`ImageSkippedWarning` naming the file and appends it to
``dataset.skipped``. :meth:`ImageDataset.batches` does all of that for you.

:func:`image_transform` is timm's transform for a backbone: PIL RGB image -> (3, H, W).
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import scipy.sparse as sp
import torch
from PIL import Image
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from labelsphere.images.loading import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_PIXELS,
    DEFAULT_SVG_SIZE,
    DEFAULT_SVG_TIMEOUT,
    ImageError,
    decode_image,
    read_image_file,
)

__all__ = [
    "ImageBatch",
    "ImageDataset",
    "ImageSkippedWarning",
    "SkippedImage",
    "collate_images",
    "image_transform",
]


class ImageSkippedWarning(UserWarning):
    """An image that failed to load was dropped from a batch."""


# ====================================================================== transforms
def image_transform(
    config: Mapping[str, Any] | Any, training: bool = False
) -> Callable[[Image.Image], Tensor]:
    """timm's transform for a backbone: PIL RGB image -> float tensor (3, H, W).

    Args:
        config: a ``Backbone`` (its ``data_config`` is used) or a timm data config mapping.
        training: timm's training augmentation (random resized crop, flip, ...) instead of
            the deterministic eval transform (resize, centre crop, normalise).
    """
    from timm.data import create_transform

    data_config = getattr(config, "data_config", config)
    return create_transform(**dict(data_config), is_training=training)


# ====================================================================== dataset
class SkippedImage(NamedTuple):
    """An image that failed to load: its dataset index, its file and why."""

    index: int
    path: str
    reason: str


@dataclass
class ImageBatch:
    """A collated batch; samples that failed to load are not in it.

    Attributes:
        images: (B, 3, H, W) float32, or an empty tensor when every sample failed.
        labels: (B, L) float32 multi-hot, or ``None`` for a dataset without labels.
        indices: (B,) int64 dataset positions of the rows.
        failed: the ``ImageError`` of each sample dropped from this batch, with its index.
        hashes: sha256 of each row's file bytes (datasets with ``content_hash=True``).
    """

    images: Tensor
    labels: Tensor | None
    indices: Tensor
    failed: list[tuple[int, ImageError]] = field(default_factory=list)
    hashes: list[str] | None = None

    def __len__(self) -> int:
        return len(self.indices)

    def pin_memory(self) -> ImageBatch:
        # Called by DataLoader(pin_memory=True) on custom batch types.
        self.images = self.images.pin_memory()
        if self.labels is not None:
            self.labels = self.labels.pin_memory()
        return self


def collate_images(samples: Sequence[tuple]) -> ImageBatch:
    """Collate ``ImageDataset`` samples, dropping those that failed (listed in ``failed``)."""
    good = [s for s in samples if isinstance(s[0], Tensor)]
    failed = [(int(s[2]), s[0]) for s in samples if not isinstance(s[0], Tensor)]
    images = torch.stack([s[0] for s in good]) if good else torch.empty(0)
    labels = None
    if samples and samples[0][1] is not None:
        n_labels = samples[0][1].shape[0]
        labels = torch.stack([s[1] for s in good]) if good else torch.empty(0, n_labels)
    indices = torch.tensor([int(s[2]) for s in good], dtype=torch.int64)
    hashes = [s[3] for s in good] if samples and len(samples[0]) > 3 else None
    return ImageBatch(images, labels, indices, failed, hashes)


class ImageDataset(Dataset):
    """Image files (and optional multi-hot labels) as a torch ``Dataset`` that never raises
    on a bad image.

    ``dataset[i]`` is ``(image, labels, i)``: ``image`` the transformed tensor (3, H, W), or the
    :class:`ImageError` that prevented loading it; ``labels`` the row ``Y[i]`` as a dense
    float32 tensor (L,), or ``None`` without ``Y``. With ``content_hash=True`` a fourth item,
    the sha256 of the file's bytes (the bytes that were decoded), is appended.

    Use :func:`collate_images` as the DataLoader's ``collate_fn`` and pass each batch to
    :meth:`record` in the consuming process (or iterate :meth:`batches`, which does both):
    failures are then warned about and counted in ``skipped``, also with ``num_workers > 0``.

    Args:
        paths: image files, n of them.
        Y: (n, L) multi-hot labels (CSR) or ``None``.
        transform: PIL image -> tensor, e.g. ``image_transform(backbone)``.
        max_pixels, svg_size, max_bytes, svg_timeout: as in :func:`load_image` (a path that
            is not a regular file, e.g. a FIFO or ``/dev/zero``, or is over ``max_bytes`` is
            skipped unread).
        content_hash: also return each file's content sha256.

    Attributes:
        skipped: ``SkippedImage(index, path, reason)`` for every failure recorded so far (a
            file that fails in two epochs is listed twice; clear it between epochs if you
            want per-epoch counts).
    """

    def __init__(
        self,
        paths: Sequence[str | Path],
        Y: sp.spmatrix | np.ndarray | None,
        transform: Callable[[Image.Image], Tensor],
        *,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        svg_size: int = DEFAULT_SVG_SIZE,
        content_hash: bool = False,
        max_bytes: int | None = DEFAULT_MAX_BYTES,
        svg_timeout: float | None = DEFAULT_SVG_TIMEOUT,
    ) -> None:
        self.paths = [str(p) for p in paths]
        if Y is not None:
            Y = sp.csr_matrix(Y)
            if Y.shape[0] != len(self.paths):
                raise ValueError(f"Y has {Y.shape[0]} rows but there are {len(self.paths)} paths")
        self.Y = Y
        self.transform = transform
        self.max_pixels = max_pixels
        self.svg_size = svg_size
        self.content_hash = content_hash
        self.max_bytes = max_bytes
        self.svg_timeout = svg_timeout
        self.skipped: list[SkippedImage] = []

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> tuple:
        path = self.paths[i]
        digest = None
        image: Tensor | ImageError
        try:
            data = read_image_file(path, self.max_bytes)
        except ImageError as e:
            image = e
        else:
            digest = hashlib.sha256(data).hexdigest() if self.content_hash else None
            try:
                pil = decode_image(
                    data,
                    path,
                    max_pixels=self.max_pixels,
                    svg_size=self.svg_size,
                    svg_timeout=self.svg_timeout,
                )
                image = self.transform(pil)
            except ImageError as e:
                image = e
        labels = None
        if self.Y is not None:
            labels = torch.from_numpy(self.Y[i].toarray().ravel().astype(np.float32))
        if self.content_hash:
            return image, labels, i, digest
        return image, labels, i

    def record(self, batch: ImageBatch) -> ImageBatch:
        """Warn about and count the failures of a collated batch; returns the batch."""
        for index, err in batch.failed:
            self.skipped.append(SkippedImage(index, err.path, err.reason))
            warnings.warn(
                f"skipped image {err.path}: {err.reason}",
                ImageSkippedWarning,
                stacklevel=2,
            )
        return batch

    def loader(
        self, batch_size: int = 32, shuffle: bool = False, num_workers: int = 0, **kwargs: Any
    ) -> DataLoader:
        """A ``DataLoader`` over this dataset with :func:`collate_images`."""
        return DataLoader(
            self,
            batch_size=batch_size,
            shuffle=shuffle,
            num_workers=num_workers,
            collate_fn=collate_images,
            **kwargs,
        )

    def batches(
        self,
        batch_size: int = 32,
        shuffle: bool = False,
        num_workers: int = 0,
        keep_empty: bool = False,
        **kwargs: Any,
    ) -> Iterator[ImageBatch]:
        """One epoch of collated batches, failures recorded; empty batches are dropped unless
        ``keep_empty``. ``kwargs`` go to the ``DataLoader``."""
        for batch in self.loader(batch_size, shuffle, num_workers, **kwargs):
            self.record(batch)
            if len(batch) or keep_empty:
                yield batch
