"""Task -> loss, targets and the check that the model's output fits the task.

Shapes are per sample (no batch dim). The rules:

- classification: output ``(C,)`` with C = the number of classes, targets int class
  indices ``()``; per position, output ``(T, C)`` and targets ``(T,)``. Loss on logits.
- binary: one logit per target (output ``(1,)`` for one 0/1 label); sigmoid at threshold 0.5.
- regression: output and targets hold the same values (``(k,)`` for k targets).
- autoencoder: the output has the input's shape; the target is the input itself (before
  augmentation, so augmented inputs train a denoising autoencoder).

A mismatch is a SpecError naming both shapes before any training starts.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

from netspec.dims import format_shape
from netspec.errors import Diagnostic, SpecError
from netspec.spec.sections import TASK_LOSSES, LossSpec, TrainSpec

if TYPE_CHECKING:
    import torch

    from netspec.spec.load import Spec


@dataclass(frozen=True)
class Objective:
    """What the loop optimises: the loss and how targets and outputs are shaped for it."""

    task: str
    loss_name: str
    loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (outputs, targets) -> mean
    out_shape: tuple[int, ...]  # per sample
    num_classes: int | None

    def targets(self, y: torch.Tensor) -> torch.Tensor:
        """A split's targets as the loss takes them (converted once, not per batch)."""
        import torch

        n = y.shape[0]
        if self.task == "classification":
            return y.to(torch.int64)
        return y.to(torch.float32).reshape(n, *self.out_shape)

    def metric_inputs(
        self, out: torch.Tensor, target: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Predictions and targets as the task's torchmetrics take them: class probabilities
        (M, C) and indices (M,); binary probabilities and 0/1 labels (M,); values (N, k)."""
        import torch

        out = out.float()
        if self.task == "classification":
            return out.flatten(0, -2).softmax(-1), target.flatten()
        if self.task == "binary":
            return out.sigmoid().flatten(), target.flatten().to(torch.int64)
        n = out.shape[0]
        if math.prod(self.out_shape) == 1:
            return out.reshape(n), target.reshape(n)
        return out.reshape(n, -1), target.reshape(n, -1)


def make_objective(
    spec: Spec,
    train: TrainSpec,
    out_shape: tuple[int, ...],
    in_shape: tuple[int, ...],
    y: torch.Tensor | None,
    num_classes: int | None,
) -> Objective:
    """Check that the model's per-sample output fits the task and the targets; build the loss.

    ``y`` is the training targets (None for an autoencoder); ``num_classes`` the data's.
    """
    task = train.task
    loss = train.loss or LossSpec(type=TASK_LOSSES[task][0])  # type: ignore[arg-type]
    target_shape = tuple(int(d) for d in y.shape[1:]) if y is not None else ()
    out = format_shape(out_shape)
    classes = None
    if task == "classification":
        if y is None:
            raise _mismatch(spec, "task classification needs class labels, but the data have none")
        classes = num_classes if num_classes is not None else _count_classes(y)
        if out_shape != (*target_shape, classes):
            want = format_shape((*target_shape, classes))
            raise _mismatch(
                spec,
                f"task classification: the data have {classes} classes but the model outputs "
                f"{out}; it needs {want}",
                received=out,
                expected=want,
                hint=f"end the model with `dense: {classes}` (logits, no softmax)",
            )
        _check_labels(spec, y, classes)
    elif task == "binary":
        if y is None:
            raise _mismatch(spec, "task binary needs 0/1 labels, but the data have none")
        if num_classes is not None and num_classes != 2:
            raise _mismatch(
                spec,
                f"task binary needs two classes, but the data have {num_classes}",
                hint="use task: classification for more than two classes",
            )
        if not _same_values(out_shape, target_shape):
            want = format_shape(target_shape or (1,))
            raise _mismatch(
                spec,
                f"task binary needs one logit per label, {want}, but the model outputs {out}",
                received=out,
                expected=want,
                hint="end the model with `dense: 1` (a logit, no sigmoid)",
            )
        _check_binary(spec, y)
        classes = 2
    elif task == "regression":
        if y is None:
            raise _mismatch(spec, "task regression needs target values, but the data have none")
        if not _same_values(out_shape, target_shape):
            want = format_shape(target_shape or (1,))
            raise _mismatch(
                spec,
                f"task regression: the targets are {want} but the model outputs {out}",
                received=out,
                expected=want,
                hint=f"end the model with `dense: {math.prod(target_shape)}`",
            )
    elif out_shape != in_shape:
        want = format_shape(in_shape)
        raise _mismatch(
            spec,
            f"task autoencoder reconstructs its input {want}, but the model outputs {out}",
            received=out,
            expected=want,
            hint="the last layers must give back the input's shape (e.g. reshape after dense)",
        )
    per_position = task == "classification" and len(out_shape) > 1
    return Objective(task, loss.type, _loss_function(loss, per_position), out_shape, classes)


def _loss_function(
    loss: LossSpec, per_position: bool
) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """The functional form (no nn.Module call overhead per step)."""
    from torch.nn import functional as F

    if loss.type == "cross_entropy":
        smoothing = loss.label_smoothing or 0.0
        if per_position:  # (N, T, C) logits, (N, T) targets

            def per_token(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
                return F.cross_entropy(
                    out.flatten(0, -2), target.flatten(), label_smoothing=smoothing
                )

            return per_token
        if smoothing:
            return partial(F.cross_entropy, label_smoothing=smoothing)
        return F.cross_entropy
    if loss.type == "bce_with_logits":
        return F.binary_cross_entropy_with_logits
    if loss.type == "mse":
        return F.mse_loss
    if loss.type == "l1":
        return F.l1_loss
    return partial(F.huber_loss, delta=loss.delta if loss.delta is not None else 1.0)


def _same_values(out_shape: tuple[int, ...], target_shape: tuple[int, ...]) -> bool:
    """Equal shapes up to size-1 dims: targets (n,) fit outputs (n, 1), (n, 3) fit (3,)."""
    return [d for d in out_shape if d != 1] == [d for d in target_shape if d != 1]


def _count_classes(y: torch.Tensor) -> int:
    return int(y.max().item()) + 1 if y.numel() else 0


def _check_labels(spec: Spec, y: torch.Tensor, classes: int) -> None:
    if y.is_floating_point() and not bool((y == y.round()).all()):
        raise _mismatch(spec, "task classification needs integer class labels")
    low, high = int(y.min().item()), int(y.max().item())
    if low < 0 or high >= classes:
        raise _mismatch(
            spec,
            f"class labels run from {low} to {high}, but the model has {classes} outputs "
            f"(labels 0 to {classes - 1})",
        )


def _check_binary(spec: Spec, y: torch.Tensor) -> None:
    if not bool(((y == 0) | (y == 1)).all()):
        raise _mismatch(spec, "task binary needs labels 0 and 1 only")


def _mismatch(
    spec: Spec,
    message: str,
    *,
    received: str | None = None,
    expected: str | None = None,
    hint: str | None = None,
) -> SpecError:
    diag = Diagnostic(
        "shape",
        message,
        path=("train", "task"),
        received=received,
        expected=expected,
        hints=(hint,) if hint else (),
    )
    return SpecError([spec.source.attach(diag)])
