"""Several named inputs and outputs through the data, training, evaluation and predict:
one npz array per input, per-input standardization, ``model(*xs)``, the loss on the first
output, and the diagnostics (at their YAML line) when the data do not fit."""

from __future__ import annotations

import csv
import io
import json
import pathlib

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from typer.testing import CliRunner

import netspec
from netspec.backend.build import build_model
from netspec.cli.app import app
from netspec.data import (
    Dataset,
    Split,
    Standardizer,
    Standardizers,
    input_standardizers,
    load_data,
)
from netspec.errors import ERROR_CODES, SpecError
from netspec.spec.load import load_spec
from netspec.training import NullReporter, TrainingInterrupted, evaluate, predict, train
from netspec.training.distributed import has_unused_parameters
from netspec.training.outputs import FirstOutput

runner = CliRunner()

TWO_INPUTS = """\
name: pairs
inputs:
  a: [4]
  b: [3]
layers:
  - dense: {units: 16, activation: relu, from: a, name: ha}
  - dense: {units: 16, activation: relu, from: b, name: hb}
  - concat: {from: [ha, hb]}
  - dense: {units: 16, activation: relu}
  - dense: {units: 1, name: head}
DATA
train: {task: regression, epochs: 2, batch_size: 16, optimizer: {type: adam, lr: 0.01}}
"""
NPZ = "data: {source: npz, path: pairs.npz}"


def arrays(n: int = 200, seed: int = 0) -> dict[str, np.ndarray]:
    """Inputs on different scales (so their statistics differ) and a target that needs both."""
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(n, 4)) * 3.0 + 5.0
    b = rng.normal(size=(n, 3)) * 10.0 - 2.0
    y = (a[:, 0] - 5.0) / 3.0 + (b[:, 1] + 2.0) / 10.0
    return {"a": a, "b": b, "y": y}


def write(
    tmp_path: pathlib.Path,
    data: str = NPZ,
    text: str = TWO_INPUTS,
    saved: dict[str, np.ndarray] | None = None,
) -> pathlib.Path:
    np.savez(tmp_path / "pairs.npz", **(arrays() if saved is None else saved))
    path = tmp_path / "spec.yaml"
    path.write_text(text.replace("DATA", data), encoding="utf-8")
    return path


def spec_error(spec: pathlib.Path, match: str, *, loading: bool = False) -> SpecError:
    """The SpecError of ``load_spec`` (or, ``loading``, of ``load_data``) matching ``match``."""
    if loading:
        loaded = load_spec(spec)
        with pytest.raises(SpecError, match=match) as info:
            load_data(loaded)
    else:
        with pytest.raises(SpecError, match=match) as info:
            load_spec(spec)
    for d in info.value.diagnostics:
        assert d.code in ERROR_CODES
    return info.value


def line_of(path: pathlib.Path, text: str) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(i for i, line in enumerate(lines, 1) if text in line)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """One run of the two-input model (shared: the tests below only read it)."""
    folder = tmp_path_factory.mktemp("pairs")
    result = train(write(folder), out=folder / "run")
    assert len(result.history) == 2
    return result.run_dir


# --- data -------------------------------------------------------------------------------------


def test_npz_feeds_each_input_its_array_with_its_own_statistics(tmp_path: pathlib.Path) -> None:
    data = load_data(load_spec(write(tmp_path)))
    assert isinstance(data.train.x, tuple)
    a, b = data.train.x
    assert a.shape == (160, 4)
    assert b.shape == (160, 3)
    assert a.dtype == b.dtype == torch.float32
    assert isinstance(data.standardizer, Standardizers)
    scale_a, scale_b = data.standardizer.get("a"), data.standardizer.get("b")
    assert scale_a is not None
    assert scale_b is not None
    # Each input is scaled with its own training-split statistics: mean 0, std 1.
    assert np.allclose(scale_a.mean, 5.0, atol=0.8)
    assert np.allclose(scale_b.mean, -2.0, atol=2.5)
    assert torch.allclose(a.mean(0), torch.zeros(4), atol=1e-5)
    assert torch.allclose(b.std(0, correction=0), torch.ones(3), atol=1e-4)
    assert "inputs a (4,), b (3,)" in data.describe()


