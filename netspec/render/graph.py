"""Render a Plan as a picture of its layer graph: Mermaid or Graphviz DOT text. Computes nothing.

One node per layer (name, type, parameter count) plus one for the input; one edge per layer
input, labelled with the shape flowing along it, ``(N, 16, 8, 8)``. Layers with dotted names
(``block_0.conv2d_0``) are grouped in a Mermaid ``subgraph`` / DOT ``cluster`` per prefix,
nested prefixes nested. A spec of several networks shows each network in a Mermaid
``subgraph`` / DOT ``cluster`` of its own. Pure Python, no torch; the output depends only on
the Plans.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from netspec.errors import printable
from netspec.plan import Plan, PlannedLayer

__all__ = ["dot", "mermaid", "networks_dot", "networks_mermaid", "svg"]

_INDENT = "    "
_UNSAFE = re.compile(r"[^A-Za-z0-9_]")


@dataclass
class _Group:
    """A dotted prefix (``""`` for the top level) and what it holds, in plan order."""

    prefix: str
    items: list[PlannedLayer | _Group] = field(default_factory=list)


def _groups(p: Plan) -> _Group:
    """Nest layers by the prefixes of their dotted names; a group sits at its first layer."""
    root = _Group("")
    groups = {"": root}
    for layer in p.layers:
        parts = layer.name.split(".")
        parent = root
        for depth in range(1, len(parts)):
            prefix = ".".join(parts[:depth])
            if prefix not in groups:
                groups[prefix] = _Group(prefix)
                parent.items.append(groups[prefix])
            parent = groups[prefix]
        parent.items.append(layer)
    return root


class _Ids:
    """Safe, unique, deterministic identifiers: ``n_`` + name for nodes, ``g_`` for groups.

    Dots become ``__`` (``block_0.conv2d_0`` -> ``n_block_0__conv2d_0``); the prefixes keep ids
    clear of Mermaid and DOT keywords (``end``, ``node``, ``graph``), and a rare clash between
    two sanitized names gets a numeric suffix.
    """

    def __init__(self) -> None:
        self._ids: dict[tuple[str, str], str] = {}
        self._used: set[str] = set()

    def __call__(self, kind: str, name: str) -> str:
        key = (kind, name)
        if key not in self._ids:
            base = f"{kind}_" + _UNSAFE.sub("_", name.replace(".", "__"))
            ident, k = base, 2
            while ident in self._used:
                ident, k = f"{base}_{k}", k + 1
            self._used.add(ident)
            self._ids[key] = ident
        return self._ids[key]


def _params_text(layer: PlannedLayer) -> str:
    frozen = "" if layer.trainable or not layer.params else ", frozen"
    unit = "param" if layer.params == 1 else "params"
    return f"{layer.type}, {layer.params:,} {unit}{frozen}"


def _input_text(p: Plan, name: str) -> str:
    tensor = p.inputs[name]
    dtype = " int64" if tensor.dtype == "int64" else ""
    return f"{tensor.text()}{dtype}"


def _ties(p: Plan) -> Iterator[tuple[str, str]]:
    """(owner, layer) for every layer that shares another's weight: a dashed edge."""
    for layer in p.layers:
        if layer.tie is not None:
            yield layer.tie, layer.name


def _edges(p: Plan) -> Iterator[tuple[str, str, str]]:
    """(source, layer, shape) for every input of every layer, in plan order."""
    for layer in p.layers:
        for ref, tensor in zip(layer.inputs, layer.in_tensors, strict=True):
            yield ref, layer.name, tensor.text()


# --- Mermaid -------------------------------------------------------------------------------


def _mm(text: str) -> str:
    """Text for a double-quoted Mermaid label: entity codes for the characters it parses."""
    text = printable(text).replace("#", "#35;").replace('"', "#quot;")
    return text.replace("<", "#lt;").replace(">", "#gt;").replace("\n", " ")


def mermaid(p: Plan) -> str:
    """A ``flowchart TD`` (renders on GitHub inside a ```mermaid fence)."""
    ids = _Ids()
    lines = _mermaid_header(p.name)
    lines += _mermaid_nodes(p, ids, "", 1)
    lines += _mermaid_edges(p, ids, "")
    return "\n".join(lines) + "\n"


def networks_mermaid(name: str, plans: Mapping[str, Plan]) -> str:
    """The networks of a `networks:` spec, one ``subgraph`` each, in declared order."""
    ids = _Ids()
    lines = _mermaid_header(name)
    for network, p in plans.items():
        lines.append(f'{_INDENT}subgraph {ids("net", network)} ["{_mm(network)}"]')
        lines += _mermaid_nodes(p, ids, network, 2)
        lines.append(f"{_INDENT}end")
    for network, p in plans.items():
        lines += _mermaid_edges(p, ids, network)
    return "\n".join(lines) + "\n"


def _mermaid_header(name: str) -> list[str]:
    shown = " ".join(printable(name).split())  # a comment ends at the line break
    return ["flowchart TD", f"{_INDENT}%% netspec graph of {shown}".rstrip()]


