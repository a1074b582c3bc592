"""select, slice, center_crop, class_token, broadcasting add/multiply, drop_path and
residual's drop_path: shape errors, symbolic sizes against torch, values, ejected model.py."""

from __future__ import annotations

import pathlib
import subprocess
import sys
from typing import Any

import pytest
import torch
from ejected import import_file
from oracle import check

import netspec
from netspec import dims
from netspec.backend import modules
from netspec.backend.build import class_name
from netspec.backend.eject import model_source
from netspec.errors import ShapeError, SpecError
from netspec.layers import registry
from netspec.layers.registry import Tensor
from netspec.plan import warnings

ROOT = pathlib.Path(__file__).parents[1]


def spec(input_: Any, *layers: Any, name: str = "t") -> dict[str, Any]:
    return {"name": name, "input": input_, "layers": list(layers)}


def shape_error(input_: Any, *layers: Any) -> str:
    with pytest.raises(SpecError, match=r"error\[shape\]") as info:
        netspec.plan(spec(input_, *layers))
    return str(info.value)


def runtime_warnings(s: dict[str, Any]) -> list[str]:
    loaded = netspec.load_spec(s)
    found = warnings(loaded, netspec.plan(loaded))
    return [d.message for d in found if d.code == "runtime-check"]


# ---- select --------------------------------------------------------------------------------


def test_select_removes_the_dim_like_torch() -> None:
    p = netspec.plan(spec([5, 8], {"select": {"dim": 1, "index": 0}}))
    assert p.output.shape == (8,)
    model = netspec.build_model(spec([5, 8], {"select": {"dim": -2, "index": -1}}), seed=0)
    x = torch.randn(3, 5, 8)
    torch.testing.assert_close(model(x), x[:, -1])


def test_select_primary_argument_is_the_index_along_dim_1() -> None:
    p = netspec.plan(spec([5, 8], {"select": 2}))
    assert (p.layers[0].config.dim, p.layers[0].config.index) == (1, 2)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("args", "message", "field"),
    [
        ({"dim": 1, "index": 5}, "index 5 is out of range for dim 1 of size 5", "index"),
        ({"dim": 2, "index": -9}, "index -9 is out of range for dim 2 of size 8", "index"),
        ({"dim": 0, "index": 0}, "dim 0 is not a per-sample dimension", "dim"),
        ({"dim": 3, "index": 0}, "dim 3 is not a per-sample dimension", "dim"),
    ],
)
def test_select_errors_name_the_field(args: dict[str, int], message: str, field: str) -> None:
    written = ", ".join(f"{k}: {v}" for k, v in args.items())
    with pytest.raises(SpecError, match=r"error\[shape\]") as info:
        netspec.plan(f"input: [5, 8]\nlayers:\n  - select: {{{written}}}\n")
    assert f"layers[0].select.{field}: layer 'select_0' (select): {message}" in str(info.value)


def test_select_needs_two_per_sample_dims() -> None:
    assert "slice: {dim: 1, start: k, stop: k+1}" in shape_error([8], {"select": 0})


def test_select_on_a_symbolic_size_is_checked_when_the_model_runs() -> None:
    s = spec(["T", 4], {"select": {"dim": 1, "index": 3}})
    assert netspec.plan(s).output.shape == (4,)
    (message,) = runtime_warnings(s)
    assert "select index 3 needs T >= 4" in message
    assert runtime_warnings(spec(["T", 4], {"select": {"index": -1}})) == []
    model = netspec.build_model(s, seed=0)
    assert tuple(model(torch.zeros(2, 4, 4)).shape) == (2, 4)
    with pytest.raises(IndexError, match="out of range"):
        model(torch.zeros(2, 3, 4))


# ---- slice ---------------------------------------------------------------------------------


SYMBOLIC_SLICES = [
    ({"start": 2}, "T-2", 3),
    ({"start": 2, "step": 2}, "(T+1)//2-1", 3),
    ({"start": -4}, "4", 4),
    ({"stop": 6}, "6", 6),
    ({"start": 1, "stop": -2, "step": 3}, "(T+2)//3-1", 4),
    ({"start": -6, "stop": -2, "step": 3}, "2", 6),
]


@pytest.mark.parametrize(("args", "size", "need"), SYMBOLIC_SLICES)
def test_symbolic_slices_are_exact_where_torch_agrees(
    args: dict[str, int], size: str, need: int
) -> None:
    s = spec(["T", 3], {"slice": {"dim": 1, **args}})
    out = netspec.plan(s).output.shape[0]
    assert str(out) == size
    model = netspec.build_model(s, seed=0)
    for steps in range(need, need + 9):
        got = model(torch.zeros(1, steps, 3)).shape[1]
        assert got == dims.substitute(out, {"T": steps}), (args, steps)
    if need > 1:
        (message,) = runtime_warnings(s)
        assert f"needs T >= {need}" in message
        with pytest.raises(ValueError, match=f"needs a size of at least {need} but receives"):
            model(torch.zeros(1, need - 1, 3))
    else:
        assert runtime_warnings(s) == []


