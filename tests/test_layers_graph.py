"""Graph inputs and graph layers (graph_conv, graph_sage, graph_attention, graph_pool).

PyG's layers cannot run on the meta device, so tests/test_conformance.py leaves them out and
this file is their oracle: on CPU, on small random graphs, each layer's predicted shape,
parameter count and MACs (FlopCounterMode / 2) equal the real module's, and its outputs equal
a hand-built PyG module's with the same weights.
"""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys
from typing import Any

import pytest
import torch
from ejected import import_file
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch.utils.flop_counter import FlopCounterMode

import netspec
from netspec.backend.build import class_name, instantiate
from netspec.backend.eject import model_source
from netspec.errors import SpecError
from netspec.layers import all_layers, registry
from netspec.layers.registry import Example, Tensor
from netspec.render.summary import summary_json, summary_text

try:
    import torch_geometric.nn as pyg_nn
except ImportError:  # the optional extra netspec[graph]: only the tests that build are skipped
    pyg_nn = None
needs_pyg = pytest.mark.skipif(pyg_nn is None, reason="needs torch_geometric (netspec[graph])")

GRAPH_LAYERS = [layer for layer in all_layers() if layer.graph_input is not None]
GCN = {
    "name": "karate_gcn",
    "input": {"shape": [34], "graph": True},
    "layers": [{"graph_conv": 16}, "relu", {"dropout": 0.5}, {"graph_conv": 4}],
}


def _graph(nodes: int, features: int, edges: int, seed: int = 0) -> tuple[Any, Any]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(nodes, features, generator=g)
    edge_index = torch.randint(0, nodes, (2, edges), generator=g)
    return x, edge_index


def _reference(name: str, args: dict[str, Any], features: int) -> Any:
    """The PyG module written by hand from the documented meaning of the arguments."""
    units = args.get("units", 0)
    if name == "graph_conv":
        return pyg_nn.GCNConv(
            features,
            units,
            improved=args.get("improved", False),
            add_self_loops=args.get("add_self_loops"),
            normalize=args.get("normalize", True),
            bias=args.get("bias", True),
        )
    if name == "graph_sage":
        return pyg_nn.SAGEConv(
            features,
            units,
            aggr=args.get("aggr", "mean"),
            root_weight=args.get("root_weight", True),
            bias=args.get("bias", True),
        )
    if name == "graph_attention":
        return pyg_nn.GATConv(
            features,
            units,
            heads=args.get("heads", 1),
            concat=args.get("concat", True),
            negative_slope=args.get("negative_slope", 0.2),
            add_self_loops=args.get("add_self_loops", True),
            dropout=args.get("dropout", 0.0),
            bias=args.get("bias", True),
        )
    raise AssertionError(name)


