"""Language-model sources: ``text`` (a corpus of documents) and the synthetic problems
``arithmetic`` and ``reverse`` (``copy``'s language-model form is here too; the source
itself is registered in sequences.py, where its per-position classification form lives).

A text source gives its documents (:class:`~netspec.sources.registry.Text`); a problem
source gives distinct prompt -> answer pairs and the fixed char tokenizer that encodes them
(:class:`~netspec.sources.registry.Problems`). netspec/data/language.py splits, tokenizes
and cuts them into samples. What the options and the spec's input alone rule out (too many
samples for the problem space, a problem longer than the input, a symbolic input length
without ``length``) is found by each source's ``check`` at validate time.
"""

from __future__ import annotations

import importlib.util
import math
import string
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import AliasChoices, Field

from netspec.errors import did_you_mean
from netspec.sources.common import COMMON_DOCS, fixed, samples_field, seed_field
from netspec.sources.registry import (
    Context,
    DataProblem,
    Problems,
    RawData,
    Source,
    SourceOptions,
    Text,
    register,
)
from netspec.sources.tokenizers import BPE_EXTRA, CharTokenizer

if TYPE_CHECKING:
    from numpy.typing import NDArray

LANGUAGE_TASK = "language_model"
LETTERS = string.ascii_lowercase
"""The symbols of copy and reverse problems: the first ``vocab_size`` of them."""
ARITHMETIC_ALPHABET = "0123456789+-*="
BYTE_VOCAB = 257  # the 256 bytes and <eos>


def only_language(name: str) -> Any:
    """The classic loader of a source that feeds nothing but a language model: data_check
    refuses such a source under another task, so reaching this is a spec that skipped it."""

    def load(options: Any, ctx: Context) -> RawData:
        raise DataProblem(
            f"data source {name!r} feeds a language model only, not task "
            f"{ctx.task or 'classification'}",
            key=("source",),
            hints=(f"set `train: {{task: {LANGUAGE_TASK}}}`",),
        )

    return load


def window_length(ctx: Context, length: int | None) -> int | None:
    """The input's fixed first dimension, else ``length``; None when neither is given."""
    if len(ctx.input_shape) == 1:
        given = fixed(ctx.input_shape, 0)
        if given is not None:
            return given
    return length


# --- text ------------------------------------------------------------------------------------


class TextOptions(SourceOptions):
    path: str = Field(min_length=1)
    pattern: str = Field("*.txt", min_length=1)
    tokenizer: Literal["char", "byte", "bpe"] = "char"
    vocab_size: int = Field(512, ge=BYTE_VOCAB, le=1_000_000)
    stride: int | None = Field(None, ge=1)
    length: int | None = Field(None, ge=1)


def _check_text(options: TextOptions, ctx: Context) -> None:
    if "vocab_size" in options.model_fields_set and options.tokenizer != "bpe":
        raise DataProblem(
            f"vocab_size sets the size of a bpe tokenizer, but the tokenizer is "
            f"{options.tokenizer} (vocabulary "
            + ("257: the bytes and <eos>" if options.tokenizer == "byte" else "the corpus's")
            + ")",
            key=("vocab_size",),
            hints=("leave vocab_size out, or set `tokenizer: bpe`",),
        )
    if options.tokenizer == "bpe" and importlib.util.find_spec("tokenizers") is None:
        raise DataProblem(
            "the bpe tokenizer needs Hugging Face's tokenizers package, which is not installed",
            key=("tokenizer",),
            code="missing-extra",
            hints=(f"pip install 'netspec[{BPE_EXTRA}]'", "or use `tokenizer: char` or `byte`"),
        )
    if Path(options.pattern).is_absolute():
        raise DataProblem(
            f"pattern {options.pattern!r} is an absolute path: it picks the documents inside "
            "the folder `path`",
            key=("pattern",),
            hints=("put the folder in `path` and the file names in `pattern`, e.g. *.txt",),
        )
    given = fixed(ctx.input_shape, 0) if len(ctx.input_shape) == 1 else None
    if options.length is not None and given is not None and options.length != given:
        raise DataProblem(
            f"length {options.length} disagrees with the input's length {given}: a window is "
            "as long as the input",
            key=("length",),
            hints=("leave length out (it is for a symbolic input length)",),
        )
    if window_length(ctx, options.length) is None:
        raise DataProblem(
            "the input's length is symbolic, so the text source needs `length`: the tokens "
            "of one window",
            key=("length",),
            hints=("add e.g. `length: 64`, or give the input a fixed length: `shape: [64]`",),
        )