def test_slice_from_the_end_to_a_start_position_of_a_symbol_is_refused() -> None:
    with pytest.raises(SpecError, match=r"error\[shape\]") as info:
        netspec.plan("input: [T, 3]\nlayers:\n  - slice: {start: -8, stop: 4}\n")
    text = str(info.value)
    assert "layers[0].slice.stop:" in text
    assert "keeps more positions the shorter the input is" in text


@pytest.mark.parametrize(
    "args", [{"start": 5}, {"start": 3, "stop": 3}, {"start": -1, "stop": -2}, {"stop": -9}]
)
def test_an_empty_slice_is_a_shape_error(args: dict[str, int]) -> None:
    assert "keeps nothing" in shape_error([5, 2], {"slice": args})


def test_slice_step_must_be_positive() -> None:
    with pytest.raises(SpecError, match=r"slice\.step"):
        netspec.plan(spec([5], {"slice": {"step": -1}}))


def test_slice_values_follow_python() -> None:
    s = spec([4, 9], {"slice": {"dim": -1, "start": -7, "stop": 8, "step": 2}})
    x = torch.randn(2, 4, 9)
    torch.testing.assert_close(netspec.build_model(s, seed=0)(x), x[:, :, -7:8:2])
    check("slice", {"dim": 2, "start": -100, "stop": 100}, (4, 9))


# ---- center_crop ---------------------------------------------------------------------------


def test_center_crop_offsets_are_floor_of_half_the_difference() -> None:
    x = torch.arange(2 * 3 * 9 * 8, dtype=torch.float32).reshape(2, 3, 9, 8)
    like = torch.zeros(2, 5, 6, 3)
    got = modules.CenterCrop()(x, like)
    # H: 9 -> 6, top (9-6)//2 = 1 (torchvision's round(1.5) would give 2); W: 8 -> 3, left 2.
    torch.testing.assert_close(got, x[:, :, 1:7, 2:5])


def test_center_crop_in_a_unet_skip_matches_the_plan() -> None:
    s = spec(
        [1, 20, 20],
        {"conv2d": {"filters": 4, "kernel_size": 3, "name": "skip"}},
        {"maxpool2d": 2},
        {"conv_transpose2d": {"filters": 2, "kernel_size": 2, "stride": 2, "name": "up"}},
        {"center_crop": {"from": ["skip", "up"], "name": "cropped"}},
        {"concat": {"from": ["cropped", "up"]}},
    )
    p = netspec.plan(s)
    assert p.layers[3].out.shape == (4, 18, 18)
    assert p.output.shape == (6, 18, 18)
    model = netspec.build_model(s, seed=0)
    assert tuple(model(torch.zeros(2, 1, 20, 20)).shape) == (2, 6, 18, 18)


@pytest.mark.parametrize(
    ("ref_shape", "message"),
    [
        ([2, 10, 12], "spatial dim 2 of the reference (10) is larger than the input's (5)"),
        ([2, 120], "center_crop needs an input and a reference of one rank"),
    ],
)
def test_center_crop_shape_errors(ref_shape: list[int], message: str) -> None:
    text = shape_error(
        [2, 10, 12],
        {"maxpool2d": {"kernel_size": 2, "name": "small"}},
        {"reshape": {"shape": ref_shape, "from": "input", "name": "ref"}},
        {"center_crop": {"from": ["small", "ref"]}},
    )
    assert message in text
    assert "(N, 2, 5, 6)" in text


def test_center_crop_with_symbolic_sizes_is_checked_when_the_model_runs() -> None:
    s = spec(
        [2, "H", 8],
        {"conv2d": {"filters": 2, "kernel_size": 3, "name": "a"}},
        {"center_crop": {"from": ["input", "a"]}},
    )
    assert [str(d) for d in netspec.plan(s).output.shape] == ["2", "H-2", "6"]
    assert runtime_warnings(s) == []  # H - (H-2) = 2: known to fit
    s2 = spec(
        [2, "H", 8],
        {"maxpool2d": {"kernel_size": [2, 1], "name": "a"}},
        {"center_crop": {"from": ["a", "input"]}},
    )
    (message,) = runtime_warnings(s2)
    assert "center_crop needs H <= H//2" in message
    with pytest.raises(ValueError, match="larger than the input"):
        netspec.build_model(s2, seed=0)(torch.zeros(1, 2, 6, 8))


