"""labelsphere: multi-label classification with PMI label embeddings (Chollet, 2016).

Data flow: ``labels`` (vocabulary, multi-hot) -> ``cooccurrence`` (streaming counts) ->
``embedding`` (PMI + factorisation, encode/decode) -> ``heads`` (cosine-proximity and sigmoid
heads) -> ``train`` -> ``decode`` and ``metrics``.
"""

from labelsphere.counting.cooccurrence import CooccurrenceCounter
from labelsphere.embedding import LabelEmbedding
from labelsphere.labels import LabelVocabulary

__version__ = "0.1.0"

__all__ = ["CooccurrenceCounter", "LabelEmbedding", "LabelVocabulary", "__version__"]
