"""Icons rendered to small grayscale arrays, cached in shards: :func:`render_icons`.

For training a small CNN from scratch on 32-48 px renders (the end-to-end setting), each icon --
an SVG document, or an image file such as the SVG files
:func:`~labelsphere.data.readers.iconify.load_iconify` lists in ``X`` -- is rasterised by the
project's safe loader (:func:`~labelsphere.images.decode_image`: no entity, no file or network
access, onto white, aspect ratio kept and letterboxed) at ``size`` x ``size`` and converted to
8-bit grayscale (``PIL`` mode ``"L"``, ITU-R 601 luma, so multicolour icons keep their
contrast). Raster files whose size differs are fitted the same way.

Render cache layout
    ``cache_dir/<namespace>/``, ``<namespace>`` the first 16 hex digits of the sha256 of the
    rendering description (format, ``size``, grayscale, white background, letterbox; written,
    readable, to ``namespace.json``), so each size has its own namespace. Inside, shards
    ``<id>.safetensors`` hold ``renders`` (k, size, size) uint8, their header metadata the
    sha256 of each icon's bytes (the SVG document's UTF-8 bytes, or the file's bytes: the same
    icon as text or as its iconify file is one entry), in row order. As in the feature cache
    (:mod:`labelsphere.images.cache`) the index is rebuilt from the shard headers, shards are
    written atomically (:func:`~labelsphere.artifacts.save_arrays`) and never modified, and an
    unreadable shard is warned about and recomputed. New renders are written every
    ``shard_size`` icons (default 4096, 4 MiB at 32 px), so an interrupted run keeps its
    finished shards. Icons that cannot be rendered are not cached.

Speed
    Measured on this project's 2-core CPU machine (one process), 2,000 iconify-icons train
    icons drawn at random: 4.0-4.5 ms/icon at 32 px and 4.3-4.9 ms/icon at 48 px to render
    (cairosvg through ``decode_image``, its ~0.2 ms complexity check included; up to ~8 ms
    while other jobs kept the load average at 5-7), so ~21-25 min of one core for the 313k
    train icons; 0.013-0.028 ms/icon to read them back from the cache. ``num_workers``
    processes divide the rendering time, but each is a fresh interpreter that imports
    labelsphere (several seconds): worth it from tens of thousands of icons. Commands in
    ``docs/iconify.md``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import stat
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from labelsphere.data.dataset import MultiLabelDataset
from labelsphere.images.cache import ShardCache

__all__ = ["DEFAULT_RENDER_CACHE", "RenderCache", "render_dataset", "render_icons"]

DEFAULT_RENDER_CACHE = Path.home() / ".cache" / "labelsphere" / "renders"
"""A suggested ``cache_dir`` for :func:`render_icons` (beside the feature cache)."""

_CACHE_FORMAT = "labelsphere.RenderCache"
_SHARD_FORMAT = "labelsphere.RenderShard"
_CACHE_VERSION = 1
_MAX_FILE_BYTES = 64 * 1024 * 1024

Icon = str | bytes | Path
"""An SVG document (``str`` starting with ``<``, or ``bytes``) or an image file's path."""


class RenderCache(ShardCache):
    """Content-addressed on-disk store of (size, size) uint8 renders (layout: module docstring).

    The shard mechanics are the feature cache's (``labelsphere.images.cache.ShardCache``).

    Args:
        root: the cache directory (shared by every size).
        size: the renders' side in pixels.
    """

    def __init__(self, root: str | Path, size: int) -> None:
        self.size = int(size)
        spec = {
            "format": _CACHE_FORMAT,
            "format_version": _CACHE_VERSION,
            "size": self.size,
            "mode": "L",
            "background": "white",
            "fit": "letterbox",
        }
        super().__init__(
            root, spec, "renders", (self.size, self.size), np.uint8, _SHARD_FORMAT, "render cache"
        )


