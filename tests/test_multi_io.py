"""Several named inputs and outputs, and tied weights: plan, build, model.py, weight files.

torch is the oracle: the built module's outputs and unique parameters are compared with the
plan, model.py with the built module, and a tied model's weight file holds the tensor once.
"""

from __future__ import annotations

import json
import os
import pathlib
import runpy
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file
from torch.utils.flop_counter import FlopCounterMode

import netspec
from netspec import SpecError
from netspec.backend.artifacts import build_directory, tied_keys
from netspec.backend.eject import model_source
from netspec.plan import warnings

ROOT = pathlib.Path(__file__).parent.parent
GOLDEN = ROOT / "tests" / "golden"

TWO_TOWERS = """
name: two_towers
inputs:
  image: [3, 8, 8]
  meta: [5]
outputs: [logits, embedding]
layers:
  - conv2d: {filters: 4, kernel_size: 3, from: image, activation: relu}
  - global_avgpool
  - dense: {units: 6, from: meta, name: meta_proj}
  - concat: {from: [global_avgpool_0, meta_proj], dim: 1, name: embedding}
  - dense: {units: 3, name: logits}
"""

TIED = """
name: tiny_lm
input: {shape: [T], dtype: int64}
layers:
  - embedding: {num_embeddings: 50, embedding_dim: 8, name: tok}
  - dense: {units: 8, activation: gelu_tanh}
  - dense: {units: 50, tie: tok, name: logits}
"""


def error(text: str) -> SpecError:
    with pytest.raises(SpecError) as info:
        netspec.plan(text)
    return info.value


# --- several inputs and outputs ------------------------------------------------------------


def test_plan_names_every_input_and_output_in_order() -> None:
    p = netspec.plan(TWO_TOWERS)
    assert list(p.inputs) == ["image", "meta"]
    assert p.named_inputs
    assert p.outputs == ("logits", "embedding")
    assert [t.shape for t in p.output_tensors] == [(3,), (10,)]
    assert p.output.shape == (3,)
    assert p.layers[0].inputs == ("image",)
    assert p.layers[2].inputs == ("meta",)


def test_forward_takes_inputs_by_position_and_name_and_returns_a_tuple() -> None:
    model = netspec.build_model(TWO_TOWERS, seed=0).eval()
    image, meta = torch.randn(2, 3, 8, 8), torch.randn(2, 5)
    logits, embedding = model(image, meta)
    assert (tuple(logits.shape), tuple(embedding.shape)) == ((2, 3), (2, 10))
    by_name = model(meta=meta, image=image)
    torch.testing.assert_close(by_name[0], logits)
    # The graph is the one the spec describes, computed by hand from the same modules.
    m = dict(model.named_modules())
    pooled = torch.relu(m["conv2d_0"](image)).mean(dim=(2, 3))
    want = torch.cat([pooled, m["meta_proj"](meta)], dim=1)
    torch.testing.assert_close(embedding, want)
    torch.testing.assert_close(logits, m["logits"](want))


def test_model_py_takes_and_returns_the_same(tmp_path: pathlib.Path) -> None:
    p = netspec.plan(TWO_TOWERS)
    (tmp_path / "model.py").write_text(model_source(p), encoding="utf-8")
    namespace = runpy.run_path(str(tmp_path / "model.py"))
    ejected = namespace["TwoTowers"]().eval()
    built = netspec.build_model(TWO_TOWERS, seed=0).eval()
    ejected.load_state_dict(built.state_dict())
    image, meta = torch.randn(3, 3, 8, 8), torch.randn(3, 5)
    for got, want in zip(ejected(image=image, meta=meta), built(image, meta), strict=True):
        torch.testing.assert_close(got, want)
    assert "def forward(self, image: torch.Tensor, meta: torch.Tensor)" in model_source(p)
    assert "return logits, embedding" in model_source(p)


