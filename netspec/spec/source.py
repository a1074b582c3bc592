"""YAML text -> plain data plus a SourceMap (line and column of every node).

Only PyYAML's safe machinery is used: the document is composed with the (C)SafeLoader and
turned into dicts, lists and scalars here, so a ``!!python/...`` tag is refused, never
constructed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from netspec.errors import Diagnostic, Location, SpecError, YPath
from netspec.spec.gcpause import gc_paused

_Base: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
MAX_NODES = 2_000_000  # values after YAML aliases are expanded: a "billion laughs" stops here
MAX_DIGITS = 100  # a longer integer literal is a mistake, never a layer size


class _Loader(_Base):  # type: ignore[valid-type,misc]
    """The safe loader with YAML 1.2's core schema for plain scalars.

    YAML 1.1 (PyYAML's default) reads `yes`/`on` as true, `010` as 8 (octal), `1:30` as 90
    and `1e-3` as a string; YAML 1.2, and users, read `yes` as a word, `010` as ten and
    `1e-3` as a number.
    """

    yaml_implicit_resolvers: dict[Any, Any] = {}  # noqa: RUF012 (PyYAML's class-level table)


for _tag, _pattern, _first in (
    ("bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    ("int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", "-+0123456789"),
    (
        "float",
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
        "-+0123456789.",
    ),
    ("null", r"^(?:~|null|Null|NULL|)$", "~nN"),
    ("merge", r"^(?:<<)$", "<"),
):
    _Loader.add_implicit_resolver(
        f"tag:yaml.org,2002:{_tag}",
        re.compile(_pattern),
        [*_first, ""] if _tag == "null" else list(_first),
    )


SNIPPET_WIDTH = 160  # characters of a long line shown around the caret


def _clip(line: str, col: int) -> tuple[str, int]:
    """``line`` cut to SNIPPET_WIDTH characters around 0-based ``col``, with ``...`` where it
    was cut, and col in the cut line. Every diagnostic on a 100,000-character flow mapping
    would otherwise copy all of it (n keys, n diagnostics: n^2 characters)."""
    if len(line) <= SNIPPET_WIDTH:
        return line, col
    start = min(max(col - SNIPPET_WIDTH // 2, 0), len(line) - SNIPPET_WIDTH)
    head = "..." if start > 0 else ""
    tail = "..." if start + SNIPPET_WIDTH < len(line) else ""
    return head + line[start : start + SNIPPET_WIDTH] + tail, col - start + len(head)


class _PureLoader(yaml.SafeLoader):
    """The same loader in pure Python: what ``_Loader`` is where PyYAML was built without
    libyaml. Tests check that both give the same data, positions and diagnostics."""

    yaml_implicit_resolvers = _Loader.yaml_implicit_resolvers


# PyYAML's pure parser words some syntax errors differently from libyaml; diagnostics use
# libyaml's words, so a spec gets the same message wherever it is checked.
_LIBYAML_WORDS = (
    (r"expected (.+), but got .+", r"did not find expected \1"),
    (r"expected the node content, but found .+", "did not find expected node content"),
    (r"mapping values are not allowed here", "mapping values are not allowed in this context"),
    (r"found character .+ that cannot start", "found character that cannot start"),
    (r"found undefined alias .+", "found undefined alias"),
    (r"found duplicate YAML directive", "found duplicate %YAML directive"),
    (r"found duplicate anchor .+; first", "found duplicate anchor; first"),
)


def _libyaml_words(exc: yaml.MarkedYAMLError) -> tuple[str | None, str | None]:
    """(problem, context) of a syntax error in libyaml's words."""
    problem, context = exc.problem, exc.context
    if problem and problem.startswith("expected <block end>, but found"):
        in_list = context == "while parsing a block collection"
        problem = "did not find expected " + ("'-' indicator" if in_list else "key")
    for pattern, words in _LIBYAML_WORDS:
        problem = re.sub(f"^{pattern}", words, problem) if problem else problem
        context = re.sub(f"^{pattern}", words, context) if context else context
    return problem, context


_SAFE_TAGS = {
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:str",
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
    _split: tuple[str, list[str]] | None = field(
        default=None, init=False, repr=False, compare=False
    )

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
        lines = self._lines()
        if not 0 < location.line <= len(lines):
            return None
        number = f"{location.line:>4} | "
        line, col = _clip(lines[location.line - 1], (location.col or 1) - 1)
        caret = " " * (len(number) - 2) + "| " + " " * col + "^"
        return f"{number}{line}\n{caret}"

    def _lines(self) -> list[str]:
        # Split once per text, not once per diagnostic: 50,000 diagnostics on a 50,000-line
        # file would otherwise split it 50,000 times (quadratic).
        text = self.text or ""
        if self._split is None or self._split[0] is not text:
            self._split = (text, text.splitlines())
        return self._split[1]

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
    with gc_paused():
        return _parse(text, file)


def _parse(text: str, file: str | None) -> Document:
    source = SourceMap(file=file, text=text)
    try:
        node = yaml.compose(text, Loader=_Loader)
    except RecursionError:
        raise SpecError.single(
            "invalid-value", "the document is nested too deeply", location=Location(file)
        ) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        loc = Location(file, mark.line + 1, mark.column + 1) if mark else Location(file)
        problem_words, context_words = _libyaml_words(exc)
        message = f"invalid YAML: {problem_words or context_words or exc}"
        line = text.splitlines()[mark.line] if mark and mark.line < len(text.splitlines()) else ""
        hints: tuple[str, ...] = ()
        problem = str(problem_words or "")
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
    try:
        data = builder.build(node, ())
    except RecursionError:
        raise SpecError.single(
            "invalid-value", "the document is nested too deeply", location=Location(file)
        ) from None
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


class _Merger(yaml.SafeLoader):
    """PyYAML's merge-key resolution, remembering how many pairs of each mapping came from
    `<<:` (placed first). A mapping inside another's merge is flattened there, in place, and
    may be built later through an alias: its count must survive that."""

    def __init__(self) -> None:
        super().__init__("")
        self.merged: dict[int, int] = {}  # id(mapping node) -> pairs that came from `<<:`

    def flatten_mapping(self, node: yaml.MappingNode) -> None:
        if id(node) in self.merged:
            return
        explicit = sum(1 for k, _ in node.value if k.tag != "tag:yaml.org,2002:merge")
        super().flatten_mapping(node)
        self.merged[id(node)] = len(node.value) - explicit


class _Builder:
    """Turns composed nodes into Python data, recording positions and refusing unsafe tags.

    An aliased node is built once and shared (YAML's meaning of an alias); the size it would
    have if copied is counted, so alias bombs stop at MAX_NODES, and a node that contains
    itself is refused.
    """

    def __init__(self, source: SourceMap) -> None:
        self.source = source
        self.constructor = _Merger()
        self.built: dict[int, tuple[Any, int]] = {}  # id(node) -> (value, expanded size)
        self.active: set[int] = set()
        self.total = 0

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
        if isinstance(node, yaml.ScalarNode):
            # Cheap to rebuild when aliased and cannot contain itself: no memo entry for
            # what is most of a deep spec's nodes.
            value = self._scalar(node, path)
            self._count(node, 1)
            return value
        key = id(node)
        if key in self.built:
            value, size = self.built[key]
            self._count(node, size)
            return value
        if key in self.active:
            raise self._fail(node, "invalid-value", "a YAML alias refers to itself", path=path)
        self.active.add(key)
        before = self.total
        if isinstance(node, yaml.MappingNode):
            value = self._mapping(node, path)
        elif isinstance(node, yaml.SequenceNode):
            value = [self.build(child, (*path, i)) for i, child in enumerate(node.value)]
        else:
            value = self._scalar(node, path)
        self._count(node, 1)
        self.active.discard(key)
        self.built[key] = (value, self.total - before)
        return value

    def _count(self, node: yaml.Node, size: int) -> None:
        self.total += size
        if self.total > MAX_NODES:
            raise self._fail(
                node,
                "invalid-value",
                f"the document expands to more than {MAX_NODES:,} values (YAML aliases?)",
            )

    def _scalar(self, node: yaml.Node, path: YPath) -> Any:
        text = str(node.value)
        kind = node.tag.rsplit(":", 1)[-1]
        try:
            if kind == "null":
                return None
            if kind == "bool":
                return {"true": True, "false": False}[text.lower()]
            if kind == "int":
                if len(text) > MAX_DIGITS:
                    raise ValueError(f"an integer of {len(text)} digits")
                if text.startswith(("0o", "0x")):
                    return int(text[2:], 8 if text[1] == "o" else 16)
                return int(text, 10)
            if kind == "float":
                special = {".inf": "inf", "+.inf": "inf", "-.inf": "-inf", ".nan": "nan"}
                return float(special.get(text.lower(), text))
        except (ValueError, KeyError) as exc:
            raise self._fail(
                node, "invalid-value", f"invalid {kind} value {text!r}: {exc}", path=path
            ) from None
        return text

    def _mapping(self, node: yaml.MappingNode, path: YPath) -> dict[Any, Any]:
        try:
            self.constructor.flatten_mapping(node)  # resolves `<<:` merge keys, placed first
        except yaml.constructor.ConstructorError as exc:
            # YAML's merge key takes a mapping or a list of mappings; say so at the value.
            mark = exc.problem_mark or node.start_mark
            loc = Location(self.source.file, mark.line + 1, mark.column + 1)
            diag = Diagnostic(
                "invalid-value",
                "a merge key `<<` takes a mapping, or a list of mappings, to merge into this one",
                path=(*path, "<<"),
                hints=("e.g. `<<: *defaults`, after `defaults: &defaults {units: 64}` in vars",),
            )
            raise SpecError([diag.located(loc, self.source.snippet(loc))]) from None
        merged = self.constructor.merged[id(node)]
        out: dict[Any, Any] = {}
        from_merge: set[Any] = set()
        for index, (key_node, value_node) in enumerate(node.value):
            if not isinstance(key_node, yaml.ScalarNode):
                raise self._fail(key_node, "invalid-value", "mapping keys must be plain scalars")
            # Keys keep the user's spelling: `on:`, `null:` or `1.5:` are names here.
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
