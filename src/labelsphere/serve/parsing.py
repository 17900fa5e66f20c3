"""Request bodies and form fields to validated values, and errors to one sentence each."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
from pydantic import ValidationError
from starlette.exceptions import HTTPException

from labelsphere.serve.schemas import PredictRequest

__all__ = ["one_sentence", "parse_form_number", "parse_request", "validation_sentence"]


class _NonFiniteConstant(ValueError):
    pass


def _refuse_constant(name: str) -> float:
    raise _NonFiniteConstant(name)


def parse_request(body: bytes) -> PredictRequest:
    """A JSON ``/predict`` body as a validated request; 400 if it is not JSON, 422 if not valid.

    NaN and Infinity (which Python's ``json`` would accept) are refused by name.
    """
    try:
        obj = json.loads(body, parse_constant=_refuse_constant)
    except _NonFiniteConstant as e:
        raise HTTPException(
            422, f"{e} is not a number JSON allows; inputs must be finite numbers."
        ) from None
    except RecursionError:
        raise HTTPException(400, "The JSON body is nested too deeply.") from None
    except json.JSONDecodeError as e:
        raise HTTPException(400, f"The body is not valid JSON ({e}).") from None
    except UnicodeDecodeError:
        raise HTTPException(400, "The body is not UTF-8 (or UTF-16/32) JSON text.") from None
    except ValueError:  # e.g. an integer over Python's 4300-digit conversion limit
        raise HTTPException(400, "The body is not valid JSON (a value is out of range).") from None
    if not isinstance(obj, dict):
        raise HTTPException(422, 'The JSON body must be an object such as {"rows": [[...]]}.')
    try:
        return PredictRequest.model_validate(obj)
    except ValidationError as e:
        raise HTTPException(422, validation_sentence(e.errors())) from None


def parse_form_number(value: str, name: str, kind: type) -> Any:
    """The form field ``name`` as ``kind`` (``int`` or a finite ``float``); 422 otherwise."""
    try:
        x = kind(value)
    except ValueError:
        what = "an integer" if kind is int else "a number or 'calibrated'"
        raise HTTPException(
            422, f"Form field {name!r} must be {what}, got {value[:40]!r}."
        ) from None
    if kind is float and not np.isfinite(x):
        raise HTTPException(
            422, f"Form field {name!r} must be a finite number, got {value[:40]!r}."
        )
    return x


def _location(loc: Sequence[Any]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def validation_sentence(errors: Sequence[dict[str, Any]], what: str = "value") -> str:
    """One sentence from pydantic errors: the first one, located, and how many more."""
    if not errors:
        return "Invalid request."
    first = errors[0]
    msg = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
    where = _location(first.get("loc", ()))
    text = f"Invalid {what} {where}: {msg[:1].lower()}{msg[1:]}" if where else msg
    more = len(errors) - 1
    if more:
        text = text.rstrip(".") + f" (and {more} more error{'s' if more > 1 else ''})"
    return one_sentence(text)


def one_sentence(text: str) -> str:
    """``text`` on one line, capitalised, ending with a full stop."""
    text = " ".join(text.split())
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."
