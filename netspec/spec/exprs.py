"""``${...}`` substitution with a small, safe arithmetic evaluator (never ``eval``).

Allowed: int and float literals, names (vars and block parameters), ``+ - * / // %``, unary
minus, parentheses, ``max(a, b, ...)`` and ``min(a, b, ...)`` (torchvision's widths are
written ``max(1, c // 4)``), and one more form: ``input.shape[i]`` (an int ``i``, negative
allowed), the per-sample sizes of the tensor that flows into the enclosing block. Anything
else (other calls, other attributes and subscripts, ``**``) is refused.

Sizes are known only once shapes are inferred (plan.py), after expansion. So a string that
reads ``input.shape``, directly or through a block parameter that does, is kept as written:
a :class:`Deferred`, checked now for syntax and names, evaluated by :func:`resolve` when the
planner reaches the layer and knows the shape.
"""

from __future__ import annotations

import ast
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from netspec.dims import format_shape
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

    def __init__(
        self,
        message: str,
        hint: str | None = None,
        code: str = "bad-expression",
        received: str | None = None,
    ):
        super().__init__(message)
        self.hint = hint
        self.code = code
        self.received = received
        self.where: tuple[str | int, ...] | None = None  # set by resolve: the value's YAML path


class NeedsShape(Exception):
    """Raised while substituting without shapes: the value reads ``input.shape``."""


@dataclass(frozen=True, eq=False, repr=False)
class Deferred:
    """A string value that reads ``input.shape``, kept as written until the shapes are known.

    ``values`` are the names in scope where it was written (shared, not copied: a scope's
    values do not change once its layers are read); ``input_ref`` is the qualified name of
    the tensor that ``input`` means there; ``where`` its YAML path, for diagnostics.
    """

    text: str
    values: Mapping[str, Any]
    input_ref: str
    where: tuple[str | int, ...]

    def __repr__(self) -> str:  # what a diagnostic shows: the value as written
        return repr(self.text)


ShapeOf = Callable[[str], Sequence[Any]]
"""A tensor's qualified name -> its per-sample shape (ints, or dims.Sym for symbols)."""


@dataclass(frozen=True)
class _Reader:
    """Reads ``input.shape[i]`` for one Deferred, and the Deferred values it names."""

    input_ref: str
    shape_of: ShapeOf
    suggest: Suggestions | None

    def size(self, index: int, text: str) -> int:
        shape = self.shape_of(self.input_ref)
        shown = format_shape(tuple(shape))
        if not -len(shape) <= index < len(shape):
            raise ExpressionError(
                f"input.shape[{index}] is out of range in ${{{text}}}: the input has "
                f"{len(shape)} per-sample dimension(s)",
                hint="the batch is not counted: for (N, C, H, W), input.shape[0] is C and "
                "input.shape[-1] is W",
                code="shape",
                received=shown,
            )
        size = shape[index]
        if isinstance(size, bool) or not isinstance(size, int):
            raise ExpressionError(
                f"input.shape[{index}] is the symbolic size {size} in ${{{text}}}: a size "
                "read from the input must be a number",
                hint="widths and counts need ints: read a dimension that is a number, or "
                "write the value",
                code="shape",
                received=shown,
            )
        return size

    def value(self, deferred: Deferred) -> Any:
        return resolve(deferred, self.shape_of, self.suggest)


MAX_LENGTH = 500  # characters in one ${...}
MAX_MAGNITUDE = 10**30  # far beyond any size, rate or count a spec needs


def evaluate(
    expression: str,
    scope: Mapping[str, Any],
    suggest: Suggestions | None = None,
    reader: _Reader | None = None,
) -> Any:
    """Value of one expression such as ``c * 2`` in ``scope``.

    ``suggest``: the spec's budget for did-you-means (an unknown name's hint looks at every
    name in scope); without one, every unknown name gets its hint. Without ``reader``
    (shapes unknown), reading ``input.shape`` or a :class:`Deferred` name raises
    :class:`NeedsShape`.
    """
    if len(expression) > MAX_LENGTH:
        raise ExpressionError(f"expression longer than {MAX_LENGTH} characters")
    try:
        tree = ast.parse(expression.strip(), mode="eval")
        return _eval_node(tree.body, scope, expression, suggest, reader)
    except SyntaxError:
        raise ExpressionError(f"cannot parse expression {expression!r}") from None
    except (RecursionError, MemoryError):
        raise ExpressionError(f"expression {expression[:40]!r}... is nested too deeply") from None


