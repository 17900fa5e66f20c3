"""iconify-icons: gzipped JSON lines of icons, each an inline SVG document with label words.

``train.jsonl.gz`` / ``test.jsonl.gz`` hold one icon a line, ``{"id", "set", "svg", "labels",
"name_words", ...}`` (the dataset's README describes the fields and the split). :func:`load_iconify`
reads one split in one streaming pass per file.

Groups: the test split keeps the style and size variants of one icon on one side
    The dataset's test split is a seeded hash of (set family, name words), so that
    ``add-16-regular`` and ``add-24-filled`` in fluent, or one name in material-symbols and
    material-symbols-light, are never split. Each icon's group is :func:`icon_group`: the
    set's first dash-separated word (its family) and the name words in order. With that key
    0.05 % of the test icons share a group with a train icon (the README's family is no finer
    than this), so ``train_val_test`` can draw a validation part the same way; a random one
    puts variants of one icon on both sides and rewards memorising them (see
    ``docs/paper_regime.md``).

Inputs: SVG files in a content-addressed folder
    The image pipeline consumes image *files* (``X`` is a list of paths), so each kept icon's
    SVG document is written once to ``svg_dir/<h[:2]>/<h>.svg``, where ``h`` is the sha256 of
    the document's UTF-8 bytes (default ``svg_dir``: :data:`DEFAULT_SVG_DIR`). The name is the
    hash that :func:`~labelsphere.artifacts.file_sha256` gives the file, so the frozen-feature
    path (:func:`~labelsphere.images.extract_features`, its safe SVG loader and its feature
    cache, keyed by that same hash) works on these datasets unchanged, and so does
    :func:`~labelsphere.data.renders.render_icons`. A file already there with the right size
    is not rewritten, so only the first load writes; identical documents share one file.
    Cost for both splits: 308,918 files (289,505 train + 32,036 test icons keep a label;
    identical documents share a file), one 4 KiB block each (the documents average ~740
    bytes): 1.3 GB of disk (243 MB of content) and ~309k inodes. The first full train load
    writes them in ~2.5 min on this 2-core machine, later loads take ~33 s (labels only:
    ~20 s); see ``docs/iconify.md``. Files are written to a temporary name and renamed (no
    fsync: a file is only ever replaced by the same bytes, and a truncated one is rewritten
    because its size is checked). ``inputs="none"`` reads the labels only (``X=None``),
    writing nothing.
"""

from __future__ import annotations

import hashlib
import heapq
import os
from pathlib import Path
from typing import Any

import numpy as np

from labelsphere.data.dataset import DataFormatError, MultiLabelDataset
from labelsphere.data.text import iter_jsonl, require_str, require_str_list
from labelsphere.labels import LabelVocabulary

__all__ = ["DEFAULT_SVG_DIR", "icon_group", "load_iconify", "svg_file"]

DEFAULT_SVG_DIR = Path.home() / ".cache" / "labelsphere" / "svg"
"""Where :func:`load_iconify` writes the icons' SVG files unless told otherwise."""

_SPLITS = ("train", "test")
_INPUTS = ("files", "none")


