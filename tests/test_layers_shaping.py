"""Shaping layers (pooling, reshape, upsample, dropout, normalization): shape errors, argument
validation, symbolic dims and the torch modules' details. Agreement with torch over many
configs is test_conformance.py's job (strategies in strategies_shaping.py)."""

from __future__ import annotations

import pathlib
import pickle
import subprocess
import sys

import pytest
import torch
from oracle import check, predicted
from pydantic import ValidationError

from netspec import dims
from netspec.backend import modules
from netspec.backend.build import instantiate
from netspec.dims import Sym
from netspec.errors import ShapeError
from netspec.layers import dropout, normalization, pooling, registry, reshape, upsample
from netspec.layers.registry import Tensor

T = Sym.atom("T")

# The modules are imported for their registrations.
_ = (dropout, normalization, reshape, upsample)


def infer(
    name: str, args: dict[str, object], shape: tuple[int | Sym, ...], dtype: str = "float32"
) -> Tensor:
    return predicted(name, args, [Tensor(shape, dtype)]).out  # type: ignore[arg-type]


# --- shape errors ------------------------------------------------------------------------


def test_reshape_count_mismatch_names_both_shapes() -> None:
    with pytest.raises(ShapeError, match=r"\(N, 3, 5\) into \(N, 4, 4\)") as info:
        infer("reshape", {"shape": [4, 4]}, (3, 5))
    assert info.value.field == "shape"
    assert "15" in (info.value.received or "")


def test_reshape_minus_one_must_divide() -> None:
    with pytest.raises(ShapeError, match="15 elements per sample do not divide by 4"):
        infer("reshape", {"shape": [-1, 4]}, (3, 5))


def test_reshape_symbolic_count_that_may_not_divide() -> None:
    with pytest.raises(ShapeError, match=r"3\*T elements per sample do not divide by 2"):
        infer("reshape", {"shape": [-1, 2]}, (T, 3))


@pytest.mark.parametrize("name", ["maxpool2d", "avgpool2d"])
def test_pool_larger_than_input(name: str) -> None:
    with pytest.raises(ShapeError, match="output H size would be 0"):
        infer(name, {"kernel_size": 5}, (3, 4, 9))


def test_pool_padding_over_half_kernel() -> None:
    with pytest.raises(ShapeError, match="padding 2 is more than half its kernel size 3") as info:
        infer("maxpool2d", {"kernel_size": 3, "padding": 2, "dilation": 2}, (1, 9, 9))
    assert info.value.field == "padding"


def test_avgpool3d_needs_input_at_least_kernel_even_with_padding() -> None:
    with pytest.raises(ShapeError, match="spatial dim 1 is 1 < 2"):
        infer("avgpool3d", {"kernel_size": [2, 1, 1], "padding": [1, 0, 0]}, (1, 1, 1, 1))
    # the other pools accept it, as torch does
    for name, args, shape in [
        ("maxpool3d", {"kernel_size": [2, 1, 1], "padding": [1, 0, 0], "stride": 1}, (1, 1, 1, 1)),
        ("avgpool2d", {"kernel_size": [2, 1], "padding": [1, 0], "stride": 1}, (1, 1, 1)),
    ]:
        assert infer(name, args, shape).shape[1] == 2
        check(name, args, shape)


def test_pool_wrong_rank_and_wrong_list_length() -> None:
    with pytest.raises(ShapeError, match=r"expects input \(N, C, H, W\)"):
        infer("maxpool2d", {"kernel_size": 2}, (64,))
    with pytest.raises(ShapeError, match="kernel_size has 3 values"):
        infer("maxpool2d", {"kernel_size": [2, 2, 2]}, (1, 8, 8))


def test_pool_rejects_token_ids() -> None:
    with pytest.raises(ShapeError, match="needs a floating-point input"):
        infer("avgpool1d", {"kernel_size": 2}, (3, 8), "int64")


@pytest.mark.parametrize(
    ("dims_", "shape", "match"),
    [
        ([2, 1], (2, 3, 4), r"not an ordering of the 3 per-sample dims"),
        ([1, 2, 3], (5, 6), "not an ordering of the 2 per-sample dims"),
        ([0, 1], (5, 6), "not an ordering"),
        ([2, 3], (5, 6), "not an ordering"),
    ],
)
def test_permute_bad_dims(dims_: list[int], shape: tuple[int, ...], match: str) -> None:
    with pytest.raises(ShapeError, match=match) as info:
        infer("permute", {"dims": dims_}, shape)
    assert info.value.field == "dims"


