"""Normalization and activation layers: numeric agreement of the built modules with torch's
reference functions, shape errors, argument spellings and the fused-activation table.
Agreement of shapes, parameter counts and MACs over many configs is test_conformance.py's
job (strategies in strategies_core.py, strategies_shaping.py and strategies_norms.py)."""

from __future__ import annotations

from typing import Any, get_args

import pytest
import torch
import torch.nn.functional as F
from oracle import predicted
from pydantic import ValidationError

import netspec
from netspec.backend import functions as backend_functions
from netspec.backend import modules
from netspec.backend.build import instantiate
from netspec.dims import Sym
from netspec.errors import ShapeError
from netspec.layers import activation, functions, normalization, registry
from netspec.layers.common import ActivationName
from netspec.layers.registry import Tensor

T = Sym.atom("T")

# The modules are imported for their registrations.
_ = (activation, normalization)


def _build(name: str, args: dict[str, Any], shape: tuple[int, ...]) -> torch.nn.Module:
    layer = registry.get(name)
    assert layer.module is not None
    module: torch.nn.Module = instantiate(
        layer.module(layer.config.model_validate(args), (Tensor(shape),))
    )
    return module


def _randomize(module: torch.nn.Module) -> None:
    """Random parameters, so a scale or shift applied wrongly (or not at all) shows."""
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn_like(p))


# --- rmsnorm: netspec's RMSNorm equals torch.nn.RMSNorm ------------------------------------


@pytest.mark.parametrize("eps", [None, 1e-6, 0.5])
@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
def test_rmsnorm_equals_torch(eps: float | None, affine: bool, dtype: torch.dtype) -> None:
    torch.manual_seed(0)
    ours = _build("rmsnorm", {"eps": eps, "affine": affine}, (5, 8)).to(dtype)
    theirs = torch.nn.RMSNorm(8, eps=eps, elementwise_affine=affine).to(dtype)
    assert isinstance(ours, modules.RMSNorm)
    _randomize(ours)
    # Same parameter names and shapes: a checkpoint of either loads into the other.
    theirs.load_state_dict(ours.state_dict(), strict=True)
    x = torch.randn(3, 5, 8, dtype=dtype) * 0.01  # small values: eps matters
    got, want = ours(x), theirs(x)
    assert got.dtype == want.dtype == dtype
    torch.testing.assert_close(got, want)
    assert sum(p.numel() for p in ours.parameters()) == (8 if affine else 0)


def test_rmsnorm_default_eps_is_the_machine_epsilon() -> None:
    # x = 0 gives 0 / sqrt(eps); a wrong default eps would still give 0, so test x tiny.
    x = torch.full((1, 4), 1e-4)
    got = _build("rmsnorm", {}, (4,))(x)
    want = x / torch.sqrt(x.pow(2).mean(-1, keepdim=True) + torch.finfo(torch.float32).eps)
    torch.testing.assert_close(got, want)
    assert not torch.allclose(got, torch.ones_like(got), atol=1e-2)  # eps did matter


def test_rmsnorm_repr_matches_torch() -> None:
    ours = _build("rmsnorm", {"eps": 1e-6}, (8,))
    assert ours.extra_repr() == torch.nn.RMSNorm(8, eps=1e-6).extra_repr()


# --- prelu, groupnorm, instancenorm against torch.nn.functional ---------------------------


@pytest.mark.parametrize(
    ("args", "shape", "params"),
    [
        ({}, (3, 4, 4), 1),
        ({"per_channel": True}, (3, 4, 4), 3),
        ({"per_channel": True}, (7,), 7),
        ({"per_channel": True, "init": 0.1}, (5, 2), 5),
    ],
)
def test_prelu_equals_functional(args: dict[str, Any], shape: tuple[int, ...], params: int) -> None:
    module = _build("prelu", args, shape)
    weight = module.weight
    assert weight.numel() == params == predicted("prelu", args, [Tensor(shape)]).params
    assert torch.all(weight == args.get("init", 0.25))
    _randomize(module)
    x = torch.randn(2, *shape)
    torch.testing.assert_close(module(x), F.prelu(x, module.weight))
    torch.testing.assert_close(module(x), torch.where(x >= 0, x, x * _along_dim1(weight, x)))


