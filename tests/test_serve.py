"""`labelsphere serve`: the HTTP API over real models trained here on real data.

Four tiny models, trained once for the module: an embedding head and a sigmoid head on bibtex
feature rows, a text model on tabler-icons names -> tags, and two image models on 40 coco128
photos (a frozen and a fine-tuned ``mobilenetv3_small_050`` with seeded random weights: what
is tested is the serving, not the accuracy). Requests go through FastAPI's in-process
``TestClient`` (which re-raises any server error, so a bad input that reached the catch-all
500 handler fails its test); one test runs the real uvicorn server on 127.0.0.1.
"""

from __future__ import annotations

import json
import struct
import threading
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote

import httpx
import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient

from labelsphere.data import load_dataset, train_val_test, write_items
from labelsphere.predict import Predictor
from labelsphere.serve import create_app, make_server
from labelsphere.train.inputs import ImageOptions
from labelsphere.train.recipe import train_dataset

pytestmark = pytest.mark.usefixtures("one_torch_thread")

JSON = {"content-type": "application/json"}
GENERIC_500 = "Internal server error; the server log has the details."


# ---------------------------------------------------------------------------- models
@pytest.fixture(scope="module")
def models(tmp_path_factory, data_dir):
    """Model directories: bibtex (embedding, sigmoid), tabler text, coco128 frozen/fine-tuned."""
    torch.set_num_threads(1)
    tmp = tmp_path_factory.mktemp("serve")
    out = {}
    tiny = dict(epochs=1, hidden=(32,), data_dir=data_dir, progress=False)
    train_dataset("bibtex", tmp / "bib", n_components=16, **tiny)
    train_dataset("bibtex", tmp / "bib-sigmoid", head="sigmoid", **tiny)
    out["features"], out["sigmoid"] = tmp / "bib" / "model", tmp / "bib-sigmoid" / "model"

    icons = load_dataset("tabler-icons", split="train", data_dir=data_dir)
    texts = [
        f"{name.replace('-', ' ')} {category}"
        for name, category in zip(icons.ids, icons.info["categories"], strict=True)
    ]
    write_items(tmp / "icons.csv", texts, icons.labels(), text=True)
    train_dataset(str(tmp / "icons.csv"), tmp / "text", n_components=16, **tiny)
    out["text"] = tmp / "text" / "model"

    coco = load_dataset("coco128", data_dir=data_dir).subset(np.arange(40))
    write_items(tmp / "coco.csv", coco.X, coco.labels())
    small = dict(backbone="mobilenetv3_small_050", weights=None)
    # The items file names the photos by absolute path: allowed explicitly.
    outside = {"allow_outside": True}
    train_dataset(
        str(tmp / "coco.csv"),
        tmp / "frozen",
        images=ImageOptions(**small, cache_dir=tmp / "cache"),
        dataset_options=outside,
        epochs=1,
        hidden=(),
        n_components=8,
        progress=False,
    )
    train_dataset(
        str(tmp / "coco.csv"),
        tmp / "finetune",
        images=ImageOptions(**small, frozen=False),
        dataset_options=outside,
        epochs=1,
        hidden=(),
        n_components=8,
        batch_size=16,
        progress=False,
    )
    out["frozen-image"], out["image"] = tmp / "frozen" / "model", tmp / "finetune" / "model"
    out["photos"] = [Path(p) for p in coco.X[:3]]
    out["tmp"] = tmp
    return out


@pytest.fixture(scope="module")
def predictors(models):
    return {
        kind: Predictor.load(models[kind])
        for kind in ("features", "sigmoid", "text", "frozen-image", "image")
    }


@pytest.fixture(scope="module")
def clients(predictors):
    """One app per model, all built from the loaded predictors (create_app also takes a dir)."""
    return {kind: TestClient(create_app(p)) for kind, p in predictors.items()}


@pytest.fixture(scope="module")
def rows(data_dir):
    """Eight bibtex test rows, dense float32."""
    return train_val_test("bibtex", data_dir)[2].X[:8].toarray().astype(np.float32)


def _direct(predictions) -> list[dict]:
    return [p.to_json() for p in predictions]


def _upload(name: str, data: bytes) -> tuple[str, tuple[str, bytes, str]]:
    return ("files", (name, data, "application/octet-stream"))


