"""Writing and reading artifacts safely: atomic file writes, JSON metadata, safetensors arrays.

Every artifact labelsphere writes (embeddings, counters, checkpoints, reports) goes through
here so that an interrupted write never leaves a half-written file in place of a good one,
and nothing is ever unpickled.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "FormatError",
    "atomic_write",
    "atomic_write_text",
    "check_format",
    "file_sha256",
    "load_arrays",
    "read_json",
    "save_arrays",
    "write_json",
]


class FormatError(ValueError):
    """A saved artifact is missing, corrupt, or of an unsupported format version."""


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Call ``write(tmp_path)`` then atomically rename ``tmp_path`` onto ``path``.

    The temporary file lives in the same directory so ``os.replace`` is a rename on one file
    system; on any error the temporary file is removed and ``path`` is left untouched.
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
        os.replace(tmp_path, path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


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


def file_sha256(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes, read in ``chunk``-byte blocks.

    Not memoised: a rewritten file must get a new digest. Raises ``OSError`` when the file
    cannot be read (callers that tolerate that catch it).
    """
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def save_arrays(
    path: Path, arrays: Mapping[str, np.ndarray], metadata: Mapping[str, str] | None = None
) -> None:
    """Write numpy arrays to a safetensors file, atomically."""
    from safetensors.numpy import save_file

    tensors = {k: np.ascontiguousarray(v) for k, v in arrays.items()}
    atomic_write(Path(path), lambda p: save_file(tensors, str(p), metadata=dict(metadata or {})))


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
