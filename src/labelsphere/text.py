"""Raw text in: TF-IDF or hashed bag-of-words features from scikit-learn, saved without pickle.

:class:`TextFeaturizer` turns a list of strings into a CSR float32 matrix with scikit-learn's
``TfidfVectorizer`` (``kind="tfidf"``: a learned vocabulary) or ``HashingVectorizer`` followed by
a ``TfidfTransformer`` (``kind="hashing"``: no vocabulary, a fixed number of hashed columns).
Tokenisation is scikit-learn's; this module only chooses the parameters, checks the input and
saves the fitted state as JSON (parameters, vocabulary) plus safetensors (the idf vector), from
which :meth:`TextFeaturizer.load` rebuilds a vectorizer that gives the very same matrix.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
import sklearn
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer, TfidfVectorizer
from sklearn.utils.validation import check_is_fitted

from labelsphere.artifacts import (
    FormatError,
    check_format,
    load_arrays,
    read_json,
    save_arrays,
    write_json,
)

__all__ = ["TextFeaturizer", "check_texts"]

_FORMAT = "labelsphere.TextFeaturizer"
_FORMAT_VERSION = 1
_META_FILE = "text_featurizer.json"
_ARRAYS_FILE = "text_featurizer.safetensors"
_KINDS = ("tfidf", "hashing")
_DEFAULT_N_FEATURES = 2**20


def check_texts(texts: Iterable[str], what: str = "texts") -> list[str]:
    """``texts`` as a list of strings; anything else raises ``ValueError`` naming the sample.

    A single string is refused too (it would be read as a sequence of one-character texts).
    """
    if isinstance(texts, str | bytes):
        raise ValueError(f"{what} should be a list of strings, got a single {type(texts).__name__}")
    if isinstance(texts, np.ndarray) and texts.ndim != 1:
        raise ValueError(f"{what} should be one-dimensional, got an array of shape {texts.shape}")
    try:
        out = list(texts)
    except TypeError:
        raise ValueError(
            f"{what} should be a list of strings, got {type(texts).__name__}"
        ) from None
    for i, t in enumerate(out):
        if not isinstance(t, str):
            raise ValueError(
                f"{what}: sample {i} is {type(t).__name__} ({t!r:.60}), expected a string"
            )
    return out


class TextFeaturizer(TransformerMixin, BaseEstimator):
    """Bag-of-words features for raw text: TF-IDF on a vocabulary, or hashed.

    Parameters
    ----------
    kind : {"tfidf", "hashing"}, default="tfidf"
        ``"tfidf"``: scikit-learn's ``TfidfVectorizer`` learns a vocabulary (one column per
        kept term). ``"hashing"``: ``HashingVectorizer`` (non-negative counts hashed into
        ``n_features`` columns, nothing to store but the idf) followed by a ``TfidfTransformer``
        (``use_idf``, ``sublinear_tf``, ``norm``).
    max_features : int, optional
        ``"tfidf"`` only: keep the ``max_features`` most frequent terms.
    ngram_range : (int, int), default=(1, 1)
        Lengths of the word (or character, see ``analyzer``) n-grams.
    min_df, max_df : int or float, default=1 and 1.0
        ``"tfidf"`` only: drop terms in fewer / more documents than this (a count, or a
        fraction of the documents when a float).
    sublinear_tf : bool, default=False
        Use ``1 + log(tf)`` instead of the raw term count.
    lowercase : bool, default=True
        Lower-case the text before tokenising.
    n_features : int, optional
        ``"hashing"`` only: the number of hashed columns (default ``2**20``).
    use_idf : bool, default=True
        Weight terms by their inverse document frequency (learned by ``fit``).
    norm : {"l2", "l1"} or None, default="l2"
        Normalise each row.
    analyzer : {"word", "char", "char_wb"}, default="word"
        Word n-grams (scikit-learn's default token pattern) or character n-grams.
    strip_accents : {"ascii", "unicode"} or None, default=None
        Remove accents before tokenising.

    Attributes
    ----------
    n_features_ : int
        Columns of the output: the vocabulary's size (``"tfidf"``) or ``n_features``.
    vocabulary_ : dict of str to int or None
        Term -> column (``"tfidf"``); ``None`` for ``"hashing"``.
    idf_ : ndarray of shape (n_features_,), float32, or None
        The learned inverse document frequencies; ``None`` when ``use_idf=False``.
    vectorizer_ : TfidfVectorizer or HashingVectorizer
        The fitted scikit-learn vectorizer (with ``transformer_`` for ``"hashing"``).
    transformer_ : TfidfTransformer or None
        The idf weighting after the ``HashingVectorizer`` (``"hashing"`` only).

    Examples
    --------
    >>> from labelsphere.text import TextFeaturizer
    >>> texts = ["a red apple", "a green apple", "a red car"]
    >>> f = TextFeaturizer(ngram_range=(1, 2)).fit(texts)
    >>> f.n_features_  # apple, car, green, red and 3 word pairs ("a" is too short a token)
    7
    >>> X = f.transform(["red apple pie"])
    >>> X.shape, X.dtype, X.nnz
    ((1, 7), dtype('float32'), 3)
    >>> h = TextFeaturizer(kind="hashing", n_features=16).fit(texts)
    >>> h.transform(texts).shape
    (3, 16)
    """

    def __init__(
        self,
        kind: str = "tfidf",
        *,
        max_features: int | None = None,
        ngram_range: tuple[int, int] = (1, 1),
        min_df: int | float = 1,
        max_df: int | float = 1.0,
        sublinear_tf: bool = False,
        lowercase: bool = True,
        n_features: int | None = None,
        use_idf: bool = True,
        norm: str | None = "l2",
        analyzer: str = "word",
        strip_accents: str | None = None,
    ):
        self.kind = kind
        self.max_features = max_features
        self.ngram_range = ngram_range
        self.min_df = min_df
        self.max_df = max_df
        self.sublinear_tf = sublinear_tf
        self.lowercase = lowercase
        self.n_features = n_features
        self.use_idf = use_idf
        self.norm = norm
        self.analyzer = analyzer
        self.strip_accents = strip_accents

    # ------------------------------------------------------------------ building the vectorizer
    def _check_params(self) -> None:
        if self.kind not in _KINDS:
            raise ValueError(f"kind must be one of {list(_KINDS)}, got {self.kind!r}")
        if self.kind == "hashing":
            tfidf_only = {
                "max_features": (self.max_features, None),
                "min_df": (self.min_df, 1),
                "max_df": (self.max_df, 1.0),
            }
            for name, (value, default) in tfidf_only.items():
                if value != default:
                    raise ValueError(f"{name} applies to kind='tfidf' only, got {name}={value!r}")
            if self.n_features is not None and (
                not isinstance(self.n_features, int | np.integer) or self.n_features < 1
            ):
                raise ValueError(f"n_features must be a positive integer, got {self.n_features!r}")
        elif self.n_features is not None:
            raise ValueError(
                f"n_features applies to kind='hashing' only, got n_features={self.n_features!r}"
                " (kind='tfidf' has max_features)"
            )

    def _ngram_range(self) -> tuple[int, int]:
        lo, hi = self.ngram_range
        return int(lo), int(hi)

    def _make_tfidf(self, vocabulary: dict[str, int] | None = None) -> TfidfVectorizer:
        return TfidfVectorizer(
            lowercase=self.lowercase,
            strip_accents=self.strip_accents,
            analyzer=self.analyzer,
            ngram_range=self._ngram_range(),
            max_df=self.max_df,
            min_df=self.min_df,
            max_features=self.max_features,
            vocabulary=vocabulary,
            norm=self.norm,
            use_idf=self.use_idf,
            sublinear_tf=self.sublinear_tf,
            dtype=np.float32,
        )

    def _make_hashing(self) -> tuple[HashingVectorizer, TfidfTransformer]:
        n = _DEFAULT_N_FEATURES if self.n_features is None else int(self.n_features)
        hv = HashingVectorizer(
            n_features=n,
            lowercase=self.lowercase,
            strip_accents=self.strip_accents,
            analyzer=self.analyzer,
            ngram_range=self._ngram_range(),
            norm=None,  # counts; the TfidfTransformer normalises after weighting
            alternate_sign=False,  # non-negative counts, as idf and sublinear tf need
            dtype=np.float32,
        )
        tt = TfidfTransformer(norm=self.norm, use_idf=self.use_idf, sublinear_tf=self.sublinear_tf)
        return hv, tt

    # ------------------------------------------------------------------ fit / transform
    def fit(self, texts: Iterable[str], y: Any = None) -> TextFeaturizer:
        """Learn the vocabulary (``"tfidf"``) and the idf weights from ``texts``.

        Parameters
        ----------
        texts : sequence of str, length n_samples
            The raw documents.
        y : ignored

        Returns
        -------
        self : TextFeaturizer
        """
        self._fit(check_texts(texts))
        return self

    def _fit(self, texts: list[str]) -> sp.csr_matrix | None:
        """Fit; return the training matrix when it came for free (hashing), else None."""
        self._check_params()
        if not texts:
            raise ValueError("cannot fit a TextFeaturizer on no texts")
        if self.kind == "tfidf":
            vec = self._make_tfidf()
            vec.fit(texts)
            self.vectorizer_ = vec
            self.transformer_ = None
            self.vocabulary_ = dict(vec.vocabulary_)
            self.n_features_ = len(vec.vocabulary_)
            X = None
        else:
            hv, tt = self._make_hashing()
            counts = hv.transform(texts)
            tt.fit(counts)
            self.vectorizer_ = hv
            self.transformer_ = tt
            self.vocabulary_ = None
            self.n_features_ = int(hv.n_features)
            X = _as_csr32(tt.transform(counts))
        self._set_idf()
        return X

    def _set_idf(self) -> None:
        if not self.use_idf:
            self.idf_ = None
        elif self.kind == "tfidf":
            self.idf_ = self.vectorizer_.idf_
        else:
            self.idf_ = self.transformer_.idf_

    def transform(self, texts: Iterable[str]) -> sp.csr_matrix:
        """Features of ``texts``.

        Parameters
        ----------
        texts : sequence of str, length n_samples

        Returns
        -------
        X : scipy.sparse.csr_matrix of shape (n_samples, n_features_), float32
            Sorted column indices in each row; rows with no known term are all zero.
        """
        check_is_fitted(self)
        texts = check_texts(texts)
        if not texts:
            return sp.csr_matrix((0, self.n_features_), dtype=np.float32)
        if self.kind == "tfidf":
            return _as_csr32(self.vectorizer_.transform(texts))
        return _as_csr32(self.transformer_.transform(self.vectorizer_.transform(texts)))

    def fit_transform(self, texts: Iterable[str], y: Any = None) -> sp.csr_matrix:
        """``fit(texts)`` then ``transform(texts)``; equal to them exactly.

        Parameters
        ----------
        texts : sequence of str, length n_samples
        y : ignored

        Returns
        -------
        X : scipy.sparse.csr_matrix of shape (n_samples, n_features_), float32
        """
        texts = check_texts(texts)
        X = self._fit(texts)
        return X if X is not None else self.transform(texts)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """The term of each column (``"tfidf"`` only; hashed columns have no names)."""
        check_is_fitted(self)
        if self.kind != "tfidf":
            raise AttributeError("kind='hashing' has no feature names (columns are hashes)")
        return self.vectorizer_.get_feature_names_out()

    # ------------------------------------------------------------------ persistence
    def save(self, directory: str | Path) -> None:
        """Write ``text_featurizer.json`` (format, parameters, vocabulary) and
        ``text_featurizer.safetensors`` (the idf vector) into ``directory``. No pickle."""
        check_is_fitted(self)
        directory = Path(directory)
        params = self.get_params()
        params["ngram_range"] = list(self._ngram_range())
        vocabulary = None
        if self.vocabulary_ is not None:
            vocabulary = [""] * len(self.vocabulary_)
            for term, j in self.vocabulary_.items():
                vocabulary[j] = term
        arrays = {} if self.idf_ is None else {"idf": np.asarray(self.idf_)}
        save_arrays(directory / _ARRAYS_FILE, arrays)
        write_json(
            directory / _META_FILE,
            {
                "format": _FORMAT,
                "format_version": _FORMAT_VERSION,
                "params": params,
                "n_features": self.n_features_,
                "vocabulary": vocabulary,
                "has_idf": self.idf_ is not None,
                "sklearn_version": sklearn.__version__,
            },
        )

    @classmethod
    def load(cls, directory: str | Path) -> TextFeaturizer:
        """Read a featurizer written by :meth:`save` and rebuild its scikit-learn vectorizer.

        A missing, corrupt or other-version file raises ``FormatError``.
        """
        directory = Path(directory)
        meta_path = directory / _META_FILE
        meta = read_json(meta_path)
        if not isinstance(meta, dict):
            raise FormatError(f"{meta_path}: expected a JSON object")
        check_format(meta, meta_path, _FORMAT, _FORMAT_VERSION)
        try:
            params = dict(meta["params"])
            params["ngram_range"] = tuple(params["ngram_range"])
            est = cls(**params)
            est._check_params()
            n_features = int(meta["n_features"])
            vocabulary = meta["vocabulary"]
            has_idf = bool(meta["has_idf"])
        except (KeyError, TypeError, ValueError) as e:
            raise FormatError(f"{meta_path}: missing or invalid field ({e})") from None
        if has_idf != bool(est.use_idf):
            raise FormatError(f"{meta_path}: has_idf={has_idf} but use_idf={est.use_idf}")
        idf = None
        if has_idf:
            arrays_path = directory / _ARRAYS_FILE
            idf = load_arrays(arrays_path).get("idf")
            if idf is None or idf.ndim != 1 or idf.shape[0] != n_features:
                raise FormatError(
                    f"{arrays_path}: expected an 'idf' vector of length {n_features}, found "
                    f"{None if idf is None else idf.shape}"
                )
        if est.kind == "tfidf":
            if (
                not isinstance(vocabulary, list)
                or len(vocabulary) != n_features
                or not all(isinstance(t, str) for t in vocabulary)
                or len(set(vocabulary)) != len(vocabulary)
            ):
                raise FormatError(
                    f"{meta_path}: 'vocabulary' should be a list of {n_features} distinct strings"
                )
            vocab = {t: j for j, t in enumerate(vocabulary)}
            vec = est._make_tfidf(vocabulary=vocab)
            vec._validate_vocabulary()  # sets vocabulary_ (fixed) as fit would
            if idf is not None:
                vec.idf_ = idf  # creates vec._tfidf, checks the length against the vocabulary
            else:
                vec._tfidf = TfidfTransformer(
                    norm=est.norm, use_idf=False, sublinear_tf=est.sublinear_tf
                )
            vec._tfidf.n_features_in_ = n_features
            est.vectorizer_ = vec
            est.transformer_ = None
            est.vocabulary_ = dict(vec.vocabulary_)
        else:
            hv, tt = est._make_hashing()
            if hv.n_features != n_features:
                raise FormatError(
                    f"{meta_path}: n_features {n_features} does not match the parameters "
                    f"({hv.n_features})"
                )
            if idf is not None:
                tt.idf_ = idf
            tt.n_features_in_ = n_features
            est.vectorizer_ = hv
            est.transformer_ = tt
            est.vocabulary_ = None
        est.n_features_ = n_features
        est._set_idf()
        return est


def _as_csr32(X: Any) -> sp.csr_matrix:
    X = sp.csr_matrix(X, dtype=np.float32)
    if not X.has_sorted_indices:
        X.sort_indices()
    return X