@pytest.mark.parametrize(
    ("args", "shape"),
    [
        ({"start_dim": 0}, (3, 4)),
        ({"start_dim": 3}, (3, 4)),
        ({"start_dim": 2, "end_dim": 1}, (3, 4, 5)),
        ({"end_dim": -3}, (3, 4)),
    ],
)
def test_flatten_bad_dims(args: dict[str, object], shape: tuple[int, ...]) -> None:
    with pytest.raises(ShapeError, match="flatten cannot flatten dims"):
        infer("flatten", args, shape)


def test_global_pool_needs_spatial_dims() -> None:
    with pytest.raises(ShapeError, match=r"expects input \(N, C, \*spatial\)"):
        infer("global_avgpool", {}, (16,))


def test_upsample_mode_rank_and_scale_list() -> None:
    with pytest.raises(ShapeError, match=r"\(mode bilinear\) expects input \(N, C, H, W\)"):
        infer("upsample", {"scale_factor": 2, "mode": "bilinear"}, (3, 8))
    with pytest.raises(ShapeError, match="scale_factor has 3 values"):
        infer("upsample", {"scale_factor": [2, 2, 2]}, (3, 8, 8))
    with pytest.raises(ShapeError, match="would be 0"):
        infer("upsample", {"scale_factor": 0.1}, (3, 7))


def test_norms_need_known_sizes_and_floats() -> None:
    with pytest.raises(ShapeError, match="must be a fixed size"):
        infer("layernorm", {}, (4, T))
    with pytest.raises(ShapeError, match="must be a fixed size"):
        infer("batchnorm", {}, (T, 4))
    with pytest.raises(ShapeError, match=r"expects input \(N, C\), \(N, C, L\)"):
        infer("batchnorm", {}, (2, 3, 4, 5, 6))
    with pytest.raises(ShapeError, match="needs a floating-point input"):
        infer("dropout", {"rate": 0.1}, (8,), "int64")


