"""The registry of data sources: bundled, synthetic and file sources, each with its options.

A :class:`Source` pairs a strict pydantic options model (the source's keys of the spec's
``data:`` section, beside ``source``, ``split``, ``standardize`` and ``augment``) with a loader
that returns :class:`RawData`: numpy arrays ``x`` (n, features...) and ``y`` plus what the
rest of the pipeline needs to know (kind, classes, feature names, whether to standardize).

Loaders import scikit-learn when called (it is slow to import). :func:`check_options` checks
the source name and options without loading anything. Nothing here downloads: the bundled
data ship with scikit-learn, the rest is generated or read from local files
(netspec/data/files.py registers those).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import AliasChoices, Field, ValidationError

from netspec.config import StrictConfig
from netspec.dims import Shape
from netspec.errors import Diagnostic, YPath, did_you_mean

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from netspec.spec.load import Spec

Kind = Literal["classification", "regression", "sequence", "unknown"]
"""What the targets are: class labels, numbers, one label per position (``copy``), or
"unknown" for files, whose targets are read the way the training task asks."""

Family = Literal["bundled", "synthetic", "file"]

# Keys of the data section that belong to DataSpec itself, not to a source.
COMMON_KEYS = ("source", "split", "standardize", "augment")


class SourceOptions(StrictConfig):
    """A source's options: strict about unknown keys and types, like layer arguments (so the
    spec loader's diagnostics, with did-you-mean and aliases, apply unchanged)."""


@dataclass(frozen=True)
class Context:
    """What a loader may need from the spec: the input it feeds and where the spec lives."""

    input_shape: Shape
    input_dtype: str  # "float32" or "int64"
    base_dir: Path  # relative data paths are resolved against it


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


@dataclass(frozen=True)
class Source:
    name: str
    options: type[SourceOptions]
    load: Loader
    summary: str
    family: Family
    aliases: tuple[str, ...] = ()
    field_docs: Mapping[str, str] = field(default_factory=dict)
    example: str = ""  # the source's keys in a `data:` block, e.g. "length: 16"


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


def all_sources() -> list[Source]:
    order = {"bundled": 0, "synthetic": 1, "file": 2}
    return sorted(_REGISTRY.values(), key=lambda s: (order[s.family], s.name))


def source_options(spec: Spec) -> tuple[Source, SourceOptions]:
    """The spec's source and its validated options; a SpecError (located) otherwise."""
    from netspec.errors import SpecError

    diags = check_options(spec)
    if diags:
        raise SpecError(diags)
    assert spec.data is not None  # noqa: S101 (check_options reported a missing section)
    source = get(spec.data.source)
    return source, source.options.model_validate(dict(spec.data.model_extra or {}))


def check_options(spec: Spec) -> list[Diagnostic]:
    """Diagnostics for the spec's ``data:`` source name and options (loads no data)."""
    from netspec.spec.load import _diagnostics

    if spec.data is None:
        return [
            Diagnostic(
                "missing-field",
                "the spec has no `data:` section, so there is nothing to train on",
                hints=("add one, e.g. `data: {source: digits}`",),
            )
        ]
    name = spec.data.source
    if resolve(name) is None:
        guess = did_you_mean(name, _ALIASES)
        message = f"unknown data source {name!r}" + (f"; did you mean {guess!r}?" if guess else "")
        diag = Diagnostic(
            "invalid-value",
            message,
            path=("data", "source"),
            received=name,
            expected="one of: " + ", ".join(s.name for s in all_sources()),
        )
        return [spec.source.attach(diag)]
    source = get(name)
    raw = dict(spec.data.model_extra or {})
    try:
        source.options.model_validate(raw)
    except ValidationError as exc:
        found = _diagnostics(exc, raw, ("data",), None, source.options, spec.source)
        return [_with_common_keys(d, source, spec) for d in found]
    return []


def _with_common_keys(diag: Diagnostic, source: Source, spec: Spec) -> Diagnostic:
    """An unknown key may be a misspelt common key (`standardise`): say so, and list all."""
    from dataclasses import replace

    from netspec.config import field_names

    if diag.code != "unknown-field" or not diag.path:
        return diag
    word = str(diag.path[-1])
    own = list(field_names(source.options))
    message = diag.message
    if "did you mean" not in message and "another name" not in message:
        guess = did_you_mean(word, [*own, *COMMON_KEYS])
        message = f"unknown option {word!r} for data source {source.name!r}" + (
            f"; did you mean {guess!r}?" if guess else ""
        )
    fields = [*COMMON_KEYS, *source.options.model_fields]
    return replace(diag, message=message, expected="one of: " + ", ".join(fields))


