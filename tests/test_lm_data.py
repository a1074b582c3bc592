"""Language-model data (task language_model): the text, arithmetic, copy and reverse sources,
their samples (x, y with IGNORE), splits that never leak, and the validate-time checks."""

from __future__ import annotations

import pathlib

import pytest
import torch
from typer.testing import CliRunner

from netspec.cli.app import app
from netspec.data import Dataset, load_data
from netspec.data.language import encode_problem, window_count
from netspec.data.prepare import split_indices
from netspec.errors import ERROR_CODES, SpecError
from netspec.plan import plan
from netspec.sources import get
from netspec.sources.tokenizers import (
    IGNORE,
    BPETokenizer,
    ByteTokenizer,
    CharTokenizer,
    from_json,
)
from netspec.spec.load import Spec, load_spec

LM = "train: {task: language_model}\n"


def lm_spec(input_: str, data: str, vocab: int = 16, train: str = LM) -> str:
    return (
        f"input: {input_}\nlayers:\n"
        f"  - embedding: {{num_embeddings: {vocab}, embedding_dim: 8}}\n"
        f"  - dense: {vocab}\n"
        f"data: {data}\n{train}"
    )


def write(tmp_path: pathlib.Path, text: str) -> Spec:
    path = tmp_path / "spec.yaml"
    path.write_text(text, encoding="utf-8")
    return load_spec(path)


def spec_error(make: object) -> SpecError:
    with pytest.raises(SpecError) as info:
        make()  # type: ignore[operator]
    for d in info.value.diagnostics:
        assert d.code in ERROR_CODES
    return info.value


def splits(data: Dataset) -> list[tuple[str, torch.Tensor, torch.Tensor]]:
    found = [("train", data.train.x, data.train.y)]
    found += [(n, s.x, s.y) for n, s in (("val", data.val), ("test", data.test)) if s is not None]
    return found  # type: ignore[return-value]


def problem_of(data: Dataset, x: torch.Tensor, y: torch.Tensor) -> tuple[str, str]:
    """(prompt, answer) of one sample, read back by the agreed format: the prompt ends where
    the first trained target starts, the answer is the trained run of y before <eos>."""
    tok = data.tokenizer
    assert tok is not None
    trained = (y != IGNORE).nonzero().flatten().tolist()
    assert trained == list(range(trained[0], trained[-1] + 1)), "one contiguous answer"
    assert int(y[trained[-1]]) == tok.eos_id
    prompt = tok.decode(x[: trained[0] + 1].tolist())
    answer = tok.decode(y[trained[0] : trained[-1]].tolist())
    return prompt, answer


# --- tokenizers ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "tokenizer",
    [
        CharTokenizer.of_text(["héllo wörld\n", "zebra"]),
        CharTokenizer("0123456789+-*=", pad=True),
        ByteTokenizer(),
    ],
    ids=["char", "char-pad", "byte"],
)
def test_tokenizers_round_trip(tokenizer: CharTokenizer | ByteTokenizer) -> None:
    text = "0123+4=" if tokenizer.pad_id is not None else "héllo zebra wörld\n"
    ids = tokenizer.encode(text)
    assert all(0 <= i < tokenizer.vocab_size for i in ids)
    assert tokenizer.eos_id not in ids
    assert tokenizer.decode(ids) == text
    again = from_json(tokenizer.to_json())
    assert again.encode(text) == ids
    assert again.vocab_size == tokenizer.vocab_size


def test_bpe_round_trips() -> None:
    pytest.importorskip("tokenizers")
    bpe = BPETokenizer.train(["the cat sat on the mat " * 50], 300)
    text = "the mat sat; ünïcode too"
    assert bpe.decode(bpe.encode(text)) == text
    assert len(bpe.encode("the cat")) < len("the cat")  # merges learnt
    assert bpe.vocab_size <= 300


def test_bpe_encodes_the_text_eos_as_characters() -> None:
    """Special tokens never come out of encode (the module's contract, as for char and
    byte): Hugging Face matches added tokens in raw text, so a corpus or prompt holding the
    five characters "<eos>" (netspec's own docs do) got a document boundary there. Also
    for a tokenizer read back from its JSON."""
    pytest.importorskip("tokenizers")
    bpe = BPETokenizer.train(["a <eos> marks the end " * 20], 300)
    for tok in (bpe, from_json(bpe.to_json())):
        ids = tok.encode("the end<eos>")
        assert tok.eos_id not in ids
        assert tok.decode(ids) == "the end<eos>"