# --- argument validation -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "args", "match"),
    [
        ("reshape", {"shape": [-1, -1]}, "at most one size may be -1"),
        ("reshape", {"shape": [0, 4]}, "sizes must be positive"),
        ("reshape", {"shape": [-2, 4]}, "greater than or equal to -1"),
        ("permute", {"dims": [1, 1]}, "each dim may appear only once"),
        ("upsample", {"scale_factor": 2, "align_corners": True}, "align_corners applies only"),
        ("dropout", {"rate": 1.0}, "less than 1"),
        ("dropout", {"p": -0.1}, "greater than or equal to 0"),
        ("batchnorm", {"momentum": None}, "valid number"),
        ("maxpool2d", {}, "kernel_size"),
        ("avgpool2d", {"kernel_size": 2, "dilation": 2}, "Extra inputs"),
    ],
)
def test_invalid_arguments(name: str, args: dict[str, object], match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        registry.get(name).config.model_validate(args)


def test_aliases_resolve() -> None:
    for word, name in [
        ("max_pooling2d", "maxpool2d"),
        ("max_pool2d", "maxpool2d"),
        ("avg_pool1d", "avgpool1d"),
        ("average_pooling3d", "avgpool3d"),
        ("global_average_pooling2d", "global_avgpool"),
        ("global_max_pool1d", "global_maxpool"),
        ("adaptive_avg_pool2d", "adaptive_avgpool2d"),
        ("batch_normalization", "batchnorm"),
        ("batchnorm2d", "batchnorm"),
        ("layer_normalization", "layernorm"),
        ("up_sampling2d", "upsample"),
    ]:
        assert registry.resolve(word) == name
    cfg = registry.get("maxpool2d").config.model_validate({"pool_size": 3, "strides": 1})
    assert (cfg.kernel_size, cfg.stride) == (3, 1)
    assert registry.get("dropout").config.model_validate({"p": 0.2}).rate == 0.2
    assert registry.get("dropout").config.model_validate({}).rate == 0.5


# --- symbolic dims and dtypes --------------------------------------------------------------


def test_symbolic_lengths() -> None:
    assert infer("maxpool1d", {"kernel_size": 2}, (4, dims.mul(T, 2))).shape == (4, T)
    assert infer("avgpool1d", {"kernel_size": 3, "stride": 1, "padding": 1}, (4, T)).shape == (4, T)
    assert infer("global_maxpool", {}, (4, T)).shape == (4,)
    assert infer("flatten", {}, (T, 4)).shape == (dims.mul(T, 4),)
    assert infer("reshape", {"shape": [-1, 2, 2]}, (T, 8)).shape == (dims.mul(T, 2), 2, 2)
    assert infer("permute", {"dims": [2, 1]}, (T, 8)).shape == (8, T)
    assert infer("upsample", {"scale_factor": 2}, (3, T)).shape == (3, dims.mul(T, 2))
    assert infer("layernorm", {}, (T, 8)).shape == (T, 8)


def test_symbolic_ceil_mode_matches_torch_when_substituted() -> None:
    for k, s, p in [(2, 2, 0), (3, 2, 1), (2, 2, 1), (4, 3, 2)]:
        out = pooling.pool_out(dims.mul(T, 6), k, s, p, 1, True)
        for t in range(1, 6):
            want = torch.nn.functional.max_pool1d(
                torch.empty(1, 1, 6 * t, device="meta"), k, s, p, ceil_mode=True
            ).shape[-1]
            assert dims.substitute(out, {"T": t}) == want


@pytest.mark.parametrize("name", ["flatten", "reshape", "permute"])
def test_token_ids_pass_through(name: str) -> None:
    args = {"flatten": {}, "reshape": {"shape": [-1]}, "permute": {"dims": [2, 1]}}[name]
    assert infer(name, args, (3, 4), "int64").dtype == "int64"
    check(name, args, (3, 4), "int64")


# --- the torch modules ---------------------------------------------------------------------


def _build(name: str, args: dict[str, object], shape: tuple[int, ...]) -> torch.nn.Module:
    layer = registry.get(name)
    assert layer.module is not None
    module: torch.nn.Module = instantiate(
        layer.module(layer.config.model_validate(args), (Tensor(shape),))
    )
    return module


@pytest.mark.parametrize(
    ("shape", "cls"),
    [
        ((5,), torch.nn.BatchNorm1d),
        ((5, 7), torch.nn.BatchNorm1d),
        ((5, 3, 4), torch.nn.BatchNorm2d),
        ((5, 2, 3, 4), torch.nn.BatchNorm3d),
    ],
)
def test_batchnorm_class_from_rank(shape: tuple[int, ...], cls: type) -> None:
    module = _build("batchnorm", {}, shape)
    assert type(module) is cls
    # (C,) cannot run at batch 1 in training (one value per channel), so check it at batch 4.
    y = module(torch.randn(4, *shape))
    assert tuple(y.shape[1:]) == shape
    params = sum(p.numel() for p in module.parameters())
    assert params == predicted("batchnorm", {}, [Tensor(shape)]).params == 10
    assert {n for n, _ in module.named_buffers()} >= {"running_mean", "running_var"}


def test_reshape_and_permute_modules_pickle_and_run() -> None:
    for module, x, want in [
        (
            _build("reshape", {"shape": [2, -1]}, (3, 4)),
            torch.arange(24.0).view(2, 3, 4),
            torch.arange(24.0).view(2, 2, 6),
        ),
        (
            _build("permute", {"dims": [2, 1]}, (3, 4)),
            torch.arange(24.0).view(2, 3, 4),
            torch.arange(24.0).view(2, 3, 4).transpose(1, 2),
        ),
    ]:
        again = pickle.loads(pickle.dumps(module))
        assert repr(again) == repr(module)
        assert torch.equal(again(x), want)
        assert type(again) is type(module) is getattr(modules, type(module).__name__)


def test_global_pool_values() -> None:
    x = torch.randn(2, 3, 4, 5)
    assert torch.allclose(_build("global_avgpool", {}, (3, 4, 5))(x), x.mean((2, 3)))
    assert torch.equal(_build("global_maxpool", {}, (3, 4, 5))(x), x.amax((2, 3)))


def test_shaping_files_do_not_import_torch() -> None:
    code = (
        "import sys; import netspec.layers.pooling, netspec.layers.reshape, "
        "netspec.layers.upsample, netspec.layers.dropout, netspec.layers.normalization; "
        "print('torch' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=pathlib.Path(__file__).parents[1],
    )
    assert out.stdout.strip() == "False"
