"""The layer IR: a torch module or a function call described as data (never code to eval).

A layer's ``module`` returns a :class:`Call`, a parameter-free layer's ``function`` an
:class:`FnCall` over :class:`Ref` s to its inputs. :mod:`netspec.backend.lower` turns a plan
into nodes of these, which ``build_model`` instantiates and ``netspec build`` prints as
model.py; kept torch-free so the validate path can describe layers without torch.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Call:
    """How to construct a layer's torch module, as data (never code to eval).

    ``target`` is ``nn.<Name>`` (a class of torch.nn), a class name of
    :mod:`netspec.backend.modules`, or ``package.module:Class`` inside the package of a loaded
    layer plugin (:mod:`netspec.layers.plugins`). ``build_model`` instantiates it; ``netspec
    build`` prints it as Python source in model.py. Arguments may themselves be Calls
    (``nn.Sequential``).
    """

    target: str
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Ref:
    """The ``index``-th input of a function layer."""

    index: int


@dataclass(frozen=True)
class FnCall:
    """A parameter-free layer (add, concat, a fused activation) as a function of its inputs.

    ``fn`` names a function of the fixed table (:func:`netspec.backend.functions.table`:
    ``operator.add``, ``torch.cat``, ``torch.relu``, ...); arguments may be :class:`Ref`, lists
    of them, nested FnCalls, or constants. It becomes an fx node in ``build_model`` and an
    expression in model.py.
    """

    fn: str
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)
