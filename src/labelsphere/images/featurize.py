"""Image files to backbone features: :func:`extract_features` (arrays) and
:func:`image_features` (datasets, for training on frozen features).

Features are the backbone's pooled features (n, F), computed in eval mode without gradients
through the eval transform, stored as float16, with an optional on-disk cache
(:class:`~labelsphere.images.cache.FeatureCache`). Images that cannot be loaded are skipped
with an :class:`~labelsphere.images.dataset.ImageSkippedWarning`, never raised.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from labelsphere.data import MultiLabelDataset
from labelsphere.device import resolve_device
from labelsphere.images.backbones import Backbone
from labelsphere.images.cache import FeatureCache, feature_cache_spec
from labelsphere.images.dataset import ImageDataset, image_transform
from labelsphere.images.loading import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_PIXELS,
    DEFAULT_SVG_SIZE,
    DEFAULT_SVG_TIMEOUT,
    ImageError,
    image_file_sha256,
)

__all__ = ["extract_features", "image_features"]


def extract_features(
    backbone: Any,
    paths: Sequence[str | Path],
    cache_dir: str | Path | None = None,
    batch_size: int = 64,
    num_workers: int = 0,
    progress: bool = True,
    *,
    device: str | torch.device | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    svg_size: int = DEFAULT_SVG_SIZE,
    max_bytes: int | None = DEFAULT_MAX_BYTES,
    svg_timeout: float | None = DEFAULT_SVG_TIMEOUT,
) -> tuple[np.ndarray, np.ndarray]:
    """Pooled backbone features of image files, through the eval transform, without gradients.

    Args:
        backbone: a :class:`~labelsphere.images.backbones.Backbone` (anything with ``name``,
            ``weights_id``, ``num_features``, ``data_config`` mapping (B, 3, H, W) -> (B, F)).
        paths: n image files.
        cache_dir: reuse and store features here (layout: :mod:`labelsphere.images.cache`);
            ``None``: no cache. Files with identical bytes are computed once.
        batch_size, num_workers: of the DataLoader that decodes the images.
        progress: show a tqdm bar (images, rate, ETA) over the images being computed.
        device: where to run; default CUDA if available, else CPU. The backbone is moved there.
        max_pixels, svg_size, max_bytes, svg_timeout: as in
            :func:`~labelsphere.images.loading.load_image`. A path that is not a regular file
            (FIFO, device, directory) or is over ``max_bytes`` is neither hashed for the cache
            nor read: it is skipped like any unreadable image.

    Returns:
        ``(features, ok)``: features (n, F) float16 (zero rows where loading failed) and
        ok (n,) bool, False for images that could not be loaded (each warned about with an
        :class:`~labelsphere.images.dataset.ImageSkippedWarning`).
    """
    paths = [str(p) for p in paths]
    n, n_feat = len(paths), int(backbone.num_features)
    features = np.zeros((n, n_feat), dtype=np.float16)
    ok = np.zeros(n, dtype=bool)
    cache = None
    if cache_dir is not None:
        cache = FeatureCache(cache_dir, feature_cache_spec(backbone, svg_size))
        digests: list[str | None] = []
        for p in paths:
            try:
                digests.append(image_file_sha256(p, max_bytes))
            except ImageError:  # unreadable: it fails to load later, and is warned about then
                digests.append(None)
        hits = cache.get([d for d in digests if d is not None])
        todo_by_hash: dict[str | None, list[int]] = {}
        for i, d in enumerate(digests):
            if d in hits:
                features[i] = hits[d]
                ok[i] = True
            elif d is None:
                todo_by_hash.setdefault(None, []).append(i)  # unreadable: fails and is warned
            else:
                todo_by_hash.setdefault(d, []).append(i)
        # One representative path per distinct content (duplicates are filled from it).
        todo = sorted(
            [idx[0] for d, idx in todo_by_hash.items() if d is not None]
            + todo_by_hash.get(None, [])
        )
        copies = {idx[0]: idx[1:] for d, idx in todo_by_hash.items() if d is not None}
    else:
        todo = list(range(n))
        copies = {}
    if not todo:
        return features, ok

    device = resolve_device(device)
    backbone.to(device)
    was_training = backbone.training
    backbone.eval()
    dataset = ImageDataset(
        [paths[i] for i in todo],
        None,
        image_transform(backbone.data_config, training=False),
        max_pixels=max_pixels,
        svg_size=svg_size,
        content_hash=cache is not None,
        max_bytes=max_bytes,
        svg_timeout=svg_timeout,
    )
    bar = tqdm(
        total=len(todo), desc="image features", unit="img", disable=not progress, dynamic_ncols=True
    )
    try:
        with torch.inference_mode():
            for batch in dataset.batches(
                batch_size,
                num_workers=num_workers,
                keep_empty=True,
                pin_memory=device.type == "cuda",
            ):
                bar.update(len(batch) + len(batch.failed))
                if not len(batch):
                    continue
                x = batch.images.to(device, non_blocking=True)
                out = backbone(x).float().cpu().numpy().astype(np.float16)
                rows = np.asarray([todo[j] for j in batch.indices.tolist()], dtype=np.int64)
                features[rows] = out
                ok[rows] = True
                for r in rows.tolist():
                    for c in copies.get(r, ()):
                        features[c] = features[r]
                        ok[c] = True
                if cache is not None:
                    # Keyed by the hash of the bytes actually decoded (not the pre-scan's),
                    # so a file edited meanwhile is stored under its new content.
                    cache.put(batch.hashes, out)
    finally:
        bar.close()
        backbone.train(was_training)
    return features, ok


def image_features(
    datasets: list[MultiLabelDataset],
    backbone: Backbone,
    cache_dir: str | Path | None = None,
    batch_size: int = 64,
    num_workers: int = 0,
    progress: bool = True,
) -> list[MultiLabelDataset]:
    """Frozen mode: replace each dataset's image paths by the backbone's pooled features.

    Features come from (and go to) the fp16 cache in ``cache_dir``; images that cannot be
    loaded are dropped, and ``info["skipped_images"]`` lists them. Returns new datasets with
    ``X`` float32 (n', F).
    """
    out = []
    for ds in datasets:
        if not isinstance(ds.X, list):
            raise ValueError(f"{ds.name}: expected image paths in X")
        feats, ok = extract_features(
            backbone,
            ds.X,
            cache_dir=cache_dir,
            batch_size=batch_size,
            num_workers=num_workers,
            progress=progress,
        )
        keep = np.flatnonzero(ok)
        sub = ds.subset(keep)
        skipped = [ds.X[i] for i in np.flatnonzero(~ok)]
        out.append(
            dataclasses.replace(
                sub,
                X=feats[keep].astype(np.float32),
                info={**(sub.info or {}), "skipped_images": skipped, "backbone": backbone.name},
            )
        )
    return out
