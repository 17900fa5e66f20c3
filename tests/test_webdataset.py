"""WebDataset tar shards of images: write -> read round trip on real icons and photos, the
hostile shards each refused with one clear error, and frozen features from shards equal to
those from the same files (and sharing their cache entries)."""

from __future__ import annotations

import io
import json
import shutil
import tarfile
from pathlib import Path

import numpy as np
import pytest

from labelsphere.data.readers import (
    iter_image_shards,
    read_image_shards,
    write_dataset_shards,
    write_image_shards,
)
from labelsphere.data.readers import webdataset as wdsr
from labelsphere.data.readers.webdataset import ShardFormatError, count_shard_samples

pytestmark = pytest.mark.usefixtures("one_torch_thread")

N_ICONS = 40


@pytest.fixture(scope="module")
def icons(data_dir: Path) -> tuple[list[Path], list[list[str]]]:
    """40 real tabler icons and their tags."""
    folder = data_dir / "tabler-icons"
    meta = json.loads((folder / "icons.json").read_text(encoding="utf-8"))
    rows = meta if isinstance(meta, list) else list(meta.values())
    paths, labels = [], []
    for row in rows:
        p = folder / "icons" / "outline" / f"{row['name']}.svg"
        if p.is_file():
            paths.append(p)
            labels.append([str(t) for t in row.get("tags", [])] + [str(row.get("category", ""))])
        if len(paths) == N_ICONS:
            break
    assert len(paths) == N_ICONS
    return paths, labels


@pytest.fixture(scope="module")
def photos(data_dir: Path) -> list[Path]:
    return sorted((data_dir / "coco128" / "images" / "train").glob("*.jpg"))[:6]


def _one_line(e: pytest.ExceptionInfo, *parts: str) -> str:
    msg = str(e.value)
    assert "\n" not in msg
    for p in parts:
        assert p in msg, msg
    return msg


