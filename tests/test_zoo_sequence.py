"""The sequence models of the gallery against plain-PyTorch references, value for value.

specs/zoo/bert_base.yaml, gpt2.yaml and transformer_seq2seq.yaml count their references'
published parameters and MACs (tests/test_zoo.py). Here each one, at a reduced size (vars
overrides), is given the weights of a reference with the original implementation's module
structure (Hugging Face's BertModel and GPT2Model written out in plain PyTorch, and
torch.nn.Transformer itself), copied by a state_dict key mapping, and must compute the same
outputs to 1e-5 in eval mode. The full-size references count the published parameters on the
meta device.
"""

from __future__ import annotations

import math
import pathlib
import re

import pytest
import torch
from hf_gpt2 import hf_key
from torch import nn
from torch.nn import functional as F
from zoo_figures import PUBLISHED

import netspec

ZOO = pathlib.Path(__file__).parent.parent / "specs" / "zoo"


def randomize_norms(module: nn.Module) -> None:
    """LayerNorms that are not the identity, so a norm copied to the wrong place shows."""
    for m in module.modules():
        if isinstance(m, nn.LayerNorm):
            nn.init.uniform_(m.weight, 0.5, 1.5)
            nn.init.normal_(m.bias, std=0.1)


def load_mapped(model: nn.Module, reference: nn.Module, mapping: dict[str, torch.Tensor]) -> None:
    """Loads ``mapping`` (netspec key -> tensor built from the reference's state_dict) into
    ``model``: every key of the model, nothing else."""
    assert sorted(mapping) == sorted(model.state_dict())
    model.load_state_dict(mapping, strict=True)
    model.eval()
    reference.eval()


def split_layer_key(key: str, stack: str) -> tuple[int, str] | None:
    """``encoder.layers.3.norm1.weight`` -> ``(3, "norm1.weight")`` for stack ``encoder``."""
    m = re.fullmatch(rf"{stack}\.layers\.(\d+)\.(.+)", key)
    return (int(m[1]), m[2]) if m else None


# --- BERT: Hugging Face's BertModel, written out -----------------------------------------