@pytest.mark.parametrize(
    "data",
    [
        "{source: arithmetic, digits: 1, seed: -1}",
        "{source: reverse, length: 3, seed: -1}",
        "{source: arithmetic, digits: 1, split: {seed: -1}}",
    ],
)
def test_a_negative_seed_is_a_spec_error_not_an_internal_one(data: str) -> None:
    """numpy's default_rng refuses negative seeds: validate let them through and loading
    the data stopped with "expected non-negative integer"."""
    error = spec_error(lambda: load_data(load_spec(lm_spec("{shape: [7], dtype: int64}", data))))
    assert "seed" in error.diagnostics[0].path


# --- arithmetic ------------------------------------------------------------------------------


def test_arithmetic_samples_decode_to_true_sums() -> None:
    data = load_data(load_spec(lm_spec("{shape: [12], dtype: int64}", "{source: arithmetic}")))
    assert data.problems
    assert data.task == "language_model"
    assert data.tokenizer is not None
    assert data.tokenizer.vocab_size == 16
    assert data.num_classes == 16
    assert (len(data.train), len(data.val or []), len(data.test or [])) == (16_000, 2_000, 2_000)
    assert data.describe() == (
        "arithmetic: 16,000 train / 2,000 val / 2,000 test problems, 12 tokens, char vocabulary 16"
    )
    pad = data.tokenizer.pad_id
    for _, x, y in splits(data):
        assert x.dtype == torch.int64
        assert y.dtype == torch.int64
        assert x.shape == y.shape == (len(x), 12)
        for i in range(0, len(x), 97):
            prompt, answer = problem_of(data, x[i], y[i])
            a, b = prompt.removesuffix("=").split("+")
            assert len(a) <= 3
            assert len(b) <= 3
            assert int(answer) == int(a) + int(b)
            # y is x shifted by one wherever it is trained; x after the <eos> is padding
            trained = y[i] != IGNORE
            assert torch.equal(x[i][1:][trained[:-1]], y[i][:-1][trained[:-1]])
            end = int(trained.nonzero().max())  # y[end] is <eos>, so x[end + 1] is too
            if end + 1 < 12:
                assert int(x[i][end + 1]) == data.tokenizer.eos_id
            assert (x[i][end + 2 :] == pad).all()
            assert (y[i][end + 1 :] == IGNORE).all()


def test_arithmetic_operations_and_reversed_answers() -> None:
    text = lm_spec(
        "{shape: [T], dtype: int64}",
        "{source: arithmetic, digits: 2, operations: ['-', '*'], samples: 3000, "
        "reverse_answer: true, seed: 3}",
    )
    data = load_data(load_spec(text))
    # symbolic input: padded to the longest possible problem, 2+1+2+1 prompt, 4 digits, <eos>
    assert data.input_shape == (10,)
    seen = set()
    for _, x, y in splits(data):
        for i in range(len(x)):
            prompt, answer = problem_of(data, x[i], y[i])
            op = "-" if "-" in prompt else "*"
            a, b = (int(v) for v in prompt.removesuffix("=").split(op))
            value = a - b if op == "-" else a * b
            sign = "-" if value < 0 else ""
            assert answer == sign + str(abs(value))[::-1]
            seen.add(op)
    assert seen == {"-", "*"}


def test_encode_problem_matches_the_agreed_format() -> None:
    tok = CharTokenizer("0123456789+-*=", pad=True)
    x, y = encode_problem(tok, "12+3=", "15", 9)
    s = tok.encode("12+3=15") + [tok.eos_id] + [tok.pad_id] * 2  # type: ignore[list-item]
    assert x == s[:-1]
    assert y == [IGNORE] * 4 + tok.encode("15") + [tok.eos_id] + [IGNORE] * 2
    p = 1 + next(i for i, t in enumerate(y) if t != IGNORE)
    assert tok.decode(x[:p]) == "12+3="