# --- options shared by the synthetic sources -------------------------------------------------


def _samples(default: int = 1000) -> Any:
    return Field(
        default, ge=1, le=10_000_000, validation_alias=AliasChoices("samples", "n_samples")
    )


def _noise(default: float) -> Any:
    return Field(default, ge=0.0)


class NoOptions(SourceOptions):
    """A bundled data set: no options."""


class MoonsOptions(SourceOptions):
    samples: int = _samples()
    noise: float = _noise(0.1)
    seed: int = 0


class CirclesOptions(MoonsOptions):
    factor: float = Field(0.5, gt=0.0, lt=1.0)


class BlobsOptions(SourceOptions):
    samples: int = _samples()
    noise: float = _noise(1.0)
    seed: int = 0
    classes: int = Field(3, ge=2, validation_alias=AliasChoices("classes", "centers"))
    features: int = Field(2, ge=1)


class SpiralsOptions(SourceOptions):
    samples: int = _samples()
    noise: float = _noise(0.05)
    seed: int = 0
    classes: int = Field(2, ge=2)
    turns: float = Field(1.0, gt=0.0)


class SineOptions(SourceOptions):
    samples: int = _samples()
    noise: float = _noise(0.1)
    seed: int = 0
    frequency: float = Field(1.0, gt=0.0)


class LinearOptions(SourceOptions):
    samples: int = _samples()
    noise: float = _noise(0.1)
    seed: int = 0
    features: int = Field(4, ge=1)
    targets: int = Field(1, ge=1)


def _label_noise() -> Any:
    return Field(0.0, ge=0.0, le=1.0)


class ParityOptions(SourceOptions):
    samples: int = _samples()
    noise: float = _label_noise()
    seed: int = 0
    length: int | None = Field(None, ge=1)


class SequenceSumOptions(ParityOptions):
    features: int | None = Field(None, ge=2)


class MajorityTokenOptions(ParityOptions):
    vocab_size: int | None = Field(None, ge=2, validation_alias=AliasChoices("vocab_size", "vocab"))


class CopyOptions(MajorityTokenOptions):
    delay: int = Field(1, ge=0)


class ShapesOptions(SourceOptions):
    samples: int = _samples()
    noise: float = _noise(0.05)
    seed: int = 0
    size: int | None = Field(None, ge=6)
    channels: int | None = Field(None, ge=1)
    classes: int = Field(3, ge=2, le=4)


COMMON_DOCS = {
    "samples": "number of samples (alias n_samples); default 1000",
    "seed": "seed of the generator; default 0",
}
LABEL_NOISE_DOC = "fraction of labels replaced by a random label; default 0"


# --- helpers ---------------------------------------------------------------------------------


def _fixed(shape: Shape, index: int, rank: int | None = None) -> int | None:
    """``shape[index]`` when it is an int (and the rank is ``rank``, if given)."""
    if rank is not None and len(shape) != rank:
        return None
    if -len(shape) <= index < len(shape):
        d = shape[index]
        if isinstance(d, int):
            return d
    return None


def _length(options: Any, ctx: Context, fallback: int) -> int:
    if options.length is not None:
        return int(options.length)
    return _fixed(ctx.input_shape, 0) or fallback


def _flip_labels(y: NDArray[Any], fraction: float, classes: int, rng: Any) -> NDArray[Any]:
    import numpy as np

    if fraction <= 0:
        return y
    hit = rng.random(y.shape) < fraction
    out: NDArray[Any] = np.where(hit, rng.integers(0, classes, y.shape), y)
    return out


def _tokens(tokens: NDArray[Any], vocab: int, ctx: Context) -> NDArray[Any]:
    """Token ids (n, T) as the input wants them: int64 ids, or one-hot floats (n, T, vocab)."""
    import numpy as np

    if ctx.input_dtype == "int64":
        return tokens.astype(np.int64)
    one_hot: NDArray[Any] = np.eye(vocab, dtype=np.float32)[tokens]
    return one_hot


def _balanced(n: int, classes: int, rng: Any) -> NDArray[Any]:
    import numpy as np

    return rng.permutation(np.arange(n) % classes)  # type: ignore[no-any-return]


def _names(k: int) -> list[str]:
    return [str(i) for i in range(k)]


# --- bundled (scikit-learn) ------------------------------------------------------------------


