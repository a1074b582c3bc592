"""The JSON Schema accepts every valid example and rejects obvious mistakes (editor checks)."""

from __future__ import annotations

import pathlib
from typing import Any

import jsonschema
import pytest
import yaml

from netspec.render.schema import spec_schema

ROOT = pathlib.Path(__file__).parent.parent
VALIDATOR = jsonschema.Draft202012Validator(spec_schema())


def _errors(data: Any) -> list[str]:
    return [e.message for e in VALIDATOR.iter_errors(data)]


def test_schema_is_a_valid_json_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(spec_schema())


@pytest.mark.parametrize("path", sorted((ROOT / "specs").glob("*.yaml")), ids=lambda p: p.stem)
def test_every_example_spec_satisfies_the_schema(path: pathlib.Path) -> None:
    assert _errors(yaml.safe_load(path.read_text(encoding="utf-8"))) == []


@pytest.mark.parametrize(
    "data",
    [
        {"input": [8], "layers": ["dense"]},
        {"input": [8], "layers": [{"dense": 4}, {"linear": {"out_features": 3}}]},
        {"input": [8], "layers": [{"type": "dense", "units": 4, "name": "a"}]},
        {"vars": {"w": 4}, "input": [8], "layers": [{"dense": "${w * 2}"}]},
        {"input": [3, 8, 8], "layers": [{"conv2d": {"filters": 4, "kernel_size": 3}, "repeat": 2}]},
        {"input": {"shape": ["T"], "dtype": "int64"}, "layers": ["identity"]},
        {"vars": {"n": 4}, "input": ["${n}"], "layers": [{"type": "my_block", "w": 4}]},
        {"input": {"shape": ["${n}"]}, "layers": ["relu"]},
    ],
)
def test_schema_accepts_each_spelling(data: dict[str, Any]) -> None:
    assert _errors(data) == []


@pytest.mark.parametrize(
    "data",
    [
        {"layers": ["dense"]},
        {"input": [8], "layers": [{"dense": {"units": 4, "unitz": 3}}]},
        {"input": [8], "layers": [{"type": "dense", "unitz": 4}]},
        {"input": [8], "layers": [], "extra": 1},
        {"input": [8], "layers": [{"conv2d": {"filters": 4, "kernel_size": 3, "padding": "x"}}]},
    ],
)
def test_schema_rejects_mistakes(data: dict[str, Any]) -> None:
    assert _errors(data)