def test_summary_shows_each_input_and_output() -> None:
    from netspec.render.summary import summary_json, summary_text

    p = netspec.plan(TWO_TOWERS)
    first = summary_text(p, 1).splitlines()[0]
    assert first == (
        "two_towers: 5 layers, inputs image (N, 3, 8, 8), meta (N, 5) "
        "-> outputs logits (N, 3), embedding (N, 10)"
    )
    data = summary_json(p, 1)
    assert [i["name"] for i in data["inputs"]] == ["image", "meta"]
    assert data["outputs"] == [
        {"name": "logits", "shape": [None, 3]},
        {"name": "embedding", "shape": [None, 10]},
    ]


def test_every_export_takes_several_inputs(tmp_path: pathlib.Path) -> None:
    spec = netspec.load_spec(TWO_TOWERS)
    formats = ("torchscript", "export", "onnx")
    result = build_directory(spec, tmp_path, seed=0, formats=formats)
    model = netspec.load_model(tmp_path)
    image, meta = torch.randn(4, 3, 8, 8), torch.randn(4, 5)
    want = model(image, meta)
    traced = torch.jit.load(str(tmp_path / "model.ts"))
    program = torch.export.load(str(tmp_path / "model.pt2")).module()
    for got in (traced(image, meta), program(image, meta)):
        for g, w in zip(got, want, strict=True):
            torch.testing.assert_close(g, w)
    assert (tmp_path / "model.ts") in result.files
    # ONNX names the inputs and outputs after the spec's, and onnxruntime agrees with torch
    import onnx

    graph = onnx.load(str(tmp_path / "model.onnx")).graph
    assert [i.name for i in graph.input] == ["image", "meta"]
    assert [o.name for o in graph.output] == ["logits", "embedding"]
    assert any("onnxruntime output equals torch's" in note for note in result.notes)


def test_a_layer_and_an_output_may_read_any_input() -> None:
    p = netspec.plan(
        "inputs: {a: [4], b: [4]}\noutputs: [b, sum]\nlayers:\n  - add: {from: [a, b], name: sum}\n"
    )
    assert p.outputs == ("b", "sum")
    model = netspec.build_model(
        "inputs: {a: [4], b: [4]}\noutputs: [b, sum]\nlayers:\n  - add: {from: [a, b], name: sum}\n"
    )
    a, b = torch.ones(1, 4), torch.full((1, 4), 2.0)
    got_b, got_sum = model(a, b)
    assert torch.equal(got_b, b)
    assert torch.equal(got_sum, a + b)
    assert p.layers[0].inputs == ("a", "b")


def test_an_output_is_not_reported_as_unused() -> None:
    spec = netspec.load_spec(TWO_TOWERS)
    assert [d.code for d in warnings(spec, netspec.plan(spec))] == []
    without = TWO_TOWERS.replace("outputs: [logits, embedding]\n", "")
    spec = netspec.load_spec(without)
    assert [d.code for d in warnings(spec, netspec.plan(spec))] == []  # concat feeds logits
    dead = TWO_TOWERS.replace("outputs: [logits, embedding]", "outputs: [meta_proj]")
    spec = netspec.load_spec(dead)
    unused = {d.message.split("'")[1] for d in warnings(spec, netspec.plan(spec))}
    assert unused == {"logits"}


@pytest.mark.parametrize(
    ("text", "code", "message", "line"),
    [
        (
            "input: [4]\ninputs: {a: [4]}\nlayers: [relu]\n",
            "invalid-value",
            "not both",
            2,
        ),
        ("inputs: {class: [4]}\nlayers: [relu]\n", "invalid-name", "cannot name an input", 1),
        ("inputs: {torch: [4]}\nlayers: [relu]\n", "invalid-name", "cannot name an input", 1),
        ("inputs: {_x: [4]}\nlayers: [relu]\n", "invalid-name", "cannot name an input", 1),
        ("inputs: {}\nlayers: [relu]\n", "invalid-value", "mapping of input names", 1),
        ("inputs: {a: null}\nlayers: [relu]\n", "missing-field", "needs its shape", 1),
        (
            "inputs:\n  a: [4]\n  b: {shape: [0]}\nlayers: [relu]\n",
            "invalid-value",
            "positive int",
            3,
        ),
        (
            "inputs: {a: [4]}\nlayers:\n  - dense: {units: 2, name: a}\n",
            "duplicate-name",
            "already used",
            3,
        ),
        (
            "inputs: {a: [4]}\noutputs: [dense_9]\nlayers: [dense: 2]\n",
            "unknown-reference",
            "did you mean 'dense_0'",
            2,
        ),
        ("input: {shape: [4], pad_id: 0}\nlayers: [relu]\n", "invalid-value", "int64", 1),
        ("inputs: {a: [4]}\noutputs: []\nlayers: [relu]\n", "invalid-value", "outputs needs", 2),
        (
            "inputs: {a: [4]}\nlayers: [{dense: 2, from: input}]\n",
            "unknown-reference",
            "no layer named 'input'",
            2,
        ),
    ],
)
def test_mistakes_in_inputs_and_outputs_point_at_their_line(
    text: str, code: str, message: str, line: int
) -> None:
    diags = error(text).diagnostics
    found = [d for d in diags if d.code == code and message in d.message]
    assert found, [(d.code, d.message) for d in diags]
    assert found[0].location.line == line


