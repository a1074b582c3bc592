"""Selecting parts of a tensor: select, slice, center_crop. No parameters, no MACs.

select: one index along ``dim`` (PyTorch numbering, batch = 0; negative dims and indexes count
from the end); the dim disappears: (N, T, E) -> (N, E) for ``{dim: 1, index: 0}``, the
[CLS] position of ViT and BERT. ``torch.select(x, dim, index)``.
slice: Python slice semantics along ``dim``, ``x[..., start:stop:step]`` with ``step >= 1``
(torch has no negative steps): (N, ..., L, ...) -> (N, ..., len(range(L)[start:stop:step]), ...).
center_crop: (N, C, *spatial) and a reference (N, C', *spatial') -> (N, C, *spatial'): the
middle of each spatial dim, offset ``(L - l) // 2`` (U-Net's skip connections).

A symbolic size leaves a condition only the running model can check (``index < T``, a slice
that needs ``T >= 4``, a reference no larger than the input): the plan assumes it, validate
warns (``runtime-check``) and the forward raises an error naming it when it does not hold, so
the plan's sizes are never silently wrong.
"""

from __future__ import annotations

from pydantic import Field

from netspec import dims
from netspec.dims import Dim, Shape, format_shape
from netspec.errors import ShapeError
from netspec.layers.common import PositiveInt
from netspec.layers.registry import (
    Call,
    Example,
    FnCall,
    Inferred,
    LayerConfig,
    LayerType,
    Ref,
    RuntimeCheck,
    Tensor,
    register,
)


class SelectConfig(LayerConfig):
    dim: int = Field(1, description="the dim to index; PyTorch numbering, batch = 0")
    index: int = Field(description="the position kept along dim; negative counts from the end")


class SliceConfig(LayerConfig):
    dim: int = Field(1, description="the dim to slice; PyTorch numbering, batch = 0")
    start: int = Field(0, description="first position kept; negative counts from the end")
    stop: int | None = Field(
        None,
        description="the position after the last one kept; negative counts from the end; "
        "null: to the end",
    )
    step: PositiveInt = Field(1, description="keep every step-th position from start")


class CenterCropConfig(LayerConfig):
    """No arguments: the size comes from the second input (``like:``, or ``from: [x, ref]``)."""


def _axis(dim: int, shape: Shape) -> int:
    """The per-sample index (0-based) of PyTorch dim ``dim`` of a (N, *shape) tensor."""
    rank = len(shape) + 1
    axis = dim + rank if dim < 0 else dim
    if not 1 <= axis < rank:
        raise ShapeError(
            f"dim {dim} is not a per-sample dimension of a rank-{rank} tensor "
            "(PyTorch numbering: the batch is dim 0)",
            received=format_shape(shape),
            expected=f"dim in 1..{rank - 1}, or -{rank - 1}..-1 counting from the end",
            field="dim",
        )
    return axis - 1


# --- select ---------------------------------------------------------------------------------


def _select_infer(cfg: SelectConfig, inputs: tuple[Tensor, ...]) -> Inferred:
    (x,) = inputs
    if len(x.shape) < 2:
        raise ShapeError(
            "select needs at least two per-sample dims: it removes one and the batch dim "
            "cannot stand alone",
            received=format_shape(x.shape),
            expected="(N, A, B, ...)",
            hint="to keep one feature as (N, 1), use slice: {dim: 1, start: k, stop: k+1}",
        )
    axis = _axis(cfg.dim, x.shape)
    size = x.shape[axis]
    if isinstance(size, int) and not -size <= cfg.index < size:
        raise ShapeError(
            f"index {cfg.index} is out of range for dim {cfg.dim} of size {size}",
            received=format_shape(x.shape),
            expected=f"an index in {-size}..{size - 1}",
            field="index",
        )
    return Inferred(Tensor(x.shape[:axis] + x.shape[axis + 1 :], x.dtype))


