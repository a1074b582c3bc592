"""multihead_attention (self_attention): PyTorch multi-head self-attention, batch first.

Input (N, T, E) -> output (N, T, E); ``E % num_heads == 0``. With ``causal``, position t attends
to positions <= t only.
Params ``4E^2 + 4E`` (``4E^2`` without bias: in_proj 3E^2 + 3E, out_proj E^2 + E);
MACs ``4*T*E^2 + 2*T^2*E`` (Q/K/V/out projections, then QK^T and AV).
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from pydantic import AliasChoices, Field

from netspec import dims
from netspec.errors import ShapeError
from netspec.layers.common import PositiveInt, Rate, known, require_float, require_rank
from netspec.layers.registry import Example, Inferred, LayerConfig, LayerType, Tensor, register

if TYPE_CHECKING:
    from torch import nn


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
        valid = [h for h in range(1, embed + 1) if embed % h == 0]
        raise ShapeError(
            f"num_heads ({num_heads}) must divide the embedding size ({embed})",
            received=dims.format_shape(x.shape),
            expected=f"an embedding size divisible by {num_heads}",
            hint=f"valid num_heads for embedding size {embed}: "
            + ", ".join(str(h) for h in valid),
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


def build(cfg: AttentionConfig, inputs: tuple[Tensor, ...]) -> nn.Module:
    embed = known(inputs[0].shape[1], "embed_dim")
    module: nn.Module = self_attention_class()(
        embed, cfg.num_heads, dropout=cfg.dropout, bias=cfg.bias, causal=cfg.causal
    )
    return module


def causal_mask(x: Any) -> Any:
    """(T, T) bool mask, True above the diagonal (= not allowed), sized from (N, T, E) ``x``.

    Built from the shape only, on x's device: no data-dependent op, so it runs on meta.
    """
    import torch

    steps = x.shape[1]
    return torch.ones(steps, steps, dtype=torch.bool, device=x.device).triu(1)


@functools.cache
def self_attention_class() -> type[Any]:
    """nn.MultiheadAttention (batch first) whose ``forward(x)`` is self-attention -> one tensor."""
    from torch import nn

    def __init__(self: Any, embed_dim: int, num_heads: int, *, causal: bool = False,
                 **kwargs: Any) -> None:
        nn.MultiheadAttention.__init__(self, embed_dim, num_heads, batch_first=True, **kwargs)
        self.causal = causal

    def forward(self: Any, x: Any) -> Any:
        mask = causal_mask(x) if self.causal else None
        out, _ = nn.MultiheadAttention.forward(
            self, x, x, x, need_weights=False, attn_mask=mask, is_causal=self.causal
        )
        return out  # (N, T, E)

    def extra_repr(self: Any) -> str:
        return (f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, "
                f"dropout={self.dropout}, causal={self.causal}")

    return type(
        "SelfAttention",
        (nn.MultiheadAttention,),
        {"__init__": __init__, "forward": forward, "extra_repr": extra_repr},
    )


register(
    LayerType(
        name="multihead_attention",
        config=AttentionConfig,
        infer=infer,
        build=build,
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
