"""The JSON Schema of the spec language, generated from the layer registry.

Editors (yaml-language-server) use it for completion and inline checks; `netspec validate`
remains the authority (it also checks shapes, references and `${...}` values).
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

from netspec.config import field_names
from netspec.layers import registry
from netspec.sources import Source, all_sources
from netspec.sources.graphs import GRAPH_SOURCES, GraphSource
from netspec.spec.names import COMMON_FIELD_DOCS
from netspec.spec.sections import DIM_SCHEMA, DataSpec, InputSpec, TrainSpec
from netspec.spec.tune import TuneSpec

SCHEMA_ID = "https://netspec.dev/schema/v1.json"
_INTERPOLATED = {"type": "string", "pattern": r"\$\{[^{}]*\}"}
_COMMON = {
    "name": {"type": "string", "description": COMMON_FIELD_DOCS["name"]},
    "from": {
        "description": COMMON_FIELD_DOCS["from"],
        "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}],
    },
    "repeat": {
        "anyOf": [{"type": "integer", "minimum": 1}, _INTERPOLATED],
        "description": COMMON_FIELD_DOCS["repeat"],
    },
    "trainable": {"type": "boolean", "description": COMMON_FIELD_DOCS["trainable"]},
}


def spec_schema() -> dict[str, Any]:
    defs: dict[str, Any] = {}
    entry_forms: list[dict[str, Any]] = [{"type": "string", "description": "bare layer name"}]
    for layer in registry.all_layers():
        config_ref = _config_def(layer, defs)
        words = [layer.name, *layer.aliases]
        entry_forms.append(
            {
                "type": "object",
                "description": f"{layer.name}: {layer.summary}",
                "properties": {"type": {"enum": words}},
                "required": ["type"],
                "allOf": [{"$ref": config_ref}],
            }
        )
        value_forms: list[dict[str, Any]] = [{"$ref": config_ref}, {"type": "null"}]
        if layer.primary:
            value_forms.insert(0, _primary_schema(layer))
        defs[f"{layer.name}_value"] = {"anyOf": value_forms}
        for word in words:
            entry_forms.append(
                {
                    "type": "object",
                    "description": f"{word}: {layer.summary}",
                    "properties": {
                        word: {"$ref": f"#/$defs/{layer.name}_value"},
                        **{k: {"$ref": f"#/$defs/common_{k}"} for k in _COMMON},
                    },
                    "required": [word],
                    "additionalProperties": False,
                }
            )
    entry_forms.append(
        {
            "type": "object",
            "description": "use of a block defined under `blocks`",
            "minProperties": 1,
            "propertyNames": {"not": {"enum": ["type", *registry.all_words()]}},
        }
    )
    entry_forms.append(
        {
            "type": "object",
            "description": "use of a block in the explicit form {type: <block>, ...}",
            "properties": {"type": {"type": "string", "not": {"enum": registry.all_words()}}},
            "required": ["type"],
        }
    )
    defs.update({f"common_{k}": v for k, v in _COMMON.items()})
    defs["entry"] = {"anyOf": entry_forms}
    defs["layers"] = {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/entry"}}
    defs["input"] = {
        "anyOf": [
            {"type": "array", "items": _dim_schema(), "minItems": 1},
            _model_schema(InputSpec, defs),
        ]
    }
    top: dict[str, Any] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "netspec spec",
        "description": "A neural network described in YAML (netspec v1).",
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "description": {"type": "string"},
            "vars": {"type": "object", "description": "values referenced as ${name}"},
            "input": {"$ref": "#/$defs/input"},
            "inputs": {
                "type": "object",
                "description": "several named inputs, in the order forward takes them",
                "minProperties": 1,
                "propertyNames": {"pattern": "^[A-Za-z][A-Za-z0-9_]*$"},
                "additionalProperties": {"$ref": "#/$defs/input"},
            },
            "outputs": {
                "description": "the layers the model returns (a tuple when several); "
                "default: the last layer",
                "anyOf": [
                    {"type": "string"},
                    {"type": "array", "items": {"type": "string"}, "minItems": 1},
                ],
            },
            "blocks": {
                "type": "object",
                "additionalProperties": {
                    "type": "object",
                    "properties": {
                        "params": {"type": "object"},
                        "description": {"type": "string"},
                        "layers": {"$ref": "#/$defs/layers"},
                    },
                    "required": ["layers"],
                    "additionalProperties": False,
                },
            },
            "layers": {"$ref": "#/$defs/layers"},
            "networks": {
                "type": "object",
                "description": "several networks trained together (a GAN's generator and "
                "discriminator, an autoencoder's encoder and decoder), each with its own "
                "input and layers; vars and blocks are shared",
                "minProperties": 1,
                "propertyNames": {"pattern": "^[A-Za-z_][A-Za-z0-9_]*$"},
                "additionalProperties": {"$ref": "#/$defs/network"},
            },
            "data": _data_schema(defs),
            "train": _model_schema(TrainSpec, defs),
            "tune": _model_schema(TuneSpec, defs),
        },
        # One network (input or inputs, and layers) or several (networks), never both.
        "oneOf": [
            {"required": ["layers"], "oneOf": _ONE_INPUT_FORM, "not": {"required": ["networks"]}},
            {"required": ["networks"], "not": {"anyOf": _NETWORK_KEYS_REQUIRED}},
        ],
        "additionalProperties": False,
        "$defs": defs,
    }
    defs["network"] = _network_schema(top["properties"])
    return top


_ONE_INPUT_FORM: list[dict[str, Any]] = [{"required": ["input"]}, {"required": ["inputs"]}]
_NETWORK_KEYS_REQUIRED: list[dict[str, Any]] = [
    {"required": [key]} for key in ("input", "inputs", "outputs", "layers")
]


def _network_schema(properties: dict[str, Any]) -> dict[str, Any]:
    """One network of `networks:`: the one-network keys that describe a model."""
    return {
        "type": "object",
        "properties": {
            key: properties[key] for key in ("description", "input", "inputs", "outputs", "layers")
        },
        "required": ["layers"],
        "oneOf": _ONE_INPUT_FORM,
        "additionalProperties": False,
    }


def _dim_schema() -> dict[str, Any]:
    return DIM_SCHEMA


def _config_def(layer: registry.LayerType[Any], defs: dict[str, Any]) -> str:
    # A layer with reference arguments gets a definition of its own (its config may be shared).
    key = layer.config.__name__ + ("_" + layer.name if layer.reference_inputs else "")
    if key in defs:
        return f"#/$defs/{key}"
    schema = layer.config.model_json_schema(ref_template="#/$defs/{model}")
    defs.update(schema.pop("$defs", {}))
    props: dict[str, Any] = schema.get("properties", {})
    for fname, field_schema in list(props.items()):
        props[fname] = {"anyOf": [field_schema, _INTERPOLATED]}
    for spelling, fname in field_names(layer.config).items():
        if spelling not in props:
            props[spelling] = props[fname]
    props.update(_COMMON)
    for name in layer.reference_inputs:  # center_crop's `like`: a layer name, not a config
        props[name] = {"type": "string", "description": "the name of an earlier layer"}
    props["type"] = {"type": "string"}
    # Aliased fields may be required under any spelling, so "required" is left to netspec.
    schema.pop("required", None)
    schema["additionalProperties"] = False
    defs[key] = schema
    return f"#/$defs/{key}"


def _primary_schema(layer: registry.LayerType[Any]) -> dict[str, Any]:
    field = layer.config.model_fields[layer.primary or ""]
    schema = layer.config.model_json_schema()["properties"].get(layer.primary, {})
    schema = {k: v for k, v in schema.items() if k not in ("title", "default")}
    if "$ref" in json.dumps(schema):
        schema = {}
    return {
        "anyOf": [schema, _INTERPOLATED],
        "description": f"the primary argument: "
        f"{layer.primary}" + (f" ({field.description})" if field.description else ""),
    }


def _model_schema(model: type[BaseModel], defs: dict[str, Any]) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template="#/$defs/{model}")
    defs.update(schema.pop("$defs", {}))
    return schema


def _data_schema(defs: dict[str, Any]) -> dict[str, Any]:
    """The data section: `source` is one of the registered names, and the source chosen
    brings its own options (one if/then per source, so an editor completes them); any other
    key is a mistake (unevaluatedProperties sees the keys the matching `then` declares)."""
    schema = _model_schema(DataSpec, defs)
    picked: list[Source | GraphSource] = [*all_sources(), *GRAPH_SOURCES.values()]
    words = [w for source in picked for w in (source.name, *_aliases(source))]
    props: dict[str, Any] = schema["properties"]
    props["source"] = {"enum": words, "description": "where the data come from"}
    schema["required"] = ["source"]
    schema.pop("additionalProperties", None)
    schema["allOf"] = [_source_branch(source, defs) for source in picked]
    schema["unevaluatedProperties"] = False
    short = {"enum": words, "description": "short for {source: <name>}"}
    return {"anyOf": [short, schema]}


def _aliases(source: Source | GraphSource) -> tuple[str, ...]:
    return tuple(getattr(source, "aliases", ()))


def _source_branch(source: Source | GraphSource, defs: dict[str, Any]) -> dict[str, Any]:
    options = source.options.model_json_schema(ref_template="#/$defs/{model}")
    defs.update(options.pop("$defs", {}))
    props: dict[str, Any] = {}
    for fname, field_schema in options.get("properties", {}).items():
        field_schema.pop("title", None)
        doc = source.field_docs.get(fname)
        props[fname] = {"anyOf": [field_schema, _INTERPOLATED]}
        if doc:
            props[fname]["description"] = doc
    for spelling, fname in field_names(source.options).items():
        props.setdefault(spelling, props[fname])
    then: dict[str, Any] = {"description": f"{source.name}: {source.summary}", "properties": props}
    if options.get("required"):
        then["required"] = options["required"]
    return {
        "if": {
            "properties": {"source": {"enum": [source.name, *_aliases(source)]}},
            "required": ["source"],
        },
        "then": then,
    }


def schema_text() -> str:
    return json.dumps(spec_schema(), indent=2, sort_keys=False) + "\n"
