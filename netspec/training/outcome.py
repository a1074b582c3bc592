"""What training hands back: the start summary, the result, and the two ways it can stop early.

``TrainingInterrupted`` (Ctrl-C) and ``TrainingDiverged`` (a NaN or infinite loss) are not
spec mistakes: the CLI prints their message (no traceback) and how to go on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class StartInfo:
    """Handed to ``Reporter.on_start`` once the run directory and the model are ready."""

    run_dir: Path
    device: str
    task: str
    epochs: int
    start_epoch: int  # epochs already done (> 0 when resuming)
    batches_per_epoch: int
    start_batch: int  # batches of the current epoch already done (resuming mid-epoch)
    train_samples: int
    val_samples: int
    test_samples: int
    params: int
    monitor: str
    data: str  # the dataset's one-line description
    resumed: bool
    processes: int = 1  # data-parallel training processes (torch.distributed)


@dataclass(frozen=True)
class RunResult:
    """A finished run. ``history`` holds metrics.csv's rows; ``test`` the final test metrics
    of the best weights (``{"loss": ..., "accuracy": ...}``; empty without a test split)."""

    run_dir: Path
    best_epoch: int
    monitor: str
    best_value: float | None
    epochs_run: int
    stopped_early: bool
    test: Mapping[str, float]
    history: Sequence[Mapping[str, float]]
    samples_per_second: float
    train_seconds: float
    device: str
    metrics: dict[str, Any] = field(default_factory=dict)  # metrics.json, as written


class TrainingStopped(Exception):
    """Training stopped before its last epoch; ``run_dir`` holds what was saved.

    ``message`` says what happened and what was kept; ``resume_command`` how to go on.
    """

    def __init__(
        self, message: str, run_dir: Path, epoch: int, *, processes: int = 1, torchrun: bool = False
    ) -> None:
        super().__init__(message)
        self.message = message
        self.run_dir = run_dir
        self.epoch = epoch  # epochs completed
        self.processes = processes  # a multi-process run resumes best on as many
        self.torchrun = torchrun  # started by torchrun itself, not by --devices

    @property
    def resume_command(self) -> str:
        if self.processes == 1:
            return f"netspec train --resume {self.run_dir}"
        if self.torchrun:
            return (
                f"torchrun --nproc-per-node ... -m netspec train --resume {self.run_dir} "
                f"(the same torchrun options, {self.processes} processes in all)"
            )
        return f"netspec train --resume {self.run_dir} --devices {self.processes}"


class TrainingInterrupted(TrainingStopped):
    """Ctrl-C: a checkpoint was saved (or the last one kept); resume with ``resume_command``."""


class TrainingDiverged(TrainingStopped):
    """The training loss became NaN or infinite; the last good checkpoint is kept."""


class GanFailed(TrainingStopped):
    """A GAN stopped learning: its discriminator wins outright, or its generator collapsed
    to a point. The last good checkpoint and the best weights are kept; the message says
    which and what to try."""


class PeerLost(TrainingStopped):
    """Multi-process training: another process stopped (crashed, was killed) mid-run; the
    last checkpoint is kept and the run can be resumed from it."""
