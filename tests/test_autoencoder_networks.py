"""Autoencoders written as `networks: {encoder, decoder}`: trained through the Trainer as one
composed model (loss falls, weights load with load_networks, resume is exact), denoising
keeps the clean input as the target, `netspec encode`, and the errors before a run starts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from typer.testing import CliRunner

import netspec
import netspec.data
from netspec.backend.composed import compose_autoencoder
from netspec.cli.app import app
from netspec.errors import ExitCode, SpecError
from netspec.spec.networks import load_any
from netspec.spec.sections import AugmentSpec
from netspec.training import (
    NullReporter,
    TrainingInterrupted,
    evaluate,
    predict,
    train,
)
from netspec.training.rundir import RunDir

runner = CliRunner()


@dataclass(frozen=True)
class Split:
    x: torch.Tensor
    y: torch.Tensor


@dataclass(frozen=True)
class Data:
    train: Split
    val: Split | None
    test: Split | None
    num_classes: int | None = None
    class_names: list[str] | None = None
    standardizer: Any = None
    augment: AugmentSpec | None = None

    def describe(self) -> str:
        return f"low-rank: {len(self.train.x)} train"


def low_rank(n: int = 192, features: int = 8, rank: int = 2, seed: int = 0, **kw: Any) -> Data:
    """Samples on a 2-d plane in 8-d space: a 2-d code reconstructs them."""
    g = torch.Generator().manual_seed(seed)
    basis = torch.randn(rank, features, generator=g)

    def split(k: int) -> Split:
        return Split(torch.randn(k, rank, generator=g) @ basis, torch.zeros(k))

    return Data(split(n), split(n // 4), split(n // 4), **kw)


def networks_spec(epochs: int = 6, code: int = 2, decoder_in: int | None = None) -> str:
    return f"""
name: ae
networks:
  encoder:
    input: [8]
    layers:
      - dense: {{units: 16, activation: tanh}}
      - dense: {code}
  decoder:
    input: [{decoder_in or code}]
    layers:
      - dense: {{units: 16, activation: tanh}}
      - dense: 8
train:
  task: autoencoder
  epochs: {epochs}
  batch_size: 32
  optimizer: {{type: adam, lr: 1.0e-2}}
