"""The HTTP API over a :class:`~labelsphere.predict.Predictor`: FastAPI routes, limits, errors.

Routes (the OpenAPI schema is at ``/openapi.json``, the interactive docs at ``/docs``):

* ``POST /predict``: JSON ``{"rows": [[...], ...], "k": 5, "threshold": null}`` (feature and
  frozen-image models), JSON ``{"texts": ["...", ...]}`` (text models), or a multipart upload
  of image files in the field ``files`` (frozen-image and fine-tuned image models; ``k`` and
  ``threshold`` may be form fields). Returns ``{"predictions": [{"input", "labels"}, ...]}``;
  an image that does not decode gets an ``error`` instead of ``labels``.
* ``GET /labels/{name}/similar?k=10``: the nearest labels by cosine similarity in the model's
  label space: the rows of the head's label embeddings (L, d) when it has them (``embedding``,
  ``embedding-paper``, ``pca``, ``random``, ``hybrid``), else the rows of the output layer's
  weights (L, F) (``sigmoid``, ``softmax``, ``asl``). The answer names the ``basis`` used.
* ``GET /labels?offset=0&limit=100``: the label names in score order, paginated.
* ``GET /health``: status, model kind, number of labels, model directory.

Errors: every bad request is a 4xx with ``{"detail": "<one sentence>"}``: 400 malformed JSON
or multipart, 404 unknown label, 413 body over ``max_body_bytes`` (checked on Content-Length
and again while the body streams in, for clients that send none) or more than ``max_batch``
inputs, 415 a content type other than JSON or multipart, 422 anything the model cannot take
(wrong row width, NaN/Infinity, bad ``k``, texts that are not strings, images for a feature
model, rows for an image model, every image undecodable; the Predictor's ``ValueError``s).
Anything else is logged and answered with a generic 500, without a traceback.

Concurrency: the model runs in the threadpool (never on the event loop), one prediction at a
time under a ``threading.Lock``: torch modules are not documented as safe to call from several
threads at once, and one request already uses torch's intra-op threads.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import threading
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import labelsphere
from labelsphere.predict import Prediction, Predictor
from labelsphere.serve.schemas import (
    ErrorResponse,
    HealthResponse,
    LabelsResponse,
    PredictRequest,
    PredictResponse,
    PredictUpload,
    SimilarResponse,
)

__all__ = ["DEFAULT_MAX_BATCH", "DEFAULT_MAX_BODY_BYTES", "BodyLimitMiddleware", "create_app"]

logger = logging.getLogger("labelsphere.serve")

DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024
DEFAULT_MAX_BATCH = 1024
MAX_LABELS_PAGE = 10_000
ROW_KINDS = ("features", "frozen-image")
IMAGE_KINDS = ("frozen-image", "image", "pixels")
# Upload suffixes kept on the temporary file (the loader recognises SVG by suffix or content);
# any other name is written without a suffix. The upload's name never becomes a path.
_IMAGE_SUFFIXES = frozenset(
    (".jpg", ".jpeg", ".png", ".gif", ".bmp", ".webp", ".tif", ".tiff", ".ppm", ".svg", ".svgz")
)
_FORM_FIELDS = ("files", "k", "threshold")
_ERRORS = {
    status: {"model": ErrorResponse, "description": what}
    for status, what in (
        (400, "Malformed JSON or multipart body"),
        (413, "Body over max_body_bytes, or more than max_batch inputs"),
        (415, "Content type other than application/json or multipart/form-data"),
        (422, "Inputs the model cannot take (the detail says why)"),
    )
}


# ---------------------------------------------------------------------------- body limit
class BodyLimitMiddleware:
    """ASGI middleware refusing request bodies over ``max_bytes`` with a 413.

    A declared Content-Length over the limit is refused before anything is read; a body that
    streams in without one (chunked) or past it is cut off as soon as the running total goes
    over, by raising a 413 ``HTTPException`` from ``receive`` inside the endpoint reading it.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _too_large(self) -> str:
        return f"The request body is over this server's limit of {self.max_bytes} bytes."

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for key, value in scope.get("headers", ()):
            if key == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared < 0:
                    await _error(400, "The Content-Length header is not a byte count.")(
                        scope, receive, send
                    )
                    return
                if declared > self.max_bytes:
                    await _error(413, self._too_large())(scope, receive, send)
                    return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise HTTPException(413, self._too_large())
            return message

        await self.app(scope, limited_receive, send)


