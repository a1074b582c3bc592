"""conv_transpose1d / conv_transpose2d (deconv1d/2d): PyTorch transposed convolutions.

Input (N, C, *spatial) -> output (N, filters, *spatial'). Per spatial dim
``out = (in - 1)*s - 2p + d(k - 1) + output_padding + 1``, with ``output_padding < s`` or
``output_padding < d``. Params ``filters * (C/groups) * prod(k) (+ filters)``;
MACs use the INPUT spatial size: ``prod(in) * C * (filters/groups) * prod(k)``.
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import Field

from netspec import dims
from netspec.errors import ShapeError
from netspec.layers.common import (
    PadOrTuple,
    axis,
    check_groups,
    known,
    layout,
    per_dim,
    positive,
    require_float,
    require_rank,
)
from netspec.layers.conv import ConvConfig
from netspec.layers.registry import (
    Call,
    Example,
    Inferred,
    LayerType,
    Tensor,
    register,
)


class ConvTransposeConfig(ConvConfig):
    """conv's arguments, with integer padding only and output_padding."""

    padding: PadOrTuple = Field(
        0, description="removes this many rows/columns from each side of the output"
    )
    output_padding: PadOrTuple = 0


class _Geometry:
    """Per-dim kernel, stride, padding, output_padding, dilation of one config."""

    def __init__(self, cfg: ConvTransposeConfig, n: int) -> None:
        self.k = per_dim(cfg.kernel_size, n, "kernel_size")
        self.s = per_dim(cfg.stride, n, "stride")
        self.p = per_dim(cfg.padding, n, "padding")
        self.op = per_dim(cfg.output_padding, n, "output_padding")
        self.d = per_dim(cfg.dilation, n, "dilation")


def _infer(n: int) -> Any:
    name = f"conv_transpose{n}d"

    def infer(cfg: ConvTransposeConfig, inputs: tuple[Tensor, ...]) -> Inferred:
        (x,) = inputs
        require_float(x, name)
        require_rank(x, (n + 2,), name, layout(n))
        channels = known(x.shape[0], f"the channel dimension of {name}'s input")
        g = _Geometry(cfg, n)
        check_groups(channels, cfg.filters, cfg.groups, x.shape)
        for i in range(n):
            # torch checks this only when it computes (CPU/CUDA), not on the meta device
            if g.op[i] >= g.s[i] and g.op[i] >= g.d[i]:
                raise ShapeError(
                    f"output_padding ({g.op[i]}) must be smaller than stride ({g.s[i]}) or "
                    f"dilation ({g.d[i]}) along spatial dim {i + 1}",
                    received=f"output_padding={g.op[i]}, stride={g.s[i]}, dilation={g.d[i]}",
                    expected=f"output_padding < {max(g.s[i], g.d[i])}",
                    hint="output_padding only picks among the sizes a stride > 1 can produce",
                    field="output_padding",
                )
        spatial: list[dims.Dim] = []
        for i, size in enumerate(x.shape[1:]):
            extra = -2 * g.p[i] + g.d[i] * (g.k[i] - 1) + g.op[i] + 1
            out = dims.add(dims.mul(dims.add(size, -1), g.s[i]), extra)
            spatial.append(positive(out, f"output {axis(i, len(x.shape) - 1)} size", x.shape))
        kernel = math.prod(g.k)
        params = cfg.filters * (channels // cfg.groups) * kernel + (cfg.filters if cfg.bias else 0)
        per_input_position = channels * (cfg.filters // cfg.groups) * kernel
        macs = dims.mul(dims.prod(x.shape[1:]), per_input_position)
        return Inferred(Tensor((cfg.filters, *spatial)), params, macs)

    return infer


def _module(n: int) -> Any:
    def module(cfg: ConvTransposeConfig, inputs: tuple[Tensor, ...]) -> Call:
        g = _Geometry(cfg, n)
        channels = known(inputs[0].shape[0], "channels")
        kwargs = {
            "stride": g.s,
            "padding": g.p,
            "output_padding": g.op,
            "groups": cfg.groups,
            "bias": cfg.bias,
            "dilation": g.d,
        }
        return Call(f"nn.ConvTranspose{n}d", (channels, cfg.filters, g.k), kwargs)

    return module


_ALIASES = {1: ("deconv1d", "conv1d_transpose"), 2: ("deconv2d", "conv2d_transpose")}

for _n in (1, 2):
    _in = ((4, 9), (4, 5, 6))[_n - 1]
    register(
        LayerType(
            name=f"conv_transpose{_n}d",
            config=ConvTransposeConfig,
            fused_activation=True,
            infer=_infer(_n),
            module=_module(_n),
            aliases=_ALIASES[_n],
            family="convolution",
            summary=f"{_n}-D transposed convolution (torch.nn.ConvTranspose{_n}d), "
            "the learned upsampling of decoders.",
            shape_rule=f"{layout(_n)} -> (N, filters, ...): "
            "(in - 1)*s - 2p + d(k - 1) + output_padding + 1 per spatial dim",
            examples=(
                Example({"filters": 3, "kernel_size": 3}, _in),
                Example({"filters": 6, "kernel_size": 4, "stride": 2, "padding": 1}, _in),
                Example(
                    {
                        "filters": 2,
                        "kernel_size": 3,
                        "stride": 2,
                        "padding": 1,
                        "output_padding": 1,
                        "groups": 2,
                        "activation": "relu",
                    },
                    _in,
                ),
                Example({"filters": 5, "kernel_size": 2, "dilation": 2, "bias": False}, _in),
                Example({"filters": 2, "kernel_size": 4, "stride": 2, "spectral_norm": True}, _in),
            ),
            field_docs={
                "output_padding": "extra size added to one side of the output; must be < "
                "stride or < dilation (picks among the sizes a stride > 1 maps to)",
            },
        )
    )