"""


@pytest.fixture(autouse=True)
def no_curves(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(RunDir, "write_curves", lambda self, rows, title: None)


def test_composed_autoencoder_trains_and_loads(tmp_path: Path) -> None:
    data = low_rank()
    result = train(networks_spec(), out=tmp_path / "run", data=data)
    losses = [row["train_loss"] for row in result.history]
    assert losses[-1] < 0.5 * losses[0]
    nets = netspec.load_networks(tmp_path / "run")
    assert list(nets) == ["encoder", "decoder"]
    saved = load_file(str(tmp_path / "run" / "model.safetensors"))
    assert {k.split(".")[0] for k in saved} == {"encoder", "decoder"}
    x = data.test.x  # type: ignore[union-attr]
    with torch.no_grad():
        loaded = nets["decoder"](nets["encoder"](x))
    # The Trainer's model at its best epoch, rebuilt from the checkpoint when it is the last
    ckpt = torch.load(tmp_path / "run" / "last.ckpt", weights_only=True)
    if result.best_epoch == result.epochs_run:
        trained = compose_autoencoder(netspec.build_model(load_any(networks_spec())))
        trained.load_state_dict(ckpt["model"])
        with torch.no_grad():
            assert torch.equal(trained.eval()(x), loaded)
    assert torch.allclose(predict(tmp_path / "run", x.numpy()).values, loaded)  # type: ignore[arg-type]
    test = evaluate(tmp_path / "run", data=data)
    assert test["loss"] == pytest.approx(result.test["loss"], rel=1e-6)
    assert test["loss"] == pytest.approx(float(((loaded - x) ** 2).mean()), rel=1e-5)
    assert set(test) == {"loss", "mse"}  # a plain autoencoder: no recon/kl parts
    assert "train_recon" not in result.history[0]


class StopAfter(NullReporter):
    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def on_epoch(self, epoch: int, row: Mapping[str, float]) -> None:
        if epoch == self.epoch:
            raise KeyboardInterrupt


def test_resume_equals_an_uninterrupted_run(tmp_path: Path) -> None:
    data = low_rank()
    whole = train(networks_spec(epochs=3), out=tmp_path / "whole", data=data)
    with pytest.raises(TrainingInterrupted, match="after epoch 1"):
        train(networks_spec(epochs=3), out=tmp_path / "cut", data=data, reporter=StopAfter(1))
    stored = (tmp_path / "cut" / "spec.yaml").read_text()
    assert "networks:" in stored
    resumed = train(networks_spec(epochs=3), resume=tmp_path / "cut", data=data)
    a = torch.load(tmp_path / "whole" / "last.ckpt", weights_only=True)["model"]
    b = torch.load(tmp_path / "cut" / "last.ckpt", weights_only=True)["model"]
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert resumed.history[-1]["train_loss"] == whole.history[-1]["train_loss"]
    with pytest.raises(SpecError, match=r"differs from .*train\.epochs: 3 in the run, 4 now"):
        train(networks_spec(epochs=4), resume=tmp_path / "cut", data=data)


@pytest.mark.parametrize("form", ["networks", "one network"])
def test_denoising_target_is_the_clean_input(
    form: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """data.augment.noise perturbs the model's input; the loss still compares with the
    clean sample."""
    events: list[tuple[str, torch.Tensor]] = []
    augment = netspec.data.augment
    mse = torch.nn.functional.mse_loss

    def noisy(x: torch.Tensor, options: Any, generator: Any) -> torch.Tensor:
        out = augment(x, options, generator)
        events.append(("input", out.detach().clone()))
        return out

    def recording(out: torch.Tensor, target: torch.Tensor, **kw: Any) -> torch.Tensor:
        events.append(("target", target.detach().clone()))
        return mse(out, target, **kw)

    monkeypatch.setattr(netspec.data, "augment", noisy)
    monkeypatch.setattr(torch.nn.functional, "mse_loss", recording)
    data = low_rank(augment=AugmentSpec(noise=0.5))
    spec = networks_spec(epochs=1)
    if form == "one network":
        spec = (
            "name: ae\ninput: [8]\nlayers: [{dense: {units: 2}}, {dense: 8}]\n"
            "train: {task: autoencoder, epochs: 1, batch_size: 32}\n"
        )
    train(spec, out=tmp_path / "run", data=data)
    clean = {tuple(row.tolist()) for row in data.train.x}
    pairs = [
        (x, events[i + 1][1])
        for i, (kind, x) in enumerate(events)
        if kind == "input" and i + 1 < len(events) and events[i + 1][0] == "target"
    ]
    assert len(pairs) == 6  # 192 samples, batches of 32
    for x, target in pairs:
        assert all(tuple(row.tolist()) in clean for row in target)
        assert (x - target).std().item() == pytest.approx(0.5, rel=0.25)


def test_shapes_must_chain_before_a_run_starts(tmp_path: Path) -> None:
    with pytest.raises(
        SpecError,
        match=r"encoder outputs codes of shape \(N, 2\), but the decoder's input is \(3\)",
    ) as info:
        train(networks_spec(decoder_in=3), out=tmp_path / "a", data=low_rank())
    assert info.value.diagnostics[0].path == ("networks", "decoder", "input")
    assert info.value.diagnostics[0].location.line == 10
    assert not (tmp_path / "a").exists()
    wide = Data(
        Split(torch.randn(40, 5), torch.zeros(40)), None, None
    )  # samples of 5 values, the encoder takes 8
    with pytest.raises(SpecError, match=r"samples are \(5,\) but the encoder's input is \(8\)"):
        train(networks_spec(), out=tmp_path / "b", data=wide)
    short = networks_spec().replace("      - dense: 8\n", "      - dense: 7\n")
    with pytest.raises(
        SpecError, match=r"reconstructs its input \(N, 8\), but the decoder outputs \(N, 7\)"
    ):
        train(short, out=tmp_path / "c", data=low_rank())
    assert not (tmp_path / "b").exists()
    assert not (tmp_path / "c").exists()


DIGITS_AE = """
name: digits_ae
networks:
  encoder:
    input: [64]
    layers: [{dense: {units: 16, activation: relu}}, {dense: 3}]
  decoder:
    input: [3]
    layers: [{dense: {units: 16, activation: relu}}, {dense: 64}]