def test_meta_device_build_counts_macs_of_every_branch() -> None:
    p = netspec.plan(TWO_TOWERS)
    with torch.device("meta"):
        model = netspec.build_model(TWO_TOWERS)
        with FlopCounterMode(display=False) as counter:
            model(torch.empty(1, 3, 8, 8), torch.empty(1, 5))
    assert p.macs == counter.get_total_flops() // 2


# --- tied weights ------------------------------------------------------------------------------


def test_a_tied_weight_is_counted_once_and_is_one_tensor() -> None:
    p = netspec.plan(TIED)
    model = netspec.build_model(TIED, seed=0)
    assert model.logits.weight is model.tok.weight
    unique = sum(t.numel() for t in model.parameters())  # parameters() yields each once
    assert p.total_params == unique == 50 * 8 + (8 * 8 + 8) + 50
    assert p.layers[-1].params == 50  # the head's bias; its weight is tok's
    assert p.layers[-1].tie == "tok"
    assert tied_keys(model) == {"logits.weight"}


def test_a_tie_survives_weight_files_model_py_and_loading(tmp_path: pathlib.Path) -> None:
    spec = netspec.load_spec(TIED)
    build_directory(spec, tmp_path, seed=0)
    saved = load_file(str(tmp_path / "model.safetensors"))
    assert "tok.weight" in saved
    assert "logits.weight" not in saved  # saved once
    loaded = netspec.load_model(tmp_path)
    assert loaded.logits.weight is loaded.tok.weight
    namespace = runpy.run_path(str(tmp_path / "model.py"))
    ejected = namespace["TinyLm"]()
    assert ejected.logits.weight is ejected.tok.weight
    missing, unexpected = ejected.load_state_dict(saved, strict=False)
    assert (missing, unexpected) == (["logits.weight"], [])
    tokens = torch.randint(0, 50, (2, 7))
    torch.testing.assert_close(ejected.eval()(tokens), loaded(tokens))


def test_training_moves_one_shared_tensor() -> None:
    model = netspec.build_model(TIED, seed=0)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    tokens = torch.randint(0, 50, (4, 5))
    loss = model(tokens).logsumexp(-1).mean()
    loss.backward()
    optimizer.step()
    assert model.logits.weight is model.tok.weight
    assert len(list(model.parameters())) == len({id(t) for t in model.parameters()})


def test_summary_and_graph_show_the_tie() -> None:
    from netspec.render.graph import dot, mermaid
    from netspec.render.summary import summary_json, summary_text

    p = netspec.plan(TIED)
    row = summary_text(p, 1).splitlines()[5]
    assert "50 (tied to tok)" in row
    assert summary_json(p, 1)["layers"][-1]["tied_to"] == "tok"
    assert 'n_tok -.->|"tied weight"| n_logits' in mermaid(p)
    assert 'n_tok -> n_logits [style=dashed, label="tied weight"];' in dot(p)


