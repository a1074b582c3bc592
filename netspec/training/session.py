"""``train()``: from a spec (or a run directory to resume) to a finished run directory.

Everything that can be checked is checked before the run directory is created: the data,
the device, the task against the model's output shape, the monitored metric. So a mistake
leaves no half-made run behind.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from netspec.backend.artifacts import SPEC
from netspec.backend.resolve import resolved
from netspec.dims import format_shape
from netspec.errors import Diagnostic, SpecError
from netspec.plan import Plan, concrete, plan
from netspec.spec.load import Spec, SpecSource, load_spec, load_spec_text
from netspec.spec.sections import TrainSpec, monitor_mode
from netspec.training.device import pick_device
from netspec.training.distributed import World, agreeing, joined, launched
from netspec.training.losses import Objective, make_objective
from netspec.training.metrics import metric_names
from netspec.training.optim import effective_lr
from netspec.training.outcome import RunResult
from netspec.training.protocols import DatasetLike, NullReporter, Reporter
from netspec.training.rundir import INFO, SUMMARY, TARGET_STANDARDIZER, MutedRunDir, RunDir

if TYPE_CHECKING:
    import torch

_UNSET: Any = object()


def train(
    spec: Spec | SpecSource | None = None,
    *,
    out: str | os.PathLike[str] | None = None,
    resume: str | os.PathLike[str] | None = None,
    device: str | None = None,
    reporter: Reporter | None = None,
    data: DatasetLike | None = None,
    max_params: int | None = _UNSET,
) -> RunResult:
    """Train the spec's model on its data; write the run directory; return the result.

    ``out``: the run directory (default ``runs/<name>-<timestamp>``). ``resume``: a run
    directory to continue from its last checkpoint (its spec.yaml is used; a ``spec`` given
    too must be the same). ``device`` overrides ``train.device``. ``data`` replaces loading
    the spec's ``data:`` section (any object with the DatasetLike attributes).
    Raises SpecError for a mistake found before training, TrainingInterrupted on Ctrl-C,
    TrainingDiverged when the loss becomes NaN or infinite.
    """
    world = launched()
    with joined(world):
        return _train(world, spec, out, resume, device, reporter, data, max_params)


def _train(
    world: World,
    spec: Spec | SpecSource | None,
    out: str | os.PathLike[str] | None,
    resume: str | os.PathLike[str] | None,
    device: str | None,
    reporter: Reporter | None,
    data: DatasetLike | None,
    max_params: int | None,
) -> RunResult:
    from netspec.backend.build import build_model

    if resume is None and spec is None:
        raise TypeError("train() needs a spec, or resume=RUN_DIR")
    # Rank 0 reads the run directory and sends it on: other machines need not have it.
    resumed = _read_resume(world, resume) if resume is not None else None
    checkpoint = None
    run: RunDir | None = None
    with agreeing(world):
        if resume is not None and resumed is not None:
            run = RunDir(Path(resume)) if world.main else MutedRunDir(Path(resume))
            stored = load_spec_text(resumed[0], str(run.path / SPEC))
            if spec is not None:
                _check_same_spec(load_spec(spec), stored, run.path)
            if out is not None and Path(out).resolve() != run.path.resolve():
                raise SpecError.single(
                    "invalid-value",
                    f"--out {out} and --resume {run.path} name different directories",
                    hints=("a resumed run writes into its own directory: drop --out",),
                )
            spec = stored
            checkpoint = run.parse_checkpoint(resumed[1])
        spec = load_spec(spec)  # type: ignore[arg-type]  # not None: checked above
        settings = spec.train or TrainSpec()
        dataset = data if data is not None else load_dataset(spec, settings.task)
        target = place(pick_device(device or settings.device, spec), world, spec)
        p, objective = check_fit(spec, settings, dataset)
        objective = objective.scaled(getattr(dataset, "target_standardizer", None))
        _check_run_settings(spec, settings, dataset, target)
        budget = {} if max_params is _UNSET else {"max_params": max_params}
        model = build_model(spec, seed=settings.seed, **budget).to(target)
        check_shards(spec, settings, dataset, model, world)
    check_same_data(spec, dataset, world)  # every process healthy: now compare
    with agreeing(world):
        if run is None and world.main:
            run = RunDir.create(spec.name, out)
            _write_start(run, spec, settings, p, dataset, objective, model, target, world)
    if run is None:  # a new run's directory, named by rank 0
        run = MutedRunDir(Path(world.broadcast_bytes(None).decode()))
    elif resume is None:
        world.broadcast_bytes(str(run.path).encode())

    from netspec.training.loop import Trainer

    with agreeing(world):  # places the data on the device: may fail on one process only
        trainer = Trainer(
            train=settings,
            data=dataset,
            objective=objective,
            model=model,
            device=target,
            run=run,
            reporter=(reporter or NullReporter()) if world.main else NullReporter(),
            title=spec.name,
            description=dataset.describe(),
            world=world,
        )
    return trainer.fit(checkpoint)


def check_shards(
    spec: Spec, settings: TrainSpec, data: DatasetLike, model: torch.nn.Module, world: World
) -> None:
    """What a split across processes needs: each process evaluates a part of the val and
    test splits (so each needs a row), and BatchNorm trains on at least 2 samples."""
    if not world.distributed:
        return
    from netspec.training.loop import has_batchnorm

    problem: tuple[str, tuple[str, ...], tuple[str, ...]] | None = None
    for name, split in (("val", data.val), ("test", data.test)):
        rows = int(split.x.shape[0]) if split is not None else 0
        if 0 < rows < world.size:
            problem = (
                f"the {name} split has {rows} sample(s), fewer than the {world.size} processes "
                "that evaluate it in parts",
                ("make the split larger (data.split), or train on fewer processes",),
                ("data",),
            )
    share = settings.batch_size // world.size
    if share < 2 and has_batchnorm(model):
        problem = (
            f"batch_size {settings.batch_size} on {world.size} processes gives {share} "
            "sample(s) per process, and BatchNorm needs at least 2",
            (f"set train.batch_size to at least {2 * world.size}",),
            ("train", "batch_size"),
        )
    if problem is not None:
        message, hints, path = problem
        raise SpecError(
            [spec.source.attach(Diagnostic("invalid-value", message, path=path, hints=hints))]
        )


def check_same_data(spec: Spec, data: DatasetLike, world: World) -> None:
    """Every process loaded its own data: the splits must have the same sizes everywhere,
    or the processes would run different numbers of batches and wait on each other forever
    (a csv file that differs from machine to machine)."""
    if not world.distributed:
        return
    splits = (data.train, data.val, data.test)
    sizes = [int(s.x.shape[0]) if s is not None else 0 for s in splits]
    found = world.gather_rows(sizes)
    if any(row != found[0] for row in found):
        shown = "; ".join(
            f"process {r}: {t} train / {v} val / {s} test" for r, (t, v, s) in enumerate(found)
        )
        diag = Diagnostic(
            "invalid-value",
            f"the processes loaded different data ({shown})",
            path=("data",),
            hints=("every machine must read the same data files",),
        )
        raise SpecError([spec.source.attach(diag)])


def _read_resume(world: World, resume: str | os.PathLike[str]) -> tuple[str, bytes]:
    """The stored spec's text and the checkpoint's bytes, read by rank 0, on every process."""
    text: str | None = None
    blob: bytes | None = None
    with agreeing(world):
        if world.main:
            run = RunDir.existing(resume)
            text, blob = run.read_spec_text(), run.read_checkpoint_bytes()
    if not world.distributed:
        return text or "", blob or b""
    text = world.broadcast_bytes(text.encode() if text is not None else None).decode()
    return text, world.broadcast_bytes(blob)


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


def load_dataset(spec: Spec, task: str) -> DatasetLike:
    if spec.data is None:
        raise SpecError.single(
            "missing-field",
            "training needs a `data:` section saying where the data come from",
            hints=("e.g. data: {source: digits}",),
        )
    from netspec.data import load_data

    return load_data(spec, task)


def check_fit(spec: Spec, settings: TrainSpec, data: DatasetLike) -> tuple[Plan, Objective]:
    """The plan with the data's sizes bound, and the objective (task vs output shape)."""
    x = data.train.x
    sample = tuple(int(d) for d in x.shape[1:])
    if int(x.shape[0]) == 0:
        raise SpecError.single("invalid-value", "the training split is empty")
    declared = spec.input.shape
    binding: dict[str, int] = {}
    fits = len(sample) == len(declared)
    for d, size in zip(declared, sample, strict=False):
        if isinstance(d, int):
            fits = fits and d == size
        else:
            binding[str(d)] = size
    if not fits:
        shown = ", ".join(str(d) for d in declared)
        raise SpecError(
            [
                spec.source.attach(
                    Diagnostic(
                        "shape",
                        f"the data's samples are {tuple(sample)} but the spec's input is ({shown})",
                        path=("input",),
                    )
                )
            ]
        )
    splits = (data.train, data.val, data.test)
    check_token_ids(spec, [s.x for s in splits if s is not None and len(s.x)], ("data",))
    p = plan(concrete(spec, binding) if binding else spec)
    ints = tuple(d for d in p.output.shape if isinstance(d, int))
    if len(ints) != len(p.output.shape):
        raise SpecError.single(
            "shape",
            f"the model's output {format_shape(p.output.shape)} still has symbolic sizes "
            "after binding the data's",
        )
    y = None if settings.task == "autoencoder" else data.train.y
    objective = make_objective(spec, settings, ints, sample, y, data.num_classes)
    if y is not None:  # the other splits' labels must fit too
        for split in (data.val, data.test):
            if split is not None and int(split.x.shape[0]) > 0:
                make_objective(spec, settings, ints, sample, split.y, objective.num_classes)
    return p, objective