# ---- broadcasting add / multiply -----------------------------------------------------------


def test_squeeze_and_excitation_gate_broadcasts() -> None:
    check("multiply", {}, (8, 1, 1), extra_shapes=[(8, 6, 6)])
    s = spec(
        [4, 5, 5],
        "global_avgpool",
        {"reshape": [4, 1, 1], "name": "gate"},
        {"multiply": {"from": ["input", "gate"]}},
    )
    p = netspec.plan(s)
    assert p.output.shape == (4, 5, 5)
    assert p.layers[-1].macs == 0
    x = torch.randn(2, 4, 5, 5)
    torch.testing.assert_close(
        netspec.build_model(s, seed=0)(x), x * x.mean(dim=(2, 3), keepdim=True)
    )


@pytest.mark.parametrize(
    ("shapes", "out"),
    [
        ([["T", 8], [1, 8]], ["T", "8"]),
        ([["T", 8], ["T", 1]], ["T", "8"]),
        ([["T", 1], [1, 8], ["T", 8]], ["T", "8"]),
    ],
)
def test_symbols_broadcast_with_themselves_and_one(shapes: list[list[Any]], out: list[str]) -> None:
    layer = registry.get("add")
    inputs = tuple(
        Tensor(tuple(dims.Sym.atom(d) if isinstance(d, str) else d for d in shape))
        for shape in shapes
    )
    got = layer.infer(layer.config.model_validate({}), inputs)
    assert [str(d) for d in got.out.shape] == out


@pytest.mark.parametrize(
    ("shapes", "match"),
    [
        ([["T", 8], [5, 8]], "dim 1 has sizes T and 5"),
        ([["T", 8], ["S", 8]], "dim 1 has sizes T and S"),
        ([[4, 8], [4, 3]], "dim 2 has sizes 8 and 3"),
    ],
)
def test_shapes_that_do_not_broadcast(shapes: list[list[Any]], match: str) -> None:
    layer = registry.get("multiply")
    inputs = tuple(
        Tensor(tuple(dims.Sym.atom(d) if isinstance(d, str) else d for d in shape))
        for shape in shapes
    )
    with pytest.raises(ShapeError, match=match):
        layer.infer(layer.config.model_validate({}), inputs)


def test_inputs_of_different_ranks_are_refused_because_torch_would_mix_in_the_batch() -> None:
    text = shape_error(
        [4, 3, 3],
        {"global_avgpool": {"name": "pooled"}},
        {"add": {"from": ["pooled", "input"]}},
    )
    assert "add needs inputs of one rank" in text
    assert "(N, 4), (N, 4, 3, 3)" in text
    assert "reshape: [C, 1, 1]" in text
    # What torch would do: (2, 4) + (2, 4, 3, 3) pairs 4 with the last 3 and fails, while a
    # (N, 3) input with a batch of 3 "works", its batch paired with H: batch-dependent.
    with pytest.raises(RuntimeError, match="must match"):
        torch.zeros(2, 4) + torch.zeros(2, 4, 3, 3)
    assert (torch.zeros(3, 3) + torch.zeros(2, 4, 3, 3)).shape == (2, 4, 3, 3)


def test_equal_shapes_still_add_and_keep_padding_flags() -> None:
    assert netspec.plan(
        spec([6], {"dense": {"units": 6, "name": "a"}}, {"add": {"from": ["input", "a"]}})
    ).output.shape == (6,)
    assert all(registry.get(n).keeps_padding for n in ("add", "multiply", "residual", "drop_path"))
    assert not any(registry.get(n).keeps_padding for n in ("class_token", "select", "slice"))


# ---- class_token and the ViT front end -----------------------------------------------------

VIT = spec(
    [3, 224, 224],
    {"conv2d": {"filters": 768, "kernel_size": 16, "stride": 16}},
    {"flatten": {"start_dim": 2}},
    {"permute": [2, 1]},
    "class_token",
    {"positional_encoding": {"kind": "learned", "max_len": 197}},
    {"select": {"dim": 1, "index": 0}},
    name="vit_front",
)


def test_vit_class_token_and_learned_positions_count_like_torchvision() -> None:
    p = netspec.plan(VIT)
    token, positions = p.layers[3], p.layers[4]
    assert token.out.shape == (197, 768)
    assert (token.params, positions.params) == (768, 197 * 768)
    assert p.output.shape == (768,)


