"""Variational autoencoders: the KL that reparameterize keeps, the loss recon + w x KL on a
hand-made batch, the warm-up of w by epoch, the logged parts, the errors, and the example
specs/digits_vae.yaml beating its untrained weights."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest
import torch
from torch.nn import functional as F

import netspec
from netspec.backend.composed import compose_autoencoder
from netspec.backend.modules import Reparameterize
from netspec.errors import SpecError
from netspec.spec.networks import Networks, load_any
from netspec.training import NullReporter, TrainingInterrupted, encode, evaluate, train
from netspec.training.autoencoders import check_autoencoder_fit
from netspec.training.loop import evaluate_split
from netspec.training.losses import Objective
from netspec.training.rundir import RunDir
from netspec.training.variational import VariationalLoss, with_kl

ROOT = Path(__file__).parent.parent


@pytest.fixture(autouse=True)
def no_curves(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(RunDir, "write_curves", lambda self, rows, title: None)


def hand_kl(mean: torch.Tensor, log_var: torch.Tensor) -> float:
    """Per sample: sum over the latent elements of -1/2 (1 + log s2 - m2 - s2); batch mean."""
    total = 0.0
    for m, lv in zip(mean.tolist(), log_var.tolist(), strict=True):
        flat_m = torch.tensor(m).flatten().tolist()
        flat_lv = torch.tensor(lv).flatten().tolist()
        total += sum(
            -0.5 * (1 + v - u * u - float(torch.tensor(v).exp()))
            for u, v in zip(flat_m, flat_lv, strict=True)
        )
    return total / len(mean)


@pytest.mark.parametrize("shape", [(5, 3), (4, 2, 3)])
@pytest.mark.parametrize("training", [True, False])
def test_reparameterize_keeps_the_batch_kl(shape: tuple[int, ...], training: bool) -> None:
    g = torch.Generator().manual_seed(1)
    mean, log_var = torch.randn(shape, generator=g), torch.randn(shape, generator=g)
    layer = Reparameterize().train(training)
    assert layer.kl is None
    out = layer(mean, log_var)
    assert layer.kl is not None
    assert float(layer.kl) == pytest.approx(hand_kl(mean, log_var), rel=1e-5)
    if not training:
        assert torch.equal(out, mean)
    zero = Reparameterize()
    zero(torch.zeros(shape), torch.zeros(shape))  # the prior itself: KL 0
    assert zero.kl is not None
    assert float(zero.kl) == 0.0


VAE = """
name: vae
networks:
  encoder:
    input: [6]
    layers:
      - dense: {units: 8, activation: tanh, name: hidden}
      - dense: {units: 2, from: hidden, name: mean}
      - dense: {units: 2, from: hidden, name: log_var}
      - reparameterize: {from: [mean, log_var]}
  decoder:
    input: [2]
    layers:
      - dense: {units: 8, activation: tanh}
      - dense: 6
train:
  task: autoencoder
  loss: LOSS
  kl: {beta: 0.5, warmup_epochs: 3}
  epochs: 4
  batch_size: 16
  optimizer: {type: adam, lr: 1.0e-2}
