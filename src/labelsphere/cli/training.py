"""Commands that train: one run, a tuned seeded comparison, and evaluation of a saved model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from labelsphere.cli.app import _errors, _fail, _table, _threads, app
from labelsphere.cli.options import (
    AllowOutside,
    Amp,
    Backbone,
    BackboneWeights,
    BatchSize,
    CacheDir,
    DataDir,
    DatasetOption,
    Device,
    Dropout,
    Epochs,
    EvalEvery,
    Frozen,
    Hidden,
    ImageSize,
    InputKey,
    LabelsKey,
    NComponents,
    PriorAdjustment,
    RenderSize,
    Schedule,
    StemStride,
    TestFile,
    Threads,
    ValFile,
    ValFraction,
    ValSplit,
    Warmup,
    WeightDecay,
    Workers,
    _dataset_options,
    _hidden,
    _images,
    _items,
    _warn_skipped,
)
from labelsphere.heads.registry import DEFAULT_HEAD, HEAD_REGISTRY


@app.command()
@_errors
def train(
    dataset: Annotated[str, typer.Argument(help="A shared dataset name with a train/test split.")],
    head: Annotated[
        str,
        typer.Option(help=f"Head spec: one of {', '.join(HEAD_REGISTRY)}, or name[key=value,...]."),
    ] = DEFAULT_HEAD,
    out: Annotated[
        Path, typer.Option(help="Run directory (config, metrics.jsonl, checkpoints, model/).")
    ] = Path("runs/train"),
    n_components: NComponents = None,
    hidden: Hidden = "512",
    dropout: Dropout = 0.0,
    lr: Annotated[float, typer.Option(help="AdamW learning rate.")] = 1e-3,
    weight_decay: WeightDecay = 0.0,
    batch_size: BatchSize = 128,
    epochs: Epochs = 30,
    schedule: Schedule = "constant",
    warmup: Warmup = 0.0,
    eval_every: EvalEvery = None,
    patience: Annotated[
        int | None, typer.Option(help="Stop after this many evaluations without improvement.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed for initialisation, shuffling and dropout.")] = 0,
    device: Device = "auto",
    amp: Amp = False,
    resume: Annotated[
        bool,
        typer.Option(
            help="Continue an interrupted run in --out, or a finished one to more --epochs (constant rate)."
        ),
    ] = False,
    val_fraction: ValFraction = 0.1,
    val_split: ValSplit = "auto",
    backbone: Backbone = "tf_efficientnet_lite0",
    backbone_weights: BackboneWeights = "default",
    frozen: Frozen = True,
    cache_dir: CacheDir = None,
    num_workers: Workers = 0,
    image_size: ImageSize = None,
    render_size: RenderSize = None,
    stem_stride: StemStride = None,
    input_key: InputKey = "input",
    labels_key: LabelsKey = "labels",
    val_file: ValFile = None,
    test_file: TestFile = None,
    allow_outside: AllowOutside = False,
    dataset_option: DatasetOption = None,
    data_dir: DataDir = None,
    threads: Threads = None,
) -> None:
    """Train one model, select its best checkpoint on validation, evaluate on test.

    DATASET is a shared dataset name or an items file (CSV/JSONL of inputs, e.g. image paths,
    and labels; split 80/10/10). Image datasets go through --backbone: frozen (cached
    features, the default) or fine-tuned end to end (--finetune).
    """
    from labelsphere.train import train_dataset

    _threads(threads)
    try:
        done = train_dataset(
            dataset,
            out,
            head,
            data_dir,
            val_fraction,
            _images(
                backbone,
                backbone_weights,
                frozen,
                cache_dir,
                num_workers,
                image_size,
                render_size,
                stem_stride,
            ),
            dataset_options=_items(
                input_key, labels_key, val_file, test_file, allow_outside, val_split
            )
            | _dataset_options(dataset_option),
            resume=resume,
            n_components=n_components,
            hidden=_hidden(hidden),
            dropout=dropout,
            lr=lr,
            weight_decay=weight_decay,
            batch_size=batch_size,
            epochs=epochs,
            schedule=schedule,
            warmup=warmup,
            eval_every=eval_every,
            patience=patience,
            seed=seed,
            device=device,
            amp=amp,
        )
    except (ValueError, FileNotFoundError) as e:
        _fail(str(e))
    if not done.result.is_main:
        return  # torchrun: rank 0 reports
    _warn_skipped(done.inputs.skipped)
    r = done.result
    typer.echo(
        f"best validation MAP@100 {r.best['MAP@100']:.4f} at step {r.best['step']}; {r.steps} steps in {r.seconds:.1f} s"
    )
    typer.echo(
        _table(
            [{"split": done.inputs.test.name, **done.test_metrics}],
            ["split", "MAP@100", "mAP", "P@1", "P@3", "P@5", "nDCG@5", "PSP@5"],
        )
    )
    typer.echo(f"model: {done.run.model_dir}")


@app.command()
@_errors
def evaluate(
    model_dir: Annotated[
        Path, typer.Argument(help="A model directory written by train (RUN/model).")
    ],
    dataset: Annotated[
        str,
        typer.Argument(help="A shared dataset name or an items file (CSV/JSONL), as for train."),
    ],
    split: Annotated[
        str,
        typer.Option(help="Which split: test, val, train (as train split them), or a named one."),
    ] = "test",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    val_fraction: ValFraction = 0.1,
    val_split: ValSplit = "auto",
    cache_dir: CacheDir = None,
    input_key: InputKey = "input",
    labels_key: LabelsKey = "labels",
    allow_outside: AllowOutside = False,
    dataset_option: DatasetOption = None,
    data_dir: DataDir = None,
    prior_adjustment: PriorAdjustment = 0.0,
) -> None:
    """Evaluate a saved model (features, frozen-image or fine-tuned) on a dataset split.

    Prints MAP@100, mAP, P@k, R@k, nDCG@k and PSP@k (from the training labels kept with the
    model), the metrics train and compare report.
    """
    from labelsphere.predict import evaluate_model_dir

    try:
        name, m = evaluate_model_dir(
            model_dir,
            dataset,
            split,
            data_dir,
            val_fraction,
            cache_dir,
            prior_adjustment,
            **_items(input_key, labels_key, None, None, allow_outside, val_split)
            | _dataset_options(dataset_option),
        )
    except (ValueError, FileNotFoundError) as e:
        _fail(str(e))
    typer.echo(
        json.dumps(m, indent=1) if as_json else _table([{"split": name, **m}], ["split", *m])
    )


@app.command()
@_errors
def compare(
    dataset: Annotated[
        str, typer.Argument(help="A shared dataset name with a train/test split.")
    ] = "bibtex",
    heads: Annotated[
        str,
        typer.Option(
            help="Comma-separated head specs; the baseline is always included. Use ';' to separate specs that contain commas."
        ),
    ] = f"{DEFAULT_HEAD},sigmoid-prior",
    seeds: Annotated[int, typer.Option(help="Seeds per head at its tuned learning rate.")] = 3,
    lrs: Annotated[
        str, typer.Option(help="Learning rates searched per head on validation (seed 0).")
    ] = "3e-4,1e-3,3e-3",
    baseline: Annotated[
        str,
        typer.Option(
            help="The head spec the others are measured against (sigmoid-prior: the sigmoid "
            "head with its biases started at the label priors, the fair baseline)."
        ),
    ] = "sigmoid-prior",
    extend_grid: Annotated[
        int,
        typer.Option(help="Add up to this many rates beyond an edge of --lrs that a head picks."),
    ] = 2,
    budget_seeds: Annotated[
        bool,
        typer.Option(help="Also run every seed at each shorter budget's own tuned rate."),
    ] = False,
    only_seed: Annotated[
        int | None,
        typer.Option(
            help="Train only this seed's runs (0..seeds-1) and write no report, so seeds can "
            "train in parallel processes over one --out; run again without it for the report."
        ),
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Output directory (default: runs/compare-DATASET).")
    ] = None,
    n_components: NComponents = None,
    hidden: Hidden = "512",
    dropout: Dropout = 0.0,
    weight_decay: WeightDecay = 0.0,
    batch_size: BatchSize = 128,
    epochs: Epochs = 30,
    schedule: Schedule = "constant",
    warmup: Warmup = 0.0,
    eval_every: EvalEvery = None,
    device: Device = "auto",
    amp: Amp = False,
    val_fraction: ValFraction = 0.1,
    val_split: ValSplit = "auto",
    backbone: Backbone = "tf_efficientnet_lite0",
    backbone_weights: BackboneWeights = "default",
    frozen: Frozen = True,
    cache_dir: CacheDir = None,
    num_workers: Workers = 0,
    image_size: ImageSize = None,
    render_size: RenderSize = None,
    stem_stride: StemStride = None,
    input_key: InputKey = "input",
    labels_key: LabelsKey = "labels",
    val_file: ValFile = None,
    test_file: TestFile = None,
    allow_outside: AllowOutside = False,
    dataset_option: DatasetOption = None,
    data_dir: DataDir = None,
    threads: Threads = None,
) -> None:
    """Compare heads on one dataset: same network, data and budget; tuned learning rates; seeds.

    Writes report.md (mean ± std of test metrics, steps/seconds to reach the sigmoid head's
    best validation MAP@100, peak memory), results.json and curves_steps.png / curves_time.png.
    Finished runs in the output directory are reused, interrupted ones resumed, and runs
    finished with fewer epochs at a constant rate continued to --epochs.
    """
    from labelsphere.compare import compare_dataset, render_report
    from labelsphere.heads import split_specs

    _threads(threads)
    specs = [h.strip() for h in (heads.split(";") if ";" in heads else split_specs(heads))]
    try:
        summary, out = compare_dataset(
            dataset,
            [h for h in specs if h],
            out,
            seeds,
            [float(x) for x in lrs.split(",") if x.strip()],
            data_dir,
            val_fraction,
            _images(
                backbone,
                backbone_weights,
                frozen,
                cache_dir,
                num_workers,
                image_size,
                render_size,
                stem_stride,
            ),
            dataset_options=_items(
                input_key, labels_key, val_file, test_file, allow_outside, val_split
            )
            | _dataset_options(dataset_option),
            baseline=baseline,
            extend_grid=extend_grid,
            budget_seeds=budget_seeds,
            only_seed=only_seed,
            n_components=n_components,
            hidden=_hidden(hidden),
            dropout=dropout,
            weight_decay=weight_decay,
            batch_size=batch_size,
            epochs=epochs,
            schedule=schedule,
            warmup=warmup,
            eval_every=eval_every,
            device=device,
            amp=amp,
        )
    except (ValueError, FileNotFoundError) as e:
        _fail(str(e))
    if only_seed is not None:
        typer.echo(
            f"seed {only_seed}: {len(summary['run_dirs'])} runs finished in {out}; run compare "
            "again without --only-seed (same options) for the report"
        )
        return
    typer.echo(render_report(summary))
    typer.echo(
        f"\nwrote {out}/report.md, {out}/results.json, {out}/curves_steps.png, {out}/curves_time.png"
    )