@pytest.mark.parametrize(
    ("layers", "message"),
    [
        ("  - dense: {units: 49, tie: tok}\n", "shape differs"),
        ("  - relu: {name: r}\n  - dense: {units: 8, tie: r}\n", "no weight to share"),
        ("  - dense: {units: 50, tie: tokk}\n", "did you mean 'tok'"),
        ("  - dense: {units: 50, tie: later}\n  - relu: {name: later}\n", "defined later"),
    ],
)
def test_a_bad_tie_points_at_its_line(layers: str, message: str) -> None:
    text = (
        "input: {shape: [4], dtype: int64}\nlayers:\n"
        "  - embedding: {num_embeddings: 50, embedding_dim: 8, name: tok}\n" + layers
    )
    (d,) = error(text).diagnostics
    assert message in d.message
    assert d.location.line == 4 or d.location.line == 5
    assert d.path[-1] == "tie"


def test_a_tie_inside_a_block_names_the_layer_in_its_scope() -> None:
    text = """
input: {shape: [4], dtype: int64}
blocks:
  lm:
    layers:
      - embedding: {num_embeddings: 20, embedding_dim: 6, name: tok}
      - dense: {units: 20, tie: tok, bias: false}
layers:
  - lm
"""
    p = netspec.plan(text)
    assert p.layers[-1].tie == "lm_0.tok"
    assert p.total_params == 20 * 6
    model = netspec.build_model(text)
    assert model.get_submodule("lm_0.dense_0").weight is model.get_submodule("lm_0.tok").weight


