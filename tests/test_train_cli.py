"""`netspec train`, `evaluate` and `predict` from the command line, and every example spec
learning what it is meant to learn."""

from __future__ import annotations

import csv
import json
import pathlib

import numpy as np
import pytest
from typer.testing import CliRunner

import netspec
from netspec.cli.app import app
from netspec.spec.networks import load_any
from netspec.training import train

ROOT = pathlib.Path(__file__).parent.parent
# The GAN specs learn in tests/test_gan.py (they log no train_loss); the language models'
# examples need minutes (benchmarks/language_models.py trains them), and a small one learns
# held-out problems in tests/test_lm_end_to_end.py.
TRAINABLE = [
    p
    for p in sorted((ROOT / "specs").glob("*.yaml"))
    if (settings := load_any(p).train) is not None
    and settings.task not in ("gan", "language_model")
]
runner = CliRunner()


@pytest.mark.heavy
@pytest.mark.parametrize("path", TRAINABLE, ids=lambda p: p.stem)
def test_every_example_spec_learns(path: pathlib.Path, tmp_path: pathlib.Path) -> None:
    spec = load_any(path)
    result = train(spec, out=tmp_path / "run")
    first, last = result.history[0]["train_loss"], result.history[-1]["train_loss"]
    assert last < 0.7 * first, (first, last)
    task = result.metrics["task"]
    if task in ("classification", "binary"):
        classes = (
            2
            if task == "binary"
            else len(json.loads((result.run_dir / "run.json").read_text())["class_names"])
        )
        assert result.test["accuracy"] > 1 / classes + 0.25, result.test
    else:
        assert result.test["loss"] < 0.5 * result.history[0]["val_loss"], result.test


def test_cli_train_evaluate_predict(tmp_path: pathlib.Path) -> None:
    run = tmp_path / "run"
    spec = str(ROOT / "specs" / "mlp_iris.yaml")
    result = runner.invoke(
        app,
        [
            "train",
            spec,
            "--out",
            str(run),
            "--epochs",
            "30",
            "--lr",
            "0.02",
            "--set",
            "train.early_stopping=null",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "run directory:" in result.stdout
    assert "epoch" in result.stderr  # the epoch table
    for name in (
        "model.safetensors",
        "last.ckpt",
        "metrics.csv",
        "metrics.json",
        "curves.png",
        "summary.txt",
        "spec.yaml",
    ):
        assert (run / name).is_file(), name
    metrics = json.loads((run / "metrics.json").read_text())
    assert {"test", "best_epoch", "samples_per_second"} <= set(metrics)
    assert "train.optimizer.lr" not in (run / "spec.yaml").read_text()
    rows = list(csv.DictReader((run / "metrics.csv").open()))
    assert len(rows) == 30

    evaluated = runner.invoke(app, ["evaluate", str(run), "--json"])
    assert evaluated.exit_code == 0, evaluated.output
    assert json.loads(evaluated.stdout)["accuracy"] == pytest.approx(metrics["test"]["accuracy"])

    from sklearn.datasets import load_iris

    iris = load_iris()
    inputs = tmp_path / "flowers.csv"
    with inputs.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(iris.feature_names)  # a header row is skipped
        writer.writerows(iris.data.tolist())
    out = tmp_path / "predictions.csv"
    predicted = runner.invoke(app, ["predict", str(run), str(inputs), "-o", str(out)])
    assert predicted.exit_code == 0, predicted.output
    rows = list(csv.DictReader(out.open()))
    assert list(rows[0]) == ["label", "p_setosa", "p_versicolor", "p_virginica"]
    labels = [list(iris.target_names).index(r["label"]) for r in rows]
    assert np.mean(np.array(labels) == iris.target) > 0.9
    assert all(abs(sum(float(v) for k, v in r.items() if k != "label") - 1) < 1e-4 for r in rows)

    model = netspec.load_model(run)
    assert sum(p.numel() for p in model.parameters()) == netspec.plan(spec).total_params


def test_cli_train_errors_are_diagnostics(tmp_path: pathlib.Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("input: [4]\nlayers: [dense: 5]\ndata: iris\ntrain: {task: classification}\n")
    result = runner.invoke(app, ["train", str(bad), "--out", str(tmp_path / "run")])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert "3" in result.stderr  # iris has 3 classes, the model 5 outputs
    assert not (tmp_path / "run").exists(), "nothing is written for a spec mistake"
    missing = runner.invoke(app, ["predict", str(tmp_path / "nowhere"), str(bad)])
    assert missing.exit_code == 2
    assert runner.invoke(app, ["train"]).exit_code == 2


def test_autoencoders_do_not_train_with_bce() -> None:
    # The targets are the standardized inputs, not probabilities: BCE has no minimum there.
    with pytest.raises(netspec.SpecError, match="does not fit task autoencoder"):
        netspec.load_spec(ROOT / "specs" / "conv_autoencoder.yaml", ["train.loss=bce_with_logits"])


def test_token_ids_beyond_the_embedding_are_refused(tmp_path: pathlib.Path) -> None:
    spec = netspec.load_spec(
        "input: {shape: [10], dtype: int64}\nlayers:\n"
        "  - embedding: {num_embeddings: 8, embedding_dim: 4}\n  - flatten\n  - dense: 16\n"
        "data: {source: majority_token, vocab_size: 16, samples: 50}\n"
        "train: {epochs: 1}\n"
    )
    with pytest.raises(netspec.SpecError, match=r"token ids run from 0 to 15.*num_embeddings 8"):
        train(spec, out=tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_relative_data_paths_survive_in_the_run(tmp_path: pathlib.Path) -> None:
    folder = tmp_path / "project"
    folder.mkdir()
    rows = "\n".join(f"{i % 7},{(i * 3) % 5},{i % 2}" for i in range(60))
    (folder / "d.csv").write_text("a,b,y\n" + rows + "\n")
    (folder / "s.yaml").write_text(
        "input: [2]\nlayers: [dense: 2]\ndata: {source: csv, path: d.csv, target: y}\n"
        "train: {epochs: 1}\n"
    )
    run = tmp_path / "run"
    assert runner.invoke(app, ["train", str(folder / "s.yaml"), "-o", str(run)]).exit_code == 0
    result = runner.invoke(app, ["evaluate", str(run), "--json"])
    assert result.exit_code == 0, result.output
    assert "loss" in json.loads(result.stdout)


def test_cli_flags_are_checked(tmp_path: pathlib.Path) -> None:
    spec = str(ROOT / "specs" / "mlp_iris.yaml")
    result = runner.invoke(app, ["train", spec, "--device", "gpu", "-o", str(tmp_path / "r")])
    assert result.exit_code == 2
    assert "unknown device 'gpu'" in result.stderr
    short = tmp_path / "short.yaml"
    short.write_text(
        "input: [4]\nlayers: [dense: 3]\ndata: iris\ntrain: {optimizer: adam, epochs: 1}\n"
    )
    result = runner.invoke(app, ["train", str(short), "--lr", "0.05", "-o", str(tmp_path / "s")])
    assert result.exit_code == 0, result.output
