"""The commands that train or use a trained run: train (with the --devices launcher),
evaluate, predict. netspec.training is imported inside each command: the spec commands and
--help never pay for torch.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from netspec.cli.app import SetOption, debug_enabled, emit, load_any_arg, run_command
from netspec.errors import ExitCode, SpecError, printable


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

    A spec of several networks trains them together: task gan (a generator against a
    discriminator; samples.png, then `netspec sample`) or task autoencoder (an encoder and a
    decoder; `netspec encode`); `netspec.load_networks(DIR)` loads them.
    """
    from netspec.cli.progress import RichReporter
    from netspec.plan import max_params_default
    from netspec.training.distributed import launched

    if spec is None and resume is None:
        typer.echo("netspec train needs a SPEC (or --resume RUN_DIR)", err=True)
        raise typer.Exit(ExitCode.USER_ERROR)
    assignments = [*(overrides or ())]
    for flag, key in ((epochs, "epochs"), (batch_size, "batch_size"), (lr, "optimizer.lr")):
        if flag is not None:
            assignments.append(f"train.{key}={flag}")
    world = run_command(launched, workers=True)
    if devices is not None and devices > 1 and not world.distributed:
        request = _Launch(spec, assignments, out, resume, device, max_params, devices)
        raise typer.Exit(run_command(request.start))
    if devices is not None and world.distributed and devices != world.local_size:
        typer.echo(
            f"--devices {devices} does not match torchrun's {world.local_size} processes on "
            "this machine: drop --devices under torchrun",
            err=True,
        )
        raise typer.Exit(ExitCode.USER_ERROR)

    def job() -> None:
        from netspec.training import GanFailed, NullReporter, TrainingInterrupted, TrainingStopped
        from netspec.training import train as run_training
        from netspec.training.outcome import PeerLost

        if device is not None:
            _check_device(device)
        loaded = load_any_arg(spec, assignments) if spec is not None else None
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
            raise typer.Exit(ExitCode.INTERRUPTED) from None
        except TrainingStopped as stop:
            _close(reporter)
            if isinstance(stop, TrainingInterrupted):
                if speaks:
                    typer.echo(_resume_text(stop.message, stop.resume_command), err=True)
                raise typer.Exit(ExitCode.INTERRUPTED) from None
            if isinstance(stop, PeerLost):
                if speaks:
                    typer.echo(_resume_text(stop.message, stop.resume_command), err=True)
                raise typer.Exit(ExitCode.PEER_LOST) from None
            if isinstance(stop, GanFailed):  # the message says what to try
                if speaks:
                    typer.echo(printable(stop.message), err=True)
                raise typer.Exit(ExitCode.DIVERGED) from None
            if speaks:
                typer.echo(
                    printable(
                        f"{stop.message}\nthe last good checkpoint is kept in {stop.run_dir}; "
                        "train again with a lower learning rate (--lr) or gradient clipping "
                        "(train.grad_clip)"
                    ),
                    err=True,
                )
            raise typer.Exit(ExitCode.DIVERGED) from None
        finally:
            _close(reporter)
        if not speaks:
            return
        test = ", ".join(f"{k} {v:.4f}" for k, v in result.test.items()) or "no test split"
        untrained = result.metrics.get("untrained", {}).get("mmd")
        if untrained is not None:  # a GAN: its score means little without the starting point
            test += f" (untrained generator: mmd {untrained:.4f})"
        stopped = f"stopped early after epoch {result.epochs_run}; " if result.stopped_early else ""
        # The default run directory is named after the spec: escaped like everything else
        # that may hold the spec's words (the progress lines are).
        typer.echo(
            f"{stopped}best epoch {result.best_epoch} ({result.monitor}); test: {test}; "
            f"{result.samples_per_second:,.0f} samples/s\n"
            f"run directory: {printable(str(result.run_dir))}"
        )

    run_command(job, workers=True)


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

    run_command(job)


def predict(
    run_dir: Annotated[Path, typer.Argument(metavar="RUN_DIR", help="A netspec train run.")],
    inputs: Annotated[
        Path,
        typer.Argument(
            metavar="INPUT",
            help="Samples to predict: a .npy, .csv or .npz file (an .npz with one array per "
            "input, named after it, for a model with several inputs).",
        ),
    ],
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Write a CSV here instead of stdout; a name ending in .npz writes arrays.",
        ),
    ] = None,
) -> None:
    """Predict with a run's best weights: class labels and probabilities, or values.

    INPUT holds raw samples like the training data (the run's scaling and input shape are
    applied): a .npy array, a .csv of numbers (a header row is skipped), or an .npz. A model
    with several outputs: the first is the prediction; the others follow as raw columns.
    """

    def job() -> None:
        from netspec.cli.predictions import predictions_csv, predictions_npz, read_inputs
        from netspec.training import predict as run_predict

        prediction = run_predict(run_dir, read_inputs(inputs))
        if output is not None and output.suffix == ".npz":
            write_bytes(output, predictions_npz(prediction))
        else:
            emit(predictions_csv(prediction), output)

    run_command(job)


def write_bytes(path: Path, data: bytes) -> None:
    """A user-named binary output file, atomically; an unwritable path is a user error."""
    from netspec.backend.artifacts import write_atomic

    try:
        write_atomic(path, data)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise SpecError.single("cannot-write", f"cannot write {path}: {reason}") from None
    typer.echo(f"wrote {path}", err=True)


def _resume_text(message: str, command: str) -> str:
    return printable(message) + "\nresume with: " + printable(command)


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
        from netspec.spec.networks import Networks
        from netspec.training.launch import launch
        from netspec.training.rundir import RunDir

        if self.spec == "-":
            raise SpecError.single(
                "invalid-value",
                "--devices needs the spec in a file: every process reads it",
            )
        if self.device is not None:
            _check_device(self.device)
        loaded = load_any_arg(self.spec, self.assignments) if self.spec is not None else None
        if loaded is None and self.assignments:
            raise SpecError.single(
                "invalid-value", "--set and the train flags need SPEC; a resumed run keeps its spec"
            )
        if self.resume is not None:
            loaded = loaded or RunDir.existing(self.resume).read_any_spec()
        if isinstance(loaded, Networks) and loaded.train is not None and loaded.train.task == "gan":
            raise SpecError.single(
                "unsupported",
                f"--devices {self.processes}: a GAN trains in one process",
                hints=("drop --devices",),
            )
        inputs = getattr(loaded, "inputs", None)
        if isinstance(inputs, dict) and any(getattr(s, "graph", False) for s in inputs.values()):
            raise SpecError.single(
                "unsupported",
                f"--devices {self.processes}: a graph model (node classification) trains in "
                "one process, full batch",
                hints=("drop --devices",),
            )
        settings = loaded.train if loaded is not None else None
        name = self.device or (settings.device if settings is not None else "auto")
        run_dir = self.resume or self.out
        return launch(self._worker_args(), self.processes, cpu=_runs_on_cpu(name), run_dir=run_dir)

    def _worker_args(self) -> list[str]:
        args = ["--debug"] if debug_enabled() else []
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
