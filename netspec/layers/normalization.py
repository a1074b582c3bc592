"""Normalization: batchnorm (1d/2d/3d from the input rank) and layernorm (over the last dim).

batchnorm: input (N, C), (N, C, L), (N, C, H, W) or (N, C, D, H, W) -> unchanged; uses
torch.nn.BatchNorm1d for the first two, BatchNorm2d / BatchNorm3d for the others. Params ``2C``
(weight and bias; running mean/var are buffers, not parameters). ``momentum`` is PyTorch's
(weight of the new batch statistic, default 0.1): Keras' 0.99 corresponds to 0.01 here.
layernorm: input (N, ..., E) -> unchanged, normalized over E. Params ``2E``.
No MACs for either (normalization is not a multiply-accumulate we count).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AliasChoices, Field

from netspec.layers.common import known, require_float, require_rank
from netspec.layers.registry import (
    Call,
    Example,
    Inferred,
    LayerConfig,
    LayerType,
    Tensor,
    register,
)

Eps = Annotated[float, Field(gt=0.0)]
_EPS = AliasChoices("eps", "epsilon")


class BatchNormConfig(LayerConfig):
    # No null (torch's cumulative average): its forward reads a tensor's value, which fails
    # on the meta device that checks builds and breaks torch.compile graphs.
    momentum: Annotated[float, Field(ge=0.0, le=1.0)] = 0.1
    eps: Eps = Field(default=1e-5, validation_alias=_EPS)
    affine: bool = True
    track_running_stats: bool = True


class LayerNormConfig(LayerConfig):
    eps: Eps = Field(default=1e-5, validation_alias=_EPS)
    elementwise_affine: bool = True
    bias: bool = True


_BN_LAYOUT = "(N, C), (N, C, L), (N, C, H, W) or (N, C, D, H, W)"


def _bn_infer(cfg: BatchNormConfig, inputs: tuple[Tensor, ...]) -> Inferred:
    (x,) = inputs
    require_float(x, "batchnorm")
    require_rank(x, (2, 3, 4, 5), "batchnorm", _BN_LAYOUT)
    channels = known(x.shape[0], "the channel dimension of batchnorm's input")
    return Inferred(x, 2 * channels if cfg.affine else 0)


def _bn_module(cfg: BatchNormConfig, inputs: tuple[Tensor, ...]) -> Call:
    rank = len(inputs[0].shape)  # per sample: (C,) and (C, L) -> 1d, (C, H, W) -> 2d, ...
    n = {1: 1, 2: 1, 3: 2, 4: 3}[rank]
    channels = known(inputs[0].shape[0], "channels")
    kwargs = {
        "eps": cfg.eps,
        "momentum": cfg.momentum,
        "affine": cfg.affine,
        "track_running_stats": cfg.track_running_stats,
    }
    return Call(f"nn.BatchNorm{n}d", (channels,), kwargs)


def _ln_infer(cfg: LayerNormConfig, inputs: tuple[Tensor, ...]) -> Inferred:
    (x,) = inputs
    require_float(x, "layernorm")
    require_rank(x, range(2, 9), "layernorm", "(N, ..., E)")
    features = known(x.shape[-1], "the last dimension of layernorm's input")
    per_tensor = features if cfg.elementwise_affine else 0
    return Inferred(x, per_tensor * (2 if cfg.bias else 1))


def _ln_module(cfg: LayerNormConfig, inputs: tuple[Tensor, ...]) -> Call:
    features = known(inputs[0].shape[-1], "features")
    kwargs = {"eps": cfg.eps, "elementwise_affine": cfg.elementwise_affine, "bias": cfg.bias}
    return Call("nn.LayerNorm", (features,), kwargs)


register(
    LayerType(
        name="batchnorm",
        config=BatchNormConfig,
        infer=_bn_infer,
        module=_bn_module,
        aliases=(
            *(f"batchnorm{n}d" for n in (1, 2, 3)),
            "batch_norm",
            *(f"batch_norm{n}d" for n in (1, 2, 3)),
            "batch_normalization",
        ),
        family="normalization",
        summary="Batch normalization over the channel dim (torch.nn.BatchNorm1d/2d/3d, chosen "
        "from the input rank).",
        shape_rule="unchanged: (N, C), (N, C, L), (N, C, H, W) or (N, C, D, H, W)",
        field_docs={
            "momentum": "PyTorch's momentum (weight of the new batch; default 0.1): Keras' "
            "momentum=0.99 is 0.01 here.",
            "eps": "added to the variance for numerical stability",
            "affine": "learn a per-channel scale and shift (2C parameters)",
            "track_running_stats": "keep running mean/var buffers for evaluation (false: "
            "always use the batch statistics)",
        },
        # Batch 1 in training mode needs more than one value per channel, so the examples
        # all have a spatial dim > 1 (a (C,) input is fine at any real batch size > 1).
        examples=(
            Example({}, (4, 10)),
            Example({"momentum": 0.01, "eps": 1e-3}, (3, 5, 5)),
            Example({"affine": False}, (2, 3, 4, 5)),
        ),
    )
)
register(
    LayerType(
        name="layernorm",
        config=LayerNormConfig,
        infer=_ln_infer,
        module=_ln_module,
        aliases=("layer_norm", "layer_normalization"),
        family="normalization",
        summary="Layer normalization over the last dim (torch.nn.LayerNorm).",
        shape_rule="unchanged: (N, ..., E), normalized over E",
        examples=(
            Example({}, (16,)),
            Example({"eps": 1e-6}, (5, 8)),
            Example({"bias": False}, (2, 3, 4)),
            Example({"elementwise_affine": False}, (6,)),
        ),
        field_docs={
            "eps": "added to the variance for numerical stability",
            "elementwise_affine": "learn a per-feature scale (and shift, with bias): 2E parameters",
            "bias": "learn the shift as well as the scale (with elementwise_affine)",
        },
    )
)
