"""Multi-process training (torch.distributed, gloo on CPU): `--devices N`, torchrun, the
batch split, agreement on errors and stops, and resuming.

The oracle is the single-process run: the global batch is split across processes with
weighted losses, so 2 processes must end with the same weights as 1, up to float rounding
(stated tolerance: weights within 1e-5, test loss within 1e-4 relative, test accuracy
within one sample). Runs with dropout differ by their random streams and only need to learn
as well (test accuracy within 0.05).
"""

from __future__ import annotations

import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import pytest
import torch
from safetensors.torch import load_file

from netspec.backend.build import build_model
from netspec.spec.load import load_spec
from netspec.training import TrainingInterrupted, train
from netspec.training.distributed import World, has_unused_parameters, launched

NETSPEC = [sys.executable, "-m", "netspec"]
RUN_FILES = {
    "curves.png",
    "last.ckpt",
    "metrics.csv",
    "metrics.json",
    "model.safetensors",
    "run.json",
    "spec.yaml",
    "standardizer.safetensors",
    "summary.txt",
}

# No dropout: the 2-process run must match the 1-process one. An odd batch (33) and a
# training split (1257) that no batch size divides test the uneven shards.
EXACT = """\
name: digits_mlp
input: [64]
layers:
  - dense: {units: 64, activation: relu}
  - dense: 10
data: {source: digits, split: {val: 0.15, test: 0.15}}
train: {epochs: 3, batch_size: 33, seed: 0, optimizer: {type: adam, lr: 0.003}}
"""

NOISY = """\
name: digits_dropout
input: [64]
layers:
  - dense: {units: 64, activation: relu}
  - dropout: 0.2
  - dense: 10
data: {source: digits, split: {val: 0.15, test: 0.15}}
train:
  epochs: 4
  batch_size: 32
  seed: 0
  accumulate_grad_batches: 2
  checkpoint_every_steps: 7
  optimizer: {type: adam, lr: 0.003}
"""


