"""Pieces shared by several layer files: argument types, shape checks, layouts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Literal, TypeVar

from pydantic import Field

from netspec.dims import Dim, Shape, format_shape
from netspec.errors import ShapeError
from netspec.layers.registry import LayerConfig, Tensor

PositiveInt = Annotated[int, Field(gt=0)]
NonNegativeInt = Annotated[int, Field(ge=0)]
Rate = Annotated[float, Field(ge=0.0, lt=1.0)]
# A size given once for every spatial dim, or once per dim.
IntOrTuple = PositiveInt | tuple[PositiveInt, ...]
PadOrTuple = NonNegativeInt | tuple[NonNegativeInt, ...]

# The parameter-free activations a dense/conv layer may apply to its output (`activation:`),
# each with torch's default arguments; `gelu_tanh` is GELU's tanh approximation (GPT-2's).
ActivationName = Literal[
    "relu", "leaky_relu", "sigmoid", "tanh", "gelu", "gelu_tanh", "silu", "elu", "selu",
    "relu6", "hardswish", "hardsigmoid", "mish", "softplus", "softmax", "log_softmax",
    "identity", "linear",
]  # fmt: skip

SpectralNorm = Annotated[
    bool,
    Field(
        description="constrain the weight's largest singular value to 1 (spectral "
        "normalization, Miyato et al. 2018; torch.nn.utils.parametrizations.spectral_norm), "
        "as a GAN's discriminator does; one power iteration per forward in training mode, "
        "parameters and MACs unchanged (the power iteration's vector products are not counted)"
    ),
]


class NoArgs(LayerConfig):
    """The config of a layer without arguments (relu, add, global pools)."""


def layout(n: int) -> str:
    """``(N, C, L)``, ``(N, C, H, W)`` or ``(N, C, D, H, W)`` for ``n`` spatial dims."""
    return "(N, C, " + ", ".join(["L"] if n == 1 else ["D", "H", "W"][-n:]) + ")"


def check_groups(channels: int, filters: int, groups: int, in_shape: Shape) -> None:
    """Grouped convolutions need channels and filters divisible by the group count."""
    for what, count in (("input channels", channels), ("filters", filters)):
        if count % groups:
            raise ShapeError(
                f"{what} ({count}) must be divisible by groups ({groups})",
                received=format_shape(in_shape),
                field="groups",
            )


Num = TypeVar("Num", int, float)


def per_dim(value: Num | tuple[Num, ...], n: int, field: str) -> tuple[Num, ...]:
    """Expand one value to ``n`` (one per spatial dim); a tuple must already have ``n``."""
    if isinstance(value, (int, float)):
        return (value,) * n
    if len(value) != n:
        raise ShapeError(
            f"{field} has {len(value)} values but the layer has {n} spatial dimension(s)",
            received=str(list(value)),
            expected=f"one value or a list of {n}",
            field=field,
        )
    return tuple(value)


def require_float(t: Tensor, layer: str) -> None:
    if t.dtype != "float32":
        raise ShapeError(
            f"{layer} needs a floating-point input but receives {t.dtype} token ids",
            received=f"{format_shape(t.shape)} {t.dtype}",
            hint="integer inputs feed an `embedding` layer first",
        )


def require_rank(t: Tensor, ranks: Sequence[int], layer: str, layout: str) -> None:
    """Per-sample rank check with a message in the user's terms (``(N, C, H, W)``)."""
    if len(t.shape) + 1 not in ranks:
        hint = None
        if len(t.shape) > 1 and ranks == (2,):
            hint = "add a flatten before " + layer
        elif len(t.shape) == 1 and min(ranks) > 2:
            hint = (
                "add a reshape to give the input channel and spatial dimensions"
                if "C" in layout
                else f"add a reshape to give the input the layout {layout}, e.g. reshape: [-1, 1]"
            )
        raise ShapeError(
            f"{layer} expects input {layout}",
            received=format_shape(t.shape),
            expected=layout,
            hint=hint,
        )


def known(d: Dim, what: str) -> int:
    """An int dimension; a symbolic one cannot size a weight."""
    if isinstance(d, int):
        return d
    raise ShapeError(
        f"{what} must be a fixed size to create weights, but it is the symbol {d}",
        hint="give that dimension a number in `input`, or pool/reduce it away first",
    )


_AXES = {1: ("L",), 2: ("H", "W"), 3: ("D", "H", "W")}


def axis(i: int, n: int) -> str:
    """The name of spatial dim ``i`` of ``n`` as in PyTorch's docs: L, or H, W, or D, H, W."""
    return _AXES.get(n, tuple(f"#{k + 1}" for k in range(n)))[i]


def positive(d: Dim, what: str, received: Shape) -> Dim:
    """An output size that must be >= 1 (else the input is too small for the window)."""
    if isinstance(d, int) and d < 1:
        raise ShapeError(
            f"{what} would be {d}: the input is too small for this layer",
            received=format_shape(received),
            expected="an output size of at least 1",
            hint="use a smaller kernel_size (or dilation), add padding (`padding: same` keeps "
            "the size), or feed a larger input",
        )
    return d
