"""multihead_attention (self_attention): PyTorch multi-head attention, batch first.

Self-attention (one input): (N, T, E) -> (N, T, E); ``E % num_heads == 0``. With ``causal``,
position t attends to positions <= t only.
Params ``4E^2 + 4E`` (``4E^2`` without bias: in_proj 3E^2 + 3E, out_proj E^2 + E);
MACs ``4*T*E^2 + 2*T^2*E`` (Q/K/V/out projections, then QK^T and AV).

Cross-attention (two inputs, ``from: [queries, memory]``): queries (N, Tq, E) attend to a
memory (N, Tk, Ek) -> (N, Tq, E). Keys and values are both projected from the memory; when
``Ek != E`` the key and value projections are E x Ek (torch's ``kdim = vdim = Ek``).
Params ``2E^2 + 2*E*Ek + 4E`` (``- 4E`` without bias); MACs
``2*Tq*E^2 + 2*Tk*Ek*E + 2*Tq*Tk*E`` (Q and out projections over the queries, K and V over the
memory, then QK^T and AV). ``causal`` is refused for cross-attention: query t and memory
position t are unrelated positions, so "the future" has no meaning there.

Padding (``takes_padding``): the built module takes one key-padding mask per input after the
inputs, ``forward(x, x_mask=None)`` or ``forward(q, kv, q_mask=None, kv_mask=None)``; the
memory's (or the sequence's own) mask hides padded keys. A query's padding changes nothing
else: its output rows are computed like any other and are ignored by later layers that
honour the mask.
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


def memory_size(memory: Tensor, layer: str) -> int:
    """The feature size of a (N, Tk, Ek) memory (the second input of a cross-attention)."""
    require_float(memory, f"{layer}'s memory (second input)")
    require_rank(memory, (3,), f"{layer}'s memory (second input)", "(N, T, features)")
    return known(memory.shape[1], f"the feature dimension of {layer}'s memory")


def attention_macs(steps: dims.Dim, embed: int) -> dims.Dim:
    """``4*T*E^2 + 2*T^2*E``: four projections, then QK^T and AV."""
    return cross_attention_macs(steps, steps, embed, embed)


def cross_attention_macs(queries: dims.Dim, keys: dims.Dim, embed: int, key_size: int) -> dims.Dim:
    """``2*Tq*E^2 + 2*Tk*Ek*E + 2*Tq*Tk*E``: Q and out projections over the Tq queries, K and
    V projections over the Tk memory positions, then QK^T and AV."""
    query_side = dims.mul(queries, 2 * embed * embed)
    memory_side = dims.mul(keys, 2 * key_size * embed)
    scores = dims.mul(dims.mul(queries, keys), 2 * embed)
    return dims.add(dims.add(query_side, memory_side), scores)


def infer(cfg: AttentionConfig, inputs: tuple[Tensor, ...]) -> Inferred:
    x = inputs[0]
    embed = check_heads(x, cfg.num_heads, "multihead_attention")
    bias = 4 * embed if cfg.bias else 0
    if len(inputs) == 1:
        return Inferred(
            Tensor(x.shape), 4 * embed * embed + bias, attention_macs(x.shape[0], embed)
        )
    memory = inputs[1]
    key_size = memory_size(memory, "multihead_attention")
    if cfg.causal:
        raise ShapeError(
            "causal masks apply to self-attention only: with two inputs "
            "(cross-attention) query t and memory position t are unrelated",
            received=f"queries {dims.format_shape(x.shape)}, "
            f"memory {dims.format_shape(memory.shape)}",
            expected="causal: false with `from: [queries, memory]`",
            hint="drop `causal`; for a causal decoder use transformer_decoder (its "
            "self-attention is causal, its cross-attention sees the whole memory)",
            field="causal",
        )
    params = 2 * embed * embed + 2 * key_size * embed + bias
    macs = cross_attention_macs(x.shape[0], memory.shape[0], embed, key_size)
    return Inferred(Tensor(x.shape), params, macs)


def module(cfg: AttentionConfig, inputs: tuple[Tensor, ...]) -> Call:
    embed = known(inputs[0].shape[1], "embed_dim")
    if len(inputs) == 1:
        kwargs = {"dropout": cfg.dropout, "bias": cfg.bias, "causal": cfg.causal}
        return Call("SelfAttention", (embed, cfg.num_heads), kwargs)
    key_size = known(inputs[1].shape[1], "kdim")
    cross: dict[str, object] = {"dropout": cfg.dropout, "bias": cfg.bias}
    if key_size != embed:  # torch's default (None) means E: model.py then reads as usual
        cross |= {"kdim": key_size, "vdim": key_size}
    return Call("CrossAttention", (embed, cfg.num_heads), cross)


register(
    LayerType(
        name="multihead_attention",
        config=AttentionConfig,
        infer=infer,
        module=module,
        aliases=("self_attention",),
        primary="num_heads",
        family="attention",
        summary="Multi-head attention (torch.nn.MultiheadAttention, batch first): "
        "self-attention on one input (`causal: true` masks future positions), "
        "cross-attention with `from: [queries, memory]`.",
        shape_rule="(N, T, E) -> (N, T, E); from [queries, memory]: "
        "(N, Tq, E), (N, Tk, Ek) -> (N, Tq, E); E divisible by num_heads",
        min_inputs=1,
        max_inputs=2,
        keeps_padding=True,
        takes_padding=True,
        examples=(
            Example({"num_heads": 4}, (32, 64)),
            Example({"num_heads": 2, "causal": True}, (7, 8)),
            Example({"num_heads": 3, "bias": False, "dropout": 0.1}, (5, 12)),
            Example({"num_heads": 2}, (6, 8), extra_inputs=1),
            Example({"num_heads": 2}, (5, 8), extra_shapes=((7, 6),)),
            Example({"num_heads": 4, "bias": False}, (3, 12), extra_shapes=((9, 20),)),
        ),
        field_docs={
            "num_heads": "attention heads; must divide the embedding size",
            "dropout": "dropout on the attention weights",
            "causal": "position t attends to positions <= t only (self-attention only)",
            "bias": "biases on the input and output projections",
        },
    )
)
