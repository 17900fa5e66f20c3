"""New labels without retraining the network: fold them into a trained model's label space.

A label-embedding model scores label l by its similarity to the row E_l of the fixed (L, d)
label embedding, and E was fitted so that E E^T approximates the PMI matrix M of the old labels.
A new label j arrives with its co-occurrence counts with the old labels (from any labelled data
that has it); its PMI row m_j (L,) against the old labels is computed with the model's own PMI
policy, and its embedding is the least-squares fold-in ``e_j = argmin_e ||E e - m_j||``, i.e.
``e_j = m_j E (E^T E)^{-1}`` (for E = U sqrt(S) that is ``m_j U S^{-1/2}``, the classic LSI
fold-in). The network is untouched: the new rows are appended to ``head.embeddings``, the
vocabulary, the saved label counts and the calibrated thresholds (the global one), and the
result is a model directory that ``predict``, ``evaluate`` and the server load as any other.

Only heads whose label vectors are the fixed PMI embedding can take new labels this way
(``embedding``, ``embedding-paper``); a head with per-label trained weights (sigmoid, softmax,
asl, hybrid's free part, a learned bias) has nothing to fold into.
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
from labelsphere.labels import LabelVocabulary, check_multihot
from labelsphere.train.model_dir import LABEL_COUNTS, read_model_json, update_checksums

__all__ = ["fold_in", "fold_in_embeddings", "pmi_rows"]


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


def fold_in(
    model_dir: str | Path,
    Y_old: sp.csr_matrix,
    Y_new: sp.csr_matrix,
    new_names: Sequence[str],
    out: str | Path,
) -> Path:
    """Write a copy of ``model_dir`` to ``out`` with the new labels folded in; returns ``out``.

    Args:
        Y_old: (n, L_old) labels of the model's vocabulary on some samples.
        Y_new: (n, L_new) the new labels on the same samples.
        new_names: the L_new new label names (not in the model's vocabulary).
    """
    model_dir, out = Path(model_dir), Path(out)
    meta = read_model_json(model_dir)
    config = meta["config"]
    vocab = LabelVocabulary.load(model_dir / "vocabulary.json")
    Y_old = check_multihot(Y_old, n_labels=len(vocab), name="Y_old")
    Y_new = check_multihot(Y_new, n_labels=len(new_names), name="Y_new")
    clash = sorted(set(new_names) & set(vocab.names))
    if clash:
        raise ValueError(f"labels already in the model: {clash[:5]}")
    if config["head"] not in ("embedding", "embedding-paper"):
        raise ValueError(
            f"head {config['head']!r} has per-label trained weights; only the PMI embedding heads "
            "(embedding, embedding-paper) can take new labels without retraining"
        )
    weights = load_file(str(model_dir / "model.safetensors"))
    if "head.bias" in weights:
        raise ValueError("this head learned a per-label bias; new labels would have none")
    E = weights["head.embeddings"].float().numpy()
    pmi = (config.get("embedding_options") or {}).get("pmi", "zero")
    if config["head"] == "embedding-paper":
        pmi = "zero"
    E_new = fold_in_embeddings(E, pmi_rows(Y_old, Y_new, pmi))
    import torch

    dtype = weights["head.embeddings"].dtype
    weights["head.embeddings"] = torch.cat(
        [weights["head.embeddings"], torch.from_numpy(E_new).to(dtype)]
    )
    if out.exists():
        raise FileExistsError(f"{out} exists; choose a new directory for the extended model")
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
    meta["folded_in"] = {"labels": list(new_names), "from": str(model_dir), "pmi": pmi}
    write_json(tmp / "model.json", meta)
    update_checksums(tmp)  # the extended files get their own checksums
    tmp.rename(out)
    return out