# --- copy and reverse ------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["copy", "reverse"])
def test_copy_and_reverse_problems(name: str) -> None:
    text = lm_spec("{shape: [13], dtype: int64}", f"{{source: {name}, vocab_size: 5}}", vocab=8)
    data = load_data(load_spec(text))
    assert data.problems
    assert data.tokenizer is not None
    assert data.tokenizer.vocab_size == 8
    for _, x, y in splits(data):
        assert x.shape == (len(x), 13)  # length 6: 6 letters, '=', 6 letters
        for i in range(len(x)):
            prompt, answer = problem_of(data, x[i], y[i])
            word = prompt.removesuffix("=")
            assert len(word) == 6
            assert set(word) <= set("abcde")
            assert answer == (word if name == "copy" else word[::-1])


def test_copy_keeps_its_classification_form() -> None:
    text = (
        "input: {shape: [9], dtype: int64}\nlayers:\n  - embedding: {num_embeddings: 8, "
        "embedding_dim: 4}\n  - dense: 8\ndata: {source: copy, samples: 40, delay: 2}\n"
    )
    data = load_data(load_spec(text))
    assert data.per_position
    assert data.tokenizer is None
    assert not data.problems
    x, y = data.train.x, data.train.y
    assert torch.equal(y[:, 2:], x[:, :-2])
    assert (y[:, :2] == 0).all()


# --- splits never leak -----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["arithmetic", "reverse"])
def test_no_problem_is_in_two_splits(name: str) -> None:
    options = (
        "digits: 1, samples: 100" if name == "arithmetic" else "length: 3, vocab: 5, samples: 100"
    )
    text = lm_spec("{shape: [T], dtype: int64}", f"{{source: {name}, {options}}}", vocab=16)
    data = load_data(load_spec(text))
    seen: dict[str, str] = {}
    for split, x, y in splits(data):
        for i in range(len(x)):
            prompt, _ = problem_of(data, x[i], y[i])
            assert prompt not in seen, (prompt, seen.get(prompt), split)
            seen[prompt] = split
    assert len(seen) == 100


def numbered(n: int, tag: str = "") -> str:
    return "".join(f"{tag}{i:05d}\n" for i in range(n))


def stream_of(data: Dataset, x: torch.Tensor, y: torch.Tensor) -> str:
    """The text of non-overlapping windows (x of each, then the last target)."""
    assert data.tokenizer is not None
    return data.tokenizer.decode([*x.flatten().tolist(), int(y[-1, -1])])


def test_one_file_is_cut_into_contiguous_disjoint_segments(tmp_path: pathlib.Path) -> None:
    text = numbered(500)
    (tmp_path / "corpus.txt").write_text(text, encoding="utf-8")
    spec = write(
        tmp_path,
        lm_spec("{shape: [16], dtype: int64}", "{source: text, path: corpus.txt}", vocab=12),
    )
    data = load_data(spec)
    assert not data.problems
    n = len(text)
    n_val = n_test = round(n * 0.1)
    segments = {
        "train": text[: n - n_val - n_test],
        "val": text[n - n_val - n_test : n - n_test],
        "test": text[n - n_test :],
    }
    for name, x, y in splits(data):
        assert x.shape[1] == 16
        assert torch.equal(x[:, 1:], y[:, :-1])
        got = stream_of(data, x, y)
        assert segments[name].startswith(got)
        assert len(segments[name]) - len(got) < 17  # only the tail too short for a window


