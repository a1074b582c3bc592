"""The training loop: epochs of index-batched steps, validation, best weights, checkpoints.

Speed: the splits are whole tensors (moved to the GPU once when they fit); a batch is
``x[perm[i:i + b]]`` with a seeded randperm per epoch, never one ``__getitem__`` per sample.
A model with several inputs takes a tuple of such tensors (``model(*xs)``); one with several
outputs trains on the first (``batches``).
The loss is summed on the device and read every ``log_every`` batches (for the progress
display and the NaN check) and at the end of the epoch; metrics are computed once per epoch.

Exactness: every random stream (dropout, batch order, augmentation) is in the checkpoint, with
the optimizer, the schedule and the epoch's progress (a ``TrainState``: see ``checkpoint``),
so a resumed run on CPU ends with bit-identical weights. The caller's global RNG state is
left as it was (``torch.random.fork_rng``).

Stopping: Ctrl-C is deferred to the end of the current batch (``signals``; a second Ctrl-C
stops at once), then a checkpoint is saved and ``TrainingInterrupted`` says how to resume. A
NaN or infinite training loss raises ``TrainingDiverged`` and keeps the last good checkpoint.
The checks before any of this run in ``preflight``.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from netspec.backend.artifacts import load_weights, tied_keys
from netspec.sources.tokenizers import IGNORE
from netspec.spec.sections import TrainSpec, monitored
from netspec.training.batches import (
    Inputs,
    as_inputs,
    call,
    first_output,
    nbytes,
    rows,
    take,
    to_device,
)
from netspec.training.checkpoint import (
    RankRng,
    TrainState,
    gather_rngs,
    loss_parts,
    own_loss_part,
    own_rng,
)
from netspec.training.distributed import (
    LAUNCHED_BY_NETSPEC,
    Vote,
    World,
    lost_peer,
    rank_seed,
)
from netspec.training.exact_match import count_correct
from netspec.training.metrics import compute, make_metrics, metric_names
from netspec.training.optim import Schedule, make_optimizer, parameter_groups
from netspec.training.outcome import (
    PeerLost,
    RunResult,
    StartInfo,
    TrainingDiverged,
    TrainingInterrupted,
)
from netspec.training.preflight import has_batchnorm
from netspec.training.rundir import CHECKPOINT, FINAL, RunDir
from netspec.training.signals import Interrupt, deferred_sigint
from netspec.training.variational import PARTS

if TYPE_CHECKING:
    import torch
    from torch.nn.parallel import DistributedDataParallel
    from torchmetrics import MetricCollection

    from netspec.training.losses import Objective
    from netspec.training.protocols import DatasetLike, Reporter, SplitLike

RESIDENT_BYTES = 2 * 1024**3
"""Splits up to this size (all together) are moved to the GPU once; larger ones per batch."""


@dataclass
class Progress:
    """The loop's counters; all of it goes into the checkpoint."""

    epoch: int = 0  # epochs completed
    batch: int = 0  # batches done in the current epoch
    batches_seen: int = 0  # batches since the run began
    best_value: float | None = None
    best_epoch: int = 0  # 1-based; 0: none yet
    wait: int = 0  # epochs since the last improvement
    stopped_early: bool = False
    finished: bool = False
    train_seconds: float = 0.0  # completed epochs
    train_samples: int = 0
    epoch_seconds: float = 0.0  # the current epoch so far
    epoch_samples: int = 0
    loss_sum: Any = None  # tensor: the current epoch's summed training loss
    epoch_rng: Any = None  # tensor: the permutation generator's state at the epoch start
    history: list[dict[str, float]] = field(default_factory=list)
    # A VAE's summed loss parts (recon, KL) and this process's rows since the epoch began or
    # the run resumed: not in the checkpoint, so after a resume within an epoch they average
    # that epoch's batches from the resume on.
    parts_sum: Any = None
    parts_rows: int = 0


class _Diverged(Exception):
    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what  # "the training loss became nan"


