"""GAN training throughput: `netspec train` (task gan) versus a hand-written PyTorch GAN loop.

Same networks (built from the same spec, same initial weights), same data tensors, batch
size, optimizers and number of epochs, the non-saturating loss, one discriminator step and
one generator step per batch. Both sides count only the time spent in training batches, in
real samples per second (netspec's metrics.json `samples_per_second`; the per-epoch MMD,
samples.png and checkpoints are outside the clock on both sides: the hand-written loop
does no such work at all). Runs alternate netspec / hand-written for several rounds in this
one process and report medians.

What netspec does per batch beyond the hand-written loop: the health checks (NaN, a winning
discriminator, mode collapse: a few tensor operations on the device, read every few
batches) and freezing the discriminator's parameters for the generator step.

Target: netspec >= 0.90 x hand-written.

    python benchmarks/gan_throughput.py [--rounds 3] [--epochs 3] [--quick]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

import netspec
from netspec.data import load_data
from netspec.spec.networks import Networks, load_any
from netspec.training import train
from netspec.training.gan_session import data_spec

TARGET = 0.90
MODELS = {
    "mlp_gan": """
name: mlp_gan
networks:
  generator:
    input: [16]
    layers:
      - dense: {units: 128, activation: relu}
      - dense: {units: 128, activation: relu}
      - dense: 2
  discriminator:
    input: [2]
    layers:
      - dense: {units: 128, activation: leaky_relu}
      - dense: {units: 128, activation: leaky_relu}
      - dense: 1
data: {source: moons, samples: 8000}
train: {task: gan, batch_size: 128, seed: 0,
        optimizer: {type: adam, lr: 2.0e-4, betas: [0.5, 0.999]}}
""",
    "dcgan": str(Path(__file__).resolve().parent.parent / "specs" / "digits_dcgan.yaml"),
}


def _load(text: str, epochs: int) -> Networks:
    nets = load_any(text, [f"train.epochs={epochs}", "train.loss=non_saturating"])
    assert isinstance(nets, Networks)
    return nets


def netspec_speed(nets: Networks) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        train(nets, out=Path(tmp) / "run")
        metrics = json.loads((Path(tmp) / "run" / "metrics.json").read_text())
        return float(metrics["samples_per_second"])


def hand_written_speed(nets: Networks) -> float:
    """The loop a user would write: randperm batches of real samples; a discriminator step
    on them and on the generator's detached samples; a generator step."""
    assert nets.train is not None
    settings = nets.train
    x = load_data(data_spec(nets), "autoencoder").train.x
    assert isinstance(x, torch.Tensor)
    model = netspec.build_model(nets, seed=settings.seed)
    g, d = model["generator"], model["discriminator"]
    latent = tuple(int(s) for s in netspec.plan(nets.networks["generator"]).input.shape)

    def adam(module: torch.nn.Module, network: str) -> torch.optim.Optimizer:
        spec = settings.optimizer_for(network)
        return torch.optim.Adam(module.parameters(), lr=spec.lr, betas=spec.betas or (0.9, 0.999))

    g_opt, d_opt = adam(g, "generator"), adam(d, "discriminator")
    bce = torch.nn.BCEWithLogitsLoss()
    generator = torch.Generator().manual_seed(0)
    bs = settings.batch_size
    seconds, samples = 0.0, 0
    g.train()
    d.train()
    for _ in range(settings.epochs):
        perm = torch.randperm(len(x), generator=generator)
        start = time.perf_counter()
        for b in range(0, len(x), bs):
            real = x[perm[b : b + bs]]
            n = len(real)
            z = torch.randn((n, *latent), generator=generator)
            with torch.no_grad():
                fake = g(z)
            d_real, d_fake = d(real), d(fake)
            d_loss = bce(d_real, torch.ones_like(d_real)) + bce(d_fake, torch.zeros_like(d_fake))
            d_opt.zero_grad(set_to_none=True)
            d_loss.backward()
            d_opt.step()
            z = torch.randn((n, *latent), generator=generator)
            scored = d(g(z))
            g_loss = bce(scored, torch.ones_like(scored))
            g_opt.zero_grad(set_to_none=True)
            g_loss.backward()
            g_opt.step()
            samples += n
        seconds += time.perf_counter() - start
    return samples / seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="1 round of 1 epoch (smoke test)")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.epochs = 1, 1
    torch.set_num_threads(args.threads)
    print(
        f"netspec train (task gan) vs a hand-written GAN loop: {args.rounds} rounds x "
        f"{args.epochs} epochs, {args.threads} thread(s), medians, real samples per second"
    )
    print(f"{'model':<8} {'hand-written':>14} {'netspec':>14} {'ratio':>7}  target")
    missed = False
    for name, text in MODELS.items():
        nets = _load(text, args.epochs)
        ours, theirs = [], []
        hand_written_speed(_load(text, 1))  # warm-up
        for _ in range(args.rounds):
            ours.append(netspec_speed(nets))
            theirs.append(hand_written_speed(nets))
        ratio = statistics.median(a / b for a, b in zip(ours, theirs, strict=True))
        ok = ratio >= TARGET
        missed |= not ok
        print(
            f"{name:<8} {statistics.median(theirs):>10,.0f} s/s {statistics.median(ours):>10,.0f}"
            f" s/s {ratio:>7.3f}  >= {TARGET} {'ok' if ok else 'MISSED'}"
        )
    print("all targets met" if not missed else "a target was missed (see above)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
