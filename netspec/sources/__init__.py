"""The data sources a spec's ``data:`` section can name: bundled, synthetic and file sources,
each with its strict options model, what it knows before loading (kind, ``check``) and a
loader. Torch-free, so the spec stage checks the source name and options without importing
torch; loaders import numpy and scikit-learn only when called.

Each family module registers its sources on import; add one import line per new file.
"""

from __future__ import annotations

from netspec.sources import bundled, files, images, language, sequences, synthetic  # noqa: F401
from netspec.sources.registry import (
    COMMON_KEYS,
    Context,
    DataProblem,
    Kind,
    Language,
    Problems,
    RawData,
    Source,
    SourceOptions,
    Text,
    all_sources,
    all_words,
    get,
    resolve,
)

__all__ = [
    "COMMON_KEYS",
    "Context",
    "DataProblem",
    "Kind",
    "Language",
    "Problems",
    "RawData",
    "Source",
    "SourceOptions",
    "Text",
    "all_sources",
    "all_words",
    "get",
    "resolve",
]