def _select_check(cfg: SelectConfig, inputs: tuple[Tensor, ...]) -> RuntimeCheck | None:
    shape = inputs[0].shape
    size = shape[_axis(cfg.dim, shape)]
    if isinstance(size, int) or cfg.index in (0, -1):  # a sequence has at least one position
        return None
    need = cfg.index + 1 if cfg.index >= 0 else -cfg.index
    return RuntimeCheck(
        f"select index {cfg.index} needs {size} >= {need}, a symbolic size, so it is only "
        "checked when the model runs (torch.select raises an IndexError there)",
    )


def _select_function(cfg: SelectConfig, n: int) -> FnCall:
    return FnCall("torch.select", (Ref(0),), {"dim": cfg.dim, "index": cfg.index})


# --- slice ----------------------------------------------------------------------------------


def _slice_span(cfg: SliceConfig, size: Dim) -> tuple[Dim, int]:
    """The sliced length and the least size for which it holds (0: no condition).

    A known size follows Python exactly (``len(range(size)[start:stop:step])``). A symbolic
    size is assumed large enough that neither end is clamped, which gives an exact
    polynomial; the least such size is checked by the forward.
    """
    start, stop, step = cfg.start, cfg.stop, cfg.step
    if isinstance(size, int):
        return len(range(size)[start:stop:step]), 0
    if start < 0 and (stop is not None and stop >= 0):
        raise ShapeError(
            f"slice from {start} (counted from the end) to {stop} (from the start) of the "
            f"symbolic size {size} keeps more positions the shorter the input is",
            received=f"size {size}",
            expected="start and stop counted from the same end, or a stop of null",
            hint="write both from the start (start: 0, stop: 8) or both from the end "
            "(start: -8, stop: -1)",
            field="stop",
        )
    low: Dim = start if start >= 0 else dims.add(size, start)
    high: Dim = size if stop is None else (stop if stop >= 0 else dims.add(size, stop))
    need = max(start + 1 if stop is None or stop < 0 else stop, -start, 0)
    if stop is not None and stop < 0:
        need = max(need, start + 1 - stop)
    return dims.ceildiv(dims.sub(high, low), step), need


def _slice_infer(cfg: SliceConfig, inputs: tuple[Tensor, ...]) -> Inferred:
    (x,) = inputs
    axis = _axis(cfg.dim, x.shape)
    length, _ = _slice_span(cfg, x.shape[axis])
    if isinstance(length, int) and length < 1:
        raise ShapeError(
            f"slice {cfg.start}:{'' if cfg.stop is None else cfg.stop}:{cfg.step} of dim "
            f"{cfg.dim} (size {x.shape[axis]}) keeps nothing",
            received=format_shape(x.shape),
            expected="a slice that keeps at least one position",
            hint="Python slice semantics: start is the first position kept, stop the one "
            "after the last; negative values count from the end",
            field="stop" if cfg.stop is not None else "start",
        )
    shape = (*x.shape[:axis], length, *x.shape[axis + 1 :])
    return Inferred(Tensor(shape, x.dtype))


def _slice_check(cfg: SliceConfig, inputs: tuple[Tensor, ...]) -> RuntimeCheck | None:
    shape = inputs[0].shape
    size = shape[_axis(cfg.dim, shape)]
    _, need = _slice_span(cfg, size)
    if need <= 1:  # every size is at least 1
        return None
    return RuntimeCheck(
        f"slice along dim {cfg.dim} needs {size} >= {need}, a symbolic size, so it is only "
        "checked when the model runs (a smaller size raises an error there)",
    )


def _slice_module(cfg: SliceConfig, inputs: tuple[Tensor, ...]) -> Call:
    shape = inputs[0].shape
    _, need = _slice_span(cfg, shape[_axis(cfg.dim, shape)])
    return Call(
        "Slice",
        (),
        {"dim": cfg.dim, "start": cfg.start, "stop": cfg.stop, "step": cfg.step, "min_size": need},
    )


# --- center_crop ----------------------------------------------------------------------------


