"""`netspec graph`: Mermaid and DOT goldens, one node per layer, the plan's shapes on the edges,
groups per dotted prefix, format from the -o suffix, SVG through Graphviz, and no torch import."""

from __future__ import annotations

import os
import pathlib
import re
import shutil

import pytest
from example_specs import ONE_NETWORK
from typer.testing import CliRunner

import netspec
from netspec.cli.app import app
from netspec.dims import format_shape
from netspec.plan import Plan
from netspec.render.graph import dot, mermaid

ROOT = pathlib.Path(__file__).parent.parent
GOLDEN = ROOT / "tests" / "golden"
SMALL = GOLDEN / "small_cnn.yaml"
BRANCHES = ROOT / "specs" / "resnet_branches.yaml"
SPECS = ONE_NETWORK
runner = CliRunner()

# (src, dst, shape) per edge; node id -> (layer name, the dotted prefixes of its groups)
Edges = list[tuple[str, str, str]]
Nodes = dict[str, tuple[str, tuple[str, ...]]]

MM_GROUP = re.compile(r' *subgraph (g_\w+) \["([^"]*)"\]')
MM_NODE = re.compile(r' *(n_\w+)(?:\["|\(\[")([^<"]+)<br/>')
MM_EDGE = re.compile(r' *(n_\w+) -->\|"([^"]*)"\| (n_\w+)')
DOT_GROUP = re.compile(r" *subgraph (cluster_g_\w+) \{")
DOT_LABEL = re.compile(r' *label="([^"]*)";')
DOT_NODE = re.compile(r' *(n_\w+) \[.*label="\{?([^|\\"]+)')
DOT_EDGE = re.compile(r' *(n_\w+) -> (n_\w+) \[label="([^"]*)"\];')


def _golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("NETSPEC_UPDATE_GOLDENS"):
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")


MM_TIE = re.compile(r' *(n_\w+) -\.->\|"tied weight"\| (n_\w+)')
DOT_TIE = re.compile(r' *(n_\w+) -> (n_\w+) \[style=dashed, label="tied weight"\];')


def _ties(text: str, fmt: str) -> list[tuple[str, str]]:
    """The dashed tie edges (owner node id, tied node id)."""
    pattern = MM_TIE if fmt == "mermaid" else DOT_TIE
    return [(m[1], m[2]) for line in text.splitlines() if (m := pattern.fullmatch(line))]


def _parse_mermaid(text: str) -> tuple[Nodes, Edges]:
    lines = text.splitlines()
    assert lines[0] == "flowchart TD"
    nodes: Nodes = {}
    raw_edges = []
    groups: list[str] = []
    for line in lines[1:]:
        if line.strip().startswith("%%") or MM_TIE.fullmatch(line):
            continue  # a tie's dashed edge: checked by _ties
        if m := MM_GROUP.fullmatch(line):
            groups.append(m[2])
        elif line.strip() == "end":
            groups.pop()
        elif m := MM_NODE.match(line):
            assert m[1] not in nodes, m[1]
            nodes[m[1]] = (m[2], tuple(groups))
        elif m := MM_EDGE.fullmatch(line):
            assert not groups, "edges come after every node, outside the subgraphs"
            raw_edges.append((m[1], m[3], m[2]))
        else:
            pytest.fail(f"unexpected Mermaid line: {line!r}")
    assert not groups
    return nodes, [(nodes[s][0], nodes[d][0], shape) for s, d, shape in raw_edges]


def _parse_dot(text: str) -> tuple[Nodes, Edges]:
    lines = text.splitlines()
    assert lines[0].startswith("digraph ")
    assert lines[-1] == "}"
    nodes: Nodes = {}
    raw_edges = []
    groups: list[str] = []
    pending = False  # a cluster's label is its first statement
    for line in lines[1:-1]:
        if pending:
            m = DOT_LABEL.fullmatch(line)
            assert m, line
            groups.append(m[1])
            pending = False
        elif DOT_GROUP.fullmatch(line):
            pending = True
        elif DOT_TIE.fullmatch(line):
            continue  # a tie's dashed edge: checked by _ties
        elif line.strip() == "}":
            groups.pop()
        elif m := DOT_EDGE.fullmatch(line):
            assert not groups
            raw_edges.append((m[1], m[2], m[3]))
        elif m := DOT_NODE.match(line):
            assert m[1] not in nodes, m[1]
            nodes[m[1]] = (m[2], tuple(groups))
        else:
            assert re.fullmatch(r" *(graph|node|edge) \[.*\];| *style=dashed;", line), line
    assert not groups
    return nodes, [(nodes[s][0], nodes[d][0], shape) for s, d, shape in raw_edges]