def _mermaid_nodes(p: Plan, ids: _Ids, scope: str, depth: int) -> list[str]:
    """The inputs and layers (grouped by dotted prefix) of one plan; ``scope`` keeps the ids
    of one network's layers apart from another's."""
    lines = []
    for name in p.inputs:
        node = ids("n", _scoped(scope, name))
        lines.append(f'{_INDENT * depth}{node}(["{_mm(name)}<br/>{_mm(_input_text(p, name))}"])')

    def emit(group: _Group, depth: int) -> None:
        pad = _INDENT * depth
        for item in group.items:
            if isinstance(item, _Group):
                group_id = ids("g", _scoped(scope, item.prefix))
                lines.append(f'{pad}subgraph {group_id} ["{_mm(item.prefix)}"]')
                emit(item, depth + 1)
                lines.append(f"{pad}end")
            else:
                label = f"{_mm(item.name)}<br/>{_mm(_params_text(item))}"
                lines.append(f'{pad}{ids("n", _scoped(scope, item.name))}["{label}"]')

    emit(_groups(p), depth)
    return lines


def _mermaid_edges(p: Plan, ids: _Ids, scope: str) -> list[str]:
    lines = []
    for src, dst, shape in _edges(p):
        a, b = ids("n", _scoped(scope, src)), ids("n", _scoped(scope, dst))
        lines.append(f'{_INDENT}{a} -->|"{_mm(shape)}"| {b}')
    for owner, layer in _ties(p):
        a, b = ids("n", _scoped(scope, owner)), ids("n", _scoped(scope, layer))
        lines.append(f'{_INDENT}{a} -.->|"tied weight"| {b}')
    return lines


def _scoped(scope: str, name: str) -> str:
    """A layer's name within its network (network names have no dots: unambiguous)."""
    return f"{scope}.{name}" if scope else name


# --- Graphviz DOT --------------------------------------------------------------------------


def _dq(*lines: str) -> str:
    """A DOT double-quoted string; in a label, ``\\n`` separates the lines."""
    escaped = (re.sub(r'(["\\])', r"\\\1", printable(line)).replace("\n", " ") for line in lines)
    return '"' + "\\n".join(escaped) + '"'


def _record(*fields: str) -> str:
    """A record label, fields stacked: braces, bars and angle brackets are syntax there."""
    escaped = (re.sub(r'([{}|<>"\\])', r"\\\1", printable(f)).replace("\n", " ") for f in fields)
    return '"{' + "|".join(escaped) + '}"'


def dot(p: Plan) -> str:
    """A Graphviz ``digraph``: record nodes, a cluster per dotted prefix, labelled edges."""
    ids = _Ids()
    lines = _dot_header(p.name)
    lines += _dot_nodes(p, ids, "", 1)
    lines += _dot_edges(p, ids, "")
    lines.append("}")
    return "\n".join(lines) + "\n"


def networks_dot(name: str, plans: Mapping[str, Plan]) -> str:
    """The networks of a `networks:` spec, one solid ``cluster`` each, in declared order."""
    ids = _Ids()
    lines = _dot_header(name)
    for network, p in plans.items():
        lines.append(f"{_INDENT}subgraph cluster_{ids('net', network)} {{")
        lines.append(f"{_INDENT * 2}label={_dq(network)};")
        lines.append(f"{_INDENT * 2}style=bold;")
        lines += _dot_nodes(p, ids, network, 2)
        lines.append(f"{_INDENT}}}")
    for network, p in plans.items():
        lines += _dot_edges(p, ids, network)
    lines.append("}")
    return "\n".join(lines) + "\n"


def _dot_header(name: str) -> list[str]:
    return [
        f"digraph {_dq(name)} {{",
        f'{_INDENT}graph [rankdir=TB, fontname="Helvetica", fontsize=11];',
        f'{_INDENT}node [shape=record, fontname="Helvetica", fontsize=11];',
        f'{_INDENT}edge [fontname="Helvetica", fontsize=9];',
    ]


def _dot_nodes(p: Plan, ids: _Ids, scope: str, depth: int) -> list[str]:
    lines = [
        f"{_INDENT * depth}{ids('n', _scoped(scope, name))} [shape=box, style=rounded, "
        f"label={_dq(name, _input_text(p, name))}];"
        for name in p.inputs
    ]

    def emit(group: _Group, depth: int) -> None:
        pad = _INDENT * depth
        for item in group.items:
            if isinstance(item, _Group):
                lines.append(f"{pad}subgraph cluster_{ids('g', _scoped(scope, item.prefix))} {{")
                lines.append(f"{pad}{_INDENT}label={_dq(item.prefix)};")
                lines.append(f"{pad}{_INDENT}style=dashed;")
                emit(item, depth + 1)
                lines.append(f"{pad}}}")
            else:
                label = _record(item.name, _params_text(item))
                lines.append(f"{pad}{ids('n', _scoped(scope, item.name))} [label={label}];")

    emit(_groups(p), depth)
    return lines


def _dot_edges(p: Plan, ids: _Ids, scope: str) -> list[str]:
    lines = []
    for src, dst, shape in _edges(p):
        a, b = ids("n", _scoped(scope, src)), ids("n", _scoped(scope, dst))
        lines.append(f"{_INDENT}{a} -> {b} [label={_dq(shape)}];")
    for owner, layer in _ties(p):
        a, b = ids("n", _scoped(scope, owner)), ids("n", _scoped(scope, layer))
        lines.append(f'{_INDENT}{a} -> {b} [style=dashed, label="tied weight"];')
    return lines


def svg(dot_text: str, executable: str) -> str:
    """Lay out DOT text with Graphviz (``dot -Tsvg``); the caller finds the executable."""
    proc = subprocess.run(
        [executable, "-Tsvg"],
        input=dot_text,
        capture_output=True,
        text=True,
        encoding="utf-8",
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"netspec bug: dot -Tsvg rejected the graph: {proc.stderr.strip()}")
    return proc.stdout
