"""Images with labels in WebDataset tar shards (the layout timm and OpenCLIP stream from).

Format
    ``shard-000000.tar``, ``shard-000001.tar``, ...: plain (uncompressed) POSIX tar files whose
    members come in consecutive groups by *key*, the WebDataset convention: ``<key>.<ext>``
    holds one image's bytes exactly as they were in its file (``ext`` one of
    :data:`IMAGE_EXTENSIONS`: ``svg``, ``png``, ``jpg``...) and ``<key>.json`` holds
    ``{"labels": [...]}`` (plus ``"id"`` when the dataset has sample ids). The key is the
    member name up to the first dot of its last path component (``a/b.c.png`` -> key ``a/b``,
    extension ``c.png``), as in ``webdataset.tariterators.base_plus_ext``. Keys written here
    are the sample's position, 9 digits (``000000123``), unique across the shards and in
    write order, so any WebDataset reader streams the samples in the order they were given.

Writing: :func:`write_image_shards` (image files + label lists) and
:func:`write_dataset_shards` (a :class:`~labelsphere.data.MultiLabelDataset` whose ``X`` is a
list of image files) write through ``webdataset.TarWriter`` with no encoder (bytes in, bytes
out: no pickle), a fixed mtime (the same input gives byte-identical shards), each shard to a
temporary name, ``fsync``'d and renamed into place, with a progress bar. Image files are read
with :func:`~labelsphere.images.loading.read_image_file` (regular files under ``max_bytes``).

Reading: :func:`iter_image_shards` streams :class:`ShardSample` ``(key, data, ext, labels,
id, shard)`` from a list of shards, a directory of them, or a brace pattern
(``shards/shard-{000000..000009}.tar``, expanded with ``braceexpand`` like
``webdataset.WebDataset``), one member at a time (memory: one sample). It yields the image
*bytes*: decode them with :func:`~labelsphere.images.loading.decode_image` (its size, pixel
and SVG complexity limits), as :func:`labelsphere.images.shards.extract_shard_features` does.
:func:`read_image_shards` reads the labels only into a ``MultiLabelDataset`` (``X=None``),
so label counting and embedding fits work from shards without touching the images.

webdataset's own reader (``tar_file_iterator``) reads every member whole whatever its size
and its decoders unpickle ``.pyd``/``.pth`` members, so the shards are read here with
:mod:`tarfile` and these rules, each broken one a :class:`ShardFormatError` naming the shard
and the member, in one line:

* only regular members are read (a symlink, hard link, device or FIFO member is refused;
  directory entries are skipped); nothing is ever extracted to disk;
* a member name that is absolute or has a ``..`` component (``../x.png``) is refused;
* an image member over ``max_bytes`` (default 64 MiB, as for image files) or a label JSON
  over :data:`MAX_LABEL_JSON_BYTES` is refused from its header, before it is read;
* a key needs exactly one image and one ``.json``; an unknown extension is refused
  (``unknown_ext="ignore"`` skips such members instead); a key's members must be consecutive;
* the JSON must be UTF-8, an object, with ``"labels"`` a list of strings;
* a truncated shard (cut inside a member, or missing the tar end-of-archive blocks) and a
  compressed one are refused.
"""

from __future__ import annotations

import json
import os
import re
import stat
import tarfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from labelsphere.data.dataset import DataFormatError, MultiLabelDataset, encode_label_lists
from labelsphere.labels import LabelVocabulary, UnknownPolicy

__all__ = [
    "IMAGE_EXTENSIONS",
    "MAX_LABEL_JSON_BYTES",
    "ShardFormatError",
    "ShardSample",
    "count_shard_samples",
    "image_shard_files",
    "iter_image_shards",
    "read_image_shards",
    "write_dataset_shards",
    "write_image_shards",
]

