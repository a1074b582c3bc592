"""The GAN training loop: discriminator and generator steps, sample quality, checkpoints.

An epoch is one pass over the training split in batches of real samples. Each batch is one
discriminator step (on fresh noise); after every ``train.gan.d_steps`` of them, and after the
epoch's last, comes one generator step. With the optional weight average (``train.gan.ema``)
the averaged generator is the one evaluated, drawn in samples.png and saved.

Sample quality is the MMD (``mmd.mmd_rbf``) between the generator's samples from a fixed
noise batch and held-out real data, with bandwidths fixed from that real data (the median
heuristic on it alone), so the values of every epoch, and of the untrained generator, are
comparable. The best epoch by the monitored value (val_mmd) gives model.safetensors.

Health: the losses are summed on the device and a NaN, a discriminator that wins outright or
a collapsed generator are counted there too, read every few steps (a read waits for the
device) and at the end of each epoch; checkpoints are written only after those reads found
the run healthy, so last.ckpt is always a good state. Ctrl-C is deferred to the end of the
batch (``signals``), then the state is saved and ``TrainingInterrupted`` says how to resume.
Every random stream (batch order, noise, dropout) is in the checkpoint (``gan_state``), so
a resumed run on CPU ends with the weights of an uninterrupted one, bit for bit.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

from netspec.backend.artifacts import load_weights, tied_keys, write_atomic
from netspec.spec.sections import GanSpec, TrainSpec, monitored
from netspec.training.ema import Ema
from netspec.training.gan_losses import WIN_THRESHOLD, GanLoss
from netspec.training.gan_state import GanState, encode
from netspec.training.mmd import median_bandwidths, mmd_rbf
from netspec.training.optim import make_optimizer, parameter_groups
from netspec.training.outcome import (
    GanFailed,
    RunResult,
    StartInfo,
    TrainingDiverged,
    TrainingInterrupted,
    TrainingStopped,
)
from netspec.training.plots import panels_png
from netspec.training.preflight import has_batchnorm
from netspec.training.protocols import DatasetLike, Reporter
from netspec.training.rundir import CHECKPOINT, CURVES, FINAL, SAMPLES, RunDir
from netspec.training.samples import draw, noise, samples_png, unstandardize
from netspec.training.signals import Interrupt, deferred_sigint

EVAL_SAMPLES = 1000
"""Generated samples (from one fixed noise batch) and at most as many real ones per MMD."""
COLLAPSE_FRACTION = 0.05
"""A generated batch whose features' mean std is below this fraction of the real data's has
collapsed (to a point, or a few)."""
CURVE_PANELS = (
    ("loss", (("d_loss", "discriminator"), ("g_loss", "generator"))),
    ("discriminator output", (("d_real", "real"), ("d_fake", "fake"))),
    ("MMD to held-out data", (("val_mmd", "val"),)),
)

# Offsets from train.seed of the run's random streams: the batch order uses the seed itself.
_NOISE, _VAL_NOISE, _TEST_NOISE = 1, 2, 3


@dataclass
class GanProgress:
    """The loop's counters; all of it goes into the checkpoint."""

    epoch: int = 0
    batch: int = 0
    d_steps: int = 0
    g_steps: int = 0
    best_value: float | None = None
    best_epoch: int = 0
    wait: int = 0
    stopped_early: bool = False
    finished: bool = False
    train_seconds: float = 0.0
    train_samples: int = 0
    epoch_seconds: float = 0.0
    epoch_samples: int = 0
    sums: Any = None  # tensor (4,): the epoch's d_loss, g_loss, d_real, d_fake sums
    counts: list[int] = field(default_factory=lambda: [0, 0])  # the epoch's D and G steps
    streaks: Any = None  # tensor (2,): steps of a winning discriminator, of collapse
    epoch_rng: Any = None
    untrained_mmd: float | None = None
    history: list[dict[str, float]] = field(default_factory=list)


class _Unhealthy(Exception):
    def __init__(self, kind: type[TrainingStopped], what: str) -> None:
        super().__init__(what)
        self.kind = kind
        self.what = what


@dataclass(frozen=True)
class Shapes:
    latent: tuple[int, ...]  # the generator's input per sample
    sample: tuple[int, ...]  # its output, the discriminator's input, the data's sample


