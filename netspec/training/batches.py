"""Inputs and outputs of a model with several of either, as the loop handles them.

A split's ``x`` is one tensor for a model with one input (the common case, kept a plain
tensor so its batches cost what they always did) or a tuple of tensors, one per input in the
spec's declared order, called ``model(*x)``. A model with several outputs returns a tuple;
the loss and the metrics use its first output (the others are auxiliary: predict returns
them), so training wraps it in :func:`first_output`.

torch is imported inside the functions: importing netspec.training stays cheap.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Union, cast

if TYPE_CHECKING:
    import torch

Inputs = Union["torch.Tensor", tuple["torch.Tensor", ...]]
"""One input's tensor, or a tuple with one tensor per input (in declared order)."""


def as_inputs(x: Any) -> Inputs:
    """A split's ``x`` as the loop holds it: a list (a user's DatasetLike) becomes a tuple,
    and a tuple of one tensor that tensor."""
    if isinstance(x, Sequence) and not hasattr(x, "shape"):
        items = tuple(x)
        return cast("torch.Tensor", items[0]) if len(items) == 1 else items
    return cast("torch.Tensor", x)


def as_tuple(x: Inputs) -> tuple[torch.Tensor, ...]:
    return x if isinstance(x, tuple) else (x,)


def rows(x: Inputs) -> int:
    """The number of samples (every input has as many: the data and preflight check it)."""
    return int(as_tuple(x)[0].shape[0])


def nbytes(x: Inputs) -> int:
    return sum(int(t.nbytes) for t in as_tuple(x))


def take(x: Inputs, index: Any) -> Inputs:
    """The samples at ``index`` (a tensor of indices or a slice) of every input."""
    if isinstance(x, tuple):
        return tuple(t[index] for t in x)
    return x[index]


def to_device(x: Inputs, device: torch.device, *, pin: bool = False) -> Inputs:
    """Every input on ``device`` (non-blocking; through pinned memory with ``pin``)."""
    if isinstance(x, tuple):
        return tuple(_to(t, device, pin) for t in x)
    return _to(x, device, pin)


def _to(t: torch.Tensor, device: torch.device, pin: bool) -> torch.Tensor:
    return (t.pin_memory() if pin else t).to(device, non_blocking=True)


def call(model: torch.nn.Module, x: Inputs) -> torch.Tensor:
    """The model's first output for inputs ``x`` (evaluation: one call per batch)."""
    out = model(*x) if isinstance(x, tuple) else model(x)
    return cast("torch.Tensor", out[0] if isinstance(out, (tuple, list)) else out)


def output_count(model: torch.nn.Module) -> int:
    """How many outputs a built (fx) model returns; 1 for a module that cannot be read."""
    graph = getattr(model, "graph", None)
    if graph is None:
        return 1
    for node in graph.nodes:
        if node.op == "output":
            result = node.args[0]
            return len(result) if isinstance(result, (tuple, list)) else 1
    return 1


def first_output(model: torch.nn.Module) -> torch.nn.Module:
    """The module training calls: ``model`` itself, or for a model with several outputs a
    thin wrapper that returns the first (so DDP and the loss see the output trained on)."""
    if output_count(model) <= 1:
        return model
    from netspec.training.outputs import FirstOutput

    return FirstOutput(model)


__all__ = [
    "Inputs",
    "as_inputs",
    "as_tuple",
    "call",
    "first_output",
    "nbytes",
    "output_count",
    "rows",
    "take",
    "to_device",
]