IMAGE_EXTENSIONS: tuple[str, ...] = (
    "svg",
    "png",
    "jpg",
    "jpeg",
    "gif",
    "bmp",
    "webp",
    "tif",
    "tiff",
    "ppm",
)
"""Image member extensions read and written (what :func:`~labelsphere.images.decode_image`
decodes; ``svgz`` is not among them: compressed SVG is refused)."""

MAX_LABEL_JSON_BYTES = 1 << 20
"""Largest ``<key>.json`` member read (1 MiB)."""

DEFAULT_MAX_BYTES = 64 * 1024 * 1024
"""Largest image member read: ``labelsphere.images.loading.DEFAULT_MAX_BYTES``, repeated here
so that importing the readers does not import the image stack (timm)."""

_MTIME = 0  # fixed member mtime: the same samples give byte-identical shards
_BLOCK = tarfile.BLOCKSIZE
_DRIVE = re.compile(r"[A-Za-z]:[\\/]")  # C:\x or C:/x
_COMPRESSED = {b"\x1f\x8b": "gzip", b"BZ": "bzip2", b"\xfd7": "xz", b"\x28\xb5": "zstd"}


class ShardFormatError(DataFormatError):
    """A shard that does not follow the format: the message names the shard and the member.

    Attributes: ``path`` (the shard), ``member`` (the member name, or ``None``), ``reason``.
    """

    def __init__(self, shard: str | Path, member: str | None, reason: str) -> None:
        where = f"member {member!r}: " if member is not None else ""
        super().__init__(f"{where}{reason}", shard)
        self.member = member
        self.reason = reason


class ShardSample(NamedTuple):
    """One sample of a shard: its key, image bytes and extension, labels, id and shard."""

    key: str
    data: bytes
    ext: str
    labels: list[str]
    id: str | None
    shard: str


# ====================================================================== shard lists
def image_shard_files(shards: str | Path | Iterable[str | Path]) -> list[Path]:
    """The shard files named by ``shards``: files, brace patterns (``a-{000..009}.tar``) or
    directories (their ``*.tar`` files in name order, hidden and temporary files left out),
    in the order given.

    Raises:
        FileNotFoundError: a named shard does not exist or a directory holds no ``.tar``.
        ValueError: no shard at all.
    """
    import braceexpand

    if isinstance(shards, str | Path):
        shards = [shards]
    files: list[Path] = []
    for item in shards:
        names = braceexpand.braceexpand(item) if isinstance(item, str) else [item]
        for name in names:
            p = Path(name)
            if p.is_dir():
                inside = sorted(
                    f for f in p.glob("*.tar") if f.is_file() and not f.name.startswith(".")
                )
                if not inside:
                    raise FileNotFoundError(f"{p}: no .tar shard files")
                files.extend(inside)
            elif p.exists():
                files.append(p)
            else:
                raise FileNotFoundError(f"{p}: no such shard file or directory")
    if not files:
        raise ValueError("no shard files given")
    return files


