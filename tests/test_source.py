"""YAML reading: positions, refused tags, duplicate keys, odd top levels."""

from __future__ import annotations

import pytest

from netspec.errors import SpecError
from netspec.spec.source import parse


def test_positions_of_keys_and_values() -> None:
    doc = parse("input: [3]\nlayers:\n  - dense: {units: 4}\n", "s.yaml")
    assert doc.source.values[("layers", 0, "dense", "units")] == (3, 20)
    assert doc.source.keys[("layers", 0, "dense")] == (3, 5)
    loc = doc.source.locate(("layers", 0, "dense", "missing_key"))
    assert (loc.file, loc.line, loc.col) == ("s.yaml", 3, 12)


@pytest.mark.parametrize(
    "tag",
    [
        "!!python/object/apply:os.system ['ls']",
        "!!python/name:os.system",
        "!custom 3",
        "!!python/object/new:subprocess.Popen [['ls']]",
    ],
)
def test_unsafe_tags_are_refused_never_constructed(tag: str) -> None:
    with pytest.raises(SpecError, match="is not allowed: a spec never constructs objects"):
        parse(f"input: [3]\nlayers:\n  - dense: {tag}\n")


def test_yaml_1_1_booleans_as_keys_keep_their_spelling() -> None:
    assert parse("on: 1\n").data == {"on": 1}


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", "empty-spec"),
        ("# only\n", "empty-spec"),
        ("3\n", "not-a-mapping"),
        ("a: [1\n", "yaml-syntax"),
        ("a: 1\na: 2\n", "duplicate-key"),
    ],
)
def test_user_mistakes_in_yaml(text: str, code: str) -> None:
    with pytest.raises(SpecError) as info:
        parse(text)
    assert info.value.diagnostics[0].code == code