def _bundled(loader: str, kind: Kind) -> Loader:
    def load(options: Any, ctx: Context) -> RawData:
        import numpy as np
        import sklearn.datasets  # type: ignore[import-untyped]

        bunch = getattr(sklearn.datasets, loader)()
        x = np.asarray(bunch.data, dtype=np.float64)
        y = np.asarray(bunch.target)
        names = getattr(bunch, "target_names", None)
        features = [str(f) for f in getattr(bunch, "feature_names", [])] or None
        if kind == "classification":
            k = int(y.max()) + 1
            return RawData(
                x,
                y.astype(np.int64),
                kind,
                num_classes=k,
                class_names=[str(n) for n in names] if names is not None else _names(k),
                feature_names=features,
                standardize=True,
            )
        return RawData(x, y.astype(np.float64), kind, feature_names=features, standardize=True)

    return load


# --- synthetic: tabular ----------------------------------------------------------------------


def _moons(options: MoonsOptions, ctx: Context) -> RawData:
    import numpy as np
    from sklearn.datasets import make_moons

    x, y = make_moons(options.samples, noise=options.noise, random_state=options.seed)
    return RawData(x, y.astype(np.int64), "classification", 2, _names(2), ["x0", "x1"])


def _circles(options: CirclesOptions, ctx: Context) -> RawData:
    import numpy as np
    from sklearn.datasets import make_circles

    x, y = make_circles(
        options.samples, noise=options.noise, factor=options.factor, random_state=options.seed
    )
    return RawData(x, y.astype(np.int64), "classification", 2, ["outer", "inner"], ["x0", "x1"])


def _blobs(options: BlobsOptions, ctx: Context) -> RawData:
    import numpy as np
    from sklearn.datasets import make_blobs

    x, y = make_blobs(
        options.samples,
        n_features=options.features,
        centers=options.classes,
        cluster_std=options.noise,
        random_state=options.seed,
    )
    k = options.classes
    names = [f"x{i}" for i in range(options.features)]
    return RawData(x, y.astype(np.int64), "classification", k, _names(k), names)


def _spirals(options: SpiralsOptions, ctx: Context) -> RawData:
    import numpy as np

    rng = np.random.default_rng(options.seed)
    k = options.classes
    y = _balanced(options.samples, k, rng)
    t = rng.random(options.samples)  # position along the arm: radius 0..1
    angle = 2 * np.pi * (options.turns * t + y / k)
    x = np.stack([t * np.cos(angle), t * np.sin(angle)], axis=1)
    x = x + options.noise * rng.standard_normal(x.shape)
    return RawData(x, y.astype(np.int64), "classification", k, _names(k), ["x0", "x1"])


def _sine(options: SineOptions, ctx: Context) -> RawData:
    import numpy as np

    rng = np.random.default_rng(options.seed)
    x = rng.uniform(-np.pi, np.pi, (options.samples, 1))
    y = np.sin(options.frequency * x[:, 0]) + options.noise * rng.standard_normal(options.samples)
    return RawData(x, y, "regression", feature_names=["x"])


def _linear(options: LinearOptions, ctx: Context) -> RawData:
    import numpy as np

    rng = np.random.default_rng(options.seed)
    w = rng.standard_normal((options.features, options.targets))
    b = rng.standard_normal(options.targets)
    x = rng.standard_normal((options.samples, options.features))
    y = x @ w + b + options.noise * rng.standard_normal((options.samples, options.targets))
    names = [f"x{i}" for i in range(options.features)]
    return RawData(x, y[:, 0] if options.targets == 1 else y, "regression", feature_names=names)


# --- synthetic: sequences --------------------------------------------------------------------


def _parity(options: ParityOptions, ctx: Context) -> RawData:
    import numpy as np

    rng = np.random.default_rng(options.seed)
    length = _length(options, ctx, 16)
    bits = rng.integers(0, 2, (options.samples, length))
    y = _flip_labels(bits.sum(axis=1) % 2, options.noise, 2, rng)
    x = bits.astype(np.int64) if ctx.input_dtype == "int64" else bits[..., None].astype(np.float32)
    return RawData(x, y.astype(np.int64), "classification", 2, ["even", "odd"], standardize=False)