def test_class_token_starts_at_zeros_and_comes_first() -> None:
    s = spec([4, 6], {"class_token": 2})
    model = netspec.build_model(s, seed=0)
    token = model.get_parameter("class_token_0.token")
    assert tuple(token.shape) == (1, 2, 6)
    assert torch.count_nonzero(token) == 0
    with torch.no_grad():
        token.normal_()
    x = torch.randn(3, 4, 6)
    y = model(x)
    assert tuple(y.shape) == (3, 6, 6)
    torch.testing.assert_close(y[:, :2], token.expand(3, -1, -1))
    torch.testing.assert_close(y[:, 2:], x)


def test_class_token_symbolic_length_and_errors() -> None:
    assert str(netspec.plan(spec(["T", 8], {"class_token": 3})).output.shape[0]) == "T+3"
    assert "class_token expects input (N, T, embed_dim)" in shape_error([8], "class_token")


# ---- residual drop_path --------------------------------------------------------------------

BLOCK = spec(
    [4],
    {"residual": {"layers": [{"dense": 4}, "tanh"], "drop_path": 0.5}},
    name="stochastic",
)


def test_drop_path_is_identity_in_eval_and_drops_whole_samples_in_training() -> None:
    model = netspec.build_model(BLOCK, seed=0)
    body = model.get_submodule("residual_0.dense_0")
    x = torch.randn(64, 4)
    with torch.no_grad():
        fx = torch.tanh(body(x))
        torch.testing.assert_close(model.eval()(x), x + fx)
        model.train()
        torch.manual_seed(0)
        y = model(x)
    dropped = (y == x).all(dim=1)
    kept = torch.isclose(y, x + fx / 0.5).all(dim=1)
    assert bool((dropped | kept).all())
    assert 10 < int(dropped.sum()) < 54  # about half of 64, for this seed
    assert int(kept.sum()) == 64 - int(dropped.sum())


def test_drop_path_is_a_row_of_the_residual_and_zero_adds_nothing() -> None:
    p = netspec.plan(BLOCK)
    assert [(layer.name, layer.type) for layer in p.layers] == [
        ("residual_0.dense_0", "dense"),
        ("residual_0.tanh_0", "tanh"),
        ("residual_0.drop_path_0", "drop_path"),
        ("residual_0", "residual"),
    ]
    assert p.layers[-1].inputs == ("input", "residual_0.drop_path_0")
    plain = netspec.plan(spec([4], {"residual": {"layers": [{"dense": 4}], "drop_path": 0}}))
    assert [layer.type for layer in plain.layers] == ["dense", "residual"]


def test_drop_path_takes_vars_and_reports_bad_rates_at_their_line() -> None:
    text = (
        "input: [4]\nvars: {p: 0.2}\nlayers:\n  - residual: {layers: [relu], drop_path: '${p}'}\n"
    )
    p = netspec.plan(text)
    assert p.layers[-1].config.drop_path == 0.2  # type: ignore[attr-defined]
    bad = "input: [4]\nlayers:\n  - residual: {layers: [relu], drop_path: 1.5}\n"
    with pytest.raises(SpecError, match=r"<spec>:3:.*layers\[0\]\.residual\.drop_path"):
        netspec.plan(bad)
    other = "input: [4]\nlayers:\n  - residual: {layers: [relu], drop: 0.1}\n"
    with pytest.raises(SpecError, match="residual takes only `layers` and `drop_path`"):
        netspec.plan(other)


# ---- model.py ------------------------------------------------------------------------------


def test_ejected_model_py_equals_the_built_module(tmp_path: pathlib.Path) -> None:
    s = spec(
        [2, "H", 12],
        {"conv2d": {"filters": 3, "kernel_size": 3, "name": "a"}},
        {"center_crop": {"from": ["input", "a"], "name": "crop"}},
        {"slice": {"dim": 3, "start": 1, "stop": -1}},
        {"residual": {"layers": [{"conv2d": {"filters": 2, "kernel_size": 1}}], "drop_path": 0.3}},
        {"permute": [2, 3, 1]},
        {"flatten": {"start_dim": 2}},
        {"class_token": 1},
        {"select": {"dim": 1, "index": 0}},
        name="ejected_select",
    )
    p = netspec.plan(s)
    built = netspec.build_model(s, seed=0).eval()
    path = tmp_path / "model.py"
    source = model_source(p)
    path.write_text(source, encoding="utf-8")
    assert "torch.select(" in source
    ejected = getattr(import_file(path, "netspec_select_eject"), class_name(p.name))()
    ejected.load_state_dict(built.state_dict(), strict=True)
    ejected.eval()
    x = torch.randn(2, 2, 9, 12)
    with torch.no_grad():
        torch.testing.assert_close(ejected(x), built(x))


def test_select_files_do_not_import_torch() -> None:
    code = (
        "import sys; import netspec.layers.select, netspec.layers.tokens, netspec.layers.merge; "
        "print('torch' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert out.stdout.strip() == "False"
