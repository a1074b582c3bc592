"""embedding and positional_encoding: token ids to vectors, and position information.

embedding: int64 token ids (N, T) -> (N, T, embedding_dim) (any per-sample rank: (N, ...) ->
(N, ..., embedding_dim)); params ``num_embeddings * embedding_dim``; MACs 0 (a lookup).
positional_encoding: (N, T, E) -> (N, T, E), adding the first T rows of a (max_len, E) table;
``T <= max_len``. ``kind: learned``: a trained table, ``max_len * E`` params (init normal, std
0.02); ``kind: sinusoidal``: the fixed sin/cos table of "Attention Is All You Need", 0 params
(a non-persistent buffer, so not in the state_dict). MACs 0 (elementwise).
"""

from __future__ import annotations

import functools
import math
from typing import TYPE_CHECKING, Any, Literal

from pydantic import AliasChoices, Field

from netspec.dims import format_shape
from netspec.errors import ShapeError
from netspec.layers.common import PositiveInt, known, require_float, require_rank
from netspec.layers.registry import Example, Inferred, LayerConfig, LayerType, Tensor, register

if TYPE_CHECKING:
    from torch import nn


class EmbeddingConfig(LayerConfig):
    num_embeddings: PositiveInt = Field(
        validation_alias=AliasChoices("num_embeddings", "input_dim", "vocab_size")
    )
    embedding_dim: PositiveInt = Field(
        validation_alias=AliasChoices("embedding_dim", "output_dim")
    )


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


def build_embedding(cfg: EmbeddingConfig, inputs: tuple[Tensor, ...]) -> nn.Module:
    from torch import nn

    return nn.Embedding(cfg.num_embeddings, cfg.embedding_dim)


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


def build_positional(cfg: PositionalEncodingConfig, inputs: tuple[Tensor, ...]) -> nn.Module:
    embed = known(inputs[0].shape[1], "embed_dim")
    module: nn.Module = positional_class(cfg.kind)(cfg.max_len, embed)
    return module


@functools.cache
def positional_class(kind: str) -> type[Any]:
    """The module adding position information: ``x + table[:T]`` for (N, T, E) ``x``."""
    import torch
    from torch import nn

    def init_learned(self: Any, max_len: int, dim: int) -> None:
        nn.Module.__init__(self)
        self.max_len, self.dim = max_len, dim
        self.weight = nn.Parameter(torch.empty(max_len, dim))
        self.reset_parameters()

    def reset_learned(self: Any) -> None:
        nn.init.normal_(self.weight, std=0.02)

    def init_sinusoidal(self: Any, max_len: int, dim: int) -> None:
        nn.Module.__init__(self)
        self.max_len, self.dim = max_len, dim
        self.register_buffer("pe", torch.empty(max_len, dim), persistent=False)
        self.reset_parameters()

    def reset_sinusoidal(self: Any) -> None:
        # Not in the state_dict: a module built on meta and moved with to_empty() must call
        # this again to refill the table.
        position = torch.arange(self.max_len, dtype=torch.float32).unsqueeze(1)  # (L, 1)
        rate = torch.exp(
            torch.arange(0, self.dim, 2, dtype=torch.float32) * (-math.log(10000.0) / self.dim)
        )  # (ceil(E/2),)
        with torch.no_grad():
            self.pe[:, 0::2] = torch.sin(position * rate)
            self.pe[:, 1::2] = torch.cos(position * rate[: self.dim // 2])

    def forward(self: Any, x: Any) -> Any:
        table = self.weight if kind == "learned" else self.pe
        return x + table[: x.shape[1]].to(x.dtype)  # (N, T, E) + (T, E)

    def extra_repr(self: Any) -> str:
        return f"max_len={self.max_len}, dim={self.dim}"

    learned = kind == "learned"
    return type(
        "LearnedPositionalEncoding" if learned else "SinusoidalPositionalEncoding",
        (nn.Module,),
        {
            "__init__": init_learned if learned else init_sinusoidal,
            "reset_parameters": reset_learned if learned else reset_sinusoidal,
            "forward": forward,
            "extra_repr": extra_repr,
        },
    )


register(
    LayerType(
        name="embedding",
        config=EmbeddingConfig,
        infer=infer_embedding,
        build=build_embedding,
        family="sequence",
        summary="Token embedding (torch.nn.Embedding): int64 ids -> vectors.",
        shape_rule="int64 (N, T) -> (N, T, embedding_dim)",
        examples=(
            Example({"num_embeddings": 16, "embedding_dim": 8}, (12,), "int64"),
            Example({"num_embeddings": 100, "embedding_dim": 4}, (3, 5), "int64"),
        ),
        field_docs={
            "num_embeddings": "vocabulary size: ids must be in [0, num_embeddings)",
            "embedding_dim": "size of each vector",
        },
    )
)

register(
    LayerType(
        name="positional_encoding",
        config=PositionalEncodingConfig,
        infer=infer_positional,
        build=build_positional,
        family="sequence",
        summary="Adds position information: a fixed sinusoidal table or a learned one.",
        shape_rule="(N, T, E) -> (N, T, E); T <= max_len",
        examples=(
            Example({}, (10, 16)),
            Example({"kind": "learned", "max_len": 12}, (12, 8)),
            Example({"kind": "sinusoidal", "max_len": 20}, (7, 5)),
        ),
        field_docs={
            "kind": "sinusoidal (fixed, no parameters) or learned (max_len * E parameters)",
            "max_len": "longest sequence the table covers",
        },
    )
)
