"""Checkpoints: weights, optimizer state and RNG as safetensors, loop state as JSON.

``checkpoints/step-N/`` is written to a temporary directory; every file in it and the
directory are fsynced, then it is renamed into place (and the folder fsynced), then
``checkpoints/latest.json`` is atomically pointed at it, and only then are older checkpoints
deleted: at every instant ``latest.json`` names a complete checkpoint, so an interrupted run
resumes exactly where it was. A step saved twice (a fresh run over an old one) goes to
``step-N-1``, ... rather than replacing the directory ``latest.json`` may still name. Files
keep the user's umask. The optimizer's nested state dict is split into flat tensors and a
JSON skeleton (never pickled).

``latest.json`` is checked before it is followed: its ``path`` must name a ``step-N``
directory directly inside the run's ``checkpoints/`` folder (no ``..``, no absolute path, no
symlink leading out); anything else is a ``FormatError``.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from labelsphere.artifacts import (
    FormatError,
    atomic_write_text,
    check_format,
    fsync_dir,
    read_json,
    save_tensors,
)

__all__ = [
    "checkpoint_path",
    "load_checkpoint",
    "restore_state",
    "save_checkpoint",
    "state_tensors",
]

_CKPT_FORMAT = "labelsphere.Checkpoint"
_FORMAT_VERSION = 1
_CKPT_NAME = re.compile(r"step-\d+(-\d+)?")


def state_tensors(sd: dict[str, Any], prefix: str) -> tuple[dict[str, Tensor], Any]:
    """Split a (nested) state dict into flat tensors and a JSON skeleton referring to them."""
    tensors: dict[str, Tensor] = {}

    def walk(obj: Any, key: str) -> Any:
        if isinstance(obj, Tensor):
            name = f"{prefix}{key}"
            tensors[name] = obj.detach().cpu().contiguous()
            return {"__tensor__": name}
        if isinstance(obj, dict):
            return {
                "__dict__": [
                    [walk(k, f"{key}.k{i}"), walk(v, f"{key}.{i}")]
                    for i, (k, v) in enumerate(obj.items())
                ]
            }
        if isinstance(obj, (list, tuple)):
            return {
                "__list__": [walk(v, f"{key}.{i}") for i, v in enumerate(obj)],
                "tuple": isinstance(obj, tuple),
            }
        if isinstance(obj, float) and not math.isfinite(obj):
            return {"__float__": repr(obj)}
        return obj

    return tensors, walk(sd, "")


def restore_state(skeleton: Any, tensors: dict[str, Tensor]) -> Any:
    if isinstance(skeleton, dict):
        if "__tensor__" in skeleton:
            return tensors[skeleton["__tensor__"]]
        if "__dict__" in skeleton:
            return {
                restore_state(k, tensors): restore_state(v, tensors)
                for k, v in skeleton["__dict__"]
            }
        if "__list__" in skeleton:
            items = [restore_state(v, tensors) for v in skeleton["__list__"]]
            return tuple(items) if skeleton.get("tuple") else items
        if "__float__" in skeleton:
            return float(skeleton["__float__"])
    return skeleton


def _fsync_tree(directory: Path) -> None:
    """fsync every file in ``directory`` (one level: a checkpoint is flat), then the directory."""
    for f in directory.iterdir():
        if f.is_file():
            with open(f, "rb") as fh:
                os.fsync(fh.fileno())
    fsync_dir(directory)


def save_checkpoint(
    run_dir: Path, step: int, model: nn.Module, optimizer: torch.optim.Optimizer, state: dict
) -> None:
    ckpt_root = run_dir / "checkpoints"
    final = ckpt_root / f"step-{step}"
    n = 0
    while final.exists() or final.is_symlink():  # never replace what latest.json may name
        n += 1
        final = ckpt_root / f"step-{step}-{n}"
    tmp = ckpt_root / f".{final.name}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        save_tensors(
            tmp / "model.safetensors",
            {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()},
        )
        opt_tensors, opt_skeleton = state_tensors(optimizer.state_dict(), "opt")
        rng = {"torch_cpu": torch.get_rng_state()}
        if torch.cuda.is_available():
            for i, s in enumerate(torch.cuda.get_rng_state_all()):
                rng[f"torch_cuda{i}"] = s
        save_tensors(
            tmp / "optimizer.safetensors",
            {**opt_tensors, **{f"rng.{k}": v for k, v in rng.items()}},
        )
        (tmp / "state.json").write_text(
            json.dumps(
                {
                    "format": _CKPT_FORMAT,
                    "format_version": _FORMAT_VERSION,
                    "step": step,
                    "optimizer": opt_skeleton,
                    **state,
                }
            )
        )
        _fsync_tree(tmp)  # the data is on disk before the directory is renamed into place
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)  # disk full...: the previous checkpoint stays
        raise
    os.replace(tmp, final)  # the directory appears complete or not at all
    fsync_dir(ckpt_root)
    atomic_write_text(ckpt_root / "latest.json", json.dumps({"step": step, "path": final.name}))
    # Only now that latest.json names the new one: keep only the newest.
    for old in ckpt_root.glob("step-*"):
        if old != final:
            shutil.rmtree(old, ignore_errors=True)


def checkpoint_path(run_dir: Path) -> Path | None:
    """The checkpoint directory ``latest.json`` names, checked to be inside
    ``run_dir/checkpoints``; ``None`` when there is no ``latest.json``."""
    root = Path(run_dir) / "checkpoints"
    latest = root / "latest.json"
    if not latest.is_file():
        return None
    pointer = read_json(latest)
    name = pointer.get("path") if isinstance(pointer, dict) else None
    if not isinstance(name, str) or not _CKPT_NAME.fullmatch(name):
        raise FormatError(
            f"{latest}: 'path' should name a step-N checkpoint directory in {root}, got "
            f"{name!r:.80} (refused, not followed)"
        )
    path = root / name
    if path.resolve().parent != root.resolve():
        raise FormatError(
            f"{latest}: {path} leads outside {root} (a symlink?); refused, not followed"
        )
    if not isinstance(pointer.get("step"), int):
        raise FormatError(f"{latest}: 'step' should be an integer, got {pointer.get('step')!r:.40}")
    return path


def load_checkpoint(run_dir: Path) -> tuple[dict[str, Tensor], dict[str, Tensor], dict] | None:
    from safetensors.torch import load_file

    path = checkpoint_path(run_dir)
    if path is None:
        return None
    state = read_json(path / "state.json")
    if not isinstance(state, dict):
        raise FormatError(f"{path / 'state.json'}: expected a JSON object")
    check_format(state, path / "state.json", _CKPT_FORMAT, _FORMAT_VERSION)
    try:
        return (
            load_file(str(path / "model.safetensors")),
            load_file(str(path / "optimizer.safetensors")),
            state,
        )
    except Exception as e:
        raise FormatError(f"{path}: unreadable checkpoint ({e})") from None