def check_token_ids(spec: Spec, tensors: list[torch.Tensor], where: tuple[str, ...]) -> None:
    """Token ids must index every embedding fed by the input: an id >= num_embeddings would
    stop training (or prediction) half-way with torch's "index out of range"."""
    if spec.input.dtype != "int64" or not tensors:
        return
    sizes = [
        (layer.name, getattr(layer.config, "num_embeddings", None))
        for layer in spec.layers
        if layer.type == "embedding" and "input" in layer.inputs
    ]
    low = min(int(x.min()) for x in tensors)
    high = max(int(x.max()) for x in tensors)
    for name, size in sizes:
        if isinstance(size, int) and (high >= size or low < 0):
            diag = Diagnostic(
                "shape",
                f"the data's token ids run from {low} to {high}, but embedding {name!r} has "
                f"num_embeddings {size} (ids 0 to {size - 1})",
                path=where,
                hints=(f"set num_embeddings to at least {high + 1}, or use fewer tokens",),
            )
            raise SpecError([spec.source.attach(diag)])


def _check_run_settings(
    spec: Spec, settings: TrainSpec, data: DatasetLike, device: torch.device
) -> None:
    stopping = settings.early_stopping
    has_val = data.val is not None and int(data.val.x.shape[0]) > 0
    if stopping is not None and stopping.monitor.startswith("val_") and not has_val:
        diag = Diagnostic(
            "invalid-value",
            f"early stopping monitors {stopping.monitor}, but the data have no validation split",
            path=("train", "early_stopping", "monitor"),
            hints=("set data.split.val above 0, or monitor train_loss",),
        )
        raise SpecError([spec.source.attach(diag)])
    if settings.precision == "16-mixed" and device.type != "cuda":
        diag = Diagnostic(
            "invalid-value",
            f"precision 16-mixed needs a CUDA device, but training runs on {device}",
            path=("train", "precision"),
            hints=("use precision: bf16-mixed on CPU, or 32",),
        )
        raise SpecError([spec.source.attach(diag)])


