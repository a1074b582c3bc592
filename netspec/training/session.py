"""``train()``: from a spec (or a run directory to resume) to a finished run directory.

Everything that can be checked is checked before the run directory is created (the data, the
device, the task against the model's output shape, the monitored metric: ``preflight``), so a
mistake leaves no half-made run behind. Then the ``Trainer`` (``loop``) runs.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

from netspec.backend.artifacts import SPEC, tied_keys
from netspec.errors import Diagnostic, SpecError
from netspec.spec.load import Spec, SpecSource
from netspec.spec.networks import Networks, load_any, load_any_text
from netspec.spec.sections import TrainSpec, monitored
from netspec.training.batches import as_inputs, rows
from netspec.training.device import pick_device
from netspec.training.distributed import World, agreeing, joined, launched
from netspec.training.loggers import check_loggers
from netspec.training.losses import Objective
from netspec.training.metrics import metric_names
from netspec.training.optim import effective_lr, no_decay_kinds
from netspec.training.outcome import RunResult
from netspec.training.preflight import (
    check_fit,
    check_run_settings,
    check_same_data,
    check_same_spec,
    check_shards,
)
from netspec.training.protocols import DatasetLike, NullReporter, Reporter
from netspec.training.rundir import (
    INFO,
    SUMMARY,
    TARGET_STANDARDIZER,
    MutedRunDir,
    RunDir,
    parse_tokenizer,
)
from netspec.training.variational import check_kl_settings, with_kl

if TYPE_CHECKING:
    import torch

    from netspec.backend.composed import Autoencoder
    from netspec.sources.tokenizers import Tokenizer
    from netspec.training.loggers import Tracked

_UNSET: Any = object()


def train(
    spec: Spec | Networks | SpecSource | None = None,
    *,
    out: str | os.PathLike[str] | None = None,
    resume: str | os.PathLike[str] | None = None,
    device: str | None = None,
    reporter: Reporter | None = None,
    data: DatasetLike | None = None,
    max_params: int | None = _UNSET,
) -> RunResult:
    """Train the spec's model on its data; write the run directory; return the result.

    ``spec``: one network, or an autoencoder written as `networks: {encoder, decoder}`
    (trained as one model, decoder(encoder(x))).

    ``out``: the run directory (default ``runs/<name>-<timestamp>``). ``resume``: a run
    directory to continue from its last checkpoint (its spec.yaml is used; a ``spec`` given
    too must be the same). ``device`` overrides ``train.device``. ``data`` replaces loading
    the spec's ``data:`` section (any object with the DatasetLike attributes).
    Raises SpecError for a mistake found before training, TrainingInterrupted on Ctrl-C,
    TrainingDiverged when the loss becomes NaN or infinite.

    A spec whose input is a graph (`graph: true`) trains node classification full batch
    (``graph_session``; docs/gnn.md).

    A spec of several networks with ``train.task: gan`` (or a GAN run to resume) trains
    its generator and discriminator (``gan_session``; docs/gan.md), and may stop with
    ``GanFailed`` when the discriminator wins outright or the generator collapses.
    """
    nets = networks_of(spec, resume)
    if nets is not None and nets.train is not None and nets.train.task == "gan":
        from netspec.training.gan_session import train_gan

        budget: int | Literal["default"] | None = "default" if max_params is _UNSET else max_params
        gan = nets
        return _tracking(
            nets,
            nets.train,
            reporter,
            lambda shown: train_gan(
                gan,
                given=spec,
                out=out,
                resume=resume,
                device=device,
                reporter=shown,
                data=data,
                max_params=budget,
            ),
        )
    if nets is None:
        from netspec.training.graph_session import is_graph_spec, refuse_resume, train_graph

        if resume is not None:
            stored = Path(resume) / SPEC
            if stored.is_file() and is_graph_spec(load_any(stored)):
                raise refuse_resume(resume)
        elif spec is not None and is_graph_spec(one := load_any(spec)):
            if data is not None:
                raise TypeError(
                    "train(data=...) takes tables of samples; a graph spec reads its graph "
                    "from its data: section (a graph_npz file for your own)"
                )
            if launched().distributed:
                raise SpecError.single(
                    "unsupported",
                    "a graph model (node classification) trains in one process, full batch",
                    hints=("drop --devices (and torchrun)",),
                )
            graph = cast("Spec", one)
            return _tracking(
                graph,
                graph.train or TrainSpec(),
                reporter,
                lambda shown: train_graph(
                    graph,
                    out=out,
                    device=device,
                    reporter=shown,
                    max_params="default" if max_params is _UNSET else max_params,
                ),
            )
    world = launched()
    with joined(world):
        return _train(world, spec, out, resume, device, reporter, data, max_params)


def _tracking(
    spec: Spec | Networks,
    settings: TrainSpec,
    reporter: Reporter | None,
    run: Callable[[Reporter | None], RunResult],
) -> RunResult:
    """A GAN's or a graph model's run (one process) with the trackers of ``train.loggers``
    (their packages checked before the run directory is made), closed if it fails."""
    from netspec.training.loggers import tracked

    check_loggers(spec, settings)
    shown = tracked(reporter or NullReporter(), spec, settings)
    if shown is None:
        return run(reporter)
    try:
        return run(shown)
    except BaseException as exc:
        shown.close(exc)
        raise


def networks_of(
    spec: Spec | Networks | SpecSource | None, resume: str | os.PathLike[str] | None
) -> Networks | None:
    """The spec of several networks a run trains (a resumed run's own spec.yaml), or None
    for one network. A resumed run's spec.yaml is read only where it exists: in a run across
    machines only rank 0 has it, and ``_train`` sends it on."""
    if resume is not None:
        stored = Path(resume) / SPEC
        loaded = load_any(stored) if stored.is_file() else None
    else:
        loaded = load_any(spec) if spec is not None else None
    return loaded if isinstance(loaded, Networks) else None


def _train(
    world: World,
    spec: Spec | Networks | SpecSource | None,
    out: str | os.PathLike[str] | None,
    resume: str | os.PathLike[str] | None,
    device: str | None,
    reporter: Reporter | None,
    data: DatasetLike | None,
    max_params: int | None,
) -> RunResult:
    if resume is None and spec is None:
        raise TypeError("train() needs a spec, or resume=RUN_DIR")
    # Rank 0 reads the run directory and sends it on: other machines need not have it.
    resumed = _read_resume(world, resume) if resume is not None else None
    checkpoint = None
    tokenizer: Tokenizer | None = None
    run: RunDir | None = None
    with agreeing(world):
        if resume is not None and resumed is not None:
            run = RunDir(Path(resume)) if world.main else MutedRunDir(Path(resume))
            stored = load_any_text(resumed[0], str(run.path / SPEC))
            if spec is not None:
                check_same_spec(load_any(spec), stored, run.path)
            if out is not None and Path(out).resolve() != run.path.resolve():
                raise SpecError.single(
                    "invalid-value",
                    f"--out {out} and --resume {run.path} name different directories",
                    hints=("a resumed run writes into its own directory: drop --out",),
                )
            spec = stored
            checkpoint = run.parse_checkpoint(resumed[1])
            # the ids the weights were trained on, not a tokenizer rebuilt from changed text
            tokenizer = parse_tokenizer(resumed[2].decode(), run.path) if resumed[2] else None
        loaded = load_any(spec)  # type: ignore[arg-type]  # not None: checked above
        budget = {} if max_params is _UNSET else {"max_params": max_params}
        if isinstance(loaded, Networks):  # an autoencoder's encoder and decoder, composed
            from netspec.training.autoencoders import prepare_autoencoder

            setup = prepare_autoencoder(loaded, world, device, data, budget)
        else:
            setup = _prepare(loaded, world, device, data, budget, tokenizer)
        spec, settings, dataset, target = setup.spec, setup.settings, setup.dataset, setup.target
        objective, model = setup.objective, setup.model
        check_shards(spec, settings, dataset, model, world)
        if world.main:
            check_loggers(spec, settings)
    check_same_data(spec, dataset, world)  # every process healthy: now compare
    with agreeing(world):
        if run is None and world.main:
            run = RunDir.create(spec.name, out)
            _write_start(run, setup, world)
    if run is None:  # a new run's directory, named by rank 0
        run = MutedRunDir(Path(world.broadcast_bytes(None).decode()))
    elif resume is None:
        world.broadcast_bytes(str(run.path).encode())

    from netspec.training.loop import Trainer

    shown = (reporter or NullReporter()) if world.main else NullReporter()
    tracked = _tracked(shown, setup) if world.main else None
    with agreeing(world):  # places the data on the device: may fail on one process only
        trainer = Trainer(
            train=settings,
            data=dataset,
            objective=objective,
            model=model,
            device=target,
            run=run,
            reporter=tracked or shown,
            title=spec.name,
            description=dataset.describe(),
            world=world,
        )
    try:
        result = trainer.fit(checkpoint)
    except BaseException as exc:
        if tracked is not None:
            tracked.close(exc)
        raise
    if world.main and isinstance(setup.written, Networks) and objective.variational is not None:
        from netspec.training.autoencoders import write_prior_samples

        write_prior_samples(run, setup.written, cast("Autoencoder", model), setup)
    return result


def _tracked(reporter: Reporter, setup: Setup) -> Tracked | None:
    """The reporter with the trackers of ``train.loggers`` (None when it lists only csv);
    two training samples are the example for the model graph."""
    if all(name == "csv" for name in setup.settings.loggers):
        return None
    from netspec.training.batches import take, to_device
    from netspec.training.loggers import tracked

    x = as_inputs(setup.dataset.train.x)
    example = to_device(take(x, slice(0, 2)), setup.target) if rows(x) else None
    return tracked(reporter, setup.spec, setup.settings, setup.model, example)


@dataclass(frozen=True)
class Setup:
    """A run ready to start: everything checked, the model built and on its device."""

    spec: Spec  # diagnostics are located in it; its name names the run
    written: Spec | Networks  # what spec.yaml holds
    summary: str  # the model half of summary.txt
    settings: TrainSpec
    dataset: DatasetLike
    target: torch.device
    objective: Objective
    model: torch.nn.Module


def _prepare(
    spec: Spec,
    world: World,
    device: str | None,
    data: DatasetLike | None,
    budget: dict[str, Any],
    tokenizer: Tokenizer | None = None,
) -> Setup:
    """A spec of one network: its data, the checks, the seeded model. ``tokenizer``: a
    resumed language-model run's own, which reads the data as training did."""
    from netspec.backend.build import build_model
    from netspec.render.summary import summary_text

    settings = spec.train or TrainSpec()
    dataset = data if data is not None else load_dataset(spec, settings.task, tokenizer)
    target = place(pick_device(device or settings.device, spec), world, spec)
    p, objective = check_fit(spec, settings, dataset)
    objective = objective.scaled(getattr(dataset, "target_standardizer", None))
    check_run_settings(spec, settings, dataset, target)
    model = build_model(spec, seed=settings.seed, **budget).to(target)
    if settings.task == "language_model":
        from netspec.training.causality import check_causal

        check_causal(spec, model, dataset, target)
    check_kl_settings(spec.source, settings, model)
    objective = with_kl(objective, model, settings)
    summary = summary_text(p, settings.batch_size)
    return Setup(spec, spec, summary, settings, dataset, target, objective, model)


def _read_resume(world: World, resume: str | os.PathLike[str]) -> tuple[str, bytes, bytes]:
    """The stored spec's text, the checkpoint's bytes and a language model's tokenizer.json
    (empty for other runs), read by rank 0, on every process."""
    text: str | None = None
    blob: bytes | None = None
    saved: bytes | None = None
    with agreeing(world):
        if world.main:
            run = RunDir.existing(resume)
            text, blob = run.read_spec_text(), run.read_checkpoint_bytes()
            saved = (run.read_tokenizer_text() or "").encode()
    if not world.distributed:
        return text or "", blob or b"", saved or b""
    text = world.broadcast_bytes(text.encode() if text is not None else None).decode()
    return text, world.broadcast_bytes(blob), world.broadcast_bytes(saved)


def place(device: torch.device, world: World, spec: Spec) -> torch.device:
    """In a multi-process run each process on this machine takes its own GPU (its local
    rank); on CPU they share the cores."""
    if not world.distributed or device.type == "cpu":
        return device
    import torch

    if device.type == "cuda":
        count = torch.cuda.device_count()
        if world.local_size > count:
            problem = (
                f"{world.local_size} processes on this machine, but only {count} CUDA device(s)"
            )
        else:
            return torch.device("cuda", world.local_rank)
    else:
        problem = f"multi-process training runs on cuda or cpu, not {device.type}"
    diag = Diagnostic(
        "invalid-value",
        f"device {device}: {problem}",
        path=("train", "device"),
        hints=("use one process per GPU (--devices N), or device: cpu",),
    )
    raise SpecError([spec.source.attach(diag)])


def load_dataset(spec: Spec, task: str, tokenizer: Tokenizer | None = None) -> DatasetLike:
    """The spec's data for ``task``; a spec without a ``data:`` section is reported by
    ``load_data`` (``netspec.spec.data_check.source_options``). ``tokenizer``: a language
    model run's own (tokenizer.json), so that reloaded text gets the ids it trained on."""
    from netspec.data import load_data

    return load_data(spec, task, tokenizer=tokenizer)


def _write_start(run: RunDir, setup: Setup, world: World) -> None:
    from netspec.version import __version__

    spec, settings, data, objective = setup.spec, setup.settings, setup.dataset, setup.objective
    model, device = setup.model, setup.target
    run.write_spec(setup.written)
    run.write_text(
        SUMMARY,
        setup.summary + "\n" + setup_text(settings, data, objective, device, world.size),
    )
    names = list(data.class_names) if data.class_names is not None else None
    info = {
        "netspec_version": __version__,
        "name": spec.name,
        "task": settings.task,
        "num_classes": objective.num_classes if settings.task == "classification" else None,
        "class_names": names,
        "output_shape": list(objective.out_shape),
        "device": str(device),
        "processes": world.size,
        "data": data.describe(),
    }
    run.write_text(INFO, json.dumps(info, indent=2) + "\n")
    tokenizer = getattr(data, "tokenizer", None)
    if tokenizer is not None:  # generate and evaluate read the text the way training did
        run.write_tokenizer(tokenizer)
    if data.standardizer is not None:
        run.write_standardizer(data.standardizer.to_tensors())
    target_standardizer = getattr(data, "target_standardizer", None)
    if target_standardizer is not None and objective.target_scale is not None:
        run.write_standardizer(target_standardizer.to_tensors(), TARGET_STANDARDIZER)
    # replaced by the best weights
    run.write_weights(model.state_dict(), spec.name, tied_keys(model))


def setup_text(
    settings: TrainSpec,
    data: DatasetLike,
    objective: Objective,
    device: torch.device,
    processes: int = 1,
) -> str:
    """The training half of summary.txt."""
    opt, sched = settings.optimizer_for(), settings.scheduler
    lr = effective_lr(settings)
    batch = settings.batch_size * settings.accumulate_grad_batches
    lr_text = f"lr {lr:g}" + (
        f" (scaled from {opt.lr:g} by {batch} / 32)" if settings.scale_lr else ""
    )
    extras = [
        f"{k} {v}"
        for k in ("weight_decay", "momentum", "betas", "eps", "alpha")
        if (v := getattr(opt, k)) is not None
    ]
    if opt.nesterov:
        extras.append("nesterov")
    schedule = sched.type + (
        f", warmup {sched.warmup_epochs} epoch(s)" if sched.warmup_epochs else ""
    )
    if sched.warmup_steps:
        schedule += f", warmup {sched.warmup_steps} step(s)"
    skipped = no_decay_kinds(settings)
    decays = opt.weight_decay if opt.weight_decay is not None else opt.type == "adamw"
    if skipped and decays:  # adamw decays by default (0.01); the others do not
        extras.append(f"no weight decay on {', '.join(skipped)}")
    stopping = settings.early_stopping
    has_val = data.val is not None and rows(as_inputs(data.val.x)) > 0
    monitor, mode = monitored(settings, has_val=has_val)
    lines = [
        f"Data:       {data.describe()}",
        f"Task:       {settings.task}, loss {objective.loss_name}"
        + (" on standardized targets" if objective.target_scale is not None else ""),
        f"Optimizer:  {opt.type}, {', '.join([lr_text, *extras])}",
        f"Schedule:   {schedule}",
        f"Epochs:     {settings.epochs}, batch size {settings.batch_size}"
        + (f" ({settings.batch_size / processes:g} per process)" if processes > 1 else "")
        + (
            f" x {settings.accumulate_grad_batches} accumulated"
            if settings.accumulate_grad_batches > 1
            else ""
        ),
        f"Metrics:    {', '.join(metric_names(settings))}",
        f"Monitor:    {monitor} ({mode})"
        + (
            f", early stopping after {stopping.patience} epochs without improvement"
            if stopping
            else ""
        ),
        f"Device:     {device}"
        + (f" x {processes} processes" if processes > 1 else "")
        + f", precision {settings.precision}, seed {settings.seed}"
        + (f", gradient clipping {settings.grad_clip:g}" if settings.grad_clip else ""),
    ]
    return "\n".join(lines) + "\n"