@needs_pyg
@pytest.mark.parametrize(
    ("name", "example"),
    [(layer.name, ex) for layer in GRAPH_LAYERS for ex in layer.examples],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_graph_layers_match_pyg(name: str, example: Any) -> None:
    _check(name, dict(example.args), example.in_shape[0])


_UNITS = st.integers(1, 9)
STRATEGIES = {
    "graph_conv": st.fixed_dictionaries(
        {"units": _UNITS},
        optional={"bias": st.booleans(), "improved": st.booleans(), "normalize": st.booleans()},
    ).flatmap(
        # self loops are added as part of the normalisation only
        lambda args: (
            st.just(args)
            | st.just({**args, "add_self_loops": False})
            | (
                st.just({**args, "add_self_loops": True})
                if args.get("normalize", True)
                else st.just(args)
            )
        )
    ),
    "graph_sage": st.fixed_dictionaries(
        {"units": _UNITS},
        optional={
            "aggr": st.sampled_from(["mean", "max", "sum"]),
            "root_weight": st.booleans(),
            "bias": st.booleans(),
        },
    ),
    "graph_attention": st.fixed_dictionaries(
        {"units": _UNITS},
        optional={
            "heads": st.integers(1, 4),
            "concat": st.booleans(),
            "negative_slope": st.floats(0.0, 1.0),
            "add_self_loops": st.booleans(),
            "bias": st.booleans(),
        },
    ),
    "graph_pool": st.fixed_dictionaries(
        {}, optional={"mode": st.sampled_from(["mean", "max", "sum"])}
    ),
}


def test_every_graph_layer_has_a_strategy() -> None:
    assert {layer.name for layer in GRAPH_LAYERS} == set(STRATEGIES)


@needs_pyg
@pytest.mark.parametrize("name", sorted(STRATEGIES))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_generated_graph_configs_match_pyg(name: str, data: st.DataObject) -> None:
    args = data.draw(STRATEGIES[name], label=name)
    _check(name, args, data.draw(st.integers(1, 12), label="features"))


def _check(name: str, args: dict[str, Any], features: int) -> None:
    """Predicted shape, params and MACs equal the real module's on a random graph, and its
    outputs equal a hand-built PyG module's with the same weights."""
    layer = registry.get(name)
    cfg = layer.config.model_validate(args)
    example = Example(args, (features,))
    inputs = (Tensor(example.in_shape, rows="nodes"),)
    got = layer.infer(cfg, inputs)
    assert layer.module is not None
    torch.manual_seed(0)
    module = instantiate(layer.module(cfg, inputs)).eval()
    params = sum(p.numel() for p in module.parameters())
    assert got.params == params
    nodes, edges = 7, 15
    x, edge_index = _graph(nodes, features, edges)
    if name == "graph_pool":
        batch = torch.tensor([0, 0, 0, 1, 1, 2, 2])
        y = module(x, batch)
        assert y.shape == (3, *got.out.shape)
        assert got.out.rows == "graphs"
        pool = {"mean": "global_mean_pool", "max": "global_max_pool", "sum": "global_add_pool"}
        ref = getattr(pyg_nn, pool[cfg.mode])
        torch.testing.assert_close(y, ref(x, batch))
        torch.testing.assert_close(module(x), ref(x, None))
        assert got.macs == 0
        return
    with FlopCounterMode(display=False) as counter:
        y = module(x, edge_index)
    assert y.shape == (nodes, *got.out.shape)
    assert got.out.rows == "nodes"
    assert isinstance(got.macs, int)
    assert got.macs * nodes == counter.get_total_flops() // 2  # MACs per node: the dense part
    reference = _reference(name, args, features).eval()
    reference.load_state_dict(module.state_dict(), strict=True)
    torch.testing.assert_close(y, reference(x, edge_index))


@needs_pyg
def test_gcn_spec_builds_and_runs() -> None:
    p = netspec.plan(GCN)
    assert p.graph
    assert p.total_params == (34 * 16 + 16) + (16 * 4 + 4)
    model = netspec.build_model(GCN, seed=0).eval()
    assert sum(t.numel() for t in model.parameters()) == p.total_params
    x, edge_index = _graph(34, 34, 78)
    y = model(x, edge_index)
    assert y.shape == (34, 4)
    # the same weights in a hand-written PyG model give the same output
    conv1, conv2 = pyg_nn.GCNConv(34, 16), pyg_nn.GCNConv(16, 4)
    conv1.load_state_dict(model.graph_conv_0.state_dict())
    conv2.load_state_dict(model.graph_conv_1.state_dict())
    want = conv2(torch.relu(conv1(x, edge_index)), edge_index)
    torch.testing.assert_close(y, want)


@needs_pyg
def test_graph_classifier_pools_per_graph() -> None:
    spec = {
        "name": "graph_classifier",
        "input": {"shape": [5], "graph": True},
        "layers": [
            {"graph_sage": 8},
            "relu",
            {"graph_attention": {"units": 4, "heads": 2}},
            {"graph_pool": "max"},
            {"dense": 3},
        ],
    }
    p = netspec.plan(spec)
    assert [layer.out.rows for layer in p.layers] == ["nodes", "nodes", "nodes", "graphs", "graphs"]
    model = netspec.build_model(spec, seed=0).eval()
    x, edge_index = _graph(9, 5, 20)
    batch = torch.tensor([0, 0, 0, 1, 1, 1, 2, 2, 2])
    assert model(x, edge_index, batch).shape == (3, 3)
    assert model(x, edge_index).shape == (1, 3)  # batch None: one graph
    text = summary_text(p, 1)
    assert "(graphs, 3)" in text
    assert "(nodes, 8)" in text


@needs_pyg
def test_model_py_equals_build_model(tmp_path: pathlib.Path) -> None:
    spec = {
        "name": "graph_net",
        "input": {"shape": [6], "graph": True},
        "layers": [
            {"graph_conv": {"units": 8, "improved": True}},
            "relu",
            {"graph_sage": {"units": 8, "aggr": "max"}},
            {"graph_attention": {"units": 3, "heads": 2, "concat": False}},
            "graph_pool",
        ],
    }
    p = netspec.plan(spec)
    built = netspec.build_model(spec, seed=0).eval()
    source = model_source(p)
    assert "from torch_geometric.nn import GATConv, " not in source  # one import per class
    assert "from torch_geometric.nn import GCNConv" in source
    assert "batch: torch.Tensor | None = None" in source
    assert "# (nodes, 8)" in source
    assert "# (graphs, 3)" in source
    path = tmp_path / "model.py"
    path.write_text(source, encoding="utf-8")
    ejected = getattr(import_file(path, "netspec_graph_eject"), class_name(p.name))()
    ejected.load_state_dict(built.state_dict(), strict=True)
    ejected.eval()
    x, edge_index = _graph(8, 6, 16)
    batch = torch.tensor([0, 0, 0, 0, 1, 1, 1, 1])
    with torch.no_grad():
        torch.testing.assert_close(ejected(x, edge_index, batch), built(x, edge_index, batch))
        torch.testing.assert_close(ejected(x, edge_index), built(x, edge_index))


@needs_pyg
def test_a_built_directory_loads_back(tmp_path: pathlib.Path) -> None:
    from netspec.backend.artifacts import build_directory

    build_directory(netspec.load_spec(GCN), tmp_path / "out", seed=0)
    assert "graph: true" in (tmp_path / "out" / "spec.yaml").read_text()
    model = netspec.load_model(tmp_path / "out")
    built = netspec.build_model(GCN, seed=0).eval()
    x, edge_index = _graph(6, 34, 10)
    with torch.no_grad():
        torch.testing.assert_close(model(x, edge_index), built(x, edge_index))


@needs_pyg
def test_exporting_a_graph_model_is_refused(tmp_path: pathlib.Path) -> None:
    from netspec.backend.artifacts import build_directory

    with pytest.raises(SpecError, match="exporting a graph model"):
        build_directory(netspec.load_spec(GCN), tmp_path / "out", formats=("torchscript",))


def test_non_graph_specs_do_not_mention_pyg() -> None:
    p = netspec.plan({"name": "mlp", "input": [4], "layers": [{"dense": 2}]})
    assert not p.graph
    assert "torch_geometric" not in model_source(p)
    assert "edge_index" not in model_source(p)


def test_summary_names_the_nodes() -> None:
    p = netspec.plan(GCN)
    text = summary_text(p, 1)
    assert "input (nodes, 34) -> output (nodes, 4)" in text
    assert "MACs per node" in text
    found = summary_json(p, 1)
    assert found["input_shape"] == ["nodes", 34]
    assert found["inputs"][0]["graph"] is True
    assert found["layers"][0]["output_shape"] == ["nodes", 16]
    json.dumps(found)


def test_per_node_mlp_on_a_graph_input_is_fine() -> None:
    spec = {"name": "mlp", "input": {"shape": [8], "graph": True}, "layers": [{"dense": 4}]}
    p = netspec.plan(spec)
    assert p.output.rows == "nodes"
    model = netspec.build_model(spec)
    x, edge_index = _graph(5, 8, 6)
    assert model(x, edge_index).shape == (5, 4)


def _error(spec: dict[str, Any]) -> str:
    with pytest.raises(SpecError) as info:
        netspec.plan(spec)
    return info.value.render()


@pytest.mark.parametrize(
    "layer", [{"graph_conv": 4}, {"graph_sage": 4}, {"graph_attention": 4}, "graph_pool"]
)
def test_graph_layer_needs_a_graph_input(layer: str) -> None:
    message = _error({"name": "x", "input": [8], "layers": [{"dense": 8}, layer]})
    assert "error[shape]" in message
    assert "is not a graph" in message
    assert "graph: true" in message
    assert "layers[1]" in message


def test_graph_layer_after_graph_pool_is_an_error() -> None:
    message = _error(
        {
            "name": "x",
            "input": {"shape": [8], "graph": True},
            "layers": ["graph_pool", {"graph_conv": 4}],
        }
    )
    assert "one row per graph" in message


def test_merging_nodes_and_graphs_is_an_error() -> None:
    spec = {
        "name": "x",
        "input": {"shape": [8], "graph": True},
        "layers": [
            {"graph_conv": 8, "name": "h"},
            {"graph_pool": "mean", "name": "g"},
            {"add": None, "from": ["h", "g"]},
        ],
    }
    message = _error(spec)
    assert "mix per-node and per-graph" in message


def test_gcn_self_loops_need_normalize() -> None:
    message = _error(
        {
            "name": "x",
            "input": {"shape": [8], "graph": True},
            "layers": [{"graph_conv": {"units": 4, "normalize": False, "add_self_loops": True}}],
        }
    )
    assert "add_self_loops: true needs normalize: true" in message
    p = netspec.plan(
        {
            "name": "x",
            "input": {"shape": [8], "graph": True},
            "layers": [{"graph_conv": {"units": 4, "normalize": False}}],
        }
    )
    assert p.total_params == 8 * 4 + 4


def test_graph_input_must_be_float() -> None:
    message = _error(
        {
            "name": "x",
            "input": {"shape": [8], "dtype": "int64", "graph": True},
            "layers": [{"graph_conv": 4}],
        }
    )
    assert "graph: true` needs `dtype: float32`" in message


def test_graph_input_only_as_the_one_input() -> None:
    message = _error(
        {
            "name": "x",
            "inputs": {"a": {"shape": [8], "graph": True}, "b": [8]},
            "layers": [{"add": None, "from": ["a", "b"]}],
        }
    )
    assert "not supported in `inputs:`" in message


def test_building_without_pyg_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [m for m in sys.modules if m.startswith("torch_geometric")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "torch_geometric", None)
    monkeypatch.setitem(sys.modules, "torch_geometric.nn", None)
    with pytest.raises(SpecError) as info:
        netspec.build_model(GCN)
    assert "pip install 'netspec[graph]'" in info.value.render()
    assert "missing-extra" in info.value.render()


def test_validate_and_summary_never_import_pyg() -> None:
    code = (
        "import sys\n"
        "from netspec.plan import plan\n"
        "from netspec.render.summary import summary_text\n"
        f"summary_text(plan({GCN!r}), 1)\n"
        "assert 'torch_geometric' not in sys.modules\n"
        "assert 'torch' not in sys.modules\n"
    )
    root = pathlib.Path(__file__).parent.parent
    subprocess.run([sys.executable, "-c", code], check=True, cwd=root, env=_env(root))


def _env(root: pathlib.Path) -> dict[str, str]:
    import os

    env = dict(os.environ)
    env["PYTHONPATH"] = str(root)
    return env
