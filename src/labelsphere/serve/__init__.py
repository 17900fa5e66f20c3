"""``labelsphere serve MODEL_DIR``: a saved model behind an HTTP API (FastAPI on uvicorn).

:func:`create_app` loads the model once into a :class:`~labelsphere.predict.Predictor` and
returns the FastAPI app (routes, limits and errors are described in
:mod:`labelsphere.serve.app`); :func:`serve` runs it with uvicorn, on 127.0.0.1 unless told
otherwise (:func:`make_server` builds that server without running it).

Examples:
    >>> from labelsphere.serve import create_app
    >>> app = create_app("runs/bib/model")  # doctest: +SKIP
    >>> serve("runs/bib/model", port=8000)  # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from labelsphere.serve.app import DEFAULT_MAX_BATCH, DEFAULT_MAX_BODY_BYTES, create_app

if TYPE_CHECKING:
    import uvicorn

__all__ = ["DEFAULT_MAX_BATCH", "DEFAULT_MAX_BODY_BYTES", "create_app", "make_server", "serve"]


def serve(
    model_dir: str | Path,
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    log_level: str = "info",
    **app_options: Any,
) -> None:
    """Serve the model in ``model_dir`` over HTTP until interrupted (Ctrl-C / SIGTERM).

    Args:
        model_dir: a model directory written by ``train`` (``RUN/model``).
        host: the address to bind; the default, 127.0.0.1, is reachable from this machine
            only. Bind another address only behind something that authenticates clients.
        port: the TCP port (0: any free port).
        log_level: uvicorn's log level.
        app_options: :func:`create_app`'s ``max_body_bytes``, ``max_batch``, ``default_k``,
            ``backend``, ``prior_adjustment``.
    """
    make_server(model_dir, host, port, log_level=log_level, **app_options).run()


def make_server(
    model_dir: str | Path,
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    log_level: str = "info",
    **app_options: Any,
) -> uvicorn.Server:
    """The ``uvicorn.Server`` that :func:`serve` runs, the model already loaded.

    ``server.run()`` blocks until ``server.should_exit`` is set (or a signal in the main
    thread); once ``server.started``, ``server.servers[0].sockets`` has the bound address.
    """
    import uvicorn

    app = create_app(model_dir, **app_options)  # the model loads before the port opens
    return uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level=log_level))
