"""The ``labelsphere`` command line (Typer).

    labelsphere datasets                      list the shared datasets
    labelsphere report bibtex                 fit a PMI label embedding, oracle test, neighbours
    labelsphere train bibtex --head embedding train one model, evaluate on test
    labelsphere evaluate RUN/model bibtex     evaluate a saved model
    labelsphere predict RUN/model rows.npy    top-k labels for feature rows (or images)
    labelsphere compare bibtex                embedding vs sigmoid (+ peers), tuned, seeded

Datasets are read from ``--data-dir`` (default: ``$LABELSPHERE_DATA``, else ``~/labelsphere_data``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import numpy as np
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
    import time

    from labelsphere import CooccurrenceCounter, LabelEmbedding
    from labelsphere.artifacts import atomic_write_text
    from labelsphere.data import dataset_splits, load_dataset
    from labelsphere.metrics import evaluate

    try:
        splits = dataset_splits(dataset)
    except ValueError as e:
        _fail(str(e))
    fit_split = "train" if "train" in splits else "all"
    train_ds = load_dataset(dataset, fit_split, data_dir)
    L = train_ds.Y.shape[1]
    d = min(n_components, L - 1)
    counts = CooccurrenceCounter(vocabulary=train_ds.vocabulary).update(train_ds.Y)
    t0 = time.perf_counter()
    est = LabelEmbedding(
        n_components=d,
        pmi=pmi,
        diagonal=diagonal,
        factorization=factorization,
        similarity=similarity,
        random_state=0,
    ).fit_counts(counts)
    fit_s = time.perf_counter() - t0
    lines = [
        f"# Label embedding report: {dataset}",
        "",
        f"- fitted on `{train_ds.name}`: {len(train_ds)} samples, {L} labels, {train_ds.cardinality:.2f} labels/sample",
        f"- co-occurring label pairs: {counts.n_pairs_ - int((counts.label_counts_ > 0).sum())} "
        f"(of {L * (L - 1) // 2} possible)",
        f"- LabelEmbedding(n_components={d}, pmi={pmi!r}, diagonal={diagonal!r}, factorization={factorization!r}, "
        f"similarity={similarity!r}): solver {est.solver_}, {fit_s:.2f} s",
        f"- eigenvalues kept: {est.eigenvalues_[0]:.2f} ... {est.eigenvalues_[-1]:.2f}",
    ]
    if "test" in splits:
        test_ds = load_dataset(dataset, "test", data_dir)
        idx, _ = est.decode(est.encode(test_ds.Y), k=100)
        m = evaluate(test_ds.Y, ranked=idx, ks=(1, 3, 5), map_k=100)
        lines += [
            "",
            f"## Oracle test on `{test_ds.name}` ({len(test_ds)} samples): decode(encode(Y)) vs Y",
            "",
            "| MAP@100 | P@1 | P@3 | P@5 |",
            "|---|---|---|---|",
            f"| {m['MAP@100']:.4f} | {m['P@1']:.4f} | {m['P@3']:.4f} | {m['P@5']:.4f} |",
        ]
    lines += ["", "## Nearest labels (cosine) of the most frequent labels", ""]
    for i in np.argsort(-est.label_counts_)[:8]:
        name = est.vocabulary_.names[i]
        near = ", ".join(f"{n} ({s:.2f})" for n, s in est.similar(name, k=5))
        lines.append(f"- **{name}** ({est.label_counts_[i]}): {near}")
    text = "\n".join(lines) + "\n"
    typer.echo(text)
    if out is not None:
        from labelsphere.plots import plot_label_map, plot_spectrum

        est.save(out / "embedding")
        plot_spectrum(
            est.eigenvalues_,
            out / "spectrum.png",
            f"{dataset}: PMI eigenvalues of the kept components",
        )
        plot_label_map(
            est.embeddings_,
            est.vocabulary_.names,
            est.label_counts_,
            out / "label_map.png",
            title=dataset,
        )
        atomic_write_text(
            out / "report.md",
            text + "\n![spectrum](spectrum.png)\n\n![label map](label_map.png)\n",
        )
        typer.echo(
            f"wrote {out}/report.md, {out}/spectrum.png, {out}/label_map.png and {out}/embedding/"
        )


def _prepare_images(
    splits: tuple[Any, Any, Any],
    backbone: str,
    weights: str,
    frozen: bool,
    cache_dir: Path | None,
    num_workers: int,
) -> tuple[tuple[Any, Any, Any], Any, dict[str, Any]]:
    """For image datasets: frozen features (cached) or the fine-tuning config; else unchanged."""
    if not isinstance(splits[0].X, list):
        return splits, None, {}
    from labelsphere.backbones import create_backbone
    from labelsphere.train import image_features

    w = None if weights.lower() == "none" else weights
    if not frozen:
        return (
            splits,
            None,
            {
                "backbone": backbone,
                "backbone_weights": w,
                "frozen": False,
                "num_workers": num_workers,
            },
        )
    net = create_backbone(backbone, w)
    cache = cache_dir or Path.home() / ".cache" / "labelsphere" / "features"
    out = tuple(image_features(list(splits), net, cache_dir=cache, num_workers=num_workers))
    for ds in out:
        n = len(ds.info.get("skipped_images", []))
        if n:
            typer.secho(
                f"{ds.name}: skipped {n} unreadable images", fg=typer.colors.YELLOW, err=True
            )
    return out, net, {"backbone": backbone, "backbone_weights": w, "frozen": True}  # type: ignore[return-value]


def _config(head: str, **kw: Any) -> Any:
    from labelsphere.compare import parse_head_spec
    from labelsphere.train import TrainConfig

    spec = parse_head_spec(head)
    hidden = kw.pop("hidden")
    base = TrainConfig(hidden=tuple(int(h) for h in hidden.split(",") if h) if hidden else (), **kw)
    return spec.config(base)


@app.command()
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
    data_dir: DataDir = None,
    threads: Threads = None,
) -> None:
    """Train one model, select its best checkpoint on validation, evaluate on test.

    DATASET is a shared dataset name or an items file (CSV/JSONL of inputs, e.g. image paths,
    and labels; split 80/10/10). Image datasets go through --backbone: frozen (cached
    features, the default) or fine-tuned end to end (--finetune).
    """
    from labelsphere.data import train_val_test
    from labelsphere.metrics import propensity_scores
    from labelsphere.train import evaluate_model, load_model
    from labelsphere.train import train as run_train

    _threads(threads)
    try:
        tr, va, te = train_val_test(dataset, data_dir, val_fraction=val_fraction)
        (tr, va, te), extractor, image_cfg = _prepare_images(
            (tr, va, te), backbone, backbone_weights, frozen, cache_dir, num_workers
        )
        config = _config(
            head,
            n_components=n_components,
            hidden=hidden,
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
            **image_cfg,
        )
    except (ValueError, FileNotFoundError) as e:
        _fail(str(e))
    result = run_train(config, tr, va, out, resume=resume, feature_extractor=extractor)
    model, _, _ = load_model(out / "model")
    m = evaluate_model(model, te.X, te.Y, next(model.parameters()).device, propensity_scores(tr.Y))
    from labelsphere.artifacts import write_json

    write_json(out / "test_metrics.json", m)
    typer.echo(
        f"best validation MAP@100 {result.best['MAP@100']:.4f} at step {result.best['step']}; {result.steps} steps in {result.seconds:.1f} s"
    )
    typer.echo(
        _table(
            [{"split": te.name, **m}],
            ["split", "MAP@100", "mAP", "P@1", "P@3", "P@5", "nDCG@5", "PSP@5"],
        )
    )
    typer.echo(f"model: {out / 'model'}")


@app.command()
def evaluate(
    model_dir: Annotated[
        Path, typer.Argument(help="A model directory written by train (RUN/model).")
    ],
    dataset: Annotated[str, typer.Argument(help="A shared dataset name.")],
    split: Annotated[str, typer.Option(help="Which split to evaluate on.")] = "test",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Evaluate a saved model on a dataset split: MAP@100, mAP, P@k, R@k, nDCG@k."""
    from labelsphere.data import load_dataset
    from labelsphere.train import evaluate_model, load_model

    try:
        model, _, vocab = load_model(model_dir)
        ds = load_dataset(dataset, split, data_dir)
    except (ValueError, FileNotFoundError) as e:
        _fail(str(e))
    if ds.vocabulary != vocab:
        _fail(f"{dataset}/{split} has a different label vocabulary than the model in {model_dir}")
    m = evaluate_model(model, ds.X, ds.Y, next(model.parameters()).device)
    typer.echo(
        json.dumps(m, indent=1) if as_json else _table([{"split": ds.name, **m}], ["split", *m])
    )


