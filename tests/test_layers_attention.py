"""Attention layers (cross-attention, transformer_decoder, sequence_pool, the transformer
options): shape errors, counts, and behaviour against plain torch on CPU, including the
key-padding masks the built modules take after their inputs (one per input)."""

from __future__ import annotations

import pathlib
import pickle
import re
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from oracle import predicted
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import netspec
from netspec import dims
from netspec.backend import modules
from netspec.backend.build import example_input, instantiate
from netspec.errors import ShapeError, SpecError
from netspec.layers import (  # noqa: F401  (registers the layers)
    attention,
    registry,
    sequence_pool,
    transformer,
)
from netspec.layers.registry import Tensor


def build(name: str, args: dict[str, Any], *shapes: tuple[int, ...]) -> Any:
    """The layer's torch module for float inputs of these per-sample shapes (typed Any)."""
    layer = registry.get(name)
    if layer.module is None:
        raise TypeError(f"{name} has no module")
    cfg = layer.config.model_validate(args)
    return instantiate(layer.module(cfg, tuple(Tensor(s) for s in shapes)))


def right_padded(x: torch.Tensor, length: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Batch [x[0], x[1] cut to ``length`` and right-padded with noise] and its padding mask."""
    steps = x.shape[1]
    padded = x.clone()
    padded[1, length:] = torch.randn(steps - length, x.shape[2]) * 100  # must not matter
    mask = torch.zeros(2, steps, dtype=torch.bool)
    mask[1, length:] = True
    return padded, mask


# ---- registry flags -------------------------------------------------------------------------


def test_padding_flags() -> None:
    for name in ("multihead_attention", "transformer_encoder", "transformer_decoder"):
        layer = registry.get(name)
        assert (layer.keeps_padding, layer.takes_padding) == (True, True), name
    pool = registry.get("sequence_pool")
    assert (pool.keeps_padding, pool.takes_padding) == (False, True)
    for name in ("embedding", "positional_encoding"):
        assert registry.get(name).keeps_padding, name
    mha, decoder = registry.get("multihead_attention"), registry.get("transformer_decoder")
    assert (mha.min_inputs, mha.max_inputs) == (1, 2)
    assert (decoder.min_inputs, decoder.max_inputs) == (2, 2)


# ---- cross-attention ------------------------------------------------------------------------


@pytest.mark.parametrize(("features", "bias"), [(8, True), (6, True), (20, False)])
def test_cross_attention_counts_equal_torch(features: int, bias: bool) -> None:
    args = {"num_heads": 2, "bias": bias}
    got = predicted("multihead_attention", args, [Tensor((5, 8)), Tensor((7, features))])
    kwargs = {} if features == 8 else {"kdim": features, "vdim": features}
    plain = nn.MultiheadAttention(8, 2, bias=bias, batch_first=True, **kwargs)  # type: ignore[arg-type]
    assert got.params == sum(p.numel() for p in plain.parameters())
    assert got.out.shape == (5, 8)
    # Q and out projections over 5 queries, K and V over 7 memory positions, QK^T and AV
    assert got.macs == 2 * 5 * 64 + 2 * 7 * features * 8 + 2 * 5 * 7 * 8


def test_cross_attention_equals_torch_with_the_same_weights() -> None:
    torch.manual_seed(0)
    ours = build("multihead_attention", {"num_heads": 2}, (5, 8), (7, 6))
    plain = nn.MultiheadAttention(8, 2, kdim=6, vdim=6, batch_first=True)
    plain.load_state_dict(ours.state_dict())  # same keys: q/k/v_proj_weight, no prefix
    q, kv = torch.randn(3, 5, 8), torch.randn(3, 7, 6)
    with torch.no_grad():
        want, _ = plain(q, kv, kv)
        torch.testing.assert_close(ours(q, kv), want)


def test_causal_cross_attention_is_refused() -> None:
    with pytest.raises(ShapeError, match="causal masks apply to self-attention only") as info:
        predicted("multihead_attention", {"num_heads": 2, "causal": True}, [Tensor((5, 8))] * 2)
    assert info.value.field == "causal"


def test_causal_cross_attention_points_at_the_yaml() -> None:
    text = (
        "input: [5, 8]\n"
        "layers:\n"
        "  - dense: {units: 8, name: mem}\n"
        "  - multihead_attention: {num_heads: 2, causal: true, from: [input, mem]}\n"
    )
    with pytest.raises(SpecError, match="causal masks apply to self-attention") as info:
        netspec.plan(text)
    (diag,) = info.value.diagnostics
    assert diag.path == ("layers", 1, "multihead_attention", "causal")
    assert diag.location is not None
    assert diag.location.line == 4


def test_cross_attention_memory_must_be_a_float_sequence() -> None:
    with pytest.raises(ShapeError, match=r"memory \(second input\) expects input") as info:
        predicted("multihead_attention", {"num_heads": 2}, [Tensor((5, 8)), Tensor((8,))])
    assert info.value.received == "(N, 8)"
    with pytest.raises(ShapeError, match="needs a floating-point input"):
        predicted("multihead_attention", {"num_heads": 2}, [Tensor((5, 8)), Tensor((5,), "int64")])


def test_cross_attention_symbolic_lengths_give_exact_macs() -> None:
    t, s = dims.Sym.atom("T"), dims.Sym.atom("S")
    symbolic = predicted("multihead_attention", {"num_heads": 2}, [Tensor((t, 8)), Tensor((s, 6))])
    for steps, memory in ((1, 1), (4, 9), (12, 3)):
        concrete = predicted(
            "multihead_attention", {"num_heads": 2}, [Tensor((steps, 8)), Tensor((memory, 6))]
        )
        assert dims.substitute(symbolic.macs, {"T": steps, "S": memory}) == concrete.macs
    assert symbolic.out.shape == (t, 8)


@pytest.mark.parametrize("training", [True, False])
def test_cross_attention_ignores_padded_memory(training: bool) -> None:
    torch.manual_seed(0)
    module = build("multihead_attention", {"num_heads": 2}, (5, 8), (7, 6)).train(training)
    q = torch.randn(2, 5, 8)
    memory, mask = right_padded(torch.randn(2, 7, 6), 4)
    with torch.no_grad():
        batch = module(q, memory, None, mask)
        alone = module(q[1:], memory[1:, :4])
        unmasked = module(q, memory)
    torch.testing.assert_close(batch[1:], alone, atol=1e-5, rtol=1e-5)
    assert not torch.allclose(unmasked[1:], alone, atol=1e-3)  # the padding did matter
    torch.testing.assert_close(batch[:1], unmasked[:1])  # the unpadded sequence is unchanged


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("training", [True, False])
def test_self_attention_ignores_padded_keys(causal: bool, training: bool) -> None:
    torch.manual_seed(0)
    module = build("multihead_attention", {"num_heads": 2, "causal": causal}, (6, 8))
    module.train(training)
    x, mask = right_padded(torch.randn(2, 6, 8), 3)
    with torch.no_grad():
        batch = module(x, mask)
        alone = module(x[1:, :3])
    torch.testing.assert_close(batch[1:, :3], alone, atol=1e-5, rtol=1e-5)


# ---- transformer_encoder with padding, then sequence_pool -----------------------------------


@pytest.mark.parametrize("norm_first", [True, False])
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("training", [True, False])
def test_padded_encoder_then_pool_equals_the_sequence_alone(
    norm_first: bool, causal: bool, training: bool
) -> None:
    torch.manual_seed(0)
    args = {"num_heads": 2, "num_layers": 2, "dropout": 0.0, "norm_first": norm_first}
    encoder = build("transformer_encoder", {**args, "causal": causal}, (6, 8)).train(training)
    pool = build("sequence_pool", {"mode": "mean"}, (6, 8))
    x, mask = right_padded(torch.randn(2, 6, 8), 4)
    with torch.no_grad():
        pooled = pool(encoder(x, mask), mask)
        alone = pool(encoder(x[1:, :4]))
        unmasked = pool(encoder(x))
    assert pooled.shape == (2, 8)
    torch.testing.assert_close(pooled[1:], alone, atol=1e-5, rtol=1e-5)
    assert not torch.allclose(unmasked[1:], alone, atol=1e-3)


def test_encoder_outputs_at_padded_positions_are_the_same_in_train_and_eval() -> None:
    """No nested-tensor fast path: padded rows are computed, not zeroed, in either mode."""
    torch.manual_seed(0)
    args = {"num_heads": 2, "dropout": 0.0, "norm_first": False, "num_layers": 2}
    encoder = build("transformer_encoder", args, (6, 8))
    x, mask = right_padded(torch.randn(2, 6, 8), 4)
    with torch.no_grad():
        evaluated = encoder.eval()(x, mask)
        trained = encoder.train()(x, mask)
    torch.testing.assert_close(evaluated, trained, atol=1e-5, rtol=1e-5)
    assert evaluated[1, 4:].abs().sum() > 0


@pytest.mark.parametrize("training", [True, False])
def test_an_all_padding_sequence_pools_to_zeros_after_the_encoder(training: bool) -> None:
    """torch's eval fast path gives NaN rows for a sequence with no real key: the pool must
    not let them through."""
    torch.manual_seed(0)
    encoder = build("transformer_encoder", {"num_heads": 2, "dropout": 0.0}, (4, 8))
    pool = build("sequence_pool", {"mode": "mean"}, (4, 8))
    x = torch.randn(2, 4, 8)
    mask = torch.tensor([[False] * 4, [True] * 4])
    with torch.no_grad():
        pooled = pool(encoder.train(training)(x, mask), mask)
    torch.testing.assert_close(pooled[1], torch.zeros(8))
    assert torch.isfinite(pooled).all()


MASKED = [
    ("multihead_attention", {"num_heads": 2}, ((5, 8),)),
    ("multihead_attention", {"num_heads": 2, "causal": True}, ((5, 8),)),
    ("multihead_attention", {"num_heads": 2}, ((5, 8), (7, 6))),
    ("transformer_encoder", {"num_heads": 2, "causal": True, "num_layers": 2}, ((5, 8),)),
    ("transformer_encoder", {"num_heads": 2, "norm_first": False}, ((5, 8),)),
    ("transformer_decoder", {"num_heads": 2, "num_layers": 2}, ((5, 8), (7, 8))),
    ("sequence_pool", {"mode": "max"}, ((5, 8),)),
    ("sequence_pool", {"mode": "mean"}, ((5, 8),)),
]


@pytest.mark.parametrize(("name", "args", "shapes"), MASKED)
def test_masks_run_on_meta_and_change_no_macs(
    name: str, args: dict[str, Any], shapes: tuple[tuple[int, ...], ...]
) -> None:
    """The one-mask-per-input call works where builds are checked (meta, no data-dependent
    op) and costs what the plan says: the masks add no matmul."""
    with torch.device("meta"):
        module = build(name, args, *shapes)
        for training in (True, False):
            module.train(training)
            xs = [torch.empty(1, *s) for s in shapes]
            masks = [torch.zeros(1, s[0], dtype=torch.bool) for s in shapes]
            with FlopCounterMode(display=False) as counter:
                out = module(*xs, *masks)
            want = predicted(name, args, [Tensor(s) for s in shapes])
            assert tuple(out.shape[1:]) == want.out.shape
            assert counter.get_total_flops() // 2 == want.macs


# ---- transformer_decoder --------------------------------------------------------------------


@pytest.mark.parametrize("norm_first", [True, False])
@pytest.mark.parametrize("causal", [True, False])
def test_decoder_equals_torch_transformer_decoder(norm_first: bool, causal: bool) -> None:
    torch.manual_seed(0)
    args = {"num_heads": 2, "num_layers": 2, "norm_first": norm_first, "causal": causal}
    ours = build("transformer_decoder", args, (5, 8), (7, 8)).eval()
    layer = nn.TransformerDecoderLayer(
        8, 2, 32, activation="gelu", norm_first=norm_first, batch_first=True
    )
    plain = nn.TransformerDecoder(layer, 2).eval()
    plain.load_state_dict(ours.state_dict())  # same keys
    tgt, memory = torch.randn(3, 5, 8), torch.randn(3, 7, 8)
    square = nn.Transformer.generate_square_subsequent_mask(5) if causal else None
    with torch.no_grad():
        want = plain(tgt, memory, tgt_mask=square, tgt_is_causal=causal)
        torch.testing.assert_close(ours(tgt, memory), want)


def test_decoder_is_causal_by_default() -> None:
    cfg = registry.get("transformer_decoder").config.model_validate({"num_heads": 2})
    assert cfg.causal is True
    torch.manual_seed(0)
    module = build("transformer_decoder", {"num_heads": 2, "dropout": 0.0}, (6, 8), (4, 8))
    tgt, memory = torch.randn(2, 6, 8), torch.randn(2, 4, 8)
    later = tgt.clone()
    later[:, 4:] = torch.randn(2, 2, 8)
    with torch.no_grad():
        torch.testing.assert_close(module(tgt, memory)[:, :4], module(later, memory)[:, :4])


@pytest.mark.parametrize("training", [True, False])
def test_decoder_ignores_padded_memory_and_target(training: bool) -> None:
    torch.manual_seed(0)
    args = {"num_heads": 2, "num_layers": 2, "dropout": 0.0}
    module = build("transformer_decoder", args, (6, 8), (7, 8)).train(training)
    tgt, tgt_mask = right_padded(torch.randn(2, 6, 8), 5)
    memory, memory_mask = right_padded(torch.randn(2, 7, 8), 3)
    with torch.no_grad():
        batch = module(tgt, memory, tgt_mask, memory_mask)
        alone = module(tgt[1:, :5], memory[1:, :3])
        memory_only = module(tgt, memory, None, memory_mask)
        unmasked = module(tgt, memory)
    torch.testing.assert_close(batch[1:, :5], alone, atol=1e-5, rtol=1e-5)
    # causal: the padded target's tail is already invisible to earlier positions
    torch.testing.assert_close(memory_only[1:, :5], alone, atol=1e-5, rtol=1e-5)
    assert not torch.allclose(unmasked[1:, :5], alone, atol=1e-3)


def test_decoder_memory_must_match_the_embedding() -> None:
    with pytest.raises(
        ShapeError, match=r"memory must have the target's embedding size \(8\)"
    ) as info:
        predicted("transformer_decoder", {"num_heads": 2}, [Tensor((5, 8)), Tensor((7, 6))])
    assert info.value.hint == "project the memory first: add `dense: 8` after it"


def test_decoder_needs_two_inputs() -> None:
    with pytest.raises(
        SpecError, match=r"transformer_decoder takes 2 input\(s\) but `from` names 1"
    ):
        netspec.plan("input: [5, 8]\nlayers:\n  - transformer_decoder: {num_heads: 2}\n")


def test_decoder_symbolic_lengths_give_exact_macs() -> None:
    t, s = dims.Sym.atom("T"), dims.Sym.atom("S")
    args = {"num_heads": 2, "num_layers": 2, "dim_feedforward": 12}
    symbolic = predicted("transformer_decoder", args, [Tensor((t, 8)), Tensor((s, 8))])
    for steps, memory in ((1, 1), (4, 9), (12, 3)):
        concrete = predicted("transformer_decoder", args, [Tensor((steps, 8)), Tensor((memory, 8))])
        assert dims.substitute(symbolic.macs, {"T": steps, "S": memory}) == concrete.macs
        assert symbolic.params == concrete.params


def test_torch_transformer_shaped_seq2seq_is_writable() -> None:
    """nn.Transformer(d_model=512): 6 + 6 layers, ff 2048, a final LayerNorm after each stack."""
    p = netspec.plan(
        "input: [10, 512]\n"
        "layers:\n"
        "  - dense: {units: 512, name: source}\n"
        "  - transformer_encoder: {num_heads: 8, num_layers: 6, dim_feedforward: 2048}\n"
        "  - layernorm: {name: memory}\n"
        "  - dense: {units: 512, from: input, name: target}\n"
        "  - transformer_decoder:\n"
        "      {num_heads: 8, num_layers: 6, dim_feedforward: 2048, from: [target, memory]}\n"
        "  - layernorm\n"
    )
    projections = 2 * (512 * 512 + 512)
    assert p.total_params - projections == 44_140_544
    with torch.device("meta"):
        reference = nn.Transformer(512, 8, 6, 6, 2048, batch_first=True)
    assert sum(x.numel() for x in reference.parameters()) == 44_140_544


# ---- layer_norm_eps and gelu_tanh -----------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "shapes"),
    [("transformer_encoder", ((4, 8),)), ("transformer_decoder", ((4, 8), (3, 8)))],
)
@pytest.mark.parametrize("spelling", ["eps", "layer_norm_eps"])
def test_eps_reaches_every_layer_norm(
    name: str, shapes: tuple[tuple[int, ...], ...], spelling: str
) -> None:
    module = build(name, {"num_heads": 2, "num_layers": 3, spelling: 1e-12}, *shapes)
    norms = [m for m in module.modules() if isinstance(m, nn.LayerNorm)]
    assert len(norms) == 3 * (2 if name == "transformer_encoder" else 3)
    assert {m.eps for m in norms} == {1e-12}


def test_default_eps_is_torchs() -> None:
    module = build("transformer_encoder", {"num_heads": 2}, (4, 8))
    assert {m.eps for m in module.modules() if isinstance(m, nn.LayerNorm)} == {1e-5}


@pytest.mark.parametrize(
    ("name", "shapes"),
    [("transformer_encoder", ((4, 8),)), ("transformer_decoder", ((4, 8), (3, 8)))],
)
def test_gelu_tanh_is_the_tanh_approximation_and_pickles(
    name: str, shapes: tuple[tuple[int, ...], ...]
) -> None:
    module = build(name, {"num_heads": 2, "num_layers": 2, "activation": "gelu_tanh"}, *shapes)
    for layer in module.layers:
        assert layer.activation is modules.gelu_tanh
    x = torch.linspace(-4, 4, 101)
    torch.testing.assert_close(modules.gelu_tanh(x), F.gelu(x, approximate="tanh"))
    assert not torch.allclose(modules.gelu_tanh(x), F.gelu(x))
    copy = pickle.loads(pickle.dumps(module))
    inputs = [torch.randn(2, *s) for s in shapes]
    module.eval()
    copy.eval()
    with torch.no_grad():
        torch.testing.assert_close(copy(*inputs), module(*inputs))


# ---- sequence_pool --------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["mean", "max"])
def test_sequence_pool_skips_padded_positions(mode: str) -> None:
    torch.manual_seed(0)
    pool = build("sequence_pool", {"mode": mode}, (5, 3))
    x = torch.randn(3, 5, 3)
    mask = torch.tensor(
        [[False] * 5, [False, False, True, True, True], [True] * 5]  # full, 2 kept, all padding
    )
    got = pool(x, mask)
    reduce = (lambda t: t.mean(0)) if mode == "mean" else (lambda t: t.amax(0))
    torch.testing.assert_close(got[0], reduce(x[0]))
    torch.testing.assert_close(got[1], reduce(x[1, :2]))
    torch.testing.assert_close(got[2], torch.zeros(3))  # all padding: zeros, not NaN or -inf
    torch.testing.assert_close(pool(x), x.mean(1) if mode == "mean" else x.amax(1))


def test_sequence_pool_shapes_and_counts() -> None:
    t = dims.Sym.atom("T")
    got = predicted("sequence_pool", {}, [Tensor((t, 16))])
    assert (got.out.shape, got.params, got.macs) == ((16,), 0, 0)
    with pytest.raises(ShapeError, match=r"sequence_pool expects input \(N, T, E\)") as info:
        predicted("sequence_pool", {"mode": "max"}, [Tensor((3, 8, 8))])
    assert info.value.hint is not None
    assert "global_avgpool" in info.value.hint
    with pytest.raises(ShapeError, match=r"expects input \(N, T, E\)") as info:
        predicted("sequence_pool", {}, [Tensor((16,))])
    assert info.value.hint == "the input has no sequence dim left to pool over"


def test_sequence_pool_primary_argument() -> None:
    p = netspec.plan("input: [6, 4]\nlayers:\n  - sequence_pool: max\n")
    assert p.layers[0].config.mode == "max"
    assert p.output.shape == (4,)


# ---- the guide's examples -------------------------------------------------------------------

GUIDE = pathlib.Path(__file__).parent.parent / "docs" / "spec-language.md"


def _guide_blocks() -> list[str]:
    text = GUIDE.read_text(encoding="utf-8")
    section = text.split("\n## Attention and transformers\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```yaml\n(.*?)```", section, re.S)


def test_the_guide_has_the_attention_examples() -> None:
    blocks = _guide_blocks()
    assert len(blocks) == 3
    assert "from: [queries, memory]" in blocks[0]
    assert "transformer_decoder" in blocks[1]


@pytest.mark.parametrize("index", [0, 1, 2])
def test_the_guides_attention_examples_build_and_run(index: int) -> None:
    block = _guide_blocks()[index]
    p = netspec.plan(block)
    with torch.device("meta"):  # the seq2seq example holds 45M parameters: no allocation
        model = netspec.build_model(block)
        out = model(example_input(p, device="meta"))
    assert tuple(out.shape) == (2, *p.output.shape)
    assert sum(x.numel() for x in model.parameters()) == p.total_params


def test_the_guides_seq2seq_counts_torch_transformer() -> None:
    p = netspec.plan(_guide_blocks()[1])
    stacks = {"transformer_encoder_0", "memory", "transformer_decoder_0", "layernorm_0"}
    assert sum(layer.params for layer in p.layers if layer.name in stacks) == 44_140_544
