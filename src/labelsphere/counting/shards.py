"""Co-occurrence counts streamed from label shards: many files, one pass, bounded memory.

:func:`count_shards` reads label sets with :func:`~labelsphere.data.readers.iter_label_shards`
(JSON lines, CSV, Parquet, gzip) and feeds them to a
:class:`~labelsphere.counting.cooccurrence.CooccurrenceCounter` batch by batch. Memory is that of the
counts (12 bytes per co-occurring pair) plus one batch.

Without a vocabulary the vocabulary **grows** as names appear (one pass, not two): labels get
indices in order of first appearance while counting; at the end they are reordered by
decreasing count (ties: first appearance), which is ``LabelVocabulary.from_lists``'s order, and
labels seen fewer than ``min_count`` times are dropped. Dropping a label removes its row and
column only, so the result equals counting with the final vocabulary from the start.

Counters of different workers (each counting some of the shards, with the same vocabulary)
merge exactly with ``CooccurrenceCounter.merge``; a checkpoint written mid-way is an ordinary
saved counter.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp
from tqdm.auto import tqdm

from labelsphere.artifacts import atomic_write_text
from labelsphere.counting.cooccurrence import CooccurrenceCounter
from labelsphere.data.readers.shards import iter_shard_file, shard_files
from labelsphere.labels import LabelVocabulary, UnknownLabelError, UnknownPolicy

if TYPE_CHECKING:
    pass

__all__ = ["count_shards"]


def count_shards(
    paths: str | Path | Iterable[str | Path],
    vocabulary: LabelVocabulary | None = None,
    min_count: int = 1,
    batch_size: int = 65_536,
    progress: bool = True,
    checkpoint: str | Path | None = None,
    field: str = "labels",
    sep: str = "|",
    unknown: UnknownPolicy = "error",
) -> CooccurrenceCounter:
    """Count label co-occurrences over label shard files in one streaming pass.

    Parameters
    ----------
    paths : a file, a directory, or several of them
        JSON lines, CSV or Parquet shards (see :mod:`labelsphere.data.readers.shards`).
    vocabulary : LabelVocabulary, optional
        Count into this vocabulary (names not in it: see ``unknown``). Without one the
        vocabulary grows while counting and is ordered by decreasing count at the end.
    min_count : int, default=1
        Labels seen fewer times are dropped at the end (exactly: their rows and columns). With
        a given vocabulary and ``min_count=1`` the vocabulary is kept whole.
    batch_size : int, default=65536
        Samples encoded and counted at a time.
    progress : bool, default=True
        A progress bar in samples, with the rate (samples/s) and, after the first file, an ETA
        estimated from the files' sizes.
    checkpoint : path, optional
        After each file, the counter is saved there (``CooccurrenceCounter.save``) with a
        sidecar ``<checkpoint>.json`` listing the files done. A later call with the same
        checkpoint loads it and skips those files, so an interrupted count resumes.
    field, sep : str
        Where the labels are and how joined label strings are separated.
    unknown : {"error", "ignore"}, default="error"
        With a vocabulary: what a name outside it does.

    Returns
    -------
    CooccurrenceCounter
        With ``vocabulary`` set, and two extra attributes: ``seconds_`` (wall time of this
        call's counting) and ``samples_per_second_`` (samples counted in this call per second).
    """
    if min_count < 1:
        raise ValueError(f"min_count must be >= 1, got {min_count}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    files = shard_files(paths)
    done: list[dict] = []
    counter: CooccurrenceCounter | None = None
    index: dict[str, int] = {}
    side = None if checkpoint is None else Path(str(checkpoint) + ".json")
    if checkpoint is not None and Path(checkpoint).exists() and side is not None and side.exists():
        counter = CooccurrenceCounter.load(checkpoint)
        state = json.loads(side.read_text(encoding="utf-8"))
        done = list(state.get("files", []))
        if vocabulary is not None:
            if counter.vocabulary != vocabulary:
                raise ValueError(
                    f"{checkpoint}: the checkpoint was counted with another vocabulary"
                )
        elif counter.vocabulary is not None:
            index = {name: i for i, name in enumerate(counter.vocabulary.names)}
    grown = len(index)  # size of the growing vocabulary (none given)
    if vocabulary is not None:
        if unknown not in ("error", "ignore"):
            raise ValueError(f"unknown must be 'error' or 'ignore', got {unknown!r}")
        index = {name: i for i, name in enumerate(vocabulary.names)}
        grown = 0
    if counter is None:
        counter = (
            CooccurrenceCounter(vocabulary=vocabulary)
            if vocabulary is not None
            else CooccurrenceCounter(n_labels=1)  # a placeholder until names come
        )
    done_keys = {(d["path"], d["size"]) for d in done}
    todo = [f for f in files if (str(f.resolve()), f.stat().st_size) not in done_keys]
    total_bytes = sum(f.stat().st_size for f in todo)
    t0 = time.perf_counter()
    n_counted = 0
    bytes_done = 0
    with tqdm(
        total=None, disable=not progress, desc="counting", unit="sample", unit_scale=True
    ) as bar:
        for f in todo:
            grown, n_file = _count_file(
                f, counter, vocabulary, index, grown, unknown, field, sep, batch_size, bar
            )
            n_counted += n_file
            bytes_done += f.stat().st_size
            if bytes_done and total_bytes:  # samples still to come, from the bytes still to read
                bar.total = bar.n + round(n_counted / bytes_done * (total_bytes - bytes_done))
                bar.refresh()
            done.append({"path": str(f.resolve()), "size": f.stat().st_size, "samples": n_file})
            if checkpoint is not None and side is not None:
                _set_vocabulary(counter, vocabulary, index, grown)
                counter.save(checkpoint)
                atomic_write_text(side, json.dumps({"files": done}, indent=1))
    seconds = time.perf_counter() - t0
    _set_vocabulary(counter, vocabulary, index, grown)
    if counter.n_samples_ == 0:
        raise ValueError("the shards hold no samples")
    counter = _finish(counter, vocabulary, min_count)
    counter.seconds_ = seconds  # type: ignore[attr-defined]
    counter.samples_per_second_ = n_counted / seconds if seconds > 0 else float("nan")  # type: ignore[attr-defined]
    return counter


def _count_file(
    f: Path,
    counter: CooccurrenceCounter,
    vocabulary: LabelVocabulary | None,
    index: dict[str, int],
    grown: int,
    unknown: UnknownPolicy,
    field: str,
    sep: str,
    batch_size: int,
    bar: tqdm,
) -> tuple[int, int]:
    """Count one shard file in batches; returns the growing vocabulary's size and the samples."""
    n_file = 0
    batch: list[list[str]] = []
    for labels in iter_shard_file(f, field, sep):
        batch.append(labels)
        if len(batch) >= batch_size:
            grown = _count_batch(counter, batch, vocabulary, index, grown, unknown)
            n_file += len(batch)
            bar.update(len(batch))
            batch = []
    if batch:
        grown = _count_batch(counter, batch, vocabulary, index, grown, unknown)
        n_file += len(batch)
        bar.update(len(batch))
    return grown, n_file


def _count_batch(
    counter: CooccurrenceCounter,
    batch: list[list[str]],
    vocabulary: LabelVocabulary | None,
    index: dict[str, int],
    grown: int,
    unknown: UnknownPolicy,
) -> int:
    """Encode and count one batch; returns the size of the growing vocabulary."""
    indptr = np.zeros(len(batch) + 1, dtype=np.int64)
    cols: list[int] = []
    if vocabulary is not None:  # index: the vocabulary's names -> columns, built once
        for i, row in enumerate(batch):
            try:
                cols.extend(sorted({index[name] for name in row}))
            except KeyError:
                if unknown == "error":
                    bad = next(n for n in row if n not in index)
                    raise UnknownLabelError(
                        f"sample {counter.n_samples_ + i}: unknown label {bad!r} (vocabulary "
                        f"has {len(vocabulary)} labels; pass unknown='ignore' to drop it)"
                    ) from None
                cols.extend(sorted({index[n] for n in row if n in index}))
            indptr[i + 1] = len(cols)
        Y = sp.csr_matrix(
            (np.ones(len(cols), dtype=np.int8), np.asarray(cols, dtype=np.int64), indptr),
            shape=(len(batch), counter.n_labels),
        )
        counter.update(Y)
        return grown
    for i, row in enumerate(batch):
        # setdefault evaluates len(index) first: a new name gets the next index.
        cols.extend(sorted({index.setdefault(name, len(index)) for name in row}))
        indptr[i + 1] = len(cols)
    L = max(len(index), 1)
    if grown == 0 and counter.n_samples_ == 0:
        # Replace the placeholder counter's label space (it has seen nothing).
        counter.__init__(n_labels=L)  # type: ignore[misc]
    elif L > counter.n_labels:
        counter._resized(L)
    Y = sp.csr_matrix(
        (np.ones(len(cols), dtype=np.int8), np.asarray(cols, dtype=np.int64), indptr),
        shape=(len(batch), counter.n_labels),
    )
    counter.update(Y)
    return len(index)


def _set_vocabulary(
    counter: CooccurrenceCounter,
    vocabulary: LabelVocabulary | None,
    index: dict[str, int],
    grown: int,
) -> None:
    if vocabulary is None and grown:
        if counter.n_labels < grown:
            counter._resized(grown)
        counter.vocabulary = LabelVocabulary(list(index))


def _finish(
    counter: CooccurrenceCounter, vocabulary: LabelVocabulary | None, min_count: int
) -> CooccurrenceCounter:
    """Order a grown vocabulary by count and drop labels below ``min_count`` (exactly)."""
    if counter.vocabulary is None:
        raise ValueError("the shards hold no label names")
    keep, vocab = _kept(counter.label_counts_, counter.vocabulary.names, vocabulary, min_count)
    return counter if keep is None else counter._take(keep, vocab)


def _kept(
    counts: np.ndarray, names: list[str], vocabulary: LabelVocabulary | None, min_count: int
) -> tuple[np.ndarray | None, LabelVocabulary]:
    """The labels kept, in their final order (``None``: all, as they are), and their vocabulary.

    A grown vocabulary is ordered by decreasing count (ties: first appearance); a given one
    keeps its order, and with ``min_count=1`` is kept whole, unseen labels included.
    """
    if vocabulary is not None and min_count == 1:
        return None, vocabulary
    order = np.argsort(-counts, kind="stable") if vocabulary is None else np.arange(len(counts))
    keep = order[counts[order] >= min_count]
    if keep.size == 0:
        raise ValueError(f"no label occurs at least min_count={min_count} times")
    return keep, LabelVocabulary([names[i] for i in keep], counts[keep])
