"""New labels without retraining the network: fold them into a trained model's label space.

An embedding head scores label l by its similarity to the row E_l of its (L, d) label
embedding (plus a per-label bias b_l when it learned one). A new label j arrives with its
co-occurrence with the old labels (from any labelled data that has it) and gets a row e_j,
and a bias where the head has them, by one of two methods:

- ``"lstsq"``, for the fixed PMI embeddings (``embedding``, ``embedding-paper``): E was fitted
  so that E E^T approximates the PMI matrix M of the old labels, so the new label's PMI row m_j
  (L,) against them, computed with the model's own PMI policy, gives the least-squares fold-in
  ``e_j = argmin_e ||E e - m_j|| = m_j E (E^T E)^{-1}`` (for E = U sqrt(S) that is
  ``m_j U S^{-1/2}``, the classic LSI fold-in).
- ``"centroid"``, for any cosine embedding head, learned E included (``embedding-learned``,
  ``embedding-learned-prior``), where E E^T no longer approximates PMI: each sample's target
  direction is the unit sum of its old labels' unit keys (what the head was trained to point
  at), and the new label's key is the mean of those directions over the samples that carry it.
  A learned bias for j is its log prior on the fold-in data (``log p`` under the softmax loss,
  ``log(p / (1 - p))`` under BCE, as ``prior_bias`` starts it) plus the median shift training
  gave the old labels' biases from their own priors on the same data.

The network is untouched: the new rows are appended to ``head.embeddings`` (and ``head.bias``, free weights at zero, gains at 1),
the vocabulary, the saved label counts and the calibrated thresholds (the global one), and the
result is a model directory that ``predict``, ``evaluate`` and the server load as any other.
Heads with per-label trained weights over L logits (sigmoid, softmax, asl, hybrid) have nothing
to fold into.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from safetensors.torch import load_file

from labelsphere.artifacts import save_tensors, write_json
from labelsphere.heads.linear import log_label_share, log_prior_odds
from labelsphere.heads.registry import head_entry
from labelsphere.labels import LabelVocabulary, check_multihot
from labelsphere.train.model_dir import LABEL_COUNTS, read_model_json, update_checksums

__all__ = ["centroid_keys", "fold_in", "fold_in_embeddings", "pmi_rows"]


def pmi_rows(Y_old: sp.csr_matrix, Y_new: sp.csr_matrix, pmi: str = "zero") -> np.ndarray:
    """PMI of each new label with each old label: (L_new, L_old) float64.

    ``log(c_ij N / (c_i c_j))`` where the labels co-occur; 0 elsewhere (``pmi="zero"``, the
    default policy) or clipped at 0 (``"positive"``).
    """
    Y_old, Y_new = sp.csr_matrix(Y_old), sp.csr_matrix(Y_new)
    if Y_old.shape[0] != Y_new.shape[0]:
        raise ValueError(f"Y_old has {Y_old.shape[0]} rows, Y_new {Y_new.shape[0]}")
    n = Y_old.shape[0]
    c_old = np.asarray(Y_old.sum(axis=0)).ravel().astype(np.float64)
    c_new = np.asarray(Y_new.sum(axis=0)).ravel().astype(np.float64)
    C = (Y_new.T.astype(np.float64) @ Y_old.astype(np.float64)).tocoo()
    M = np.zeros((Y_new.shape[1], Y_old.shape[1]))
    M[C.row, C.col] = np.log(C.data * n / (c_new[C.row] * c_old[C.col]))
    if pmi == "positive":
        M = np.maximum(M, 0.0)
    elif pmi != "zero":
        raise ValueError(f"fold-in supports pmi='zero' or 'positive', got {pmi!r}")
    return M


def fold_in_embeddings(E: np.ndarray, M_new: np.ndarray) -> np.ndarray:
    """Least-squares embeddings (L_new, d) of new labels from their PMI rows (L_new, L_old)."""
    E = np.asarray(E, dtype=np.float64)
    G = E.T @ E  # (d, d)
    return np.linalg.solve(G, (M_new @ E).T).T


def centroid_keys(K: np.ndarray, Y_old: sp.csr_matrix, Y_new: sp.csr_matrix) -> np.ndarray:
    """Unit keys (L_new, d) of new labels: the mean target direction of the samples carrying them.

    Args:
        K: (L_old, d) the old labels' unit keys.
        Y_old: (n, L_old) old labels; each sample's direction is the unit sum of its labels' keys.
        Y_new: (n, L_new) new labels on the same samples.
    """
    T = np.asarray(sp.csr_matrix(Y_old, dtype=np.float64) @ np.asarray(K, np.float64))
    norms = np.linalg.norm(T, axis=1, keepdims=True)
    T = np.divide(T, norms, out=np.zeros_like(T), where=norms > 0)
    C = np.asarray(sp.csr_matrix(Y_new, dtype=np.float64).T @ T)  # (L_new, d) sums
    norms = np.linalg.norm(C, axis=1, keepdims=True)
    return np.divide(C, norms, out=np.zeros_like(C), where=norms > 0)


def fold_in(
    model_dir: str | Path,
    Y_old: sp.csr_matrix,
    Y_new: sp.csr_matrix,
    new_names: Sequence[str],
    out: str | Path,
    method: str = "auto",
) -> Path:
    """Write a copy of ``model_dir`` to ``out`` with the new labels folded in; returns ``out``.

    Args:
        Y_old: (n, L_old) labels of the model's vocabulary on some samples.
        Y_new: (n, L_new) the new labels on the same samples.
        new_names: the L_new new label names (not in the model's vocabulary).
        method: ``"lstsq"``, ``"centroid"`` (see the module docstring) or ``"auto"``: least
            squares for fixed PMI embeddings, centroids for learned ones.
    """
    from labelsphere.heads.embedding import EmbeddingHead
    from labelsphere.predict import Predictor

    model_dir, out = Path(model_dir), Path(out)
    if method not in ("auto", "lstsq", "centroid"):
        raise ValueError(f"method must be 'auto', 'lstsq' or 'centroid', got {method!r}")
    meta = read_model_json(model_dir)
    config = meta["config"]
    vocab = LabelVocabulary.load(model_dir / "vocabulary.json")
    Y_old = check_multihot(Y_old, n_labels=len(vocab), name="Y_old")
    Y_new = check_multihot(Y_new, n_labels=len(new_names), name="Y_new")
    if Y_old.shape[0] != Y_new.shape[0]:
        raise ValueError(
            f"Y_old has {Y_old.shape[0]} rows and Y_new {Y_new.shape[0]}: they must label the "
            "same samples"
        )
    clash = sorted(set(new_names) & set(vocab.names))
    if clash:
        raise ValueError(f"labels already in the model: {clash[:5]}")
    if out.exists():
        raise FileExistsError(f"{out} exists; choose a new directory for the extended model")
    head = Predictor.load(model_dir).model.head
    if not isinstance(head, EmbeddingHead):
        raise ValueError(
            f"head {config['head']!r} has per-label trained weights over L logits; only the "
            "embedding heads can take new labels without retraining"
        )
    fixed_pmi = not head.learn_embeddings and head_entry(config["head"]).basis == "pmi"
    if method == "auto":
        method = "lstsq" if fixed_pmi else "centroid"
    if method == "lstsq" and not fixed_pmi:
        raise ValueError(
            f"method='lstsq' needs the fixed PMI embeddings; head {config['head']!r} has "
            "learned or non-PMI ones (use method='centroid')"
        )
    if method == "centroid" and head.similarity != "cosine":
        raise ValueError(
            f"method='centroid' needs cosine keys; this head scores by {head.similarity}"
        )
    with_old = (np.diff(Y_old.indptr) > 0).astype(np.float64)  # samples with an old label
    empty = np.flatnonzero(Y_new.T @ with_old == 0)
    if len(empty):
        raise ValueError(
            f"new labels that never occur with an old label have nothing to fold in from: "
            f"{[new_names[i] for i in empty[:5]]}"
        )
    weights = load_file(str(model_dir / "model.safetensors"))
    E = weights["head.embeddings"].float().numpy()
    pmi = None
    if method == "lstsq":
        pmi = (config.get("embedding_options") or {}).get("pmi", "zero")
        if config["head"] == "embedding-paper":
            pmi = "zero"
        E_new = fold_in_embeddings(E, pmi_rows(Y_old, Y_new, pmi))
    else:
        K = E / np.maximum(np.linalg.norm(E, axis=1, keepdims=True), 1e-12)
        E_new = centroid_keys(K, Y_old, Y_new)
    import torch

    dtype = weights["head.embeddings"].dtype
    weights["head.embeddings"] = torch.cat(
        [weights["head.embeddings"], torch.from_numpy(E_new).to(dtype)]
    )
    if "head.bias" in weights:
        # The priors the heads' prior_bias starts from, on the fold-in data; under the softmax
        # loss every label's share is of one total, so old and new priors are comparable.
        counts = np.concatenate([np.asarray(Y.sum(axis=0)).ravel() for Y in (Y_old, Y_new)])
        if head.loss_kind in ("bce", "softmax+bce"):
            prior = log_prior_odds(counts.astype(np.float64), Y_old.shape[0])
        else:
            prior = log_label_share(counts.astype(np.float64))
        L_old = Y_old.shape[1]
        b_old = weights["head.bias"].double().numpy()
        b_new = prior[L_old:] + np.median(b_old - prior[:L_old])
        weights["head.bias"] = torch.cat(
            [weights["head.bias"], torch.from_numpy(b_new).to(weights["head.bias"].dtype)]
        )
    if "head.free.weight" in weights:
        # A folded label has no samples trained into free weights of its own: it starts where
        # every label of a free_logits head started, at zero.
        V = weights["head.free.weight"]
        weights["head.free.weight"] = torch.cat([V, V.new_zeros(len(new_names), V.shape[1])])
    if "head.log_label_scale" in weights:
        # No samples trained a gain for a folded label: it keeps the starting gain of 1.
        g = weights["head.log_label_scale"]
        weights["head.log_label_scale"] = torch.cat([g, g.new_zeros(len(new_names))])
    tmp = out.with_name(f".{out.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(model_dir, tmp)
    save_tensors(tmp / "model.safetensors", weights)
    counts_new = np.asarray(Y_new.sum(axis=0)).ravel()
    LabelVocabulary([*vocab.names, *new_names]).save(tmp / "vocabulary.json")
    if (tmp / LABEL_COUNTS).exists():
        from labelsphere.train.model_dir import load_label_counts

        counts, n = load_label_counts(tmp)
        from labelsphere.artifacts import save_arrays

        save_arrays(
            tmp / LABEL_COUNTS,
            {"counts": np.concatenate([counts, counts_new]).astype(np.int64)},
            {"n_samples": str(n)},
        )
    from labelsphere.calibration import THRESHOLDS_FILE, LabelThresholds

    if (tmp / THRESHOLDS_FILE).exists():
        t = LabelThresholds.load(tmp / THRESHOLDS_FILE)
        t.thresholds_ = np.concatenate(
            [t.thresholds_, np.full(len(new_names), t.global_threshold_, np.float32)]
        )
        t.per_label_ = np.concatenate([t.per_label_, np.zeros(len(new_names), bool)])
        t.save(tmp / THRESHOLDS_FILE)
    meta = json.loads((tmp / "model.json").read_text())
    meta["n_labels"] = len(vocab) + len(new_names)
    meta["folded_in"] = {
        "labels": list(new_names),
        "from": str(model_dir),
        "method": method,
        "pmi": pmi,
    }
    write_json(tmp / "model.json", meta)
    update_checksums(tmp)  # the extended files get their own checksums
    tmp.rename(out)
    return out
