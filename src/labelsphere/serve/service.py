"""The service behind the routes: the loaded Predictor, its lock and the request checks."""

from __future__ import annotations

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
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from labelsphere.predict import Prediction, Predictor
from labelsphere.serve.parsing import one_sentence, parse_request

__all__ = ["IMAGE_KINDS", "ROW_KINDS", "Service"]

logger = logging.getLogger("labelsphere.serve")

ROW_KINDS = ("features", "frozen-image")
IMAGE_KINDS = ("frozen-image", "image", "pixels")
# Upload suffixes kept on the temporary file (the loader recognises SVG by suffix or content);
# any other name is written without a suffix. The upload's name never becomes a path.
_IMAGE_SUFFIXES = frozenset(
    (".jpg", ".jpeg", ".png", ".gif", ".bmp", ".webp", ".tif", ".tiff", ".ppm", ".svg", ".svgz")
)


class Service:
    """The loaded Predictor, its lock and the request checks shared by the routes.

    Every method raises ``HTTPException`` with a one-sentence detail for a request it refuses.
    """

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
            raise HTTPException(422, one_sentence(str(e))) from None
        skipped = []
        for w in caught:
            if issubclass(w.category, ImageSkippedWarning):
                skipped.append(w)
            else:
                logger.warning("%s: %s", w.category.__name__, w.message)
        return out, skipped

    def predict_json(self, body: bytes) -> dict[str, Any]:
        req = parse_request(body)
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