# ====================================================================== round trip
def test_round_trip_icons_and_photos(icons, photos, tmp_path: Path) -> None:
    import webdataset as wds

    paths, labels = icons
    paths = [*paths, *photos]
    labels = [*labels, *[["photo", f"coco {i}"] for i in range(len(photos))]]
    ids = [p.stem for p in paths]
    out = tmp_path / "shards"
    files = write_image_shards(paths, labels, out, shard_size=16, ids=ids, progress=False)
    n = len(paths)
    assert [f.name for f in files] == [f"shard-{i:06d}.tar" for i in range(-(-n // 16))]
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporary left

    samples = list(iter_image_shards(out))
    assert [s.key for s in samples] == [f"{i:09d}" for i in range(n)]
    assert [s.data for s in samples] == [p.read_bytes() for p in paths]
    assert [s.ext for s in samples] == [p.suffix[1:] for p in paths]
    want = [[t.strip() for t in row if t.strip()] for row in labels]
    assert [s.labels for s in samples] == want and [s.id for s in samples] == ids
    # Shard size respected; a brace pattern and the file list read the same.
    per_shard = [len(list(iter_image_shards(f))) for f in files]
    assert per_shard == [16] * (n // 16) + ([n % 16] if n % 16 else [])
    brace = f"{out}/shard-{{000000..{len(files) - 1:06d}}}.tar"
    assert [s.key for s in iter_image_shards(brace)] == [s.key for s in samples]
    assert count_shard_samples(files) == n

    # Any WebDataset reader sees the same samples, in the same order.
    ref = list(wds.WebDataset([str(f) for f in files], shardshuffle=False))
    assert [r["__key__"] for r in ref] == [s.key for s in samples]
    assert [r.get("svg", r.get("jpg")) for r in ref] == [s.data for s in samples]
    assert [json.loads(r["json"])["labels"] for r in ref] == [list(row) for row in labels]

    # Labels only, as a dataset.
    ds = read_image_shards(out, name="tabler")
    assert ds.X is None and len(ds) == n and ds.ids == ids
    assert ds.labels() == [sorted(set(r), key=ds.vocabulary.index) for r in want]
    assert ds.info["samples_per_shard"] == per_shard

    # Same input, byte-identical shards; an existing set is refused unless overwrite.
    before = [f.read_bytes() for f in files]
    with pytest.raises(FileExistsError, match="overwrite"):
        write_image_shards(paths, labels, out, shard_size=16, ids=ids, progress=False)
    again = write_image_shards(
        paths[:20], labels[:20], out, shard_size=16, ids=ids[:20], progress=False, overwrite=True
    )
    assert [f.read_bytes() for f in again] == [before[0], again[1].read_bytes()]
    assert sorted(out.glob("*.tar")) == again  # the stale third shard is gone

    # max_shard_bytes starts a new shard once a shard holds that many bytes.
    small = write_image_shards(
        paths[:10], labels[:10], tmp_path / "b", shard_size=100, max_shard_bytes=2000,
        progress=False,
    )  # fmt: skip
    assert len(small) > 1
    assert sum(len(list(iter_image_shards(f))) for f in small) == 10


def test_write_dataset_shards(icons, tmp_path: Path) -> None:
    from labelsphere.data import MultiLabelDataset
    from labelsphere.labels import LabelVocabulary

    paths, labels = icons
    vocab = LabelVocabulary.from_lists(labels, min_count=3)
    ds = MultiLabelDataset(
        X=[str(p) for p in paths],
        Y=vocab.encode(labels, unknown="ignore"),
        vocabulary=vocab,
        name="tabler",
        ids=[p.stem for p in paths],
    )
    write_dataset_shards(ds, tmp_path, shard_size=25, progress=False)
    back = read_image_shards(tmp_path, vocabulary=vocab)
    assert (back.Y != ds.Y).nnz == 0 and back.ids == ds.ids
    assert wdsr.DEFAULT_MAX_BYTES == __import__("labelsphere.images").images.DEFAULT_MAX_BYTES


# ====================================================================== hostile shards
def _tar(path: Path, members: list[tuple[str, bytes]], kind: bytes = tarfile.REGTYPE) -> Path:
    with tarfile.open(path, "w", format=tarfile.USTAR_FORMAT) as tf:
        for name, data in members:
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data))
    return path


def test_hostile_shards_each_give_one_clear_error(icons, tmp_path: Path) -> None:
    paths, labels = icons
    svg = paths[0].read_bytes()
    good = json.dumps({"labels": ["a"]}).encode()
    [shard] = write_image_shards(paths[:3], labels[:3], tmp_path / "ok", progress=False)
    raw = shard.read_bytes()

    def refused(members_or_bytes, *parts: str, **kw) -> None:
        p = tmp_path / "bad.tar"
        if isinstance(members_or_bytes, bytes):
            p.write_bytes(members_or_bytes)
        else:
            _tar(p, members_or_bytes)
        with pytest.raises(ShardFormatError) as e:
            list(iter_image_shards(p, **kw))
        _one_line(e, "bad.tar", *parts)

    # Truncated inside a member, and cut cleanly between two members.
    refused(raw[: 512 * 3 + 100], "truncated")
    members = [(ti.offset, ti.name) for ti in tarfile.open(shard)]
    cut = members[2][0]  # the header of the second sample's first member
    refused(raw[:cut], "truncated", "end-of-archive")
    refused(raw[:100], "not a readable tar")
    refused(b"\x1f\x8b" + raw[2:], "gzip-compressed")
    refused(b"", "not a readable tar")
    # A member without labels; labels that are not UTF-8 / not JSON / not a list of strings.
    refused([("a.svg", svg)], "no labels", "'a.svg'")
    refused([("a.svg", svg), ("a.json", b'{"labels": ["\xff"]}')], "not UTF-8", "'a.json'")
    refused([("a.svg", svg), ("a.json", b'{"labels": [')], "invalid label JSON")
    refused([("a.svg", svg), ("a.json", b'{"labels": [1]}')], "list of strings")
    refused([("a.json", good)], "no image member")
    # Path traversal and absolute names are refused (nothing is ever extracted anyway).
    refused([("../x.svg", svg), ("../x.json", good)], "'..'", "'../x.svg'")
    refused([("/etc/x.svg", svg), ("/etc/x.json", good)], "absolute")
    # Oversized members are refused from their header, before reading.
    refused([("a.svg", svg), ("a.json", good)], "over the limit of 100", max_bytes=100)
    refused([("a.svg", svg), ("a.json", b" " * (wdsr.MAX_LABEL_JSON_BYTES + 1))], "label JSON of")
    # Unknown extensions, duplicates, keys out of order.
    refused([("a.pyd", b"x"), ("a.svg", svg), ("a.json", good)], "unknown extension 'pyd'")
    p = _tar(tmp_path / "extra.tar", [("a.pyd", b"x"), ("a.svg", svg), ("a.json", good)])
    assert [s.key for s in iter_image_shards(p, unknown_ext="ignore")] == ["a"]
    refused([("a.svg", svg), ("a.png", svg), ("a.json", good)], "two")
    two = [("a.svg", svg), ("a.json", good), ("b.svg", svg), ("b.json", good)]
    refused([*two, ("a.png", svg)], "not consecutive")

    # A symlink member is refused.
    p = tmp_path / "link.tar"
    with tarfile.open(p, "w") as tf:
        ti = tarfile.TarInfo("a.svg")
        ti.type, ti.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tf.addfile(ti)
    with pytest.raises(ShardFormatError) as e:
        list(iter_image_shards(p))
    _one_line(e, "symbolic link")
    with pytest.raises(FileNotFoundError, match="no such shard"):
        list(iter_image_shards(tmp_path / "nope.tar"))


# ====================================================================== frozen features
def test_features_from_shards_equal_features_from_files(icons, photos, tmp_path: Path) -> None:
    from labelsphere.images import ImageSkippedWarning, create_backbone, extract_features
    from labelsphere.images.shards import extract_shard_features, shard_image_features

    paths, labels = icons
    paths = [*paths[:16], *photos[:4]]
    labels = [*labels[:16], *[["photo"]] * 4]
    backbone = create_backbone(data_config={"input_size": (3, 96, 96)})
    files = write_image_shards(paths, labels, tmp_path / "shards", shard_size=8, progress=False)
    opts = dict(batch_size=8, progress=False, svg_size=96)

    f_files, ok_files = extract_features(backbone, paths, **opts)
    res = extract_shard_features(backbone, files, **opts)
    assert ok_files.all() and res.ok.all()
    assert np.array_equal(res.features, f_files)  # bit-identical
    assert res.labels == [list(r) for r in labels] and res.keys == [f"{i:09d}" for i in range(20)]

    # Two DataLoader workers (each its own shards): the same features, in shard order.
    res2 = extract_shard_features(backbone, files, num_workers=2, **opts)
    assert np.array_equal(res2.features, f_files) and res2.keys == res.keys

    # Cache entries are shared: what the files computed, the shards find, and back.
    cache = tmp_path / "cache"
    extract_features(backbone, paths[:10], cache, **opts)
    computed: list[int] = []
    hook = backbone.register_forward_hook(lambda m, a, out: computed.append(len(out)))
    try:
        res3 = extract_shard_features(backbone, files, cache, **opts)
        assert sum(computed) == len({p.read_bytes() for p in paths[10:]})
        assert np.array_equal(res3.features, f_files)
        computed.clear()
        f4, _ = extract_features(backbone, paths, cache, **opts)
        assert computed == [] and np.array_equal(f4, f_files)
    finally:
        hook.remove()

    # An image that fails to decode is skipped with a warning naming the shard and member.
    bad = tmp_path / "bad"
    bad.mkdir()
    shutil.copy(paths[0], bad / "0.svg")
    (bad / "1.svg").write_bytes(b"<svg><unclosed")
    sh = write_image_shards(
        [bad / "0.svg", bad / "1.svg"], [["a"], ["b"]], bad / "shards", progress=False
    )
    with pytest.warns(ImageSkippedWarning, match=r"shard-000000\.tar:000000001\.svg"):
        ds = shard_image_features(sh, backbone, cache, **opts)
    assert ds.X.shape == (1, backbone.num_features) and ds.X.dtype == np.float32
    assert ds.info["skipped_images"] == ["000000001"] and ds.labels() == [["a"]]
    assert np.array_equal(ds.X[0], f_files[0].astype(np.float32))
