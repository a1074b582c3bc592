"""The CUDA paths: mixed precision (bf16, fp16 with a GradScaler), `device: auto`, pinned
memory with non-blocking copies, and one process per GPU over NCCL. Skipped where there is
no GPU (the CPU paths are tested everywhere else); run on any machine that has one."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

import pytest
import torch

from netspec.training import train
from netspec.training.device import pick_device

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

SPEC = """\
name: digits_gpu
input: [64]
layers:
  - dense: {units: 64, activation: relu}
  - dropout: 0.1
  - dense: 10
data: {source: digits, split: {val: 0.15, test: 0.15}}
train: {epochs: 6, batch_size: 32, seed: 0, device: cuda, precision: PRECISION,
        optimizer: {type: adam, lr: 0.003}}
"""


@cuda
@pytest.mark.parametrize("precision", ["32", "bf16-mixed", "16-mixed"])
def test_trains_on_cuda_in_every_precision(tmp_path: pathlib.Path, precision: str) -> None:
    if precision == "bf16-mixed" and not torch.cuda.is_bf16_supported():
        pytest.skip("this GPU has no bfloat16")
    result = train(SPEC.replace("PRECISION", precision), out=tmp_path / "run")
    assert result.device.startswith("cuda")
    assert result.test["accuracy"] > 0.9
    from safetensors.torch import load_file

    weights = load_file(str(tmp_path / "run" / "model.safetensors"))
    assert all(w.dtype == torch.float32 for w in weights.values())  # mixed, not half weights


@cuda
def test_auto_picks_cuda() -> None:
    assert pick_device("auto").type == "cuda"


@cuda
def test_data_too_large_to_keep_on_the_gpu_goes_through_pinned_memory(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import netspec.training.loop as loop

    monkeypatch.setattr(loop, "RESIDENT_BYTES", 0)  # every split copied per batch
    result = train(SPEC.replace("PRECISION", "32"), out=tmp_path / "run")
    assert result.test["accuracy"] > 0.9


@cuda
@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs 2 GPUs")
def test_one_process_per_gpu_over_nccl(tmp_path: pathlib.Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC.replace("PRECISION", "16-mixed"))
    command = [sys.executable, "-m", "netspec", "train", str(spec), "--devices", "2"]
    done = subprocess.run(
        [*command, "--out", str(tmp_path / "run")],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    final = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert final["processes"] == 2
    assert final["device"] == "cuda:0"
    assert final["test"]["accuracy"] > 0.9
