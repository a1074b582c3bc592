"""dropout: zeroes each element with probability `rate` in training (torch.nn.Dropout).

Input (N, ...) -> output unchanged (N, ...). No parameters, no MACs. The input must be float:
torch's dropout fails on integer tensors in training, and dropping token ids means nothing
(put dropout after the embedding).
"""

from __future__ import annotations

from pydantic import AliasChoices, Field

from netspec.layers.common import Rate, require_float
from netspec.layers.registry import (
    Call,
    Example,
    Inferred,
    LayerConfig,
    LayerType,
    Tensor,
    register,
)


class DropoutConfig(LayerConfig):
    rate: Rate = Field(default=0.5, validation_alias=AliasChoices("rate", "p"))


def _infer(cfg: DropoutConfig, inputs: tuple[Tensor, ...]) -> Inferred:
    (x,) = inputs
    require_float(x, "dropout")
    return Inferred(x)


def _module(cfg: DropoutConfig, inputs: tuple[Tensor, ...]) -> Call:
    return Call("nn.Dropout", (cfg.rate,))


register(
    LayerType(
        name="dropout",
        config=DropoutConfig,
        infer=_infer,
        module=_module,
        primary="rate",
        family="regularization",
        keeps_padding=True,
        summary="Dropout (torch.nn.Dropout): zeroes elements with probability `rate` while "
        "training (default 0.5, as in PyTorch).",
        shape_rule="unchanged",
        examples=(
            Example({"rate": 0.5}, (16,)),
            Example({"p": 0.1}, (3, 4, 4)),
            Example({}, (5, 2)),
        ),
        field_docs={"rate": "probability of zeroing an element while training, in [0, 1)"},
    )
)
