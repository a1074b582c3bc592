"""Plan -> a real torch module: an fx GraphModule whose forward is straight-line code.

Submodules are named after layers (``block_0.conv2d_0``), so ``state_dict()`` keys read like
``conv2d_0.weight``. The spec is interpreted once, here; forward runs generated Python with
no per-call dispatch, as fast as a hand-written module. Before weights are allocated the
module is built on the meta device and checked against the plan; a disagreement is a netspec
bug, never the user's.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar, overload

from netspec.backend import functions as backend_functions
from netspec.backend.lower import GRAPH_ARGUMENTS, GRAPH_BATCH, lower
from netspec.errors import SpecError, netspec_bug
from netspec.layers.ir import Call, FnCall, Ref
from netspec.plan import (
    Plan,
    Totals,
    check_budget,
    concrete,
    max_params_default,
    plan,
    plan_networks,
)
from netspec.spec.load import Spec, SpecSource
from netspec.spec.names import INPUT_NAME
from netspec.spec.networks import Networks, load_any

if TYPE_CHECKING:
    import torch
    from torch import fx, nn

_UNSET = object()
M = TypeVar("M")
# Values tried for symbolic dims in the check; the first that plans is used.
_TRIAL_SIZES = (16, 8, 32, 4, 64, 2, 1, 128, 256, 512, 1024, 2048, 4096)


@overload
def build_model(
    source: Spec, seed: int | None = None, max_params: int | object | None = _UNSET
) -> fx.GraphModule: ...
@overload
def build_model(
    source: Networks, seed: int | None = None, max_params: int | object | None = _UNSET
) -> nn.ModuleDict: ...
@overload
def build_model(
    source: SpecSource, seed: int | None = None, max_params: int | object | None = _UNSET
) -> Any: ...
def build_model(
    source: Spec | Networks | SpecSource,
    seed: int | None = None,
    max_params: int | object | None = _UNSET,
) -> Any:
    """Build the PyTorch module of a spec (path, YAML text, dict or Spec): an fx
    GraphModule, or for a spec of several networks (`networks:`) an ``nn.ModuleDict`` of one
    GraphModule per network.

    ``seed`` makes the initial weights reproducible without touching the global RNG.
    ``max_params`` (default 1e9, or NETSPEC_MAX_PARAMS) refuses larger models before
    anything is allocated; ``None`` disables the check.
    """

    loaded = load_any(source)
    if isinstance(loaded, Networks):
        return _build_networks(loaded, seed, max_params)
    spec = loaded
    p = plan(spec)
    budget = max_params_default() if max_params is _UNSET else max_params
    check_budget(p, budget if isinstance(budget, int) else None, spec.source.file)
    verify(spec, p)
    model = _seeded(seed, lambda: assemble(p))
    if p.graph and not p.symbols():
        _check_graph_forward(model, p)
    return model


def _build_networks(
    nets: Networks, seed: int | None, max_params: int | object | None
) -> nn.ModuleDict:
    """An ``nn.ModuleDict`` of the networks' modules, in declared order. The parameter budget
    holds for all of them together; one seed draws all their weights, one after the other."""
    from torch import nn

    plans = plan_networks(nets)
    budget = max_params_default() if max_params is _UNSET else max_params
    total = Totals(nets.name, sum(p.total_params for p in plans.values()))
    check_budget(total, budget if isinstance(budget, int) else None, nets.source.file)
    for name, spec in nets.networks.items():
        verify(spec, plans[name])
    return _seeded(seed, lambda: nn.ModuleDict({n: assemble(p) for n, p in plans.items()}))


def _seeded(seed: int | None, make: Callable[[], M]) -> M:
    """``make()``, its random draws seeded when ``seed`` is given (the global RNG untouched)."""
    if seed is None:
        return make()
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return make()


def assemble(p: Plan) -> fx.GraphModule:
    """The GraphModule of a plan, on the current default device."""
    from torch import fx

    graph = fx.Graph()
    values: dict[str, fx.Node] = {
        name: (
            graph.placeholder(argument, default_value=None)  # batch=None: one graph
            if name == GRAPH_BATCH
            else graph.placeholder(argument)
        )
        for name, argument in argument_names(p).items()
    }
    modules: dict[str, nn.Module] = {}
    for node in lower(p):
        args = [None if ref is None else values[ref] for ref in node.inputs]
        if isinstance(node.op, Call):
            module = instantiate(node.op)
            if node.spectral_norm:
                module = _spectral_norm(module)
            if not node.trainable:
                module.requires_grad_(False)
            if node.tie is not None:  # one Parameter, two modules: counted and saved once
                module.weight = modules[node.tie].weight
            modules[node.name] = module
            value = graph.call_module(node.name, tuple(args))
        else:
            value = emit_call(graph, node.op, args)
        if node.activation is not None:
            value = emit_call(graph, node.activation, [value])
        values[node.name] = value
    outputs = [values[name] for name in p.output_names]
    graph.output(outputs[0] if len(outputs) == 1 else tuple(outputs))
    graph.lint()
    return fx.GraphModule(_hierarchy(modules), graph, class_name=class_name(p.name))


def _spectral_norm(module: nn.Module) -> nn.Module:
    """The module with its weight spectrally normalized: the weight becomes
    ``parametrizations.weight.original`` (the parameter) and the power iteration's vectors
    ``_u``/``_v`` are buffers, so the parameter count stays the plan's."""
    from torch.nn.utils import parametrizations

    return parametrizations.spectral_norm(module)


