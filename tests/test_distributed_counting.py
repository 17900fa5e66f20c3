"""Distributed co-occurrence counting: 2 processes (gloo, CPU) started by torchrun, real labels.

delicious's training label sets are written as shards (JSONL, CSV, gzipped JSONL); the counts of
``count_shards_distributed`` on 2 ranks must equal one process's ``count_shards`` bit for bit, on
every rank. One torchrun launch runs every library case (this file is its worker script), one
more runs the ``count`` command.
"""

from __future__ import annotations

import csv
import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from labelsphere import CooccurrenceCounter, LabelVocabulary
from labelsphere.counting import count_shards, count_shards_distributed

pytestmark = pytest.mark.skipif(
    sys.platform == "win32", reason="torchrun with gloo on this machine (Linux CI)"
)

# name -> (shards, vocabulary file or None, min_count, unknown); "rank1:" shards differ on rank 1.
CASES = {
    "grown": (["a.jsonl", "b.csv", "c.jsonl.gz"], None, 1, "error"),
    "grown_min3": (["a.jsonl", "b.csv", "c.jsonl.gz"], None, 3, "error"),
    "vocab": (["a.jsonl", "b.csv", "c.jsonl.gz"], "vocab.json", 1, "error"),
    "vocab_min2": (["c.jsonl.gz", "a.jsonl", "b.csv"], "vocab.json", 2, "error"),
    "one_shard": (["all.jsonl"], None, 1, "error"),
    "one_shard_vocab": (["all.jsonl"], "vocab.json", 1, "error"),
    "four_ignore": (["a.jsonl", "b.csv", "c.jsonl.gz", "all.jsonl"], "small.json", 1, "ignore"),
}
ERRORS = {
    "mismatch": (["a.jsonl", "b.csv", "c.jsonl.gz"], ["a.jsonl", "b.csv"]),
    "bad_row": (["a.jsonl", "bad.jsonl"], None),
    "unknown": (["a.jsonl", "b.csv"], None),  # with small.json and unknown="error"
    "too_rare": (["a.jsonl", "b.csv"], None),  # min_count above every count
}


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1"}


def _torchrun(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]
    return subprocess.run(
        [*cmd, *args], cwd=cwd, env=_env(), capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope="module")
