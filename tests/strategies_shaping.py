"""Hypothesis strategies for the shaping layer files (pooling, reshape, upsample, dropout,
normalization): valid (args, in_shape, dtype) triples, kept small (spatial <= 12, channels <= 8).
"""

from __future__ import annotations

import math
from typing import Any

from hypothesis import strategies as st

# Registers the layers even before netspec/layers/__init__.py imports these files.
from netspec.layers import dropout, normalization, pooling, reshape, upsample  # noqa: F401

Case = tuple[dict[str, Any], tuple[int, ...], str]

_channels = st.integers(1, 8)
_any_dtype = st.sampled_from(["float32", "float32", "int64"])


def _per_dim(draw: st.DrawFn, values: list[int]) -> Any:
    """One int for every dim, or a list (sometimes with equal entries)."""
    if len(set(values)) == 1 and draw(st.booleans()):
        return values[0]
    return values


def _pool(kind: str, n: int) -> st.SearchStrategy[Case]:
    @st.composite
    def case(draw: st.DrawFn) -> Case:
        k = [draw(st.integers(1, 4)) for _ in range(n)]
        if draw(st.booleans()):
            k = [k[0]] * n
        d = [draw(st.integers(1, 3)) if kind == "max" else 1 for _ in range(n)]
        p = [draw(st.integers(0, ki // 2)) for ki in k]
        args: dict[str, Any] = {
            draw(st.sampled_from(["kernel_size", "pool_size"])): _per_dim(draw, k)
        }
        stride: list[int] | None = None
        if draw(st.booleans()):
            stride = [draw(st.integers(1, 4)) for _ in range(n)]
            args["stride"] = _per_dim(draw, stride)
        if any(p) or draw(st.booleans()):
            args["padding"] = _per_dim(draw, p)
        if kind == "max" and (any(di > 1 for di in d) or draw(st.booleans())):
            args["dilation"] = _per_dim(draw, d)
        if kind == "avg" and draw(st.booleans()):
            args["count_include_pad"] = draw(st.booleans())
        args["ceil_mode"] = draw(st.booleans())
        # Each spatial size must fit one (dilated) window: in + 2p >= d(k-1) + 1; torch's
        # avg_pool3d alone also wants in >= k before padding.
        least = [
            k[i] if (kind, n) == ("avg", 3) else max(1, d[i] * (k[i] - 1) + 1 - 2 * p[i])
            for i in range(n)
        ]
        sizes = tuple(draw(st.integers(least[i], 12)) for i in range(n))
        return args, (draw(_channels), *sizes), "float32"

    return case()


@st.composite
def _global(draw: st.DrawFn) -> Case:
    n = draw(st.integers(1, 3))
    sizes = tuple(draw(st.integers(1, 12 if n < 3 else 5)) for _ in range(n))
    return {}, (draw(_channels), *sizes), "float32"


@st.composite
def _adaptive(draw: st.DrawFn) -> Case:
    shape = (draw(_channels), draw(st.integers(1, 12)), draw(st.integers(1, 12)))
    size: Any
    if draw(st.booleans()):
        size = draw(st.integers(1, 6))
    else:
        size = [draw(st.one_of(st.none(), st.integers(1, 6))) for _ in range(2)]
    return {"output_size": size}, shape, "float32"


@st.composite
def _flatten(draw: st.DrawFn) -> Case:
    shape = tuple(draw(st.lists(st.integers(1, 6), min_size=1, max_size=4)))
    rank = len(shape) + 1
    start = draw(st.integers(1, rank - 1))
    end = draw(st.integers(start, rank - 1))
    args: dict[str, Any] = {}
    if start != 1 or draw(st.booleans()):
        args["start_dim"] = start if draw(st.booleans()) else start - rank
    if end != rank - 1 or draw(st.booleans()):
        args["end_dim"] = end if draw(st.booleans()) else end - rank
    return args, shape, draw(_any_dtype)


@st.composite
def _reshape(draw: st.DrawFn) -> Case:
    shape = tuple(draw(st.lists(st.integers(1, 6), min_size=1, max_size=4)))
    count = math.prod(shape)
    target: list[int] = []
    left = count
    for _ in range(draw(st.integers(0, 3))):
        factor = draw(st.sampled_from([f for f in range(1, left + 1) if left % f == 0]))
        target.append(factor)
        left //= factor
    target.append(left)
    target = draw(st.permutations(target))
    if draw(st.booleans()):
        target[draw(st.integers(0, len(target) - 1))] = -1
    return {"shape": target}, shape, draw(_any_dtype)


@st.composite
def _permute(draw: st.DrawFn) -> Case:
    shape = tuple(draw(st.lists(st.integers(1, 6), min_size=1, max_size=4)))
    rank = len(shape)
    order: list[int] = draw(st.permutations(list(range(1, rank + 1))))
    form = draw(st.sampled_from(["plain", "negative", "with_batch"]))
    if form == "negative":
        order = [d - rank - 1 if draw(st.booleans()) else d for d in order]
    elif form == "with_batch":
        order = [0, *order]
    return {"dims": order}, shape, draw(_any_dtype)


_UPSAMPLE_MODES = {
    "nearest": (1, 2, 3),
    "nearest-exact": (1, 2, 3),
    "linear": (1,),
    "bilinear": (2,),
    "bicubic": (2,),
    "trilinear": (3,),
}


@st.composite
def _upsample(draw: st.DrawFn) -> Case:
    mode = draw(st.sampled_from(sorted(_UPSAMPLE_MODES)))
    n = draw(st.sampled_from(_UPSAMPLE_MODES[mode]))
    sizes = [draw(st.integers(1, 6 if n < 3 else 4)) for _ in range(n)]
    scale = st.one_of(st.integers(1, 3), st.sampled_from([0.5, 1.5, 2.0, 2.5, 1.25]))
    scales = [draw(scale) for _ in range(n)]
    # A factor below 1 must still leave at least one element.
    sizes = [max(s, math.ceil(1 / f)) for s, f in zip(sizes, scales, strict=True)]
    args: dict[str, Any] = {
        "scale_factor": scales[0] if n == 1 or len(set(scales)) == 1 else scales,
    }
    if mode != "nearest" or draw(st.booleans()):
        args[draw(st.sampled_from(["mode", "interpolation"]))] = mode
    if not mode.startswith("nearest") and draw(st.booleans()):
        args["align_corners"] = draw(st.booleans())
    return args, (draw(_channels), *sizes), "float32"


@st.composite
def _dropout(draw: st.DrawFn) -> Case:
    shape = tuple(draw(st.lists(st.integers(1, 6), min_size=1, max_size=4)))
    args: dict[str, Any] = {}
    if draw(st.booleans()):
        args[draw(st.sampled_from(["rate", "p"]))] = draw(st.floats(0.0, 0.95))
    return args, shape, "float32"


@st.composite
def _batchnorm(draw: st.DrawFn) -> Case:
    n = draw(st.integers(1, 3))
    sizes = [draw(st.integers(1, 6 if n < 3 else 4)) for _ in range(n)]
    # The oracle runs batch 1 in training mode, where torch needs more than one value per
    # channel: keep a spatial dim > 1 (a (C,) input is fine for real batches > 1).
    if math.prod(sizes) == 1:
        sizes[0] = 2
    args: dict[str, Any] = {}
    if draw(st.booleans()):
        args["momentum"] = draw(st.floats(0.0, 1.0))
    if draw(st.booleans()):
        args[draw(st.sampled_from(["eps", "epsilon"]))] = draw(st.floats(1e-8, 1e-2))
    if draw(st.booleans()):
        args["affine"] = draw(st.booleans())
    if draw(st.booleans()):
        args["track_running_stats"] = draw(st.booleans())
    return args, (draw(_channels), *sizes), "float32"


@st.composite
def _layernorm(draw: st.DrawFn) -> Case:
    shape = tuple(draw(st.lists(st.integers(1, 8), min_size=1, max_size=3)))
    args: dict[str, Any] = {}
    if draw(st.booleans()):
        args[draw(st.sampled_from(["eps", "epsilon"]))] = draw(st.floats(1e-8, 1e-2))
    if draw(st.booleans()):
        args[draw(st.sampled_from(["elementwise_affine", "affine"]))] = draw(st.booleans())
    if draw(st.booleans()):
        args["bias"] = draw(st.booleans())
    return args, shape, "float32"


STRATEGIES: dict[str, st.SearchStrategy[Case]] = {
    **{f"{kind}pool{n}d": _pool(kind, n) for kind in ("max", "avg") for n in (1, 2, 3)},
    "global_avgpool": _global(),
    "global_maxpool": _global(),
    "adaptive_avgpool2d": _adaptive(),
    "flatten": _flatten(),
    "reshape": _reshape(),
    "permute": _permute(),
    "upsample": _upsample(),
    "dropout": _dropout(),
    "batchnorm": _batchnorm(),
    "layernorm": _layernorm(),
}
