"""Plan -> nodes: the one place that turns each planned layer into what the backends emit.

A node is a layer's module (a :class:`Call`, held as a submodule named after the layer) or
function (an :class:`FnCall` of its inputs), the names of the nodes it reads, and the fused
activation applied to its output. ``build_model`` turns the nodes into an fx graph and
``netspec build`` into the source of model.py; neither looks at a layer type, so a layer
cannot work in one and not the other. Torch-free: lowering is pure data.
"""

from __future__ import annotations

from dataclasses import dataclass

from netspec.errors import netspec_bug
from netspec.layers import functions, registry
from netspec.layers.ir import Call, FnCall
from netspec.layers.registry import Tensor
from netspec.plan import Plan, PlannedLayer


@dataclass(frozen=True)
class Node:
    """One step of the forward: ``activation(op(*inputs))``.

    ``name`` is the layer's qualified name (``res_0.conv2d_0``): the submodule path of a
    module node and the node the later ones read. ``inputs`` are names of earlier nodes or
    the model input (``netspec.spec.names.INPUT_NAME``).
    """

    name: str
    type: str  # the layer type, for messages only: no backend dispatches on it
    op: Call | FnCall
    inputs: tuple[str, ...]
    activation: FnCall | None
    out: Tensor  # per sample; model.py's shape comments
    params: int
    trainable: bool

    @property
    def module(self) -> Call | None:
        """The submodule's Call, or None for a function node."""
        return self.op if isinstance(self.op, Call) else None


def lower(p: Plan) -> tuple[Node, ...]:
    """Every layer of the plan as a node, in order."""
    return tuple(_node(layer) for layer in p.layers)


def _node(layer: PlannedLayer) -> Node:
    layer_type = registry.get(layer.type)
    op: Call | FnCall
    if layer_type.module is not None:
        op = layer_type.module(layer.config, layer.in_tensors)
    elif layer_type.function is not None:
        op = layer_type.function(layer.config, len(layer.inputs))
    else:
        raise netspec_bug(f"layer type {layer.type} has neither module nor function")
    return Node(
        name=layer.name,
        type=layer.type,
        op=op,
        inputs=layer.inputs,
        activation=functions.activation(layer_type.output_activation(layer.config)),
        out=layer.out,
        params=layer.params,
        trainable=layer.trainable,
    )
