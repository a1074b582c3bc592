"""Activation layers: relu, relu6, leaky_relu, prelu, sigmoid, hardsigmoid, tanh, gelu, silu,
hardswish, mish, softplus, elu, selu, softmax, log_softmax, identity.

Input (N, ...) -> output unchanged (N, ...). No MACs (elementwise work is not counted) and no
parameters, except prelu's learned slopes: 1, or C with ``per_channel`` (C = dim 1, PyTorch
numbering). Every one keeps the positions of its input, so a padding mask carries over.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from netspec.layers.common import NoArgs, known, require_float
from netspec.layers.registry import (
    Call,
    Example,
    Inferred,
    LayerConfig,
    LayerType,
    Tensor,
    register,
)


class LeakyReluConfig(LayerConfig):
    negative_slope: float = Field(0.01, description="slope for negative inputs")


class EluConfig(LayerConfig):
    alpha: float = Field(1.0, description="saturation value for negative inputs")


class GeluConfig(LayerConfig):
    approximate: Literal["none", "tanh"] = Field(
        "none", description="`tanh`: the faster tanh approximation"
    )


class SoftplusConfig(LayerConfig):
    beta: Annotated[float, Field(gt=0.0)] = Field(
        1.0, description="sharpness: log(1 + exp(beta * x)) / beta"
    )
    threshold: float = Field(
        20.0, description="above beta * x > threshold the output is x (numerical stability)"
    )


class PReluConfig(LayerConfig):
    per_channel: bool = Field(
        False,
        description="one learned slope per channel (dim 1, PyTorch numbering) instead of one "
        "shared slope",
    )
    init: float = Field(0.25, description="the slopes' initial value")


class SoftmaxConfig(LayerConfig):
    dim: int = Field(-1, description="the dim normalized over; PyTorch numbering, batch = 0")


def _unchanged(cfg: Any, inputs: tuple[Tensor, ...]) -> Inferred:
    return Inferred(inputs[0])


def _float_unchanged(cfg: Any, inputs: tuple[Tensor, ...]) -> Inferred:
    require_float(inputs[0], "this activation")
    return Inferred(inputs[0])


def _softmax_infer(cfg: SoftmaxConfig, inputs: tuple[Tensor, ...]) -> Inferred:
    from netspec.errors import ShapeError

    x = inputs[0]
    require_float(x, "softmax")
    rank = len(x.shape) + 1
    if not -rank <= cfg.dim < rank or cfg.dim == 0 or cfg.dim == -rank:
        raise ShapeError(
            f"dim {cfg.dim} is not a per-sample dimension of a rank-{rank} tensor (batch is dim 0)",
            field="dim",
        )
    return Inferred(x)


def _prelu_infer(cfg: PReluConfig, inputs: tuple[Tensor, ...]) -> Inferred:
    (x,) = inputs
    require_float(x, "prelu")
    if not cfg.per_channel:
        return Inferred(x, 1)
    # nn.PReLU's slopes run along dim 1 whatever the rank: channels of (N, C, ...), features
    # of (N, F), but the sequence of (N, T, E).
    return Inferred(x, known(x.shape[0], "prelu's channel dimension (dim 1)"))


def _prelu(cfg: PReluConfig, inputs: tuple[Tensor, ...]) -> Call:
    count = known(inputs[0].shape[0], "channels") if cfg.per_channel else 1
    return Call("nn.PReLU", (), {"num_parameters": count, "init": cfg.init})


def _softplus(cfg: SoftplusConfig, inputs: tuple[Tensor, ...]) -> Call:
    return Call("nn.Softplus", (), {"beta": cfg.beta, "threshold": cfg.threshold})


def _simple(torch_name: str) -> Any:
    def module(cfg: Any, inputs: tuple[Tensor, ...]) -> Call:
        return Call(f"nn.{torch_name}")

    return module


def _leaky(cfg: LeakyReluConfig, inputs: tuple[Tensor, ...]) -> Call:
    return Call("nn.LeakyReLU", (cfg.negative_slope,))


def _elu(cfg: EluConfig, inputs: tuple[Tensor, ...]) -> Call:
    return Call("nn.ELU", (cfg.alpha,))


def _gelu(cfg: GeluConfig, inputs: tuple[Tensor, ...]) -> Call:
    return Call("nn.GELU", (), {"approximate": cfg.approximate})


def _softmax(torch_name: str) -> Any:
    def module(cfg: SoftmaxConfig, inputs: tuple[Tensor, ...]) -> Call:
        return Call(f"nn.{torch_name}", (), {"dim": cfg.dim})

    return module


_EXAMPLE = (Example({}, (5,)), Example({}, (3, 4, 4)))

for _name, _torch, _summary in (
    ("relu", "ReLU", "max(x, 0)"),
    ("sigmoid", "Sigmoid", "1 / (1 + exp(-x))"),
    ("tanh", "Tanh", "hyperbolic tangent"),
    ("silu", "SiLU", "x * sigmoid(x) (swish)"),
    ("relu6", "ReLU6", "min(max(x, 0), 6)"),
    ("hardswish", "Hardswish", "x * relu6(x + 3) / 6 (MobileNetV3)"),
    ("hardsigmoid", "Hardsigmoid", "relu6(x + 3) / 6"),
    ("mish", "Mish", "x * tanh(softplus(x))"),
    ("selu", "SELU", "scaled exponential linear unit (self-normalizing nets)"),
):
    register(
        LayerType(
            name=_name,
            config=NoArgs,
            infer=_float_unchanged,
            module=_simple(_torch),
            family="activation",
            keeps_padding=True,
            summary=f"Activation: {_summary} (torch.nn.{_torch}).",
            shape_rule="unchanged",
            examples=_EXAMPLE,
        )
    )

register(
    LayerType(
        name="identity",
        config=NoArgs,
        infer=_unchanged,
        module=_simple("Identity"),
        family="activation",
        keeps_padding=True,
        summary="Passes its input through unchanged (torch.nn.Identity).",
        shape_rule="unchanged",
        examples=_EXAMPLE,
    )
)
register(
    LayerType(
        name="leaky_relu",
        config=LeakyReluConfig,
        infer=_float_unchanged,
        module=_leaky,
        primary="negative_slope",
        family="activation",
        keeps_padding=True,
        summary="Activation: max(x, 0) + negative_slope * min(x, 0) (torch.nn.LeakyReLU).",
        shape_rule="unchanged",
        examples=(*_EXAMPLE, Example({"negative_slope": 0.2}, (7,))),
    )
)
register(
    LayerType(
        name="elu",
        config=EluConfig,
        infer=_float_unchanged,
        module=_elu,
        primary="alpha",
        family="activation",
        keeps_padding=True,
        summary="Activation: exponential linear unit (torch.nn.ELU).",
        shape_rule="unchanged",
        examples=_EXAMPLE,
    )
)
register(
    LayerType(
        name="gelu",
        config=GeluConfig,
        infer=_float_unchanged,
        module=_gelu,
        family="activation",
        keeps_padding=True,
        summary="Activation: Gaussian error linear unit (torch.nn.GELU).",
        shape_rule="unchanged",
        examples=(*_EXAMPLE, Example({"approximate": "tanh"}, (6,))),
    )
)
for _name, _torch in (("softmax", "Softmax"), ("log_softmax", "LogSoftmax")):
    register(
        LayerType(
            name=_name,
            config=SoftmaxConfig,
            infer=_softmax_infer,
            module=_softmax(_torch),
            primary="dim",
            family="activation",
            keeps_padding=True,
            summary=f"{_torch} along `dim` (default -1, the last) (torch.nn.{_torch}).",
            shape_rule="unchanged",
            examples=(*_EXAMPLE, Example({"dim": 1}, (3, 4))),
        )
    )
register(
    LayerType(
        name="softplus",
        config=SoftplusConfig,
        infer=_float_unchanged,
        module=_softplus,
        family="activation",
        keeps_padding=True,
        summary="Activation: log(1 + exp(beta * x)) / beta, a smooth relu (torch.nn.Softplus).",
        shape_rule="unchanged",
        examples=(*_EXAMPLE, Example({"beta": 2.0, "threshold": 10.0}, (6,))),
    )
)
register(
    LayerType(
        name="prelu",
        config=PReluConfig,
        infer=_prelu_infer,
        module=_prelu,
        family="activation",
        keeps_padding=True,
        summary="Activation with a learned negative slope: max(x, 0) + a * min(x, 0) "
        "(torch.nn.PReLU); one slope, or one per channel with `per_channel`.",
        shape_rule="unchanged; 1 parameter, or C (dim 1) with per_channel",
        examples=(
            *_EXAMPLE,
            Example({"per_channel": True}, (3, 4, 4)),
            Example({"per_channel": True, "init": 0.1}, (7,)),
        ),
    )
)
