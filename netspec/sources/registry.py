"""The registry of data sources: bundled, synthetic and file sources, each with its options.

A :class:`Source` pairs a strict pydantic options model (the source's keys of the spec's
``data:`` section, beside ``source``, ``split``, ``standardize`` and ``augment``) with a loader
that returns :class:`RawData`: numpy arrays ``x`` (n, features...) and ``y`` plus what the
rest of the pipeline needs to know (kind, classes, feature names, whether to standardize).

A source also says what is known before loading anything: its ``kind`` (what its targets
are) and, through ``check``, the option problems that need only the spec's input. The spec
stage (netspec/spec/data_check.py) uses both, so `netspec validate` reports them.

One file per family registers its sources (bundled.py, synthetic.py, sequences.py, images.py,
files.py, language.py), like netspec/layers/. A source that feeds a language model says so
(``language``) and gives its text or problems through ``corpus`` instead of ``load``.
Loaders import numpy and scikit-learn when called (the latter is slow to import); nothing
here imports torch. Nothing downloads: the bundled data ship with
scikit-learn, the rest is generated or read from local files.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from netspec.config import StrictConfig
from netspec.dims import Shape
from netspec.errors import Diagnostic, YPath
from netspec.sources.tokenizers import Tokenizer

if TYPE_CHECKING:
    from numpy.typing import NDArray

Kind = Literal["classification", "regression", "sequence", "unknown", "language"]
"""What the targets are: class labels, numbers, one label per position (``copy``),
"unknown" for files, whose targets are read the way the training task asks, or "language"
for a source that only feeds a language model (``text``, ``arithmetic``, ``reverse``)."""

Language = Literal["text", "problems"]
"""What a source gives a language model: a text stream cut into windows, or prompt -> answer
problems (one per sample; netspec/sources/language.py)."""

Family = Literal["bundled", "synthetic", "file"]

# Keys of the data section that belong to DataSpec itself, not to a source.
COMMON_KEYS = ("source", "split", "standardize", "standardize_target", "augment")


class SourceOptions(StrictConfig):
    """A source's options: strict about unknown keys and types, like layer arguments (so the
    spec loader's diagnostics, with did-you-mean and aliases, apply unchanged)."""


@dataclass(frozen=True)
class Context:
    """What a loader may need from the spec: the input it feeds and where the spec lives."""

    input_shape: Shape  # the first input's (the only one of most specs)
    input_dtype: str  # "float32" or "int64"
    base_dir: Path  # relative data paths are resolved against it
    # The names of the spec's inputs as written under `inputs:` (in declared order); empty for
    # a spec with one `input:`. A source with ``several_inputs`` reads one array per name
    # when there are several.
    input_names: tuple[str, ...] = ()
    # The training task (``train.task``), None when unknown: a source that feeds more than
    # one task (``copy``: per-position classes, or problems for a language model) checks
    # the options of the form the task reads.
    task: str | None = None


@dataclass(frozen=True)
class Text:
    """A text source's corpus, before tokenizing (netspec/data/language.py cuts it)."""

    documents: tuple[str, ...]  # one per file of a folder, or the one file's text
    names: tuple[str, ...]  # the files' names, for messages
    single: bool  # one file: cut into contiguous train / val / test segments
    tokenizer: str  # char, byte or bpe
    vocab_size: int  # of a bpe tokenizer (an upper bound)
    stride: int | None  # training windows start every `stride` tokens; None: the length
    length: int | None  # the window length for a symbolic input length
    origin: str  # the path as written, for messages


@dataclass(frozen=True)
class Problems:
    """Prompt -> answer problems (all distinct) and the fixed tokenizer that encodes them."""

    problems: tuple[tuple[str, str], ...]
    tokenizer: Tokenizer
    longest: int  # tokens of the longest possible sample (prompt + answer + <eos>)


