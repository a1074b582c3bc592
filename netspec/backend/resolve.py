"""Spec -> the fully resolved spec: vars substituted, blocks and repeats expanded.

Every layer is written in the explicit form with its name and every argument, so the file
rebuilds the same model (same names, same state_dict keys) with nothing left to infer but
shapes. Layers that came from a block keep their dotted names (``conv_bn_relu_0.conv2d_0``);
a residual stays a residual with its body nested, since that is what it is.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from netspec.errors import netspec_bug
from netspec.layers import registry
from netspec.plan import settled
from netspec.spec.load import LayerSpec, Spec
from netspec.spec.names import INPUT_NAME
from netspec.spec.networks import Networks
from netspec.spec.sections import InputSpec


def resolved(spec: Spec) -> dict[str, Any]:
    """The resolved spec as plain data (what spec.yaml holds)."""
    spec = settled(spec)  # layers sized by input.shape get their numbers
    out: dict[str, Any] = {"name": spec.name}
    if spec.description:
        out["description"] = spec.description
    if spec.named_inputs:
        out["inputs"] = {name: _input(s) for name, s in spec.inputs.items()}
    else:
        out["input"] = _input(spec.input)
    first = next(iter(spec.inputs)) if spec.named_inputs else INPUT_NAME
    residuals = {layer.name for layer in spec.layers if layer.type == "residual"}
    out["layers"] = _entries(list(spec.layers), "", first, residuals)
    if spec.outputs and spec.outputs != (spec.layers[-1].name,):
        out["outputs"] = list(spec.outputs)
    out.update(_sections(spec, spec.source.file))
    return out


def resolved_networks(nets: Networks) -> dict[str, Any]:
    """A spec of several networks, resolved: each network as `resolved` writes one (without
    the sections they share), then data and train."""
    out: dict[str, Any] = {"name": nets.name}
    if nets.description:
        out["description"] = nets.description
    out["networks"] = {
        name: {k: v for k, v in resolved(spec).items() if k != "name"}
        for name, spec in nets.networks.items()
    }
    out.update(_sections(nets, nets.source.file))
    return out


def _sections(spec: Spec | Networks, file: str | None) -> dict[str, Any]:
    """`data` and `train` as plain data; relative data paths made absolute so that a run
    directory's copy still finds the data (they start at the original spec's folder)."""
    out: dict[str, Any] = {}
    for key in ("data", "train"):
        section = getattr(spec, key)
        if section is not None:
            out[key] = section.model_dump(mode="json", exclude_none=True)
    if "data" in out and file is not None:
        folder = Path(file).resolve().parent
        for key in ("path", "target_path"):
            value = out["data"].get(key)
            if isinstance(value, str) and not Path(value).is_absolute():
                out["data"][key] = str(folder / value)
    return out


def _input(s: InputSpec) -> Any:
    shape = [d if isinstance(d, int) else str(d) for d in s.shape]
    if s.graph:  # float node features
        return {"shape": shape, "graph": True}
    if s.dtype == "float32":
        return shape
    return {"shape": shape, "dtype": s.dtype} | (
        {"pad_id": s.pad_id} if s.pad_id is not None else {}
    )


def resolved_yaml(spec: Spec | Networks) -> str:
    header = (
        f"# {spec.name}: the fully resolved spec (vars, blocks and repeats expanded), written "
        "by netspec.\n# It rebuilds the same model: netspec.build_model('spec.yaml').\n"
    )
    data = resolved_networks(spec) if isinstance(spec, Networks) else resolved(spec)
    return header + yaml.safe_dump(data, sort_keys=False, width=100)


def _entries(
    layers: list[LayerSpec], prefix: str, previous: str, residuals: set[str]
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    i = 0
    while i < len(layers):
        layer = layers[i]
        owner = _residual_owner(layer.name, prefix, residuals)
        if owner is not None:
            # The body of `owner` runs up to the residual entry itself.
            end = next(j for j in range(i, len(layers)) if layers[j].name == owner)
            residual = layers[end]
            body = _entries(layers[i:end], owner + ".", residual.inputs[0], residuals)
            entry = _head(residual, prefix, previous, residuals)
            entry["layers"] = body
            out.append(entry)
            previous = owner
            i = end + 1
            continue
        entry = _head(layer, prefix, previous, residuals)
        entry.update(_arguments(layer))
        out.append(entry)
        previous = layer.name
        i += 1
    return out


def _arguments(layer: LayerSpec) -> dict[str, Any]:
    """Every argument, less the unset optional references (`tie: null` on every dense)."""
    config = layer.config
    if config is None:
        raise netspec_bug(f"layer {layer.name!r} has no config after settled()")
    dumped = config.model_dump(mode="json")
    optional = registry.get(layer.type).layer_references
    return {k: v for k, v in dumped.items() if not (v is None and k in optional)}


def _residual_owner(name: str, prefix: str, residuals: set[str]) -> str | None:
    """The outermost residual below ``prefix`` whose body holds ``name``."""
    parts = name[len(prefix) :].split(".")
    for depth in range(1, len(parts)):
        candidate = prefix + ".".join(parts[:depth])
        if candidate in residuals:
            return candidate
    return None


def _head(layer: LayerSpec, prefix: str, previous: str, residuals: set[str]) -> dict[str, Any]:
    entry: dict[str, Any] = {"type": layer.type, "name": _relative(layer.name, prefix)}
    sources = layer.inputs if layer.type != "residual" else layer.inputs[:1]
    if sources != (previous,):
        refs = [_reference(ref, prefix, residuals) for ref in sources]
        entry["from"] = refs[0] if len(refs) == 1 else refs
    if not layer.trainable:
        entry["trainable"] = False
    return entry


def _relative(name: str, prefix: str) -> str:
    return name[len(prefix) :] if prefix and name.startswith(prefix) else name


def _reference(ref: str, prefix: str, residuals: set[str]) -> str:
    """``ref`` as written from inside ``prefix``: relative to the innermost enclosing residual
    that holds it (each residual body is a scope of its own)."""
    parts = prefix.rstrip(".").split(".") if prefix else []
    for depth in range(len(parts), 0, -1):
        scope = ".".join(parts[:depth])
        if scope in residuals and ref.startswith(scope + "."):
            return ref[len(scope) + 1 :]
    return ref
