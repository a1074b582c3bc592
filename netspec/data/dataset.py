"""``load_data``: the spec's ``data:`` section as whole tensors, split, scaled and shaped."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from netspec.data.augment import is_active
from netspec.data.prepare import (
    TASKS,
    Standardizer,
    Standardizers,
    as_dtype,
    concrete_shape,
    reshape,
    show,
    split_indices,
    targets,
)
from netspec.errors import Diagnostic, SpecError, netspec_bug
from netspec.sources.registry import Context, DataProblem, RawData
from netspec.sources.tokenizers import Tokenizer
from netspec.spec.data_check import input_names, source_options
from netspec.spec.sections import AugmentSpec, InputSpec

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from netspec.spec.load import Spec


Inputs = torch.Tensor | tuple[torch.Tensor, ...]
"""A split's (or a batch's) inputs: one tensor for a spec with one input, else a tuple with
one tensor per input, in the spec's declared order (the model is called ``model(*x)``)."""


@dataclass(frozen=True)
class Split:
    """One split as whole tensors: ``x`` (n, *input) float32 or int64 (a tuple of them, one
    per input, for a spec with several inputs), ``y`` per the task."""

    x: Inputs
    y: torch.Tensor

    def __len__(self) -> int:
        return int(self.y.shape[0])


