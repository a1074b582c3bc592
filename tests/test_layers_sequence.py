"""Sequence layers (recurrent, attention, transformer, embedding) and transposed convolutions:
shape errors, symbolic lengths, and behaviour checked against plain torch on CPU."""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch
from oracle import check, predicted
from pydantic import ValidationError
from torch import nn

import netspec
from netspec import dims
from netspec.backend.build import instantiate
from netspec.errors import ShapeError
from netspec.layers import (  # noqa: F401  (registers the layers)
    attention,
    conv_transpose,
    embedding,
    recurrent,
    registry,
    transformer,
)
from netspec.layers.registry import Tensor
from netspec.plan import warnings


def build(name: str, args: dict[str, Any], shape: tuple[int, ...], dtype: str = "float32") -> Any:
    """The layer's torch module (typed Any: tests poke at torch attributes)."""
    layer = registry.get(name)
    if layer.module is None:
        raise TypeError(f"{name} has no module")
    call = layer.module(layer.config.model_validate(args), (Tensor(shape, dtype),))  # type: ignore[arg-type]
    return instantiate(call)


# ---- shape errors ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["multihead_attention", "transformer_encoder"])
def test_heads_must_divide_the_embedding(name: str) -> None:
    with pytest.raises(
        ShapeError, match=r"num_heads \(3\) must divide the embedding size \(8\)"
    ) as info:
        predicted(name, {"num_heads": 3}, [Tensor((5, 8))])
    assert info.value.hint == "valid num_heads for embedding size 8: 1, 2, 4, 8"
    assert info.value.received == "(N, 5, 8)"


def test_embedding_needs_int64_ids() -> None:
    with pytest.raises(ShapeError, match="embedding needs int64 token ids") as info:
        predicted("embedding", {"num_embeddings": 10, "embedding_dim": 4}, [Tensor((32,))])
    assert info.value.hint == "set input: {shape: [32], dtype: int64}"


def test_sequence_longer_than_max_len() -> None:
    with pytest.raises(ShapeError, match="sequence length 20 exceeds max_len 16"):
        predicted("positional_encoding", {"kind": "learned", "max_len": 16}, [Tensor((20, 8))])


def test_symbolic_length_passes_max_len() -> None:
    t = dims.Sym.atom("T")
    got = predicted("positional_encoding", {"max_len": 16}, [Tensor((t, 8))])
    assert got.out.shape == (t, 8)


@pytest.mark.parametrize(
    ("stride", "dilation", "output_padding"), [(1, 1, 1), (2, 1, 2), (2, 3, 3)]
)
def test_output_padding_below_stride_or_dilation(
    stride: int, dilation: int, output_padding: int
) -> None:
    args = {
        "filters": 2,
        "kernel_size": 3,
        "stride": stride,
        "dilation": dilation,
        "output_padding": output_padding,
    }
    with pytest.raises(ShapeError, match=r"output_padding \(\d\) must be smaller than stride"):
        predicted("conv_transpose1d", args, [Tensor((2, 5))])
    # torch agrees on CPU (on meta it does not check, hence the explicit rule)
    module = build("conv_transpose1d", args, (2, 5))
    with pytest.raises(RuntimeError, match="output padding must be smaller"):
        module(torch.zeros(1, 2, 5))


def test_output_padding_per_dim() -> None:
    args = {"filters": 2, "kernel_size": 3, "stride": [2, 1], "output_padding": [1, 1]}
    with pytest.raises(ShapeError, match="along spatial dim 2"):
        predicted("conv_transpose2d", args, [Tensor((2, 5, 5))])
    check("conv_transpose2d", {**args, "output_padding": [1, 0]}, (2, 5, 5))


def test_conv_transpose_too_small_output() -> None:
    with pytest.raises(ShapeError, match="output L size would be -4"):
        predicted(
            "conv_transpose1d", {"filters": 2, "kernel_size": 1, "padding": 3}, [Tensor((2, 2))]
        )