def evaluate_split(
    model: torch.nn.Module,
    objective: Objective,
    metrics: MetricCollection | None,
    x: Inputs,
    t: torch.Tensor | None,
    *,
    batch_size: int,
    device: torch.device,
    autocast: Callable[[], contextlib.AbstractContextManager[Any]] | None = None,
    world: World | None = None,
) -> dict[str, float]:
    """Mean loss and metrics of a whole split (``t`` None: the target is the input). In a
    multi-process run each process takes every world-size-th row and the loss and the
    metrics (torchmetrics' own sync) are reduced over all of them. ``x`` is a tuple for a
    model with several inputs; with several outputs, the first is evaluated. A language
    model's loss is the mean over the split's trained tokens (so it is log perplexity), not
    over samples, whose trained tokens differ in number."""
    import torch

    model.train(False)  # eval mode
    world = world or World()
    x = as_inputs(x)
    mine = world.rows(rows(x))
    x = take(x, mine)
    t = t[mine] if t is not None else None
    n = rows(x)
    total = torch.zeros((), device=device)
    weight = torch.zeros((), device=device)  # what the loss is a mean over: rows or tokens
    per_token = objective.task == "language_model"
    variational = objective.variational
    parts = torch.zeros(2, device=device)  # a VAE's summed recon and KL
    with torch.no_grad():
        for i in range(0, n, batch_size):
            xb = to_device(take(x, slice(i, i + batch_size)), device)
            tb = (
                cast("torch.Tensor", xb)
                if t is None
                else t[i : i + batch_size].to(device, non_blocking=True)
            )
            with autocast() if autocast is not None else contextlib.nullcontext():
                out = call(model, xb)
                loss = objective.loss(out, tb)
            w = (tb != IGNORE).sum() if per_token else rows(xb)
            total += loss.float() * w
            weight += w
            if variational is not None:
                parts += variational.last * rows(xb)
            if metrics is not None:
                metrics.update(*objective.metric_inputs(out, tb))
    correct = 0.0  # exact_match: problems answered right by greedy decoding
    if objective.exact_match and t is not None:
        correct = float(
            count_correct(
                model,
                x,
                t,
                batch_size=batch_size,
                device=device,
                autocast=autocast,
                vocab_size=objective.vocab_size,
                banned=objective.banned,
            )
        )
    loss_sum, weight_sum, count, right, *part_sums = world.sum(
        [total.item(), weight.item(), float(n), correct, *parts.tolist()]
    )
    result = {"loss": loss_sum / max(weight_sum, 1.0)}
    if variational is not None:
        result.update(zip(PARTS, (v / max(count, 1.0) for v in part_sums), strict=True))
    if metrics is not None:
        result.update(compute(metrics))
    if objective.exact_match and t is not None:
        result["exact_match"] = right / max(count, 1.0)
    return result