def _text_vocab(options: TextOptions, ctx: Context) -> int | None:
    if options.tokenizer == "byte":
        return BYTE_VOCAB
    if options.tokenizer == "bpe":
        return int(options.vocab_size)
    return None  # the corpus's characters: known once it is read


def _text(options: TextOptions, ctx: Context) -> Text:
    _check_text(options, ctx)
    given = Path(options.path).expanduser()
    where = given if given.is_absolute() else ctx.base_dir / given
    try:
        if where.is_dir():
            files = sorted(f for f in _glob(where, options.pattern) if f.is_file())
            if not files:
                raise DataProblem(
                    f"the folder {options.path!r} holds no files matching {options.pattern!r}",
                    key=("pattern",) if "pattern" in options.model_fields_set else ("path",),
                    hints=("each document is a file; `pattern` picks them (default *.txt)",),
                )
            single = False
        elif where.is_file():
            files, single = [where], True
        else:
            raise _missing(options.path, given, where)
    except OSError as exc:
        raise DataProblem(f"cannot read {options.path!r} ({exc.strerror})", key=("path",)) from None
    documents = tuple(_read(f, options.path) for f in files)
    if not any(documents):
        raise DataProblem(f"the text {options.path!r} is empty", key=("path",))
    return Text(
        documents=documents,
        names=tuple(f.name for f in files),
        single=single,
        tokenizer=options.tokenizer,
        vocab_size=int(options.vocab_size),
        stride=options.stride,
        length=options.length,
        origin=options.path,
    )


def _glob(folder: Path, pattern: str) -> list[Path]:
    try:
        return list(folder.glob(pattern))
    except (ValueError, NotImplementedError) as exc:  # e.g. "a**": pathlib's own message
        raise DataProblem(
            f"pattern {pattern!r} is not a file pattern: {exc}",
            key=("pattern",),
            hints=("e.g. *.txt, or **/*.md for the files of every subfolder",),
        ) from None


def _missing(path: str, given: Path, where: Path) -> DataProblem:
    hints: tuple[str, ...] = ()
    try:
        guess = did_you_mean(where.name, [f.name for f in where.parent.iterdir()])
    except OSError:
        guess = None
    if guess:
        hints = (f"did you mean {str(given.parent / guess)!r}?",)
    notes = () if given.is_absolute() else (f"relative paths start at the spec's folder: {where}",)
    return DataProblem(
        f"the text file or folder {path!r} does not exist", key=("path",), hints=hints, notes=notes
    )


def _read(file: Path, path: str) -> str:
    try:
        return file.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DataProblem(
            f"{file.name} is not UTF-8 text ({exc.reason} at byte {exc.start})", key=("path",)
        ) from None
    except OSError as exc:
        raise DataProblem(f"cannot read {file.name} ({exc.strerror})", key=("path",)) from None


# --- problems: shared ------------------------------------------------------------------------


def _fits(longest: int, ctx: Context, name: str) -> None:
    """A problem of ``longest`` tokens needs an input of ``longest - 1`` (x = s[:-1])."""
    if len(ctx.input_shape) != 1:
        return  # data_check reports an input that is not (T,) token ids
    given = fixed(ctx.input_shape, 0)
    if given is not None and given + 1 < longest:
        raise DataProblem(
            f"the longest {name} problem (prompt, answer and <eos>) is {longest} tokens, which "
            f"needs an input of length {longest - 1}, but the input's length is {given}",
            key=("source",),
            received=str(given),
            expected=f"an input length of at least {longest - 1}",
            hints=(f"set `input: {{shape: [{longest - 1}], dtype: int64}}`, or smaller problems",),
        )


def problem_count(options: Any, space: int | None) -> int:
    """``samples``; left out, its default capped at the ``space`` of distinct problems
    (None: vast), so that `digits: 1` works without asking for fewer."""
    if "samples" in options.model_fields_set or space is None:
        return int(options.samples)
    return min(int(options.samples), space)


def _too_many(options: Any, space: int, what: str) -> None:
    samples = int(options.samples)
    if "samples" in options.model_fields_set and samples > space:
        raise DataProblem(
            f"samples {samples:,} is more than the {space:,} distinct {what}",
            key=("samples",),
            received=f"{samples:,}",
            expected=f"at most {space:,}",
            hints=("problems are distinct (so no problem is in two splits): ask for fewer",),
        )


def _distinct(space: int, samples: int, rng: Any) -> NDArray[Any]:
    """``samples`` distinct indices below ``space`` (at most 3 * 10**18: 9 digits, three
    operations, well inside int64)."""
    return rng.choice(space, samples, replace=False)  # type: ignore[no-any-return]


# --- arithmetic ------------------------------------------------------------------------------


