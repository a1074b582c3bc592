"""GAN training (task gan): it learns (MMD falls), the losses equal hand computations, the
step counts and the weight average are what the settings say, a run resumes exactly,
failures stop with a message and keep the checkpoint, and `netspec sample` draws from a run."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from typer.testing import CliRunner

import netspec
from netspec.backend.artifacts import build_directory
from netspec.cli.app import app
from netspec.errors import ExitCode, SpecError
from netspec.plan import plan_networks
from netspec.spec.networks import Networks, load_any
from netspec.spec.sections import TrainSpec
from netspec.training import (
    GanFailed,
    NullReporter,
    TrainingDiverged,
    TrainingInterrupted,
    train,
)
from netspec.training.ema import Ema
from netspec.training.gan_losses import GanLoss, gradient_penalty
from netspec.training.generate import generate
from netspec.training.samples import samples_png, unstandardize

ROOT = Path(__file__).parent.parent
runner = CliRunner()
PNG = b"\x89PNG\r\n\x1a\n"


ADAM = "{type: adam, lr: 1.0e-3, betas: [0.5, 0.999]}"


@pytest.fixture(autouse=True, scope="module")
def one_thread() -> Any:
    """Models this small run fastest on one thread; with several, every tiny matmul waits
    for the others (several times slower on a busy 2-core machine)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def moons_spec(
    train: str = "", data: str = "samples: 600", width: int = 64, optimizer: str = ADAM
) -> str:
    """A small GAN on the two moons; ``train`` adds lines to the train section."""
    return f"""
name: tiny_gan
networks:
  generator:
    input: [8]
    layers:
      - dense: {{units: {width}, activation: relu}}
      - dense: {{units: {width}, activation: relu}}
      - dense: 2
  discriminator:
    input: [2]
    layers:
      - dense: {{units: {width}, activation: leaky_relu}}
      - dense: {{units: {width}, activation: leaky_relu}}
      - dense: 1
data: {{source: moons, noise: 0.05, {data}}}
train:
  task: gan
  batch_size: 50
  optimizer: {optimizer}
""" + "".join(f"  {line}\n" for line in train.strip().splitlines())


@dataclass
class Reals:
    """A DatasetLike of given real samples (no standardization)."""

    train_x: torch.Tensor
    val_x: torch.Tensor
    num_classes: int | None = None
    class_names: list[str] | None = None
    standardizer: Any = None

    @property
    def train(self) -> Any:
        return _Split(self.train_x)

    @property
    def val(self) -> Any:
        return _Split(self.val_x)

    @property
    def test(self) -> Any:
        return None

    def describe(self) -> str:
        return "given points"


@dataclass
class _Split:
    x: torch.Tensor

    @property
    def y(self) -> torch.Tensor:
        return self.x


@dataclass
class Recorder(NullReporter):
    stop_at_epoch: int | None = None
    stop_at_batch: int | None = None
    epochs: list[int] = field(default_factory=list)

    def on_batch(self, step: int, loss: float) -> None:
        if step == self.stop_at_batch:
            raise KeyboardInterrupt

    def on_epoch(self, epoch: int, row: Mapping[str, float]) -> None:
        self.epochs.append(epoch)
        if epoch == self.stop_at_epoch:
            raise KeyboardInterrupt


def checkpoint(run: Path) -> dict[str, Any]:
    return dict(torch.load(run / "last.ckpt", weights_only=True))