data: {source: digits, split: {val: 0.1, test: 0.1, seed: 0}}
train: {task: autoencoder, epochs: 1, batch_size: 64}
"""


def test_encode_writes_the_encoders_codes(tmp_path: Path) -> None:
    (tmp_path / "ae.yaml").write_text(DIGITS_AE)
    run = tmp_path / "run"
    assert runner.invoke(app, ["train", str(tmp_path / "ae.yaml"), "-o", str(run)]).exit_code == 0
    from sklearn.datasets import load_digits

    raw = load_digits().data[:7]
    np.save(tmp_path / "x.npy", raw)
    out = runner.invoke(
        app, ["encode", str(run), str(tmp_path / "x.npy"), "-o", str(tmp_path / "c.npy")]
    )
    assert out.exit_code == 0, out.output
    codes = np.load(tmp_path / "c.npy")
    scale = load_file(str(run / "standardizer.safetensors"))
    x = (torch.from_numpy(raw) - scale["mean"]) / scale["std"]
    with torch.no_grad():
        expected = netspec.load_networks(run)["encoder"](x.float())
    assert codes.shape == (7, 3)
    np.testing.assert_allclose(codes, expected.numpy(), rtol=1e-5, atol=1e-6)
    csv = runner.invoke(app, ["encode", str(run), str(tmp_path / "x.npy")])
    lines = csv.stdout.strip().splitlines()
    assert lines[0] == "code_0,code_1,code_2"
    np.testing.assert_allclose(
        np.array([[float(v) for v in line.split(",")] for line in lines[1:]]), codes, rtol=1e-4
    )
    bad = runner.invoke(
        app, ["encode", str(run), str(tmp_path / "x.npy"), "-o", str(tmp_path / "c.txt")]
    )
    assert bad.exit_code == ExitCode.USER_ERROR
    assert "codes are written as .npy or .csv" in bad.output


def test_encode_needs_an_encoder_network(tmp_path: Path) -> None:
    spec = (
        "name: one\ninput: [8]\nlayers: [{dense: 2}, {dense: 8}]\n"
        "train: {task: autoencoder, epochs: 1}\n"
    )
    train(spec, out=tmp_path / "run", data=low_rank())
    np.save(tmp_path / "x.npy", np.zeros((2, 8)))
    out = runner.invoke(app, ["encode", str(tmp_path / "run"), str(tmp_path / "x.npy")])
    assert out.exit_code == ExitCode.USER_ERROR
    assert "has no encoder network" in out.output
    assert "networks: {encoder, decoder}" in out.output
    assert "Traceback" not in out.output


def test_optimizers_per_network_are_refused_for_an_autoencoder() -> None:
    """The encoder and decoder train as one model with one optimizer: settings per network
    would be silently replaced by the defaults, so they are an error at train.optimizer."""
    text = networks_spec().replace(
        "optimizer: {type: adam, lr: 1.0e-2}",
        "optimizer: {encoder: {type: sgd, lr: 0.5}, decoder: {type: sgd, lr: 0.25}}",
    )
    with pytest.raises(SpecError, match="one optimizer") as found:
        load_any(text)
    assert found.value.diagnostics[0].path[:2] == ("train", "optimizer")
