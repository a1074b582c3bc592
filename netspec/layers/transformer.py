"""transformer_encoder and transformer_decoder: stacks of PyTorch transformer layers, batch first.

transformer_encoder: (N, T, E) -> (N, T, E); ``E % num_heads == 0``; feed-forward size F
defaults to 4E. Params per layer ``4E^2 + 4E + 2EF + F + E + 4E`` (attention, feed-forward,
two LayerNorms); MACs per layer ``4TE^2 + 2T^2E + 2TEF``.

transformer_decoder (``from: [target, memory]``): target (N, T, E) and memory (N, S, E) ->
(N, T, E). Each layer is causal self-attention over the target, cross-attention to the whole
memory, and the feed-forward block (torch.nn.TransformerDecoderLayer). ``causal`` defaults
to true, as a decoder's usually is. The memory must have the target's E (torch's decoder
layer has no kdim): project it with a dense first. Params per layer
``8E^2 + 8E + 2EF + F + E + 6E`` (two attentions, feed-forward, three LayerNorms); MACs per
layer ``4TE^2 + 2T^2E`` (self) ``+ 2TE^2 + 2SE^2 + 2TSE`` (cross) ``+ 2TEF``.

Both are pre-norm (``norm_first``) by default and have no final norm: add a `layernorm` after
the stack (torch.nn.Transformer = encoder, layernorm, decoder, layernorm). ``activation`` is
the feed-forward nonlinearity: gelu, relu or gelu_tanh (GELU's tanh approximation, GPT-2).
``layer_norm_eps`` (alias ``eps``) reaches every LayerNorm in the stack (BERT: 1e-12).

Padding (``takes_padding``): the built module takes one key-padding mask per input after the
inputs, ``forward(x, x_mask=None)`` and ``forward(tgt, memory, tgt_mask=None,
memory_mask=None)``. Outputs at padded positions are computed like any other position (they
are not zeroed, in training and evaluation alike: torch's nested-tensor fast path, which
zeroes them in eval mode only, is off) and are ignored by later layers that honour the mask.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AliasChoices, Field

from netspec import dims
from netspec.errors import ShapeError
from netspec.layers.attention import (
    attention_macs,
    check_heads,
    cross_attention_macs,
    memory_size,
)
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


class TransformerConfig(LayerConfig):
    num_heads: PositiveInt = Field(validation_alias=AliasChoices("num_heads", "nhead", "heads"))
    dim_feedforward: PositiveInt | None = Field(
        default=None, validation_alias=AliasChoices("dim_feedforward", "ff_dim")
    )
    dropout: Rate = 0.1
    # The feed-forward block's inner nonlinearity (not a fused output activation).
    activation: Literal["gelu", "relu", "gelu_tanh"] = "gelu"
    norm_first: bool = True
    num_layers: PositiveInt = 1
    layer_norm_eps: Annotated[float, Field(gt=0.0)] = Field(
        default=1e-5, validation_alias=AliasChoices("layer_norm_eps", "eps")
    )


class TransformerEncoderConfig(TransformerConfig):
    causal: bool = False


class TransformerDecoderConfig(TransformerConfig):
    causal: bool = True  # a decoder predicts position t from targets < t (nn.Transformer's use)


def _layer_kwargs(cfg: TransformerConfig, embed: int) -> dict[str, Any]:
    return {
        "dim_feedforward": cfg.dim_feedforward or 4 * embed,
        "dropout": cfg.dropout,
        "activation": cfg.activation,
        "layer_norm_eps": cfg.layer_norm_eps,
        "norm_first": cfg.norm_first,
        "num_layers": cfg.num_layers,
    }


def infer_encoder(cfg: TransformerEncoderConfig, inputs: tuple[Tensor, ...]) -> Inferred:
    (x,) = inputs
    embed = check_heads(x, cfg.num_heads, "transformer_encoder")
    ff = cfg.dim_feedforward or 4 * embed
    steps = x.shape[0]
    per_layer = 4 * embed * embed + 4 * embed + 2 * embed * ff + ff + embed + 4 * embed
    macs_per_layer = dims.add(attention_macs(steps, embed), dims.mul(steps, 2 * embed * ff))
    return Inferred(
        Tensor(x.shape), cfg.num_layers * per_layer, dims.mul(macs_per_layer, cfg.num_layers)
    )


def encoder_module(cfg: TransformerEncoderConfig, inputs: tuple[Tensor, ...]) -> Call:
    embed = known(inputs[0].shape[1], "embed_dim")
    kwargs = {**_layer_kwargs(cfg, embed), "causal": cfg.causal}
    return Call("TransformerEncoder", (embed, cfg.num_heads), kwargs)


def infer_decoder(cfg: TransformerDecoderConfig, inputs: tuple[Tensor, ...]) -> Inferred:
    target, memory = inputs
    embed = check_heads(target, cfg.num_heads, "transformer_decoder")
    features = memory_size(memory, "transformer_decoder")
    if features != embed:
        raise ShapeError(
            f"transformer_decoder's memory must have the target's embedding size ({embed}), "
            f"but it has {features} features",
            received=f"target {dims.format_shape(target.shape)}, "
            f"memory {dims.format_shape(memory.shape)}",
            expected=f"memory (N, S, {embed})",
            hint=f"project the memory first: add `dense: {embed}` after it",
        )
    ff = cfg.dim_feedforward or 4 * embed
    steps, memory_steps = target.shape[0], memory.shape[0]
    per_layer = 8 * embed * embed + 8 * embed + 2 * embed * ff + ff + embed + 6 * embed
    attention = dims.add(
        attention_macs(steps, embed), cross_attention_macs(steps, memory_steps, embed, embed)
    )
    macs_per_layer = dims.add(attention, dims.mul(steps, 2 * embed * ff))
    return Inferred(
        Tensor(target.shape), cfg.num_layers * per_layer, dims.mul(macs_per_layer, cfg.num_layers)
    )


def decoder_module(cfg: TransformerDecoderConfig, inputs: tuple[Tensor, ...]) -> Call:
    embed = known(inputs[0].shape[1], "embed_dim")
    kwargs = {**_layer_kwargs(cfg, embed), "causal": cfg.causal}
    return Call("TransformerDecoder", (embed, cfg.num_heads), kwargs)


_FIELD_DOCS = {
    "num_heads": "attention heads; must divide the embedding size",
    "dim_feedforward": "hidden size of the feed-forward block (default 4 * E)",
    "activation": "the feed-forward nonlinearity (not a fused output activation); gelu_tanh "
    "is GELU's tanh approximation (GPT-2)",
    "dropout": "dropout inside each layer (attention weights, feed-forward, residual branches)",
    "num_layers": "layers in the stack, each initialised independently",
    "norm_first": "pre-norm (LayerNorm before attention and feed-forward)",
    "layer_norm_eps": "epsilon of every LayerNorm in the stack (BERT: 1e-12)",
}

register(
    LayerType(
        name="transformer_encoder",
        config=TransformerEncoderConfig,
        infer=infer_encoder,
        module=encoder_module,
        family="attention",
        summary="Stack of transformer encoder layers (torch.nn.TransformerEncoderLayer, batch "
        "first, pre-norm by default); `causal: true` masks future positions.",
        shape_rule="(N, T, E) -> (N, T, E); E divisible by num_heads",
        keeps_padding=True,
        takes_padding=True,
        examples=(
            Example({"num_heads": 4}, (10, 16)),
            Example(
                {"num_heads": 2, "num_layers": 2, "causal": True, "dim_feedforward": 24}, (6, 8)
            ),
            Example(
                {"num_heads": 3, "activation": "relu", "norm_first": False, "dropout": 0.0}, (5, 12)
            ),
            Example({"num_heads": 2, "activation": "gelu_tanh", "eps": 1e-12}, (4, 8)),
        ),
        field_docs={
            **_FIELD_DOCS,
            "causal": "position t attends to positions <= t only",
        },
    )
)

register(
    LayerType(
        name="transformer_decoder",
        config=TransformerDecoderConfig,
        infer=infer_decoder,
        module=decoder_module,
        family="attention",
        summary="Stack of transformer decoder layers (torch.nn.TransformerDecoderLayer, batch "
        "first, pre-norm by default): causal self-attention over the target, then "
        "cross-attention to the memory; `from: [target, memory]`.",
        shape_rule="target (N, T, E), memory (N, S, E) -> (N, T, E); E divisible by num_heads",
        min_inputs=2,
        max_inputs=2,
        keeps_padding=True,
        takes_padding=True,
        # Every example has a memory of the target's shape (extra_inputs), so that the
        # generated reference and the one-layer build tests can feed it from `input`; other
        # memory lengths are covered by the conformance strategy.
        examples=(
            Example({"num_heads": 4}, (10, 16), extra_inputs=1),
            Example(
                {"num_heads": 2, "num_layers": 2, "causal": False, "dim_feedforward": 24},
                (6, 8),
                extra_inputs=1,
            ),
            Example(
                {
                    "num_heads": 3,
                    "activation": "gelu_tanh",
                    "norm_first": False,
                    "dropout": 0.0,
                    "layer_norm_eps": 1e-6,
                },
                (5, 12),
                extra_inputs=1,
            ),
        ),
        field_docs={
            **_FIELD_DOCS,
            "causal": "target position t attends to target positions <= t only (default "
            "true); the cross-attention always sees the whole memory",
        },
    )
)
