"""Images: safe loading, a fault-tolerant dataset, transforms and cached feature extraction.

Loading (:func:`load_image`)
    JPEG, PNG, GIF, BMP, WebP, TIFF and PPM (:data:`RASTER_FORMATS`, decoded by Pillow), plus
    SVG rasterised by cairosvg onto a white background. Every problem (missing, corrupt or truncated file, decompression bomb, unsafe
    SVG) raises :class:`ImageError` naming the file and the reason.

    * Decompression bombs: the declared size is checked against ``max_pixels`` right after
      ``Image.open`` (which only reads the header) and before any pixel is decoded; the limit
      is an argument, Pillow's global ``Image.MAX_IMAGE_PIXELS`` is left alone (Pillow's own
      check still refuses images over twice that global).
    * Transparent images are composited onto white, like the SVGs.
    * SVG: DTDs with an internal subset and entity declarations are refused, compressed SVG
      (svgz) too, and the XML parser (defusedxml, ``unsafe=False``) forbids entities and
      external references as well. Every URL the drawing references (``<image href>``,
      ``<use href>``, CSS imports...) goes through a fetcher that allows ``data:`` URLs only
      and returns an empty drawing for anything else: no file or network is ever read.

Datasets (:class:`ImageDataset`, :func:`collate_images`)
    A sample that fails to load is not an exception: ``dataset[i]`` returns the
    :class:`ImageError` in place of the tensor, :func:`collate_images` drops it from the batch
    and lists it in ``ImageBatch.failed``, and :meth:`ImageDataset.record` (called in the main
    process, so it also counts failures that happened in DataLoader worker processes) warns
    with an :class:`ImageSkippedWarning` naming the file and appends it to
    ``dataset.skipped``. :meth:`ImageDataset.batches` does all of that for you.

Features (:func:`extract_features`)
    Pooled backbone features of a list of image files, in eval mode without gradients, as
    float16, with an optional on-disk cache.

Feature cache layout
    ``cache_dir/<namespace>/`` holds the features of one (backbone name, ``weights_id``,
    preprocessing) combination; ``<namespace>`` is the first 16 hex digits of the sha256 of
    that description, which is also written, readable, to ``cache_dir/<namespace>/
    namespace.json``. Inside, each computed batch is one append-only shard
    ``<id>.safetensors`` holding ``features`` (k, F) float16; the shard's safetensors header
    metadata lists the sha256 of each image file's *bytes* (row order). An image is looked up
    by the hash of its current content, so a renamed or copied file is a cache hit and an
    edited one is a miss. There is no separate index file to keep consistent: the index is
    rebuilt from the shard headers (a few kB each, read without loading the arrays), so
    ~10k images are ~160 shards of 64 and concurrent writers never conflict (a shard's name
    is derived from its hashes and written atomically). Failed images are not cached. A
    corrupt shard is ignored with a warning and its images are recomputed.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
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
from tqdm import tqdm

from labelsphere.artifacts import FormatError, save_arrays, write_json

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "RASTER_FORMATS",
    "FeatureCache",
    "ImageBatch",
    "ImageDataset",
    "ImageError",
    "ImageSkippedWarning",
    "SkippedImage",
    "collate_images",
    "decode_image",
    "extract_features",
    "image_transform",
    "load_image",
]

# Pillow's default Image.MAX_IMAGE_PIXELS (a 1 GiB RGB image at 3 bytes per pixel ~ 89.5M px).
DEFAULT_MAX_PIXELS = 1024 * 1024 * 1024 // 4 // 3
DEFAULT_SVG_SIZE = 256
# Raster formats Pillow may decode. Explicit so that e.g. EPS (which Pillow hands to a
# Ghostscript subprocess) is never tried on an untrusted file. ("JPEG" also opens
# multi-picture MPO files, which Pillow's JPEG plugin returns as MPO images.)
RASTER_FORMATS: tuple[str, ...] = ("JPEG", "PNG", "GIF", "BMP", "WEBP", "TIFF", "PPM")
MAX_SVG_BYTES = 16 * 1024 * 1024
_EMPTY_SVG = b'<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"></svg>'
_DTD_SUBSET = re.compile(rb"<!DOCTYPE[^>\[]*\[", re.IGNORECASE)


class ImageError(ValueError):
    """An image file cannot be used: missing, corrupt, truncated, too large or unsafe.

    Attributes:
        path: the file (str).
        reason: what is wrong with it.
    """

    def __init__(self, path: str | Path, reason: str) -> None:
        # args = (path, reason) so the error pickles across DataLoader worker processes.
        super().__init__(str(path), reason)
        self.path = str(path)
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


class ImageSkippedWarning(UserWarning):
    """An image that failed to load was dropped from a batch."""


# ====================================================================== loading
def load_image(
    path: str | Path, *, max_pixels: int = DEFAULT_MAX_PIXELS, svg_size: int = DEFAULT_SVG_SIZE
) -> Image.Image:
    """Read an image file as an RGB ``PIL.Image``.

    Args:
        path: a raster image in one of :data:`RASTER_FORMATS` or an SVG file.
        max_pixels: refuse images whose declared width * height exceeds this, before
            decoding them (decompression bombs). Default: Pillow's default limit.
        svg_size: SVGs are rasterised to fit a ``svg_size`` x ``svg_size`` square (aspect ratio
            kept, letterboxed on white).

    Raises:
        ImageError: the file is missing, unreadable, corrupt, truncated, too large or unsafe.
    """
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise ImageError(path, f"cannot read the file ({e.strerror or e})") from None
    return decode_image(data, path, max_pixels=max_pixels, svg_size=svg_size)


def decode_image(
    data: bytes,
    name: str | Path = "<bytes>",
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    svg_size: int = DEFAULT_SVG_SIZE,
) -> Image.Image:
    """:func:`load_image` on the bytes of a file; ``name`` is used in error messages and to
    recognise an SVG by its ``.svg`` suffix (SVGs are also recognised by their content)."""
    if not data:
        raise ImageError(name, "empty file")
    if str(name).lower().endswith((".svg", ".svgz")) or _looks_like_svg(data):
        return _decode_svg(data, name, svg_size)
    try:
        with Image.open(io.BytesIO(data), formats=RASTER_FORMATS) as im:
            # Only the header has been read: refuse a bomb before decoding any pixel.
            w, h = im.size
            if w * h > max_pixels:
                raise ImageError(
                    name, f"image of {w}x{h} = {w * h} pixels is over max_pixels={max_pixels}"
                )
            im.load()  # decode now, so a truncated or corrupt file fails here
            return _to_rgb(im)
    except ImageError:
        raise
    except Image.DecompressionBombError as e:
        raise ImageError(name, f"decompression bomb ({e})") from None
    except Image.UnidentifiedImageError:
        raise ImageError(name, f"not an image in a supported format {RASTER_FORMATS}") from None
    except Exception as e:  # Pillow raises many types on corrupt data
        raise ImageError(name, f"cannot decode the image ({type(e).__name__}: {e})") from None


def _looks_like_svg(data: bytes) -> bool:
    head = data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n")
    return head.startswith(b"<") and b"<svg" in data[:4096]


def _to_rgb(im: Image.Image) -> Image.Image:
    """RGB copy of ``im``; transparent pixels become white (as for SVGs)."""
    if im.mode in ("RGBA", "LA", "PA") or "transparency" in im.info:
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return im.convert("RGB")


def _data_urls_only(url: str, resource_type: str) -> bytes:
    """cairosvg url_fetcher: decode ``data:`` URLs, fetch nothing else (no file, no network)."""
    if url.startswith("data:"):
        from cairosvg.url import fetch

        return fetch(url, resource_type)  # urllib's data: handler; touches no file or socket
    return _EMPTY_SVG


def _decode_svg(data: bytes, name: str | Path, size: int) -> Image.Image:
    if len(data) > MAX_SVG_BYTES:
        raise ImageError(name, f"SVG of {len(data)} bytes is over the {MAX_SVG_BYTES} byte limit")
    if data[:2] == b"\x1f\x8b":
        raise ImageError(name, "compressed SVG (svgz) is not supported")
    if b"<!ENTITY" in data or _DTD_SUBSET.search(data):
        raise ImageError(name, "SVG with a DTD internal subset or entity declarations refused")
    try:
        from cairosvg.surface import PNGSurface

        png = PNGSurface.convert(
            bytestring=data,
            unsafe=False,
            url_fetcher=_data_urls_only,
            output_width=size,
            output_height=size,
            background_color="white",
        )
        with Image.open(io.BytesIO(png)) as im:
            im.load()
            return _to_rgb(im)
    except Exception as e:  # cairosvg/defusedxml/cairo raise many types
        raise ImageError(name, f"cannot rasterise the SVG ({type(e).__name__}: {e})") from None


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
        max_pixels, svg_size: as in :func:`load_image`.
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
        self.skipped: list[SkippedImage] = []

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> tuple:
        path = self.paths[i]
        digest = None
        try:
            data = Path(path).read_bytes()
        except OSError as e:
            image: Tensor | ImageError = ImageError(path, f"cannot read the file ({e.strerror})")
        else:
            digest = hashlib.sha256(data).hexdigest() if self.content_hash else None
            try:
                pil = decode_image(data, path, max_pixels=self.max_pixels, svg_size=self.svg_size)
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


# ====================================================================== feature cache
_CACHE_FORMAT = "labelsphere.FeatureCache"
_SHARD_FORMAT = "labelsphere.FeatureShard"
_CACHE_VERSION = 1


def _jsonable(x: Any) -> Any:
    if isinstance(x, Mapping):
        return {str(k): _jsonable(v) for k, v in sorted(x.items())}
    if isinstance(x, tuple | list):
        return [_jsonable(v) for v in x]
    return x


class FeatureCache:
    """Content-addressed on-disk store of float16 feature rows (layout: module docstring).

    Args:
        root: the cache directory (shared by every backbone and preprocessing).
        spec: JSON-serialisable description of what produced the features; its hash names
            the namespace directory.
    """

    def __init__(self, root: str | Path, spec: Mapping[str, Any]) -> None:
        self.spec = {"format": _CACHE_FORMAT, "format_version": _CACHE_VERSION, **_jsonable(spec)}
        text = json.dumps(self.spec, sort_keys=True)
        self.namespace = hashlib.sha256(text.encode()).hexdigest()[:16]
        self.dir = Path(root) / self.namespace
        self.num_features = int(self.spec["num_features"])
        if not (self.dir / "namespace.json").is_file():
            write_json(self.dir / "namespace.json", self.spec)

    def index(self) -> dict[str, tuple[Path, int]]:
        """content hash -> (shard file, row), from the shard headers (arrays not loaded)."""
        from safetensors import safe_open

        out: dict[str, tuple[Path, int]] = {}
        for shard in sorted(self.dir.glob("*.safetensors")):
            try:
                with safe_open(str(shard), framework="numpy") as f:
                    meta = f.metadata() or {}
                    shape = f.get_slice("features").get_shape()
                hashes = json.loads(meta.get("hashes", "null"))
                if (
                    meta.get("format") != _SHARD_FORMAT
                    or not isinstance(hashes, list)
                    or list(shape) != [len(hashes), self.num_features]
                ):
                    raise FormatError("unexpected metadata or shape")
            except Exception as e:  # any unreadable shard is just a cache miss
                warnings.warn(f"ignoring unreadable feature cache shard {shard}: {e}", stacklevel=2)
                continue
            for row, h in enumerate(hashes):
                out.setdefault(h, (shard, row))
        return out

    def get(self, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        """Cached rows (F,) float16 for those of ``hashes`` that are in the cache."""
        from safetensors import safe_open

        idx = self.index()
        by_shard: dict[Path, list[tuple[str, int]]] = {}
        for h in set(hashes):
            if h in idx:
                shard, row = idx[h]
                by_shard.setdefault(shard, []).append((h, row))
        out = {}
        for shard, items in by_shard.items():
            try:
                with safe_open(str(shard), framework="numpy") as f:
                    feats = f.get_tensor("features")
            except Exception as e:  # removed or corrupt meanwhile: recompute
                warnings.warn(f"ignoring unreadable feature cache shard {shard}: {e}", stacklevel=2)
                continue
            for h, row in items:
                out[h] = feats[row]
        return out

    def put(self, hashes: Sequence[str], features: np.ndarray) -> Path:
        """Store rows ``features`` (k, F) for ``hashes`` (k,) as one new shard, atomically."""
        features = np.ascontiguousarray(features, dtype=np.float16)
        if features.shape != (len(hashes), self.num_features):
            raise ValueError(
                f"features have shape {features.shape}, expected ({len(hashes)}, {self.num_features})"
            )
        name = hashlib.sha256("".join(hashes).encode()).hexdigest()[:32]
        path = self.dir / f"{name}.safetensors"
        meta = {"format": _SHARD_FORMAT, "format_version": str(_CACHE_VERSION)}
        save_arrays(path, {"features": features}, {**meta, "hashes": json.dumps(list(hashes))})
        return path


def _file_digest(path: str, chunk: int = 1 << 20) -> str | None:
    """sha256 of a file's bytes, or None if it cannot be read (it then fails to load later)."""
    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            while block := f.read(chunk):
                h.update(block)
    except OSError:
        return None
    return h.hexdigest()


