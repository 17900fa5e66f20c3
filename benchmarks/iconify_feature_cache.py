"""Fill the frozen-feature cache for all of iconify-icons, one share per process.

``labelsphere compare iconify-icons --image-size 96`` computes any missing features itself, in
one process; on a few cores it is faster to fill the cache first with several processes, each
taking every n-th distinct SVG file (the cache is content-addressed and its shards are written
atomically, so concurrent writers never conflict). Same backbone, weights and resize as
``--image-size``, so compare then finds every icon in the cache::

    python benchmarks/iconify_feature_cache.py --worker 0 --of 2 --data-dir ../shared/data &
    python benchmarks/iconify_feature_cache.py --worker 1 --of 2 --data-dir ../shared/data

(the first loads the dataset and writes its SVG files; start the second once its bar shows.)
On a 2-core machine one process (``--worker 0 --of 1``, torch's two threads) ran as fast as two
(about 75 images/s either way, session 14); more processes pay where there are more cores.
"""

from __future__ import annotations

import argparse
import os
import sys

from labelsphere.data import load_dataset
from labelsphere.images.featurize import extract_features
from labelsphere.train.inputs import DEFAULT_FEATURE_CACHE, ImageOptions, frozen_backbone


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--worker", type=int, default=0, help="this process's share, 0..of-1")
    ap.add_argument("--of", type=int, default=1, help="number of processes")
    ap.add_argument("--data-dir", default=os.environ.get("LABELSPHERE_DATA", "../shared/data"))
    ap.add_argument("--image-size", type=int, default=96)
    ap.add_argument("--max-icons", type=int, default=None, help="a seeded subset (as compare's)")
    a = ap.parse_args(argv)
    if a.of < 1 or not 0 <= a.worker < a.of:
        ap.error(f"--worker must be in [0, --of), --of >= 1; got --worker {a.worker} --of {a.of}")
    try:
        net = frozen_backbone(ImageOptions(image_size=a.image_size))
        paths: set[str] = set()
        for split in ("train", "test"):
            ds = load_dataset("iconify-icons", split, data_dir=a.data_dir, max_icons=a.max_icons)
            paths.update(ds.X)
    except (OSError, ValueError) as e:  # DataFormatError is a ValueError
        print(f"error: {e}", file=sys.stderr)
        return 1
    share = sorted(paths)[a.worker :: a.of]
    print(f"worker {a.worker} of {a.of}: {len(share)} of {len(paths)} files", flush=True)
    extract_features(net, share, cache_dir=DEFAULT_FEATURE_CACHE, batch_size=64)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