def test_recurrent_rejects_token_ids() -> None:
    with pytest.raises(ShapeError, match="lstm needs a floating-point input"):
        predicted("lstm", {"hidden_size": 4}, [Tensor((5,), "int64")])


def test_recurrent_dropout_needs_stacked_layers() -> None:
    with pytest.raises(
        ValidationError, match="dropout acts between stacked recurrent layers"
    ) as info:
        registry.get("gru").config.model_validate({"hidden_size": 4, "dropout": 0.2})
    assert info.value.errors()[0]["loc"] == ("dropout",)
    registry.get("gru").config.model_validate({"units": 4, "dropout": 0.2, "num_layers": 2})


def test_transformer_activation_is_not_a_fused_output_activation() -> None:
    cfg = registry.get("transformer_encoder").config.model_validate(
        {"num_heads": 2, "activation": "relu"}
    )
    layer = registry.get("transformer_encoder")
    assert cfg.activation == "relu"
    assert layer.output_activation(cfg) is None  # only dense/conv fuse `activation` after them


# ---- symbolic lengths -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "args", "features"),
    [
        ("lstm", {"hidden_size": 5, "num_layers": 2, "bidirectional": True}, 3),
        ("gru", {"hidden_size": 4, "return_sequences": True}, 6),
        ("rnn", {"hidden_size": 4}, 2),
        ("multihead_attention", {"num_heads": 2, "causal": True}, 8),
        ("transformer_encoder", {"num_heads": 2, "num_layers": 2}, 8),
        ("positional_encoding", {"kind": "learned"}, 8),
    ],
)
def test_symbolic_length_gives_exact_macs(name: str, args: dict[str, Any], features: int) -> None:
    t = dims.Sym.atom("T")
    symbolic = predicted(name, args, [Tensor((t, features))])
    for steps in (1, 7, 12):
        concrete = predicted(name, args, [Tensor((steps, features))])
        assert dims.substitute(symbolic.macs, {"T": steps}) == concrete.macs
        assert (
            tuple(dims.substitute(d, {"T": steps}) for d in symbolic.out.shape)
            == concrete.out.shape
        )
        assert symbolic.params == concrete.params


def test_documented_anchor_counts() -> None:
    assert predicted("lstm", {"hidden_size": 128}, [Tensor((50, 16))]).macs == 3_686_400
    assert predicted("multihead_attention", {"num_heads": 4}, [Tensor((32, 64))]).macs == 655_360


# ---- behaviour against plain torch on CPU ---------------------------------------------------


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_last_state_is_both_directions_of_the_last_layer(kind: str) -> None:
    torch.manual_seed(0)
    ours = build(kind, {"hidden_size": 5, "num_layers": 2, "bidirectional": True}, (7, 3))
    plain = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[kind](
        3, 5, num_layers=2, bidirectional=True, batch_first=True
    )
    plain.load_state_dict(ours.state_dict())  # same keys: no wrapper prefix
    x = torch.randn(4, 7, 3)
    with torch.no_grad():
        output, state = plain(x)
        h_n = state[0] if kind == "lstm" else state
        want = torch.cat((h_n[-2], h_n[-1]), dim=-1)
        got = ours(x)
    assert got.shape == (4, 10)
    torch.testing.assert_close(got, want)
    assert not torch.allclose(got, output[:, -1])  # the backward half differs from output[:, -1]


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_return_sequences_is_torch_output(kind: str) -> None:
    torch.manual_seed(0)
    args = {"hidden_size": 4, "bidirectional": True, "return_sequences": True}
    ours = build(kind, args, (6, 3))
    x = torch.randn(2, 6, 3)
    with torch.no_grad():
        want, _ = getattr(nn, kind.upper()).forward(ours, x)
        torch.testing.assert_close(ours(x), want)


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("multihead_attention", {"num_heads": 2, "causal": True}),
        ("transformer_encoder", {"num_heads": 2, "causal": True, "num_layers": 2, "dropout": 0.0}),
    ],
)
@pytest.mark.parametrize("training", [True, False])
def test_causal_output_ignores_later_positions(
    name: str, args: dict[str, Any], training: bool
) -> None:
    torch.manual_seed(0)
    module = build(name, args, (8, 8)).train(training)
    x = torch.randn(2, 8, 8)
    later = x.clone()
    later[:, 5:] = torch.randn(2, 3, 8)
    with torch.no_grad():
        y, y_later = module(x), module(later)
        torch.testing.assert_close(y[:, :5], y_later[:, :5])
        assert not torch.allclose(y[:, 5:], y_later[:, 5:])
        # and without `causal`, earlier positions do see the change
        open_module = build(name, {**args, "causal": False}, (8, 8)).train(training)
        assert not torch.allclose(open_module(x)[:, :5], open_module(later)[:, :5])


