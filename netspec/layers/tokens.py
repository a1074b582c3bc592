"""class_token: learned vectors prepended to a sequence (ViT's class token, BERT-style [CLS]).

Input (N, T, E) -> output (N, count + T, E): the learned (1, count, E) ``token`` first, then
the input. Params ``count * E``; MACs 0 (a concatenation). The token starts at zeros, as in
torchvision's ViT. The positions shift by ``count``, so a padding mask of the input does not
carry over (``keeps_padding`` is off).
"""

from __future__ import annotations

from pydantic import Field

from netspec import dims
from netspec.layers.common import PositiveInt, known, require_float, require_rank
from netspec.layers.registry import (
    Call,
    Example,
    Inferred,
    LayerConfig,
    LayerType,
    Tensor,
    register,
)


class ClassTokenConfig(LayerConfig):
    count: PositiveInt = Field(1, description="how many learned vectors to prepend")


def _infer(cfg: ClassTokenConfig, inputs: tuple[Tensor, ...]) -> Inferred:
    (x,) = inputs
    require_float(x, "class_token")
    require_rank(x, (3,), "class_token", "(N, T, embed_dim)")
    embed = known(x.shape[1], "the embedding dimension of class_token's input")
    return Inferred(Tensor((dims.add(x.shape[0], cfg.count), embed)), cfg.count * embed, 0)


def _module(cfg: ClassTokenConfig, inputs: tuple[Tensor, ...]) -> Call:
    embed = known(inputs[0].shape[1], "embed_dim")
    return Call("ClassToken", (cfg.count, embed))


register(
    LayerType(
        name="class_token",
        config=ClassTokenConfig,
        infer=_infer,
        module=_module,
        primary="count",
        family="sequence",
        summary="Prepends `count` learned vectors along the sequence dim (ViT's class token).",
        shape_rule="(N, T, E) -> (N, count + T, E)",
        examples=(
            Example({}, (196, 16)),
            Example({"count": 2}, (5, 8)),
        ),
    )
)
