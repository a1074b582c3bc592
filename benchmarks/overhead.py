"""Training-step overhead: `netspec.build_model(...)` versus the same network written by hand.

For four models (MLP, CNN, LSTM classifier, Transformer encoder classifier) the spec is an
inline YAML string below and the hand-written twin is plain ``torch.nn`` code in this file
(it does not use ``netspec.backend.modules``). Both get identical weights: the netspec model's
``state_dict`` is loaded into the hand-written one through an explicit key rename, strictly
(every tensor mapped, shapes equal). Before a model is timed, its two versions' outputs (eval
mode, no grad) must agree within 1e-5 and the gradients of one eval-mode step must agree too;
otherwise that model is not timed and its row says NOT COMPARABLE and why.

The hand-written twins are what a PyTorch user would write, not copies of netspec's graph: the
CNN calls F.relu / F.max_pool2d / torch.flatten and pads 1 instead of 'same'; the transformer
pools with ``h.mean(dim=1)`` where the spec needs ``permute: [2, 1]`` + ``global_avgpool``.

Timing: forward + cross-entropy + backward on one fixed batch, in train mode, gradients reset
to None before each step. After a warm-up the two models are timed INTERLEAVED in one process:
each round times ``--iters`` steps of one then of the other, alternating which goes first,
for ``--rounds`` rounds (100 x 2 by default). Reported: the median per-step time of each model
and the median of the per-round ratios netspec / hand-written, with its interquartile range.
The default clock is process CPU time (``--clock cpu``): on a shared machine other processes
stretch wall time but hardly CPU time. ``--control`` adds an A/A row per model (hand-written
vs a copy of itself, timed the same way), whose ratio shows the noise floor; ``--batch 1``
makes per-step Python overhead dominate.

Target: ratio <= 1.02 for every model. This is a script, not a test:
``python benchmarks/overhead.py [--quick] [--control] [--threads 1] [--rounds 100] [--iters 2]
[--batch N] [--only mlp cnn ...] [--clock cpu|wall]``.
It always exits 0; a missed target is printed, not raised.
"""

from __future__ import annotations

import argparse
import copy
import gc
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # benchmark the working tree's netspec

SEED = 0
TARGET = 1.02
OUTPUT_ATOL = 1e-5
CLASSES = 10


class Mismatch(Exception):
    """The two models of a case are not the same function: timing them would be meaningless."""


# --------------------------------------------------------------------------------------------
# MLP: 784 -> 256 -> 256 -> 10, relu
# --------------------------------------------------------------------------------------------

MLP_SPEC = """\
name: bench_mlp
input: [784]
layers:
  - dense: {units: 256, activation: relu}
  - dense: {units: 256, activation: relu}
  - dense: 10
"""


