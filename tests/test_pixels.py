"""The end-to-end setting: real tabler-icons SVGs rendered to 32 px, the PixelCNN trained from
scratch through a head, saved, and served from SVG files and from renders alike."""

from __future__ import annotations

import json

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


def _centre_receptive_field(net: PixelCNN, size: int) -> tuple[int, int]:
    """(feature map side, input pixels the centre feature depends on, along one side)."""
    torch.manual_seed(0)
    x = torch.rand(1, 1, size, size, requires_grad=True)
    feats = net.eval().blocks(net.stem(x))
    h = feats.shape[-1] // 2
    feats[0, :, h, h].sum().backward()
    cols = (x.grad[0, 0].abs().sum(0) > 0).nonzero()
    return feats.shape[-1], int(cols.max() - cols.min() + 1)


@pytest.mark.parametrize(("stride", "side", "field"), [(1, 28, 49), (2, 14, 99), (4, 7, 194)])
def test_the_stem_stride_sets_how_much_of_a_224_px_icon_each_feature_sees(stride, side, field):
    net = PixelCNN(stem_stride=stride)
    assert _centre_receptive_field(net, 224) == (side, field)
    assert net(torch.full((2, 224, 224), 255, dtype=torch.uint8)).shape == (2, 128)


@pytest.mark.parametrize("bad", [0, 3, 8, "4"])
def test_a_stem_stride_outside_1_2_4_is_refused(bad):
    with pytest.raises(ValueError, match=r"stem_stride must be one of \(1, 2, 4\)"):
        PixelCNN(stem_stride=bad)
    with pytest.raises(ValueError, match=r"stem_stride must be one of \(1, 2, 4\)"):
        TrainConfig(stem_stride=bad)


def test_a_strided_stem_trains_saves_and_loads_as_trained(icons, tmp_path):
    """The model directory rebuilds the stem from config.json: same scores after loading."""
    _files, renders, va_files, cache = icons
    va = render_dataset(va_files, 32, cache, progress=False)
    cfg = TrainConfig(
        head="sigmoid-prior",
        backbone=PIXEL_CNN,
        backbone_weights=None,
        frozen=False,
        stem_stride=4,
        hidden=(32,),
        epochs=1,
        batch_size=64,
    )
    result = train(cfg, renders, va, tmp_path / "run", progress=False)
    meta = json.loads((tmp_path / "run" / "model" / "model.json").read_text())
    assert meta["config"]["stem_stride"] == 4
    p = Predictor.load(tmp_path / "run" / "model")
    assert p.evaluate(va)["MAP@100"] == pytest.approx(result.best["MAP@100"], abs=1e-6)


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
    strided = prepare_inputs(
        str(items),
        images=ImageOptions(cache_dir=tmp_path / "features", render_size=24, stem_stride=2),
        progress=False,
        dataset_options={"allow_outside": True},
    )
    assert strided.config == {**prepared.config, "stem_stride": 2}
    with pytest.raises(ValueError, match=r"stem_stride is the PixelCNN's: it needs render_size"):
        prepare_inputs(str(items), images=ImageOptions(stem_stride=4), progress=False)


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


def test_channels_last_weights_save_as_the_same_values(tmp_path):
    """On CUDA the loop trains the PixelCNN channels-last; its checkpoints and model files
    hold the same values as the row-major weights (safetensors refuses strided tensors)."""
    from safetensors.torch import load_file

    from labelsphere.artifacts import save_tensors

    torch.manual_seed(0)
    net = PixelCNN((4, 8), stem_stride=4)
    dense = {k: v.clone() for k, v in net.state_dict().items()}
    weights = net.to(memory_format=torch.channels_last).state_dict()
    assert not weights["blocks.0.conv1.weight"].is_contiguous()
    save_tensors(tmp_path / "w.safetensors", weights)
    back = load_file(str(tmp_path / "w.safetensors"))
    assert back.keys() == dense.keys() and all(torch.equal(back[k], dense[k]) for k in dense)


def test_under_autocast_the_network_is_bfloat16_and_the_head_float32():
    """--amp speeds the network; the head's scores stay float32 so heads compare as trained."""
    import scipy.sparse as sp

    from labelsphere.train.loop import label_basis
    from labelsphere.train.model import build_classifier

    cfg = TrainConfig(head="embedding", backbone=PIXEL_CNN, stem_stride=4, hidden=(16,), amp=True)
    Y = np.eye(8, 6, dtype=np.float32)
    torch.manual_seed(0)
    model = build_classifier(cfg, None, 6, label_basis(cfg.head, sp.csr_matrix(Y), 4, 0, {}))
    seen = {}
    model.backbone.register_forward_hook(lambda m, i, o: seen.update(net=o.dtype))
    x = torch.randint(0, 256, (2, 32, 32), dtype=torch.uint8)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(x)
    assert seen["net"] == torch.bfloat16 and out.dtype == torch.float32
    assert model.scores(out).dtype == torch.float32


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--stem-stride", "3", "--render-size", "16"],
            "stem_stride must be one of (1, 2, 4), got 3",
        ),
        (["--stem-stride", "4"], "stem_stride is the PixelCNN's: it needs render_size"),
    ],
)
@pytest.mark.parametrize("command", ["train", "compare"])
def test_a_bad_stem_stride_is_one_line_before_any_rendering(command, args, message, tmp_path):
    from typer.testing import CliRunner

    from labelsphere.cli import app

    out = tmp_path / "out"
    r = CliRunner().invoke(app, [command, "tabler-icons", "--out", str(out), *args])
    assert r.exit_code == 2 and "Traceback" not in r.output
    lines = [x for x in r.output.splitlines() if x.strip()]
    assert len(lines) == 1 and message in lines[0], r.output
    assert not out.exists()
