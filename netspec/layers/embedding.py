"""embedding and positional_encoding: token ids to vectors, and position information.

embedding: int64 token ids (N, T) -> (N, T, embedding_dim) (any per-sample rank: (N, ...) ->
(N, ..., embedding_dim)); params ``num_embeddings * embedding_dim``; MACs 0 (a lookup).
positional_encoding: (N, T, E) -> (N, T, E), adding the first T rows of a (max_len, E) table;
``T <= max_len``. ``kind: learned``: a trained table, ``max_len * E`` params (init normal, std
0.02); ``kind: sinusoidal``: the fixed sin/cos table of "Attention Is All You Need", 0 params
(a non-persistent buffer, so not in the state_dict). MACs 0 (elementwise). A fixed T is
checked by the shape rule; a symbolic one (input ``[T, 64]``) only when the model runs, where
a longer sequence raises a ValueError naming T and max_len, so validate warns
(``runtime-check``).
"""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, Field

from netspec.dims import format_shape
from netspec.errors import ShapeError
from netspec.layers.common import PositiveInt, known, require_float, require_rank
from netspec.layers.registry import (
    Call,
    Example,
    Inferred,
    LayerConfig,
    LayerType,
    RuntimeCheck,
    Tensor,
    register,
)


class EmbeddingConfig(LayerConfig):
    num_embeddings: PositiveInt = Field(
        validation_alias=AliasChoices("num_embeddings", "input_dim", "vocab_size")
    )
    embedding_dim: PositiveInt = Field(validation_alias=AliasChoices("embedding_dim", "output_dim"))
    # The initial weights' std (torch's default: 1). GPT-2 and BERT: 0.02.
    init_std: float | None = Field(None, gt=0)


class PositionalEncodingConfig(LayerConfig):
    kind: Literal["sinusoidal", "learned"] = "sinusoidal"
    max_len: PositiveInt = 512


def infer_embedding(cfg: EmbeddingConfig, inputs: tuple[Tensor, ...]) -> Inferred:
    (x,) = inputs
    if x.dtype != "int64":
        shape = ", ".join(str(d) for d in x.shape)
        raise ShapeError(
            "embedding needs int64 token ids but receives floating-point values",
            received=f"{format_shape(x.shape)} {x.dtype}",
            expected=f"{format_shape(x.shape)} int64",
            hint=f"set input: {{shape: [{shape}], dtype: int64}}",
        )
    require_rank(x, range(1, 9), "embedding", "(N, T) token ids")
    params = cfg.num_embeddings * cfg.embedding_dim
    return Inferred(Tensor((*x.shape, cfg.embedding_dim)), params, 0)


def embedding_weight(cfg: EmbeddingConfig, inputs: tuple[Tensor, ...]) -> tuple[int, ...]:
    return (cfg.num_embeddings, cfg.embedding_dim)


def embedding_module(cfg: EmbeddingConfig, inputs: tuple[Tensor, ...]) -> Call:
    if cfg.init_std is not None:
        sizes = (cfg.num_embeddings, cfg.embedding_dim)
        return Call("NormalEmbedding", sizes, {"init_std": cfg.init_std})
    return Call("nn.Embedding", (cfg.num_embeddings, cfg.embedding_dim))


def infer_positional(cfg: PositionalEncodingConfig, inputs: tuple[Tensor, ...]) -> Inferred:
    (x,) = inputs
    require_float(x, "positional_encoding")
    require_rank(x, (3,), "positional_encoding", "(N, T, embed_dim)")
    steps = x.shape[0]
    embed = known(x.shape[1], "the embedding dimension of positional_encoding's input")
    if isinstance(steps, int) and steps > cfg.max_len:
        raise ShapeError(
            f"the sequence length {steps} exceeds max_len {cfg.max_len}",
            received=format_shape(x.shape),
            expected=f"(N, T, {embed}) with T <= {cfg.max_len}",
            hint=f"set max_len: {steps} or more",
            field="max_len",
        )
    params = cfg.max_len * embed if cfg.kind == "learned" else 0
    return Inferred(x, params, 0)


def positional_runtime_check(
    cfg: PositionalEncodingConfig, inputs: tuple[Tensor, ...]
) -> RuntimeCheck | None:
    steps = inputs[0].shape[0]
    if isinstance(steps, int):
        return None  # checked by the shape rule
    return RuntimeCheck(
        f"the sequence length {steps} is symbolic, so T <= max_len {cfg.max_len} is only "
        "checked when the model runs: a longer sequence raises an error there",
        hint=f"set max_len to the longest sequence the model will see (now {cfg.max_len})",
    )


def positional_module(cfg: PositionalEncodingConfig, inputs: tuple[Tensor, ...]) -> Call:
    embed = known(inputs[0].shape[1], "embed_dim")
    kind = "Learned" if cfg.kind == "learned" else "Sinusoidal"
    return Call(f"{kind}PositionalEncoding", (cfg.max_len, embed))


register(
    LayerType(
        name="embedding",
        config=EmbeddingConfig,
        infer=infer_embedding,
        module=embedding_module,
        weight=embedding_weight,
        family="sequence",
        keeps_padding=True,
        summary="Token embedding (torch.nn.Embedding): int64 ids -> vectors.",
        shape_rule="int64 (N, T) -> (N, T, embedding_dim)",
        examples=(
            Example({"num_embeddings": 16, "embedding_dim": 8}, (12,), "int64"),
            Example({"num_embeddings": 100, "embedding_dim": 4}, (3, 5), "int64"),
            Example({"num_embeddings": 50, "embedding_dim": 6, "init_std": 0.02}, (7,), "int64"),
        ),
        field_docs={
            "num_embeddings": "vocabulary size: ids must be in [0, num_embeddings)",
            "embedding_dim": "size of each vector",
            "init_std": "std of the initial weights, drawn N(0, init_std^2) (default: torch's "
            "N(0, 1)); GPT-2 and BERT use 0.02, which keeps a tied head's first logits small",
        },
    )
)

register(
    LayerType(
        name="positional_encoding",
        config=PositionalEncodingConfig,
        infer=infer_positional,
        module=positional_module,
        runtime_check=positional_runtime_check,
        family="sequence",
        keeps_padding=True,
        summary="Adds position information: a fixed sinusoidal table or a learned one.",
        shape_rule="(N, T, E) -> (N, T, E); T <= max_len",
        examples=(
            Example({}, (10, 16)),
            Example({"kind": "learned", "max_len": 12}, (12, 8)),
            Example({"kind": "sinusoidal", "max_len": 20}, (7, 5)),
        ),
        field_docs={
            "kind": "sinusoidal (fixed, no parameters) or learned (max_len * E parameters)",
            "max_len": "longest sequence the table covers; a symbolic T is checked only when the "
            "model runs, where a longer sequence raises an error (validate warns: runtime-check)",
        },
    )
)
