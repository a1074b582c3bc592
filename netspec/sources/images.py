"""Synthetic images: ``shapes`` draws circles, squares, triangles and crosses (n, C, H, W),
sized after the spec's input when the options leave it open."""

from __future__ import annotations

from pydantic import Field

from netspec.sources.common import (
    COMMON_DOCS,
    balanced,
    fixed,
    noise_field,
    samples_field,
    seed_field,
)
from netspec.sources.registry import Context, RawData, Source, SourceOptions, register


class ShapesOptions(SourceOptions):
    samples: int = samples_field()
    noise: float = noise_field(0.05)
    seed: int = seed_field()
    size: int | None = Field(None, ge=6)
    channels: int | None = Field(None, ge=1)
    classes: int = Field(3, ge=2, le=4)


SHAPE_NAMES = ["circle", "square", "triangle", "cross"]


def _shapes(options: ShapesOptions, ctx: Context) -> RawData:
    import numpy as np

    rng = np.random.default_rng(options.seed)
    n, k = options.samples, options.classes
    size = options.size or fixed(ctx.input_shape, -1, rank=3) or 16
    channels = options.channels or fixed(ctx.input_shape, 0, rank=3) or 1
    y = balanced(n, k, rng)
    r = rng.uniform(0.18, 0.35, (n, 1, 1)) * size
    cy = rng.uniform(r[:, 0, 0], size - 1 - r[:, 0, 0])[:, None, None]
    cx = rng.uniform(r[:, 0, 0], size - 1 - r[:, 0, 0])[:, None, None]
    grid = np.arange(size, dtype=np.float64)
    dy = grid[None, :, None] - cy
    dx = grid[None, None, :] - cx
    masks = [
        dy**2 + dx**2 <= r**2,  # circle
        (np.abs(dy) <= r * 0.8) & (np.abs(dx) <= r * 0.8),  # square
        (np.abs(dy) <= r) & (np.abs(dx) <= (dy + r) / 2),  # triangle, apex up
        ((np.abs(dx) <= r / 3) & (np.abs(dy) <= r)) | ((np.abs(dy) <= r / 3) & (np.abs(dx) <= r)),
    ]
    mask = np.choose(y[:, None, None], masks[:k])
    color = rng.uniform(0.5, 1.0, (n, channels, 1, 1))
    x = mask[:, None, :, :] * color
    x = x + options.noise * rng.standard_normal(x.shape)
    return RawData(
        x.astype(np.float32),
        y.astype(np.int64),
        "classification",
        k,
        SHAPE_NAMES[:k],
        standardize=False,
    )


register(
    Source(
        "shapes",
        ShapesOptions,
        _shapes,
        "small images (n, C, size, size) of drawn shapes: circle, square, triangle, cross",
        "synthetic",
        kind="classification",
        aliases=("images",),
        field_docs={
            **COMMON_DOCS,
            "noise": "std of gaussian pixel noise; default 0.05",
            "size": "height = width; default: the input's last dimension, else 16",
            "channels": "default: the input's first dimension, else 1",
            "classes": "2 to 4 shapes; default 3",
        },
        example="size: 16\nclasses: 4",
    )
)
