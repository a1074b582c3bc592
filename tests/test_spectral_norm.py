"""`spectral_norm: true` on dense, conv and transposed-conv layers: torch's
parametrizations.spectral_norm on the weight, parameters and MACs unchanged, state_dict keys
as torch names them, and model.py built the same way (torch is the oracle throughout)."""

from __future__ import annotations

import pathlib
from typing import Any

import pytest
import torch
from ejected import import_file
from torch import nn
from torch.nn.utils import parametrizations, parametrize
from torch.utils.flop_counter import FlopCounterMode

import netspec
from netspec import SpecError
from netspec.backend.build import class_name
from netspec.backend.eject import model_source

# (layer type and arguments, input shape per sample, the same layer hand-built in torch)
CASES: list[tuple[str, dict[str, Any], tuple[int, ...], nn.Module]] = [
    ("dense", {"units": 5}, (7,), nn.Linear(7, 5)),
    ("dense", {"units": 1, "bias": False}, (3, 4), nn.Linear(4, 1, bias=False)),
    ("conv1d", {"filters": 4, "kernel_size": 3}, (2, 9), nn.Conv1d(2, 4, 3)),
    (
        "conv2d",
        {"filters": 6, "kernel_size": 3, "stride": 2, "padding": 1},
        (3, 8, 8),
        nn.Conv2d(3, 6, 3, stride=2, padding=1),
    ),
    ("conv3d", {"filters": 2, "kernel_size": 2}, (3, 4, 5, 6), nn.Conv3d(3, 2, 2)),
    ("conv_transpose1d", {"filters": 3, "kernel_size": 4}, (2, 5), nn.ConvTranspose1d(2, 3, 4)),
    (
        "conv_transpose2d",
        {"filters": 3, "kernel_size": 4, "stride": 2, "padding": 1},
        (5, 4, 4),
        nn.ConvTranspose2d(5, 3, 4, stride=2, padding=1),
    ),
]
IDS = [f"{name}-{i}" for i, (name, *_) in enumerate(CASES)]


def _spec(name: str, args: dict[str, Any], shape: tuple[int, ...], norm: bool) -> dict[str, Any]:
    return {
        "name": "sn",
        "input": list(shape),
        "layers": [{name: {**args, "spectral_norm": norm}}],
    }


@pytest.mark.parametrize(("name", "args", "shape", "reference"), CASES, ids=IDS)
def test_spectral_norm_equals_torchs_on_the_same_weights(
    name: str, args: dict[str, Any], shape: tuple[int, ...], reference: nn.Module
) -> None:
    spec = _spec(name, args, shape, norm=True)
    p = netspec.plan(spec)
    plain = netspec.plan(_spec(name, args, shape, norm=False))
    model = netspec.build_model(spec, seed=0)
    layer = model.get_submodule(f"{name}_0")
    assert parametrize.type_before_parametrizations(layer) is type(reference)
    keys = set(model.state_dict())
    assert f"{name}_0.parametrizations.weight.original" in keys
    assert {f"{name}_0.parametrizations.weight.0._u", f"{name}_0.parametrizations.weight.0._v"} <= (
        keys
    )
    # u and v are buffers: the parameters, and their count, are the plain layer's
    real = sum(t.numel() for t in model.parameters())
    assert real == p.total_params == plain.total_params
    assert p.macs == plain.macs
    with torch.device("meta"):
        probe = type(reference)(*_init_args(reference))
        with FlopCounterMode(display=False) as counter:
            probe(torch.empty(1, *shape))
    assert counter.get_total_flops() // 2 == p.macs  # the convolution's, power iteration aside

    torch.manual_seed(1)
    hand = parametrizations.spectral_norm(_copy(reference))
    hand.load_state_dict({k.partition(".")[2]: v for k, v in model.state_dict().items()})
    x = torch.randn(3, *shape)
    model.eval()
    hand.eval()
    with torch.no_grad():
        torch.testing.assert_close(model(x), hand(x), rtol=0, atol=0)
        sigma = torch.linalg.matrix_norm(_matrix(layer.weight, reference), ord=2)
    assert abs(float(sigma) - 1.0) < 0.2  # the normalized weight's spectral norm is about 1


def _init_args(reference: nn.Module) -> tuple[Any, ...]:
    if isinstance(reference, nn.Linear):
        return (reference.in_features, reference.out_features)
    conv: Any = reference
    return (conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding)


def _copy(reference: nn.Module) -> nn.Module:
    import copy

    return copy.deepcopy(reference)


def _matrix(weight: torch.Tensor, reference: nn.Module) -> torch.Tensor:
    """The weight as the matrix spectral_norm normalizes (a transposed conv's dim 1 first)."""
    if isinstance(reference, (nn.ConvTranspose1d, nn.ConvTranspose2d)):
        weight = weight.transpose(0, 1)
    return weight.reshape(weight.shape[0], -1)


def test_model_py_builds_the_same_parametrization(tmp_path: pathlib.Path) -> None:
    spec = (
        "name: critic\ninput: [3, 8, 8]\nlayers:\n"
        "  - conv2d: {filters: 4, kernel_size: 3, spectral_norm: true, activation: leaky_relu}\n"
        "  - flatten\n"
        "  - dense: {units: 1, spectral_norm: true}\n"
    )
    p = netspec.plan(spec)
    text = model_source(p)
    assert "self.dense_0 = nn.utils.parametrizations.spectral_norm(nn.Linear(144, 1))\n" in text
    path = tmp_path / "model.py"
    path.write_text(text, encoding="utf-8")
    ejected = getattr(import_file(path, "netspec_sn_critic"), class_name(p.name))()
    built = netspec.build_model(spec, seed=0)
    ejected.load_state_dict(built.state_dict(), strict=True)
    x = torch.randn(2, 3, 8, 8)
    for mode in (False, True):  # eval: the stored u, v; train: one power iteration each
        built.train(mode)
        ejected.train(mode)
        with torch.no_grad():
            torch.testing.assert_close(ejected(x), built(x), rtol=0, atol=0)


@pytest.mark.parametrize(
    ("owner", "tied", "who"),
    [
        (
            "embedding: {num_embeddings: 10, embedding_dim: 4, name: tokens}",
            ", spectral_norm: true",
            "this layer",
        ),
        ("dense: {units: 4, name: tokens, spectral_norm: true}", "", "'tokens'"),
    ],
)
def test_spectral_norm_on_a_tied_weight_is_refused(owner: str, tied: str, who: str) -> None:
    spec = f"input: [4]\nlayers:\n  - {owner}\n  - dense: {{units: 4, tie: tokens{tied}}}\n"
    if "embedding" in owner:
        spec = spec.replace("input: [4]", "input: {shape: [6], dtype: int64}")
    with pytest.raises(
        SpecError, match=rf"a tied weight cannot be spectrally normalized, and {who}"
    ) as info:
        netspec.plan(spec)
    (d,) = info.value.diagnostics
    assert (d.location.line, d.path) == (4, ("layers", 1, "dense", "tie"))


def test_spectral_norm_must_be_a_boolean() -> None:
    with pytest.raises(SpecError, match=r"spectral_norm") as info:
        netspec.plan("input: [4]\nlayers:\n  - dense: {units: 2, spectral_norm: maybe}\n")
    assert info.value.diagnostics[0].location.line == 3
