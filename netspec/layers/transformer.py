"""transformer_encoder: a stack of PyTorch TransformerEncoderLayers, batch first.

Input (N, T, E) -> output (N, T, E); ``E % num_heads == 0``; feed-forward size F defaults to 4E.
Pre-norm (``norm_first``) by default, with no final norm (add a `layernorm` after it).
Params per layer ``4E^2 + 4E + 2EF + F + E + 4E`` (attention, feed-forward, two LayerNorms);
MACs per layer ``4TE^2 + 2T^2E + 2TEF``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, Field

from netspec import dims
from netspec.layers.attention import attention_macs, check_heads
from netspec.layers.common import PositiveInt, Rate, known
from netspec.layers.registry import (
    Call,
    Example,
    Inferred,
    LayerConfig,
    LayerType,
    Tensor,
    register,
)


class TransformerEncoderConfig(LayerConfig):
    num_heads: PositiveInt = Field(validation_alias=AliasChoices("num_heads", "nhead", "heads"))
    dim_feedforward: PositiveInt | None = Field(
        default=None, validation_alias=AliasChoices("dim_feedforward", "ff_dim")
    )
    dropout: Rate = 0.1
    # The feed-forward block's inner nonlinearity (not a fused output activation).
    activation: Literal["gelu", "relu"] = "gelu"
    norm_first: bool = True
    num_layers: PositiveInt = 1
    causal: bool = False


def infer(cfg: TransformerEncoderConfig, inputs: tuple[Tensor, ...]) -> Inferred:
    (x,) = inputs
    embed = check_heads(x, cfg.num_heads, "transformer_encoder")
    ff = cfg.dim_feedforward or 4 * embed
    steps = x.shape[0]
    per_layer = 4 * embed * embed + 4 * embed + 2 * embed * ff + ff + embed + 4 * embed
    macs_per_layer = dims.add(attention_macs(steps, embed), dims.mul(steps, 2 * embed * ff))
    return Inferred(
        Tensor(x.shape), cfg.num_layers * per_layer, dims.mul(macs_per_layer, cfg.num_layers)
    )


def module(cfg: TransformerEncoderConfig, inputs: tuple[Tensor, ...]) -> Call:
    embed = known(inputs[0].shape[1], "embed_dim")
    kwargs = {
        "dim_feedforward": cfg.dim_feedforward or 4 * embed,
        "dropout": cfg.dropout,
        "activation": cfg.activation,
        "norm_first": cfg.norm_first,
        "num_layers": cfg.num_layers,
        "causal": cfg.causal,
    }
    return Call("TransformerEncoder", (embed, cfg.num_heads), kwargs)


register(
    LayerType(
        name="transformer_encoder",
        config=TransformerEncoderConfig,
        infer=infer,
        module=module,
        family="attention",
        summary="Stack of transformer encoder layers (torch.nn.TransformerEncoderLayer, batch "
        "first, pre-norm by default); `causal: true` masks future positions.",
        shape_rule="(N, T, E) -> (N, T, E); E divisible by num_heads",
        examples=(
            Example({"num_heads": 4}, (10, 16)),
            Example(
                {"num_heads": 2, "num_layers": 2, "causal": True, "dim_feedforward": 24}, (6, 8)
            ),
            Example(
                {"num_heads": 3, "activation": "relu", "norm_first": False, "dropout": 0.0}, (5, 12)
            ),
        ),
        field_docs={
            "num_heads": "attention heads; must divide the embedding size",
            "dim_feedforward": "hidden size of the feed-forward block (default 4 * E)",
            "activation": "the feed-forward nonlinearity (not a fused output activation)",
            "norm_first": "pre-norm (LayerNorm before attention and feed-forward)",
            "causal": "position t attends to positions <= t only",
        },
    )
)
