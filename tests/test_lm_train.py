"""Language-model training (task language_model): a tiny causal transformer learns to
reverse short words; the objective, the metrics (perplexity, next-token accuracy,
exact_match), weight decay's parameter groups, warmup in steps, the causality checks, the run
directory and resume. The data are built by hand in the agreed format (netspec.data.Dataset
with a CharTokenizer; x = s[:-1], y = s[1:] with IGNORE outside the answer and its eos)."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file
from torch.nn import functional as F
from typer.testing import CliRunner

import netspec
from netspec.backend.build import build_model
from netspec.cli.app import app
from netspec.data.dataset import Dataset, Split
from netspec.errors import SpecError
from netspec.sources import tokenizers
from netspec.sources.tokenizers import IGNORE, CharTokenizer
from netspec.spec import language_model
from netspec.spec.load import load_spec
from netspec.training import NullReporter, TrainingInterrupted, evaluate, predict, train
from netspec.training.exact_match import count_correct
from netspec.training.loop import evaluate_split
from netspec.training.losses import make_objective
from netspec.training.metrics import make_metrics
from netspec.training.optim import Schedule, make_optimizer, parameter_groups
from netspec.training.rundir import RunDir

TOKENIZER = CharTokenizer("abcd=", pad=True)  # <pad> 0, <eos> 1, then a b c d =
V = TOKENIZER.vocab_size
LENGTHS = (2, 3)
T = 2 * max(LENGTHS) + 1  # the longest sample: word, "=", reversed word, <eos> = T + 1


def reverse_problems(lengths: tuple[int, ...] = LENGTHS) -> tuple[torch.Tensor, torch.Tensor]:
    """Every word of 2 or 3 letters of abcd: prompt "word=", answer the word reversed."""
    xs, ys = [], []
    for k in lengths:
        for letters in itertools.product("abcd", repeat=k):
            word = "".join(letters)
            prompt = TOKENIZER.encode(word + "=")
            answer = [*TOKENIZER.encode(word[::-1]), TOKENIZER.eos_id]
            s = prompt + answer
            s += [TOKENIZER.pad_id or 0] * (T + 1 - len(s))
            y = [IGNORE] * T
            for i in range(len(prompt) - 1, len(prompt) - 1 + len(answer)):
                y[i] = s[i + 1]
            xs.append(s[:-1])
            ys.append(y)
    return torch.tensor(xs), torch.tensor(ys)


def problem_data(repeat: int = 4, *, problems: bool = True) -> Dataset:
    x, y = reverse_problems()
    return Dataset(
        name="reverse",
        task="language_model",
        train=Split(x.repeat(repeat, 1), y.repeat(repeat, 1)),
        val=Split(x, y),
        test=Split(x, y),
        num_classes=None,
        class_names=None,
        feature_names=None,
        standardizer=None,
        input_shape=(T,),
        input_dtype="int64",
        raw_shape=(T,),
        tokenizer=TOKENIZER,
        problems=problems,
    )


def lm_spec(
    train_text: str,
    *,
    vocab: int = V,
    mixer: str = "transformer_encoder: {num_heads: 4, num_layers: 2, causal: true, "
    "dim_feedforward: 64, dropout: 0.0}",
    head: str = "",
) -> str:
    return (
        "name: reverse\n"
        f"input: {{shape: [{T}], dtype: int64}}\n"
        "layers:\n"
        f"  - embedding: {{num_embeddings: {V}, embedding_dim: 32}}\n"
        f"  - positional_encoding: {{kind: learned, max_len: {T}}}\n"
        f"  - {mixer}\n"
        "  - layernorm\n"
        f"  - dense: {{units: {vocab}{head}}}\n"
        "train:\n"
        "  task: language_model\n" + "".join(f"  {line}\n" for line in train_text.splitlines())
    )


LEARN = """epochs: 12
batch_size: 32
optimizer: {type: adamw, lr: 3.0e-3}
metrics: [perplexity, accuracy, exact_match]"""


@pytest.fixture(autouse=True)
def no_curves(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(RunDir, "write_curves", lambda self, rows, title: None)


@pytest.fixture(scope="module")
def half_trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run stopped after 4 epochs: it answers some problems right and some wrong."""
    run = tmp_path_factory.mktemp("lm") / "run"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(RunDir, "write_curves", lambda self, rows, title: None)
        train(lm_spec(LEARN.replace("epochs: 12", "epochs: 4")), out=run, data=problem_data())
    return run


