"""Training throughput: `netspec train` versus a minimal hand-written PyTorch loop.

Same model (built from the same spec, same initial weights), same data tensors, batch size,
optimizer and number of epochs; both sides count only the time spent in training batches
(netspec's metrics.json `samples_per_second`; validation and checkpoints are excluded on
both sides). Runs alternate netspec / hand-written for several rounds in this one process and
report medians. Keras 3 on its torch backend is measured too where it is installed.

Target: netspec >= 0.95 x hand-written.

    python benchmarks/train_throughput.py [--rounds 3] [--epochs 3] [--quick]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

import netspec
from netspec.data import load_data
from netspec.training import train

MODELS = {
    "mlp": """
name: mlp
input: [64]
layers:
  - dense: {units: 256, activation: relu}
  - dense: {units: 256, activation: relu}
  - dense: 10
data: {source: digits}
train: {task: classification, optimizer: {type: adam, lr: 1.0e-3}, batch_size: 64, seed: 0,
        metrics: [accuracy]}
""",
    "cnn": """
name: cnn
input: [1, 8, 8]
layers:
  - conv2d: {filters: 32, kernel_size: 3, padding: same, activation: relu}
  - conv2d: {filters: 32, kernel_size: 3, padding: same, activation: relu}
  - maxpool2d: 2
  - flatten
  - dense: {units: 64, activation: relu}
  - dense: 10
data: {source: digits}
train: {task: classification, optimizer: {type: adam, lr: 1.0e-3}, batch_size: 64, seed: 0,
        metrics: [accuracy]}
""",
    "lstm": """
name: lstm
input: [24, 8]
layers:
  - lstm: 64
  - dense: 8
data: {source: sequence_sum, samples: 4000, length: 24, features: 8}
train: {task: classification, optimizer: {type: adam, lr: 1.0e-3}, batch_size: 64, seed: 0,
        metrics: [accuracy]}
""",
}


def netspec_speed(spec: netspec.Spec, epochs: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        train(spec, out=Path(tmp) / "run")
        metrics = json.loads((Path(tmp) / "run" / "metrics.json").read_text())
        return float(metrics["samples_per_second"])


def hand_written_speed(spec: netspec.Spec, epochs: int) -> float:
    """The loop a user would write: randperm batches, forward, loss, backward, step."""
    data = load_data(spec)
    assert spec.train is not None
    model = netspec.build_model(spec, seed=spec.train.seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=spec.train.optimizer.lr)
    loss_fn = torch.nn.CrossEntropyLoss()
    x, y = data.train.x, data.train.y
    bs = spec.train.batch_size
    generator = torch.Generator().manual_seed(0)
    seconds, samples = 0.0, 0
    for _ in range(epochs):
        model.train()
        perm = torch.randperm(len(x), generator=generator)
        start = time.perf_counter()
        for b in range(0, len(x), bs):
            idx = perm[b : b + bs]
            loss = loss_fn(model(x[idx]), y[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            samples += len(idx)
        seconds += time.perf_counter() - start
        with torch.no_grad():  # a validation pass, outside the clock as in netspec
            model.eval()
            if data.val is not None:
                model(data.val.x)
    return samples / seconds


def keras_speed(spec: netspec.Spec, epochs: int) -> float | None:
    """Keras 3 (torch backend) `fit` on an equivalent Sequential model, where installed."""
    if importlib.util.find_spec("keras") is None:
        return None
    import os

    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras  # type: ignore[import-not-found]

    data = load_data(spec)
    assert spec.train is not None
    x, y = data.train.x.numpy(), data.train.y.numpy()
    layers: list[Any] = [keras.Input(shape=x.shape[1:])]
    for layer in spec.layers:
        cfg = layer.config
        if layer.type == "dense":
            layers.append(keras.layers.Dense(cfg.units, activation=cfg.activation))  # type: ignore[attr-defined]
        elif layer.type == "lstm":
            layers.append(keras.layers.LSTM(cfg.hidden_size))  # type: ignore[attr-defined]
        elif layer.type == "conv2d":
            layers.append(
                keras.layers.Conv2D(
                    cfg.filters,
                    cfg.kernel_size,
                    padding="same",  # type: ignore[attr-defined]
                    activation=cfg.activation,  # type: ignore[attr-defined]
                    data_format="channels_first",
                )
            )
        elif layer.type == "maxpool2d":
            layers.append(keras.layers.MaxPooling2D(2, data_format="channels_first"))
        elif layer.type == "flatten":
            layers.append(keras.layers.Flatten())
    model = keras.Sequential(layers)
    model.compile(
        optimizer=keras.optimizers.Adam(spec.train.optimizer.lr),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    model.fit(x, y, batch_size=spec.train.batch_size, epochs=1, verbose=0)  # warm-up
    start = time.perf_counter()
    model.fit(x, y, batch_size=spec.train.batch_size, epochs=epochs, verbose=0)
    return len(x) * epochs / (time.perf_counter() - start)


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
        f"netspec train vs a hand-written loop: {args.rounds} rounds x {args.epochs} epochs, "
        f"{args.threads} thread(s), medians"
    )
    print(f"{'model':<6} {'hand-written':>14} {'netspec':>14} {'ratio':>7} {'keras 3':>14}  target")
    missed = False
    for name, text in MODELS.items():
        spec = netspec.load_spec(text, [f"train.epochs={args.epochs}"])
        ours, theirs = [], []
        hand_written_speed(spec, 1)  # warm-up
        for _ in range(args.rounds):
            ours.append(netspec_speed(spec, args.epochs))
            theirs.append(hand_written_speed(spec, args.epochs))
        ratio = statistics.median(a / b for a, b in zip(ours, theirs, strict=True))
        keras = keras_speed(spec, args.epochs)
        keras_text = f"{keras:>10,.0f} s/s" if keras else "not installed"
        ok = ratio >= 0.95
        missed |= not ok
        print(
            f"{name:<6} {statistics.median(theirs):>10,.0f} s/s {statistics.median(ours):>10,.0f}"
            f" s/s {ratio:>7.3f} {keras_text:>14}  >= 0.95 {'ok' if ok else 'MISSED'}"
        )
    print("all targets met" if not missed else "a target was missed (see above)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
