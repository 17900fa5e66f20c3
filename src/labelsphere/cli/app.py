"""The Typer app, its one error handler, and how commands print tables."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NoReturn

import typer

app = typer.Typer(
    help="Multi-label classification with PMI label embeddings (Chollet, 2016), compared with the sigmoid baseline.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


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


def _fail(message: str) -> NoReturn:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(2)


def _table(rows: list[dict[str, Any]], keys: list[str]) -> str:
    widths = {k: max(len(k), *(len(_fmt(r.get(k))) for r in rows)) for k in keys}
    lines = ["  ".join(k.ljust(widths[k]) for k in keys)]
    lines += ["  ".join(_fmt(r.get(k)).ljust(widths[k]) for k in keys) for r in rows]
    return "\n".join(lines)


def _fmt(v: Any) -> str:
    return f"{v:.4f}" if isinstance(v, float) else str(v)
