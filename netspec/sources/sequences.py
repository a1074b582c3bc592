"""Synthetic sequence sources: parity, sequence_sum, majority_token (one label per sequence)
and copy (one label per position). Token sources feed int64 ids or one-hot floats, as the
spec's input asks; lengths and vocabularies default to the input's sizes.

``copy`` also feeds a language model (task language_model): then each sample is a problem
``abc=`` -> ``abc`` (netspec/sources/language.py), and the options of the per-position form
(delay, noise) are refused, since they mean nothing there."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import AliasChoices, Field

from netspec.sources.common import (
    COMMON_DOCS,
    LABEL_NOISE_DOC,
    balanced,
    fixed,
    flip_labels,
    label_noise_field,
    names,
    samples_field,
    seed_field,
)
from netspec.sources.language import (
    LANGUAGE_TASK,
    check_symbols,
    symbols_problems,
    symbols_token_vocab,
)
from netspec.sources.registry import (
    Context,
    DataProblem,
    Problems,
    RawData,
    Source,
    SourceOptions,
    register,
)

if TYPE_CHECKING:
    from numpy.typing import NDArray


class ParityOptions(SourceOptions):
    samples: int = samples_field()
    noise: float = label_noise_field()
    seed: int = seed_field()
    length: int | None = Field(None, ge=1)


class SequenceSumOptions(ParityOptions):
    features: int | None = Field(None, ge=2)


class MajorityTokenOptions(ParityOptions):
    vocab_size: int | None = Field(None, ge=2, validation_alias=AliasChoices("vocab_size", "vocab"))


class CopyOptions(MajorityTokenOptions):
    delay: int = Field(1, ge=0)


def _length(options: Any, ctx: Context, fallback: int) -> int:
    if options.length is not None:
        return int(options.length)
    return fixed(ctx.input_shape, 0) or fallback


def _tokens(tokens: NDArray[Any], vocab: int, ctx: Context) -> NDArray[Any]:
    """Token ids (n, T) as the input wants them: int64 ids, or one-hot floats (n, T, vocab)."""
    import numpy as np

    if ctx.input_dtype == "int64":
        return tokens.astype(np.int64)
    one_hot: NDArray[Any] = np.eye(vocab, dtype=np.float32)[tokens]
    return one_hot


def _parity(options: ParityOptions, ctx: Context) -> RawData:
    import numpy as np

    rng = np.random.default_rng(options.seed)
    length = _length(options, ctx, 16)
    bits = rng.integers(0, 2, (options.samples, length))
    y = flip_labels(bits.sum(axis=1) % 2, options.noise, 2, rng)
    x = bits.astype(np.int64) if ctx.input_dtype == "int64" else bits[..., None].astype(np.float32)
    return RawData(x, y.astype(np.int64), "classification", 2, ["even", "odd"], standardize=False)


def _check_sequence_sum(options: SequenceSumOptions, ctx: Context) -> None:
    if ctx.input_dtype == "int64":
        raise DataProblem(
            "sequence_sum gives float sequences (n, T, F), but the input is int64 token ids",
            key=("source",),
            hints=("a token source (parity, majority_token, copy) feeds int64 inputs",),
        )


def _sequence_sum(options: SequenceSumOptions, ctx: Context) -> RawData:
    import numpy as np

    _check_sequence_sum(options, ctx)
    rng = np.random.default_rng(options.seed)
    length = _length(options, ctx, 20)
    features = options.features or fixed(ctx.input_shape, -1, rank=2) or 8
    x = rng.standard_normal((options.samples, length, features)).astype(np.float32)
    y = flip_labels(x.sum(axis=1).argmax(axis=1), options.noise, features, rng)
    columns = [f"f{i}" for i in range(features)]
    return RawData(
        x, y.astype(np.int64), "classification", features, names(features), columns, False
    )


def _vocab(options: MajorityTokenOptions, ctx: Context, fallback: int) -> int:
    if options.vocab_size is not None:
        return int(options.vocab_size)
    if ctx.input_dtype == "float32":  # one-hot (T, vocab)
        return fixed(ctx.input_shape, -1, rank=2) or fallback
    return fallback


def _majority_token(options: MajorityTokenOptions, ctx: Context) -> RawData:
    import numpy as np

    rng = np.random.default_rng(options.seed)
    length = _length(options, ctx, 32)
    vocab = _vocab(options, ctx, 16)
    labels = balanced(options.samples, vocab, rng)
    tokens = rng.integers(0, vocab, (options.samples, length))
    # Make each sample's label its strictly most frequent token: overwrite just enough
    # positions holding other tokens.
    for i, c in enumerate(labels):
        row = tokens[i]
        counts = np.bincount(row, minlength=vocab)
        others = np.delete(counts, c).max(initial=0)
        deficit = int(others - counts[c] + 1)
        if deficit > 0:
            free = np.flatnonzero(row != c)
            row[rng.choice(free, size=min(deficit, free.size), replace=False)] = c
    y = flip_labels(labels, options.noise, vocab, rng)
    x = _tokens(tokens, vocab, ctx)
    return RawData(x, y.astype(np.int64), "classification", vocab, names(vocab), None, False)


def _check_copy(options: CopyOptions, ctx: Context) -> None:
    if ctx.task == LANGUAGE_TASK:
        _check_copy_language(options, ctx)
        return
    length = _length(options, ctx, 10)
    if options.delay >= length:
        raise DataProblem(
            f"delay {options.delay} leaves nothing to copy in sequences of length {length}",
            key=("delay",),
            expected=f"an int below {length}",
        )


def _check_copy_language(options: CopyOptions, ctx: Context) -> None:
    """copy as problems for a language model: delay and noise belong to the per-position
    form only, and the symbols are letters (at most 26)."""
    for key in ("delay", "noise"):
        if key in options.model_fields_set:
            raise DataProblem(
                f"{key} applies to copy's per-position classification, not to copy problems for "
                "a language model (the answer repeats the prompt's symbols)",
                key=(key,),
                hints=(f"leave {key} out",),
            )
    check_symbols(options, ctx, "copy")


def _copy_problems(options: CopyOptions, ctx: Context) -> Problems:
    _check_copy_language(options, ctx)
    return symbols_problems(options, ctx, "copy", reverse=False)


def _copy(options: CopyOptions, ctx: Context) -> RawData:
    import numpy as np

    _check_copy(options, ctx)
    rng = np.random.default_rng(options.seed)
    length = _length(options, ctx, 10)
    vocab = _vocab(options, ctx, 8)
    tokens = rng.integers(0, vocab, (options.samples, length))
    y = np.zeros_like(tokens)
    y[:, options.delay :] = tokens[:, : length - options.delay]
    y = flip_labels(y, options.noise, vocab, rng)
    x = _tokens(tokens, vocab, ctx)
    return RawData(x, y.astype(np.int64), "sequence", vocab, names(vocab), None, False)


_SEQ = {
    **COMMON_DOCS,
    "noise": LABEL_NOISE_DOC,
    "length": "time steps; default: the input's first dimension when it is a number",
}
register(
    Source(
        "parity",
        ParityOptions,
        _parity,
        "random bit strings, label = number of ones mod 2 (2 classes: even, odd); (n, T, 1) floats "
        "or (n, T) int64 tokens",
        "synthetic",
        kind="classification",
        field_docs={**_SEQ, "length": _SEQ["length"] + ", else 16"},
        example="length: 16",
    )
)
register(
    Source(
        "sequence_sum",
        SequenceSumOptions,
        _sequence_sum,
        "gaussian sequences (n, T, F); the class is the feature with the largest sum over time",
        "synthetic",
        kind="classification",
        check=_check_sequence_sum,
        field_docs={
            **_SEQ,
            "length": _SEQ["length"] + ", else 20",
            "features": "features per step = classes; default: the input's last dimension, else 8",
        },
        example="length: 20\nfeatures: 8",
    )
)
register(
    Source(
        "majority_token",
        MajorityTokenOptions,
        _majority_token,
        "token sequences; the class is the most frequent token id (strictly)",
        "synthetic",
        kind="classification",
        field_docs={
            **_SEQ,
            "length": _SEQ["length"] + ", else 32",
            "vocab_size": "token ids 0..vocab_size-1 = classes (alias vocab); default 16",
        },
        example="length: 32\nvocab_size: 16",
    )
)
register(
    Source(
        "copy",
        CopyOptions,
        _copy,
        "token sequences; the target at step t is the input token at step t - delay (0 before "
        "it): one class per position, targets (n, T). Under task language_model: distinct "
        "problems abc= -> abc, options as for reverse (no delay, no noise)",
        "synthetic",
        kind="sequence",
        check=_check_copy,
        field_docs={
            **_SEQ,
            "noise": "fraction of target tokens replaced by a random one; default 0",
            "length": _SEQ["length"] + ", else 10",
            "vocab_size": "token ids 0..vocab_size-1 (alias vocab); default 8",
            "delay": "steps between a token and its copy, below length; default 1",
        },
        example="length: 10\nvocab_size: 8\ndelay: 2",
        # Under task language_model: problems abc= -> abc, options as for reverse.
        language="problems",
        corpus=_copy_problems,
        vocab=symbols_token_vocab,
    )
)
