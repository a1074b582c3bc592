"""One lowering, two backends: every registered layer's examples give the same outputs from
``build_model`` and from the ejected model.py loaded with the same weights."""

from __future__ import annotations

import importlib.util
import pathlib
import sys
from typing import Any

import pytest
import torch

import netspec
from netspec.backend.build import class_name
from netspec.backend.eject import model_source
from netspec.backend.lower import lower
from netspec.layers import all_layers, registry
from netspec.layers.ir import FnCall, Ref
from netspec.layers.registry import Example

# Distinct parameter-free inputs for a merge's extra inputs, so that swapped inputs show.
_EXTRA = ("tanh", "sigmoid", "silu")

# An example with inputs of other shapes (extra_shapes) needs a spec with several inputs;
# until specs have them, those layers are ejected in their own tests (test_layers_select).
CASES = [
    pytest.param(layer.name, i, example, id=f"{layer.name}-{i}")
    for layer in all_layers()
    for i, example in enumerate(layer.examples)
    if not example.extra_shapes
]


def _spec(name: str, index: int, example: Example) -> dict[str, Any]:
    """A one-layer spec of the example (a merge also gets parameter-free extra inputs)."""
    layers: list[dict[str, Any]] = []
    sources = ["input"]
    for k in range(example.extra_inputs):
        layers.append({"type": _EXTRA[k], "from": "input", "name": f"in_{k + 1}"})
        sources.append(f"in_{k + 1}")
    entry: dict[str, Any] = {"type": name, **example.args}
    if example.extra_inputs and not registry.get(name).structural:
        entry["from"] = sources  # a residual makes its own second input: its body's output
    layers.append(entry)
    return {
        "name": f"lower_{name}_{index}",
        "input": {"shape": list(example.in_shape), "dtype": example.dtype},
        "layers": layers,
    }


def _import(path: pathlib.Path, module_name: str) -> Any:
    spec = importlib.util.spec_from_file_location(module_name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses and pickling look classes up here
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[module_name]
    return module


def _input(example: Example, batch: int) -> torch.Tensor:
    shape = (batch, *(int(d) for d in example.in_shape))  # type: ignore[arg-type]
    if example.dtype == "int64":
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
    spec = netspec.load_spec(_spec(name, index, example))
    p = netspec.plan(spec)
    built = netspec.build_model(spec, seed=0).eval()
    path = tmp_path / "model.py"
    path.write_text(model_source(p), encoding="utf-8")
    module = _import(path, f"netspec_lower_{name}_{index}")
    ejected = getattr(module, class_name(p.name))()
    ejected.load_state_dict(built.state_dict(), strict=True)
    ejected.eval()
    torch.manual_seed(index)
    x = _input(example, batch=2)
    with torch.no_grad():
        want = built(x)
        got = ejected(x)
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
    model = _import(path, "netspec_lower_positions").Positions()
    assert tuple(model(torch.zeros(2, 16, 8)).shape) == (2, 16, 8)
    with pytest.raises(
        ValueError,
        match=r"^positional_encoding \(kind: sinusoidal\): the sequence length 17 exceeds "
        r"max_len 16; raise max_len to 17 or more$",
    ):
        model(torch.zeros(2, 17, 8))
