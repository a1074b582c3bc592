"""Layer types. Each module registers its layers on import; add one import line per new file.

Installed packages add layer types through the ``netspec.layers`` entry-point group; they are
loaded on the registry's first query (:mod:`netspec.layers.plugins`, docs/plugins.md).
"""

from netspec.layers import (  # noqa: F401
    activation,
    attention,
    conv,
    conv_transpose,
    dense,
    dropout,
    embedding,
    graph,
    latent,
    merge,
    normalization,
    pooling,
    recurrent,
    reshape,
    select,
    sequence_pool,
    tokens,
    transformer,
    upsample,
)
from netspec.layers.plugins import PluginWarning
from netspec.layers.registry import (
    Example,
    Inferred,
    LayerConfig,
    LayerType,
    Tensor,
    all_layers,
    all_words,
    get,
    resolve,
)

__all__ = [
    "Example",
    "Inferred",
    "LayerConfig",
    "LayerType",
    "PluginWarning",
    "Tensor",
    "all_layers",
    "all_words",
    "get",
    "resolve",
]
