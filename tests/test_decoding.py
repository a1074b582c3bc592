"""Incremental decoding with a key-value cache (netspec/training/decoding.py, kv_cache.py,
sampling.py): the oracle is the model's own full forward on the same prefix, and Hugging
Face's GPT-2 ``generate`` for a GPT-2 whose weights were copied into specs/zoo/gpt2.yaml."""

from __future__ import annotations

import pathlib

import pytest
import torch
from hf_gpt2 import hf_key

import netspec
from netspec.training.decoding import context_length, decoder
from netspec.training.sampling import choose, generate_ids

ZOO = pathlib.Path(__file__).parent.parent / "specs" / "zoo"
VOCAB = 20


def lm_spec(
    *,
    positions: str = "learned",
    norm_first: bool = True,
    activation: str = "gelu_tanh",
    final_norm: str = "layernorm",
    length: str = "16",
    pad: str = "",
) -> str:
    return f"""
name: tiny_lm
input: {{shape: [{length}], dtype: int64{pad}}}
layers:
  - embedding: {{num_embeddings: {VOCAB}, embedding_dim: 32}}
  - positional_encoding: {{kind: {positions}, max_len: 16}}
  - dropout: 0.1
  - transformer_encoder:
      num_heads: 4
      num_layers: 2
      dim_feedforward: 48
      causal: true
      norm_first: {str(norm_first).lower()}
      activation: {activation}
  - {final_norm}
  - dense: {VOCAB}
train: {{task: language_model}}
"""


ATTENTION_LM = f"""
name: attention_lm
input: {{shape: [T], dtype: int64}}
layers:
  - embedding: {{num_embeddings: {VOCAB}, embedding_dim: 32, name: tokens}}
  - positional_encoding: {{kind: sinusoidal, max_len: 16}}
  - layernorm
  - multihead_attention: {{num_heads: 4, causal: true}}
  - add: {{from: [tokens, multihead_attention_0]}}
  - rmsnorm
  - dense: {{units: 64, activation: silu}}
  - dense: {VOCAB}
  - log_softmax
train: {{task: language_model}}
"""

RECURRENT_LM = f"""
name: recurrent_lm
input: {{shape: [T], dtype: int64}}
layers:
  - embedding: {{num_embeddings: {VOCAB}, embedding_dim: 16}}
  - lstm: {{units: 24, return_sequences: true}}
  - dense: {VOCAB}
train: {{task: language_model}}
"""

TWO_HEADS = f"""
name: two_heads
input: {{shape: [T], dtype: int64}}
layers:
  - embedding: {{num_embeddings: {VOCAB}, embedding_dim: 32}}
  - positional_encoding: {{kind: learned, max_len: 16}}
  - transformer_encoder: {{num_heads: 4, num_layers: 1, causal: true}}
  - dense: {{units: {VOCAB}, name: logits}}
  - sequence_pool: {{mode: mean, from: transformer_encoder_0, name: pooled}}
outputs: [logits, pooled]
"""

CACHED_SPECS = {
    "pre-norm learned gelu_tanh": lm_spec(),
    "post-norm sinusoidal relu": lm_spec(
        positions="sinusoidal", norm_first=False, activation="relu"
    ),
    "gelu rmsnorm symbolic length": lm_spec(activation="gelu", final_norm="rmsnorm", length="T"),
    "multihead_attention": ATTENTION_LM,
    "padding mask": lm_spec(pad=", pad_id: 0"),
    "an extra output": TWO_HEADS,  # its sequence_pool is not on the logits' path
}


def built(source: str) -> torch.fx.GraphModule:
    model = netspec.build_model(netspec.load_spec(source), seed=0)
    model.eval()
    return model


