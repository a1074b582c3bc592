"""Hypothesis strategies for the sequence layer files (recurrent, attention, transformer,
embedding, sequence_pool) and transposed convolutions: valid (args, in_shape, dtype) triples,
or (args, in_shape, dtype, extra_shapes) for the layers with a second input of its own shape
(cross-attention's and the decoder's memory); kept small."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

# Registers the layers even before netspec/layers/__init__.py imports these files.
from netspec.layers import (  # noqa: F401
    attention,
    conv_transpose,
    embedding,
    recurrent,
    sequence_pool,
    transformer,
)

Case = tuple[dict[str, Any], tuple[int, ...], str]
# A case with further inputs of their own shapes (float32), after the first.
MemoryCase = tuple[dict[str, Any], tuple[int, ...], str, tuple[tuple[int, ...], ...]]


def _recurrent(kind: str) -> st.SearchStrategy[Case]:
    @st.composite
    def case(draw: st.DrawFn) -> Case:
        layers = draw(st.integers(1, 3))
        hidden = draw(st.integers(1, 16))
        args: dict[str, Any] = {
            draw(st.sampled_from(["hidden_size", "units"])): hidden,
            "num_layers": layers,
            "bidirectional": draw(st.booleans()),
            "return_sequences": draw(st.booleans()),
            "bias": draw(st.booleans()),
        }
        if layers > 1:
            args["dropout"] = draw(st.sampled_from([0.0, 0.1, 0.5]))
        if kind == "rnn":
            args["nonlinearity"] = draw(st.sampled_from(["tanh", "relu"]))
        return args, (draw(st.integers(1, 12)), draw(st.integers(1, 8))), "float32"

    return case()


@st.composite
def _heads_and_embed(draw: st.DrawFn) -> tuple[int, int]:
    heads = draw(st.integers(1, 4))
    return heads, heads * draw(st.integers(1, 32 // heads))


@st.composite
def _attention(draw: st.DrawFn) -> Case | MemoryCase:
    heads, embed = draw(_heads_and_embed())
    cross = draw(st.booleans())
    args: dict[str, Any] = {
        draw(st.sampled_from(["num_heads", "heads"])): heads,
        "bias": draw(st.booleans()),
        "dropout": draw(st.sampled_from([0.0, 0.1])),
    }
    shape = (draw(st.integers(1, 12)), embed)
    if not cross:
        return {**args, "causal": draw(st.booleans())}, shape, "float32"
    # the memory's feature size: often E (packed in_proj), else any (kdim = vdim)
    features = draw(st.sampled_from([embed, draw(st.integers(1, 24))]))
    return args, shape, "float32", ((draw(st.integers(1, 12)), features),)


def _transformer_args(draw: st.DrawFn, heads: int) -> dict[str, Any]:
    args: dict[str, Any] = {
        "num_heads": heads,
        "dropout": draw(st.sampled_from([0.0, 0.1])),
        "activation": draw(st.sampled_from(["gelu", "relu", "gelu_tanh"])),
        "norm_first": draw(st.booleans()),
        "num_layers": draw(st.integers(1, 2)),
        "causal": draw(st.booleans()),
    }
    if draw(st.booleans()):
        args["dim_feedforward"] = draw(st.integers(1, 32))
    if draw(st.booleans()):
        args[draw(st.sampled_from(["eps", "layer_norm_eps"]))] = draw(
            st.sampled_from([1e-12, 1e-6, 1e-5])
        )
    return args


@st.composite
def _transformer(draw: st.DrawFn) -> Case:
    heads, embed = draw(_heads_and_embed())
    args = _transformer_args(draw, heads)
    return args, (draw(st.integers(1, 12)), embed), "float32"


@st.composite
def _decoder(draw: st.DrawFn) -> MemoryCase:
    heads, embed = draw(_heads_and_embed())
    args = _transformer_args(draw, heads)
    memory = (draw(st.integers(1, 12)), embed)
    return args, (draw(st.integers(1, 12)), embed), "float32", (memory,)


@st.composite
def _sequence_pool(draw: st.DrawFn) -> Case:
    args = {"mode": draw(st.sampled_from(["mean", "max"]))} if draw(st.booleans()) else {}
    return args, (draw(st.integers(1, 12)), draw(st.integers(1, 32))), "float32"


@st.composite
def _embedding(draw: st.DrawFn) -> Case:
    args = {"num_embeddings": draw(st.integers(1, 50)), "embedding_dim": draw(st.integers(1, 16))}
    shape = tuple(draw(st.lists(st.integers(1, 12), min_size=1, max_size=2)))
    return args, shape, "int64"


@st.composite
def _positional(draw: st.DrawFn) -> Case:
    steps = draw(st.integers(1, 12))
    args: dict[str, Any] = {"kind": draw(st.sampled_from(["sinusoidal", "learned"]))}
    if draw(st.booleans()):
        args["max_len"] = draw(st.integers(steps, steps + 20))
    return args, (steps, draw(st.integers(1, 32))), "float32"


def _conv_transpose(n: int) -> st.SearchStrategy[Case]:
    @st.composite
    def case(draw: st.DrawFn) -> Case:
        groups = draw(st.sampled_from([1, 1, 2, 3]))
        channels = groups * draw(st.integers(1, 3))
        filters = groups * draw(st.integers(1, 3))
        scalar_k = draw(st.booleans())
        k = (
            (draw(st.integers(1, 4)),) * n
            if scalar_k
            else tuple(draw(st.integers(1, 4)) for _ in range(n))
        )
        stride = draw(st.integers(1, 3))
        dilation = draw(st.integers(1, 2))
        output_padding = draw(st.integers(0, max(stride, dilation) - 1))
        sizes = tuple(draw(st.integers(1, 6)) for _ in range(n))
        # the largest padding that still leaves an output of size >= 1 in every dim
        room = min(
            (size - 1) * stride + dilation * (ki - 1) + output_padding
            for size, ki in zip(sizes, k, strict=True)
        )
        args: dict[str, Any] = {
            draw(st.sampled_from(["filters", "out_channels"])): filters,
            "kernel_size": k[0] if scalar_k else k,
            "stride": stride,
            "padding": draw(st.integers(0, room // 2)),
            "output_padding": output_padding,
            "dilation": dilation,
            "groups": groups,
            "bias": draw(st.booleans()),
        }
        return args, (channels, *sizes), "float32"

    return case()


STRATEGIES: dict[str, st.SearchStrategy[Case] | st.SearchStrategy[MemoryCase]] = {
    "rnn": _recurrent("rnn"),
    "lstm": _recurrent("lstm"),
    "gru": _recurrent("gru"),
    "multihead_attention": _attention(),
    "transformer_encoder": _transformer(),
    "transformer_decoder": _decoder(),
    "sequence_pool": _sequence_pool(),
    "embedding": _embedding(),
    "positional_encoding": _positional(),
    "conv_transpose1d": _conv_transpose(1),
    "conv_transpose2d": _conv_transpose(2),
}
