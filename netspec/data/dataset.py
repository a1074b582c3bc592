"""``load_data``: the spec's ``data:`` section as whole tensors, split, scaled and shaped."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from netspec.data.augment import is_active
from netspec.data.prepare import (
    TASKS,
    Standardizer,
    as_dtype,
    concrete_shape,
    reshape,
    show,
    split_indices,
    targets,
)
from netspec.errors import Diagnostic, SpecError, netspec_bug
from netspec.sources.registry import Context, DataProblem, RawData
from netspec.spec.data_check import source_options
from netspec.spec.sections import AugmentSpec

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from netspec.spec.load import Spec


@dataclass(frozen=True)
class Split:
    """One split as whole tensors: ``x`` (n, *input) float32 or int64, ``y`` per the task."""

    x: torch.Tensor
    y: torch.Tensor

    def __len__(self) -> int:
        return int(self.x.shape[0])


@dataclass(frozen=True)
class Dataset:
    """Everything training needs from the data.

    ``y`` is int64 (n,) class indices for classification ((n, T) for a per-position source
    such as ``copy``), float32 (n, 1) for binary, float32 (n, k) for regression, and the
    (scaled) input itself for an autoencoder. ``standardizer`` is what was fitted on the
    training split (None when the data are not standardized); save it with the run.
    ``target_standardizer`` holds the training split's statistics of regression targets
    (per target column of ``y`` (n, k), which stays in the original units; the objective
    trains on the standardized targets and reports in the original ones), None when
    ``data.standardize_target`` is false or the task is not regression.
    ``augment`` is for the training loop to apply to training batches only.
    """

    name: str
    task: str
    train: Split
    val: Split | None
    test: Split | None
    num_classes: int | None
    class_names: list[str] | None
    feature_names: list[str] | None
    standardizer: Standardizer | None
    input_shape: tuple[int, ...]  # one sample as it enters the model (symbols bound)
    input_dtype: str
    raw_shape: tuple[int, ...]  # one sample as the source gives it
    augment: AugmentSpec | None = None
    per_position: bool = False  # one class per time step (targets (n, T))
    target_standardizer: Standardizer | None = None

    @property
    def target_shape(self) -> tuple[int, ...]:
        return tuple(int(d) for d in self.train.y.shape[1:])

    def describe(self) -> str:
        """One line, e.g. "digits: 1,437 train / 180 val / 180 test, 64 features ->
        (1, 8, 8), 10 classes"."""
        parts = [f"{len(self.train):,} train"]
        parts += [f"{len(s):,} {n}" for n, s in (("val", self.val), ("test", self.test)) if s]
        raw = self.raw_shape
        if len(raw) == 1:
            unit = "tokens" if self.input_dtype == "int64" else "features"
            what = f"{raw[0]:,} {unit if raw[0] != 1 else unit[:-1]}"
        else:
            what = f"samples {show(raw)}"
        if self.input_shape != raw:
            what += f" -> {show(self.input_shape)}"
        if self.task == "autoencoder":
            target = "target = input"
        elif self.task == "regression":
            k = int(np.prod(self.target_shape)) if self.target_shape else 1
            target = f"{k} target{'s' if k != 1 else ''}"
        else:
            target = f"{self.num_classes} classes"
            if self.task == "binary":
                target += " (binary)"
            if self.per_position:
                target += " per position"
        return f"{self.name}: {' / '.join(parts)}, {what}, {target}"


def load_data(spec: Spec, task: str | None = None) -> Dataset:
    """Load, check, split, standardize and shape the spec's data. ``task`` defaults to
    ``spec.train.task``, else to what the source holds. Raises SpecError, located at the
    ``data:`` option concerned, for every problem with the data."""
    try:
        return _load(spec, task)
    except DataProblem as problem:
        raise SpecError([spec.source.attach(problem.diagnostic())]) from None