def _error(status: int, detail: str) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status)


# ---------------------------------------------------------------------------- the service
class _Service:
    """The loaded Predictor, its lock and the request checks shared by the routes."""

    def __init__(
        self,
        predictor: Predictor,
        source: str,
        max_batch: int,
        default_k: int,
        backend: str | None = None,
    ) -> None:
        self.predictor = predictor
        self.source = source
        self.max_batch = max_batch
        self.default_k = default_k
        self.backend = backend
        self.lock = threading.Lock()
        self._space: tuple[str, torch.Tensor] | None = None
        self._space_lock = threading.Lock()

    @property
    def kind(self) -> str:
        return self.predictor.kind

    @property
    def n_labels(self) -> int:
        return self.predictor.n_labels

    # ------------------------------------------------------------------ checks
    def check_k(self, k: int | None) -> int:
        if k is None:
            return min(self.default_k, self.n_labels)
        if not 1 <= k <= self.n_labels:
            raise HTTPException(422, f"k must be between 1 and {self.n_labels}, got {k}.")
        return k

    def check_count(self, n: int, what: str) -> None:
        if n == 0:
            raise HTTPException(422, f"No inputs: {what} is empty.")
        if n > self.max_batch:
            raise HTTPException(
                413, f"{n} inputs in one request; this server takes at most {self.max_batch}."
            )

    def wrong_input(self, given: str) -> HTTPException:
        takes = {
            "features": 'feature rows (JSON {"rows": [[...], ...]})',
            "text": 'texts (JSON {"texts": ["...", ...]})',
            "image": "image files (multipart/form-data, field 'files')",
            "pixels": "image files (multipart/form-data, field 'files')",
            "frozen-image": "image files (multipart/form-data, field 'files') or feature rows "
            '(JSON {"rows": [[...], ...]})',
        }[self.kind]
        return HTTPException(422, f"This {self.kind} model takes {takes}, not {given}.")

    # ------------------------------------------------------------------ prediction
    def predict(
        self,
        inputs: Any,
        k: int,
        threshold: float | str | None,
        names: Sequence[str] | None = None,
        texts: bool = False,
    ) -> tuple[list[Prediction], list[warnings.WarningMessage]]:
        """``Predictor.predict`` (or ``predict_texts``) under the lock; ``ValueError`` -> 422.

        Also returns the ``ImageSkippedWarning``s raised meanwhile (why an image was skipped);
        other warnings are logged.
        """
        from labelsphere.images.dataset import ImageSkippedWarning

        try:
            # catch_warnings swaps process-wide state; inside the lock no two requests do it at
            # once (a warning from another thread meanwhile lands here, and is logged below).
            with self.lock, warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                # The ranking backend applies to top-k lists of feature rows and texts; image
                # files and calibrated sets score every label (Predictor.predict's rules).
                backend = (
                    None if threshold is not None or isinstance(inputs, list) else self.backend
                )
                if texts:
                    backend = None if threshold is not None else self.backend
                    out = self.predictor.predict_texts(inputs, k, threshold, backend)
                else:
                    out = self.predictor.predict(inputs, k, threshold, names=names, backend=backend)
        except ValueError as e:
            raise HTTPException(422, _sentence(str(e))) from None
        skipped = []
        for w in caught:
            if issubclass(w.category, ImageSkippedWarning):
                skipped.append(w)
            else:
                logger.warning("%s: %s", w.category.__name__, w.message)
        return out, skipped

    def predict_json(self, body: bytes) -> dict[str, Any]:
        req = _parse_request(body)
        k, threshold = self.check_k(req.k), req.threshold
        if req.texts is not None:
            if self.kind != "text":
                raise self.wrong_input("texts")
            self.check_count(len(req.texts), '"texts"')
            preds, _ = self.predict(req.texts, k, threshold, texts=True)
        else:
            rows = req.rows
            if self.kind not in ROW_KINDS:
                raise self.wrong_input("feature rows")
            self.check_count(len(rows), '"rows"')
            width = self.predictor.in_features
            for i, row in enumerate(rows):
                if len(row) != width:
                    raise HTTPException(
                        422,
                        f"Row {i} has {len(row)} value{'s' if len(row) != 1 else ''}; "
                        f"the model expects {width}.",
                    )
            with np.errstate(over="ignore"):
                X = np.asarray(rows, dtype=np.float32)
            if not np.isfinite(X).all():
                raise HTTPException(
                    422, "Feature rows must be finite float32 numbers (a value overflows)."
                )
            preds, _ = self.predict(X, k, threshold)
        return {"predictions": [p.to_json() for p in preds]}

    def predict_uploads(
        self, uploads: list[UploadFile], k: int, threshold: float | str | None
    ) -> dict[str, Any]:
        """Write each upload to a private temporary directory and predict from the files."""
        names = [u.filename or f"file {i}" for i, u in enumerate(uploads)]
        with tempfile.TemporaryDirectory(prefix="labelsphere-serve-") as tmp:  # mode 0700
            paths = []
            for i, upload in enumerate(uploads):
                suffix = Path(upload.filename or "").suffix.lower()
                path = Path(tmp) / f"{i:06d}{suffix if suffix in _IMAGE_SUFFIXES else ''}"
                upload.file.seek(0)
                with path.open("wb") as out:
                    shutil.copyfileobj(upload.file, out)
                paths.append(str(path))
            preds, skipped = self.predict(paths, k, threshold, names=names)
        # Why each failed image was skipped: the ImageSkippedWarning naming its temporary path
        # (by position, so two uploads with the same name stay apart).
        reasons: dict[int, str] = {}
        for w in skipped:
            text = str(w.message)
            for i, (path, name) in enumerate(zip(paths, names, strict=True)):
                if text.startswith(f"skipped image {path}: "):
                    reasons[i] = text[len(f"skipped image {path}: ") :].replace(path, name)
        failed = []
        for i, p in enumerate(preds):
            if p.error is not None:
                p.error = f"could not use the image: {reasons.get(i, 'it does not decode')}"
                failed.append(p)
        if failed and len(failed) == len(preds):
            first = failed[0]
            raise HTTPException(
                422,
                f"None of the {len(preds)} images could be used ({first.input}: {first.error}).",
            )
        return {"predictions": [p.to_json() for p in preds]}

    # ------------------------------------------------------------------ label space
    def similar(self, name: str, k: int) -> dict[str, Any]:
        if name not in self.predictor.vocabulary:
            raise HTTPException(
                404, f"Unknown label {name!r}: the model has no label of that name."
            )
        if not 1 <= k <= self.n_labels - 1:
            raise HTTPException(
                422, f"k must be between 1 and {self.n_labels - 1} (the other labels), got {k}."
            )
        near = self.predictor.similar(name, k)  # cosine of Predictor.label_vectors()
        basis = {"label embedding": "label-embeddings"}.get(
            self.predictor.label_vectors_kind, "output-layer"
        )
        similar = [{"label": n, "score": s} for n, s in near]
        return {"label": name, "basis": basis, "similar": similar}