def _expected_edges(p: Plan) -> Edges:
    return [
        (ref, layer.name, format_shape(tensor.shape))
        for layer in p.layers
        for ref, tensor in zip(layer.inputs, layer.in_tensors, strict=True)
    ]


def _prefixes(name: str) -> tuple[str, ...]:
    parts = name.split(".")
    return tuple(".".join(parts[:k]) for k in range(1, len(parts)))


@pytest.mark.parametrize(("spec", "stem"), [(SMALL, "small_cnn"), (BRANCHES, "resnet_branches")])
@pytest.mark.parametrize(("fmt", "suffix"), [("mermaid", "mmd"), ("dot", "dot")])
def test_graph_golden(spec: pathlib.Path, stem: str, fmt: str, suffix: str) -> None:
    result = runner.invoke(app, ["graph", "--format", fmt, str(spec)])
    assert result.exit_code == 0, result.output
    _golden(f"{stem}.graph.{suffix}", result.stdout)


def test_default_is_mermaid_on_stdout() -> None:
    result = runner.invoke(app, ["graph", str(SMALL)])
    assert result.exit_code == 0
    assert result.stdout == (GOLDEN / "small_cnn.graph.mmd").read_text(encoding="utf-8")


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.stem)
@pytest.mark.parametrize("fmt", ["mermaid", "dot"])
def test_one_node_per_layer_and_the_plans_shapes_on_the_edges(spec: pathlib.Path, fmt: str) -> None:
    p = netspec.plan(spec)
    text = mermaid(p) if fmt == "mermaid" else dot(p)
    nodes, edges = (_parse_mermaid if fmt == "mermaid" else _parse_dot)(text)
    assert len(nodes) == len(p.layers) + 1
    assert sorted(name for name, _ in nodes.values()) == sorted(
        ["input", *(layer.name for layer in p.layers)]
    )
    assert edges == _expected_edges(p)
    assert len(edges) == sum(len(layer.inputs) for layer in p.layers)
    names = {node_id: name for node_id, (name, _) in nodes.items()}
    ties = [(names[a], names[b]) for a, b in _ties(text, fmt)]
    assert ties == [(layer.tie, layer.name) for layer in p.layers if layer.tie is not None]
    outputs = {"input": format_shape(p.input.shape)}
    outputs.update((layer.name, format_shape(layer.out.shape)) for layer in p.layers)
    for src, _, shape in edges:
        assert shape == outputs[src]
    for name, groups in nodes.values():
        assert groups == _prefixes(name), name
    assert all(re.fullmatch(r"n_[A-Za-z0-9_]+", node_id) for node_id in nodes)
    again = mermaid(netspec.plan(spec)) if fmt == "mermaid" else dot(netspec.plan(spec))
    assert again == text


def test_nested_blocks_nest_their_groups() -> None:
    p = netspec.plan(ROOT / "specs" / "blocks.yaml")
    nested = [layer.name for layer in p.layers if layer.name.count(".") >= 2]
    assert nested, "blocks.yaml has a residual inside a block"
    for text, parse in ((mermaid(p), _parse_mermaid), (dot(p), _parse_dot)):
        nodes, _ = parse(text)
        groups = {name: g for name, g in nodes.values()}
        assert all(groups[name] == _prefixes(name) for name in nested)
        assert max(len(groups[name]) for name in nested) == 3  # block > residual > block


def test_ids_stay_unique_when_sanitized_names_clash() -> None:
    text = (
        "input: [4]\nlayers:\n  - residual: {layers: [dense: 4], name: a}\n"
        "  - dense: {units: 4, name: a__dense_0}\n"
    )
    p = netspec.plan(text)
    for rendered, parse in ((mermaid(p), _parse_mermaid), (dot(p), _parse_dot)):
        nodes, edges = parse(rendered)
        assert len(nodes) == len(p.layers) + 1
        assert edges == _expected_edges(p)