class ArithmeticOptions(SourceOptions):
    digits: int = Field(3, ge=1, le=9)
    operations: tuple[Literal["+", "-", "*"], ...] = Field(("+",), min_length=1)
    samples: int = samples_field(20_000)
    seed: int = seed_field()
    reverse_answer: bool = False


def arithmetic_tokenizer() -> CharTokenizer:
    """``<pad>``, ``<eos>``, then ``0123456789+-*=``: 16 tokens whatever the options."""
    return CharTokenizer(ARITHMETIC_ALPHABET, pad=True)


def _operations(options: ArithmeticOptions) -> list[str]:
    return list(dict.fromkeys(options.operations))


def _arithmetic_longest(options: ArithmeticOptions) -> int:
    d = options.digits
    answer = max({"+": d + 1, "-": d + 1, "*": 2 * d}[op] for op in _operations(options))
    return 2 * d + 2 + answer + 1  # a, op, b, '=', the answer, <eos>


def _arithmetic_space(options: ArithmeticOptions) -> int:
    per_operation: int = 10 ** (2 * options.digits)  # pairs of operands
    return len(_operations(options)) * per_operation


def _check_arithmetic(options: ArithmeticOptions, ctx: Context) -> None:
    _too_many(options, _arithmetic_space(options), f"{options.digits}-digit problems")
    _fits(_arithmetic_longest(options), ctx, "arithmetic")


def solve(a: int, op: str, b: int, *, reverse_answer: bool = False) -> str:
    """The answer's characters: the result in decimal, a negative one after ``-``; with
    ``reverse_answer`` its digits least-significant first (the sign stays in front)."""
    value = a + b if op == "+" else a - b if op == "-" else a * b
    digits = str(abs(value))
    if reverse_answer:
        digits = digits[::-1]
    return ("-" if value < 0 else "") + digits


def _arithmetic(options: ArithmeticOptions, ctx: Context) -> Problems:
    import numpy as np

    _check_arithmetic(options, ctx)
    ops = _operations(options)
    size = 10**options.digits
    rng = np.random.default_rng(options.seed)
    space = _arithmetic_space(options)
    picked = _distinct(space, problem_count(options, space), rng)
    problems = []
    for index in picked.tolist():
        op, rest = divmod(int(index), size * size)
        a, b = divmod(rest, size)
        answer = solve(a, ops[op], b, reverse_answer=options.reverse_answer)
        problems.append((f"{a}{ops[op]}{b}=", answer))
    return Problems(tuple(problems), arithmetic_tokenizer(), _arithmetic_longest(options))


# --- copy and reverse ------------------------------------------------------------------------


class ReverseOptions(SourceOptions):
    samples: int = samples_field()
    seed: int = seed_field()
    length: int | None = Field(None, ge=1)
    vocab_size: int | None = Field(
        None, ge=2, le=len(LETTERS), validation_alias=AliasChoices("vocab_size", "vocab")
    )