# ---------------------------------------------------------------------------- parsing
class _NonFiniteConstant(ValueError):
    pass


def _refuse_constant(name: str) -> float:
    raise _NonFiniteConstant(name)


def _parse_request(body: bytes) -> PredictRequest:
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
        raise HTTPException(422, _validation_sentence(e.errors())) from None


def _parse_form_number(value: str, name: str, kind: type) -> Any:
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


def _validation_sentence(errors: Sequence[dict[str, Any]], what: str = "value") -> str:
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
    return _sentence(text)


def _sentence(text: str) -> str:
    """``text`` on one line, capitalised, ending with a full stop."""
    text = " ".join(text.split())
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


# ---------------------------------------------------------------------------- the app
def _probe_input(predictor: Predictor) -> Any:
    """One input of the kind the model ranks with a backend (a zero row, or an empty text)."""
    if predictor.kind == "text":
        return [""]
    return np.zeros((1, predictor.in_features), np.float32)


def create_app(
    model_dir_or_predictor: str | Path | Predictor,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    max_batch: int = DEFAULT_MAX_BATCH,
    default_k: int = 5,
    backend: str | None = None,
) -> FastAPI:
    """A FastAPI app serving one model, loaded once here (or the ``Predictor`` given).

    Args:
        model_dir_or_predictor: a model directory written by ``train`` (``RUN/model``), or a
            loaded ``Predictor``.
        max_body_bytes: largest request body (413 above).
        max_batch: most inputs (rows, texts or image files) in one request (413 above).
        default_k: labels per input when the request gives no ``k`` (capped at the number of
            labels).
        backend: rank top-k lists of feature rows and texts through a ``LabelIndex``
            (``"exact"``, ``"faiss-flat"``, ``"faiss-hnsw"``, ``"faiss-ivf"``; see
            ``Predictor.topk``), built once at start-up; ``None``: score every label with the
            head. Calibrated sets and image files always score every label.
    """
    for name, value in (
        ("max_body_bytes", max_body_bytes),
        ("max_batch", max_batch),
        ("default_k", default_k),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if isinstance(model_dir_or_predictor, Predictor):
        predictor = model_dir_or_predictor
        source = str(predictor.source) if predictor.source is not None else "<in memory>"
    else:
        predictor = Predictor.load(model_dir_or_predictor)
        source = str(model_dir_or_predictor)
    if backend is not None:
        from labelsphere.decode import BACKENDS

        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {sorted(BACKENDS)} or None, got {backend!r}")
        if predictor.kind not in (*ROW_KINDS, "text"):
            raise ValueError(
                f"backend= ranks feature rows and texts; this is a {predictor.kind} model"
            )
        predictor.topk(_probe_input(predictor), 1, backend)  # build the index now, fail early
    service = _Service(predictor, source, max_batch, default_k, backend)

    app = FastAPI(
        title="labelsphere",
        version=labelsphere.__version__,
        description=(
            f"Multi-label predictions from a {predictor.kind} model with "
            f"{predictor.n_labels} labels ({source})."
        ),
    )
    app.state.service = service
    app.state.predictor = predictor
    app.add_middleware(BodyLimitMiddleware, max_bytes=max_body_bytes)

    # ------------------------------------------------------------------ errors
    @app.exception_handler(HTTPException)
    async def _http_error(request: Request, exc: HTTPException) -> JSONResponse:
        return JSONResponse(
            {"detail": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {**e, "loc": tuple(e.get("loc", ()))[1:] or e.get("loc", ())} for e in exc.errors()
        ]
        return _error(422, _validation_sentence(errors, what="parameter"))

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> JSONResponse:
        logger.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return _error(500, "Internal server error; the server log has the details.")

    # ------------------------------------------------------------------ routes
    @app.get("/health", response_model=HealthResponse)
    def health() -> dict[str, Any]:
        """Liveness, and what model is loaded."""
        return {"status": "ok", "kind": service.kind, "n_labels": service.n_labels, "model": source}

    @app.get("/labels", response_model=LabelsResponse, responses={422: _ERRORS[422]})
    def labels(
        offset: int = Query(0, ge=0, description="First label index."),
        limit: int = Query(100, ge=1, le=MAX_LABELS_PAGE, description="Labels per page."),
    ) -> dict[str, Any]:
        """The label names in score order, paginated."""
        names = predictor.vocabulary.names
        return {
            "total": len(names),
            "offset": offset,
            "limit": limit,
            "labels": list(names[offset : offset + limit]),
        }

    @app.get(
        "/labels/{name:path}/similar",
        response_model=SimilarResponse,
        responses={
            404: {"model": ErrorResponse, "description": "Unknown label"},
            422: _ERRORS[422],
        },
    )
    def similar(name: str, k: int = Query(10, description="How many labels.")) -> dict[str, Any]:
        """The k labels nearest ``name`` by cosine similarity in the model's label space.

        The label embeddings (L, d) for heads that have them (embedding, embedding-paper, pca,
        random, hybrid); the output layer's rows (L, F) for sigmoid, softmax and ASL heads.
        ``basis`` in the answer says which.
        """
        return service.similar(name, k)

    @app.post(
        "/predict",
        response_model=PredictResponse,
        response_model_exclude_none=True,
        responses=_ERRORS,
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/PredictRequest"}},
                    "multipart/form-data": {
                        "schema": {"$ref": "#/components/schemas/PredictUpload"}
                    },
                },
            }
        },
    )
    async def predict(request: Request) -> Any:
        """Top-k labels for feature rows, texts (JSON) or image files (multipart)."""
        ctype = request.headers.get("content-type", "")
        media = ctype.split(";", 1)[0].strip().lower()
        if media == "application/json":
            body = await request.body()
            return await run_in_threadpool(service.predict_json, body)
        if media == "multipart/form-data":
            if service.kind not in IMAGE_KINDS:
                raise service.wrong_input("image files")
            return await _predict_form(request)
        raise HTTPException(
            415,
            f"Unsupported content type {ctype or '(none)'!r}: send application/json "
            "(rows or texts) or multipart/form-data (image files in the field 'files').",
        )

    async def _predict_form(request: Request) -> Any:
        try:
            form = await request.form(
                max_files=max_batch + 1, max_fields=len(_FORM_FIELDS), max_part_size=64 * 1024
            )
        except HTTPException as e:
            if e.status_code == 400 and str(e.detail).startswith("Too many files"):
                raise HTTPException(
                    413,
                    f"Over {max_batch} files in one request; this server takes at most {max_batch}.",
                ) from None
            raise HTTPException(e.status_code, _sentence(str(e.detail))) from None
        try:
            uploads: list[UploadFile] = []
            fields: dict[str, str] = {}
            for key, value in form.multi_items():
                if key not in _FORM_FIELDS:
                    raise HTTPException(
                        422,
                        f"Unexpected form field {key!r}; the fields are files, k and threshold.",
                    )
                if key == "files":
                    if not isinstance(value, UploadFile):
                        raise HTTPException(422, "The form field 'files' must hold file uploads.")
                    uploads.append(value)
                elif isinstance(value, UploadFile):
                    raise HTTPException(422, f"The form field {key!r} must be a value, not a file.")
                else:
                    fields[key] = value
            if not uploads:
                raise HTTPException(422, "No image files: upload them in the form field 'files'.")
            service.check_count(len(uploads), "files")
            k = service.check_k(
                _parse_form_number(fields["k"], "k", int) if "k" in fields else None
            )
            threshold: float | str | None = None
            if "threshold" in fields:
                value = fields["threshold"].strip()
                threshold = (
                    "calibrated"
                    if value == "calibrated"
                    else _parse_form_number(value, "threshold", float)
                )
            return await run_in_threadpool(service.predict_uploads, uploads, k, threshold)
        finally:
            await form.close()

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            for model in (PredictRequest, PredictUpload):
                s = model.model_json_schema(ref_template="#/components/schemas/{model}")
                for name, d in s.pop("$defs", {}).items():
                    components.setdefault(name, d)
                components[model.__name__] = s
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