# ====================================================================== writing
def write_image_shards(
    images: Sequence[str | Path],
    label_lists: Sequence[Sequence[str]],
    out_dir: str | Path,
    shard_size: int = 1000,
    *,
    ids: Sequence[str] | None = None,
    max_shard_bytes: int | None = None,
    prefix: str = "shard",
    max_bytes: int | None = DEFAULT_MAX_BYTES,
    overwrite: bool = False,
    progress: bool = True,
) -> list[Path]:
    """Write image files and their labels as WebDataset tar shards (format: module docstring).

    Args:
        images: n image files (their suffix, lower-cased, is the member extension and must be
            one of :data:`IMAGE_EXTENSIONS`); read with
            :func:`~labelsphere.images.loading.read_image_file` (regular files of at most
            ``max_bytes``), stored as they are (not decoded or re-encoded).
        label_lists: n lists of label names, stored as ``{"labels": [...]}``.
        out_dir: the folder of the shards, created if needed.
        shard_size: at most this many samples a shard.
        ids: n sample ids, stored as ``"id"`` in each JSON (e.g. a dataset's ``ids``).
        max_shard_bytes: also start a new shard once a shard holds this many bytes of members.
        prefix: shards are ``<prefix>-000000.tar``, ...
        overwrite: replace the shards of an earlier write with this prefix (those not
            rewritten are removed at the end); default: refuse if any exist.
        progress: a tqdm bar over the images (rate, ETA).

    Returns:
        The shard files written, in order.

    Raises:
        ImageError: an image file is missing, not a regular file or over ``max_bytes``.
        ValueError: lengths disagree, an unsupported suffix, labels not strings.
        FileExistsError: shards with this prefix exist and ``overwrite`` is false.
    """
    from tqdm import tqdm
    from webdataset import TarWriter

    from labelsphere.images.loading import read_image_file

    n = len(images)
    if len(label_lists) != n:
        raise ValueError(f"{n} images but {len(label_lists)} label lists")
    if ids is not None and len(ids) != n:
        raise ValueError(f"{n} images but {len(ids)} ids")
    if shard_size < 1:
        raise ValueError(f"shard_size must be >= 1, got {shard_size}")
    if not prefix or "/" in prefix or os.sep in prefix or prefix.startswith("."):
        raise ValueError(f"prefix must be a plain file name prefix, got {prefix!r}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    old = sorted(out.glob(f"{prefix}-*.tar"))
    if old and not overwrite:
        raise FileExistsError(
            f"{out}: holds {len(old)} shards {prefix}-*.tar already (overwrite=True replaces them)"
        )
    width = max(9, len(str(max(n - 1, 0))))
    written: list[Path] = []
    state: dict[str, Any] = {}

    def close_shard() -> None:
        writer, f, tmp, final = (
            state.pop("writer"),
            state.pop("f"),
            state.pop("tmp"),
            state["final"],
        )
        writer.close()  # ends the tar (end-of-archive blocks); f is ours to close
        f.flush()
        os.fsync(f.fileno())
        f.close()
        os.replace(tmp, final)
        written.append(final)

    def open_shard() -> None:
        final = out / f"{prefix}-{len(written):06d}.tar"
        tmp = out / f".{final.name}.{os.getpid()}.tmp"
        f = open(tmp, "wb")
        writer = TarWriter(
            f, encoder=False, mtime=_MTIME, user="labelsphere", group="labelsphere", mode=0o444
        )
        state.update(writer=writer, f=f, tmp=tmp, final=final, count=0, size=0)

    bar = tqdm(total=n, desc="writing shards", unit="img", disable=not progress, dynamic_ncols=True)
    try:
        for i, (path, labels) in enumerate(zip(images, label_lists, strict=True)):
            ext = Path(path).suffix.lower().lstrip(".")
            if ext not in IMAGE_EXTENSIONS:
                raise ValueError(f"{path}: suffix {ext!r} is not one of {IMAGE_EXTENSIONS}")
            if not isinstance(labels, list | tuple) or not all(isinstance(t, str) for t in labels):
                raise ValueError(f"labels of sample {i} ({path}) must be a list of strings")
            meta: dict[str, Any] = {"labels": list(labels)}
            if ids is not None:
                meta["id"] = str(ids[i])
            data = read_image_file(path, max_bytes)
            if "writer" in state and (
                state["count"] >= shard_size
                or (max_shard_bytes is not None and state["size"] >= max_shard_bytes)
            ):
                close_shard()
            if "writer" not in state:
                open_shard()
            sample = {
                "__key__": f"{i:0{width}d}",
                ext: data,
                "json": json.dumps(meta, ensure_ascii=False).encode("utf-8"),
            }
            state["size"] += state["writer"].write(sample)
            state["count"] += 1
            bar.update()
            bar.set_postfix(shards=len(written) + 1, refresh=False)
        if "writer" in state:
            close_shard()
    except BaseException:
        if "writer" in state:
            state["f"].close()
            Path(state["tmp"]).unlink(missing_ok=True)
        raise
    finally:
        bar.close()
    keep = set(written)
    for p in old:
        if p not in keep:
            p.unlink(missing_ok=True)
    _fsync_dir(out)
    return written


def write_dataset_shards(
    dataset: MultiLabelDataset, out_dir: str | Path, shard_size: int = 1000, **kwargs: Any
) -> list[Path]:
    """:func:`write_image_shards` of a dataset whose ``X`` is a list of image files: its
    labels (vocabulary names) and ``ids`` go into each sample's JSON."""
    if not isinstance(dataset.X, list):
        raise ValueError(f"{dataset.name}: expected image files in X, got {type(dataset.X)}")
    kwargs.setdefault("ids", dataset.ids)
    return write_image_shards(dataset.X, dataset.labels(), out_dir, shard_size, **kwargs)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - e.g. Windows
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


# ====================================================================== reading
def _open_shard(path: Path) -> Any:
    """A shard opened for reading: a regular file (a FIFO or device is refused unopened)."""
    try:
        st = os.stat(path)
    except OSError as e:
        raise ShardFormatError(path, None, f"cannot read the shard ({e.strerror or e})") from None
    if not stat.S_ISREG(st.st_mode):
        raise ShardFormatError(path, None, "not a regular file (not read)")
    f = open(path, "rb")
    head = f.read(2)
    f.seek(0)
    if head in _COMPRESSED:
        f.close()
        raise ShardFormatError(
            path, None, f"{_COMPRESSED[head]}-compressed; shards must be plain .tar files"
        )
    return f


def _split_name(shard: Path, name: str) -> tuple[str, str]:
    """(key, extension) of a member name; unsafe or extension-less names are refused."""
    if not name or "\0" in name or name.startswith(("/", "\\")) or _DRIVE.match(name):
        raise ShardFormatError(shard, name, "absolute member name refused")
    parts = name.replace("\\", "/").split("/")
    if ".." in parts:
        raise ShardFormatError(shard, name, "member name with a '..' component refused")
    folder, _, base = name.rpartition("/")
    stem, dot, ext = base.partition(".")
    if not dot or not stem or not ext:
        raise ShardFormatError(shard, name, "member name has no key.extension form")
    return (f"{folder}/{stem}" if folder else stem), ext.lower()


def _parse_labels(shard: Path, name: str, data: bytes) -> tuple[list[str], str | None]:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ShardFormatError(shard, name, f"label JSON is not UTF-8 ({e.reason})") from None
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError) as e:
        raise ShardFormatError(shard, name, f"invalid label JSON ({e})") from None
    if not isinstance(obj, dict) or "labels" not in obj:
        raise ShardFormatError(shard, name, 'label JSON must be an object with "labels"')
    labels = obj["labels"]
    if not isinstance(labels, list) or not all(isinstance(t, str) for t in labels):
        raise ShardFormatError(
            shard, name, f'"labels" must be a list of strings, got {labels!r:.80}'
        )
    sid = obj.get("id")
    if sid is not None and not isinstance(sid, str):
        raise ShardFormatError(shard, name, f'"id" must be a string, got {sid!r:.80}')
    names = [t.strip() for t in labels]
    return ([t for t in names if t] if "" in names else names), sid


