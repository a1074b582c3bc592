"""netspec.sources.graphs: graph data as numpy arrays, its sources, checks and splits."""

from __future__ import annotations

import pathlib
import re
import subprocess
import sys
from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from netspec.errors import ERROR_CODES, SpecError, format_path
from netspec.sources import all_sources
from netspec.sources.graphs import (
    GRAPH_SOURCES,
    GraphData,
    check_graph,
    load_graph,
    save_graph_npz,
    select_graphs,
    split_graphs,
    split_nodes,
    undirected,
)
from netspec.sources.registry import DataProblem

ROOT = pathlib.Path(__file__).parent.parent


def spec_error(name: str, options: dict[str, Any] | None = None, **kw: Any) -> SpecError:
    with pytest.raises(SpecError) as info:
        load_graph(name, options, **kw)
    for d in info.value.diagnostics:
        assert d.code in ERROR_CODES
    return info.value


def degrees(g: GraphData) -> np.ndarray:
    return np.bincount(g.edge_index[0], minlength=g.num_nodes)


def is_symmetric(g: GraphData) -> bool:
    forward = set(map(tuple, g.edge_index.T.tolist()))
    return forward == {(b, a) for a, b in forward}


def connected(n: int, pairs: np.ndarray) -> bool:
    seen, todo = {0}, [0]
    neighbours: dict[int, list[int]] = {i: [] for i in range(n)}
    for a, b in pairs.T.tolist():
        neighbours[a].append(b)
    while todo:
        for m in neighbours[todo.pop()]:
            if m not in seen:
                seen.add(m)
                todo.append(m)
    return len(seen) == n


def graphs_of(g: GraphData) -> list[tuple[int, np.ndarray]]:
    """(nodes, local edge_index) of each graph of a batch."""
    out = []
    for graph in range(g.num_graphs):
        nodes = np.flatnonzero(g.batch == graph)
        keep = g.batch[g.edge_index[0]] == graph
        out.append((len(nodes), g.edge_index[:, keep] - nodes[0]))
    return out


# --- the registry -----------------------------------------------------------------------------


def test_graph_sources_stay_out_of_the_tabular_registry() -> None:
    assert set(GRAPH_SOURCES) == {"karate_club", "sbm", "graph_shapes", "graph_npz"}
    assert not set(GRAPH_SOURCES) & {s.name for s in all_sources()}


