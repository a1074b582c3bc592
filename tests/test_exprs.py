"""The ${...} evaluator: arithmetic only, never eval."""

from __future__ import annotations

import pytest

from netspec.spec.exprs import (
    Deferred,
    ExpressionError,
    NeedsShape,
    check,
    evaluate,
    resolve,
    resolve_all,
    substitute,
)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("c", 32),
        ("c * 2", 64),
        ("c // 3", 10),
        ("c / 2", 16.0),
        ("c % 5", 2),
        ("-(c - 40)", 8),
        ("(c + 1) * 2", 66),
        ("0.5 * c", 16.0),
        ("max(1, c // 64)", 1),
        ("min(c, 8, 100)", 8),
        ("max(c / 2, 3)", 16.0),
    ],
)
def test_arithmetic(text: str, value: float) -> None:
    result = evaluate(text, {"c": 32})
    assert result == value
    assert type(result) is type(value)


@pytest.mark.parametrize(
    "text",
    [
        "__import__('os')",
        "c.real",
        "c ** 2",
        "[c]",
        "c if c else 1",
        "f(c)",
        "'a' + 'b'",
        "lambda: 1",
        "max(c)",  # max of one number is a typo
        "max(*c)",
        "max(c, key=c)",
        "max([c, 1])",
        "abs(c)",
    ],
)
def test_everything_else_is_refused(text: str) -> None:
    with pytest.raises(ExpressionError, match=r"unsupported syntax|cannot parse"):
        evaluate(text, {"c": 3, "f": print})


def test_unknown_name_suggests() -> None:
    with pytest.raises(ExpressionError, match="unknown name 'widht'") as info:
        evaluate("widht", {"width": 3})
    assert info.value.hint == "did you mean 'width'?"


def test_division_by_zero_is_a_user_error() -> None:
    with pytest.raises(ExpressionError, match="division by zero"):
        evaluate("c // 0", {"c": 3})


def test_substitute_whole_keeps_type_partial_formats() -> None:
    assert substitute("${c}", {"c": 7}) == 7
    assert substitute("${flag}", {"flag": True}) is True
    assert substitute("layer_${c + 1}", {"c": 7}) == "layer_8"


def test_input_shape_without_shapes_asks_for_them() -> None:
    with pytest.raises(NeedsShape):
        evaluate("input.shape[0] // 2", {})
    deferred = Deferred("${input.shape[0]}", {}, "input", ("layers", 0))
    with pytest.raises(NeedsShape):
        substitute("${w * 2}", {"w": deferred})


def test_resolve_reads_the_referenced_tensor_and_nested_deferred_values() -> None:
    shapes = {"input": (3, 8, 8), "block_0.conv": (16, 4, 4)}
    outer = Deferred("${input.shape[0] * 2}", {}, "input", ("vars",))
    value = Deferred("${input.shape[-1] + w}", {"w": outer}, "block_0.conv", ("layers", 1))
    assert resolve(value, shapes.__getitem__) == 10
    assert resolve_all({"k": [value, 1]}, shapes.__getitem__) == {"k": [10, 1]}
    assert repr(value) == "'${input.shape[-1] + w}'"


@pytest.mark.parametrize(
    ("shape", "message"),
    [((3, 8), r"input\.shape\[2\] is out of range"), ((3, "T", 8), "the symbolic size T")],
)
def test_a_size_that_is_not_there_or_not_a_number_is_a_shape_error(
    shape: tuple[object, ...], message: str
) -> None:
    value = Deferred("${input.shape[1] + input.shape[2]}", {}, "x", ("layers", 4))
    with pytest.raises(ExpressionError, match=message) as info:
        resolve(value, lambda ref: shape)
    assert info.value.code == "shape"
    assert info.value.where == ("layers", 4)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("${input.shape[i]}", "one integer index"),
        ("${input.shape[0:2]}", "one integer index"),
        ("${input.shape}", "only its sizes can be read"),
        ("${input.dtype}", "only its sizes can be read"),
        ("${x.shape[0]}", "unsupported syntax"),
        ("${input.shape[0] + wdth}", "unknown name 'wdth'"),
        ("${input.shape[0]", "unclosed"),
    ],
)
def test_check_reports_what_is_known_without_shapes(text: str, message: str) -> None:
    with pytest.raises(ExpressionError, match=message):
        check(text, {"width": 3})


def test_max_of_input_shape_is_deferred_and_resolved() -> None:
    text = """
input: [3, 8, 8]
blocks:
  squeeze:
    layers:
      - conv2d: {filters: "${max(1, input.shape[0] // 4)}", kernel_size: 1}
layers:
  - squeeze
  - conv2d: {filters: 16, kernel_size: 1}
  - squeeze
"""
    import netspec

    assert [layer.out.shape[0] for layer in netspec.plan(text).layers] == [1, 16, 4]


def test_check_accepts_input_shape_arithmetic() -> None:
    # No exception: syntax and names are fine, the arithmetic waits for the shapes.
    assert check("${input.shape[-1] * width // 2} and ${width}", {"width": 3}) is None  # type: ignore[func-returns-value]
