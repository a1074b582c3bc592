"""The ${...} evaluator: arithmetic only, never eval."""

from __future__ import annotations

import pytest

from netspec.spec.exprs import ExpressionError, evaluate, substitute


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
