"""Merging layers: add, multiply, concat (several inputs via `from`), residual, drop_path.

add / multiply: PyTorch broadcasting over the per-sample dims -> the broadcast shape. The
inputs have one per-sample rank (torch aligns whole shapes from the right, batch included,
so a lower-rank input's batch dim would meet a per-sample dim of another input: the result
would depend on the batch size); dim by dim the sizes are equal or 1. A symbol broadcasts
with itself or with 1, never with another size: whether ``T`` equals 5 or ``S`` is only
known when the model runs, so the plan refuses to guess. (N, C, 1, 1) x (N, C, H, W) ->
(N, C, H, W) is squeeze-and-excitation's gate.
concat: sizes add up along `dim` (PyTorch numbering, batch = 0); the other dims must match.
residual: ``x + f(x)``; the body `layers` are expanded in place by the spec loader, and this
layer is the final sum, so ``f`` must keep the shape. With ``drop_path: p`` the loader ends
the body with a drop_path layer: stochastic depth.
drop_path: timm's DropPath: while training each sample is zeroed with probability `rate`
and the others scaled by 1 / (1 - rate); unchanged in eval. No parameters, no MACs.
"""

from __future__ import annotations

from typing import Any

from pydantic import AliasChoices, Field

from netspec import dims
from netspec.dims import Dim, format_shape
from netspec.errors import ShapeError
from netspec.layers import functions
from netspec.layers.common import NoArgs, Rate, require_float
from netspec.layers.registry import (
    Call,
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
    drop_path: Rate = Field(
        0.0,
        description="stochastic depth: while training, f(x) of each sample is dropped with "
        "this probability (the survivors scaled by 1 / (1 - drop_path))",
    )


class DropPathConfig(LayerConfig):
    rate: Rate = Field(
        default=0.1,
        validation_alias=AliasChoices("rate", "p", "drop_prob"),
        description="probability of zeroing a whole sample while training, in [0, 1)",
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


def _broadcast(layer: str, inputs: tuple[Tensor, ...]) -> Inferred:
    """PyTorch broadcasting of per-sample shapes of one rank (see the module docstring)."""
    for t in inputs:
        require_float(t, layer)
    shapes = [t.shape for t in inputs]
    received = ", ".join(format_shape(s) for s in shapes)
    if len({len(s) for s in shapes}) > 1:
        rank = max(len(s) for s in shapes)
        raise ShapeError(
            f"{layer} needs inputs of one rank: torch lines shapes up from the right, batch "
            "dim included, so a lower-rank input's batch would meet a per-sample dim",
            received=received,
            expected=f"{rank} per-sample dims in every input, sizes equal or 1 in each dim",
            hint="reshape the smaller input to the same rank with sizes of 1 where it "
            "broadcasts, e.g. reshape: [C, 1, 1] to gate (N, C, H, W)",
        )
    out: list[Dim] = []
    for i, sizes in enumerate(zip(*shapes, strict=True)):
        size = _broadcast_dim(sizes)
        if size is None:
            raise ShapeError(
                f"{layer} cannot broadcast its inputs: dim {i + 1} has sizes "
                + " and ".join(dict.fromkeys(str(d) for d in sizes)),
                received=received,
                expected="in each dim, sizes that are equal or 1 (PyTorch broadcasting); "
                "a symbol matches only itself or 1",
                hint="make the sizes equal (a dense or conv layer sets the feature/channel "
                "count), or reduce one to 1 (global pooling, then reshape)",
            )
        out.append(size)
    return Inferred(Tensor(tuple(out)))


def _broadcast_dim(sizes: tuple[Dim, ...]) -> Dim | None:
    """The broadcast of one dim's sizes, or None if they do not broadcast."""
    wide = {d for d in sizes if d != 1}
    if len(wide) > 1:
        return None
    return wide.pop() if wide else 1


def _infer_add(cfg: NoArgs, inputs: tuple[Tensor, ...]) -> Inferred:
    return _broadcast("add", inputs)


def _infer_multiply(cfg: NoArgs, inputs: tuple[Tensor, ...]) -> Inferred:
    return _broadcast("multiply", inputs)


def _infer_drop_path(cfg: DropPathConfig, inputs: tuple[Tensor, ...]) -> Inferred:
    (x,) = inputs
    require_float(x, "drop_path")
    return Inferred(x)


def _drop_path_module(cfg: DropPathConfig, inputs: tuple[Tensor, ...]) -> Call:
    return Call("DropPath", (cfg.rate,))


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
_BROADCAST_RULE = "PyTorch broadcasting: one rank, sizes equal or 1 per dim -> the broadcast shape"
register(
    LayerType(
        name="add",
        config=NoArgs,
        infer=_infer_add,
        function=_chain("operator.add"),
        min_inputs=2,
        max_inputs=None,
        keeps_padding=True,
        family="merge",
        summary="Elementwise sum of two or more inputs named in `from`, broadcast like PyTorch.",
        shape_rule=_BROADCAST_RULE,
        examples=(
            _PAIR,
            Example({}, (6,), extra_inputs=2),
            Example({}, (3, 1, 5), extra_shapes=((1, 4, 5),)),
        ),
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
        keeps_padding=True,
        family="merge",
        summary="Elementwise product of two or more inputs named in `from`, broadcast like "
        "PyTorch: (N, C, 1, 1) x (N, C, H, W) gates channels (squeeze-and-excitation).",
        shape_rule=_BROADCAST_RULE,
        examples=(
            _PAIR,
            Example({}, (8, 1, 1), extra_shapes=((8, 6, 6),)),
            Example({}, (2, 3), extra_inputs=1, extra_shapes=((1, 3),)),
        ),
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
        keeps_padding=True,
        family="merge",
        summary="x + f(x), where f is the list of layers in `layers` (expanded in place).",
        shape_rule="f must keep the shape: (N, ...) -> (N, ...)",
        examples=(Example({"layers": [{"dense": 5}, "relu"]}, (4, 5), extra_inputs=1),),
    )
)
register(
    LayerType(
        name="drop_path",
        config=DropPathConfig,
        infer=_infer_drop_path,
        module=_drop_path_module,
        aliases=("stochastic_depth",),
        primary="rate",
        keeps_padding=True,
        family="regularization",
        summary="Stochastic depth (timm's DropPath): zeroes whole samples with probability "
        "`rate` while training, scaling the rest by 1 / (1 - rate). residual's `drop_path` "
        "ends its body with one.",
        shape_rule="unchanged",
        examples=(Example({"rate": 0.2}, (4, 6)), Example({}, (3, 5, 5))),
    )
)
