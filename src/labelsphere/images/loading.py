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
      SVGs over :data:`MAX_SVG_BYTES` are refused, and so are ``data:`` URLs holding
      compressed (gzip) data, which cairosvg would inflate unbounded.
    * Files: an image path must be a regular file (a directory, FIFO, socket or device such
      as ``/dev/zero`` is refused from ``os.stat``, never opened for reading) of at most
      ``max_bytes`` (:data:`DEFAULT_MAX_BYTES`, 64 MiB), checked before reading
      (:func:`read_image_file`, :func:`image_file_sha256`; a file that grows past the cap
      while it is read is refused too).

SVG rendering cost
    cairosvg spends its time in Python, per element drawn and per path coordinate, and
    re-parses a ``<use>``'d element at every reference, so a small file can take minutes.
    Measured (cairosvg 2.9.1, one contended CPU core, 256 px output): ~15-18 us a path
    coordinate pair, ~320 us an element (20,000 ``<rect>``: 6.3 s), ~90 us a text character
    (20,000: 1.7 s); dashes are cheap (cairo culls them). The two cases of issue 12: an SVG of
    1,000 ``<use>`` of one 3,000-segment dashed path (34 kB) takes ~55 s (100 ``<use>``:
    5.5 s); the classic ``<use>`` bomb (9 levels of 10 ``<use>``, 2 kB) 23-26 s, and over 90 s
    on a contended core, until cairosvg's own 100,000-reference stop. Two guards, both
    refusing with an :class:`ImageError`:

    * **Complexity limit, before rendering** (deterministic; ~1 ms for an icon): the SVG is
      parsed (defusedxml) and its cost *after expanding references* is counted in units of
      one path coordinate pair (~15 us): :data:`SVG_ELEMENT_COST` (20) an element,
      :data:`SVG_CHAR_COST` (5) a text character, 1 a coordinate pair of a ``d`` or
      ``points``. A ``<use>`` (``tref``, ``textPath``) adds what it references, a
      ``url(#id)`` (fill, stroke, clip-path, mask, filter) what its target costs, a marker its
      target's cost at every vertex, an ``<image>``/``<use>`` of an SVG ``data:`` URL that
      document's cost (nested at most :data:`MAX_SVG_NESTING` deep). Refused: a cost over
      :data:`MAX_SVG_COST` (250,000 units, ~4 s at the rate above), more than
      :data:`MAX_SVG_ELEMENTS` (50,000) elements, nesting deeper than :data:`MAX_SVG_DEPTH`
      (256), a reference cycle, and raster ``data:`` images whose header is over
      ``max_pixels``. The two cases above cost ~3 million and ~40 billion units and are refused
      in ~20 ms. Real icons are far below: the 5,233 tabler icons cost at most 505, a 1-in-10
      sample of the 348,249 iconify icons (31,326) at most 4,508.
    * **Time budget, while rendering** (``svg_timeout``, default :data:`DEFAULT_SVG_TIMEOUT`
      = 10 s): checked before each element is drawn, so what the static count cannot see
      (CSS stylesheets that set markers, say) stops within one element's work of the budget.
      It runs in the calling thread (no subprocess; any thread, DataLoader workers included).
"""

from __future__ import annotations

import base64
import io
import os
import re
import stat
import time
from pathlib import Path
from urllib.parse import unquote_to_bytes

from PIL import Image

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_PIXELS",
    "DEFAULT_SVG_SIZE",
    "DEFAULT_SVG_TIMEOUT",
    "MAX_SVG_BYTES",
    "MAX_SVG_COST",
    "MAX_SVG_DEPTH",
    "MAX_SVG_ELEMENTS",
    "MAX_SVG_NESTING",
    "RASTER_FORMATS",
    "SVG_CHAR_COST",
    "SVG_ELEMENT_COST",
    "ImageError",
    "decode_image",
    "image_file_sha256",
    "load_image",
    "read_image_file",
    "svg_cost",
]

# Pillow's default Image.MAX_IMAGE_PIXELS (a 1 GiB RGB image at 3 bytes per pixel ~ 89.5M px).
DEFAULT_MAX_PIXELS = 1024 * 1024 * 1024 // 4 // 3
DEFAULT_SVG_SIZE = 256
# Largest image file read (checked from os.stat before reading).
DEFAULT_MAX_BYTES = 64 * 1024 * 1024
# Raster formats Pillow may decode. Explicit so that e.g. EPS (which Pillow hands to a
# Ghostscript subprocess) is never tried on an untrusted file. ("JPEG" also opens
# multi-picture MPO files, which Pillow's JPEG plugin returns as MPO images.)
RASTER_FORMATS: tuple[str, ...] = ("JPEG", "PNG", "GIF", "BMP", "WEBP", "TIFF", "PPM")
MAX_SVG_BYTES = 16 * 1024 * 1024
# SVG complexity limits (module docstring: "SVG rendering cost").
DEFAULT_SVG_TIMEOUT = 10.0
SVG_ELEMENT_COST = 20
SVG_CHAR_COST = 5
MAX_SVG_COST = 250_000
MAX_SVG_ELEMENTS = 50_000
MAX_SVG_DEPTH = 256
MAX_SVG_NESTING = 2
_EMPTY_SVG = b'<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"></svg>'
_DTD_SUBSET = re.compile(rb"<!DOCTYPE[^>\[]*\[", re.IGNORECASE)
_GZIP = b"\x1f\x8b"


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


# ====================================================================== files
def _check_file(path: str | Path, st: os.stat_result, max_bytes: int | None) -> None:
    """Refuse anything but a regular file of at most ``max_bytes`` (from its stat)."""
    mode = st.st_mode
    if not stat.S_ISREG(mode):
        if stat.S_ISDIR(mode):
            what = "a directory"
        elif stat.S_ISFIFO(mode):
            what = "a FIFO (named pipe)"
        elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
            what = "a device"
        elif stat.S_ISSOCK(mode):
            what = "a socket"
        else:
            what = "not a regular file"
        raise ImageError(path, f"is {what}, not a regular image file (not read)")
    if max_bytes is not None and st.st_size > max_bytes:
        raise ImageError(
            path, f"file of {st.st_size} bytes is over max_bytes={max_bytes} (not read)"
        )


def _open_image_file(path: str | Path, max_bytes: int | None) -> io.FileIO:
    """Open a regular file of at most ``max_bytes`` for reading, checked before and after.

    ``os.stat`` first, so a FIFO, device or directory is never opened; then the file is
    opened non-blocking and checked again with ``fstat`` (it may have been swapped meanwhile).
    """
    try:
        _check_file(path, os.stat(path), max_bytes)
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except OSError as e:
        raise ImageError(path, f"cannot read the file ({e.strerror or e})") from None
    f = io.FileIO(fd, "rb", closefd=True)
    try:
        _check_file(path, os.fstat(fd), max_bytes)
    except BaseException:
        f.close()
        raise
    return f


def read_image_file(path: str | Path, max_bytes: int | None = DEFAULT_MAX_BYTES) -> bytes:
    """The bytes of an image file: a regular file of at most ``max_bytes`` (``None``: no cap).

    Raises:
        ImageError: missing or unreadable, not a regular file (directory, FIFO, device,
            socket: refused from ``os.stat`` without reading), or over ``max_bytes`` (from
            its size, before reading; or because it grew past it while being read).
    """
    with _open_image_file(path, max_bytes) as f:
        try:
            data = f.read() if max_bytes is None else f.read(max_bytes + 1)
        except OSError as e:
            raise ImageError(path, f"cannot read the file ({e.strerror or e})") from None
    if data is None:  # non-blocking read with nothing ready: not a regular file after all
        raise ImageError(path, "not a regular image file (not read)")
    if max_bytes is not None and len(data) > max_bytes:
        raise ImageError(path, f"file grew over max_bytes={max_bytes} while being read")
    return data


def image_file_sha256(
    path: str | Path, max_bytes: int | None = DEFAULT_MAX_BYTES, chunk: int = 1 << 20
) -> str:
    """Hex sha256 of an image file's bytes (the feature cache's key), with the checks of
    :func:`read_image_file`: a FIFO, device, directory or oversized file is never read.

    Raises:
        ImageError: as :func:`read_image_file`.
    """
    import hashlib

    h = hashlib.sha256()
    n = 0
    with _open_image_file(path, max_bytes) as f:
        try:
            while block := f.read(chunk):
                n += len(block)
                if max_bytes is not None and n > max_bytes:
                    raise ImageError(path, f"file grew over max_bytes={max_bytes} while being read")
                h.update(block)
        except OSError as e:
            raise ImageError(path, f"cannot read the file ({e.strerror or e})") from None
    return h.hexdigest()


# ====================================================================== decoding
def load_image(
    path: str | Path,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    svg_size: int = DEFAULT_SVG_SIZE,
    max_bytes: int | None = DEFAULT_MAX_BYTES,
    svg_timeout: float | None = DEFAULT_SVG_TIMEOUT,
) -> Image.Image:
    """Read an image file as an RGB ``PIL.Image``.

    Args:
        path: a raster image in one of :data:`RASTER_FORMATS` or an SVG file; a regular
            file (never a FIFO, device or directory).
        max_pixels: refuse images whose declared width * height exceeds this, before
            decoding them (decompression bombs). Default: Pillow's default limit.
        svg_size: SVGs are rasterised to fit a ``svg_size`` x ``svg_size`` square (aspect ratio
            kept, letterboxed on white).
        max_bytes: refuse files larger than this, from their size, before reading (``None``:
            no cap). Default :data:`DEFAULT_MAX_BYTES` (64 MiB).
        svg_timeout: time budget in seconds for rasterising an SVG (``None``: none); SVGs
            are also held to the complexity limits of the module docstring before rendering.

    Raises:
        ImageError: the file is missing, unreadable, not a regular file, corrupt, truncated,
            too large, too complex or unsafe.
    """
    data = read_image_file(path, max_bytes)
    return decode_image(
        data, path, max_pixels=max_pixels, svg_size=svg_size, svg_timeout=svg_timeout
    )


def decode_image(
    data: bytes,
    name: str | Path = "<bytes>",
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    svg_size: int = DEFAULT_SVG_SIZE,
    svg_timeout: float | None = DEFAULT_SVG_TIMEOUT,
) -> Image.Image:
    """:func:`load_image` on the bytes of a file; ``name`` is used in error messages and to
    recognise an SVG by its ``.svg`` suffix (SVGs are also recognised by their content)."""
    if not data:
        raise ImageError(name, "empty file")
    if str(name).lower().endswith((".svg", ".svgz")) or _looks_like_svg(data):
        return _decode_svg(data, name, svg_size, max_pixels, svg_timeout)
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


def _decode_data_url(url: str) -> bytes | None:
    """The bytes of a ``data:`` URL (its fragment dropped), or ``None`` if it is malformed."""
    head, sep, body = url[5:].split("#", 1)[0].partition(",")
    if not sep:
        return None
    try:
        if head.lower().endswith(";base64"):
            return base64.b64decode(re.sub(r"\s+", "", body))
        return unquote_to_bytes(body)
    except ValueError:
        return None


def _data_urls_only(url: str, resource_type: str) -> bytes:
    """cairosvg url_fetcher: decode ``data:`` URLs, fetch nothing else (no file, no network);
    compressed (gzip) data is refused, as cairosvg would inflate it without a limit."""
    if url.startswith("data:"):
        from cairosvg.url import fetch

        data = fetch(url, resource_type)  # urllib's data: handler; touches no file or socket
        if data[:2] == _GZIP:
            raise ValueError("compressed (gzip) data: URL refused")
        return data
    return _EMPTY_SVG


# ====================================================================== SVG complexity
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_URL_REF = re.compile(r"url\(\s*['\"]?#([^)'\"\s]+)")
_XLINK_HREF = "{http://www.w3.org/1999/xlink}href"
_TEXT_TAGS = frozenset({"text", "tspan", "textPath", "tref", "a"})
_REF_TAGS = frozenset({"use", "tref", "textPath"})


class _SvgRefused(Exception):
    """An SVG over a complexity limit (the message says which)."""


def _local(tag: object) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _looks_like_svg_bytes(data: bytes) -> bool:
    # cairosvg's own test for an SVG behind an <image> href.
    return data.startswith((b"<svg ", b"<?xml", b"<!DOC", _GZIP)) or b"<svg" in data


def svg_cost(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> int:
    """Rendering cost of an SVG document after expanding its references (see the module
    docstring for the units), computed without rendering.

    Raises:
        ValueError: the document is over one of the complexity limits (:data:`MAX_SVG_COST`,
            :data:`MAX_SVG_ELEMENTS`, :data:`MAX_SVG_DEPTH`, :data:`MAX_SVG_NESTING`), has a
            reference cycle, an unsafe construct, or is not well-formed XML; the message
            says which.
    """
    try:
        return _svg_cost(data, max_pixels, 0, {})
    except _SvgRefused as e:
        raise ValueError(str(e)) from None


def _svg_cost(data: bytes, max_pixels: int, nesting: int, seen: dict[str, int]) -> int:
    from defusedxml import ElementTree

    if data[:2] == _GZIP:
        raise _SvgRefused("compressed SVG (svgz) is not supported")
    if b"<!ENTITY" in data or _DTD_SUBSET.search(data):
        raise _SvgRefused("SVG with a DTD internal subset or entity declarations refused")
    try:
        root = ElementTree.fromstring(data, forbid_dtd=False)
    except Exception as e:  # ParseError, defusedxml's Entities/External... forbidden
        raise _SvgRefused(f"not a well-formed SVG ({type(e).__name__}: {e})") from None

    # Pass 1 (iterative: no recursion on deep documents): elements, depth, ids, own costs.
    elements: list = []
    children: list[list[int]] = []
    depth_of: list[int] = []
    ids: dict[str, int] = {}
    stack = [(root, 0, -1)]
    while stack:
        el, depth, parent = stack.pop()
        if depth > MAX_SVG_DEPTH:
            raise _SvgRefused(f"SVG nested over {MAX_SVG_DEPTH} elements deep (MAX_SVG_DEPTH)")
        i = len(elements)
        if i >= MAX_SVG_ELEMENTS:
            raise _SvgRefused(f"SVG of over {MAX_SVG_ELEMENTS} elements (MAX_SVG_ELEMENTS)")
        elements.append(el)
        children.append([])
        depth_of.append(depth)
        if parent >= 0:
            children[parent].append(i)
        ident = el.get("id")
        if ident is not None:
            ids.setdefault(ident, i)
        stack.extend((c, depth + 1, i) for c in reversed(el))

    own = [0] * len(elements)
    refs: list[list[tuple[str, int]]] = [[] for _ in elements]
    for i, el in enumerate(elements):
        tag = _local(el.tag)
        points = 0
        for key in ("d", "points"):
            value = el.get(key)
            if value:
                points += (len(_NUMBER.findall(value)) + 1) // 2
        cost = SVG_ELEMENT_COST + points
        if tag in _TEXT_TAGS:
            cost += SVG_CHAR_COST * (len(el.text or "") + len(el.tail or ""))
        props = dict(el.attrib)
        for decl in (el.get("style") or "").split(";"):
            prop, colon, value = decl.partition(":")
            if colon:
                props[prop.strip()] = value
        for prop, value in props.items():
            if "url(" not in value:
                continue
            times = points + 1 if _local(prop).startswith("marker") else 1
            refs[i] += [(target, times) for target in _URL_REF.findall(value)]
        href = el.get(_XLINK_HREF, el.get("href"))
        if href:
            href = href.strip()
            if href.startswith("#") and tag in _REF_TAGS:
                refs[i].append((href[1:], 1))
            elif href.startswith("data:") and tag in ("use", "image"):
                cost += _data_url_cost(href, max_pixels, nesting, seen)
        own[i] = cost

    # Pass 2: cost after expanding references (iterative DFS; a cycle is refused).
    total = [0] * len(elements)
    state = [0] * len(elements)  # 0 new, 1 expanding, 2 done
    deps = [children[i] + [ids[t] for t, _ in refs[i] if t in ids] for i in range(len(elements))]
    stack2 = [0]
    while stack2:
        i = stack2[-1]
        if state[i] == 0:
            state[i] = 1
            for j in deps[i]:
                if state[j] == 1:
                    raise _SvgRefused(
                        f"SVG references itself: <{_local(elements[j].tag)}"
                        f" id={elements[j].get('id')!r}> is reached from its own content"
                    )
                if state[j] == 0:
                    stack2.append(j)
        else:
            stack2.pop()
            if state[i] == 1:
                c = own[i] + sum(total[j] for j in children[i])
                c += sum(times * total[ids[t]] for t, times in refs[i] if t in ids)
                total[i] = min(c, MAX_SVG_COST + 1)  # saturate: only "over the limit" matters
                state[i] = 2
    cost = total[0]
    if cost > MAX_SVG_COST:
        raise _SvgRefused(
            f"SVG too complex to rasterise: cost over {MAX_SVG_COST} after expanding its "
            "<use>/url(#...) references (MAX_SVG_COST; elements, path coordinates and text "
            "characters, see labelsphere.images.loading)"
        )
    return cost


def _data_url_cost(url: str, max_pixels: int, nesting: int, seen: dict[str, int]) -> int:
    """Cost of what an ``<image>``/``<use>`` ``data:`` URL draws: a nested SVG's cost, or 0 for
    a raster image whose header is within ``max_pixels``."""
    if url in seen:
        return seen[url]
    data = _decode_data_url(url)
    cost = 0
    if data is None or len(data) < 5:
        pass  # cairosvg draws nothing
    elif data[:2] == _GZIP:
        raise _SvgRefused("compressed (gzip) data: URL refused")
    elif _looks_like_svg_bytes(data):
        if nesting + 1 > MAX_SVG_NESTING:
            raise _SvgRefused(
                f"SVG data: URLs nested over {MAX_SVG_NESTING} deep (MAX_SVG_NESTING)"
            )
        cost = _svg_cost(data, max_pixels, nesting + 1, seen)
    else:
        try:
            with Image.open(io.BytesIO(data)) as im:
                w, h = im.size
        except Image.DecompressionBombError as e:
            raise _SvgRefused(f"embedded image: decompression bomb ({e})") from None
        except Exception:
            w = h = 0  # cairosvg fails on it, and the SVG is refused then
        if w * h > max_pixels:
            raise _SvgRefused(
                f"embedded image of {w}x{h} = {w * h} pixels is over max_pixels={max_pixels}"
            )
    seen[url] = cost
    return cost


# ====================================================================== rasterising
class _SvgTimeout(Exception):
    pass


def _budgeted_surface(deadline: float | None):
    """cairosvg's PNGSurface, checking the time budget before drawing each element."""
    from cairosvg.surface import PNGSurface

    if deadline is None:
        return PNGSurface

    def draw(self, node) -> None:
        if time.monotonic() > deadline:
            raise _SvgTimeout
        PNGSurface.draw(self, node)

    return type("BudgetedPNGSurface", (PNGSurface,), {"draw": draw})


def _decode_svg(
    data: bytes, name: str | Path, size: int, max_pixels: int, timeout: float | None
) -> Image.Image:
    if len(data) > MAX_SVG_BYTES:
        raise ImageError(name, f"SVG of {len(data)} bytes is over the {MAX_SVG_BYTES} byte limit")
    start = time.monotonic()
    try:
        svg_cost(data, max_pixels)
    except ValueError as e:
        raise ImageError(name, str(e)) from None
    try:
        surface = _budgeted_surface(None if timeout is None else start + timeout)
        png = surface.convert(
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
    except _SvgTimeout:
        raise ImageError(
            name, f"rasterising the SVG took over its time budget of {timeout:g} s (svg_timeout)"
        ) from None
    except Exception as e:  # cairosvg/defusedxml/cairo raise many types
        raise ImageError(name, f"cannot rasterise the SVG ({type(e).__name__}: {e})") from None
