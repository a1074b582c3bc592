"""Multi-process training: netspec on 2 processes versus a hand-written DDP loop, and
versus one process.

The hand-written side is the loop a user writes under torchrun: DistributedDataParallel,
gloo on CPU, the same model (built from the same spec, same initial weights), the same data
tensors, the same global batch split across the processes (rank r takes every 2nd sample of
each batch), Adam, and the same number of epochs. netspec runs three ways: under torchrun
(started exactly like the hand-written loop), with `--devices 2` (netspec's own use of
torchrun's launcher), and on one process. All count only the time spent in training batches
(netspec's metrics.json `samples_per_second`) with the same OMP_NUM_THREADS (cores /
processes). Rounds alternate the runs; medians are reported.

Target: netspec under torchrun >= 0.95 x the hand-written DDP loop. The x2/x1 column shows
what the second process buys on this machine (on 2 CPU cores, nothing: the two processes
share the cores one process would use, and add a gradient all-reduce). The test accuracy of
the 1- and 2-process runs is printed; they agree because the spec means the same training on
1 or N processes.

    python benchmarks/distributed.py [--rounds 3] [--epochs 3] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROCESSES = 2

MODELS = {
    "mlp": """
name: mlp
input: [32]
layers:
  - dense: {units: 512, activation: relu}
  - dense: {units: 256, activation: relu}
  - dense: 8
data: {source: blobs, samples: 20000, features: 32, classes: 8, noise: 4.0, seed: 0}
train: {optimizer: {type: adam, lr: 1.0e-3}, batch_size: 256, seed: 0, metrics: [accuracy]}
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
train: {optimizer: {type: adam, lr: 1.0e-3}, batch_size: 64, seed: 0, metrics: [accuracy]}
""",
}


def hand_written_worker(spec_path: str, out: str) -> None:
    """One process of the hand-written DDP loop (run under torchrun)."""
    import torch
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    import netspec
    from netspec.data import load_data

    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    spec = netspec.load_spec(spec_path)
    assert spec.train is not None
    data = load_data(spec)
    model = DistributedDataParallel(netspec.build_model(spec, seed=spec.train.seed))
    optimizer = torch.optim.Adam(model.parameters(), lr=spec.train.optimizer.lr)
    loss_fn = torch.nn.CrossEntropyLoss()
    x, y = data.train.x, data.train.y
    bs = spec.train.batch_size
    generator = torch.Generator().manual_seed(0)
    seconds, samples = 0.0, 0
    for _ in range(spec.train.epochs):
        model.train()
        perm = torch.randperm(len(x), generator=generator)
        dist.barrier()
        start = time.perf_counter()
        for b in range(0, len(x), bs):
            idx = perm[b : b + bs]
            part = idx[rank::world]
            loss = loss_fn(model(x[part]), y[part])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            samples += len(idx)
        seconds += time.perf_counter() - start
    if rank == 0:
        Path(out).write_text(json.dumps({"samples_per_second": samples / seconds}))
    dist.barrier()
    # Leave without the interpreter's teardown: on this machine a gloo worker thread torn
    # down at exit now and then aborted the process ("terminate called without an active
    # exception"), failing a run whose result was already written.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def _threads_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // PROCESSES)))
    return env


def _torchrun(*args: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc-per-node",
        str(PROCESSES),
        *args,
    ]


def hand_written(spec_path: Path, tmp: Path) -> float:
    out = tmp / "hand.json"
    command = _torchrun(__file__, "--worker", str(spec_path), str(out))
    done = subprocess.run(command, capture_output=True, text=True, env=_threads_env(), check=False)
    if done.returncode != 0:
        raise SystemExit(f"the hand-written DDP run failed:\n{done.stderr[-3000:]}")
    return float(json.loads(out.read_text())["samples_per_second"])


def netspec_run(spec_path: Path, tmp: Path, how: str) -> tuple[float, float, float]:
    """(samples/s, test accuracy, wall seconds) of `netspec train`: ``one`` process,
    ``devices`` (--devices 2) or under ``torchrun`` (started like the hand-written loop)."""
    run = tmp / f"run-{how}-{time.monotonic_ns()}"
    args = ["-m", "netspec", "train", str(spec_path), "--out", str(run)]
    if how == "torchrun":
        command = _torchrun(*args)
    else:
        command = [sys.executable, *args]
        if how == "devices":
            command += ["--devices", str(PROCESSES)]
    started = time.perf_counter()
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        env=_threads_env() if how == "torchrun" else None,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"netspec train failed:\n{done.stderr[-3000:]}")
    wall = time.perf_counter() - started
    final = json.loads((run / "metrics.json").read_text())
    return float(final["samples_per_second"]), float(final["test"]["accuracy"]), wall


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="1 round of 1 epoch (smoke test)")
    parser.add_argument("--worker", nargs=2, metavar=("SPEC", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        hand_written_worker(*args.worker)
        return 0
    if args.quick:
        args.rounds, args.epochs = 1, 1
    print(
        f"netspec train on {PROCESSES} processes (gloo) vs hand-written DDP, and vs 1 process: "
        f"{args.rounds} rounds x {args.epochs} epochs, medians, {os.cpu_count()} CPU cores"
    )
    print(
        "training samples/s; 'torchrun' runs netspec under torchrun like the hand-written "
        "loop; 'devices' is netspec train --devices 2"
    )
    header = (
        f"{'model':<6} {'hand DDP':>12} {'torchrun':>12} {'ratio':>6}  target   "
        f"{'devices':>12} {'ratio':>6} {'1 process':>12} {'x2/x1':>6} "
        f"{'wall x1':>8} {'wall x2':>8} {'acc x1':>7} {'acc x2':>7}"
    )
    print(header)
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        for name, text in MODELS.items():
            spec_path = tmp / f"{name}.yaml"
            spec_path.write_text(
                text.replace("seed: 0, metrics", f"epochs: {args.epochs}, seed: 0, metrics")
            )
            hand: list[float] = []
            runs: dict[str, list[tuple[float, float, float]]] = {
                "torchrun": [],
                "devices": [],
                "one": [],
            }
            for _ in range(args.rounds):
                hand.append(hand_written(spec_path, tmp))
                for how, found in runs.items():
                    found.append(netspec_run(spec_path, tmp, how))

            speed = {how: statistics.median(r[0] for r in found) for how, found in runs.items()}
            ratio = {
                how: statistics.median(r[0] / h for r, h in zip(found, hand, strict=True))
                for how, found in runs.items()
            }
            verdict = "ok" if ratio["torchrun"] >= 0.95 else "MISSED"
            wall_one = statistics.median(r[2] for r in runs["one"])
            wall_two = statistics.median(r[2] for r in runs["devices"])
            print(
                f"{name:<6} {statistics.median(hand):>8,.0f} s/s {speed['torchrun']:>8,.0f} s/s"
                f" {ratio['torchrun']:>6.3f}  >= 0.95 {verdict:<6}"
                f" {speed['devices']:>8,.0f} s/s {ratio['devices']:>6.3f}"
                f" {speed['one']:>8,.0f} s/s {speed['devices'] / speed['one']:>6.2f}"
                f" {wall_one:>7.1f}s {wall_two:>7.1f}s"
                f" {runs['one'][-1][1]:>7.4f} {runs['devices'][-1][1]:>7.4f}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
