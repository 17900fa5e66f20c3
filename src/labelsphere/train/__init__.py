"""Training: a thin loop over library parts, one module per concept.

config.py      TrainConfig: everything that defines a run (config.json)
model.py       MLP, Classifier (backbone + head), build_classifier
batches.py     FeatureBatches, ImageBatches, mixup_batch: what the loop iterates
evaluation.py  predict_scores, evaluate_model, score_metrics: validation and test metrics
checkpoint.py  exact-resume checkpoints (safetensors + JSON, never pickle)
model_dir.py   save_model / load_model: the self-contained best model
rundir.py      RunDir: the one place that knows a run's files
memory.py      PeakMemory: what a run added to resident memory
inputs.py      prepare_inputs: frozen image features or fine-tuning settings for a dataset
loop.py        train, train_step, TrainResult
recipe.py      train_dataset: dataset name -> trained, test-evaluated run (the CLI's call)
"""

from labelsphere.device import resolve_device
from labelsphere.heads.registry import HEADS
from labelsphere.images.featurize import image_features
from labelsphere.train.batches import FeatureBatches, ImageBatches, mixup_batch
from labelsphere.train.config import TrainConfig
from labelsphere.train.evaluation import evaluate_model, predict_scores, score_metrics
from labelsphere.train.inputs import ImageOptions, PreparedInputs, TextOptions, prepare_inputs
from labelsphere.train.loop import TrainResult, train, train_step
from labelsphere.train.memory import PeakMemory
from labelsphere.train.model import MLP, Classifier, build_classifier, image_backbone
from labelsphere.train.model_dir import load_feature_extractor, load_model, save_model
from labelsphere.train.recipe import TrainedModel, config_from_spec, train_dataset
from labelsphere.train.rundir import RunDir

__all__ = [
    "HEADS",
    "MLP",
    "Classifier",
    "FeatureBatches",
    "ImageBatches",
    "ImageOptions",
    "PeakMemory",
    "PreparedInputs",
    "RunDir",
    "TextOptions",
    "TrainConfig",
    "TrainResult",
    "TrainedModel",
    "build_classifier",
    "config_from_spec",
    "evaluate_model",
    "image_backbone",
    "image_features",
    "load_feature_extractor",
    "load_model",
    "mixup_batch",
    "predict_scores",
    "prepare_inputs",
    "resolve_device",
    "save_model",
    "score_metrics",
    "train",
    "train_dataset",
    "train_step",
]
