"""YAML text -> plain data plus a SourceMap (line and column of every node).

Only PyYAML's safe machinery is used: the document is composed with the (C)SafeLoader and
turned into dicts, lists and scalars here, so a ``!!python/...`` tag is refused, never
constructed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from netspec.errors import Diagnostic, Location, SpecError, YPath

_Base: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_Base):  # type: ignore[valid-type,misc]
    """The safe loader, reading `1e-3` as a float as YAML 1.2 does (1.1 makes it a string)."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9][0-9_]*)[eE][-+]?[0-9]+$"),
    list("-+0123456789."),
)
_SAFE_TAGS = {
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:timestamp",
    "tag:yaml.org,2002:binary",
    "tag:yaml.org,2002:map",
    "tag:yaml.org,2002:seq",
    "tag:yaml.org,2002:merge",
}


@dataclass
class SourceMap:
    """Where each YAML path was written; paths that were never written fall back to a parent."""

    file: str | None = None
    text: str | None = None
    values: dict[YPath, tuple[int, int]] = field(default_factory=dict)
    keys: dict[YPath, tuple[int, int]] = field(default_factory=dict)

    def locate(self, path: YPath, *, key: bool = False) -> Location:
        probe = path
        while True:
            table = (self.keys, self.values) if key and probe == path else (self.values,)
            for positions in table:
                if probe in positions:
                    line, col = positions[probe]
                    return Location(self.file, line, col)
            if not probe:
                return Location(self.file)
            probe = probe[:-1]

    def snippet(self, location: Location) -> str | None:
        if self.text is None or location.line is None:
            return None
        lines = self.text.splitlines()
        if not 0 < location.line <= len(lines):
            return None
        number = f"{location.line:>4} | "
        caret = " " * (len(number) - 2) + "| " + " " * ((location.col or 1) - 1) + "^"
        return f"{number}{lines[location.line - 1]}\n{caret}"

    def attach(self, diag: Diagnostic, *, key: bool = False) -> Diagnostic:
        if diag.path is None:
            return diag
        loc = self.locate(diag.path, key=key)
        return diag.located(loc, self.snippet(loc))


@dataclass
class Document:
    data: dict[str, Any]
    source: SourceMap


def read_file(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        message = "no such spec file"
    except IsADirectoryError:
        message = "this is a directory, not a spec file"
    except UnicodeDecodeError as exc:
        raise SpecError.single(
            "yaml-syntax", f"not UTF-8 text ({exc.reason})", location=Location(str(path))
        ) from None
    except OSError as exc:
        message = f"cannot read the file ({exc.strerror})"
    raise SpecError.single("file-not-found", message, location=Location(str(path)))


def parse(text: str, file: str | None = None) -> Document:
    source = SourceMap(file=file, text=text)
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        loc = Location(file, mark.line + 1, mark.column + 1) if mark else Location(file)
        message = f"invalid YAML: {exc.problem or exc.context or exc}"
        line = text.splitlines()[mark.line] if mark and mark.line < len(text.splitlines()) else ""
        hints: tuple[str, ...] = ()
        problem = str(exc.problem or "")
        if "${" in line:
            hints = ('inside a {...} flow mapping, quote ${...}: filters: "${c}"',)
        elif "\t" in line or ("cannot start any token" in problem and "\t" in text):
            hints = ("YAML indents with spaces; this line has a tab",)
        elif (
            "expected '-' indicator" in problem
            or "expected key" in problem
            or ("mapping values are not allowed" in problem)
        ):
            hints = (
                "check the indentation: items of a list start with `- ` at the same column, "
                "and the keys of one mapping line up",
            )
        diag = Diagnostic("yaml-syntax", message, hints=hints)
        raise SpecError([diag.located(loc, source.snippet(loc))]) from None
    except yaml.YAMLError as exc:
        raise SpecError.single(
            "yaml-syntax", f"invalid YAML: {exc}", location=Location(file)
        ) from None
    if node is None:
        raise SpecError.single(
            "empty-spec",
            "the spec is empty",
            location=Location(file),
            hints=("a spec needs at least `input:` and `layers:`",),
        )
    builder = _Builder(source)
    data = builder.build(node, ())
    if not isinstance(data, dict):
        loc = Location(file, node.start_mark.line + 1, node.start_mark.column + 1)
        raise SpecError(
            [
                Diagnostic(
                    "not-a-mapping",
                    "the top level of a spec must be a mapping (input:, layers:, ...)",
                    received=type(data).__name__ if data is not None else "null",
                ).located(loc, source.snippet(loc))
            ]
        )
    return Document(data, source)


class _Builder:
    """Turns composed nodes into Python data, recording positions and refusing unsafe tags."""

    def __init__(self, source: SourceMap) -> None:
        self.source = source
        self.constructor = yaml.SafeLoader("")

    def _fail(self, node: yaml.Node, code: str, message: str, **kw: Any) -> SpecError:
        loc = Location(self.source.file, node.start_mark.line + 1, node.start_mark.column + 1)
        diag = Diagnostic(code, message, **kw).located(loc, self.source.snippet(loc))
        return SpecError([diag])

    def build(self, node: yaml.Node, path: YPath) -> Any:
        self.source.values.setdefault(path, (node.start_mark.line + 1, node.start_mark.column + 1))
        if node.tag not in _SAFE_TAGS:
            raise self._fail(
                node,
                "unsafe-tag",
                f"YAML tag {node.tag!r} is not allowed: a spec never constructs objects",
                path=path,
                hints=("remove the tag; netspec reads plain YAML values only",),
            )
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(child, (*path, i)) for i, child in enumerate(node.value)]
        try:
            return self.constructor.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            raise self._fail(node, "yaml-syntax", f"invalid YAML value: {exc}", path=path) from None

    def _mapping(self, node: yaml.MappingNode, path: YPath) -> dict[Any, Any]:
        explicit = sum(1 for k, _ in node.value if k.tag != "tag:yaml.org,2002:merge")
        self.constructor.flatten_mapping(node)  # resolves `<<:` merge keys, placed first
        merged = len(node.value) - explicit
        out: dict[Any, Any] = {}
        from_merge: set[Any] = set()
        for index, (key_node, value_node) in enumerate(node.value):
            if isinstance(key_node, (yaml.MappingNode, yaml.SequenceNode)):
                raise self._fail(key_node, "invalid-value", "mapping keys must be plain scalars")
            key = self.build(key_node, (*path, "<key>"))
            del self.source.values[(*path, "<key>")]
            if not isinstance(key, (str, int, float, bool)) and key is not None:
                raise self._fail(key_node, "invalid-value", "mapping keys must be plain scalars")
            if isinstance(key, bool) or key is None:
                # YAML 1.1 reads `on:`/`yes:`/`null:` as bool/None; keep the user's spelling.
                key = str(key_node.value)
            if index < merged:
                from_merge.add(key)
            elif key in from_merge:
                from_merge.discard(key)  # an explicit key overrides a merged one
            elif key in out:
                raise self._fail(
                    key_node, "duplicate-key", f"duplicate key {key!r}", path=(*path, key)
                )
            child = (*path, key)
            self.source.keys[child] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            out[key] = self.build(value_node, child)
        return out


def walk_paths(data: Any, path: YPath = ()) -> Iterator[YPath]:
    """Every path in a plain data tree (used by tests and by ``--set`` suggestions)."""
    yield path
    if isinstance(data, dict):
        for k, v in data.items():
            yield from walk_paths(v, (*path, k))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            yield from walk_paths(v, (*path, i))