def _member_kind(ti: tarfile.TarInfo) -> str:
    if ti.issym():
        return "a symbolic link"
    if ti.islnk():
        return "a hard link"
    if ti.ischr() or ti.isblk():
        return "a device"
    if ti.isfifo():
        return "a FIFO"
    return "not a regular file"


def _iter_shard(
    shard: Path, max_bytes: int | None, unknown_ext: str, read_images: bool
) -> Iterator[ShardSample]:
    f = _open_shard(shard)
    try:
        size = os.fstat(f.fileno()).st_size
        try:
            tf = tarfile.open(fileobj=f, mode="r:")
        except tarfile.TarError as e:
            raise ShardFormatError(shard, None, f"not a readable tar file ({e})") from None
        keys_done: set[str] = set()
        key: str | None = None
        parts: dict[str, Any] = {}
        last = None
        while True:
            try:
                ti = tf.next()
            except tarfile.TarError as e:
                where = f"after member {last!r}" if last else "at its start"
                raise ShardFormatError(shard, None, f"corrupt tar {where} ({e})") from None
            if ti is None:
                break
            tf.members = []  # tarfile keeps every header otherwise: memory grows with the shard
            name = last = ti.name
            if ti.isdir():
                continue
            if not ti.isreg():
                raise ShardFormatError(shard, name, f"is {_member_kind(ti)}, not a file (refused)")
            k, ext = _split_name(shard, name)
            if k != key:
                if key is not None:
                    yield _finish(shard, key, parts)
                    keys_done.add(key)
                if k in keys_done:
                    raise ShardFormatError(shard, name, f"key {k!r} seen before: not consecutive")
                key, parts = k, {}
            if ext == "json":
                cap = MAX_LABEL_JSON_BYTES
            elif ext in IMAGE_EXTENSIONS:
                cap = max_bytes
            elif unknown_ext == "ignore":
                continue
            else:
                raise ShardFormatError(
                    shard,
                    name,
                    f"unknown extension {ext!r} (images: {', '.join(IMAGE_EXTENSIONS)})",
                )
            if cap is not None and ti.size > cap:
                what = "label JSON" if ext == "json" else "image"
                raise ShardFormatError(
                    shard, name, f"{what} of {ti.size} bytes is over the limit of {cap} (not read)"
                )
            if ti.offset_data + ti.size > size:
                raise ShardFormatError(shard, name, "truncated: the shard ends inside this member")
            if ext in parts or (ext != "json" and "image" in parts):
                raise ShardFormatError(shard, name, f"key {k!r} has two {ext} or image members")
            if ext == "json" or read_images:
                try:
                    if ti.issparse():  # GNU sparse member: tarfile rebuilds its holes
                        data = tf.extractfile(ti).read()  # type: ignore[union-attr]
                    else:  # tarfile.next() seeks to its next header itself
                        f.seek(ti.offset_data)
                        data = f.read(ti.size)
                except (tarfile.TarError, OSError) as e:
                    raise ShardFormatError(shard, name, f"cannot read the member ({e})") from None
                if len(data) != ti.size:
                    raise ShardFormatError(shard, name, "truncated: the shard ends inside it")
            else:
                data = b""
            if ext == "json":
                parts["json"] = (name, _parse_labels(shard, name, data))
            else:
                parts["image"] = (name, ext, data)
                parts[ext] = True
        if key is not None:
            yield _finish(shard, key, parts)
        # A tar ends with two zero blocks; a shard cut between two members has none.
        f.seek(tf.offset)
        if f.read(2 * _BLOCK) != bytes(2 * _BLOCK):
            raise ShardFormatError(
                shard, None, f"truncated after member {last!r}: no tar end-of-archive blocks"
            )
    finally:
        f.close()


