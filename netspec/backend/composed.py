"""An autoencoder written as two networks (`networks: {encoder, decoder}`), as one module.

``Autoencoder`` is an ``nn.ModuleDict`` of the two built networks whose forward runs one
after the other, so the training loop, DDP, checkpoints and the weight files treat it like
any other model, and its ``state_dict`` keys are ``encoder.*`` and ``decoder.*``: exactly
those of ``build_model(networks)``'s ModuleDict, so ``netspec.load_networks`` reads the
weights a training run saves.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


def first(out: Any) -> torch.Tensor:
    """A network's first output (its only one, unless it declares several `outputs`)."""
    return out[0] if isinstance(out, tuple) else out  # type: ignore[no-any-return]


class Autoencoder(nn.ModuleDict):
    """(N, *input) -> encoder -> (N, *code) -> decoder -> (N, *input).

    The code is the encoder's first output, and the reconstruction the decoder's first.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return first(self["decoder"](self.encode(x)))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """(N, *input) -> (N, *code): the encoder's first output."""
        return first(self["encoder"](x))


def compose_autoencoder(networks: nn.ModuleDict) -> Autoencoder:
    """The encoder and decoder of ``networks`` (the same modules, not copies) as one model."""
    return Autoencoder({"encoder": networks["encoder"], "decoder": networks["decoder"]})
