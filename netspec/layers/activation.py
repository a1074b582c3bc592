"""Activation layers: relu, leaky_relu, sigmoid, tanh, gelu, silu, elu, softmax, log_softmax,
identity. Shape unchanged, no parameters, no MACs (elementwise work is not counted)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from netspec.layers.common import NoArgs, require_float
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
):
    register(
        LayerType(
            name=_name,
            config=NoArgs,
            infer=_float_unchanged,
            module=_simple(_torch),
            family="activation",
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
            summary=f"{_torch} along `dim` (default -1, the last) (torch.nn.{_torch}).",
            shape_rule="unchanged",
            examples=(*_EXAMPLE, Example({"dim": 1}, (3, 4))),
        )
    )