class Trainer:
    """One run: ``fit(checkpoint_or_None)`` trains (or resumes) and writes the run directory."""

    def __init__(
        self,
        *,
        train: TrainSpec,
        data: DatasetLike,
        objective: Objective,
        model: torch.nn.Module,
        device: torch.device,
        run: RunDir,
        reporter: Reporter,
        title: str,
        description: str,
        log_every: int | None = None,
        world: World | None = None,
    ) -> None:
        import torch

        self.world = world = world or World()
        self.settings = train
        self.objective = objective
        self.model = model
        self.device = device
        self.run = run
        self.reporter = reporter
        self.title = title
        self.description = description
        self.batch_size = train.batch_size
        self.accumulate = train.accumulate_grad_batches
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.optimizer = make_optimizer(train, parameter_groups(train, model))

        self.val = _usable(data.val)
        self.test = _usable(data.test)
        stopping = train.early_stopping
        self.monitor, self.mode = monitored(train, has_val=self.val is not None)
        self.patience = stopping.patience if stopping else None
        self.min_delta = stopping.min_delta if stopping else 0.0

        n = rows(as_inputs(data.train.x))
        self.train_samples = n
        self.batches = math.ceil(n / self.batch_size)
        tail = n - (self.batches - 1) * self.batch_size
        if self.batches > 1 and tail < 2 * world.size and has_batchnorm(model):
            # BatchNorm cannot train on one sample (per process): leave out this epoch's last
            # few samples instead of failing (each epoch's permutation leaves out others).
            self.batches -= 1
        steps_per_epoch = math.ceil(self.batches / self.accumulate)
        self.schedule = Schedule(self.optimizer, train, steps_per_epoch, self.mode)
        self.log_every = log_every or max(1, math.ceil(self.batches / 20))
        self.checkpoint_every = train.checkpoint_every or 1
        self.checkpoint_steps = train.checkpoint_every_steps

        names = metric_names(train)
        self.metrics = (
            make_metrics(train.task, names, objective.num_classes, device)
            if self.val is not None or self.test is not None
            else None
        )
        self.perm_generator = torch.Generator().manual_seed(train.seed)
        self.augment_generator = torch.Generator().manual_seed(
            rank_seed(train.seed + 1, world.rank)
        )
        self.augment_options = getattr(data, "augment", None)
        self.autocast = _autocast(train.precision, device)
        self.scaler = torch.amp.GradScaler(device.type) if train.precision == "16-mixed" else None

        sizes = [
            nbytes(as_inputs(s.x)) + s.y.nbytes for s in (data.train, self.val, self.test) if s
        ]
        self.resident = device.type == "cpu" or sum(sizes) <= RESIDENT_BYTES
        self.train_x, self.train_t = self._place(data.train)
        self.val_xt = self._place(self.val) if self.val else None
        self.test_xt = self._place(self.test) if self.test else None

        self.net = model  # what trains: DDP around the model (made in fit), or itself
        self.vote = Vote(world) if world.distributed else None
        self.local_divergence: str | None = None  # this process's NaN, awaiting the vote
        self.progress = Progress()
        self.best_state: dict[str, torch.Tensor] | None = None
        self.clean = True  # between batches: the state is consistent and can be saved
        self.saved_at = (0, 0)  # (epoch, batch) of the checkpoint on disk
        self._clock: float | None = None

    # -- setup -------------------------------------------------------------------------

    def _place(self, split: SplitLike) -> tuple[Inputs, torch.Tensor | None]:
        """(x, targets) on the device when they fit; targets None for an autoencoder. ``x``
        is a tuple of tensors for a model with several inputs."""
        t = None if self.objective.task == "autoencoder" else self.objective.targets(split.y)
        x = as_inputs(split.x)
        if self.resident:
            x = to_device(x, self.device)
            return x, (t.to(self.device, non_blocking=True) if t is not None else None)
        return x, t

    def _transfer(
        self, x: Inputs, t: torch.Tensor | None, idx: torch.Tensor
    ) -> tuple[Inputs, torch.Tensor]:
        """A batch of CPU-held data, through pinned memory to the device."""
        xb = to_device(take(x, idx), self.device, pin=True)
        tb = (
            cast("torch.Tensor", xb)
            if t is None
            else t[idx].pin_memory().to(self.device, non_blocking=True)
        )
        return xb, tb

    # -- the run -----------------------------------------------------------------------

    def fit(self, checkpoint: TrainState | None) -> RunResult:
        import torch

        devices = [self.device.index or 0] if self.device.type == "cuda" else []
        escalate = not self.world.distributed
        with (
            torch.random.fork_rng(devices=devices),
            deferred_sigint(escalate=escalate) as interrupt,
        ):
            self.interrupt = interrupt
            self.net = self.world.wrap(first_output(self.model), self.device)
            if checkpoint is None:
                torch.manual_seed(rank_seed(self.settings.seed, self.world.rank))
                self._save_checkpoint()
            else:
                self._restore(checkpoint)
            try:
                info = self._start_info(resumed=checkpoint is not None)
                self._report(lambda: self.reporter.on_start(info))
                while not self.progress.finished:
                    self._epoch(interrupt)
                result = self._finish()
            except KeyboardInterrupt:
                raise self._interrupted() from None
            except _Diverged as diverged:
                raise self._diverged(diverged.what) from None
            except Exception as exc:
                if self.world.distributed and lost_peer(exc):
                    raise self._peer_lost() from exc
                raise
        self.reporter.on_end(result)
        return result

    def _epoch(self, interrupt: Interrupt) -> None:
        import torch

        p = self.progress
        if p.batch == 0:
            p.epoch_rng = self.perm_generator.get_state()
            p.loss_sum = torch.zeros((), device=self.device)
            p.epoch_samples, p.epoch_seconds = 0, 0.0
        else:  # resuming mid-epoch: the same order again, from the same generator state
            self.perm_generator.set_state(p.epoch_rng)
        variational = self.objective.variational
        if variational is not None and (p.batch == 0 or p.parts_sum is None):
            p.parts_sum, p.parts_rows = torch.zeros(2, device=self.device), 0
        perm = torch.randperm(self.train_samples, generator=self.perm_generator)
        if self.resident and self.device.type != "cpu":
            perm = perm.to(self.device, non_blocking=True)
        model, optimizer, schedule = self.net, self.optimizer, self.schedule
        loss_fn, x, t = self.objective.loss, self.train_x, self.train_t
        single = x if not isinstance(x, tuple) else None
        several = x if isinstance(x, tuple) else ()
        bs, accumulate, batches, loss_sum = (
            self.batch_size,
            self.accumulate,
            self.batches,
            p.loss_sum,
        )
        augment, autocast, resident = self._augmenter(), self.autocast, self.resident
        plain = self.scaler is None and self.settings.grad_clip is None and not schedule.dynamic
        simple_backward = self.scaler is None and accumulate == 1
        world, vote, every_steps = self.world, self.vote, self.checkpoint_steps
        # DDP: the gradients are averaged only on the last micro-batch of an accumulated step.
        no_sync = (
            cast("DistributedDataParallel", model).no_sync
            if accumulate > 1 and vote is not None
            else None
        )
        synced = contextlib.nullcontext()
        model.train()
        self._clock = time.perf_counter()
        for b in range(p.batch, batches):
            self.clean = False
            idx = perm[b * bs : (b + 1) * bs]
            n = int(idx.shape[0])  # the whole batch's, over all processes
            weight = 1.0
            if vote is not None:
                idx, weight = world.shard(idx)
            boundary = (b + 1) % accumulate == 0 or b + 1 == batches
            if variational is not None:
                variational.weight = variational.weight_at(p.batches_seen, batches)
            if single is not None:  # one input: a plain tensor, as it always was
                if resident:
                    xb = single[idx]
                    tb = xb if t is None else t[idx]
                else:
                    xb, tb = cast("tuple[torch.Tensor, torch.Tensor]", self._transfer(x, t, idx))
                if augment is not None:
                    xb = augment(xb)
                args: tuple[torch.Tensor, ...] = (xb,)
            else:  # several inputs: model(*xs); no autoencoder (load_spec refuses one)
                if resident:
                    args = tuple(a[idx] for a in several)
                    tb = cast("torch.Tensor", t)[idx]
                else:
                    xs, tb = self._transfer(x, t, idx)
                    args = cast("tuple[torch.Tensor, ...]", xs)
                if augment is not None:  # noise alone: each float input its own
                    args = tuple(augment(a) if a.is_floating_point() else a for a in args)
            with no_sync() if no_sync is not None and not boundary else synced:
                if autocast is None:
                    loss = loss_fn(model(*args), tb)
                else:
                    with autocast():
                        loss = loss_fn(model(*args), tb)
                weighted = loss if weight == 1.0 else loss * weight
                if simple_backward:
                    weighted.backward()  # type: ignore[no-untyped-call]
                else:
                    self._backward(weighted)
            loss_sum.add_(loss.detach(), alpha=args[0].shape[0] if weight else 0)
            if variational is not None and weight:
                p.parts_sum.add_(variational.last, alpha=args[0].shape[0])
                p.parts_rows += args[0].shape[0]
            if boundary:
                if plain:
                    optimizer.step()
                    schedule.step += 1
                else:
                    self._step()
                optimizer.zero_grad(set_to_none=True)
            p.batch = b + 1
            p.epoch_samples += n
            p.batches_seen += 1
            self.clean = True
            if every_steps and boundary and b + 1 < batches and schedule.step % every_steps == 0:
                self._stop_clock()
                self._save_good_checkpoint()
                self._clock = time.perf_counter()
            if p.batches_seen % self.log_every == 0:
                self._report(lambda: self.reporter.on_batch(p.batches_seen, self._running_loss()))
            if vote is None:
                if interrupt.requested:
                    raise KeyboardInterrupt
            else:  # every process acts after the same batch
                if (b + 1) % vote.every == 0:
                    vote.poll(interrupt.requested, self.local_divergence is not None)
                if vote.diverged:
                    raise _Diverged(self.local_divergence or "the training loss became nan or inf")
                if vote.stop and boundary:
                    raise KeyboardInterrupt
        self._stop_clock()
        self._end_epoch()
        if vote is None:
            if interrupt.requested:
                raise KeyboardInterrupt
        elif vote.settle(interrupt.requested):
            raise KeyboardInterrupt

    def _report(self, call: Callable[[], None]) -> None:
        """A reporter callback. One that raises KeyboardInterrupt stops the run; with several
        processes, only rank 0 reports, so its request goes through the vote."""
        try:
            call()
        except KeyboardInterrupt:
            if self.vote is None:
                raise
            self.interrupt.requested = True

    def _backward(self, loss: torch.Tensor) -> None:
        scaled = loss / self.accumulate if self.accumulate > 1 else loss
        if self.scaler is not None:
            scaled = self.scaler.scale(scaled)
        scaled.backward()  # type: ignore[no-untyped-call]

    def _step(self) -> None:
        clip = self.settings.grad_clip
        scaler = self.scaler
        if scaler is not None:
            if clip is not None:
                scaler.unscale_(self.optimizer)
                _clip(self.params, clip)
            self.schedule.apply()
            scaler.step(self.optimizer)
            scaler.update()
        else:
            if clip is not None:
                _clip(self.params, clip)
            self.schedule.apply()
            self.optimizer.step()
        self.schedule.advance()

    def _augmenter(self) -> Callable[[torch.Tensor], torch.Tensor] | None:
        options = self.augment_options
        if options is None:
            return None
        from netspec.data import augment

        generator = self.augment_generator
        return lambda x: augment(x, options, generator)

    def _running_loss(self) -> float:
        """The progress display's loss. With several processes, this process's own running
        mean: exact sums cost a blocking round trip, so they wait for the epoch's end; a NaN
        goes to the vote, which stops every process after the same batch."""
        if self.vote is None:
            return self._epoch_loss()
        p = self.progress
        value = float(p.loss_sum.item()) / max(p.epoch_samples / self.world.size, 1.0)
        if not math.isfinite(value) and self.local_divergence is None:
            self.local_divergence = f"the training loss became {value}"
        return value

    def _epoch_loss(self) -> float:
        """The epoch's mean training loss so far (a device sync; a collective with several
        processes); stops on NaN or inf."""
        p = self.progress
        total = float(p.loss_sum.item())
        if self.vote is not None:
            total = self.world.sum([total])[0]
        value = total / max(p.epoch_samples, 1)
        if not math.isfinite(value):
            raise _Diverged(f"the training loss became {value}")
        return value

    def _train_parts(self) -> dict[str, float]:
        """A VAE's mean training recon and KL of the epoch (over every process)."""
        p = self.progress
        *sums, count = self.world.sum([*p.parts_sum.tolist(), float(p.parts_rows)])
        return {f"train_{k}": v / max(count, 1.0) for k, v in zip(PARTS, sums, strict=True)}

    def _stop_clock(self) -> None:
        if self._clock is not None:
            self.progress.epoch_seconds += time.perf_counter() - self._clock
            self._clock = None

    def _end_epoch(self) -> None:
        p = self.progress
        self.clean = False
        row: dict[str, float] = {"epoch": float(p.epoch + 1), "train_loss": self._epoch_loss()}
        variational = self.objective.variational
        if variational is not None:
            row.update(self._train_parts())
        if not self._weights_finite():  # the last steps blew up: this state is no good
            raise _Diverged("the weights became NaN or infinite")
        self.world.broadcast_buffers(self.model)  # BatchNorm statistics: evaluate one model
        if self.val_xt is not None:
            found = self._evaluate(*self.val_xt)
            row.update({f"val_{k}": v for k, v in found.items()})
        if variational is not None:  # the weight of the epoch's last batch, like lr
            row["kl_weight"] = variational.weight_at(p.batches_seen - 1, self.batches)
        row["lr"] = self.schedule.current_lr()
        row["seconds"] = p.epoch_seconds
        value = row.get(self.monitor)
        self.schedule.end_epoch(p.epoch + 1, value)
        improved = self._improved(value)
        p.history.append(row)
        p.epoch += 1
        p.batch = 0
        p.train_seconds += p.epoch_seconds
        p.train_samples += p.epoch_samples
        p.loss_sum = p.epoch_rng = p.parts_sum = None
        p.epoch_seconds, p.epoch_samples = 0.0, 0
        if improved:
            p.best_value, p.best_epoch, p.wait = value, p.epoch, 0
            if self.world.main:  # the others never need the best weights: see _finish
                self.best_state = _cpu_copy(self.model)
                self.run.write_weights(self.best_state, self.title, tied_keys(self.model))
        else:
            p.wait += 1
        if self.patience is not None and p.wait >= self.patience:
            p.stopped_early = True
        p.finished = p.stopped_early or p.epoch >= self.settings.epochs
        self.run.write_history(p.history)
        if p.finished or p.epoch % self.checkpoint_every == 0:
            self._save_checkpoint()
        self.clean = True
        self._report(lambda: self.reporter.on_epoch(p.epoch, row))

    def _save_good_checkpoint(self) -> None:
        """A checkpoint within an epoch, unless the run has just diverged: the last
        checkpoint must stay a good one. The weights are the same on every process, so
        every process decides the same."""
        if self.vote is None:
            self._epoch_loss()  # raises on NaN or inf
        if not self._weights_finite():
            raise _Diverged("the weights became NaN or infinite")
        self._save_checkpoint()

    def _weights_finite(self) -> bool:
        import torch

        checks = [torch.isfinite(p).all() for p in self.params]
        return bool(torch.stack(checks).all()) if checks else True

    def _improved(self, value: float | None) -> bool:
        best = self.progress.best_value
        if value is None or not math.isfinite(value):
            return False
        if best is None:
            return True
        if self.mode == "min":
            return value < best - self.min_delta
        return value > best + self.min_delta

    def _evaluate(self, x: Inputs, t: torch.Tensor | None) -> dict[str, float]:
        return evaluate_split(
            self.model,
            self.objective,
            self.metrics,
            x,
            t,
            batch_size=self.batch_size,
            device=self.device,
            autocast=self.autocast,
            world=self.world,
        )

    def _finish(self) -> RunResult:
        p = self.progress
        main = self.world.main
        if p.best_epoch == 0:  # no epoch gave a finite monitored value: keep the last
            p.best_epoch = p.epoch
            if main:
                self.best_state = _cpu_copy(self.model)
                self.run.write_weights(self.best_state, self.title, tied_keys(self.model))
        elif main and self.best_state is not None:
            load_weights(self.model, self.best_state, "the best epoch's weights")
        self.world.broadcast_module(self.model)  # rank 0's best weights everywhere, for the test
        test = self._evaluate(*self.test_xt) if self.test_xt is not None else {}
        best_row = p.history[p.best_epoch - 1] if 0 < p.best_epoch <= len(p.history) else {}
        val = {k.removeprefix("val_"): v for k, v in best_row.items() if k.startswith("val_")}
        speed = p.train_samples / p.train_seconds if p.train_seconds > 0 else 0.0
        final: dict[str, Any] = {
            "test": test,
            "val": val,
            "best_epoch": p.best_epoch,
            "monitor": self.monitor,
            "best_value": p.best_value,
            "epochs_run": p.epoch,
            "stopped_early": p.stopped_early,
            "samples_per_second": speed,
            "train_seconds": p.train_seconds,
            "device": str(self.device),
            "processes": self.world.size,
            "task": self.objective.task,
        }
        self.run.write_json(FINAL, final)
        self.run.write_curves(p.history, self.title)
        return RunResult(
            run_dir=self.run.path,
            best_epoch=p.best_epoch,
            monitor=self.monitor,
            best_value=p.best_value,
            epochs_run=p.epoch,
            stopped_early=p.stopped_early,
            test=test,
            history=list(p.history),
            samples_per_second=speed,
            train_seconds=p.train_seconds,
            device=str(self.device),
            metrics=final,
        )

    # -- stopping ----------------------------------------------------------------------

    def _interrupted(self) -> TrainingInterrupted:
        p = self.progress
        ckpt = self.run.path / CHECKPOINT
        self._stop_clock()
        if self.clean:
            self._save_checkpoint()
            where = (
                f"in epoch {p.epoch + 1} after batch {p.batch} of {self.batches}"
                if p.batch
                else f"after epoch {p.epoch}"
            )
            message = f"training interrupted {where}; checkpoint saved to {ckpt}"
        else:
            message = (
                f"training interrupted; the last checkpoint ({ckpt}, "
                f"{_position(*self.saved_at)}) is kept"
            )
        self._write_partial()
        return TrainingInterrupted(message, self.run.path, p.epoch, **self._relaunch())

    def _diverged(self, what: str) -> TrainingDiverged:
        p = self.progress
        self._write_partial()
        message = (
            f"{what} in epoch {p.epoch + 1} (by batch {p.batch} of "
            f"{self.batches}): training stopped. The last good checkpoint "
            f"({self.run.path / CHECKPOINT}, {_position(*self.saved_at)}) and the best weights "
            "(model.safetensors) are kept. Try a lower learning rate (train.optimizer.lr), "
            "gradient clipping (train.grad_clip), or check the data for extreme values"
        )
        return TrainingDiverged(message, self.run.path, p.epoch, **self._relaunch())

    def _peer_lost(self) -> PeerLost:
        p = self.progress
        message = (
            f"another process of the run stopped in epoch {p.epoch + 1}, so this one cannot "
            f"go on; the last checkpoint ({self.run.path / CHECKPOINT}, "
            f"{_position(*self.saved_at)}) is kept"
        )
        return PeerLost(message, self.run.path, p.epoch, **self._relaunch())

    def _relaunch(self) -> dict[str, Any]:
        """How this run was started, for the resume command."""
        torchrun = self.world.distributed and LAUNCHED_BY_NETSPEC not in os.environ
        return {"processes": self.world.size, "torchrun": torchrun}

    def _write_partial(self) -> None:
        """metrics.csv and curves.png of the epochs done so far."""
        self.run.write_history(self.progress.history)
        self.run.write_curves(self.progress.history, self.title)

    # -- checkpoints -------------------------------------------------------------------

    def _save_checkpoint(self) -> None:
        p = self.progress
        grads = {
            name: param.grad
            for name, param in self.model.named_parameters()
            if param.grad is not None
        }
        own = RankRng.here(self.augment_generator, self.device)
        state = TrainState(
            model=self.model.state_dict(),
            optimizer=self.optimizer.state_dict(),
            schedule=self.schedule.state_dict(),
            scaler=self.scaler.state_dict() if self.scaler is not None else {},
            grads=grads,
            epoch=p.epoch,
            batch=p.batch,
            batches_seen=p.batches_seen,
            best_value=p.best_value,
            best_epoch=p.best_epoch,
            wait=p.wait,
            stopped_early=p.stopped_early,
            finished=p.finished,
            train_seconds=p.train_seconds,
            train_samples=p.train_samples,
            epoch_loss=loss_parts(p.loss_sum, self.world),
            epoch_samples=p.epoch_samples,
            epoch_seconds=p.epoch_seconds,
            perm_rng=self.perm_generator.get_state(),
            epoch_start_rng=p.epoch_rng,
            rank_rngs=gather_rngs(own, self.world),
            history=tuple(p.history),
            monitor=self.monitor,
            world_size=self.world.size,
        )
        self.run.write_checkpoint(state)
        self.saved_at = (p.epoch, p.batch)

    def _restore(self, state: TrainState) -> None:
        p = self.progress
        self.model.load_state_dict(state.model)
        self.optimizer.load_state_dict(state.optimizer)
        self.schedule.load_state_dict(state.schedule)
        if self.scaler is not None and state.scaler:
            self.scaler.load_state_dict(state.scaler)
        named = dict(self.model.named_parameters())
        for name, grad in state.grads.items():
            named[name].grad = grad.to(self.device)
        p.epoch, p.batch, p.batches_seen = state.epoch, state.batch, state.batches_seen
        p.best_value, p.best_epoch = state.best_value, state.best_epoch
        p.wait, p.stopped_early, p.finished = state.wait, state.stopped_early, state.finished
        p.train_seconds, p.train_samples = state.train_seconds, state.train_samples
        loss_sum = own_loss_part(state.epoch_loss, self.world)
        p.loss_sum = loss_sum.to(self.device) if loss_sum is not None else None
        p.epoch_samples, p.epoch_seconds = state.epoch_samples, state.epoch_seconds
        p.history = [dict(row) for row in state.history]
        own_rng(state, self.world, self.settings.seed, self.device).apply(
            self.augment_generator, self.device
        )
        self.perm_generator.set_state(state.perm_rng)  # the same on every process
        p.epoch_rng = state.epoch_start_rng
        if p.best_epoch > 0 and self.world.main:
            self.best_state = self.run.read_weights()
        self.saved_at = (p.epoch, p.batch)

    def _start_info(self, *, resumed: bool) -> StartInfo:
        return StartInfo(
            run_dir=self.run.path,
            device=str(self.device),
            task=self.objective.task,
            epochs=self.settings.epochs,
            start_epoch=self.progress.epoch,
            batches_per_epoch=self.batches,
            start_batch=self.progress.batch,
            train_samples=self.train_samples,
            val_samples=rows(as_inputs(self.val.x)) if self.val else 0,
            test_samples=rows(as_inputs(self.test.x)) if self.test else 0,
            params=sum(p.numel() for p in self.model.parameters()),
            monitor=self.monitor,
            data=self.description,
            resumed=resumed,
            processes=self.world.size,
        )


def _usable(split: SplitLike | None) -> SplitLike | None:
    return split if split is not None and rows(as_inputs(split.x)) > 0 else None


def _cpu_copy(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}


def _clip(params: list[torch.nn.Parameter], max_norm: float) -> None:
    import torch

    torch.nn.utils.clip_grad_norm_(params, max_norm)


def _position(epoch: int, batch: int) -> str:
    if batch:
        return f"epoch {epoch + 1}, batch {batch}"
    return f"end of epoch {epoch}" if epoch else "before the first epoch"


def _autocast(
    precision: str, device: torch.device
) -> Callable[[], contextlib.AbstractContextManager[Any]] | None:
    """A context for mixed precision, None for float32."""
    import torch

    if precision == "32":
        return None
    dtype = torch.bfloat16 if precision == "bf16-mixed" else torch.float16
    return lambda: torch.autocast(device.type, dtype=dtype)
