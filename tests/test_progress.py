"""What `netspec train` prints while it runs (netspec.cli.progress.RichReporter)."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console

from netspec.cli.progress import RichReporter
from netspec.training import RunResult, StartInfo


def _info(processes: int = 1) -> StartInfo:
    return StartInfo(
        run_dir=Path("runs/x"),
        device="cpu",
        task="classification",
        epochs=2,
        start_epoch=0,
        batches_per_epoch=4,
        start_batch=0,
        train_samples=128,
        val_samples=32,
        test_samples=32,
        params=1234,
        monitor="val_loss",
        data="digits: 128 train",
        resumed=False,
        processes=processes,
    )


def _drive(console: Console, processes: int = 1) -> None:
    reporter = RichReporter(console)
    reporter.on_start(_info(processes))
    for step in range(1, 5):
        reporter.on_batch(step, 1.0 / step)
    reporter.on_epoch(1, {"epoch": 1.0, "train_loss": 0.5, "val_loss": 0.25, "lr": 0.001})
    for step in range(5, 9):
        reporter.on_batch(step, 0.2)
    reporter.on_epoch(2, {"epoch": 2.0, "train_loss": 0.125, "val_loss": 0.0625, "lr": 0.001})
    result = RunResult(Path("runs/x"), 2, "val_loss", 0.0625, 2, False, {}, [], 1.0, 1.0, "cpu")
    reporter.on_end(result)


def test_a_log_file_gets_the_start_line_and_one_row_per_epoch() -> None:
    out = io.StringIO()
    _drive(Console(file=out, width=200, force_terminal=False), processes=2)
    assert out.getvalue().splitlines() == [
        "training classification on cpu x 2 processes: digits: 128 train; 1,234 parameters, "
        "2 epochs; run directory runs/x",
        "   epoch  train_loss  val_loss        lr",
        "       1         0.5      0.25     0.001",
        "       2       0.125    0.0625     0.001",
    ]


def test_a_terminal_also_gets_the_progress_bar() -> None:
    out = io.StringIO()
    _drive(Console(file=out, width=200, force_terminal=True))
    text = out.getvalue()
    assert "training classification on cpu: digits" in text
    assert "epoch 1/2" in text  # the bar's label, drawn with terminal control codes
    assert "\x1b[" in text
