"""Activation layers: relu, leaky_relu, sigmoid, tanh, gelu, silu, elu, softmax, log_softmax,
identity. Shape unchanged, no parameters, no MACs (elementwise work is not counted)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from netspec.layers.common import require_float
from netspec.layers.registry import Example, Inferred, LayerConfig, LayerType, Tensor, register

if TYPE_CHECKING:
    from torch import nn


class NoArgs(LayerConfig):
    pass


class LeakyReluConfig(LayerConfig):
    negative_slope: float = 0.01


class EluConfig(LayerConfig):
    alpha: float = 1.0


class GeluConfig(LayerConfig):
    approximate: Literal["none", "tanh"] = "none"


class SoftmaxConfig(LayerConfig):
    dim: int = -1


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


def _build_simple(torch_name: str) -> Any:
    def build(cfg: Any, inputs: tuple[Tensor, ...]) -> nn.Module:
        from torch import nn

        module: nn.Module = getattr(nn, torch_name)()
        return module

    return build


def _build_leaky(cfg: LeakyReluConfig, inputs: tuple[Tensor, ...]) -> nn.Module:
    from torch import nn

    return nn.LeakyReLU(cfg.negative_slope)


def _build_elu(cfg: EluConfig, inputs: tuple[Tensor, ...]) -> nn.Module:
    from torch import nn

    return nn.ELU(cfg.alpha)


def _build_gelu(cfg: GeluConfig, inputs: tuple[Tensor, ...]) -> nn.Module:
    from torch import nn

    return nn.GELU(approximate=cfg.approximate)


def _build_softmax(torch_name: str) -> Any:
    def build(cfg: SoftmaxConfig, inputs: tuple[Tensor, ...]) -> nn.Module:
        from torch import nn

        module: nn.Module = getattr(nn, torch_name)(dim=cfg.dim)
        return module

    return build


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
            build=_build_simple(_torch),
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
        build=_build_simple("Identity"),
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
        build=_build_leaky,
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
        build=_build_elu,
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
        build=_build_gelu,
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
            build=_build_softmax(_torch),
            primary="dim",
            family="activation",
            summary=f"{_torch} along `dim` (default -1, the last) (torch.nn.{_torch}).",
            shape_rule="unchanged",
            examples=(*_EXAMPLE, Example({"dim": 1}, (3, 4))),
        )
    )
