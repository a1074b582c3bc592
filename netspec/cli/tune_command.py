"""`netspec tune`: the hyperparameter search of a spec's `tune:` section (netspec.training.tune).

On a terminal a rich table of the trials is updated as each one ends; otherwise each trial
is one plain line on stderr. The summary (best trial, where best_spec.yaml is) goes to stdout.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from netspec.cli.app import run_command
from netspec.errors import ExitCode, printable

if TYPE_CHECKING:
    from netspec.training.tune import TrialRow


def tune(
    spec: Annotated[
        str, typer.Argument(help="Path to the spec YAML file (with a `tune:` section).")
    ],
    trials: Annotated[
        int | None, typer.Option("--trials", min=1, metavar="N", help="tune.trials")
    ] = None,
    timeout: Annotated[
        float | None,
        typer.Option("--timeout", min=0.001, metavar="S", help="tune.timeout (seconds)"),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", metavar="DIR", help="Study directory (default runs/<name>-tune)."
        ),
    ] = None,
    storage: Annotated[
        str | None,
        typer.Option(
            "--storage",
            metavar="URL",
            help="Optuna storage, e.g. sqlite:///study.db (default: study.db in the study "
            "directory); several processes on one storage share the study.",
        ),
    ] = None,
    study: Annotated[
        str | None, typer.Option("--study", metavar="NAME", help="Study name (default: spec name).")
    ] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue the study in the study directory.")
    ] = False,
    device: Annotated[
        str | None, typer.Option("--device", help="auto, cpu, cuda, cuda:1 or mps")
    ] = None,
) -> None:
    """Search the spec's `tune:` space with Optuna: each trial is a run directory
    (trial-0000, ...) under the study directory, which also gets best_spec.yaml, trials.csv
    and plots (history.png, importances.png, parallel.png). Ctrl-C stops the study;
    --resume continues it (the trial count is the study's total)."""
    from netspec.training.tune import tune as run_tune

    display = _Display(sys.stderr.isatty())

    def job() -> Any:
        try:
            return run_tune(
                spec,
                trials=trials,
                timeout=timeout,
                out=out,
                storage=storage,
                study_name=study,
                resume=resume,
                device=device,
                on_trial=display.add,
            )
        finally:
            display.close()

    try:
        result = run_command(job)
    except KeyboardInterrupt:
        typer.echo(
            f"tuning interrupted; continue it with: netspec tune {spec} --resume"
            + (f" --out {out}" if out is not None else "")
            + (f" --storage {storage}" if storage else ""),
            err=True,
        )
        raise typer.Exit(ExitCode.INTERRUPTED) from None
    counts = ", ".join(
        f"{result.count(s)} {s.lower()}" for s in ("COMPLETE", "PRUNED", "FAIL") if result.count(s)
    )
    typer.echo(f"study {result.study_name}: {len(result.trials)} trials ({counts or 'none'})")
    for note in result.notes:
        typer.echo(printable(f"note: {note}"), err=True)
    if result.best is None:
        typer.echo("no trial completed: no best_spec.yaml", err=True)
        raise typer.Exit(ExitCode.USER_ERROR)
    best = result.best
    values = ", ".join(f"{k}={_fmt(v)}" for k, v in best.params.items())
    typer.echo(f"best: trial {best.number}, value {_fmt(best.value)} ({values})")
    typer.echo(f"best spec: {result.study_dir / 'best_spec.yaml'}")


def _fmt(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


class _Display:
    """The trials so far: a rich live table on a terminal, plain lines otherwise."""

    def __init__(self, live: bool) -> None:
        self.rows: list[TrialRow] = []
        self.live: Any = None
        if live:
            from rich.console import Console
            from rich.live import Live

            self.live = Live(self._table(), console=Console(stderr=True), auto_refresh=False)
            self.live.start()

    def add(self, row: TrialRow) -> None:
        self.rows.append(row)
        if self.live is not None:
            self.live.update(self._table(), refresh=True)
            return
        values = ", ".join(f"{k}={_fmt(v)}" for k, v in row.params.items())
        value = "" if row.value is None else f" {_fmt(row.value)}"
        reason = f" ({row.reason})" if row.reason else ""
        typer.echo(
            printable(f"trial {row.number}: {row.state.lower()}{value} [{values}]{reason}"),
            err=True,
        )

    def _table(self) -> Any:
        from rich.table import Table

        table = Table(title="netspec tune")
        for column in ("trial", "state", "value", "epochs", "params", "note"):
            table.add_column(column)
        for r in self.rows:
            table.add_row(
                str(r.number),
                r.state.lower(),
                "" if r.value is None else _fmt(r.value),
                "" if r.epochs is None else str(r.epochs),
                ", ".join(f"{k}={_fmt(v)}" for k, v in r.params.items()),
                r.reason,
            )
        return table

    def close(self) -> None:
        if self.live is not None:
            self.live.stop()
            self.live = None