def test_importing_the_graph_sources_never_imports_numpy_or_torch() -> None:
    code = (
        "import sys, netspec.sources.graphs\n"
        "bad = {'torch', 'numpy', 'sklearn', 'networkx'} & set(sys.modules)\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_every_source_loads_typed_and_checked(tmp_path: pathlib.Path) -> None:
    save_graph_npz(load_graph("karate_club"), tmp_path / "k.npz")
    for name in GRAPH_SOURCES:
        options = {"path": str(tmp_path / "k.npz")} if name == "graph_npz" else {}
        g = load_graph(name, options)
        assert g.x.dtype == np.float32
        assert g.x.ndim == 2
        assert g.edge_index.dtype == np.int64
        assert g.edge_index.shape[0] == 2
        assert g.y.dtype == np.int64
        assert g.batch.dtype == np.int64
        assert is_symmetric(g)
        assert check_graph(g, name) is g
        assert name in g.describe() or name == "graph_npz"


def test_unknown_source_and_bad_options() -> None:
    err = spec_error("karate")
    assert "did you mean 'karate_club'" in str(err)
    (d,) = spec_error("sbm", {"blockz": 3}).diagnostics
    assert d.code == "unknown-field"
    assert format_path(d.path or ()) == "data.blockz"
    assert "did you mean 'blocks'" in d.message
    (d,) = spec_error("sbm", {"p_in": 2}).diagnostics
    assert d.code == "invalid-value"
    assert format_path(d.path or ()) == "data.p_in"
    assert d.received == "2"
    (d,) = spec_error("graph_npz").diagnostics
    assert d.code == "missing-field"
    assert format_path(d.path or ()) == "data.path"
    (d,) = spec_error("karate_club", {"features": 3}).diagnostics
    assert d.code == "unknown-field"
    assert d.expected == "one of: labels"


# --- karate_club ------------------------------------------------------------------------------


def test_karate_club_communities_are_pygs() -> None:
    """The default labels are the 4 communities of torch_geometric's KarateClub."""
    g = load_graph("karate_club")
    assert g.num_classes == 4
    assert np.bincount(g.y).tolist() == [13, 12, 4, 5]
    assert g.y[0] == 1
    assert g.y[33] == 0
    pyg = pytest.importorskip("torch_geometric.datasets")
    data = pyg.KarateClub()[0]  # built in memory, nothing downloaded
    assert data.y.tolist() == g.y.tolist()
    theirs = {tuple(e) for e in data.edge_index.t().tolist()}
    assert theirs == {tuple(e) for e in g.edge_index.T.tolist()}


def test_karate_club() -> None:
    g = load_graph("karate_club", {"labels": "club"})
    assert g.num_nodes == 34
    assert g.num_edges == 156
    assert g.num_graphs == 1
    assert g.level == "node"
    assert g.num_classes == 2
    assert np.array_equal(g.x, np.eye(34, dtype=np.float32))  # one-hot identity, as PyG
    assert np.bincount(g.y).tolist() == [17, 17]
    assert g.class_names == ["Mr. Hi", "Officer"]
    assert g.y[0] == 0
    assert g.y[33] == 1
    assert not (g.edge_index[0] == g.edge_index[1]).any()
    assert degrees(g)[33] == 17
    assert degrees(g)[0] == 16


# --- sbm --------------------------------------------------------------------------------------


def test_sbm_has_more_edges_inside_blocks() -> None:
    g = load_graph("sbm", {"blocks": 4, "size": 30, "p_in": 0.3, "p_out": 0.02})
    assert g.num_nodes == 120
    assert g.num_classes == 4
    assert np.bincount(g.y).tolist() == [30] * 4
    inside = (g.y[g.edge_index[0]] == g.y[g.edge_index[1]]).sum()
    assert inside > 3 * (g.num_edges - inside)
    assert not (g.edge_index[0] == g.edge_index[1]).any()


def test_sbm_features_carry_the_blocks() -> None:
    g = load_graph("sbm", {"blocks": 3, "size": 100, "features": 4, "noise": 0.3})
    means = np.stack([g.x[g.y == b].mean(axis=0) for b in range(3)])
    spread = np.stack([g.x[g.y == b].std(axis=0) for b in range(3)]).max()
    gaps = [np.linalg.norm(means[a] - means[b]) for a in range(3) for b in range(a + 1, 3)]
    assert min(gaps) > 2 * spread
    assert abs(spread - 0.3) < 0.1


def test_sbm_is_seeded() -> None:
    a, b = load_graph("sbm", {"seed": 1}), load_graph("sbm", {"seed": 1})
    c = load_graph("sbm", {"seed": 2})
    assert np.array_equal(a.x, b.x)
    assert np.array_equal(a.edge_index, b.edge_index)
    assert not np.array_equal(a.x, c.x)
    assert a.edge_index.shape != c.edge_index.shape or not np.array_equal(
        a.edge_index, c.edge_index
    )


def test_sbm_size_limit_is_checked() -> None:
    err = spec_error("sbm", {"blocks": 10, "size": 1000})
    assert format_path(err.diagnostics[0].path or ()) == "data.size"
    assert "5,000 nodes at most" in str(err)


# --- graph_shapes -----------------------------------------------------------------------------


def test_graph_shapes_structure() -> None:
    classes = ["cycle", "star", "path", "tree", "complete"]
    g = load_graph("graph_shapes", {"graphs": 100, "classes": classes, "seed": 3})
    assert g.level == "graph"
    assert g.num_graphs == 100
    assert len(g.y) == 100
    assert g.num_classes == 5
    assert g.class_names == classes
    assert np.bincount(g.y).tolist() == [20] * 5
    assert np.all(np.diff(g.batch) >= 0)
    for label, (n, edges) in zip(g.y, graphs_of(g), strict=True):
        assert 6 <= n <= 12
        assert edges.min() >= 0
        assert edges.max() < n
        degree = np.bincount(edges[0], minlength=n)
        undirected_edges = edges.shape[1] // 2
        shape = classes[label]
        assert connected(n, edges), shape
        if shape == "cycle":
            assert (degree == 2).all()
            assert undirected_edges == n
        elif shape == "star":
            assert sorted(degree)[-1] == n - 1
            assert (np.sort(degree)[:-1] == 1).all()
        elif shape == "path":
            assert undirected_edges == n - 1
            assert sorted(degree)[:2] == [1, 1]
            assert degree.max() == 2
        elif shape == "tree":
            assert undirected_edges == n - 1
            assert 2 < degree.max() < n - 1  # neither a path nor a star
        else:
            assert (degree == n - 1).all()


def test_graph_shapes_features() -> None:
    ones = load_graph("graph_shapes", {"graphs": 20})
    assert ones.x.shape == (ones.num_nodes, 1)
    assert (ones.x == 1).all()
    g = load_graph("graph_shapes", {"graphs": 20, "features": "degree", "nodes_max": 9})
    assert g.x.shape == (g.num_nodes, 9)
    assert np.array_equal(g.x.argmax(axis=1), degrees(g))
    assert (g.x.sum(axis=1) == 1).all()


def test_graph_shapes_is_seeded() -> None:
    a = load_graph("graph_shapes", {"graphs": 30, "seed": 5})
    b = load_graph("graph_shapes", {"graphs": 30, "seed": 5})
    c = load_graph("graph_shapes", {"graphs": 30, "seed": 6})
    assert np.array_equal(a.edge_index, b.edge_index)
    assert np.array_equal(a.y, b.y)
    assert not (a.edge_index.shape == c.edge_index.shape and np.array_equal(a.y, c.y))


@pytest.mark.parametrize(
    ("options", "key", "words"),
    [
        ({"graphs": 1_000_000, "nodes_max": 100}, "graphs", "more than 20,000,000 edges"),
        ({"nodes_min": 10, "nodes_max": 8}, "nodes_min", "above nodes_max"),
        ({"nodes_min": 4}, "nodes_min", "path or a star"),
        ({"classes": ["star", "star"]}, "classes", "twice"),
        ({"classes": ["cycle", "hexagon"]}, "classes", ""),
        ({"features": "onehot"}, "features", ""),
    ],
)
def test_graph_shapes_bad_options(options: dict[str, Any], key: str, words: str) -> None:
    err = spec_error("graph_shapes", options)
    assert format_path(err.diagnostics[0].path or ()).startswith(f"data.{key}")
    assert words in str(err)


# --- graph_npz --------------------------------------------------------------------------------


def test_npz_round_trip_node_level(tmp_path: pathlib.Path) -> None:
    g = split_nodes(load_graph("sbm", {"size": 20}), val=0.2, test=0.2, seed=1)
    save_graph_npz(g, tmp_path / "g.npz")
    h = load_graph("graph_npz", {"path": "g.npz"}, base_dir=tmp_path)
    assert h.level == "node"
    assert h.num_classes == g.num_classes
    for name in ("x", "edge_index", "y", "batch", "train_mask", "val_mask", "test_mask"):
        assert np.array_equal(getattr(g, name), getattr(h, name)), name
    assert h.origin == str(tmp_path / "g.npz")


def test_npz_round_trip_graph_level(tmp_path: pathlib.Path) -> None:
    g = load_graph("graph_shapes", {"graphs": 12})
    save_graph_npz(g, tmp_path / "g.npz")
    h = load_graph("graph_npz", {"path": str(tmp_path / "g.npz")})
    assert h.level == "graph"
    assert h.num_graphs == 12
    for name in ("x", "edge_index", "y", "batch"):
        assert np.array_equal(getattr(g, name), getattr(h, name)), name


def test_npz_accepts_common_variants(tmp_path: pathlib.Path) -> None:
    # int features, one feature as a 1-D x, (n, 1) boolean labels, 0/1 integer masks
    n = 4
    np.savez(
        tmp_path / "g.npz",
        x=np.arange(n),
        edge_index=undirected(np.array([[0, 1], [1, 2], [2, 3]]).T).astype(np.int32),
        y=np.array([[False], [True], [True], [False]]),
        train_mask=np.array([1, 1, 0, 0]),
        test_mask=np.array([0, 0, 1, 1]),
    )
    g = load_graph("graph_npz", {"path": str(tmp_path / "g.npz")})
    assert g.x.shape == (4, 1)
    assert g.x.dtype == np.float32
    assert g.edge_index.dtype == np.int64
    assert g.y.tolist() == [0, 1, 1, 0]
    assert g.train_mask is not None
    assert g.train_mask.dtype == bool
    assert g.val_mask is None
    assert split_nodes(g) is g  # its own masks, kept


GOOD: dict[str, Any] = {
    "x": np.ones((4, 2), np.float32),
    "edge_index": undirected(np.array([[0, 1], [1, 2], [2, 3]]).T),
    "y": np.array([0, 1, 1, 0]),
}


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"edge_index": np.array([[0, 1], [1, 4]])}, "edge_index[1, 1] is 4"),
        ({"edge_index": np.array([[0, -1], [1, 2]])}, "edge_index[0, 1] is -1"),
        ({"edge_index": np.array([[0, 1], [1, 2], [2, 3]])}, "edge_index must have shape (2, E)"),
        ({"edge_index": np.array([0, 1, 2])}, "edge_index must have shape (2, E)"),
        ({"edge_index": np.array([[0.0, 1.0], [1.0, 2.0]])}, "edge_index must hold integer"),
        ({"x": np.ones((2, 2, 2))}, "x must be a numeric 2-D array"),
        ({"x": np.array([[1.0], [np.nan], [0.0], [0.0]])}, "x[1, 0] is nan"),
        ({"y": np.array([0, 1, 1])}, "y has 3 labels but there are 4 nodes"),
        ({"y": np.array([0, -1, 1, 0])}, "y[1] is -1"),
        ({"y": np.array([0, 0.5, 1, 0])}, "y[1] is 0.5"),
        ({"train_mask": np.ones(3, bool)}, "train_mask has 3 entries but x has 4 nodes"),
        ({"val_mask": np.array([0.5, 0, 0, 0])}, "val_mask must be a 1-D boolean array"),
        (
            {"train_mask": np.array([1, 1, 0, 0], bool), "test_mask": np.array([0, 1, 1, 0], bool)},
            "train_mask and test_mask overlap",
        ),
        ({"batch": np.array([0, 1, 0, 1])}, "batch is not sorted"),
        ({"batch": np.array([0, 0, 2, 2])}, "batch skips graph ids"),
        ({"batch": np.array([1, 1, 1, 1])}, "batch must start at graph 0"),
        ({"batch": np.array([0, 0])}, "batch has 2 entries but x has 4 nodes"),
        ({"batch": np.array([0, 0, 1, 1])}, "an edge stays inside its graph"),
        ({"batch": np.array([0.0, 0, 0, 0])}, "batch must be a 1-D integer array"),
    ],
)
def test_npz_problems_name_the_file_and_the_array(
    tmp_path: pathlib.Path, change: dict[str, Any], words: str
) -> None:
    np.savez(tmp_path / "bad.npz", **{**GOOD, **change})
    err = spec_error("graph_npz", {"path": str(tmp_path / "bad.npz")})
    (d,) = err.diagnostics
    assert d.code == "data"
    assert format_path(d.path or ()) == "data.path"
    assert d.message.startswith("bad.npz: "), d.message
    assert words in d.message, d.message


