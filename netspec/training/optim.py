"""Optimizer and learning-rate schedule.

The schedule is a plain function of the optimizer step (plus, for ``plateau``, the epochs'
monitored values), applied by setting the lr before each step: no torch scheduler objects,
so a checkpoint stores four numbers and resuming cannot drift.

- ``scale_lr: true``: lr (and onecycle's max_lr) x effective batch / 32, where the effective
  batch is batch_size x accumulate_grad_batches (the linear scaling rule, Goyal et al. 2017).
- ``warmup_epochs: W``: the lr rises linearly over the first W epochs' steps, to the full lr
  at the last warmup step: step s (0-based) uses lr x (s + 1) / (W x steps per epoch).
  ``warmup_steps: S`` counts the warmup in optimizer steps instead: lr x (s + 1) / S.
- ``step``: lr x gamma ** (epoch // step_size); gamma 0.1, step_size a third of the epochs.
- ``cosine``: after warmup, cosine decay from lr to min_lr (0) over the remaining steps.
- ``onecycle``: torch's OneCycleLR: from max_lr / 25 up to max_lr (default: lr) over the
  warmup (or the first 30% of steps), then cosine down to max_lr / 25e4; the momentum (or
  adam's beta1) cycles 0.95 -> 0.85 -> 0.95 when the optimizer uses momentum.
- ``plateau``: after warmup, lr x factor (0.1) when the monitored value has not improved by
  a relative 1e-4 for ``patience`` (10) epochs, never below min_lr (torch's ReduceLROnPlateau).

Weight decay skips the parameters ``optimizer.no_decay`` names (``bias``: every bias;
``norm``: the weights of normalization layers; ``embedding``: token embeddings and learned
positional tables): they go into a second parameter group with weight_decay 0 (GPT-2's and
nanoGPT's practice; AdamW decouples the decay from the gradient step). The default is
[bias, norm] for task language_model and nothing for the other tasks. A weight tied to
another (``tie``) is one parameter and sits in one group.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from netspec.spec.sections import REFERENCE_BATCH_SIZE, TrainSpec

if TYPE_CHECKING:
    import torch


def effective_lr(train: TrainSpec, lr: float | None = None, network: str | None = None) -> float:
    """``lr`` (default: the network's optimizer.lr) after ``scale_lr``."""
    base = train.optimizer_for(network).lr if lr is None else lr
    if not train.scale_lr:
        return base
    return base * train.batch_size * train.accumulate_grad_batches / REFERENCE_BATCH_SIZE


def no_decay_kinds(train: TrainSpec, network: str | None = None) -> tuple[str, ...]:
    """The kinds of parameters weight decay skips: ``optimizer.no_decay``, or the task's
    default."""
    given = train.optimizer_for(network).no_decay
    if given is not None:
        return given
    return ("bias", "norm") if train.task == "language_model" else ()


def parameter_groups(
    train: TrainSpec, model: torch.nn.Module, network: str | None = None
) -> list[torch.nn.Parameter] | list[dict[str, Any]]:
    """The trainable parameters of ``model``: a plain list when weight decay applies to
    all of them, else two groups (decayed, then the rest with weight_decay 0)."""
    params = [p for p in model.parameters() if p.requires_grad]
    kinds = no_decay_kinds(train, network)
    if not kinds:
        return params
    skipped = {id(p) for p in undecayed(model, kinds)}
    decay = [p for p in params if id(p) not in skipped]
    rest = [p for p in params if id(p) in skipped]
    groups: list[dict[str, Any]] = [{"params": decay}, {"params": rest, "weight_decay": 0.0}]
    return [g for g in groups if g["params"]]


def undecayed(model: torch.nn.Module, kinds: Iterable[str]) -> list[torch.nn.Parameter]:
    """The parameters of the named kinds (bias, norm, embedding), each once."""
    from torch import nn

    from netspec.backend.modules import LearnedPositionalEncoding, RMSNorm

    wanted = set(kinds)
    norms: tuple[type[nn.Module], ...] = (
        nn.modules.batchnorm._BatchNorm,
        nn.modules.instancenorm._InstanceNorm,
        nn.LayerNorm,
        nn.GroupNorm,
        nn.RMSNorm,
        nn.LocalResponseNorm,
        RMSNorm,
    )
    tables = (nn.Embedding, nn.EmbeddingBag, LearnedPositionalEncoding)
    found: dict[int, torch.nn.Parameter] = {}
    for module in model.modules():
        for name, param in module.named_parameters(recurse=False):
            if (
                ("bias" in wanted and "bias" in name)
                or ("norm" in wanted and isinstance(module, norms))
                or ("embedding" in wanted and isinstance(module, tables))
            ):
                found.setdefault(id(param), param)
    return list(found.values())


def make_optimizer(
    train: TrainSpec,
    params: Iterable[torch.nn.Parameter] | list[dict[str, Any]],
    network: str | None = None,
) -> torch.optim.Optimizer:
    """The optimizer of one network's parameters (None: the spec's only network); ``params``
    may be parameter groups (``parameter_groups``)."""
    import torch

    spec = train.optimizer_for(network)
    options: dict[str, Any] = {"lr": effective_lr(train, network=network)}
    if spec.weight_decay is not None:
        options["weight_decay"] = spec.weight_decay
    if spec.eps is not None:
        options["eps"] = spec.eps
    if spec.type == "sgd":
        return torch.optim.SGD(
            params, momentum=spec.momentum or 0.0, nesterov=spec.nesterov, **options
        )
    if spec.type == "rmsprop":
        if spec.alpha is not None:
            options["alpha"] = spec.alpha
        return torch.optim.RMSprop(params, momentum=spec.momentum or 0.0, **options)
    if spec.betas is not None:
        options["betas"] = spec.betas
    kind = torch.optim.Adam if spec.type == "adam" else torch.optim.AdamW
    return kind(params, **options)


class Schedule:
    """Sets the optimizer's lr (and onecycle's momentum) before each step.

    ``apply()`` before ``optimizer.step()``, ``advance()`` after it, ``end_epoch(value)``
    once per epoch with the monitored value (used by plateau only).
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        train: TrainSpec,
        steps_per_epoch: int,
        mode: str = "min",
    ) -> None:
        spec = train.scheduler
        self.optimizer = optimizer
        self.kind = spec.type
        self.base_lr = effective_lr(train)
        self.steps_per_epoch = steps_per_epoch
        self.total_steps = train.epochs * steps_per_epoch
        # warmup_steps, or warmup_epochs in steps (the spec allows one of them)
        self.warmup_steps = spec.warmup_steps or spec.warmup_epochs * steps_per_epoch
        # the epochs plateau waits before it counts (those the warmup reaches into)
        self.warmup_epochs = math.ceil(self.warmup_steps / max(steps_per_epoch, 1))
        self.gamma = spec.gamma if spec.gamma is not None else 0.1
        self.step_size = spec.step_size or max(1, train.epochs // 3)
        self.min_lr = spec.min_lr or 0.0
        self.max_lr = effective_lr(train, spec.max_lr) if spec.max_lr else self.base_lr
        self.factor = spec.factor if spec.factor is not None else 0.1
        self.patience = spec.patience if spec.patience is not None else 10
        self.mode = mode
        self.cycle_momentum = self.kind == "onecycle" and _uses_momentum(optimizer)
        self.dynamic = self.kind != "none" or self.warmup_steps > 0
        # State (what a checkpoint stores).
        self.step = 0
        self.scale = 1.0  # plateau's reductions so far
        self.best: float | None = None
        self.bad_epochs = 0

    def lr_at(self, step: int) -> float:
        """The lr of optimizer step ``step`` (0-based)."""
        if self.kind == "onecycle":
            return self._onecycle(step)[0]
        warm = min(1.0, (step + 1) / self.warmup_steps) if self.warmup_steps else 1.0
        if self.kind == "step":
            return (
                self.base_lr
                * warm
                * self.gamma ** ((step // self.steps_per_epoch) // self.step_size)
            )
        if self.kind == "cosine":
            span = max(1, self.total_steps - self.warmup_steps)
            t = min(1.0, max(0.0, (step - self.warmup_steps) / span))
            cosine = self.min_lr + (self.base_lr - self.min_lr) * 0.5 * (1 + math.cos(math.pi * t))
            return warm * cosine
        if self.kind == "plateau":
            lr = self.base_lr * self.scale
            return warm * (max(lr, self.min_lr) if self.scale < 1 else lr)
        return self.base_lr * warm

    def _onecycle(self, step: int) -> tuple[float, float]:
        """(lr, momentum) of torch's OneCycleLR (cosine, two phases, default factors)."""
        start, peak = self.max_lr / 25.0, self.max_lr
        end = start / 1e4
        pct = self.warmup_steps / self.total_steps if self.warmup_steps else 0.3
        up = float(pct * self.total_steps) - 1
        down = self.total_steps - 1
        if step <= up:
            t = step / up if up > 0 else 1.0
            return _anneal(start, peak, t), _anneal(0.95, 0.85, t)
        t = (step - up) / (down - up) if down > up else 1.0
        return _anneal(peak, end, min(t, 1.0)), _anneal(0.85, 0.95, min(t, 1.0))

    def apply(self) -> None:
        if not self.dynamic:
            return
        lr = self.lr_at(self.step)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        if self.cycle_momentum:
            momentum = self._onecycle(self.step)[1]
            for group in self.optimizer.param_groups:
                if "betas" in group:
                    group["betas"] = (momentum, group["betas"][1])
                else:
                    group["momentum"] = momentum

    def advance(self) -> None:
        self.step += 1

    def end_epoch(self, epochs_done: int, value: float | None) -> None:
        """Plateau: count epochs without improvement (after warmup), cut the lr on patience."""
        if self.kind != "plateau" or epochs_done <= self.warmup_epochs:
            return
        if value is not None and self._better(value):
            self.best, self.bad_epochs = value, 0
        else:
            self.bad_epochs += 1
        if self.bad_epochs > self.patience:
            if self.base_lr * self.scale > self.min_lr:
                self.scale *= self.factor
            self.bad_epochs = 0

    def _better(self, value: float) -> bool:
        if not math.isfinite(value):
            return False
        if self.best is None:
            return True
        if self.mode == "min":
            return value < self.best * (1 - 1e-4)
        return value > self.best * (1 + 1e-4)

    def current_lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    def state_dict(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "scale": self.scale,
            "best": self.best,
            "bad_epochs": self.bad_epochs,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.step = int(state["step"])
        self.scale = float(state["scale"])
        self.best = None if state["best"] is None else float(state["best"])
        self.bad_epochs = int(state["bad_epochs"])


def _anneal(start: float, end: float, t: float) -> float:
    return end + (start - end) / 2.0 * (math.cos(math.pi * t) + 1)


def _uses_momentum(optimizer: torch.optim.Optimizer) -> bool:
    group = optimizer.param_groups[0]
    return "betas" in group or float(group.get("momentum", 0.0)) > 0
