"""Experiment trackers (``train.loggers``): TensorBoard and MLflow, beside metrics.csv.

A tracker is a :class:`~netspec.training.protocols.Reporter` with ``close(failed)``; the
session hands the loop one reporter, :class:`Tracked`, that feeds the user's reporter and the
trackers, so the loop itself knows nothing of them. Only rank 0 tracks (a multi-process run
logs once). The packages are optional extras (``netspec[tensorboard]``, ``netspec[mlflow]``),
imported here only; :func:`check_loggers` reports a missing one at ``train.loggers`` before
the run directory is made. csv (metrics.csv) is always written, listed or not.

TensorBoard: ``<run dir>/tensorboard/`` (so ``tensorboard --logdir runs/`` finds every run):
scalars per epoch (:func:`tag`: ``loss/train``, ``loss/val``, ``val/<metric>``, ``lr``,
``seconds``), the model graph (skipped, with a text note, when tracing fails) and the
hyperparameters with the final metrics. MLflow: params (:func:`run_params`), metrics per
epoch under metrics.csv's names (step = epoch), the run directory as artifacts at the end;
the run id is kept in ``<run dir>/mlflow.json`` so that a resumed run continues the same
MLflow run.
"""

from __future__ import annotations

import importlib
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from netspec.backend.artifacts import write_atomic
from netspec.errors import Diagnostic, SpecError

if TYPE_CHECKING:
    import torch

    from netspec.spec.load import Spec
    from netspec.spec.networks import Networks
    from netspec.spec.sections import TrainSpec
    from netspec.training.outcome import RunResult, StartInfo
    from netspec.training.protocols import Reporter

TENSORBOARD_DIR = "tensorboard"
MLFLOW_FILE = "mlflow.json"

# logger -> (module that must import, the extra that installs it)
_EXTRAS = {
    "tensorboard": ("tensorboard", "tensorboard"),
    "mlflow": ("mlflow", "mlflow"),
}


def check_loggers(spec: Spec | Networks, settings: TrainSpec) -> None:
    """A listed logger whose package is missing: a ``missing-extra`` error at
    ``train.loggers``, naming the extra to install."""
    for index, name in enumerate(settings.loggers):
        if name not in _EXTRAS:
            continue
        module, extra = _EXTRAS[name]
        try:
            importlib.import_module(module)
        except ImportError:
            diag = Diagnostic(
                "missing-extra",
                f"the {name} logger needs the {module} package, which is not installed",
                path=("train", "loggers", index),
                hints=(f"pip install 'netspec[{extra}]', or drop {name} from train.loggers",),
            )
            raise SpecError([spec.source.attach(diag)]) from None


class Tracker(Protocol):
    """A reporter that also hears how a run ended early (``close``)."""

    def on_start(self, info: StartInfo) -> None: ...

    def on_batch(self, step: int, loss: float) -> None: ...

    def on_epoch(self, epoch: int, row: Mapping[str, float]) -> None: ...

    def on_end(self, result: RunResult) -> None: ...

    def close(self, failed: BaseException | None) -> None: ...


class Tracked:
    """The user's reporter and the trackers, as one reporter. Trackers hear each event
    before the reporter (which may stop the run by raising KeyboardInterrupt)."""

    def __init__(self, reporter: Reporter, trackers: Sequence[Tracker]) -> None:
        self.reporter = reporter
        self.trackers = tuple(trackers)

    def on_start(self, info: StartInfo) -> None:
        for tracker in self.trackers:
            tracker.on_start(info)
        self.reporter.on_start(info)

    def on_batch(self, step: int, loss: float) -> None:
        self.reporter.on_batch(step, loss)

    def on_epoch(self, epoch: int, row: Mapping[str, float]) -> None:
        for tracker in self.trackers:
            tracker.on_epoch(epoch, row)
        self.reporter.on_epoch(epoch, row)

    def on_end(self, result: RunResult) -> None:
        for tracker in self.trackers:
            tracker.on_end(result)
        self.reporter.on_end(result)

    def close(self, failed: BaseException | None) -> None:
        for tracker in self.trackers:
            tracker.close(failed)


def tracked(
    reporter: Reporter,
    spec: Spec | Networks,
    settings: TrainSpec,
    model: torch.nn.Module | None = None,
    example: Any = None,
) -> Tracked | None:
    """``reporter`` with the trackers ``train.loggers`` lists (None when it lists only csv,
    the run directory's own metrics.csv). ``example``: a small input batch for the model
    graph (None: no graph). The trackers learn the run directory from ``on_start``."""
    if all(name == "csv" for name in settings.loggers):
        return None
    return Tracked(reporter, open_trackers(spec, settings, model, example))


