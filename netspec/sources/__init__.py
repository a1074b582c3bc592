"""The data sources a spec's ``data:`` section can name: bundled, synthetic and file sources,
each with its strict options model and a loader. Torch-free, so ``netspec validate`` checks
the source name and options without importing torch; loaders import numpy and scikit-learn
only when called."""

from __future__ import annotations

from netspec.sources.registry import (
    Source,
    all_sources,
    check_options,
    get,
    resolve,
)

__all__ = ["Source", "all_sources", "check_options", "get", "resolve"]
