"""Normalization: batchnorm, instancenorm, groupnorm over the channel dim (dim 1, PyTorch
numbering); layernorm and rmsnorm over the last dim.

batchnorm: input (N, C), (N, C, L), (N, C, H, W) or (N, C, D, H, W) -> unchanged; uses
torch.nn.BatchNorm1d for the first two, BatchNorm2d / BatchNorm3d for the others. Params ``2C``
(weight and bias; running mean/var are buffers, not parameters). ``momentum`` is PyTorch's
(weight of the new batch statistic, default 0.1): Keras' 0.99 corresponds to 0.01 here.
instancenorm: input (N, C, L), (N, C, H, W) or (N, C, D, H, W) -> unchanged
(torch.nn.InstanceNorm1d/2d/3d). Params ``2C`` with ``affine`` (off by default, as in torch).
groupnorm: input (N, C, ...) -> unchanged, C split into ``num_groups`` (torch.nn.GroupNorm).
Params ``2C`` with ``affine``.
layernorm: input (N, ..., E) -> unchanged, normalized over E. Params ``2E`` (``E`` without bias).
rmsnorm: input (N, ..., E) -> unchanged, x / rms(x) over E (netspec's RMSNorm, equal to
torch.nn.RMSNorm of torch >= 2.4). Params ``E`` (a scale, no shift).
No MACs for any (normalization is not a multiply-accumulate we count).
"""

from __future__ import annotations

from typing import Annotated

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
    Tensor,
    register,
)

Eps = Annotated[float, Field(gt=0.0)]
Momentum = Annotated[float, Field(ge=0.0, le=1.0)]
_EPS = AliasChoices("eps", "epsilon")
# torch says `affine` for batch/instance/group norm but `elementwise_affine` for layer/RMS
# norm; those two accept `affine` too, so one spelling works on every norm.
_ELEMENTWISE_AFFINE = AliasChoices("elementwise_affine", "affine")


class BatchNormConfig(LayerConfig):
    # No null (torch's cumulative average): its forward reads a tensor's value, which fails
    # on the meta device that checks builds and breaks torch.compile graphs.
    momentum: Momentum = 0.1
    eps: Eps = Field(default=1e-5, validation_alias=_EPS)
    affine: bool = True
    track_running_stats: bool = True


class LayerNormConfig(LayerConfig):
    eps: Eps = Field(default=1e-5, validation_alias=_EPS)
    elementwise_affine: bool = Field(default=True, validation_alias=_ELEMENTWISE_AFFINE)
    bias: bool = True


class InstanceNormConfig(LayerConfig):
    eps: Eps = Field(default=1e-5, validation_alias=_EPS)
    # As in batchnorm, no null: torch's cumulative average reads a tensor's value.
    momentum: Momentum = 0.1
    affine: bool = False
    track_running_stats: bool = False


class GroupNormConfig(LayerConfig):
    num_groups: PositiveInt
    eps: Eps = Field(default=1e-5, validation_alias=_EPS)
    affine: bool = True


class RMSNormConfig(LayerConfig):
    # None is torch's default: the machine epsilon of the computation dtype.
    eps: Eps | None = Field(default=None, validation_alias=_EPS)
    elementwise_affine: bool = Field(default=True, validation_alias=_ELEMENTWISE_AFFINE)


_BN_LAYOUT = "(N, C), (N, C, L), (N, C, H, W) or (N, C, D, H, W)"
_IN_LAYOUT = "(N, C, L), (N, C, H, W) or (N, C, D, H, W)"


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


def _in_infer(cfg: InstanceNormConfig, inputs: tuple[Tensor, ...]) -> Inferred:
    (x,) = inputs
    require_float(x, "instancenorm")
    require_rank(x, (3, 4, 5), "instancenorm", _IN_LAYOUT)
    channels = known(x.shape[0], "the channel dimension of instancenorm's input")
    spatial = x.shape[1:]
    # torch refuses one value per channel in training; its statistics would be meaningless.
    if all(isinstance(d, int) and d == 1 for d in spatial):
        raise ShapeError(
            "instancenorm normalizes each channel over the spatial dims, which hold a single "
            "value here",
            received=format_shape(x.shape),
            expected="more than one spatial element per channel",
            hint="use batchnorm or layernorm, or feed a larger input",
        )
    return Inferred(x, 2 * channels if cfg.affine else 0)


def _in_module(cfg: InstanceNormConfig, inputs: tuple[Tensor, ...]) -> Call:
    n = len(inputs[0].shape) - 1  # spatial dims: (C, L) -> 1d, (C, H, W) -> 2d, ...
    kwargs = {
        "eps": cfg.eps,
        "momentum": cfg.momentum,
        "affine": cfg.affine,
        "track_running_stats": cfg.track_running_stats,
    }
    return Call(f"nn.InstanceNorm{n}d", (known(inputs[0].shape[0], "channels"),), kwargs)


