"""The variational autoencoder's loss: reconstruction + w x KL.

A model of task autoencoder with `reparameterize` layers is a VAE. Each such layer keeps the
batch's KL divergence to the prior N(0, I) after every forward (``Reparameterize.kl``: summed
over a sample's latent elements, averaged over the batch), so the loss needs nothing from the
loop but the model's output:

    loss = recon + w * sum of the layers' KL
    recon = the task's loss (mse, l1, huber) summed over a sample's elements, batch mean

Summed, not averaged, over a sample's elements: with mse and w = 1 this is the negative ELBO
of a Gaussian decoder of variance 1/2 less the constant (d/2) log(pi) (d values per sample),
so the KL keeps its proper weight against the reconstruction whatever the input's size.

w is ``train.kl.beta`` (default 1), raised linearly over ``train.kl.warmup_epochs`` by
training batch like the learning rate's warmup: batch s (counting from 0 over the whole run)
uses beta x min(1, (s + 1) / (warmup_epochs x batches per epoch)). Evaluation (val_loss, the
test loss, `netspec evaluate`) always uses beta: the model is in eval mode there. The parts
(recon, kl) of the last call are kept for the logs (train_recon, train_kl, val_recon,
val_kl).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial
from typing import TYPE_CHECKING, Any

from netspec.errors import Diagnostic, SpecError, netspec_bug
from netspec.spec.sections import KL_MONITORS, TASK_LOSSES, LossSpec, TrainSpec

if TYPE_CHECKING:
    import torch

    from netspec.spec.source import SourceMap
    from netspec.training.losses import Objective

PARTS = ("recon", "kl")
"""The logged parts of a VAE's loss: ``train_recon``, ``val_kl``, ... in metrics.csv."""


@dataclass(eq=False)
class VariationalLoss:
    """``(outputs, targets) -> recon + w * KL``, reading the KL the model's reparameterize
    layers kept in the forward that made ``outputs``."""

    recon: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # elementwise, no reduction
    layers: tuple[Any, ...]  # the model's Reparameterize modules
    beta: float
    warmup_epochs: int
    weight: float = 0.0  # the training weight of the current batch: set by the loop
    last: Any = field(default=None, repr=False)  # tensor (2,): recon and KL of the last call

    def __call__(self, out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        recon = self.recon(out, target).flatten(1).sum(1).mean()
        kl = self.kl()
        w = self.weight if self.layers[0].training else self.beta
        self.last = _stacked(recon.detach().float(), kl.detach().float())
        return recon + w * kl

    def kl(self) -> torch.Tensor:
        """The sum of the layers' KL, as the last forward computed it."""
        found = [layer.kl for layer in self.layers]
        if any(kl is None for kl in found):
            raise netspec_bug("a reparameterize layer has no KL: the loss ran before a forward")
        return sum(found[1:], found[0])  # type: ignore[no-any-return]

    def weight_at(self, step: int, batches_per_epoch: int) -> float:
        """The KL weight of training batch ``step`` (0-based, counted over the whole run)."""
        if self.warmup_epochs == 0:
            return self.beta
        return self.beta * min(1.0, (step + 1) / (self.warmup_epochs * batches_per_epoch))


def _stacked(*values: torch.Tensor) -> torch.Tensor:
    import torch

    return torch.stack(values)


def reparameterize_layers(model: Any) -> tuple[Any, ...]:
    """The Reparameterize modules of a model, in module order."""
    from netspec.backend.modules import Reparameterize

    return tuple(m for m in model.modules() if isinstance(m, Reparameterize))


def with_kl(objective: Objective, model: Any, settings: TrainSpec) -> Objective:
    """The objective of a VAE (task autoencoder, reparameterize layers in ``model``); any
    other objective as it is."""
    layers = reparameterize_layers(model)
    if objective.task != "autoencoder" or not layers:
        return objective
    spec = settings.loss or LossSpec(type=TASK_LOSSES["autoencoder"][0])  # type: ignore[arg-type]
    kl = settings.kl
    beta, warmup = (kl.beta, kl.warmup_epochs) if kl is not None else (1.0, 0)
    loss = VariationalLoss(_elementwise(spec), layers, beta, warmup)
    name = f"{spec.type} summed per sample + {beta:g} x KL" + (
        f" (warm-up {warmup} epoch{'s' if warmup != 1 else ''})" if warmup else ""
    )
    return replace(objective, loss=loss, loss_name=name, variational=loss)


def _elementwise(spec: LossSpec) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    from torch.nn import functional as F

    if spec.type == "mse":
        return partial(F.mse_loss, reduction="none")
    if spec.type == "l1":
        return partial(F.l1_loss, reduction="none")
    if spec.type == "huber":
        delta = spec.delta if spec.delta is not None else 1.0
        return partial(F.huber_loss, reduction="none", delta=delta)
    raise netspec_bug(f"loss {spec.type} for an autoencoder")


def check_kl_settings(source: SourceMap, settings: TrainSpec, model: Any) -> None:
    """train.kl and the recon/kl monitors need a model with reparameterize layers."""
    if reparameterize_layers(model):
        return
    problem: tuple[str, tuple[str, ...]] | None = None
    stopping = settings.early_stopping
    if stopping is not None and stopping.monitor in KL_MONITORS:
        problem = (
            f"early stopping monitors {stopping.monitor}, which only a variational "
            "autoencoder (a model with `reparameterize` layers) logs",
            ("train", "early_stopping", "monitor"),
        )
    elif settings.kl is not None:
        problem = (
            "train.kl weights the KL divergence of `reparameterize` layers, but the model has none",
            ("train", "kl"),
        )
    if problem is not None:
        message, path = problem
        hint = "add a `reparameterize` layer (`from: [mean, log_var]`), or remove the option"
        raise SpecError(
            [source.attach(Diagnostic("invalid-value", message, path=path, hints=(hint,)))]
        )
