"""The checks before training: everything that can be found wrong is found before the run
directory is created or a batch is run, so a mistake leaves no half-made run behind and is
reported as a diagnostic (a data/model misfit, token ids out of an embedding's range, too few
samples per process for BatchNorm, a resumed run given a different spec), never as torch's
error half-way through an epoch.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from netspec.backend.resolve import resolved, resolved_networks
from netspec.dims import format_shape
from netspec.errors import Diagnostic, SpecError
from netspec.plan import Plan, concrete, plan, settled
from netspec.spec.load import Spec
from netspec.spec.networks import Networks
from netspec.spec.sections import TrainSpec
from netspec.training.batches import Inputs, as_inputs, as_tuple, rows
from netspec.training.distributed import World
from netspec.training.losses import Objective, make_objective
from netspec.training.protocols import DatasetLike

if TYPE_CHECKING:
    import torch


def check_fit(spec: Spec, settings: TrainSpec, data: DatasetLike) -> tuple[Plan, Objective]:
    """The plan with the data's sizes bound, and the objective (task vs output shape). A
    model with several inputs takes a tuple of tensors, one per input in declared order;
    one with several outputs trains on the first."""
    x = as_inputs(data.train.x)
    names = tuple(spec.inputs)
    tensors = as_tuple(x)
    named = spec.named_inputs
    if len(tensors) != len(names):
        given = f"{len(tensors)} tensor{'s' if len(tensors) != 1 else ''}"
        diag = Diagnostic(
            "shape",
            f"the model has {len(names)} input{'s' if len(names) != 1 else ''} "
            f"({', '.join(names)}), but the data give {given}",
            path=("inputs",) if named else ("input",),
            hints=("give a split's x as a tuple with one tensor per input, in declared order",),
        )
        raise SpecError([spec.source.attach(diag)])
    if rows(x) == 0:
        raise SpecError.single("invalid-value", "the training split is empty")
    counts = [int(t.shape[0]) for t in tensors]
    if len(set(counts)) > 1:
        shown = ", ".join(f"{n} {c:,}" for n, c in zip(names, counts, strict=True))
        diag = Diagnostic(
            "shape",
            f"the inputs have different numbers of training samples: {shown}",
            path=("data",),
        )
        raise SpecError([spec.source.attach(diag)])
    binding: dict[str, int] = {}
    for name, tensor in zip(names, tensors, strict=True):
        sample = tuple(int(d) for d in tensor.shape[1:])
        declared = spec.inputs[name].shape
        fits = len(sample) == len(declared)
        for d, size in zip(declared, sample, strict=False):
            if isinstance(d, int):
                fits = fits and d == size
            else:
                fits = fits and binding.setdefault(str(d), size) == size
        if not fits:
            shown = ", ".join(str(d) for d in declared)
            whose = f"input {name!r}" if named else "the spec's input"
            diag = Diagnostic(
                "shape",
                f"the data's samples are {tuple(sample)} but {whose} is ({shown})",
                path=("inputs", name) if named else ("input",),
            )
            raise SpecError([spec.source.attach(diag)])
    sample = tuple(int(d) for d in tensors[0].shape[1:])
    splits = (data.train, data.val, data.test)
    check_token_ids(
        spec,
        [as_inputs(s.x) for s in splits if s is not None and rows(as_inputs(s.x))],
        ("data",),
    )
    p = plan(concrete(spec, binding) if binding else spec)
    ints = tuple(d for d in p.output.shape if isinstance(d, int))
    if len(ints) != len(p.output.shape):
        raise SpecError.single(
            "shape",
            f"the model's output {format_shape(p.output.shape)} still has symbolic sizes "
            "after binding the data's",
        )
    y = None if settings.task == "autoencoder" else data.train.y
    tokenizer = getattr(data, "tokenizer", None)
    vocab = {"vocab_size": tokenizer.vocab_size} if tokenizer is not None else {}
    objective = make_objective(spec, settings, ints, sample, y, data.num_classes, **vocab)
    if y is not None:  # the other splits' labels must fit too
        for split in (data.val, data.test):
            if split is not None and rows(as_inputs(split.x)) > 0:
                make_objective(
                    spec, settings, ints, sample, split.y, objective.num_classes, **vocab
                )
    if objective.exact_match:
        check_problems(spec, settings, data)
    if tokenizer is not None:
        from netspec.sources.tokenizers import never_generated

        banned = never_generated(tokenizer)
        objective = replace(objective, vocab_size=tokenizer.vocab_size, banned=banned)
    return p, objective


def check_problems(spec: Spec, settings: TrainSpec, data: DatasetLike) -> None:
    """exact_match decodes the answers of prompt -> answer problems: text data have none.
    (``netspec validate`` finds this from the source's name; this covers data given in
    Python.)"""
    if getattr(data, "problems", False):
        return
    metrics = settings.metrics
    diag = Diagnostic(
        "invalid-value",
        "metric exact_match scores the answers of prompt -> answer problems, but these "
        "language-model data are text (windows of a token stream, no answers)",
        path=("train", "metrics", metrics.index("exact_match")),
        received="exact_match",
        expected="perplexity or accuracy",
        hints=("use a problem source (arithmetic, copy, reverse) or drop exact_match",),
    )
    path = diag.path if diag.path in spec.source.values else ("train", "metrics")
    raise SpecError([spec.source.attach(replace(diag, path=path))])


def check_token_ids(spec: Spec, tensors: Sequence[Inputs], where: tuple[str, ...]) -> None:
    """Token ids must index every embedding fed by an int64 input: an id >= num_embeddings
    would stop training (or prediction) half-way with torch's "index out of range".
    ``tensors``: splits or batches, each one tensor or a tuple (one per input, in order)."""
    if not tensors:
        return
    for position, (name, input_) in enumerate(spec.inputs.items()):
        if input_.dtype != "int64":
            continue
        ids = [as_tuple(x)[position] for x in tensors]
        ids = [t for t in ids if t.numel()]
        if ids:
            _check_ids(spec, name, ids, where)


def _check_ids(spec: Spec, name: str, ids: list[torch.Tensor], where: tuple[str, ...]) -> None:
    sizes = [
        (layer.name, getattr(layer.config, "num_embeddings", None))
        for layer in settled(spec).layers  # a size read from input.shape is known there
        if layer.type == "embedding" and name in layer.inputs
    ]
    if not sizes:
        return
    low = min(int(x.min()) for x in ids)
    high = max(int(x.max()) for x in ids)
    for layer, size in sizes:
        if isinstance(size, int) and (high >= size or low < 0):
            whose = f"input {name!r}'s token ids" if spec.named_inputs else "token ids"
            diag = Diagnostic(
                "shape",
                f"the data's {whose} run from {low} to {high}, but embedding {layer!r} has "
                f"num_embeddings {size} (ids 0 to {size - 1})",
                path=where,
                hints=(f"set num_embeddings to at least {high + 1}, or use fewer tokens",),
            )
            raise SpecError([spec.source.attach(diag)])


def check_run_settings(
    spec: Spec, settings: TrainSpec, data: DatasetLike, device: torch.device
) -> None:
    stopping = settings.early_stopping
    has_val = data.val is not None and rows(as_inputs(data.val.x)) > 0
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


def check_shards(
    spec: Spec, settings: TrainSpec, data: DatasetLike, model: torch.nn.Module, world: World
) -> None:
    """What a split across processes needs: each process evaluates a part of the val and
    test splits (so each needs a row), and BatchNorm trains on at least 2 samples."""
    if not world.distributed:
        return
    problem: tuple[str, tuple[str, ...], tuple[str, ...]] | None = None
    for name, split in (("val", data.val), ("test", data.test)):
        count = rows(as_inputs(split.x)) if split is not None else 0
        if 0 < count < world.size:
            problem = (
                f"the {name} split has {count} sample(s), fewer than the {world.size} processes "
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
    sizes = [rows(as_inputs(s.x)) if s is not None else 0 for s in splits]
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


def check_same_spec(given: Spec | Networks, stored: Spec | Networks, folder: Path) -> None:
    a, b = _resolved(given), _resolved(stored)
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


def _resolved(spec: Spec | Networks) -> dict[str, Any]:
    return resolved_networks(spec) if isinstance(spec, Networks) else resolved(spec)


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


def has_batchnorm(model: torch.nn.Module) -> bool:
    from torch.nn.modules.batchnorm import _BatchNorm

    return any(isinstance(m, _BatchNorm) for m in model.modules())
