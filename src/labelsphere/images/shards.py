"""Frozen backbone features of images streamed from WebDataset tar shards.

:func:`extract_shard_features` is :func:`~labelsphere.images.featurize.extract_features` for
images inside shards (format: :mod:`labelsphere.data.readers.webdataset`) instead of files:
each image's bytes are decoded by :func:`~labelsphere.images.loading.decode_image` (the same
size, pixel and SVG complexity/time limits; the member size is capped from its tar header
before it is read), through the backbone's eval transform, in batches, with a tqdm bar
(images, rate, ETA). Features go into the same :class:`~labelsphere.images.cache.FeatureCache`
namespace, keyed by the sha256 of the image bytes: an image is one cache entry whether it was
read from a file or from a shard, so the features equal those of the same files and either
path reuses what the other computed. Identical images are computed once (per DataLoader
worker). Images that fail to decode are skipped with an
:class:`~labelsphere.images.dataset.ImageSkippedWarning` naming ``shard:member``; a shard that
breaks the format raises :class:`~labelsphere.data.readers.webdataset.ShardFormatError`.

With ``num_workers > 0`` each DataLoader worker streams its own shards (shard ``i`` goes to
worker ``i % num_workers``, as WebDataset splits them); samples are put back in shard order at
the end, so the result does not depend on the number of workers.

:func:`shard_image_features` gives a training-ready dataset (``X`` the features).
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info
from tqdm import tqdm

from labelsphere.data import MultiLabelDataset
from labelsphere.data.dataset import encode_label_lists
from labelsphere.data.readers.webdataset import (
    count_shard_samples,
    image_shard_files,
    iter_image_shards,
)
from labelsphere.device import resolve_device
from labelsphere.images.cache import FeatureCache, feature_cache_spec
from labelsphere.images.dataset import ImageSkippedWarning, image_transform
from labelsphere.images.loading import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_PIXELS,
    DEFAULT_SVG_SIZE,
    DEFAULT_SVG_TIMEOUT,
    ImageError,
    decode_image,
)
from labelsphere.labels import LabelVocabulary, UnknownPolicy

__all__ = ["ShardFeatures", "extract_shard_features", "shard_image_features"]


class ShardFeatures(NamedTuple):
    """What :func:`extract_shard_features` returns, samples in shard order.

    Attributes:
        features: (n, F) float16; zero rows where the image could not be decoded.
        ok: (n,) bool, False for images that could not be decoded.
        labels: n lists of label names (from each sample's JSON).
        keys: n sample keys.
        ids: n sample ids (the JSON ``"id"``, or the key when there is none).
    """

    features: np.ndarray
    ok: np.ndarray
    labels: list[list[str]]
    keys: list[str]
    ids: list[str]


# One streamed sample: (shard index, position in shard, key, id, labels, sha256, image), the
# image a (3, H, W) tensor, an ImageError, or None when it is not decoded (cached, duplicate).
_Item = tuple[int, int, str, str, list[str], str, Any]


class _ShardStream(IterableDataset):
    def __init__(
        self,
        files: list[Path],
        transform: Any,
        known: set[str],
        max_pixels: int,
        svg_size: int,
        max_bytes: int | None,
        svg_timeout: float | None,
    ) -> None:
        self.files, self.transform, self.known = files, transform, known
        self.max_pixels, self.svg_size = max_pixels, svg_size
        self.max_bytes, self.svg_timeout = max_bytes, svg_timeout

    def __iter__(self) -> Iterator[_Item]:
        info = get_worker_info()
        wid, nw = (0, 1) if info is None else (info.id, info.num_workers)
        seen: set[str] = set()
        for si in range(wid, len(self.files), nw):
            for pos, s in enumerate(iter_image_shards([self.files[si]], max_bytes=self.max_bytes)):
                digest = hashlib.sha256(s.data).hexdigest()
                image: Any = None
                if digest not in self.known and digest not in seen:
                    try:
                        pil = decode_image(
                            s.data,
                            f"{s.shard}:{s.key}.{s.ext}",
                            max_pixels=self.max_pixels,
                            svg_size=self.svg_size,
                            svg_timeout=self.svg_timeout,
                        )
                        image = self.transform(pil)
                        seen.add(digest)
                    except ImageError as e:
                        image = e
                sid = s.id if s.id is not None else s.key
                yield si, pos, s.key, sid, s.labels, digest, image


def _collate(items: list[_Item]) -> tuple[list[_Item], torch.Tensor]:
    """The items with their image replaced by ``True`` (a row of the stacked tensor, in item
    order), the ``ImageError`` or ``None`` (not decoded), and the tensors stacked."""
    tensors = [it[6] for it in items if isinstance(it[6], torch.Tensor)]
    images = torch.stack(tensors) if tensors else torch.empty(0)
    out = [(*it[:6], True if isinstance(it[6], torch.Tensor) else it[6]) for it in items]
    return out, images


def extract_shard_features(
    backbone: Any,
    shards: str | Path | Iterable[str | Path],
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
) -> ShardFeatures:
    """Pooled backbone features of the images in WebDataset tar shards (module docstring).

    Args:
        backbone: a :class:`~labelsphere.images.backbones.Backbone`, as for
            :func:`~labelsphere.images.featurize.extract_features`.
        shards: shard files, brace patterns or directories
            (:func:`~labelsphere.data.readers.webdataset.image_shard_files`).
        cache_dir: reuse and store features here (the feature cache of ``extract_features``:
            same namespace, same keys); ``None``: no cache.
        batch_size, num_workers: of the DataLoader that decodes the images (workers split
            the shards).
        progress: a tqdm bar over the images (its total from the shards' tar headers).
        device, max_pixels, svg_size, max_bytes, svg_timeout: as in ``extract_features``;
            ``max_bytes`` caps each image member, from its tar header.

    Returns:
        :class:`ShardFeatures` ``(features, ok, labels, keys, ids)``, in shard order.

    Raises:
        ShardFormatError: a shard breaks the format (truncated, no labels, bad JSON...).
    """
    files = image_shard_files(shards)
    n_feat = int(backbone.num_features)
    cache = known = None
    if cache_dir is not None:
        cache = FeatureCache(cache_dir, feature_cache_spec(backbone, svg_size))
        known = cache.index()
    stream = _ShardStream(
        files,
        image_transform(backbone.data_config, training=False),
        set(known or ()),
        max_pixels,
        svg_size,
        max_bytes,
        svg_timeout,
    )
    device = resolve_device(device)
    backbone.to(device)
    was_training = backbone.training
    backbone.eval()
    loader = DataLoader(
        stream,
        batch_size=batch_size,
        num_workers=min(num_workers, len(files)),
        collate_fn=_collate,
        pin_memory=device.type == "cuda",
    )
    records: list[tuple] = []  # (shard index, position, key, id, labels, sha256, ImageError|None)
    computed: dict[str, np.ndarray] = {}
    total = count_shard_samples(files) if progress else None
    bar = tqdm(
        total=total, desc="shard features", unit="img", disable=not progress, dynamic_ncols=True
    )
    try:
        with torch.inference_mode():
            for items, images in loader:
                bar.update(len(items))
                records.extend((*it[:6], None if it[6] is True else it[6]) for it in items)
                if not len(images):
                    continue
                x = images.to(device, non_blocking=True)
                out = backbone(x).float().cpu().numpy().astype(np.float16)
                hashes = [it[5] for it in items if it[6] is True]
                for h, row in zip(hashes, out, strict=True):
                    computed[h] = row
                if cache is not None:
                    cache.put(hashes, out)
    finally:
        bar.close()
        backbone.train(was_training)

    records.sort(key=lambda r: (r[0], r[1]))
    n = len(records)
    features = np.zeros((n, n_feat), dtype=np.float16)
    ok = np.zeros(n, dtype=bool)
    wanted = [r[5] for r in records if r[6] is None and r[5] not in computed]
    hits = cache.get(wanted) if cache is not None and wanted else {}
    for i, r in enumerate(records):
        err = r[6]
        if err is not None:
            warnings.warn(
                f"skipped image {err.path}: {err.reason}", ImageSkippedWarning, stacklevel=2
            )
            continue
        row = computed.get(r[5])
        if row is None:
            row = hits.get(r[5])
        if row is None:  # a cache entry removed while we ran: not computed here
            warnings.warn(
                f"skipped image {files[r[0]]}:{r[2]}: its feature cache entry disappeared",
                ImageSkippedWarning,
                stacklevel=2,
            )
            continue
        features[i] = row
        ok[i] = True
    return ShardFeatures(
        features, ok, [r[4] for r in records], [r[2] for r in records], [r[3] for r in records]
    )


def shard_image_features(
    shards: str | Path | Iterable[str | Path],
    backbone: Any,
    cache_dir: str | Path | None = None,
    vocabulary: LabelVocabulary | None = None,
    unknown: UnknownPolicy = "error",
    min_count: int = 1,
    name: str | None = None,
    **kwargs: Any,
) -> MultiLabelDataset:
    """Frozen mode from shards: a dataset whose ``X`` is the backbone's features (float32).

    Images that cannot be decoded are dropped (``info["skipped_images"]`` lists their keys).
    Labels are encoded into ``vocabulary`` or one built from the shards (``min_count``), as
    :func:`~labelsphere.data.readers.webdataset.read_image_shards` does. ``kwargs`` go to
    :func:`extract_shard_features`.
    """
    res = extract_shard_features(backbone, shards, cache_dir, **kwargs)
    keep = np.flatnonzero(res.ok)
    labels = [res.labels[i] for i in keep.tolist()]
    Y, vocab = encode_label_lists(labels, vocabulary, unknown, min_count)
    info = {
        "shards": [str(p) for p in image_shard_files(shards)],
        "skipped_images": [res.keys[i] for i in np.flatnonzero(~res.ok).tolist()],
        "backbone": getattr(backbone, "name", type(backbone).__name__),
        "min_count": min_count,
    }
    return MultiLabelDataset(
        X=res.features[keep].astype(np.float32),
        Y=Y,
        vocabulary=vocab,
        name=name or "webdataset",
        ids=[res.ids[i] for i in keep.tolist()],
        info=info,
    )
