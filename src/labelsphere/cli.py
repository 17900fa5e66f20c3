"""The ``labelsphere`` command line (Typer).

    labelsphere datasets                      list the shared datasets
    labelsphere report bibtex                 fit a PMI label embedding, oracle test, neighbours
    labelsphere train bibtex --head embedding train one model, evaluate on test
    labelsphere evaluate RUN/model bibtex     evaluate a saved model
    labelsphere predict RUN/model rows.npy    top-k labels for feature rows (or images)
    labelsphere compare bibtex                embedding vs sigmoid (+ peers), tuned, seeded
    labelsphere count SHARD... --out C        co-occurrence counts (torchrun: distributed)

Datasets are read from ``--data-dir`` (default: ``$LABELSPHERE_DATA``, else ``~/labelsphere_data``).
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

app = typer.Typer(
    help="Multi-label classification with PMI label embeddings (Chollet, 2016), compared with the sigmoid baseline.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

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
    int, typer.Option("--n-components", "-d", help="Label embedding dimension (capped at L - 1).")
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


def _threads(n: int | None) -> None:
    if n is not None:
        import torch

        torch.set_num_threads(n)


def _errors(command: Callable[..., None]) -> Callable[..., None]:
    """Every expected failure of a command is one line naming the file or field, exit 2.

    Bad input (ValueError and its subclasses: data, format and image errors), files that
    cannot be read or written (OSError), unknown labels (KeyError) and a diverging run
    (FloatingPointError) never print a traceback.
    """

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> None:
        try:
            command(*args, **kwargs)
        except (ValueError, OSError, KeyError, FloatingPointError) as e:
            message = str(e.args[0]) if isinstance(e, KeyError) and e.args else str(e)
            _fail(message or type(e).__name__)

    return run


def _fail(message: str) -> None:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(2)


def _table(rows: list[dict[str, Any]], keys: list[str]) -> str:
    widths = {k: max(len(k), *(len(_fmt(r.get(k))) for r in rows)) for k in keys}
    lines = ["  ".join(k.ljust(widths[k]) for k in keys)]
    lines += ["  ".join(_fmt(r.get(k)).ljust(widths[k]) for k in keys) for r in rows]
    return "\n".join(lines)


def _fmt(v: Any) -> str:
    return f"{v:.4f}" if isinstance(v, float) else str(v)


@app.command()
@_errors
def datasets(data_dir: DataDir = None) -> None:
    """List the shared datasets labelsphere can load by name."""
    from labelsphere.data import DATASETS, get_data_dir

    try:
        root = get_data_dir(data_dir)
    except FileNotFoundError:
        root = None
    for name, desc in DATASETS.items():
        here = "" if root is None else ("  [found]" if (root / name).is_dir() else "  [missing]")
        typer.echo(f"{name:20s} {desc}{here}")


@app.command()
@_errors
def report(
    dataset: Annotated[
        str, typer.Argument(help="A shared dataset name (see `labelsphere datasets`).")
    ] = "delicious",
    n_components: Annotated[
        int, typer.Option("--n-components", "-d", help="Embedding dimension d.")
    ] = 256,
    pmi: Annotated[
        str, typer.Option(help="Never-co-occurring pairs: zero | positive | smoothed.")
    ] = "zero",
    diagonal: Annotated[str, typer.Option(help="PMI diagonal: zero | self_information.")] = "zero",
    factorization: Annotated[
        str, typer.Option(help="svd (U sqrt(S)) | eigh (top positive eigenpairs).")
    ] = "svd",
    similarity: Annotated[str, typer.Option(help="Decoding similarity: cosine | dot.")] = "cosine",
    out: Annotated[
        Path | None, typer.Option(help="Write the embedding, report.md and spectrum.png here.")
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Fit a PMI label embedding on a dataset's training labels and report what it keeps.

    Prints the label statistics, the oracle test (decode(encode(Y_test)) against Y_test:
    MAP@100, P@1/3/5) and the nearest labels of the most frequent ones.
    """
    from labelsphere.report import embedding_report

    try:
        rep = embedding_report(
            dataset, data_dir, n_components, pmi, diagonal, factorization, similarity, out
        )
    except (ValueError, FileNotFoundError) as e:
        _fail(str(e))
    typer.echo(rep.text)
    if out is not None:
        typer.echo(
            f"wrote {out}/report.md, {out}/spectrum.png, {out}/label_map.png and {out}/embedding/"
        )