@dataclass(frozen=True)
class InputData:
    """One model input as the data feed it."""

    name: str
    shape: tuple[int, ...]  # one sample as it enters the model (symbols bound)
    dtype: str
    raw_shape: tuple[int, ...]  # one sample as the source gives it


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

    With several inputs, ``inputs`` describes each (``input_shape``, ``input_dtype`` and
    ``raw_shape`` are the first's) and ``standardizer`` is a :class:`Standardizers`, one
    per standardized input (None when none is).
    """

    name: str
    task: str
    train: Split
    val: Split | None
    test: Split | None
    num_classes: int | None
    class_names: list[str] | None
    feature_names: list[str] | None
    standardizer: Standardizer | Standardizers | None
    input_shape: tuple[int, ...]  # one sample as it enters the model (symbols bound)
    input_dtype: str
    raw_shape: tuple[int, ...]  # one sample as the source gives it
    augment: AugmentSpec | None = None
    per_position: bool = False  # one class per time step (targets (n, T))
    target_standardizer: Standardizer | None = None
    inputs: tuple[InputData, ...] = ()
    # Language-model data (task language_model): the tokenizer that made the token ids (saved
    # with the run), and whether the samples are prompt -> answer problems (arithmetic, copy,
    # reverse: one problem per sample, targets IGNORE except the answer and its <eos>) rather
    # than windows of a text stream.
    tokenizer: Tokenizer | None = None
    problems: bool = False

    @property
    def target_shape(self) -> tuple[int, ...]:
        return tuple(int(d) for d in self.train.y.shape[1:])

    def describe(self) -> str:
        """One line, e.g. "digits: 1,437 train / 180 val / 180 test, 64 features ->
        (1, 8, 8), 10 classes"; for a language model e.g. "arithmetic: 16,000 train /
        2,000 val / 2,000 test problems, 12 tokens, vocabulary 16"."""
        parts = [f"{len(self.train):,} train"]
        parts += [f"{len(s):,} {n}" for n, s in (("val", self.val), ("test", self.test)) if s]
        if self.task == "language_model" and self.tokenizer is not None:
            what = "problems" if self.problems else "windows"
            return (
                f"{self.name}: {' / '.join(parts)} {what}, {self.input_shape[0]:,} tokens, "
                f"{self.tokenizer.kind} vocabulary {self.tokenizer.vocab_size:,}"
            )
        if len(self.inputs) > 1:
            what = "inputs " + ", ".join(
                f"{i.name} {show(i.raw_shape)}"
                + (f" -> {show(i.shape)}" if i.shape != i.raw_shape else "")
                + (" int64" if i.dtype == "int64" else "")
                for i in self.inputs
            )
        else:
            what = _one_input(self.raw_shape, self.input_shape, self.input_dtype)
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


def _one_input(raw: tuple[int, ...], shape: tuple[int, ...], dtype: str) -> str:
    if len(raw) == 1:
        unit = "tokens" if dtype == "int64" else "features"
        what = f"{raw[0]:,} {unit if raw[0] != 1 else unit[:-1]}"
    else:
        what = f"samples {show(raw)}"
    if shape != raw:
        what += f" -> {show(shape)}"
    return what


def load_data(spec: Spec, task: str | None = None, tokenizer: Tokenizer | None = None) -> Dataset:
    """Load, check, split, standardize and shape the spec's data. ``task`` defaults to
    ``spec.train.task``, else to what the source holds. Raises SpecError, located at the
    ``data:`` option concerned, for every problem with the data.

    ``tokenizer`` is for task language_model: a finished run's saved tokenizer, used instead
    of building one from the data (evaluating a run sees the ids it was trained on)."""
    try:
        return _load(spec, task, tokenizer)
    except DataProblem as problem:
        raise SpecError([spec.source.attach(problem.diagnostic())]) from None


def _load(spec: Spec, task: str | None, tokenizer: Tokenizer | None) -> Dataset:
    source, options = source_options(spec)
    data = spec.data
    if data is None:  # source_options reported it
        raise netspec_bug("no data section")
    file = spec.source.file
    base = Path(file).resolve().parent if file else Path.cwd()
    several = len(spec.inputs) > 1
    if task is None and spec.train is not None:
        task = spec.train.task
    ctx = Context(spec.input.shape, spec.input.dtype, base, input_names(spec.inputs), task)
    if task == "language_model":
        # Imported here: language.py builds on this module's Dataset and Split.
        from netspec.data.language import load_language

        return load_language(spec, source, options, ctx, tokenizer)
    raw = source.load(options, ctx)
    name = Path(raw.origin).name if raw.origin else source.name
    if several and raw.xs is None:  # load_spec refuses such a source (data_check)
        raise netspec_bug(f"data source {source.name!r} gave one array for several inputs")
    arrays: Mapping[str, NDArray[Any]] = (
        raw.xs if several and raw.xs is not None else {next(iter(spec.inputs)): raw.x}
    )
    if task == "gan":  # a GAN's data, like an autoencoder's, are samples with no targets
        task = "autoencoder"
    elif task is None:
        task = "regression" if raw.kind == "regression" else "classification"
    if task not in TASKS:
        raise netspec_bug(f"unknown task {task!r}")
    for key, array in arrays.items():
        _check_finite(array, f"{name} {key!r}" if several else name)
    target = targets(raw, task, name)
    xs = {
        key: _shaped(array, spec.inputs[key], f"{name} {key!r}" if several else name, several)
        for key, array in arrays.items()
    }

    # Token ids are never standardized, and augmentation fits the input: load_spec checked
    # both (netspec.spec.data_check).
    scale = raw.standardize if data.standardize is None else data.standardize
    aug = data.augment

    n = len(next(iter(xs.values())))
    parts = split_indices(n, data.split.val, data.split.test, data.split.seed)
    fitted: dict[str, Standardizer] = {}
    for key, x in xs.items():
        if scale and spec.inputs[key].dtype != "int64":
            fitted[key] = Standardizer.fit(x[parts.train])
            xs[key] = fitted[key].apply(x)
    standardizer: Standardizer | Standardizers | None = None
    if several:
        standardizer = Standardizers(fitted) if fitted else None
    elif fitted:
        standardizer = next(iter(fitted.values()))
    first = next(iter(xs.values()))
    y = first if target.y is None else target.y
    scale_y = task == "regression" and data.standardize_target and target.y is not None
    target_standardizer = (
        Standardizer.fit(y[parts.train].reshape(len(parts.train), -1)) if scale_y else None
    )

    def tensor(array: NDArray[Any], index: NDArray[Any]) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(array[index]))

    def cut(index: NDArray[Any] | None) -> Split | None:
        if index is None:
            return None
        x = tuple(tensor(a, index) for a in xs.values()) if several else tensor(first, index)
        return Split(x, tensor(y, index))

    train = cut(parts.train)
    assert train is not None  # noqa: S101
    described = tuple(
        InputData(
            key,
            tuple(int(d) for d in x.shape[1:]),
            spec.inputs[key].dtype,
            tuple(int(d) for d in arrays[key].shape[1:]),
        )
        for key, x in xs.items()
    )
    return Dataset(
        name=name,
        task=task,
        train=train,
        val=cut(parts.val),
        test=cut(parts.test),
        num_classes=target.num_classes,
        class_names=target.class_names,
        feature_names=None if several else raw.feature_names,
        standardizer=standardizer,
        input_shape=described[0].shape,
        input_dtype=spec.input.dtype,
        raw_shape=described[0].raw_shape,
        augment=aug if is_active(aug) else None,
        per_position=raw.kind == "sequence" and task in ("classification", "binary"),
        target_standardizer=target_standardizer,
        inputs=described,
    )


