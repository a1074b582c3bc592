"""The benchmark scripts still run: a smoke run keeps them from rotting (timings not judged)."""

from __future__ import annotations

import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).parent.parent
MODELS = ("mlp", "cnn", "lstm", "transformer")


def _quick(script: str, timeout: int) -> str:
    """The output of ``benchmarks/<script>.py --quick``, which must exit 0."""
    proc = subprocess.run(
        [sys.executable, f"benchmarks/{script}.py", "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    return out


@pytest.mark.heavy
def test_overhead_quick_runs_every_model() -> None:
    out = _quick("overhead", timeout=300)
    # A model whose weights or outputs disagree is reported, not timed: that is a failure here.
    assert "NOT COMPARABLE" not in out, out
    for model in MODELS:
        # model, batch, hand-written ms, netspec ms, ratio, IQR, target, verdict, max|diff|
        row = (
            rf"^{model}\s+\d+\s+[\d.]+ ms\s+[\d.]+ ms\s+[\d.]+\s+[\d.]+-[\d.]+"
            r"\s+<= 1\.02\s+(ok|OVER)\s+\S+$"
        )
        assert re.search(row, out, re.MULTILINE), f"no timed row for {model}:\n{out}"


@pytest.mark.heavy
def test_distributed_quick_compares_with_hand_written_ddp() -> None:
    out = _quick("distributed", timeout=400)
    for model in ("mlp", "cnn"):
        # model, hand DDP, torchrun, ratio, target, verdict, devices, ratio, 1 process,
        # x2/x1, walls, accuracies
        row = (
            rf"^{model}\s+[\d,]+ s/s\s+[\d,]+ s/s\s+[\d.]+\s+>= 0\.95 (ok|MISSED)\s+[\d,]+ s/s"
            r"\s+[\d.]+\s+[\d,]+ s/s\s+[\d.]+\s+[\d.]+s\s+[\d.]+s\s+[\d.]+\s+[\d.]+$"
        )
        assert re.search(row, out, re.MULTILINE), f"no row for {model}:\n{out}"


def test_validation_speed_quick_times_every_case() -> None:
    out = _quick("validation_speed", timeout=300)
    for case in ("valid", "unknown-type", "bad-from", "invalid-value", "var-chain"):
        # in process at 200 and 800 layers: wall / CPU (CPU us per layer), then the CLI
        timed = r"\s+[\d.]+ /\s+[\d.]+ \(\s*[\d.]+\)"
        assert re.search(rf"^{case}{timed}{timed}$", out, re.MULTILINE), out
        assert re.search(rf"^{case}\s+[\d.]+ s$", out, re.MULTILINE), out


def test_zoo_summary_quick_times_every_gallery_spec() -> None:
    out = _quick("zoo_summary", timeout=120)
    paths = sorted((ROOT / "specs" / "zoo").glob("*.yaml"))
    assert len(paths) >= 4
    for path in paths:
        # spec, layers, params, MACs (GMACs, or the symbols of a formula: "in S,T"), wall,
        # target, verdict (not judged in a quick run)
        macs = r"(?:[\d.]+ G|in [A-Za-z_,]+)"
        row = rf"^{path.stem}\s+\d+\s+[\d,]+\s+{macs}\s+[\d.]+ s\s+< 1 s\s+\(quick\)$"
        assert re.search(row, out, re.MULTILINE), f"no timed row for {path.stem}:\n{out}"


@pytest.mark.heavy
def test_gan_throughput_quick_times_both_models() -> None:
    out = _quick("gan_throughput", timeout=300)
    for model in ("mlp_gan", "dcgan"):
        row = rf"^{model}\s+[\d,]+ s/s\s+[\d,]+ s/s\s+[\d.]+\s+>= 0\.9 (ok|MISSED)$"
        assert re.search(row, out, re.MULTILINE), f"no row for {model}:\n{out}"


@pytest.mark.heavy
def test_generation_speed_quick_agrees_and_times_every_generator() -> None:
    out = _quick("generation_speed", timeout=120)
    assert "DISAGREE" not in out, out
    assert re.search(r"^netspec cache vs no cache, \d+ tokens: agree", out, re.MULTILINE), out
    for name in ("netspec cache", "netspec no cache"):
        assert re.search(rf"^{name}\s+[\d,]+$", out, re.MULTILINE), out  # tokens/s
        # tokens/s at two lengths and their ratio
        assert re.search(rf"^{name}\s+[\d,]+\s+[\d,]+\s+[\d.]+$", out, re.MULTILINE), out
    if "transformers: not installed" not in out:
        assert re.search(r"^netspec vs HF generate, \d+ tokens: agree", out, re.MULTILINE), out
        assert re.search(r"^HF generate \(cache\)\s+[\d,]+$", out, re.MULTILINE), out
        assert re.search(r"^netspec cache / HF cache: [\d.]+ ", out, re.MULTILINE), out