def _read_rows(path: Path) -> np.ndarray:
    import scipy.sparse as sp

    if path.suffix == ".npy":
        X = np.load(path, allow_pickle=False)
    elif path.suffix == ".npz":
        X = sp.load_npz(path)
    else:
        raise ValueError(f"{path}: expected feature rows as .npy or .npz")
    return X if sp.issparse(X) else np.atleast_2d(X)


@app.command()
def predict(
    model_dir: Annotated[
        Path, typer.Argument(help="A model directory written by train (RUN/model).")
    ],
    inputs: Annotated[
        list[Path],
        typer.Argument(
            help="Image files (JPEG, PNG, SVG) for an image model, or feature rows as .npy (dense) / .npz (scipy sparse)."
        ),
    ],
    k: Annotated[int, typer.Option("--k", "-k", help="How many labels per input.")] = 5,
    threshold: Annotated[
        float | None, typer.Option(help="Only print labels scoring at least this.")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print JSON lines instead of a table.")
    ] = False,
) -> None:
    """Print the top-k labels with scores for each image file or feature row."""
    from labelsphere.decode import topk
    from labelsphere.train import load_feature_extractor, load_model, predict_scores

    try:
        model, meta, vocab = load_model(model_dir)
        extractor = load_feature_extractor(model_dir)
    except (ValueError, FileNotFoundError) as e:
        _fail(str(e))
    device = next(model.parameters()).device
    rows = [p for p in inputs if p.suffix in (".npy", ".npz")]
    images = [p for p in inputs if p.suffix not in (".npy", ".npz")]
    results: list[tuple[str, np.ndarray | None]] = []
    for path in rows:
        try:
            X = _read_rows(path)
        except (ValueError, OSError) as e:
            _fail(str(e))
        if X.shape[1] != meta["in_features"]:
            _fail(
                f"{path}: rows have {X.shape[1]} features, the model expects {meta['in_features']}"
            )
        scores, _ = predict_scores(model, X, device)
        results += [(f"{path}[{r}]", scores[r]) for r in range(len(scores))]
    if images:
        if extractor is not None:
            from labelsphere.images import extract_features

            feats, ok = extract_features(extractor, images, progress=False, device=device)
            scores, _ = predict_scores(model, feats.astype(np.float32), device)
        elif meta.get("image_backbone"):
            scores, ok = predict_scores(model, [str(p) for p in images], device)
        else:
            _fail(f"{model_dir} was trained on feature vectors: give .npy/.npz rows, not images")
        results += [(str(p), scores[i] if ok[i] else None) for i, p in enumerate(images)]
    for name, score in results:
        if score is None:
            msg = "could not load the image (see the warning above)"
            typer.echo(json.dumps({"input": name, "error": msg}) if as_json else f"{name}: {msg}")
            continue
        idx, vals = topk(score[None, :], k)
        labels = [
            (vocab.names[j], float(v))
            for j, v in zip(idx[0], vals[0], strict=True)
            if threshold is None or v >= threshold
        ]
        if as_json:
            out = {"input": name, "labels": [{"label": n, "score": s} for n, s in labels]}
            typer.echo(json.dumps(out))
        else:
            typer.echo(f"{name}: " + ", ".join(f"{n} ({s:.3f})" for n, s in labels))


