"""A language model end to end: a small GPT trained on `reverse` problems answers problems
it never saw, and `netspec generate` / `netspec evaluate` on the run directory agree with
what training measured.

The one learning test of held-out generalization in CI (the arithmetic example needs a few
minutes: benchmarks/language_models.py). Reversal generalizes in a few hundred steps: the
attention learns to read the mirrored position, whatever the letters.
"""

from __future__ import annotations

import json
import math
import pathlib

import pytest
import torch
from typer.testing import CliRunner

import netspec
from netspec.cli.app import app
from netspec.data import load_data
from netspec.sources.tokenizers import IGNORE, load, never_generated
from netspec.training.exact_match import count_correct

SPEC = """
name: reverse_gpt
input: {shape: [11], dtype: int64}
layers:
  - embedding: {num_embeddings: 11, embedding_dim: 64, init_std: 0.02, name: tokens}
  - positional_encoding: {kind: learned, max_len: 11}
  - transformer_encoder: {num_heads: 4, num_layers: 2, dropout: 0.0, causal: true}
  - layernorm
  - dense: {units: 11, bias: false, tie: tokens}
data: {source: reverse, length: 5, vocab_size: 8, samples: 2000,
       split: {val: 0.1, test: 0.1, seed: 0}}
train:
  task: language_model
  optimizer: {type: adamw, lr: 3.0e-3, weight_decay: 0.1}
  scheduler: {type: cosine, warmup_steps: 30}
  grad_clip: 1.0
  epochs: 3
  batch_size: 64
  metrics: [exact_match, perplexity]
"""


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[pathlib.Path, netspec.RunResult]:
    run = tmp_path_factory.mktemp("lm") / "reverse"
    spec = netspec.load_spec(SPEC)
    return run, netspec.train(spec, out=run)


def test_held_out_problems_are_answered(
    trained: tuple[pathlib.Path, netspec.RunResult],
) -> None:
    run, result = trained
    assert result.test["exact_match"] >= 0.9
    first = result.history[0]["val_perplexity"]
    assert result.test["perplexity"] < 0.5 * first
    # the test problems are new: none of them is a training problem
    spec = netspec.load_spec(SPEC)
    data = load_data(spec, "language_model", tokenizer=load(run / "tokenizer.json"))
    assert data.test is not None
    seen = {tuple(row) for row in data.train.x.tolist()}  # type: ignore[union-attr]
    assert not seen & {tuple(row) for row in data.test.x.tolist()}  # type: ignore[union-attr]


def test_generate_answers_as_exact_match_scores(
    trained: tuple[pathlib.Path, netspec.RunResult],
) -> None:
    """The text `netspec.generate` continues a held-out prompt with is the answer exactly
    when exact_match's greedy decoding counts the problem right."""
    run, _ = trained
    tokenizer = load(run / "tokenizer.json")
    data = load_data(netspec.load_spec(SPEC), "language_model", tokenizer=tokenizer)
    assert data.test is not None
    x, y = data.test.x, data.test.y
    assert isinstance(x, torch.Tensor)
    model = netspec.load_model(run).eval()
    right = 0
    for i in range(20):
        trained_at = (y[i] != IGNORE).nonzero().flatten()
        prompt = tokenizer.decode(x[i, : int(trained_at[0]) + 1].tolist())
        answer = tokenizer.decode(y[i, trained_at[:-1]].tolist())  # then <eos>
        assert prompt.endswith("=")
        assert answer == prompt[:-1][::-1]  # the data: the letters reversed
        got = netspec.generate(run, prompt, max_new_tokens=10, temperature=0)
        scored = count_correct(
            model,
            x[i : i + 1],
            y[i : i + 1],
            batch_size=1,
            device=torch.device("cpu"),
            vocab_size=tokenizer.vocab_size,
            banned=never_generated(tokenizer),
        )
        assert (got == answer) == bool(scored), (prompt, got, answer)
        right += got == answer
    assert right >= 15


def test_evaluate_and_generate_commands_on_the_run(
    trained: tuple[pathlib.Path, netspec.RunResult],
) -> None:
    run, result = trained
    runner = CliRunner()
    evaluated = runner.invoke(app, ["evaluate", str(run), "--json"])
    assert evaluated.exit_code == 0, evaluated.output
    test = json.loads(evaluated.stdout)  # the test split, as training measured it
    assert test["exact_match"] == pytest.approx(result.test["exact_match"])
    assert test["perplexity"] == pytest.approx(result.test["perplexity"], rel=1e-5)
    generated = runner.invoke(
        app, ["generate", str(run), "--prompt", "abcde=", "--temperature", "0"]
    )
    assert generated.exit_code == 0, generated.output
    assert generated.stdout.startswith("abcde=")
    assert generated.stdout.strip() == "abcde=" + netspec.generate(run, "abcde=", temperature=0)


def test_a_head_tied_to_a_unit_normal_embedding_is_warned_about() -> None:
    """Tied to an N(0, 1) embedding the head's first logits are ~sqrt(E) large (the loss
    starts far above log V); `init_std` on the embedding quiets the warning."""
    from netspec.plan import warnings

    tied = SPEC.replace("init_std: 0.02, ", "")
    spec = netspec.load_spec(tied)
    found = [d for d in warnings(spec, netspec.plan(spec)) if d.code == "tied-init"]
    assert len(found) == 1
    assert found[0].path == ("layers", 4)
    assert "sqrt(64) = 8" in found[0].message
    assert "init_std: 0.02" in found[0].hints[0]
    quiet = netspec.load_spec(SPEC)
    assert not [d for d in warnings(quiet, netspec.plan(quiet)) if d.code == "tied-init"]
    # what it warns about: the untrained tied head's logits
    model = netspec.build_model(spec, seed=0).eval()
    logits = model(torch.randint(0, 11, (4, 11)))
    assert float(logits.std()) > 4.0
    small = netspec.build_model(quiet, seed=0).eval()(torch.randint(0, 11, (4, 11)))
    assert float(small.std()) < 0.5


def test_the_arithmetic_example_trains_and_reports_exact_match(tmp_path: pathlib.Path) -> None:
    """specs/arithmetic_gpt.yaml as shipped, on a few problems for one epoch (its learning is
    benchmarks/language_models.py's: minutes of CPU)."""
    root = pathlib.Path(__file__).parent.parent
    spec = netspec.load_spec(
        root / "specs" / "arithmetic_gpt.yaml",
        ["data.samples=400", "train.epochs=1", "train.early_stopping=null"],
    )
    result = netspec.train(spec, out=tmp_path / "run")
    assert set(result.test) == {"loss", "exact_match", "perplexity"}
    assert 0.0 <= result.test["exact_match"] <= 1.0
    assert result.test["perplexity"] == pytest.approx(math.exp(result.test["loss"]), rel=1e-4)
    assert (tmp_path / "run" / "tokenizer.json").is_file()
    answer = netspec.generate(tmp_path / "run", "12+30=", max_new_tokens=5, temperature=0)
    assert set(answer) <= set("0123456789+-*=")
