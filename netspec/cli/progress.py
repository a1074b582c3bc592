"""What `netspec train` shows while it runs: a rich progress bar per epoch (loss, throughput,
ETA) and one table row per epoch. Used by the CLI only; training itself never prints."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)

from netspec.errors import printable

if TYPE_CHECKING:
    from netspec.training import RunResult, StartInfo

_FIRST = ("epoch", "train_loss", "val_loss")
REFRESH_PER_SECOND = 4
"""The bar redraws in a thread of its own; at rich's default 10 per second, that thread took a
few percent of a core from training (measured with 2 processes on 2 cores)."""


class RichReporter:
    """A Reporter (see netspec.training.protocols) drawing on a rich Console (stderr)."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True, highlight=False)
        self.progress: Progress | None = None
        self.task: TaskID | None = None
        self.batch_size = 0
        self.columns: list[str] = []
        self.epoch_started = time.perf_counter()
        self.info: StartInfo | None = None
        self.last_step = 0  # batches since the run began, as the loop counts them
        self.epoch_done = 0  # batches of this epoch seen here

    def on_start(self, info: StartInfo) -> None:
        self.info = info
        verb = "resuming" if info.resumed else "training"
        # The data description and run directory hold paths the user typed: shown as text,
        # control characters escaped and no rich markup read from them.
        self.console.print(
            printable(
                f"{verb} {info.task} on {info.device}"
                + (f" x {info.processes} processes" if info.processes > 1 else "")
                + f": {info.data}; {info.params:,} parameters, "
                f"{info.epochs} epoch{'s' if info.epochs != 1 else ''}; run directory "
                f"{info.run_dir}"
            ),
            soft_wrap=True,
            markup=False,
        )
        self.batch_size = max(1, info.train_samples // max(1, info.batches_per_epoch))
        self.last_step = info.start_epoch * info.batches_per_epoch + info.start_batch
        self.progress = Progress(
            TextColumn("[bold]epoch {task.fields[epoch]}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]}"),
            TextColumn("{task.fields[speed]}"),
            TimeRemainingColumn(),
            console=self.console,
            transient=True,
            refresh_per_second=REFRESH_PER_SECOND,
            disable=not self.console.is_terminal,  # a log file gets the epoch lines only
        )
        self.progress.start()
        self._new_epoch(info.start_epoch + 1, completed=info.start_batch)

    def _new_epoch(self, epoch: int, completed: int = 0) -> None:
        if self.progress is None or self.info is None:
            return
        self.epoch_started = time.perf_counter()
        self.epoch_done = 0
        label = f"{epoch}/{self.info.epochs}"
        if self.task is None:
            self.task = self.progress.add_task(
                "train",
                total=self.info.batches_per_epoch,
                completed=completed,
                epoch=label,
                loss="-",
                speed="",
            )
        else:
            self.progress.reset(self.task, completed=completed, epoch=label, loss="-", speed="")

    def on_batch(self, step: int, loss: float) -> None:
        if self.progress is None or self.task is None:
            return
        done, self.last_step = max(step - self.last_step, 0), step
        self.epoch_done += done
        elapsed = max(time.perf_counter() - self.epoch_started, 1e-9)
        speed = self.epoch_done * self.batch_size / elapsed
        self.progress.update(
            self.task, advance=done, loss=f"{loss:.4f}", speed=f"{speed:,.0f} samples/s"
        )

    def on_epoch(self, epoch: int, row: Mapping[str, float]) -> None:
        if not self.columns:
            self.columns = [c for c in _FIRST if c in row] + [c for c in row if c not in _FIRST]
            self.console.print(self._line(self.columns), soft_wrap=True)
        self.console.print(self._line([_cell(row.get(c)) for c in self.columns]), soft_wrap=True)
        if self.info is not None and epoch < self.info.epochs:
            self._new_epoch(epoch + 1)

    def _line(self, cells: list[str]) -> str:
        return "  ".join(
            f"{cell:>{max(len(c), 8)}}" for cell, c in zip(cells, self.columns, strict=True)
        )

    def on_end(self, result: RunResult) -> None:
        self.close()

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None


def _cell(value: float | None) -> str:
    if value is None:
        return "-"
    if float(value).is_integer() and abs(value) < 1e9:
        return str(int(value))
    return f"{value:.4g}" if abs(value) >= 1e-3 or value == 0 else f"{value:.2e}"
