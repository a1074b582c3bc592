"""sequence_pool: one vector per sequence, pooled over the sequence dim, honouring padding.

Input (N, T, E) -> output (N, E). ``mode: mean`` averages the positions that are not padding;
``mode: max`` takes the largest value over them. Without a padding mask every position counts
(``x.mean(1)`` / ``x.amax(1)``). Keras' GlobalAveragePooling1D with masking is the model; our
``global_avgpool`` is channels-first (N, C, *spatial) and knows nothing of padding.

Padding (``takes_padding``): the built module is ``forward(x, x_mask=None)`` with ``x_mask``
a bool (N, T), True at padded positions. Padded positions are masked out, never multiplied
by zero, so a NaN there (attention over a sequence that is all padding) does not leak in; a
sequence that is all padding pools to zeros (not a division by zero or -inf).
No parameters; no MACs (a sum and a division, not multiply-accumulates: FlopCounterMode
counts none).
"""

from __future__ import annotations

from typing import Literal

from netspec.dims import format_shape
from netspec.errors import ShapeError
from netspec.layers.common import require_float
from netspec.layers.registry import (
    Call,
    Example,
    Inferred,
    LayerConfig,
    LayerType,
    Tensor,
    register,
)


class SequencePoolConfig(LayerConfig):
    mode: Literal["mean", "max"] = "mean"


def infer(cfg: SequencePoolConfig, inputs: tuple[Tensor, ...]) -> Inferred:
    (x,) = inputs
    require_float(x, "sequence_pool")
    if len(x.shape) != 2:
        hint = (
            "sequence_pool pools (N, T, E) sequences; channels-first feature maps "
            "(N, C, *spatial) take global_avgpool or global_maxpool"
            if len(x.shape) > 2
            else "the input has no sequence dim left to pool over"
        )
        raise ShapeError(
            "sequence_pool expects input (N, T, E)",
            received=format_shape(x.shape),
            expected="(N, T, E)",
            hint=hint,
        )
    return Inferred(Tensor((x.shape[1],)))


def module(cfg: SequencePoolConfig, inputs: tuple[Tensor, ...]) -> Call:
    return Call("SequencePool", (), {"mode": cfg.mode})


register(
    LayerType(
        name="sequence_pool",
        config=SequencePoolConfig,
        infer=infer,
        module=module,
        primary="mode",
        family="pooling",
        summary="Mean or max over the sequence dim of (N, T, E), skipping padded positions.",
        shape_rule="(N, T, E) -> (N, E)",
        takes_padding=True,
        examples=(
            Example({}, (10, 16)),
            Example({"mode": "max"}, (7, 5)),
            Example({"mode": "mean"}, (1, 3)),
        ),
        field_docs={
            "mode": "mean: average over the positions that are not padding; max: the largest "
            "value over them (a sequence that is all padding gives zeros)",
        },
    )
)
