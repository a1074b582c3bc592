"""`netspec generate` and netspec.generate on a fabricated language-model run directory (the
files a training run leaves: spec.yaml, model.safetensors, run.json, tokenizer.json); the
oracle is greedy decoding by hand with the model's full forward and the tokenizer."""

from __future__ import annotations

import json
import pathlib
from collections.abc import Sequence

import pytest
import torch
from typer.testing import CliRunner

import netspec
from netspec.backend.artifacts import tied_keys
from netspec.cli.app import app
from netspec.sources import tokenizers
from netspec.training.rundir import INFO, RunDir
from netspec.training.textgen import TextGenerator

runner = CliRunner()
ALPHABET = "abcdefgh =+"

LM = """
name: tiny_char_lm
input: {shape: [16], dtype: int64}
layers:
  - embedding: {num_embeddings: 12, embedding_dim: 32}
  - positional_encoding: {kind: learned, max_len: 16}
  - transformer_encoder: {num_heads: 4, num_layers: 2, dim_feedforward: 64, causal: true}
  - layernorm
  - dense: 12
train: {task: language_model}
"""

RECURRENT = """
name: tiny_rnn_lm
input: {shape: [16], dtype: int64}
layers:
  - embedding: {num_embeddings: 12, embedding_dim: 16}
  - gru: {units: 24, return_sequences: true}
  - dense: 12
train: {task: language_model}
"""


def fabricate_run(folder: pathlib.Path, source: str = LM, seed: int = 0) -> torch.nn.Module:
    """What `netspec train` leaves for a language model, with freshly built weights."""
    spec = netspec.load_spec(source)
    model = netspec.build_model(spec, seed=seed)
    with torch.no_grad():  # logits far apart, so greedy is not decided by rounding
        model.get_submodule("dense_0").weight.mul_(8.0)
    run = RunDir.create(spec.name, folder)
    run.write_spec(spec)
    run.write_weights(model.state_dict(), spec.name, tied_keys(model))
    run.write_json(INFO, {"name": spec.name, "task": "language_model", "class_names": None})
    run.write_tokenizer(tokenizers.CharTokenizer(ALPHABET))
    return model.eval()


def greedy_text(model: torch.nn.Module, prompt: str, n: int) -> str:
    tok = tokenizers.CharTokenizer(ALPHABET)
    ids = tok.encode(prompt)
    start = len(ids)
    with torch.no_grad():
        for _ in range(n):
            nxt = int(model(torch.tensor([ids[-16:]]))[0, -1].argmax())
            if nxt == tok.eos_id:
                break
            ids.append(nxt)
    return tok.decode(ids[start:])


