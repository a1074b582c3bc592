"""Pooling: maxpool1d/2d/3d, avgpool1d/2d/3d, global_avgpool, global_maxpool, adaptive_avgpool2d.

maxpool / avgpool: input (N, C, *spatial) -> output (N, C, *spatial'), per spatial dim the
PyTorch formula ``out = floor((in + 2p - d(k-1) - 1) / s) + 1`` (``d = 1`` for avgpool,
``s`` defaults to ``k``); with ``ceil_mode`` the ceiling, minus one when the last window would
start inside the right padding (``(out-1)*s >= in + p``). ``p <= k // 2`` per dim, and
avgpool3d (only it, as in torch) also needs ``in >= k`` before padding.
global_avgpool / global_maxpool: (N, C, *spatial) -> (N, C), 1 to 3 spatial dims.
adaptive_avgpool2d: (N, C, H, W) -> (N, C, *output_size) (a null entry keeps that dim).
No parameters and no MACs (pooling does no multiply-accumulates).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AliasChoices, Field

from netspec import dims
from netspec.dims import Dim, Shape, Sym, format_shape
from netspec.errors import ShapeError
from netspec.layers.common import (
    IntOrTuple,
    NoArgs,
    PadOrTuple,
    PositiveInt,
    axis,
    layout,
    per_dim,
    positive,
    require_float,
    require_rank,
)
from netspec.layers.registry import (
    Call,
    Example,
    Inferred,
    LayerConfig,
    LayerType,
    Tensor,
    register,
)

_KERNEL = AliasChoices("kernel_size", "pool_size")
_STRIDE = AliasChoices("stride", "strides")


class AvgPoolConfig(LayerConfig):
    kernel_size: IntOrTuple = Field(validation_alias=_KERNEL)
    stride: IntOrTuple | None = Field(default=None, validation_alias=_STRIDE)
    padding: PadOrTuple | Literal["valid"] = 0
    ceil_mode: bool = False
    count_include_pad: bool = True


class MaxPoolConfig(LayerConfig):
    kernel_size: IntOrTuple = Field(validation_alias=_KERNEL)
    stride: IntOrTuple | None = Field(default=None, validation_alias=_STRIDE)
    padding: PadOrTuple | Literal["valid"] = 0
    dilation: IntOrTuple = 1
    ceil_mode: bool = False


class AdaptivePoolConfig(LayerConfig):
    output_size: PositiveInt | tuple[PositiveInt | None, PositiveInt | None]


def pool_out(size: Dim, k: int, s: int, p: int, d: int, ceil_mode: bool) -> Dim:
    """One spatial dim of a PyTorch max/avg pool's output (torch's ``pooling_output_shape``)."""
    if isinstance(size, int):
        width = size + 2 * p - d * (k - 1) - 1
        if not ceil_mode:
            return width // s + 1
        out = -(-width // s) + 1
        # torch drops the last window if it would start inside the right padding.
        return out - 1 if (out - 1) * s >= size + p else out
    span = dims.add(size, 2 * p - d * (k - 1) - 1)
    terms = span.terms if isinstance(span, Sym) else (((), span),)
    const = sum(c for mono, c in terms if not mono)
    if all(c % s == 0 for mono, c in terms if mono):
        # span = s*q + const exactly, so floor/ceil act on the constant alone.
        q = dims.floordiv(dims.sub(span, const), s)
        if not ceil_mode:
            return dims.add(q, const // s + 1)
        up = -(-const // s)
        drop = 1 if up * s - const >= d * (k - 1) + 1 - p else 0
        return dims.add(q, up + 1 - drop)
    # floor(span/s) + 1 == floor((span + s)/s): the latter reads better as a new symbol.
    if not ceil_mode:
        return dims.floordiv(dims.add(span, s), s)
    if d * (k - 1) + 1 - p > s - 1:
        # (-span) mod s <= s - 1 < the gap that makes torch drop a window: it never drops.
        return dims.ceildiv(dims.add(span, s), s)
    return dims.opaque(
        f"ceil_pool({size}, k={k}, s={s}, p={p}, d={d})",
        lambda values: pool_out(dims.substitute(size, values), k, s, p, d, ceil_mode),
    )


def _pool_infer(kind: Literal["max", "avg"], n: int) -> Any:
    name = f"{kind}pool{n}d"

    def infer(cfg: MaxPoolConfig | AvgPoolConfig, inputs: tuple[Tensor, ...]) -> Inferred:
        (x,) = inputs
        require_float(x, name)
        require_rank(x, (n + 2,), name, layout(n))
        k = per_dim(cfg.kernel_size, n, "kernel_size")
        s = per_dim(cfg.stride, n, "stride") if cfg.stride is not None else k
        p = per_dim(0 if cfg.padding == "valid" else cfg.padding, n, "padding")
        d = per_dim(cfg.dilation, n, "dilation") if isinstance(cfg, MaxPoolConfig) else (1,) * n
        for ki, pi in zip(k, p, strict=True):
            if pi > ki // 2:
                raise ShapeError(
                    f"{name} padding {pi} is more than half its kernel size {ki}",
                    received=f"padding {list(p)}, kernel_size {list(k)}",
                    expected=f"padding <= kernel_size // 2 (here <= {ki // 2})",
                    hint="use a larger kernel_size or less padding",
                    field="padding",
                )
        if kind == "avg" and n == 3:
            _fits_unpadded(x.shape, k, name)
        spatial = tuple(
            positive(
                pool_out(size, k[i], s[i], p[i], d[i], cfg.ceil_mode),
                f"{name}'s output {axis(i, len(x.shape) - 1)} size",
                x.shape,
            )
            for i, size in enumerate(x.shape[1:])
        )
        return Inferred(Tensor((x.shape[0], *spatial)))

    return infer


def _fits_unpadded(shape: Shape, k: tuple[int, ...], name: str) -> None:
    """torch's avg_pool3d (alone among the pools) needs ``in >= k`` before padding."""
    for i, (size, ki) in enumerate(zip(shape[1:], k, strict=True)):
        if isinstance(size, int) and size < ki:
            raise ShapeError(
                f"{name} needs every spatial size >= its kernel size (torch's avg_pool3d "
                f"checks this before padding), but spatial dim {i + 1} is {size} < {ki}",
                received=format_shape(shape),
                expected=f"spatial sizes >= kernel_size {list(k)}",
                hint="use a smaller kernel_size",
                field="kernel_size",
            )


