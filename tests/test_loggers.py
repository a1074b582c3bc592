"""Experiment tracking (``train.loggers``): TensorBoard event files and MLflow runs read back
and compared with metrics.csv; a missing package names its extra; the spec's checks."""

from __future__ import annotations

import csv
import json
import math
import sys
from pathlib import Path
from typing import Any

import pytest

from netspec.errors import SpecError
from netspec.spec.load import load_spec
from netspec.training import train
from netspec.training.loggers import MLFLOW_FILE, TENSORBOARD_DIR, flatten, tag

IRIS = """
name: iris_tracked
input: [4]
layers:
  - dense: {units: 8, activation: relu}
  - dropout: 0.1
  - dense: {units: 3}
data:
  source: iris
  split: {val: 0.2, test: 0.2, seed: 0}
train:
  optimizer: {type: adam, lr: 1.0e-2}
  epochs: 2
  batch_size: 32
  metrics: [accuracy]
  device: cpu
  seed: 0
"""


def spec_with(*overrides: str) -> Any:
    return load_spec(IRIS, overrides)


def history(run: Path) -> list[dict[str, float]]:
    with (run / "metrics.csv").open() as f:
        return [{k: float(v) for k, v in row.items() if v != ""} for row in csv.DictReader(f)]


def test_tags() -> None:
    keys = ("train_loss", "val_loss", "val_accuracy", "train_recon", "lr", "seconds")
    assert [tag(k) for k in keys] == [
        "loss/train",
        "loss/val",
        "val/accuracy",
        "train/recon",
        "lr",
        "seconds",
    ]
    assert flatten({"a": {"b": 1, "c": [1, 2]}, "d": "x"}, "train") == {
        "train.a.b": 1,
        "train.a.c": "[1, 2]",
        "train.d": "x",
    }


def test_tensorboard_scalars_graph_and_hparams(tmp_path: Path) -> None:
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    spec = spec_with("train.loggers=[csv, tensorboard]")
    result = train(spec, out=tmp_path / "run")
    rows = history(result.run_dir)
    assert len(rows) == 2
    events = EventAccumulator(str(result.run_dir / TENSORBOARD_DIR))
    events.Reload()
    scalars = set(events.Tags()["scalars"])
    assert {"loss/train", "loss/val", "val/accuracy", "lr"} <= scalars
    for key in set(rows[0]) - {"epoch"}:
        logged = events.Scalars(tag(key))
        assert [e.step for e in logged] == [1, 2]
        for event, row in zip(logged, rows, strict=True):
            assert math.isclose(event.value, row[key], rel_tol=1e-6, abs_tol=1e-9), key
    assert events.Graph() is not None
    plugins = events.PluginTagToContent("hparams")
    assert "_hparams_/experiment" in plugins
    assert "_hparams_/session_start_info" in plugins
    start = plugins["_hparams_/session_start_info"]
    assert b"train.optimizer.lr" in start
    assert b"params" in start


def test_tensorboard_resume_appends(tmp_path: Path) -> None:
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from netspec.training import TrainingInterrupted

    class StopAfterOne:
        def on_start(self, info: Any) -> None:
            pass

        def on_batch(self, step: int, loss: float) -> None:
            pass

        def on_epoch(self, epoch: int, row: Any) -> None:
            raise KeyboardInterrupt

        def on_end(self, result: Any) -> None:
            pass

    spec = spec_with("train.loggers=tensorboard")
    run = tmp_path / "run"
    with pytest.raises(TrainingInterrupted):
        train(spec, out=run, reporter=StopAfterOne())
    train(resume=run)
    events = EventAccumulator(str(run / TENSORBOARD_DIR))
    events.Reload()
    assert [e.step for e in events.Scalars("loss/train")] == [1, 2]
    rows = history(run)
    assert [e.value for e in events.Scalars("loss/train")] == pytest.approx(
        [r["train_loss"] for r in rows]
    )


def test_mlflow_params_metrics_artifacts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("mlflow")
    monkeypatch.chdir(tmp_path)  # a SQL store keeps its artifacts in ./mlruns
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    spec = spec_with(
        "train.loggers=[mlflow]", f"train.mlflow={{tracking_uri: '{uri}', experiment: iris}}"
    )
    result = train(spec, out=tmp_path / "run")
    stored = json.loads((result.run_dir / MLFLOW_FILE).read_text())
    client = MlflowClient(tracking_uri=uri)
    run = client.get_run(stored["run_id"])
    assert run.info.run_name == "run"
    assert run.info.status == "FINISHED"
    assert client.get_experiment(run.info.experiment_id).name == "iris"
    params = run.data.params
    assert params["train.optimizer.lr"] == "0.01"
    assert params["train.epochs"] == "2"
    assert params["layers"] == "3"
    assert int(params["params"]) > 0
    assert "iris" in params["data"]
    rows = history(result.run_dir)
    for key in set(rows[0]) - {"epoch"}:
        logged = client.get_metric_history(run.info.run_id, key)
        assert [m.step for m in logged] == [1, 2]
        assert [m.value for m in logged] == pytest.approx([r[key] for r in rows])
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"model.safetensors", "metrics.csv", "spec.yaml"} <= artifacts