def test_greedy_generate_prints_the_prompt_and_the_greedy_continuation(
    tmp_path: pathlib.Path,
) -> None:
    model = fabricate_run(tmp_path / "run")
    expected = greedy_text(model, "abc", 30)  # past the context of 16
    assert len(expected) > 13
    args = ["generate", str(tmp_path / "run"), "--prompt", "abc", "-n", "30", "-t", "0"]
    result = runner.invoke(app, [*args, "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert result.stdout == "abc" + expected + "\n"
    assert result.stderr == ""  # the cache works: no note
    uncached = runner.invoke(app, [*args, "--no-cache", "--no-echo"])
    assert uncached.exit_code == 0, uncached.output
    assert uncached.stdout == expected + "\n"
    assert uncached.stderr == ""  # asked for: no note
    assert netspec.generate(tmp_path / "run", "abc", max_new_tokens=30, temperature=0) == expected


def test_sampling_is_reproducible_with_a_seed(tmp_path: pathlib.Path) -> None:
    fabricate_run(tmp_path / "run")
    args = ["generate", str(tmp_path / "run"), "-p", "ab", "-n", "40", "--top-k", "5"]
    first = runner.invoke(app, [*args, "--seed", "3"])
    again = runner.invoke(app, [*args, "--seed", "3"])
    other = runner.invoke(app, [*args, "--seed", "4"])
    assert first.exit_code == 0, first.output
    assert first.stdout == again.stdout
    assert first.stdout != other.stdout
    assert first.stdout.startswith("ab")


def test_a_model_without_a_cache_says_so_once_and_gives_the_same_text(
    tmp_path: pathlib.Path,
) -> None:
    model = fabricate_run(tmp_path / "run", RECURRENT)
    result = runner.invoke(app, ["generate", str(tmp_path / "run"), "-p", "fa", "-t", "0"])
    assert result.exit_code == 0, result.output
    assert result.stderr.count("note: no key-value cache") == 1
    assert "GRU" in result.stderr
    assert result.stdout == "fa" + greedy_text(model, "fa", 100) + "\n"


def test_a_character_outside_the_alphabet_is_a_user_error(tmp_path: pathlib.Path) -> None:
    fabricate_run(tmp_path / "run")
    result = runner.invoke(app, ["generate", str(tmp_path / "run"), "--prompt", "abz"])
    assert result.exit_code == 2
    assert "'z' is not in the tokenizer's alphabet" in result.stderr
    assert result.stdout == ""  # nothing printed before the error
    assert "Traceback" not in result.output


def test_a_run_without_a_tokenizer_is_not_a_language_model(tmp_path: pathlib.Path) -> None:
    fabricate_run(tmp_path / "run")
    (tmp_path / "run" / tokenizers.FILE).unlink()
    result = runner.invoke(app, ["generate", str(tmp_path / "run"), "--prompt", "abc"])
    assert result.exit_code == 2
    assert "tokenizer.json is missing" in result.stderr
    assert "not a language-model run" in result.stderr


def test_a_run_of_another_task_is_not_a_language_model(tmp_path: pathlib.Path) -> None:
    """A tokenizer.json (copied, or left over) does not make a classifier a language model:
    a user error, not an internal error from feeding token ids to its first dense layer."""
    fabricate_run(tmp_path / "run")
    classifier = netspec.load_spec("name: iris\ninput: [4]\nlayers:\n  - dense: 3\n")
    run = RunDir(tmp_path / "run")
    run.write_spec(classifier)
    model = netspec.build_model(classifier, seed=0)
    run.write_weights(model.state_dict(), classifier.name, tied_keys(model))
    result = runner.invoke(app, ["generate", str(tmp_path / "run"), "--prompt", "abc"])
    assert result.exit_code == 2
    assert "is a run of task classification, not a language model" in result.stderr
    assert "internal error" not in result.output


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("--temperature=-1", "--temperature"),
        ("--top-k=0", "--top-k"),
        (f"--seed={2**64}", "--seed"),  # torch.Generator's range: was an internal error
        (f"--seed={-(2**63) - 1}", "--seed"),
    ],
)
def test_bad_settings_are_user_errors(tmp_path: pathlib.Path, option: str, message: str) -> None:
    fabricate_run(tmp_path / "run")
    result = runner.invoke(app, ["generate", str(tmp_path / "run"), option])
    assert result.exit_code == 2
    assert message in result.stderr


class Scripted:
    """A decoder whose logits pick the next token of a script: the stream's oracle."""

    cached = True
    reason = None

    def __init__(self, script: Sequence[int], vocab: int) -> None:
        self.script, self.vocab, self.length = list(script), vocab, 0

    def start(self, ids: torch.Tensor, capacity: int) -> torch.Tensor:
        self.length = 0
        return self.feed(ids)

    def feed(self, ids: torch.Tensor) -> torch.Tensor:
        self.length += ids.shape[1]
        logits = torch.zeros(1, ids.shape[1], self.vocab)
        logits[0, -1, self.script.pop(0)] = 1.0
        return logits


def test_the_stream_holds_back_a_character_split_between_byte_tokens() -> None:
    tok = tokenizers.ByteTokenizer()
    text = "né€ok"
    script = [*text.encode("utf-8"), tok.eos_id]
    gen = TextGenerator(Scripted(script, tok.vocab_size), tok, None, torch.device("cpu"))
    pieces = list(gen.stream("x", max_new_tokens=50, temperature=0))
    assert "".join(pieces) == text
    assert all("\ufffd" not in piece for piece in pieces)
    assert pieces == ["n", "é", "€", "o", "k"]  # one piece per complete character


def test_run_json_is_what_a_run_leaves(tmp_path: pathlib.Path) -> None:
    fabricate_run(tmp_path / "run")
    info = json.loads((tmp_path / "run" / INFO).read_text())
    assert info["task"] == "language_model"
    assert RunDir.trained(tmp_path / "run").path == tmp_path / "run"