def _gn_infer(cfg: GroupNormConfig, inputs: tuple[Tensor, ...]) -> Inferred:
    (x,) = inputs
    require_float(x, "groupnorm")
    require_rank(x, range(2, 9), "groupnorm", "(N, C, ...)")
    channels = known(x.shape[0], "the channel dimension of groupnorm's input")
    if channels % cfg.num_groups:
        divisors = [str(g) for g in range(1, channels + 1) if channels % g == 0]
        raise ShapeError(
            f"the {channels} channels do not split into num_groups={cfg.num_groups} equal groups",
            received=format_shape(x.shape),
            expected=f"num_groups dividing {channels}",
            hint="num_groups that divide the channels: "
            + ", ".join(divisors[:12])
            + (", ..." if len(divisors) > 12 else ""),
            field="num_groups",
        )
    # One value per group normalizes to the constant shift; torch refuses it at batch 1.
    per_group = [channels // cfg.num_groups, *x.shape[1:]]
    if all(isinstance(d, int) and d == 1 for d in per_group):
        raise ShapeError(
            f"each of the {cfg.num_groups} groups holds a single value (one channel, no "
            "spatial extent): its normalized output would always be 0",
            received=format_shape(x.shape),
            expected="more than one value per group",
            hint="use fewer groups, or a norm over more values (layernorm)",
            field="num_groups",
        )
    return Inferred(x, 2 * channels if cfg.affine else 0)


def _gn_module(cfg: GroupNormConfig, inputs: tuple[Tensor, ...]) -> Call:
    channels = known(inputs[0].shape[0], "channels")
    return Call("nn.GroupNorm", (cfg.num_groups, channels), {"eps": cfg.eps, "affine": cfg.affine})


def _rms_infer(cfg: RMSNormConfig, inputs: tuple[Tensor, ...]) -> Inferred:
    (x,) = inputs
    require_float(x, "rmsnorm")
    require_rank(x, range(2, 9), "rmsnorm", "(N, ..., E)")
    features = known(x.shape[-1], "the last dimension of rmsnorm's input")
    return Inferred(x, features if cfg.elementwise_affine else 0)


def _rms_module(cfg: RMSNormConfig, inputs: tuple[Tensor, ...]) -> Call:
    features = known(inputs[0].shape[-1], "features")
    kwargs = {"eps": cfg.eps, "elementwise_affine": cfg.elementwise_affine}
    return Call("RMSNorm", (features,), kwargs)


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
        keeps_padding=True,
        summary="Layer normalization over the last dim (torch.nn.LayerNorm).",
        shape_rule="unchanged: (N, ..., E), normalized over E",
        examples=(
            Example({}, (16,)),
            Example({"eps": 1e-6}, (5, 8)),
            Example({"bias": False}, (2, 3, 4)),
            Example({"elementwise_affine": False}, (6,)),
            Example({"affine": False, "eps": 1e-12}, (3, 5)),
        ),
        field_docs={
            "eps": "added to the variance for numerical stability",
            "elementwise_affine": "learn a per-feature scale (and shift, with bias): 2E parameters",
            "bias": "learn the shift as well as the scale (with elementwise_affine)",
        },
    )
)
register(
    LayerType(
        name="instancenorm",
        config=InstanceNormConfig,
        infer=_in_infer,
        module=_in_module,
        aliases=(
            *(f"instancenorm{n}d" for n in (1, 2, 3)),
            "instance_norm",
            *(f"instance_norm{n}d" for n in (1, 2, 3)),
            "instance_normalization",
        ),
        family="normalization",
        summary="Instance normalization: each sample's channels over their own spatial dims "
        "(torch.nn.InstanceNorm1d/2d/3d, chosen from the input rank).",
        shape_rule=f"unchanged: {_IN_LAYOUT}",
        examples=(
            Example({}, (3, 10)),
            Example({"affine": True, "eps": 1e-3}, (4, 5, 5)),
            Example({"affine": True, "track_running_stats": True, "momentum": 0.01}, (2, 3, 3, 2)),
        ),
        field_docs={
            "eps": "added to the variance for numerical stability",
            "momentum": "PyTorch's momentum for the running statistics (with track_running_stats)",
            "affine": "learn a per-channel scale and shift (2C parameters); off by default, as "
            "in PyTorch",
            "track_running_stats": "keep running mean/var buffers and use them in evaluation "
            "(default false: always the sample's own statistics)",
        },
    )
)
register(
    LayerType(
        name="groupnorm",
        config=GroupNormConfig,
        infer=_gn_infer,
        module=_gn_module,
        aliases=("group_norm", "group_normalization"),
        primary="num_groups",
        family="normalization",
        summary="Group normalization: each sample's channels split into `num_groups` groups, "
        "each normalized over its channels and spatial dims (torch.nn.GroupNorm).",
        shape_rule="unchanged: (N, C, ...); C must divide by num_groups",
        examples=(
            Example({"num_groups": 2}, (4, 6, 6)),
            Example({"num_groups": 3, "affine": False}, (6, 5)),
            Example({"num_groups": 1, "eps": 1e-6}, (8,)),
        ),
        field_docs={
            "num_groups": "how many groups the channels are split into (must divide C; 1 is "
            "layer norm over (C, ...), C is instance norm)",
            "eps": "added to the variance for numerical stability",
            "affine": "learn a per-channel scale and shift (2C parameters)",
        },
    )
)
register(
    LayerType(
        name="rmsnorm",
        config=RMSNormConfig,
        infer=_rms_infer,
        module=_rms_module,
        aliases=("rms_norm", "rms_normalization"),
        family="normalization",
        keeps_padding=True,
        summary="Root-mean-square normalization over the last dim, x / sqrt(mean(x^2) + eps) "
        "times a learned scale (torch.nn.RMSNorm; LLaMA, T5).",
        shape_rule="unchanged: (N, ..., E), normalized over E",
        examples=(
            Example({}, (16,)),
            Example({"eps": 1e-6}, (5, 8)),
            Example({"affine": False}, (2, 3, 4)),
        ),
        field_docs={
            "eps": "added to the mean square for numerical stability; null: the machine epsilon "
            "of the input's dtype (PyTorch's default)",
            "elementwise_affine": "learn a per-feature scale (E parameters; no shift)",
        },
    )
)
