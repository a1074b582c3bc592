"""Bundled data sets: the small tables that ship with scikit-learn (nothing is downloaded).

Features are raw (digits' pixels are 0..16) and standardized with the training split's
statistics, which the run keeps: `netspec predict` then takes the same raw values.
"""

from __future__ import annotations

from typing import Any

from netspec.sources.common import names
from netspec.sources.registry import Context, Kind, Loader, RawData, Source, SourceOptions, register


class NoOptions(SourceOptions):
    """A bundled data set: no options."""


def _bundled(loader: str, kind: Kind) -> Loader:
    def load(options: Any, ctx: Context) -> RawData:
        import numpy as np
        import sklearn.datasets  # type: ignore[import-untyped]

        bunch = getattr(sklearn.datasets, loader)()
        x = np.asarray(bunch.data, dtype=np.float64)
        y = np.asarray(bunch.target)
        target_names = getattr(bunch, "target_names", None)
        features = [str(f) for f in getattr(bunch, "feature_names", [])] or None
        if kind == "classification":
            k = int(y.max()) + 1
            return RawData(
                x,
                y.astype(np.int64),
                kind,
                num_classes=k,
                class_names=[str(n) for n in target_names]
                if target_names is not None
                else names(k),
                feature_names=features,
                standardize=True,
            )
        return RawData(x, y.astype(np.float64), kind, feature_names=features, standardize=True)

    return load


def _register(name: str, loader: str, kind: Kind, summary: str) -> None:
    register(Source(name, NoOptions, _bundled(loader, kind), summary, "bundled", kind=kind))


_register(
    "digits",
    "load_digits",
    "classification",
    "8x8 images of handwritten digits: 1,797 samples, 64 pixels (0..16), 10 classes",
)
_register("iris", "load_iris", "classification", "iris flowers: 150 samples, 4 features, 3 classes")
_register(
    "wine", "load_wine", "classification", "wine cultivars: 178 samples, 13 features, 3 classes"
)
_register(
    "breast_cancer",
    "load_breast_cancer",
    "classification",
    "breast cancer diagnosis: 569 samples, 30 features, 2 classes (malignant, benign)",
)
_register(
    "diabetes",
    "load_diabetes",
    "regression",
    "diabetes progression: 442 samples, 10 features, one regression target",
)