def test_the_stream_shows_bytes_that_never_make_a_character() -> None:
    """A stray continuation byte is not held forever: it shows as U+FFFD, like decode."""
    tok = tokenizers.ByteTokenizer()
    script = [0x80, *b"ab", 0xE2, 0x82, *b"c", 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, tok.eos_id]
    gen = TextGenerator(Scripted(script, tok.vocab_size), tok, None, torch.device("cpu"))
    pieces = list(gen.stream("x", max_new_tokens=50, temperature=0))
    assert "".join(pieces) == tok.decode(script[:-1])
    assert pieces[:3] == ["\ufffda", "b", "\ufffdc"]


def test_a_stray_byte_does_not_break_the_four_byte_character_after_it() -> None:
    """0xFF then the four bytes of an emoji: the stray byte shows as U+FFFD once four tokens
    are held, but the emoji's own bytes keep waiting for their last one."""
    tok = tokenizers.ByteTokenizer()
    script = [0xFF, *"😀!".encode(), tok.eos_id]
    gen = TextGenerator(Scripted(script, tok.vocab_size), tok, None, torch.device("cpu"))
    pieces = list(gen.stream("x", max_new_tokens=50, temperature=0))
    assert "".join(pieces) == "\ufffd😀!" == tok.decode(script[:-1])
    assert pieces == ["\ufffd", "😀", "!"]


WIDE = LM.replace("num_embeddings: 12", "num_embeddings: 20").replace("dense: 12", "dense: 20")


@pytest.mark.parametrize("pad", [False, True])
def test_ids_the_tokenizer_lacks_and_pad_are_never_generated(
    tmp_path: pathlib.Path, pad: bool
) -> None:
    """A head wider than the vocabulary (allowed: V >= the tokenizer's) has rows that never
    trained; they, and <pad>, which only fills samples, are never chosen, greedy or drawn,
    however large their logits."""
    model = fabricate_run(tmp_path / "run", WIDE)
    tokenizer = tokenizers.CharTokenizer(ALPHABET, pad=pad)
    RunDir(tmp_path / "run").write_tokenizer(tokenizer)
    unwanted = list(range(tokenizer.vocab_size, 20))
    if pad:
        unwanted.append(0)  # <pad>
    with torch.no_grad():
        head = model.get_submodule("dense_0")
        head.bias[unwanted] += 1000.0  # they would win every step
    run = RunDir(tmp_path / "run")
    run.write_weights(model.state_dict(), "wide", tied_keys(model))
    for temperature, top_k in ((0.0, None), (1.0, None), (2.0, 3)):
        text = netspec.generate(
            tmp_path / "run", "ab", max_new_tokens=20, temperature=temperature, top_k=top_k, seed=1
        )
        assert text, (temperature, top_k)
        assert set(text) <= set(ALPHABET), (temperature, top_k, text)


def test_a_tokenizer_larger_than_the_head_is_refused(tmp_path: pathlib.Path) -> None:
    fabricate_run(tmp_path / "run")
    RunDir(tmp_path / "run").write_tokenizer(tokenizers.CharTokenizer("abcdefghijklmnopq"))
    result = runner.invoke(app, ["generate", str(tmp_path / "run"), "-p", "ab", "-t", "0"])
    assert result.exit_code == 2, result.output
    assert "18 tokens, but the model predicts 12" in result.stderr
    assert result.stdout == ""  # refused before the prompt is echoed


def test_an_unknown_device_is_a_user_error(tmp_path: pathlib.Path) -> None:
    fabricate_run(tmp_path / "run")
    for device in ("foo", "cuda:x"):
        result = runner.invoke(
            app, ["generate", str(tmp_path / "run"), "-p", "a", "--device", device]
        )
        assert result.exit_code == 2, result.output
        assert f"--device {device}: unknown device" in result.stderr


def test_a_prompt_longer_than_the_context_is_noted(tmp_path: pathlib.Path) -> None:
    fabricate_run(tmp_path / "run")
    prompt = "abcdefgh" * 3  # 24 tokens, context 16
    result = runner.invoke(app, ["generate", str(tmp_path / "run"), "-p", prompt, "-t", "0"])
    assert result.exit_code == 0, result.output
    assert "the prompt has 24 tokens and the model's context 16" in result.stderr
    assert result.stdout.startswith(prompt)
    short = runner.invoke(app, ["generate", str(tmp_path / "run"), "-p", "abc", "-t", "0"])
    assert short.stderr == ""
