"""Mulan multi-label datasets: an ARFF file plus an XML file naming the label attributes."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from labelsphere.data.dataset import DataFormatError, MultiLabelDataset, csr_from_coo
from labelsphere.data.readers.arff import read_arff_data, read_arff_header, unescape
from labelsphere.labels import LabelVocabulary, UnknownLabelError, UnknownPolicy

__all__ = ["read_mulan"]

_MAX_XML_BYTES = 64 * 1024 * 1024


def _read_mulan_xml(xml_path: Path) -> list[str]:
    """Label names, in document order, from a Mulan label XML file.

    The stdlib ``xml.etree.ElementTree`` parser never fetches external entities; as extra care
    against entity-expansion tricks a file with a DOCTYPE/ENTITY declaration or larger than
    64 MiB is refused (real Mulan label files are small and have neither).
    """
    import xml.etree.ElementTree as ET

    size = xml_path.stat().st_size
    if size > _MAX_XML_BYTES:
        raise DataFormatError(f"label XML is {size} bytes; refusing files over 64 MiB", xml_path)
    data = xml_path.read_bytes()
    for marker in (b"<!DOCTYPE", b"<!ENTITY"):
        pos = data.find(marker)
        if pos >= 0:
            line = data.count(b"\n", 0, pos) + 1
            raise DataFormatError(
                "DTD/entity declarations are not allowed in a Mulan label file", xml_path, line
            )
    try:
        root = ET.fromstring(data)
    except ET.ParseError as e:
        raise DataFormatError(
            f"not well-formed XML ({e.msg if hasattr(e, 'msg') else e})", xml_path, e.position[0]
        ) from None
    names = []
    for el in root.iter():
        if el.tag.rsplit("}", 1)[-1] != "label":
            continue
        name = el.get("name")
        if not name:
            raise DataFormatError('expected <label name="..."> with a non-empty name', xml_path)
        names.append(unescape(name))
    if not names:
        raise DataFormatError('expected at least one <label name="..."> element', xml_path)
    dup = [n for n, c in Counter(names).items() if c > 1]
    if dup:
        raise DataFormatError(f"duplicate label names {dup[:5]}", xml_path)
    return names


def read_mulan(
    arff_path: str | Path,
    xml_path: str | Path,
    vocabulary: LabelVocabulary | None = None,
    unknown: UnknownPolicy = "error",
    name: str | None = None,
) -> MultiLabelDataset:
    """Read a Mulan multi-label dataset: an ARFF file plus the XML file listing the labels.

    Label attributes are those named in the XML (anywhere in the ARFF, not necessarily last),
    and must be nominal ``{0,1}``; every other attribute is a numeric feature (nominal features
    with numeric values are read as numbers, other nominal features as their value's index;
    a missing value ``?`` is NaN for a feature and "absent" for a label). Attribute names may be
    quoted and use backslash escapes (``TAG_m\\'usica``); names from the ARFF and the XML are
    unescaped the same way before they are matched.

    Rows may be dense (``0,1,0.5,...``) or sparse (``{3 1,17 0.5}``). ``X`` is CSR float32 if
    any row is sparse, otherwise a dense float32 array.

    The vocabulary is the XML's labels in XML order, unless ``vocabulary`` is given: then labels
    are encoded into it, and a label not in it raises ``UnknownLabelError`` (``unknown="error"``)
    or is dropped (``unknown="ignore"``).
    """
    arff_path, xml_path = Path(arff_path), Path(xml_path)
    label_names = _read_mulan_xml(xml_path)
    attrs, relation, data_line = read_arff_header(arff_path)
    index = {}
    for j, a in enumerate(attrs):
        if a.name in index:
            raise DataFormatError(
                f"duplicate attribute name {a.name!r} (first on line {attrs[index[a.name]].line})",
                arff_path,
                a.line,
            )
        index[a.name] = j
    missing = [n for n in label_names if n not in index]
    if missing:
        raise DataFormatError(
            f"{len(missing)} labels named in {xml_path.name} are not ARFF attributes, "
            f"e.g. {missing[:3]}",
            arff_path,
        )
    n_attrs = len(attrs)
    label_col = [-1] * n_attrs
    for k, n in enumerate(label_names):
        a = attrs[index[n]]
        if a.kind != "nominal" or sorted(a.values or []) != ["0", "1"]:
            raise DataFormatError(
                f"label attribute {n!r} should be nominal {{0,1}}", arff_path, a.line
            )
        label_col[index[n]] = k
    feat_col = [-1] * n_attrs
    feat_map: list[dict[str, float] | None] = [None] * n_attrs
    n_feat = 0
    for j, a in enumerate(attrs):
        if label_col[j] >= 0:
            continue
        if a.kind == "nominal":
            vals = a.values or []
            try:
                feat_map[j] = {v: float(v) for v in vals}
            except ValueError:
                feat_map[j] = {v: float(i) for i, v in enumerate(vals)}
        elif a.kind != "numeric":
            raise DataFormatError(
                f"feature attribute {a.name!r} has type {a.kind!r}; only numeric and nominal "
                "features are supported",
                arff_path,
                a.line,
            )
        feat_col[j] = n_feat
        n_feat += 1

    X, Y = read_arff_data(
        arff_path, data_line, attrs, feat_col, feat_map, label_col, n_feat, len(label_names)
    )
    names_vocab = LabelVocabulary(label_names)
    if vocabulary is not None:
        Y = _remap_columns(Y, label_names, vocabulary, unknown, arff_path)
        vocab = vocabulary
    else:
        vocab = names_vocab
    info = {
        "arff": str(arff_path),
        "xml": str(xml_path),
        "relation": relation,
        "feature_names": [a.name for j, a in enumerate(attrs) if feat_col[j] >= 0],
    }
    return MultiLabelDataset(X=X, Y=Y, vocabulary=vocab, name=name or arff_path.stem, info=info)


def _remap_columns(
    Y: sp.csr_matrix, names: list[str], vocabulary: LabelVocabulary, unknown: str, path: Path
) -> sp.csr_matrix:
    if unknown not in ("error", "ignore"):
        raise ValueError(f"unknown must be 'error' or 'ignore', got {unknown!r}")
    target = np.array([vocabulary._index.get(n, -1) for n in names], dtype=np.int64)
    coo = Y.tocoo()
    new = target[coo.col]
    lost = new < 0
    if lost.any():
        if unknown == "error":
            first = names[int(coo.col[np.flatnonzero(lost)[0]])]
            raise UnknownLabelError(
                f"{path}: label {first!r} occurs in {int(lost.sum())} places but is not in the "
                f"vocabulary ({len(vocabulary)} labels); pass unknown='ignore' to drop it"
            )
        vocabulary.n_unknown_ += int(lost.sum())
    keep = ~lost
    return csr_from_coo(coo.row[keep], new[keep], (Y.shape[0], len(vocabulary)))
