"""Types and values in a reader's words: ``int > 0 or list of int > 0``, YAML flow values.

Shared by the docs reference (argument tables) and diagnostics ("expected: ...").
"""

from __future__ import annotations

import re
import types
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo

_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*\Z")
_YAML_WORDS = {"true", "false", "yes", "no", "on", "off", "null", "y", "n", "~"}


def type_words(annotation: Any, metadata: Sequence[Any] = ()) -> str:
    """A config field's type in a reader's words: ``int > 0 or list of int > 0``."""
    origin = get_origin(annotation)
    args = get_args(annotation)
    if origin is Annotated:
        return type_words(args[0], [*metadata, *annotation.__metadata__])
    if origin is Union or origin is types.UnionType:
        # `or` chains need no parentheses; a member with commas does.
        words = [type_words(a) for a in args if a is not type(None)]
        words = [f"({w})" if ", " in w else w for w in words]
        if type(None) in args:
            words.append("null")
        return " or ".join(words)
    if origin is Literal:
        values = [f"`{yaml_value(a)}`" for a in args]
        return " or ".join(values) if len(values) < 3 else "one of " + ", ".join(values)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return f"list of {_grouped(type_words(args[0]))}"
        items = [type_words(a) for a in args]
        if len(set(items)) == 1:
            item = f"({items[0]})" if " " in items[0] else items[0]
            return f"list of {len(items)} {item}"
        return "list [" + "; ".join(items) + "]"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        kind = annotation.model_fields.get("type")
        if kind is not None and get_origin(kind.annotation) is Literal:
            return type_words(kind.annotation) + " (or a mapping with `type:` and options)"
        return "a mapping"
    if getattr(annotation, "__name__", "") == "Sym":
        return "name"
    base = {int: "int", float: "float", bool: "bool", str: "string"}.get(
        annotation, "any" if annotation is Any else getattr(annotation, "__name__", "any")
    )
    return " ".join([base, *_constraints(metadata)]).replace(" ,", ",")


def _grouped(words: str) -> str:
    """Parenthesize a compound type so that `or` and `,` read unambiguously around it."""
    return f"({words})" if " or " in words or ", " in words else words


def _constraints(metadata: Sequence[Any]) -> list[str]:
    words: list[str] = []
    for meta in metadata:
        if isinstance(meta, FieldInfo):
            words += _constraints(meta.metadata)
            continue
        for attr, op in (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<=")):
            bound = getattr(meta, attr, None)
            if bound is not None:
                words.append(f"{op} {yaml_value(bound)}")
        min_length = getattr(meta, "min_length", None)
        if min_length is not None:
            words.append(f"(at least {min_length})")
    if len(words) > 1:
        return [", ".join(words)]
    return words


def yaml_value(value: Any) -> str:
    """A value in YAML flow style, quoting only strings that would read as something else."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return repr(value)
    if isinstance(value, float):
        text = repr(value)
        # PyYAML reads `1e-05` as a string: the mantissa needs a dot.
        mantissa, e, exponent = text.partition("e")
        return f"{mantissa}.0e{exponent}" if e and "." not in mantissa else text
    if isinstance(value, str):
        if _PLAIN.match(value) and value.lower() not in _YAML_WORDS:
            return value
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}: {yaml_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(yaml_value(v) for v in value) + "]"
    return yaml_value(str(value))
