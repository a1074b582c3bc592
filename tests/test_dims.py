"""Symbolic dimensions stay exact through arithmetic."""

from __future__ import annotations

from netspec import dims
from netspec.dims import Sym


def test_polynomial_arithmetic_and_printing() -> None:
    t = Sym.atom("T")
    assert str(dims.add(t, -2)) == "T-2"
    assert str(dims.mul(dims.mul(t, t), 3)) == "3*T*T"
    assert dims.sub(dims.add(t, 5), t) == 5
    assert dims.floordiv(dims.mul(t, 4), 2) == dims.mul(t, 2)
    assert str(dims.floordiv(dims.add(t, 1), 2)) == "(T+1)//2"
    assert str(dims.floordiv(t, 2)) == "T//2"
    assert str(dims.ceildiv(dims.add(t, -3), 2)) == "T//2-1"
    # an opaque atom as a factor keeps its parentheses: 36*((T+1)//2)-36
    half = dims.floordiv(dims.add(t, -3), 2)
    assert str(dims.add(dims.mul(half, 36), 36)) == "36*((T+1)//2)-36"


def test_equal_sizes_reached_differently_compare_equal() -> None:
    t = Sym.atom("T")
    conv_stride2_pad1 = dims.add(dims.floordiv(dims.add(t, 2 - 2 - 1), 2), 1)  # (T-1)//2+1
    same_stride2 = dims.ceildiv(t, 2)  # ceil(T/2)
    assert conv_stride2_pad1 == same_stride2
    assert dims.floordiv(dims.add(dims.mul(t, 4), 3), 2) == dims.add(dims.mul(t, 2), 1)
    for value in range(1, 40):
        assert dims.substitute(conv_stride2_pad1, {"T": value}) == -(-value // 2)
    assert dims.substitute(dims.add(dims.mul(t, t), 3), {"T": 4}) == 19


def test_shape_formatting() -> None:
    assert dims.format_shape((Sym.atom("T"), 16)) == "(N, T, 16)"
    assert dims.to_json(dims.mul(Sym.atom("T"), 8)) == "8*T"