def _sequence_sum(options: SequenceSumOptions, ctx: Context) -> RawData:
    import numpy as np

    if ctx.input_dtype == "int64":
        raise DataProblem(
            "sequence_sum gives float sequences (n, T, F), but the input is int64 token ids",
            key=("source",),
            hints=("a token source (parity, majority_token, copy) feeds int64 inputs",),
        )
    rng = np.random.default_rng(options.seed)
    length = _length(options, ctx, 20)
    features = options.features or _fixed(ctx.input_shape, -1, rank=2) or 8
    x = rng.standard_normal((options.samples, length, features)).astype(np.float32)
    y = _flip_labels(x.sum(axis=1).argmax(axis=1), options.noise, features, rng)
    names = [f"f{i}" for i in range(features)]
    return RawData(
        x, y.astype(np.int64), "classification", features, _names(features), names, False
    )


def _vocab(options: MajorityTokenOptions, ctx: Context, fallback: int) -> int:
    if options.vocab_size is not None:
        return int(options.vocab_size)
    if ctx.input_dtype == "float32":  # one-hot (T, vocab)
        return _fixed(ctx.input_shape, -1, rank=2) or fallback
    return fallback


def _majority_token(options: MajorityTokenOptions, ctx: Context) -> RawData:
    import numpy as np

    rng = np.random.default_rng(options.seed)
    length = _length(options, ctx, 32)
    vocab = _vocab(options, ctx, 16)
    labels = _balanced(options.samples, vocab, rng)
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
    y = _flip_labels(labels, options.noise, vocab, rng)
    x = _tokens(tokens, vocab, ctx)
    return RawData(x, y.astype(np.int64), "classification", vocab, _names(vocab), None, False)


def _copy(options: CopyOptions, ctx: Context) -> RawData:
    import numpy as np

    rng = np.random.default_rng(options.seed)
    length = _length(options, ctx, 10)
    vocab = _vocab(options, ctx, 8)
    if options.delay >= length:
        raise DataProblem(
            f"delay {options.delay} leaves nothing to copy in sequences of length {length}",
            key=("delay",),
            expected=f"an int below {length}",
        )
    tokens = rng.integers(0, vocab, (options.samples, length))
    y = np.zeros_like(tokens)
    y[:, options.delay :] = tokens[:, : length - options.delay]
    y = _flip_labels(y, options.noise, vocab, rng)
    x = _tokens(tokens, vocab, ctx)
    return RawData(x, y.astype(np.int64), "sequence", vocab, _names(vocab), None, False)


# --- synthetic: images -----------------------------------------------------------------------

SHAPE_NAMES = ["circle", "square", "triangle", "cross"]


def _shapes(options: ShapesOptions, ctx: Context) -> RawData:
    import numpy as np

    rng = np.random.default_rng(options.seed)
    n, k = options.samples, options.classes
    size = options.size or _fixed(ctx.input_shape, -1, rank=3) or 16
    channels = options.channels or _fixed(ctx.input_shape, 0, rank=3) or 1
    y = _balanced(n, k, rng)
    r = rng.uniform(0.18, 0.35, (n, 1, 1)) * size
    cy = rng.uniform(r[:, 0, 0], size - 1 - r[:, 0, 0])[:, None, None]
    cx = rng.uniform(r[:, 0, 0], size - 1 - r[:, 0, 0])[:, None, None]
    grid = np.arange(size, dtype=np.float64)
    dy = grid[None, :, None] - cy
    dx = grid[None, None, :] - cx
    masks = [
        dy**2 + dx**2 <= r**2,  # circle
        (np.abs(dy) <= r * 0.8) & (np.abs(dx) <= r * 0.8),  # square
        (np.abs(dy) <= r) & (np.abs(dx) <= (dy + r) / 2),  # triangle, apex up
        ((np.abs(dx) <= r / 3) & (np.abs(dy) <= r)) | ((np.abs(dy) <= r / 3) & (np.abs(dx) <= r)),
    ]
    mask = np.choose(y[:, None, None], masks[:k])
    color = rng.uniform(0.5, 1.0, (n, channels, 1, 1))
    x = mask[:, None, :, :] * color
    x = x + options.noise * rng.standard_normal(x.shape)
    return RawData(
        x.astype(np.float32),
        y.astype(np.int64),
        "classification",
        k,
        SHAPE_NAMES[:k],
        standardize=False,
    )