def test_a_folder_is_split_by_document(tmp_path: pathlib.Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    for i in range(10):
        (folder / f"d{i}.txt").write_text(numbered(40, tag="ABCDEFGHIJ"[i]), encoding="utf-8")
    (folder / "skip.md").write_text("not a document", encoding="utf-8")
    spec = write(
        tmp_path, lm_spec("{shape: [32], dtype: int64}", "{source: text, path: docs}", vocab=24)
    )
    data = load_data(spec)
    assert data.tokenizer is not None
    assert "#" not in data.tokenizer.to_json()["alphabet"]  # the .md file is no document
    parts = split_indices(10, 0.1, 0.1, 0)
    owner = {}
    for name, x, y in splits(data):
        tags = set(stream_of(data, x, y)) & set("ABCDEFGHIJ")
        for tag in tags:
            assert tag not in owner, f"document {tag} in {owner.get(tag)} and {name}"
            owner[tag] = name
    want = {
        name: idx
        for name, idx in (("train", parts.train), ("val", parts.val), ("test", parts.test))
    }
    for name, idx in want.items():
        assert idx is not None
        assert {t for t, n in owner.items() if n == name} == {"ABCDEFGHIJ"[i] for i in idx}
    # documents are joined by <eos> within a split
    assert (data.train.x == data.tokenizer.eos_id).any()


def test_stride_sets_the_training_windows(tmp_path: pathlib.Path) -> None:
    text = numbered(60)
    (tmp_path / "c.txt").write_text(text, encoding="utf-8")
    data_text = "{source: text, path: c.txt, stride: 3, split: {val: 0.2, test: 0}}"
    data = load_data(write(tmp_path, lm_spec("{shape: [8], dtype: int64}", data_text, vocab=12)))
    tok = data.tokenizer
    assert tok is not None
    assert data.test is None
    assert data.val is not None
    train_tokens = len(text) - round(len(text) * 0.2)
    assert len(data.train) == window_count(train_tokens, 8, 3) == (train_tokens - 9) // 3 + 1
    stream = tok.encode(text[:train_tokens])
    for k in (0, 1, len(data.train) - 1):
        assert data.train.x[k].tolist() == stream[3 * k : 3 * k + 8]
        assert data.train.y[k].tolist() == stream[3 * k + 1 : 3 * k + 9]
    # val windows never overlap, whatever the stride
    val_tokens = round(len(text) * 0.2)
    assert len(data.val) == window_count(val_tokens, 8, 8)
    assert torch.equal(data.val.x[1:, 0], data.val.y[:-1, -1])


def test_symbolic_length_takes_the_length_option(tmp_path: pathlib.Path) -> None:
    (tmp_path / "c.txt").write_text(numbered(50), encoding="utf-8")
    spec = write(
        tmp_path,
        lm_spec("{shape: [T], dtype: int64}", "{source: text, path: c.txt, length: 20}", vocab=12),
    )
    data = load_data(spec)
    assert data.input_shape == (20,)
    assert data.train.x.shape[1] == 20


def test_bpe_is_trained_on_the_training_split_only(tmp_path: pathlib.Path) -> None:
    pytest.importorskip("tokenizers")
    parts = split_indices(10, 0.1, 0.1, 0)
    held_out = {int(i) for i in (*parts.val, *parts.test)}  # type: ignore[misc]
    found = []
    for variant in ("one", "two"):
        folder = tmp_path / variant
        folder.mkdir()
        for i in range(10):
            body = (
                f"zyzzyva quokka {variant} " * 80
                if i in held_out
                else "the cat sat on the mat " * 40
            )
            (folder / f"d{i}.txt").write_text(body, encoding="utf-8")
        text = lm_spec(
            "{shape: [16], dtype: int64}",
            f"{{source: text, path: {variant}, tokenizer: bpe, vocab_size: 300}}",
            vocab=300,
        )
        data = load_data(write(tmp_path, text))
        assert data.tokenizer is not None
        assert data.tokenizer.kind == "bpe"
        found.append(data.tokenizer)
    assert found[0].to_json() == found[1].to_json()
    assert len(found[0].encode("quokka")) > 1  # never merged: a word of val/test only


def test_byte_tokenizer_and_the_saved_tokenizer(tmp_path: pathlib.Path) -> None:
    (tmp_path / "c.txt").write_text("héllo wörld " * 30, encoding="utf-8")
    text = lm_spec(
        "{shape: [16], dtype: int64}", "{source: text, path: c.txt, tokenizer: byte}", vocab=257
    )
    data = load_data(write(tmp_path, text))
    assert data.tokenizer is not None
    assert data.tokenizer.vocab_size == 257
    assert int(data.train.x.max()) < 256
    # A finished run's tokenizer is reused: a char alphabet with more characters
    saved = CharTokenizer.of_text(["héllo wörld ", "xyz"])
    again = load_data(
        write(tmp_path, text.replace("tokenizer: byte", "tokenizer: char").replace("257", "20")),
        tokenizer=saved,
    )
    assert again.tokenizer is saved
    assert saved.decode(again.train.x[0].tolist()) == ("héllo wörld " * 2)[:16]


# --- errors ----------------------------------------------------------------------------------


def test_missing_text_file_is_located(tmp_path: pathlib.Path) -> None:
    (tmp_path / "corpus.txt").write_text("abc", encoding="utf-8")
    spec = write(
        tmp_path, lm_spec("{shape: [8], dtype: int64}", "{source: text, path: corpsu.txt}")
    )
    exc = spec_error(lambda: load_data(spec))
    (d,) = exc.diagnostics
    assert d.path == ("data", "path")
    assert "does not exist" in d.message
    assert any("corpus.txt" in h for h in d.hints)
    assert d.location is not None
    assert d.location.line == 5


def test_a_pattern_pathlib_refuses_is_located(tmp_path: pathlib.Path) -> None:
    """pathlib's glob raises on an absolute pattern (NotImplementedError) and on "**" inside
    a name (ValueError): both were internal errors when the data loaded. An absolute pattern
    is refused by validate, the other when the folder is read."""
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.txt").write_text("abc " * 50, encoding="utf-8")
    absolute = lm_spec(
        "{shape: [8], dtype: int64}", f"{{source: text, path: docs, pattern: '{tmp_path}/*'}}"
    )
    (d,) = spec_error(lambda: write(tmp_path, absolute)).diagnostics
    assert d.path == ("data", "pattern")
    assert "absolute" in d.message
    spec = write(
        tmp_path,
        lm_spec("{shape: [8], dtype: int64}", "{source: text, path: docs, pattern: 'a**.txt'}"),
    )
    (d,) = spec_error(lambda: load_data(spec)).diagnostics
    assert d.path == ("data", "pattern")
    assert "not a file pattern" in d.message


def test_a_split_too_short_for_one_window(tmp_path: pathlib.Path) -> None:
    (tmp_path / "c.txt").write_text(numbered(30), encoding="utf-8")  # 180 chars, val 18
    spec = write(tmp_path, lm_spec("{shape: [32], dtype: int64}", "{source: text, path: c.txt}"))
    (d,) = spec_error(lambda: load_data(spec)).diagnostics
    assert d.path == ("data", "path")
    assert "val" in d.message
    assert "18 tokens" in d.message
    assert "33" in d.message


def test_too_few_documents_to_split(tmp_path: pathlib.Path) -> None:
    (tmp_path / "docs").mkdir()
    for i in range(2):
        (tmp_path / "docs" / f"{i}.txt").write_text(numbered(40), encoding="utf-8")
    spec = write(tmp_path, lm_spec("{shape: [8], dtype: int64}", "{source: text, path: docs}"))
    (d,) = spec_error(lambda: load_data(spec)).diagnostics
    assert d.path == ("data", "split")
    assert "2 documents" in d.message
    assert d.hints


def validate_error(text: str, tmp_path: pathlib.Path | None = None) -> SpecError:
    if tmp_path is None:
        return spec_error(lambda: plan(load_spec(text)))
    path = tmp_path / "spec.yaml"
    path.write_text(text, encoding="utf-8")
    return spec_error(lambda: plan(path))


def test_symbolic_length_without_length_is_a_validate_error() -> None:
    exc = validate_error(lm_spec("{shape: [T], dtype: int64}", "{source: text, path: c.txt}"))
    (d,) = exc.diagnostics
    assert d.path == ("data", "length")
    assert "symbolic" in d.message


def test_too_many_samples_is_a_validate_error() -> None:
    exc = validate_error(
        lm_spec("{shape: [6], dtype: int64}", "{source: arithmetic, digits: 1, samples: 101}")
    )
    (d,) = exc.diagnostics
    assert d.path == ("data", "samples")
    assert "100" in d.message


def test_a_problem_longer_than_the_input_is_a_validate_error() -> None:
    exc = validate_error(lm_spec("{shape: [10], dtype: int64}", "{source: arithmetic}"))
    (d,) = exc.diagnostics
    assert d.path == ("data", "source")
    assert "input of length 12" in d.message


def test_vocabulary_disagreement_names_all_three_numbers() -> None:
    text = lm_spec("{shape: [12], dtype: int64}", "{source: arithmetic}", vocab=12)
    (d,) = validate_error(text).diagnostics
    assert d.path == ("layers", 0, "embedding", "num_embeddings")
    assert "num_embeddings 12" in d.message
    assert "12 units" in d.message
    assert "16" in d.message
    assert d.hints
    assert "16" in d.hints[0]
    assert d.location is not None
    assert d.location.line == 3
    # head and embedding differ, the data fit both
    text = lm_spec("{shape: [12], dtype: int64}", "{source: arithmetic}", vocab=20)
    text = text.replace("dense: 20", "dense: 18")
    (d,) = validate_error(text).diagnostics
    assert "20" in d.message
    assert "18" in d.message
    assert "16" in d.message
    # a byte text source: 257 tokens
    text = lm_spec(
        "{shape: [12], dtype: int64}", "{source: text, path: c.txt, tokenizer: byte}", vocab=256
    )
    (d,) = validate_error(text).diagnostics
    assert "257" in d.message


def test_netspec_validate_reports_the_vocabulary(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(
        lm_spec("{shape: [13], dtype: int64}", "{source: reverse}", vocab=12), encoding="utf-8"
    )
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 2
    assert "vocabulary" in result.output
    assert "13" in result.output
    path.write_text(
        lm_spec("{shape: [13], dtype: int64}", "{source: reverse}", vocab=13), encoding="utf-8"
    )
    assert CliRunner().invoke(app, ["validate", str(path)]).exit_code == 0


@pytest.mark.parametrize(
    ("data", "train", "path"),
    [
        ("{source: text, path: c.txt}", "train: {task: classification}\n", ("train", "task")),
        ("{source: arithmetic}", "train: {task: regression}\n", ("train", "task")),
        ("{source: reverse}", "", ("data", "source")),
        ("{source: digits}", LM, ("train", "task")),
        ("{source: copy, delay: 2}", LM, ("data", "delay")),
        ("{source: copy, noise: 0.1}", LM, ("data", "noise")),
        ("{source: text, path: c.txt, vocab_size: 300}", LM, ("data", "vocab_size")),
    ],
)
def test_task_and_source_mismatches_are_validate_errors(
    data: str, train: str, path: tuple[str, ...]
) -> None:
    exc = spec_error(lambda: load_spec(lm_spec("{shape: [12], dtype: int64}", data, train=train)))
    assert [d.path for d in exc.diagnostics] == [path]


def test_a_language_model_reads_token_ids() -> None:
    text = lm_spec("[12]", "{source: arithmetic}")
    exc = spec_error(lambda: load_spec(text))
    assert ("input",) in [d.path for d in exc.diagnostics]


def test_static_vocabularies() -> None:
    from pathlib import Path

    from netspec.sources.registry import Context

    ctx = Context((12,), "int64", Path.cwd(), (), "language_model")

    def vocab(name: str, **options: object) -> int | None:
        source = get(name)
        assert source.vocab is not None
        return source.vocab(source.options.model_validate(options), ctx)

    assert vocab("arithmetic", digits=5, operations=["*"]) == 16
    assert vocab("reverse", vocab_size=20) == vocab("copy", vocab_size=20) == 23
    assert vocab("text", path="x", tokenizer="byte") == 257
    assert vocab("text", path="x", tokenizer="bpe", vocab_size=1000) == 1000
    assert vocab("text", path="x") is None
    assert get("digits").language is None
    assert get("arithmetic").language == "problems"
    assert get("text").language == "text"
    assert get("copy").language == "problems"


def test_default_samples_are_capped_at_the_problem_space() -> None:
    text = lm_spec("{shape: [T], dtype: int64}", "{source: arithmetic, digits: 1}")
    data = load_data(load_spec(text))
    total = sum(len(x) for _, x, _ in splits(data))
    assert total == 100  # every 1-digit sum once; asking for 101 is an error (above)


def test_length_must_agree_with_a_fixed_input() -> None:
    text = lm_spec("{shape: [16], dtype: int64}", "{source: text, path: c.txt, length: 32}")
    (d,) = spec_error(lambda: load_spec(text)).diagnostics
    assert d.path == ("data", "length")
    assert "16" in d.message


def test_load_data_refuses_a_source_without_language() -> None:
    text = "input: [64]\nlayers:\n  - dense: 10\ndata: {source: digits}\n"
    (d,) = spec_error(lambda: load_data(load_spec(text), "language_model")).diagnostics
    assert d.path == ("data", "source")


def test_a_language_model_without_data_is_pointed_at_language_sources() -> None:
    spec = load_spec(
        "input: {shape: [8], dtype: int64}\nlayers:\n"
        "  - embedding: {num_embeddings: 16, embedding_dim: 8}\n"
        "  - lstm: {units: 8, return_sequences: true}\n  - dense: 16\n"
        "train: {task: language_model}\n"
    )
    with pytest.raises(SpecError) as caught:
        load_data(spec)
    hint = caught.value.diagnostics[0].hints[0]
    assert "source: text" in hint
    assert "digits" not in hint
