"""The end-to-end setting: real tabler-icons SVGs rendered to 32 px, the PixelCNN trained from
scratch through a head, saved, and served from SVG files and from renders alike."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from labelsphere.data import train_val_test
from labelsphere.data.renders import render_dataset
from labelsphere.images.cnn import PIXEL_CNN, PixelCNN
from labelsphere.predict import Predictor
from labelsphere.train import TrainConfig, train
from labelsphere.train.inputs import ImageOptions, prepare_inputs

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def icons(data_dir, tmp_path_factory):
    tr, va, _te = train_val_test("tabler-icons", data_dir)
    cache = tmp_path_factory.mktemp("renders")
    pick = np.arange(0, len(tr), max(1, len(tr) // 256))[:256]
    files = tr.subset(pick)
    return files, render_dataset(files, 32, cache, progress=False), va.subset(np.arange(80)), cache


def test_renders_are_uint8_images_of_the_icons(icons):
    files, renders, _, _ = icons
    assert renders.X.dtype == np.uint8 and renders.X.shape[1:] == (32, 32)
    assert len(renders) == len(files) - len(renders.info["skipped_images"])
    assert renders.vocabulary is files.vocabulary
    # Line icons on white: mostly white, with ink.
    assert (renders.X == 255).mean() > 0.5 and (renders.X < 128).any(axis=(1, 2)).all()


def test_pixel_cnn_shapes_and_input_scaling():
    net = PixelCNN((8, 16))
    x = torch.randint(0, 256, (3, 40, 40), dtype=torch.uint8)
    assert net(x).shape == (3, 16) and net(x.unsqueeze(1)).shape == (3, 16)
    with pytest.raises(ValueError, match="widths"):
        PixelCNN(())


def test_train_end_to_end_and_predict_from_files_or_renders(icons, tmp_path):
    _files, renders, va_files, cache = icons
    va = render_dataset(va_files, 32, cache, progress=False)
    cfg = TrainConfig(
        head="embedding",
        backbone=PIXEL_CNN,
        backbone_weights=None,
        frozen=False,
        hidden=(64,),
        n_components=16,
        epochs=2,
        batch_size=64,
        lr=3e-3,
    )
    result = train(cfg, renders, va, tmp_path / "run", progress=False)
    assert result.steps == 2 * (len(renders) // 64) and result.best["MAP@100"] > 0
    p = Predictor.load(tmp_path / "run" / "model")
    assert p.kind == "pixels" and p.pixel_size == 32
    # From the SVG files (rendered by the predictor) == from the renders themselves.
    from_files, ok = p.scores(va_files.X[:10])
    from_renders, _ = p.scores(va.X[:10])
    assert ok.all()
    np.testing.assert_allclose(from_files, from_renders, rtol=1e-5, atol=1e-6)
    assert p.evaluate(va)["MAP@100"] == pytest.approx(result.best["MAP@100"], abs=1e-6)
    with pytest.raises(ValueError, match=r"uint8 \(32, 32\) renders"):
        p.scores(np.zeros((2, 48, 48), np.uint8))
    with pytest.raises(ValueError, match="uint8 renders: they need backbone=pixel-cnn"):
        train(TrainConfig(head="sigmoid", epochs=1), renders, va, tmp_path / "bad", progress=False)


def test_prepare_inputs_renders_every_split_of_an_items_file(icons, tmp_path):
    import json

    files = icons[0]
    names = files.vocabulary.names
    lines = [
        json.dumps({"input": path, "labels": [names[j] for j in files.Y[i].indices]})
        for i, path in enumerate(files.X[:60])
    ]
    items = tmp_path / "icons.jsonl"
    items.write_text("\n".join(lines) + "\n")
    prepared = prepare_inputs(
        str(items),
        images=ImageOptions(cache_dir=tmp_path / "features", render_size=24),
        progress=False,
        dataset_options={"allow_outside": True},
    )
    assert prepared.config == {"backbone": PIXEL_CNN, "backbone_weights": None, "frozen": False}
    assert sum(len(d) for d in (prepared.train, prepared.val, prepared.test)) == 60
    for d in (prepared.train, prepared.val, prepared.test):
        assert d.X.dtype == np.uint8 and d.X.shape[1:] == (24, 24)


def test_render_batches_stay_uint8_and_give_the_same_features():
    """input_tensor keeps uint8 rows uint8 (a quarter of the bytes to copy) and the rest
    float32; the PixelCNN computes the same from either, since every uint8 is exact in float32."""
    import numpy as np
    import scipy.sparse as sp
    import torch

    from labelsphere.images.cnn import PixelCNN
    from labelsphere.train.batches import FeatureBatches, input_tensor

    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, (6, 16, 16), dtype=np.uint8)
    Y = sp.csr_matrix(np.eye(6, 3, dtype=np.float32))
    x, _ = FeatureBatches(X, Y).rows(np.arange(4))
    assert x.dtype == torch.uint8 and x.shape == (4, 16, 16)
    assert input_tensor(X.astype(np.float64)).dtype == torch.float32
    assert input_tensor(sp.csr_matrix(np.eye(2))).dtype == torch.float32
    torch.manual_seed(0)
    net = PixelCNN((4, 8)).eval()
    with torch.no_grad():
        assert torch.equal(net(x), net(torch.from_numpy(X[:4].astype(np.float32))))