def _check_same_spec(given: Spec, stored: Spec, folder: Path) -> None:
    a, b = resolved(given), resolved(stored)
    a.pop("name", None)
    b.pop("name", None)
    if a != b:
        found = differences(b, a)
        shown = "; ".join(found[:MAX_DIFFERENCES])
        more = len(found) - MAX_DIFFERENCES
        raise SpecError.single(
            "invalid-value",
            f"the spec differs from {folder / 'spec.yaml'}, which the run was started with: "
            + shown
            + (f"; and {more} more" if more > 0 else ""),
            hints=(f"resume with the run directory alone: netspec train --resume {folder}",),
        )


MAX_DIFFERENCES = 5


def differences(run: Any, now: Any, path: str = "") -> list[str]:
    """Where two resolved specs differ, as ``path: run's value -> the given value``, down to
    the innermost differing key or item."""
    if isinstance(run, dict) and isinstance(now, dict):
        found: list[str] = []
        for key in [*run, *(k for k in now if k not in run)]:
            where = f"{path}.{key}" if path else str(key)
            found += differences(run.get(key, _ABSENT), now.get(key, _ABSENT), where)
        return found
    if isinstance(run, list) and isinstance(now, list) and len(run) == len(now):
        return [
            d
            for i, (x, y) in enumerate(zip(run, now, strict=True))
            for d in differences(x, y, f"{path}[{i}]")
        ]
    if run == now:
        return []
    return [f"{path}: {_shown(run)} in the run, {_shown(now)} now"]


_ABSENT: Any = object()


def _shown(value: Any) -> str:
    if value is _ABSENT:
        return "absent"
    text = json.dumps(value, default=str)
    return text if len(text) <= 40 else text[:37] + "..."


def _write_start(
    run: RunDir,
    spec: Spec,
    settings: TrainSpec,
    p: Plan,
    data: DatasetLike,
    objective: Objective,
    model: torch.nn.Module,
    device: torch.device,
    world: World,
) -> None:
    from netspec.render.summary import summary_text
    from netspec.version import __version__

    run.write_spec(spec)
    run.write_text(
        SUMMARY,
        summary_text(p, settings.batch_size)
        + "\n"
        + setup_text(settings, data, objective, device, world.size),
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
    if data.standardizer is not None:
        run.write_standardizer(data.standardizer.to_tensors())
    target_standardizer = getattr(data, "target_standardizer", None)
    if target_standardizer is not None and objective.target_scale is not None:
        run.write_standardizer(target_standardizer.to_tensors(), TARGET_STANDARDIZER)
    run.write_weights(model.state_dict(), spec.name)  # replaced by the best weights


def setup_text(
    settings: TrainSpec,
    data: DatasetLike,
    objective: Objective,
    device: torch.device,
    processes: int = 1,
) -> str:
    """The training half of summary.txt."""
    opt, sched = settings.optimizer, settings.scheduler
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
    stopping = settings.early_stopping
    has_val = data.val is not None and int(data.val.x.shape[0]) > 0
    monitor = stopping.monitor if stopping else ("val_loss" if has_val else "train_loss")
    mode = stopping.mode if stopping and stopping.mode != "auto" else monitor_mode(monitor)
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