def test_npz_missing_array_file_and_masks_on_graph_level(tmp_path: pathlib.Path) -> None:
    np.savez(tmp_path / "g.npz", x=GOOD["x"], y=GOOD["y"], edges=GOOD["edge_index"])
    assert "g.npz has no array 'edge_index'" in str(
        spec_error("graph_npz", {"path": "g.npz"}, base_dir=tmp_path)
    )
    assert "does not exist" in str(spec_error("graph_npz", {"path": str(tmp_path / "nope.npz")}))
    np.save(tmp_path / "one.npy", GOOD["x"])
    assert "holds one array" in str(spec_error("graph_npz", {"path": str(tmp_path / "one.npy")}))
    np.savez(
        tmp_path / "graphs.npz",
        **GOOD,
        batch=np.array([0, 0, 0, 0]),
        train_mask=np.ones(4, bool),
    )
    err = spec_error("graph_npz", {"path": str(tmp_path / "graphs.npz"), "level": "graph"})
    assert "the labels are per graph" in str(err)


def test_npz_level_decides_what_y_counts(tmp_path: pathlib.Path) -> None:
    two = {
        **GOOD,
        "edge_index": undirected(np.array([[0, 1], [2, 3]]).T),
        "batch": np.array([0, 0, 1, 1]),
    }
    np.savez(tmp_path / "g.npz", **{**two, "y": np.array([1, 0])})
    g = load_graph("graph_npz", {"path": str(tmp_path / "g.npz")})
    assert g.level == "graph"
    assert g.num_graphs == 2
    assert g.num_classes == 2
    err = spec_error("graph_npz", {"path": str(tmp_path / "g.npz"), "level": "node"})
    assert "y has 2 labels but there are 4 nodes" in str(err)
    np.savez(tmp_path / "n.npz", **two)
    assert load_graph("graph_npz", {"path": str(tmp_path / "n.npz")}).level == "node"


