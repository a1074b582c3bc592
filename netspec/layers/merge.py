"""Merging layers: add, multiply, concat (several inputs via `from`) and residual.

add / multiply: all inputs the same shape (no implied broadcasting) -> that shape.
concat: sizes add up along `dim` (PyTorch numbering, batch = 0); the other dims must match.
residual: ``x + f(x)``; the body `layers` are expanded in place by the spec loader, and this
layer is the final sum, so ``f`` must keep the shape.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from netspec import dims
from netspec.dims import format_shape
from netspec.errors import ShapeError
from netspec.layers import functions
from netspec.layers.common import NoArgs, require_float
from netspec.layers.registry import (
    Example,
    FnCall,
    Inferred,
    LayerConfig,
    LayerType,
    Ref,
    Tensor,
    register,
)


class ConcatConfig(LayerConfig):
    dim: int = Field(1, description="the dim to join along; PyTorch numbering, batch = 0")


class ResidualConfig(LayerConfig):
    layers: tuple[Any, ...] = Field(
        min_length=1,
        description="the body f: layer entries, expanded in place; must keep the shape",
    )


def _same_shapes(layer: str, inputs: tuple[Tensor, ...], hint: str | None = None) -> Inferred:
    first = inputs[0]
    for t in inputs:
        require_float(t, layer)
    for t in inputs[1:]:
        if t.shape != first.shape:
            raise ShapeError(
                f"{layer} needs inputs of the same shape",
                received=", ".join(format_shape(t.shape) for t in inputs),
                expected="identical shapes (broadcasting is not implied)",
                hint=hint,
            )
    return Inferred(first)


def _infer_add(cfg: NoArgs, inputs: tuple[Tensor, ...]) -> Inferred:
    return _same_shapes("add", inputs)


def _infer_multiply(cfg: NoArgs, inputs: tuple[Tensor, ...]) -> Inferred:
    return _same_shapes("multiply", inputs)


def _infer_residual(cfg: ResidualConfig, inputs: tuple[Tensor, ...]) -> Inferred:
    x, fx_ = inputs
    if x.shape != fx_.shape:
        raise ShapeError(
            "the residual body must keep the shape of its input",
            received=f"{format_shape(x.shape)} in, {format_shape(fx_.shape)} out of the body",
            expected=format_shape(x.shape),
            hint="make the body's last layer produce as many features/channels as its input",
        )
    return _same_shapes("residual", inputs)


def _infer_concat(cfg: ConcatConfig, inputs: tuple[Tensor, ...]) -> Inferred:
    rank = len(inputs[0].shape) + 1
    for t in inputs:
        require_float(t, "concat")
        if len(t.shape) + 1 != rank:
            raise ShapeError(
                "concat needs inputs of the same rank",
                received=", ".join(format_shape(t.shape) for t in inputs),
            )
    axis = cfg.dim + rank if cfg.dim < 0 else cfg.dim
    if not 1 <= axis < rank:
        raise ShapeError(
            f"dim {cfg.dim} is not a per-sample dimension of rank-{rank} inputs "
            "(PyTorch numbering: the batch is dim 0)",
            received=", ".join(format_shape(t.shape) for t in inputs),
            field="dim",
        )
    shape = list(inputs[0].shape)
    for t in inputs[1:]:
        others = [d for i, d in enumerate(t.shape) if i != axis - 1]
        if others != [d for i, d in enumerate(shape) if i != axis - 1]:
            raise ShapeError(
                f"concat along dim {cfg.dim} needs every other dimension to match",
                received=", ".join(format_shape(t.shape) for t in inputs),
            )
        shape[axis - 1] = dims.add(shape[axis - 1], t.shape[axis - 1])
    return Inferred(Tensor(tuple(shape)))


def _chain(fn: str) -> Any:
    def function(cfg: Any, n: int) -> FnCall:
        return functions.chain(fn, n)

    return function


def _concat(cfg: ConcatConfig, n: int) -> FnCall:
    return FnCall("torch.cat", ([Ref(i) for i in range(n)],), {"dim": cfg.dim})


_PAIR = Example({}, (4, 5), extra_inputs=1)
register(
    LayerType(
        name="add",
        config=NoArgs,
        infer=_infer_add,
        function=_chain("operator.add"),
        min_inputs=2,
        max_inputs=None,
        family="merge",
        summary="Elementwise sum of two or more inputs named in `from`.",
        shape_rule="all inputs the same shape -> that shape",
        examples=(_PAIR, Example({}, (6,), extra_inputs=2)),
    )
)
register(
    LayerType(
        name="multiply",
        config=NoArgs,
        infer=_infer_multiply,
        function=_chain("operator.mul"),
        min_inputs=2,
        max_inputs=None,
        family="merge",
        summary="Elementwise product of two or more inputs named in `from`.",
        shape_rule="all inputs the same shape -> that shape",
        examples=(_PAIR,),
    )
)
register(
    LayerType(
        name="concat",
        config=ConcatConfig,
        infer=_infer_concat,
        function=_concat,
        aliases=("concatenate",),
        primary="dim",
        min_inputs=2,
        max_inputs=None,
        family="merge",
        summary="Concatenation of the inputs named in `from` along `dim` (batch is dim 0).",
        shape_rule="sizes add up along dim; other dims must match",
        examples=(
            _PAIR,
            Example({"dim": 2}, (4, 5), extra_inputs=2),
            Example({"dim": -1}, (3,), extra_inputs=1),
        ),
    )
)
register(
    LayerType(
        name="residual",
        structural=True,
        config=ResidualConfig,
        infer=_infer_residual,
        function=_chain("operator.add"),
        primary="layers",
        min_inputs=2,
        max_inputs=2,
        family="merge",
        summary="x + f(x), where f is the list of layers in `layers` (expanded in place).",
        shape_rule="f must keep the shape: (N, ...) -> (N, ...)",
        examples=(Example({"layers": [{"dense": 5}, "relu"]}, (4, 5), extra_inputs=1),),
    )
)
