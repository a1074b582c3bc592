"""`netspec train`: the training loop, optimizers, schedulers, metrics and run directories.

Public API::

    result = train(spec, out=None, resume=None, device=None, reporter=None, data=None)
    evaluate(run_dir, split="test") -> {"loss": ..., "accuracy": ...}
    predict(run_dir, x) -> Prediction (labels + probabilities, or values)

Modules: ``optim`` (optimizer, lr schedule with warmup and lr scaling), ``losses`` (task ->
loss, targets, output-shape checks), ``metrics`` (torchmetrics per task), ``loop`` (the
Trainer), ``rundir`` (the run directory's files), ``session`` (``train``), ``inference``
(``evaluate``, ``predict``). Nothing here prints: progress goes to a ``Reporter``.
"""

from __future__ import annotations

from netspec.training.inference import Prediction, evaluate, predict
from netspec.training.outcome import (
    PeerLost,
    RunResult,
    StartInfo,
    TrainingDiverged,
    TrainingInterrupted,
    TrainingStopped,
)
from netspec.training.protocols import DatasetLike, NullReporter, Reporter, SplitLike
from netspec.training.session import train

__all__ = [
    "DatasetLike",
    "NullReporter",
    "PeerLost",
    "Prediction",
    "Reporter",
    "RunResult",
    "SplitLike",
    "StartInfo",
    "TrainingDiverged",
    "TrainingInterrupted",
    "TrainingStopped",
    "evaluate",
    "predict",
    "train",
]
