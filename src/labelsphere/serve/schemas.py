"""Pydantic models of the HTTP API: what ``POST /predict`` takes and every route returns.

They describe the API in the OpenAPI schema (``/openapi.json``, ``/docs``) and validate the
JSON body of ``/predict``. Numbers are strict: ``"1.5"`` is not a float, ``true`` is not an
int, and NaN / Infinity are refused (Python's ``json`` would accept them).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictFloat,
    StrictInt,
    StrictStr,
    model_validator,
)

__all__ = [
    "CalibratedLabel",
    "ErrorResponse",
    "HealthResponse",
    "LabelScore",
    "LabelsResponse",
    "PredictRequest",
    "PredictResponse",
    "PredictUpload",
    "PredictionOut",
    "SimilarResponse",
]

FiniteFloat = Annotated[StrictFloat, Field(allow_inf_nan=False)]


class PredictRequest(BaseModel):
    """JSON body of ``POST /predict``: feature ``rows`` or raw ``texts`` (exactly one)."""

    model_config = ConfigDict(extra="forbid")

    rows: list[list[FiniteFloat]] | None = Field(
        default=None,
        description="Feature rows (n, F) for a feature or frozen-image model.",
        examples=[[[0.0, 1.0, 0.5]]],
    )
    texts: list[StrictStr] | None = Field(
        default=None, description="Raw texts for a text model.", examples=[["arrow left circle"]]
    )
    k: StrictInt | None = Field(
        default=None, ge=1, description="Labels per input (default: the server's default_k)."
    )
    threshold: FiniteFloat | Literal["calibrated"] | None = Field(
        default=None,
        description=(
            'Keep only labels scoring at least this; "calibrated" also returns each input\'s '
            "calibrated set (models saved with per-label thresholds)."
        ),
    )

    @model_validator(mode="after")
    def _one_input_kind(self) -> PredictRequest:
        if (self.rows is None) == (self.texts is None):
            raise ValueError('give exactly one of "rows" or "texts"')
        return self


class PredictUpload(BaseModel):
    """Multipart body of ``POST /predict`` for an image model (documentation only)."""

    files: list[bytes] = Field(
        description="One or more image files (JPEG, PNG, GIF, BMP, WebP, TIFF, PPM or SVG)."
    )
    k: int | None = Field(default=None, ge=1, description="Labels per image.")
    threshold: float | Literal["calibrated"] | None = Field(
        default=None, description='Minimum score, or "calibrated".'
    )


class LabelScore(BaseModel):
    label: str
    score: float


class CalibratedLabel(BaseModel):
    label: str
    calibrated_score: float = Field(description="The score minus the label's threshold (>= 0).")


class PredictionOut(BaseModel):
    """One input's top labels; ``error`` (and no ``labels``) for an image that failed to decode.

    ``set``: the calibrated set, when ``threshold`` was ``"calibrated"``.
    """

    input: str
    labels: list[LabelScore] | None = None
    error: str | None = None
    set: list[CalibratedLabel] | None = None


class PredictResponse(BaseModel):
    predictions: list[PredictionOut]


class SimilarResponse(BaseModel):
    """Nearest labels by cosine similarity in the model's label space.

    ``basis`` is ``"label-embeddings"`` (the rows of the head's (L, d) label embeddings) or
    ``"output-layer"`` (the rows of the (L, F) output weights of a sigmoid/softmax/ASL head).
    """

    label: str
    basis: Literal["label-embeddings", "output-layer"]
    similar: list[LabelScore]


class HealthResponse(BaseModel):
    status: Literal["ok"]
    kind: Literal["features", "frozen-image", "image", "text"]
    n_labels: int
    model: str


class LabelsResponse(BaseModel):
    total: int
    offset: int
    limit: int
    labels: list[str]


class ErrorResponse(BaseModel):
    """Every 4xx / 5xx answer: one sentence, never a traceback."""

    detail: str
