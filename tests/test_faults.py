"""A run killed with SIGKILL at random moments, and resumed each time, ends exactly like a
run that was never interrupted: checkpoints are atomic and resume is exact (on CPU)."""

from __future__ import annotations

import pathlib
import random
import shutil
import signal
import subprocess
import sys
import time

import pytest
import torch
from safetensors.torch import load_file

SPEC = """\
name: killme
input: [2]
layers:
  - dense: {units: 32, activation: relu}
  - dropout: 0.2
  - dense: 3
data: {source: blobs, samples: 3000, classes: 3, seed: 1}
train: {epochs: 12, batch_size: 16, seed: 0, optimizer: {type: sgd, lr: 0.05, momentum: 0.9}}
"""


@pytest.mark.heavy
def test_sigkill_at_ten_random_moments_then_resume(tmp_path: pathlib.Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC)
    netspec = [sys.executable, "-m", "netspec", "train"]
    started = time.perf_counter()
    subprocess.run(
        [*netspec, str(spec), "--out", str(tmp_path / "whole")],
        check=True,
        capture_output=True,
        timeout=300,
    )
    duration = time.perf_counter() - started
    cut = tmp_path / "cut"
    rng = random.Random(0)
    kills = 0
    command = [*netspec, str(spec), "--out", str(cut)]
    while True:
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if kills < 10:
            # Within the first third of a whole run's time: a resumed run has less left to
            # do, and on a busy machine the reference run may have been slower than this
            # one; a kill drawn later than the run's end would find it finished.
            time.sleep(rng.uniform(0.3, duration / 3))
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                kills += 1
                if (cut / "last.ckpt").exists():
                    command = [*netspec, "--resume", str(cut)]
                else:  # killed before the first checkpoint: nothing to resume, start over
                    shutil.rmtree(cut, ignore_errors=True)
                continue
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err.decode()[-2000:]
        break
    assert kills == 10
    whole = load_file(str(tmp_path / "whole" / "model.safetensors"))
    resumed = load_file(str(cut / "model.safetensors"))
    assert all(torch.equal(whole[k], resumed[k]) for k in whole)
    assert (tmp_path / "whole" / "metrics.csv").read_text().count("\n") == (
        cut / "metrics.csv"
    ).read_text().count("\n")