def _images(
    backbone: str,
    weights: str,
    frozen: bool,
    cache_dir: Path | None,
    workers: int,
    image_size: int | None = None,
    render_size: int | None = None,
):
    from labelsphere.train import ImageOptions

    return ImageOptions(backbone, weights, frozen, cache_dir, workers, image_size, render_size)


def _dataset_options(pairs: list[str] | None) -> dict[str, Any]:
    """``["max_icons=40000", "seed=1"]`` -> ``{"max_icons": 40000, "seed": 1}`` (JSON values)."""
    out: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            _fail(f"--dataset-option: expected KEY=VALUE, got {pair!r}")
        try:
            out[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            out[key.strip()] = value  # a bare string
    return out


def _items(
    input_key: str,
    labels_key: str,
    val_file: Path | None,
    test_file: Path | None,
    allow_outside: bool = False,
):
    """Options for items files (left out when at their defaults, as shared datasets take none)."""
    opts: dict[str, Any] = {"val_file": val_file, "test_file": test_file}
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


@app.command()
@_errors
def train(
    dataset: Annotated[str, typer.Argument(help="A shared dataset name with a train/test split.")],
    head: Annotated[
        str,
        typer.Option(
            help="Head spec: embedding, sigmoid, softmax, asl, pca, random, embedding-paper, or name[key=value,...]."
        ),
    ] = "embedding",
    out: Annotated[
        Path, typer.Option(help="Run directory (config, metrics.jsonl, checkpoints, model/).")
    ] = Path("runs/train"),
    n_components: NComponents = 256,
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
    amp: Annotated[bool, typer.Option(help="Mixed precision (CUDA only).")] = False,
    resume: Annotated[bool, typer.Option(help="Continue an interrupted run in --out.")] = False,
    val_fraction: ValFraction = 0.1,
    backbone: Backbone = "tf_efficientnet_lite0",
    backbone_weights: BackboneWeights = "default",
    frozen: Frozen = True,
    cache_dir: CacheDir = None,
    num_workers: Workers = 0,
    image_size: ImageSize = None,
    render_size: RenderSize = None,
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
                backbone, backbone_weights, frozen, cache_dir, num_workers, image_size, render_size
            ),
            dataset_options=_items(input_key, labels_key, val_file, test_file, allow_outside)
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
    cache_dir: CacheDir = None,
    input_key: InputKey = "input",
    labels_key: LabelsKey = "labels",
    allow_outside: AllowOutside = False,
    data_dir: DataDir = None,
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
            **_items(input_key, labels_key, None, None, allow_outside),
        )
    except (ValueError, FileNotFoundError) as e:
        _fail(str(e))
    typer.echo(
        json.dumps(m, indent=1) if as_json else _table([{"split": name, **m}], ["split", *m])
    )


@app.command()
@_errors
def predict(
    model_dir: Annotated[
        Path, typer.Argument(help="A model directory written by train (RUN/model).")
    ],
    inputs: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Image files (JPEG, PNG, SVG) for an image model, or feature rows as .npy (dense) / .npz (scipy sparse)."
        ),
    ] = None,
    text: Annotated[
        list[str] | None,
        typer.Option("--text", help="Raw text to label (a model trained on text); repeatable."),
    ] = None,
    k: Annotated[int, typer.Option("--k", "-k", help="How many labels per input.")] = 5,
    threshold: Annotated[
        str | None,
        typer.Option(
            help="A number: only print labels scoring at least this. 'calibrated': print each input's calibrated label set (per-label thresholds fitted on validation)."
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print JSON lines instead of a table.")
    ] = False,
    backend: Annotated[
        str | None,
        typer.Option(
            help="Rank an embedding head's labels through an index: exact | faiss-flat | faiss-hnsw | faiss-ivf (default: score every label)."
        ),
    ] = None,
) -> None:
    """Print the top-k labels with scores for each image file, feature row or --text."""
    from labelsphere.predict import Predictor

    if k < 1:
        _fail(f"-k must be at least 1, got {k}")
    if not inputs and not text:
        _fail("give input files or --text")
    try:
        predictor = Predictor.load(model_dir)
        predictions = predictor.predict_files(inputs or [], k, threshold, backend)
        if text:
            predictions += predictor.predict_texts(text, k, threshold, backend)
    except (ValueError, FileNotFoundError) as e:
        _fail(str(e))
    for p in predictions:
        if as_json:
            typer.echo(json.dumps(p.to_json()))
        elif p.error is not None:
            typer.echo(f"{p.input}: {p.error}")
        elif p.set is not None:
            typer.echo(f"{p.input}: {{" + ", ".join(f"{n} (+{s:.3f})" for n, s in p.set) + "}")
        else:
            typer.echo(f"{p.input}: " + ", ".join(f"{n} ({s:.3f})" for n, s in p.labels))