"""


def vae(loss: str = "mse") -> Networks:
    loaded = load_any(VAE.replace("LOSS", loss))
    assert isinstance(loaded, Networks)
    return loaded


@pytest.mark.parametrize(
    ("loss", "elementwise"),
    [
        ("mse", lambda o, t: (o - t) ** 2),
        ("l1", lambda o, t: (o - t).abs()),
        ("huber", lambda o, t: F.huber_loss(o, t, reduction="none")),
    ],
)
def test_the_loss_is_recon_plus_weighted_kl(loss: str, elementwise: Any) -> None:
    nets = vae(loss)
    model = compose_autoencoder(netspec.build_model(nets, seed=0))
    seen: dict[str, torch.Tensor] = {}
    encoder = model["encoder"]
    for name in ("mean", "log_var"):
        getattr(encoder, name).register_forward_hook(
            lambda module, args, out, name=name: seen.__setitem__(name, out.detach())
        )
    base = Objective("autoencoder", loss, F.mse_loss, (6,), None)
    assert nets.train is not None
    objective = with_kl(base, model, nets.train)
    variational = objective.variational
    assert isinstance(variational, VariationalLoss)
    assert objective.loss is variational
    x = torch.randn(10, 6, generator=torch.Generator().manual_seed(2))
    for training, weight in ((True, 0.2), (False, 0.5)):  # eval: always beta (0.5)
        model.train(training)
        variational.weight = 0.2
        out = model(x)
        value = objective.loss(out, x)
        recon = float(elementwise(out.detach(), x).sum(1).mean())
        kl = hand_kl(seen["mean"], seen["log_var"])
        assert float(value.detach()) == pytest.approx(recon + weight * kl, rel=1e-5)
        assert variational.last.tolist() == pytest.approx([recon, kl], rel=1e-5)


def test_plain_autoencoder_objective_is_unchanged() -> None:
    spec = netspec.load_spec(
        "name: ae\ninput: [6]\nlayers: [dense: 2, dense: 6]\ntrain: {task: autoencoder}\n"
    )
    base = Objective("autoencoder", "mse", F.mse_loss, (6,), None)
    assert spec.train is not None
    assert with_kl(base, netspec.build_model(spec), spec.train) is base


def test_warmup_weight_by_batch() -> None:
    loss = VariationalLoss(F.mse_loss, (), beta=2.0, warmup_epochs=2)
    steps = [loss.weight_at(s, batches_per_epoch=4) for s in range(10)]
    assert steps == pytest.approx([0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0, 2.0, 2.0])
    assert VariationalLoss(F.mse_loss, (), beta=0.3, warmup_epochs=0).weight_at(0, 4) == 0.3


def low_rank(n: int = 128, seed: int = 0) -> Any:
    from test_autoencoder_networks import Data, Split

    g = torch.Generator().manual_seed(seed)
    basis = torch.randn(2, 6, generator=g)

    def split(k: int) -> Any:
        return Split(torch.randn(k, 2, generator=g) @ basis, torch.zeros(k))

    return Data(split(n), split(n // 4), split(n // 4))


def test_the_parts_and_the_warmup_are_logged(tmp_path: Path) -> None:
    data = low_rank()
    result = train(vae(), out=tmp_path / "run", data=data)
    rows = result.history
    # beta 0.5 reached after 3 epochs: the weight of each epoch's last batch
    assert [r["kl_weight"] for r in rows] == pytest.approx([0.5 / 3, 1.0 / 3, 0.5, 0.5])
    for r in rows:  # evaluation at the full weight
        assert r["val_loss"] == pytest.approx(r["val_recon"] + 0.5 * r["val_kl"], rel=1e-5)
        assert r["train_kl"] > 0
    last = rows[-1]  # after the warm-up the training weight is constant too
    assert last["train_loss"] == pytest.approx(
        last["train_recon"] + 0.5 * last["train_kl"], rel=1e-5
    )
    first = rows[0]  # during it, less than the full weight
    assert first["train_loss"] < first["train_recon"] + 0.5 * first["train_kl"]
    with (tmp_path / "run" / "metrics.csv").open() as f:
        header = next(csv.reader(f))
    for column in ("train_recon", "train_kl", "val_recon", "val_kl", "kl_weight"):
        assert column in header
    assert set(result.test) >= {"loss", "recon", "kl"}
    again = evaluate(tmp_path / "run", data=data)
    assert again["loss"] == pytest.approx(result.test["loss"], rel=1e-6)
    assert again["kl"] == pytest.approx(result.test["kl"], rel=1e-6)
    summary = (tmp_path / "run" / "summary.txt").read_text()
    assert "mse summed per sample + 0.5 x KL (warm-up 3 epochs)" in summary
    # A VAE's code is the mean of its latent distribution: the `mean` head's output
    nets = netspec.load_networks(tmp_path / "run")
    means: list[torch.Tensor] = []
    nets["encoder"].mean.register_forward_hook(lambda m, a, out: means.append(out))
    x = data.test.x
    codes = encode(tmp_path / "run", x.numpy())
    with torch.no_grad():
        nets["encoder"](x)
    assert torch.allclose(codes, means[-1])


def test_one_network_vae_and_kl_monitor(tmp_path: Path) -> None:
    spec = """
name: vae1
input: [6]
layers:
  - dense: {units: 8, activation: tanh, name: hidden}
  - dense: {units: 2, from: hidden, name: mean}
  - dense: {units: 2, from: hidden, name: log_var}
  - sampling: {from: [mean, log_var]}
  - dense: 6
train:
  task: autoencoder
  epochs: 2
  early_stopping: {monitor: val_kl, patience: 5}
