"""Label co-occurrence counts: exact, in memory proportional to the co-occurring pairs.

Data flow: ``cooccurrence`` (``CooccurrenceCounter``: label and pair counts, batch by batch,
merged, saved) -> ``shards`` (``count_shards``: one pass over many label files, bounded memory,
a checkpoint per file) -> ``distributed`` (``count_shards_distributed``: each ``torchrun`` rank
counts its files, then tensor collectives combine them, bit-identical to one process).
"""

from labelsphere.counting.cooccurrence import CooccurrenceCounter
from labelsphere.counting.distributed import count_shards_distributed
from labelsphere.counting.shards import count_shards

__all__ = ["CooccurrenceCounter", "count_shards", "count_shards_distributed"]
