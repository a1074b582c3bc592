"""Node classification end to end (issue 12): graph sources in `data:`, checked against the
input; full-batch training of the example specs in specs/graph/; evaluate; what is refused."""

from __future__ import annotations

import json
import pathlib

import pytest
from typer.testing import CliRunner

from netspec.cli.app import app
from netspec.errors import SpecError
from netspec.spec.load import load_spec

ROOT = pathlib.Path(__file__).parent.parent
GRAPH_SPECS = ROOT / "specs" / "graph"
runner = CliRunner()

GCN = """\
name: g
input: {shape: [34], graph: true}
layers:
  - graph_conv: 4
data: {source: karate_club}
train: {task: node_classification}
"""


def _codes_at(text: str) -> list[tuple[str, tuple[str | int, ...]]]:
    with pytest.raises(SpecError) as info:
        load_spec(text)
    return [(d.code, d.path) for d in info.value.diagnostics]


def test_graph_sources_validate_with_a_graph_input() -> None:
    load_spec(GCN)
    load_spec(GCN.replace("{source: karate_club}", "{source: sbm, blocks: 4, size: 10}"))
    for path in sorted(GRAPH_SPECS.glob("*.yaml")):
        load_spec(path)


def test_graph_source_needs_a_graph_input() -> None:
    text = "input: [34]\nlayers:\n  - dense: 2\ndata: {source: karate_club}\n"
    text += "train: {task: node_classification}\n"
    with pytest.raises(SpecError) as info:
        load_spec(text)
    (diag,) = info.value.diagnostics
    assert diag.path == ("data", "source")
    assert "graph: true" in " ".join(diag.hints)


def test_graph_input_needs_a_graph_source() -> None:
    with pytest.raises(SpecError) as info:
        load_spec(GCN.replace("source: karate_club", "source: iris"))
    (diag,) = info.value.diagnostics
    assert diag.path == ("data", "source")
    assert "karate_club" in (diag.expected or "")


def test_graph_source_checks_its_options_and_task() -> None:
    assert _codes_at(GCN.replace("{source: karate_club}", "{source: sbm, blockz: 3}")) == [
        ("unknown-field", ("data", "blockz"))
    ]
    assert _codes_at(GCN.replace("task: node_classification", "task: classification")) == [
        ("invalid-value", ("train", "task"))
    ]
    assert _codes_at(GCN.replace("karate_club", "graph_shapes")) == [
        ("invalid-value", ("train", "task"))
    ]
    shapes = GCN.replace("karate_club", "graph_shapes").replace("node_class", "graph_class")
    load_spec(shapes.replace("[34]", "[1]"))
    assert _codes_at(shapes.replace("graph_shapes", "sbm")) == [
        ("invalid-value", ("train", "task"))
    ]
    table = "input: [4]\nlayers:\n  - dense: 3\ndata: iris\ntrain: {task: node_classification}\n"
    assert _codes_at(table) == [("invalid-value", ("train", "task"))]


@pytest.mark.parametrize(
    ("stem", "least"), [("gcn_karate", 0.8), ("sage_sbm", 0.8), ("sage_shapes", 0.8)]
)
def test_example_graph_specs_learn(stem: str, least: float, tmp_path: pathlib.Path) -> None:
    pytest.importorskip("torch_geometric")
    run = tmp_path / "run"
    result = runner.invoke(app, ["train", str(GRAPH_SPECS / f"{stem}.yaml"), "--out", str(run)])
    assert result.exit_code == 0, result.output
    assert "accuracy" in result.output
    final = json.loads((run / "metrics.json").read_text())
    assert final["test"]["accuracy"] >= least, final
    assert final["task"] in ("node_classification", "graph_classification")
    header = (run / "metrics.csv").read_text().splitlines()[0]
    assert header == "epoch,train_loss,val_loss,val_accuracy,lr,seconds"
    for name in ("spec.yaml", "model.safetensors", "summary.txt", "run.json"):
        assert (run / name).is_file()
    evaluated = runner.invoke(app, ["evaluate", str(run), "--json"])
    assert evaluated.exit_code == 0, evaluated.output
    scores = json.loads(evaluated.stdout)
    assert scores["accuracy"] == pytest.approx(final["test"]["accuracy"])
    resumed = runner.invoke(app, ["train", "--resume", str(run)])
    assert resumed.exit_code == 2
    assert "cannot be resumed" in resumed.output
    # predict on the whole data set, as a file: one label per node, or per graph (batch)
    import numpy as np

    from netspec.sources.graphs import load_graph

    data = load_spec(GRAPH_SPECS / f"{stem}.yaml").data
    assert data is not None
    g = load_graph(data.source, dict(data.model_extra or {}))
    np.savez(tmp_path / "all.npz", x=g.x, edge_index=g.edge_index, batch=g.batch)
    out = tmp_path / "p.npz"
    predicted = runner.invoke(app, ["predict", str(run), str(tmp_path / "all.npz"), "-o", str(out)])
    assert predicted.exit_code == 0, predicted.output
    labels = np.load(out)["labels"]
    assert labels.shape == g.y.shape  # nodes, or graphs
    assert float((labels == g.y).mean()) >= least - 0.1