def _running(
    spec: pathlib.Path, out: pathlib.Path, *, own_session: bool = False
) -> subprocess.Popen[str]:
    """`netspec train SPEC --devices 2` started and past its first epoch (metrics.csv)."""
    proc = subprocess.Popen(
        [*NETSPEC, "train", str(spec), "--devices", "2", "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=own_session,
    )
    deadline = time.monotonic() + 120
    while not (out / "metrics.csv").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before it could be stopped"
    return proc


def _netspec(*args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*NETSPEC, *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def _final(run: pathlib.Path) -> dict[str, object]:
    data = json.loads((run / "metrics.json").read_text())
    assert isinstance(data, dict)
    return data


def _weights(run: pathlib.Path) -> dict[str, torch.Tensor]:
    return load_file(str(run / "model.safetensors"))


# -- the batch split, without processes -----------------------------------------------------


@pytest.mark.parametrize("size", [2, 3, 4])
@pytest.mark.parametrize("batch", [1, 2, 5, 33, 64])
def test_shards_cover_the_batch_and_weights_give_its_mean(size: int, batch: int) -> None:
    idx = torch.randperm(200)[:batch]
    values = torch.randn(200, dtype=torch.float64)
    whole_mean = values[idx].mean()
    seen: list[int] = []
    averaged = torch.zeros((), dtype=torch.float64)
    for rank in range(size):
        part, weight = World(rank=rank, size=size).shard(idx)
        assert len(part) >= 1  # every process runs its step
        if weight:
            seen += part.tolist()
        averaged += weight * values[part].mean() / size  # what DDP's gradient average does
    assert sorted(seen) == sorted(idx.tolist())
    assert torch.allclose(averaged, whole_mean)


def test_one_process_is_untouched() -> None:
    idx = torch.arange(7)
    part, weight = World().shard(idx)
    assert part is idx
    assert weight == 1.0
    assert World().sum([1.5, 2.0]) == [1.5, 2.0]
    assert World().rows(5) == slice(0, 5)


def test_world_from_torchrun_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE"):
        monkeypatch.delenv(key, raising=False)
    assert not launched().distributed
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    world = launched()
    assert (world.rank, world.size, world.local_rank, world.local_size) == (3, 4, 1, 2)
    assert world.distributed
    assert not world.main


def test_unused_layers_are_told_to_ddp() -> None:
    used = load_spec("name: a\ninput: [4]\nlayers: [{dense: 3}]\n")
    assert not has_unused_parameters(build_model(used))
    branch = """\
name: b
input: [4]
layers:
  - dense: {units: 3, name: used}
  - dense: {units: 5, name: spare, from: input}
  - dense: {units: 2, from: used}
"""
    assert has_unused_parameters(build_model(load_spec(branch)))


def test_resume_command_names_the_processes(tmp_path: pathlib.Path) -> None:
    one = TrainingInterrupted("stopped", tmp_path, 1)
    assert one.resume_command == f"netspec train --resume {tmp_path}"
    two = TrainingInterrupted("stopped", tmp_path, 1, processes=2)
    assert two.resume_command == f"netspec train --resume {tmp_path} --devices 2"
    under = TrainingInterrupted("stopped", tmp_path, 1, processes=2, torchrun=True)
    assert under.resume_command.startswith("torchrun ")
    assert "--resume" in under.resume_command


# -- real processes -------------------------------------------------------------------------


@pytest.mark.heavy
def test_two_processes_train_like_one(tmp_path: pathlib.Path) -> None:
    spec = tmp_path / "exact.yaml"
    spec.write_text(EXACT)
    one = train(spec, out=tmp_path / "one")
    done = _netspec("train", str(spec), "--devices", "2", "--out", str(tmp_path / "two"))
    assert done.returncode == 0, done.stderr[-3000:]
    two = tmp_path / "two"
    # Only rank 0 prints and writes.
    assert done.stdout.count("run directory:") == 1
    assert "Traceback" not in done.stderr
    assert {p.name for p in two.iterdir()} == RUN_FILES
    final = _final(two)
    assert final["processes"] == 2
    assert json.loads((two / "run.json").read_text())["processes"] == 2
    assert "x 2 processes" in (two / "summary.txt").read_text()
    # The same training, up to rounding.
    a, b = _weights(one.run_dir), _weights(two)
    assert a.keys() == b.keys()
    assert all(torch.allclose(a[k], b[k], atol=1e-5) for k in a)
    test = final["test"]
    assert isinstance(test, dict)
    assert test["loss"] == pytest.approx(one.test["loss"], rel=1e-4)
    assert abs(test["accuracy"] - one.test["accuracy"]) <= 1 / 270 + 1e-9
    assert len(one.history) == 3
    assert (two / "metrics.csv").read_text().count("\n") == 4


@pytest.mark.heavy
def test_torchrun_with_dropout_accumulation_and_bf16_learns(tmp_path: pathlib.Path) -> None:
    spec = tmp_path / "noisy.yaml"
    spec.write_text(NOISY.replace("seed: 0\n", "seed: 0\n  precision: bf16-mixed\n"))
    one = train(spec, out=tmp_path / "one")
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc-per-node",
        "2",
        "-m",
        "netspec",
        "train",
        str(spec),
        "--out",
        str(tmp_path / "two"),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=240, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("run directory:") == 1
    assert "precision bf16-mixed" in (tmp_path / "two" / "summary.txt").read_text()
    test = _final(tmp_path / "two")["test"]
    assert isinstance(test, dict)
    assert test["accuracy"] > 0.9
    assert abs(test["accuracy"] - one.test["accuracy"]) <= 0.05


@pytest.mark.heavy
def test_a_setup_error_is_reported_once(tmp_path: pathlib.Path) -> None:
    spec = tmp_path / "bad.yaml"
    spec.write_text(EXACT.replace("source: digits", "source: digitz"))
    done = _netspec("train", str(spec), "--devices", "2", "--out", str(tmp_path / "run"))
    assert done.returncode == 2
    assert done.stderr.count("digitz") >= 1
    assert done.stderr.count("error[invalid-value]") == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "run" / "last.ckpt").exists()


def test_devices_refuses_standard_input() -> None:
    done = subprocess.run(
        [*NETSPEC, "train", "-", "--devices", "2"],
        input=EXACT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "every process reads it" in done.stderr


@pytest.mark.heavy
def test_ctrl_c_stops_every_process_then_resume_is_exact(tmp_path: pathlib.Path) -> None:
    spec = tmp_path / "long.yaml"
    spec.write_text(NOISY.replace("epochs: 4", "epochs: 6"))
    whole = _netspec("train", str(spec), "--devices", "2", "--out", str(tmp_path / "whole"))
    assert whole.returncode == 0, whole.stderr[-3000:]
    cut = tmp_path / "cut"
    # A terminal's Ctrl-C: SIGINT to the launcher's process group (the workers run in their
    # own sessions; the launcher passes the signal on).
    proc = _running(spec, cut, own_session=True)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-3000:]
    assert err.count(f"resume with: netspec train --resume {cut} --devices 2") == 1, err
    assert "Traceback" not in err
    rows = (cut / "metrics.csv").read_text().count("\n") - 1
    assert 1 <= rows < 6
    resumed = _netspec("train", "--resume", str(cut), "--devices", "2")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    a, b = _weights(tmp_path / "whole"), _weights(cut)
    assert all(torch.equal(a[k], b[k]) for k in a)
    # The same epochs, losses and metrics (the interrupted epoch's loss included).
    assert _logged(tmp_path / "whole") == _logged(cut)


def _logged(run: pathlib.Path) -> list[list[str]]:
    """metrics.csv without its timing column."""
    rows = [line.split(",") for line in (run / "metrics.csv").read_text().splitlines()]
    keep = [i for i, name in enumerate(rows[0]) if name != "seconds"]
    return [[row[i] for i in keep] for row in rows]


def _worker(launcher: int, rank: int) -> int:
    """The pid of the launcher's worker process with this RANK."""
    children = pathlib.Path(f"/proc/{launcher}/task/{launcher}/children").read_text().split()
    for pid in children:
        environ = pathlib.Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        if f"RANK={rank}".encode() in environ:
            return int(pid)
    raise AssertionError(f"no worker with RANK={rank} among {children}")


@pytest.mark.heavy
@pytest.mark.skipif(not pathlib.Path("/proc/self/task").exists(), reason="reads /proc")
def test_a_killed_worker_ends_the_run_which_resumes(tmp_path: pathlib.Path) -> None:
    spec = tmp_path / "long.yaml"
    spec.write_text(NOISY.replace("epochs: 4", "epochs: 8"))
    cut = tmp_path / "cut"
    proc = _running(spec, cut)
    os.kill(_worker(proc.pid, 1), signal.SIGKILL)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGKILL, err[-3000:]
    assert "process 1 was killed by SIGKILL" in err
    # The survivor either finds its peer gone in a collective, or (on a loaded machine) the
    # launcher sees the death first and stops it with SIGTERM: both end it cleanly.
    assert "another process of the run stopped" in err or "training interrupted" in err, err
    assert f"resume with: netspec train --resume {cut} --devices 2" in err
    assert "Traceback" not in err
    resumed = _netspec("train", "--resume", str(cut), "--devices", "2")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert (cut / "metrics.csv").read_text().count("\n") == 9
    test = _final(cut)["test"]
    assert isinstance(test, dict)
    assert test["accuracy"] > 0.9


BATCHNORM = """\
name: digits_bn
input: [64]
layers:
  - dense: {units: 64}
  - batchnorm
  - relu
  - dense: 10
data: {source: digits, split: {val: 0.15, test: 0.15}}
train: {epochs: 3, batch_size: 33, seed: 0, optimizer: {type: adam, lr: 0.003}}
"""


@pytest.mark.heavy
def test_batchnorm_on_two_processes(tmp_path: pathlib.Path) -> None:
    spec = tmp_path / "bn.yaml"
    # 1257 training samples in batches of 33: the last batch has 3, too few for 2 processes
    # to give BatchNorm 2 samples each; it is left out rather than failing.
    spec.write_text(BATCHNORM)
    one = train(spec, out=tmp_path / "one")
    done = _netspec("train", str(spec), "--devices", "2", "--out", str(tmp_path / "two"))
    assert done.returncode == 0, done.stderr[-3000:]
    test = _final(tmp_path / "two")["test"]
    assert isinstance(test, dict)
    assert test["accuracy"] > 0.9
    assert abs(test["accuracy"] - one.test["accuracy"]) <= 0.05
    # Too small a split to evaluate in parts, and too small a batch for BatchNorm: refused.
    tiny = tmp_path / "tiny.yaml"
    tiny.write_text(BATCHNORM.replace("batch_size: 33", "batch_size: 3"))
    refused = _netspec("train", str(tiny), "--devices", "2", "--out", str(tmp_path / "t"))
    assert refused.returncode == 2
    assert "BatchNorm needs at least 2" in refused.stderr
    assert refused.stderr.count("error[") == 1


def test_batchnorm_leaves_out_a_one_sample_last_batch(tmp_path: pathlib.Path) -> None:
    spec = BATCHNORM.replace("batch_size: 33", "batch_size: 4").replace("epochs: 3", "epochs: 1")
    # 1257 = 314 x 4 + 1: the last batch would be one sample, which BatchNorm cannot train on.
    result = train(spec, out=tmp_path / "run")
    assert result.epochs_run == 1
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["epochs_run"] == 1


@pytest.mark.heavy
def test_sigterm_to_the_launcher_reaches_every_worker(tmp_path: pathlib.Path) -> None:
    spec = tmp_path / "long.yaml"
    spec.write_text(NOISY.replace("epochs: 4", "epochs: 30"))
    run = tmp_path / "run"
    # A job scheduler's SIGTERM, to the launcher alone: it passes it on to the workers.
    proc = _running(spec, run)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-3000:]
    assert err.count("training interrupted") == 1, err
    assert f"resume with: netspec train --resume {run} --devices 2" in err
    state = torch.load(run / "last.ckpt", weights_only=True)
    assert state["world_size"] == 2
    assert len(state["rank_rngs"]) == 2
    assert 1 <= state["epoch"] < 30