def same(a: Mapping[str, torch.Tensor], b: Mapping[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


# -- learning ------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1])
def test_a_gan_on_moons_learns_the_distribution(tmp_path: Path, seed: int) -> None:
    result = train(
        moons_spec(f"epochs: 8\nseed: {seed}", data="samples: 1000"), out=tmp_path / "run"
    )
    untrained = result.metrics["untrained"]["mmd"]
    assert untrained > 0.05  # noise from an untrained generator is far from the moons
    assert result.test["mmd"] < 0.3 * untrained
    # The best weights are the ones saved: the test MMD comes from model.safetensors.
    networks = netspec.load_networks(tmp_path / "run")
    assert set(networks) == {"generator", "discriminator"}


# -- the losses, by hand -------------------------------------------------------------------


def bce(logit: float, target: float) -> float:
    p = 1.0 / (1.0 + math.exp(-logit))
    return -(target * math.log(p) + (1.0 - target) * math.log(1.0 - p))


REAL, FAKE = [2.0, -1.0, 0.5], [0.25, -3.0, 1.5]


def losses(loss: str) -> GanLoss:
    return GanLoss.of(TrainSpec.model_validate({"task": "gan", "loss": loss}))


def test_non_saturating_loss_with_one_sided_label_smoothing() -> None:
    smoothed = GanLoss.of(
        TrainSpec.model_validate(
            {"task": "gan", "loss": {"type": "non_saturating", "label_smoothing": 0.1}}
        )
    )
    real, fake = torch.tensor(REAL), torch.tensor(FAKE)
    d = sum(bce(r, 0.9) for r in REAL) / 3 + sum(bce(f, 0.0) for f in FAKE) / 3
    g = sum(bce(f, 1.0) for f in FAKE) / 3
    assert smoothed.discriminator(real, fake).item() == pytest.approx(d, rel=1e-6)
    assert smoothed.generator(fake).item() == pytest.approx(g, rel=1e-6)
    plain = losses("non_saturating")
    d_plain = sum(bce(r, 1.0) for r in REAL) / 3 + sum(bce(f, 0.0) for f in FAKE) / 3
    assert plain.discriminator(real, fake).item() == pytest.approx(d_plain, rel=1e-6)
    sigmoid_mean = sum(1 / (1 + math.exp(-r)) for r in REAL) / 3
    assert plain.reading(real).item() == pytest.approx(sigmoid_mean, rel=1e-6)
    assert bool(plain.won(torch.tensor(0.005)))
    assert not bool(plain.won(torch.tensor(0.02)))


def test_a_winning_discriminator_is_seen_with_label_smoothing() -> None:
    """With smoothing s the real half of the loss cannot fall below the entropy of the target
    1 - s (0.325 for s = 0.1): a discriminator that tells every sample with certainty sits at
    that floor, and the check measures from it rather than from 0."""
    smoothed = GanLoss("non_saturating", label_smoothing=0.1)
    # logits at which sigmoid(real) = 0.9 (the smoothed target) and the fakes are rejected
    certain = smoothed.discriminator(torch.full((4,), math.log(0.9 / 0.1)), torch.full((4,), -30.0))
    floor = -(0.9 * math.log(0.9) + 0.1 * math.log(0.1))
    assert certain.item() == pytest.approx(floor, rel=1e-5)
    assert bool(smoothed.won(certain))
    assert not bool(smoothed.won(torch.tensor(floor + 0.02)))


def test_hinge_and_wasserstein_losses() -> None:
    real, fake = torch.tensor(REAL), torch.tensor(FAKE)
    hinge = losses("hinge")
    d = sum(max(0.0, 1 - r) for r in REAL) / 3 + sum(max(0.0, 1 + f) for f in FAKE) / 3
    assert hinge.discriminator(real, fake).item() == pytest.approx(d, rel=1e-6)
    assert hinge.generator(fake).item() == pytest.approx(-sum(FAKE) / 3, rel=1e-6)
    assert bool(hinge.won(torch.tensor(0.0)))
    assert not bool(hinge.won(torch.tensor(1e-3)))
    assert hinge.reading(real).item() == pytest.approx(sum(REAL) / 3, rel=1e-6)
    wgan = losses("wgan_gp")
    assert wgan.discriminator(real, fake).item() == pytest.approx(
        sum(FAKE) / 3 - sum(REAL) / 3, rel=1e-6
    )
    assert wgan.generator(fake).item() == pytest.approx(-sum(FAKE) / 3, rel=1e-6)
    assert not bool(wgan.won(torch.tensor(-100.0)))


def test_gradient_penalty_of_critics_with_known_gradients() -> None:
    real = torch.tensor([[1.0, 2.0], [0.0, -1.0], [3.0, 0.5]])
    fake = torch.tensor([[-1.0, 0.0], [2.0, 2.0], [0.5, 0.5]])
    w = torch.tensor([3.0, 4.0])  # a linear critic: gradient w everywhere, norm 5
    linear = GanLoss.of(
        TrainSpec.model_validate({"task": "gan", "loss": {"type": "wgan_gp", "gp_weight": 2.5}})
    )
    penalty = linear.penalty(
        lambda x: (x * w).sum(1, keepdim=True), real, fake, torch.Generator().manual_seed(0)
    )
    assert penalty.item() == pytest.approx(2.5 * (5.0 - 1.0) ** 2, rel=1e-6)
    # D(x) = ||x||² / 2 has gradient x: the penalty reads the interpolates themselves.
    eps = torch.rand((3, 1), generator=torch.Generator().manual_seed(7))
    mixed = eps * real + (1 - eps) * fake
    expected = sum((float(row.norm()) - 1.0) ** 2 for row in mixed) / 3
    found = gradient_penalty(
        lambda x: (x * x).sum(1, keepdim=True) / 2, real, fake, torch.Generator().manual_seed(7)
    )
    assert found.item() == pytest.approx(expected, rel=1e-5)
    assert found.requires_grad  # it trains the critic


# -- steps and the weight average ----------------------------------------------------------


def test_d_steps_discriminator_updates_per_generator_update(tmp_path: Path) -> None:
    # 600 samples: 480 train, batches of 50 -> 10 per epoch; G after every 3rd and the last.
    result = train(
        moons_spec("epochs: 2\ngan: {d_steps: 3}"), out=tmp_path / "run", reporter=NullReporter()
    )
    state = checkpoint(tmp_path / "run")
    d_steps = state["d_optimizer"]["state"][0]["step"].item()
    g_steps = state["g_optimizer"]["state"][0]["step"].item()
    assert (d_steps, g_steps) == (2 * 10, 2 * math.ceil(10 / 3))
    assert result.metrics["discriminator_steps"] == d_steps
    assert result.metrics["generator_steps"] == g_steps


def test_ema_is_the_hand_computed_average() -> None:
    net = torch.nn.Linear(2, 1)
    with torch.no_grad():
        net.weight.copy_(torch.tensor([[1.0, 2.0]]))
    ema = Ema(net, 0.9)
    expected = torch.tensor([[1.0, 2.0]])
    for value in ([[3.0, 0.0]], [[-1.0, 4.0]], [[0.5, 0.5]]):
        with torch.no_grad():
            net.weight.copy_(torch.tensor(value))
        ema.update(net)
        expected = 0.9 * expected + 0.1 * torch.tensor(value)
    torch.testing.assert_close(ema.module.weight, expected)
    assert not ema.module.weight.requires_grad


def test_the_average_of_a_spectrally_normalized_generator_keeps_its_norm() -> None:
    """Spectral norm's power-iteration vectors (_u, _v) are unit vectors of the current
    weight: averaged, they shrink and turn, and the averaged layer in eval mode divided by
    a far too small sigma. The average's own vectors must track the averaged weight."""
    from torch.nn.utils import parametrizations

    torch.manual_seed(0)
    net = parametrizations.spectral_norm(torch.nn.Linear(16, 16))
    ema = Ema(net, 0.99)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
    for _ in range(100):
        x = torch.randn(32, 16)
        loss = (net(x) - 3.0 * x.flip(1)).pow(2).mean()
        optimizer.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]
        optimizer.step()
        ema.update(net)
    ema.module.eval()
    with torch.no_grad():
        sigma = torch.linalg.matrix_norm(ema.module.weight, 2).item()
    assert sigma == pytest.approx(1.0, abs=0.05)


def test_ema_averages_a_tied_weight_once_per_update() -> None:
    """A tied weight is one tensor under two state_dict names: one update moves it by
    (1 - decay) of the gap, not twice."""
    net = torch.nn.Sequential(torch.nn.Linear(2, 2, bias=False), torch.nn.Linear(2, 2, bias=False))
    net[1].weight = net[0].weight
    ema = Ema(net, 0.5)
    start = ema.module[0].weight.clone()
    with torch.no_grad():
        net[0].weight.add_(1.0)
    ema.update(net)
    torch.testing.assert_close(ema.module[0].weight, start + 0.5)
    assert ema.module[1].weight is ema.module[0].weight


def test_the_averaged_generator_is_the_one_saved(tmp_path: Path) -> None:
    train(moons_spec("epochs: 1\ngan: {ema: 0.9}"), out=tmp_path / "run")
    state = checkpoint(tmp_path / "run")
    saved = load_file(str(tmp_path / "run" / "model.safetensors"))
    for key, value in state["ema"].items():
        assert torch.equal(saved[f"generator.{key}"], value)
    raw = state["model"]["generator.dense_0.weight"]
    assert not torch.equal(saved["generator.dense_0.weight"], raw)
    assert torch.equal(
        saved["discriminator.dense_0.weight"], state["model"]["discriminator.dense_0.weight"]
    )


# -- resuming ------------------------------------------------------------------------------


@pytest.mark.parametrize("stop", [{"stop_at_epoch": 1}, {"stop_at_batch": 15}])
def test_a_resumed_run_ends_with_the_weights_of_an_uninterrupted_one(
    tmp_path: Path, stop: dict[str, int]
) -> None:
    spec = moons_spec("epochs: 3\ngan: {ema: 0.9}")
    whole = train(spec, out=tmp_path / "whole")
    with pytest.raises(TrainingInterrupted, match="resume") as stopped:
        train(spec, out=tmp_path / "cut", reporter=Recorder(**stop))  # type: ignore[arg-type]
    assert "netspec train --resume" in stopped.value.resume_command
    resumed = train(resume=tmp_path / "cut")
    a, b = checkpoint(tmp_path / "whole"), checkpoint(tmp_path / "cut")
    assert same(a["model"], b["model"])
    assert same(a["ema"], b["ema"])
    assert same(
        load_file(str(tmp_path / "whole" / "model.safetensors")),
        load_file(str(tmp_path / "cut" / "model.safetensors")),
    )
    drop = [{k: v for k, v in row.items() if k != "seconds"} for row in whole.history]
    assert drop == [{k: v for k, v in row.items() if k != "seconds"} for row in resumed.history]
    assert resumed.test == whole.test


def test_a_resumed_run_refuses_a_different_spec(tmp_path: Path) -> None:
    spec = moons_spec("epochs: 2")
    with pytest.raises(TrainingInterrupted):
        train(spec, out=tmp_path / "run", reporter=Recorder(stop_at_epoch=1))
    with pytest.raises(SpecError, match=r"train\.epochs: 2 in the run, 5 now"):
        train(moons_spec("epochs: 5"), resume=tmp_path / "run")


# -- failures ------------------------------------------------------------------------------


def test_a_nan_loss_stops_naming_the_network_and_keeps_the_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = {"n": 0}
    real_loss = GanLoss.generator

    def poisoned(self: GanLoss, d_fake: torch.Tensor) -> torch.Tensor:
        calls["n"] += 1
        loss = real_loss(self, d_fake)
        return loss * math.nan if calls["n"] > 12 else loss  # in epoch 2 (10 G steps each)

    monkeypatch.setattr(GanLoss, "generator", poisoned)
    with pytest.raises(TrainingDiverged, match="the generator's loss became NaN") as stopped:
        train(moons_spec("epochs: 3"), out=tmp_path / "run")
    assert "end of epoch 1" in stopped.value.message
    assert checkpoint(tmp_path / "run")["epoch"] == 1
    assert (tmp_path / "run" / "model.safetensors").is_file()
    # The CLI: exit code 3 and the message, no traceback.
    calls["n"] = 0
    spec = tmp_path / "gan.yaml"
    spec.write_text(moons_spec("epochs: 3"))
    out = runner.invoke(app, ["train", str(spec), "--out", str(tmp_path / "cli")])
    assert out.exit_code == ExitCode.DIVERGED, out.output
    assert "generator's loss became NaN" in out.output
    assert "Traceback" not in out.output


def far_points(n: int, centre: float, spread: float) -> torch.Tensor:
    return centre + spread * torch.randn((n, 2), generator=torch.Generator().manual_seed(n))


def test_a_winning_discriminator_stops_the_run(tmp_path: Path) -> None:
    # The real points sit far from where an untrained generator's land: with a generator
    # that barely learns, the hinge discriminator meets every margin.
    spec = moons_spec(
        "epochs: 20\nloss: hinge\ngan: {collapse_steps: 5}",
        optimizer="{generator: {lr: 1.0e-9}, discriminator: {type: adam, lr: 1.0e-2}}",
    )
    data = Reals(far_points(400, 8.0, 0.1), far_points(40, 8.0, 0.1))
    with pytest.raises(GanFailed, match="the discriminator wins") as stopped:
        train(spec, out=tmp_path / "run", data=data)
    assert "label smoothing" in stopped.value.message
    assert (tmp_path / "run" / "last.ckpt").is_file()


def test_mode_collapse_stops_the_run(tmp_path: Path) -> None:
    # Real data spread 100 times wider than an untrained generator's output: collapsed.
    spec = moons_spec(
        "epochs: 20\ngan: {collapse_steps: 5}",
        optimizer="{generator: {lr: 1.0e-9}, discriminator: {lr: 1.0e-9}}",
    )
    data = Reals(far_points(400, 0.0, 100.0), far_points(40, 0.0, 100.0))
    with pytest.raises(GanFailed, match="mode collapse"):
        train(spec, out=tmp_path / "run", data=data)


# -- checks before the run -----------------------------------------------------------------


def test_mistakes_are_located_before_the_run_directory_is_made(tmp_path: Path) -> None:
    out = tmp_path / "run"
    three = (
        moons_spec("epochs: 1")
        .replace("input: [2]", "input: [3]")
        .replace("- dense: 2\n", "- dense: 3\n")
    )
    with pytest.raises(SpecError, match=r"cannot take the spec's input shape \(3,\)"):
        train(three, out=out)
    mismatch = moons_spec("epochs: 1").replace("- dense: 2\n", "- dense: 5\n")
    with pytest.raises(SpecError, match=r"generator's samples, which are \(N, 5\)") as found:
        train(mismatch, out=out)
    assert found.value.diagnostics[0].path == ("networks", "discriminator", "input")
    no_val = moons_spec("epochs: 1", data="samples: 600, split: {val: 0.0}")
    with pytest.raises(SpecError, match="no validation split"):
        train(no_val, out=out)
    two_logits = moons_spec("epochs: 1").replace("      - dense: 1\n", "      - dense: 2\n")
    with pytest.raises(SpecError, match="one logit"):
        train(two_logits, out=out)
    with pytest.raises(SpecError, match="not supported for task gan"):
        train(moons_spec("epochs: 1\nscheduler: cosine"), out=out)
    assert not out.exists()


def test_several_processes_are_refused(tmp_path: Path) -> None:
    spec = tmp_path / "gan.yaml"
    spec.write_text(moons_spec("epochs: 1"))
    out = runner.invoke(app, ["train", str(spec), "--devices", "2"])
    assert out.exit_code == ExitCode.USER_ERROR
    assert "trains in one process" in out.output


# -- the shipped specs ---------------------------------------------------------------------


@pytest.mark.parametrize("name", ["moons_gan", "digits_dcgan"])
def test_the_example_gan_specs_build(name: str) -> None:
    spec = load_any(ROOT / "specs" / f"{name}.yaml")
    assert isinstance(spec, Networks)
    plans = plan_networks(spec)
    model = netspec.build_model(spec, seed=0)
    assert sum(p.numel() for p in model.parameters()) == sum(p.total_params for p in plans.values())
    z = torch.randn(3, *(d for d in plans["generator"].input.shape if isinstance(d, int)))
    with torch.no_grad():
        fake = model["generator"].eval()(z)
        logit = model["discriminator"].eval()(fake)
    assert tuple(fake.shape[1:]) == plans["discriminator"].input.shape
    assert tuple(logit.shape) == (3, 1)


def test_the_dcgan_spec_trains_and_draws_samples(tmp_path: Path) -> None:
    run = tmp_path / "run"
    out = runner.invoke(
        app,
        [
            "train",
            str(ROOT / "specs" / "digits_dcgan.yaml"),
            "--set",
            "train.epochs=1",
            "--set",
            "data.split.test=0.5",
            "--out",
            str(run),
        ],
    )
    assert out.exit_code == 0, out.output
    assert "test: mmd" in out.output
    assert (run / "samples.png").read_bytes().startswith(PNG)
    final = json.loads((run / "metrics.json").read_text())
    assert final["test"]["mmd"] > 0
    assert final["untrained"]["mmd"] > 0
    assert final["task"] == "gan"


# -- the run directory and `netspec sample` ------------------------------------------------


@pytest.fixture(scope="module")
def gan_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("gan") / "run"
    train(moons_spec("epochs: 2"), out=run)
    return run


def test_metrics_csv_has_the_documented_columns(gan_run: Path) -> None:
    lines = (gan_run / "metrics.csv").read_text().splitlines()
    assert lines[0] == "epoch,d_loss,g_loss,d_real,d_fake,val_mmd,lr,seconds"
    assert len(lines) == 3
    for line in lines[1:]:
        row = dict(zip(lines[0].split(","), map(float, line.split(",")), strict=True))
        assert 0.0 < row["d_real"] < 1.0
        assert 0.0 < row["d_fake"] < 1.0
        assert row["lr"] == pytest.approx(1e-3)
    for name in ("spec.yaml", "model.safetensors", "last.ckpt", "summary.txt", "curves.png"):
        assert (gan_run / name).is_file(), name
    assert (gan_run / "samples.png").read_bytes().startswith(PNG)
    assert "Task:       gan, loss non_saturating" in (gan_run / "summary.txt").read_text()


def test_sample_writes_samples_in_the_data_units(gan_run: Path, tmp_path: Path) -> None:
    out = runner.invoke(
        app, ["sample", str(gan_run), "-n", "7", "-o", str(tmp_path / "s.npy"), "--seed", "3"]
    )
    assert out.exit_code == 0, out.output
    found = np.load(tmp_path / "s.npy")
    assert found.shape == (7, 2)
    # By hand: z ~ N(0, 1) from the seed, through the saved generator, un-standardized.
    generator = netspec.load_networks(gan_run)["generator"]
    z = torch.randn((7, 8), generator=torch.Generator().manual_seed(3))
    scaling = load_file(str(gan_run / "standardizer.safetensors"))
    with torch.no_grad():
        expected = generator(z).double() * scaling["std"] + scaling["mean"]
    np.testing.assert_allclose(found, expected.numpy(), rtol=1e-5, atol=1e-5)
    out = runner.invoke(app, ["sample", str(gan_run), "-n", "50", "-o", str(tmp_path / "s.png")])
    assert out.exit_code == 0, out.output
    assert (tmp_path / "s.png").read_bytes().startswith(PNG)


def test_sample_refuses_bad_requests(gan_run: Path, tmp_path: Path) -> None:
    for args, message in (
        (["-n", "0"], "1 or more"),
        (["-o", str(tmp_path / "s.txt")], "ends in .npy"),
    ):
        out = runner.invoke(app, ["sample", str(gan_run), *args])
        assert out.exit_code == ExitCode.USER_ERROR, out.output
        assert message in out.output
    build_directory(netspec.load_spec(ROOT / "specs" / "mlp_iris.yaml"), tmp_path / "one", seed=0)
    out = runner.invoke(app, ["sample", str(tmp_path / "one"), "-o", str(tmp_path / "x.npy")])
    assert out.exit_code == ExitCode.USER_ERROR
    assert "a run of one network" in out.output
    out = runner.invoke(app, ["sample", str(tmp_path / "none"), "-o", str(tmp_path / "x.npy")])
    assert out.exit_code == ExitCode.USER_ERROR
    assert "spec.yaml is missing" in out.output


def test_samples_picture_and_unstandardize() -> None:
    images = torch.rand(10, 1, 8, 8)
    assert samples_png(images, torch.rand(12, 1, 8, 8), "digits").startswith(PNG)
    assert samples_png(torch.randn(30, 5), None, "five features").startswith(PNG)
    scaling = {
        "mean": torch.tensor([1.0, -2.0, 3.0], dtype=torch.float64),
        "std": torch.tensor([2.0, 0.5, 1.0], dtype=torch.float64),
        "axis": torch.tensor(0),
    }
    x = torch.randn(4, 3, 2, 2)
    back = unstandardize(x, scaling)
    torch.testing.assert_close(back[:, 1], x[:, 1] * 0.5 - 2.0)


def test_a_resumed_run_with_a_tied_generator_weight_loads_its_best_weights(
    tmp_path: Path,
) -> None:
    """model.safetensors holds a tied weight once; a resumed run whose best epoch came
    before the resume reads it back and must restore the tie, not fail on the missing key."""
    spec = moons_spec(
        "epochs: 2\ngan: {ema: 0.9}\n"
        "early_stopping: {monitor: val_mmd, patience: 5, min_delta: 100}"
    ).replace(
        "      - dense: {units: 64, activation: relu}\n"
        "      - dense: {units: 64, activation: relu}\n",
        "      - dense: {units: 8, activation: relu}\n"
        "      - dense: {units: 8, activation: relu, tie: dense_0}\n",
        1,
    )
    with pytest.raises(TrainingInterrupted):
        train(spec, out=tmp_path / "run", reporter=Recorder(stop_at_epoch=1))  # type: ignore[arg-type]
    resumed = train(resume=tmp_path / "run")
    assert resumed.best_epoch == 1
    saved = load_file(str(tmp_path / "run" / "model.safetensors"))
    assert "generator.dense_1.weight" not in saved
    models = netspec.load_networks(tmp_path / "run")
    g = models["generator"]
    assert g.dense_1.weight is g.dense_0.weight


def test_early_stopping_without_a_monitor_watches_val_mmd() -> None:
    """As for one network, early stopping's default monitor is the validation value: a
    GAN logs no val_loss, so it is val_mmd (not an error suggesting g_loss)."""
    nets = load_any(moons_spec("epochs: 2\nearly_stopping: {patience: 3}"))
    assert isinstance(nets, Networks)
    assert nets.train is not None
    assert nets.train.early_stopping is not None
    assert nets.train.early_stopping.monitor == "val_mmd"
    with pytest.raises(SpecError, match="not logged"):
        load_any(moons_spec("early_stopping: {monitor: val_loss, patience: 3}"))


def test_a_warmup_in_steps_is_refused_like_one_in_epochs() -> None:
    """The GAN loop has no lr schedule: scheduler.warmup_steps (added for language models)
    would be silently ignored, as warmup_epochs would."""
    for warmup in ("warmup_epochs: 1", "warmup_steps: 10"):
        with pytest.raises(SpecError, match=r"train\.scheduler is not supported for task gan"):
            load_any(moons_spec(f"epochs: 1\nscheduler: {{{warmup}}}"))


def test_data_augmentation_is_refused_not_ignored(tmp_path: Path) -> None:
    """The GAN loop trains on the data as loaded: data.augment would be silently dropped
    (augmenting only the real samples would also teach the generator the augmentation)."""
    spec = moons_spec("epochs: 1", data="samples: 600, augment: {noise: 0.1}")
    with pytest.raises(SpecError, match="augment is not supported for task gan") as found:
        train(spec, out=tmp_path / "run")
    assert found.value.diagnostics[0].path == ("data", "augment")
    assert not (tmp_path / "run").exists()


def test_a_generator_with_a_token_input_is_refused_before_the_run(tmp_path: Path) -> None:
    """Noise is float: a generator taking int64 ids is a located error, not an internal
    error from the embedding after the run directory is made."""
    spec = moons_spec("epochs: 1").replace(
        "    input: [8]\n    layers:\n",
        "    input: {shape: [4], dtype: int64}\n    layers:\n"
        "      - embedding: {num_embeddings: 10, embedding_dim: 2}\n      - flatten\n",
        1,
    )
    with pytest.raises(SpecError, match="noise") as found:
        train(spec, out=tmp_path / "run")
    assert found.value.diagnostics[0].path[:3] == ("networks", "generator", "input")
    assert not (tmp_path / "run").exists()


def test_a_failure_in_the_first_epoch_claims_no_best_weights(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before any epoch ended there are no best weights: the message must not say
    model.safetensors is kept."""
    real_loss = GanLoss.generator

    def poisoned(self: GanLoss, d_fake: torch.Tensor) -> torch.Tensor:
        return real_loss(self, d_fake) * math.nan

    monkeypatch.setattr(GanLoss, "generator", poisoned)
    with pytest.raises(TrainingDiverged) as stopped:
        train(moons_spec("epochs: 3"), out=tmp_path / "run")
    assert not (tmp_path / "run" / "model.safetensors").exists()
    assert "no best weights" in stopped.value.message
    assert "before the first epoch" in stopped.value.message


def test_a_streak_that_ends_between_two_reads_still_stops_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The health counters are read every few steps: a winning streak of collapse_steps
    that ends before the next read must still be seen."""
    calls = {"n": 0}

    def won(self: GanLoss, d_loss: torch.Tensor) -> torch.Tensor:
        calls["n"] += 1
        return torch.tensor(calls["n"] <= 5)  # steps 1-5 win, then never again

    monkeypatch.setattr(GanLoss, "won", won)
    # 48 batches of 10 per epoch: the counters are read every 3 steps (at 3, 6, ...)
    spec = moons_spec("epochs: 1\ngan: {collapse_steps: 5}").replace(
        "batch_size: 50", "batch_size: 10"
    )
    with pytest.raises(GanFailed, match="the discriminator wins"):
        train(spec, out=tmp_path / "run")


@pytest.mark.parametrize("kind", ["npz", "csv", "blobs", "spirals"])
def test_a_gan_trains_on_files_and_other_vector_sources(kind: str, tmp_path: Path) -> None:
    """The real samples come from any vector source; `netspec sample` gives them back in the
    data's units (the file's own scale, not standardized)."""
    rng = np.random.default_rng(0)
    x = (rng.normal(size=(300, 2)) * [1.0, 0.3] + [20.0, -5.0]).astype("float32")
    source = {"blobs": "source: blobs", "spirals": "source: spirals"}.get(kind)
    if kind == "npz":
        np.savez(tmp_path / "points.npz", x=x)
        source = f"source: npz, path: {tmp_path / 'points.npz'}"
    elif kind == "csv":
        np.savetxt(tmp_path / "points.csv", x, delimiter=",", header="a,b", comments="")
        source = f"source: csv, path: {tmp_path / 'points.csv'}"
    spec = moons_spec("epochs: 2").replace("source: moons, noise: 0.05, samples: 600", source or "")
    result = train(spec, out=tmp_path / "run")
    assert len(result.history) == 2
    assert math.isfinite(result.test["mmd"])
    drawn = generate(result.run_dir, 50, seed=0)
    assert tuple(drawn.shape) == (50, 2)
    if kind in ("npz", "csv"):  # un-standardized: near the file's mean, not near 0
        assert abs(float(drawn[:, 0].mean()) - 20.0) < 5.0
