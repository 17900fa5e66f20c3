"""Evaluation metrics for multi-label ranking: P@k, R@k, nDCG@k, MAP@k, PSP@k, per-label AP, mAP, and
recall by training-frequency band.

Inputs
------
``Y_true``
    Multi-hot ground truth of shape (n, L): a scipy sparse matrix or a dense 0/1 array. It is
    validated with :func:`labelsphere.labels.check_multihot` and used as CSR internally, so
    n = 20k samples by L = 35k labels costs memory proportional to the number of true labels.
``ranked``
    Top-k label indices of shape (n, k'), integer, best first, as returned by
    :func:`labelsphere.decode.topk` or :func:`labelsphere.decode.topk_similar`. Metrics at k use
    the first k columns; ``k' >= min(k, L)`` is required (a ranking cannot hold more than L
    distinct labels, so for k > L the full ranking of all L labels is enough). Indices must lie
    in [0, L) and be distinct within the columns used.
``scores``
    Dense real scores of shape (n, L) (higher = more relevant), needed only for the per-label
    metrics (:func:`average_precision_per_label`, :func:`mean_average_precision`) and for
    :func:`evaluate` when no ranking is given.

Conventions
-----------
* **Samples with no true label.** ``precision_at_k`` counts them as 0 and averages over *all*
  samples, as the Extreme Classification Repository and pyxclib do (so P@k of a perfect ranking
  is below 1 when such samples exist). ``recall_at_k``, ``ndcg_at_k`` and ``map_at_k`` average
  over the samples with at least one true label only (their per-sample value is 0/0 otherwise).
  ``psp_at_k`` is a ratio of sums over samples, to which such samples add 0 on both sides.
* **k larger than the number of labels.** P@k still divides by k (pyxclib convention).
* **Nothing to average.** When no sample (or, for mAP, no label) qualifies, the result is NaN.
* **Ties.** Ranking metrics take ``ranked`` as given; :func:`labelsphere.decode.topk` breaks
  ties in favour of the lower label index. :func:`average_precision_per_label` handles tied
  scores exactly as scikit-learn does (see there).

All functions are vectorised over samples: membership of the ranked labels in the true sets is
one binary search of ``row * L + label`` keys in the sorted CSR keys, and everything else is
array arithmetic on the resulting (n, k) hit matrix.
"""

from labelsphere.metrics._bands import metrics_by_frequency_band
from labelsphere.metrics._evaluate import evaluate
from labelsphere.metrics._label_ap import average_precision_per_label, mean_average_precision
from labelsphere.metrics._propensity import propensities_from_counts, propensity_scores, psp_at_k
from labelsphere.metrics._ranking import map_at_k, ndcg_at_k, precision_at_k, recall_at_k

__all__ = [
    "average_precision_per_label",
    "evaluate",
    "map_at_k",
    "mean_average_precision",
    "metrics_by_frequency_band",
    "ndcg_at_k",
    "precision_at_k",
    "propensities_from_counts",
    "propensity_scores",
    "psp_at_k",
    "recall_at_k",
]