def open_trackers(
    spec: Spec | Networks,
    settings: TrainSpec,
    model: torch.nn.Module | None,
    example: Any,
) -> list[Tracker]:
    """The trackers ``train.loggers`` lists, beyond csv."""
    params = run_params(spec, settings)
    trackers: list[Tracker] = []
    if "tensorboard" in settings.loggers:
        trackers.append(TensorBoardTracker(model, example, params))
    if "mlflow" in settings.loggers:
        options = settings.mlflow
        trackers.append(
            MlflowTracker(
                params,
                tracking_uri=options.tracking_uri if options else None,
                experiment=(options.experiment if options else None) or spec.name,
            )
        )
    return trackers


def run_params(spec: Spec | Networks, settings: TrainSpec) -> dict[str, str | int | float | bool]:
    """The run's hyperparameters, flat: ``train.<setting>`` (nested settings dotted) and the
    layer count (of each network: ``layers.<network>``); the data's description and the
    parameter count are added when the run starts."""
    from netspec.spec.networks import Networks

    params = flatten(settings.model_dump(mode="json", exclude_none=True), "train")
    params.pop("train.loggers", None)
    if isinstance(spec, Networks):
        for name, net in spec.networks.items():
            params[f"layers.{name}"] = len(net.layers)
    else:
        params["layers"] = len(spec.layers)
    return params


def _started(params: dict[str, str | int | float | bool], info: StartInfo) -> None:
    params["data"] = info.data
    params["params"] = info.params