def _pool_module(kind: Literal["max", "avg"], n: int) -> Any:
    def module(cfg: MaxPoolConfig | AvgPoolConfig, inputs: tuple[Tensor, ...]) -> Call:
        k = per_dim(cfg.kernel_size, n, "kernel_size")
        s = per_dim(cfg.stride, n, "stride") if cfg.stride is not None else k
        p = per_dim(0 if cfg.padding == "valid" else cfg.padding, n, "padding")
        if isinstance(cfg, MaxPoolConfig):
            d = per_dim(cfg.dilation, n, "dilation")
            return Call(f"nn.MaxPool{n}d", (k, s, p), {"dilation": d, "ceil_mode": cfg.ceil_mode})
        kwargs = {"ceil_mode": cfg.ceil_mode, "count_include_pad": cfg.count_include_pad}
        return Call(f"nn.AvgPool{n}d", (k, s, p), kwargs)

    return module


def _global_infer(kind: str) -> Any:
    def infer(cfg: NoArgs, inputs: tuple[Tensor, ...]) -> Inferred:
        (x,) = inputs
        layer = f"global_{kind}pool"
        require_float(x, layer)
        require_rank(x, (3, 4, 5), layer, "(N, C, *spatial) with 1 to 3 spatial dims")
        return Inferred(Tensor((x.shape[0],)))

    return infer


def _global_module(kind: str) -> Any:
    def module(cfg: NoArgs, inputs: tuple[Tensor, ...]) -> Call:
        n = len(inputs[0].shape) - 1
        pool = f"nn.Adaptive{'Avg' if kind == 'avg' else 'Max'}Pool{n}d"
        # Adaptive pooling to 1 then flatten: built-in modules only (ONNX GlobalXPool).
        return Call("nn.Sequential", (Call(pool, (1,)), Call("nn.Flatten", (1,))))

    return module


def _adaptive_infer(cfg: AdaptivePoolConfig, inputs: tuple[Tensor, ...]) -> Inferred:
    (x,) = inputs
    require_float(x, "adaptive_avgpool2d")
    require_rank(x, (4,), "adaptive_avgpool2d", layout(2))
    size = cfg.output_size
    want = (size, size) if isinstance(size, int) else size
    spatial = tuple(x.shape[1 + i] if w is None else w for i, w in enumerate(want))
    return Inferred(Tensor((x.shape[0], *spatial)))


