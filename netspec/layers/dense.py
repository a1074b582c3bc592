"""dense (linear): a fully connected layer on the last dimension.

Input (N, ..., F) -> output (N, ..., units). Params ``F*units + units``; MACs ``prod(...)*F*units``.
"""

from __future__ import annotations

from pydantic import AliasChoices, Field

from netspec import dims
from netspec.layers.common import (
    ActivationName,
    PositiveInt,
    SpectralNorm,
    known,
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


class DenseConfig(LayerConfig):
    units: PositiveInt = Field(
        validation_alias=AliasChoices("units", "out_features"), description="output features"
    )
    bias: bool = Field(True, description="add a learned bias")
    activation: ActivationName | None = Field(
        None,
        description="an activation applied to the output (fused: no extra layer row or module)",
    )
    spectral_norm: SpectralNorm = False
    tie: str | None = Field(
        None,
        description="an earlier embedding (or dense) layer whose weight this layer reuses "
        "(GPT-2's output head); the shared weight is counted once, at that layer",
    )


def infer(cfg: DenseConfig, inputs: tuple[Tensor, ...]) -> Inferred:
    (x,) = inputs
    require_float(x, "dense")
    require_rank(x, range(2, 9), "dense", "(N, ..., features)")
    features = known(x.shape[-1], "the feature dimension of dense's input")
    params = features * cfg.units + (cfg.units if cfg.bias else 0)
    rows = dims.prod(x.shape[:-1])
    return Inferred(
        Tensor((*x.shape[:-1], cfg.units)), params, dims.mul(rows, features * cfg.units)
    )


def weight(cfg: DenseConfig, inputs: tuple[Tensor, ...]) -> tuple[int, ...]:
    """nn.Linear's weight is (units, features): an embedding's (num_embeddings, dim)."""
    return (cfg.units, known(inputs[0].shape[-1], "features"))


def module(cfg: DenseConfig, inputs: tuple[Tensor, ...]) -> Call:
    features = known(inputs[0].shape[-1], "features")
    return Call("nn.Linear", (features, cfg.units), {"bias": cfg.bias})


register(
    LayerType(
        name="dense",
        config=DenseConfig,
        fused_activation=True,
        keeps_padding=True,
        infer=infer,
        module=module,
        weight=weight,
        layer_references=("tie",),
        aliases=("linear",),
        primary="units",
        family="core",
        summary="Fully connected layer (torch.nn.Linear) acting on the last dimension.",
        shape_rule="(N, ..., F) -> (N, ..., units)",
        examples=(
            Example({"units": 10}, (64,)),
            Example({"units": 4, "bias": False}, (3, 7)),
            Example({"units": 8, "activation": "relu"}, (16,)),
            Example({"units": 1, "spectral_norm": True}, (12,)),
        ),
    )
)
