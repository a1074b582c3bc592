"""The module training calls for a model with several outputs (imported only then: it
needs torch at import)."""

from __future__ import annotations

from typing import Any, cast

import torch


class FirstOutput(torch.nn.Module):
    """``model``'s first output: what the loss and metrics use. The other outputs are
    auxiliary (``netspec predict`` returns them); DDP, which wraps this module, then waits
    only for the gradients of the parameters the first output depends on."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, *inputs: Any) -> torch.Tensor:
        return cast("torch.Tensor", self.model(*inputs)[0])
