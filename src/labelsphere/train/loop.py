"""The training loop: one loop for every head, with validation, checkpoints, resume, early stop.

``train`` fits a ``Classifier`` (backbone + head from the registry) on a ``MultiLabelDataset``,
evaluates on the validation split every ``eval_every`` steps (``evaluate_model``, apart from
the loop), keeps the best model in the run directory and checkpoints so that an interrupted
run resumes exactly (``resume=True``). The files are ``RunDir``'s.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor, nn
from tqdm import tqdm

from labelsphere.data import MultiLabelDataset
from labelsphere.heads import label_basis
from labelsphere.metrics import propensity_scores
from labelsphere.train.batches import FeatureBatches, ImageBatches, mixup_batch
from labelsphere.train.config import TrainConfig
from labelsphere.train.distributed import setup as setup_distributed
from labelsphere.train.evaluation import FULL_SCORES_LIMIT, evaluate_model
from labelsphere.train.memory import PeakMemory
from labelsphere.train.model import Classifier, build_classifier, image_backbone
from labelsphere.train.model_dir import save_model, update_checksums
from labelsphere.train.optimizer import build_optimizer, parameter_groups
from labelsphere.train.rundir import RunDir

if TYPE_CHECKING:
    from labelsphere.predict import Predictor

__all__ = ["TrainResult", "calibrate", "train", "train_step"]


@dataclass
class TrainResult:
    """What a run produced: the validation history and the best model's metrics.

    ``load_predictor()`` loads the best model; ``evaluate(test)`` scores it on a dataset with
    the same metrics as validation (PSP@k from the training labels saved with the model).
    """

    run_dir: Path
    history: list[dict[str, Any]]
    best: dict[str, Any]
    steps: int
    seconds: float
    stopped_early: bool
    peak_rss_mb: float | None = None
    is_main: bool = True  # False in the non-writing processes of a distributed run

    def load_predictor(self, device: str | torch.device = "cpu") -> Predictor:
        return RunDir(self.run_dir).load_predictor(device)

    def evaluate(self, data: MultiLabelDataset) -> dict[str, float]:
        return self.load_predictor().evaluate(data)


def _lr_lambda(config: TrainConfig, total: int) -> Callable[[int], float]:
    warm = int(config.warmup * total)

    def f(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        if config.schedule == "constant":
            return 1.0
        t = (step - warm) / max(1, total - warm)
        return 0.5 * (1 + math.cos(math.pi * t)) if config.schedule == "cosine" else max(0.0, 1 - t)

    return f


def train_step(
    model: Classifier,
    x: Tensor,
    y: Tensor,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    use_amp: bool,
    net: nn.Module | None = None,
) -> float:
    """One optimisation step on a batch (x (B, ...), y (B, L) multi-hot); returns the loss.

    ``net`` is the module the forward runs through: ``model`` itself, or its
    ``DistributedDataParallel`` wrapper, which averages the gradients over the processes.
    """
    # bfloat16 keeps float32's range, so gradients need no loss scaling.
    with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=use_amp):
        out = (net or model)(x)
    loss = model.loss(out, y)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    scheduler.step()
    return float(loss.detach())


def train(
    config: TrainConfig,
    train_data: MultiLabelDataset,
    val_data: MultiLabelDataset,
    run_dir: str | Path | RunDir,
    resume: bool = False,
    progress: bool = True,
    stop_after: int | None = None,
    feature_extractor: nn.Module | None = None,
    text_featurizer: Any = None,
    test_data: MultiLabelDataset | None = None,
) -> TrainResult:
    """Train ``config``'s model on ``train_data``, evaluating on ``val_data``; write ``run_dir``.

    Args:
        resume: continue from ``run_dir``'s latest checkpoint (same config required).
        progress: show a progress bar (loss, rate, ETA).
        stop_after: stop (as if interrupted) after this many steps; for tests and for
            splitting a long run. The checkpoint lets ``resume=True`` finish the run with
            the same result as an uninterrupted one.
        feature_extractor: the frozen image backbone that made ``train_data.X`` (see
            ``labelsphere.images.image_features``); saved into the model directory so it
            predicts from images.
        text_featurizer: the ``TextFeaturizer`` that made ``train_data.X`` from raw text;
            saved into the model directory so it predicts from text.
        test_data: also evaluate this split at every evaluation, recorded under ``"test"``
            in the history and never used to choose anything; its time is left out of the
            run's seconds. ``compare`` uses it to report the test metrics of the checkpoint
            validation picks within each shorter budget.

    Returns:
        A ``TrainResult``; ``run_dir`` holds ``config.json``, ``metrics.jsonl``,
        ``result.json``, ``checkpoints/`` and the best model in ``model/`` (see ``RunDir``).

    Examples:
        >>> from labelsphere.data import train_val_test  # doctest: +SKIP
        >>> tr, va, te = train_val_test("bibtex")  # doctest: +SKIP
        >>> result = train(TrainConfig(epochs=5), tr, va, "runs/bib")  # doctest: +SKIP
        >>> result.evaluate(te)["MAP@100"]  # doctest: +SKIP
    """
    run = run_dir if isinstance(run_dir, RunDir) else RunDir(run_dir)
    with PeakMemory() as mem:
        result, complete = _train(
            config,
            train_data,
            val_data,
            run,
            resume,
            progress,
            stop_after,
            feature_extractor,
            text_featurizer,
            test_data,
        )
    result.peak_rss_mb = mem.peak_mb
    if not result.is_main:
        return result
    if result.best:
        calibrate(run.model_dir, val_data)
    run.write_result(
        {
            "best": result.best,
            "steps": result.steps,
            "seconds": result.seconds,
            "stopped_early": result.stopped_early,
            "complete": complete,
            "peak_rss_mb": mem.peak_mb,
        }
    )
    return result


def calibrate(model_dir: Path, val_data: MultiLabelDataset, min_positives: int = 5) -> bool:
    """Fit per-label thresholds of the model in ``model_dir`` on ``val_data`` and save them there.

    Skipped (returns False) when the validation scores would exceed ``FULL_SCORES_LIMIT``:
    thresholds need every label's scores.
    """
    from labelsphere.calibration import THRESHOLDS_FILE, LabelThresholds
    from labelsphere.predict import Predictor

    if len(val_data) * val_data.Y.shape[1] > FULL_SCORES_LIMIT:
        return False
    predictor = Predictor.load(model_dir)
    scores, ok = predictor.scores(val_data.X)
    thresholds = LabelThresholds(min_positives).fit(val_data.Y[ok], scores[ok])
    thresholds.save(Path(model_dir) / THRESHOLDS_FILE)
    update_checksums(Path(model_dir))  # the model directory's checksums cover the new file
    return True


def _check_inputs(config: TrainConfig, train_data: MultiLabelDataset, val_data: MultiLabelDataset):
    if train_data.X is None:
        raise ValueError(f"{train_data.name}: training needs inputs (features or images), got none")
    if isinstance(train_data.X, list) and (config.backbone is None or config.frozen):
        raise ValueError(
            f"{train_data.name} holds image files: fine-tuning needs backbone=NAME and frozen=False; "
            "for frozen features run image_features() first"
        )
    from labelsphere.images.cnn import PIXEL_CNN

    renders = [
        isinstance(d.X, np.ndarray) and d.X.ndim == 3 and d.X.dtype == np.uint8
        for d in (train_data, val_data)
    ]
    if config.backbone == PIXEL_CNN and not all(renders):
        raise ValueError(
            f"backbone={PIXEL_CNN} trains on uint8 (n, H, W) renders (labelsphere.data.renders); "
            f"{train_data.name} and its validation split must both hold them"
        )
    if any(renders) and config.backbone != PIXEL_CNN:
        raise ValueError(f"{train_data.name} holds uint8 renders: they need backbone={PIXEL_CNN}")
    if train_data.vocabulary != val_data.vocabulary:
        raise ValueError("train and validation data must share one vocabulary")
    train_data.check_finite()
    val_data.check_finite()


def _train(
    config: TrainConfig,
    train_data: MultiLabelDataset,
    val_data: MultiLabelDataset,
    run: RunDir,
    resume: bool,
    progress: bool,
    stop_after: int | None,
    feature_extractor: nn.Module | None,
    text_featurizer: Any = None,
    test_data: MultiLabelDataset | None = None,
) -> tuple[TrainResult, bool]:
    _check_inputs(config, train_data, val_data)
    if test_data is not None and test_data.vocabulary != train_data.vocabulary:
        raise ValueError("train and test data must share one vocabulary")
    images = isinstance(train_data.X, list)
    ddp = setup_distributed(config.device)
    if ddp.is_main:  # one writer: under torch.distributed the other processes only read
        run.create()
        run.write_config(config, resume=resume)

    torch.manual_seed(config.seed)
    t_setup = time.perf_counter()  # wall-clock includes fitting the label embedding
    device = ddp.device
    n_labels = train_data.Y.shape[1]
    basis = label_basis(
        config.head, train_data.Y, config.n_components, config.seed, config.embedding_options
    )
    pixels = train_data.X.ndim == 3 if not images else False  # renders for the PixelCNN
    in_features = None if images or pixels else train_data.X.shape[1]
    # A model on renders records their size, so it can render image files for prediction.
    extra = {"pixel_input": {"size": int(train_data.X.shape[1])}} if pixels else None
    model = build_classifier(config, in_features, n_labels, basis).to(device)
    if device.type == "cuda" and pixels:
        # 1.7x faster steps for the PixelCNN on an H200 (benchmarks/pixel_cnn_speed.py).
        model = model.to(memory_format=torch.channels_last)
    image = image_backbone(model)
    head_params = dict(model.head.named_parameters())
    scales = {id(head_params[name]): s for name, s in model.head.lr_scales().items()}
    if images:
        data: FeatureBatches | ImageBatches = ImageBatches(
            train_data.X, train_data.Y, image.data_config, config.num_workers
        )
        # Fine-tuning: the pretrained backbone learns slower than the new layers.
        scales |= {id(p): config.backbone_lr_scale for p in image.parameters()}
    else:
        data = FeatureBatches(
            train_data.X, train_data.Y, sparse_targets=config.use_sparse_targets(n_labels)
        )
    groups = parameter_groups(model, config.lr, scales)
    optimizer = build_optimizer(groups, config.lr, config.weight_decay)
    spe = data.steps_per_epoch(config.batch_size)
    total = config.max_steps or config.epochs * spe
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _lr_lambda(config, total))
    eval_every = config.eval_every or spe
    ckpt_every = config.checkpoint_every or eval_every
    propensities = propensity_scores(train_data.Y)
    label_counts = (np.bincount(train_data.Y.indices, minlength=n_labels), train_data.Y.shape[0])
    use_amp = config.amp and device.type == "cuda"
    net: nn.Module = model
    if ddp.enabled:
        from torch.nn.parallel import DistributedDataParallel

        net = DistributedDataParallel(model, device_ids=[device] if device.type == "cuda" else None)

    step, history, best, bad_evals, elapsed = 0, [], {}, 0, 0.0
    running: float | None = None  # smoothed training loss
    model.head.prepare(train_data.Y)  # training statistics the loss reads, e.g. GLaS
    ckpt = run.load_checkpoint() if resume else None
    if ckpt is not None:
        from labelsphere.train.checkpoint import restore_state

        weights, opt_tensors, state = ckpt
        model.load_state_dict(weights)
        optimizer.load_state_dict(restore_state(state["optimizer"], opt_tensors))
        torch.set_rng_state(opt_tensors["rng.torch_cpu"])
        step, history, best = state["step"], state["history"], state["best"]
        bad_evals, elapsed, running = state["bad_evals"], state["seconds"], state["running"]
        # The optimizer's param groups carry the current lr; the scheduler its step count.
        scheduler.load_state_dict(state["scheduler"])
        if ddp.is_main:
            run.write_history(history)
    else:
        model.head.initialize(*label_counts)  # data-dependent init, e.g. prior biases
        if ddp.is_main:
            run.clear_history()

    stopped_early = False
    bar = tqdm(
        total=total,
        initial=step,
        desc=f"{config.head} seed {config.seed}",
        unit="step",
        disable=not progress or not ddp.is_main,
        dynamic_ncols=True,
    )
    t_start = (t_setup if ckpt is None else time.perf_counter()) - elapsed
    model.train()
    while step < total and not stopped_early:
        epoch, skip = divmod(step, spe)
        step_before = step
        batches = data.epoch(
            config.seed, epoch, config.batch_size, skip=skip, rank=ddp.rank, world=ddp.world
        )
        for x, y in batches:
            if config.mixup > 0:
                x, y = mixup_batch(x, y, config.mixup)
            lv = train_step(model, x.to(device), y.to(device), optimizer, scheduler, use_amp, net)
            lv = ddp.mean(lv)
            step += 1
            if not math.isfinite(lv):
                raise FloatingPointError(
                    f"loss became {lv} at step {step}; lower the learning rate"
                )
            running = lv if running is None else 0.98 * running + 0.02 * lv
            bar.update(1)
            bar.set_postfix(loss=f"{running:.4f}", refresh=False)
            if step % eval_every == 0 or step == total:
                seconds = time.perf_counter() - t_start
                m = evaluate_model(model, val_data.X, val_data.Y, device, propensities)
                model.train()
                rec = {"step": step, "epoch": step / spe, "seconds": seconds, "loss": running, **m}
                if diagnostics := model.head.diagnostics():
                    rec["head"] = diagnostics
                if test_data is not None:
                    t_test = time.perf_counter()
                    rec["test"] = evaluate_model(
                        model, test_data.X, test_data.Y, device, propensities
                    )
                    model.train()
                    t_start += time.perf_counter() - t_test  # not the run's time
                history.append(rec)
                if ddp.is_main:
                    run.append_evaluation(rec)
                if not best or m[config.monitor] > best[config.monitor]:
                    best, bad_evals = rec, 0
                    if ddp.is_main:
                        save_model(
                            run.model_dir,
                            model,
                            config,
                            train_data.vocabulary,
                            in_features,
                            extra=extra,
                            feature_extractor=feature_extractor,
                            label_counts=label_counts,
                            text_featurizer=text_featurizer,
                        )
                else:
                    bad_evals += 1
                    if config.patience is not None and bad_evals >= config.patience:
                        stopped_early = True
            interrupted = stop_after is not None and step >= stop_after
            checkpoint = step % ckpt_every == 0 or step == total or stopped_early or interrupted
            if checkpoint and ddp.is_main:
                run.save_checkpoint(
                    step,
                    model,
                    optimizer,
                    {
                        "history": history,
                        "best": best,
                        "bad_evals": bad_evals,
                        "running": running,
                        "scheduler": scheduler.state_dict(),  # JSON: ints, floats, [None] lambdas
                        "seconds": time.perf_counter() - t_start,
                    },
                )
            if stopped_early or step >= total or interrupted:
                break
        if stop_after is not None and step >= stop_after:
            break
        if step == step_before:
            # Every image of the epoch failed to load (each was warned about): nothing to learn.
            raise RuntimeError(
                f"{train_data.name}: an epoch produced no batch; see the warnings above"
            )
    bar.close()
    ddp.barrier()  # every process ends the run together; rank 0 then writes result.json
    seconds = time.perf_counter() - t_start
    result = TrainResult(run.path, history, best, step, seconds, stopped_early)
    result.is_main = ddp.is_main
    return result, step >= total or stopped_early
