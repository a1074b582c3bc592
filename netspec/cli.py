"""The `netspec` command line: the only place that prints, reads flags or sets exit codes.

Exit codes: 0 success, 2 a mistake in the spec or the command line (diagnostics on stderr, no
traceback), 1 an internal error (a netspec bug; `--debug` shows the traceback).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from netspec.errors import SpecError

if TYPE_CHECKING:
    from netspec.spec import Spec

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Describe a PyTorch network in YAML: validate it, summarize it, build it.",
)
T = TypeVar("T")
_state = {"debug": False}

SpecArg = Annotated[
    str,
    typer.Argument(help="Path to the spec YAML file, or - for standard input.", show_default=False),
]


def _load(spec: str) -> Spec:
    """Load a spec from a path, or from standard input for ``-``."""
    from netspec.source import parse
    from netspec.spec import load_spec, validate_document

    if spec == "-":
        return validate_document(parse(sys.stdin.read(), "<stdin>"), "model")
    return load_spec(spec)


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


def _run(job: Callable[[], T]) -> T:
    """Run a command body: user mistakes become diagnostics and exit code 2."""
    try:
        return job()
    except SpecError as exc:
        typer.echo(exc.render(), err=True)
        raise typer.Exit(2) from None
    except (KeyboardInterrupt, typer.Exit):
        raise
    except Exception as exc:
        if _state["debug"]:
            raise
        typer.echo(
            f"internal error: {exc}\n(run with --debug for the traceback; this is a "
            "netspec bug, please report it)",
            err=True,
        )
        raise typer.Exit(1) from None


@app.command()
def validate(
    spec: SpecArg,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    max_params: Annotated[
        int | None,
        typer.Option("--max-params", help="Also refuse a spec with more parameters than this."),
    ] = None,
) -> None:
    """Check a spec: schema, names, references and every shape. Exit 0 if valid, 2 if not.

    Never imports torch, so it answers in a fraction of a second.
    """
    from netspec.plan import check_budget, plan, warnings

    def job() -> None:
        try:
            loaded = _load(spec)
            p = plan(loaded)
            check_budget(p, max_params, loaded.source.file)
        except SpecError as exc:
            if not as_json:
                raise
            errors = [d.to_json() for d in exc.diagnostics]
            typer.echo(json.dumps({"valid": False, "errors": errors}))
            typer.echo(exc.render(), err=True)
            raise typer.Exit(2) from None
        found = warnings(loaded, p)
        for warning in found:
            typer.echo(warning.render(), err=True)
        if as_json:
            result = {
                "valid": True,
                "name": p.name,
                "layers": len(p.layers),
                "total_params": p.total_params,
                "warnings": [w.to_json() for w in found],
            }
            typer.echo(json.dumps(result))
        else:
            typer.echo(
                f"ok: {spec}: {p.name}, {len(p.layers)} layers, {p.total_params:,} parameters"
            )

    _run(job)


@app.command()
def summary(
    spec: SpecArg,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object instead of the table.")
    ] = False,
    batch_size: Annotated[
        int | None,
        typer.Option(
            "--batch-size",
            "-b",
            min=1,
            help="Batch size for activation memory (default: train.batch_size, else 1).",
        ),
    ] = None,
) -> None:
    """Per-layer shapes, parameters and MACs, with totals and memory. Never allocates."""
    from netspec.plan import plan, warnings
    from netspec.report import summary_json, summary_text

    def job() -> None:
        loaded = _load(spec)
        p = plan(loaded)
        for warning in warnings(loaded, p):
            typer.echo(warning.render(), err=True)
        batch = batch_size or (loaded.train.batch_size if loaded.train else 1)
        if as_json:
            sys.stdout.write(json.dumps(summary_json(p, batch)) + "\n")
        else:
            sys.stdout.write(summary_text(p, batch))

    _run(job)


@app.command()
def schema(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file instead of stdout.")
    ] = None,
) -> None:
    """Print the JSON Schema of the spec language (for yaml-language-server and editors).

    Put `# yaml-language-server: $schema=<path to netspec.schema.json>` on a spec's first line.
    """
    from netspec.schema import schema_text

    text = schema_text()
    if output is None:
        sys.stdout.write(text)
    else:
        _write_atomic(output, text)
        typer.echo(f"wrote {output}", err=True)


def _write_atomic(path: Path, text: str) -> None:
    import os
    import tempfile

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> Any:
    """Console-script entry point."""
    return app(args=argv, prog_name="netspec")
