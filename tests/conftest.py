"""Shared fixtures: where the real datasets live.

Tests read the real datasets from ``$LABELSPHERE_DATA`` or, failing that, from ``../shared/data``
beside the repository (the layout CI uses). They never download anything.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _data_dir() -> Path:
    env = os.environ.get("LABELSPHERE_DATA")
    return Path(env) if env else REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    d = _data_dir()
    if not (d / "README.md").is_file():
        pytest.fail(f"real datasets not found at {d}; set LABELSPHERE_DATA to ../shared/data")
    return d


@pytest.fixture(scope="module")
def one_torch_thread():
    """One intra-op torch thread for a module: on CI's 2 shared cores, two contending threads
    are several times slower than one."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture
def ranks_like_its_scores():
    """A check that a Predictor's top-k through the exact and FAISS indexes is its dense ranking."""
    import numpy as np

    def check(predictor, X, k: int = 5) -> None:
        scores, _ = predictor.scores(X)
        want = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        for backend in ("exact", "faiss-flat"):
            idx, vals = predictor.topk(X, k, backend)
            np.testing.assert_array_equal(idx, want)
            got, expected = vals, np.take_along_axis(scores, want, 1)
            np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)

    return check


@pytest.fixture
def hold_out_labels():
    """A split of a dataset's last ``n`` labels from the rest, for the fold-in tests.

    ``split(ds, n=8)`` returns ``(keep, held, kept)``: the kept and held-out label columns, and
    ``kept(d)``, a dataset of the same split as ``d`` restricted to the kept labels.
    """
    import numpy as np

    from labelsphere.data import MultiLabelDataset
    from labelsphere.labels import LabelVocabulary

    def split(ds, n: int = 8):
        L = ds.Y.shape[1]
        keep, held = np.arange(L - n), np.arange(L - n, L)
        vocab = LabelVocabulary(list(np.asarray(ds.vocabulary.names, dtype=object)[keep]))

        def kept(d):
            return MultiLabelDataset(d.X, d.Y[:, keep], vocab, d.name, d.ids, d.info)

        return keep, held, kept

    return split


@pytest.fixture
def learned_prior_head():
    """``head(tr, **options)``: an ``EmbeddingHead`` of the ``embedding-learned-prior`` family
    (learned PMI table at d = 32, per-label bias at the priors, temperature capped at 15) on
    dataset ``tr``, with ``options`` on top, seeded and initialised."""
    import numpy as np
    import torch

    from labelsphere.heads import build_head, label_basis

    base = {"learn_embeddings": True, "bias": True, "prior_bias": True, "max_scale": 15.0}

    def head(tr, **options):
        basis = label_basis("embedding-scale-cap", tr.Y, 32, seed=0)
        torch.manual_seed(0)
        L = tr.Y.shape[1]
        h = build_head("embedding", tr.X.shape[1], L, basis, {**base, **options})
        h.initialize(np.bincount(tr.Y.indices, minlength=L), tr.Y.shape[0])
        return h

    return head


def pytest_collection_modifyitems(config, items):
    """Tiers: the fast tests (tests/unit and the doctests: seeded data, no datasets) run first;
    tests that read the real datasets are marked ``data`` (``pytest -m "not data"`` skips them)."""
    for item in items:
        if "data_dir" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.data)
    unit, src = REPO / "tests" / "unit", REPO / "src"
    items.sort(
        key=lambda it: (
            0
            if Path(str(it.path)).is_relative_to(unit) or Path(str(it.path)).is_relative_to(src)
            else 1
        )
    )