def test_devices_and_predict_are_refused(tmp_path: pathlib.Path) -> None:
    result = runner.invoke(app, ["train", str(GRAPH_SPECS / "gcn_karate.yaml"), "--devices", "2"])
    assert result.exit_code == 2
    assert "one process" in result.output
    assert not (tmp_path / "run").exists()


def test_predict_reads_a_graph_file(tmp_path: pathlib.Path) -> None:
    """`netspec predict RUN graph.npz`: one prediction per node, the run's model on the
    file's graph; anything but a graph file, or a broken one, is a clear error."""
    pytest.importorskip("torch_geometric")
    import numpy as np
    import torch

    import netspec
    from netspec.sources.graphs import load_graph

    run = tmp_path / "run"
    text = GCN.replace(
        "train: {task: node_classification}", "train:\n  task: node_classification\n  epochs: 2\n"
    )
    spec = tmp_path / "g.yaml"
    spec.write_text(text, encoding="utf-8")
    assert runner.invoke(app, ["train", str(spec), "--out", str(run)]).exit_code == 0
    g = load_graph("karate_club", {})
    np.savez(tmp_path / "g.npz", x=g.x, edge_index=g.edge_index)
    result = runner.invoke(
        app, ["predict", str(run), str(tmp_path / "g.npz"), "-o", str(tmp_path / "p.npz")]
    )
    assert result.exit_code == 0, result.output
    found = np.load(tmp_path / "p.npz")
    model = netspec.load_model(run)
    with torch.no_grad():
        expected = model(torch.as_tensor(g.x), torch.as_tensor(g.edge_index)).softmax(-1)
    assert found["probabilities"].shape == (34, 4)
    assert np.allclose(found["probabilities"], expected.numpy(), atol=1e-6)
    (tmp_path / "x.csv").write_text("1\n", encoding="utf-8")
    result = runner.invoke(app, ["predict", str(run), str(tmp_path / "x.csv")])
    assert result.exit_code == 2
    assert "`edge_index`" in result.output
    np.savez(tmp_path / "bad.npz", x=g.x, edge_index=g.edge_index + 1)
    result = runner.invoke(app, ["predict", str(run), str(tmp_path / "bad.npz")])
    assert result.exit_code == 2
    assert "edge_index[" in result.output


def test_graph_source_without_train_section_names_the_task() -> None:
    text = GCN.replace("train: {task: node_classification}\n", "")
    with pytest.raises(SpecError) as info:
        load_spec(text)
    (diag,) = info.value.diagnostics
    assert diag.path == ("data", "source")
    assert "node_classification" in " ".join(diag.hints)


@pytest.mark.parametrize("name", ["graph_npz", "npz"])  # npz beside a graph input: a graph
def test_graph_npz_with_its_own_masks_trains(name: str, tmp_path: pathlib.Path) -> None:
    pytest.importorskip("torch_geometric")
    from netspec.sources.graphs import load_graph, save_graph_npz, split_nodes
    from netspec.training import train

    g = split_nodes(load_graph("sbm", {"blocks": 2, "size": 30}), val=0.2, test=0.4, seed=3)
    save_graph_npz(g, tmp_path / "g.npz")
    text = (
        "name: npz\ninput: {shape: [8], graph: true}\nlayers:\n  - graph_conv: 16\n  - relu\n"
        f"  - graph_conv: 2\ndata: {{source: {name}, path: g.npz, standardize: true}}\n"
        "train: {task: node_classification, epochs: 60, metrics: [accuracy, f1],"
        " optimizer: {type: adam, lr: 0.01}}\n"
    )
    spec = tmp_path / "npz.yaml"
    spec.write_text(text, encoding="utf-8")
    result = train(spec, out=tmp_path / "run")
    assert set(result.test) == {"loss", "accuracy", "f1"}
    assert result.metrics["test_nodes"] == int(g.test_mask.sum())  # the file's own mask
    assert result.test["accuracy"] >= 0.8
    assert "standardized" in (tmp_path / "run" / "summary.txt").read_text()


def test_graph_classification_needs_a_pool(tmp_path: pathlib.Path) -> None:
    pytest.importorskip("torch_geometric")
    from netspec.training import train

    text = (
        "name: nopool\ninput: {shape: [1], graph: true}\nlayers:\n  - graph_conv: 3\n"
        "data: {source: graph_shapes, graphs: 30}\ntrain: {task: graph_classification}\n"
    )
    with pytest.raises(SpecError) as info:
        train(load_spec(text), out=tmp_path / "run")
    assert "graph_pool" in str(info.value.render())
    assert not (tmp_path / "run").exists()
