"""Hypothesis strategies for the core layer files (dense, conv, activations, merges)."""

from __future__ import annotations

from typing import Any, get_args

from hypothesis import strategies as st

from netspec.layers.common import ActivationName

Case = tuple[dict[str, Any], tuple[int, ...], str]
# Every `activation:` value (the fused ones add no parameters or MACs, whichever it is).
FUSED_ACTIVATIONS = get_args(ActivationName)


@st.composite
def _dense(draw: st.DrawFn) -> Case:
    lead = draw(st.lists(st.integers(1, 5), max_size=2))
    args: dict[str, Any] = {"units": draw(st.integers(1, 16)), "bias": draw(st.booleans())}
    if draw(st.booleans()):
        args["activation"] = draw(st.sampled_from(FUSED_ACTIVATIONS))
    return args, (*lead, draw(st.integers(1, 16))), "float32"


def _conv(n: int) -> st.SearchStrategy[Case]:
    @st.composite
    def case(draw: st.DrawFn) -> Case:
        groups = draw(st.sampled_from([1, 1, 2, 3]))
        channels = groups * draw(st.integers(1, 3))
        filters = groups * draw(st.integers(1, 3))
        k = draw(st.integers(1, 4))
        stride = draw(st.integers(1, 3))
        dilation = draw(st.integers(1, 2))
        padding: Any = draw(st.sampled_from(["same", "valid", 0, 1, 2]))
        span = dilation * (k - 1) + 1
        sizes = tuple(draw(st.integers(max(span, 1), max(span, 1) + 6)) for _ in range(n))
        args = {
            "filters": filters,
            "kernel_size": k,
            "stride": stride,
            "padding": padding,
            "dilation": dilation,
            "groups": groups,
            "bias": draw(st.booleans()),
        }
        return args, (channels, *sizes), "float32"

    return case()


@st.composite
def _unary(draw: st.DrawFn) -> Case:
    shape = tuple(draw(st.lists(st.integers(1, 6), min_size=1, max_size=3)))
    return {}, shape, "float32"


@st.composite
def _softplus(draw: st.DrawFn) -> Case:
    args: dict[str, Any] = {}
    if draw(st.booleans()):
        args["beta"] = draw(st.floats(0.1, 5.0))
    if draw(st.booleans()):
        args["threshold"] = draw(st.floats(-5.0, 30.0))
    return args, tuple(draw(st.lists(st.integers(1, 6), min_size=1, max_size=3))), "float32"


@st.composite
def _prelu(draw: st.DrawFn) -> Case:
    # per_channel reads dim 1 at any rank: (N, F), (N, C, L), (N, C, H, W), (N, T, E).
    args: dict[str, Any] = {}
    if draw(st.booleans()):
        args["per_channel"] = draw(st.booleans())
    if draw(st.booleans()):
        args["init"] = draw(st.floats(-1.0, 1.0))
    return args, tuple(draw(st.lists(st.integers(1, 6), min_size=1, max_size=4))), "float32"


@st.composite
def _concat(draw: st.DrawFn) -> Case:
    shape = tuple(draw(st.lists(st.integers(1, 6), min_size=1, max_size=3)))
    dim = draw(st.integers(1, len(shape)))
    return {"dim": dim if draw(st.booleans()) else dim - len(shape) - 1}, shape, "float32"


STRATEGIES: dict[str, st.SearchStrategy[Case]] = {
    "dense": _dense(),
    "conv1d": _conv(1),
    "conv2d": _conv(2),
    "conv3d": _conv(3),
    "concat": _concat(),
    **{
        name: _unary()
        for name in (
            "relu",
            "sigmoid",
            "tanh",
            "silu",
            "identity",
            "elu",
            "gelu",
            "leaky_relu",
            "softmax",
            "log_softmax",
            "relu6",
            "hardswish",
            "hardsigmoid",
            "mish",
            "selu",
        )
    },
    "softplus": _softplus(),
    "prelu": _prelu(),
}
MULTI_INPUT = {"add", "multiply", "concat"}