def _along_dim1(weight: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """The slopes broadcast over dim 1 of x: (C,) -> (C, 1, ..., 1); one slope stays (1,)."""
    return weight.reshape(-1, *([1] * (x.dim() - 2)))


@pytest.mark.parametrize(
    ("args", "shape"),
    [
        ({"num_groups": 2}, (4, 6, 6)),
        ({"num_groups": 3, "affine": False, "eps": 1e-3}, (6, 5)),
        ({"num_groups": 1}, (8,)),
        ({"num_groups": 4}, (4, 2, 3, 2)),
    ],
)
def test_groupnorm_equals_functional(args: dict[str, Any], shape: tuple[int, ...]) -> None:
    module = _build("groupnorm", args, shape)
    _randomize(module)
    x = torch.randn(3, *shape)
    want = F.group_norm(
        x, args["num_groups"], module.weight, module.bias, eps=args.get("eps", 1e-5)
    )
    torch.testing.assert_close(module(x), want)
    params = sum(p.numel() for p in module.parameters())
    assert params == predicted("groupnorm", args, [Tensor(shape)]).params


@pytest.mark.parametrize(
    ("args", "shape", "cls"),
    [
        ({}, (3, 10), torch.nn.InstanceNorm1d),
        ({"affine": True, "eps": 1e-3}, (4, 5, 5), torch.nn.InstanceNorm2d),
        ({"affine": True, "track_running_stats": True}, (2, 3, 3, 2), torch.nn.InstanceNorm3d),
    ],
)
def test_instancenorm_equals_functional(
    args: dict[str, Any], shape: tuple[int, ...], cls: type
) -> None:
    module = _build("instancenorm", args, shape)
    assert type(module) is cls
    _randomize(module)
    x = torch.randn(3, *shape)
    want = F.instance_norm(x, weight=module.weight, bias=module.bias, eps=args.get("eps", 1e-5))
    torch.testing.assert_close(module.train()(x), want)
    params = sum(p.numel() for p in module.parameters())
    assert params == predicted("instancenorm", args, [Tensor(shape)]).params
    assert params == (2 * shape[0] if args.get("affine") else 0)


def test_instancenorm_defaults_follow_torch() -> None:
    module = _build("instancenorm", {}, (3, 4, 4))
    assert isinstance(module, torch.nn.InstanceNorm2d)
    assert (module.affine, module.track_running_stats) == (False, False)
    assert (module.eps, module.momentum) == (1e-5, 0.1)


# --- shape errors --------------------------------------------------------------------------


def test_groupnorm_channels_must_divide_by_groups() -> None:
    with pytest.raises(ShapeError, match=r"the 6 channels do not split into num_groups=4") as info:
        predicted("groupnorm", {"num_groups": 4}, [Tensor((6, 5, 5))])
    assert info.value.field == "num_groups"
    assert info.value.received == "(N, 6, 5, 5)"
    assert "1, 2, 3, 6" in (info.value.hint or "")


def test_groupnorm_group_of_one_value_is_refused() -> None:
    with pytest.raises(ShapeError, match="each of the 4 groups holds a single value") as info:
        predicted("groupnorm", {"num_groups": 4}, [Tensor((4,))])
    assert info.value.field == "num_groups"
    # Two channels per group, or a spatial extent, are fine.
    assert predicted("groupnorm", {"num_groups": 2}, [Tensor((4,))]).params == 8
    assert predicted("groupnorm", {"num_groups": 4}, [Tensor((4, T))]).out.shape == (4, T)


def test_groupnorm_error_points_at_the_yaml_line() -> None:
    spec = "input: [6, 4, 4]\nlayers:\n  - conv2d: {filters: 6, kernel_size: 1}\n  - groupnorm: 4\n"
    with pytest.raises(netspec.SpecError, match="num_groups") as info:
        netspec.plan(spec)
    text = str(info.value)
    assert ":4:" in text  # line 4 of the YAML: the groupnorm entry
    assert "layers[1]" in text


def test_instancenorm_needs_more_than_one_spatial_value() -> None:
    with pytest.raises(ShapeError, match="hold a single value") as info:
        predicted("instancenorm", {}, [Tensor((3, 1, 1))])
    assert info.value.received == "(N, 3, 1, 1)"
    assert predicted("instancenorm", {}, [Tensor((3, T))]).out.shape == (3, T)


@pytest.mark.parametrize("shape", [(8,), (2, 3, 4, 5, 6, 7)])
def test_instancenorm_rank(shape: tuple[int, ...]) -> None:
    with pytest.raises(ShapeError, match=r"instancenorm expects input \(N, C, L\)"):
        predicted("instancenorm", {}, [Tensor(shape)])


@pytest.mark.parametrize(
    ("name", "args", "shape", "match"),
    [
        ("rmsnorm", {}, (4, T), "the last dimension of rmsnorm's input must be a fixed size"),
        ("prelu", {"per_channel": True}, (T, 4), r"prelu's channel dimension \(dim 1\)"),
        ("groupnorm", {"num_groups": 2}, (T, 4), "the channel dimension of groupnorm's input"),
        ("instancenorm", {}, (T, 4), "the channel dimension of instancenorm's input"),
    ],
)
def test_weights_need_fixed_sizes(
    name: str, args: dict[str, Any], shape: tuple[Any, ...], match: str
) -> None:
    with pytest.raises(ShapeError, match=match):
        predicted(name, args, [Tensor(shape)])


def test_prelu_with_one_slope_accepts_symbolic_dims() -> None:
    got = predicted("prelu", {}, [Tensor((T, 4))])
    assert (got.out.shape, got.params) == ((T, 4), 1)


@pytest.mark.parametrize("name", ["rmsnorm", "groupnorm", "instancenorm", "prelu", "mish"])
def test_token_ids_are_refused(name: str) -> None:
    args = {"num_groups": 1} if name == "groupnorm" else {}
    with pytest.raises(ShapeError, match="needs a floating-point input"):
        predicted(name, args, [Tensor((4, 6), "int64")])


# --- argument spellings -------------------------------------------------------------------


@pytest.mark.parametrize("name", ["layernorm", "rmsnorm"])
def test_affine_is_an_alias_of_elementwise_affine(name: str) -> None:
    layer = registry.get(name)
    assert layer.config.model_validate({"affine": False}).elementwise_affine is False
    assert predicted(name, {"affine": False}, [Tensor((3, 8))]).params == 0
    assert predicted(name, {"elementwise_affine": True}, [Tensor((3, 8))]).params > 0


@pytest.mark.parametrize(
    ("name", "args", "match"),
    [
        ("groupnorm", {}, "num_groups"),
        ("groupnorm", {"num_groups": 0}, "greater than 0"),
        ("rmsnorm", {"eps": 0.0}, "greater than 0"),
        ("instancenorm", {"momentum": 1.5}, "less than or equal to 1"),
        ("softplus", {"beta": 0}, "greater than 0"),
        ("prelu", {"per_channel": "yes"}, "valid boolean"),
    ],
)
def test_invalid_arguments(name: str, args: dict[str, Any], match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        registry.get(name).config.model_validate(args)


@pytest.mark.parametrize(
    ("word", "name"),
    [
        ("instancenorm2d", "instancenorm"),
        ("instance_normalization", "instancenorm"),
        ("instance_norm1d", "instancenorm"),
        ("group_normalization", "groupnorm"),
        ("group_norm", "groupnorm"),
        ("rms_norm", "rmsnorm"),
    ],
)
def test_type_aliases(word: str, name: str) -> None:
    assert registry.resolve(word) == name


def test_primary_argument_and_spellings_in_a_spec() -> None:
    p = netspec.plan(
        "input: [8, 6, 6]\n"
        "layers:\n"
        "  - groupnorm: 4\n"
        "  - instance_normalization: {affine: true}\n"
        "  - prelu: {per_channel: true}\n"
        "  - permute: [2, 3, 1]\n"
        "  - rms_norm: {eps: 1.0e-6}\n"
        "  - layernorm: {affine: false}\n"
        "  - softplus: {beta: 2}\n"
    )
    params = [layer.params for layer in p.layers]
    assert params == [16, 16, 8, 0, 8, 0, 0]


# --- padding propagation ------------------------------------------------------------------


def test_position_keeping_layers_keep_padding() -> None:
    keeps = {layer.name for layer in registry.all_layers() if layer.keeps_padding}
    activations = {layer.name for layer in registry.all_layers() if layer.family == "activation"}
    assert activations <= keeps
    assert {"dense", "dropout", "layernorm", "rmsnorm"} <= keeps
    # Channel norms mix the sequence positions of (N, T, E) inputs: statistics over T.
    assert not {"batchnorm", "instancenorm", "groupnorm"} & keeps


# --- fused activations ----------------------------------------------------------------------


_REFERENCE = {
    "relu": torch.relu,
    "leaky_relu": F.leaky_relu,
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "gelu": F.gelu,
    "gelu_tanh": lambda x: F.gelu(x, approximate="tanh"),
    "silu": F.silu,
    "elu": F.elu,
    "selu": torch.selu,
    "relu6": lambda x: x.clamp(0, 6),
    "hardswish": lambda x: x * (x + 3).clamp(0, 6) / 6,
    "hardsigmoid": lambda x: (x + 3).clamp(0, 6) / 6,
    "mish": lambda x: x * torch.tanh(F.softplus(x)),
    "softplus": lambda x: torch.log1p(torch.exp(x)),
    "softmax": lambda x: torch.softmax(x, -1),
    "log_softmax": lambda x: torch.log_softmax(x, -1),
}


@pytest.mark.parametrize("name", sorted(set(get_args(ActivationName)) - {"identity", "linear"}))
def test_fused_activation_values(name: str) -> None:
    call = functions.activation(name)
    assert call is not None
    x = torch.linspace(-5, 5, 41).reshape(1, 41)
    got = backend_functions.table()[call.fn](x, **call.kwargs)
    torch.testing.assert_close(got, _REFERENCE[name](x))


def test_gelu_tanh_differs_from_exact_gelu() -> None:
    # The value test above tells the two apart only if they differ by more than its
    # tolerance on its points: make sure they do.
    x = torch.linspace(-5, 5, 41)
    assert not torch.allclose(F.gelu(x, approximate="tanh"), F.gelu(x))
    call = functions.activation("gelu_tanh")
    assert call is not None
    assert call.kwargs == {"approximate": "tanh"}


def test_fused_activation_in_model_py() -> None:
    from netspec.backend.eject import model_source

    p = netspec.plan("input: [8]\nlayers:\n  - dense: {units: 4, activation: gelu_tanh}\n")
    assert "F.gelu(" in model_source(p)
    assert "approximate='tanh'" in model_source(p)


@pytest.mark.parametrize("name", ["relu6", "hardswish", "hardsigmoid", "mish", "softplus", "selu"])
def test_standalone_activation_layers_equal_the_fused_ones(name: str) -> None:
    module = _build(name, {}, (41,))
    x = torch.linspace(-5, 5, 41).reshape(1, 41)
    torch.testing.assert_close(module(x), _REFERENCE[name](x))


def test_softplus_arguments() -> None:
    module = _build("softplus", {"beta": 2.0, "threshold": 1.0}, (5,))
    x = torch.tensor([[-1.0, 0.0, 0.4, 0.6, 3.0]])
    want = torch.where(2 * x > 1.0, x, torch.log1p(torch.exp(2 * x)) / 2)
    torch.testing.assert_close(module(x), want)


def test_rmsnorm_traces_and_exports_with_a_dynamic_batch() -> None:
    # `netspec build --export torchscript/export` trace and export the model: the eps
    # branch and the dtype promotion must not bake the example batch in.
    module = _build("rmsnorm", {}, (3, 8)).eval()
    _randomize(module)
    x = torch.randn(2, 3, 8)
    traced = torch.jit.trace(module, x, check_trace=False)  # type: ignore[no-untyped-call]
    batch = torch.export.Dim("batch", min=1)
    program = torch.export.export(module, (x,), dynamic_shapes=({0: batch},))
    bigger = torch.randn(5, 3, 8)
    torch.testing.assert_close(traced(bigger), module(bigger))
    torch.testing.assert_close(program.module()(bigger), module(bigger))
