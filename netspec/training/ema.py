"""An exponential moving average of a network's weights (``train.gan.ema``).

After each update of the network, every floating-point parameter and buffer of the average
becomes ``decay * average + (1 - decay) * current``; other buffers (BatchNorm's batch count)
are copied; a tied weight (one tensor under two names) is averaged once. A GAN's averaged
generator gives smoother, usually better samples than its last weights (Karras et al. 2018,
Yazıcı et al. 2019): it is the one a run evaluates, samples and saves.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping

import torch


class Ema:
    """The average as a module of its own (a copy of the network, never trained directly)."""

    def __init__(self, network: torch.nn.Module, decay: float) -> None:
        self.decay = decay
        self.module = copy.deepcopy(network).requires_grad_(False)

    @torch.no_grad()
    def update(self, network: torch.nn.Module) -> None:
        current = network.state_dict()
        seen: set[int] = set()
        for name, average in self.module.state_dict(keep_vars=True).items():
            if id(average) in seen:  # a tied weight: one tensor under two names, once
                continue
            seen.add(id(average))
            value = current[name]
            if average.is_floating_point():
                average.mul_(self.decay).add_(value.detach(), alpha=1.0 - self.decay)
            else:
                average.copy_(value)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {k: v.detach().to("cpu", copy=True) for k, v in self.module.state_dict().items()}

    def load_state_dict(self, state: Mapping[str, torch.Tensor]) -> None:
        self.module.load_state_dict(state)
