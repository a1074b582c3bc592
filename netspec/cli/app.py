"""The `netspec` command line: the typer app, the arguments every spec command shares, and
the error and exit-code policy (``run_command``). The commands live by job in
``spec_commands`` (validate, summary, build, schema, graph: torch-free),
``train_commands`` (train, evaluate, predict), ``sample_command`` (sample) and
``generate_command`` (generate);
``netspec.cli`` registers them in help order.
The CLI is the only place that prints, reads flags or sets exit codes.

Exit codes (``netspec.errors.ExitCode``, tabled in docs/cli.md): a mistake in the spec or the
command line is a user error (diagnostics on stderr, no traceback), anything else an internal
error (a netspec bug; `--debug` shows the traceback).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from netspec.errors import MAX_SHOWN, ExitCode, SpecError, printable

if TYPE_CHECKING:
    from netspec.spec.load import Spec
    from netspec.spec.networks import Networks
    from netspec.training.distributed import World

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    help="Describe a PyTorch network in YAML: validate, summarize, build and train it.",
)
T = TypeVar("T")
_state = {"debug": False}  # --debug, set by the callback before any command runs
PEER_LINGER_SECONDS = 10.0
"""A worker that stops because another failed waits this long (or until the launcher ends
it), so that the one that failed prints its error before the launcher stops the rest."""

SpecArg = Annotated[
    str,
    typer.Argument(
        help="Path to the spec YAML file, or - for standard input.",
        show_default=False,
        metavar="SPEC",
    ),
]


SetOption = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        "-s",
        metavar="PATH=VALUE",
        help="Change a value of the spec, e.g. --set vars.width=128 --set layers[2].units=64 "
        "--set train.optimizer.lr=3e-4 (repeatable; values are YAML).",
    ),
]


def load_any_arg(spec: str, overrides: list[str] | None = None) -> Spec | Networks:
    """A spec of one network or several (`networks:`), from a path or standard input."""
    from netspec.spec.load import apply_to, validate_document
    from netspec.spec.networks import has_networks, load_any, validate_networks
    from netspec.spec.source import parse

    if spec != "-":
        return load_any(spec, overrides or ())
    doc = apply_to(parse(_stdin_text(), "<stdin>"), overrides or ())
    if has_networks(doc):
        return validate_networks(doc, "model")
    return validate_document(doc, "model")


def _stdin_text() -> str:
    try:
        return sys.stdin.buffer.read().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError.single(
            "yaml-syntax", f"standard input is not UTF-8 text ({exc.reason})"
        ) from None


def _version(value: bool) -> None:
    if value:
        from netspec import __version__

        typer.echo(f"netspec {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    debug: Annotated[
        bool, typer.Option("--debug", help="Show tracebacks of internal errors.")
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    _state["debug"] = debug


def debug_enabled() -> bool:
    """Whether --debug was given (the --devices launcher passes it on to its workers)."""
    return _state["debug"]


def run_command(job: Callable[[], T], *, workers: bool = False) -> T:
    """Run a command body: user mistakes become diagnostics and ``ExitCode.USER_ERROR``.

    ``workers``: the command may run as one of several processes (train under torchrun).
    Every process then meets the same mistake; only rank 0 reports it, unless the error is
    this process's alone (marked by ``distributed.agreeing``)."""
    try:
        return job()
    except SpecError as exc:
        if not workers or _world_here().main or getattr(exc, "netspec_report", False):
            typer.echo(exc.render(MAX_SHOWN), err=True)
        raise typer.Exit(ExitCode.USER_ERROR) from None
    except (KeyboardInterrupt, typer.Exit):
        raise
    except BrokenPipeError:
        # The reader stopped reading (`netspec summary spec.yaml | head`): what it wanted
        # was printed. Point stdout at devnull so the interpreter's last flush is quiet too.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        raise typer.Exit(ExitCode.OK) from None
    except Exception as exc:
        if workers:  # imported here: the torch-free commands need none of netspec.training
            from netspec.training.distributed import PeerFailed

            if isinstance(exc, PeerFailed):  # the failing process says why; let it (launch)
                time.sleep(PEER_LINGER_SECONDS)
                raise typer.Exit(exc.exit_code) from None
        if _state["debug"]:
            raise
        world = _world_here() if workers else None
        where = f" in process {world.rank} of {world.size}" if world and world.distributed else ""
        typer.echo(
            f"internal error{where}: {printable(str(exc))}\n(run with --debug for the "
            "traceback; this is a netspec bug, please report it)",
            err=True,
        )
        raise typer.Exit(ExitCode.INTERNAL_ERROR) from None


def emit(text: str, output: Path | None) -> None:
    """Print ``text``, or write it to ``output`` (saying so on stderr)."""
    if output is None:
        sys.stdout.write(text)
    else:
        write_file(output, text)
        typer.echo(f"wrote {output}", err=True)


def write_file(path: Path, text: str) -> None:
    """Write a user-named output file atomically; a path that cannot be written is a user
    error (exit 2), not a traceback."""
    from netspec.backend.artifacts import write_atomic

    try:
        write_atomic(path, text)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise SpecError.single("cannot-write", f"cannot write {path}: {reason}") from None


def _world_here() -> World:
    """This process's place in a torchrun world; a single process if the environment is
    unreadable (that mistake is reported by ``launched`` itself, once)."""
    from netspec.training.distributed import World, launched

    try:
        return launched()
    except SpecError:
        return World()


def main(argv: list[str] | None = None) -> Any:
    """Console-script entry point."""
    for stream in (sys.stdout, sys.stderr):
        # A terminal that cannot show `─` or `→` gets an escape, not a crash.
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="backslashreplace")
    return app(args=argv, prog_name="netspec")