@app.command()
def compare(
    dataset: Annotated[
        str, typer.Argument(help="A shared dataset name with a train/test split.")
    ] = "bibtex",
    heads: Annotated[
        str,
        typer.Option(
            help="Comma-separated head specs; sigmoid is always included. Use ';' to separate specs that contain commas."
        ),
    ] = "embedding,sigmoid",
    seeds: Annotated[int, typer.Option(help="Seeds per head at its tuned learning rate.")] = 3,
    lrs: Annotated[
        str, typer.Option(help="Learning rates searched per head on validation (seed 0).")
    ] = "3e-4,1e-3,3e-3",
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
    data_dir: DataDir = None,
    threads: Threads = None,
) -> None:
    """Compare heads on one dataset: same network, data and budget; tuned learning rates; seeds.

    Writes report.md (mean ± std of test metrics, steps/seconds to reach the sigmoid head's
    best validation MAP@100, peak memory), results.json and curves_steps.png / curves_time.png.
    Finished runs in the output directory are reused, interrupted ones resumed.
    """
    from labelsphere.compare import compare as run_compare
    from labelsphere.compare import render_report
    from labelsphere.data import train_val_test

    _threads(threads)
    specs = [
        h.strip() for h in (heads.split(";") if ";" in heads else _split_specs(heads)) if h.strip()
    ]
    try:
        lr_grid = [float(x) for x in lrs.split(",") if x.strip()]
        tr, va, te = train_val_test(dataset, data_dir, val_fraction=val_fraction)
        (tr, va, te), extractor, image_cfg = _prepare_images(
            (tr, va, te), backbone, backbone_weights, frozen, cache_dir, num_workers
        )
        base = _config(
            "sigmoid",
            n_components=n_components,
            hidden=hidden,
            dropout=dropout,
            lr=lr_grid[0],
            weight_decay=weight_decay,
            batch_size=batch_size,
            epochs=epochs,
            schedule=schedule,
            warmup=warmup,
            eval_every=eval_every,
            device=device,
            **image_cfg,
        )
    except (ValueError, FileNotFoundError) as e:
        _fail(str(e))
    out = out or Path("runs") / f"compare-{Path(dataset).stem}"
    summary = run_compare(
        dataset,
        tr,
        va,
        te,
        specs,
        base,
        out,
        n_seeds=seeds,
        lrs=lr_grid,
        feature_extractor=extractor,
    )
    typer.echo(render_report(summary))
    typer.echo(
        f"\nwrote {out}/report.md, {out}/results.json, {out}/curves_steps.png, {out}/curves_time.png"
    )


def _split_specs(text: str) -> list[str]:
    """Split on commas outside brackets: 'embedding[loss=softmax,bias=true],sigmoid'."""
    out, depth, cur = [], 0, ""
    for ch in text:
        depth += ch == "["
        depth -= ch == "]"
        if ch == "," and depth == 0:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    out.append(cur)
    return out


def main() -> None:  # pragma: no cover - console entry point
    app(sys.argv[1:])


if __name__ == "__main__":  # pragma: no cover
    main()