# -- learning --------------------------------------------------------------------------


def test_a_tiny_causal_transformer_learns_to_reverse_words(tmp_path: Path) -> None:
    result = train(lm_spec(LEARN), out=tmp_path / "run", data=problem_data())
    perplexities = [row["val_perplexity"] for row in result.history]
    assert perplexities[-1] < 0.5 * perplexities[0]
    assert result.test["exact_match"] >= 0.9
    assert result.test["accuracy"] >= 0.9
    saved = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert saved["test"]["perplexity"] == pytest.approx(result.test["perplexity"])
    assert saved["test"]["exact_match"] == result.test["exact_match"]
    header = (tmp_path / "run" / "metrics.csv").read_text().splitlines()[0].split(",")
    assert {"val_perplexity", "val_accuracy", "val_exact_match"} <= set(header)
    reloaded = tokenizers.load(tmp_path / "run" / tokenizers.FILE)
    assert reloaded.to_json() == TOKENIZER.to_json()


def test_early_stopping_on_exact_match_keeps_the_best_answering_epoch(tmp_path: Path) -> None:
    settings = LEARN.replace("epochs: 12", "epochs: 5") + (
        "\nearly_stopping: {monitor: val_exact_match, patience: 5}"
    )
    result = train(lm_spec(settings), out=tmp_path / "run", data=problem_data())
    scores = [row["val_exact_match"] for row in result.history]
    assert result.monitor == "val_exact_match"
    assert result.best_epoch == 1 + scores.index(max(scores))  # maximised (mode auto)
    assert result.test["exact_match"] == pytest.approx(max(scores))  # test = val here


# -- the objective and the metrics -----------------------------------------------------


def test_the_loss_is_the_mean_cross_entropy_over_trained_tokens() -> None:
    spec = load_spec(lm_spec(""))
    _, y = reverse_problems()
    objective = make_objective(spec, spec.train, (T, V), (T,), y, None, vocab_size=V)
    logits = torch.randn(len(y), T, V, generator=torch.Generator().manual_seed(0))
    trained = y != IGNORE
    picked = logits.log_softmax(-1).gather(-1, y.clamp_min(0).unsqueeze(-1)).squeeze(-1)
    by_hand = -(picked * trained).sum() / trained.sum()
    assert objective.loss(logits, objective.targets(y)).item() == pytest.approx(by_hand.item())
    assert objective.targets(y).dtype == torch.int64


def test_a_head_smaller_than_the_vocabulary_is_a_located_error() -> None:
    spec = load_spec(lm_spec("", vocab=V - 1))
    with pytest.raises(SpecError) as info:
        train(spec, data=problem_data())
    diag = info.value.diagnostics[0]
    assert diag.path == ("train", "task")
    assert f"vocabulary has {V} tokens" in diag.message
    assert f"{V - 1} logits" in diag.message


def test_perplexity_and_accuracy_are_token_weighted_over_the_split(half_trained: Path) -> None:
    model = netspec.load_model(half_trained).eval()
    spec = load_spec(half_trained / "spec.yaml")
    x, y = reverse_problems()
    objective = make_objective(spec, spec.train, (T, V), (T,), y, None)
    metrics = make_metrics("language_model", ("perplexity", "accuracy"), V, torch.device("cpu"))
    # batches of 7 rows: their trained-token counts differ, so a mean of batch means would not do
    found = evaluate_split(
        model, objective, metrics, x, y, batch_size=7, device=torch.device("cpu")
    )
    with torch.no_grad():
        logits = model(x)
    trained = y != IGNORE
    mean_ce = F.cross_entropy(logits.flatten(0, 1), y.flatten(), reduction="sum") / trained.sum()
    assert found["perplexity"] == pytest.approx(math.exp(mean_ce.item()), rel=1e-5)
    assert found["loss"] == pytest.approx(mean_ce.item(), rel=1e-5)  # log perplexity
    right = (logits.argmax(-1) == y) & trained
    assert found["accuracy"] == pytest.approx((right.sum() / trained.sum()).item())
    assert 1.0 < found["perplexity"] < V


