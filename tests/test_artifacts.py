"""netspec build: standalone model.py, weights, resolved spec, exports, and load_model."""

from __future__ import annotations

import importlib.util
import json
import pathlib
import subprocess
import sys
import textwrap

import pytest
import torch
import yaml
from example_specs import ONE_NETWORK
from safetensors.torch import load_file, save_file
from typer.testing import CliRunner

import netspec
from netspec.backend.artifacts import build_directory, example_batch, tied_keys
from netspec.cli.app import app
from netspec.errors import SpecError

ROOT = pathlib.Path(__file__).parent.parent
SPECS = ONE_NETWORK
SMALL = ROOT / "specs" / "mlp_iris.yaml"

# Runs in a fresh interpreter where `import netspec` fails: model.py must need torch only.
RUN_STANDALONE = textwrap.dedent(
    """
    import importlib.util, json, sys
    sys.modules["netspec"] = None  # any import of netspec now raises ImportError
    import torch
    from safetensors.torch import load_file, save_file
    for job in json.loads(sys.argv[1]):
        spec = importlib.util.spec_from_file_location("model", job["dir"] + "/model.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        model = getattr(module, job["cls"])()
        # a tied weight is stored once, under its owner's name: strict=False, then only
        # the tied names may be missing
        result = model.load_state_dict(load_file(job["dir"] + "/model.safetensors"), strict=False)
        assert not result.unexpected_keys, result.unexpected_keys
        assert set(result.missing_keys) == set(job["tied"]), result.missing_keys
        x = load_file(job["dir"] + "/io.safetensors")["x"]
        with torch.no_grad():
            save_file({"y": model.eval()(x)}, job["dir"] + "/standalone.safetensors")
    """
)


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pathlib.Path]:
    out = {}
    for path in SPECS:
        spec = netspec.load_spec(path)
        folder = tmp_path_factory.mktemp(path.stem)
        build_directory(spec, folder, seed=0, origin=path.name)
        out[path.stem] = folder
    return out


