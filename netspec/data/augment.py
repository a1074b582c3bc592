"""Train-time augmentation of image batches (N, C, H, W): random horizontal flip, random crop
with zero padding, gaussian noise. The training loop applies it to training batches only;
validation and test data are never augmented. Deterministic for a given ``torch.Generator``.

The options are ``data.augment`` (:class:`netspec.spec.sections.AugmentSpec`), e.g.
``augment: {flip: true, crop_padding: 2, noise: 0.05}``.
"""

from __future__ import annotations

import torch

from netspec.spec.sections import AugmentSpec

__all__ = ["AugmentSpec", "augment", "is_active"]


def is_active(options: AugmentSpec | None) -> bool:
    """Whether ``options`` change anything."""
    return options is not None and (options.flip or options.crop_padding > 0 or options.noise > 0)


def augment(
    x: torch.Tensor, options: AugmentSpec | None, generator: torch.Generator | None = None
) -> torch.Tensor:
    """A new, augmented batch; ``x`` is left unchanged. Flip and crop need (N, C, H, W);
        noise works on any float batch. Every random draw comes from ``generator`` (on its device),
    so a seeded CPU generator gives the same augmentation whatever device ``x`` is on."""
    if options is None or not is_active(options):
        return x
    if not x.is_floating_point():
        raise ValueError(f"augmentation needs a float batch, got {x.dtype}")
    device = x.device
    draw = generator.device if generator is not None else torch.device("cpu")
    n = x.shape[0]
    if (options.flip or options.crop_padding > 0) and x.ndim != 4:
        raise ValueError(
            f"flip and crop need image batches (N, C, H, W), got shape {tuple(x.shape)}"
        )
    out = x
    if options.flip:
        flip = torch.rand(n, generator=generator, device=draw) < 0.5
        flip = flip.to(device)
        out = torch.where(flip[:, None, None, None], out.flip(-1), out)
    if options.crop_padding > 0:
        p = options.crop_padding
        h, w = out.shape[-2:]
        padded = torch.nn.functional.pad(out, (p, p, p, p))
        oy = torch.randint(0, 2 * p + 1, (n,), generator=generator, device=draw).to(device)
        ox = torch.randint(0, 2 * p + 1, (n,), generator=generator, device=draw).to(device)
        rows = (oy[:, None] + torch.arange(h, device=device))[:, None, :, None]
        cols = (ox[:, None] + torch.arange(w, device=device))[:, None, None, :]
        batch = torch.arange(n, device=device)[:, None, None, None]
        channel = torch.arange(out.shape[1], device=device)[None, :, None, None]
        out = padded[batch, channel, rows, cols]
    if options.noise > 0:
        noise = torch.randn(out.shape, generator=generator, dtype=out.dtype, device=draw)
        out = out + options.noise * noise.to(device)
    return out if out is not x else x.clone()