@dataclass(frozen=True)
class RawData:
    """A source's output, before splitting, scaling and reshaping."""

    x: NDArray[Any]
    y: NDArray[Any] | None
    kind: Kind
    num_classes: int | None = None  # given when y already holds indices 0..K-1
    class_names: list[str] | None = None
    feature_names: list[str] | None = None
    standardize: bool = True  # the default when `data.standardize` is not given
    origin: str | None = None  # the file the data came from, for messages
    # For a spec with several inputs: one array per input, by name, in declared order (``x``
    # is then the first of them). None from a source that gives one array.
    xs: Mapping[str, NDArray[Any]] | None = None


class DataProblem(Exception):
    """A problem with the data, raised by a loader; ``load_data`` turns it into a located
    :class:`~netspec.errors.SpecError` pointing at ``data.<key>`` in the YAML."""

    def __init__(
        self,
        message: str,
        *,
        key: YPath = (),
        code: str = "data",
        received: str | None = None,
        expected: str | None = None,
        hints: tuple[str, ...] = (),
        notes: tuple[str, ...] = (),
    ) -> None:
        super().__init__(message)
        self.message = message
        self.key = key
        self.code = code
        self.received = received
        self.expected = expected
        self.hints = hints
        self.notes = notes

    def diagnostic(self, base: YPath = ("data",)) -> Diagnostic:
        return Diagnostic(
            self.code,
            self.message,
            path=(*base, *self.key),
            received=self.received,
            expected=self.expected,
            hints=self.hints,
            notes=self.notes,
        )


Loader = Callable[[Any, Context], RawData]
Check = Callable[[Any, Context], None]
CorpusLoader = Callable[[Any, Context], "Text | Problems"]
Vocab = Callable[[Any, Context], "int | None"]


def no_check(options: Any, ctx: Context) -> None:
    """Nothing to check before loading beyond the options' own types and bounds."""


@dataclass(frozen=True)
class Source:
    """A data source. ``kind`` is what its targets are, known without loading (``unknown``
    for files); ``check`` raises DataProblem for what the options and the spec's input alone
    rule out, and runs at validate time (a loader may rely on it having passed)."""

    name: str
    options: type[SourceOptions]
    load: Loader
    summary: str
    family: Family
    kind: Kind = "unknown"
    check: Check = no_check
    aliases: tuple[str, ...] = ()
    field_docs: Mapping[str, str] = field(default_factory=dict)
    example: str = ""  # the source's keys in a `data:` block, e.g. "length: 16"
    # Whether the source can feed a spec with several inputs (one array per input name):
    # only files can; every other source gives one array of samples.
    several_inputs: bool = False
    # What the source gives a language model (None: it cannot feed one), how it gives it
    # (``corpus``, read by netspec/data/language.py) and its vocabulary size as far as the
    # options tell (``vocab``; None when only the loaded corpus does, as for a char
    # tokenizer), which netspec validate compares with the model's embedding and head.
    language: Language | None = None
    corpus: CorpusLoader | None = None
    vocab: Vocab | None = None


_REGISTRY: dict[str, Source] = {}
_ALIASES: dict[str, str] = {}


def register(source: Source) -> Source:
    for word in (source.name, *source.aliases):
        if word in _ALIASES:
            raise ValueError(f"data source {word!r} registered twice")
        _ALIASES[word] = source.name
    _REGISTRY[source.name] = source
    return source


def resolve(word: str) -> str | None:
    """The canonical name of a source name or alias, or None."""
    return _ALIASES.get(word)


def get(name: str) -> Source:
    return _REGISTRY[_ALIASES[name]]


def all_words() -> list[str]:
    """Every name and alias, for did-you-mean."""
    return list(_ALIASES)


def all_sources() -> list[Source]:
    order = {"bundled": 0, "synthetic": 1, "file": 2}
    return sorted(_REGISTRY.values(), key=lambda s: (order[s.family], s.name))


__all__ = [
    "COMMON_KEYS",
    "Check",
    "Context",
    "DataProblem",
    "Kind",
    "Language",
    "Loader",
    "Problems",
    "RawData",
    "Source",
    "SourceOptions",
    "Text",
    "all_sources",
    "all_words",
    "get",
    "no_check",
    "register",
    "resolve",
]
