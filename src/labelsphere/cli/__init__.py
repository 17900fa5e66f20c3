"""The ``labelsphere`` command line (Typer).

    labelsphere datasets                      list the shared datasets
    labelsphere report bibtex                 fit a PMI label embedding, oracle test, neighbours
    labelsphere train bibtex --head embedding train one model, evaluate on test
    labelsphere evaluate RUN/model bibtex     evaluate a saved model
    labelsphere predict RUN/model rows.npy    top-k labels for feature rows (or images)
    labelsphere compare bibtex                embedding vs sigmoid (+ peers), tuned, seeded
    labelsphere count SHARD... --out C        co-occurrence counts (torchrun: distributed)

Datasets are read from ``--data-dir`` (default: ``$LABELSPHERE_DATA``, else ``~/labelsphere_data``).

Layout: ``app`` (the Typer app and its error handler), ``options`` (shared options and their
parsing), and the commands by what they work on: ``labels``, ``training``, ``predicting``. Each
command parses, calls one library function and prints (PECOS style).
"""

import sys

from labelsphere.cli import labels, predicting, training  # noqa: F401  (registers the commands)
from labelsphere.cli.app import app

# --help lists the commands in the order data flows through them.
_ORDER = (
    "datasets",
    "count",
    "report",
    "similar",
    "map",
    "train",
    "compare",
    "evaluate",
    "predict",
    "serve",
)
app.registered_commands.sort(
    key=lambda c: _ORDER.index(n) if (n := c.name or c.callback.__name__) in _ORDER else len(_ORDER)
)  # a command missing from _ORDER is listed last, never an import error

__all__ = ["app", "main"]


def main() -> None:  # pragma: no cover - console entry point
    app(sys.argv[1:])