def argument_names(p: Plan) -> dict[str, str]:
    """Each model input's argument name in forward: `x` for a spec's one `input:`, else the
    names of `inputs:`, in declared order; a graph input's `edge_index` and `batch` (default
    None) follow `x`."""
    if not p.named_inputs:
        return {INPUT_NAME: "x", **(GRAPH_ARGUMENTS if p.graph else {})}
    return {name: name for name in p.inputs}


def instantiate(value: Any) -> Any:
    """Construct the module a :class:`Call` describes (targets resolve by name, never eval)."""
    if isinstance(value, Call):
        cls = module_class(value.target)
        args = [instantiate(a) for a in value.args]
        return cls(*args, **{k: instantiate(v) for k, v in value.kwargs.items()})
    if isinstance(value, list):
        return [instantiate(v) for v in value]
    return value


def module_class(target: str) -> Any:
    """The nn.Module class a Call's target names: ``nn.<Name>``, a class of
    :mod:`netspec.backend.modules`, or ``package.module:Class`` of a loaded layer plugin.

    The last is the only import by name netspec does, and only inside the package of a plugin
    the registry loaded: targets come from registered layer code, never from a spec.
    """
    from torch import nn

    from netspec.backend import modules

    if target.startswith("torch_geometric."):
        return _pyg_class(target)
    if ":" in target:
        return _plugin_class(target)
    owner, name = (nn, target[3:]) if target.startswith("nn.") else (modules, target)
    cls = getattr(owner, name, None)
    if not isinstance(cls, type) or not issubclass(cls, nn.Module):
        raise netspec_bug(f"unknown module class {target!r}")
    return cls


def _pyg_class(target: str) -> Any:
    """A PyTorch Geometric layer (``torch_geometric.nn:GCNConv``): the optional extra
    ``netspec[graph]``; without it, building a graph layer is the spec's error, naming it."""
    import importlib

    module_name, _, name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        raise SpecError.single(
            "missing-extra",
            f"graph layers need PyTorch Geometric ({module_name}.{name}), which is not "
            "installed: pip install 'netspec[graph]'",
        ) from None
    return getattr(module, name)


def _plugin_class(target: str) -> Any:
    import importlib

    from torch import nn

    from netspec.layers import plugins

    plugin = plugins.owner(target)
    if plugin is None:
        raise netspec_bug(f"module target {target!r} belongs to no loaded layer plugin")
    module_name, _, name = target.partition(":")
    # A plugin's mistake, not netspec's nor the spec's: the message names the distribution.
    where = f"layer plugin {plugin.entry_point!r} of {plugin.distribution}"
    try:
        cls = getattr(importlib.import_module(module_name), name, None)
    except ImportError as exc:
        raise RuntimeError(f"{where}: cannot import {module_name!r} for {target!r}: {exc}") from exc
    if not isinstance(cls, type) or not issubclass(cls, nn.Module):
        raise RuntimeError(f"{where}: module target {target!r} is not an nn.Module subclass")
    return cls


def emit_call(graph: fx.Graph, call: FnCall, inputs: Sequence[fx.Node | None]) -> fx.Node:
    """Add the nodes of a FnCall to the graph; Refs are the layer's input nodes."""

    def arg(value: Any) -> Any:
        if isinstance(value, Ref):
            return inputs[value.index]
        if isinstance(value, FnCall):
            return emit_call(graph, value, inputs)
        if isinstance(value, (list, tuple)):
            return [arg(v) for v in value]
        return value

    fn = backend_functions.table()[call.fn]
    args = tuple(arg(a) for a in call.args)
    return graph.call_function(fn, args, {k: arg(v) for k, v in call.kwargs.items()})


def _hierarchy(modules: dict[str, nn.Module]) -> nn.Module:
    """A root module holding the layers under their dotted names, in layer order.

    (GraphModule given a plain dict orders state_dict keys by its own traversal; a root
    built here keeps them in the order the spec lists the layers.)
    """
    from torch import nn

    root = nn.Module()
    for qualified, module in modules.items():
        parent = root
        *outer, leaf = qualified.split(".")
        for part in outer:
            if not hasattr(parent, part):
                parent.add_module(part, nn.Module())
            parent = parent.get_submodule(part)
        parent.add_module(leaf, module)
    return root