@app.command()
@_errors
def similar(
    source: Annotated[
        Path,
        typer.Argument(help="A model directory (RUN/model) or a saved LabelEmbedding directory."),
    ],
    label: Annotated[str, typer.Argument(help="A label name.")],
    k: Annotated[int, typer.Option("--k", "-k", help="How many neighbours.")] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The labels nearest to LABEL in a model's label space (or a label embedding's)."""
    from labelsphere.report import nearest_labels

    near = nearest_labels(source, label, k)
    if as_json:
        typer.echo(json.dumps([{"label": n, "similarity": s} for n, s in near]))
    else:
        typer.echo("\n".join(f"{n}\t{s:.3f}" for n, s in near))


@app.command(name="map")
@_errors
def label_map(
    source: Annotated[
        Path,
        typer.Argument(help="A model directory (RUN/model) or a saved LabelEmbedding directory."),
    ],
    out: Annotated[Path, typer.Option(help="The PNG to write.")] = Path("label_map.png"),
    n_labels: Annotated[int, typer.Option(help="How many of the most frequent labels.")] = 150,
) -> None:
    """A PNG of the label space in 2-D (t-SNE, cosine), the most frequent labels named."""
    from labelsphere.report import label_space_map

    typer.echo(f"wrote {label_space_map(source, out, n_labels)}")


@app.command()
@_errors
def serve(
    model_dir: Annotated[
        Path, typer.Argument(help="A model directory written by train (RUN/model).")
    ],
    host: Annotated[str, typer.Option(help="Address to bind (loopback by default).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    max_body_bytes: Annotated[int, typer.Option(help="Largest request body accepted.")] = 16
    * 2**20,
    max_batch: Annotated[int, typer.Option(help="Most rows, texts or files per request.")] = 1024,
    backend: Annotated[
        str,
        typer.Option(
            help="Rank top-k lists of rows and texts with: none (the head scores every label) | "
            "exact | faiss-flat | faiss-hnsw | faiss-ivf (label-embedding heads)."
        ),
    ] = "none",
) -> None:
    """Serve a model over HTTP (FastAPI on uvicorn): POST /predict, GET /labels/{name}/similar,
    GET /health; the OpenAPI schema at /docs."""
    from labelsphere.serve import serve as run_server

    run_server(
        model_dir,
        host,
        port,
        max_body_bytes=max_body_bytes,
        max_batch=max_batch,
        backend=None if backend == "none" else backend,
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
    ] = "embedding,sigmoid",
    seeds: Annotated[int, typer.Option(help="Seeds per head at its tuned learning rate.")] = 3,
    lrs: Annotated[
        str, typer.Option(help="Learning rates searched per head on validation (seed 0).")
    ] = "3e-4,1e-3,3e-3",
    baseline: Annotated[
        str, typer.Option(help="The head spec the others are measured against.")
    ] = "sigmoid",
    extend_grid: Annotated[
        int,
        typer.Option(help="Add up to this many rates beyond an edge of --lrs that a head picks."),
    ] = 2,
    budget_seeds: Annotated[
        bool,
        typer.Option(help="Also run every seed at each shorter budget's own tuned rate."),
    ] = False,
    out: Annotated[
        Path | None, typer.Option(help="Output directory (default: runs/compare-DATASET).")
    ] = None,
    n_components: NComponents = 256,
    hidden: Hidden = "512",
    dropout: Dropout = 0.0,
    weight_decay: WeightDecay = 0.0,
    batch_size: BatchSize = 128,
    epochs: Epochs = 30,
    schedule: Schedule = "constant",
    warmup: Warmup = 0.0,
    eval_every: EvalEvery = None,
    device: Device = "auto",
    val_fraction: ValFraction = 0.1,
    backbone: Backbone = "tf_efficientnet_lite0",
    backbone_weights: BackboneWeights = "default",
    frozen: Frozen = True,
    cache_dir: CacheDir = None,
    num_workers: Workers = 0,
    image_size: ImageSize = None,
    render_size: RenderSize = None,
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
    Finished runs in the output directory are reused, interrupted ones resumed.
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
                backbone, backbone_weights, frozen, cache_dir, num_workers, image_size, render_size
            ),
            dataset_options=_items(input_key, labels_key, val_file, test_file, allow_outside)
            | _dataset_options(dataset_option),
            baseline=baseline,
            extend_grid=extend_grid,
            budget_seeds=budget_seeds,
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
        )
    except (ValueError, FileNotFoundError) as e:
        _fail(str(e))
    typer.echo(render_report(summary))
    typer.echo(
        f"\nwrote {out}/report.md, {out}/results.json, {out}/curves_steps.png, {out}/curves_time.png"
    )


@app.command()
@_errors
def count(
    shards: Annotated[
        list[Path],
        typer.Argument(
            help="Label shard files or folders: JSON lines, CSV (maybe .gz) or Parquet."
        ),
    ],
    out: Annotated[
        Path, typer.Option(help="Where to write the counts (CooccurrenceCounter safetensors).")
    ] = Path("counts.safetensors"),
    vocabulary: Annotated[
        Path | None,
        typer.Option(
            help="Count into this LabelVocabulary JSON file (default: grow one, ordered by count).",
            show_default=False,
        ),
    ] = None,
    min_count: Annotated[int, typer.Option(help="Drop labels seen fewer times than this.")] = 1,
    labels_key: Annotated[
        str,
        typer.Option("--labels-key", help="The JSON key or CSV/Parquet column with the labels."),
    ] = "labels",
    sep: Annotated[str, typer.Option(help="Separator of names in a joined label string.")] = "|",
    unknown: Annotated[
        str, typer.Option(help="With --vocabulary, a name outside it: error | ignore.")
    ] = "error",
    progress: Annotated[bool, typer.Option(help="Show a progress bar (rank 0).")] = True,
) -> None:
    """Count label co-occurrences over label shards in one streaming pass.

    Under torchrun (`torchrun --standalone --nproc-per-node 2 -m labelsphere count ...`) each
    process counts its share of the shards and the counts are merged exactly; rank 0 writes
    --out (atomically).
    """
    from labelsphere.counting import count_shards_distributed
    from labelsphere.labels import LabelVocabulary

    vocab = None if vocabulary is None else LabelVocabulary.load(vocabulary)
    # Any: the call sets seconds_, samples_per_second_, rank_ and world_size_ on the counter.
    counter: Any = count_shards_distributed(
        shards, vocab, min_count, progress=progress, field=labels_key, sep=sep, unknown=unknown
    )
    if counter.rank_ != 0:
        return  # torchrun: rank 0 writes and reports
    counter.save(out)
    pairs = counter.n_pairs_ - int((counter.label_counts_ > 0).sum())
    typer.echo(
        f"counted {counter.n_samples_:,} samples in {counter.seconds_:.1f} s over "
        f"{counter.world_size_} process(es), {counter.samples_per_second_:,.0f} samples/s: "
        f"{counter.n_labels:,} labels, {pairs:,} co-occurring pairs; wrote {out}"
    )


def main() -> None:  # pragma: no cover - console entry point
    app(sys.argv[1:])


if __name__ == "__main__":  # pragma: no cover
    main()
