"""Writing and reading artifacts safely: atomic file writes, JSON metadata, safetensors arrays.

Every artifact labelsphere writes (embeddings, counters, checkpoints, reports) goes through
here so that an interrupted write never leaves a half-written file in place of a good one,
and nothing is ever unpickled.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import stat
import tempfile
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "FormatError",
    "atomic_write",
    "atomic_write_text",
    "check_format",
    "current_umask",
    "file_mode",
    "file_sha256",
    "fsync_dir",
    "load_arrays",
    "read_json",
    "save_arrays",
    "save_tensors",
    "write_json",
]


class FormatError(ValueError):
    """A saved artifact is missing, corrupt, or of an unsupported format version."""


_UMASK_LOCK = threading.Lock()


def current_umask() -> int:
    """The process's umask, read without changing it where the OS allows.

    Linux: from ``/proc/self/status``. Elsewhere ``os.umask`` must be set to read it; it is
    set to the restrictive ``0o077`` for that instant (under a lock), so a file another
    thread creates meanwhile gets fewer permissions, never more.
    """
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    with _UMASK_LOCK:
        mask = os.umask(0o077)
        os.umask(mask)
    return mask


def file_mode() -> int:
    """The mode a newly created file gets from ``open``: ``0o666 & ~umask``."""
    return 0o666 & ~current_umask()


def fsync_dir(directory: Path) -> None:
    """fsync a directory, so that renames into it are durable (best effort: not on Windows)."""
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Call ``write(tmp_path)`` then atomically rename ``tmp_path`` onto ``path``.

    The temporary file lives in the same directory so ``os.replace`` is a rename on one file
    system; on any error the temporary file is removed and ``path`` is left untouched. The
    file is fsynced before the rename and the directory after it, and it gets the mode a
    plain ``open`` would give (``0o666 & ~umask``; ``mkstemp`` makes it 0600).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        write(tmp_path)
        with open(tmp_path, "rb") as f:
            os.fsync(f.fileno())
        os.chmod(tmp_path, file_mode())
        os.replace(tmp_path, path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write(Path(path), lambda p: p.write_text(text, encoding="utf-8"))


def write_json(path: Path, obj: Any) -> None:
    atomic_write_text(Path(path), json.dumps(obj, indent=2, ensure_ascii=False, default=_jsonable))


def _jsonable(x: Any) -> Any:
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, Path):
        return str(x)
    raise TypeError(f"cannot write {type(x).__name__} as JSON")


def read_json(path: Path) -> Any:
    path = Path(path)
    if not path.is_file():
        raise FormatError(f"{path}: file not found")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise FormatError(f"{path}: not valid JSON ({e})") from None


def file_sha256(path: str | Path, chunk: int = 1 << 20, max_bytes: int | None = None) -> str:
    """Hex sha256 of a file's bytes, read in ``chunk``-byte blocks.

    Not memoised: a rewritten file must get a new digest. Raises ``OSError`` when the file
    cannot be read (callers that tolerate that catch it), is not a regular file (a FIFO,
    device or directory: refused from ``os.stat``, never read, so ``/dev/zero`` or a FIFO
    cannot hang it), or is larger than ``max_bytes`` (``None``: no cap).
    """
    _check_regular(path, os.stat(path), max_bytes)
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    h = hashlib.sha256()
    n = 0
    with open(fd, "rb", closefd=True) as f:
        _check_regular(path, os.fstat(fd), max_bytes)  # swapped since the stat?
        while block := f.read(chunk):
            n += len(block)
            if max_bytes is not None and n > max_bytes:
                raise OSError(errno.EFBIG, f"file grew over max_bytes={max_bytes}", str(path))
            h.update(block)
    return h.hexdigest()


def _check_regular(path: str | Path, st: os.stat_result, max_bytes: int | None) -> None:
    if not stat.S_ISREG(st.st_mode):
        raise OSError(errno.EINVAL, "not a regular file (not read)", str(path))
    if max_bytes is not None and st.st_size > max_bytes:
        raise OSError(
            errno.EFBIG, f"file of {st.st_size} bytes is over max_bytes={max_bytes}", str(path)
        )


def _safetensors_error(e: Exception, path: Path) -> OSError:
    """safetensors reports I/O failures (disk full, ...) as its own error type: an OSError
    naming the file instead, like any other write failure."""
    return OSError(f"{path}: cannot write ({e})")


def save_arrays(
    path: Path, arrays: Mapping[str, np.ndarray], metadata: Mapping[str, str] | None = None
) -> None:
    """Write numpy arrays to a safetensors file, atomically."""
    from safetensors import SafetensorError
    from safetensors.numpy import save_file

    tensors = {k: np.ascontiguousarray(v) for k, v in arrays.items()}

    def write(p: Path) -> None:
        try:
            save_file(tensors, str(p), metadata=dict(metadata or {}))
        except SafetensorError as e:
            raise _safetensors_error(e, Path(path)) from None

    atomic_write(Path(path), write)


def save_tensors(
    path: Path, tensors: Mapping[str, Any], metadata: Mapping[str, str] | None = None
) -> None:
    """Write torch tensors to a safetensors file in place (inside a directory that is itself
    renamed into place), with the user's umask (safetensors creates 0600 files); a failed
    write (disk full...) is an ``OSError`` naming the file."""
    from safetensors import SafetensorError
    from safetensors.torch import save_file

    path = Path(path)
    # safetensors stores row-major bytes: channels-last convolution weights are laid out again.
    tensors = {k: v.contiguous() for k, v in tensors.items()}
    try:
        save_file(tensors, str(path), metadata=None if metadata is None else dict(metadata))
    except SafetensorError as e:
        raise _safetensors_error(e, path) from None
    os.chmod(path, file_mode())


def load_arrays(path: Path) -> dict[str, np.ndarray]:
    """Read a safetensors file into numpy arrays; a corrupt file raises ``FormatError``."""
    from safetensors.numpy import load_file

    path = Path(path)
    if not path.is_file():
        raise FormatError(f"{path}: file not found")
    try:
        return load_file(str(path))
    except Exception as e:  # safetensors raises its own error types for corrupt headers
        raise FormatError(f"{path}: not a readable safetensors file ({e})") from None


def check_format(meta: Mapping[str, Any], source: Path, kind: str, version: int) -> None:
    """Check ``meta['format']`` and ``meta['format_version']`` of a loaded metadata file."""
    if meta.get("format") != kind:
        raise FormatError(f"{source}: expected format {kind!r}, found {meta.get('format')!r}")
    found = meta.get("format_version")
    if found != version:
        raise FormatError(
            f"{source}: format_version {found!r} is not supported (this labelsphere reads version {version})"
        )
