"""The `netspec` command line: the only place that prints, reads flags or sets exit codes.

Exit codes: 0 success, 2 a mistake in the spec or the command line (diagnostics on stderr, no
traceback), 1 an internal error (a netspec bug; `--debug` shows the traceback).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from netspec.errors import MAX_SHOWN, SpecError

if TYPE_CHECKING:
    from netspec.spec.load import Spec
    from netspec.training.distributed import World

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    help="Describe a PyTorch network in YAML: validate, summarize, build and train it.",
)
T = TypeVar("T")
_state = {"debug": False}
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


def _load(spec: str, overrides: list[str] | None = None) -> Spec:
    """Load a spec from a path, or from standard input for ``-``, with --set overrides."""
    from netspec.spec.load import apply_to, load_spec, validate_document
    from netspec.spec.source import parse

    if spec == "-":
        try:
            text = sys.stdin.buffer.read().decode("utf-8")
        except UnicodeDecodeError as exc:
            raise SpecError.single(
                "yaml-syntax", f"standard input is not UTF-8 text ({exc.reason})"
            ) from None
        return validate_document(apply_to(parse(text, "<stdin>"), overrides or ()), "model")
    return load_spec(spec, overrides or ())


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


def _run(job: Callable[[], T], *, workers: bool = False) -> T:
    """Run a command body: user mistakes become diagnostics and exit code 2.

    ``workers``: the command may run as one of several processes (train under torchrun).
    Every process then meets the same mistake; only rank 0 reports it, unless the error is
    this process's alone (marked by ``distributed.agreeing``)."""
    try:
        return job()
    except SpecError as exc:
        if not workers or _world_here().main or getattr(exc, "netspec_report", False):
            typer.echo(exc.render(MAX_SHOWN), err=True)
        raise typer.Exit(2) from None
    except (KeyboardInterrupt, typer.Exit):
        raise
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
            f"internal error{where}: {exc}\n(run with --debug for the traceback; this is a "
            "netspec bug, please report it)",
            err=True,
        )
        raise typer.Exit(1) from None


@app.command()
def validate(
    spec: SpecArg,
    overrides: SetOption = None,
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
            loaded = _load(spec, overrides)
            p = plan(loaded)
            check_budget(p, max_params, loaded.source.file)
        except SpecError as exc:
            if not as_json:
                raise
            errors = [d.to_json() for d in exc.diagnostics]
            typer.echo(json.dumps({"valid": False, "errors": errors}))
            typer.echo(exc.render(MAX_SHOWN), err=True)
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
                f"ok: {spec}: {p.name}, {_plural(len(p.layers), 'layer')}, "
                f"{_plural(p.total_params, 'parameter')}"
            )

    _run(job)