def _shaped(x: NDArray[Any], input_: InputSpec, what: str, several: bool) -> NDArray[Any]:
    """``x`` reshaped and typed to its input; with several inputs, a problem names it."""
    try:
        return as_dtype(reshape(x, input_.shape, what), input_.dtype, what)
    except DataProblem as problem:
        if several and problem.key == ("source",):
            problem.key = ("path",)  # the npz file: the one source of several inputs
        raise


def _check_finite(x: NDArray[Any], name: str) -> None:
    if x.dtype.kind not in "biuf":
        raise DataProblem(f"the {name} data are not numeric (dtype {x.dtype})", key=("source",))
    if x.dtype.kind == "f" and not np.isfinite(x).all():
        index = tuple(int(i) for i in np.argwhere(~np.isfinite(x))[0])
        raise DataProblem(
            f"the {name} data hold {x[index]} at sample {index[0]}, position {index[1:]}",
            key=("source",),
        )


def prepare(
    x: Any, spec: Spec, standardizer: Standardizer | Standardizers | None = None
) -> torch.Tensor:
    """New inputs (``netspec predict``) as the model takes them: the saved scaling, the
    spec's input shape and dtype. ``x`` is an array, tensor or nested list of samples, or
    one sample of the input's shape. Raises SpecError (at ``input:``) when it cannot fit.
    A spec with several inputs takes :func:`prepare_inputs`."""
    if len(spec.inputs) > 1:
        raise _located(spec, _several_need_names(spec), ("inputs",))
    scaling = _by_input(standardizer, tuple(spec.inputs)).get(next(iter(spec.inputs)))
    try:
        return _prepare(x, spec.input, scaling)
    except DataProblem as problem:
        raise _located(spec, problem, ("input",)) from None


def prepare_inputs(
    x: Any,
    spec: Spec,
    standardizers: Standardizer | Standardizers | Mapping[str, Standardizer] | None = None,
) -> tuple[torch.Tensor, ...]:
    """New inputs for every input of the spec, in declared order (call ``model(*inputs)``).

    ``x``: for a spec with several inputs, a mapping from each input's name to its samples
    (an ``.npz`` as ``numpy.load`` gives it, or a dict); for one input, what :func:`prepare`
    takes, or a mapping holding one array (or one named after the input, or ``x``).
    ``standardizers``: the saved scaling (a run's ``Dataset.standardizer``, or one
    Standardizer per input name). Raises SpecError, at ``input`` / ``inputs.<name>``, for a
    missing array, samples that cannot take the input's shape, or different sample counts.
    """
    names = tuple(spec.inputs)
    scaling = _by_input(standardizers, names)
    if len(names) == 1:
        path: tuple[str | int, ...] = ("inputs", names[0]) if spec.named_inputs else ("input",)
        one = _only_array(x, spec, names[0]) if isinstance(x, Mapping) else x
        try:
            return (_prepare(one, spec.input, scaling.get(names[0])),)
        except DataProblem as problem:
            raise _located(spec, problem, path) from None
    if not isinstance(x, Mapping):
        raise _located(spec, _several_need_names(spec), ("inputs",))
    missing = [n for n in names if n not in x]
    if missing:
        given = ", ".join(map(str, x)) or "none"
        absent = DataProblem(
            f"the inputs have no array {missing[0]!r}: a model with several inputs takes one "
            f"array per input, named after it ({', '.join(names)})",
            received=given,
            expected=", ".join(names),
        )
        raise _located(spec, absent, ("inputs",))
    out = []
    for name in names:
        try:
            out.append(_prepare(x[name], spec.inputs[name], scaling.get(name), name))
        except DataProblem as problem:
            raise _located(spec, problem, ("inputs", name)) from None
    counts = {name: int(t.shape[0]) for name, t in zip(names, out, strict=True)}
    if len(set(counts.values())) > 1:
        shown = ", ".join(f"{k} {v:,}" for k, v in counts.items())
        uneven = DataProblem(f"the inputs have different numbers of samples: {shown}")
        raise _located(spec, uneven, ("inputs",))
    return tuple(out)