def test_token_inputs_are_never_standardized(tmp_path: pathlib.Path) -> None:
    text = """\
name: mixed
inputs:
  a: [4]
  t: {shape: [3], dtype: int64}
layers:
  - embedding: {num_embeddings: 10, embedding_dim: 2, from: t}
  - flatten
  - concat: {from: [a, flatten_0]}
  - dense: 1
DATA
train: {task: regression, epochs: 1}
"""
    rng = np.random.default_rng(0)
    saved = {
        "a": rng.normal(size=(40, 4)) + 3,
        "t": rng.integers(0, 10, size=(40, 3)),
        "y": rng.normal(size=40),
    }
    data = load_data(load_spec(write(tmp_path, text=text, saved=saved)))
    assert isinstance(data.train.x, tuple)
    assert data.train.x[1].dtype == torch.int64
    assert isinstance(data.standardizer, Standardizers)
    assert set(data.standardizer.by_input) == {"a"}
    result = train(load_spec(tmp_path / "spec.yaml"), out=tmp_path / "run", data=data)
    assert result.epochs_run == 1
    # Token ids past an embedding are caught before training, naming the input.
    saved["t"][0, 0] = 12
    np.savez(tmp_path / "pairs.npz", **saved)
    with pytest.raises(SpecError, match=r"input 't'.s token ids run from 0 to 12"):
        train(tmp_path / "spec.yaml", out=tmp_path / "run2")


def test_a_missing_array_lists_the_arrays_present(tmp_path: pathlib.Path) -> None:
    saved = arrays()
    del saved["b"]
    path = write(tmp_path, saved=saved)
    (d,) = spec_error(path, "has no array 'b'", loading=True).diagnostics
    assert d.path == ("data", "path")
    assert d.location.line == line_of(path, "source: npz")
    assert "pairs.npz has no array 'b'" in d.message
    assert d.expected == "one of: a, y"
    assert any("named after it (a, b)" in h for h in d.hints)


def test_arrays_of_different_lengths_are_named_with_their_counts(tmp_path: pathlib.Path) -> None:
    saved = arrays()
    saved["b"] = saved["b"][:150]
    error = spec_error(write(tmp_path, saved=saved), "different numbers", loading=True)
    assert "different numbers of samples: a 200, b 150, y 200" in str(error)
    assert error.diagnostics[0].path == ("data", "path")


def test_a_source_of_one_array_is_refused_at_data_source(tmp_path: pathlib.Path) -> None:
    path = write(tmp_path, data="data:\n  source: digits")
    (d,) = spec_error(path, "gives one array").diagnostics
    assert d.path == ("data", "source")
    assert d.location.line == line_of(path, "source: digits")
    assert "gives one array of samples, but the spec has 2 inputs (a, b)" in d.message
    assert any("source: npz" in h and "named a, b" in h for h in d.hints)
    # `netspec validate` says the same, at that line, without a traceback.
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 2
    assert f"spec.yaml:{line_of(path, 'source: digits')}:11: error[invalid-value]" in result.stderr
    assert "Traceback" not in result.output


def test_npy_and_x_key_are_refused_with_several_inputs(tmp_path: pathlib.Path) -> None:
    npy = write(tmp_path, data="data: {source: npz, path: x.npy}")
    (d,) = spec_error(npy, "holds one array").diagnostics
    assert d.path == ("data", "path")
    assert "an .npy file holds one array, but the spec has 2 inputs (a, b)" in d.message
    keyed = write(tmp_path, data="data: {source: npz, path: pairs.npz, x_key: features}")
    (d,) = spec_error(keyed, "x_key names the one array").diagnostics
    assert d.path == ("data", "x_key")


def test_flip_and_autoencoder_are_refused_noise_trains(tmp_path: pathlib.Path) -> None:
    flip = write(tmp_path, data="data: {source: npz, path: pairs.npz, augment: {flip: true}}")
    (d,) = spec_error(flip, "flip and crop_padding").diagnostics
    assert d.path == ("data", "augment")
    assert "one image input" in d.message
    auto = TWO_INPUTS.replace("task: regression", "task: autoencoder")
    (d,) = spec_error(write(tmp_path, text=auto), "autoencoder reconstructs").diagnostics
    assert d.path == ("train", "task")
    noisy = write(tmp_path, data="data: {source: npz, path: pairs.npz, augment: {noise: 0.1}}")
    result = train(noisy, out=tmp_path / "run")
    assert all(np.isfinite(row["train_loss"]) for row in result.history)