def _cache_spec(backbone: Any, svg_size: int) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "backbone": backbone.name,
        "weights_id": backbone.weights_id,
        "num_features": int(backbone.num_features),
        "data_config": dict(backbone.data_config),
        "svg": {"size": svg_size, "background": "white"},
        "dtype": "float16",
    }
    if backbone.weights_id == "random":
        import timm

        # A seeded random init is only reproducible within one timm version.
        spec["timm"] = timm.__version__
    return spec


# ====================================================================== extraction
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
) -> tuple[np.ndarray, np.ndarray]:
    """Pooled backbone features of image files, through the eval transform, without gradients.

    Args:
        backbone: a :class:`~labelsphere.backbones.Backbone` (anything with ``name``,
            ``weights_id``, ``num_features``, ``data_config`` mapping (B, 3, H, W) -> (B, F)).
        paths: n image files.
        cache_dir: reuse and store features here (layout: module docstring); ``None``: no
            cache. Files with identical bytes are computed once.
        batch_size, num_workers: of the DataLoader that decodes the images.
        progress: show a tqdm bar (images, rate, ETA) over the images being computed.
        device: where to run; default CUDA if available, else CPU. The backbone is moved there.
        max_pixels, svg_size: as in :func:`load_image`.

    Returns:
        ``(features, ok)``: features (n, F) float16 (zero rows where loading failed) and
        ok (n,) bool, False for images that could not be loaded (each warned about with an
        :class:`ImageSkippedWarning`).
    """
    paths = [str(p) for p in paths]
    n, n_feat = len(paths), int(backbone.num_features)
    features = np.zeros((n, n_feat), dtype=np.float16)
    ok = np.zeros(n, dtype=bool)
    cache = None
    if cache_dir is not None:
        cache = FeatureCache(cache_dir, _cache_spec(backbone, svg_size))
        digests = [_file_digest(p) for p in paths]
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

    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(device)
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