@pytest.mark.parametrize("name", list(CACHED_SPECS))
def test_cached_logits_are_the_full_forward_of_every_prefix(name: str) -> None:
    model = built(CACHED_SPECS[name])
    dec = decoder(model)
    assert dec.cached, dec.reason
    torch.manual_seed(1)
    ids = torch.randint(1, VOCAB, (2, 16))
    ids[0, 5] = ids[1, 9] = 0  # padding (pad_id 0) in the middle, for the padded model
    logits = [dec.start(ids[:, :4], 16)]
    for k in range(4, 16):
        logits.append(dec.feed(ids[:, k : k + 1]))
    got = torch.cat(logits, dim=1)
    with torch.no_grad():
        for k in range(1, 17):  # step by step: the full forward of each prefix
            expected = model(ids[:, :k])
            expected = expected[0] if isinstance(expected, tuple) else expected
            torch.testing.assert_close(got[:, :k], expected, atol=1e-5, rtol=0)
    assert expected.abs().max() > 0.1  # a real signal


def greedy_by_hand(model: torch.nn.Module, prompt: list[int], n: int, context: int) -> list[int]:
    """Argmax of the full forward of the last ``context`` tokens, n times."""
    tokens = list(prompt)
    with torch.no_grad():
        for _ in range(n):
            logits = model(torch.tensor([tokens[-context:]]))
            tokens.append(int(logits[0, -1].argmax()))
    return tokens[len(prompt) :]


def run(
    model: torch.fx.GraphModule,
    prompt: list[int],
    n: int,
    *,
    cache: bool = True,
    input_length: int | None = 16,
    **kw: object,
) -> list[int]:
    """``n`` new tokens after ``prompt`` (at most: eos stops it), the window at most the
    model's context length."""
    dec = decoder(model, cache=cache)
    ids = torch.tensor([prompt])
    context = context_length(model, input_length)
    steps = generate_ids(dec, ids, max_new_tokens=n, context=context, **kw)  # type: ignore[arg-type]
    return [int(t[0]) for t in steps]


@pytest.mark.parametrize("name", ["pre-norm learned gelu_tanh", "post-norm sinusoidal relu"])
def test_greedy_with_and_without_cache_is_greedy_by_hand_past_the_context(name: str) -> None:
    """30 new tokens after 5: the window slides past 16 tokens, and the cache is rebuilt."""
    model = built(CACHED_SPECS[name])
    expected = greedy_by_hand(model, [3, 1, 4, 1, 5], 30, 16)
    assert run(model, [3, 1, 4, 1, 5], 30, temperature=0) == expected
    assert run(model, [3, 1, 4, 1, 5], 30, temperature=0, cache=False) == expected
    assert len(set(expected)) > 1  # not one token repeated


def test_a_prompt_longer_than_the_context_keeps_its_last_tokens() -> None:
    model = built(lm_spec())
    prompt = [i % VOCAB for i in range(3, 28)]  # 25 tokens, context 16
    assert run(model, prompt, 6, temperature=0) == greedy_by_hand(model, prompt, 6, 16)


def test_a_graph_the_cache_does_not_know_recomputes_the_window() -> None:
    model = built(RECURRENT_LM)
    dec = decoder(model)
    assert not dec.cached
    assert dec.reason is not None
    assert "LSTM" in dec.reason
    assert context_length(model) is None
    prompt = [2, 7, 1]
    ids = torch.tensor([prompt])
    got = [int(t[0]) for t in generate_ids(dec, ids, max_new_tokens=12, context=None)]
    assert got == greedy_by_hand(model, prompt, 12, 10**6)


def test_the_cache_grows_with_the_text_not_with_its_capacity() -> None:
    """Without a context bound (no positional table, a symbolic length) the capacity is
    prompt + max_new_tokens, up to a million positions: a cache allocated for all of them
    up front is gigabytes per layer (out of memory on a GPU). It grows as it is used, and
    the logits stay the full forward's past every growth."""
    model = built(
        lm_spec(length="T").replace("  - positional_encoding: {kind: learned, max_len: 16}\n", "")
    )
    dec = decoder(model)
    assert dec.cached
    assert context_length(model) is None
    ids = torch.tensor([[i * 7 % VOCAB for i in range(300)]])
    logits = dec.start(ids[:, :5], 10**6)
    attention = dec.caches[0].layers[0].attention  # type: ignore[union-attr]
    assert attention.keys.shape[2] < 10**4
    for t in range(5, 300):
        logits = dec.feed(ids[:, t : t + 1])
    with torch.no_grad():
        full = model(ids)
    torch.testing.assert_close(logits[:, -1], full[:, -1], atol=1e-4, rtol=1e-4)
    assert attention.keys.shape[2] < 10**4