def _load(spec: Spec, task: str | None) -> Dataset:
    source, options = source_options(spec)
    data = spec.data
    if data is None:  # source_options reported it
        raise netspec_bug("no data section")
    file = spec.source.file
    base = Path(file).resolve().parent if file else Path.cwd()
    ctx = Context(spec.input.shape, spec.input.dtype, base)
    raw = source.load(options, ctx)
    name = Path(raw.origin).name if raw.origin else source.name
    if task is None:
        if spec.train is not None:
            task = spec.train.task
        else:
            task = "regression" if raw.kind == "regression" else "classification"
    if task not in TASKS:
        raise netspec_bug(f"unknown task {task!r}")
    _check_finite(raw.x, name)
    target = targets(raw, task, name)
    x = as_dtype(reshape(raw.x, spec.input.shape, name), spec.input.dtype, name)
    tokens = spec.input.dtype == "int64"

    # Token ids are never standardized, and augmentation fits the input: load_spec checked
    # both (netspec.spec.data_check).
    scale = raw.standardize if data.standardize is None else data.standardize
    aug = data.augment

    parts = split_indices(len(x), data.split.val, data.split.test, data.split.seed)
    standardizer = Standardizer.fit(x[parts.train]) if scale and not tokens else None
    if standardizer is not None:
        x = standardizer.apply(x)
    y = x if target.y is None else target.y
    scale_y = task == "regression" and data.standardize_target and target.y is not None
    target_standardizer = (
        Standardizer.fit(y[parts.train].reshape(len(parts.train), -1)) if scale_y else None
    )

    def cut(index: NDArray[Any] | None) -> Split | None:
        if index is None:
            return None
        return Split(
            torch.from_numpy(np.ascontiguousarray(x[index])),
            torch.from_numpy(np.ascontiguousarray(y[index])),
        )

    train = cut(parts.train)
    assert train is not None  # noqa: S101
    return Dataset(
        name=name,
        task=task,
        train=train,
        val=cut(parts.val),
        test=cut(parts.test),
        num_classes=target.num_classes,
        class_names=target.class_names,
        feature_names=raw.feature_names,
        standardizer=standardizer,
        input_shape=tuple(int(d) for d in x.shape[1:]),
        input_dtype=spec.input.dtype,
        raw_shape=tuple(int(d) for d in raw.x.shape[1:]),
        augment=aug if is_active(aug) else None,
        per_position=raw.kind == "sequence" and task in ("classification", "binary"),
        target_standardizer=target_standardizer,
    )


def _check_finite(x: NDArray[Any], name: str) -> None:
    if x.dtype.kind not in "biuf":
        raise DataProblem(f"the {name} data are not numeric (dtype {x.dtype})", key=("source",))
    if x.dtype.kind == "f" and not np.isfinite(x).all():
        index = tuple(int(i) for i in np.argwhere(~np.isfinite(x))[0])
        raise DataProblem(
            f"the {name} data hold {x[index]} at sample {index[0]}, position {index[1:]}",
            key=("source",),
        )


def prepare(x: Any, spec: Spec, standardizer: Standardizer | None = None) -> torch.Tensor:
    """New inputs (``netspec predict``) as the model takes them: the saved scaling, the
    spec's input shape and dtype. ``x`` is an array, tensor or nested list of samples, or
    one sample of the input's shape. Raises SpecError (at ``input:``) when it cannot fit."""
    try:
        return _prepare(x, spec, standardizer)
    except DataProblem as problem:
        diag = Diagnostic(
            problem.code,
            problem.message,
            path=("input",),
            received=problem.received,
            expected=problem.expected,
            hints=problem.hints,
        )
        raise SpecError([spec.source.attach(diag)]) from None


def _prepare(x: Any, spec: Spec, standardizer: Standardizer | None) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        array = x.detach().cpu().numpy()
    else:
        try:
            array = np.asarray(x)
        except ValueError as exc:  # ragged nested lists
            raise DataProblem(f"the inputs are not a regular array ({exc})") from None
    if array.dtype == np.bool_:
        array = array.astype(np.float32)
    shape = spec.input.shape
    one = array.ndim == len(shape) and all(
        not isinstance(d, int) or d == s for d, s in zip(shape, array.shape, strict=True)
    )
    if one or array.ndim == 0:
        array = array.reshape((1, *array.shape)) if array.ndim else array.reshape(1, 1)
    if array.ndim == 1:
        array = array.reshape(len(array), 1)
    _check_finite(array, "input")
    if concrete_shape(tuple(int(d) for d in array.shape[1:]), shape) is None:
        count = int(np.prod(array.shape[1:]))
        raise DataProblem(
            f"the inputs have shape {show(array.shape)}: samples of {show(array.shape[1:])} "
            f"({count:,} values), which cannot take the spec's input shape {show(shape)}",
            received=show(array.shape[1:]),
            expected=f"{show(shape)}, or any shape with as many values",
        )
    array = as_dtype(reshape(array, shape, "input"), spec.input.dtype, "input")
    if standardizer is not None and spec.input.dtype != "int64":
        array = standardizer.apply(array)
    return torch.from_numpy(np.ascontiguousarray(array))


__all__ = ["Dataset", "RawData", "Split", "load_data", "prepare"]
