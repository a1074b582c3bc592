"""The functions a parameter-free layer may apply, by name: a fixed table, never eval.

A :class:`~netspec.layers.registry.FnCall` names one of these; ``build_model`` turns it into
an fx node calling the function, and model.py prints it as the expression below.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Sequence
from typing import Any

from netspec.layers.registry import FnCall, Ref

INFIX = {"operator.add": "+", "operator.mul": "*"}
"""Functions printed as infix operators in model.py."""

ACTIVATIONS: dict[str, FnCall] = {
    "relu": FnCall("torch.relu", (Ref(0),)),
    "leaky_relu": FnCall("F.leaky_relu", (Ref(0),), {"negative_slope": 0.01}),
    "sigmoid": FnCall("torch.sigmoid", (Ref(0),)),
    "tanh": FnCall("torch.tanh", (Ref(0),)),
    "gelu": FnCall("F.gelu", (Ref(0),)),
    "silu": FnCall("F.silu", (Ref(0),)),
    "elu": FnCall("F.elu", (Ref(0),)),
    "softmax": FnCall("torch.softmax", (Ref(0),), {"dim": -1}),
    "log_softmax": FnCall("torch.log_softmax", (Ref(0),), {"dim": -1}),
}
"""A fused `activation:` of dense/conv layers, applied to the layer's output (input 0)."""


def activation(name: str | None) -> FnCall | None:
    """The FnCall of a fused activation; None for none, identity or linear."""
    return None if name in (None, "identity", "linear") else ACTIVATIONS[str(name)]


def chain(fn: str, n: int) -> FnCall:
    """``((x0 fn x1) fn x2) ...`` over n inputs (add, multiply)."""
    call = FnCall(fn, (Ref(0), Ref(1)))
    for i in range(2, n):
        call = FnCall(fn, (call, Ref(i)))
    return call


@functools.cache
def table() -> dict[str, Callable[..., Any]]:
    """Name -> callable; torch is imported here, on first use only."""
    import torch
    import torch.nn.functional as F

    return {
        "operator.add": operator.add,
        "operator.mul": operator.mul,
        "torch.cat": torch.cat,
        "torch.relu": torch.relu,
        "torch.sigmoid": torch.sigmoid,
        "torch.tanh": torch.tanh,
        "torch.softmax": torch.softmax,
        "torch.log_softmax": torch.log_softmax,
        "F.leaky_relu": F.leaky_relu,
        "F.gelu": F.gelu,
        "F.silu": F.silu,
        "F.elu": F.elu,
    }


def source(call: FnCall, inputs: Sequence[str]) -> str:
    """The Python expression of ``call`` with its inputs named ``inputs``."""

    def text(value: Any) -> str:
        if isinstance(value, Ref):
            return inputs[value.index]
        if isinstance(value, FnCall):
            inner = source(value, inputs)
            nested_infix = value.fn in INFIX and value.fn != call.fn
            return f"({inner})" if nested_infix else inner
        if isinstance(value, (list, tuple)):
            return "[" + ", ".join(text(v) for v in value) + "]"
        return repr(value)

    if call.fn in INFIX:
        return f" {INFIX[call.fn]} ".join(text(a) for a in call.args)
    parts = [text(a) for a in call.args] + [f"{k}={text(v)}" for k, v in call.kwargs.items()]
    return f"{call.fn}({', '.join(parts)})"
