"""Language-model data (task language_model): a source's text or problems as token windows.

Every sample is ``x`` (T,) int64 token ids and ``y`` (T,) their next tokens, ``IGNORE``
where nothing is trained (netspec.sources.tokenizers):

- Text: a split's documents joined with ``<eos>`` into one token stream, cut into windows
  of T + 1 tokens, ``x = w[:-1]``, ``y = w[1:]``. Training windows start every ``stride``
  tokens (default T: the x's of consecutive windows do not overlap); val and test windows
  every T. Splits never share text: a folder's documents go whole to one split (a seeded
  shuffle), one file is cut into contiguous segments (train, then val, then test, as
  nanoGPT does), and a window never crosses a segment. The char tokenizer's alphabet is the
  whole corpus's characters (an alphabet, not content: nothing of val or test is learnt
  from it); a bpe tokenizer is trained on the training split only.
- Problems: ``s = prompt + answer + <eos>``, padded with ``<pad>`` to T + 1 tokens,
  ``x = s[:-1]``, ``y = s[1:]`` with IGNORE except at the answer and its ``<eos>``. The
  problems are distinct and split by problem, so no problem is in two splits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from netspec.data.dataset import Dataset, Split
from netspec.data.prepare import split_indices
from netspec.errors import netspec_bug
from netspec.sources.language import window_length
from netspec.sources.registry import Context, DataProblem, Problems, Source, SourceOptions, Text
from netspec.sources.tokenizers import (
    IGNORE,
    BPETokenizer,
    ByteTokenizer,
    CharTokenizer,
    Tokenizer,
    TokenizerError,
)

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from netspec.spec.load import Spec

TASK = "language_model"
SPLITS = ("train", "val", "test")


def load_language(
    spec: Spec,
    source: Source,
    options: SourceOptions,
    ctx: Context,
    tokenizer: Tokenizer | None = None,
) -> Dataset:
    """The spec's language-model data; ``tokenizer`` (a finished run's) replaces the one the
    data would build. Raises DataProblem for what the data rule out."""
    if source.corpus is None:  # data_check refuses it; load_data(spec, task) may still ask
        raise DataProblem(
            f"data source {source.name!r} gives no text or problems for a language model",
            key=("source",),
        )
    data = spec.data
    if data is None:
        raise netspec_bug("no data section")
    corpus = source.corpus(options, ctx)
    split = data.split
    if isinstance(corpus, Problems):
        return _problems(corpus, source.name, ctx, split.val, split.test, split.seed, tokenizer)
    return _text(corpus, ctx, split.val, split.test, split.seed, tokenizer)


# --- problems --------------------------------------------------------------------------------


def encode_problem(
    tokenizer: Tokenizer, prompt: str, answer: str, length: int
) -> tuple[list[int], list[int]]:
    """x and y (``length`` tokens each) of one problem; see the module's docstring."""
    pad = tokenizer.pad_id
    if pad is None:  # a saved tokenizer of text data
        raise DataProblem(f"the {tokenizer.kind} tokenizer has no <pad> to fill problems with")
    head = tokenizer.encode(prompt)
    tail = [*tokenizer.encode(answer), tokenizer.eos_id]
    s = head + tail
    if len(s) > length + 1:
        raise DataProblem(
            f"the problem {prompt + answer!r} is {len(s)} tokens with its <eos>, which needs an "
            f"input of length {len(s) - 1}, but the input's length is {length}",
            key=("source",),
            expected=f"an input length of at least {len(s) - 1}",
        )
    s += [pad] * (length + 1 - len(s))
    y = [IGNORE] * (len(head) - 1) + tail + [IGNORE] * (length + 1 - len(head) - len(tail))
    return s[:-1], y


def _problems(
    corpus: Problems,
    name: str,
    ctx: Context,
    val: float,
    test: float,
    seed: int,
    given: Tokenizer | None,
) -> Dataset:
    tokenizer = given or corpus.tokenizer
    length = window_length(ctx, None) or corpus.longest - 1
    x = np.empty((len(corpus.problems), length), dtype=np.int64)
    y = np.empty_like(x)
    try:
        for i, (prompt, answer) in enumerate(corpus.problems):
            x[i], y[i] = encode_problem(tokenizer, prompt, answer, length)
    except TokenizerError as exc:
        raise DataProblem(f"the saved tokenizer cannot encode {name} problems: {exc}") from None
    parts = split_indices(len(x), val, test, seed)

    def cut(index: NDArray[Any] | None) -> Split | None:
        if index is None:
            return None
        return Split(torch.from_numpy(x[index]), torch.from_numpy(y[index]))

    train = cut(parts.train)
    assert train is not None  # noqa: S101
    return _dataset(name, tokenizer, length, train, cut(parts.val), cut(parts.test), True)


# --- text ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Part:
    """The documents of one split, as text."""

    name: str
    documents: tuple[str, ...]


