"""The torch side of the function table: each FnCall name to its callable (``build_model``)
and to the Python expression model.py prints (``eject``). The names live in
:mod:`netspec.layers.functions`; a name missing here is a netspec bug, caught by the tests
that build and eject every registered layer."""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Sequence
from typing import Any

from netspec.layers.ir import FnCall, Ref

INFIX = {"operator.add": "+", "operator.mul": "*", "operator.eq": "=="}
"""Functions printed as infix operators in model.py."""


@functools.cache
def table() -> dict[str, Callable[..., Any]]:
    """Name -> callable; torch is imported here, on first use only."""
    import torch
    import torch.nn.functional as F

    return {
        "operator.add": operator.add,
        "operator.mul": operator.mul,
        "operator.eq": operator.eq,
        "torch.cat": torch.cat,
        "torch.select": torch.select,
        "torch.relu": torch.relu,
        "torch.sigmoid": torch.sigmoid,
        "torch.tanh": torch.tanh,
        "torch.softmax": torch.softmax,
        "torch.log_softmax": torch.log_softmax,
        "F.leaky_relu": F.leaky_relu,
        "F.gelu": F.gelu,
        "F.silu": F.silu,
        "F.elu": F.elu,
        "F.selu": F.selu,
        "F.relu6": F.relu6,
        "F.hardswish": F.hardswish,
        "F.hardsigmoid": F.hardsigmoid,
        "F.mish": F.mish,
        "F.softplus": F.softplus,
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