def _crop_infer(cfg: CenterCropConfig, inputs: tuple[Tensor, ...]) -> Inferred:
    x, ref = inputs
    both = f"{format_shape(x.shape)} to {format_shape(ref.shape)}"
    if len(x.shape) < 2 or len(x.shape) != len(ref.shape):
        raise ShapeError(
            "center_crop needs an input and a reference of one rank, both (N, C, *spatial)",
            received=both,
            expected="(N, C, H, W) and (N, C', h, w) (or 1 or 3 spatial dims)",
            hint="`like` names the layer whose spatial size the input is cropped to",
        )
    for i, (big, small) in enumerate(zip(x.shape[1:], ref.shape[1:], strict=True)):
        margin = dims.sub(big, small)
        if isinstance(margin, int) and margin < 0:
            raise ShapeError(
                f"center_crop cannot crop {both}: spatial dim {i + 2} of the reference "
                f"({small}) is larger than the input's ({big})",
                received=both,
                expected="a reference no larger than the input in every spatial dim",
                hint="crop the larger tensor to the smaller one (U-Net crops the skip "
                "connection), or pad/upsample first",
            )
    return Inferred(Tensor((x.shape[0], *ref.shape[1:]), x.dtype))


def _crop_check(cfg: CenterCropConfig, inputs: tuple[Tensor, ...]) -> RuntimeCheck | None:
    x, ref = inputs
    open_ = [
        f"{small} <= {big}"
        for big, small in zip(x.shape[1:], ref.shape[1:], strict=True)
        if not isinstance(dims.sub(big, small), int)
    ]
    if not open_:
        return None
    return RuntimeCheck(
        f"center_crop needs {', '.join(open_)}, symbolic sizes, so it is only checked when "
        "the model runs (a larger reference raises an error there)",
    )


def _crop_module(cfg: CenterCropConfig, inputs: tuple[Tensor, ...]) -> Call:
    return Call("CenterCrop")


register(
    LayerType(
        name="select",
        config=SelectConfig,
        infer=_select_infer,
        function=_select_function,
        runtime_check=_select_check,
        primary="index",
        family="shaping",
        summary="One position along `dim` (torch.select); the dim disappears: the [CLS] token.",
        shape_rule="(N, ..., L, ...) -> (N, ..., ...): dim removed",
        examples=(
            Example({"dim": 1, "index": 0}, (5, 8)),
            Example({"dim": -1, "index": -2}, (3, 4, 6)),
            Example({"index": 2}, (4, 3), "int64"),
        ),
    )
)
register(
    LayerType(
        name="slice",
        config=SliceConfig,
        infer=_slice_infer,
        module=_slice_module,
        runtime_check=_slice_check,
        family="shaping",
        summary="A Python slice `start:stop:step` of one dim, e.g. the first 8 time steps.",
        shape_rule="(N, ..., L, ...) -> (N, ..., len(range(L)[start:stop:step]), ...)",
        examples=(
            Example({"dim": 1, "start": 2, "stop": 6}, (10, 4)),
            Example({"dim": -1, "start": -5, "step": 2}, (3, 9)),
            Example({"dim": 2, "stop": -1}, (2, 7), "int64"),
        ),
    )
)
register(
    LayerType(
        name="center_crop",
        config=CenterCropConfig,
        infer=_crop_infer,
        module=_crop_module,
        runtime_check=_crop_check,
        reference_inputs=("like",),
        min_inputs=2,
        max_inputs=2,
        family="shaping",
        summary="Crops the spatial dims to the middle, to the spatial size of a reference "
        "layer (`like`): U-Net skip connections.",
        shape_rule="(N, C, *spatial) and reference (N, C', *spatial') -> (N, C, *spatial')",
        examples=(
            Example({}, (4, 6, 6), extra_inputs=1),
            Example({}, (4, 9, 8), extra_shapes=((2, 5, 4),)),
            Example({}, (3, 10), extra_shapes=((7, 7),)),
            Example({}, (2, 5, 6, 7), extra_shapes=((1, 2, 3, 4),)),
        ),
    )
)
