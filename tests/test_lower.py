"""One lowering, two backends: every registered layer's examples give the same outputs from
``build_model`` and from the ejected model.py loaded with the same weights."""

from __future__ import annotations

import pathlib
from importlib.util import find_spec
from typing import Any

import pytest
import torch
from ejected import import_file

import netspec
from netspec.backend.build import class_name
from netspec.backend.eject import model_source
from netspec.backend.lower import lower
from netspec.dims import Shape
from netspec.layers import all_layers, registry
from netspec.layers.ir import FnCall, Ref
from netspec.layers.registry import Example

# Distinct parameter-free inputs for a merge's extra inputs, so that swapped inputs show.
_EXTRA = ("tanh", "sigmoid", "silu")

CASES = [
    pytest.param(layer.name, i, example, id=f"{layer.name}-{i}")
    for layer in all_layers()
    for i, example in enumerate(layer.examples)
]


def _spec(name: str, index: int, example: Example) -> dict[str, Any]:
    """A one-layer spec of the example (a merge also gets parameter-free extra inputs, and an
    input of another shape, extra_shapes, is a model input of its own: `inputs:`)."""
    first = "x" if example.extra_shapes else "input"
    layers: list[dict[str, Any]] = []
    sources = [first]
    for k in range(example.extra_inputs):
        layers.append({"type": _EXTRA[k], "from": first, "name": f"in_{k + 1}"})
        sources.append(f"in_{k + 1}")
    sources += [f"extra_{k}" for k in range(len(example.extra_shapes))]
    entry: dict[str, Any] = {"type": name, **example.args}
    if len(sources) > 1 and not registry.get(name).structural:
        entry["from"] = sources  # a residual makes its own second input: its body's output
    layers.append(entry)
    declared: dict[str, Any] = {"shape": list(example.in_shape), "dtype": example.dtype}
    if registry.get(name).graph_input is not None:
        declared["graph"] = True
    spec: dict[str, Any] = {"name": f"lower_{name}_{index}", "layers": layers}
    if example.extra_shapes:
        spec["inputs"] = {first: declared} | {
            f"extra_{k}": list(shape) for k, shape in enumerate(example.extra_shapes)
        }
    else:
        spec["input"] = declared
    return spec


def _input(in_shape: Shape, dtype: str, batch: int) -> torch.Tensor:
    shape = (batch, *(int(d) for d in in_shape))  # type: ignore[arg-type]
    if dtype == "int64":
        # ids valid for every embedding of the examples (the smallest vocabulary is 16)
        return torch.randint(0, 16, shape)
    return torch.randn(shape)


def test_every_registered_layer_is_covered() -> None:
    covered = {case.values[0] for case in CASES}
    assert covered == {layer.name for layer in all_layers()}


@pytest.mark.parametrize(("name", "index", "example"), CASES)
def test_ejected_model_py_equals_built_module(
    name: str, index: int, example: Example, tmp_path: pathlib.Path
) -> None:
    if registry.get(name).graph_input == "edge_index" and not find_spec("torch_geometric"):
        pytest.skip("needs torch_geometric (netspec[graph])")
    spec = netspec.load_spec(_spec(name, index, example))
    p = netspec.plan(spec)
    built = netspec.build_model(spec, seed=0).eval()
    path = tmp_path / "model.py"
    path.write_text(model_source(p), encoding="utf-8")
    module = import_file(path, f"netspec_lower_{name}_{index}")
    ejected = getattr(module, class_name(p.name))()
    ejected.load_state_dict(built.state_dict(), strict=True)
    ejected.eval()
    torch.manual_seed(index)
    xs = [_input(example.in_shape, example.dtype, batch=2)]
    xs += [_input(shape, "float32", batch=2) for shape in example.extra_shapes]
    if p.graph:  # two nodes, joined both ways, each its own graph (graph_pool's output: 2)
        xs += [torch.tensor([[0, 1], [1, 0]]), torch.tensor([0, 1])]
    with torch.no_grad():
        want = built(*xs)
        got = ejected(*xs)
    assert tuple(want.shape) == (2, *p.output.shape)
    torch.testing.assert_close(got, want)


def test_lower_gives_one_node_per_layer_with_its_call_and_activation() -> None:
    p = netspec.plan(
        {
            "name": "nodes",
            "input": [3, 8, 8],
            "layers": [
                {"conv2d": {"filters": 4, "kernel_size": 3, "activation": "relu", "name": "a"}},
                {"conv2d": {"filters": 4, "kernel_size": 3, "from": "input", "name": "b"}},
                {"add": {"from": ["a", "b"]}},
            ],
        }
    )
    a, b, add = lower(p)
    assert (a.name, a.inputs, a.out.shape) == ("a", ("input",), (4, 6, 6))
    assert a.module is not None
    assert (a.module.target, a.module.args, a.params) == ("nn.Conv2d", (3, 4, (3, 3)), 112)
    assert a.activation == FnCall("torch.relu", (Ref(0),))
    assert b.activation is None
    assert isinstance(add.op, FnCall)
    assert add.module is None
    assert (add.op.fn, add.inputs) == ("operator.add", ("a", "b"))


def test_ejected_positional_encoding_names_max_len_too(tmp_path: pathlib.Path) -> None:
    spec = "name: positions\ninput: [T, 8]\nlayers:\n  - positional_encoding: {max_len: 16}\n"
    path = tmp_path / "model.py"
    path.write_text(model_source(netspec.plan(spec)), encoding="utf-8")
    model = import_file(path, "netspec_lower_positions").Positions()
    assert tuple(model(torch.zeros(2, 16, 8)).shape) == (2, 16, 8)
    with pytest.raises(
        ValueError,
        match=r"^positional_encoding \(kind: sinusoidal\): the sequence length 17 exceeds "
        r"max_len 16; raise max_len to 17 or more$",
    ):
        model(torch.zeros(2, 17, 8))