def greedy_one_by_one(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """The oracle: each problem alone, its prompt then the tokens generated so far, padded
    with a token other than the batched decoder's to the model's length."""
    correct = 0
    for row, target in zip(x, y, strict=True):
        first = int(torch.nonzero(target != IGNORE)[0])
        expected = target[target != IGNORE].tolist()
        seq = row[: first + 1].tolist()
        generated: list[int] = []
        while len(generated) < len(expected):
            padded = torch.tensor([seq + [3] * (T - len(seq))])
            with torch.no_grad():
                token = int(model(padded)[0, len(seq) - 1].argmax())
            generated.append(token)
            seq.append(token)
            if token == TOKENIZER.eos_id:
                break
        correct += generated == expected
    return correct / len(x)


def test_exact_match_is_greedy_decoding_of_each_answer(half_trained: Path) -> None:
    model = netspec.load_model(half_trained).eval()
    x, y = reverse_problems()
    found = count_correct(model, x, y, batch_size=5, device=torch.device("cpu")) / len(x)
    assert found == greedy_one_by_one(model, x, y)
    assert 0.0 < found < 1.0  # some right, some wrong: the comparison means something
    history = json.loads((half_trained / "metrics.json").read_text())
    assert history["test"]["exact_match"] == pytest.approx(found)


def test_evaluate_an_lm_run_reloads_its_tokenizer(
    half_trained: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    given: list[Any] = []

    def load_dataset(spec: Any, task: str, tokenizer: Any = None) -> Dataset:
        given.append(tokenizer)
        return problem_data()

    monkeypatch.setattr("netspec.training.session.load_dataset", load_dataset)
    found = evaluate(half_trained)
    assert given[0].to_json() == TOKENIZER.to_json()
    saved = json.loads((half_trained / "metrics.json").read_text())["test"]
    assert found.keys() == saved.keys()
    for key, value in saved.items():
        assert found[key] == pytest.approx(value, rel=1e-5)


def test_predict_on_an_lm_run_points_to_generate(half_trained: Path, tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="netspec generate"):
        predict(half_trained, torch.zeros(1, T, dtype=torch.int64))
    samples = tmp_path / "x.npy"
    import numpy as np

    np.save(samples, np.zeros((1, T), dtype=np.int64))
    result = CliRunner().invoke(app, ["predict", str(half_trained), str(samples)])
    assert result.exit_code == 2
    assert "netspec generate" in result.output
    assert "Traceback" not in result.output


def test_exact_match_on_text_data_is_an_error_at_the_metric(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as info:
        train(lm_spec(LEARN), out=tmp_path / "run", data=problem_data(problems=False))
    diag = info.value.diagnostics[0]
    assert diag.path == ("train", "metrics", 2)
    assert "exact_match" in diag.message
    assert not (tmp_path / "run").exists()


# -- optimizer: weight decay groups, warmup in steps, clipping ----------------------------

GPT = f"""
input: {{shape: [{T}], dtype: int64}}
layers:
  - embedding: {{num_embeddings: {V}, embedding_dim: 16}}
  - positional_encoding: {{kind: learned, max_len: {T}}}
  - transformer_encoder: {{num_heads: 2, num_layers: 1, causal: true, dim_feedforward: 32}}
  - layernorm
  - dense: {{units: {V}, tie: embedding_0}}
train:
  task: language_model
  optimizer: OPTIMIZER
"""


def steps_with(optimizer: torch.optim.Optimizer, model: torch.nn.Module) -> dict[str, Any]:
    x, y = reverse_problems()
    for i in range(4):
        rows = slice(16 * i, 16 * (i + 1))
        loss = F.cross_entropy(model(x[rows]).flatten(0, 1), y[rows].flatten())
        optimizer.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]
        optimizer.step()
    return {k: v.clone() for k, v in model.state_dict().items()}


@pytest.mark.parametrize(
    ("no_decay", "skipped"),
    [
        ("", ("bias", "norm")),  # the language model's default
        ("no_decay: [bias, norm, embedding], ", ("bias", "norm", "embedding_0", "positional")),
        ("no_decay: [], ", ()),
    ],
)
def test_weight_decay_groups_match_a_hand_made_adamw(no_decay: str, skipped: tuple[str]) -> None:
    options = f"{{type: adamw, lr: 0.01, {no_decay}weight_decay: 0.5}}"
    spec = load_spec(GPT.replace("OPTIMIZER", options))
    settings = spec.train
    assert settings is not None
    model = build_model(spec, seed=0)
    ours = make_optimizer(settings, parameter_groups(settings, model))
    names = {id(p): n for n, p in model.named_parameters()}  # a tied weight once
    decayed = [n for n in names.values() if not any(s in n for s in skipped)]
    assert [names[id(p)] for p in ours.param_groups[0]["params"]] == decayed
    assert sum(len(g["params"]) for g in ours.param_groups) == len(names)
    twin = build_model(spec, seed=0)
    params = dict(twin.named_parameters())
    rest = [params[n] for n in names.values() if n not in decayed]
    hand = torch.optim.AdamW(
        [{"params": [params[n] for n in decayed]}]
        + ([{"params": rest, "weight_decay": 0.0}] if rest else []),
        lr=0.01,
        weight_decay=0.5,
    )
    torch.manual_seed(0)
    a = steps_with(ours, model)
    torch.manual_seed(0)
    b = steps_with(hand, twin)
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    # and the groups matter: decaying everything ends elsewhere (unless nothing is skipped)
    every = build_model(spec, seed=0)
    torch.manual_seed(0)
    c = steps_with(torch.optim.AdamW(every.parameters(), lr=0.01, weight_decay=0.5), every)
    assert (not skipped) == all(torch.equal(a[k], c[k]) for k in a)


def test_other_tasks_keep_one_parameter_group() -> None:
    spec = load_spec("input: [4]\nlayers: [{dense: 3}]\ntrain: {optimizer: {type: adamw}}")
    model = build_model(spec, seed=0)
    settings = spec.train
    assert settings is not None
    assert len(make_optimizer(settings, parameter_groups(settings, model)).param_groups) == 1


def test_warmup_steps_rise_linearly_then_cosine() -> None:
    spec = load_spec(
        "input: [4]\nlayers: [{dense: 3}]\ntrain: {epochs: 3, optimizer: {type: sgd, lr: 0.1}, "
        "scheduler: {type: cosine, warmup_steps: 5, min_lr: 0.01}}"
    )
    settings = spec.train
    assert settings is not None
    optimizer = torch.optim.SGD(build_model(spec).parameters(), lr=0.1)
    schedule = Schedule(optimizer, settings, steps_per_epoch=4)
    total, warm = 12, 5

    def by_hand(s: int) -> float:
        ramp = min(1.0, (s + 1) / warm)
        t = min(1.0, max(0.0, (s - warm) / (total - warm)))
        return ramp * (0.01 + (0.1 - 0.01) * 0.5 * (1 + math.cos(math.pi * t)))

    assert [schedule.lr_at(s) for s in range(total)] == pytest.approx(
        [by_hand(s) for s in range(total)]
    )
    assert schedule.lr_at(0) == pytest.approx(0.1 / 5)
    assert schedule.lr_at(4) == pytest.approx(0.1)


def test_warmup_in_epochs_and_in_steps_is_a_located_error() -> None:
    with pytest.raises(SpecError) as info:
        load_spec(lm_spec("scheduler: {type: cosine, warmup_epochs: 1, warmup_steps: 10}"))
    diag = info.value.diagnostics[0]
    assert diag.path == ("train", "scheduler", "warmup_steps")
    assert diag.location.line == 11


def test_grad_clip_bounds_each_step_of_lm_training(tmp_path: Path) -> None:
    # sgd without momentum: a clipped step moves the weights by at most lr x grad_clip
    settings = "epochs: 1\nbatch_size: 80\noptimizer: {type: sgd, lr: 1.0}\n"
    start = build_model(load_spec(lm_spec(settings)), seed=0).state_dict()

    def moved(extra: str, run: str) -> float:
        train(lm_spec(settings + extra), out=tmp_path / run, data=problem_data(2))
        end = load_file(str(tmp_path / run / "model.safetensors"))
        return math.sqrt(sum(float((end[k] - start[k]).pow(2).sum()) for k in end))

    assert moved("grad_clip: 0.001", "clipped") <= 2 * 0.001 * (1 + 1e-4)  # 2 steps
    assert moved("", "free") > 0.1


# -- causality -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mixer", "path", "says"),
    [
        ("transformer_encoder: {num_heads: 2, num_layers: 1}", ("layers", 2), "every position"),
        ("multihead_attention: {num_heads: 2}", ("layers", 2), "self-attention"),
        (
            "lstm: {hidden_size: 32, bidirectional: true, return_sequences: true}",
            ("layers", 2, "lstm", "bidirectional"),
            "bidirectional",
        ),
    ],
    ids=["encoder", "attention", "bidirectional-lstm"],
)
def test_layers_that_see_later_tokens_are_validation_errors(
    mixer: str, path: tuple[Any, ...], says: str
) -> None:
    with pytest.raises(SpecError) as info:
        netspec.plan(lm_spec("", mixer=mixer))
    diag = info.value.diagnostics[0]
    assert diag.code == "not-causal"
    assert diag.path == path
    assert says in diag.message
    assert diag.location.line == 6
    assert diag.hints


def test_a_decoder_made_non_causal_is_an_error_at_its_causal_key() -> None:
    text = lm_spec("", mixer="dense: {units: 32, name: memory}").replace(
        "  - layernorm\n",
        "  - transformer_decoder: {num_heads: 2, num_layers: 1, causal: false, "
        "from: [memory, memory]}\n  - layernorm\n",
    )
    with pytest.raises(SpecError) as info:
        netspec.plan(text)
    diag = info.value.diagnostics[0]
    assert diag.code == "not-causal"
    assert diag.path == ("layers", 3, "transformer_decoder", "causal")


def test_an_output_that_is_not_per_position_is_an_error_at_the_task() -> None:
    text = lm_spec("").replace("  - layernorm\n", "  - flatten\n")
    with pytest.raises(SpecError) as info:
        netspec.plan(text)
    diag = info.value.diagnostics[0]
    assert diag.path == ("train", "task")
    assert f"(N, {T}, V)" in diag.message
    assert diag.location.line == 10


def test_the_same_layers_are_fine_for_other_tasks() -> None:
    text = lm_spec("", mixer="transformer_encoder: {num_heads: 2, num_layers: 1}")
    netspec.plan(text.replace("task: language_model", "task: classification"))


def test_a_convolution_that_reads_ahead_is_caught_when_training_starts(tmp_path: Path) -> None:
    mixer = (
        "permute: [2, 1]\n  - conv1d: {filters: 32, kernel_size: 3, padding: same}\n"
        "  - permute: [2, 1]"
    )
    text = lm_spec("epochs: 1", mixer=mixer)
    netspec.plan(text)  # validate cannot know: a convolution is causal with other padding
    with pytest.raises(SpecError) as info:
        train(text, out=tmp_path / "run", data=problem_data())
    diag = info.value.diagnostics[0]
    assert diag.code == "not-causal"
    assert diag.path == ("train", "task")
    assert f"position {T - 2}" in diag.message  # the one before the changed last token
    assert not (tmp_path / "run").exists()


def test_exact_match_on_a_text_source_is_a_validation_error() -> None:
    text = lm_spec("metrics: [perplexity, exact_match]") + "data: {source: digits}\n"
    with pytest.raises(SpecError) as info:
        load_spec(text)
    found = [d for d in info.value.diagnostics if d.path == ("train", "metrics", 1)]
    assert found
    assert "exact_match" in found[0].message


def test_a_source_that_says_it_gives_problems_takes_exact_match(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Problems:
        language = "problems"

    monkeypatch.setattr(language_model.sources, "get", lambda name: Problems())
    assert language_model.is_problem_source("digits") is True
    assert language_model.is_problem_source("no such source") is None


# -- resume ----------------------------------------------------------------------------

RESUMABLE = """epochs: 3
batch_size: 32
optimizer: {type: adamw, lr: 3.0e-3, weight_decay: 0.1}
scheduler: {type: cosine, warmup_steps: 4}
grad_clip: 1.0
metrics: [perplexity, exact_match]"""


class StopAt(NullReporter):
    """Ctrl-C (as the loop sees it) after a given batch."""

    def __init__(self, batch: int) -> None:
        self.batch = batch

    def on_batch(self, step: int, loss: float) -> None:
        if step == self.batch:
            raise KeyboardInterrupt


def test_resume_reproduces_the_uninterrupted_lm_run(tmp_path: Path) -> None:
    spec = lm_spec(
        RESUMABLE,
        mixer="transformer_encoder: {num_heads: 2, num_layers: 1, causal: true, "
        "dim_feedforward: 32, dropout: 0.1}",
    )
    data = problem_data(2)
    whole = train(spec, out=tmp_path / "whole", data=data)
    with pytest.raises(TrainingInterrupted):
        train(spec, out=tmp_path / "cut", data=data, reporter=StopAt(7))  # in epoch 2
    resumed = train(resume=tmp_path / "cut", data=data)

    def weights(run: str) -> dict[str, torch.Tensor]:
        return dict(torch.load(tmp_path / run / "last.ckpt", weights_only=True)["model"])

    a, b = weights("whole"), weights("cut")
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)

    def without_time(rows: Any) -> list[dict[str, float]]:
        return [{k: v for k, v in row.items() if k != "seconds"} for row in rows]

    assert without_time(whole.history) == without_time(resumed.history)
    assert whole.test == resumed.test
    assert (tmp_path / "cut" / tokenizers.FILE).is_file()


def test_resume_reads_the_text_with_the_runs_own_tokenizer(tmp_path: Path) -> None:
    """A char tokenizer is the corpus's alphabet: if the text gained a character between
    the cut and the resume, rebuilding it would shift every id under the trained weights
    (and tokenizer.json would no longer match them). The resumed run reads the text with
    its saved tokenizer, so the new character is a located error."""
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("abcd ba dc " * 40, encoding="utf-8")
    spec = (
        "name: chars\ninput: {shape: [8], dtype: int64}\nlayers:\n"
        "  - embedding: {num_embeddings: 12, embedding_dim: 8}\n"
        "  - positional_encoding: {kind: learned, max_len: 8}\n"
        "  - transformer_encoder: {num_heads: 2, num_layers: 1, causal: true, "
        "dim_feedforward: 8, dropout: 0.0}\n"
        "  - dense: 12\n"
        f"data: {{source: text, path: {corpus}}}\n"
        "train: {task: language_model, epochs: 2, batch_size: 8}\n"
    )
    with pytest.raises(TrainingInterrupted):
        train(spec, out=tmp_path / "cut", reporter=StopAt(2))
    corpus.write_text("!" + "abcd ba dc " * 40, encoding="utf-8")  # "!" sorts first
    with pytest.raises(SpecError, match="'!' is not in the tokenizer's alphabet"):
        train(resume=tmp_path / "cut")


# -- the commands ----------------------------------------------------------------------


def test_netspec_train_and_evaluate_an_lm_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        "netspec.training.session.load_dataset", lambda spec, task, tokenizer=None: problem_data()
    )
    spec = tmp_path / "reverse.yaml"
    spec.write_text(lm_spec(LEARN.replace("epochs: 12", "epochs: 2")), encoding="utf-8")
    run = tmp_path / "run"
    result = CliRunner().invoke(app, ["train", str(spec), "--device", "cpu", "-o", str(run)])
    assert result.exit_code == 0, result.output
    summary = next(line for line in result.stdout.splitlines() if "test:" in line)
    assert "perplexity" in summary
    assert "exact_match" in summary
    assert (run / tokenizers.FILE).is_file()
    shown = CliRunner().invoke(app, ["evaluate", str(run), "--json"])
    assert shown.exit_code == 0, shown.output
    found = json.loads(shown.stdout)
    saved = json.loads((run / "metrics.json").read_text())["test"]
    assert found == pytest.approx(saved, rel=1e-5)