def _eval_node(
    node: ast.expr,
    scope: Mapping[str, Any],
    text: str,
    suggest: Suggestions | None = None,
    reader: _Reader | None = None,
) -> Any:
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return node.value
    if isinstance(node, ast.Name):
        value = _lookup(node, scope, text, suggest)
        if isinstance(value, Deferred):
            if reader is None:
                raise NeedsShape
            return reader.value(value)
        return value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value = _number(_eval_node(node.operand, scope, text, suggest, reader), text)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left = _number(_eval_node(node.left, scope, text, suggest, reader), text)
        right = _number(_eval_node(node.right, scope, text, suggest, reader), text)
        if isinstance(node.op, (ast.Div, ast.FloorDiv, ast.Mod)) and right == 0:
            raise ExpressionError(f"division by zero in ${{{text}}}")
        result = _BINARY[type(node.op)](left, right)
        if abs(result) > MAX_MAGNITUDE or result != result:  # too large, or NaN
            raise ExpressionError(f"${{{text}}} gives a number out of range")
        return result
    call = _function_call(node)
    if call is not None:
        name, args = call
        values = [_number(_eval_node(a, scope, text, suggest, reader), text) for a in args]
        return _FUNCTIONS[name](values)
    if isinstance(node, ast.Subscript):
        index = _shape_index(node, text)
        if reader is None:
            raise NeedsShape
        return reader.size(index, text)
    raise _unsupported(node, text)


_FUNCTIONS: dict[str, Callable[[list[Any]], Any]] = {"max": max, "min": min}
"""The only calls: on two or more numbers, never on anything a spec could name."""


def _lookup(
    node: ast.Name, scope: Mapping[str, Any], text: str, suggest: Suggestions | None
) -> Any:
    if node.id not in scope:
        hint = _unknown_name_hint(node.id, scope, suggest)
        if node.id == "input":  # the one name that has attributes
            hint = "the input's sizes are input.shape[0], input.shape[1], ..."
        raise ExpressionError(
            f"unknown name {node.id!r} in ${{{text}}}", hint=hint, code="unknown-var"
        )
    return scope[node.id]


def _shape_index(node: ast.Subscript, text: str) -> int:
    """``i`` of ``input.shape[i]`` (an int literal, maybe negative); anything else is refused."""
    target = node.value
    if not (
        isinstance(target, ast.Attribute)
        and target.attr == "shape"
        and isinstance(target.value, ast.Name)
        and target.value.id == "input"
    ):
        raise _unsupported(node, text)
    index = node.slice
    sign = 1
    if isinstance(index, ast.UnaryOp) and isinstance(index.op, ast.USub):
        sign, index = -1, index.operand
    if not (isinstance(index, ast.Constant) and type(index.value) is int):
        raise ExpressionError(
            f"input.shape takes one integer index in ${{{text}}}",
            hint="write input.shape[0] for the first size after the batch, input.shape[-1] "
            "for the last",
        )
    return sign * index.value


def _unsupported(node: ast.expr, text: str) -> ExpressionError:
    if (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "input"
    ):
        return ExpressionError(
            f"unsupported syntax in ${{{text}}}: of the input only its sizes can be read",
            hint="write input.shape[0], input.shape[1], ... (the batch is not counted)",
        )
    return ExpressionError(
        f"unsupported syntax in ${{{text}}}",
        hint="only numbers, names, input.shape[i], + - * / // %, parentheses, and max(a, b) "
        "and min(a, b) are allowed",
    )


