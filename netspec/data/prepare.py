"""From a source's raw arrays to training tensors: targets for the task, the shape of the
spec's ``input``, a seeded train/val/test split and standardization fitted on train only."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from netspec.dims import Shape, Sym
from netspec.sources.registry import DataProblem, RawData

if TYPE_CHECKING:
    from numpy.typing import NDArray

TASKS = ("classification", "binary", "regression", "autoencoder", "language_model")
"""The tasks ``load_data`` prepares data for (language_model: netspec/data/language.py)."""


# --- targets ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Targets:
    y: NDArray[Any] | None  # None for an autoencoder: the target is the prepared input
    num_classes: int | None
    class_names: list[str] | None


def targets(raw: RawData, task: str, name: str) -> Targets:
    """The raw targets as the task wants them: class indices int64 (n,) 0..K-1 (per position
    (n, T) for a sequence source), binary float (n, 1), regression float (n, 1) or (n, k)."""
    if task == "autoencoder":
        return Targets(None, None, None)
    if raw.y is None:
        hint = (
            "name the label column: `target: <column>`"
            if raw.origin and raw.origin.endswith(".csv")
            else "store the targets as array `y` (or give `y_key` / `target_path`)"
        )
        raise DataProblem(
            f"the {name} data have no targets, and task {task!r} needs them",
            key=("target",) if raw.origin and raw.origin.endswith(".csv") else ("path",),
            hints=(hint, "task: autoencoder trains without targets"),
        )
    y = raw.y
    if task == "regression":
        if y.dtype.kind in "US":
            raise DataProblem(
                f"task 'regression' needs numeric targets, but the {name} targets are labels "
                f"such as {str(y[0])!r}",
                key=("target",),
                hints=("use task: classification for labels",),
            )
        out = y.astype(np.float32)
        return Targets(out.reshape(len(out), 1) if out.ndim == 1 else out, None, None)
    indices, k, names = _labels(raw, task, name)
    if task == "binary":
        if k != 2:
            listing = ", ".join(names[:5]) + (", ..." if k > 5 else "")
            raise DataProblem(
                f"task 'binary' needs two classes, but the {name} data have {k} ({listing})",
                key=("target",) if raw.origin else ("source",),
                hints=("use task: classification for more than two classes",) if k > 2 else (),
            )
        out = indices.astype(np.float32)
        return Targets(out[..., None] if out.ndim == 1 else out, 2, names)
    return Targets(indices.astype(np.int64), k, names)


def _labels(raw: RawData, task: str, name: str) -> tuple[NDArray[Any], int, list[str]]:
    y = raw.y
    assert y is not None  # noqa: S101
    if raw.num_classes is not None:
        names = raw.class_names or [str(i) for i in range(raw.num_classes)]
        return y, raw.num_classes, names
    if raw.kind == "regression" or (y.dtype.kind == "f" and not np.array_equal(y, np.round(y))):
        sample = next((v for v in y.ravel() if float(v) != round(float(v))), y.ravel()[0])
        what = "regression targets" if raw.kind == "regression" else "continuous numbers"
        raise DataProblem(
            f"task {task!r} needs class labels, but the {name} targets are {what} "
            f"such as {float(sample):g}",
            key=("target",) if raw.origin else ("source",),
            hints=("use task: regression for numeric targets",),
        )
    if y.ndim != 1:
        raise DataProblem(
            f"class labels are one per sample, but the {name} targets have shape {tuple(y.shape)}",
            key=("path",) if raw.origin else ("source",),
        )
    values, indices = np.unique(y, return_inverse=True)
    names = [_label_name(v) for v in values]
    return indices.reshape(y.shape), len(values), names


def _label_name(value: Any) -> str:
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


# --- shape -----------------------------------------------------------------------------------


def show(shape: tuple[Any, ...] | Shape) -> str:
    inner = ", ".join(str(d) for d in shape)
    return f"({inner},)" if len(shape) == 1 else f"({inner})"


def concrete_shape(sample: tuple[int, ...], input_shape: Shape) -> tuple[int, ...] | None:
    """The per-sample shape the data take to fit ``input_shape`` (symbols bound to sizes), or
        None when they cannot: the same shape (a symbol matches any size), or the same element
        count, with at most one symbol absorbing what the fixed dimensions leave (only for data of
    another rank: a (20, 6) sequence does not become a (15, 8) one for input (T, 8))."""
    count = int(np.prod(sample)) if sample else 1
    if len(sample) == len(input_shape) and all(
        isinstance(d, Sym) or d == s for d, s in zip(input_shape, sample, strict=True)
    ):
        bound: dict[Sym, int] = {}
        for d, s in zip(input_shape, sample, strict=True):
            if isinstance(d, Sym) and bound.setdefault(d, s) != s:
                break
        else:
            return sample
    symbols = {d for d in input_shape if isinstance(d, Sym)}
    fixed = int(np.prod([d for d in input_shape if isinstance(d, int)] or [1]))
    if not symbols:
        return tuple(d for d in input_shape if isinstance(d, int)) if fixed == count else None
    uses = sum(isinstance(d, Sym) for d in input_shape)
    if uses != 1 or count % fixed or len(sample) == len(input_shape):
        return None  # same rank: (20, 6) is not a (T, 8) sequence, whatever the count
    return tuple(count // fixed if isinstance(d, Sym) else int(d) for d in input_shape)


def reshape(x: NDArray[Any], input_shape: Shape, what: str) -> NDArray[Any]:
    """``x`` (n, sample...) reshaped to (n, *input); a DataProblem naming both shapes."""
    sample = tuple(int(d) for d in x.shape[1:])
    target = concrete_shape(sample, input_shape)
    if target is None:
        count = int(np.prod(sample)) if sample else 1
        raise DataProblem(
            f"{what} samples have shape {show(sample)} ({count:,} values), which cannot take "
            f"the spec's input shape {show(input_shape)}",
            key=("source",),
            received=show(sample),
            expected=f"{show(input_shape)}, or any shape with as many values",
            hints=(
                "change the input shape to match the data (`input:`; in a spec of several "
                "networks, the input of the one that reads the data: a GAN's discriminator, "
                "an autoencoder's encoder), or pick data of that shape",
            ),
        )
    return x.reshape((len(x), *target))


def as_dtype(x: NDArray[Any], dtype: str, what: str) -> NDArray[Any]:
    """Float32 for float inputs; int64 token ids (checked whole) for int64 inputs."""
    if dtype == "int64":
        if x.dtype.kind == "f":
            bad = x != np.round(x)
            if bad.any():
                value = float(x[bad].ravel()[0])
                raise DataProblem(
                    f"the input is int64 token ids, but the {what} data hold non-integer "
                    f"values such as {value:g}",
                    key=("source",),
                    hints=("use a float input for real-valued features",),
                )
        elif x.dtype.kind not in "biu":
            raise DataProblem(f"the {what} data are not numeric", key=("source",))
        return x.astype(np.int64)
    with np.errstate(over="ignore"):
        out = x.astype(np.float32)
    finite = np.isfinite(out)
    if not finite.all():  # the sources refuse inf and NaN: these were finite floats past 3.4e38
        value = float(np.asarray(x)[~finite].ravel()[0])
        raise DataProblem(
            f"the {what} data hold {value:g}, past the range of float32 (about ±3.4e38)",
            key=("source",),
            hints=("scale the values down before saving them",),
        )
    return out


# --- split -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SplitIndices:
    train: NDArray[Any]
    val: NDArray[Any] | None
    test: NDArray[Any] | None


def split_indices(n: int, val: float, test: float, seed: int) -> SplitIndices:
    """A seeded shuffle cut into test, val and train; a fraction of 0 gives None.

    A positive fraction gets at least one sample; train must keep at least one.
    """
    order = np.random.default_rng(seed).permutation(n)
    n_test = max(1, round(n * test)) if test > 0 else 0
    n_val = max(1, round(n * val)) if val > 0 else 0
    if n - n_test - n_val < 1:
        raise DataProblem(
            f"{n} samples are too few to split {val:g} / {test:g} into val and test and keep "
            "training data",
            key=("split",),
            hints=("use more samples, or smaller fractions (0 means no such split)",),
        )
    test_idx = np.sort(order[:n_test]) if n_test else None
    val_idx = np.sort(order[n_test : n_test + n_val]) if n_val else None
    return SplitIndices(np.sort(order[n_test + n_val :]), val_idx, test_idx)


# --- standardization -------------------------------------------------------------------------


def feature_axis(rank: int) -> int:
    """Per-sample axis that standardization keeps separate statistics for: every feature of a
    vector (F,), every feature of a sequence (T, F), every channel of an image (C, H, W...)."""
    return 1 if rank == 2 else 0


class Standardizer:
    """``(x - mean) / std`` per feature (see :func:`feature_axis`), with statistics fitted on
    the training split only. A constant feature (std 0) is centred and left unscaled."""

    def __init__(self, mean: NDArray[Any], std: NDArray[Any], axis: int) -> None:
        self.mean = np.asarray(mean, dtype=np.float64)
        self.std = np.asarray(std, dtype=np.float64)
        self.axis = int(axis)

    @classmethod
    def fit(cls, x: NDArray[Any]) -> Standardizer:
        """Statistics of ``x`` (n, sample...), per feature."""
        axis = feature_axis(x.ndim - 1)
        moved = np.moveaxis(np.asarray(x, dtype=np.float64), axis + 1, -1)
        flat = moved.reshape(-1, moved.shape[-1])
        mean = flat.mean(axis=0)
        std = flat.std(axis=0)
        scale = np.maximum(np.abs(mean), 1.0)
        std = np.where(std <= 1e-12 * scale, 1.0, std)  # constant: left unscaled
        return cls(mean, std, axis)

    def _view(self, rank: int) -> tuple[int, ...]:
        shape = [1] * rank
        shape[self.axis] = len(self.mean)
        return tuple(shape)

    def apply(self, x: NDArray[Any]) -> NDArray[Any]:
        """Scale ``x`` (n, sample...); the sample's feature axis must have the fitted size."""
        rank = x.ndim - 1
        size = x.shape[self.axis + 1] if rank > self.axis else None
        if size != len(self.mean):
            raise DataProblem(
                f"the standardizer was fitted on {len(self.mean)} features on axis "
                f"{self.axis} of a sample, but the samples have shape {show(x.shape[1:])}",
                key=("source",),
            )
        view = self._view(rank)
        out = (np.asarray(x, dtype=np.float64) - self.mean.reshape(view)) / self.std.reshape(view)
        return out.astype(np.float32)

    def to_tensors(self) -> dict[str, torch.Tensor]:
        """For ``standardizer.safetensors`` in a run directory."""
        return {
            "mean": torch.from_numpy(self.mean.copy()),
            "std": torch.from_numpy(self.std.copy()),
            "axis": torch.tensor(self.axis, dtype=torch.int64),
        }

    @classmethod
    def from_tensors(cls, tensors: dict[str, torch.Tensor]) -> Standardizer:
        return cls(
            tensors["mean"].double().numpy(),
            tensors["std"].double().numpy(),
            int(tensors["axis"].item()),
        )

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Standardizer)
            and self.axis == other.axis
            and np.array_equal(self.mean, other.mean)
            and np.array_equal(self.std, other.std)
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Standardizer(features={len(self.mean)}, axis={self.axis})"


