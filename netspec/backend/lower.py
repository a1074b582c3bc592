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
from netspec.layers.ir import Call, FnCall, Ref
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
    # Earlier nodes or model inputs read, in order; a layer that honours padding gets its
    # inputs' key-padding masks after them (None for an input without padding).
    inputs: tuple[str | None, ...]
    activation: FnCall | None
    out: Tensor  # per sample; model.py's shape comments
    params: int
    trainable: bool
    tie: str | None = None  # the module node whose `weight` this module's `weight` is
    # The module's weight is reparametrized by torch's spectral_norm (`spectral_norm: true`)
    spectral_norm: bool = False

    @property
    def module(self) -> Call | None:
        """The submodule's Call, or None for a function node."""
        return self.op if isinstance(self.op, Call) else None


def lower(p: Plan) -> tuple[Node, ...]:
    """Every layer of the plan as a node, in order, after the padding masks they need."""
    masks = {
        t.padding
        for layer in p.layers
        if registry.get(layer.type).takes_padding
        for t in layer.in_tensors
        if t.padding is not None
    }
    mask_nodes = tuple(_mask_node(name, p) for name in p.inputs if name in masks)
    return (*mask_nodes, *(_node(layer) for layer in p.layers))


EDGE_INDEX = "_graph.edge_index"
"""The graph input's edges, (2, edges) int64: a hidden model input, read by graph layers."""
GRAPH_BATCH = "_graph.batch"
"""Each node's graph id, (nodes,) int64, or None for one graph: read by graph_pool."""
GRAPH_ARGUMENTS = {EDGE_INDEX: "edge_index", GRAPH_BATCH: "batch"}
"""The hidden inputs of a graph spec, by their forward argument names, after the features."""


def mask_name(input_name: str) -> str:
    """The node of an input's padding mask (no layer name starts with '_')."""
    return f"_pad.{input_name}"


def _mask_node(input_name: str, p: Plan) -> Node:
    """``tokens == pad_id``: (N, T) bool, True at padding (PyTorch's key_padding_mask)."""
    tokens = p.inputs[input_name]
    return Node(
        name=mask_name(input_name),
        type="padding mask",
        op=FnCall("operator.eq", (Ref(0), p.pad_ids[input_name])),
        inputs=(input_name,),
        activation=None,
        out=Tensor(tokens.shape[:1], "bool"),
        params=0,
        trainable=False,
    )


def _node(layer: PlannedLayer) -> Node:
    layer_type = registry.get(layer.type)
    op: Call | FnCall
    if layer_type.module is not None:
        op = layer_type.module(layer.config, layer.in_tensors)
    elif layer_type.function is not None:
        op = layer_type.function(layer.config, len(layer.inputs))
    else:
        raise netspec_bug(f"layer type {layer.type} has neither module nor function")
    inputs: tuple[str | None, ...] = layer.inputs
    if layer_type.takes_padding:
        masks = [mask_name(t.padding) if t.padding else None for t in layer.in_tensors]
        while masks and masks[-1] is None:  # no trailing Nones: `self.enc(x)`, not `(x, None)`
            masks.pop()
        inputs = (*inputs, *masks)
    if layer_type.graph_input is not None:
        inputs = (*inputs, EDGE_INDEX if layer_type.graph_input == "edge_index" else GRAPH_BATCH)
    return Node(
        name=layer.name,
        type=layer.type,
        op=op,
        inputs=inputs,
        activation=functions.activation(layer_type.output_activation(layer.config)),
        out=layer.out,
        params=layer.params,
        trainable=layer.trainable,
        tie=layer.tie,
        # the option is shared by the weight layers' configs, read here like `tie`, so no
        # backend needs to know which layer types have it
        spectral_norm=getattr(layer.config, "spectral_norm", False) is True,
    )