def verify(spec: Spec, p: Plan) -> None:
    """Build on the meta device and compare shapes and parameter counts with the plan."""
    import torch

    checked = _concrete_plan(spec, p)
    if checked is None:
        return
    with torch.device("meta"):
        gm = assemble(checked)
    if checked.graph:
        # PyG's message passing branches on values (self loops, scatter sizes), which the
        # meta device cannot: here the parameter counts, and build_model runs the built
        # model once on a real two-node graph (_check_graph_forward).
        _verify_params(gm, checked)
        return
    with torch.device("meta"):
        xs = example_inputs(checked, batch=2, device="meta")
        gm.train()
        try:
            y = gm(*xs)
        except RuntimeError as exc:
            if "overflow" not in str(exc):
                raise
            raise SpecError.single(
                "budget", f"torch cannot hold this model's tensors: {exc}"
            ) from None
    ys = y if isinstance(y, tuple) else (y,)
    got = [tuple(t.shape) for t in ys]
    want = [(2, *t.shape) for t in checked.output_tensors]
    if got != want:
        raise netspec_bug(f"plan says outputs {want} but torch gives {got}")
    _verify_params(gm, checked)


def _check_graph_forward(model: fx.GraphModule, p: Plan) -> None:
    """A graph model's forward, which the meta device cannot run, on two nodes joined both
    ways (two graphs of one node for graph_pool), in eval mode and without gradients: its
    output shapes must be the plan's."""
    import torch

    device = next((t.device for t in model.parameters()), None)
    features = [d for d in p.input.shape if isinstance(d, int)]  # no symbols: all ints
    x = torch.zeros((2, *features), device=device)
    edge_index = torch.tensor([[0, 1], [1, 0]], device=device)
    batch = torch.tensor([0, 1], device=device)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            y = model(x, edge_index, batch)
    finally:
        model.train(was_training)
    got = [tuple(t.shape) for t in (y if isinstance(y, tuple) else (y,))]
    want = [(2, *t.shape) for t in p.output_tensors]
    if got != want:
        raise netspec_bug(f"plan says outputs {want} but torch gives {got}")


def _verify_params(gm: fx.GraphModule, checked: Plan) -> None:
    seen: set[int] = set()  # a tied weight is counted at the first module that holds it
    for node in lower(checked):
        if node.module is None:
            continue
        module = gm.get_submodule(node.name)
        own = [t for t in module.parameters() if id(t) not in seen]
        seen.update(id(t) for t in own)
        real = sum(t.numel() for t in own)
        if real != node.params:
            raise netspec_bug(
                f"layer {node.name} ({node.type}): plan says {node.params} params, torch has {real}"
            )


def _concrete_plan(spec: Spec, p: Plan) -> Plan | None:
    symbols = sorted(p.symbols())
    if not symbols:
        return p
    for size in _TRIAL_SIZES:
        try:
            return plan(concrete(spec, dict.fromkeys(symbols, size)))
        except SpecError:
            continue
    return None  # only very large sizes fit: the check is skipped, not failed


def example_input(p: Plan, batch: int = 2, device: str | torch.device = "cpu") -> torch.Tensor:
    """An example batch of the plan's first input (see :func:`example_inputs`)."""
    return example_inputs(p, batch, device)[0]


def example_inputs(
    p: Plan, batch: int = 2, device: str | torch.device = "cpu"
) -> tuple[torch.Tensor, ...]:
    """A batch per model input, in order: zeros, or for token ids the first id that is not
    padding (a batch of nothing but padding has nothing to attend to). Symbols must already
    be concrete."""
    import torch

    out = []
    for name, tensor in p.inputs.items():
        if not all(isinstance(d, int) for d in tensor.shape):
            raise ValueError("example_inputs needs a plan without symbolic dimensions")
        shape = [batch, *(d for d in tensor.shape if isinstance(d, int))]
        if tensor.dtype == "int64":
            fill = 1 if p.pad_ids.get(name) == 0 else 0
            out.append(torch.full(shape, fill, dtype=torch.int64, device=device))
        else:
            out.append(torch.zeros(shape, dtype=torch.float32, device=device))
    return tuple(out)


def class_name(name: str) -> str:
    """``digits_cnn`` -> ``DigitsCnn``: the generated module's class name."""
    words = re.split(r"[^0-9A-Za-z]+", name)
    out = "".join(w[:1].upper() + w[1:] for w in words if w)
    return out if out and not out[0].isdigit() else "Net" + out
