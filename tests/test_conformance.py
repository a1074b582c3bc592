"""torch is the oracle: for every registered layer, predicted shape, params and MACs equal
torch's real module (MACs = FlopCounterMode total / 2 on the meta device)."""

from __future__ import annotations

import importlib
import pathlib
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from oracle import check

from netspec.layers import all_layers

# Layers whose shape rule is exercised through whole specs instead (residual's body).
COVERED_ELSEWHERE = {"residual"}
# Graph layers (PyG) cannot run on the meta device (data-dependent self loops and scatter
# sizes) and take edge_index: tests/test_layers_graph.py checks them on CPU, on real graphs.
GRAPH = {layer.name for layer in all_layers() if layer.graph_input is not None}


def _strategies() -> dict[str, Any]:
    found: dict[str, Any] = {}
    for path in sorted(pathlib.Path(__file__).parent.glob("strategies_*.py")):
        found.update(importlib.import_module(path.stem).STRATEGIES)
    return found


STRATEGIES = _strategies()
MULTI = {"add", "multiply", "concat"}
LAYERS = [layer.name for layer in all_layers() if layer.name not in COVERED_ELSEWHERE | GRAPH]


def test_every_layer_has_examples_and_a_strategy() -> None:
    missing = [name for name in LAYERS if name not in STRATEGIES]
    assert not missing, f"layers without a hypothesis strategy: {missing}"
    no_examples = [
        layer.name
        for layer in all_layers()
        if not layer.examples and layer.name not in COVERED_ELSEWHERE
    ]
    assert not no_examples


@pytest.mark.parametrize(
    ("name", "example"),
    [
        (layer.name, ex)
        for layer in all_layers()
        if layer.name not in GRAPH
        for ex in layer.examples
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_registered_examples_match_torch(name: str, example: Any) -> None:
    check(
        name,
        example.args,
        example.in_shape,
        example.dtype,
        example.extra_inputs,
        example.extra_shapes,
    )


@pytest.mark.parametrize("name", LAYERS)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_generated_configs_match_torch(name: str, data: st.DataObject) -> None:
    case = data.draw(STRATEGIES[name], label=name)
    args, shape = case[0], case[1]
    dtype = case[2] if len(case) > 2 else "float32"
    extra_shapes = case[3] if len(case) > 3 else ()  # inputs of other shapes (cross-attention)
    extra = data.draw(st.integers(1, 2)) if name in MULTI else 0
    check(name, args, shape, dtype, extra, extra_shapes)
