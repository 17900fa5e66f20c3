"""Images: safe loading, fault-tolerant datasets, timm backbones and cached feature extraction.

Package map (everything below is importable from ``labelsphere.images``):

``loading``
    :func:`load_image` / :func:`decode_image`: an image file or its bytes -> RGB
    ``PIL.Image``, every failure an :class:`ImageError`; decompression-bomb and SVG safety
    (complexity limit and time budget); :func:`read_image_file` / :func:`image_file_sha256`
    read or hash only regular files under a size cap (never a FIFO or ``/dev/zero``).
``dataset``
    :class:`ImageDataset` (never raises on a bad image), :func:`collate_images` ->
    :class:`ImageBatch`, :class:`SkippedImage`, :class:`ImageSkippedWarning`, and
    :func:`image_transform` (PIL image -> (3, H, W) tensor).
``backbones``
    :func:`create_backbone`: timm models with weights from local files only (nothing is
    downloaded) -> :class:`Backbone`, images (B, 3, H, W) -> pooled features (B, F).
``cache``
    :class:`FeatureCache`: content-addressed float16 feature shards, keyed by the sha256 of
    each image file's bytes (:func:`image_file_sha256`).
``featurize``
    :func:`extract_features`: image files -> features (n, F) float16 and ok (n,);
    :func:`image_features`: datasets of image paths -> datasets of features (frozen mode).
"""

from __future__ import annotations

from labelsphere.artifacts import file_sha256
from labelsphere.images.backbones import (
    DEFAULT_WEIGHTS,
    Backbone,
    WeightsError,
    convert_lite_state_dict,
    create_backbone,
    default_weights_path,
    load_state_dict_file,
)
from labelsphere.images.cache import FeatureCache
from labelsphere.images.dataset import (
    ImageBatch,
    ImageDataset,
    ImageSkippedWarning,
    SkippedImage,
    collate_images,
    image_transform,
)
from labelsphere.images.featurize import extract_features, image_features
from labelsphere.images.loading import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_PIXELS,
    DEFAULT_SVG_SIZE,
    DEFAULT_SVG_TIMEOUT,
    MAX_SVG_BYTES,
    MAX_SVG_COST,
    RASTER_FORMATS,
    ImageError,
    decode_image,
    image_file_sha256,
    load_image,
    read_image_file,
    svg_cost,
)

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_PIXELS",
    "DEFAULT_SVG_SIZE",
    "DEFAULT_SVG_TIMEOUT",
    "DEFAULT_WEIGHTS",
    "MAX_SVG_BYTES",
    "MAX_SVG_COST",
    "RASTER_FORMATS",
    "Backbone",
    "FeatureCache",
    "ImageBatch",
    "ImageDataset",
    "ImageError",
    "ImageSkippedWarning",
    "SkippedImage",
    "WeightsError",
    "collate_images",
    "convert_lite_state_dict",
    "create_backbone",
    "decode_image",
    "default_weights_path",
    "extract_features",
    "file_sha256",
    "image_features",
    "image_file_sha256",
    "image_transform",
    "load_image",
    "load_state_dict_file",
    "read_image_file",
    "svg_cost",
]
