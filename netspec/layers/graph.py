"""Graph layers: message passing over ``edge_index`` (PyTorch Geometric) and pooling per graph.

They read a graph input (``input: {shape: [F], graph: true}``): the leading dim is then the
nodes of a batch of graphs, shown as ``nodes``. The built module's forward is
``forward(x, edge_index, batch=None)``; ``graph_conv``, ``graph_sage`` and
``graph_attention`` are called with ``edge_index`` (a (2, edges) LongTensor) after their
input, ``graph_pool`` with ``batch`` (the graph id of each node, None for one graph).

The message-passing layers are PyG's GCNConv, SAGEConv and GATConv (the optional extra
``netspec[graph]``); this file stays pure Python: ``netspec validate/summary/graph`` never
import torch_geometric. Parameter counts are PyG's ``sum(p.numel())``.

MACs (per node, like every MAC count per sample): the dense part only, the node features'
linear transform(s), which is what FlopCounterMode counts of the PyG modules. The
per-edge work (normalisation, attention coefficients, the scatter of the messages) depends on
the edge count, which no spec knows, and is not a matmul: it is not counted.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from netspec.errors import ShapeError
from netspec.layers.common import PositiveInt, Rate, known, require_float
from netspec.layers.registry import (
    Call,
    Example,
    Inferred,
    LayerConfig,
    LayerType,
    Tensor,
    register,
)

NODES = "nodes"  # Tensor.rows of per-node tensors (a graph input and what acts on it per node)
GRAPHS = "graphs"  # Tensor.rows of graph_pool's output: one row per graph

_GRAPH_INPUT_HINT = "declare the input as a graph: `input: {shape: [F], graph: true}`"


def require_nodes(x: Tensor, layer: str) -> int:
    """The feature count of per-node features (nodes, F); anything else is a shape error."""
    require_float(x, layer)
    if x.rows != NODES:
        if x.rows == GRAPHS:
            raise ShapeError(
                f"{layer} needs per-node features, but its input has one row per graph "
                "(after graph_pool)",
                received=x.text(),
                expected="(nodes, F)",
                hint=f"put {layer} before the graph_pool",
            )
        raise ShapeError(
            f"{layer} needs per-node features of a graph input, but the network's input is "
            "not a graph",
            received=x.text(),
            expected="(nodes, F)",
            hint=_GRAPH_INPUT_HINT,
        )
    if len(x.shape) != 1:
        raise ShapeError(
            f"{layer} expects input (nodes, F)",
            received=x.text(),
            expected="(nodes, F)",
            hint="add a flatten to give each node one feature vector",
        )
    return known(x.shape[0], f"the feature dimension of {layer}'s input")


def _per_node(units: int, x: Tensor) -> Tensor:
    return Tensor((units,), rows=NODES)


# graph_conv ---------------------------------------------------------------------------------


class GraphConvConfig(LayerConfig):
    units: PositiveInt = Field(description="output features per node")
    bias: bool = Field(True, description="add a learned bias")
    improved: bool = Field(
        False, description="self-loops weigh 2 instead of 1 (A + 2I, Kipf & Welling's variant)"
    )
    add_self_loops: bool | None = Field(
        None,
        description="add each node's edge to itself; unset: as `normalize` (GCNConv adds "
        "self loops only as part of its normalisation)",
    )
    normalize: bool = Field(
        True, description="symmetric normalisation D^-1/2 (A + I) D^-1/2 of the adjacency"
    )

    @model_validator(mode="after")
    def _self_loops_need_normalize(self) -> GraphConvConfig:
        if self.add_self_loops and not self.normalize:
            raise ValueError(
                "add_self_loops: true needs normalize: true (GCNConv adds self loops as part "
                "of its normalisation); leave add_self_loops out"
            )
        return self


def graph_conv_infer(cfg: GraphConvConfig, inputs: tuple[Tensor, ...]) -> Inferred:
    (x,) = inputs
    features = require_nodes(x, "graph_conv")
    params = features * cfg.units + (cfg.units if cfg.bias else 0)
    return Inferred(_per_node(cfg.units, x), params, features * cfg.units)


def graph_conv_module(cfg: GraphConvConfig, inputs: tuple[Tensor, ...]) -> Call:
    features = known(inputs[0].shape[0], "features")
    return Call(
        "torch_geometric.nn:GCNConv",
        (features, cfg.units),
        {
            "improved": cfg.improved,
            # GCNConv's default None means "as normalize": say it only when it is set
            **({} if cfg.add_self_loops is None else {"add_self_loops": cfg.add_self_loops}),
            "normalize": cfg.normalize,
            "bias": cfg.bias,
        },
    )


register(
    LayerType(
        name="graph_conv",
        config=GraphConvConfig,
        infer=graph_conv_infer,
        module=graph_conv_module,
        graph_input="edge_index",
        aliases=("gcn",),
        primary="units",
        family="graph",
        summary="Graph convolution (Kipf & Welling's GCN, torch_geometric.nn.GCNConv) over "
        "edge_index.",
        shape_rule="(nodes, F) -> (nodes, units); MACs per node F*units (the dense part)",
        examples=(
            Example({"units": 16}, (34,)),
            Example({"units": 4, "bias": False, "improved": True}, (7,)),
            Example({"units": 3, "add_self_loops": False, "normalize": False}, (5,)),
        ),
    )
)


# graph_sage ---------------------------------------------------------------------------------


class GraphSageConfig(LayerConfig):
    units: PositiveInt = Field(description="output features per node")
    aggr: Literal["mean", "max", "sum"] = Field(
        "mean", description="how the neighbours' features are aggregated"
    )
    root_weight: bool = Field(
        True, description="add the node's own features through a second weight (lin_r)"
    )
    bias: bool = Field(True, description="add a learned bias")


def graph_sage_infer(cfg: GraphSageConfig, inputs: tuple[Tensor, ...]) -> Inferred:
    (x,) = inputs
    features = require_nodes(x, "graph_sage")
    weights = 2 if cfg.root_weight else 1
    params = weights * features * cfg.units + (cfg.units if cfg.bias else 0)
    return Inferred(_per_node(cfg.units, x), params, weights * features * cfg.units)


def graph_sage_module(cfg: GraphSageConfig, inputs: tuple[Tensor, ...]) -> Call:
    features = known(inputs[0].shape[0], "features")
    return Call(
        "torch_geometric.nn:SAGEConv",
        (features, cfg.units),
        {"aggr": cfg.aggr, "root_weight": cfg.root_weight, "bias": cfg.bias},
    )


register(
    LayerType(
        name="graph_sage",
        config=GraphSageConfig,
        infer=graph_sage_infer,
        module=graph_sage_module,
        graph_input="edge_index",
        aliases=("sage",),
        primary="units",
        family="graph",
        summary="GraphSAGE (torch_geometric.nn.SAGEConv): the neighbours' aggregate and the "
        "node's own features, each through a weight.",
        shape_rule="(nodes, F) -> (nodes, units); MACs per node 2*F*units (F*units without "
        "root_weight)",
        examples=(
            Example({"units": 8}, (6,)),
            Example({"units": 4, "aggr": "max", "root_weight": False}, (5,)),
            Example({"units": 3, "aggr": "sum", "bias": False}, (2,)),
        ),
    )
)


# graph_attention ----------------------------------------------------------------------------


class GraphAttentionConfig(LayerConfig):
    units: PositiveInt = Field(description="output features per node and head")
    heads: PositiveInt = Field(1, description="attention heads")
    concat: bool = Field(
        True,
        description="concatenate the heads (output units*heads); false: average them "
        "(output units)",
    )
    dropout: Rate = Field(0.0, description="dropout on the attention coefficients (training)")
    negative_slope: float = Field(
        0.2, ge=0.0, description="slope of the LeakyReLU on the attention scores"
    )
    add_self_loops: bool = Field(True, description="add each node's edge to itself")
    bias: bool = Field(True, description="add a learned bias")


def graph_attention_infer(cfg: GraphAttentionConfig, inputs: tuple[Tensor, ...]) -> Inferred:
    (x,) = inputs
    features = require_nodes(x, "graph_attention")
    hidden = cfg.heads * cfg.units
    out = hidden if cfg.concat else cfg.units
    # lin (no bias), att_src and att_dst (heads, units) each, bias of the output
    params = features * hidden + 2 * hidden + (out if cfg.bias else 0)
    return Inferred(_per_node(out, x), params, features * hidden)


def graph_attention_module(cfg: GraphAttentionConfig, inputs: tuple[Tensor, ...]) -> Call:
    features = known(inputs[0].shape[0], "features")
    return Call(
        "torch_geometric.nn:GATConv",
        (features, cfg.units),
        {
            "heads": cfg.heads,
            "concat": cfg.concat,
            "negative_slope": cfg.negative_slope,
            "dropout": cfg.dropout,
            "add_self_loops": cfg.add_self_loops,
            "bias": cfg.bias,
        },
    )


register(
    LayerType(
        name="graph_attention",
        config=GraphAttentionConfig,
        infer=graph_attention_infer,
        module=graph_attention_module,
        graph_input="edge_index",
        aliases=("gat",),
        primary="units",
        family="graph",
        summary="Graph attention (GAT, torch_geometric.nn.GATConv): neighbours weighted by "
        "learned attention, several heads.",
        shape_rule="(nodes, F) -> (nodes, units*heads), or (nodes, units) with concat: false; "
        "MACs per node F*units*heads",
        examples=(
            Example({"units": 8}, (6,)),
            Example({"units": 4, "heads": 3}, (5,)),
            Example({"units": 2, "heads": 2, "concat": False, "bias": False}, (3,)),
        ),
    )
)


# graph_pool ---------------------------------------------------------------------------------


class GraphPoolConfig(LayerConfig):
    mode: Literal["mean", "max", "sum"] = Field(
        "mean", description="how each graph's node features are combined"
    )


def graph_pool_infer(cfg: GraphPoolConfig, inputs: tuple[Tensor, ...]) -> Inferred:
    (x,) = inputs
    features = require_nodes(x, "graph_pool")
    return Inferred(Tensor((features,), rows=GRAPHS))


def graph_pool_module(cfg: GraphPoolConfig, inputs: tuple[Tensor, ...]) -> Call:
    return Call("GraphPool", (), {"mode": cfg.mode})


register(
    LayerType(
        name="graph_pool",
        config=GraphPoolConfig,
        infer=graph_pool_infer,
        module=graph_pool_module,
        graph_input="batch",
        primary="mode",
        family="graph",
        summary="Mean, max or sum of each graph's node features: one vector per graph "
        "(PyG's global_mean/max/add_pool).",
        shape_rule="(nodes, F) -> (graphs, F)",
        examples=(
            Example({}, (5,)),
            Example({"mode": "max"}, (3,)),
            Example({"mode": "sum"}, (1,)),
        ),
    )
)