def _by_input(
    given: Standardizer | Standardizers | Mapping[str, Standardizer] | None,
    names: tuple[str, ...],
) -> Mapping[str, Standardizer]:
    if given is None:
        return {}
    if isinstance(given, Standardizer):
        return {names[0]: given}
    if isinstance(given, Standardizers):
        return given.by_input
    return given


def _only_array(x: Mapping[str, Any], spec: Spec, name: str) -> Any:
    """The one input's array in a mapping (an .npz): by its name, else ``x``, else the only
    array there is."""
    for key in (name, "x"):
        if key in x:
            return x[key]
    if len(x) == 1:
        return next(iter(x.values()))
    given = ", ".join(map(str, x)) or "none"
    problem = DataProblem(
        f"the inputs hold {len(x)} arrays ({given}), and none is named {name!r} or 'x'",
        expected=f"an array named {name!r} (or 'x', or a file with one array)",
    )
    raise _located(spec, problem, ("inputs", name) if spec.named_inputs else ("input",))


def _several_need_names(spec: Spec) -> DataProblem:
    names = ", ".join(spec.inputs)
    return DataProblem(
        f"the model has {len(spec.inputs)} inputs ({names}): give one array per input, by "
        "name (an .npz file, or a dict)",
        expected=f"arrays named {names}",
    )


def _located(spec: Spec, problem: DataProblem, path: tuple[str | int, ...]) -> SpecError:
    diag = Diagnostic(
        problem.code,
        problem.message,
        path=path,
        received=problem.received,
        expected=problem.expected,
        hints=problem.hints,
    )
    return SpecError([spec.source.attach(diag)])


def _prepare(
    x: Any, input_: InputSpec, standardizer: Standardizer | None, name: str | None = None
) -> torch.Tensor:
    what = "inputs" if name is None else f"{name!r} inputs"
    label = "input" if name is None else name
    if isinstance(x, torch.Tensor):
        array = x.detach().cpu().numpy()
    else:
        try:
            array = np.asarray(x)
        except ValueError as exc:  # ragged nested lists
            raise DataProblem(f"the {what} are not a regular array ({exc})") from None
    if array.dtype == np.bool_:
        array = array.astype(np.float32)
    shape = input_.shape
    one = array.ndim == len(shape) and all(
        not isinstance(d, int) or d == s for d, s in zip(shape, array.shape, strict=True)
    )
    if one or array.ndim == 0:
        array = array.reshape((1, *array.shape)) if array.ndim else array.reshape(1, 1)
    if array.ndim == 1:
        array = array.reshape(len(array), 1)
    _check_finite(array, label)
    if concrete_shape(tuple(int(d) for d in array.shape[1:]), shape) is None:
        count = int(np.prod(array.shape[1:]))
        whose = "the spec's input shape" if name is None else f"input {name!r}'s shape"
        raise DataProblem(
            f"the {what} have shape {show(array.shape)}: samples of {show(array.shape[1:])} "
            f"({count:,} values), which cannot take {whose} {show(shape)}",
            received=show(array.shape[1:]),
            expected=f"{show(shape)}, or any shape with as many values",
        )
    array = as_dtype(reshape(array, shape, label), input_.dtype, label)
    if standardizer is not None and input_.dtype != "int64":
        array = standardizer.apply(array)
    return torch.from_numpy(np.ascontiguousarray(array))


__all__ = [
    "Dataset",
    "InputData",
    "Inputs",
    "RawData",
    "Split",
    "load_data",
    "prepare",
    "prepare_inputs",
]
