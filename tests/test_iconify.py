"""iconify-icons on real data: the loader (first few thousand lines only), its SVG files through
the image pipeline, the render cache, and malformed lines naming file and line.

Fast by construction: every load reads at most ``LINES`` lines of each file, and the SVG files,
renders and features go to ``tmp_path``.
"""

from __future__ import annotations

import gzip
import json
import re
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from labelsphere.artifacts import file_sha256
from labelsphere.data import (
    DATASET_REGISTRY,
    DATASETS,
    DataFormatError,
    dataset_splits,
    hold_out_validation,
    train_val_test,
)
from labelsphere.data.readers import load_iconify
from labelsphere.data.readers.iconify import icon_group
from labelsphere.data.renders import RenderCache, render_icons
from labelsphere.data.text import iter_jsonl

LINES = 3000

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def folder(data_dir: Path) -> Path:
    return data_dir / "iconify-icons"


@pytest.fixture(scope="module")
def svg_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("svg")


@pytest.fixture(scope="module")
def train(folder: Path, svg_dir: Path):
    return load_iconify(folder, "train", max_lines=LINES, svg_dir=svg_dir)


@pytest.fixture(scope="module")
def test_split(folder: Path, svg_dir: Path):
    return load_iconify(folder, "test", max_lines=LINES, svg_dir=svg_dir)


def _raw(path: Path, n: int = LINES) -> list[dict]:
    out = []
    for lineno, obj in iter_jsonl(path):
        if lineno > n:
            break
        out.append(obj)
    return out


# ====================================================================== registry
def test_registry_entry() -> None:
    entry = DATASET_REGISTRY["iconify-icons"]
    assert "iconify-icons" in DATASETS
    assert dataset_splits("iconify-icons") == ("train", "test")
    assert dict(entry.options) == {"min_count": 5, "max_icons": None, "seed": 0}
    assert entry.loader is load_iconify


# ====================================================================== labels
def test_counts_and_label_filtering(folder: Path, train) -> None:
    raw = _raw(folder / "train.jsonl.gz")
    counts = Counter(t for o in raw for t in dict.fromkeys(o["labels"]) if t)
    # Decreasing train count, ties by first appearance (LabelVocabulary.from_lists).
    first = {}
    for o in raw:
        for t in o["labels"]:
            first.setdefault(t, len(first))
    expected = sorted(
        (t for t, c in counts.items() if c >= 5), key=lambda t: (-counts[t], first[t])
    )
    assert train.vocabulary.names == expected
    assert "" not in train.vocabulary
    assert all(c >= 5 for c in train.vocabulary.counts)

    kept = [o for o in raw if any(counts[t] >= 5 for t in o["labels"] if t)]
    assert train.ids == [o["id"] for o in kept]
    assert len(train) == len(kept) and train.name == "iconify-icons/train"
    info = train.info
    assert info["n_lines"] == info["n_icons_picked"] == LINES
    assert info["n_icons_without_kept_labels"] == LINES - len(kept) > 0
    assert info["n_labels_total"] == len(counts)
    # Each icon's labels are its kept labels.
    for o, labels in zip(kept[:200], train.labels()[:200], strict=True):
        assert set(labels) == {t for t in o["labels"] if counts.get(t, 0) >= 5}


def test_given_split_shares_the_train_vocabulary(folder: Path, train, test_split) -> None:
    assert test_split.name == "iconify-icons/test"
    assert test_split.vocabulary == train.vocabulary
    test_ids = {o["id"] for o in _raw(folder / "test.jsonl.gz")}
    assert set(test_split.ids) <= test_ids
    assert not set(test_split.ids) & set(train.ids)
    assert test_split.info["n_train_icons_counted"] == LINES
    assert test_split.Y.shape == (len(test_split), len(train.vocabulary))
    assert (np.diff(test_split.Y.indptr) > 0).all()


def test_max_icons_is_a_seeded_nested_subset(folder: Path) -> None:
    def ids(split: str, k: int | None, seed: int = 0) -> list[str]:
        ds = load_iconify(
            folder, split, min_count=1, max_icons=k, seed=seed, inputs="none", max_lines=LINES
        )
        assert ds.X is None
        if k is not None:
            # The same fraction of both files (here both have LINES lines).
            assert ds.info["n_icons_picked"] == k
        return ds.ids

    everything = ids("train", None)
    small, big = ids("train", 100), ids("train", 400)
    assert set(small) < set(big) < set(everything)
    assert small == [i for i in everything if i in set(small)]  # file order
    assert ids("train", 100) == small  # seeded
    assert ids("train", 100, seed=1) != small
    assert len(ids("test", 100)) <= 100