def load_iconify(
    folder: Path,
    split: str,
    min_count: int = 5,
    max_icons: int | None = None,
    seed: int = 0,
    *,
    inputs: str = "files",
    svg_dir: str | Path | None = None,
    max_lines: int | None = None,
) -> MultiLabelDataset:
    """One split of iconify-icons: SVG files as inputs, the icons' label words as labels.

    Parameters
    ----------
    folder : Path
        The dataset folder, holding ``train.jsonl.gz`` and ``test.jsonl.gz``.
    split : {"train", "test"}
        The dataset's own split (10 % test, by a seeded hash of set family and name words).
    min_count : int
        Labels used by fewer train icons are dropped (default 5: 10,286 of the 38,818 labels on
        the full train split; the file's empty label ``""``, the gis set's unnamed category
        on 350 icons, is always dropped). Counted on the train icons read (all of them, or the
        ``max_icons`` subset), so loading ``"test"`` also reads the train file (labels
        only). The vocabulary is ordered by decreasing train count, ties by first appearance
        (:meth:`LabelVocabulary.from_lists`, as every loader). Icons left without a label are
        skipped and counted in ``info["n_icons_without_kept_labels"]``.
    max_icons : int, optional
        Use a seeded random subset of at most ``max_icons`` train icons (drawn before
        dropping icons left without labels), and the same fraction of the test icons, so the
        split keeps its ~1:9 ratio. Icons are chosen by a hash of ``(seed, id)``: the subsets
        of two sizes are nested, and a train and a test load with the same options agree on
        the vocabulary. Default: every icon.
    seed : int
        Chooses the ``max_icons`` subsets.
    inputs : {"files", "none"}
        ``"files"``: ``X`` is the list of the icons' SVG files in ``svg_dir`` (written on
        first use, see the module docstring). ``"none"``: labels only, ``X=None``.
    svg_dir : path, optional
        The content-addressed SVG folder; default :data:`DEFAULT_SVG_DIR`.
    max_lines : int, optional
        Read only the first ``max_lines`` lines of each file (for tests).

    Returns
    -------
    MultiLabelDataset
        Named ``"iconify-icons/<split>"``, ``ids`` the icon ids (``"set:name"``), ``groups``
        their :func:`icon_group`, samples in file order; ``info`` gives the source, the
        options and what was dropped.

    Raises
    ------
    DataFormatError
        A line that is not a JSON object with a string ``id``, ``set`` and ``svg`` and lists
        of strings ``labels`` and ``name_words``, naming the file and the line.
    """
    if split not in _SPLITS:
        raise ValueError(f"iconify-icons has splits {list(_SPLITS)}, got {split!r}")
    if inputs not in _INPUTS:
        raise ValueError(f"inputs must be one of {list(_INPUTS)}, got {inputs!r}")
    if max_icons is not None and (isinstance(max_icons, bool) or int(max_icons) < 1):
        raise ValueError(f"max_icons must be a positive integer or None, got {max_icons!r}")
    if max_lines is not None and int(max_lines) < 1:
        raise ValueError(f"max_lines must be a positive integer or None, got {max_lines!r}")
    want_svg = inputs == "files"

    train_path = folder / "train.jsonl.gz"
    train, n_train_lines = _read_split(
        train_path, max_icons, seed, want_svg and split == "train", max_lines
    )
    train_labels = [r[3] for r in train]
    vocab = LabelVocabulary.from_lists(train_labels, min_count=min_count)
    n_labels_total = len({name for row in train_labels for name in row})

    if split == "train":
        path, chosen, n_lines = train_path, train, n_train_lines
    else:
        path = folder / "test.jsonl.gz"
        # At most max_icons are kept while reading; the fraction is applied once the number of
        # test lines is known (the k smallest keys are among the max_icons smallest).
        chosen, n_lines = _read_split(path, max_icons, seed, want_svg, max_lines)
        if max_icons is not None and max_icons < n_train_lines:
            k = round(max_icons * n_lines / n_train_lines)
            smallest = sorted(chosen, key=lambda r: (-r[0], r[1]))[:k]
            chosen = sorted(smallest, key=lambda r: r[1])
    n_picked = len(chosen)

    Y_all = vocab.encode([r[3] for r in chosen], unknown="ignore")
    keep = np.flatnonzero(np.diff(Y_all.indptr) > 0)
    kept = [chosen[i] for i in keep.tolist()]

    X: list[str] | None = None
    n_written = 0
    out_dir = Path(svg_dir).expanduser() if svg_dir is not None else DEFAULT_SVG_DIR
    if want_svg:
        X = []
        made: set[Path] = set()
        for r in kept:
            p, wrote = svg_file(r[4], out_dir, made)
            X.append(str(p))
            n_written += wrote

    info: dict[str, Any] = {
        "path": str(path),
        "split": split,
        "min_count": min_count,
        "max_icons": max_icons,
        "seed": seed,
        "max_lines": max_lines,
        "n_lines": n_lines,
        "n_icons_picked": n_picked,
        "n_icons_without_kept_labels": n_picked - len(kept),
        "n_train_icons_counted": len(train),
        "n_labels_total": n_labels_total,
        "n_dropped_label_occurrences": vocab.n_unknown_,
        "inputs": inputs,
    }
    if want_svg:
        info["svg_dir"] = str(out_dir)
        info["n_svg_files_written"] = n_written
    return MultiLabelDataset(
        X=X,
        Y=Y_all[keep],
        vocabulary=vocab,
        name=f"iconify-icons/{split}",
        ids=[r[2] for r in kept],
        info=info,
        groups=[r[5] for r in kept],
    )


