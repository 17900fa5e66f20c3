"""``Predictor``: any saved model -> scores and top-k labels for feature rows, arrays or images.

A model directory (written by ``train``) is one of three kinds, read once from ``model.json``:

* ``"features"``: an MLP on feature vectors; inputs are rows (dense or CSR) or .npy/.npz files;
* ``"frozen-image"``: trained on a frozen backbone's features; the backbone is saved with the
  model, so image files go through it first (feature rows work too);
* ``"image"``: a fine-tuned backbone + MLP + head; inputs are image files;
* ``"text"``: trained on text features; the ``TextFeaturizer`` is saved with the model, so
  inputs are raw strings;
* ``"pixels"``: the ``PixelCNN`` trained end to end on (n, S, S) uint8 grayscale renders;
  inputs are such arrays, or image/SVG files rendered at S first.

``Predictor`` is what ``labelsphere predict``, ``evaluate`` and ``compare`` use to score a
saved model, and what a server holds in memory.

Modules: :mod:`~labelsphere.predict.inputs` reads what a model is given (feature-row files, a
dataset split as ``train`` saw it); :mod:`~labelsphere.predict.predictor` holds ``Predictor``.
"""

from labelsphere.predict.inputs import load_split, read_rows
from labelsphere.predict.predictor import Prediction, Predictor, evaluate_model_dir

__all__ = ["Prediction", "Predictor", "evaluate_model_dir", "load_split", "read_rows"]
