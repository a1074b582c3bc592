"""Hypothesis strategies for select, slice, center_crop (layers/select.py), class_token
(layers/tokens.py), the broadcasting add/multiply and drop_path (layers/merge.py).

A case is (args, in_shape, dtype, extra_shapes): extra_shapes are further inputs of their
own shapes (center_crop's reference, a broadcasting operand).
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

# Registers the layers even before netspec/layers/__init__.py imports these files.
from netspec.layers import merge, select, tokens  # noqa: F401

Case = tuple[dict[str, Any], tuple[int, ...], str, tuple[tuple[int, ...], ...]]

_any_dtype = st.sampled_from(["float32", "float32", "int64"])


def _dim(draw: st.DrawFn, rank: int) -> tuple[int, int]:
    """A per-sample dim of a rank-``rank`` sample: (its index, how the user writes it)."""
    axis = draw(st.integers(1, rank))
    return axis - 1, axis if draw(st.booleans()) else axis - rank - 1


@st.composite
def _select(draw: st.DrawFn) -> Case:
    shape = tuple(draw(st.lists(st.integers(1, 6), min_size=2, max_size=4)))
    axis, dim = _dim(draw, len(shape))
    index = draw(st.integers(-shape[axis], shape[axis] - 1))
    args: dict[str, Any] = {"index": index}
    if dim != 1 or draw(st.booleans()):
        args["dim"] = dim
    return args, shape, draw(_any_dtype), ()


@st.composite
def _slice(draw: st.DrawFn) -> Case:
    shape = tuple(draw(st.lists(st.integers(1, 9), min_size=1, max_size=3)))
    axis, dim = _dim(draw, len(shape))
    size = shape[axis]
    start = draw(st.integers(-size - 2, size + 1))
    stop = draw(st.one_of(st.none(), st.integers(-size - 2, size + 2)))
    step = draw(st.integers(1, 3))
    if not range(size)[start:stop:step]:  # an empty slice is a shape error, not a case
        start, stop = 0, None
    args: dict[str, Any] = {"dim": dim, "step": step}
    if start != 0 or draw(st.booleans()):
        args["start"] = start
    if stop is not None or draw(st.booleans()):
        args["stop"] = stop
    return args, shape, draw(_any_dtype), ()


@st.composite
def _center_crop(draw: st.DrawFn) -> Case:
    n = draw(st.integers(1, 3))
    sizes = [draw(st.integers(1, 9 if n < 3 else 5)) for _ in range(n)]
    target = [draw(st.integers(1, s)) for s in sizes]
    channels = draw(st.integers(1, 4))
    ref = (draw(st.integers(1, 4)), *target)
    return {}, (channels, *sizes), "float32", (ref,)


@st.composite
def _class_token(draw: st.DrawFn) -> Case:
    args: dict[str, Any] = {}
    if draw(st.booleans()):
        args["count"] = draw(st.integers(1, 4))
    return args, (draw(st.integers(1, 10)), draw(st.integers(1, 16))), "float32", ()


@st.composite
def _broadcast(draw: st.DrawFn) -> Case:
    """A full shape, and operands that keep some of its dims and have 1 in the others."""
    full = draw(st.lists(st.integers(1, 5), min_size=1, max_size=4))

    def operand() -> tuple[int, ...]:
        return tuple(d if draw(st.booleans()) else 1 for d in full)

    extra = tuple(operand() for _ in range(draw(st.integers(0, 2))))
    return {}, operand(), "float32", extra


@st.composite
def _drop_path(draw: st.DrawFn) -> Case:
    shape = tuple(draw(st.lists(st.integers(1, 6), min_size=1, max_size=4)))
    args: dict[str, Any] = {}
    if draw(st.booleans()):
        args[draw(st.sampled_from(["rate", "p"]))] = draw(st.floats(0.0, 0.95))
    return args, shape, "float32", ()


STRATEGIES: dict[str, st.SearchStrategy[Case]] = {
    "select": _select(),
    "slice": _slice(),
    "center_crop": _center_crop(),
    "class_token": _class_token(),
    "add": _broadcast(),
    "multiply": _broadcast(),
    "drop_path": _drop_path(),
}
