"""The functions a parameter-free layer may apply, by name: a fixed table, never eval.

A :class:`~netspec.layers.registry.FnCall` names one of these by its dotted name; the backend
(:mod:`netspec.backend.functions`) maps the name to the torch callable and to the expression
model.py prints. Kept torch-free so the validate path can describe layers without torch.
"""

from __future__ import annotations

from netspec.layers.ir import FnCall, Ref

ACTIVATIONS: dict[str, FnCall] = {
    "relu": FnCall("torch.relu", (Ref(0),)),
    "leaky_relu": FnCall("F.leaky_relu", (Ref(0),), {"negative_slope": 0.01}),
    "sigmoid": FnCall("torch.sigmoid", (Ref(0),)),
    "tanh": FnCall("torch.tanh", (Ref(0),)),
    "gelu": FnCall("F.gelu", (Ref(0),)),
    "gelu_tanh": FnCall("F.gelu", (Ref(0),), {"approximate": "tanh"}),
    "silu": FnCall("F.silu", (Ref(0),)),
    "elu": FnCall("F.elu", (Ref(0),)),
    "selu": FnCall("F.selu", (Ref(0),)),
    "relu6": FnCall("F.relu6", (Ref(0),)),
    "hardswish": FnCall("F.hardswish", (Ref(0),)),
    "hardsigmoid": FnCall("F.hardsigmoid", (Ref(0),)),
    "mish": FnCall("F.mish", (Ref(0),)),
    "softplus": FnCall("F.softplus", (Ref(0),)),
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
