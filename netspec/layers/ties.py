"""Tied weights: a layer that reuses another layer's ``weight`` (GPT-2's output head reuses
the token embedding, "Using the Output Embedding to Improve Language Models", Press & Wolf).

The shared tensor is one parameter: it is counted once, at the layer that owns it, and the
layer that ties to it counts only its own other parameters (its bias). torchinfo counts such
weights twice; the summary, the built module, model.py and safetensors keep them shared.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any, Protocol

from netspec.dims import format_shape
from netspec.errors import ShapeError
from netspec.layers.registry import Inferred, LayerConfig, LayerType, Tensor, get


class Owner(Protocol):
    """What a tie needs of the planned layer that owns the weight."""

    @property
    def name(self) -> str: ...
    @property
    def type(self) -> str: ...
    @property
    def config(self) -> LayerConfig: ...
    @property
    def in_tensors(self) -> tuple[Tensor, ...]: ...
    @property
    def tie(self) -> str | None: ...


def shared(
    layer_type: LayerType[Any],
    config: LayerConfig,
    inputs: tuple[Tensor, ...],
    inferred: Inferred,
    name: str,
    owner: Owner | None,
) -> Inferred:
    """``inferred`` less the tied weight of layer ``name`` (``owner``, None for a model
    input), after checking the two weights have one shape."""
    if owner is None:
        raise ShapeError(
            f"tie names {name!r}, an input, which has no weight to share",
            hint="tie to an embedding (or dense) layer",
            field="tie",
        )
    owner_type = get(owner.type)
    if layer_type.weight is None:
        raise ShapeError(f"{layer_type.name} has no weight to tie", field="tie")
    if owner_type.weight is None:
        raise ShapeError(
            f"tie names {owner.name!r}, a {owner.type} layer, which has no weight to share",
            hint="tie to an embedding (or a dense layer) with the same weight shape",
            field="tie",
        )
    if owner.tie is not None:
        raise ShapeError(
            f"tie names {owner.name!r}, whose weight is itself tied to {owner.tie!r}",
            hint=f"tie to {owner.tie!r} directly",
            field="tie",
        )
    for who, cfg in (("this layer", config), (repr(owner.name), owner.config)):
        # spectral_norm makes `weight` a value computed from a hidden parameter: there is no
        # one Parameter left for two modules to hold
        if getattr(cfg, "spectral_norm", False):
            raise ShapeError(
                f"a tied weight cannot be spectrally normalized, and {who} has "
                "`spectral_norm: true`",
                hint="drop the tie or the spectral_norm",
                field="tie",
            )
    mine = layer_type.weight(config, inputs)
    theirs = owner_type.weight(owner.config, owner.in_tensors)
    if mine != theirs:
        raise ShapeError(
            f"the weight of {owner.name!r} cannot be shared: its shape differs",
            received=f"{owner.name}.weight {format_shape(theirs)}",
            expected=f"weight {format_shape(mine)} for this layer",
            hint="an output head tied to an embedding needs units = num_embeddings and an "
            "input of embedding_dim features",
            field="tie",
        )
    return replace(inferred, params=inferred.params - math.prod(mine))
