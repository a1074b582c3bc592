"""An exponential moving average of a network's weights (``train.gan.ema``).

After each update of the network, every floating-point parameter and buffer of the average
becomes ``decay * average + (1 - decay) * current``; other buffers (BatchNorm's batch count)
are copied; a tied weight (one tensor under two names) is averaged once; a spectral norm's
power-iteration vectors are not averaged but refined by one power iteration on the averaged
weight per update, so the averaged layer is divided by its own largest singular value. A
GAN's averaged generator gives smoother, usually better samples than its last weights
(Karras et al. 2018, Yazıcı et al. 2019): it is the one a run evaluates, samples and saves.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import torch


class Ema:
    """The average as a module of its own (a copy of the network, never trained directly)."""

    def __init__(self, network: torch.nn.Module, decay: float) -> None:
        self.decay = decay
        self.module = copy.deepcopy(network).requires_grad_(False)

    @torch.no_grad()
    def update(self, network: torch.nn.Module) -> None:
        current = network.state_dict()
        norms = _spectral_norms(self.module)
        # the power iteration's vectors are no average: they estimate the averaged weight's
        # singular vectors, refined below as training refines the network's own
        skip = {f"{name}.{vector}" for name in norms for vector in ("_u", "_v")}
        seen: set[int] = set()
        for name, average in self.module.state_dict(keep_vars=True).items():
            if id(average) in seen or name in skip:  # a tied weight: once
                continue
            seen.add(id(average))
            value = current[name]
            if average.is_floating_point():
                average.mul_(self.decay).add_(value.detach(), alpha=1.0 - self.decay)
            else:
                average.copy_(value)
        for norm, original in norms.values():
            norm._power_method(norm._reshape_weight_to_matrix(original), 1)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {k: v.detach().to("cpu", copy=True) for k, v in self.module.state_dict().items()}

    def load_state_dict(self, state: Mapping[str, torch.Tensor]) -> None:
        self.module.load_state_dict(state)


def _spectral_norms(module: torch.nn.Module) -> dict[str, tuple[Any, torch.Tensor]]:
    """Each spectral norm (torch.nn.utils.parametrizations.spectral_norm) of ``module``, by
    its module name, with the weight it normalizes (its parametrization's ``original``)."""
    from torch.nn.utils import parametrize

    found: dict[str, tuple[Any, torch.Tensor]] = {}
    for name, owner in module.named_modules():
        if not parametrize.is_parametrized(owner):
            continue
        for tensor, chain in owner.parametrizations.items():
            norm = chain[0]
            if hasattr(norm, "_power_method") and hasattr(norm, "_u") and len(chain) == 1:
                prefix = f"{name}." if name else ""
                found[f"{prefix}parametrizations.{tensor}.0"] = (norm, chain.original)
    return found
