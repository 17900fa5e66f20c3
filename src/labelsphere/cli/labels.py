"""Commands on label sets: the shared datasets, the embedding report, neighbours, the map, counting."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from labelsphere.cli.app import _errors, _fail, app
from labelsphere.cli.options import (
    DataDir,
)


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
