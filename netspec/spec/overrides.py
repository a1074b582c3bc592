"""``--set key.path=value``: change any value of a spec from the command line.

Paths follow the YAML: ``vars.width=128``, ``train.optimizer.lr=3e-4``, ``data.split.seed=1``,
and layer entries by index whatever spelling they were written in: ``layers[2].units=64``
works for ``- dense: 32``, ``- dense: {units: 32}`` and ``- {type: dense, units: 32}``.
Values are read as YAML (``true``, ``[1, 8, 8]``, ``1e-3``); in a spec of several networks,
``networks.generator.layers[1].units=3``; with optimizer settings per network,
``train.optimizer.lr=1e-4`` sets every network's. Overrides apply to the parsed
document before anything else, so vars, blocks and validation see the new values.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from copy import deepcopy
from typing import Any

from netspec.config import field_names
from netspec.errors import SpecError, did_you_mean, format_path
from netspec.layers import registry
from netspec.spec.names import COMMON_FIELDS, TOP_LEVEL

_PART = re.compile(r"\.?([A-Za-z_][A-Za-z0-9_]*)|\[(-?\d+)\]")
Path = tuple[str | int, ...]


def apply_overrides(data: dict[str, Any], assignments: Sequence[str]) -> dict[str, Any]:
    """A copy of ``data`` with every ``path=value`` applied, in order."""
    out = deepcopy(data)
    for assignment in assignments:
        path, value = parse_assignment(assignment)
        # `networks` is a top-level key of a spec of several networks only
        known = (*TOP_LEVEL, "networks") if "networks" in out else TOP_LEVEL
        if isinstance(path[0], str) and path[0] not in known:
            guess = did_you_mean(path[0], known)
            hint = f"; did you mean {guess!r}?" if guess else f" (one of {', '.join(known)})"
            raise _error(assignment, f"unknown top-level key {path[0]!r}{hint}")
        networks = out.get("networks")
        # a network the path would create holds nothing but the path's keys: a typo
        if (
            path[0] == "networks"
            and len(path) > 2
            and isinstance(networks, dict)
            and (path[1] not in networks)
        ):
            names = [str(k) for k in networks]
            guess = did_you_mean(str(path[1]), names)
            hint = f"; did you mean {guess!r}?" if guess else f" (one of {', '.join(names)})"
            raise _error(assignment, f"no network {path[1]!r}{hint}")
        for each in _per_network(out, path):
            _set(out, each, value, assignment, ())
    return out


def _per_network(data: dict[str, Any], path: Path) -> list[Path]:
    """``train.optimizer.lr`` on optimizer settings per network (`{generator: {...},
    discriminator: {...}}`) is every network's lr (so `netspec train --lr` works for a GAN);
    any other path is itself."""
    from netspec.spec.sections import OptimizerSpec

    fields = set(OptimizerSpec.model_fields)
    train = data.get("train")
    settings = train.get("optimizer") if isinstance(train, dict) else None
    if (
        len(path) != 3
        or path[:2] != ("train", "optimizer")
        or path[2] not in fields
        or not isinstance(settings, dict)
        or not settings
        or set(settings) & fields
    ):
        return [path]
    for name, one in settings.items():  # a bare optimizer name is short for {type: name}
        if isinstance(one, str):
            settings[name] = {"type": one}
    return [("train", "optimizer", name, path[2]) for name in settings]


def parse_assignment(assignment: str) -> tuple[Path, Any]:
    """``layers[2].units=64`` -> (("layers", 2, "units"), 64)."""
    from netspec.spec.source import parse

    text, sep, raw = assignment.partition("=")
    text = text.strip()
    parts: list[str | int] = []
    pos = 0
    for match in _PART.finditer(text):
        if match.start() != pos or (match.group(0).startswith(".") and not parts):
            break
        parts.append(match.group(1) if match.group(1) is not None else int(match.group(2)))
        pos = match.end()
    if not sep or not parts or pos != len(text) or not isinstance(parts[0], str):
        raise _error(
            assignment, "expected key.path=value, e.g. train.epochs=5 or layers[2].units=64"
        )
    try:
        value = parse(f"value: {raw}").data["value"]
    except SpecError:
        raise _error(assignment, f"the value {raw!r} is not valid YAML") from None
    return tuple(parts), value


def _set(node: Any, path: Path, value: Any, assignment: str, trail: Path) -> None:
    head, rest = path[0], path[1:]
    here = (*trail, head)
    if isinstance(node, list) and isinstance(head, int):
        if not -len(node) <= head < len(node):
            raise _error(assignment, f"{format_path(trail)} has {len(node)} entries, no [{head}]")
        if not rest:
            node[head] = value
        elif trail and trail[-1] == "layers":  # a layer entry, in any of its spellings
            node[head] = _set_in_entry(node[head], rest, value, assignment, here)
        else:
            _set(node[head], rest, value, assignment, here)
        return
    if not isinstance(node, dict) or not isinstance(head, str):
        raise _error(assignment, f"{format_path(trail) or 'the spec'} has no {head!r}")
    if not rest:
        node[head] = value
        return
    if node.get(head) is None:
        node[head] = [] if isinstance(rest[0], int) else {}
    elif isinstance(node[head], str) and here in _SHORTHANDS:
        node[head] = {_SHORTHANDS[here]: node[head]}  # `optimizer: adam` is {type: adam}
    _set(node[head], rest, value, assignment, here)


# Sections a bare name may stand for: `optimizer: adam` means `optimizer: {type: adam}`.
_SHORTHANDS: dict[Path, str] = {
    ("train", "optimizer"): "type",
    ("train", "scheduler"): "type",
    ("train", "loss"): "type",
    ("data",): "source",
}


def _set_in_entry(entry: Any, path: Path, value: Any, assignment: str, trail: Path) -> Any:
    """Set an argument of a layer entry; the entry may first be rewritten into the mapping
    spelling (``- dense: 32`` becomes ``- dense: {units: 32}``), which means the same."""
    key = path[0]
    if not isinstance(key, str):
        raise _error(assignment, f"{format_path(trail)} is a layer entry: name an argument")
    if isinstance(entry, str):
        entry = {entry: {}}
    if not isinstance(entry, dict):
        raise _error(assignment, f"{format_path(trail)} is not a layer entry")
    words = [k for k in entry if k not in COMMON_FIELDS]
    if "type" not in entry and words == [key] and len(path) > 1:
        # `layers[0].dense.units` names the type key too: it means `layers[0].units`.
        path = path[1:]
        key = path[0]
        if not isinstance(key, str):
            raise _error(assignment, f"{format_path(trail)} is a layer entry: name an argument")
    if "type" in entry or key in COMMON_FIELDS:
        target = entry
    else:
        words = [k for k in entry if k not in COMMON_FIELDS]
        if len(words) != 1:
            raise _error(assignment, f"{format_path(trail)} is not a layer entry")
        word = words[0]
        inner = entry[word]
        if not isinstance(inner, dict):
            primary = _primary(word)
            if inner is not None and primary is None:
                raise _error(assignment, f"{word!r} takes no argument named {key!r}")
            inner = {} if inner is None else {primary: inner}
            entry[word] = inner
        target = inner
    if len(path) == 1:
        target[_existing_spelling(entry, target, key)] = value
    else:
        _set(target, path, value, assignment, trail)
    return entry


def _primary(word: str) -> str | None:
    canonical = registry.resolve(word)
    return registry.get(canonical).primary if canonical else None


def _existing_spelling(entry: dict[str, Any], target: dict[str, Any], key: str) -> str:
    """Setting `units` where `out_features` was written replaces it rather than adding an
    alias next to it."""
    word = entry.get("type") or next((k for k in entry if k not in COMMON_FIELDS), None)
    canonical = registry.resolve(str(word)) if word is not None else None
    if canonical is None:
        return key
    spellings = field_names(registry.get(canonical).config)
    field = spellings.get(key)
    for written in target:
        if field is not None and spellings.get(written) == field:
            return str(written)
    return key


def _error(assignment: str, message: str) -> SpecError:
    return SpecError.single("invalid-value", f"--set {assignment}: {message}")
