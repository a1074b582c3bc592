"""Reshaping: flatten, reshape, permute. No parameters, no MACs; the dtype passes through
(token ids may be reshaped like anything else).

flatten: dims ``start_dim..end_dim`` (PyTorch numbering, batch = 0; defaults 1 and -1) become
one: (N, d1, ..., dr) -> (N, d1*...*dr) by default.
reshape: (N, *in) -> (N, *shape), ``shape`` per sample with at most one -1; the element counts
must match.
permute: (N, d1, ..., dr) -> (N, d_dims[0], ..., d_dims[r-1]); ``dims`` lists the per-sample
dims 1..r (batch = 0, as in PyTorch and Keras' Permute) in their new order, so [2, 1] swaps
the last two of a rank-2 sample. A leading 0 (``[0, 2, 1]``, the full PyTorch form) is accepted.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator

from netspec import dims
from netspec.dims import Dim, Shape, format_shape
from netspec.errors import ShapeError
from netspec.layers.registry import (
    Call,
    Example,
    Inferred,
    LayerConfig,
    LayerType,
    Tensor,
    register,
)


class FlattenConfig(LayerConfig):
    start_dim: int = 1
    end_dim: int = -1


class ReshapeConfig(LayerConfig):
    shape: tuple[Annotated[int, Field(ge=-1)], ...] = Field(min_length=1)

    @field_validator("shape")
    @classmethod
    def _one_unknown(cls, shape: tuple[int, ...]) -> tuple[int, ...]:
        if 0 in shape:
            raise ValueError("sizes must be positive (or one -1 for 'whatever is left')")
        if shape.count(-1) > 1:
            raise ValueError("at most one size may be -1")
        return shape


class PermuteConfig(LayerConfig):
    dims: tuple[int, ...] = Field(min_length=1)

    @field_validator("dims")
    @classmethod
    def _distinct(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if len(set(value)) != len(value):
            raise ValueError("each dim may appear only once")
        return value


# --- flatten -------------------------------------------------------------------------------


def _flatten_span(cfg: FlattenConfig, shape: Shape) -> tuple[int, int]:
    """Per-sample ``[start, stop)`` covered by torch's ``flatten(start_dim, end_dim)``."""
    rank = len(shape) + 1  # with the batch dim
    start = cfg.start_dim + rank if cfg.start_dim < 0 else cfg.start_dim
    end = cfg.end_dim + rank if cfg.end_dim < 0 else cfg.end_dim
    if rank < 2 or not 1 <= start <= end < rank:
        raise ShapeError(
            f"flatten cannot flatten dims {cfg.start_dim}..{cfg.end_dim} of a rank-{rank} "
            "tensor (PyTorch numbering, batch = 0)",
            received=format_shape(shape),
            expected=f"1 <= start_dim <= end_dim <= {rank - 1} (negative counts from the end; "
            "the batch dim 0 is never flattened)",
            field="start_dim" if not 1 <= start < rank else "end_dim",
        )
    return start - 1, end


def _flatten_infer(cfg: FlattenConfig, inputs: tuple[Tensor, ...]) -> Inferred:
    (x,) = inputs
    lo, hi = _flatten_span(cfg, x.shape)
    out = (*x.shape[:lo], dims.prod(x.shape[lo:hi]), *x.shape[hi:])
    return Inferred(Tensor(out, x.dtype))


def _flatten_module(cfg: FlattenConfig, inputs: tuple[Tensor, ...]) -> Call:
    return Call("nn.Flatten", (cfg.start_dim, cfg.end_dim))


# --- reshape -------------------------------------------------------------------------------


def _reshape_infer(cfg: ReshapeConfig, inputs: tuple[Tensor, ...]) -> Inferred:
    (x,) = inputs
    count = dims.prod(x.shape)
    fixed = 1
    for size in cfg.shape:
        fixed *= size if size != -1 else 1
    target = f"(N, {', '.join(map(str, cfg.shape))})"

    def mismatch(why: str) -> ShapeError:
        return ShapeError(
            f"reshape cannot turn {format_shape(x.shape)} into {target}: {why}",
            received=f"{format_shape(x.shape)}, {count} elements per sample",
            expected=f"a shape with {count} elements per sample"
            + (" (a -1 takes what is left)" if -1 in cfg.shape else ""),
            field="shape",
        )

    if -1 not in cfg.shape:
        if count != fixed:
            raise mismatch(f"{count} elements per sample vs {fixed}")
        return Inferred(Tensor(cfg.shape, x.dtype))
    rest = _exact_div(count, fixed)
    if rest is None:
        raise mismatch(f"{count} elements per sample do not divide by {fixed}")
    out: Shape = tuple(rest if size == -1 else size for size in cfg.shape)
    return Inferred(Tensor(out, x.dtype))