def check(value: str, scope: Mapping[str, Any], suggest: Suggestions | None = None) -> None:
    """Raise the ExpressionError that substituting ``value`` would, as far as that is known
    without shapes: syntax and names. (For a value that raised :class:`NeedsShape`; the
    arithmetic is checked by :func:`resolve`.)"""
    for match in _PATTERN.finditer(value):
        expression = match.group(1)
        if len(expression) > MAX_LENGTH:
            raise ExpressionError(f"expression longer than {MAX_LENGTH} characters")
        try:
            _check_node(ast.parse(expression.strip(), mode="eval").body, scope, expression, suggest)
        except SyntaxError:
            raise ExpressionError(f"cannot parse expression {expression!r}") from None
        except (RecursionError, MemoryError):
            raise ExpressionError(
                f"expression {expression[:40]!r}... is nested too deeply"
            ) from None
    if "${" in _PATTERN.sub("", value):
        raise ExpressionError(f"unclosed ${{ in {value!r}", hint="write ${name} with a closing }")


def _check_node(
    node: ast.expr, scope: Mapping[str, Any], text: str, suggest: Suggestions | None
) -> None:
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return
    if isinstance(node, ast.Name):
        _lookup(node, scope, text, suggest)
    elif isinstance(node, ast.Subscript):
        _shape_index(node, text)
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        _check_node(node.operand, scope, text, suggest)
    elif isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        _check_node(node.left, scope, text, suggest)
        _check_node(node.right, scope, text, suggest)
    elif (call := _function_call(node)) is not None:
        for arg in call[1]:
            _check_node(arg, scope, text, suggest)
    else:
        raise _unsupported(node, text)


def _function_call(node: ast.expr) -> tuple[str, list[ast.expr]] | None:
    """``max(a, b, ...)`` or ``min(...)`` with two or more plain arguments: (name, arguments)."""
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
        return None
    if node.func.id not in _FUNCTIONS or len(node.args) < 2 or node.keywords:
        return None
    if any(isinstance(a, ast.Starred) for a in node.args):
        return None
    return node.func.id, node.args


def resolve(value: Deferred, shape_of: ShapeOf, suggest: Suggestions | None = None) -> Any:
    """The value of a Deferred, now that ``shape_of`` knows the shapes it reads."""
    try:
        return substitute(
            value.text, value.values, suggest, _Reader(value.input_ref, shape_of, suggest)
        )
    except ExpressionError as exc:
        if exc.where is None:  # the innermost Deferred that failed is where to point
            exc.where = value.where
        raise


def contains_deferred(value: Any) -> bool:
    if isinstance(value, Deferred):
        return True
    if isinstance(value, dict):
        return any(contains_deferred(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(contains_deferred(v) for v in value)
    return False


def as_written(value: Any) -> Any:
    """``value`` with every Deferred in it replaced by its text, as the user wrote it."""
    if isinstance(value, Deferred):
        return value.text
    if isinstance(value, dict):
        return {k: as_written(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_written(v) for v in value]
    return value


def resolve_all(value: Any, shape_of: ShapeOf, suggest: Suggestions | None = None) -> Any:
    """``value`` with every Deferred in it (at any depth of dicts and lists) resolved."""
    if isinstance(value, Deferred):
        return resolve(value, shape_of, suggest)
    if isinstance(value, dict):
        return {k: resolve_all(v, shape_of, suggest) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve_all(v, shape_of, suggest) for v in value]
    return value


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


def substitute(
    value: str,
    scope: Mapping[str, Any],
    suggest: Suggestions | None = None,
    reader: _Reader | None = None,
) -> Any:
    """Replace every ``${...}`` in a string.

    A string that is exactly one ``${...}`` takes the value's own type (an int stays an int);
    otherwise the pieces are formatted into the string.
    """
    whole = _PATTERN.fullmatch(value)
    if whole:
        return evaluate(whole.group(1), scope, suggest, reader)
    result = _PATTERN.sub(lambda m: str(evaluate(m.group(1), scope, suggest, reader)), value)
    if "${" in _PATTERN.sub("", value):
        raise ExpressionError(f"unclosed ${{ in {value!r}", hint="write ${name} with a closing }")
    return result
