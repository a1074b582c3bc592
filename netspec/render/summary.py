"""Render a Plan: the summary table (text) and the summary JSON. Computes nothing new.

The table is drawn here rather than with rich.Table: rich measures every cell and takes
seconds on a 10,000-layer spec, while this stays linear and cheap.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from netspec import dims
from netspec.errors import printable
from netspec.layers.registry import Tensor
from netspec.plan import Plan, PlannedLayer
from netspec.units import format_bytes, format_count

_RIGHT = {"#", "params", "MACs"}


def summary_json(p: Plan, batch_size: int) -> dict[str, Any]:
    return {
        "name": p.name,
        "input_shape": _shape_json(p.input),
        "input_dtype": p.input.dtype,
        "output_shape": _shape_json(p.output),
        # Every input and output by name (the two keys above describe the first of each).
        "inputs": [
            {"name": name, "shape": _shape_json(t), "dtype": t.dtype}
            | ({"pad_id": p.pad_ids[name]} if name in p.pad_ids else {})
            | ({"graph": True} if t.rows == "nodes" else {})
            for name, t in p.inputs.items()
        ],
        "outputs": [
            {"name": name, "shape": _shape_json(t)}
            for name, t in zip(p.output_names, p.output_tensors, strict=True)
        ],
        "total_params": p.total_params,
        "trainable_params": p.trainable_params,
        "non_trainable_params": p.non_trainable_params,
        "param_bytes": p.param_bytes,
        "macs": dims.to_json(p.macs),
        "batch_size": batch_size,
        "activation_bytes": dims.to_json(p.activation_bytes(batch_size)),
        "layers": [_layer_json(layer) for layer in p.layers],
    }


def _shape_json(t: Tensor) -> list[int | str | None]:
    """``[null, 1, 28, 28]``: the batch dim is null, or for graphs "nodes" or "graphs"."""
    return [None if t.rows == "N" else t.rows, *(dims.to_json(d) for d in t.shape)]


def _layer_json(layer: PlannedLayer) -> dict[str, Any]:
    found = {
        "name": layer.name,
        "type": layer.type,
        "inputs": list(layer.inputs),
        "input_shapes": [_shape_json(t) for t in layer.in_tensors],
        "output_shape": _shape_json(layer.out),
        "params": layer.params,
        "trainable": layer.trainable,
        "macs": dims.to_json(layer.macs),
    }
    if layer.tie is not None:  # its weight is counted at (and is) that layer's
        found["tied_to"] = layer.tie
    return found


def summary_text(p: Plan, batch_size: int) -> str:
    """The human summary: one row per layer, then the totals."""
    graph = _is_graph(p)
    headers = [
        "#",
        "name",
        "type",
        *(["from"] if graph else []),
        "input",
        "output",
        "params",
        "MACs",
    ]
    rows = []
    for i, layer in enumerate(p.layers, 1):
        # Names are escaped before the columns are measured, so the table stays aligned.
        row = [str(i), printable(layer.name), printable(layer.type)]
        if graph:
            row.append(printable(", ".join(layer.inputs)))
        row += [
            _inputs_text(layer.in_tensors),
            layer.out.text(),
            f"{layer.params:,}"
            + ("" if layer.trainable or not layer.params else " (frozen)")
            + (f" (tied to {printable(layer.tie)})" if layer.tie else ""),
            format_count(layer.macs),
        ]
        rows.append(row)
    widths = [
        max(len(h), *(len(r[c]) for r in rows)) if rows else len(h) for c, h in enumerate(headers)
    ]
    rule = "─" * (sum(widths) + 2 * (len(widths) - 1))
    lines = [
        f"{printable(p.name)}: {len(p.layers)} layer{'' if len(p.layers) == 1 else 's'}, "
        + _ends(p),
        _row(headers, widths, headers),
        rule,
        *(_row(r, widths, headers) for r in rows),
        rule,
    ]
    act = p.activation_bytes(batch_size)
    totals = [
        ("Total params", f"{p.total_params:,}"),
        ("Trainable params", f"{p.trainable_params:,}"),
        ("Non-trainable params", f"{p.non_trainable_params:,}"),
        ("Parameter size", f"{format_bytes(p.param_bytes)} (float32)"),
        (
            "MACs per node" if p.graph else "MACs per sample",
            format_count(p.macs, human=True)
            + (" (the dense part: per-edge work is not counted)" if p.graph else ""),
        ),
        (
            "Activation memory",
            f"{format_bytes(act)} at batch size {batch_size} (all layer outputs)",
        ),
    ]
    label = max(len(k) for k, _ in totals) + 2
    lines += [f"{k + ':':<{label}}{v}" for k, v in totals]
    return "\n".join(lines) + "\n"


def _ends(p: Plan) -> str:
    """``input (N, 64) -> output (N, 10)``, or with several, each by name."""

    def shape(t: Tensor) -> str:
        return t.text() + (" int64" if t.dtype == "int64" else "")

    if p.named_inputs:
        ins = "inputs " + ", ".join(f"{printable(n)} {shape(t)}" for n, t in p.inputs.items())
    else:
        ins = f"input {shape(p.input)}"
    outs = p.output_tensors
    if len(outs) == 1:
        return f"{ins} -> output {outs[0].text()}"
    names = p.output_names
    pairs = ", ".join(f"{printable(n)} {t.text()}" for n, t in zip(names, outs, strict=True))
    return f"{ins} -> outputs {pairs}"


def _row(cells: list[str], widths: list[int], headers: list[str]) -> str:
    cols = zip(cells, widths, headers, strict=True)
    out = [c.rjust(w) if h in _RIGHT else c.ljust(w) for c, w, h in cols]
    return "  ".join(out).rstrip()


def _is_graph(p: Plan) -> bool:
    if p.named_inputs:
        return True
    previous = "input"
    for layer in p.layers:
        if layer.inputs != (previous,):
            return True
        previous = layer.name
    return False


def _inputs_text(tensors: tuple[Tensor, ...]) -> str:
    if len(tensors) > 1 and all(t.text() == tensors[0].text() for t in tensors):
        return f"{tensors[0].text()} x{len(tensors)}"
    return ", ".join(t.text() for t in tensors)


def networks_summary_json(name: str, plans: Mapping[str, Plan], batch_size: int) -> dict[str, Any]:
    """`{"networks": {name: <one network's summary>}, ...}` with the totals of all of them."""
    return {
        "name": name,
        "networks": {n: summary_json(p, batch_size) for n, p in plans.items()},
        "total_params": sum(p.total_params for p in plans.values()),
        "trainable_params": sum(p.trainable_params for p in plans.values()),
        "non_trainable_params": sum(p.non_trainable_params for p in plans.values()),
        "param_bytes": sum(p.param_bytes for p in plans.values()),
        "macs": dims.to_json(dims.total(p.macs for p in plans.values())),
    }


def networks_summary_text(name: str, plans: Mapping[str, Plan], batch_size: int) -> str:
    """One table per network, then the totals of all of them."""
    parts = [summary_text(p, batch_size) for p in plans.values()]
    total = sum(p.total_params for p in plans.values())
    trainable = sum(p.trainable_params for p in plans.values())
    each = " + ".join(f"{printable(n)} {p.total_params:,}" for n, p in plans.items())
    macs = dims.total(p.macs for p in plans.values())
    totals = [
        f"{printable(name)}: {len(plans)} networks",
        f"Total params:         {total:,} ({each})",
        f"Trainable params:     {trainable:,}",
        f"Parameter size:       {format_bytes(4 * total)} (float32)",
        f"MACs per sample:      {format_count(macs, human=True)} (all networks, one pass each)",
    ]
    return "\n".join(parts) + "\n" + "\n".join(totals) + "\n"