def _png_bomb(side: int = 30_000) -> bytes:
    """A valid PNG header declaring side x side pixels (900M), with a tiny body."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


_XXE_SVG = (
    b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><text>&x;</text></svg>'
)


# ---------------------------------------------------------------------------- routes
def test_health_labels_and_openapi(clients, predictors, models):
    c, p = clients["features"], predictors["features"]
    assert c.get("/health").json() == {
        "status": "ok",
        "kind": "features",
        "n_labels": p.n_labels,
        "model": str(models["features"]),
    }
    assert c.get("/health").json()["model"] == str(p.source)
    for kind in ("text", "frozen-image", "image"):
        assert clients[kind].get("/health").json()["kind"] == kind

    page = c.get("/labels", params={"offset": 150, "limit": 20}).json()
    assert page == {
        "total": p.n_labels,
        "offset": 150,
        "limit": 20,
        "labels": p.vocabulary.names[150:170],
    }
    assert c.get("/labels").json()["labels"] == p.vocabulary.names[:100]
    for params, field in (
        ({"limit": 0}, "limit"),
        ({"offset": -1}, "offset"),
        ({"limit": "x"}, "limit"),
    ):
        r = c.get("/labels", params=params)
        assert r.status_code == 422 and f"Invalid parameter {field}:" in r.json()["detail"]

    schema = c.get("/openapi.json").json()
    assert {"/predict", "/health", "/labels", "/labels/{name}/similar"} <= set(schema["paths"])
    body = schema["paths"]["/predict"]["post"]["requestBody"]["content"]
    assert set(body) == {"application/json", "multipart/form-data"}
    comps = schema["components"]["schemas"]
    assert {"PredictRequest", "PredictUpload", "PredictResponse", "ErrorResponse"} <= set(comps)
    assert {"rows", "texts", "k", "threshold"} <= set(comps["PredictRequest"]["properties"])
    responses = schema["paths"]["/predict"]["post"]["responses"]
    assert {"200", "400", "413", "415", "422"} <= set(responses)
    docs = c.get("/docs")
    assert docs.status_code == 200 and "openapi.json" in docs.text


def test_predict_rows_through_http_equals_the_predictor(clients, predictors, rows):
    c, p = clients["features"], predictors["features"]
    r = c.post("/predict", json={"rows": rows.tolist()})
    assert r.status_code == 200
    assert r.json() == {"predictions": _direct(p.predict(rows, 5))}
    assert [len(x["labels"]) for x in r.json()["predictions"]] == [5] * len(rows)
    r = c.post("/predict", json={"rows": rows[:3].tolist(), "k": 12, "threshold": 0.0})
    assert r.json() == {"predictions": _direct(p.predict(rows[:3], 12, 0.0))}
    # A model with calibrated thresholds returns each input's calibrated set.
    if p.thresholds is not None:
        r = c.post("/predict", json={"rows": rows[:2].tolist(), "threshold": "calibrated"})
        assert r.status_code == 200
        assert r.json() == {"predictions": _direct(p.predict(rows[:2], 5, "calibrated"))}
    # ints are numbers too; the frozen-image model also takes feature rows.
    assert c.post("/predict", json={"rows": [[0] * rows.shape[1]], "k": 1}).status_code == 200
    fr = predictors["frozen-image"]
    X = np.random.default_rng(0).standard_normal((2, fr.in_features)).astype(np.float32)
    r = clients["frozen-image"].post("/predict", json={"rows": X.tolist(), "k": 3})
    assert r.json() == {"predictions": _direct(fr.predict(X, 3))}


def test_predict_texts(clients, predictors):
    c, p = clients["text"], predictors["text"]
    texts = ["arrow left circle Arrows", "brand github Brand", ""]
    r = c.post("/predict", json={"texts": texts, "k": 4})
    assert r.status_code == 200
    assert r.json() == {"predictions": _direct(p.predict_texts(texts, 4))}
    assert [x["input"] for x in r.json()["predictions"]] == ["0", "1", "2"]


@pytest.mark.parametrize("kind", ["frozen-image", "image"])
def test_predict_image_uploads(clients, predictors, models, tmp_path, kind):
    c, p = clients[kind], predictors[kind]
    photos = models["photos"]
    files = [_upload(f"photo{i}{ph.suffix}", ph.read_bytes()) for i, ph in enumerate(photos)]
    r = c.post("/predict", files=files, data={"k": "3"})
    assert r.status_code == 200, r.text
    got = r.json()["predictions"]
    want = _direct(p.predict(photos, 3))
    assert [x["input"] for x in got] == [f"photo{i}.jpg" for i in range(3)]
    for g, w in zip(got, want, strict=True):
        assert [x["label"] for x in g["labels"]] == [x["label"] for x in w["labels"]]
        assert [x["score"] for x in g["labels"]] == pytest.approx(
            [x["score"] for x in w["labels"]], abs=1e-5
        )

    # Broken, bomb and unsafe SVG: each item gets an error naming the reason; the good one
    # still gets its labels.
    truncated = photos[0].read_bytes()[:300]
    files = [
        _upload("same.jpg", truncated),
        _upload("bomb.png", _png_bomb()),
        _upload("xxe.svg", _XXE_SVG),
        _upload("same.jpg", photos[1].read_bytes()),
    ]
    r = c.post("/predict", files=files)
    assert r.status_code == 200, r.text
    broken, bomb, xxe, ok = r.json()["predictions"]
    for item, name in ((broken, "same.jpg"), (bomb, "bomb.png"), (xxe, "xxe.svg")):
        assert item["input"] == name and "labels" not in item
        assert item["error"].startswith("could not use the image: ")
        assert "labelsphere-serve-" not in item["error"]  # no server paths
    assert "decode" in broken["error"] and ("pixels" in bomb["error"] or "bomb" in bomb["error"])
    assert "entit" in xxe["error"].lower() or "DTD" in xxe["error"] or "DOCTYPE" in xxe["error"]
    assert ok["input"] == "same.jpg" and len(ok["labels"]) == 5 and "error" not in ok

    # Every image failing is a 422 naming one.
    r = c.post("/predict", files=[_upload("a.jpg", truncated), _upload("b.png", b"not an image")])
    assert r.status_code == 422
    assert r.json()["detail"].startswith("None of the 2 images could be used (a.jpg: ")


# ---------------------------------------------------------------------------- bad requests
def _bad_json(n_labels: int) -> list[tuple[bytes | dict, int, str]]:
    """(JSON body or raw bytes, status, part of the detail) for a bibtex feature model."""
    row = [0.0] * 1836
    return [
        (b'{"rows": [[1, 2', 400, "not valid JSON"),
        (b"[" * 100_000, 400, "nested too deeply"),
        (b"\xff\xfe\x00\xd8", 400, "not"),
        (b'{"rows": [[' + b"1" * 5000 + b"]]}", 400, "out of range"),
        (b"[1, 2]", 422, "must be an object"),
        ({"rows": [[1.0, 2.0, 3.0]]}, 422, "Row 0 has 3 values; the model expects 1836"),
        ({"rows": [row, row[:-1]]}, 422, "Row 1 has 1835 values; the model expects 1836"),
        ({"rows": []}, 422, "No inputs"),
        ({"rows": [1.0, 2.0]}, 422, "rows[0]: input should be a valid list"),
        ({"rows": [["1.5", *row[1:]]]}, 422, "rows[0][0]: input should be a valid number"),
        ({"rows": [[True, *row[1:]]]}, 422, "rows[0][0]"),
        (b'{"rows": [[NaN]]}', 422, "NaN is not a number JSON allows"),
        (b'{"rows": [[Infinity]]}', 422, "Infinity is not a number"),
        (b'{"rows": [[-Infinity]]}', 422, "-Infinity is not a number"),
        (b'{"rows": [[1e999]]}', 422, "rows[0][0]: input should be a finite number"),
        ({"rows": [[1e39, *row[1:]]]}, 422, "finite float32"),
        ({"rows": [row], "k": 0}, 422, "k: input should be greater than or equal to 1"),
        (
            {"rows": [row], "k": n_labels + 1},
            422,
            f"k must be between 1 and {n_labels}, got {n_labels + 1}",
        ),
        ({"rows": [row], "k": "5"}, 422, "k: input should be a valid integer"),
        ({"rows": [row], "k": True}, 422, "k: input should be a valid integer"),
        ({"rows": [row], "k": 1.5}, 422, "k: input should be a valid integer"),
        ({"rows": [row], "threshold": "high"}, 422, "threshold"),
        (b'{"rows": [[0]], "threshold": NaN}', 422, "NaN"),
        ({"rows": [row], "texts": ["a"]}, 422, 'Give exactly one of "rows" or "texts"'),
        ({}, 422, 'Give exactly one of "rows" or "texts"'),
        ({"rows": [row], "extra": 1}, 422, "extra: extra inputs are not permitted"),
        ({"texts": ["a b"]}, 422, "This features model takes feature rows"),
    ]


def test_bad_json_requests_get_a_4xx_and_one_sentence(clients, predictors):
    c, n = clients["features"], predictors["features"].n_labels
    for body, status, detail in _bad_json(n):
        if isinstance(body, dict):
            r = c.post("/predict", json=body)
        else:
            r = c.post("/predict", content=body, headers=JSON)
        assert r.status_code == status, (body if isinstance(body, dict) else body[:40], r.text)
        got = r.json()["detail"]
        assert isinstance(got, str) and detail in got, (detail, got)
        assert "\n" not in got and "Traceback" not in got


def test_bad_requests_by_content_type_size_and_model_kind(clients, predictors, rows):
    c = clients["features"]
    for headers in (
        {"content-type": "text/plain"},
        {},
        {"content-type": "application/x-www-form-urlencoded"},
    ):
        r = c.post("/predict", content=b"rows=1", headers=headers)
        assert r.status_code == 415 and "Unsupported content type" in r.json()["detail"]
    r = c.post("/predict", files=[_upload("a.jpg", b"x")])
    assert r.status_code == 422
    assert (
        r.json()["detail"].startswith("This features model takes feature rows")
        and "not image files" in r.json()["detail"]
    )
    r = clients["text"].post("/predict", files=[_upload("a.jpg", b"x")])
    assert r.status_code == 422 and "This text model takes texts" in r.json()["detail"]

    # Text model: texts must be strings; rows are refused.
    t = clients["text"]
    r = t.post("/predict", json={"texts": ["a", 3]})
    assert r.status_code == 422 and "texts[1]: input should be a valid string" in r.json()["detail"]
    r = t.post("/predict", json={"texts": "arrow"})
    assert r.status_code == 422 and "texts: input should be a valid list" in r.json()["detail"]
    r = t.post("/predict", json={"rows": [[0.0]]})
    assert r.status_code == 422 and "not feature rows" in r.json()["detail"]

    # Image-only (fine-tuned) model: rows and texts refused; frozen-image refuses texts.
    r = clients["image"].post("/predict", json={"rows": [[0.0, 1.0]]})
    assert r.status_code == 422
    assert r.json()["detail"] == (
        "This image model takes image files (multipart/form-data, field 'files'), not feature rows."
    )
    r = clients["frozen-image"].post("/predict", json={"texts": ["a"]})
    assert r.status_code == 422 and "not texts" in r.json()["detail"]

    # Limits: a small app on the same predictor.
    small = TestClient(create_app(predictors["features"], max_body_bytes=20_000, max_batch=2))
    body = json.dumps({"rows": rows[:2].tolist()}).encode()
    assert (
        len(body) < 20_000 and small.post("/predict", content=body, headers=JSON).status_code == 200
    )
    r = small.post("/predict", json={"rows": [[0] * 1836] * 3})
    assert r.status_code == 413
    assert r.json()["detail"] == "3 inputs in one request; this server takes at most 2."
    big = json.dumps({"rows": rows[:4].tolist()}).encode()
    assert len(big) > 20_000
    r = small.post("/predict", content=big, headers=JSON)
    assert r.status_code == 413
    assert r.json()["detail"] == "The request body is over this server's limit of 20000 bytes."
    # No Content-Length (chunked): cut off while reading.
    chunks = (big[i : i + 4096] for i in range(0, len(big), 4096))
    r = small.post("/predict", content=chunks, headers=JSON)
    assert r.status_code == 413 and "limit of 20000 bytes" in r.json()["detail"]

    # k on a tiny-vocabulary model: over n_labels is refused, the default is capped.
    # (bibtex has 159 labels; the default k of an app may be larger.)
    wide = TestClient(create_app(predictors["features"], default_k=500))
    r = wide.post("/predict", json={"rows": rows[:1].tolist()})
    assert len(r.json()["predictions"][0]["labels"]) == predictors["features"].n_labels


def test_bad_multipart_requests(clients, models):
    c = clients["frozen-image"]
    photo = models["photos"][0].read_bytes()
    one = [_upload("a.jpg", photo)]
    cases = [
        (one, {"k": "abc"}, "Form field 'k' must be an integer"),
        (one, {"k": "0"}, "k must be between 1 and"),
        (one, {"threshold": "nan"}, "Form field 'threshold' must be a finite number"),
        (one, {"colour": "red"}, "Unexpected form field 'colour'"),
        (one, {"files": "x"}, "The form field 'files' must hold file uploads"),
        ([("k", ("k.txt", b"3", "text/plain"))], {}, "The form field 'k' must be a value"),
    ]
    for files, data, detail in cases:
        r = c.post("/predict", files=files, data=data)
        assert r.status_code == 422, (detail, r.text)
        assert detail in r.json()["detail"], (detail, r.json())
    # A multipart body with fields only.
    fields_only = b'--xyz\r\nContent-Disposition: form-data; name="k"\r\n\r\n3\r\n--xyz--\r\n'
    r = c.post(
        "/predict",
        content=fields_only,
        headers={"content-type": "multipart/form-data; boundary=xyz"},
    )
    assert r.status_code == 422 and r.json()["detail"].startswith("No image files")
    # Malformed multipart (no boundary): a 400.
    r = c.post("/predict", content=b"garbage", headers={"content-type": "multipart/form-data"})
    assert r.status_code == 400 and r.json()["detail"].endswith(".")
    few = TestClient(create_app(c.app.state.predictor, max_batch=2))
    for n in (3, 5):
        r = few.post("/predict", files=[_upload(f"{i}.jpg", photo) for i in range(n)])
        assert r.status_code == 413 and "at most 2" in r.json()["detail"], r.text


# ---------------------------------------------------------------------------- similar labels
@pytest.mark.parametrize(
    ("kind", "basis"), [("features", "label-embeddings"), ("sigmoid", "output-layer")]
)
def test_similar_labels(clients, predictors, kind, basis):
    c, p = clients[kind], predictors[kind]
    head = p.model.head
    M = (head.embeddings if basis == "label-embeddings" else head.linear.weight).detach().float()
    M = torch.nn.functional.normalize(M, dim=1)
    name = p.vocabulary.names[3]
    r = c.get(f"/labels/{quote(name, safe='')}/similar", params={"k": 7})
    assert r.status_code == 200
    got = r.json()
    assert got["label"] == name and got["basis"] == basis and len(got["similar"]) == 7
    sims = (M @ M[3]).numpy()
    sims[3] = -np.inf
    want = np.argsort(-sims, kind="stable")[:7]
    assert [x["label"] for x in got["similar"]] == [p.vocabulary.names[j] for j in want]
    assert [x["score"] for x in got["similar"]] == pytest.approx(sims[want], abs=1e-5)
    assert len(c.get(f"/labels/{name}/similar").json()["similar"]) == 10  # default k

    r = c.get("/labels/no-such-label/similar")
    assert r.status_code == 404
    assert (
        r.json()["detail"] == "Unknown label 'no-such-label': the model has no label of that name."
    )
    for k in (0, p.n_labels):
        r = c.get(f"/labels/{name}/similar", params={"k": k})
        assert (
            r.status_code == 422
            and f"k must be between 1 and {p.n_labels - 1}" in r.json()["detail"]
        )
    r = c.get(f"/labels/{name}/similar", params={"k": "ten"})
    assert r.status_code == 422 and r.json()["detail"].startswith("Invalid parameter k:")


def test_similar_labels_with_slashes_and_spaces_in_names(clients, predictors):
    c, p = clients["text"], predictors["text"]
    name = p.vocabulary.names[0]
    r = c.get(f"/labels/{quote(name + '/x y', safe='')}/similar")
    assert r.status_code == 404 and (name + "/x y") in r.json()["detail"]
    assert c.get(f"/labels/{quote(name, safe='')}/similar").json()["label"] == name


# ---------------------------------------------------------------------------- robustness
def test_concurrent_requests_equal_sequential_ones(predictors, rows, monkeypatch):
    p = predictors["features"]
    app = create_app(p)
    active, peak = [0], [0]
    guard = threading.Lock()
    predict = p.predict

    def counting(*args, **kwargs):
        with guard:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        try:
            time.sleep(0.005)
            return predict(*args, **kwargs)
        finally:
            with guard:
                active[0] -= 1

    bodies = [{"rows": rows[i % 8 : i % 8 + 1 + i % 3].tolist(), "k": 1 + i % 6} for i in range(16)]
    with TestClient(app) as c:
        sequential = [c.post("/predict", json=b).json() for b in bodies]
        monkeypatch.setattr(p, "predict", counting)
        with ThreadPoolExecutor(8) as pool:
            concurrent = list(pool.map(lambda b: c.post("/predict", json=b), bodies))
    assert [r.status_code for r in concurrent] == [200] * 16
    assert [r.json() for r in concurrent] == sequential
    assert peak[0] == 1  # the lock: one prediction at a time


def test_unexpected_errors_are_a_generic_500_and_logged(predictors, rows, monkeypatch, caplog):
    p = predictors["features"]
    app = create_app(p)

    def broken(*args, **kwargs):
        raise RuntimeError("secret internals /etc/shadow")

    monkeypatch.setattr(p, "predict", broken)
    c = TestClient(app, raise_server_exceptions=False)
    with caplog.at_level("ERROR", logger="labelsphere.serve"):
        r = c.post("/predict", json={"rows": rows[:1].tolist()})
    assert r.status_code == 500 and r.json() == {"detail": GENERIC_500}
    assert "secret" not in r.text and "Traceback" not in r.text
    assert any("secret internals" in (rec.exc_text or "") or rec.exc_info for rec in caplog.records)


def test_create_app_checks_its_options(predictors):
    for bad in ({"max_batch": 0}, {"default_k": -1}, {"max_body_bytes": 1.5}):
        with pytest.raises(ValueError, match="must be a positive integer"):
            create_app(predictors["features"], **bad)


def test_a_ranking_backend_serves_the_same_top_k(predictors, rows):
    # backend= ranks rows and texts through a LabelIndex built at start-up; exact search
    # gives the head's own top-k (scores equal up to float rounding); FAISS flat too.
    p = predictors["features"]
    for backend in ("exact", "faiss-flat"):
        c = TestClient(create_app(p, backend=backend))
        got = c.post("/predict", json={"rows": rows.tolist(), "k": 5}).json()["predictions"]
        want = _direct(p.predict(rows, 5))
        names = [[x["label"] for x in g["labels"]] for g in got]
        assert names == [[x["label"] for x in w["labels"]] for w in want]
        np.testing.assert_allclose(
            [[x["score"] for x in g["labels"]] for g in got],
            [[x["score"] for x in w["labels"]] for w in want],
            rtol=1e-4,
            atol=1e-5,
        )
        # Calibrated sets still score every label.
        if p.thresholds is not None:
            r = c.post("/predict", json={"rows": rows[:2].tolist(), "threshold": "calibrated"})
            assert r.json() == {"predictions": _direct(p.predict(rows[:2], 5, "calibrated"))}
    t = predictors["text"]
    c = TestClient(create_app(t, backend="exact"))
    texts = ["arrow left circle Arrows", "brand github Brand"]
    got = c.post("/predict", json={"texts": texts, "k": 4}).json()["predictions"]
    want = _direct(t.predict_texts(texts, 4))
    assert [[x["label"] for x in g["labels"]] for g in got] == [
        [x["label"] for x in w["labels"]] for w in want
    ]
    with pytest.raises(ValueError, match="backend must be one of"):
        create_app(p, backend="annoy")
    with pytest.raises(ValueError, match="label-embedding head"):
        create_app(predictors["sigmoid"], backend="exact")
    with pytest.raises(ValueError, match="ranks feature rows and texts"):
        create_app(predictors["image"], backend="exact")


def test_real_uvicorn_server_on_localhost(models, rows):
    """make_server (what `serve` runs) on 127.0.0.1, a free port, in a background thread."""
    server = make_server(models["features"], port=0, log_level="warning", max_body_bytes=64 * 1024)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            assert time.monotonic() < deadline, "uvicorn did not start within 30 s"
            assert thread.is_alive(), "uvicorn exited"
            time.sleep(0.05)
        host, port = server.servers[0].sockets[0].getsockname()[:2]
        assert host == "127.0.0.1"
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as c:
            health = c.get("/health").json()
            assert health["status"] == "ok" and health["model"] == str(models["features"])
            r = c.post("/predict", json={"rows": rows[:2].tolist(), "k": 3})
            assert r.status_code == 200
            want = _direct(Predictor.load(models["features"]).predict(rows[:2], 3))
            assert r.json() == {"predictions": want}
            r = c.post("/predict", content=b"{bad", headers=JSON)
            assert r.status_code == 400 and "not valid JSON" in r.json()["detail"]
            big = json.dumps({"rows": rows.tolist() * 2}).encode()
            assert len(big) > 64 * 1024
            r = c.post(
                "/predict",
                content=(big[i : i + 8192] for i in range(0, len(big), 8192)),
                headers=JSON,
            )
            assert r.status_code == 413
    finally:
        server.should_exit = True
        thread.join(timeout=15)
    assert not thread.is_alive()