def test_data_given_as_one_tensor_for_two_inputs_is_refused(tmp_path: pathlib.Path) -> None:
    spec = load_spec(write(tmp_path))
    data = load_data(spec)
    assert isinstance(data.train.x, tuple)
    one = Split(data.train.x[0], data.train.y)
    with pytest.raises(SpecError, match=r"has 2 inputs \(a, b\), but the data give 1 tensor"):
        train(spec, out=tmp_path / "run", data=_with_train(data, one))


def _with_train(data: Dataset, split: Split) -> Dataset:
    from dataclasses import replace

    return replace(data, train=split)


# --- standardizer files -----------------------------------------------------------------------


def test_standardizers_round_trip_and_one_input_keeps_the_plain_form() -> None:
    x = np.random.default_rng(0).normal(size=(30, 4))
    one = Standardizer.fit(x)
    both = Standardizers({"a": one, "b": Standardizer.fit(x[:, :2] * 5)})
    tensors = both.to_tensors()
    assert set(tensors) == {f"{n}.{k}" for n in "ab" for k in ("mean", "std", "axis")}
    assert Standardizers.from_tensors(tensors) == both
    assert input_standardizers(tensors, ("a", "b")) == both.by_input
    # A run with one input: mean, std and axis, as ever, read as the first input's.
    assert set(one.to_tensors()) == {"mean", "std", "axis"}
    assert input_standardizers(one.to_tensors(), ("input",)) == {"input": one}
    assert input_standardizers(None, ("input",)) == {}


# --- training, evaluate and predict ----------------------------------------------------------


def test_training_learns_and_saves_per_input_statistics(trained: pathlib.Path) -> None:
    saved = load_file(str(trained / "standardizer.safetensors"))
    assert set(saved) == {f"{n}.{k}" for n in "ab" for k in ("mean", "std", "axis")}
    data = load_data(load_spec(trained / "spec.yaml"))
    assert isinstance(data.standardizer, Standardizers)
    assert torch.allclose(saved["a.mean"], torch.from_numpy(data.standardizer.by_input["a"].mean))
    assert not torch.allclose(saved["a.mean"][:3], saved["b.mean"])
    final = json.loads((trained / "metrics.json").read_text())
    assert final["epochs_run"] == 2
    assert np.isfinite(final["test"]["loss"])
    metrics = evaluate(trained, "val")
    assert set(metrics) == {"loss", "mae"}


def test_predict_takes_arrays_by_input_name(trained: pathlib.Path) -> None:
    raw = arrays(n=12, seed=1)
    given = {"a": raw["a"], "b": raw["b"]}
    prediction = predict(trained, given)
    assert prediction.values is not None
    assert prediction.values.shape == (12,)
    assert prediction.others == {}
    # The scaling is applied: raw inputs give the same as the model on scaled ones.
    model = netspec.load_model(trained)
    saved = input_standardizers(load_file(str(trained / "standardizer.safetensors")), ("a", "b"))
    scaled = [torch.from_numpy(saved[n].apply(given[n].astype(np.float32))).float() for n in "ab"]
    with torch.no_grad():
        direct = model(*scaled)
    assert torch.allclose(prediction.outputs, direct, atol=1e-5)


def test_predict_errors_for_a_missing_array_or_one_array(trained: pathlib.Path) -> None:
    raw = arrays(n=4)
    with pytest.raises(SpecError, match=r"no array 'b'.*named after it \(a, b\)") as info:
        predict(trained, {"a": raw["a"], "c": raw["b"]})
    (d,) = info.value.diagnostics
    assert d.path == ("inputs",)
    assert d.received == "a, c"
    with pytest.raises(SpecError, match=r"the model has 2 inputs \(a, b\)"):
        predict(trained, raw["a"])
    with pytest.raises(SpecError, match=r"'b' inputs have shape \(4, 5\)") as info:
        predict(trained, {"a": raw["a"], "b": np.zeros((4, 5))})
    assert info.value.diagnostics[0].path == ("inputs", "b")


