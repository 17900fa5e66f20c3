"""Images end to end on real photos (coco128): items file -> train (frozen and fine-tuned) ->
predict on image files; the labels returned are valid names."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from labelsphere.cli import app
from labelsphere.data import load_dataset, read_items, write_items

runner = CliRunner()


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _train(items: Path, run: Path, cache: Path, *extra: str) -> None:
    """`labelsphere train` on an items file: one epoch of a linear head on lite0 features."""
    args = ["train", str(items), "--out", str(run), "--epochs", "1", "--hidden", ""]
    args += ["--cache-dir", str(cache), "--threads", "1", "--allow-outside", *extra]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output


@pytest.fixture(scope="module")
def coco_items(tmp_path_factory, data_dir):
    ds = load_dataset("coco128", data_dir=data_dir)
    folder = tmp_path_factory.mktemp("coco")
    items = folder / "labels.csv"
    write_items(items, ds.X, ds.labels())
    return items, ds


def test_items_file_round_trip(coco_items):
    items, ds = coco_items
    again = read_items(items, allow_outside=True)  # the photos are named by absolute path
    assert again.X == ds.X
    assert [sorted(x) for x in again.labels()] == [sorted(x) for x in ds.labels()]


@pytest.mark.parametrize("mode", ["--frozen", "--finetune"])
def test_train_then_predict_on_real_photos(tmp_path, coco_items, mode):
    items, ds = coco_items
    run = tmp_path / "run"
    _train(items, run, tmp_path / "cache", "--batch-size", "32", "-d", "16", mode)
    meta = json.loads((run / "model" / "model.json").read_text())
    if mode == "--frozen":
        assert meta["feature_extractor"]["name"] == "tf_efficientnet_lite0"
        assert (run / "model" / "feature_extractor.safetensors").is_file()
    else:
        assert meta["image_backbone"]["name"] == "tf_efficientnet_lite0"
    photos = [Path(p) for p in ds.X[:3]]
    r = runner.invoke(app, ["predict", str(run / "model"), *map(str, photos), "-k", "3", "--json"])
    assert r.exit_code == 0, r.output
    lines = [json.loads(x) for x in r.output.splitlines() if x.startswith("{")]
    assert [x["input"] for x in lines] == [str(p) for p in photos]
    names = set(ds.vocabulary.names)
    for x in lines:
        assert len(x["labels"]) == 3 and all(lab["label"] in names for lab in x["labels"])
    # evaluate takes the items file like train and scores the same test part from image files
    # (a frozen model through its saved backbone, a fine-tuned one end to end).
    args = [
        "evaluate",
        str(run / "model"),
        str(items),
        "--json",
        "--allow-outside",
        "--cache-dir",
        str(tmp_path / "cache"),
    ]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    got = json.loads(r.output[r.output.index("{") :])
    assert got == pytest.approx(json.loads((run / "test_metrics.json").read_text()), abs=1e-6)
    assert {"MAP@100", "P@1", "PSP@5"} <= set(got)
    if mode == "--frozen":
        # The saved backbone keys the cache as training's did: evaluate read training's features
        # instead of computing (and caching) them again under a second key.
        assert len([d for d in (tmp_path / "cache").iterdir() if d.is_dir()]) == 1


def test_predict_reports_an_unreadable_image(tmp_path, coco_items):
    items, ds = coco_items
    run = tmp_path / "run"
    _train(items, run, tmp_path / "cache", "-d", "8")
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(Path(ds.X[0]).read_bytes()[:300])
    r = runner.invoke(app, ["predict", str(run / "model"), str(bad), ds.X[1], "--json"])
    assert r.exit_code == 0, r.output
    lines = [json.loads(x) for x in r.output.splitlines() if x.startswith("{")]
    assert "error" in lines[0] and len(lines[1]["labels"]) == 5
