"""Regression targets are standardized for training (data.standardize_target, default true):
the loss is in standardized units, metrics, evaluate and predict in the original ones, with
the training split's statistics saved in the run directory. torch is the oracle."""

from __future__ import annotations

import pathlib

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file
from sklearn.datasets import load_diabetes
from typer.testing import CliRunner

import netspec
from netspec.cli.app import app
from netspec.data import load_data
from netspec.data.prepare import split_indices
from netspec.training import evaluate
from netspec.training.outcome import RunResult

EPOCHS = 8
SPEC = """\
name: diabetes_mlp
input: [10]
layers:
  - dense: {{units: 64, activation: relu}}
  - dense: 1
data: {{source: diabetes, split: {{val: 0.1, test: 0.2, seed: 0}}{extra}}}
train: {{task: regression, epochs: {epochs}, optimizer: {{type: adam, lr: 0.001}}, metrics: [mae]}}
"""


def spec(extra: str = "", epochs: int = EPOCHS) -> str:
    return SPEC.format(extra=extra, epochs=epochs)


@pytest.fixture(scope="module")
def scaled(tmp_path_factory: pytest.TempPathFactory) -> RunResult:
    return netspec.train(spec(), out=tmp_path_factory.mktemp("runs") / "scaled")


@pytest.fixture(scope="module")
def raw(tmp_path_factory: pytest.TempPathFactory) -> RunResult:
    text = spec(", standardize_target: false", epochs=2)
    return netspec.train(text, out=tmp_path_factory.mktemp("runs") / "raw")


def raw_test_split() -> tuple[np.ndarray, np.ndarray]:
    """The test split's raw inputs and targets, as scikit-learn gives them."""
    bunch = load_diabetes()
    parts = split_indices(len(bunch.target), 0.1, 0.2, 0)
    assert parts.test is not None
    return bunch.data[parts.test], bunch.target[parts.test]


def targets_and_stats() -> tuple[torch.Tensor, torch.Tensor, float, float]:
    """Standardized test inputs, original test targets (n, 1), and the train split's target
    mean and std computed here with torch."""
    data = load_data(netspec.load_spec(spec()))
    assert data.test is not None
    y_train = data.train.y.double()
    return data.test.x, data.test.y, float(y_train.mean()), float(y_train.std(correction=0))


def test_the_data_keep_original_targets_and_their_statistics() -> None:
    data = load_data(netspec.load_spec(spec()))
    assert data.target_standardizer is not None
    y = data.train.y.double()
    assert np.allclose(data.target_standardizer.mean, [float(y.mean())])
    assert np.allclose(data.target_standardizer.std, [float(y.std(correction=0))])
    assert float(data.train.y.max()) > 300  # original units
    off = load_data(netspec.load_spec(spec(", standardize_target: false")))
    assert off.target_standardizer is None
    assert torch.equal(off.train.y, data.train.y)
    # only regression targets are standardized
    iris = "input: [4]\nlayers: [dense: 3]\ndata: iris\n"
    assert load_data(netspec.load_spec(iris)).target_standardizer is None


def test_mlp_beats_the_mean_predictor_in_original_units(scaled: RunResult) -> None:
    x, y, mean, std = targets_and_stats()
    mean_mae = float((y - float(load_data(netspec.load_spec(spec())).train.y.mean())).abs().mean())
    assert scaled.test["mae"] < 0.8 * mean_mae  # about 46 against 69 (linear regression: 43)
    # torch oracle: loss on standardized targets, mae on the restored outputs
    model = netspec.load_model(scaled.run_dir)
    with torch.no_grad():
        out = model(x).double()
    restored = out * std + mean
    assert scaled.test["mae"] == pytest.approx(float((restored - y).abs().mean()), rel=1e-4)
    expected_loss = float(((out - (y - mean) / std) ** 2).mean())
    assert scaled.test["loss"] == pytest.approx(expected_loss, rel=1e-4)
    assert (scaled.run_dir / "target_standardizer.safetensors").is_file()
    summary = (scaled.run_dir / "summary.txt").read_text(encoding="utf-8")
    assert "loss mse on standardized targets" in summary


def test_predictions_csv_is_in_original_units(scaled: RunResult, tmp_path: pathlib.Path) -> None:
    x_raw, y = raw_test_split()
    np.save(tmp_path / "x.npy", x_raw)
    out = tmp_path / "pred.csv"
    result = CliRunner().invoke(
        app, ["predict", str(scaled.run_dir), str(tmp_path / "x.npy"), "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "value"
    values = np.array([float(v) for v in lines[1:]])
    assert values.shape == y.shape
    assert np.abs(values - y).mean() == pytest.approx(scaled.test["mae"], rel=1e-3)
    assert 50 < values.mean() < 300  # the targets' scale, not mean 0 std 1


def test_standardize_target_false_keeps_the_old_behaviour(raw: RunResult) -> None:
    x, y, _, _ = targets_and_stats()
    assert not (raw.run_dir / "target_standardizer.safetensors").exists()
    model = netspec.load_model(raw.run_dir)
    with torch.no_grad():
        out = model(x).double()
    assert raw.test["loss"] == pytest.approx(float(((out - y) ** 2).mean()), rel=1e-4)
    assert raw.test["mae"] == pytest.approx(float((out - y).abs().mean()), rel=1e-4)
    summary = (raw.run_dir / "summary.txt").read_text(encoding="utf-8")
    assert "standardized targets" not in summary


def test_evaluate_uses_the_saved_statistics(scaled: RunResult, tmp_path: pathlib.Path) -> None:
    assert evaluate(scaled.run_dir)["mae"] == pytest.approx(scaled.test["mae"], rel=1e-5)
    # A copy of the run whose saved statistics say another scale: evaluate follows them.
    copy = tmp_path / "copy"
    copy.mkdir()
    for file in scaled.run_dir.iterdir():
        if file.is_file():
            (copy / file.name).write_bytes(file.read_bytes())
    stats = load_file(str(copy / "target_standardizer.safetensors"))
    stats["mean"] = stats["mean"] + 10.0
    save_file(stats, str(copy / "target_standardizer.safetensors"))
    x, y, mean, std = targets_and_stats()
    model = netspec.load_model(copy)
    with torch.no_grad():
        out = model(x).double()
    shifted = float((out * std + mean + 10.0 - y).abs().mean())
    assert evaluate(copy)["mae"] == pytest.approx(shifted, rel=1e-4)
    # A run from before target statistics: no inverse transform, raw outputs against targets.
    (copy / "target_standardizer.safetensors").unlink()
    assert evaluate(copy)["mae"] == pytest.approx(float((out - y).abs().mean()), rel=1e-4)