def _finish(shard: Path, key: str, parts: dict[str, Any]) -> ShardSample:
    if "image" not in parts:
        raise ShardFormatError(shard, f"{key}.json", f"key {key!r} has no image member")
    name, ext, data = parts["image"]
    if "json" not in parts:
        raise ShardFormatError(shard, name, f"no labels: key {key!r} has no {key}.json member")
    labels, sid = parts["json"][1]
    return ShardSample(key, data, ext, labels, sid, str(shard))


def iter_image_shards(
    shards: str | Path | Iterable[str | Path],
    *,
    max_bytes: int | None = DEFAULT_MAX_BYTES,
    unknown_ext: str = "error",
    read_images: bool = True,
) -> Iterator[ShardSample]:
    """Stream the samples of WebDataset tar shards, in shard then member order.

    Args:
        shards: shard files, brace patterns or directories (:func:`image_shard_files`).
        max_bytes: largest image member read (checked from its header, before reading);
            ``None``: no cap. Default 64 MiB, as for image files.
        unknown_ext: ``"error"`` (default) refuses a member whose extension is neither an
            image (:data:`IMAGE_EXTENSIONS`) nor ``json``; ``"ignore"`` skips it unread.
        read_images: ``False`` skips the image bytes (``data`` is ``b""``): labels only,
            still with every check that does not need the bytes.

    Yields:
        :class:`ShardSample` ``(key, data, ext, labels, id, shard)``; the labels stripped,
        empty names dropped. Memory: one sample at a time.

    Raises:
        ShardFormatError: the first rule of the module docstring a shard breaks.
    """
    if unknown_ext not in ("error", "ignore"):
        raise ValueError(f"unknown_ext must be 'error' or 'ignore', got {unknown_ext!r}")
    for shard in image_shard_files(shards):
        yield from _iter_shard(shard, max_bytes, unknown_ext, read_images)