def shards(tmp_path_factory, data_dir):
    """delicious train label sets as 3 uneven shards of 3 formats, one whole shard, vocabularies."""
    from labelsphere.data import load_dataset

    ds = load_dataset("delicious", split="train", data_dir=data_dir)
    rows = ds.vocabulary.decode(ds.Y)
    d = tmp_path_factory.mktemp("shards")
    with open(d / "a.jsonl", "w", encoding="utf-8") as f:
        f.writelines(json.dumps({"labels": r}) + "\n" for r in rows[:5000])
    with open(d / "b.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["id", "labels"])
        w.writerows([i, "|".join(r)] for i, r in enumerate(rows[5000:7000]))
    with gzip.open(d / "c.jsonl.gz", "wt", encoding="utf-8") as f:
        f.writelines(json.dumps({"labels": r}) + "\n" for r in rows[7000:])
    with open(d / "all.jsonl", "w", encoding="utf-8") as f:
        f.writelines(json.dumps({"labels": r}) + "\n" for r in rows)
    (d / "bad.jsonl").write_text('{"labels": ["a"]}\n{"labels": ["b"]}\n{"labels": 5}\n')
    names = sorted(ds.vocabulary.names)  # not the count order
    LabelVocabulary([*names, "never-seen"]).save(d / "vocab.json")
    LabelVocabulary(names[::2]).save(d / "small.json")  # half the names: the rest unknown
    return d


def _one_process(d: Path, files, vocab, min_count, unknown) -> CooccurrenceCounter:
    v = None if vocab is None else LabelVocabulary.load(d / vocab)
    return count_shards(
        [d / f for f in files], v, min_count=min_count, progress=False, unknown=unknown
    )


def _arrays(c: CooccurrenceCounter) -> dict[str, np.ndarray]:
    upper = c.pair_counts(full=False)
    return {
        "label_counts": c.label_counts_,
        "indptr": upper.indptr,
        "indices": upper.indices,
        "data": upper.data,
        "n_samples": np.array([c.n_samples_]),
    }


def _assert_identical(got: dict[str, np.ndarray], want: CooccurrenceCounter) -> None:
    for k, v in _arrays(want).items():
        assert got[k].dtype == v.dtype, k  # the same compact index dtypes too
        assert np.array_equal(got[k], v), k


@pytest.fixture(scope="module")
def two_ranks(shards):
    """Every case counted by 2 torchrun processes; each rank's result saved per case."""
    out = shards / "out"
    r = _torchrun(__file__, str(shards), str(out), cwd=shards)
    assert r.returncode == 0, (r.stdout + r.stderr)[-4000:]
    return out


@pytest.mark.parametrize("case", list(CASES))
def test_two_ranks_equal_one_process(two_ranks, shards, case):
    files, vocab, min_count, unknown = CASES[case]
    want = _one_process(shards, files, vocab, min_count, unknown)
    for rank in (0, 1):  # every rank ends with the same counter
        got = dict(np.load(two_ranks / f"{case}-{rank}.npz"))
        _assert_identical(got, want)
        info = json.loads((two_ranks / f"{case}-{rank}.json").read_text())
        assert info["names"] == want.vocabulary.names  # same labels, same order
        assert info["world_size"] == 2 and info["rank"] == rank
        assert info["samples_per_second"] > 0
    if vocab is None:  # a grown vocabulary: ordered by count, ties by first appearance
        assert want.label_counts_.tolist() == sorted(want.label_counts_, reverse=True)


def test_errors_reach_every_rank(two_ranks):
    e = {(c, r): (two_ranks / f"{c}-{r}.err").read_text() for c in ERRORS for r in (0, 1)}
    for r in (0, 1):  # the same message everywhere: nobody is left waiting
        assert e["mismatch", r].startswith("ValueError: the ranks were given different shard")
        assert "rank 0: 3 files, rank 1: 2 files" in e["mismatch", r]
    # bad.jsonl is rank 1's: it raises its own error, rank 0 says which rank and why.
    assert (
        e["bad_row", 1].startswith("DataFormatError: ") and "bad.jsonl, line 3" in e["bad_row", 1]
    )
    assert (
        e["bad_row", 0].startswith("ValueError: rank 1: ")
        and "bad.jsonl, line 3" in e["bad_row", 0]
    )
    assert e["unknown", 0].startswith("UnknownLabelError: ") and "a.jsonl" in e["unknown", 0]
    assert e["unknown", 1].startswith("UnknownLabelError: ") and "b.csv" in e["unknown", 1]
    for r in (0, 1):  # decided from the merged counts: the same on every rank
        assert e["too_rare", r] == "ValueError: no label occurs at least min_count=1000000000 times"


def test_count_command_under_torchrun(shards, tmp_path):
    out = tmp_path / "counts.safetensors"
    r = _torchrun(
        "-m", "labelsphere", "count", "a.jsonl", "b.csv", "c.jsonl.gz", "--out", str(out),
        "--min-count", "2", "--no-progress", cwd=shards,
    )  # fmt: skip
    assert r.returncode == 0, (r.stdout + r.stderr)[-4000:]
    assert r.stdout.count("counted 12,920 samples") == 1  # rank 0 reports
    assert "over 2 process(es)" in r.stdout
    got = CooccurrenceCounter.load(out)
    want = _one_process(shards, ["a.jsonl", "b.csv", "c.jsonl.gz"], None, 2, "error")
    assert got.vocabulary == want.vocabulary and got.n_samples_ == want.n_samples_
    assert np.array_equal(got.label_counts_, want.label_counts_)
    assert (got.pair_counts(full=False) != want.pair_counts(full=False)).nnz == 0


def test_count_command_bad_shard_is_one_line(shards, tmp_path):
    out = tmp_path / "bad.safetensors"
    cmd = [sys.executable, "-m", "labelsphere", "count", "a.jsonl", "bad.jsonl", "--out", str(out)]
    r = subprocess.run(cmd, cwd=shards, env=_env(), capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    assert "error: bad.jsonl, line 3: 'labels' should be a list" in r.stderr
    assert "Traceback" not in r.stderr and not out.exists()


def test_one_process_without_a_group_is_count_shards(shards):
    c = count_shards_distributed([shards / "b.csv"], progress=False)
    want = _one_process(shards, ["b.csv"], None, 1, "error")
    _assert_identical(_arrays(c), want)
    assert c.world_size_ == 1 and c.rank_ == 0


# ---------------------------------------------------------------------------- torchrun worker
def _worker(d: Path, out: Path) -> None:
    """Run by torchrun (2 processes): every case in one process group."""
    import torch.distributed as dist

    dist.init_process_group("gloo")
    rank = dist.get_rank()
    out.mkdir(exist_ok=True)

    def run(files, vocab, min_count, unknown):
        v = None if vocab is None else LabelVocabulary.load(d / vocab)
        return count_shards_distributed(
            [d / f for f in files], v, min_count, batch_size=997, progress=False, unknown=unknown
        )

    for case, args in CASES.items():
        c = run(*args)
        np.savez(out / f"{case}-{rank}.npz", **_arrays(c))
        info = {"names": c.vocabulary.names, "world_size": c.world_size_, "rank": c.rank_}
        info["samples_per_second"] = c.samples_per_second_
        (out / f"{case}-{rank}.json").write_text(json.dumps(info))
    errors = {
        "mismatch": (ERRORS["mismatch"][rank], None, 1, "error"),
        "bad_row": (ERRORS["bad_row"][0], None, 1, "error"),
        "unknown": (ERRORS["unknown"][0], "small.json", 1, "error"),
        "too_rare": (ERRORS["too_rare"][0], None, 10**9, "error"),
    }
    for case, args in errors.items():
        try:
            run(*args)
        except Exception as e:  # recorded for the test to read
            (out / f"{case}-{rank}.err").write_text(f"{type(e).__name__}: {e}")
        else:
            raise AssertionError(f"{case}: no error on rank {rank}")
    # The group still works after the errors (no rank was left inside a collective).
    c = run(*CASES["grown"])
    assert c.n_samples_ == 12_920
    dist.destroy_process_group()


if __name__ == "__main__":
    _worker(Path(sys.argv[1]), Path(sys.argv[2]))
