"""Options shared by several commands, and the parsing of their values."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from labelsphere.cli.app import _fail

DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        help="Folder holding the datasets (default: $LABELSPHERE_DATA, else ~/labelsphere_data).",
        show_default=False,
    ),
]
Backbone = Annotated[str, typer.Option("--backbone", help="timm backbone for image datasets.")]
BackboneWeights = Annotated[
    str,
    typer.Option(
        "--backbone-weights",
        help="'default' (packaged ImageNet weights), a local .safetensors/state-dict file, or 'none' (random init). Never downloads.",
    ),
]
Frozen = Annotated[
    bool,
    typer.Option(
        "--frozen/--finetune",
        help="Images: train heads on cached frozen features, or fine-tune the backbone end to end.",
    ),
]
PriorAdjustment = Annotated[
    float,
    typer.Option(
        help="Rank labels by score - TAU * log(prior), the label's training frequency: a "
        "post-hoc logit adjustment that moves rarer labels up (0: off; pick TAU on validation).",
    ),
]
CacheDir = Annotated[
    Path | None,
    typer.Option(
        "--cache-dir",
        help="Image feature cache (default: ~/.cache/labelsphere/features).",
        show_default=False,
    ),
]
Workers = Annotated[int, typer.Option("--num-workers", help="DataLoader workers decoding images.")]
ImageSize = Annotated[
    int | None,
    typer.Option(help="Frozen features at this side in pixels (whole image, no crop)."),
]
RenderSize = Annotated[
    int | None,
    typer.Option(
        help="Render images to SxS grayscale and train the small PixelCNN from scratch on them "
        "(end to end, instead of --backbone)."
    ),
]
Amp = Annotated[
    bool, typer.Option(help="Mixed precision: bfloat16 autocast on CUDA (ignored elsewhere).")
]
StemStride = Annotated[
    int | None,
    typer.Option(
        help="With --render-size: how far the PixelCNN's stem downsamples, 1 (32-48 px), 2, or "
        "4 (ResNet's stem, for 224 px).",
        show_default=False,
    ),
]
DatasetOption = Annotated[
    list[str] | None,
    typer.Option(
        "--dataset-option",
        help="KEY=VALUE passed to the dataset's loader, repeatable "
        "(e.g. --dataset-option max_icons=40000 for iconify-icons).",
    ),
]
# Network and budget options shared by train and compare (one definition, same help).
NComponents = Annotated[
    int | None,
    typer.Option(
        "--n-components",
        "-d",
        help="Label embedding dimension (capped at L - 1). Default: the head's own, 256 for "
        "every head but embedding-learned-prior (512).",
    ),
]
Hidden = Annotated[
    str, typer.Option(help="MLP hidden sizes, comma-separated ('' for a linear model).")
]
Dropout = Annotated[float, typer.Option(help="Dropout after each hidden layer.")]
WeightDecay = Annotated[float, typer.Option(help="AdamW weight decay.")]
BatchSize = Annotated[int, typer.Option(help="Mini-batch size.")]
Epochs = Annotated[int, typer.Option(help="Training budget per run, in epochs.")]
Schedule = Annotated[str, typer.Option(help="constant | cosine | linear decay after warm-up.")]
Warmup = Annotated[float, typer.Option(help="Warm-up, as a fraction of all steps.")]
EvalEvery = Annotated[
    int | None, typer.Option(help="Evaluate on validation every N steps (default: each epoch).")
]
Device = Annotated[str, typer.Option(help="auto | cpu | cuda.")]
ValSplit = Annotated[
    str,
    typer.Option(
        help="auto | grouped | random: how validation is drawn from train. grouped holds out "
        "whole groups (iconify-icons: the variants of one icon, as its test split does); auto "
        "is grouped where the dataset has groups, random elsewhere."
    ),
]
ValFraction = Annotated[
    float,
    typer.Option(help="Share of train held out for validation (datasets without a val split)."),
]
InputKey = Annotated[
    str, typer.Option("--input-key", help="Items files: the column/key holding each input.")
]
LabelsKey = Annotated[
    str, typer.Option("--labels-key", help="Items files: the column/key holding the labels.")
]
ValFile = Annotated[
    Path | None,
    typer.Option(
        "--val-file",
        help="Items files: your validation file (else split off train).",
        show_default=False,
    ),
]
TestFile = Annotated[
    Path | None,
    typer.Option(
        "--test-file",
        help="Items files: your test file (else split off train).",
        show_default=False,
    ),
]
AllowOutside = Annotated[
    bool,
    typer.Option(
        "--allow-outside",
        help="Items files: allow input paths outside the file's folder (absolute or ../).",
    ),
]
Threads = Annotated[
    int | None,
    typer.Option(
        "--threads", help="CPU threads for PyTorch (default: PyTorch's choice).", show_default=False
    ),
]


def _images(
    backbone: str,
    weights: str,
    frozen: bool,
    cache_dir: Path | None,
    workers: int,
    image_size: int | None = None,
    render_size: int | None = None,
    stem_stride: int | None = None,
):
    from labelsphere.train import ImageOptions

    return ImageOptions(
        backbone, weights, frozen, cache_dir, workers, image_size, render_size, stem_stride
    )


def _dataset_options(pairs: list[str] | None) -> dict[str, Any]:
    """``["max_icons=40000", "seed=1"]`` -> ``{"max_icons": 40000, "seed": 1}`` (JSON values)."""
    from labelsphere.data import parse_dataset_options

    try:
        return parse_dataset_options(pairs)
    except ValueError as e:
        _fail(str(e))


def _items(
    input_key: str,
    labels_key: str,
    val_file: Path | None,
    test_file: Path | None,
    allow_outside: bool = False,
    val_split: str = "auto",
):
    """Options for ``train_val_test``: the validation split, and items files' columns (left
    out when at their defaults, as shared datasets take none)."""
    opts: dict[str, Any] = {"val_file": val_file, "test_file": test_file}
    if val_split != "auto":
        opts["val_split"] = val_split
    if allow_outside:
        opts["allow_outside"] = True
    if input_key != "input":
        opts["input_column"] = input_key
    if labels_key != "labels":
        opts["labels_column"] = labels_key
    return {k: v for k, v in opts.items() if v is not None}


def _hidden(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(h) for h in text.split(",") if h.strip())
    except ValueError:
        _fail(f"--hidden: expected comma-separated integers, got {text!r}")
        raise


def _warn_skipped(skipped: dict[str, int]) -> None:
    for name, n in skipped.items():
        if n:
            typer.secho(f"{name}: skipped {n} unreadable images", fg=typer.colors.YELLOW, err=True)
