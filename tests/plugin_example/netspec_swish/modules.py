"""The torch side of the swish plugin, imported only when a model is built."""

from __future__ import annotations

import torch
from torch import nn


class Swish(nn.Module):
    """x * sigmoid(beta * x); beta is one learned parameter."""

    def __init__(self, beta: float = 1.0) -> None:
        super().__init__()
        self.beta = nn.Parameter(torch.tensor(float(beta)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(self.beta * x)
