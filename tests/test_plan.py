"""The plan with symbolic dims agrees with the plan at every concrete size it stands for."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import netspec
from netspec import SpecError, dims
from netspec.plan import concrete


@st.composite
def _chain(draw: st.DrawFn) -> str:
    layers = []
    for _ in range(draw(st.integers(1, 4))):
        k = draw(st.integers(1, 4))
        s = draw(st.integers(1, 3))
        if draw(st.booleans()):
            padding: Any = draw(st.sampled_from(["same", 0, 1]))
            layers.append(
                f"  - conv1d: {{filters: 2, kernel_size: {k}, stride: {s}, padding: {padding}}}"
            )
        else:
            p = draw(st.integers(0, k // 2))
            ceil = draw(st.booleans())
            layers.append(
                f"  - maxpool1d: {{kernel_size: {k}, stride: {s}, padding: {p}, "
                f"ceil_mode: {str(ceil).lower()}}}"
            )
    return "input: [2, T]\nlayers:\n" + "\n".join(layers) + "\n"


@settings(max_examples=60, deadline=None)
@given(spec_text=_chain())
def test_symbolic_plan_equals_concrete_plans(spec_text: str) -> None:
    spec = netspec.load_spec(spec_text)
    symbolic = netspec.plan(spec)
    for size in range(1, 40):
        try:
            fixed = netspec.plan(concrete(spec, {"T": size}))
        except SpecError:
            continue
        for sym_layer, layer in zip(symbolic.layers, fixed.layers, strict=True):
            got = tuple(dims.substitute(d, {"T": size}) for d in sym_layer.out.shape)
            assert got == layer.out.shape, (spec_text, size, sym_layer.name)
            assert dims.substitute(sym_layer.macs, {"T": size}) == layer.macs


def test_equal_symbolic_sizes_can_be_added() -> None:
    text = (
        "input: [3, T]\nlayers:\n"
        "  - conv1d: {filters: 3, kernel_size: 3, stride: 2, padding: 1, name: a}\n"
        "  - conv1d: {filters: 3, kernel_size: 3, stride: 2, padding: same, from: input}\n"
        "  - add: {from: [a, conv1d_0]}\n"
    )
    assert str(netspec.plan(text).output.shape[1]) == "(T+1)//2"


def test_shape_error_names_layer_and_both_shapes() -> None:
    with pytest.raises(SpecError, match=r"layer 'conv2d_0' \(conv2d\)") as info:
        netspec.plan(
            "input: [4]\nlayers:\n  - dense: 3\n  - dense: {units: 2}\n"
            "  - conv2d: {filters: 2, kernel_size: 1}\n"
        )
    diag = info.value.diagnostics[0]
    assert diag.code == "shape"
    assert diag.received == "(N, 2)"
    assert diag.expected == "(N, C, H, W)"