def _text(
    corpus: Text,
    ctx: Context,
    val: float,
    test: float,
    seed: int,
    given: Tokenizer | None,
) -> Dataset:
    length = window_length(ctx, corpus.length)
    if length is None:  # the source's check asked for `length`
        raise netspec_bug("a text source without a window length")
    parts = _segments(corpus, val, test) if corpus.single else _by_document(corpus, val, test, seed)
    tokenizer = given or _tokenizer(corpus, parts[0])
    stride = corpus.stride or length
    made: list[Split | None] = []
    for part in parts:
        if part is None:
            made.append(None)
            continue
        stream = _stream(tokenizer, part, corpus)
        step = stride if part.name == "train" else length
        made.append(_windows(stream, length, step, part, corpus))
    train = made[0]
    assert train is not None  # noqa: S101
    name = corpus.origin.rstrip("/").rsplit("/", 1)[-1] or corpus.origin
    return _dataset(name, tokenizer, length, train, made[1], made[2], False)


def _segments(corpus: Text, val: float, test: float) -> list[_Part | None]:
    """One file cut in order: train, then val, then test (by characters, before tokenizing,
    so that a bpe tokenizer is trained on the training segment alone)."""
    text = corpus.documents[0]
    n = len(text)
    n_test = max(1, round(n * test)) if test > 0 else 0
    n_val = max(1, round(n * val)) if val > 0 else 0
    end_train = n - n_val - n_test
    if end_train < 1:
        raise DataProblem(
            f"the text has {n:,} characters, too few to cut into train, val and test",
            key=("path",),
        )
    train = _Part("train", (text[:end_train],))
    val_part = _Part("val", (text[end_train : end_train + n_val],)) if n_val else None
    test_part = _Part("test", (text[end_train + n_val :],)) if n_test else None
    return [train, val_part, test_part]


def _by_document(corpus: Text, val: float, test: float, seed: int) -> list[_Part | None]:
    """A folder's documents, each whole in one split (seeded by data.split.seed)."""
    n = len(corpus.documents)
    try:
        parts = split_indices(n, val, test, seed)
    except DataProblem:
        raise DataProblem(
            f"the folder {corpus.origin!r} holds {n} document{'s' if n != 1 else ''}, too few to "
            f"split {val:g} / {test:g} into val and test by document and keep training documents",
            key=("split",),
            hints=(
                "add documents, use smaller fractions (0 means no such split), or give one file: "
                "a single file is cut into train, val and test segments",
            ),
        ) from None

    def part(name: str, index: NDArray[Any] | None) -> _Part | None:
        if index is None:
            return None
        return _Part(name, tuple(corpus.documents[int(i)] for i in index))

    return [part("train", parts.train), part("val", parts.val), part("test", parts.test)]


def _tokenizer(corpus: Text, train: _Part | None) -> Tokenizer:
    if corpus.tokenizer == "byte":
        return ByteTokenizer()
    if corpus.tokenizer == "char":
        return CharTokenizer.of_text(corpus.documents)
    if train is None:
        raise netspec_bug("no training split")
    try:
        return BPETokenizer.train(train.documents, corpus.vocab_size)
    except TokenizerError as exc:  # the optional package is missing
        raise DataProblem(str(exc), key=("tokenizer",), code="missing-extra") from None


def _stream(tokenizer: Tokenizer, part: _Part, corpus: Text) -> NDArray[Any]:
    """The split's documents, encoded and joined with <eos>."""
    ids: list[int] = []
    try:
        for i, document in enumerate(part.documents):
            if i:
                ids.append(tokenizer.eos_id)
            ids += tokenizer.encode(document)
    except TokenizerError as exc:  # a saved char tokenizer and a character it never saw
        raise DataProblem(
            f"the saved tokenizer cannot encode the {part.name} text of {corpus.origin!r}: {exc}",
            key=("path",),
        ) from None
    return np.asarray(ids, dtype=np.int64)


def _windows(stream: NDArray[Any], length: int, step: int, part: _Part, corpus: Text) -> Split:
    """Windows of length + 1 tokens starting every ``step`` tokens: x = w[:-1], y = w[1:]."""
    if len(stream) < length + 1:
        what = "documents" if not corpus.single else "segment"
        raise DataProblem(
            f"the {part.name} {what} of {corpus.origin!r} hold{'s' if corpus.single else ''} "
            f"{len(stream):,} tokens, too few for one window of {length + 1} (the input's "
            f"length {length} and the next token)",
            key=("path",),
            received=f"{len(stream):,} tokens",
            expected=f"at least {length + 1} tokens",
            hints=(
                "use more text, a shorter input, or a larger split fraction"
                if part.name != "train"
                else "use more text or a shorter input",
            ),
        )
    # Views of the one stream, not copies: a stride of 1 would otherwise hold the corpus
    # length + 1 times over. A batch (an index into them) is a copy of its own.
    windows = torch.from_numpy(stream).unfold(0, length + 1, step)
    return Split(windows[:, :-1], windows[:, 1:])


def window_count(tokens: int, length: int, step: int) -> int:
    """How many windows of length + 1 tokens start every ``step`` tokens in ``tokens``."""
    return 0 if tokens < length + 1 else (tokens - length - 1) // step + 1


def _dataset(
    name: str,
    tokenizer: Tokenizer,
    length: int,
    train: Split,
    val: Split | None,
    test: Split | None,
    problems: bool,
) -> Dataset:
    return Dataset(
        name=name,
        task=TASK,
        train=train,
        val=val,
        test=test,
        num_classes=tokenizer.vocab_size,
        class_names=None,
        feature_names=None,
        standardizer=None,
        input_shape=(length,),
        input_dtype="int64",
        raw_shape=(length,),
        tokenizer=tokenizer,
        problems=problems,
    )


__all__ = ["encode_problem", "load_language", "window_count"]