# --- check_graph directly ----------------------------------------------------------------------


def test_check_graph_raises_a_located_data_problem() -> None:
    g = load_graph("karate_club")
    bad = replace(g, edge_index=np.array([[0, 34], [34, 0]]))
    with pytest.raises(DataProblem) as info:
        check_graph(bad, "karate_club")
    assert info.value.key == ("source",)
    assert "karate_club: edge_index[0, 1] is 34, but the graph has 34 nodes" in info.value.message
    assert format_path(info.value.diagnostic().path or ()) == "data.source"
    with pytest.raises(DataProblem, match="y has 33 labels"):
        check_graph(replace(g, y=g.y[:-1]), "karate_club")
    with pytest.raises(DataProblem, match=r"y\[0\] is 5, outside the classes 0..3"):
        check_graph(replace(g, y=np.concatenate([[5], g.y[1:]])), "karate_club")


# --- splits -----------------------------------------------------------------------------------


def test_split_by_fractions() -> None:
    g = load_graph("sbm", {"size": 100})
    s = split_nodes(g, val=0.2, test=0.1, seed=4)
    assert s.train_mask is not None
    assert s.val_mask is not None
    assert s.test_mask is not None
    assert (s.train_mask.astype(int) + s.val_mask + s.test_mask == 1).all()  # a partition
    assert (int(s.val_mask.sum()), int(s.test_mask.sum())) == (60, 30)
    again = split_nodes(g, val=0.2, test=0.1, seed=4)
    other = split_nodes(g, val=0.2, test=0.1, seed=5)
    assert again.val_mask is not None
    assert other.val_mask is not None
    assert np.array_equal(s.val_mask, again.val_mask)
    assert not np.array_equal(s.val_mask, other.val_mask)
    assert check_graph(s, "sbm") is s
    assert "split train 210 / val 60 / test 30" in s.describe()
    with pytest.raises(ValueError, match="fractions"):
        split_nodes(g, val=0.6, test=0.5)