class HandMLP(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(784, 256)
        self.fc2 = nn.Linear(256, 256)
        self.fc3 = nn.Linear(256, CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


MLP_KEYS = {"dense_0.": "fc1.", "dense_1.": "fc2.", "dense_2.": "fc3."}


# --------------------------------------------------------------------------------------------
# CNN: 3x32x32, two conv/bn/relu/maxpool stages, flatten, dense 128, dense 10
# --------------------------------------------------------------------------------------------

CNN_SPEC = """\
name: bench_cnn
input: [3, 32, 32]
layers:
  - conv2d: {filters: 32, kernel_size: 3, padding: same, bias: false}   # (N, 32, 32, 32)
  - batchnorm
  - relu
  - maxpool2d: 2                                                      # (N, 32, 16, 16)
  - conv2d: {filters: 64, kernel_size: 3, padding: same, bias: false}  # (N, 64, 16, 16)
  - batchnorm
  - relu
  - maxpool2d: 2                                                      # (N, 64, 8, 8)
  - flatten                                                           # (N, 4096)
  - dense: {units: 128, activation: relu}
  - dense: 10
"""


class HandCNN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 32, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(32)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(64)
        self.fc1 = nn.Linear(64 * 8 * 8, 128)
        self.fc2 = nn.Linear(128, CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)
        x = F.max_pool2d(F.relu(self.bn2(self.conv2(x))), 2)
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        return self.fc2(x)


CNN_KEYS = {
    "conv2d_0.": "conv1.",
    "batchnorm_0.": "bn1.",
    "conv2d_1.": "conv2.",
    "batchnorm_1.": "bn2.",
    "dense_0.": "fc1.",
    "dense_1.": "fc2.",
}


# --------------------------------------------------------------------------------------------
# LSTM classifier: (N, T, 32) floats, 2-layer LSTM 128, last hidden state, dense 10
# --------------------------------------------------------------------------------------------

LSTM_STEPS, LSTM_FEATURES = 32, 32

LSTM_SPEC = """\
name: bench_lstm
input: [T, 32]
layers:
  - lstm: {hidden_size: 128, num_layers: 2}   # (N, 128): the last layer's final hidden state
  - dense: 10
"""


class HandLSTM(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(LSTM_FEATURES, 128, num_layers=2, batch_first=True)
        self.head = nn.Linear(128, CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, (h_n, _) = self.lstm(x)
        return self.head(h_n[-1])


LSTM_KEYS = {"lstm_0.": "lstm.", "dense_0.": "head."}


# --------------------------------------------------------------------------------------------
# Transformer classifier: 64 token ids, embedding 128 + learned positions, 2 pre-norm encoder
# layers (4 heads, ff 256, gelu, dropout 0.1), final layernorm, mean over positions, dense 10
# --------------------------------------------------------------------------------------------

VOCAB, CONTEXT, EMBED = 1000, 64, 128

TRANSFORMER_SPEC = """\
name: bench_transformer
input: {shape: [64], dtype: int64}
layers:
  - embedding: {num_embeddings: 1000, embedding_dim: 128}            # (N, 64, 128)
  - positional_encoding: {kind: learned, max_len: 64}
  - transformer_encoder: {num_heads: 4, num_layers: 2, dim_feedforward: 256, dropout: 0.1,
                          activation: gelu, norm_first: true}
  - layernorm
  - permute: [2, 1]                                                  # (N, 128, 64)
  - global_avgpool                                                   # (N, 128): mean over T
  - dense: 10
"""


class HandTransformer(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(VOCAB, EMBED)
        self.pos = nn.Parameter(torch.zeros(CONTEXT, EMBED))
        layer = nn.TransformerEncoderLayer(
            EMBED,
            4,
            dim_feedforward=256,
            dropout=0.1,
            activation="gelu",
            batch_first=True,
            norm_first=True,
        )
        self.encoder = nn.TransformerEncoder(layer, num_layers=2, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(EMBED)
        self.head = nn.Linear(EMBED, CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.embed(x) + self.pos[: x.shape[1]]
        h = self.norm(self.encoder(h))
        return self.head(h.mean(dim=1))


TRANSFORMER_KEYS = {
    "embedding_0.": "embed.",
    "positional_encoding_0.weight": "pos",
    "transformer_encoder_0.": "encoder.",
    "layernorm_0.": "norm.",
    "dense_0.": "head.",
}


# --------------------------------------------------------------------------------------------
# Cases
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    label: str
    spec: str
    hand: Callable[[], nn.Module]
    keys: dict[str, str]  # netspec state_dict key prefix -> hand-written key prefix
    make_input: Callable[[int, torch.Generator], torch.Tensor]
    batch: int  # full run
    quick_batch: int


def _floats(*shape: int) -> Callable[[int, torch.Generator], torch.Tensor]:
    def make(batch: int, gen: torch.Generator) -> torch.Tensor:
        return torch.randn(batch, *shape, generator=gen)

    return make


def _tokens(batch: int, gen: torch.Generator) -> torch.Tensor:
    return torch.randint(0, VOCAB, (batch, CONTEXT), generator=gen)


CASES = (
    Case("mlp", MLP_SPEC, HandMLP, MLP_KEYS, _floats(784), batch=256, quick_batch=64),
    Case("cnn", CNN_SPEC, HandCNN, CNN_KEYS, _floats(3, 32, 32), batch=32, quick_batch=8),
    Case(
        "lstm",
        LSTM_SPEC,
        HandLSTM,
        LSTM_KEYS,
        _floats(LSTM_STEPS, LSTM_FEATURES),
        batch=32,
        quick_batch=8,
    ),
    Case(
        "transformer",
        TRANSFORMER_SPEC,
        HandTransformer,
        TRANSFORMER_KEYS,
        _tokens,
        batch=16,
        quick_batch=4,
    ),
)


# --------------------------------------------------------------------------------------------
# Same weights, same function
# --------------------------------------------------------------------------------------------


def rename(key: str, keys: dict[str, str]) -> str:
    for old, new in keys.items():
        if key.startswith(old):
            return new + key[len(old) :]
    raise Mismatch(f"no hand-written name for netspec state_dict key {key!r}")


def copy_weights(src: nn.Module, dst: nn.Module, keys: dict[str, str]) -> None:
    """Load src's state_dict into dst under renamed keys; every key and shape must match."""
    state = {rename(k, keys): v for k, v in src.state_dict().items()}
    want = dst.state_dict()
    missing, extra = sorted(set(want) - set(state)), sorted(set(state) - set(want))
    if missing or extra:
        raise Mismatch(f"state_dict keys differ: hand-written only {missing}, netspec only {extra}")
    for k, v in state.items():
        if v.shape != want[k].shape:
            raise Mismatch(f"{k}: netspec {tuple(v.shape)} vs hand-written {tuple(want[k].shape)}")
    dst.load_state_dict(state, strict=True)
    n_src = sum(p.numel() for p in src.parameters())
    n_dst = sum(p.numel() for p in dst.parameters())
    if n_src != n_dst:
        raise Mismatch(f"parameter counts differ: netspec {n_src:,} vs hand-written {n_dst:,}")


def check_same(
    label: str,
    ns: nn.Module,
    hand: nn.Module,
    keys: dict[str, str],
    x: torch.Tensor,
    y: torch.Tensor,
) -> float:
    """Eval-mode outputs within OUTPUT_ATOL and equal gradients; returns the max output diff."""
    ns.eval()
    hand.eval()
    with torch.no_grad():
        out_ns, out_hand = ns(x), hand(x)
    if out_ns.shape != out_hand.shape:
        raise Mismatch(f"{label}: output shapes {tuple(out_ns.shape)} vs {tuple(out_hand.shape)}")
    diff = (out_ns - out_hand).abs().max().item()
    if not diff <= OUTPUT_ATOL:
        raise Mismatch(f"{label}: eval outputs differ by {diff:.3g} (> {OUTPUT_ATOL:g})")
    for model in (ns, hand):
        model.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
    hand_params = dict(hand.named_parameters())
    for name, p in ns.named_parameters():
        q = hand_params[rename(name, keys)]
        if p.grad is None or q.grad is None:
            raise Mismatch(f"{label}: {name} has no gradient in one of the models")
        if not torch.allclose(p.grad, q.grad, rtol=1e-4, atol=1e-6):
            worst = (p.grad - q.grad).abs().max().item()
            raise Mismatch(f"{label}: gradients of {name} differ by up to {worst:.3g}")
    for model in (ns, hand):
        model.zero_grad(set_to_none=True)
        model.train()
    return diff


# --------------------------------------------------------------------------------------------
# Timing
# --------------------------------------------------------------------------------------------


def step(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> None:
    for p in model.parameters():
        p.grad = None
    F.cross_entropy(model(x), y).backward()


CLOCKS: dict[str, Callable[[], float]] = {"cpu": time.process_time, "wall": time.perf_counter}


def time_steps(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, iters: int, clock: Callable[[], float]
) -> float:
    """Seconds per step, over ``iters`` consecutive steps."""
    start = clock()
    for _ in range(iters):
        step(model, x, y)
    return (clock() - start) / iters


@dataclass(frozen=True)
class Timing:
    """Interleaved timing of two models: a (the reference) and b."""

    a_s: float  # median seconds per step
    b_s: float
    ratio: float  # median of per-round b/a
    ratio_q1: float
    ratio_q3: float


def interleaved(
    a: nn.Module,
    b: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    rounds: int,
    iters: int,
    warmup: int,
    clock: Callable[[], float],
) -> Timing:
    """Alternate a and b, ``iters`` steps each per round, swapping who goes first each round."""
    for _ in range(warmup):
        step(a, x, y)
        step(b, x, y)
    a_t: list[float] = []
    b_t: list[float] = []
    gc.collect()
    gc_was_enabled = gc.isenabled()
    gc.disable()  # like timeit: no collector pauses inside a timed block
    try:
        for r in range(rounds):
            if r % 2 == 0:
                a_t.append(time_steps(a, x, y, iters, clock))
                b_t.append(time_steps(b, x, y, iters, clock))
            else:
                b_t.append(time_steps(b, x, y, iters, clock))
                a_t.append(time_steps(a, x, y, iters, clock))
    finally:
        if gc_was_enabled:
            gc.enable()
    ratios = [tb / ta for ta, tb in zip(a_t, b_t, strict=True)]
    q1, _, q3 = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else [ratios[0]] * 3
    return Timing(statistics.median(a_t), statistics.median(b_t), statistics.median(ratios), q1, q3)


@dataclass(frozen=True)
class Result:
    label: str
    batch: int
    max_diff: float
    timing: Timing  # a = hand-written, b = netspec
    control: Timing | None  # a = hand-written, b = a deep copy of it (the noise floor)


def run_case(
    case: Case,
    batch: int,
    rounds: int,
    iters: int,
    warmup: int,
    clock: Callable[[], float],
    control: bool,
) -> Result:
    import netspec

    ns = netspec.build_model(case.spec, seed=SEED)
    torch.manual_seed(SEED)
    hand = case.hand()
    copy_weights(ns, hand, case.keys)
    gen = torch.Generator().manual_seed(SEED)
    x = case.make_input(batch, gen)
    y = torch.randint(0, CLASSES, (batch,), generator=gen)
    diff = check_same(case.label, ns, hand, case.keys, x, y)
    timing = interleaved(hand, ns, x, y, rounds, iters, warmup, clock)
    noise = None
    if control:
        twin = copy.deepcopy(hand)
        noise = interleaved(hand, twin, x, y, rounds, iters, warmup, clock)
    return Result(case.label, batch, diff, timing, noise)


def row(label: str, batch: int, t: Timing, max_diff: float | None) -> str:
    """A table row; ``max_diff`` None marks the A/A control row (no target, no diff)."""
    verdict = "" if max_diff is None else ("ok" if t.ratio <= TARGET else "OVER")
    goal = "" if max_diff is None else f"<= {TARGET:g}"
    diff = "" if max_diff is None else f"{max_diff:.1e}"
    iqr = f"{t.ratio_q1:.3f}-{t.ratio_q3:.3f}"
    return (
        f"{label:<17}{batch:>6}{t.a_s * 1e3:>11.3f} ms{t.b_s * 1e3:>8.3f} ms"
        f"{t.ratio:>8.3f}{iqr:>15}{goal:>9}{verdict:>6}{diff:>10}"
    ).rstrip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: small batches, 3 rounds")
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (1)")
    parser.add_argument("--rounds", type=int, help="interleaved rounds (100; quick: 3)")
    parser.add_argument("--iters", type=int, help="steps per model per round (2; quick: 1)")
    parser.add_argument("--warmup", type=int, help="untimed steps per model first (10; quick: 2)")
    parser.add_argument(
        "--clock",
        choices=sorted(CLOCKS),
        default="cpu",
        help="cpu: process CPU time (default; robust to other load on a shared machine); "
        "wall: perf_counter",
    )
    parser.add_argument(
        "--control",
        action="store_true",
        help="also time hand-written vs a copy of itself (A/A): the noise floor of the ratio",
    )
    parser.add_argument("--batch", type=int, help="one batch size for every model (overrides)")
    parser.add_argument("--only", nargs="+", choices=[c.label for c in CASES], help="some models")
    opts = parser.parse_args(argv)
    rounds = opts.rounds or (3 if opts.quick else 100)
    iters = opts.iters or (1 if opts.quick else 2)
    warmup = opts.warmup or (2 if opts.quick else 10)

    torch.set_num_threads(opts.threads)
    torch.manual_seed(SEED)
    cases = [c for c in CASES if opts.only is None or c.label in opts.only]

    print(
        f"netspec overhead: forward + cross-entropy + backward, train mode; torch "
        f"{torch.__version__}, {torch.get_num_threads()} thread(s), seed {SEED}, "
        f"clock: {opts.clock}"
    )
    print(
        f"{rounds} interleaved rounds x {iters} step(s) per model, after {warmup} warm-up steps"
        + (" (--quick: a smoke run, the numbers mean little)" if opts.quick else "")
    )
    header = (
        f"{'model':<17}{'batch':>6}{'hand-written':>14}{'netspec':>11}{'ratio':>8}"
        f"{'ratio IQR':>15}{'target':>9}{'':>6}{'max|diff|':>10}"
    )
    print(header)
    print("-" * len(header))
    over: list[str] = []
    noisy: list[str] = []
    failed: list[str] = []
    total_start = time.perf_counter()
    for case in cases:
        batch = opts.batch or (case.quick_batch if opts.quick else case.batch)
        try:
            r = run_case(case, batch, rounds, iters, warmup, CLOCKS[opts.clock], opts.control)
        except Mismatch as err:
            failed.append(case.label)
            print(f"{case.label:<17}{batch:>6}  NOT COMPARABLE, not timed: {err}", flush=True)
            continue
        print(row(r.label, r.batch, r.timing, r.max_diff), flush=True)
        if r.control is not None:
            print(row("  (A/A control)", r.batch, r.control, None), flush=True)
        if r.timing.ratio > TARGET:
            over.append(r.label)
            if r.timing.ratio_q1 <= 1.0:
                noisy.append(r.label)
    print(
        "\ntimes: median per step; ratio: median of per-round netspec / hand-written, IQR its "
        "25th-75th percentile;\nmax|diff|: largest eval-mode output difference (same weights); "
        f"{time.perf_counter() - total_start:.1f} s in all"
    )
    if opts.control:
        print("A/A control: hand-written vs a copy of itself, timed the same way (true ratio 1)")
    if failed:
        print(f"NOT COMPARED (weights or outputs differ): {', '.join(failed)}")
    if over:
        print(f"TARGET MISSED (ratio > {TARGET:g}): {', '.join(over)}")
    if noisy:
        print(
            f"  ({', '.join(noisy)}: the ratio IQR reaches 1.0, so the excess is within this "
            "run's noise; rerun, or add --control to see the noise floor)"
        )
    if not failed and not over:
        print(f"all ratios <= {TARGET:g}")
    if opts.quick:
        print("(--quick: a smoke run of every code path; its ratios are not a measurement)")
    return 0  # a benchmark reports; it does not fail


if __name__ == "__main__":
    raise SystemExit(main())
