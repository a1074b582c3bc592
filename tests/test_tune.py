"""`tune:` and `netspec tune`: the section's checks (located, before any trial), a search on
iris that beats the spec's defaults, pruning, two processes on one study, Ctrl-C and --resume."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from netspec import SpecError, load_spec

pytest.importorskip("optuna")

from netspec.training.tune import tune

BASE = """\
name: tiny
vars: {width: 16}
input: [4]
layers:
  - dense: {units: "${width}", activation: relu}
  - dropout: 0.1
  - dense: 3
data: {source: iris, split: {val: 0.2, test: 0.2, seed: 0}}
train:
  epochs: EPOCHS
  batch_size: 16
  optimizer: {type: adam, lr: 1.0e-4}
  seed: 0
"""


def write(tmp_path: Path, tune_section: str, epochs: int = 5) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(
        BASE.replace("EPOCHS", str(epochs)) + "tune:\n" + textwrap.indent(tune_section, "  ")
    )
    return path


def errors(path: Path) -> list[str]:
    with pytest.raises(SpecError) as info:
        tune(path, out=path.parent / "study")
    assert not (path.parent / "study" / "trial-0000").exists()  # before any trial
    return [
        f"{d.location.line if d.location else None}: {d.message}" for d in info.value.diagnostics
    ]


def test_the_section_loads_with_the_spec(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "objective: {metric: val_accuracy}\ntrials: 3\nsampler: random\nseed: 1\n"
        "space:\n  train.optimizer.lr: {log_uniform: [1.0e-4, 1.0e-2]}\n"
        "  vars.width: {choice: [8, 16]}\n  train.batch_size: {int: [8, 32], step: 8}\n",
    )
    section = load_spec(path).tune
    assert section is not None
    assert section.objective.metric == "val_accuracy"
    assert not section.objective.minimize
    assert section.trials == 3
    assert section.sampler == "random"


@pytest.mark.parametrize(
    ("space", "line", "words"),
    [
        ("train.optimizer.lrx: {log_uniform: [1.0e-4, 1.0e-2]}", 16, "did you mean 'lr'"),
        ("vars.widht: {choice: [8, 16]}", 16, "did you mean vars.width"),
        ("layers[1].rate: {uniform: [0, 1.5]}", 16, "the value 1.5 makes the spec invalid"),
        ("layers[9].units: {choice: [8]}", 16, "no [9]"),
        ("vars.width: {choice: [8, -1]}", 16, "the value -1 makes the spec invalid"),
    ],
)
def test_a_bad_space_entry_is_located(tmp_path: Path, space: str, line: int, words: str) -> None:
    path = write(tmp_path, f"space:\n  {space}\n")
    (found,) = errors(path)
    assert found.startswith(f"{line}:"), found
    assert words in found, found


def test_bad_sampler_and_range_are_located(tmp_path: Path) -> None:
    path = write(
        tmp_path, "sampler: bayes\nspace:\n  train.optimizer.lr: {log_uniform: [0, 1.0e-2]}\n"
    )
    found = errors(path)
    assert any(f.startswith("15:") and "tpe" in f for f in found), found
    assert any(f.startswith("17:") and "0 < low < high" in f for f in found), found


def test_search_beats_the_default_and_writes_the_study(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "trials: 6\nseed: 0\npruner: none\n"
        "space:\n  train.optimizer.lr: {log_uniform: [1.0e-4, 1.0e-1]}\n",
    )
    seen = []
    result = tune(path, out=tmp_path / "study", on_trial=seen.append)
    assert [r.number for r in seen] == list(range(6))
    assert result.best is not None
    # the default lr (1e-4) barely moves in 5 epochs
    from netspec.training import train

    baseline = train(load_spec(path), out=tmp_path / "baseline")
    base_loss = min(row["val_loss"] for row in baseline.history)
    assert result.best.value is not None
    assert result.best.value < base_loss - 0.3
    study = tmp_path / "study"
    for name in ("best_spec.yaml", "trials.csv", "study.db", "history.png", "parallel.png"):
        assert (study / name).is_file(), name
    best = load_spec(study / "best_spec.yaml")
    assert best.train is not None
    assert best.tune is None
    assert best.train.optimizer.lr == pytest.approx(result.best.params["train.optimizer.lr"])
    assert (study / f"trial-{result.best.number:04d}" / "model.safetensors").is_file()
    lines = (study / "trials.csv").read_text().splitlines()
    assert lines[0].startswith("number,state,value")
    assert len(lines) == 7


def test_pruning_stops_bad_trials(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "trials: 6\nseed: 0\npruner: median\n"
        "space:\n  train.optimizer.lr: {log_uniform: [1.0e-5, 1.0e-1]}\n",
        epochs=6,
    )
    result = tune(path, out=tmp_path / "study")
    pruned = [r for r in result.trials if r.state == "PRUNED"]
    assert len(pruned) >= 1
    assert all(r.epochs is not None and r.epochs < 6 for r in pruned)
    assert result.count("COMPLETE") + len(pruned) == 6
    # a pruned trial is a run directory like any other: its best weights so far
    assert (tmp_path / "study" / f"trial-{pruned[0].number:04d}" / "model.safetensors").is_file()


def test_a_failing_trial_is_recorded_and_the_study_goes_on(tmp_path: Path) -> None:
    # plain SGD at lr 1e30 diverges (a NaN loss); lr 1e-2 trains
    path = write(
        tmp_path,
        "trials: 2\nsampler: grid\npruner: none\n"
        "space:\n  train.optimizer.lr: {choice: [1.0e-2, 1.0e+30]}\n",
        epochs=2,
    )
    path.write_text(path.read_text().replace("type: adam", "type: sgd"))
    result = tune(path, out=tmp_path / "study")
    states = {r.params["train.optimizer.lr"]: r for r in result.trials}
    assert states[1e30].state == "FAIL"
    assert "nan" in states[1e30].reason
    assert states[1e-2].state == "COMPLETE"
    assert result.best is not None
    assert result.best.number == states[1e-2].number
    assert "nan" in (tmp_path / "study" / "trials.csv").read_text()


def _cli(*args: str) -> list[str]:
    # Python's own SIGINT handler even where the test runner's shell ignores SIGINT
    code = (
        "import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
        "from netspec.cli import main; sys.argv = ['netspec', *sys.argv[1:]]; main()"
    )
    return [sys.executable, "-c", code, *args]


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path.cwd())}


def _numbers(storage: str, name: str) -> list[tuple[int, str]]:
    import optuna

    study = optuna.load_study(study_name=name, storage=storage)
    return [(t.number, t.state.name) for t in study.get_trials(deepcopy=False)]


def test_two_processes_share_one_study(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "trials: 6\nseed: 0\npruner: none\n"
        "space:\n  train.optimizer.lr: {log_uniform: [1.0e-4, 1.0e-1]}\n",
        epochs=2,
    )
    storage = f"sqlite:///{tmp_path / 'shared.db'}"
    # the study exists before the two start (as a first `netspec tune` would leave it)
    import optuna

    optuna.create_study(study_name="tiny", storage=storage)
    procs = [
        subprocess.Popen(
            _cli("tune", str(path), "--storage", storage, "--out", str(tmp_path / f"p{i}")),
            env=_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for i in range(2)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()
    trials = _numbers(storage, "tiny")
    numbers = [n for n, _ in trials]
    assert len(numbers) == len(set(numbers))
    assert 6 <= len(trials) <= 7  # the last two may start together
    assert all(state == "COMPLETE" for _, state in trials)
    ran = list((tmp_path / "p0").glob("trial-*")) + list((tmp_path / "p1").glob("trial-*"))
    assert len(ran) == len(trials)


def test_ctrl_c_then_resume_continues_the_study(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "trials: 40\nseed: 0\npruner: none\n"
        "space:\n  train.optimizer.lr: {log_uniform: [1.0e-4, 1.0e-1]}\n",
        epochs=3,
    )
    study = tmp_path / "study"
    proc = subprocess.Popen(
        _cli("tune", str(path), "--out", str(study)),
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while not (study / "trial-0002").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err.decode()
    assert "--resume" in err.decode()
    storage = f"sqlite:///{study / 'study.db'}"
    before = _numbers(storage, "tiny")
    assert 2 <= len(before) < 40
    # without --resume the study directory is refused
    with pytest.raises(SpecError, match="--resume"):
        tune(path, out=study)
    total = len(before) + 2
    result = tune(path, out=study, resume=True, trials=total)
    after = _numbers(storage, "tiny")
    assert after[: len(before)] == before  # the same study, continued
    assert [n for n, _ in after] == list(range(total))
    assert result.best is not None


def test_a_corner_with_a_bad_shape_is_reported_by_validate_too(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from netspec.cli import app

    path = tmp_path / "shapes.yaml"
    path.write_text(
        "input: [4]\nlayers:\n  - dense: 16\n  - reshape: [4, 4]\n  - flatten\n  - dense: 3\n"
        "tune:\n  space:\n    layers[0].units: {choice: [16, 15]}\n"
    )
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 2
    assert "shapes.yaml:9:22" in result.stderr
    assert "the value 15 makes the spec invalid" in result.stderr
    assert "reshape cannot turn (N, 15) into (N, 4, 4)" in result.stderr


@pytest.mark.parametrize("module", ["optuna", "cmaes"])
def test_a_missing_package_names_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, module: str
) -> None:
    path = write(
        tmp_path,
        "sampler: cmaes\nspace:\n  train.optimizer.lr: {log_uniform: [1.0e-4, 1.0e-2]}\n",
    )
    monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(SpecError, match=r"pip install 'netspec\[tune\]'") as info:
        tune(path, out=tmp_path / "study")
    assert info.value.diagnostics[0].code == "missing-extra"
    assert not (tmp_path / "study" / "study.db").exists()


def test_the_command_prints_each_trial_and_the_best(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from netspec.cli import app

    path = write(
        tmp_path,
        "trials: 2\nseed: 0\nspace:\n  train.optimizer.lr: {log_uniform: [1.0e-3, 1.0e-1]}\n",
        epochs=2,
    )
    result = CliRunner().invoke(app, ["tune", str(path), "--out", str(tmp_path / "s")])
    assert result.exit_code == 0, result.stderr
    assert "trial 0: complete" in result.stderr
    assert "trial 1: complete" in result.stderr
    assert "study tiny: 2 trials (2 complete)" in result.stdout
    assert f"best spec: {tmp_path / 's' / 'best_spec.yaml'}" in result.stdout


def test_a_timeout_ends_the_study(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "timeout: 0.5\nspace:\n  train.optimizer.lr: {log_uniform: [1.0e-3, 1.0e-1]}\n",
        epochs=2,
    )
    start = time.monotonic()
    result = tune(path, out=tmp_path / "study")
    assert 1 <= len(result.trials) < 20
    assert time.monotonic() - start < 30