def count_shard_samples(shards: str | Path | Iterable[str | Path]) -> int:
    """The number of samples (``.json`` members) in the shards, from the tar headers only
    (nothing is checked or read but the headers: a progress bar's total)."""
    n = 0
    for shard in image_shard_files(shards):
        f = _open_shard(shard)
        try:
            with tarfile.open(fileobj=f, mode="r:") as tf:
                while (ti := tf.next()) is not None:
                    tf.members = []
                    n += ti.isreg() and ti.name.lower().endswith(".json")
        except tarfile.TarError as e:
            raise ShardFormatError(shard, None, f"not a readable tar file ({e})") from None
        finally:
            f.close()
    return n


def read_image_shards(
    shards: str | Path | Iterable[str | Path],
    vocabulary: LabelVocabulary | None = None,
    unknown: UnknownPolicy = "error",
    min_count: int = 1,
    name: str | None = None,
    *,
    unknown_ext: str = "error",
) -> MultiLabelDataset:
    """The labels of WebDataset tar shards as a dataset (``X=None``), images not read.

    Args:
        shards: as :func:`iter_image_shards`.
        vocabulary: encode into this vocabulary (``unknown`` says what an unknown name does);
            default: one built from the shards' labels, most frequent first, leaving out names
            used by fewer than ``min_count`` samples.
        name: the dataset's name (default ``"webdataset"``).
        unknown_ext: as :func:`iter_image_shards`.

    Returns:
        ``MultiLabelDataset`` with ``ids`` each sample's JSON ``"id"`` (its key when there is
        none), ``info`` the shards, samples per shard, keys and image extensions counted.
    """
    files = image_shard_files(shards)
    label_lists: list[list[str]] = []
    ids: list[str] = []
    keys: list[str] = []
    per_shard: list[int] = []
    exts: dict[str, int] = {}
    for shard in files:
        before = len(label_lists)
        for s in _iter_shard(shard, None, unknown_ext, read_images=False):
            label_lists.append(s.labels)
            ids.append(s.id if s.id is not None else s.key)
            keys.append(s.key)
            exts[s.ext] = exts.get(s.ext, 0) + 1
        per_shard.append(len(label_lists) - before)
    Y, vocab = encode_label_lists(label_lists, vocabulary, unknown, min_count)
    info = {
        "shards": [str(p) for p in files],
        "samples_per_shard": per_shard,
        "keys": keys,
        "extensions": exts,
        "min_count": min_count,
        "n_dropped_label_occurrences": vocab.n_unknown_,
    }
    return MultiLabelDataset(
        X=None, Y=Y, vocabulary=vocab, name=name or "webdataset", ids=ids, info=info
    )