def test_cli_train_and_predict_on_an_npz(tmp_path: pathlib.Path) -> None:
    spec = write(tmp_path)
    run = tmp_path / "run"
    result = runner.invoke(app, ["train", str(spec), "--out", str(run), "--epochs", "1"])
    assert result.exit_code == 0, result.output
    assert "run directory:" in result.stdout
    raw = arrays(n=6, seed=2)
    np.savez(tmp_path / "new.npz", a=raw["a"], b=raw["b"])
    result = runner.invoke(app, ["predict", str(run), str(tmp_path / "new.npz")])
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows[0] == ["value"]
    assert len(rows) == 7
    out = tmp_path / "pred.npz"
    result = runner.invoke(app, ["predict", str(run), str(tmp_path / "new.npz"), "-o", str(out)])
    assert result.exit_code == 0, result.output
    with np.load(out) as saved:
        assert set(saved.files) == {"head", "values"}
        assert saved["values"].shape == (6,)
    # A missing array, and an .npy for a model of two inputs: diagnostics, no traceback.
    np.savez(tmp_path / "half.npz", a=raw["a"])
    np.save(tmp_path / "one.npy", raw["a"])
    for name, message in (("half.npz", "no array 'b'"), ("one.npy", "the model has 2 inputs")):
        result = runner.invoke(app, ["predict", str(run), str(tmp_path / name)])
        assert result.exit_code == 2
        assert message in result.stderr
        assert "Traceback" not in result.output


# --- several outputs --------------------------------------------------------------------------

TWO_OUTPUTS = """\
name: heads
inputs:
  a: [4]
  b: [3]
outputs: [head, aux]
layers:
  - concat: {from: [a, b]}
  - dense: {units: 16, activation: relu, name: trunk}
  - dense: {units: 1, name: head}
  - dense: {units: 2, from: trunk, name: aux}
DATA
train: {task: regression, epochs: 2, batch_size: 16, optimizer: {type: adam, lr: 0.01}}
"""


def test_two_outputs_train_on_the_first_and_predict_both(tmp_path: pathlib.Path) -> None:
    spec = write(tmp_path, text=TWO_OUTPUTS)
    result = train(spec, out=tmp_path / "run")
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"]
    model = netspec.load_model(result.run_dir)
    # The auxiliary head got no gradient: it keeps its initial weights.
    initial = build_model(load_spec(spec), seed=0).state_dict()
    trained_state = model.state_dict()
    assert torch.equal(initial["aux.weight"], trained_state["aux.weight"])
    assert not torch.equal(initial["head.weight"], trained_state["head.weight"])
    raw = arrays(n=5, seed=3)
    prediction = predict(result.run_dir, {"a": raw["a"], "b": raw["b"]})
    assert prediction.output_name == "head"
    assert prediction.values is not None
    assert prediction.values.shape == (5,)
    assert set(prediction.others) == {"aux"}
    assert prediction.others["aux"].shape == (5, 2)
    assert set(evaluate(result.run_dir, "test")) == {"loss", "mae"}
    # The CSV: the first output as the prediction, then the others' columns.
    np.savez(tmp_path / "new.npz", a=raw["a"], b=raw["b"])
    shown = runner.invoke(app, ["predict", str(result.run_dir), str(tmp_path / "new.npz")])
    assert shown.exit_code == 0, shown.output
    assert shown.stdout.splitlines()[0] == "value,aux_0,aux_1"


def test_ddp_is_told_the_auxiliary_head_gets_no_gradient(tmp_path: pathlib.Path) -> None:
    model = build_model(load_spec(write(tmp_path, text=TWO_OUTPUTS)))
    assert not has_unused_parameters(model)  # every parameter reaches some output
    assert has_unused_parameters(FirstOutput(model))  # but not the first
    x = (torch.zeros(2, 4), torch.zeros(2, 3))
    assert FirstOutput(model)(*x).shape == (2, 1)


class StopAt(NullReporter):
    """Stops the run (as Ctrl-C does) at batch ``at``."""

    def __init__(self, at: int) -> None:
        self.at = at

    def on_batch(self, step: int, loss: float) -> None:
        if step == self.at:
            raise KeyboardInterrupt


def test_two_inputs_resume_to_the_uninterrupted_run(tmp_path: pathlib.Path) -> None:
    text = TWO_OUTPUTS.replace("epochs: 2", "epochs: 3").replace(
        "batch_size: 16,", "batch_size: 16, seed: 3,"
    )
    spec = write(tmp_path, text=text)
    whole = train(spec, out=tmp_path / "whole")
    with pytest.raises(TrainingInterrupted, match="checkpoint saved"):
        train(spec, out=tmp_path / "cut", reporter=StopAt(13))
    resumed = train(resume=tmp_path / "cut")
    a = load_file(str(tmp_path / "whole" / "model.safetensors"))
    b = load_file(str(tmp_path / "cut" / "model.safetensors"))
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert whole.test == resumed.test