def test_missing_extra_is_reported_before_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "mlflow", None)  # importing it raises ImportError
    spec = spec_with("train.loggers=[csv, mlflow]")
    with pytest.raises(SpecError) as info:
        train(spec, out=tmp_path / "run")
    text = info.value.render()
    assert "missing-extra" in text
    assert "pip install 'netspec[mlflow]'" in text
    assert "loggers" in text
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("train.loggers=[csv, wandb]", "loggers"),
        ("train.mlflow={experiment: x}", "add mlflow to train.loggers"),
        ("train.loggers=[mlflow]", None),
        ("train.loggers=csv", None),
    ],
)
def test_spec_checks(override: str, expected: str | None) -> None:
    if expected is None:
        load_spec(IRIS, [override])
        return
    with pytest.raises(SpecError) as info:
        load_spec(IRIS, [override])
    assert expected in info.value.render()


def test_default_is_csv_only(tmp_path: Path) -> None:
    spec = spec_with("train.epochs=1")
    assert spec.train is not None
    assert spec.train.loggers == ("csv",)
    result = train(spec, out=tmp_path / "run")
    assert not (result.run_dir / TENSORBOARD_DIR).exists()
    assert not (result.run_dir / MLFLOW_FILE).exists()


@pytest.mark.parametrize(
    ("path", "overrides"),
    [
        ("specs/graph/gcn_karate.yaml", ["train.epochs=2"]),
        ("specs/moons_gan.yaml", ["train.epochs=2", "train.device=cpu"]),
    ],
    ids=["graph", "gan"],
)
def test_graph_and_gan_runs_log_to_tensorboard(
    path: str, overrides: list[str], tmp_path: Path
) -> None:
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from netspec.spec.networks import load_any

    spec = load_any(Path(path), [*overrides, "train.loggers=[csv, tensorboard]"])
    result = train(spec, out=tmp_path / "run")
    rows = history(result.run_dir)
    events = EventAccumulator(str(result.run_dir / TENSORBOARD_DIR))
    events.Reload()
    for key in set(rows[0]) - {"epoch"}:
        logged = events.Scalars(tag(key))
        assert [e.value for e in logged] == pytest.approx([r[key] for r in rows]), key
    assert "_hparams_/experiment" in events.PluginTagToContent("hparams")


def test_a_missing_extra_stops_a_gan_before_its_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from netspec.spec.networks import load_any

    monkeypatch.setitem(sys.modules, "tensorboard", None)
    spec = load_any(Path("specs/moons_gan.yaml"), ["train.loggers=tensorboard"])
    with pytest.raises(SpecError) as info:
        train(spec, out=tmp_path / "run")
    assert "pip install 'netspec[tensorboard]'" in info.value.render()
    assert not (tmp_path / "run").exists()


def test_mlflow_resume_continues_the_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    from netspec.training import TrainingInterrupted

    monkeypatch.chdir(tmp_path)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    spec = spec_with("train.loggers=[mlflow]", f"train.mlflow={{tracking_uri: '{uri}'}}")

    class StopAfterOne:
        def on_start(self, info: Any) -> None:
            pass

        def on_batch(self, step: int, loss: float) -> None:
            pass

        def on_epoch(self, epoch: int, row: Any) -> None:
            raise KeyboardInterrupt

        def on_end(self, result: Any) -> None:
            pass

    run = tmp_path / "run"
    with pytest.raises(TrainingInterrupted):
        train(spec, out=run, reporter=StopAfterOne())
    run_id = json.loads((run / MLFLOW_FILE).read_text())["run_id"]
    client = MlflowClient(tracking_uri=uri)
    assert client.get_run(run_id).info.status == "KILLED"
    train(resume=run)
    assert json.loads((run / MLFLOW_FILE).read_text())["run_id"] == run_id
    assert client.get_run(run_id).info.status == "FINISHED"
    assert client.get_run(run_id).data.tags.get("mlflow.runName") == "run"
    logged = client.get_metric_history(run_id, "train_loss")
    assert [m.step for m in logged] == [1, 2]
    assert len(client.search_runs([client.get_run(run_id).info.experiment_id])) == 1


def test_a_model_that_cannot_be_traced_is_noted_not_fatal(tmp_path: Path) -> None:
    pytest.importorskip("tensorboard")
    import torch
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from netspec.training.loggers import TensorBoardTracker
    from netspec.training.outcome import StartInfo

    class Branchy(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            raise RuntimeError("data-dependent control flow")

    tracker = TensorBoardTracker(Branchy(), torch.zeros(2, 4), {"train.epochs": 1})
    info = StartInfo(tmp_path, "cpu", "classification", 1, 0, 1, 0, 8, 0, 0, 0, "loss", "x", False)
    tracker.on_start(info)
    tracker.on_epoch(1, {"epoch": 1.0, "train_loss": 0.5})
    tracker.close(None)
    assert tracker.notes
    assert "tracing failed" in tracker.notes[0]
    events = EventAccumulator(str(tmp_path / TENSORBOARD_DIR))
    events.Reload()
    assert [e.value for e in events.Scalars("loss/train")] == [0.5]
