"""Synthetic tabular sources: 2-D classification toys (moons, circles, blobs, spirals) and
regression (sine, linear). Generated from a seed; numpy and scikit-learn are imported when a
loader runs."""

from __future__ import annotations

from pydantic import AliasChoices, Field

from netspec.sources.common import (
    COMMON_DOCS,
    balanced,
    names,
    noise_field,
    samples_field,
    seed_field,
)
from netspec.sources.registry import Context, RawData, Source, SourceOptions, register


class MoonsOptions(SourceOptions):
    samples: int = samples_field()
    noise: float = noise_field(0.1)
    seed: int = seed_field()


class CirclesOptions(MoonsOptions):
    factor: float = Field(0.5, gt=0.0, lt=1.0)


class BlobsOptions(SourceOptions):
    samples: int = samples_field()
    noise: float = noise_field(1.0)
    seed: int = seed_field()
    classes: int = Field(3, ge=2, validation_alias=AliasChoices("classes", "centers"))
    features: int = Field(2, ge=1)


class SpiralsOptions(SourceOptions):
    samples: int = samples_field()
    noise: float = noise_field(0.05)
    seed: int = seed_field()
    classes: int = Field(2, ge=2)
    turns: float = Field(1.0, gt=0.0)


class SineOptions(SourceOptions):
    samples: int = samples_field()
    noise: float = noise_field(0.1)
    seed: int = seed_field()
    frequency: float = Field(1.0, gt=0.0)


class LinearOptions(SourceOptions):
    samples: int = samples_field()
    noise: float = noise_field(0.1)
    seed: int = seed_field()
    features: int = Field(4, ge=1)
    targets: int = Field(1, ge=1)


def _moons(options: MoonsOptions, ctx: Context) -> RawData:
    import numpy as np
    from sklearn.datasets import make_moons  # type: ignore[import-untyped]

    x, y = make_moons(options.samples, noise=options.noise, random_state=options.seed)
    return RawData(x, y.astype(np.int64), "classification", 2, names(2), ["x0", "x1"])


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
    columns = [f"x{i}" for i in range(options.features)]
    return RawData(x, y.astype(np.int64), "classification", k, names(k), columns)


def _spirals(options: SpiralsOptions, ctx: Context) -> RawData:
    import numpy as np

    rng = np.random.default_rng(options.seed)
    k = options.classes
    y = balanced(options.samples, k, rng)
    t = rng.random(options.samples)  # position along the arm: radius 0..1
    angle = 2 * np.pi * (options.turns * t + y / k)
    x = np.stack([t * np.cos(angle), t * np.sin(angle)], axis=1)
    x = x + options.noise * rng.standard_normal(x.shape)
    return RawData(x, y.astype(np.int64), "classification", k, names(k), ["x0", "x1"])


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
    columns = [f"x{i}" for i in range(options.features)]
    return RawData(x, y[:, 0] if options.targets == 1 else y, "regression", feature_names=columns)


register(
    Source(
        "moons",
        MoonsOptions,
        _moons,
        "two interleaving half circles in 2-D, 2 classes",
        "synthetic",
        kind="classification",
        field_docs={**COMMON_DOCS, "noise": "std of gaussian noise on the points; default 0.1"},
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
        kind="classification",
        field_docs={
            **COMMON_DOCS,
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
        kind="classification",
        field_docs={
            **COMMON_DOCS,
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
        kind="classification",
        field_docs={
            **COMMON_DOCS,
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
        kind="regression",
        field_docs={
            **COMMON_DOCS,
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
        kind="regression",
        field_docs={
            **COMMON_DOCS,
            "noise": "std of gaussian noise on y; default 0.1",
            "features": "columns of x; default 4",
            "targets": "columns of y; default 1",
        },
        example="features: 4\ntargets: 1",
    )
)
