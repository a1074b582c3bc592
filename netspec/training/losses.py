"""Task -> loss, targets and the check that the model's output fits the task.

Shapes are per sample (no batch dim). The rules:

- classification: output ``(C,)`` with C = the number of classes, targets int class
  indices ``()``; per position, output ``(T, C)`` and targets ``(T,)``. Loss on logits.
- binary: one logit per target (output ``(1,)`` for one 0/1 label); sigmoid at threshold 0.5.
- regression: output and targets hold the same values (``(k,)`` for k targets). With target
  statistics (``data.standardize_target``, the default) the loss compares the output with the
  standardized targets, and metrics and predictions turn the output back into the original
  units.
- autoencoder: the output has the input's shape; the target is the input itself (before
  augmentation, so augmented inputs train a denoising autoencoder). With reparameterize
  layers (a VAE) the loss is ``variational.VariationalLoss``: reconstruction + w x KL.
- language_model: output ``(T, V)`` logits for input tokens ``(T,)`` (position t predicts
  token t + 1), V at least the tokenizer's vocabulary; targets int64 ``(T,)`` next-token ids,
  ``IGNORE`` where not trained. Cross entropy over all positions, the mean over the trained
  tokens (``ignore_index``).

A mismatch is a SpecError naming both shapes before any training starts.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from typing import TYPE_CHECKING, Any

from netspec.dims import format_shape
from netspec.errors import Diagnostic, SpecError, netspec_bug
from netspec.sources.tokenizers import IGNORE
from netspec.spec.sections import TASK_LOSSES, LossSpec, TrainSpec

if TYPE_CHECKING:
    import torch

    from netspec.spec.load import Spec
    from netspec.training.variational import VariationalLoss


@dataclass(frozen=True)
class Objective:
    """What the loop optimises: the loss and how targets and outputs are shaped for it."""

    task: str
    loss_name: str
    loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (outputs, targets) -> mean
    out_shape: tuple[int, ...]  # per sample
    num_classes: int | None
    # Regression targets standardized for the loss: per target column, the training split's
    # mean and std (None: the targets train as they are).
    target_scale: TargetScale | None = None
    # A variational autoencoder: ``loss`` is this object, which also keeps the parts of its
    # last value (reconstruction, KL) for the logs and takes its KL weight from the loop.
    variational: VariationalLoss | None = None
    # A language model whose evaluation also decodes each problem's answer greedily
    # (metric exact_match: ``netspec.training.exact_match``).
    exact_match: bool = False
    # A language model's token ids that generation never chooses (exact_match decodes as
    # `netspec generate` does): from the tokenizer's vocab_size on, and <pad>.
    vocab_size: int | None = None
    banned: tuple[int, ...] = ()

    def targets(self, y: torch.Tensor) -> torch.Tensor:
        """A split's targets as the loss takes them (converted once, not per batch)."""
        import torch

        n = y.shape[0]
        if self.task in ("classification", "language_model"):
            return y.to(torch.int64)
        t = y.to(torch.float32)
        if self.target_scale is not None:
            t = self.target_scale.standardize(t.reshape(n, -1))
        return t.reshape(n, *self.out_shape)

    def scaled(self, standardizer: Any | None) -> Objective:
        """This objective with regression targets standardized by ``standardizer`` (the
        training split's statistics, a netspec.data.Standardizer), if any."""
        if standardizer is None or self.task != "regression":
            return self
        return replace(self, target_scale=TargetScale.of(standardizer))

    def original(self, values: torch.Tensor) -> torch.Tensor:
        """Outputs or loss targets (n, *out_shape) in the targets' original units."""
        if self.target_scale is None:
            return values
        n = values.shape[0]
        return self.target_scale.restore(values.reshape(n, -1)).reshape(values.shape)

    def metric_inputs(
        self, out: torch.Tensor, target: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Predictions and targets as the task's torchmetrics take them: class probabilities
        (M, C) and indices (M,); binary probabilities and 0/1 labels (M,); values (N, k), in
        the targets' original units."""
        import torch

        out = out.float()
        if self.task == "language_model":  # logits (N, T, V), ids (N, T): see metrics
            return out, target
        if self.task == "classification":
            return out.flatten(0, -2).softmax(-1), target.flatten()
        if self.task == "binary":
            return out.sigmoid().flatten(), target.flatten().to(torch.int64)
        out, target = self.original(out), self.original(target.float())
        n = out.shape[0]
        # contiguous: an autoencoder's target is its input, which in a multi-process
        # evaluation is every world-size-th row of the split (a strided view), and
        # torchmetrics views its inputs
        if math.prod(self.out_shape) == 1:
            return out.reshape(n).contiguous(), target.reshape(n).contiguous()
        return out.reshape(n, -1).contiguous(), target.reshape(n, -1).contiguous()


@dataclass(frozen=True)
class TargetScale:
    """``(y - mean) / std`` per target column, and back (mean and std have k values)."""

    mean: tuple[float, ...]
    std: tuple[float, ...]

    @classmethod
    def of(cls, standardizer: Any) -> TargetScale:
        """From a netspec.data.Standardizer fitted on targets (n, k)."""
        return cls(tuple(map(float, standardizer.mean)), tuple(map(float, standardizer.std)))

    def standardize(self, y: torch.Tensor) -> torch.Tensor:  # (n, k) -> (n, k)
        mean, std = self._tensors(y)
        return (y - mean) / std

    def restore(self, y: torch.Tensor) -> torch.Tensor:  # (n, k) -> (n, k)
        mean, std = self._tensors(y)
        return y * std + mean

    def _tensors(self, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        import torch

        if like.shape[-1] != len(self.mean):
            raise netspec_bug(
                f"target statistics of {len(self.mean)} columns for targets {tuple(like.shape)}"
            )
        mean = torch.tensor(self.mean, dtype=like.dtype, device=like.device)
        return mean, torch.tensor(self.std, dtype=like.dtype, device=like.device)


def make_objective(
    spec: Spec,
    train: TrainSpec,
    out_shape: tuple[int, ...],
    in_shape: tuple[int, ...],
    y: torch.Tensor | None,
    num_classes: int | None,
    *,
    vocab_size: int | None = None,
) -> Objective:
    """Check that the model's per-sample output fits the task and the targets; build the loss.

    ``y`` is the training targets (None for an autoencoder); ``num_classes`` the data's;
    ``vocab_size`` a language model's tokenizer's (None: not known, only the targets count).
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
    elif task == "language_model":
        if y is None:
            raise _mismatch(spec, "task language_model needs next-token targets")
        classes = _check_language_model(spec, out_shape, in_shape, y, vocab_size)
        exact = "exact_match" in (train.metrics or ())
        return Objective(task, loss.type, _token_loss(loss), out_shape, classes, exact_match=exact)
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


def _token_loss(loss: LossSpec) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """Cross entropy of (N, T, V) logits against (N, T) next-token ids, the mean over the
    trained positions (targets IGNORE are skipped)."""
    from torch.nn import functional as F

    smoothing = loss.label_smoothing or 0.0

    def next_token(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(
            out.flatten(0, -2), target.flatten(), ignore_index=IGNORE, label_smoothing=smoothing
        )

    return next_token


def _check_language_model(
    spec: Spec,
    out_shape: tuple[int, ...],
    in_shape: tuple[int, ...],
    y: torch.Tensor,
    vocab_size: int | None,
) -> int:
    """The output is one row of logits per input position, over at least the tokenizer's
    vocabulary and every target id; returns V."""
    out = format_shape(out_shape)
    if y.is_floating_point():
        raise _mismatch(spec, "task language_model needs integer next-token ids as targets")
    if len(in_shape) != 1 or len(out_shape) != 2 or out_shape[0] != in_shape[0]:
        want = f"(N, {in_shape[0] if len(in_shape) == 1 else 'T'}, V)"
        raise _mismatch(
            spec,
            f"task language_model predicts the next token at every position: for input "
            f"{format_shape(in_shape)} the model must output {want} logits, but it outputs {out}",
            received=out,
            expected=want,
            hint="end with `dense: V` applied per position (no pooling or flattening)",
        )
    vocab = out_shape[1]
    trained = y[y != IGNORE]
    high = int(trained.max().item()) if trained.numel() else -1
    low = int(trained.min().item()) if trained.numel() else 0
    needed = max(vocab_size or 0, high + 1)
    if vocab < needed or low < 0:
        source = (
            f"the tokenizer's vocabulary has {vocab_size} tokens"
            if vocab_size is not None and vocab_size >= high + 1
            else f"the targets hold token ids up to {high}"
        )
        raise _mismatch(
            spec,
            f"task language_model: {source}, but the model outputs {vocab} logits per "
            f"position ({out})",
            received=out,
            expected=format_shape((out_shape[0], needed)) + " or more logits",
            hint=f"end the model with `dense: {needed}` (and num_embeddings {needed})",
        )
    return vocab


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