def test_cli_summary_json_of_several_inputs_never_imports_torch(tmp_path: pathlib.Path) -> None:
    spec = tmp_path / "towers.yaml"
    spec.write_text(TWO_TOWERS, encoding="utf-8")
    code = (
        "import sys, json\n"
        "from netspec.cli.app import app\n"
        "try:\n"
        f"    app(['summary', {str(spec)!r}, '--json'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert [o["name"] for o in data["outputs"]] == ["logits", "embedding"]


def test_summary_table_of_several_inputs_and_a_tie_golden() -> None:
    from netspec.render.summary import summary_text

    text = summary_text(netspec.plan(TWO_TOWERS), 1) + "\n" + summary_text(netspec.plan(TIED), 1)
    path = GOLDEN / "multi_io.summary.txt"
    if os.environ.get("NETSPEC_UPDATE_GOLDENS"):
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")


def test_exports_keep_a_tied_model_working(tmp_path: pathlib.Path) -> None:
    spec = netspec.load_spec(TIED.replace("[T]", "[6]"))
    build_directory(spec, tmp_path, seed=0, formats=("torchscript", "export"))
    model = netspec.load_model(tmp_path)
    tokens = torch.randint(0, 50, (3, 6))
    want = model(tokens)
    torch.testing.assert_close(torch.jit.load(str(tmp_path / "model.ts"))(tokens), want)
    program = torch.export.load(str(tmp_path / "model.pt2"))
    torch.testing.assert_close(program.module()(tokens), want)
    # the exported program still holds one shared tensor under both names
    state = program.state_dict
    assert state["logits.weight"].data_ptr() == state["tok.weight"].data_ptr()


# --- arguments that name a layer: center_crop's `like` --------------------------------------

CROP = """
input: [1, 12, 12]
layers:
  - conv2d: {filters: 2, kernel_size: 3, name: skip}
  - conv2d: {filters: 2, kernel_size: 5, name: deep}
  - center_crop: {from: skip, like: deep}
"""


def test_like_becomes_the_second_input_and_survives_the_resolved_spec(
    tmp_path: pathlib.Path,
) -> None:
    p = netspec.plan(CROP)
    assert p.layers[-1].inputs == ("skip", "deep")
    assert p.output.shape == (2, 6, 6)
    build_directory(netspec.load_spec(CROP), tmp_path, seed=0)
    model = netspec.load_model(tmp_path)  # rebuilt from spec.yaml, where `like` is in `from`
    x = torch.randn(2, 1, 12, 12)
    skip = model.skip(x)
    torch.testing.assert_close(model(x), skip[:, :, 2:8, 2:8])  # offset (10 - 6) // 2


@pytest.mark.parametrize(
    ("like", "code", "message"),
    [
        ("dep", "unknown-reference", "did you mean 'deep'"),
        ("[skip, deep]", "invalid-value", "like names one earlier layer"),
        ("later", "forward-reference", "defined later"),
    ],
)
def test_a_bad_like_points_at_its_value(like: str, code: str, message: str) -> None:
    text = CROP.replace("like: deep}", f"like: {like}}}") + "  - relu: {name: later}\n"
    (d,) = error(text).diagnostics
    assert (d.code, d.location.line) == (code, 6)
    assert message in d.message


# --- review findings: each a user mistake or edge that must stay a clean diagnostic ----------


@pytest.mark.parametrize(
    ("text", "code", "message"),
    [
        (
            "input: {shape: [4], dtype: int64}\nlayers:\n"
            "  - embedding: {num_embeddings: 9, embedding_dim: 4, name: tok}\n"
            "  - dense: {units: 9, tie: input}\n",
            "shape",
            "an input, which has no weight",
        ),
        (
            "input: {shape: [4], dtype: int64, pad_id: 50}\nlayers:\n"
            "  - embedding: {num_embeddings: 10, embedding_dim: 4}\n",
            "invalid-value",
            "pad_id 50 is no token",
        ),
        (
            "inputs: {a: [8], b: [16]}\nlayers:\n"
            "  - dense: {units: 4, from: b}\n"
            '  - dense: {units: "${input.shape[0]}"}\n',
            "bad-expression",
            "has no `input` at top level",
        ),
        (
            "inputs: {a: [8], b: [4]}\nlayers:\n  - dense: {units: 8, name: b, repeat: 2}\n",
            "duplicate-name",
            "'b' is already used",
        ),
        ("inputs: {input: [8]}\nlayers: [relu]\n", "invalid-name", "'input' names a spec's"),
        (
            "input: [4]\nblocks:\n  blk: {layers: [dense: 4, relu]}\n"
            "layers: [{blk: null, repeat: 2}]\noutputs: [blk_1, blk_1.relu_0]\n",
            "invalid-value",
            "outputs names 'blk_1.relu_0' twice",
        ),
    ],
)
def test_edges_found_in_review_are_diagnostics(text: str, code: str, message: str) -> None:
    diags = error(text).diagnostics
    assert any(d.code == code and message in d.message for d in diags), [
        (d.code, d.message) for d in diags
    ]


def test_outputs_take_vars_like_from() -> None:
    p = netspec.plan(
        "vars: {head: a}\ninput: [4]\noutputs: ['${head}']\nlayers:\n"
        "  - dense: {units: 3, name: a}\n  - dense: 2\n"
    )
    assert p.outputs == ("a",)


def test_an_input_nothing_reads_is_a_warning() -> None:
    text = "inputs: {x: [8], z: [4]}\nlayers: [dense: 2]\n"
    spec = netspec.load_spec(text)
    (d,) = warnings(spec, netspec.plan(spec))
    assert (d.code, d.severity, d.location.line) == ("unused-input", "warning", 1)


def test_a_mask_dropped_before_attention_is_a_warning() -> None:
    text = """
input: {shape: [T], dtype: int64, pad_id: 0}
layers:
  - embedding: {num_embeddings: 20, embedding_dim: 8, name: e1}
  - embedding: {num_embeddings: 20, embedding_dim: 8, from: input, name: e2}
  - concat: {from: [e1, e2], dim: -1}
  - transformer_encoder: {num_heads: 2}
  - sequence_pool
"""
    spec = netspec.load_spec(text)
    (d,) = warnings(spec, netspec.plan(spec))
    assert (d.code, d.location.line) == ("padding-dropped", 7)
    kept = text.replace("concat: {from: [e1, e2], dim: -1}", "add: {from: [e1, e2]}")
    spec = netspec.load_spec(kept)
    assert warnings(spec, netspec.plan(spec)) == []


def test_onnx_names_an_output_that_is_also_an_input_apart(tmp_path: pathlib.Path) -> None:
    import onnx

    text = "inputs: {x: [8], y: [8]}\noutputs: [y, dense_0]\nlayers: [dense: {units: 4, from: x}]\n"
    build_directory(netspec.load_spec(text), tmp_path, seed=0, formats=("onnx",))
    graph = onnx.load(str(tmp_path / "model.onnx")).graph
    assert [o.name for o in graph.output] == ["y_output", "dense_0"]
