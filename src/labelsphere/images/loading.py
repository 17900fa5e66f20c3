"""Safe image loading: files and bytes to RGB ``PIL.Image``, with every failure an :class:`ImageError`.

:func:`load_image` reads JPEG, PNG, GIF, BMP, WebP, TIFF and PPM (:data:`RASTER_FORMATS`,
decoded by Pillow), plus SVG rasterised by cairosvg onto a white background;
:func:`decode_image` does the same on bytes already read. Every problem (missing, corrupt or
truncated file, decompression bomb, unsafe SVG) raises :class:`ImageError` naming the file
and the reason.

Safety
    * Decompression bombs: the declared size is checked against ``max_pixels`` right after
      ``Image.open`` (which only reads the header) and before any pixel is decoded; the limit
      is an argument, Pillow's global ``Image.MAX_IMAGE_PIXELS`` is left alone (Pillow's own
      check still refuses images over twice that global).
    * Only the formats of :data:`RASTER_FORMATS` are tried (never e.g. EPS, which Pillow hands
      to a Ghostscript subprocess).
    * Transparent images are composited onto white, like the SVGs.
    * SVG: DTDs with an internal subset and entity declarations are refused, compressed SVG
      (svgz) too, and the XML parser (defusedxml, ``unsafe=False``) forbids entities and
      external references as well. Every URL the drawing references (``<image href>``,
      ``<use href>``, CSS imports...) goes through a fetcher that allows ``data:`` URLs only
      and returns an empty drawing for anything else: no file or network is ever read.
      SVGs over :data:`MAX_SVG_BYTES` are refused.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

from PIL import Image

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "DEFAULT_SVG_SIZE",
    "MAX_SVG_BYTES",
    "RASTER_FORMATS",
    "ImageError",
    "decode_image",
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