@app.command()
def summary(
    spec: SpecArg,
    overrides: SetOption = None,
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
    from netspec.render.summary import summary_json, summary_text

    def job() -> None:
        loaded = _load(spec, overrides)
        p = plan(loaded)
        for warning in warnings(loaded, p):
            typer.echo(warning.render(), err=True)
        batch = batch_size or (loaded.train.batch_size if loaded.train else 1)
        if as_json:
            sys.stdout.write(json.dumps(summary_json(p, batch)) + "\n")
        else:
            sys.stdout.write(_printable(summary_text(p, batch)))

    _run(job)


@app.command()
def build(
    spec: SpecArg,
    overrides: SetOption = None,
    out: Annotated[
        Path, typer.Option("--out", "-o", metavar="DIR", help="Directory to write the build into.")
    ] = Path("build"),
    seed: Annotated[
        int | None, typer.Option("--seed", help="Seed for the initial weights (reproducible).")
    ] = None,
    formats: Annotated[
        list[str] | None,
        typer.Option(
            "--format",
            "-f",
            metavar="FORMAT",
            help="Also export: torchscript (model.ts), export (model.pt2, torch.export), "
            "onnx (model.onnx). Repeat for several.",
        ),
    ] = None,
    max_params: Annotated[
        int | None,
        typer.Option(
            "--max-params",
            help="Refuse models with more parameters (default 1e9 or NETSPEC_MAX_PARAMS; "
            "0 = no limit).",
        ),
    ] = None,
) -> None:
    """Build the model: weights, standalone PyTorch source, resolved spec, summary, exports.

    Writes model.py (plain PyTorch, imports torch only), model.safetensors, spec.yaml (vars,
    blocks and repeats expanded) and summary.txt into the --out directory.
    """
    from netspec.backend.artifacts import build_directory
    from netspec.plan import max_params_default

    def job() -> None:
        loaded = _load(spec, overrides)
        budget = max_params_default() if max_params is None else max_params
        origin = None if spec == "-" else Path(spec).name
        result = build_directory(
            loaded, out, seed=seed, formats=formats or (), max_params=budget, origin=origin
        )
        for path in result.files:
            typer.echo(f"wrote {path}")
        for note in result.notes:
            typer.echo(note)

    _run(job)


@app.command()
def train(
    spec: Annotated[
        str | None,
        typer.Argument(
            help="Path to the spec YAML file (not needed with --resume).",
            show_default=False,
            metavar="SPEC",
        ),
    ] = None,
    overrides: SetOption = None,
    epochs: Annotated[int | None, typer.Option("--epochs", min=1, help="train.epochs")] = None,
    batch_size: Annotated[
        int | None, typer.Option("--batch-size", "-b", min=1, help="train.batch_size")
    ] = None,
    lr: Annotated[float | None, typer.Option("--lr", help="train.optimizer.lr")] = None,
    device: Annotated[
        str | None, typer.Option("--device", help="auto, cpu, cuda, cuda:1 or mps")
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", metavar="DIR", help="Run directory (default runs/<name>-<timestamp>)."
        ),
    ] = None,
    resume: Annotated[
        Path | None,
        typer.Option(
            "--resume", metavar="RUN_DIR", help="Continue a run from its last checkpoint."
        ),
    ] = None,
    max_params: Annotated[
        int | None,
        typer.Option("--max-params", help="Refuse larger models (default 1e9; 0 = no limit)."),
    ] = None,
    devices: Annotated[
        int | None,
        typer.Option(
            "--devices",
            min=1,
            metavar="N",
            help="Train on N processes on this machine (torch.distributed data parallel: one "
            "per GPU, or sharing the CPU cores). train.batch_size stays the whole batch, "
            "split across them. Across machines, run under torchrun instead.",
        ),
    ] = None,
) -> None:
    """Train the spec's model on its data, with live progress; write a run directory.

    The run directory holds the best weights (model.safetensors), a checkpoint to --resume
    from, metrics.csv / metrics.json, curves.png, summary.txt and the resolved spec.yaml;
    `netspec.load_model(DIR)` loads it. Under torchrun (torchrun --nproc-per-node N -m
    netspec train SPEC) each process trains on its shard of the data and rank 0 writes.
    """
    from netspec.cli.progress import RichReporter
    from netspec.plan import max_params_default
    from netspec.training.distributed import launched

    if spec is None and resume is None:
        typer.echo("netspec train needs a SPEC (or --resume RUN_DIR)", err=True)
        raise typer.Exit(2)
    assignments = [*(overrides or ())]
    for flag, key in ((epochs, "epochs"), (batch_size, "batch_size"), (lr, "optimizer.lr")):
        if flag is not None:
            assignments.append(f"train.{key}={flag}")
    world = _run(launched, workers=True)
    if devices is not None and devices > 1 and not world.distributed:
        request = _Launch(spec, assignments, out, resume, device, max_params, devices)
        raise typer.Exit(_run(request.start))
    if devices is not None and world.distributed and devices != world.local_size:
        typer.echo(
            f"--devices {devices} does not match torchrun's {world.local_size} processes on "
            "this machine: drop --devices under torchrun",
            err=True,
        )
        raise typer.Exit(2)

    def job() -> None:
        from netspec.training import NullReporter, TrainingInterrupted, TrainingStopped
        from netspec.training import train as run_training
        from netspec.training.outcome import PeerLost

        if device is not None:
            _check_device(device)
        loaded = _load(spec, assignments) if spec is not None else None
        if loaded is None and assignments:
            raise SpecError.single(
                "invalid-value", "--set and the train flags need SPEC; a resumed run keeps its spec"
            )
        speaks = world.main  # in a multi-process run, rank 0 prints for all
        reporter = RichReporter() if speaks else NullReporter()
        budget = max_params_default() if max_params is None else max_params
        try:
            result = run_training(
                loaded, out=out, resume=resume, device=device, reporter=reporter, max_params=budget
            )
        except KeyboardInterrupt:  # before training began: no checkpoint to resume from
            _close(reporter)
            if speaks:
                typer.echo("interrupted before the first checkpoint: nothing to resume", err=True)
            raise typer.Exit(130) from None
        except TrainingStopped as stop:
            _close(reporter)
            if isinstance(stop, TrainingInterrupted):
                if speaks:
                    typer.echo(f"{stop.message}\nresume with: {stop.resume_command}", err=True)
                raise typer.Exit(130) from None
            if isinstance(stop, PeerLost):
                from netspec.training.distributed import PEER_LOST_EXIT

                if speaks:
                    typer.echo(f"{stop.message}\nresume with: {stop.resume_command}", err=True)
                raise typer.Exit(PEER_LOST_EXIT) from None
            if speaks:
                typer.echo(
                    f"{stop.message}\nthe last good checkpoint is kept in {stop.run_dir}; train "
                    "again with a lower learning rate (--lr) or gradient clipping "
                    "(train.grad_clip)",
                    err=True,
                )
            raise typer.Exit(3) from None
        finally:
            _close(reporter)
        if not speaks:
            return
        test = ", ".join(f"{k} {v:.4f}" for k, v in result.test.items()) or "no test split"
        stopped = f"stopped early after epoch {result.epochs_run}; " if result.stopped_early else ""
        typer.echo(
            f"{stopped}best epoch {result.best_epoch} ({result.monitor}); test: {test}; "
            f"{result.samples_per_second:,.0f} samples/s\nrun directory: {result.run_dir}"
        )

    _run(job, workers=True)


