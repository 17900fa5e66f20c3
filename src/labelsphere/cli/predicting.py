"""Commands that use a saved model: predictions from files, and the HTTP server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from labelsphere.cli.app import _errors, _fail, app
from labelsphere.cli.options import PriorAdjustment


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
    prior_adjustment: PriorAdjustment = 0.0,
) -> None:
    """Print the top-k labels with scores for each image file, feature row or --text."""
    from labelsphere.predict import Predictor

    if k < 1:
        _fail(f"-k must be at least 1, got {k}")
    if not inputs and not text:
        _fail("give input files or --text")
    try:
        predictor = Predictor.load(model_dir, prior_adjustment=prior_adjustment)
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
    prior_adjustment: PriorAdjustment = 0.0,
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
        prior_adjustment=prior_adjustment,
    )
