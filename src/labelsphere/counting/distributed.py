"""Co-occurrence counts on every process of a ``torch.distributed`` group (``torchrun``).

:func:`count_shards_distributed` counts on every process of a ``torch.distributed`` group (the
one ``torchrun`` describes, joined with gloo if no group exists yet): rank ``r`` of ``W`` counts
the files ``files[r::W]``, and the counts are combined with tensor collectives (all-reduce of
the label counts, all-gather of the sparse pair counts; no pickling). Without a vocabulary the
ranks' grown vocabularies are merged by exchanging the names as UTF-8 bytes together with the
file each name first appeared in, which recovers the one-process order of first appearance; the
count ordering and ``min_count`` then apply as in :func:`count_shards`. Every rank returns the
same counter, bit-identical to one process's ``count_shards`` over all the files.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp
from tqdm.auto import tqdm

from labelsphere.counting.cooccurrence import CooccurrenceCounter, _compact
from labelsphere.counting.shards import _count_file, _kept, count_shards
from labelsphere.data.readers.shards import shard_files
from labelsphere.labels import LabelVocabulary, UnknownLabelError, UnknownPolicy

if TYPE_CHECKING:
    import torch


__all__ = ["count_shards_distributed"]


def count_shards_distributed(
    paths: str | Path | Iterable[str | Path],
    vocabulary: LabelVocabulary | None = None,
    min_count: int = 1,
    batch_size: int = 65_536,
    progress: bool = True,
    field: str = "labels",
    sep: str = "|",
    unknown: UnknownPolicy = "error",
) -> CooccurrenceCounter:
    """:func:`count_shards` on every process of a ``torch.distributed`` group, merged exactly.

    Under ``torchrun`` (``WORLD_SIZE`` > 1 in the environment) a process group is joined with
    the gloo backend if none exists, and left again at the end; an existing group is used (a
    gloo subgroup is made when its backend is not gloo: the counts are CPU tensors). Without a
    group, or with one process, this is ``count_shards``.

    Every rank must be given the same files and options: they are checked first (a hash of the
    file names, sizes and options, all-gathered), and a mismatch is a ``ValueError`` on every
    rank. Rank ``r`` of ``W`` then counts ``files[r::W]`` (a rank may get none). An error on one
    rank (a malformed row, an unknown label) is raised on every rank: the failing rank raises
    its own exception, the others a ``ValueError`` with its message, so that no rank waits.

    The counts are combined with tensor collectives: the label counts with an all-reduce, the
    sparse pair counts (upper triangle) with an all-gather of variable-length int64 tensors
    (sizes first, then padded), summed as canonical CSR. Without a vocabulary each rank's
    names travel as UTF-8 bytes with the index of the file each first appeared in, from which
    every rank rebuilds the one-process order of first appearance; the final labels (count
    order, ``min_count``) are then chosen from the merged label counts as in ``count_shards``,
    and each rank renumbers its pair counts straight to them before they are gathered.
    Parameters are those of :func:`count_shards` (no ``checkpoint``).

    Returns
    -------
    CooccurrenceCounter
        On **every** rank the same counter, bit-identical to ``count_shards`` over all files in
        one process (vocabulary and its order, label counts, pair CSR arrays, ``n_samples_``).
        Extra attributes: ``seconds_`` (the slowest rank's counting plus the merge, which
        includes the final ordering by count and ``min_count``),
        ``samples_per_second_`` (all ranks' samples per ``seconds_``), ``merge_seconds_``,
        ``rank_`` and ``world_size_`` (this process's place; only rank 0 should write files).
    """
    import torch.distributed as dist

    joined = False
    if (
        dist.is_available()
        and not dist.is_initialized()
        and int(os.environ.get("WORLD_SIZE", "1")) > 1
    ):
        dist.init_process_group(backend="gloo")
        joined = True
    try:
        if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
            counter = count_shards(
                paths, vocabulary, min_count, batch_size, progress, None, field, sep, unknown
            )
            counter.merge_seconds_ = 0.0  # type: ignore[attr-defined]
            counter.rank_ = 0  # type: ignore[attr-defined]
            counter.world_size_ = 1  # type: ignore[attr-defined]
            return counter
        group = None if dist.get_backend() == "gloo" else dist.new_group(backend="gloo")
        return _count_distributed(
            paths, vocabulary, min_count, batch_size, progress, field, sep, unknown, group
        )
    finally:
        if joined:
            dist.destroy_process_group()


def _count_distributed(
    paths: str | Path | Iterable[str | Path],
    vocabulary: LabelVocabulary | None,
    min_count: int,
    batch_size: int,
    progress: bool,
    field: str,
    sep: str,
    unknown: UnknownPolicy,
    group: object,
) -> CooccurrenceCounter:
    import torch
    import torch.distributed as dist

    rank, world = dist.get_rank(group), dist.get_world_size(group)
    # 1. The same files and options everywhere (one hash per rank, all-gathered).
    files: list[Path] = []
    error: Exception | None = None
    fingerprint = 0
    try:
        if min_count < 1:
            raise ValueError(f"min_count must be >= 1, got {min_count}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if unknown not in ("error", "ignore"):
            raise ValueError(f"unknown must be 'error' or 'ignore', got {unknown!r}")
        files = shard_files(paths)
        described = json.dumps(
            [
                [[str(f), f.stat().st_size] for f in files],
                None if vocabulary is None else vocabulary.names,
                [min_count, field, sep, unknown],
            ]
        )
        digest = hashlib.blake2b(described.encode("utf-8"), digest_size=8).digest()
        fingerprint = int.from_bytes(digest, "little", signed=True)
    except Exception as e:  # raised on every rank below, so that none waits
        error = e
    _raise_if_any(error, group)
    mine = torch.tensor([len(files), fingerprint], dtype=torch.int64)
    every = [torch.zeros(2, dtype=torch.int64) for _ in range(world)]
    dist.all_gather(every, mine, group=group)
    if any(not torch.equal(t, every[0]) for t in every):
        sizes = ", ".join(f"rank {r}: {int(t[0])} files" for r, t in enumerate(every))
        raise ValueError(
            "the ranks were given different shard files or options (" + sizes + "); every "
            "rank must get the same files, sizes, vocabulary, min_count, field, sep and unknown"
        )

    # 2. This rank's files, files[rank::world]; first_file[i]: where local name i first came.
    index: dict[str, int] = (
        {} if vocabulary is None else {n: i for i, n in enumerate(vocabulary.names)}
    )
    counter = (
        CooccurrenceCounter(vocabulary=vocabulary)
        if vocabulary is not None
        else CooccurrenceCounter(n_labels=1)
    )
    grown = 0
    first_file: list[int] = []
    todo = list(range(rank, len(files), world))
    t0 = time.perf_counter()
    try:
        total_bytes = sum(files[j].stat().st_size for j in todo)
        bytes_done = 0
        with tqdm(
            total=None,
            disable=not (progress and rank == 0),
            desc=f"counting (rank 0 of {world})",
            unit="sample",
            unit_scale=True,
        ) as bar:
            for j in todo:
                f = files[j]
                try:
                    grown, _ = _count_file(
                        f, counter, vocabulary, index, grown, unknown, field, sep, batch_size, bar
                    )
                except UnknownLabelError as e:
                    raise UnknownLabelError(f"{f}: {e}") from None
                if vocabulary is None:
                    first_file.extend([j] * (len(index) - len(first_file)))
                bytes_done += f.stat().st_size
                if bytes_done and total_bytes:
                    bar.total = bar.n + round(bar.n / bytes_done * (total_bytes - bytes_done))
                    bar.refresh()
        counter._upper()  # the last batches' pair counts summed in: counting, not merging
    except Exception as e:
        error = e
    _raise_if_any(error, group)
    count_seconds = time.perf_counter() - t0

    # 3. Merge: totals and label counts by all-reduce, pair counts by all-gather.
    t1 = time.perf_counter()
    n_samples = torch.tensor([counter.n_samples_], dtype=torch.int64)
    dist.all_reduce(n_samples, group=group)
    if vocabulary is not None:
        L = len(vocabulary)
        names = vocabulary.names
        to_global = np.arange(L, dtype=np.int64)
    else:
        local = list(index)
        names, to_global = _merge_names(local, first_file, group)
        L = max(len(names), 1)
    counts = np.zeros(L, dtype=np.int64)
    n_local = len(to_global)
    counts[to_global] = counter.label_counts_[:n_local]
    counts_t = torch.from_numpy(counts)
    dist.all_reduce(counts_t, group=group)
    if int(n_samples.item()) == 0:
        raise ValueError("the shards hold no samples")
    if not names:
        raise ValueError("the shards hold no label names")
    # The final labels (count order, min_count) from the merged counts, as count_shards picks
    # them; each rank renumbers its own labels straight to them (dropped ones: -1).
    keep, vocab = _kept(counts, names, vocabulary, min_count)
    if keep is None:
        K, final_of_local = L, to_global
    else:
        K = keep.size
        final_of = np.full(L, -1, dtype=np.int64)
        final_of[keep] = np.arange(K)
        final_of_local = final_of[to_global]
    identity = vocabulary is not None and keep is None
    # Each rank's upper triangle as canonical CSR over the final labels, sent as one int64
    # tensor of row lengths, column indices and counts; a sum of canonical CSR is canonical.
    upper = _renumbered(counter, final_of_local, K, identity)
    payload = np.concatenate(
        [np.diff(upper.indptr).astype(np.int64), upper.indices.astype(np.int64), upper.data]
    )
    del upper
    parts = _all_gather_varlen(torch.from_numpy(payload), group)
    del payload
    pairs = sp.csr_matrix((K, K), dtype=np.int64)
    for part in parts:
        a = part.numpy()
        nnz = (a.size - K) // 2
        indptr = np.zeros(K + 1, dtype=np.int64)
        np.cumsum(a[:K], out=indptr[1:])
        m = sp.csr_matrix((a[K + nnz :], a[K : K + nnz], indptr), shape=(K, K))
        m.has_canonical_format = True
        pairs = m if pairs.nnz == 0 else pairs + m
    del parts
    pairs.sum_duplicates()  # canonical already: a no-op that makes sure
    merged = CooccurrenceCounter(n_labels=K, vocabulary=vocab)
    merged.n_samples_ = int(n_samples.item())
    merged.label_counts_ = counts if keep is None else counts[keep]
    merged._pairs = _compact(pairs)
    del pairs
    merge_seconds = time.perf_counter() - t1
    times = torch.tensor([count_seconds + merge_seconds, merge_seconds], dtype=torch.float64)
    dist.all_reduce(times, op=dist.ReduceOp.MAX, group=group)
    seconds = float(times[0])
    merged.seconds_ = seconds  # type: ignore[attr-defined]
    merged.samples_per_second_ = (  # type: ignore[attr-defined]
        merged.n_samples_ / seconds if seconds > 0 else float("nan")
    )
    merged.merge_seconds_ = float(times[1])  # type: ignore[attr-defined]
    merged.rank_ = rank  # type: ignore[attr-defined]
    merged.world_size_ = world  # type: ignore[attr-defined]
    return merged


def _renumbered(
    counter: CooccurrenceCounter, new_of: np.ndarray, K: int, identity: bool
) -> sp.csr_matrix:
    """This rank's stored upper triangle with its label i renumbered ``new_of[i]`` (-1: left
    out), over ``K`` labels, canonical (sorted, summed); ``identity``: no renumbering."""
    upper = counter._upper()
    if identity:
        return upper
    n_local = len(new_of)
    if n_local == 0:
        return sp.csr_matrix((K, K), dtype=np.int64)
    rows = np.repeat(new_of, np.diff(upper.indptr[: n_local + 1]))
    cols = new_of[upper.indices]
    ok = (rows >= 0) & (cols >= 0)
    rows, cols, data = rows[ok], cols[ok], upper.data[ok]
    lo, hi = np.minimum(rows, cols), np.maximum(rows, cols)
    del rows, cols, ok
    out = sp.csr_matrix((data, (lo, hi)), shape=(K, K))
    out.sum_duplicates()
    return out


def _merge_names(
    local: list[str], first_file: list[int], group: object
) -> tuple[list[str], np.ndarray]:
    """All ranks' grown names in one-process order; and this rank's names' global indices.

    One process numbers names by first appearance over the files in order. The earliest file
    holding a name was counted by one rank, where the name also first appeared in that file,
    after that file's earlier new names: so sorting all (first file, local index) pairs and
    keeping each name's first is the one-process order.
    """
    import torch

    encoded = [n.encode("utf-8") for n in local]
    blob = np.frombuffer(b"".join(encoded), dtype=np.uint8).copy()
    meta = np.concatenate(
        [np.array([len(b) for b in encoded], dtype=np.int64), np.asarray(first_file, np.int64)]
    )
    blobs = _all_gather_varlen(torch.from_numpy(blob), group)
    metas = _all_gather_varlen(torch.from_numpy(meta), group)
    all_names: list[str] = []
    files: list[np.ndarray] = []
    positions: list[np.ndarray] = []
    for b, m in zip(blobs, metas, strict=True):
        k = m.numel() // 2
        lengths, ff = m[:k].numpy(), m[k:].numpy()
        raw = b.numpy().tobytes()
        ends = np.cumsum(lengths)
        starts = ends - lengths
        all_names.extend(raw[a:e].decode("utf-8") for a, e in zip(starts, ends, strict=True))
        files.append(ff)
        positions.append(np.arange(k, dtype=np.int64))
    if not all_names:
        return [], np.zeros(0, dtype=np.int64)
    order = np.lexsort((np.concatenate(positions), np.concatenate(files)))
    names = list(dict.fromkeys(all_names[i] for i in order))
    where = {n: i for i, n in enumerate(names)}
    return names, np.array([where[n] for n in local], dtype=np.int64)


def _all_gather_varlen(t: torch.Tensor, group: object) -> list[torch.Tensor]:
    """Every rank's 1-D tensor (lengths may differ): sizes all-gathered first, then padded."""
    import torch
    import torch.distributed as dist

    world = dist.get_world_size(group)
    size = torch.tensor([t.numel()], dtype=torch.int64)
    sizes = [torch.zeros(1, dtype=torch.int64) for _ in range(world)]
    dist.all_gather(sizes, size, group=group)
    n = [int(s.item()) for s in sizes]
    m = max(max(n), 1)
    padded = torch.zeros(m, dtype=t.dtype)
    padded[: t.numel()] = t
    out = [torch.empty(m, dtype=t.dtype) for _ in range(world)]
    dist.all_gather(out, padded, group=group)
    return [o[:k] for o, k in zip(out, n, strict=True)]


def _raise_if_any(error: Exception | None, group: object) -> None:
    """Raise on every rank when one failed: its own error there, its message elsewhere."""
    import torch
    import torch.distributed as dist

    world = dist.get_world_size(group)
    flag = torch.tensor([0 if error is None else 1], dtype=torch.int64)
    flags = [torch.zeros(1, dtype=torch.int64) for _ in range(world)]
    dist.all_gather(flags, flag, group=group)
    failed = [r for r, f in enumerate(flags) if int(f.item())]
    if not failed:
        return
    text = "" if error is None else (str(error) or type(error).__name__)
    msg = np.frombuffer(text.encode("utf-8"), dtype=np.uint8).copy()
    messages = _all_gather_varlen(torch.from_numpy(msg), group)
    if error is not None:
        raise error
    r = failed[0]
    raise ValueError(f"rank {r}: {messages[r].numpy().tobytes().decode('utf-8')}")