def test_standalone_model_py_matches_build_model(builds: dict[str, pathlib.Path]) -> None:
    jobs, expected = [], {}
    for stem, folder in builds.items():
        spec = netspec.load_spec(ROOT / "specs" / f"{stem}.yaml")
        x = example_batch(spec, netspec.plan(spec), batch=3)
        save_file({"x": x}, str(folder / "io.safetensors"))
        model = netspec.build_model(spec, seed=0).eval()
        with torch.no_grad():
            expected[stem] = model(x)
        source = (folder / "model.py").read_text()
        assert "netspec" not in source.split('"""', 2)[2], "model.py must not use netspec"
        cls = type(model).__name__
        assert f"class {cls}(nn.Module):" in source
        jobs.append({"dir": str(folder), "cls": cls, "tied": sorted(tied_keys(model))})
    proc = subprocess.run(
        [sys.executable, "-c", RUN_STANDALONE, json.dumps(jobs)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    for stem, folder in builds.items():
        got = load_file(str(folder / "standalone.safetensors"))["y"]
        torch.testing.assert_close(got, expected[stem], atol=1e-5, rtol=1e-5)


def test_model_py_reads_like_hand_written_code(builds: dict[str, pathlib.Path]) -> None:
    source = (builds["resnet_branches"] / "model.py").read_text()
    assert "self.stem = nn.Conv2d(1, 16, (3, 3), padding='same')" in source
    assert "residual_0 = stem_out + residual_0_concat_0  # (N, 16, 8, 8)" in source
    assert "torch.cat([residual_0_narrow, residual_0_wide], dim=1)" in source
    assert "class SamePadConv2d(nn.Conv2d):" in source
    assert "type: ignore" not in source
    lstm = (builds["lstm_classifier"] / "model.py").read_text()
    assert "# x: (N, T, 8)" in lstm


def test_same_state_dict_keys_and_deterministic_weights(
    builds: dict[str, pathlib.Path], tmp_path: pathlib.Path
) -> None:
    for stem, folder in builds.items():
        model = netspec.build_model(ROOT / "specs" / f"{stem}.yaml", seed=0)
        weights = load_file(str(folder / "model.safetensors"))
        stored = set(model.state_dict()) - tied_keys(model)  # a tied weight once, the owner's
        assert sorted(weights) == sorted(stored)  # safetensors stores keys sorted
        assert all(torch.equal(weights[k], model.state_dict()[k]) for k in stored)
    build_directory(netspec.load_spec(SMALL), tmp_path, seed=0)
    again = (tmp_path / "model.safetensors").read_bytes()
    assert again == (builds["mlp_iris"] / "model.safetensors").read_bytes()


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.stem)
def test_resolved_spec_rebuilds_the_same_model(
    path: pathlib.Path, builds: dict[str, pathlib.Path]
) -> None:
    text = (builds[path.stem] / "spec.yaml").read_text()
    data = yaml.safe_load(text)
    assert "vars" not in data
    assert "blocks" not in data
    dumped = json.dumps(data["layers"])
    assert "${" not in dumped
    assert '"repeat"' not in dumped
    original, resolved = netspec.load_spec(path), netspec.load_spec(text)
    assert [(x.name, x.type, x.inputs, x.trainable) for x in resolved.layers] == [
        (x.name, x.type, x.inputs, x.trainable) for x in original.layers
    ]
    assert [x.config for x in resolved.layers if x.type != "residual"] == [
        x.config for x in original.layers if x.type != "residual"
    ]
    a = netspec.build_model(original, seed=5).state_dict()
    b = netspec.build_model(resolved, seed=5).state_dict()
    assert list(a) == list(b)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_load_model_gives_the_built_weights(builds: dict[str, pathlib.Path]) -> None:
    folder = builds["digits_cnn"]
    model = netspec.load_model(folder)
    assert not model.training
    weights = load_file(str(folder / "model.safetensors"))
    assert all(torch.equal(weights[k], v) for k, v in model.state_dict().items())


def test_load_model_of_a_folder_that_is_not_a_build(tmp_path: pathlib.Path) -> None:
    with pytest.raises(SpecError, match=r"spec\.yaml is missing"):
        netspec.load_model(tmp_path)


def test_cli_build_writes_every_artifact(tmp_path: pathlib.Path) -> None:
    result = CliRunner().invoke(app, ["build", str(SMALL), "-o", str(tmp_path), "--seed", "1"])
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["model.py", "model.safetensors", "spec.yaml", "summary.txt"]
    assert (tmp_path / "summary.txt").read_text().startswith("mlp_iris: ")


def test_cli_build_budget_and_unknown_format(tmp_path: pathlib.Path) -> None:
    result = CliRunner().invoke(
        app, ["build", str(SMALL), "-o", str(tmp_path), "--max-params", "10"]
    )
    assert result.exit_code == 2
    assert "error[budget]" in result.stderr
    result = CliRunner().invoke(app, ["build", str(SMALL), "-o", str(tmp_path), "-f", "tflite"])
    assert result.exit_code == 2
    assert "unknown export format 'tflite'" in result.stderr
    assert not any(tmp_path.iterdir()), "nothing is written when the request is refused"


def test_missing_exporter_names_the_extra(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "onnxscript" else real(name, *a),
    )
    with pytest.raises(SpecError, match=r'pip install "netspec\[onnx\]"'):
        build_directory(netspec.load_spec(SMALL), tmp_path, formats=["onnx"])


@pytest.mark.heavy
def test_every_export_format_round_trips(tmp_path: pathlib.Path) -> None:
    spec = netspec.load_spec(ROOT / "specs" / "digits_cnn.yaml")
    result = build_directory(spec, tmp_path, seed=0, formats=["torchscript", "export", "onnx"])
    assert any("onnxruntime output equals torch's" in note for note in result.notes)
    model = netspec.build_model(spec, seed=0).eval()
    x = example_batch(spec, netspec.plan(spec), batch=5)  # another batch size than traced
    with torch.no_grad():
        want = model(x)
        scripted = torch.jit.load(str(tmp_path / "model.ts"))
        torch.testing.assert_close(scripted(x), want, atol=1e-5, rtol=1e-5)
        program = torch.export.load(str(tmp_path / "model.pt2"))
        torch.testing.assert_close(program.module()(x), want, atol=1e-5, rtol=1e-5)
    import onnxruntime

    session = onnxruntime.InferenceSession(str(tmp_path / "model.onnx"))
    (got,) = session.run(None, {"x": x.numpy()})
    torch.testing.assert_close(torch.from_numpy(got), want, atol=1e-5, rtol=1e-5)


@pytest.mark.heavy
def test_torch_compile_of_a_built_model_matches() -> None:
    model = netspec.build_model(SMALL, seed=0).eval()
    compiled = torch.compile(model)
    x = torch.randn(8, 4)
    with torch.no_grad():
        torch.testing.assert_close(compiled(x), model(x), atol=1e-5, rtol=1e-5)
