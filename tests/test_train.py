"""netspec.training: tiny models on synthetic tensors, a few epochs each."""

from __future__ import annotations

import itertools
import json
import math
import signal
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file

import netspec
from netspec.errors import SpecError
from netspec.spec.load import load_spec
from netspec.training import (
    NullReporter,
    RunResult,
    StartInfo,
    TrainingDiverged,
    TrainingInterrupted,
    evaluate,
    predict,
    train,
)
from netspec.training.checkpoint import CHECKPOINT_VERSION, SCHEMA, TrainState
from netspec.training.optim import Schedule, effective_lr, make_optimizer
from netspec.training.rundir import RunDir


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

    def describe(self) -> str:
        return f"synthetic: {len(self.train.x)} train"


def blobs(n: int = 160, classes: int = 3, features: int = 8, seed: int = 0) -> Data:
    """Well separated gaussian blobs: an easy classification problem."""
    g = torch.Generator().manual_seed(seed)
    centers = torch.randn(classes, features, generator=g) * 3

    def split(k: int) -> Split:
        y = torch.randint(0, classes, (k,), generator=g)
        return Split(centers[y] + torch.randn(k, features, generator=g), y)

    names = [f"c{i}" for i in range(classes)]
    return Data(split(n), split(n // 4), split(n // 4), classes, names)


def regression(n: int = 160, outputs: int = 1, seed: int = 0) -> Data:
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(8, outputs, generator=g)

    def split(k: int) -> Split:
        x = torch.randn(k, 8, generator=g)
        return Split(x, x @ w + 0.1 * torch.randn(k, outputs, generator=g))

    return Data(split(n), split(n // 4), split(n // 4))


def binary(n: int = 160, seed: int = 0) -> Data:
    g = torch.Generator().manual_seed(seed)

    def split(k: int) -> Split:
        x = torch.randn(k, 8, generator=g)
        return Split(x, (x[:, :1] + x[:, 1:2] > 0).float())

    return Data(split(n), split(n // 4), split(n // 4), 2, ["no", "yes"])


MLP = """
name: tiny
input: [8]
layers:
  - dense: {units: 16, activation: relu}
  - dense: OUT
"""


def spec_text(train: str, out: int = 3, layers: str | None = None) -> str:
    body = layers if layers is not None else MLP.replace("OUT", str(out))
    return body + "train:\n" + "".join(f"  {line}\n" for line in train.strip().splitlines())


def weights(path: Path) -> dict[str, torch.Tensor]:
    return dict(torch.load(path / "last.ckpt", weights_only=True)["model"])


def same(a: Mapping[str, torch.Tensor], b: Mapping[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def without_time(history: Any) -> list[dict[str, float]]:
    return [{k: v for k, v in row.items() if k != "seconds"} for row in history]


@dataclass
class Recorder(NullReporter):
    """Records the callbacks; raises KeyboardInterrupt at a batch or epoch if asked."""

    stop_at_batch: int | None = None
    stop_at_epoch: int | None = None
    signal_at_batch: int | None = None
    term_at_batch: int | None = None
    starts: list[StartInfo] = field(default_factory=list)
    batches: list[tuple[int, float]] = field(default_factory=list)
    epochs: list[int] = field(default_factory=list)
    ends: list[RunResult] = field(default_factory=list)

    def on_start(self, info: StartInfo) -> None:
        self.starts.append(info)

    def on_batch(self, step: int, loss: float) -> None:
        self.batches.append((step, loss))
        if step == self.signal_at_batch:
            signal.raise_signal(signal.SIGINT)  # deferred by the loop to the batch's end
        if step == self.term_at_batch:
            signal.raise_signal(signal.SIGTERM)  # the same: finish the batch, checkpoint, stop
        if step == self.stop_at_batch:
            raise KeyboardInterrupt

    def on_epoch(self, epoch: int, row: Mapping[str, float]) -> None:
        self.epochs.append(epoch)
        if epoch == self.stop_at_epoch:
            raise KeyboardInterrupt

    def on_end(self, result: RunResult) -> None:
        self.ends.append(result)


@pytest.fixture
def no_curves(monkeypatch: pytest.MonkeyPatch) -> None:
    """Skip drawing curves.png where a test does not look at it (matplotlib is slow)."""
    monkeypatch.setattr(RunDir, "write_curves", lambda self, rows, title: None)


# -- learning ------------------------------------------------------------------------------


def test_loss_falls_and_accuracy_beats_chance(tmp_path: Path) -> None:
    spec = spec_text(
        "epochs: 8\nbatch_size: 16\noptimizer: {type: adam, lr: 1.0e-2}\n"
        "metrics: [accuracy, f1, roc_auc]"
    )
    reporter = Recorder()
    result = train(spec, out=tmp_path / "run", data=blobs(), reporter=reporter)
    losses = [row["train_loss"] for row in result.history]
    assert losses[-1] < 0.5 * losses[0]
    assert result.test["accuracy"] > 0.9  # chance: 1/3
    assert 0.0 <= result.test["f1"] <= 1.0
    assert result.test["roc_auc"] > 0.9
    assert reporter.epochs == list(range(1, 9))
    assert len(reporter.ends) == 1
    assert reporter.starts[0].batches_per_epoch == 10
    assert not reporter.starts[0].resumed
    assert reporter.batches
    assert all(math.isfinite(loss) for _, loss in reporter.batches)


def test_regression_and_binary_learn(tmp_path: Path) -> None:
    spec = spec_text(
        "task: regression\nepochs: 10\noptimizer: {type: adam, lr: 1.0e-2}\n"
        "metrics: [mae, rmse, r2]",
        out=1,
    )
    result = train(spec, out=tmp_path / "reg", data=regression())
    assert result.test["r2"] > 0.8
    assert result.test["rmse"] == pytest.approx(math.sqrt(result.test["loss"]), rel=1e-4)
    spec = spec_text(
        "task: binary\nepochs: 10\noptimizer: {type: adam, lr: 1.0e-2}\n"
        "metrics: [accuracy, roc_auc]",
        out=1,
    )
    result = train(spec, out=tmp_path / "bin", data=binary())
    assert result.test["accuracy"] > 0.8


OPTIMIZERS = [
    "sgd",
    "{type: sgd, momentum: 0.9, nesterov: true}",
    "adam",
    "adamw",
    "{type: rmsprop, momentum: 0.5, weight_decay: 1.0e-4}",
]
SCHEDULERS = [
    "none",
    "{type: step, step_size: 1}",
    "{type: cosine, warmup_epochs: 1}",
    "onecycle",
    "{type: plateau, patience: 0, warmup_epochs: 1}",
]


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
@pytest.mark.parametrize("scheduler", SCHEDULERS)
@pytest.mark.usefixtures("no_curves")
def test_every_optimizer_and_scheduler_runs(tmp_path: Path, optimizer: str, scheduler: str) -> None:
    spec = spec_text(f"epochs: 2\nbatch_size: 40\noptimizer: {optimizer}\nscheduler: {scheduler}")
    result = train(spec, out=tmp_path / "run", data=blobs())
    assert result.epochs_run == 2
    assert all(math.isfinite(row["train_loss"]) for row in result.history)


TASKS = [
    ("classification", "cross_entropy", blobs, 3),
    ("classification", "{type: cross_entropy, label_smoothing: 0.1}", blobs, 3),
    ("binary", "bce_with_logits", binary, 1),
    ("regression", "mse", regression, 1),
    ("regression", "l1", regression, 1),
    ("regression", "{type: huber, delta: 0.5}", regression, 1),
    ("autoencoder", "mse", regression, 8),
    ("autoencoder", "l1", regression, 8),
    ("autoencoder", "huber", regression, 8),
]


@pytest.mark.parametrize(("task", "loss", "make", "out"), TASKS)
@pytest.mark.usefixtures("no_curves")
def test_every_task_and_loss_runs(
    tmp_path: Path, task: str, loss: str, make: Any, out: int
) -> None:
    from netspec.spec.sections import TASK_METRICS

    metrics = ", ".join(TASK_METRICS[task])
    spec = spec_text(f"task: {task}\nloss: {loss}\nepochs: 1\nmetrics: [{metrics}]", out=out)
    data = make()
    if task == "autoencoder" and "bce" in loss:
        data = Data(*(Split(s.x.sigmoid(), s.y) for s in (data.train, data.val, data.test)))
    result = train(spec, out=tmp_path / "run", data=data)
    assert set(result.test) == {"loss", *TASK_METRICS[task]}


def test_per_position_classification(tmp_path: Path) -> None:
    """Targets (N, T) and outputs (N, T, C): one class per time step."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 5, 4, generator=g)
    y = x.argmax(-1)
    data = Data(Split(x, y), Split(x[:16], y[:16]), None, 4)
    layers = (
        "name: seq\ninput: [5, 4]\nlayers:\n  - dense: {units: 16, activation: relu}\n"
        "  - dense: 4\n"
    )
    spec = spec_text("epochs: 2\nmetrics: [accuracy, f1]", layers=layers)
    result = train(spec, out=tmp_path / "run", data=data)
    assert 0 <= result.history[-1]["val_accuracy"] <= 1
    assert result.test == {}


# -- learning rate -------------------------------------------------------------------------


def lrs(train_yaml: str, steps_per_epoch: int, steps: int) -> list[float]:
    spec = load_spec(spec_text(train_yaml))
    assert spec.train is not None
    optimizer = make_optimizer(spec.train, torch.nn.Linear(2, 2).parameters())
    schedule = Schedule(optimizer, spec.train, steps_per_epoch)
    out = []
    for _ in range(steps):
        schedule.apply()
        out.append(optimizer.param_groups[0]["lr"])
        schedule.advance()
    return out


def test_linear_warmup_then_constant() -> None:
    got = lrs("epochs: 5\noptimizer: {type: sgd, lr: 0.1}\nscheduler: {warmup_epochs: 2}", 2, 6)
    assert got == pytest.approx([0.025, 0.05, 0.075, 0.1, 0.1, 0.1])


def test_lr_scaling_with_batch_size() -> None:
    spec = load_spec(
        spec_text(
            "batch_size: 128\naccumulate_grad_batches: 2\nscale_lr: true\n"
            "optimizer: {type: adam, lr: 1.0e-3}"
        )
    )
    assert spec.train is not None
    assert effective_lr(spec.train) == pytest.approx(8e-3)  # x (128 * 2) / 32
    got = lrs(
        "batch_size: 64\nscale_lr: true\nepochs: 4\noptimizer: {type: sgd, lr: 0.1}\n"
        "scheduler: {type: cosine, warmup_epochs: 1}",
        4,
        16,
    )
    assert got[:4] == pytest.approx([0.05, 0.1, 0.15, 0.2])  # warmup to 0.1 x 64 / 32
    assert got[4] == pytest.approx(0.2)
    assert got[-1] < 0.01
    assert all(a >= b for a, b in itertools.pairwise(got[4:]))


def test_step_and_onecycle_schedules() -> None:
    got = lrs(
        "epochs: 6\noptimizer: {type: sgd, lr: 1.0}\n"
        "scheduler: {type: step, step_size: 2, gamma: 0.5}",
        1,
        6,
    )
    assert got == pytest.approx([1, 1, 0.5, 0.5, 0.25, 0.25])
    got = lrs(
        "epochs: 10\noptimizer: {type: sgd, lr: 0.1, momentum: 0.9}\n"
        "scheduler: {type: onecycle, max_lr: 1.0}",
        10,
        100,
    )
    assert got[0] == pytest.approx(1.0 / 25)
    assert max(got) == pytest.approx(1.0)
    assert got.index(max(got)) == 29
    assert got[-1] == pytest.approx(1.0 / 25e4)


def test_lr_column_follows_the_warmup(tmp_path: Path) -> None:
    spec = spec_text(
        "epochs: 3\nbatch_size: 80\noptimizer: {type: sgd, lr: 0.1}\n"
        "scheduler: {type: none, warmup_epochs: 2}"
    )
    result = train(spec, out=tmp_path / "run", data=blobs())
    assert [row["lr"] for row in result.history] == pytest.approx([0.05, 0.1, 0.1])


# -- early stopping and best weights -------------------------------------------------------


def test_early_stopping_keeps_the_best_weights(tmp_path: Path) -> None:
    # Random labels: the model memorises the training set and the validation loss rises.
    data = blobs()
    g = torch.Generator().manual_seed(1)
    noisy = Data(
        *(
            Split(s.x, torch.randint(0, 3, (len(s.y),), generator=g))
            for s in (data.train, data.val, data.test)
        ),
        num_classes=3,
    )
    text = (
        "epochs: 40\nbatch_size: 16\noptimizer: {type: adam, lr: 3.0e-2}\n"
        "early_stopping: {monitor: val_loss, patience: 3}"
    )
    result = train(spec_text(text), out=tmp_path / "stopped", data=noisy)
    assert result.stopped_early
    assert result.epochs_run == result.best_epoch + 3
    losses = [row["val_loss"] for row in result.history]
    assert result.best_value == min(losses) == losses[result.best_epoch - 1]
    stored = json.loads((tmp_path / "stopped" / "metrics.json").read_text())
    assert stored["best_epoch"] == result.best_epoch
    assert stored["stopped_early"] is True
    # The same run cut at the best epoch ends with exactly the weights that were kept.
    shorter = text.replace("epochs: 40", f"epochs: {result.best_epoch}")
    train(spec_text(shorter), out=tmp_path / "short", data=noisy)
    best = load_file(str(tmp_path / "stopped" / "model.safetensors"))
    assert same(best, weights(tmp_path / "short"))
    assert same(netspec.load_model(tmp_path / "stopped").state_dict(), best)
    assert not same(best, weights(tmp_path / "stopped"))  # the last weights differ


def test_early_stopping_on_a_metric_maximises_it(tmp_path: Path) -> None:
    spec = spec_text(
        "epochs: 6\nmetrics: [accuracy]\n"
        "early_stopping: {monitor: val_accuracy, patience: 2, min_delta: 0.5}"
    )
    result = train(spec, out=tmp_path / "run", data=blobs())
    # min_delta 0.5: no later epoch improves on the first by that much.
    assert result.monitor == "val_accuracy"
    assert result.best_epoch == 1
    assert result.stopped_early
    assert result.epochs_run == 3


# -- NaN, interruption, resume -------------------------------------------------------------


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path: Path) -> None:
    # The lr jumps by 1e30 after the first epoch: the second one overflows.
    spec = spec_text(
        "epochs: 4\noptimizer: {type: sgd, lr: 0.1}\n"
        "scheduler: {type: step, step_size: 1, gamma: 1.0e+30}"
    )
    run = tmp_path / "run"
    with pytest.raises(
        TrainingDiverged, match=r"training loss became (nan|inf) in epoch 2"
    ) as info:
        train(spec, out=run, data=blobs())
    assert "end of epoch 1" in info.value.message
    assert "lower learning rate" in info.value.message
    assert info.value.run_dir == run
    assert info.value.epoch == 1
    state = torch.load(run / "last.ckpt", weights_only=True)
    assert state["epoch"] == 1
    assert state["batch"] == 0
    assert all(torch.isfinite(v).all() for v in state["model"].values())
    model = netspec.load_model(run)
    assert all(torch.isfinite(v).all() for v in model.state_dict().values())
    assert len((run / "metrics.csv").read_text().splitlines()) == 2  # header + epoch 1


RESUMABLE = """
epochs: 4
batch_size: 16
accumulate_grad_batches: 2
optimizer: {type: sgd, lr: 0.05, momentum: 0.9}
scheduler: {type: cosine, warmup_epochs: 1}
metrics: [accuracy]
"""
DROPOUT = """
name: tiny
input: [8]
layers:
  - dense: {units: 16, activation: relu}
  - dropout: 0.3
  - dense: 3
"""


@pytest.fixture
def python_signal_handlers() -> Iterator[None]:
    """Python's own SIGINT/SIGTERM handlers, whatever the test runner inherited: a process
    started in the background by a non-interactive shell has SIGINT ignored, and training
    rightly leaves an ignored signal alone."""
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    yield
    for s, handler in before.items():
        signal.signal(s, handler)


@pytest.mark.usefixtures("python_signal_handlers")
@pytest.mark.parametrize(
    "stop",
    [{"stop_at_epoch": 2}, {"stop_at_batch": 13}, {"signal_at_batch": 15}, {"term_at_batch": 15}],
    ids=["after-epoch", "mid-epoch", "sigint", "sigterm"],
)
def test_resume_reproduces_the_uninterrupted_run(tmp_path: Path, stop: dict[str, int]) -> None:
    spec = spec_text(RESUMABLE, layers=DROPOUT)
    data = blobs()
    whole = train(spec, out=tmp_path / "whole", data=data)
    with pytest.raises(TrainingInterrupted, match="checkpoint saved") as info:
        train(spec, out=tmp_path / "cut", data=data, reporter=Recorder(**stop))
    assert info.value.resume_command == f"netspec train --resume {tmp_path / 'cut'}"
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    reporter = Recorder()
    resumed = train(resume=tmp_path / "cut", data=data, reporter=reporter)
    assert reporter.starts[0].resumed
    assert reporter.starts[0].start_epoch >= 1
    assert same(weights(tmp_path / "whole"), weights(tmp_path / "cut"))
    assert same(
        load_file(str(tmp_path / "whole" / "model.safetensors")),
        load_file(str(tmp_path / "cut" / "model.safetensors")),
    )
    assert without_time(whole.history) == without_time(resumed.history)
    assert whole.test == resumed.test


def test_resume_checks_the_spec_and_the_directory(tmp_path: Path) -> None:
    spec = spec_text("epochs: 1")
    train(spec, out=tmp_path / "run", data=blobs())
    with pytest.raises(SpecError, match="already holds a training run"):
        train(spec, out=tmp_path / "run", data=blobs())
    with pytest.raises(
        SpecError, match=r"the spec differs .*: train\.epochs: 1 in the run, 2 now\n"
    ):
        train(spec_text("epochs: 2"), resume=tmp_path / "run", data=blobs())
    with pytest.raises(SpecError, match=r"spec\.yaml is missing"):
        train(resume=tmp_path, data=blobs())
    # Resuming a finished run trains no more and gives the same result.
    again = train(spec, resume=tmp_path / "run", data=blobs())
    assert again.epochs_run == 1


def test_seed_gives_bit_identical_runs(tmp_path: Path) -> None:
    spec = spec_text("epochs: 2\nseed: 7", layers=DROPOUT)
    a = train(spec, out=tmp_path / "a", data=blobs())
    b = train(spec, out=tmp_path / "b", data=blobs())
    assert (tmp_path / "a" / "model.safetensors").read_bytes() == (
        tmp_path / "b" / "model.safetensors"
    ).read_bytes()
    assert same(weights(tmp_path / "a"), weights(tmp_path / "b"))
    assert without_time(a.history) == without_time(b.history)
    train(spec.replace("seed: 7", "seed: 8"), out=tmp_path / "c", data=blobs())
    assert not same(weights(tmp_path / "a"), weights(tmp_path / "c"))


def test_training_leaves_the_global_rng_alone(tmp_path: Path) -> None:
    torch.manual_seed(123)
    before = torch.get_rng_state()
    train(spec_text("epochs: 1", layers=DROPOUT), out=tmp_path / "run", data=blobs())
    assert torch.equal(torch.get_rng_state(), before)


# -- the run directory ---------------------------------------------------------------------


def test_run_directory_files(tmp_path: Path) -> None:
    spec = spec_text("epochs: 3\nmetrics: [accuracy, f1]")
    run = tmp_path / "run"
    result = train(spec, out=run, data=blobs())
    for name in (
        "spec.yaml",
        "model.safetensors",
        "last.ckpt",
        "metrics.csv",
        "metrics.json",
        "curves.png",
        "summary.txt",
        "run.json",
    ):
        assert (run / name).is_file(), name
    assert (run / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    final = json.loads((run / "metrics.json").read_text())
    assert set(final["test"]) == {"loss", "accuracy", "f1"}
    assert final["best_epoch"] == result.best_epoch
    assert final["samples_per_second"] > 0
    rows = (run / "metrics.csv").read_text().splitlines()
    assert rows[0] == "epoch,train_loss,val_loss,val_accuracy,val_f1,lr,seconds"
    assert len(rows) == 4
    assert rows[1].startswith("1,")
    summary = (run / "summary.txt").read_text()
    assert "Total params" in summary
    assert "synthetic: 160 train" in summary
    assert "Monitor:    val_loss (min)" in summary
    assert load_spec(run / "spec.yaml").train == load_spec(spec).train


def test_checkpoint_is_plain_data(tmp_path: Path) -> None:
    train(spec_text("epochs: 1"), out=tmp_path / "run", data=blobs())
    state = torch.load(tmp_path / "run" / "last.ckpt", weights_only=True)
    assert state["format"] == CHECKPOINT_VERSION
    assert set(state) == {"format", *SCHEMA}
    assert isinstance(state["rank_rngs"][0]["torch_rng"], torch.Tensor)
    assert isinstance(state["perm_rng"], torch.Tensor)


def test_load_model_evaluate_and_predict(tmp_path: Path) -> None:
    data = blobs()
    run = tmp_path / "run"
    result = train(spec_text("epochs: 4\nmetrics: [accuracy]"), out=run, data=data)
    model = netspec.load_model(run)
    assert same(model.state_dict(), load_file(str(run / "model.safetensors")))
    found = evaluate(run, "test", data=data)
    assert found == pytest.approx(dict(result.test))
    assert evaluate(run, "val", data=data)["loss"] == pytest.approx(
        result.history[result.best_epoch - 1]["val_loss"]
    )
    with torch.no_grad():
        logits = model(data.test.x)
    assert data.test is not None
    prediction = predict(run, data.test.x.numpy())
    assert torch.equal(prediction.labels, logits.argmax(-1))  # type: ignore[arg-type]
    assert prediction.probabilities is not None
    assert prediction.probabilities.sum(-1) == pytest.approx(torch.ones(len(data.test.x)))
    assert prediction.label_names() == [f"c{i}" for i in logits.argmax(-1).tolist()]


def test_predict_regression_values(tmp_path: Path) -> None:
    data = regression()
    run = tmp_path / "run"
    train(spec_text("task: regression\nepochs: 2", out=1), out=run, data=data)
    assert data.test is not None
    prediction = predict(run, data.test.x[:5])
    assert prediction.values is not None
    assert prediction.values.shape == (5,)
    assert prediction.labels is None


def test_default_run_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = train(spec_text("epochs: 1"), data=blobs())
    assert result.run_dir.parent == Path("runs")
    assert result.run_dir.name.startswith("tiny-")
    assert (result.run_dir / "last.ckpt").is_file()


def test_trains_from_the_specs_data_section(tmp_path: Path) -> None:
    """The real data path: iris, standardized; predict takes raw features."""
    pytest.importorskip("sklearn")
    spec = (
        "name: iris\ninput: [4]\nlayers:\n  - dense: {units: 16, activation: relu}\n"
        "  - dense: 3\ndata: {source: iris, split: {val: 0.2, test: 0.2, seed: 0}}\n"
        "train: {epochs: 30, batch_size: 16, optimizer: {type: adam, lr: 1.0e-2},"
        " metrics: [accuracy]}\n"
    )
    run = tmp_path / "run"
    result = train(spec, out=run)
    assert result.test["accuracy"] > 0.8
    assert (run / "standardizer.safetensors").is_file()
    assert evaluate(run)["accuracy"] == pytest.approx(result.test["accuracy"])
    prediction = predict(run, [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]])
    assert prediction.label_names() == ["setosa", "virginica"]


# -- mistakes found before training --------------------------------------------------------


@pytest.mark.parametrize(
    ("task", "out", "data", "message"),
    [
        ("classification", 3, blobs(classes=10), r"10 classes but the model outputs \(N, 3\)"),
        ("binary", 2, binary(), r"one logit per label, \(N, 1\), but the model outputs \(N, 2\)"),
        ("regression", 3, regression(outputs=2), r"targets are \(N, 2\) .* outputs \(N, 3\)"),
        ("autoencoder", 4, regression(), r"reconstructs its input \(N, 8\), .* outputs \(N, 4\)"),
    ],
)
def test_task_must_fit_the_output(
    tmp_path: Path, task: str, out: int, data: Data, message: str
) -> None:
    with pytest.raises(SpecError, match=message) as info:
        train(spec_text(f"task: {task}", out=out), out=tmp_path / "run", data=data)
    assert info.value.diagnostics[0].path == ("train", "task")
    assert not (tmp_path / "run").exists()  # nothing written


def test_labels_out_of_range(tmp_path: Path) -> None:
    data = blobs()
    bad = Data(Split(data.train.x, data.train.y + 1), None, None, 3)
    with pytest.raises(SpecError, match="class labels run from 1 to 3, but the model has 3"):
        train(spec_text("epochs: 1"), out=tmp_path / "run", data=bad)


def test_monitor_needs_a_validation_split(tmp_path: Path) -> None:
    data = blobs()
    spec = spec_text("early_stopping: {monitor: val_loss}")
    with pytest.raises(SpecError, match="no validation split"):
        train(spec, out=tmp_path / "run", data=Data(data.train, None, None, 3))
    # Without early stopping the best weights follow train_loss.
    result = train(spec_text("epochs: 2"), out=tmp_path / "ok", data=Data(data.train, None, None))
    assert result.monitor == "train_loss"
    assert result.test == {}


@pytest.mark.parametrize(
    ("train_yaml", "message"),
    [
        ("task: regression\nloss: cross_entropy", "cross_entropy does not fit task regression"),
        ("metrics: [mae]", "mae does not fit task classification"),
        ("metrics: [f1]\nearly_stopping: {monitor: val_f2}", "did you mean 'val_f1'"),
        ("optimizer: {type: adam, momentum: 0.9}", "momentum does not apply to adam"),
        ("optimizer: {type: sgd, nesterov: true}", "nesterov needs momentum"),
        ("scheduler: {type: cosine, step_size: 3}", "step_size does not apply to cosine"),
        ("loss: {type: mse, label_smoothing: 0.1}", "label_smoothing does not apply to mse"),
        ("device: gpu", "device is auto, cpu, cuda, cuda:N or mps"),
    ],
)
def test_train_section_mistakes_are_spec_errors(train_yaml: str, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        load_spec(spec_text(train_yaml))


def test_metrics_may_be_one_name() -> None:
    spec = load_spec(spec_text("metrics: accuracy"))
    assert spec.train is not None
    assert spec.train.metrics == ("accuracy",)


def test_sixteen_bit_precision_needs_cuda(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="16-mixed needs a CUDA device"):
        train(spec_text("precision: 16-mixed"), out=tmp_path / "run", data=blobs(), device="cpu")


def test_bf16_mixed_precision_runs_on_cpu(tmp_path: Path) -> None:
    result = train(
        spec_text("epochs: 1\nprecision: bf16-mixed"),
        out=tmp_path / "run",
        data=blobs(),
        device="cpu",
    )
    assert math.isfinite(result.history[0]["train_loss"])


def test_spec_differences_name_the_innermost_paths() -> None:
    from netspec.training.preflight import differences

    run = {"layers": [{"dense": 3}, {"relu": None}], "train": {"optimizer": {"lr": 0.1}}}
    now = {"layers": [{"dense": 4}, {"relu": None}], "train": {"optimizer": {"lr": 0.1}, "seed": 2}}
    assert differences(run, now) == [
        "layers[0].dense: 3 in the run, 4 now",
        "train.seed: absent in the run, 2 now",
    ]
    assert differences({"layers": [1]}, {"layers": [1, 2]}) == [
        "layers: [1] in the run, [1, 2] now"
    ]


def test_checkpoint_every_steps_saves_within_epochs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from netspec.training.rundir import RunDir

    saved: list[tuple[int, int, int]] = []
    original = RunDir.write_checkpoint

    def spy(self: RunDir, state: TrainState) -> None:
        saved.append((state.epoch, state.batch, state.batches_seen))
        original(self, state)

    monkeypatch.setattr(RunDir, "write_checkpoint", spy)
    # 160 samples / batch 16 = 10 batches an epoch; 2 batches a step: 5 steps an epoch.
    spec = spec_text(
        "epochs: 2\nbatch_size: 16\naccumulate_grad_batches: 2\ncheckpoint_every_steps: 2"
    )
    train(spec, out=tmp_path / "run", data=blobs())
    # The start; steps 2, 4, 6 and 8 of the run (step 10 ends epoch 2: saved as its end);
    # and each epoch's end.
    assert saved == [
        (0, 0, 0),
        (0, 4, 4),
        (0, 8, 8),
        (1, 0, 10),
        (1, 2, 12),
        (1, 6, 16),
        (2, 0, 20),
    ]


@pytest.mark.parametrize("name", ["x_$a^$", "$\\foo$", "a\x1bb"])
def test_curves_take_the_spec_name_as_plain_text(name: str) -> None:
    # A `$...$` in a name was parsed as mathtext: savefig raised after the first epoch.
    import warnings

    from netspec.training.plots import curves_png

    history = [{"epoch": 1.0, "train_loss": 1.0, "val_loss": 1.0, "val_accuracy": 0.5}]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a missing glyph for a control character warns
        assert curves_png(history, name).startswith(b"\x89PNG")