def test_generation_stops_at_eos() -> None:
    model = built(lm_spec())
    free = run(model, [3, 1, 4], 20, temperature=0)
    eos = free[4]
    stopped = run(model, [3, 1, 4], 20, temperature=0, eos_id=eos)
    assert stopped == free[: free.index(eos) + 1]


def test_sampling_is_reproducible_with_a_seed_and_top_k_1_is_greedy() -> None:
    model = built(lm_spec())
    first = run(model, [3, 1, 4], 25, temperature=1.0, seed=7)
    assert run(model, [3, 1, 4], 25, temperature=1.0, seed=7) == first
    assert run(model, [3, 1, 4], 25, temperature=1.0, seed=8) != first
    # the uncached path draws the same tokens from the same seed
    assert run(model, [3, 1, 4], 25, temperature=1.0, seed=7, cache=False) == first
    greedy = run(model, [3, 1, 4], 25, temperature=0)
    assert run(model, [3, 1, 4], 25, temperature=1.5, top_k=1, seed=3) == greedy
    assert first != greedy  # sampling does sample


def test_extreme_temperatures_draw_without_nan() -> None:
    """A positive temperature of 1e-300 (0 in float32) or 1e300 (inf) made softmax see NaN
    and torch.multinomial raise: a tiny one is now the greedy choice, a huge one uniform."""
    logits = torch.tensor([[2.0, 9.0, -1.0, float("-inf")], [50.0, 0.0, 49.0, 1.0]])
    generator = torch.Generator().manual_seed(0)
    for tiny in (1e-300, 1e-40, 1e-12):
        assert choose(logits, tiny, None, generator).flatten().tolist() == [1, 0]
        assert choose(logits, tiny, 2, generator).flatten().tolist() == [1, 0]
    drawn = {int(choose(logits, 1e300, None, generator)[0, 0]) for _ in range(50)}
    assert drawn == {0, 1, 2}  # uniform over the finite logits, never the -inf one


def test_context_length_is_the_input_length_or_the_smallest_table() -> None:
    assert context_length(built(lm_spec()), 16) == 16
    assert context_length(built(lm_spec(length="T"))) == 16
    assert context_length(built(lm_spec()), 8) == 8


# --- Hugging Face's GPT-2 ---------------------------------------------------------------


def test_greedy_decoding_is_hugging_face_gpt2_generate() -> None:
    transformers = pytest.importorskip("transformers")
    sizes = {"vocab": 50, "hidden": 32, "layers": 2, "heads": 4, "ff": 128, "max_len": 64}
    config = transformers.GPT2Config(
        vocab_size=50,
        n_positions=64,
        n_embd=32,
        n_layer=2,
        n_head=4,
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
        activation_function="gelu_new",
        bos_token_id=0,
        eos_token_id=0,
        pad_token_id=0,
    )
    torch.manual_seed(0)
    reference = transformers.GPT2LMHeadModel(config).eval()
    with torch.no_grad():  # weights far from GPT-2's init (std 0.02), norms not the identity
        for name, tensor in reference.named_parameters():
            if "ln_" in name and name.endswith("weight"):
                tensor.uniform_(0.5, 1.5)
            else:
                tensor.normal_(std=0.3)
    overrides = [f"vars.{k}={v}" for k, v in sizes.items()]
    model = netspec.build_model(netspec.load_spec(ZOO / "gpt2.yaml", overrides), seed=1)
    theirs = reference.state_dict()
    mapped = {}
    for key in model.state_dict():
        name, transpose = hf_key(key)
        mapped[key] = theirs[name].t() if transpose else theirs[name]
    model.load_state_dict(mapped, strict=True)
    prompts = torch.tensor([[5, 17, 3, 42, 8], [9, 9, 31, 2, 44]])
    for prompt in prompts:
        with torch.no_grad():
            out = reference.generate(
                prompt[None], max_new_tokens=40, do_sample=False, attention_mask=None
            )
        expected = out[0, 5:].tolist()
        got = run(model, prompt.tolist(), 40, temperature=0, eos_id=0, input_length=None)
        assert got == expected
        assert len(set(expected)) > 2