class Standardizers:
    """The scaling of a model with several inputs: one :class:`Standardizer` per float input
    that is standardized, by input name (token inputs and unscaled ones have none).

    Saved with the run in the one ``standardizer.safetensors``, each input's tensors under
    ``<input>.mean``, ``<input>.std`` and ``<input>.axis``; a model with one input keeps the
    plain ``mean``, ``std`` and ``axis`` of :meth:`Standardizer.to_tensors`.
    """

    def __init__(self, by_input: dict[str, Standardizer]) -> None:
        self.by_input = dict(by_input)

    def get(self, name: str) -> Standardizer | None:
        return self.by_input.get(name)

    def to_tensors(self) -> dict[str, torch.Tensor]:
        return {
            f"{name}.{key}": value
            for name, standardizer in self.by_input.items()
            for key, value in standardizer.to_tensors().items()
        }

    @classmethod
    def from_tensors(cls, tensors: dict[str, torch.Tensor]) -> Standardizers:
        grouped: dict[str, dict[str, torch.Tensor]] = {}
        for key, value in tensors.items():
            name, _, part = key.rpartition(".")
            grouped.setdefault(name, {})[part] = value
        return cls({name: Standardizer.from_tensors(parts) for name, parts in grouped.items()})

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Standardizers) and self.by_input == other.by_input

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        inner = ", ".join(f"{name}: {s!r}" for name, s in self.by_input.items())
        return f"Standardizers({inner})"


def input_standardizers(
    tensors: dict[str, torch.Tensor] | None, names: tuple[str, ...]
) -> dict[str, Standardizer]:
    """Each input's scaling from a run's ``standardizer.safetensors`` (``names``: the spec's
    inputs in order): the plain form of a one-input run belongs to the first input."""
    if tensors is None:
        return {}
    if "mean" in tensors:
        return {names[0]: Standardizer.from_tensors(tensors)}
    return Standardizers.from_tensors(tensors).by_input
