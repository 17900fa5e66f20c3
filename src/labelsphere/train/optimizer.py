"""The optimizer every run uses: AdamW, fused where a parameter is as large as a label table at scale."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import torch
from torch import nn

__all__ = ["FUSED_ADAMW_ABOVE", "build_optimizer", "parameter_groups"]

# 2**26 float32 values are 256 MB: a learned (131k, 512) label table or a (52k, 1280) output layer.
FUSED_ADAMW_ABOVE = 2**26


def build_optimizer(
    groups: Iterable[dict[str, Any]], lr: float, weight_decay: float
) -> torch.optim.AdamW:
    """AdamW over ``groups``; its fused kernel where any parameter has ``FUSED_ADAMW_ABOVE`` values.

    AdamW's foreach (and single-tensor) step divides by ``sqrt(v)`` through two temporaries
    the size of each parameter: for the default head's learned (1M, 512) table that is 4 GB
    over the 8 GB its weights, gradient and moments take, and the step, not the backward, set
    the peak (12.3 GB; docs/scale.md). The fused kernel updates in place (9.2 GB). It rounds
    differently (about 1e-7 per step), so smaller models keep the foreach step, bitwise what
    every earlier run did.

    Parameters
    ----------
    groups : iterable of dict
        ``torch.optim`` parameter groups (each with ``"params"`` and optionally ``"lr"``).
    lr, weight_decay : float
        AdamW's defaults for the groups.

    Returns
    -------
    torch.optim.AdamW

    Examples
    --------
    >>> import torch
    >>> layer = torch.nn.Linear(4, 3)
    >>> print(build_optimizer([{"params": list(layer.parameters())}], 1e-3, 0.0).defaults["fused"])
    None
    """
    groups = [dict(g, params=list(g["params"])) for g in groups]
    largest = max((p.numel() for g in groups for p in g["params"]), default=0)
    fused = True if largest >= FUSED_ADAMW_ABOVE else None
    return torch.optim.AdamW(groups, lr=lr, weight_decay=weight_decay, fused=fused)


def parameter_groups(
    model: nn.Module, lr: float, scales: Mapping[int, float]
) -> list[dict[str, Any]]:
    """``model``'s parameters as optimizer groups: one at ``lr``, then one per scale at ``lr * s``.

    Parameters
    ----------
    model : nn.Module
    lr : float
    scales : mapping of ``id(parameter)`` to its learning-rate multiplier
        Parameters not named here go to the first group, in model order, so a model without
        multipliers has exactly the one group it always had (and its checkpoints resume).
        One group per distinct multiplier follows, in the order of its first parameter.

    Returns
    -------
    list of dict
        ``torch.optim`` parameter groups, each with ``"params"`` and ``"lr"``.

    Examples
    --------
    >>> import torch
    >>> net = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Linear(3, 2))
    >>> groups = parameter_groups(net, 1e-3, {id(net[1].weight): 0.1})
    >>> [(len(g["params"]), g["lr"]) for g in groups]
    [(3, 0.001), (1, 0.0001)]
    """
    groups: dict[float | None, list[nn.Parameter]] = {None: []}
    for p in model.parameters():
        groups.setdefault(float(scales[id(p)]) if id(p) in scales else None, []).append(p)
    return [{"params": params, "lr": lr * (s or 1.0)} for s, params in groups.items()]
