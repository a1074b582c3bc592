"""multihead_attention (self_attention): PyTorch multi-head self-attention, batch first.

Input (N, T, E) -> output (N, T, E); ``E % num_heads == 0``. With ``causal``, position t attends
to positions <= t only.
Params ``4E^2 + 4E`` (``4E^2`` without bias: in_proj 3E^2 + 3E, out_proj E^2 + E);
MACs ``4*T*E^2 + 2*T^2*E`` (Q/K/V/out projections, then QK^T and AV).
"""

from __future__ import annotations

import math

from pydantic import AliasChoices, Field

from netspec import dims
from netspec.errors import ShapeError
from netspec.layers.common import PositiveInt, Rate, known, require_float, require_rank
from netspec.layers.registry import (
    Call,
    Example,
    Inferred,
    LayerConfig,
    LayerType,
    Tensor,
    register,
)


class AttentionConfig(LayerConfig):
    num_heads: PositiveInt = Field(validation_alias=AliasChoices("num_heads", "heads"))
    dropout: Rate = 0.0
    causal: bool = False
    bias: bool = True


def check_heads(x: Tensor, num_heads: int, layer: str) -> int:
    """The embedding size of a (N, T, E) input, checked to split evenly over the heads."""
    require_float(x, layer)
    require_rank(x, (3,), layer, "(N, T, embed_dim)")
    embed = known(x.shape[1], f"the embedding dimension of {layer}'s input")
    if embed % num_heads:
        small = [h for h in range(1, math.isqrt(embed) + 1) if embed % h == 0]
        valid = sorted({*small, *(embed // h for h in small)})[:16]
        raise ShapeError(
            f"num_heads ({num_heads}) must divide the embedding size ({embed})",
            received=dims.format_shape(x.shape),
            expected=f"an embedding size divisible by {num_heads}",
            hint=f"valid num_heads for embedding size {embed}: " + ", ".join(str(h) for h in valid),
            field="num_heads",
        )
    return embed


def attention_macs(steps: dims.Dim, embed: int) -> dims.Dim:
    """``4*T*E^2 + 2*T^2*E``: four projections, then QK^T and AV."""
    projections = dims.mul(steps, 4 * embed * embed)
    scores = dims.mul(dims.mul(steps, steps), 2 * embed)
    return dims.add(projections, scores)


def infer(cfg: AttentionConfig, inputs: tuple[Tensor, ...]) -> Inferred:
    (x,) = inputs
    embed = check_heads(x, cfg.num_heads, "multihead_attention")
    params = 4 * embed * embed + (4 * embed if cfg.bias else 0)
    return Inferred(Tensor(x.shape), params, attention_macs(x.shape[0], embed))


def module(cfg: AttentionConfig, inputs: tuple[Tensor, ...]) -> Call:
    embed = known(inputs[0].shape[1], "embed_dim")
    kwargs = {"dropout": cfg.dropout, "bias": cfg.bias, "causal": cfg.causal}
    return Call("SelfAttention", (embed, cfg.num_heads), kwargs)


register(
    LayerType(
        name="multihead_attention",
        config=AttentionConfig,
        infer=infer,
        module=module,
        aliases=("self_attention",),
        primary="num_heads",
        family="attention",
        summary="Multi-head self-attention (torch.nn.MultiheadAttention, batch first); "
        "`causal: true` masks future positions.",
        shape_rule="(N, T, E) -> (N, T, E); E divisible by num_heads",
        examples=(
            Example({"num_heads": 4}, (32, 64)),
            Example({"num_heads": 2, "causal": True}, (7, 8)),
            Example({"num_heads": 3, "bias": False, "dropout": 0.1}, (5, 12)),
        ),
        field_docs={
            "num_heads": "attention heads; must divide the embedding size",
            "dropout": "dropout on the attention weights",
            "causal": "position t attends to positions <= t only",
        },
    )
)
