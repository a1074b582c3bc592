"""The layer registry: one :class:`LayerType` per layer, registered from its own file.

Everything that depends on the set of layers (spec validation, the JSON Schema, summary rows,
the docs reference, the conformance tests) reads this registry, so adding a layer is one file
plus one import line in ``netspec/layers/__init__.py``; an installed package adds layers
through the ``netspec.layers`` entry-point group (:mod:`netspec.layers.plugins`). The IR a
layer describes its torch side with (:class:`Call`, :class:`FnCall`, :class:`Ref`) lives in
:mod:`netspec.layers.ir` and is re-exported here, where the layer files import it from.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

from netspec.config import StrictConfig
from netspec.dims import Dim, Shape, format_shape
from netspec.layers.ir import Call as Call
from netspec.layers.ir import FnCall as FnCall
from netspec.layers.ir import Ref as Ref

DType = Literal["float32", "int64", "bool"]  # bool: padding masks only


class LayerConfig(StrictConfig):
    """Base of every layer's arguments (see :class:`netspec.config.StrictConfig`)."""


C = TypeVar("C", bound=LayerConfig)


@dataclass(frozen=True)
class Tensor:
    """A planned tensor: per-sample shape (batch dim implicit) and element type.

    ``padding`` names the token input whose pad positions mark this tensor's first per-sample
    dim (the sequence, T) as padding, if any: the planner carries it through the layers that
    keep the sequence positions (``LayerType.keeps_padding``) and hands a key-padding mask to
    the layers that honour one (``LayerType.takes_padding``).

    ``rows`` names the leading (batch) dim: ``N`` (samples), or for a graph input ``nodes``
    (every node of a batch of graphs; layers that are no graph layers act per node) and after
    ``graph_pool`` ``graphs``. The planner carries it from a layer's input to its output.
    """

    shape: Shape
    dtype: DType = "float32"
    padding: str | None = None
    rows: str = "N"

    def text(self) -> str:
        """``(N, 32, 14, 14)``, ``(nodes, 16)``: the shape with its leading dim named."""
        return format_shape(self.shape, self.rows)


@dataclass(frozen=True)
class Inferred:
    """What a shape rule returns: the output, parameter count and MACs per sample."""

    out: Tensor
    params: int = 0
    macs: Dim = 0


@dataclass(frozen=True)
class Example:
    """A conformance example: layer arguments and one input shape (per sample)."""

    args: Mapping[str, Any]
    in_shape: Shape
    dtype: DType = "float32"
    extra_inputs: int = 0  # merges: how many more inputs of the same shape
    # Further inputs of their own shapes (float32), after the first: cross-attention's
    # memory, center_crop's reference, a broadcasting multiply's gate.
    extra_shapes: tuple[Shape, ...] = ()


@dataclass(frozen=True)
class RuntimeCheck:
    """A limit a layer can only check when the model runs (a symbolic length against a fixed
    ``max_len``): ``netspec validate`` and ``summary`` print it as a warning."""

    message: str
    hint: str | None = None


InferFn = Callable[[Any, tuple[Tensor, ...]], Inferred]
ModuleFn = Callable[[Any, tuple[Tensor, ...]], Call]
FunctionFn = Callable[[Any, int], FnCall]
RuntimeCheckFn = Callable[[Any, tuple[Tensor, ...]], RuntimeCheck | None]
WeightFn = Callable[[Any, tuple[Tensor, ...]], tuple[int, ...]]


@dataclass(frozen=True)
class LayerType(Generic[C]):
    """One layer type: config model, pure shape rule, torch builder, docs and examples.

    ``module`` describes the nn.Module (a :class:`Call`) called as a submodule named after the
    layer; layers without parameters or state that are plain functions of their inputs (add,
    concat) give ``function`` instead (a :class:`FnCall` of their n inputs). With
    ``fused_activation`` the config's ``activation`` field is applied to the output.
    """

    name: str
    config: type[C]
    infer: InferFn
    summary: str
    family: str
    module: ModuleFn | None = None
    function: FunctionFn | None = None
    aliases: tuple[str, ...] = ()
    primary: str | None = None
    min_inputs: int = 1
    max_inputs: int | None = 1
    examples: tuple[Example, ...] = ()
    shape_rule: str = ""
    field_docs: Mapping[str, str] = field(default_factory=dict)
    fused_activation: bool = False  # the config's `activation` is applied to the output
    # Expanded by the spec loader (residual): the user gives one input; the planner sees the
    # loader's internal inputs (block input, body output).
    structural: bool = False
    runtime_check: RuntimeCheckFn | None = None  # what only the forward can check, if anything
    # Arguments whose value names an earlier layer (center_crop's `like`): the loader resolves
    # each and appends it to the layer's inputs, in this order; the config never sees them.
    reference_inputs: tuple[str, ...] = ()
    # The output's first per-sample dim is the input's sequence, position for position (dense,
    # norms, activations, attention): a padding mask on the input carries over to the output.
    keeps_padding: bool = False
    # The module (or function) is called with one key-padding mask per data input after the
    # inputs: a bool (N, T) tensor, True at padded positions (PyTorch's key_padding_mask
    # convention), or None where that input carries no padding.
    takes_padding: bool = False
    # Arguments that name an earlier layer without reading its output (dense's `tie`): the
    # loader resolves each to the layer's qualified name, in place.
    layer_references: tuple[str, ...] = ()
    # The shape of the module's `weight` parameter, for the layers a `tie` may share it with.
    weight: WeightFn | None = None
    # A graph layer: the module is called with the model's hidden graph input after its data
    # input, `edge_index` ((2, edges) int64: message passing) or `batch` (each node's graph
    # id, or None for one graph: graph_pool). Such a layer needs a graph input.
    graph_input: Literal["edge_index", "batch"] | None = None

    def output_activation(self, config: Any) -> str | None:
        return getattr(config, "activation", None) if self.fused_activation else None


_REGISTRY: dict[str, LayerType[Any]] = {}
_ALIASES: dict[str, str] = {}
# Plugins (netspec.layers.plugins) load on the first query below, not at import: by then every
# built-in has registered, so a built-in always wins a name, and a plugin importing netspec
# finds it fully imported.
_plugins_loaded = False


def _ensure_plugins() -> None:
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True  # first: the loader's own queries must not load again
    from netspec.layers import plugins

    plugins.load()


def register(layer: LayerType[Any]) -> LayerType[Any]:
    for word in (layer.name, *layer.aliases):
        if word in _ALIASES:
            raise ValueError(f"layer name {word!r} registered twice")
        _ALIASES[word] = layer.name
    _REGISTRY[layer.name] = layer
    return layer


def get(name: str) -> LayerType[Any]:
    _ensure_plugins()
    return _REGISTRY[_ALIASES[name]]


def resolve(word: str) -> str | None:
    """Canonical type name for a type word or alias, or None if unknown."""
    _ensure_plugins()
    return _ALIASES.get(word)


def all_layers() -> list[LayerType[Any]]:
    _ensure_plugins()
    return sorted(_REGISTRY.values(), key=lambda layer: (layer.family, layer.name))


def all_words() -> list[str]:
    _ensure_plugins()
    return sorted(_ALIASES)
