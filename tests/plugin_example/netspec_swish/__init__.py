"""swish: x * sigmoid(beta * x), with beta learned. An example netspec layer plugin.

Input (N, ...) -> output (N, ...), unchanged. Params 1 (beta); MACs 0 (an activation, as
netspec counts them: no multiply-accumulate of a weight matrix).

Torch-free, like a built-in layer file: ``netspec validate`` imports this module, and only
``build_model`` imports :mod:`netspec_swish.modules`, where the torch class lives.
"""

from __future__ import annotations

from pydantic import Field

from netspec.layers.common import require_float
from netspec.layers.registry import Call, Example, Inferred, LayerConfig, LayerType, Tensor


class SwishConfig(LayerConfig):
    beta: float = Field(1.0, description="initial value of the learned beta")


def infer(cfg: SwishConfig, inputs: tuple[Tensor, ...]) -> Inferred:
    (x,) = inputs
    require_float(x, "swish")
    return Inferred(x, params=1)


def module(cfg: SwishConfig, inputs: tuple[Tensor, ...]) -> Call:
    # "package.module:Class": netspec imports it only because this plugin registered the layer.
    return Call("netspec_swish.modules:Swish", (), {"beta": cfg.beta})


SWISH = LayerType(
    name="swish",
    config=SwishConfig,
    infer=infer,
    module=module,
    aliases=("learned_swish",),
    primary="beta",
    family="activation",
    summary="x * sigmoid(beta * x) with a learned beta (plugin netspec-swish).",
    shape_rule="unchanged",
    keeps_padding=True,
    examples=(Example({}, (8,)), Example({"beta": 0.5}, (3, 4, 4))),
)

# What the entry point names (`swish = netspec_swish:LAYERS`): netspec registers them.
LAYERS = (SWISH,)