def test_labels_are_quoted_and_symbols_shown() -> None:
    text = 'name: "we\\"ird\\nname"\ninput: [T, 6]\nlayers:\n  - dense: 4\n'
    p = netspec.plan(text)
    rendered = mermaid(p)
    assert rendered.splitlines()[1] == '    %% netspec graph of we"ird name'
    assert '-->|"(N, T, 6)"|' in rendered
    assert dot(p).startswith('digraph "we\\"ird name" {\n')
    assert '[label="(N, T, 6)"]' in dot(p)


def test_frozen_and_int64_inputs_are_labelled() -> None:
    text = (
        "input: {shape: [5], dtype: int64}\nlayers:\n"
        "  - embedding: {num_embeddings: 10, embedding_dim: 3, trainable: false}\n"
    )
    rendered = mermaid(netspec.plan(text))
    assert '(["input<br/>(N, 5) int64"])' in rendered
    assert "embedding, 30 params, frozen" in rendered


@pytest.mark.parametrize(
    ("name", "args", "expected"),
    [
        ("g.mmd", [], "small_cnn.graph.mmd"),
        ("g.dot", [], "small_cnn.graph.dot"),
        ("g.gv", [], "small_cnn.graph.dot"),
        ("g.txt", [], "small_cnn.graph.mmd"),
        ("g.mmd", ["--format", "dot"], "small_cnn.graph.dot"),
    ],
)
def test_format_from_the_output_suffix(
    tmp_path: pathlib.Path, name: str, args: list[str], expected: str
) -> None:
    out = tmp_path / "sub" / name
    result = runner.invoke(app, ["graph", str(SMALL), "-o", str(out), *args])
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert f"wrote {out}" in result.stderr
    assert out.read_text(encoding="utf-8") == (GOLDEN / expected).read_text(encoding="utf-8")
    assert [f.name for f in out.parent.iterdir()] == [name], "no temporary file left behind"


def test_markdown_output_is_fenced(tmp_path: pathlib.Path) -> None:
    out = tmp_path / "model.md"
    result = runner.invoke(app, ["graph", str(SMALL), "-o", str(out)])
    assert result.exit_code == 0, result.output
    golden = (GOLDEN / "small_cnn.graph.mmd").read_text(encoding="utf-8")
    assert out.read_text(encoding="utf-8") == f"```mermaid\n{golden}```\n"


def test_unknown_format_is_a_usage_error() -> None:
    result = runner.invoke(app, ["graph", "--format", "png", str(SMALL)])
    assert result.exit_code == 2
    assert "'png' is not one of: mermaid, dot, svg" in result.output


def test_bad_spec_exits_2_without_traceback() -> None:
    result = runner.invoke(app, ["graph", str(ROOT / "tests/bad_specs/unknown_layer.yaml")])
    assert result.exit_code == 2
    assert "did you mean 'dense'" in result.stderr
    assert "Traceback" not in result.output


def test_svg_without_graphviz_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path
) -> None:
    monkeypatch.setattr(shutil, "which", lambda *_args, **_kwargs: None)
    out = tmp_path / "model.svg"
    result = runner.invoke(app, ["graph", str(SMALL), "-o", str(out)])
    assert result.exit_code == 2
    assert "`dot` executable of Graphviz" in result.stderr
    assert "install graphviz" in result.stderr
    assert "--format dot or --format mermaid" in result.stderr
    assert "Traceback" not in result.output
    assert not out.exists()


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
def test_svg_with_graphviz(tmp_path: pathlib.Path) -> None:
    out = tmp_path / "model.svg"
    result = runner.invoke(app, ["graph", str(BRANCHES), "-o", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8")
    assert text.lstrip().startswith(("<?xml", "<svg"))
    assert "</svg>" in text
    assert "residual_0.narrow" in text
    assert "(N, 32, 4, 4)" in text
    stdout = runner.invoke(app, ["graph", "--format", "svg", str(SMALL)])
    assert stdout.exit_code == 0, stdout.output
    assert stdout.stdout.lstrip().startswith(("<?xml", "<svg"))


def test_docs_example_is_current() -> None:
    doc = (ROOT / "docs" / "graph.md").read_text(encoding="utf-8")
    spec = re.search(r"```yaml\n(.*?)```", doc, re.S)
    picture = re.search(r"```mermaid\n(.*?)```", doc, re.S)
    assert spec
    assert picture
    assert picture[1] == mermaid(netspec.plan(spec[1])), "docs/graph.md: rerun the example"
