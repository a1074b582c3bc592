"""build_model: a real fx GraphModule named after the layers, checked against the plan."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch import fx
from torch.utils.flop_counter import FlopCounterMode

import netspec
from netspec import SpecError, plan
from netspec.layers import registry
from netspec.layers.registry import Inferred

GRAPH = """
name: branchy
input: [3, 8, 8]
layers:
  - conv2d: {filters: 4, kernel_size: 3, padding: same, activation: relu, name: stem}
  - conv2d: {filters: 4, kernel_size: 1, name: a}
  - conv2d: {filters: 4, kernel_size: 3, padding: same, from: stem, name: b}
  - add: {from: [a, b]}
  - concat: {from: [add_0, stem], dim: 1}
  - residual:
      - conv2d: {filters: 8, kernel_size: 3, padding: same}
      - tanh
  - conv2d: {filters: 2, kernel_size: 3, stride: 2, padding: same}
  - multiply: {from: [conv2d_0, conv2d_0]}
  - dense: {units: 5, trainable: false}
"""


def test_graph_module_with_layer_names_and_plan_shapes() -> None:
    model = netspec.build_model(GRAPH, seed=0)
    assert isinstance(model, fx.GraphModule)
    assert type(model).__name__ == "Branchy"
    keys = list(model.state_dict())
    assert keys[:2] == ["stem.weight", "stem.bias"]
    assert "residual_0.conv2d_0.weight" in keys
    p = plan(GRAPH)
    y = model(torch.randn(3, 3, 8, 8))
    assert tuple(y.shape) == (3, *p.output.shape)
    assert p.total_params == sum(t.numel() for t in model.parameters())
    assert (
        p.non_trainable_params
        == sum(t.numel() for t in model.parameters() if not t.requires_grad)
        == 5 * 4 + 5
    )


def test_graph_semantics_equal_hand_written_torch() -> None:
    model = netspec.build_model(GRAPH, seed=0).eval()
    m = dict(model.named_modules())
    x = torch.randn(2, 3, 8, 8)
    stem = torch.relu(m["stem"](x))
    added = m["a"](stem) + m["b"](stem)
    cat = torch.cat([added, stem], dim=1)
    res = cat + torch.tanh(m["residual_0.conv2d_0"](cat))
    c = m["conv2d_0"](res)
    want = m["dense_0"](c * c)
    torch.testing.assert_close(model(x), want)


def test_seed_is_reproducible_and_leaves_global_rng_alone() -> None:
    state = torch.get_rng_state()
    a = netspec.build_model(GRAPH, seed=7).state_dict()
    b = netspec.build_model(GRAPH, seed=7).state_dict()
    c = netspec.build_model(GRAPH, seed=8).state_dict()
    assert torch.equal(torch.get_rng_state(), state)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["stem.weight"], c["stem.weight"])


def test_macs_and_params_of_whole_model_match_torch() -> None:
    p = plan(GRAPH)
    with torch.device("meta"):
        model = netspec.build_model(GRAPH)
        with FlopCounterMode(display=False) as counter:
            model.to("meta")(torch.empty(1, 3, 8, 8))
    assert counter.get_total_flops() // 2 == p.macs


def test_symbolic_dims_build_and_run_at_any_length() -> None:
    spec = "input: [T, 6]\nlayers:\n  - dense: 4\n  - relu\n"
    model = netspec.build_model(spec, seed=0)
    for length in (1, 5, 33):
        assert model(torch.randn(2, length, 6)).shape == (2, length, 4)


def test_budget_refuses_before_allocating(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args: object) -> None:
        raise AssertionError("allocated")

    monkeypatch.setattr("netspec.backend.build.assemble", boom)
    with pytest.raises(SpecError, match=r"has 4,100 parameters .* over the budget of 1,000") as e:
        netspec.build_model("input: [40]\nlayers: [dense: 100]\n", max_params=1000)
    assert e.value.diagnostics[0].code == "budget"
    monkeypatch.setenv("NETSPEC_MAX_PARAMS", "100")
    with pytest.raises(SpecError, match="over the budget of 100"):
        netspec.build_model("input: [40]\nlayers: [dense: 100]\n")


def test_plan_torch_disagreement_is_a_netspec_bug(monkeypatch: pytest.MonkeyPatch) -> None:
    dense = registry.get("dense")
    original = dense.infer

    def wrong(cfg: object, inputs: tuple[registry.Tensor, ...]) -> Inferred:
        right = original(cfg, inputs)
        return Inferred(right.out, right.params + 1, right.macs)

    monkeypatch.setitem(registry._REGISTRY, "dense", dataclasses.replace(dense, infer=wrong))
    with pytest.raises(RuntimeError, match=r"netspec bug: layer dense_0 .* plan says 41 params"):
        netspec.build_model("input: [4]\nlayers: [dense: 8]\n")
