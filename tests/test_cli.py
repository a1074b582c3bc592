"""The CLI: exit codes, the summary table (golden), JSON, schema, and no torch import."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import pytest
import torch
from typer.testing import CliRunner

import netspec
from netspec.cli.app import app
from netspec.render.schema import schema_text

ROOT = pathlib.Path(__file__).parent.parent
GOLDEN = ROOT / "tests" / "golden"
SPEC = GOLDEN / "small_cnn.yaml"
runner = CliRunner()


def _golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("NETSPEC_UPDATE_GOLDENS"):
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")


def test_validate_ok() -> None:
    result = runner.invoke(app, ["validate", str(SPEC)])
    assert result.exit_code == 0
    assert "small_cnn, 7 layers" in result.stdout


def test_validate_json_reports_errors() -> None:
    result = runner.invoke(app, ["validate", "--json", str(GOLDEN / "missing.yaml")])
    assert result.exit_code == 2
    payload = json.loads(result.stdout)
    assert payload["valid"] is False
    assert payload["errors"][0]["code"] == "file-not-found"


def test_validate_max_params_budget() -> None:
    result = runner.invoke(app, ["validate", "--max-params", "100", str(SPEC)])
    assert result.exit_code == 2
    assert "over the budget of 100" in result.stderr


def test_summary_table_golden() -> None:
    result = runner.invoke(app, ["summary", str(SPEC)])
    assert result.exit_code == 0
    _golden("small_cnn.summary.txt", result.stdout)


def test_summary_json_matches_torch() -> None:
    result = runner.invoke(app, ["summary", "--json", "--batch-size", "4", str(SPEC)])
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    model = netspec.build_model(SPEC)
    out = model(torch.zeros(2, 1, 8, 8))
    assert data["output_shape"] == [None, *out.shape[1:]]
    assert data["input_shape"] == [None, 1, 8, 8]
    assert data["total_params"] == sum(p.numel() for p in model.parameters())
    assert data["non_trainable_params"] == 4 * 8 + 4
    assert data["trainable_params"] + data["non_trainable_params"] == data["total_params"]
    assert data["batch_size"] == 4
    assert [layer["name"] for layer in data["layers"]] == [
        "conv2d_0",
        "conv2d_1",
        "residual_0.conv2d_0",
        "residual_0.relu_0",
        "residual_0",
        "conv2d_2",
        "dense_0",
    ]
    assert data["layers"][4]["inputs"] == ["conv2d_1", "residual_0.relu_0"]
    assert {"name", "type", "inputs", "output_shape", "params", "macs"} <= set(data["layers"][0])


def test_summary_of_bad_spec_exits_2_without_traceback() -> None:
    result = runner.invoke(app, ["summary", str(ROOT / "tests/bad_specs/unknown_layer.yaml")])
    assert result.exit_code == 2
    assert "did you mean 'dense'" in result.stderr
    assert "Traceback" not in result.output


def test_committed_schema_is_current() -> None:
    committed = (ROOT / "netspec.schema.json").read_text(encoding="utf-8")
    assert committed == schema_text(), "run: netspec schema -o netspec.schema.json"
    result = runner.invoke(app, ["schema"])
    schema = json.loads(result.stdout)
    one, several = schema["oneOf"]  # one network (input or inputs, and layers), or several
    assert one["required"] == ["layers"]
    assert one["oneOf"] == [{"required": ["input"]}, {"required": ["inputs"]}]
    assert several["required"] == ["networks"]


def test_every_example_spec_has_the_schema_modeline() -> None:
    for path in sorted((ROOT / "specs").glob("*.yaml")):
        first = path.read_text(encoding="utf-8").splitlines()[0]
        assert first == "# yaml-language-server: $schema=../netspec.schema.json", path


@pytest.mark.parametrize(
    "command",
    [
        ["validate", str(SPEC)],
        ["summary", str(SPEC)],
        ["summary", "--json", str(SPEC)],
        ["schema"],
        ["graph", str(SPEC)],
        ["graph", "--format", "dot", str(ROOT / "specs" / "resnet_branches.yaml")],
    ],
)
def test_validate_summary_schema_graph_never_import_torch(command: list[str]) -> None:
    code = (
        "import sys\nfrom netspec.cli.app import main\n"
        f"try:\n    main({command!r})\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
        "bad = sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.'))\n"
        "assert not bad, bad[:5]\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert proc.returncode == 0, proc.stderr


def test_python_dash_m_and_version() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "netspec", "--version"], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0
    assert proc.stdout.strip() == f"netspec {netspec.__version__}"


def test_help_explains_commands() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for word in ("validate", "summary", "schema"):
        assert word in result.stdout


def test_spec_from_stdin_and_unused_layer_warning() -> None:
    text = (
        "input: [4]\nlayers:\n  - dense: {units: 3, name: dead}\n"
        "  - dense: {units: 2, from: input}\n"
    )
    result = runner.invoke(app, ["validate", "-"], input=text)
    assert result.exit_code == 0
    assert result.stderr.startswith("<stdin>:3:5: warning[unused-layer]: layers[0]: the output")
    payload = runner.invoke(app, ["validate", "--json", "-"], input=text).stdout
    assert json.loads(payload)["warnings"][0]["code"] == "unused-layer"


def test_symbolic_length_into_positional_encoding_warns_in_validate_and_summary() -> None:
    text = "input: [T, 8]\nlayers:\n  - positional_encoding: {kind: learned, max_len: 16}\n"
    for command in ("validate", "summary"):
        result = runner.invoke(app, [command, "-"], input=text)
        assert result.exit_code == 0
        assert result.stderr.startswith(
            "<stdin>:3:5: warning[runtime-check]: layers[0]: layer 'positional_encoding_0' "
            "(positional_encoding): the sequence length T is symbolic, so T <= max_len 16 is "
            "only checked when the model runs: a longer sequence raises an error there\n"
            "  hint: set max_len to the longest sequence the model will see (now 16)\n"
        )


def test_budget_error_names_the_file_and_zero_means_no_limit() -> None:
    result = runner.invoke(app, ["validate", "--max-params", "10", str(SPEC)])
    assert result.stderr.startswith(
        f"{SPEC}: error[budget]: small_cnn has 1,326 parameters "
        "(5.18 KiB of float32 weights), over the budget of 10"
    )
    assert runner.invoke(app, ["validate", "--max-params", "0", str(SPEC)]).exit_code == 0


def test_train_escapes_the_run_directory_named_after_the_spec(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The default run directory holds the spec's name; a terminal must not get its ESC
    # (color=True: click would otherwise strip ANSI sequences itself, as it does off a tty).
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        'name: "a\\e[2Jb"\ninput: [4]\nlayers:\n  - dense: 3\n'
        "data: {source: iris}\ntrain: {epochs: 1}\n",
        encoding="utf-8",
    )
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["train", str(spec), "--device", "cpu"], color=True)
    assert result.exit_code == 0, result.output
    assert "run directory: runs/a\\x1b[2Jb-" in result.stdout
    assert "\x1b" not in result.stdout


def test_a_reader_that_stops_reading_is_no_error(tmp_path: pathlib.Path) -> None:
    """`netspec build ... | head -1`: the command stops quietly when its reader goes away."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "netspec",
            "build",
            str(ROOT / "specs" / "mlp_iris.yaml"),
            "-o",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None
    assert proc.stderr is not None
    proc.stdout.read(5)
    proc.stdout.close()  # the next `wrote ...` line meets a closed pipe
    err = proc.stderr.read().decode()
    assert proc.wait() == 0, err
    assert "internal error" not in err
