"""Content-addressed on-disk cache of float16 image features (:class:`FeatureCache`).

Feature cache layout
    ``cache_dir/<namespace>/`` holds the features of one (backbone name, ``weights_id``,
    preprocessing) combination (:func:`feature_cache_spec`); ``<namespace>`` is the first 16
    hex digits of the sha256 of that description, which is also written, readable, to
    ``cache_dir/<namespace>/namespace.json``. Inside, each computed batch is one append-only
    shard ``<id>.safetensors`` holding ``features`` (k, F) float16; the shard's safetensors
    header metadata lists the sha256 of each image file's *bytes* (row order). An image is
    looked up by the hash of its current content, so a renamed or copied file is a cache hit
    and an edited one is a miss. There is no separate index file to keep consistent: the
    index is rebuilt from the shard headers (a few kB each, read without loading the arrays),
    so ~10k images are ~160 shards of 64 and concurrent writers never conflict (a shard's
    name is derived from its hashes and written atomically). Failed images are not cached. A
    corrupt shard is ignored with a warning and its images are recomputed, and a shard path
    that is not a regular file (a FIFO planted in the cache, say) is ignored unopened.

    The content hashes are :func:`~labelsphere.images.loading.image_file_sha256`: only a
    regular file within ``max_bytes`` is hashed, so a FIFO or ``/dev/zero`` among the image
    paths is skipped, never read (it used to hang here).
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from labelsphere.artifacts import FormatError, save_arrays, write_json

__all__ = ["FeatureCache", "ShardCache", "feature_cache_spec"]

_CACHE_FORMAT = "labelsphere.FeatureCache"
_SHARD_FORMAT = "labelsphere.FeatureShard"
_CACHE_VERSION = 1


def _jsonable(x: Any) -> Any:
    """The spec as JSON types with sorted keys (tuples become lists), so its hash is stable."""
    if isinstance(x, Mapping):
        return {str(k): _jsonable(v) for k, v in sorted(x.items())}
    if isinstance(x, tuple | list):
        return [_jsonable(v) for v in x]
    return x


class ShardCache:
    """Content-addressed on-disk store of array rows, one namespace per ``spec`` (layout:
    module docstring). The image feature cache and the icon render cache are two of these.

    Args:
        root: the cache directory (shared by every namespace).
        spec: JSON-serialisable description of what produced the rows, its ``format`` and
            ``format_version`` included; its hash names the namespace directory.
        tensor: the name of the array in each shard file.
        row_shape: the shape of one row; ``dtype`` its type.
        shard_format: the ``format`` written into (and checked in) each shard's header.
        what: how warnings name the cache ("feature cache").
    """

    def __init__(
        self,
        root: str | Path,
        spec: Mapping[str, Any],
        tensor: str,
        row_shape: tuple[int, ...],
        dtype: type,
        shard_format: str,
        what: str,
    ) -> None:
        self.spec = dict(spec)
        text = json.dumps(self.spec, sort_keys=True)
        self.namespace = hashlib.sha256(text.encode()).hexdigest()[:16]
        self.dir = Path(root) / self.namespace
        self.tensor, self.row_shape, self.dtype = tensor, tuple(row_shape), dtype
        self.shard_format, self.what = shard_format, what
        if not (self.dir / "namespace.json").is_file():
            write_json(self.dir / "namespace.json", self.spec)

    def index(self) -> dict[str, tuple[Path, int]]:
        """content hash -> (shard file, row), from the shard headers (arrays not loaded)."""
        from safetensors import safe_open

        out: dict[str, tuple[Path, int]] = {}
        for shard in sorted(self.dir.glob("*.safetensors")):
            if not shard.is_file():  # a FIFO would block safe_open; a directory is no shard
                warnings.warn(
                    f"ignoring {self.what} entry {shard}: not a regular file", stacklevel=2
                )
                continue
            try:
                with safe_open(str(shard), framework="numpy") as f:
                    meta = f.metadata() or {}
                    shape = f.get_slice(self.tensor).get_shape()
                hashes = json.loads(meta.get("hashes", "null"))
                if (
                    meta.get("format") != self.shard_format
                    or not isinstance(hashes, list)
                    or list(shape) != [len(hashes), *self.row_shape]
                ):
                    raise FormatError("unexpected metadata or shape")
            except Exception as e:  # any unreadable shard is just a cache miss
                warnings.warn(f"ignoring unreadable {self.what} shard {shard}: {e}", stacklevel=2)
                continue
            for row, h in enumerate(hashes):
                out.setdefault(h, (shard, row))
        return out

    def get(self, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        """Cached rows for those of ``hashes`` that are in the cache."""
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
                    rows = f.get_tensor(self.tensor)
            except Exception as e:  # removed or corrupt meanwhile: recompute
                warnings.warn(f"ignoring unreadable {self.what} shard {shard}: {e}", stacklevel=2)
                continue
            for h, row in items:
                out[h] = rows[row]
        return out

    def put(self, hashes: Sequence[str], rows: np.ndarray) -> Path:
        """Store ``rows`` (k, *row_shape) for ``hashes`` (k,) as one new shard, atomically."""
        rows = np.ascontiguousarray(rows, dtype=self.dtype)
        if rows.shape != (len(hashes), *self.row_shape):
            raise ValueError(
                f"{self.tensor} have shape {rows.shape}, expected {(len(hashes), *self.row_shape)}"
            )
        name = hashlib.sha256("".join(hashes).encode()).hexdigest()[:32]
        path = self.dir / f"{name}.safetensors"
        meta = {"format": self.shard_format, "format_version": str(_CACHE_VERSION)}
        save_arrays(path, {self.tensor: rows}, {**meta, "hashes": json.dumps(list(hashes))})
        return path


class FeatureCache(ShardCache):
    """Content-addressed on-disk store of float16 feature rows (F,) (layout: module docstring).

    Args:
        root: the cache directory (shared by every backbone and preprocessing).
        spec: JSON-serialisable description of what produced the features; its hash names
            the namespace directory.
    """

    def __init__(self, root: str | Path, spec: Mapping[str, Any]) -> None:
        full = {"format": _CACHE_FORMAT, "format_version": _CACHE_VERSION, **_jsonable(spec)}
        self.num_features = int(full["num_features"])
        super().__init__(
            root, full, "features", (self.num_features,), np.float16, _SHARD_FORMAT, "feature cache"
        )


def feature_cache_spec(backbone: Any, svg_size: int) -> dict[str, Any]:
    """What :func:`~labelsphere.images.featurize.extract_features` caches under: the
    backbone (name, ``weights_id``, F), its eval preprocessing and the SVG rasterisation.

    Its hash names the :class:`FeatureCache` namespace, so changing any key here (or its
    value) moves every backbone to a new, empty namespace.
    """
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