# A record: (-key or 0, line, id, labels, svg or None, group); kept in a heap while sampling.
_Record = tuple[int, int, str, list[str], "str | None", str]


def _read_split(
    path: Path, max_icons: int | None, seed: int, want_svg: bool, max_lines: int | None
) -> tuple[list[_Record], int]:
    """The records of one file (all, or the ``max_icons`` with the smallest keys), in file
    order, and the number of icons the file has (up to ``max_lines``)."""
    out: list[_Record] = []
    n = 0
    for lineno, obj in iter_jsonl(path, ("id", "set", "svg", "labels", "name_words")):
        if max_lines is not None and lineno > max_lines:
            break
        n += 1
        icon_id = require_str(obj, "id", path, lineno)
        labels = require_str_list(obj, "labels", path, lineno)
        if not all(labels):  # the gis set's empty category name ("" on 350 icons)
            labels = [t for t in labels if t]
        svg = require_str(obj, "svg", path, lineno)
        if not svg.strip():
            raise DataFormatError("'svg' is empty", path, lineno)
        rec_svg = svg if want_svg else None
        group = icon_group(
            require_str(obj, "set", path, lineno), require_str_list(obj, "name_words", path, lineno)
        )
        if max_icons is None:
            out.append((0, lineno, icon_id, labels, rec_svg, group))
            continue
        # Keep the max_icons smallest keys: a max-heap of their negations.
        key = _key(seed, icon_id)
        rec = (-key, lineno, icon_id, labels, rec_svg, group)
        if len(out) < max_icons:
            heapq.heappush(out, rec)
        elif -key > out[0][0]:  # smaller than the largest key kept
            heapq.heapreplace(out, rec)
    if max_icons is not None:
        out.sort(key=lambda r: r[1])
    return out, n


def icon_group(icon_set: str, name_words: list[str]) -> str:
    """The group of an icon: its set's family and its name words (``"fluent:arrow left"``).

    The family is the set prefix's first dash-separated word, so material-symbols and
    material-symbols-light, or the streamline-* sets, are one family.

    Examples
    --------
    >>> icon_group("material-symbols-light", ["arrow", "left"])
    'material:arrow left'
    """
    return f"{icon_set.split('-', 1)[0]}:{' '.join(name_words)}"


def _key(seed: int, icon_id: str) -> int:
    """A seeded pseudo-random 63-bit key for an icon: its rank in the ``max_icons`` draw."""
    digest = hashlib.blake2b(f"{seed}\0{icon_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1


def svg_file(svg: str, svg_dir: str | Path, made: set[Path] | None = None) -> tuple[Path, bool]:
    """The content-addressed file holding ``svg``: ``svg_dir/<h[:2]>/<h>.svg``, ``h`` the
    sha256 of its UTF-8 bytes; written if missing or of the wrong size. Returns the path and
    whether it was written. ``made`` remembers the folders already created."""
    data = svg.encode("utf-8")
    h = hashlib.sha256(data).hexdigest()
    sub = Path(svg_dir) / h[:2]
    path = sub / f"{h}.svg"
    try:
        if path.stat().st_size == len(data):
            return path, False
    except FileNotFoundError:
        pass
    if made is None or sub not in made:
        sub.mkdir(parents=True, exist_ok=True)
        if made is not None:
            made.add(sub)
    tmp = sub / f".{h}.{os.getpid()}.tmp"
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path, True
