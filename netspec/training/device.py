"""``device: auto`` and friends -> a torch.device that exists on this machine."""

from __future__ import annotations

from typing import TYPE_CHECKING

from netspec.errors import Diagnostic, SpecError
from netspec.spec.sections import DEVICE_NAME

if TYPE_CHECKING:
    import torch

    from netspec.spec.load import Spec


def pick_device(name: str, spec: Spec | None = None) -> torch.device:
    """``auto`` picks cuda, then mps, then cpu; a named device must be available. ``spec``:
    the device comes from its train.device (errors point there); None: from a command's
    --device option."""
    import torch

    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    problem = None
    if not DEVICE_NAME.match(name):
        problem = "unknown device (auto, cpu, cuda, cuda:N or mps)"
    else:
        device = torch.device(name)
        if device.type == "cuda":
            if not torch.cuda.is_available():
                problem = "CUDA is not available on this machine"
            elif device.index is not None and device.index >= torch.cuda.device_count():
                problem = f"there are only {torch.cuda.device_count()} CUDA device(s)"
        elif device.type == "mps" and not _mps_available():
            problem = "MPS (Apple GPU) is not available on this machine"
    if problem is None:
        return device
    if spec is None:
        raise SpecError.single(
            "invalid-value",
            f"--device {name}: {problem}",
            hints=("use --device auto (cuda, then mps, then cpu) or --device cpu",),
        )
    diag = Diagnostic(
        "invalid-value",
        f"device {name!r}: {problem}",
        path=("train", "device"),
        hints=("use device: auto (cuda, then mps, then cpu) or device: cpu",),
    )
    raise SpecError([spec.source.attach(diag)])


def _mps_available() -> bool:
    import torch

    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())