def test_transformer_layers_start_from_different_weights() -> None:
    module = build("transformer_encoder", {"num_heads": 2, "num_layers": 3}, (4, 8))
    first, second = module.layers[0], module.layers[1]
    assert not torch.equal(first.linear1.weight, second.linear1.weight)
    assert not torch.equal(first.self_attn.in_proj_weight, second.self_attn.in_proj_weight)


def test_sinusoidal_table() -> None:
    module = build("positional_encoding", {"max_len": 30}, (10, 7))
    assert dict(module.state_dict()) == {}  # a non-persistent buffer
    x = torch.zeros(2, 10, 7)
    got = module(x)[0]
    for pos in (0, 3, 9):
        for i in range(7):
            angle = pos / 10000 ** ((i - i % 2) / 7)
            want = math.sin(angle) if i % 2 == 0 else math.cos(angle)
            assert got[pos, i].item() == pytest.approx(want, abs=1e-5)


def test_learned_positional_weight() -> None:
    torch.manual_seed(0)
    module = build("positional_encoding", {"kind": "learned", "max_len": 64}, (10, 16))
    weight = module.state_dict()["weight"]
    assert weight.shape == (64, 16)
    assert 0.01 < weight.std().item() < 0.03
    x = torch.randn(3, 10, 16)
    with torch.no_grad():
        torch.testing.assert_close(module(x), x + weight[:10])


POSITIONAL_T = """
name: positions
input: [T, 8]
layers:
  - positional_encoding: {{kind: {kind}, max_len: 16}}
"""


@pytest.mark.parametrize("kind", ["learned", "sinusoidal"])
def test_positional_encoding_names_max_len_when_the_sequence_is_too_long(kind: str) -> None:
    model = netspec.build_model(POSITIONAL_T.format(kind=kind), seed=0)
    assert tuple(model(torch.zeros(2, 16, 8)).shape) == (2, 16, 8)  # max_len itself fits
    with pytest.raises(
        ValueError,
        match=rf"^positional_encoding \(kind: {kind}\): the sequence length 20 exceeds "
        r"max_len 16; raise max_len to 20 or more$",
    ):
        model(torch.zeros(2, 20, 8))


def test_symbolic_length_into_max_len_is_a_warning_with_the_layer_path() -> None:
    spec = netspec.load_spec(POSITIONAL_T.format(kind="learned"))
    (warning,) = warnings(spec, netspec.plan(spec))
    assert (warning.code, warning.severity, warning.path) == (
        "runtime-check",
        "warning",
        ("layers", 0),
    )
    assert warning.message == (
        "layer 'positional_encoding_0' (positional_encoding): the sequence length T is "
        "symbolic, so T <= max_len 16 is only checked when the model runs: a longer sequence "
        "raises an error there"
    )
    assert warning.location.line == 5
    fixed = netspec.load_spec(POSITIONAL_T.format(kind="learned").replace("[T, 8]", "[12, 8]"))
    assert warnings(fixed, netspec.plan(fixed)) == []


def test_embedding_is_a_lookup() -> None:
    module = build("embedding", {"num_embeddings": 10, "embedding_dim": 4}, (5,), "int64")
    ids = torch.tensor([[1, 2, 3, 4, 9]])
    with torch.no_grad():
        torch.testing.assert_close(module(ids)[0], module.weight[[1, 2, 3, 4, 9]])
