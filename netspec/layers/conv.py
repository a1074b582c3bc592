"""conv1d / conv2d / conv3d: PyTorch convolutions with Keras-style `same` at any stride.

Input (N, C, *spatial) -> output (N, filters, *spatial'). Per spatial dim
``out = floor((in + 2p - d(k-1) - 1) / s) + 1``; ``padding: same`` keeps the size at stride 1
and gives ``ceil(in / s)`` at stride > 1 (TF/Keras), padding asymmetrically when it must.
Params ``filters * (C/groups) * prod(k) (+ filters)``;
MACs ``filters * prod(out) * (C/groups) * prod(k)``.
"""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import AliasChoices, Field

from netspec import dims
from netspec.layers.common import (
    ActivationName,
    IntOrTuple,
    PadOrTuple,
    PositiveInt,
    SpectralNorm,
    axis,
    check_groups,
    known,
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


class ConvConfig(LayerConfig):
    filters: PositiveInt = Field(
        validation_alias=AliasChoices("filters", "out_channels"), description="output channels"
    )
    kernel_size: IntOrTuple = Field(description="window size: one int, or one per spatial dim")
    stride: IntOrTuple = Field(1, description="step between windows")
    padding: PadOrTuple | Literal["same", "valid"] = Field(
        0,
        description="zeros added on each side; `same` keeps the size at stride 1 and gives "
        "ceil(in / stride) at stride > 1 (TF/Keras); `valid` is 0",
    )
    dilation: IntOrTuple = Field(1, description="spacing between kernel elements")
    groups: PositiveInt = Field(
        1, description="split channels into groups convolved separately (depthwise: = channels)"
    )
    bias: bool = Field(True, description="add a learned bias per filter")
    activation: ActivationName | None = Field(
        None,
        description="an activation applied to the output (fused: no extra layer row or module)",
    )
    spectral_norm: SpectralNorm = False


def _infer(n: int) -> Any:
    name = f"conv{n}d"

    def infer(cfg: ConvConfig, inputs: tuple[Tensor, ...]) -> Inferred:
        (x,) = inputs
        require_float(x, name)
        require_rank(x, (n + 2,), name, layout(n))
        channels = known(x.shape[0], f"the channel dimension of {name}'s input")
        k = per_dim(cfg.kernel_size, n, "kernel_size")
        s = per_dim(cfg.stride, n, "stride")
        d = per_dim(cfg.dilation, n, "dilation")
        check_groups(channels, cfg.filters, cfg.groups, x.shape)
        spatial: list[dims.Dim] = []
        for i, size in enumerate(x.shape[1:]):
            if cfg.padding == "same":
                out = dims.ceildiv(size, s[i])
            else:
                p = 0 if cfg.padding == "valid" else per_dim(cfg.padding, n, "padding")[i]
                span = dims.add(size, 2 * p - d[i] * (k[i] - 1) - 1)
                out = dims.add(dims.floordiv(span, s[i]), 1)
            spatial.append(positive(out, f"output {axis(i, len(x.shape) - 1)} size", x.shape))
        per_position = (channels // cfg.groups) * math.prod(k)
        params = cfg.filters * per_position + (cfg.filters if cfg.bias else 0)
        macs = dims.mul(dims.prod(spatial), cfg.filters * per_position)
        return Inferred(Tensor((cfg.filters, *spatial)), params, macs)

    return infer


def _module(n: int) -> Any:
    def module(cfg: ConvConfig, inputs: tuple[Tensor, ...]) -> Call:
        k = per_dim(cfg.kernel_size, n, "kernel_size")
        s = per_dim(cfg.stride, n, "stride")
        d = per_dim(cfg.dilation, n, "dilation")
        channels = known(inputs[0].shape[0], "channels")
        kwargs: dict[str, Any] = {"stride": s}
        if cfg.padding == "same" and any(si > 1 for si in s):
            # torch's padding='same' is stride-1 only: pad like TF at run time instead.
            target = f"SamePadConv{n}d"
        else:
            target = f"nn.Conv{n}d"
            kwargs["padding"] = (
                cfg.padding if isinstance(cfg.padding, str) else per_dim(cfg.padding, n, "")
            )
        kwargs.update(dilation=d, groups=cfg.groups, bias=cfg.bias)
        return Call(target, (channels, cfg.filters, k), kwargs)

    return module


for _n in (1, 2, 3):
    _in = ((3, 16), (3, 8, 8), (2, 5, 6, 7))[_n - 1]
    register(
        LayerType(
            name=f"conv{_n}d",
            config=ConvConfig,
            fused_activation=True,
            infer=_infer(_n),
            module=_module(_n),
            family="convolution",
            summary=f"{_n}-D convolution (torch.nn.Conv{_n}d); `padding: same` at any stride.",
            shape_rule=f"{layout(_n)} -> (N, filters, ...): PyTorch conv formula per spatial dim",
            examples=(
                Example({"filters": 4, "kernel_size": 3}, _in),
                Example({"filters": 6, "kernel_size": 3, "padding": "same", "stride": 2}, _in),
                Example(
                    {"filters": _in[0], "kernel_size": 2, "padding": "same", "groups": _in[0]}, _in
                ),
                Example({"filters": 2, "kernel_size": 1, "bias": False, "activation": "relu"}, _in),
                Example({"filters": 4, "kernel_size": 3, "stride": 2, "spectral_norm": True}, _in),
            ),
        )
    )
