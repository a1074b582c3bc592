"""``${...}`` substitution with a small, safe arithmetic evaluator (never ``eval``).

Allowed: int and float literals, names (vars and block parameters), ``+ - * / // %``, unary
minus and parentheses. Anything else (calls, attributes, subscripts, ``**``) is refused.
"""

from __future__ import annotations

import ast
import operator
import re
from collections.abc import Callable, Mapping
from typing import Any

from netspec.errors import Suggestions, did_you_mean

_PATTERN = re.compile(r"\$\{([^{}]*)\}")
_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
}


class ExpressionError(Exception):
    """A bad ``${...}``: unknown name or unsupported syntax. ``hint`` may suggest a fix."""

    def __init__(self, message: str, hint: str | None = None, code: str = "bad-expression"):
        super().__init__(message)
        self.hint = hint
        self.code = code


MAX_LENGTH = 500  # characters in one ${...}
MAX_MAGNITUDE = 10**30  # far beyond any size, rate or count a spec needs


def evaluate(expression: str, scope: Mapping[str, Any], suggest: Suggestions | None = None) -> Any:
    """Value of one expression such as ``c * 2`` in ``scope``.

    ``suggest``: the spec's budget for did-you-means (an unknown name's hint looks at every
    name in scope); without one, every unknown name gets its hint.
    """
    if len(expression) > MAX_LENGTH:
        raise ExpressionError(f"expression longer than {MAX_LENGTH} characters")
    try:
        tree = ast.parse(expression.strip(), mode="eval")
        return _eval_node(tree.body, scope, expression, suggest)
    except SyntaxError:
        raise ExpressionError(f"cannot parse expression {expression!r}") from None
    except (RecursionError, MemoryError):
        raise ExpressionError(f"expression {expression[:40]!r}... is nested too deeply") from None


def _eval_node(
    node: ast.expr, scope: Mapping[str, Any], text: str, suggest: Suggestions | None = None
) -> Any:
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return node.value
    if isinstance(node, ast.Name):
        if node.id not in scope:
            raise ExpressionError(
                f"unknown name {node.id!r} in ${{{text}}}",
                hint=_unknown_name_hint(node.id, scope, suggest),
                code="unknown-var",
            )
        return scope[node.id]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value = _number(_eval_node(node.operand, scope, text, suggest), text)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left = _number(_eval_node(node.left, scope, text, suggest), text)
        right = _number(_eval_node(node.right, scope, text, suggest), text)
        if isinstance(node.op, (ast.Div, ast.FloorDiv, ast.Mod)) and right == 0:
            raise ExpressionError(f"division by zero in ${{{text}}}")
        result = _BINARY[type(node.op)](left, right)
        if abs(result) > MAX_MAGNITUDE or result != result:  # too large, or NaN
            raise ExpressionError(f"${{{text}}} gives a number out of range")
        return result
    raise ExpressionError(
        f"unsupported syntax in ${{{text}}}",
        hint="only numbers, names, + - * / // % and parentheses are allowed",
    )


def _unknown_name_hint(
    name: str, scope: Mapping[str, Any], suggest: Suggestions | None
) -> str | None:
    # The guess and the list of known names each look at every name in scope: past the
    # budget (thousands of unknown names among thousands of vars) the hint is left out.
    if suggest is not None and not suggest.spend(2 * len(scope)):
        return None
    guess = did_you_mean(name, scope)
    names = ", ".join(sorted(scope)) or "none defined"
    return f"did you mean {guess!r}?" if guess else f"known names: {names}"


def _number(value: Any, text: str) -> int | float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ExpressionError(f"arithmetic on a non-number ({value!r}) in ${{{text}}}")
    return value


def has_reference(value: str) -> bool:
    return "${" in value


def substitute(value: str, scope: Mapping[str, Any], suggest: Suggestions | None = None) -> Any:
    """Replace every ``${...}`` in a string.

    A string that is exactly one ``${...}`` takes the value's own type (an int stays an int);
    otherwise the pieces are formatted into the string.
    """
    whole = _PATTERN.fullmatch(value)
    if whole:
        return evaluate(whole.group(1), scope, suggest)
    result = _PATTERN.sub(lambda m: str(evaluate(m.group(1), scope, suggest)), value)
    if "${" in _PATTERN.sub("", value):
        raise ExpressionError(f"unclosed ${{ in {value!r}", hint="write ${name} with a closing }")
    return result