def symbols_length(options: Any, ctx: Context) -> int:
    """``length``, else the longest that fits the input (2 * length + 1 tokens: the
    symbols, ``=``, the symbols again), else 10."""
    if options.length is not None:
        return int(options.length)
    given = fixed(ctx.input_shape, 0) if len(ctx.input_shape) == 1 else None
    return max(1, (given - 1) // 2) if given is not None else 10


def symbols_vocab(options: Any) -> int:
    return int(options.vocab_size) if options.vocab_size is not None else 10


def symbols_tokenizer(vocab: int) -> CharTokenizer:
    return CharTokenizer(LETTERS[:vocab] + "=", pad=True)


def symbols_token_vocab(options: Any, ctx: Context) -> int:
    """The vocabulary of copy and reverse problems: ``<pad>``, ``<eos>``, the letters, ``=``."""
    return symbols_vocab(options) + 3


def _symbols_space(vocab: int, length: int) -> int | None:
    """How many words of ``length`` letters there are; None past 2**64 (always enough)."""
    return vocab**length if length * math.log2(vocab) < 64 else None


def check_symbols(options: Any, ctx: Context, name: str) -> None:
    """What copy (language-model form) and reverse rule out before generating."""
    vocab = symbols_vocab(options)
    if vocab > len(LETTERS):
        raise DataProblem(
            f"{name} problems are written in lowercase letters, {len(LETTERS)} of them, "
            f"not {vocab}",
            key=("vocab_size",),
            expected=f"at most {len(LETTERS)}",
        )
    length = symbols_length(options, ctx)
    space = _symbols_space(vocab, length)
    if space is not None:
        _too_many(options, space, f"sequences of {length} out of {vocab} symbols")
    _fits(2 * length + 2, ctx, name)


def symbols_problems(options: Any, ctx: Context, name: str, *, reverse: bool) -> Problems:
    import numpy as np

    check_symbols(options, ctx, name)
    vocab, length = symbols_vocab(options), symbols_length(options, ctx)
    rng = np.random.default_rng(options.seed)
    space = _symbols_space(vocab, length)
    samples = problem_count(options, space)
    seen: dict[str, None] = {}
    if space is not None and space <= 10**7:  # a small space: indices without replacement
        for index in rng.choice(space, samples, replace=False).tolist():
            word = []
            for _ in range(length):
                index, digit = divmod(int(index), vocab)
                word.append(LETTERS[digit])
            seen["".join(word)] = None
    while len(seen) < samples:  # a vast space: random words, duplicates dropped
        rows = rng.integers(0, vocab, (samples, length))
        for row in rows:
            seen.setdefault("".join(LETTERS[i] for i in row), None)
    words = list(seen)[:samples]
    problems = tuple((f"{w}=", w[::-1] if reverse else w) for w in words)
    return Problems(problems, symbols_tokenizer(vocab), 2 * length + 2)


def _check_reverse(options: ReverseOptions, ctx: Context) -> None:
    check_symbols(options, ctx, "reverse")


def _reverse(options: ReverseOptions, ctx: Context) -> Problems:
    return symbols_problems(options, ctx, "reverse", reverse=True)


SYMBOLS_DOCS = {
    **COMMON_DOCS,
    "length": "symbols per problem; default: the longest that fits the input (2 * length + 1 "
    "tokens), else 10",
    "vocab_size": "how many lowercase letters the symbols are drawn from, 2..26 (alias vocab); "
    "default 10 (vocabulary: these, '=', <pad> and <eos>)",
}

register(
    Source(
        "text",
        TextOptions,
        only_language("text"),
        "a UTF-8 text file, or a folder of documents, for a language model: windows of "
        "input-length tokens (char, byte or bpe), targets the next tokens",
        "file",
        kind="language",
        check=_check_text,
        field_docs={
            "path": "a UTF-8 text file (cut into train, val and test segments, in that order), "
            "or a folder whose files are the documents (split by document); relative to the "
            "spec's folder",
            "pattern": "the files of a folder that are documents, sorted by name; default *.txt",
            "tokenizer": "char (the corpus's characters, the default), byte (UTF-8 bytes, 257 "
            "tokens) or bpe (byte-level BPE trained on the training split; needs "
            f"netspec[{BPE_EXTRA}])",
            "vocab_size": "the most tokens of a bpe tokenizer, at least 257; default 512",
            "stride": "training windows start every `stride` tokens; default: the input "
            "length (no overlap); val and test windows never overlap",
            "length": "tokens per window when the input's length is symbolic",
        },
        example="path: corpus.txt\ntokenizer: char",
        language="text",
        corpus=_text,
        vocab=_text_vocab,
    )
)
register(
    Source(
        "arithmetic",
        ArithmeticOptions,
        only_language("arithmetic"),
        "distinct problems such as 123+456=579 for a language model: the prompt up to '=', "
        "the answer after it; vocabulary 16",
        "synthetic",
        kind="language",
        check=_check_arithmetic,
        field_docs={
            "digits": "operands are drawn from 0 to 10**digits - 1; default 3",
            "operations": "a list of +, - and *; default [+]",
            "samples": "number of distinct problems (alias n_samples); default 20000, or all "
            "there are when fewer",
            "seed": COMMON_DOCS["seed"],
            "reverse_answer": "write the answer's digits least-significant first (579 as 975), "
            "the order in which addition carries; default false",
        },
        example="digits: 3\noperations: [+]",
        language="problems",
        corpus=_arithmetic,
        vocab=lambda options, ctx: arithmetic_tokenizer().vocab_size,
    )
)
register(
    Source(
        "reverse",
        ReverseOptions,
        only_language("reverse"),
        "distinct problems abc= -> cba for a language model: a random sequence of letters, "
        "then '=', then the sequence reversed",
        "synthetic",
        kind="language",
        check=_check_reverse,
        field_docs=SYMBOLS_DOCS,
        example="length: 8\nvocab_size: 10",
        language="problems",
        corpus=_reverse,
        vocab=symbols_token_vocab,
    )
)

__all__ = [
    "ARITHMETIC_ALPHABET",
    "LANGUAGE_TASK",
    "ArithmeticOptions",
    "ReverseOptions",
    "TextOptions",
    "arithmetic_tokenizer",
    "solve",
]
