"""reparameterize: the VAE's sampling step (Kingma & Welling's reparameterization trick).

Inputs ``from: [mean, log_var]``, both (N, ..., Z) -> output (N, ..., Z). While training the
output is ``mean + exp(0.5 * log_var) * eps`` with ``eps ~ N(0, 1)`` drawn fresh for every
element, so the sample is a differentiable function of both inputs; in eval it is ``mean``,
the most likely code, so evaluation and inference are deterministic. Keras' VAE example
calls it ``Sampling``. No parameters; MACs 0 (elementwise exp, multiply and add, which
FlopCounterMode, the conformance oracle, does not count either).
"""

from __future__ import annotations

from netspec.dims import format_shape
from netspec.errors import ShapeError
from netspec.layers.common import NoArgs, require_float
from netspec.layers.registry import (
    Call,
    Example,
    Inferred,
    LayerType,
    Tensor,
    register,
)


def _infer(cfg: NoArgs, inputs: tuple[Tensor, ...]) -> Inferred:
    mean, log_var = inputs
    require_float(mean, "reparameterize")
    require_float(log_var, "reparameterize")
    if mean.shape != log_var.shape:
        raise ShapeError(
            "reparameterize needs a mean and a log-variance of the same shape",
            received=f"mean {format_shape(mean.shape)}, log_var {format_shape(log_var.shape)}",
            expected="identical shapes (N, ..., Z)",
            hint="give both heads the same size, e.g. two `dense: Z` layers on the encoder "
            "output, then `from: [mean, log_var]`",
        )
    return Inferred(mean)


def _module(cfg: NoArgs, inputs: tuple[Tensor, ...]) -> Call:
    return Call("Reparameterize")


register(
    LayerType(
        name="reparameterize",
        config=NoArgs,
        infer=_infer,
        module=_module,
        aliases=("sampling",),
        min_inputs=2,
        max_inputs=2,
        keeps_padding=True,
        family="latent",
        summary="VAE sampling from `from: [mean, log_var]`: mean + exp(0.5 * log_var) * eps, "
        "eps ~ N(0, 1), while training; the mean in eval.",
        shape_rule="(N, ..., Z) and (N, ..., Z) -> (N, ..., Z)",
        examples=(
            Example({}, (16,), extra_inputs=1),
            Example({}, (4, 7, 7), extra_inputs=1),
            Example({}, (10, 8), extra_inputs=1),
        ),
    )
)