register(
    Source(
        "digits",
        NoOptions,
        # Raw 0..16 pixels, standardized with the training split's statistics, which the
        # run keeps: `netspec predict` then takes the same raw pixels.
        _bundled("load_digits", "classification"),
        "8x8 images of handwritten digits: 1,797 samples, 64 pixels (0..16), 10 classes",
        "bundled",
    )
)
register(
    Source(
        "iris",
        NoOptions,
        _bundled("load_iris", "classification"),
        "iris flowers: 150 samples, 4 features, 3 classes",
        "bundled",
    )
)
register(
    Source(
        "wine",
        NoOptions,
        _bundled("load_wine", "classification"),
        "wine cultivars: 178 samples, 13 features, 3 classes",
        "bundled",
    )
)
register(
    Source(
        "breast_cancer",
        NoOptions,
        _bundled("load_breast_cancer", "classification"),
        "breast cancer diagnosis: 569 samples, 30 features, 2 classes (malignant, benign)",
        "bundled",
    )
)
register(
    Source(
        "diabetes",
        NoOptions,
        _bundled("load_diabetes", "regression"),
        "diabetes progression: 442 samples, 10 features, one regression target",
        "bundled",
    )
)

_TABLE = {"samples": COMMON_DOCS["samples"], "seed": COMMON_DOCS["seed"]}
register(
    Source(
        "moons",
        MoonsOptions,
        _moons,
        "two interleaving half circles in 2-D, 2 classes",
        "synthetic",
        field_docs={**_TABLE, "noise": "std of gaussian noise on the points; default 0.1"},
        example="samples: 500\nnoise: 0.2",
    )
)
register(
    Source(
        "circles",
        CirclesOptions,
        _circles,
        "a small circle inside a large one in 2-D, 2 classes",
        "synthetic",
        field_docs={
            **_TABLE,
            "noise": "std of gaussian noise on the points; default 0.1",
            "factor": "inner radius / outer radius, in (0, 1); default 0.5",
        },
        example="samples: 500\nfactor: 0.3",
    )
)
register(
    Source(
        "blobs",
        BlobsOptions,
        _blobs,
        "gaussian clusters, one class per cluster",
        "synthetic",
        field_docs={
            **_TABLE,
            "noise": "std of each cluster; default 1.0",
            "classes": "number of clusters (alias centers); default 3",
            "features": "dimensions of a point; default 2",
        },
        example="classes: 4\nfeatures: 2",
    )
)
register(
    Source(
        "spirals",
        SpiralsOptions,
        _spirals,
        "interleaved spiral arms in 2-D, one class per arm",
        "synthetic",
        field_docs={
            **_TABLE,
            "noise": "std of gaussian noise on the points; default 0.05",
            "classes": "number of arms; default 2",
            "turns": "turns of each arm; default 1.0",
        },
        example="classes: 3\nnoise: 0.05",
    )
)
register(
    Source(
        "sine",
        SineOptions,
        _sine,
        "regression: y = sin(frequency * x) + noise, x in [-pi, pi]",
        "synthetic",
        field_docs={
            **_TABLE,
            "noise": "std of gaussian noise on y; default 0.1",
            "frequency": "default 1.0",
        },
        example="samples: 500",
    )
)
register(
    Source(
        "linear",
        LinearOptions,
        _linear,
        "regression: y = x W + b + noise with a random W and b",
        "synthetic",
        field_docs={
            **_TABLE,
            "noise": "std of gaussian noise on y; default 0.1",
            "features": "columns of x; default 4",
            "targets": "columns of y; default 1",
        },
        example="features: 4\ntargets: 1",
    )
)
_SEQ = {
    **_TABLE,
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
        "it): one class per position, targets (n, T)",
        "synthetic",
        field_docs={
            **_SEQ,
            "noise": "fraction of target tokens replaced by a random one; default 0",
            "length": _SEQ["length"] + ", else 10",
            "vocab_size": "token ids 0..vocab_size-1 (alias vocab); default 8",
            "delay": "steps between a token and its copy, below length; default 1",
        },
        example="length: 10\nvocab_size: 8\ndelay: 2",
    )
)
register(
    Source(
        "shapes",
        ShapesOptions,
        _shapes,
        "small images (n, C, size, size) of drawn shapes: circle, square, triangle, cross",
        "synthetic",
        aliases=("images",),
        field_docs={
            **_TABLE,
            "noise": "std of gaussian pixel noise; default 0.05",
            "size": "height = width; default: the input's last dimension, else 16",
            "channels": "default: the input's first dimension, else 1",
            "classes": "2 to 4 shapes; default 3",
        },
        example="size: 16\nclasses: 4",
    )
)

from netspec.sources import files  # noqa: E402, F401  (registers csv and npz)

__all__ = [
    "COMMON_KEYS",
    "Context",
    "DataProblem",
    "Kind",
    "RawData",
    "Source",
    "SourceOptions",
    "all_sources",
    "check_options",
    "get",
    "register",
    "resolve",
    "source_options",
]
