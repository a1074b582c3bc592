"""upsample: nearest / (bi|tri)linear / bicubic upsampling by a scale factor (torch.nn.Upsample).

Input (N, C, *spatial) -> output (N, C, *spatial'), ``out = floor(in * scale_factor)`` per
spatial dim (exactly ``in * scale_factor`` for an int factor, so symbolic sizes stay exact).
``mode``: nearest / nearest-exact take 1 to 3 spatial dims, linear 1, bilinear and bicubic 2,
trilinear 3. No parameters, no MACs (interpolation is not a multiply-accumulate we count).
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, ValidationInfo, field_validator

from netspec import dims
from netspec.dims import Dim, Sym
from netspec.layers.common import PositiveInt, axis, per_dim, positive, require_float, require_rank
from netspec.layers.registry import (
    Call,
    Example,
    Inferred,
    LayerConfig,
    LayerType,
    Tensor,
    register,
)

Scale = PositiveInt | Annotated[float, Field(gt=0.0, le=1e4)]
Mode = Literal["nearest", "nearest-exact", "linear", "bilinear", "bicubic", "trilinear"]

# Spatial dims each mode works on (torch raises for any other input rank).
_SPATIAL: dict[str, tuple[int, ...]] = {
    "nearest": (1, 2, 3),
    "nearest-exact": (1, 2, 3),
    "linear": (1,),
    "bilinear": (2,),
    "bicubic": (2,),
    "trilinear": (3,),
}
_LAYOUT = {1: "(N, C, L)", 2: "(N, C, H, W)", 3: "(N, C, D, H, W)"}


class UpsampleConfig(LayerConfig):
    scale_factor: Scale | tuple[Scale, ...]
    mode: Mode = Field(default="nearest", validation_alias=AliasChoices("mode", "interpolation"))
    align_corners: bool | None = None

    @field_validator("align_corners")
    @classmethod
    def _interpolating_only(cls, value: bool | None, info: ValidationInfo) -> bool | None:
        mode = info.data.get("mode")  # absent when mode itself was invalid
        if value is not None and mode is not None and mode.startswith("nearest"):
            raise ValueError(
                "align_corners applies only to linear, bilinear, bicubic and trilinear modes"
            )
        return value


def _scaled(size: Dim, scale: float) -> Dim:
    """torch's output size: ``floor(in * scale)`` computed in double precision."""
    if float(scale).is_integer():
        return dims.mul(size, int(scale))
    if isinstance(size, int):
        return math.floor(size * scale)
    return Sym.atom(f"floor({size}*{scale})")


def _infer(cfg: UpsampleConfig, inputs: tuple[Tensor, ...]) -> Inferred:
    (x,) = inputs
    require_float(x, "upsample")
    allowed = _SPATIAL[cfg.mode]
    require_rank(
        x,
        tuple(n + 2 for n in allowed),
        f"upsample (mode {cfg.mode})",
        " or ".join(_LAYOUT[n] for n in allowed),
    )
    n = len(x.shape) - 1
    scales = per_dim(cfg.scale_factor, n, "scale_factor")
    spatial = tuple(
        positive(
            _scaled(size, scales[i]), f"upsample's output {axis(i, len(x.shape) - 1)} size", x.shape
        )
        for i, size in enumerate(x.shape[1:])
    )
    return Inferred(Tensor((x.shape[0], *spatial)))


def _module(cfg: UpsampleConfig, inputs: tuple[Tensor, ...]) -> Call:
    scales = per_dim(cfg.scale_factor, len(inputs[0].shape) - 1, "scale_factor")
    factor = float(scales[0]) if len(set(scales)) == 1 else tuple(float(s) for s in scales)
    kwargs = {"scale_factor": factor, "mode": cfg.mode, "align_corners": cfg.align_corners}
    return Call("nn.Upsample", (), kwargs)


register(
    LayerType(
        name="upsample",
        config=UpsampleConfig,
        infer=_infer,
        module=_module,
        aliases=(
            *(f"upsampling{n}d" for n in (1, 2, 3)),
            *(f"up_sampling{n}d" for n in (1, 2, 3)),
        ),
        primary="scale_factor",
        family="reshape",
        summary="Upsamples the spatial dims by scale_factor (torch.nn.Upsample), nearest by "
        "default.",
        shape_rule="(N, C, *spatial) -> (N, C, *floor(spatial * scale_factor))",
        examples=(
            Example({"scale_factor": 2}, (3, 5, 6)),
            Example({"scale_factor": [2, 3], "mode": "bilinear"}, (2, 4, 5)),
            Example({"scale_factor": 2, "mode": "linear", "align_corners": True}, (3, 7)),
            Example({"scale_factor": 1.5}, (2, 3, 4, 5)),
        ),
        field_docs={
            "scale_factor": "multiplier for every spatial dim, or a list with one per dim; "
            "output = floor(input * factor)",
            "mode": "interpolation: nearest / nearest-exact (1-3 spatial dims), linear (1), "
            "bilinear or bicubic (2), trilinear (3)",
            "align_corners": "linear modes only: align the corner pixels of input and output "
            "(PyTorch's default false when null)",
        },
    )
)