def test_split_keeps_given_masks_and_checks_them() -> None:
    g = split_nodes(load_graph("karate_club"), seed=1)
    assert split_nodes(g, val=0.5, seed=9) is g
    bad = replace(g, val_mask=g.train_mask)
    with pytest.raises(DataProblem, match="train_mask and val_mask overlap"):
        split_nodes(bad)


def test_select_and_split_graphs() -> None:
    g = load_graph("graph_shapes", {"graphs": 50, "features": "degree", "seed": 2})
    part = select_graphs(g, [7, 3, 3])
    assert part.num_graphs == 2
    assert part.y.tolist() == [g.y[3], g.y[7]]
    assert check_graph(part, "part") is part
    assert np.array_equal(part.x, np.concatenate([g.x[g.batch == 3], g.x[g.batch == 7]]))
    assert part.num_edges == sum((g.batch[g.edge_index[0]] == i).sum() for i in (3, 7))
    train, val, test = split_graphs(g, val=0.2, test=0.1, seed=1)
    assert (train.num_graphs, val.num_graphs, test.num_graphs) == (35, 10, 5)
    assert train.num_nodes + val.num_nodes + test.num_nodes == g.num_nodes
    assert sorted([*train.y, *val.y, *test.y]) == sorted(g.y)
    for piece in (train, val, test):
        assert check_graph(piece, "piece") is piece
    again = split_graphs(g, val=0.2, test=0.1, seed=1)[1]
    assert np.array_equal(again.x, val.x)
    (empty,) = split_graphs(g, val=0.0, test=0.0)[1:2]
    assert empty.num_graphs == 0
    assert empty.num_nodes == 0
    with pytest.raises(ValueError, match="graph-level"):
        select_graphs(load_graph("karate_club"), [0])


def test_npz_without_nodes(tmp_path: pathlib.Path) -> None:
    np.savez(
        tmp_path / "e.npz", x=np.ones((0, 2)), edge_index=np.zeros((2, 0), int), y=np.zeros(0, int)
    )
    assert "x has no rows" in str(spec_error("graph_npz", {"path": str(tmp_path / "e.npz")}))


# --- docs -------------------------------------------------------------------------------------


def graph_section() -> str:
    text = (ROOT / "docs" / "data.md").read_text(encoding="utf-8")
    return text.split("\n## Graph data\n", 1)[1]


def test_docs_describe_every_graph_source_and_option() -> None:
    section = graph_section()
    for source in GRAPH_SOURCES.values():
        assert f"**`{source.name}`**" in section, source.name
        for option in source.options.model_fields:
            assert f"`{option}`" in section, (source.name, option)
            assert option in source.field_docs, (source.name, option)


def test_docs_python_examples_run() -> None:
    blocks = re.findall(r"```python\n(.*?)```", graph_section(), re.S)
    assert blocks
    for block in blocks:
        exec(compile(block, "docs/data.md", "exec"), {})