def test_options_are_checked(folder: Path) -> None:
    with pytest.raises(ValueError, match="splits"):
        load_iconify(folder, "val")
    with pytest.raises(ValueError, match="max_icons"):
        load_iconify(folder, "train", max_icons=0)
    with pytest.raises(ValueError, match="inputs"):
        load_iconify(folder, "train", inputs="svg")


# ====================================================================== inputs
def test_svg_files_are_content_addressed_and_written_once(folder: Path, train, svg_dir) -> None:
    assert train.info["svg_dir"] == str(svg_dir)
    assert 0 < train.info["n_svg_files_written"] <= len(train)
    raw = {o["id"]: o["svg"] for o in _raw(folder / "train.jsonl.gz")}
    for icon_id, p in list(zip(train.ids, train.X, strict=True))[:50]:
        path = Path(p)
        assert path.parent.parent == svg_dir and path.suffix == ".svg"
        assert path.read_text(encoding="utf-8") == raw[icon_id]
        assert file_sha256(path) == path.stem
    again = load_iconify(folder, "train", max_lines=LINES, svg_dir=svg_dir)
    assert again.info["n_svg_files_written"] == 0 and again.X == train.X


def test_svg_inputs_go_through_the_image_pipeline(train, tmp_path: Path) -> None:
    from labelsphere.images import create_backbone, extract_features, load_image

    im = load_image(train.X[0])
    assert im.mode == "RGB" and im.size == (256, 256)
    backbone = create_backbone(
        "mobilenetv3_small_050", weights=None, data_config={"input_size": (3, 64, 64)}
    )
    feats, ok = extract_features(backbone, train.X[:8], tmp_path / "features", progress=False)
    assert ok.all() and feats.shape == (8, backbone.num_features)
    assert np.isfinite(feats.astype(np.float32)).all()


# ====================================================================== renders
def test_renders_are_cached_and_identical(folder: Path, train, tmp_path: Path, monkeypatch) -> None:
    import labelsphere.data.renders as renders

    cache = tmp_path / "renders"
    paths = train.X[:40]
    im1, ok1 = render_icons(paths, size=32, cache_dir=cache, progress=False, shard_size=16)
    assert im1.shape == (40, 32, 32) and im1.dtype == np.uint8 and ok1.all()
    assert (im1 < 128).any(axis=(1, 2)).all()  # every icon draws something dark on white
    assert (im1[:, 0, 0] == 255).mean() > 0.5  # mostly white corners
    ns = RenderCache(cache, 32).dir
    n_unique = len({file_sha256(p) for p in paths})
    assert len(list(ns.glob("*.safetensors"))) == -(-n_unique // 16)

    # Second call: everything from the cache, nothing rendered; the SVG text hits the same
    # entries as its file.
    def boom(job):
        raise AssertionError("rendered again")

    monkeypatch.setattr(renders, "_render_one", boom)
    im2, ok2 = render_icons(paths, size=32, cache_dir=cache, progress=False)
    assert np.array_equal(im1, im2) and ok2.all()
    texts = [Path(p).read_text(encoding="utf-8") for p in paths[:5]]
    im3, _ = render_icons(texts, size=32, cache_dir=cache, progress=False)
    assert np.array_equal(im3, im1[:5])
    monkeypatch.undo()

    # Another size is another namespace; without a cache the renders are the same.
    im4, _ = render_icons(paths[:4], size=48, cache_dir=cache, progress=False)
    assert im4.shape == (4, 48, 48) and RenderCache(cache, 48).dir != ns
    im5, _ = render_icons(paths[:4], size=32, progress=False)
    assert np.array_equal(im5, im1[:4])


def test_unreadable_icons_are_masked(train, tmp_path: Path) -> None:
    icons = [train.X[0], "<svg><unclosed", str(tmp_path / "missing.svg"), tmp_path, train.X[1]]
    with pytest.warns(UserWarning, match="3 of 5 icons could not be rendered"):
        im, ok = render_icons(icons, size=32, cache_dir=tmp_path / "r", progress=False)
    assert ok.tolist() == [True, False, False, False, True]
    assert (im[~ok] == 255).all()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the good ones come from the cache, no warning
        render_icons([train.X[0]], size=32, cache_dir=tmp_path / "r", progress=False)


# ====================================================================== malformed files
def _write_gz(path: Path, lines: list[str]) -> None:
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


GOOD = json.dumps(
    {
        "id": "s:a",
        "set": "s",
        "svg": "<svg xmlns='http://www.w3.org/2000/svg'/>",
        "labels": ["a"],
        "name_words": ["a"],
    }
)
_REST = '"set": "s", "name_words": ["b"]'


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ('{"id": "s:b", "svg": "<svg/>", "labels": ["a"]', "expected one JSON object"),
        ('{"id": "s:b", "labels": ["a"], ' + _REST + "}", "missing keys"),
        ('{"id": "s:b", "svg": "<svg/>", "labels": "a", ' + _REST + "}", "list of strings"),
        ('{"id": "s:b", "svg": 3, "labels": ["a"], ' + _REST + "}", "should be a string"),
        ('{"id": "s:b", "svg": "<svg/>", "labels": ["a"]}', "missing keys"),
        ('{"id": "s:b", "svg": "<svg/>", "labels": ["a"], "set": 1, "name_words": []}', "string"),
    ],
)
def test_malformed_line_names_file_and_line(tmp_path: Path, bad: str, message: str) -> None:
    _write_gz(tmp_path / "train.jsonl.gz", [GOOD, GOOD, bad, GOOD])
    with pytest.raises(DataFormatError, match=message) as exc:
        load_iconify(tmp_path, "train", min_count=1, inputs="none")
    assert "train.jsonl.gz" in str(exc.value)
    assert re.search(r"\bline 3\b", str(exc.value)) and exc.value.line == 3


