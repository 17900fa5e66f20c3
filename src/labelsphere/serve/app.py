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

The parts: :mod:`~labelsphere.serve.limits` (body size), :mod:`~labelsphere.serve.parsing`
(bodies and fields to values, errors to sentences), :mod:`~labelsphere.serve.service` (the
Predictor behind a lock, the checks), :mod:`~labelsphere.serve.schemas` (the OpenAPI models).

Concurrency: the model runs in the threadpool (never on the event loop), one prediction at a
time under a ``threading.Lock``: torch modules are not documented as safe to call from several
threads at once, and one request already uses torch's intra-op threads.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

import labelsphere
from labelsphere.predict import Predictor
from labelsphere.serve.limits import (
    DEFAULT_MAX_BATCH,
    DEFAULT_MAX_BODY_BYTES,
    BodyLimitMiddleware,
    error_response,
)
from labelsphere.serve.parsing import one_sentence, parse_form_number, validation_sentence
from labelsphere.serve.schemas import (
    ErrorResponse,
    HealthResponse,
    LabelsResponse,
    PredictRequest,
    PredictResponse,
    PredictUpload,
    SimilarResponse,
)
from labelsphere.serve.service import IMAGE_KINDS, ROW_KINDS, Service

__all__ = ["DEFAULT_MAX_BATCH", "DEFAULT_MAX_BODY_BYTES", "BodyLimitMiddleware", "create_app"]

logger = logging.getLogger("labelsphere.serve")

MAX_LABELS_PAGE = 10_000
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
    prior_adjustment: float = 0.0,
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
        prior_adjustment: tau of ``Predictor``'s post-hoc prior adjustment for a model loaded
            here (a ``Predictor`` given keeps its own).
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
        predictor = Predictor.load(model_dir_or_predictor, prior_adjustment=prior_adjustment)
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
    service = Service(predictor, source, max_batch, default_k, backend)

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
    async def _httperror_response(request: Request, exc: HTTPException) -> JSONResponse:
        return JSONResponse(
            {"detail": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {**e, "loc": tuple(e.get("loc", ()))[1:] or e.get("loc", ())} for e in exc.errors()
        ]
        return error_response(422, validation_sentence(errors, what="parameter"))

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> JSONResponse:
        logger.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return error_response(500, "Internal server error; the server log has the details.")

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
            raise HTTPException(e.status_code, one_sentence(str(e.detail))) from None
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
            k = service.check_k(parse_form_number(fields["k"], "k", int) if "k" in fields else None)
            threshold: float | str | None = None
            if "threshold" in fields:
                value = fields["threshold"].strip()
                threshold = (
                    "calibrated"
                    if value == "calibrated"
                    else parse_form_number(value, "threshold", float)
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
