"""torch as the oracle: run one layer on the meta device and compare with netspec's plan."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import fx, nn
from torch.utils.flop_counter import FlopCounterMode

from netspec.backend import functions as backend_functions
from netspec.backend.build import emit_call, instantiate
from netspec.dims import Shape
from netspec.layers import functions, registry
from netspec.layers.registry import Inferred, Tensor


@dataclass(frozen=True)
class Measured:
    out_shape: tuple[int, ...]  # per sample
    params: int
    macs: int  # per sample: FlopCounterMode total / 2 at batch 1


def _function_module(layer: registry.LayerType[Any], cfg: Any, n: int) -> nn.Module:
    """A function layer (add, concat) as a module taking its n inputs."""
    graph = fx.Graph()
    args = [graph.placeholder(f"x{i}") for i in range(n)]
    assert layer.function is not None
    graph.output(emit_call(graph, layer.function(cfg, n), args))
    return fx.GraphModule(nn.Module(), graph)


def predicted(type_name: str, args: Mapping[str, Any], inputs: Sequence[Tensor]) -> Inferred:
    layer = registry.get(type_name)
    cfg = layer.config.model_validate(dict(args))
    return layer.infer(cfg, tuple(inputs))


def measure(type_name: str, args: Mapping[str, Any], inputs: Sequence[Tensor]) -> Measured:
    """Build the real torch module for one layer and measure it on the meta device."""
    layer = registry.get(type_name)
    cfg = layer.config.model_validate(dict(args))
    with torch.device("meta"):
        if layer.module is not None:
            module = instantiate(layer.module(cfg, tuple(inputs)))
        else:
            module = _function_module(layer, cfg, len(inputs))
        module.train()
        act = functions.activation(layer.output_activation(cfg))

        def run(batch: int) -> torch.Tensor:
            xs = [_example(t.shape, t.dtype, batch) for t in inputs]
            y = module(*xs)
            return backend_functions.table()[act.fn](y, **act.kwargs) if act else y

        with FlopCounterMode(display=False) as counter:
            y1 = run(1)
        y2 = run(2)
    assert y2.shape[0] == 2, "the module must keep the batch dimension first"
    params = sum(p.numel() for p in {id(p): p for p in module.parameters()}.values())
    return Measured(tuple(y1.shape[1:]), params, counter.get_total_flops() // 2)


def _example(shape: Shape, dtype: str, batch: int) -> torch.Tensor:
    concrete = [int(d) for d in shape]  # type: ignore[arg-type]
    if dtype == "int64":
        return torch.zeros((batch, *concrete), dtype=torch.int64)
    return torch.empty((batch, *concrete))


def check(
    type_name: str,
    args: Mapping[str, Any],
    in_shape: Shape,
    dtype: str = "float32",
    extra_inputs: int = 0,
    extra_shapes: Sequence[Shape] = (),
) -> None:
    """Assert netspec's predicted shape, params and MACs equal torch's.

    The inputs: ``in_shape`` (of ``dtype``), ``extra_inputs`` more of that shape, then one
    float32 input per shape of ``extra_shapes``.
    """
    inputs = [Tensor(tuple(in_shape), dtype)] * (1 + extra_inputs)  # type: ignore[arg-type]
    inputs += [Tensor(tuple(shape)) for shape in extra_shapes]
    want = measure(type_name, args, inputs)
    got = predicted(type_name, args, inputs)
    assert got.out.shape == want.out_shape, (type_name, args, in_shape, got, want)
    assert got.params == want.params, (type_name, args, in_shape, got, want)
    assert got.macs == want.macs, (type_name, args, in_shape, got, want)