# ====================================================================== grouped validation
def test_groups_are_set_family_and_name_words(folder: Path, train) -> None:
    raw = {o["id"]: o for o in _raw(folder / "train.jsonl.gz")}
    assert train.groups is not None and len(train.groups) == len(train)
    for icon_id, group in zip(train.ids, train.groups, strict=True):
        o = raw[icon_id]
        assert group == f"{o['set'].split('-')[0]}:{' '.join(o['name_words'])}"
    # Style and size variants of one icon share a group, so groups are fewer than icons.
    assert len(set(train.groups)) < len(train)
    assert icon_group("material-symbols-light", ["add"]) == icon_group("material-symbols", ["add"])
    sub = train.subset(np.arange(10, 20))
    assert sub.groups == train.groups[10:20]


def test_grouped_validation_keeps_each_icon_on_one_side(train) -> None:
    fit, val = hold_out_validation(train, 0.1, seed=0)
    assert fit.info["val_split"] == val.info["val_split"] == "grouped"
    assert len(fit) + len(val) == len(train)
    assert set(fit.ids).isdisjoint(val.ids)
    assert set(fit.groups).isdisjoint(val.groups)
    assert 0.05 < len(val) / len(train) < 0.15
    # A random draw (the old default, kept as val_split="random") splits icon families:
    # here most validation icons have a variant in the part that trains.
    rfit, rval = hold_out_validation(train, 0.1, seed=0, val_split="random")
    assert rfit.info["val_split"] == "random"
    leaked = np.mean([g in set(rfit.groups) for g in rval.groups])
    assert leaked > 0.3
    # Seeded: the same draw twice, a different one with another seed.
    again = hold_out_validation(train, 0.1, seed=0)[1]
    assert again.ids == val.ids
    assert hold_out_validation(train, 0.1, seed=1)[1].ids != val.ids


def test_val_split_is_checked(train, data_dir: Path) -> None:
    with pytest.raises(ValueError, match="val_split must be one of"):
        hold_out_validation(train, val_split="groups")
    with pytest.raises(ValueError, match="bibtex/train has no groups"):
        train_val_test("bibtex", data_dir, val_split="grouped")
    # Datasets without groups keep the random draw they always had.
    fit, val, _ = train_val_test("bibtex", data_dir)
    assert val.info["val_split"] == "random" and fit.groups is None