"""
    result = train(spec, out=tmp_path / "run", data=low_rank())
    assert result.monitor == "val_kl"
    assert result.best_value == min(r["val_kl"] for r in result.history)
    assert all(r["kl_weight"] == 1.0 for r in result.history)  # no train.kl: beta 1


def test_kl_options_need_reparameterize_layers(tmp_path: Path) -> None:
    plain = "name: ae\ninput: [6]\nlayers: [dense: 2, dense: 6]\ntrain:\n  task: autoencoder\n"
    with pytest.raises(SpecError, match=r"train\.kl weights the KL .* the model has none") as info:
        train(plain + "  kl: {beta: 2}\n", out=tmp_path / "a", data=low_rank())
    assert info.value.diagnostics[0].path == ("train", "kl")
    with pytest.raises(SpecError, match=r"monitors val_recon, which only a variational"):
        train(
            plain + "  early_stopping: {monitor: val_recon}\n", out=tmp_path / "b", data=low_rank()
        )
    assert not (tmp_path / "a").exists()
    assert not (tmp_path / "b").exists()
    with pytest.raises(SpecError, match=r"monitor 'val_kl' is not logged"):
        netspec.load_spec(
            "input: [6]\nlayers: [dense: 2]\n"
            "train: {task: regression, early_stopping: {monitor: val_kl}}\n"
        )


def test_digits_vae_beats_its_untrained_weights(tmp_path: Path) -> None:
    """The test-set negative ELBO (the test loss at beta 1) after a few epochs, against the
    same seeded weights untrained, on the same test split."""
    from netspec.data import load_data
    from netspec.training.autoencoders import data_spec

    nets = load_any(ROOT / "specs" / "digits_vae.yaml", ["train.epochs=4"])
    assert isinstance(nets, Networks)
    assert nets.train is not None
    assert nets.train.kl is not None
    assert nets.train.kl.beta == 1.0
    data = load_data(data_spec(nets), "autoencoder")
    _, objective = check_autoencoder_fit(nets, nets.train, data)
    untrained = compose_autoencoder(netspec.build_model(nets, seed=nets.train.seed))
    objective = with_kl(objective, untrained, nets.train)
    assert data.test is not None
    before = evaluate_split(
        untrained, objective, None, data.test.x, None, batch_size=64, device=torch.device("cpu")
    )
    result = train(nets, out=tmp_path / "run", data=data)
    assert result.test["loss"] < 0.7 * before["loss"], (result.test, before)
    assert result.test["loss"] == pytest.approx(result.test["recon"] + result.test["kl"], rel=1e-5)
    # samples.png: the decoder on the prior; `netspec sample` draws the same way, in pixels.
    picture = (result.run_dir / "samples.png").read_bytes()
    assert picture.startswith(b"\x89PNG")
    from netspec.training.generate import generate

    drawn = generate(result.run_dir, 200, seed=1)
    assert tuple(drawn.shape) == (200, 1, 8, 8)
    # digits' pixels are 0..16: decoded prior samples land in that range on average
    assert 0.0 < float(drawn.mean()) < 16.0
    assert float(drawn.std()) > 0.5  # not one image over and over


class StopAtBatch(NullReporter):
    def __init__(self, step: int) -> None:
        self.step = step

    def on_batch(self, step: int, loss: float) -> None:
        if step == self.step:
            raise KeyboardInterrupt


def test_resume_within_the_warmup_is_exact(tmp_path: Path) -> None:
    """Stopped inside epoch 2 (8 batches an epoch) and resumed: the same batches, noise and
    KL weights, so the same weights; the KL weight follows the run's batch count, which the
    checkpoint keeps."""
    data = low_rank()
    whole = train(vae(), out=tmp_path / "whole", data=data)
    with pytest.raises(TrainingInterrupted, match="in epoch 2 after batch 2 of 8"):
        train(vae(), out=tmp_path / "cut", data=data, reporter=StopAtBatch(10))
    resumed = train(resume=tmp_path / "cut", data=data)
    a = torch.load(tmp_path / "whole" / "last.ckpt", weights_only=True)["model"]
    b = torch.load(tmp_path / "cut" / "last.ckpt", weights_only=True)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    # The loss parts of the interrupted epoch average its batches after the resume only.
    parts = {"seconds", "train_recon", "train_kl"}
    for epoch, (row, again) in enumerate(zip(whole.history, resumed.history, strict=True), 1):
        skip = parts if epoch == 2 else {"seconds"}
        assert {k: v for k, v in row.items() if k not in skip} == {
            k: v for k, v in again.items() if k not in skip
        }


@pytest.mark.heavy
def test_two_processes_train_a_vae(tmp_path: Path) -> None:
    """The KL is a module attribute read after the forward: DDP leaves it alone."""
    import json
    import subprocess
    import sys

    spec = tmp_path / "vae.yaml"
    spec.write_text(
        (ROOT / "specs" / "digits_vae.yaml")
        .read_text()
        .replace("epochs: 20", "epochs: 2")
        .replace("../netspec.schema.json", "netspec.schema.json")
    )
    command = [sys.executable, "-m", "netspec", "train", str(spec), "--devices", "2"]
    done = subprocess.run(
        [*command, "--device", "cpu", "--out", str(tmp_path / "run")],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    final = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert final["processes"] == 2
    test = final["test"]
    assert test["loss"] == pytest.approx(test["recon"] + test["kl"], rel=1e-5)
    with (tmp_path / "run" / "metrics.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [float(r["kl_weight"]) for r in rows] == [0.5, 1.0]
    for r in rows:
        val = float(r["val_recon"]) + float(r["val_kl"])
        assert float(r["val_loss"]) == pytest.approx(val, rel=1e-5)
        assert float(r["train_kl"]) > 0