def _exact_div(count: Dim, by: int) -> Dim | None:
    """``count / by`` when it divides exactly for every value of its symbols, else None."""
    if isinstance(count, int):
        return count // by if count % by == 0 else None
    if all(c % by == 0 for _, c in count.terms):
        return dims.floordiv(count, by)
    return None


def _reshape_module(cfg: ReshapeConfig, inputs: tuple[Tensor, ...]) -> Call:
    return Call("Reshape", (tuple(cfg.shape),))


# --- permute -------------------------------------------------------------------------------


def permutation(cfg: PermuteConfig, shape: Shape) -> tuple[int, ...]:
    """The per-sample dims (1..r) in their new order, from the user's ``dims``."""
    r = len(shape)
    given = list(cfg.dims)
    if len(given) == r + 1 and given[0] in (0, -(r + 1)):
        given = given[1:]  # the full PyTorch form with the batch dim left in place
    order = tuple(d + r + 1 if d < 0 else d for d in given)
    if sorted(order) != list(range(1, r + 1)):
        raise ShapeError(
            f"permute dims {list(cfg.dims)} are not an ordering of the {r} per-sample dims",
            received=format_shape(shape),
            expected=f"a permutation of {list(range(1, r + 1))} (batch = 0 stays first)",
            hint="dims count from 1 for the first dim after the batch, like Keras' Permute",
            field="dims",
        )
    return order


def _permute_infer(cfg: PermuteConfig, inputs: tuple[Tensor, ...]) -> Inferred:
    (x,) = inputs
    order = permutation(cfg, x.shape)
    return Inferred(Tensor(tuple(x.shape[d - 1] for d in order), x.dtype))


def _permute_module(cfg: PermuteConfig, inputs: tuple[Tensor, ...]) -> Call:
    return Call("Permute", (permutation(cfg, inputs[0].shape),))


# --- torch modules -------------------------------------------------------------------------


register(
    LayerType(
        name="flatten",
        config=FlattenConfig,
        infer=_flatten_infer,
        module=_flatten_module,
        family="reshape",
        summary="Flattens dims start_dim..end_dim into one (torch.nn.Flatten; batch = dim 0).",
        shape_rule="(N, ...) -> (N, prod(...)) with the defaults start_dim=1, end_dim=-1",
        examples=(
            Example({}, (3, 4, 5)),
            Example({"start_dim": 2}, (3, 4, 5)),
            Example({}, (7,)),
            Example({"start_dim": 1, "end_dim": 2}, (2, 3, 4, 5)),
            Example({}, (4, 6), "int64"),
        ),
        field_docs={
            "start_dim": "first dim to flatten (PyTorch numbering: batch = 0, so 1 is the first "
            "per-sample dim; negative counts from the end)",
            "end_dim": "last dim to flatten, inclusive (-1: the last)",
        },
    )
)
register(
    LayerType(
        name="reshape",
        config=ReshapeConfig,
        infer=_reshape_infer,
        module=_reshape_module,
        primary="shape",
        family="reshape",
        summary="Reshapes each sample to `shape` (one size may be -1); the batch dim stays.",
        shape_rule="(N, *in) -> (N, *shape); the element counts must match",
        examples=(
            Example({"shape": [1, 8, 8]}, (64,)),
            Example({"shape": [-1, 4]}, (3, 4, 2)),
            Example({"shape": [6, -1]}, (2, 3, 5), "int64"),
        ),
        field_docs={
            "shape": "per-sample target shape (no batch dim); one entry may be -1 for the size "
            "that makes the element counts match",
        },
    )
)
register(
    LayerType(
        name="permute",
        config=PermuteConfig,
        infer=_permute_infer,
        module=_permute_module,
        primary="dims",
        family="reshape",
        summary="Reorders the per-sample dims (numbered from 1, batch = 0 stays first).",
        shape_rule="(N, d1, ..., dr) -> (N, d[dims[0]], ..., d[dims[r-1]])",
        examples=(
            Example({"dims": [2, 1]}, (5, 3)),
            Example({"dims": [3, 1, 2]}, (2, 3, 4)),
            Example({"dims": [0, 2, 1]}, (4, 6), "int64"),
        ),
        field_docs={
            "dims": "the per-sample dims 1..r in their new order (batch = 0 stays first; a "
            "leading 0 is allowed; negative counts from the end)",
        },
    )
)