class GanTrainer:
    """One GAN run: ``fit(state_or_None)`` trains (or resumes) and writes the run directory."""

    def __init__(
        self,
        *,
        train: TrainSpec,
        data: DatasetLike,
        model: torch.nn.ModuleDict,
        shapes: Shapes,
        device: torch.device,
        run: RunDir,
        reporter: Reporter,
        title: str,
        description: str,
        scaling: Mapping[str, torch.Tensor] | None,
    ) -> None:
        self.settings = train
        self.gan = train.gan or GanSpec()
        self.model = model
        self.generator = model["generator"]
        self.discriminator = model["discriminator"]
        self.shapes = shapes
        self.device = device
        self.run = run
        self.reporter = reporter
        self.title = title
        self.description = description
        self.scaling = scaling
        self.loss = GanLoss.of(train)
        self.g_params = [p for p in self.generator.parameters() if p.requires_grad]
        self.d_params = [p for p in self.discriminator.parameters() if p.requires_grad]
        self.g_optimizer = make_optimizer(
            train, parameter_groups(train, self.generator, "generator"), network="generator"
        )
        self.d_optimizer = make_optimizer(
            train,
            parameter_groups(train, self.discriminator, "discriminator"),
            network="discriminator",
        )
        self.ema = Ema(self.generator, self.gan.ema) if self.gan.ema is not None else None
        self.monitor, self.mode = monitored(train, has_val=True)
        stopping = train.early_stopping
        self.patience = stopping.patience if stopping else None
        self.min_delta = stopping.min_delta if stopping else 0.0
        self.checkpoint_every = train.checkpoint_every or 1

        self.train_x = _float(data.train.x).to(device)
        self.train_samples = n = int(self.train_x.shape[0])
        self.batch_size = train.batch_size
        self.batches = math.ceil(n / self.batch_size)
        tail = n - (self.batches - 1) * self.batch_size
        if self.batches > 1 and tail < 2 and has_batchnorm(model):
            self.batches -= 1  # BatchNorm cannot train on one sample: skip it (as loop.py)
        self.log_every = max(1, math.ceil(self.batches / 20))
        # The real data's spread, for the collapse check: the mean over features of the std.
        self.real_spread = float(self.train_x.reshape(n, -1).std(0).mean()) if n > 1 else 0.0
        self.val_real = _real(data.val)
        self.test_real = _real(data.test)
        if self.val_real is None:
            raise ValueError("netspec bug: a GAN run without a validation split")
        seed = train.seed
        self.val_sigmas = median_bandwidths(self.val_real)
        self.test_sigmas = median_bandwidths(self.test_real) if self.test_real is not None else ()
        self.perm_generator = torch.Generator().manual_seed(seed)
        self.noise_generator = torch.Generator().manual_seed(seed + _NOISE)
        self.progress = GanProgress()
        self.unhealthy = torch.zeros(2, dtype=torch.bool, device=device)  # D, G loss not finite
        # The longest streaks since the last read: one that reaches the limit and ends before
        # the next read is still seen. (At a checkpoint, after a read, they are below it.)
        self.peaks = torch.zeros(2, dtype=torch.int64, device=device)
        self.best_state: dict[str, torch.Tensor] | None = None
        self.clean = True
        self.saved_at = (0, 0)
        self._clock: float | None = None

    # -- the run -----------------------------------------------------------------------

    def fit(self, state: GanState | None) -> RunResult:
        devices = [self.device.index or 0] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices), deferred_sigint() as interrupt:
            if state is None:
                torch.manual_seed(self.settings.seed)
                self.progress.streaks = torch.zeros(2, dtype=torch.int64, device=self.device)
                if self.test_real is not None:
                    self.progress.untrained_mmd = self._mmd(
                        self.test_real, self.test_sigmas, test=True
                    )
                self._save_checkpoint()
            else:
                self._restore(state)
            self.peaks = self.progress.streaks.clone()
            try:
                info = self._start_info(resumed=state is not None)
                self.reporter.on_start(info)
                while not self.progress.finished:
                    self._epoch(interrupt)
                result = self._finish()
            except KeyboardInterrupt:
                raise self._interrupted() from None
            except _Unhealthy as bad:
                raise self._stopped(bad) from None
        self.reporter.on_end(result)
        return result

    def _epoch(self, interrupt: Interrupt) -> None:
        p = self.progress
        if p.batch == 0:
            p.epoch_rng = self.perm_generator.get_state()
            p.sums = torch.zeros(4, device=self.device)
            p.counts = [0, 0]
            p.epoch_samples, p.epoch_seconds = 0, 0.0
        else:  # resuming mid-epoch: the same order again, from the same generator state
            self.perm_generator.set_state(p.epoch_rng)
        perm = torch.randperm(self.train_samples, generator=self.perm_generator).to(self.device)
        bs, d_steps, batches = self.batch_size, self.gan.d_steps, self.batches
        self.generator.train()
        self.discriminator.train()
        self._clock = time.perf_counter()
        for b in range(p.batch, batches):
            self.clean = False
            real = self.train_x[perm[b * bs : (b + 1) * bs]]
            self._discriminator_step(real)
            if (b + 1) % d_steps == 0 or b + 1 == batches:
                self._generator_step(int(real.shape[0]))
            p.batch = b + 1
            p.epoch_samples += int(real.shape[0])
            self.clean = True
            if p.d_steps % self.log_every == 0:
                self._check()
                self.reporter.on_batch(p.d_steps, float(p.sums[0]) / max(p.counts[0], 1))
            if interrupt.requested:
                raise KeyboardInterrupt
        self._stop_clock()
        self._end_epoch()
        if interrupt.requested:
            raise KeyboardInterrupt

    def _discriminator_step(self, real: torch.Tensor) -> None:
        p, loss_of = self.progress, self.loss
        z = noise(self.shapes.latent, int(real.shape[0]), self.noise_generator, self.device)
        with torch.no_grad():
            fake = self.generator(z)
        d_real, d_fake = self.discriminator(real), self.discriminator(fake)
        loss = loss_of.discriminator(d_real, d_fake)
        if loss_of.penalized:
            loss = loss + loss_of.penalty(self.discriminator, real, fake, self.noise_generator)
        self.d_optimizer.zero_grad(set_to_none=True)
        loss.backward()  # type: ignore[no-untyped-call]
        self._clip(self.d_params)
        self.d_optimizer.step()
        value = loss.detach()
        p.sums[0] += value
        p.sums[2] += loss_of.reading(d_real.detach())
        p.sums[3] += loss_of.reading(d_fake.detach())
        p.counts[0] += 1
        p.d_steps += 1
        self.unhealthy[0] |= ~torch.isfinite(value)
        p.streaks[0] = (p.streaks[0] + 1) * loss_of.won(value)  # consecutive, or back to 0
        self.peaks[0] = torch.maximum(self.peaks[0], p.streaks[0])

    def _generator_step(self, n: int) -> None:
        p = self.progress
        z = noise(self.shapes.latent, n, self.noise_generator, self.device)
        fake = self.generator(z)
        for param in self.d_params:  # the discriminator's gradients here would be discarded
            param.requires_grad_(False)
        try:
            loss = self.loss.generator(self.discriminator(fake))
        finally:
            for param in self.d_params:
                param.requires_grad_(True)
        self.g_optimizer.zero_grad(set_to_none=True)
        loss.backward()  # type: ignore[no-untyped-call]
        self._clip(self.g_params)
        self.g_optimizer.step()
        if self.ema is not None:
            self.ema.update(self.generator)
        value = loss.detach()
        p.sums[1] += value
        p.counts[1] += 1
        p.g_steps += 1
        self.unhealthy[1] |= ~torch.isfinite(value)
        if n > 1:
            spread = fake.detach().reshape(n, -1).std(0).mean()
            collapsed = spread < COLLAPSE_FRACTION * self.real_spread
            p.streaks[1] = (p.streaks[1] + 1) * collapsed
            self.peaks[1] = torch.maximum(self.peaks[1], p.streaks[1])

    def _clip(self, params: list[torch.nn.Parameter]) -> None:
        if self.settings.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(params, self.settings.grad_clip)

    def _check(self) -> None:
        """Stop on a NaN loss, a discriminator that wins or a collapsed generator (one read
        from the device)."""
        d_bad, g_bad = (bool(v) for v in self.unhealthy.tolist())
        wins, collapse = (int(v) for v in self.peaks.tolist())
        limit = self.gan.collapse_steps
        if d_bad or g_bad:
            network = "discriminator" if d_bad else "generator"
            raise _Unhealthy(TrainingDiverged, f"the {network}'s loss became NaN or infinite")
        if wins >= limit:
            bound = (
                f"below {self.loss.floor + WIN_THRESHOLD:.4g}"
                if self.loss.kind == "non_saturating"
                else "at 0"
            )
            raise _Unhealthy(
                GanFailed,
                f"the discriminator wins: its loss has stayed {bound} for {wins} steps, so "
                "the generator learns nothing from it",
            )
        if collapse >= limit:
            raise _Unhealthy(
                GanFailed,
                f"mode collapse: for {collapse} generator steps the generated samples have "
                f"varied less than {COLLAPSE_FRACTION:.0%} as much as the real data",
            )

    def _check_weights(self) -> None:
        for name in ("discriminator", "generator"):
            params = list(self.model[name].parameters())
            if params and not bool(torch.stack([torch.isfinite(t).all() for t in params]).all()):
                raise _Unhealthy(TrainingDiverged, f"the {name}'s weights became NaN or infinite")

    def _stop_clock(self) -> None:
        if self._clock is not None:
            self.progress.epoch_seconds += time.perf_counter() - self._clock
            self._clock = None

    def _end_epoch(self) -> None:
        p = self.progress
        self.clean = False
        self._check()
        self._check_weights()
        d_loss, g_loss, d_real, d_fake = (float(v) for v in p.sums.tolist())
        d_count, g_count = max(p.counts[0], 1), max(p.counts[1], 1)
        row: dict[str, float] = {
            "epoch": float(p.epoch + 1),
            "d_loss": d_loss / d_count,
            "g_loss": g_loss / g_count,
            "d_real": d_real / d_count,
            "d_fake": d_fake / d_count,
            "val_mmd": self._mmd(self.val_real, self.val_sigmas),  # type: ignore[arg-type]
            "lr": float(self.g_optimizer.param_groups[0]["lr"]),
            "seconds": p.epoch_seconds,
        }
        self.generator.train()  # _mmd drew in eval mode
        value = row.get(self.monitor)
        improved = self._improved(value)
        p.history.append(row)
        p.epoch += 1
        p.batch = 0
        p.train_seconds += p.epoch_seconds
        p.train_samples += p.epoch_samples
        p.sums = p.epoch_rng = None
        p.epoch_seconds, p.epoch_samples = 0.0, 0
        if improved:
            p.best_value, p.best_epoch, p.wait = value, p.epoch, 0
            self.best_state = self._saved_state()
            self.run.write_weights(self.best_state, self.title, tied_keys(self.model))
        else:
            p.wait += 1
        if self.patience is not None and p.wait >= self.patience:
            p.stopped_early = True
        p.finished = p.stopped_early or p.epoch >= self.settings.epochs
        self.run.write_history(p.history)
        if not p.finished and p.epoch % self.gan.samples_every == 0:
            self._write_samples(f"{self.title}: epoch {p.epoch}")
        if p.finished or p.epoch % self.checkpoint_every == 0:
            self._save_checkpoint()
        self.clean = True
        self.reporter.on_epoch(p.epoch, row)

    def _improved(self, value: float | None) -> bool:
        best = self.progress.best_value
        if value is None or not math.isfinite(value):
            return False
        if best is None:
            return True
        if self.mode == "min":
            return value < best - self.min_delta
        return value > best + self.min_delta

    # -- samples and their quality -----------------------------------------------------

    def _sampler(self) -> torch.nn.Module:
        """The generator that is evaluated and saved: the weight average when there is one."""
        return self.ema.module if self.ema is not None else self.generator

    def _samples(self, *, test: bool = False) -> torch.Tensor:
        """The generator's samples from the fixed val (or test) noise batch, on the CPU."""
        seed = self.settings.seed + (_TEST_NOISE if test else _VAL_NOISE)
        return draw(self._sampler(), EVAL_SAMPLES, seed, self.device, self.shapes.latent)

    def _mmd(self, real: torch.Tensor, sigmas: tuple[float, ...], *, test: bool = False) -> float:
        return mmd_rbf(self._samples(test=test), real, sigmas)

    def _write_samples(self, title: str) -> None:
        """samples.png: the fixed val noise batch's samples over the val split, in the
        data's units."""
        fake = unstandardize(self._samples(), self.scaling)
        real = unstandardize(self.val_real, self.scaling) if self.val_real is not None else None
        write_atomic(self.run.path / SAMPLES, samples_png(fake, real, title))

    def _saved_state(self) -> dict[str, torch.Tensor]:
        """The ModuleDict's weights as saved: with the generator's average, when kept."""
        state = {k: v.detach().to("cpu", copy=True) for k, v in self.model.state_dict().items()}
        if self.ema is not None:
            state.update({f"generator.{k}": v for k, v in self.ema.state_dict().items()})
        return state

    # -- the end -----------------------------------------------------------------------

    def _finish(self) -> RunResult:
        p = self.progress
        if p.best_epoch == 0:  # no epoch gave a finite monitored value: keep the last
            p.best_epoch = p.epoch
            self.best_state = self._saved_state()
            self.run.write_weights(self.best_state, self.title, tied_keys(self.model))
        if self.best_state is not None:
            # The best weights, averaged generator included, become the model's for the test.
            # load_weights: read back from model.safetensors after a resume, the state
            # holds each tied weight once, and loading restores the tie.
            load_weights(self.model, self.best_state, "the best epoch's weights")
            if self.ema is not None:
                load_weights(
                    self.ema.module,
                    {
                        k.removeprefix("generator."): v
                        for k, v in self.best_state.items()
                        if k.startswith("generator.")
                    },
                    "the best epoch's averaged generator",
                )
        test: dict[str, float] = {}
        if self.test_real is not None:
            test["mmd"] = self._mmd(self.test_real, self.test_sigmas, test=True)
        best_row = p.history[p.best_epoch - 1] if 0 < p.best_epoch <= len(p.history) else {}
        speed = p.train_samples / p.train_seconds if p.train_seconds > 0 else 0.0
        final: dict[str, Any] = {
            "test": test,
            "untrained": {"mmd": p.untrained_mmd} if p.untrained_mmd is not None else {},
            "val": {"mmd": best_row["val_mmd"]} if "val_mmd" in best_row else {},
            "best_epoch": p.best_epoch,
            "monitor": self.monitor,
            "best_value": p.best_value,
            "epochs_run": p.epoch,
            "stopped_early": p.stopped_early,
            "discriminator_steps": p.d_steps,
            "generator_steps": p.g_steps,
            "samples_per_second": speed,
            "train_seconds": p.train_seconds,
            "device": str(self.device),
            "processes": 1,
            "task": "gan",
            "loss": self.loss.kind,
        }
        self.run.write_json(FINAL, final)
        self._write_curves()
        self._write_samples(f"{self.title}: best epoch {p.best_epoch}")
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

    def _write_curves(self) -> None:
        if self.progress.history:
            png = panels_png(self.progress.history, self.title, CURVE_PANELS)
            write_atomic(self.run.path / CURVES, png)

    # -- stopping ----------------------------------------------------------------------

    def _interrupted(self) -> TrainingInterrupted:
        p = self.progress
        ckpt = self.run.path / CHECKPOINT
        self._stop_clock()
        saved = False
        if self.clean:
            try:  # only a healthy state becomes the checkpoint
                self._check()
                self._check_weights()
            except _Unhealthy:
                pass
            else:
                self._save_checkpoint()
                saved = True
        if saved:
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
        return TrainingInterrupted(message, self.run.path, p.epoch)

    def _stopped(self, bad: _Unhealthy) -> TrainingStopped:
        p = self.progress
        self._write_partial()
        checkpoint = (
            f"The last good checkpoint ({self.run.path / CHECKPOINT}, {_position(*self.saved_at)})"
        )
        kept = (
            f"{checkpoint} and the best weights (model.safetensors) are kept."
            if p.best_epoch > 0
            else f"{checkpoint} is kept; no best weights (model.safetensors) were written yet."
        )
        if bad.kind is TrainingDiverged:
            advice = (
                "Try lower learning rates (train.optimizer.<network>.lr), gradient clipping "
                "(train.grad_clip), or loss: hinge or wgan_gp"
            )
        else:
            advice = (
                "Try a lower discriminator learning rate (train.optimizer.discriminator.lr), "
                "one-sided label smoothing (loss: {type: non_saturating, label_smoothing: "
                "0.1}), fewer discriminator steps (train.gan.d_steps), a smaller "
                "discriminator, or spectral normalization of its layers"
            )
        message = (
            f"{bad.what} (epoch {p.epoch + 1}, by batch {p.batch} of {self.batches}): "
            f"training stopped. {kept} {advice}"
        )
        return bad.kind(message, self.run.path, p.epoch)

    def _write_partial(self) -> None:
        self.run.write_history(self.progress.history)
        self._write_curves()

    # -- checkpoints -------------------------------------------------------------------

    def _save_checkpoint(self) -> None:
        p = self.progress
        cuda = torch.cuda.get_rng_state(self.device) if self.device.type == "cuda" else None
        state = GanState(
            model=self.model.state_dict(),
            g_optimizer=self.g_optimizer.state_dict(),
            d_optimizer=self.d_optimizer.state_dict(),
            ema=self.ema.state_dict() if self.ema is not None else {},
            epoch=p.epoch,
            batch=p.batch,
            d_steps=p.d_steps,
            g_steps=p.g_steps,
            best_value=p.best_value,
            best_epoch=p.best_epoch,
            wait=p.wait,
            stopped_early=p.stopped_early,
            finished=p.finished,
            train_seconds=p.train_seconds,
            train_samples=p.train_samples,
            epoch_sums=p.sums.detach().cpu() if p.sums is not None else None,
            epoch_counts=(p.counts[0], p.counts[1]),
            epoch_samples=p.epoch_samples,
            epoch_seconds=p.epoch_seconds,
            streaks=p.streaks.detach().cpu(),
            perm_rng=self.perm_generator.get_state(),
            epoch_start_rng=p.epoch_rng,
            noise_rng=self.noise_generator.get_state(),
            torch_rng=torch.get_rng_state(),
            cuda_rng=cuda,
            untrained_mmd=p.untrained_mmd,
            history=tuple(p.history),
            monitor=self.monitor,
        )
        write_atomic(self.run.path / CHECKPOINT, encode(state))
        self.saved_at = (p.epoch, p.batch)

    def _restore(self, state: GanState) -> None:
        p = self.progress
        self.model.load_state_dict(state.model)
        self.g_optimizer.load_state_dict(state.g_optimizer)
        self.d_optimizer.load_state_dict(state.d_optimizer)
        if self.ema is not None and state.ema:
            self.ema.load_state_dict(state.ema)
        p.epoch, p.batch = state.epoch, state.batch
        p.d_steps, p.g_steps = state.d_steps, state.g_steps
        p.best_value, p.best_epoch, p.wait = state.best_value, state.best_epoch, state.wait
        p.stopped_early, p.finished = state.stopped_early, state.finished
        p.train_seconds, p.train_samples = state.train_seconds, state.train_samples
        p.sums = state.epoch_sums.to(self.device) if state.epoch_sums is not None else None
        p.counts = list(state.epoch_counts)
        p.epoch_samples, p.epoch_seconds = state.epoch_samples, state.epoch_seconds
        p.streaks = state.streaks.to(self.device)
        p.epoch_rng = state.epoch_start_rng
        p.untrained_mmd = state.untrained_mmd
        p.history = [dict(row) for row in state.history]
        self.perm_generator.set_state(state.perm_rng)
        self.noise_generator.set_state(state.noise_rng)
        torch.set_rng_state(state.torch_rng)
        if self.device.type == "cuda" and state.cuda_rng is not None:
            torch.cuda.set_rng_state(state.cuda_rng, self.device)
        if p.best_epoch > 0:
            self.best_state = self.run.read_weights()
        self.saved_at = (p.epoch, p.batch)

    def _start_info(self, *, resumed: bool) -> StartInfo:
        return StartInfo(
            run_dir=self.run.path,
            device=str(self.device),
            task="gan",
            epochs=self.settings.epochs,
            start_epoch=self.progress.epoch,
            batches_per_epoch=self.batches,
            start_batch=self.progress.batch,
            train_samples=self.train_samples,
            val_samples=int(self.val_real.shape[0]) if self.val_real is not None else 0,
            test_samples=int(self.test_real.shape[0]) if self.test_real is not None else 0,
            params=sum(p.numel() for p in self.model.parameters()),
            monitor=self.monitor,
            data=self.description,
            resumed=resumed,
        )


def _float(x: Any) -> torch.Tensor:
    if isinstance(x, tuple):
        raise ValueError("netspec bug: a GAN's data have one input")
    return torch.as_tensor(x).float()


def _real(split: Any) -> torch.Tensor | None:
    """Up to EVAL_SAMPLES real samples of a split (already shuffled), on the CPU; None for
    a missing split or one of fewer than 2 samples (no MMD)."""
    if split is None:
        return None
    x = _float(split.x)
    return x[:EVAL_SAMPLES].cpu() if x.shape[0] >= 2 else None


def _position(epoch: int, batch: int) -> str:
    if batch:
        return f"epoch {epoch + 1}, batch {batch}"
    return f"end of epoch {epoch}" if epoch else "before the first epoch"
