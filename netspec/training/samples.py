"""Samples of a latent network (a GAN's generator, a VAE's decoder) and their picture.

``draw`` feeds z ~ N(0, 1), shaped as the network's input, from a seeded generator;
``unstandardize`` takes samples from the standardized units a run trained in back to the
data's units (with the run's standardizer.safetensors tensors: mean, std, axis);
``samples_png`` draws them: an image grid for image samples (C, H, W) with C 1 or 3, else a
scatter of the first two features (a histogram for one feature), real data beside or under
them when given. Used by GAN training (samples.png) and ``netspec sample``.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import torch

from netspec.errors import printable

if TYPE_CHECKING:
    from matplotlib.axes import Axes

GRID_SAMPLES = 64
"""At most this many images in a grid (8 x 8)."""
SCATTER_SAMPLES = 2000
"""At most this many points per set in a scatter."""


def noise(
    shape: Sequence[int], n: int, generator: torch.Generator, device: torch.device | None = None
) -> torch.Tensor:
    """z ~ N(0, 1) of shape (n, *shape), drawn on the CPU (the same numbers on any device)."""
    z = torch.randn((n, *shape), generator=generator)
    return z if device is None else z.to(device)


@torch.no_grad()
def draw(
    network: torch.nn.Module,
    n: int,
    seed: int,
    device: torch.device,
    shape: Sequence[int],
    *,
    batch_size: int = 1024,
) -> torch.Tensor:
    """``n`` samples of ``network`` (in eval mode) from z ~ N(0, 1) of per-sample ``shape``,
    seeded: the same seed gives the same samples. Returned on the CPU, float32."""
    generator = torch.Generator().manual_seed(seed)
    was_training = network.training
    network.train(False)
    try:
        parts = [
            network(noise(shape, min(batch_size, n - i), generator, device)).float().cpu()
            for i in range(0, n, batch_size)
        ]
    finally:
        network.train(was_training)
    return torch.cat(parts)


def unstandardize(x: torch.Tensor, scaling: Mapping[str, torch.Tensor] | None) -> torch.Tensor:
    """Samples (n, ...) from standardized units back to the data's: x * std + mean, the
    statistics on the sample's feature axis (``axis`` of standardizer.safetensors)."""
    if scaling is None:
        return x
    mean, std = scaling["mean"].to(x.dtype), scaling["std"].to(x.dtype)
    axis = int(scaling["axis"].item())
    view = [1] * x.dim()
    view[axis + 1] = mean.numel()  # + 1: the batch dimension
    return x * std.reshape(view) + mean.reshape(view)


def is_image(sample_shape: Sequence[int]) -> bool:
    return len(sample_shape) == 3 and sample_shape[0] in (1, 3)


def samples_png(samples: torch.Tensor, real: torch.Tensor | None = None, title: str = "") -> bytes:
    """PNG bytes: an image grid (C, H, W samples, C 1 or 3; the real images in a second
    grid), else a scatter of the first two features (one feature: histograms), generated
    over real."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    sample_shape = tuple(int(d) for d in samples.shape[1:])
    panels = 2 if is_image(sample_shape) and real is not None else 1
    figure = Figure(figsize=(4.5 * panels, 4.5), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    axes = list(figure.subplots(1, panels, squeeze=False).flat)
    if is_image(sample_shape):
        low, high = _range(real if real is not None else samples)
        _grid(axes[0], samples, low, high, "generated")
        if real is not None:
            _grid(axes[1], real, low, high, "real")
    else:
        _scatter(axes[0], samples, real)
    # Plain text: no mathtext and no control characters from the spec's name (plots.py).
    figure.suptitle(printable(title), parse_math=False)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _range(x: torch.Tensor) -> tuple[float, float]:
    low, high = float(x.min()), float(x.max())
    return (low, high) if high > low else (low, low + 1.0)


def _grid(ax: Axes, images: torch.Tensor, low: float, high: float, label: str) -> None:
    """Up to 64 images (n, C, H, W) tiled in a square, one pixel of gap, scaled to [0, 1]."""
    images = images[:GRID_SAMPLES].float()
    n, c, h, w = (int(d) for d in images.shape)
    side = math.ceil(math.sqrt(n))
    canvas = torch.ones((side * (h + 1) - 1, side * (w + 1) - 1, c))
    scaled = ((images - low) / (high - low)).clamp(0.0, 1.0).permute(0, 2, 3, 1)  # (n, H, W, C)
    for i in range(n):
        r, k = divmod(i, side)
        canvas[r * (h + 1) : r * (h + 1) + h, k * (w + 1) : k * (w + 1) + w] = scaled[i]
    shown = canvas[..., 0].numpy() if c == 1 else canvas.numpy()
    ax.imshow(shown, cmap="gray" if c == 1 else None, vmin=0.0, vmax=1.0)
    ax.set_title(label)
    ax.set_axis_off()


def _scatter(ax: Axes, samples: torch.Tensor, real: torch.Tensor | None) -> None:
    fake = samples.reshape(samples.shape[0], -1)[:SCATTER_SAMPLES].float()
    sets = []
    if real is not None:
        sets.append(("real", real.reshape(real.shape[0], -1)[:SCATTER_SAMPLES].float()))
    sets.append(("generated", fake))
    if fake.shape[1] == 1:
        for label, points in sets:
            ax.hist(points[:, 0].numpy(), bins=40, alpha=0.5, label=label)
        ax.set_xlabel("feature 0")
    else:
        for label, points in sets:
            ax.scatter(points[:, 0].numpy(), points[:, 1].numpy(), s=4, alpha=0.5, label=label)
        ax.set_xlabel("feature 0")
        ax.set_ylabel("feature 1")
    ax.legend(loc="best", fontsize="small")
    ax.grid(alpha=0.3)
