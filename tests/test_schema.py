"""The JSON Schema accepts every valid example and rejects obvious mistakes (editor checks)."""

from __future__ import annotations

import pathlib
from typing import Any

import jsonschema
import pytest
import yaml
from example_specs import ONE_NETWORK

from netspec.render.schema import spec_schema
from netspec.sources import all_sources
from netspec.sources.graphs import GRAPH_SOURCES

ROOT = pathlib.Path(__file__).parent.parent
VALIDATOR = jsonschema.Draft202012Validator(spec_schema())


def _errors(data: Any) -> list[str]:
    return [e.message for e in VALIDATOR.iter_errors(data)]


def test_schema_is_a_valid_json_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(spec_schema())


@pytest.mark.parametrize("path", ONE_NETWORK, ids=lambda p: p.stem)
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
        {"input": [2], "layers": ["dense"], "data": "moons"},
        {"input": [2], "layers": ["dense"], "data": {"source": "moons", "n_samples": "${n}"}},
        {"input": [2], "layers": ["dense"], "data": {"source": "csv", "path": "a.csv"}},
        {
            "input": [4],
            "layers": ["dense"],
            "data": {"source": "iris", "standardize_target": False},
        },
        {
            "networks": {
                "generator": {"input": [8], "layers": [{"dense": 2}]},
                "discriminator": {"input": [2], "layers": [{"dense": 1}]},
            },
            "train": {
                "task": "gan",
                "loss": {"type": "hinge"},
                "optimizer": {"generator": {"lr": 1e-4}, "discriminator": "adam"},
                "gan": {"d_steps": 2, "ema": 0.999},
            },
        },
        {
            "networks": {
                "encoder": {"inputs": {"x": [4]}, "layers": [{"dense": 2}]},
                "decoder": {"input": [2], "layers": [{"dense": 4}]},
            },
            "train": {"task": "autoencoder", "kl": {"beta": 0.5, "warmup_epochs": 2}},
        },
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
        {"input": [8], "layers": ["dense"], "data": {"source": "digitz"}},
        {"input": [8], "layers": ["dense"], "data": "digitz"},
        {"input": [8], "layers": ["dense"], "data": {"source": "moons", "sampels": 3}},
        {"input": [8], "layers": ["dense"], "data": {"source": "iris", "samples": 3}},
        {"input": [8], "layers": ["dense"], "data": {"source": "moons", "noise": "high"}},
        {"input": [8], "layers": ["dense"], "data": {"source": "csv"}},  # path is required
        # networks: never beside a top-level network; each network a model of its own
        {"input": [2], "layers": ["dense"], "networks": {"g": {"input": [2], "layers": ["relu"]}}},
        {"networks": {"g": {"input": [2], "layers": ["relu"]}}, "layers": ["relu"]},
        {"networks": {"g": {"input": [2], "layers": ["relu"], "data": "moons"}}},
        {"networks": {"g": {"layers": ["relu"]}}},
        {"networks": {"g": {"input": [2], "layers": ["relu"]}}, "train": {"gan": {"d_step": 2}}},
    ],
)
def test_schema_rejects_mistakes(data: dict[str, Any]) -> None:
    assert _errors(data)


def test_schema_lists_the_sources_and_their_options() -> None:
    data = spec_schema()["properties"]["data"]
    short, full = data["anyOf"]
    names = {s.name for s in all_sources()}
    assert names <= set(short["enum"])
    assert short["enum"] == full["properties"]["source"]["enum"]
    assert "images" in short["enum"]  # aliases too
    branches = {b["if"]["properties"]["source"]["enum"][0]: b["then"] for b in full["allOf"]}
    assert set(branches) == names | set(GRAPH_SOURCES)  # graph sources too (issue 12)
    assert branches["graph_npz"]["required"] == ["path"]
    for source in all_sources():
        assert set(source.options.model_fields) <= set(branches[source.name]["properties"])
    assert (
        branches["moons"]["properties"]["n_samples"] == branches["moons"]["properties"]["samples"]
    )
    assert branches["csv"]["required"] == ["path"]
