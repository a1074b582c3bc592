"""docs/reference.md is generated from the registry, complete, deterministic and up to date."""

from __future__ import annotations

import pathlib
import re
from typing import Annotated, Literal

import pytest
from pydantic import Field

import netspec
from netspec.layers import all_layers
from netspec.render import reference as docgen

ROOT = pathlib.Path(__file__).parent.parent
SECTION = re.compile(r"^### (\S+)$", re.M)
YAML_BLOCK = re.compile(r"```yaml\n(.*?)```", re.S)


def test_every_layer_has_one_section_in_family_order() -> None:
    families = sorted({layer.family for layer in all_layers()}, key=docgen._family_key)
    expected = [
        layer.name for family in families for layer in all_layers() if layer.family == family
    ]
    assert SECTION.findall(docgen.reference_markdown()) == expected


def test_output_is_deterministic() -> None:
    assert docgen.reference_markdown() == docgen.reference_markdown()


def test_committed_reference_is_up_to_date() -> None:
    committed = (ROOT / "docs" / "reference.md").read_text(encoding="utf-8")
    assert committed == docgen.reference_markdown(), "run: python -m netspec.render.reference"


def test_every_example_is_a_valid_spec() -> None:
    blocks = YAML_BLOCK.findall(docgen.reference_markdown())
    assert len(blocks) >= len([layer for layer in all_layers() if layer.examples])
    for block in blocks:
        netspec.plan(block)


def test_argument_table_shows_yaml_spellings_and_aliases() -> None:
    text = docgen.reference_markdown()
    dense = text.split("### dense\n", 1)[1].split("\n### ", 1)[0]
    assert "| `units` | int > 0 | required | `out_features` |" in dense
    assert "- **Aliases:** `linear`" in dense
    assert "- **Primary argument:** `units`" in dense


@pytest.mark.parametrize(
    ("annotation", "words"),
    [
        (int, "int"),
        (Annotated[int, Field(gt=0)], "int > 0"),
        (Annotated[float, Field(ge=0.0, lt=1.0)], "float >= 0.0, < 1.0"),
        (Annotated[float, Field(ge=0.0, lt=1.0)] | None, "(float >= 0.0, < 1.0) or null"),
        (int | tuple[int, ...], "int or list of int"),
        (Literal["same", "valid"], "`same` or `valid`"),
        (Literal["a", "b", "c"] | None, "(one of `a`, `b`, `c`) or null"),
        (tuple[int | None, int | None], "list of 2 (int or null)"),
    ],
)
def test_type_words(annotation: object, words: str) -> None:
    assert docgen.type_words(annotation) == words


def test_check_mode_reports_a_stale_file(tmp_path: pathlib.Path) -> None:
    target = tmp_path / "reference.md"
    assert docgen.main([str(target)]) == 0
    assert docgen.main([str(target), "--check"]) == 0
    target.write_text("stale\n", encoding="utf-8")
    assert docgen.main([str(target), "--check"]) == 1
