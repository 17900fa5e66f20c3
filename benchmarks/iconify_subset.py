"""Copy the ``max_icons`` subset of iconify-icons into a small data directory of its own.

A machine that cannot take the whole set (the GPU machine takes 64 MiB with the repository, the
set is 62 MB) gets the icons one ``--dataset-option max_icons=N`` run reads and nothing else:
the train and test lines that subset keeps, copied verbatim, in file order, gzipped, under
``OUT/iconify-icons/``. Loading that directory with the same ``max_icons`` (or none) gives the
same datasets: the same icons in the same order, the same labels and vocabulary. Only the
recorded counts of lines and dropped icons and labels (``info``) differ. The script loads both and checks that before
it reports success.

    python benchmarks/iconify_subset.py --max-icons 20000 --out .gpu/data [--data-dir DIR]

Prints what it wrote; exits 1 with one line if the copy does not load back the same.
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
import sys
from pathlib import Path

from labelsphere.artifacts import atomic_write, write_json
from labelsphere.data import DataFormatError, get_data_dir
from labelsphere.data.readers.iconify import load_iconify

_SIDE_FILES = ("README.md", "SOURCE.txt", "labels.tsv", "sets.json", "stats.json")


def copy_lines(src: Path, dst: Path, ids: set[str]) -> int:
    """Write the lines of ``src`` whose ``id`` is in ``ids`` to ``dst`` (gzip, atomically)."""
    n = 0

    def write(tmp: Path) -> None:
        nonlocal n
        with (
            gzip.open(src, "rt", encoding="utf-8") as f,
            gzip.open(tmp, "wt", encoding="utf-8") as g,
        ):
            for line in f:
                if json.loads(line)["id"] in ids:
                    g.write(line)
                    n += 1

    atomic_write(dst, write)
    return n


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--max-icons", type=int, required=True, help="the subset's max_icons")
    p.add_argument("--seed", type=int, default=0, help="the subset's seed (the loader's default)")
    p.add_argument("--min-count", type=int, default=5, help="the loader's min_count")
    p.add_argument("--out", type=Path, required=True, help="a data directory to write")
    p.add_argument("--data-dir", default=None, help="the shared data directory")
    a = p.parse_args(argv)
    if a.max_icons < 1:
        print(f"iconify_subset.py: --max-icons must be >= 1, got {a.max_icons}", file=sys.stderr)
        return 2
    try:
        src = get_data_dir(a.data_dir) / "iconify-icons"
        opts = {"min_count": a.min_count, "max_icons": a.max_icons, "seed": a.seed}
        full = {s: load_iconify(src, s, inputs="none", **opts) for s in ("train", "test")}
        dst = a.out / "iconify-icons"
        dst.mkdir(parents=True, exist_ok=True)
        # Train icons without a kept label are left out: each of their labels is under
        # min_count with them, so without them too, and the vocabulary stays the same.
        n_train = copy_lines(src / "train.jsonl.gz", dst / "train.jsonl.gz", set(full["train"].ids))
        n_test = copy_lines(src / "test.jsonl.gz", dst / "test.jsonl.gz", set(full["test"].ids))
        for name in _SIDE_FILES:
            if (src / name).exists():
                atomic_write(dst / name, lambda tmp, n=name: shutil.copyfile(src / n, tmp))
        for split, ds in full.items():
            copy = load_iconify(dst, split, inputs="none", **opts)
            same = (
                copy.ids == ds.ids
                and copy.vocabulary.names == ds.vocabulary.names
                and (copy.Y != ds.Y).nnz == 0
            )
            if not same:
                print(
                    f"iconify_subset.py: {dst}: {split} does not load back the same",
                    file=sys.stderr,
                )
                return 1
    except (OSError, ValueError, DataFormatError) as e:
        print(f"iconify_subset.py: {e}", file=sys.stderr)
        return 1
    write_json(
        dst / "subset.json",
        {"source": str(src), **opts, "train_lines": n_train, "test_lines": n_test},
    )
    mb = sum(f.stat().st_size for f in dst.iterdir()) / 2**20
    print(
        f"wrote {dst}: {n_train:,} train lines ({len(full['train']):,} icons with a kept label), "
        f"{n_test:,} test lines, {len(full['train'].vocabulary):,} labels, {mb:.1f} MB; "
        "it loads back the same"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
