"""Hypothesis strategies for the normalizations added beside batchnorm and layernorm
(groupnorm, instancenorm, rmsnorm): valid (args, in_shape, dtype) triples, kept small."""

from __future__ import annotations

import math
from typing import Any

from hypothesis import strategies as st

# Registers the layers even before netspec/layers/__init__.py imports this file.
from netspec.layers import normalization  # noqa: F401

Case = tuple[dict[str, Any], tuple[int, ...], str]

_eps = st.floats(1e-8, 1e-2)


def _maybe_eps(draw: st.DrawFn, args: dict[str, Any]) -> None:
    if draw(st.booleans()):
        args[draw(st.sampled_from(["eps", "epsilon"]))] = draw(_eps)


@st.composite
def _groupnorm(draw: st.DrawFn) -> Case:
    groups = draw(st.integers(1, 4))
    channels = groups * draw(st.integers(1, 3))
    spatial = draw(st.lists(st.integers(1, 5), max_size=3))
    # A group of a single value is refused (by torch at batch 1, and by the shape rule).
    if channels == groups and math.prod(spatial) == 1:
        spatial = [*spatial[:-1], 2]
    args: dict[str, Any] = {"num_groups": groups}
    _maybe_eps(draw, args)
    if draw(st.booleans()):
        args["affine"] = draw(st.booleans())
    return args, (channels, *spatial), "float32"


@st.composite
def _instancenorm(draw: st.DrawFn) -> Case:
    n = draw(st.integers(1, 3))
    sizes = [draw(st.integers(1, 5 if n < 3 else 3)) for _ in range(n)]
    # torch (and the shape rule) refuse one spatial value per channel in training.
    if math.prod(sizes) == 1:
        sizes[-1] = 2
    args: dict[str, Any] = {}
    _maybe_eps(draw, args)
    for key in ("affine", "track_running_stats"):
        if draw(st.booleans()):
            args[key] = draw(st.booleans())
    if draw(st.booleans()):
        args["momentum"] = draw(st.floats(0.0, 1.0))
    return args, (draw(st.integers(1, 6)), *sizes), "float32"


@st.composite
def _rmsnorm(draw: st.DrawFn) -> Case:
    shape = tuple(draw(st.lists(st.integers(1, 8), min_size=1, max_size=3)))
    args: dict[str, Any] = {}
    if draw(st.booleans()):
        args["eps"] = draw(st.one_of(st.none(), _eps))
    if draw(st.booleans()):
        args[draw(st.sampled_from(["elementwise_affine", "affine"]))] = draw(st.booleans())
    return args, shape, "float32"


STRATEGIES: dict[str, st.SearchStrategy[Case]] = {
    "groupnorm": _groupnorm(),
    "instancenorm": _instancenorm(),
    "rmsnorm": _rmsnorm(),
}
