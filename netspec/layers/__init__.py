"""Layer types. Each module registers its layers on import; add one import line per new file."""

from netspec.layers import (  # noqa: F401
    activation,
    attention,
    conv,
    conv_transpose,
    dense,
    dropout,
    embedding,
    merge,
    normalization,
    pooling,
    recurrent,
    reshape,
    select,
    tokens,
    transformer,
    upsample,
)
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
    "Tensor",
    "all_layers",
    "all_words",
    "get",
    "resolve",
]
