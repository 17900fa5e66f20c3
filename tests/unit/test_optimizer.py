"""The training optimizer: AdamW's foreach step for ordinary models, its fused kernel for huge tables."""

from __future__ import annotations

import torch

from labelsphere.train import optimizer as optim_module
from labelsphere.train.optimizer import FUSED_ADAMW_ABOVE, build_optimizer


def _train(make, steps: int = 30) -> list[torch.Tensor]:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.ReLU(), torch.nn.Linear(32, 50))
    opt = make([{"params": model.parameters(), "lr": 3e-3}])
    g = torch.Generator().manual_seed(1)
    for _ in range(steps):
        loss = model(torch.randn(8, 16, generator=g)).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return [p.detach().clone() for p in model.parameters()]


def test_small_models_step_bitwise_as_plain_adamw():
    want = _train(lambda groups: torch.optim.AdamW(groups, lr=1e-3, weight_decay=0.01))
    got = _train(lambda groups: build_optimizer(groups, 1e-3, 0.01))
    assert all(torch.equal(a, b) for a, b in zip(got, want, strict=True))


def test_a_table_at_the_threshold_gets_the_fused_kernel():
    small = torch.nn.Parameter(torch.empty(FUSED_ADAMW_ABOVE - 1))
    big = torch.nn.Parameter(torch.empty(FUSED_ADAMW_ABOVE))  # never touched: no RSS
    assert build_optimizer([{"params": [small]}], 1e-3, 0.0).defaults["fused"] is None
    opt = build_optimizer([{"params": [small]}, {"params": [big], "lr": 1e-4}], 1e-3, 0.0)
    assert opt.defaults["fused"] is True
    assert [g["lr"] for g in opt.param_groups] == [1e-3, 1e-4]


def test_the_fused_step_is_the_same_algorithm(monkeypatch):
    want = _train(lambda groups: build_optimizer(groups, 1e-3, 0.01))
    monkeypatch.setattr(optim_module, "FUSED_ADAMW_ABOVE", 1)
    got = _train(lambda groups: build_optimizer(groups, 1e-3, 0.01))
    assert not all(torch.equal(a, b) for a, b in zip(got, want, strict=True))  # rounds otherwise
    for a, b in zip(got, want, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


def test_parameter_groups_keep_one_group_without_multipliers():
    net = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Linear(3, 2))
    (only,) = optim_module.parameter_groups(net, 1e-3, {})
    assert only["lr"] == 1e-3 and [id(p) for p in only["params"]] == [
        id(p) for p in net.parameters()
    ]
    # A named multiplier makes its own group even at 1 (the image backbone's group always existed),
    # and equal multipliers share one.
    scales = {id(net[0].weight): 1.0, id(net[1].weight): 0.1, id(net[1].bias): 0.1}
    groups = optim_module.parameter_groups(net, 1e-3, scales)
    assert [(len(g["params"]), g["lr"]) for g in groups] == [(1, 1e-3), (1, 1e-3), (2, 1e-4)]
    assert groups[0]["params"][0] is net[0].bias