@app.command()
def evaluate(
    run_dir: Annotated[Path, typer.Argument(metavar="RUN_DIR", help="A netspec train run.")],
    split: Annotated[
        str, typer.Option("--split", metavar="SPLIT", help="train, val or test")
    ] = "test",
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Metrics of a run's best weights on one split of its data (recreated from its spec)."""

    def job() -> None:
        from netspec.training import evaluate as run_evaluate

        if split not in ("train", "val", "test"):
            raise SpecError.single(
                "invalid-value", f"unknown split {split!r}", expected="train, val or test"
            )
        metrics = run_evaluate(run_dir, split)
        if as_json:  # an undefined metric (NaN) is null: JSON has no NaN
            typer.echo(json.dumps({k: v if v == v else None for k, v in metrics.items()}))
        else:
            width = max(len(k) for k in metrics) + 2
            typer.echo(f"{split} split of {run_dir}:")
            for key, value in metrics.items():
                typer.echo(f"  {key + ':':<{width}}{value:.6g}")

    _run(job)


@app.command()
def predict(
    run_dir: Annotated[Path, typer.Argument(metavar="RUN_DIR", help="A netspec train run.")],
    inputs: Annotated[
        Path, typer.Argument(metavar="INPUT", help="Samples to predict: a .npy or .csv file.")
    ],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write a CSV here instead of stdout.")
    ] = None,
) -> None:
    """Predict with a run's best weights: class labels and probabilities, or values.

    INPUT holds raw samples like the training data (the run's scaling and input shape are
    applied): a .npy array, or a .csv of numbers (a header row is skipped).
    """

    def job() -> None:
        from netspec.cli.predictions import predictions_csv, read_inputs
        from netspec.training import predict as run_predict

        emit(predictions_csv(run_predict(run_dir, read_inputs(inputs))), output)

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
    from netspec.render.schema import schema_text

    _run(lambda: emit(schema_text(), output))


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


_GRAPH_SUFFIXES = {".mmd": "mermaid", ".md": "mermaid", ".dot": "dot", ".gv": "dot", ".svg": "svg"}


def _graph_format(value: str | None) -> str | None:
    if value is not None and value not in ("mermaid", "dot", "svg"):
        raise typer.BadParameter(f"{value!r} is not one of: mermaid, dot, svg")
    return value