class BertEmbeddings(nn.Module):
    def __init__(self, vocab: int, hidden: int, max_len: int, types: int, eps: float) -> None:
        super().__init__()
        self.word_embeddings = nn.Embedding(vocab, hidden, padding_idx=0)
        self.position_embeddings = nn.Embedding(max_len, hidden)
        self.token_type_embeddings = nn.Embedding(types, hidden)
        self.LayerNorm = nn.LayerNorm(hidden, eps=eps)
        self.dropout = nn.Dropout(0.1)

    def forward(self, ids: torch.Tensor, types: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(ids.shape[1], device=ids.device)
        x = self.word_embeddings(ids) + self.token_type_embeddings(types)
        x = x + self.position_embeddings(positions)
        return self.dropout(self.LayerNorm(x))  # type: ignore[no-any-return]


class BertSelfAttention(nn.Module):
    def __init__(self, hidden: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.query = nn.Linear(hidden, hidden)
        self.key = nn.Linear(hidden, hidden)
        self.value = nn.Linear(hidden, hidden)
        self.dropout = nn.Dropout(0.1)

    def forward(self, x: torch.Tensor, additive_mask: torch.Tensor) -> torch.Tensor:
        n, t, e = x.shape

        def heads(y: torch.Tensor) -> torch.Tensor:
            return y.view(n, t, self.heads, e // self.heads).transpose(1, 2)  # (N, H, T, d)

        q, k, v = heads(self.query(x)), heads(self.key(x)), heads(self.value(x))
        scores = q @ k.transpose(-1, -2) / math.sqrt(e // self.heads) + additive_mask
        context: torch.Tensor = self.dropout(scores.softmax(dim=-1)) @ v  # (N, H, T, d)
        return context.transpose(1, 2).reshape(n, t, e)


class BertDenseNorm(nn.Module):
    """HF's BertSelfOutput and BertOutput: LayerNorm(dropout(dense(x)) + residual)."""

    def __init__(self, cin: int, hidden: int, eps: float) -> None:
        super().__init__()
        self.dense = nn.Linear(cin, hidden)
        self.LayerNorm = nn.LayerNorm(hidden, eps=eps)
        self.dropout = nn.Dropout(0.1)

    def forward(self, x: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.dropout(self.dense(x)) + residual)  # type: ignore[no-any-return]


class BertAttention(nn.Module):
    def __init__(self, hidden: int, heads: int, eps: float) -> None:
        super().__init__()
        self.self = BertSelfAttention(hidden, heads)
        self.output = BertDenseNorm(hidden, hidden, eps)

    def forward(self, x: torch.Tensor, additive_mask: torch.Tensor) -> torch.Tensor:
        return self.output(self.self(x, additive_mask), x)  # type: ignore[no-any-return]


class BertIntermediate(nn.Module):
    def __init__(self, hidden: int, ff: int) -> None:
        super().__init__()
        self.dense = nn.Linear(hidden, ff)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.gelu(self.dense(x))  # HF's "gelu": the exact erf form


class BertLayer(nn.Module):
    def __init__(self, hidden: int, heads: int, ff: int, eps: float) -> None:
        super().__init__()
        self.attention = BertAttention(hidden, heads, eps)
        self.intermediate = BertIntermediate(hidden, ff)
        self.output = BertDenseNorm(ff, hidden, eps)

    def forward(self, x: torch.Tensor, additive_mask: torch.Tensor) -> torch.Tensor:
        x = self.attention(x, additive_mask)
        return self.output(self.intermediate(x), x)  # type: ignore[no-any-return]


class BertEncoder(nn.Module):
    def __init__(self, layers: int, hidden: int, heads: int, ff: int, eps: float) -> None:
        super().__init__()
        self.layer = nn.ModuleList(BertLayer(hidden, heads, ff, eps) for _ in range(layers))


class BertPooler(nn.Module):
    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.dense = nn.Linear(hidden, hidden)
        self.activation = nn.Tanh()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.activation(self.dense(x[:, 0]))  # type: ignore[no-any-return]


class BertModel(nn.Module):
    """transformers.BertModel (eager attention), with its module names and defaults."""

    def __init__(
        self,
        vocab: int = 30522,
        hidden: int = 768,
        layers: int = 12,
        heads: int = 12,
        ff: int = 3072,
        max_len: int = 512,
        types: int = 2,
        eps: float = 1e-12,
    ) -> None:
        super().__init__()
        self.embeddings = BertEmbeddings(vocab, hidden, max_len, types, eps)
        self.encoder = BertEncoder(layers, hidden, heads, ff, eps)
        self.pooler = BertPooler(hidden)

    def forward(
        self, ids: torch.Tensor, types: torch.Tensor, attention_mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.embeddings(ids, types)
        # HF's extended attention mask: 0 where attended, the dtype's minimum at padding
        additive = (1.0 - attention_mask[:, None, None, :].to(x.dtype)) * torch.finfo(x.dtype).min
        for layer in self.encoder.layer:
            x = layer(x, additive)
        return x, self.pooler(x)


BERT_SMALL = {"vocab": 100, "hidden": 32, "layers": 2, "heads": 4, "ff": 64, "max_len": 16}

BERT_LAYER_KEYS = {  # netspec's TransformerEncoderLayer -> HF's BertLayer
    "self_attn.out_proj.": "attention.output.dense.",
    "norm1.": "attention.output.LayerNorm.",
    "linear1.": "intermediate.dense.",
    "linear2.": "output.dense.",
    "norm2.": "output.LayerNorm.",
}


def bert_state(model: nn.Module, theirs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """netspec's bert_base state_dict built from HF's: q, k and v concatenated into
    nn.MultiheadAttention's in_proj, the other keys renamed."""
    top = {
        "word_embeddings.weight": "embeddings.word_embeddings.weight",
        "position_embeddings.weight": "embeddings.position_embeddings.weight",
        "token_type_embeddings.weight": "embeddings.token_type_embeddings.weight",
        "embeddings_norm.weight": "embeddings.LayerNorm.weight",
        "embeddings_norm.bias": "embeddings.LayerNorm.bias",
        "pooler.weight": "pooler.dense.weight",
        "pooler.bias": "pooler.dense.bias",
    }
    used: set[str] = set()
    out: dict[str, torch.Tensor] = {}
    for key in model.state_dict():
        if key in top:
            names = [top[key]]
        elif (split := split_layer_key(key, "encoder")) is not None:
            i, rest = split
            prefix = f"encoder.layer.{i}."
            if rest.startswith("self_attn.in_proj_"):
                kind = rest.removeprefix("self_attn.in_proj_")  # weight or bias
                names = [f"{prefix}attention.self.{p}.{kind}" for p in ("query", "key", "value")]
            else:
                old = next(o for o in BERT_LAYER_KEYS if rest.startswith(o))
                names = [prefix + BERT_LAYER_KEYS[old] + rest.removeprefix(old)]
        else:
            raise AssertionError(f"unmapped netspec key {key}")
        out[key] = torch.cat([theirs[n] for n in names])
        used.update(names)
    assert used == set(theirs)  # every reference tensor went somewhere
    return out


def small_bert() -> tuple[nn.Module, BertModel]:
    torch.manual_seed(0)
    reference = BertModel(**BERT_SMALL)
    randomize_norms(reference)
    overrides = [f"vars.{k}={v}" for k, v in BERT_SMALL.items()]
    model = netspec.build_model(netspec.load_spec(ZOO / "bert_base.yaml", overrides), seed=1)
    load_mapped(model, reference, bert_state(model, reference.state_dict()))
    return model, reference


def test_bert_reference_has_the_published_parameter_count() -> None:
    with torch.device("meta"):
        reference = BertModel()
    assert sum(t.numel() for t in reference.parameters()) == PUBLISHED["bert_base"].params


def test_bert_computes_what_hugging_face_bert_computes() -> None:
    model, reference = small_bert()
    torch.manual_seed(2)
    ids = torch.randint(1, 100, (3, 12))
    types = torch.randint(0, 2, (3, 12))
    with torch.no_grad():
        expected = reference(ids, types, torch.ones_like(ids))
        got = model(ids, types)
    assert got[0].shape == (3, 12, 32)
    assert got[1].shape == (3, 32)
    assert expected[1].abs().max() > 0.1  # a real signal, not a collapsed one
    for g, e in zip(got, expected, strict=True):
        torch.testing.assert_close(g, e, atol=1e-5, rtol=0)


def test_bert_padding_is_hugging_face_attention_mask() -> None:
    """A right-padded batch (pad id 0): netspec's mask from `pad_id` equals HF's
    attention_mask at the real positions and in the pooled output."""
    model, reference = small_bert()
    torch.manual_seed(3)
    lengths = [12, 7, 3]
    ids = torch.randint(1, 100, (3, 12))
    types = torch.randint(0, 2, (3, 12))
    real = torch.arange(12)[None, :] < torch.tensor(lengths)[:, None]  # (N, T)
    ids = ids.masked_fill(~real, 0)
    types = types.masked_fill(~real, 0)
    with torch.no_grad():
        expected_seq, expected_pooled = reference(ids, types, real.long())
        unmasked_seq, _ = reference(ids, types, torch.ones_like(ids))
        got_seq, got_pooled = model(ids, types)
        alone = [model(ids[i : i + 1, :n], types[i : i + 1, :n]) for i, n in enumerate(lengths)]
    # the padding matters: attending to it would change the real positions
    assert not torch.allclose(unmasked_seq[real], expected_seq[real], atol=1e-3)
    torch.testing.assert_close(got_seq[real], expected_seq[real], atol=1e-5, rtol=0)
    torch.testing.assert_close(got_pooled, expected_pooled, atol=1e-5, rtol=0)
    for i, n in enumerate(lengths):  # and each sequence gives what it gives alone
        torch.testing.assert_close(got_seq[i, :n], alone[i][0][0], atol=1e-5, rtol=0)
        torch.testing.assert_close(got_pooled[i], alone[i][1][0], atol=1e-5, rtol=0)


# --- GPT-2: Hugging Face's GPT2Model and LM head, written out ----------------------------


class Conv1D(nn.Module):
    """HF's Conv1D: a linear layer whose weight is stored (in, out), transposed."""

    def __init__(self, nf: int, nx: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(nx, nf) * 0.1)
        self.bias = nn.Parameter(torch.randn(nf) * 0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.addmm(self.bias, x.reshape(-1, x.shape[-1]), self.weight).view(
            *x.shape[:-1], -1
        )


class GPT2Attention(nn.Module):
    def __init__(self, hidden: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.c_attn = Conv1D(3 * hidden, hidden)
        self.c_proj = Conv1D(hidden, hidden)
        self.attn_dropout = nn.Dropout(0.1)
        self.resid_dropout = nn.Dropout(0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, t, e = x.shape
        q, k, v = (
            y.view(n, t, self.heads, e // self.heads).transpose(1, 2)
            for y in self.c_attn(x).split(e, dim=2)
        )
        scores = q @ k.transpose(-1, -2) / math.sqrt(e // self.heads)
        future = torch.ones(t, t, dtype=torch.bool).triu(1)
        scores = scores.masked_fill(future, torch.finfo(scores.dtype).min)
        context = (self.attn_dropout(scores.softmax(dim=-1)) @ v).transpose(1, 2)
        return self.resid_dropout(self.c_proj(context.reshape(n, t, e)))  # type: ignore[no-any-return]


class GPT2MLP(nn.Module):
    def __init__(self, hidden: int, ff: int) -> None:
        super().__init__()
        self.c_fc = Conv1D(ff, hidden)
        self.c_proj = Conv1D(hidden, ff)
        self.dropout = nn.Dropout(0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.c_fc(x)
        # HF's "gelu_new", written out
        h = 0.5 * h * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (h + 0.044715 * h**3)))
        return self.dropout(self.c_proj(h))  # type: ignore[no-any-return]


class GPT2Block(nn.Module):
    def __init__(self, hidden: int, heads: int, ff: int, eps: float) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(hidden, eps=eps)
        self.attn = GPT2Attention(hidden, heads)
        self.ln_2 = nn.LayerNorm(hidden, eps=eps)
        self.mlp = GPT2MLP(hidden, ff)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))  # type: ignore[no-any-return]


class GPT2Model(nn.Module):
    def __init__(
        self,
        vocab: int = 50257,
        hidden: int = 768,
        layers: int = 12,
        heads: int = 12,
        ff: int = 3072,
        max_len: int = 1024,
        eps: float = 1e-5,
    ) -> None:
        super().__init__()
        self.wte = nn.Embedding(vocab, hidden)
        self.wpe = nn.Embedding(max_len, hidden)
        self.drop = nn.Dropout(0.1)
        self.h = nn.ModuleList(GPT2Block(hidden, heads, ff, eps) for _ in range(layers))
        self.ln_f = nn.LayerNorm(hidden, eps=eps)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        x = self.drop(self.wte(ids) + self.wpe(torch.arange(ids.shape[1])))
        for block in self.h:
            x = block(x)
        return self.ln_f(x)  # type: ignore[no-any-return]


class GPT2LMHeadModel(nn.Module):
    def __init__(self, **sizes: int) -> None:
        super().__init__()
        self.transformer = GPT2Model(**sizes)
        vocab, hidden = self.transformer.wte.weight.shape
        self.lm_head = nn.Linear(hidden, vocab, bias=False)
        self.lm_head.weight = self.transformer.wte.weight  # tied, as HF ties them

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.lm_head(self.transformer(ids))  # type: ignore[no-any-return]


GPT2_SMALL = {"vocab": 100, "hidden": 32, "layers": 2, "heads": 4, "ff": 64, "max_len": 16}


def gpt2_state(model: nn.Module, theirs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """netspec's gpt2 state_dict from HF's GPT2LMHeadModel's: Conv1D weights transposed."""
    used: set[str] = set()
    out: dict[str, torch.Tensor] = {}
    for key in model.state_dict():
        name, transpose = hf_key(key)
        out[key] = theirs[name].t() if transpose else theirs[name]
        used.add(name)
    assert used == set(theirs)
    return out


def test_gpt2_reference_has_the_published_parameter_count() -> None:
    with torch.device("meta"):
        reference = GPT2LMHeadModel()
    assert sum(t.numel() for t in reference.parameters()) == PUBLISHED["gpt2"].params
    assert sum(t.numel() for t in reference.transformer.parameters()) == PUBLISHED["gpt2"].params


def test_gpt2_head_is_the_token_embedding_counted_once() -> None:
    with torch.device("meta"):
        model = netspec.build_model(netspec.load_spec(ZOO / "gpt2.yaml"))
    head, wte = model.get_submodule("lm_head"), model.get_submodule("wte")
    assert head.weight is wte.weight
    assert head.bias is None
    assert head.weight.shape == (50257, 768)
    names = [name for name, _ in model.named_parameters()]
    assert "wte.weight" in names
    assert "lm_head.weight" not in names
    assert sum(t.numel() for t in model.parameters()) == PUBLISHED["gpt2"].params
    plan = netspec.plan(netspec.load_spec(ZOO / "gpt2.yaml"))
    assert plan.total_params == PUBLISHED["gpt2"].params


def test_gpt2_computes_what_hugging_face_gpt2_computes() -> None:
    torch.manual_seed(0)
    reference = GPT2LMHeadModel(**GPT2_SMALL)
    randomize_norms(reference)
    overrides = [f"vars.{k}={v}" for k, v in GPT2_SMALL.items()]
    model = netspec.build_model(netspec.load_spec(ZOO / "gpt2.yaml", overrides), seed=1)
    load_mapped(model, reference, gpt2_state(model, reference.state_dict()))
    head = model.get_submodule("lm_head")
    assert head.weight is model.get_submodule("wte").weight  # the tie survives loading
    ids = torch.randint(0, 100, (3, 10))
    with torch.no_grad():
        expected = reference(ids)
        got = model(ids)
        prefix = model(ids[:, :4])  # causal: a prefix's logits do not see what follows
    assert got.shape == (3, 10, 100)
    assert expected.abs().max() > 0.1
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)
    torch.testing.assert_close(prefix, got[:, :4], atol=1e-5, rtol=0)


GPT2_SIZES = ("gpt2", "gpt2_medium", "gpt2_large")
HF_GPT2_CONFIGS = {  # Hugging Face's configs of gpt2, gpt2-medium and gpt2-large
    "gpt2": {"n_embd": 768, "n_layer": 12, "n_head": 12},
    "gpt2_medium": {"n_embd": 1024, "n_layer": 24, "n_head": 16},
    "gpt2_large": {"n_embd": 1280, "n_layer": 36, "n_head": 20},
}


@pytest.mark.parametrize("name", GPT2_SIZES)
def test_gpt2_summary_golden(name: str) -> None:
    """`netspec summary` of GPT-2 small, medium and large: the published parameter counts
    (124,439,808; 354,823,168; 774,030,080, the head tied to the token embedding) in the
    human-facing table, kept as golden files."""
    from test_cli import _golden
    from typer.testing import CliRunner

    from netspec.cli.app import app

    result = CliRunner().invoke(app, ["summary", str(ZOO / f"{name}.yaml")])
    assert result.exit_code == 0, result.output
    assert f"Total params:         {PUBLISHED[name].params:,}\n" in result.stdout
    _golden(f"{name}.summary.txt", result.stdout)


@pytest.mark.parametrize("name", GPT2_SIZES)
def test_gpt2_sizes_count_what_hugging_face_counts(name: str) -> None:
    """Hugging Face's own GPT2LMHeadModel of each size (meta device, no weights) has the
    parameters netspec's plan counts."""
    transformers = pytest.importorskip("transformers")
    config = transformers.GPT2Config(**HF_GPT2_CONFIGS[name])
    with torch.device("meta"):
        reference = transformers.GPT2LMHeadModel(config)
    assert sum(t.numel() for t in reference.parameters()) == PUBLISHED[name].params
    assert (
        netspec.plan(netspec.load_spec(ZOO / f"{name}.yaml")).total_params == PUBLISHED[name].params
    )


# --- the seq2seq model: torch.nn.Transformer itself -------------------------------------

SEQ2SEQ_SMALL = {"d_model": 32, "heads": 4, "encoder_layers": 2, "decoder_layers": 3, "ff": 64}


@pytest.mark.filterwarnings("ignore:enable_nested_tensor is True")  # batch_first=False
def test_seq2seq_reference_has_the_published_parameter_count() -> None:
    with torch.device("meta"):
        reference = nn.Transformer()
    count = sum(t.numel() for t in reference.parameters())
    assert count == PUBLISHED["transformer_seq2seq"].params


def test_seq2seq_computes_what_torch_transformer_computes() -> None:
    torch.manual_seed(0)
    s = SEQ2SEQ_SMALL
    reference = nn.Transformer(
        d_model=s["d_model"],
        nhead=s["heads"],
        num_encoder_layers=s["encoder_layers"],
        num_decoder_layers=s["decoder_layers"],
        dim_feedforward=s["ff"],
        batch_first=True,
    )
    randomize_norms(reference)
    overrides = [f"vars.{k}={v}" for k, v in s.items()]
    spec = netspec.load_spec(ZOO / "transformer_seq2seq.yaml", overrides)
    model = netspec.build_model(spec, seed=1)
    theirs = reference.state_dict()

    def torch_key(key: str) -> str:  # encoder_norm.weight -> encoder.norm.weight
        return re.sub(r"^(encoder|decoder)_norm\.", r"\1.norm.", key)

    assert sorted(torch_key(k) for k in model.state_dict()) == sorted(theirs)
    load_mapped(model, reference, {k: theirs[torch_key(k)] for k in model.state_dict()})
    src, tgt = torch.randn(3, 7, 32), torch.randn(3, 5, 32)
    with torch.no_grad():
        mask = nn.Transformer.generate_square_subsequent_mask(5)
        expected = reference(src, tgt, tgt_mask=mask, tgt_is_causal=True)
        unmasked = reference(src, tgt)
        got = model(src, tgt)
    assert got.shape == (3, 5, 32)
    assert not torch.allclose(unmasked, expected, atol=1e-3)  # the causal mask matters
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)
