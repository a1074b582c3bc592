"""The GAN losses: what the discriminator and the generator minimise, from the discriminator's
raw outputs (logits for ``non_saturating``, critic values for ``hinge`` and ``wgan_gp``).

- ``non_saturating`` (Goodfellow et al. 2014, the generator loss of their section 3):
  D: BCE(D(x), 1 - s) + BCE(D(G(z)), 0), one-sided label smoothing ``s`` (Salimans et al.
  2016; default 0); G: BCE(D(G(z)), 1), i.e. -log sigmoid(D(G(z))), which still has a
  gradient when the discriminator rejects the fakes confidently.
- ``hinge`` (SAGAN, BigGAN): D: mean(relu(1 - D(x))) + mean(relu(1 + D(G(z)))); G: -mean(D(G(z))).
- ``wgan_gp`` (Gulrajani et al. 2017): D: mean(D(G(z))) - mean(D(x)) + λ mean((||∇D(x̂)||₂ - 1)²)
  on x̂ = ε x + (1 - ε) G(z), ε ~ U(0, 1) per sample (λ = ``gp_weight``, default 10);
  G: -mean(D(G(z))).

Each BCE and mean is over the batch. ``reading`` is what metrics.csv logs as d_real and
d_fake: the probability sigmoid(logit) for non_saturating, the raw critic value otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from netspec.spec.sections import TASK_LOSSES, TrainSpec

GP_WEIGHT = 10.0
"""wgan_gp's default λ (Gulrajani et al.)."""

WIN_THRESHOLD = 0.01
"""A non_saturating discriminator loss below this (above its floor, ``GanLoss.floor``, with
label smoothing) is a discriminator that wins: it tells every fake from every real with near
certainty, and the generator's gradient vanishes."""


@dataclass(frozen=True)
class GanLoss:
    """One of the three losses, with its options."""

    kind: str  # non_saturating, hinge or wgan_gp
    label_smoothing: float = 0.0
    gp_weight: float = GP_WEIGHT

    @classmethod
    def of(cls, train: TrainSpec) -> GanLoss:
        spec = train.loss
        if spec is None:
            return cls(TASK_LOSSES["gan"][0])
        return cls(
            spec.type,
            label_smoothing=spec.label_smoothing or 0.0,
            gp_weight=spec.gp_weight if spec.gp_weight is not None else GP_WEIGHT,
        )

    def discriminator(self, d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
        """The discriminator's loss without the gradient penalty (``penalty`` adds it)."""
        if self.kind == "non_saturating":
            real = F.binary_cross_entropy_with_logits(
                d_real, torch.full_like(d_real, 1.0 - self.label_smoothing)
            )
            fake = F.binary_cross_entropy_with_logits(d_fake, torch.full_like(d_fake, 0.0))
            return real + fake
        if self.kind == "hinge":
            return F.relu(1.0 - d_real).mean() + F.relu(1.0 + d_fake).mean()
        return d_fake.mean() - d_real.mean()

    def generator(self, d_fake: torch.Tensor) -> torch.Tensor:
        if self.kind == "non_saturating":
            return F.binary_cross_entropy_with_logits(d_fake, torch.full_like(d_fake, 1.0))
        return -d_fake.mean()

    @property
    def floor(self) -> float:
        """The least non_saturating discriminator loss: with one-sided smoothing s the real
        half cannot fall below the entropy of its target 1 - s (0 without smoothing)."""
        s = self.label_smoothing
        if self.kind != "non_saturating" or s <= 0.0:
            return 0.0
        return -((1.0 - s) * math.log(1.0 - s) + s * math.log(s))

    @property
    def penalized(self) -> bool:
        return self.kind == "wgan_gp"

    def penalty(
        self,
        critic: Callable[[torch.Tensor], torch.Tensor],
        real: torch.Tensor,
        fake: torch.Tensor,
        generator: torch.Generator,
    ) -> torch.Tensor:
        """λ mean((||∇ₓ D(x̂)||₂ - 1)²) on random interpolates of real and fake samples. ε is
        drawn from ``generator`` (on the CPU, so a resumed run draws the same)."""
        return self.gp_weight * gradient_penalty(critic, real, fake.detach(), generator)

    def won(self, d_loss: torch.Tensor) -> torch.Tensor:
        """Whether this discriminator loss means the discriminator wins outright (a bool
        tensor, on the device: read every few steps, not per step). wgan_gp's critic has no
        such point: always false."""
        if self.kind == "non_saturating":
            return d_loss < self.floor + WIN_THRESHOLD
        if self.kind == "hinge":
            return d_loss <= 0.0  # every margin met: relu gives no gradient at all
        return torch.zeros((), dtype=torch.bool, device=d_loss.device)

    def reading(self, d_out: torch.Tensor) -> torch.Tensor:
        """The mean discriminator output logged as d_real / d_fake."""
        return d_out.sigmoid().mean() if self.kind == "non_saturating" else d_out.mean()


def gradient_penalty(
    critic: Callable[[torch.Tensor], torch.Tensor],
    real: torch.Tensor,
    fake: torch.Tensor,
    generator: torch.Generator,
) -> torch.Tensor:
    """mean((||∇ₓ D(x̂)||₂ - 1)²) over x̂ = ε real + (1 - ε) fake, ε ~ U(0, 1) per sample;
    ``real`` and ``fake`` (n, ...). The graph is kept (create_graph) so the penalty trains."""
    shape = (real.shape[0],) + (1,) * (real.dim() - 1)
    eps = torch.rand(shape, generator=generator).to(real.device)
    mixed = (eps * real + (1.0 - eps) * fake).requires_grad_(True)
    out = critic(mixed)
    (grad,) = torch.autograd.grad(out.sum(), mixed, create_graph=True)
    norms: torch.Tensor = grad.reshape(grad.shape[0], -1).norm(2, dim=1)  # (n,)
    return ((norms - 1.0) ** 2).mean()