@app.command()
def graph(
    spec: SpecArg,
    overrides: SetOption = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write to this file instead of stdout."),
    ] = None,
    fmt: Annotated[
        str | None,
        typer.Option(
            "--format",
            metavar="mermaid|dot|svg",
            callback=_graph_format,
            help="Default: from the -o suffix (.mmd/.md mermaid, .dot/.gv dot, .svg svg), "
            "else mermaid.",
        ),
    ] = None,
) -> None:
    """A picture of the layer graph, shapes on the edges: Mermaid, Graphviz DOT or SVG.

    Never imports torch. SVG runs Graphviz's `dot -Tsvg`; a .md output is wrapped in a code
    fence (```mermaid renders on GitHub).
    """
    import shutil

    from netspec.plan import plan, warnings
    from netspec.render.graph import dot, mermaid, svg

    suffix = output.suffix.lower() if output is not None else ""
    chosen = fmt or _GRAPH_SUFFIXES.get(suffix, "mermaid")

    def job() -> None:
        executable = shutil.which("dot") if chosen == "svg" else None
        if chosen == "svg" and executable is None:
            typer.echo(
                "error: --format svg needs the `dot` executable of Graphviz, and it is not on "
                "PATH\n  hint: install graphviz (apt-get install graphviz, brew install graphviz, "
                "conda install graphviz), or use --format dot or --format mermaid",
                err=True,
            )
            raise typer.Exit(2)
        loaded = _load(spec, overrides)
        p = plan(loaded)
        for warning in warnings(loaded, p):
            typer.echo(warning.render(), err=True)
        if executable is not None:
            text = svg(dot(p), executable)
        else:
            text = dot(p) if chosen == "dot" else mermaid(p)
            if suffix == ".md":
                text = f"```{chosen}\n{text}```\n"
        emit(text, output)

    _run(job)


def _world_here() -> World:
    """This process's place in a torchrun world; a single process if the environment is
    unreadable (that mistake is reported by ``launched`` itself, once)."""
    from netspec.training.distributed import World, launched

    try:
        return launched()
    except SpecError:
        return World()


def _close(reporter: object) -> None:
    close = getattr(reporter, "close", None)
    if close is not None:
        close()


class _Launch:
    """``netspec train --devices N``: check what can be checked here (so a mistake is
    reported once, before any process starts), then start the N workers."""

    def __init__(
        self,
        spec: str | None,
        assignments: list[str],
        out: Path | None,
        resume: Path | None,
        device: str | None,
        max_params: int | None,
        processes: int,
    ) -> None:
        self.spec, self.assignments, self.out, self.resume = spec, assignments, out, resume
        self.device, self.max_params, self.processes = device, max_params, processes

    def start(self) -> int:
        from netspec.training.launch import launch
        from netspec.training.rundir import RunDir

        if self.spec == "-":
            raise SpecError.single(
                "invalid-value",
                "--devices needs the spec in a file: every process reads it",
            )
        if self.device is not None:
            _check_device(self.device)
        loaded = _load(self.spec, self.assignments) if self.spec is not None else None
        if loaded is None and self.assignments:
            raise SpecError.single(
                "invalid-value", "--set and the train flags need SPEC; a resumed run keeps its spec"
            )
        if self.resume is not None:
            loaded = loaded or RunDir.existing(self.resume).read_spec()
        settings = loaded.train if loaded is not None else None
        name = self.device or (settings.device if settings is not None else "auto")
        run_dir = self.resume or self.out
        return launch(self._worker_args(), self.processes, cpu=_runs_on_cpu(name), run_dir=run_dir)

    def _worker_args(self) -> list[str]:
        args = ["--debug"] if _state["debug"] else []
        args.append("train")
        if self.spec is not None:
            args.append(self.spec)
        for assignment in self.assignments:
            args += ["--set", assignment]
        for flag, value in (
            ("--out", self.out),
            ("--resume", self.resume),
            ("--device", self.device),
            ("--max-params", self.max_params),
        ):
            if value is not None:
                args += [flag, str(value)]
        return args


def _runs_on_cpu(device: str) -> bool:
    if device != "auto":
        return device == "cpu"
    import torch

    return not torch.cuda.is_available()


def _check_device(device: str) -> None:
    """The --device flag, checked like `train.device` in a spec."""
    from pydantic import ValidationError

    from netspec.spec.sections import TrainSpec

    try:
        TrainSpec.model_validate({"device": device})
    except ValidationError:
        raise SpecError.single(
            "invalid-value",
            f"unknown device {device!r}",
            expected="auto, cpu, cuda, cuda:<index> or mps",
        ) from None


def _printable(text: str) -> str:
    """The table's rules in ASCII when the terminal's encoding has no box-drawing line."""
    try:
        "─".encode(sys.stdout.encoding or "utf-8")
    except (UnicodeEncodeError, LookupError):
        return text.replace("─", "-")
    return text


def _plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}" + ("" if count == 1 else "s")


def main(argv: list[str] | None = None) -> Any:
    """Console-script entry point."""
    for stream in (sys.stdout, sys.stderr):
        # A terminal that cannot show `─` or `→` gets an escape, not a crash.
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="backslashreplace")
    return app(args=argv, prog_name="netspec")