def flatten(value: Any, prefix: str) -> dict[str, str | int | float | bool]:
    """A nested mapping as ``{"a.b.c": value}``; lists become their text."""
    if isinstance(value, Mapping):
        flat: dict[str, str | int | float | bool] = {}
        for key, item in value.items():
            flat.update(flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return flat
    if isinstance(value, bool | int | float | str):
        return {prefix: value}
    return {prefix: json.dumps(value)}


def tag(key: str) -> str:
    """The TensorBoard tag of a metrics.csv column: ``train_loss`` -> ``loss/train``,
    ``val_loss`` -> ``loss/val``, ``val_accuracy`` -> ``val/accuracy``, ``train_recon`` ->
    ``train/recon``; others (``lr``, ``seconds``, ``kl_weight``) keep their name."""
    if key in ("train_loss", "val_loss"):
        return "loss/" + key.removesuffix("_loss")
    for split in ("val", "train"):
        if key.startswith(split + "_"):
            return f"{split}/{key[len(split) + 1 :]}"
    return key


def _finite(row: Mapping[str, Any]) -> dict[str, float]:
    """The row's finite numbers, without its ``epoch`` (the step)."""
    return {
        k: float(v)
        for k, v in row.items()
        if k != "epoch"
        and isinstance(v, int | float)
        and not isinstance(v, bool)
        and math.isfinite(v)
    }


def final_metrics(result: RunResult) -> dict[str, float]:
    """The numbers a run ends with: the best monitored value, the test metrics, the last
    epoch's row."""
    found: dict[str, float] = {}
    if result.history:
        found.update({f"final_{k}": v for k, v in _finite(result.history[-1]).items()})
    found.update({f"test_{k}": v for k, v in _finite(result.test).items()})
    if result.best_value is not None and math.isfinite(result.best_value):
        found[f"best_{result.monitor}"] = float(result.best_value)
    found["best_epoch"] = float(result.best_epoch)
    return found


class TensorBoardTracker:
    """Event files in ``<run dir>/tensorboard/``; a resumed run appends to them."""

    def __init__(
        self,
        model: torch.nn.Module | None,
        example: Any,
        params: Mapping[str, str | int | float | bool],
    ) -> None:
        self.model = model
        self.example = example
        self.params = dict(params)
        self.writer: Any = None
        self.notes: list[str] = []

    def on_start(self, info: StartInfo) -> None:
        from torch.utils.tensorboard import SummaryWriter

        # purge_step: a run resumed from an earlier checkpoint drops the epochs it redoes
        purge = info.start_epoch + 1 if info.resumed else None
        folder = info.run_dir / TENSORBOARD_DIR
        self.writer = SummaryWriter(log_dir=str(folder), purge_step=purge)
        _started(self.params, info)
        if not info.resumed:
            self._graph()

    def _graph(self) -> None:
        """The model graph, traced on the example batch in eval mode without touching the
        run's random numbers; a model that cannot be traced is noted, not fatal."""
        import warnings

        import torch

        if self.model is None or self.example is None:
            return
        was_training = self.model.training
        self.model.eval()
        try:
            with (
                torch.random.fork_rng(devices=[]),
                torch.no_grad(),
                warnings.catch_warnings(),
            ):
                warnings.simplefilter("ignore")  # torch.jit.trace's deprecation and tracer notes
                self.writer.add_graph(self.model, self.example)
        except Exception as exc:  # tracing fails on some models (data-dependent control flow)
            note = f"model graph skipped: tracing failed ({type(exc).__name__}: {exc})"
            self.notes.append(note)
            self.writer.add_text("notes", note)
        finally:
            self.model.train(was_training)

    def on_batch(self, step: int, loss: float) -> None:
        pass

    def on_epoch(self, epoch: int, row: Mapping[str, float]) -> None:
        for key, value in _finite(row).items():
            self.writer.add_scalar(tag(key), value, epoch)
        self.writer.flush()

    def on_end(self, result: RunResult) -> None:
        from torch.utils.tensorboard import summary

        metrics = {f"hparam/{k}": v for k, v in final_metrics(result).items()}
        hparams: Any = summary.hparams  # untyped
        exp, ssi, sei = hparams(self.params, metrics)
        file_writer = self.writer._get_file_writer()
        for proto in (exp, ssi, sei):
            file_writer.add_summary(proto)
        for key, value in metrics.items():
            self.writer.add_scalar(key, value, result.epochs_run)
        self.close(None)

    def close(self, failed: BaseException | None) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


class MlflowTracker:
    """One MLflow run per run directory, named after it; its id in ``mlflow.json``."""

    def __init__(
        self,
        params: Mapping[str, str | int | float | bool],
        *,
        tracking_uri: str | None,
        experiment: str,
    ) -> None:
        self.run_dir = Path()
        self.params = dict(params)
        self.tracking_uri = tracking_uri
        self.experiment = experiment
        self.client: Any = None
        self.run_id: str | None = None

    def on_start(self, info: StartInfo) -> None:
        from mlflow.tracking import MlflowClient

        self.run_dir = info.run_dir
        stored = self._stored() if info.resumed else None
        uri = stored.get("tracking_uri", self.tracking_uri) if stored else self.tracking_uri
        self.client = client = MlflowClient(tracking_uri=uri)
        if stored and stored.get("run_id"):
            self.run_id = str(stored["run_id"])
            client.update_run(self.run_id, status="RUNNING")
            return
        found = client.get_experiment_by_name(self.experiment)
        experiment_id = (
            found.experiment_id if found is not None else client.create_experiment(self.experiment)
        )
        run = client.create_run(experiment_id, run_name=self.run_dir.name)
        self.run_id = run.info.run_id
        _started(self.params, info)
        record = {
            "tracking_uri": client.tracking_uri,
            "experiment": self.experiment,
            "experiment_id": experiment_id,
            "run_id": self.run_id,
        }
        write_atomic(self.run_dir / MLFLOW_FILE, json.dumps(record, indent=2) + "\n")
        from mlflow.entities import Param

        client.log_batch(
            self.run_id, params=[Param(k, str(v)[:6000]) for k, v in self.params.items()]
        )

    def _stored(self) -> dict[str, Any] | None:
        path = self.run_dir / MLFLOW_FILE
        try:
            loaded = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        return loaded if isinstance(loaded, dict) else None

    def on_batch(self, step: int, loss: float) -> None:
        pass

    def on_epoch(self, epoch: int, row: Mapping[str, float]) -> None:
        import time

        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        metrics = [Metric(k, v, now, epoch) for k, v in _finite(row).items()]
        self.client.log_batch(self.run_id, metrics=metrics)

    def on_end(self, result: RunResult) -> None:
        import time

        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        found = {k: v for k, v in final_metrics(result).items() if not k.startswith("final_")}
        final = [Metric(k, v, now, result.epochs_run) for k, v in found.items()]
        self.client.log_batch(self.run_id, metrics=final)
        self.client.log_artifacts(self.run_id, str(self.run_dir))
        self.client.set_terminated(self.run_id, "FINISHED")
        self.run_id = None

    def close(self, failed: BaseException | None) -> None:
        if self.client is None or self.run_id is None:
            return
        status = "KILLED" if isinstance(failed, KeyboardInterrupt) else "FAILED"
        from netspec.training.outcome import TrainingInterrupted

        if isinstance(failed, TrainingInterrupted):
            status = "KILLED"
        try:
            self.client.set_terminated(self.run_id, status)
        finally:
            self.run_id = None