def render_icons(
    icons: Sequence[Icon],
    size: int = 32,
    cache_dir: str | Path | None = None,
    progress: bool = True,
    *,
    num_workers: int = 0,
    shard_size: int = 4096,
) -> tuple[np.ndarray, np.ndarray]:
    """Render icons to (size, size) uint8 grayscale on white, through the render cache.

    Args:
        icons: n icons, each an SVG document (``str`` starting with ``<`` after any
            whitespace, or ``bytes``) or the path of an image file (SVG or raster).
        size: side in pixels (32-48 for the end-to-end CNN).
        cache_dir: reuse and store renders here (layout: module docstring), e.g.
            :data:`DEFAULT_RENDER_CACHE`; ``None``: no cache. Identical icons are rendered once.
        progress: show a tqdm bar (icons, rate, ETA) over the icons being rendered.
        num_workers: render in this many processes (0: in this one).
        shard_size: new renders per cache shard.

    Returns:
        ``(images, ok)``: images (n, size, size) uint8 (255 = white; all-white rows where
        rendering failed) and ok (n,) bool, False for icons that could not be read or
        rendered. Failures are counted in one :class:`~labelsphere.images.ImageSkippedWarning`
        naming the first few, never raised.
    """
    size = int(size)
    if not 1 <= size <= 4096:
        raise ValueError(f"size must be in [1, 4096], got {size}")
    if shard_size < 1:
        raise ValueError(f"shard_size must be >= 1, got {shard_size}")
    n = len(icons)
    images = np.full((n, size, size), 255, dtype=np.uint8)
    ok = np.zeros(n, dtype=bool)
    failed: list[tuple[str, str]] = []

    # Bytes and content hash of every icon; unreadable files fail here.
    datas: list[bytes | None] = []
    names: list[str] = []
    digests: list[str | None] = []
    for i, icon in enumerate(icons):
        data, name, err = _icon_bytes(icon, i)
        names.append(name)
        if data is None:
            failed.append((name, err))
            datas.append(None)
            digests.append(None)
            continue
        datas.append(data)
        digests.append(hashlib.sha256(data).hexdigest())

    cache = RenderCache(cache_dir, size) if cache_dir is not None else None
    hits = cache.get([d for d in digests if d is not None]) if cache is not None else {}
    rows_by_hash: dict[str, list[int]] = {}
    for i, d in enumerate(digests):
        if d is None:
            continue
        if d in hits:
            images[i] = hits[d]
            ok[i] = True
        else:
            rows_by_hash.setdefault(d, []).append(i)
    todo = list(rows_by_hash.items())  # one render per distinct content

    if todo:
        from tqdm import tqdm

        bar = tqdm(
            total=len(todo),
            desc="render icons",
            unit="icon",
            disable=not progress,
            dynamic_ncols=True,
        )
        new_hashes: list[str] = []
        new_renders: list[np.ndarray] = []
        jobs = ((datas[rows[0]], names[rows[0]], size) for _, rows in todo)
        try:
            for (h, rows), (arr, err) in zip(todo, _run(jobs, num_workers), strict=True):
                bar.update(1)
                if arr is None:
                    failed.extend((names[r], err) for r in rows)
                    continue
                images[rows] = arr
                ok[rows] = True
                if cache is not None:
                    new_hashes.append(h)
                    new_renders.append(arr)
                    if len(new_hashes) >= shard_size:
                        cache.put(new_hashes, np.stack(new_renders))
                        new_hashes, new_renders = [], []
        finally:
            bar.close()
            if cache is not None and new_hashes:
                cache.put(new_hashes, np.stack(new_renders))

    if failed:
        from labelsphere.images.dataset import ImageSkippedWarning

        first = "; ".join(f"{name}: {why}" for name, why in failed[:3])
        warnings.warn(
            f"{len(failed)} of {n} icons could not be rendered (first: {first})",
            ImageSkippedWarning,
            stacklevel=2,
        )
    return images, ok


def render_dataset(
    data: MultiLabelDataset,
    size: int = 32,
    cache_dir: str | Path | None = DEFAULT_RENDER_CACHE,
    progress: bool = True,
    num_workers: int = 0,
) -> MultiLabelDataset:
    """``data`` with its image/SVG files replaced by (n, size, size) uint8 renders.

    Icons that cannot be rendered are dropped (counted in ``info["skipped_images"]``, like
    frozen features), so every row that remains is a real render. The labels, vocabulary and
    name are kept; ``info["render_size"]`` records the size.
    """
    if not isinstance(data.X, list):
        raise ValueError(f"{data.name}: rendering needs image or SVG files as inputs")
    renders, ok = render_icons(
        data.X, size, cache_dir=cache_dir, progress=progress, num_workers=num_workers
    )
    keep = np.flatnonzero(ok)
    skipped = [data.X[i] for i in np.flatnonzero(~ok)]
    info = {**(data.info or {}), "render_size": int(size), "skipped_images": skipped}
    return dataclasses.replace(data.subset(keep), X=renders[keep], info=info)


def _icon_bytes(icon: Any, i: int) -> tuple[bytes | None, str, str]:
    """(bytes or None, name for messages, reason when None) of one icon."""
    if isinstance(icon, bytes | bytearray):
        return bytes(icon), f"icon {i}", ""
    if isinstance(icon, str) and icon.lstrip()[:1] == "<":
        return icon.encode("utf-8"), f"icon {i}", ""
    if isinstance(icon, str | Path):
        # A regular file of at most _MAX_FILE_BYTES, checked before reading (never a FIFO or
        # a device such as /dev/zero), as the image loader does.
        try:
            st = os.stat(icon)
            if not stat.S_ISREG(st.st_mode):
                return None, str(icon), "not a regular file"
            if st.st_size > _MAX_FILE_BYTES:
                return None, str(icon), f"file of {st.st_size} bytes is over {_MAX_FILE_BYTES}"
            with open(icon, "rb") as f:
                data = f.read(_MAX_FILE_BYTES + 1)
        except OSError as e:
            return None, str(icon), f"cannot read the file ({e.strerror or e})"
        if len(data) > _MAX_FILE_BYTES:
            return None, str(icon), f"file grew over {_MAX_FILE_BYTES} bytes while read"
        return data, str(icon), ""
    raise TypeError(f"icon {i} is {type(icon).__name__}; expected an SVG document or a path")


def _render_one(job: tuple[bytes, str, int]) -> tuple[np.ndarray | None, str]:
    """(render (size, size) uint8, "") or (None, reason)."""
    from PIL import Image

    from labelsphere.images.loading import ImageError, decode_image

    data, name, size = job
    try:
        im = decode_image(data, name, svg_size=size).convert("L")
    except ImageError as e:
        return None, e.reason
    if im.size != (size, size):  # a raster file: fit it, aspect ratio kept, onto white
        im.thumbnail((size, size), Image.Resampling.LANCZOS)
        canvas = Image.new("L", (size, size), 255)
        canvas.paste(im, ((size - im.width) // 2, (size - im.height) // 2))
        im = canvas
    return np.asarray(im, dtype=np.uint8), ""


def _run(
    jobs: Iterator[tuple[bytes, str, int]], num_workers: int
) -> Iterator[tuple[np.ndarray | None, str]]:
    """``_render_one`` over ``jobs``, in order, here or in ``num_workers`` processes."""
    if num_workers <= 0:
        for job in jobs:
            yield _render_one(job)
        return
    import multiprocessing

    # spawn: the parent may hold torch threads, which fork can deadlock.
    with multiprocessing.get_context("spawn").Pool(num_workers) as pool:
        yield from pool.imap(_render_one, jobs, chunksize=64)
