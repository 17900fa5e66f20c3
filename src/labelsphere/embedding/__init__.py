"""PMI label embeddings (Chollet, 2016): fit from label co-occurrence, encode targets, decode.

``LabelEmbedding`` turns co-occurrence counts into a symmetric PMI matrix M (L x L), factorises
it into E (L x d) with E E^T ~ M, encodes each sample's label set as the unit-normalised sum of
its labels' rows of E, and decodes a predicted d-vector by ranking the labels by similarity.

Data flow: ``pmi`` (the PMI matrix and its operator) -> ``solver`` (randomized block Krylov
eigenpairs) -> ``label_embedding`` (the scikit-learn style estimator: fit, encode, decode,
save and load).
"""

from labelsphere.embedding.label_embedding import LabelEmbedding
from labelsphere.embedding.pmi import pmi_matrix

__all__ = ["LabelEmbedding", "pmi_matrix"]