def _adaptive_module(cfg: AdaptivePoolConfig, inputs: tuple[Tensor, ...]) -> Call:
    return Call("nn.AdaptiveAvgPool2d", (cfg.output_size,))


def _aliases(kind: Literal["max", "avg"], n: int) -> tuple[str, ...]:
    if kind == "max":
        return (f"max_pool{n}d", f"max_pooling{n}d")
    return (f"avg_pool{n}d", f"average_pooling{n}d")


_POOL_DOCS = {
    "kernel_size": "window size: one int for every spatial dim, or a list with one per dim",
    "stride": "step between windows (default: kernel_size)",
    "padding": "implicit padding on both sides, at most kernel_size // 2 (`valid` = 0); max "
    "pooling pads with -inf, average pooling with zeros",
    "ceil_mode": "round the output size up instead of down (a window starting inside the right "
    "padding is dropped, as in PyTorch)",
    "dilation": "spacing between the elements of a window",
    "count_include_pad": "average pooling: count padded zeros in the divisor",
}

_INPUTS = ((3, 11), (2, 7, 8), (2, 5, 6, 7))
_KINDS: tuple[tuple[Literal["max", "avg"], str, str], ...] = (
    ("max", "MaxPool", "max"),
    ("avg", "AvgPool", "average"),
)

for _n in (1, 2, 3):
    _in = _INPUTS[_n - 1]
    for _kind, _torch, _words in _KINDS:
        _examples = [
            Example({"kernel_size": 2}, _in),
            Example({"kernel_size": 3, "stride": 2, "padding": 1}, _in),
            Example({"kernel_size": 2, "ceil_mode": True}, _in),
        ]
        if _kind == "max":
            _examples.append(Example({"kernel_size": 2, "stride": 1, "dilation": 2}, _in))
        register(
            LayerType(
                name=f"{_kind}pool{_n}d",
                config=MaxPoolConfig if _kind == "max" else AvgPoolConfig,
                infer=_pool_infer(_kind, _n),
                module=_pool_module(_kind, _n),
                aliases=_aliases(_kind, _n),
                primary="kernel_size",
                family="pooling",
                summary=f"{_n}-D {_words} pooling (torch.nn.{_torch}{_n}d); stride defaults to "
                "kernel_size.",
                shape_rule=f"{layout(_n)} -> (N, C, ...): PyTorch pooling formula per spatial dim",
                examples=tuple(_examples),
                field_docs={
                    f: doc
                    for f, doc in _POOL_DOCS.items()
                    if f in (MaxPoolConfig if _kind == "max" else AvgPoolConfig).model_fields
                },
            )
        )

for _kind, _long in (("avg", "average"), ("max", "max")):
    register(
        LayerType(
            name=f"global_{_kind}pool",
            config=NoArgs,
            infer=_global_infer(_kind),
            module=_global_module(_kind),
            aliases=(
                f"global_{_long}_pooling",
                f"global_{_kind}_pool",
                *(f"global_{_long}_pooling{n}d" for n in (1, 2, 3)),
                *(f"global_{_kind}_pool{n}d" for n in (1, 2, 3)),
            ),
            family="pooling",
            summary=f"Global {_long} pooling over every spatial dim, then flattened to (N, C).",
            shape_rule="(N, C, *spatial) -> (N, C)",
            examples=(Example({}, (3, 10)), Example({}, (4, 5, 6)), Example({}, (2, 3, 4, 5))),
        )
    )

register(
    LayerType(
        name="adaptive_avgpool2d",
        config=AdaptivePoolConfig,
        infer=_adaptive_infer,
        module=_adaptive_module,
        aliases=("adaptive_avg_pool2d", "adaptive_average_pooling2d"),
        primary="output_size",
        family="pooling",
        summary="Adaptive 2-D average pooling to a fixed output size (torch.nn.AdaptiveAvgPool2d).",
        shape_rule="(N, C, H, W) -> (N, C, *output_size); a null entry keeps that input dim",
        examples=(
            Example({"output_size": 1}, (3, 7, 7)),
            Example({"output_size": [2, 3]}, (2, 9, 8)),
            Example({"output_size": [None, 2]}, (2, 5, 6)),
        ),
        field_docs={
            "output_size": "output (H, W): one int for both, or [h, w] where null keeps that "
            "input size",
        },
    )
)
