"""Spec -> Plan: every layer's inputs, shapes, parameter count and MACs, in pure Python.

No torch here: a plan of a 175B-parameter network costs microseconds per layer and allocates
nothing. The first shape error stops planning; it names the layer and both shapes.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from netspec import dims
from netspec.dims import Dim, Shape, format_shape
from netspec.errors import Diagnostic, Location, ShapeError, SpecError, YPath, netspec_bug
from netspec.layers import registry, ties
from netspec.layers.graph import NODES
from netspec.layers.registry import LayerConfig, Tensor
from netspec.spec import language_model
from netspec.spec.exprs import Deferred, ExpressionError, resolve_all
from netspec.spec.gcpause import gc_paused
from netspec.spec.language import vocabulary_check
from netspec.spec.load import LayerSpec, Spec, SpecSource, load_spec, validate_config
from netspec.spec.networks import Networks, prefixed
from netspec.spec.sections import NETWORK_TASKS
from netspec.units import format_bytes, format_count

BYTES = {"float32": 4, "int64": 8, "bool": 1}
MAX_DIM = 2**48
"""The largest size of one dimension (281,474,976,710,656): far above any real tensor."""
MAX_COUNT = 10**18
"""The largest parameter count, MAC count or number of elements of one tensor, per layer and
in total; GPT-3 175B has 1.75e11 parameters. Anything larger is a typo, never a model, and
past it the numbers stop fitting the summary, JSON readers and float arithmetic."""
DEFAULT_MAX_PARAMS = 1_000_000_000
"""Default budget of `build_model` and the CLI's build/train: 1e9 params = 4 GB in float32."""


@dataclass(frozen=True)
class PlannedLayer:
    name: str
    type: str
    inputs: tuple[str, ...]
    in_tensors: tuple[Tensor, ...]
    out: Tensor
    params: int
    macs: Dim
    trainable: bool
    config: LayerConfig
    tie: str | None = None  # the layer whose weight this one shares (counted there)

    @property
    def in_shapes(self) -> tuple[Shape, ...]:
        return tuple(t.shape for t in self.in_tensors)


@dataclass(frozen=True)
class Plan:
    """The planned network. ``inputs`` in declared order (one spec `input:` is named
    ``input``); ``outputs`` names what the forward returns (a tuple when several)."""

    name: str
    inputs: Mapping[str, Tensor]
    layers: tuple[PlannedLayer, ...]
    outputs: tuple[str, ...] = ()
    named_inputs: bool = False  # written as `inputs:`: the forward's arguments take the names
    pad_ids: Mapping[str, int] = field(default_factory=dict)  # token inputs' padding ids

    @property
    def input(self) -> Tensor:
        """The first input (the only one of most specs)."""
        return next(iter(self.inputs.values()))

    @property
    def output_names(self) -> tuple[str, ...]:
        """What the forward returns: `outputs:`, else the last layer (else the first input)."""
        if self.outputs:
            return self.outputs
        return (self.layers[-1].name,) if self.layers else tuple(self.inputs)[:1]

    @property
    def output_tensors(self) -> tuple[Tensor, ...]:
        found = {layer.name: layer.out for layer in self.layers}
        found.update(self.inputs)
        return tuple(found[name] for name in self.output_names)

    @property
    def output(self) -> Tensor:
        """The first output (the only one of most specs)."""
        return self.output_tensors[0]

    @property
    def total_params(self) -> int:
        return sum(layer.params for layer in self.layers)

    @property
    def trainable_params(self) -> int:
        return sum(layer.params for layer in self.layers if layer.trainable)

    @property
    def non_trainable_params(self) -> int:
        return self.total_params - self.trainable_params

    @property
    def macs(self) -> Dim:
        return dims.total(layer.macs for layer in self.layers)

    @property
    def param_bytes(self) -> int:
        return 4 * self.total_params  # float32 weights

    def activation_bytes(self, batch_size: int) -> Dim:
        """Bytes of every layer output (and the inputs) held for backward, at this batch size."""
        tensors = [*self.inputs.values(), *(layer.out for layer in self.layers)]
        per_sample = dims.total(dims.mul(dims.prod(t.shape), BYTES[t.dtype]) for t in tensors)
        return dims.mul(per_sample, batch_size)

    @property
    def graph(self) -> bool:
        """A graph input: the forward also takes `edge_index` and `batch`."""
        return any(t.rows == NODES for t in self.inputs.values())

    def symbols(self) -> set[str]:
        return {
            a
            for t in self.inputs.values()
            for d in t.shape
            if isinstance(d, dims.Sym)
            for a in d.atoms()
        }


def plan(spec: Spec | SpecSource) -> Plan:
    """Infer every layer's output shape, parameters and MACs (pure Python, no torch). A
    language model's embedding, head and data must also agree on the vocabulary."""
    with gc_paused():
        loaded = load_spec(spec)
        p = _plan(loaded)
    configs = {layer.name: layer.config for layer in p.layers}
    head = p.output_names[0] if p.layers else None
    found = vocabulary_check(loaded, configs, p.output.shape, head)
    if found:
        raise SpecError(found)
    return p


def plan_networks(nets: Networks) -> dict[str, Plan]:
    """Each network's plan; a shape error names its network in its path. Then the shapes
    the networks pass each other must agree (:func:`disagreements`)."""
    plans = {}
    for name, spec in nets.networks.items():
        try:
            plans[name] = plan(spec)
        except SpecError as exc:
            found = [prefixed(d, ("networks", name)) for d in exc.diagnostics]
            raise SpecError(found) from None
    found = disagreements(nets, plans)
    if found:
        raise SpecError(found)
    return plans


def network_warnings(nets: Networks, plans: Mapping[str, Plan]) -> list[Diagnostic]:
    return [
        prefixed(d, ("networks", name))
        for name, spec in nets.networks.items()
        for d in warnings(spec, plans[name])
    ]


def disagreements(nets: Networks, plans: Mapping[str, Plan]) -> list[Diagnostic]:
    """What one network hands another must fit it, by the task that trains them.

    task gan: the generator turns one noise vector into one sample of the shape the
    discriminator takes, and the discriminator scores it with one logit (no sigmoid: the
    losses take logits). task autoencoder: the decoder takes the encoder's (first) output
    and gives back the encoder's input shape. Symbols agree when they are the same symbol.
    Without a train section the networks' roles are unknown, and nothing is compared.
    """
    task = nets.train.task if nets.train is not None else None
    roles = NETWORK_TASKS.get(task) if task is not None else None
    if roles is None or not all(role in plans for role in roles):
        return []
    first, second = roles
    found = _one_input(nets, first, plans[first]) + _one_input(nets, second, plans[second])
    outputs = (first, second) if task == "gan" else (second,)
    found += [d for name in outputs for d in _one_output(nets, name, plans[name])]
    if found:  # the shapes below are of the one input and output these name
        return found
    if task == "gan":
        return _gan(nets, plans[first], plans[second])
    return _autoencoder(nets, plans[first], plans[second])


def _gan(nets: Networks, generator: Plan, discriminator: Plan) -> list[Diagnostic]:
    found = []
    made, taken = generator.output, discriminator.input
    if (made.shape, made.dtype) != (taken.shape, taken.dtype):
        found.append(
            _handoff(nets, "discriminator", "scores the generator's samples", "generator", made)
        )
    score = discriminator.output_names[0]
    if discriminator.output.shape != (1,):
        found.append(
            _at_output(
                nets,
                "discriminator",
                Diagnostic(
                    "shape",
                    f"the discriminator scores each sample with one logit, but its output "
                    f"{score!r} is {format_shape(discriminator.output.shape)}",
                    received=format_shape(discriminator.output.shape),
                    expected=format_shape((1,)),
                    hints=("end the discriminator with `dense: 1` (no activation)",),
                ),
            )
        )
    elif _ends_in_sigmoid(discriminator):
        found.append(
            _at_output(
                nets,
                "discriminator",
                Diagnostic(
                    "invalid-value",
                    f"the discriminator's output {score!r} goes through a sigmoid, but the GAN "
                    "losses take logits (they apply the sigmoid themselves, stably): the "
                    "scores would be squashed twice and the gradients vanish",
                    hints=("remove the sigmoid: end with `dense: 1`",),
                ),
                field="activation",
            )
        )
    return found


def _autoencoder(nets: Networks, encoder: Plan, decoder: Plan) -> list[Diagnostic]:
    found = []
    code = encoder.output_tensors[0]
    if (code.shape, code.dtype) != (decoder.input.shape, decoder.input.dtype):
        found.append(_handoff(nets, "decoder", "decodes the encoder's code", "encoder", code))
    rebuilt, original = decoder.output, encoder.input
    if rebuilt.shape != original.shape:
        found.append(
            _at_output(
                nets,
                "decoder",
                Diagnostic(
                    "shape",
                    f"the decoder reconstructs the encoder's input {format_shape(original.shape)}"
                    f", but its output {decoder.output_names[0]!r} is "
                    f"{format_shape(rebuilt.shape)}",
                    received=format_shape(rebuilt.shape),
                    expected=format_shape(original.shape),
                    hints=("end the decoder with a layer of the encoder's input shape",),
                ),
            )
        )
    return found


def _handoff(nets: Networks, taker: str, role: str, maker: str, made: Tensor) -> Diagnostic:
    """The taker's input does not fit what the maker hands it."""
    taken = nets.networks[taker]
    (name, spec_input), *_ = taken.inputs.items()
    words = [format_shape(spec_input.shape), format_shape(made.shape)]
    if spec_input.dtype != made.dtype:
        words = [f"{words[0]} {spec_input.dtype}", f"{words[1]} {made.dtype}"]
    diag = Diagnostic(
        "shape",
        f"the {taker} {role}, which are {words[1]}, but its input is {words[0]}",
        path=("networks", taker, *(("inputs", name) if taken.named_inputs else ("input",))),
        received=f"{taker} input {words[0]}",
        expected=f"{maker} output {words[1]}",
        hints=(f"make the {taker}'s input the {maker}'s output shape, or change the {maker}",),
    )
    return nets.source.attach(diag)


def _one_input(nets: Networks, name: str, p: Plan) -> list[Diagnostic]:
    if len(p.inputs) == 1:
        return []
    diag = Diagnostic(
        "invalid-value",
        f"the {name} of task {nets.train.task if nets.train else ''} takes one input, "
        f"not {len(p.inputs)} ({', '.join(p.inputs)})",
        path=("networks", name, "inputs"),
    )
    return [nets.source.attach(diag, key=True)]


def _one_output(nets: Networks, name: str, p: Plan) -> list[Diagnostic]:
    if len(p.output_names) == 1:
        return []
    diag = Diagnostic(
        "invalid-value",
        f"the {name} of task {nets.train.task if nets.train else ''} gives one output, "
        f"not {len(p.output_names)} ({', '.join(p.output_names)})",
        path=("networks", name, "outputs"),
    )
    return [nets.source.attach(diag, key=True)]


def _at_output(nets: Networks, name: str, diag: Diagnostic, field: str | None = None) -> Diagnostic:
    """The diagnostic at the layer that makes the network's output (at its ``field`` when
    written there), else at the network's `outputs`."""
    spec = nets.networks[name]
    output = spec.outputs[0] if spec.outputs else (spec.layers[-1].name if spec.layers else None)
    layer = next((layer for layer in spec.layers if layer.name == output), None)
    path: YPath = ("networks", name, "outputs")
    if layer is not None:
        path = ("networks", name, *layer.path)
        written = ("networks", name, *layer.args_path, field) if field else None
        if written is not None and written in nets.source.values:
            path = written
    return nets.source.attach(replace(diag, path=path))


def _ends_in_sigmoid(p: Plan) -> bool:
    """The output is a sigmoid layer's, or a layer's with `activation: sigmoid`."""
    last = next((layer for layer in p.layers if layer.name == p.output_names[0]), None)
    if last is None:  # the output is the input itself
        return False
    return last.type == "sigmoid" or getattr(last.config, "activation", None) == "sigmoid"


def _plan(spec: Spec) -> Plan:
    tensors: dict[str, Tensor] = {
        name: Tensor(
            s.shape, s.dtype, name if s.pad_id is not None else None, NODES if s.graph else "N"
        )
        for name, s in spec.inputs.items()
    }
    inputs = dict(tensors)
    _check_inputs(spec)
    planned: dict[str, PlannedLayer] = {}
    params: int = 0
    macs: Dim = 0
    for layer in spec.layers:
        refs = layer.inputs  # the loader resolved every reference, the default included
        ins = tuple(tensors[ref] for ref in refs)
        layer_type = registry.get(layer.type)
        config = layer.config
        if config is None:  # its arguments read input.shape: known now, they precede it
            config = _settle(spec, layer, tensors)
        try:
            rows = _rows(ins)
            inferred = layer_type.infer(config, ins)
            tie = getattr(config, "tie", None)
            if tie is not None:
                owner = planned.get(tie)  # None: `tie` names a model input
                inferred = ties.shared(layer_type, config, ins, inferred, tie, owner)
        except ShapeError as exc:
            raise SpecError([_shape_diagnostic(spec, layer, ins, exc)]) from None
        except OverflowError:  # a number too large for a float in a shape rule's arithmetic
            what = f"a number in layer {layer.name!r} ({layer.type})"
            raise _too_large(spec, layer.path, what) from None
        out = _with_padding(layer_type, ins, inferred.out)
        if out.rows == "N" and rows != "N":  # per node (or per graph) as its input
            out = replace(out, rows=rows)
        params += inferred.params
        macs = dims.add(macs, inferred.macs)
        _check_layer(spec, layer, out.shape, params, macs)
        tensors[layer.name] = out
        planned[layer.name] = PlannedLayer(
            layer.name,
            layer.type,
            refs,
            ins,
            out,
            inferred.params,
            inferred.macs,
            layer.trainable,
            config,
            tie,
        )
    pad_ids = {n: s.pad_id for n, s in spec.inputs.items() if s.pad_id is not None}
    _check_pad_ids(spec, pad_ids, planned.values())
    done = Plan(
        spec.name,
        inputs,
        tuple(planned.values()),
        spec.outputs,
        spec.named_inputs,
        pad_ids,
    )
    if spec.train is not None and spec.train.task == language_model.TASK:
        _check_language_model(spec, done)
    return done


def _check_language_model(spec: Spec, p: Plan) -> None:
    """Causal layers only, and logits per position (netspec/spec/language_model.py)."""
    configs = {layer.name: layer.config for layer in p.layers}
    found = language_model.layer_problems(
        ((layer, configs[layer.name]) for layer in spec.layers), spec.source
    )
    first = spec.input
    wrong = language_model.output_problem(first.shape, p.output.shape, first.dtype, spec.source)
    if wrong is not None:
        found.append(wrong)
    if found:
        raise SpecError(found)


def _rows(ins: tuple[Tensor, ...]) -> str:
    """The leading dim of a layer's inputs (N, nodes or graphs): one for all of them."""
    found = {t.rows for t in ins}
    if len(found) > 1:
        raise ShapeError(
            "its inputs mix per-node and per-graph tensors (before and after graph_pool), "
            "whose rows do not correspond",
            received=", ".join(t.text() for t in ins),
            hint="combine tensors of the same rows: all before graph_pool, or all after it",
        )
    return found.pop() if found else "N"


def _with_padding(
    layer_type: registry.LayerType[Any], ins: tuple[Tensor, ...], out: Tensor
) -> Tensor:
    """The output carries its input's padding when the layer keeps the sequence positions:
    the first input's (attention's queries), or for a merge any input's."""
    if not layer_type.keeps_padding:
        return replace(out, padding=None) if out.padding is not None else out
    padding = ins[0].padding if ins else None
    if padding is None and layer_type.function is not None:
        padding = next((t.padding for t in ins if t.padding is not None), None)
    return out if out.padding == padding else replace(out, padding=padding)


def _settle(spec: Spec, layer: LayerSpec, tensors: Mapping[str, Tensor]) -> LayerConfig:
    """A deferred layer's config: its ``input.shape`` reads evaluated against the shapes
    planned so far, then validated like any layer's arguments (errors at the YAML line)."""
    if layer.deferred is None:
        raise netspec_bug(f"layer {layer.name!r} has neither a config nor deferred arguments")

    def shape_of(ref: str) -> Shape:
        return tensors[ref].shape

    try:
        args = resolve_all(layer.deferred, shape_of)
    except ExpressionError as exc:
        diag = Diagnostic(
            exc.code,
            f"layer {layer.name!r} ({layer.type}): {exc}",
            path=exc.where or layer.args_path,
            received=exc.received,
            hints=(exc.hint,) if exc.hint else (),
            notes=layer.notes,
        )
        raise SpecError([spec.source.attach(diag)]) from None
    checked = validate_config(
        layer.type, args, layer.args_path, layer.primary_path, layer.notes, spec.source
    )
    if isinstance(checked, list):
        raise SpecError([_with_reads(d, spec, layer, args, tensors) for d in checked])
    return checked


def _with_reads(
    diag: Diagnostic,
    spec: Spec,
    layer: LayerSpec,
    args: Mapping[str, object],
    tensors: Mapping[str, Tensor],
) -> Diagnostic:
    """A note on an argument computed from input.shape: what it was written as, what it gave
    and the shape it read (a `filters: 0` the user never wrote needs explaining)."""
    raw = layer.deferred or {}
    for key, value in raw.items():
        at = (*layer.args_path, key)
        if isinstance(value, Deferred) and diag.path in (at, layer.primary_path):
            shape = format_shape(tensors[value.input_ref].shape)
            note = (
                f"{key}: {value.text} gave {args[key]!r}, reading "
                f"{_tensor_words(value.input_ref, spec)} {shape}"
            )
            return replace(diag, notes=(note, *diag.notes))
    return diag


def _tensor_words(ref: str, spec: Spec) -> str:
    if ref not in spec.inputs:
        return f"the output of {ref!r}"
    return f"input {ref!r}" if spec.named_inputs else "the network input"


def _check_pad_ids(spec: Spec, pad_ids: Mapping[str, int], layers: Iterable[PlannedLayer]) -> None:
    """A padding id must be a token the embeddings reading that input can look up."""
    for layer in layers:
        vocabulary = getattr(layer.config, "num_embeddings", None)
        for ref in layer.inputs:
            pad = pad_ids.get(ref)
            if pad is not None and isinstance(vocabulary, int) and pad >= vocabulary:
                base: YPath = ("inputs", ref) if spec.named_inputs else ("input",)
                path = (*base, "pad_id")
                diag = Diagnostic(
                    "invalid-value",
                    f"pad_id {pad} is no token of embedding {layer.name!r}, which has "
                    f"num_embeddings {vocabulary} (ids 0 to {vocabulary - 1})",
                    path=path if path in spec.source.values else base,
                    hints=("padding is usually id 0",),
                )
                raise SpecError([spec.source.attach(diag)])


def _over(value: Dim, limit: int) -> bool:
    """Whether a size or count (or any coefficient of a symbolic one) passes ``limit``."""
    if isinstance(value, int):
        return not -limit <= value <= limit
    return any(not -limit <= coeff <= limit for _, coeff in value.terms)


def _check_inputs(spec: Spec) -> None:
    for name, input_spec in spec.inputs.items():
        base: YPath = ("inputs", name) if spec.named_inputs else ("input",)
        if input_spec.graph and spec.named_inputs:
            diag = Diagnostic(
                "invalid-value",
                "a graph input is the one `input:` of a spec: `graph: true` is not supported "
                "in `inputs:`",
                path=(*base, "graph"),
                hints=("write `input: {shape: [F], graph: true}`",),
            )
            raise SpecError([spec.source.attach(diag, key=True)])
        what = f"input {name!r}" if spec.named_inputs else "the input"
        shape = input_spec.shape
        for i, d in enumerate(shape):
            if _over(d, MAX_DIM):
                path = (*base, "shape", i)
                raise _too_large(
                    spec,
                    path if path in spec.source.values else (*base, i),
                    f"dimension {i + 1} of {what}",
                    shown=format_count(d),
                )
        if _over(dims.prod(shape), MAX_COUNT):
            raise _too_large(spec, base, what, shown=format_shape(shape))


def _check_layer(spec: Spec, layer: LayerSpec, shape: Shape, params: int, macs: Dim) -> None:
    """The output's dimensions and size, and the running totals, stay within the limits."""
    if _within(shape, params, macs):
        return
    what = f"layer {layer.name!r} ({layer.type})"
    if any(_over(d, MAX_DIM) for d in shape) or _over(dims.prod(shape), MAX_COUNT):
        raise _too_large(spec, layer.path, f"the output of {what}", shown=format_shape(shape))
    if _over(params, MAX_COUNT):
        raise _too_large(spec, layer.path, f"the parameter count up to {what}", shown=f"{params:,}")
    if _over(macs, MAX_COUNT):
        raise _too_large(spec, layer.path, f"the MAC count up to {what}", shown=format_count(macs))


def _within(shape: Shape, params: int, macs: Dim) -> bool:
    """The common case, decided cheaply (this runs once per layer): concrete, non-negative
    sizes and counts far inside the limits. Anything else takes the full check."""
    if not (isinstance(macs, int) and 0 <= macs <= MAX_COUNT and 0 <= params <= MAX_COUNT):
        return False
    elements = 1
    for d in shape:
        if not (isinstance(d, int) and 0 <= d <= MAX_DIM):
            return False
        elements *= d
    return elements <= MAX_COUNT


def _too_large(spec: Spec, path: YPath, what: str, shown: str | None = None) -> SpecError:
    diag = Diagnostic(
        "too-large",
        f"{what} is too large for netspec",
        path=path,
        received=shown,
        expected=f"at most 2**48 ({MAX_DIM:,}) per dimension, and 10**18 elements per tensor, "
        "parameters or MACs in all",
        hints=("a size this large is a typo, not a model: check the sizes and ${...} above",),
    )
    return SpecError([spec.source.attach(diag)])


def _shape_diagnostic(
    spec: Spec, layer: LayerSpec, ins: tuple[Tensor, ...], exc: ShapeError
) -> Diagnostic:
    received = exc.received or ", ".join(t.text() for t in ins)
    field_path = (*layer.args_path, exc.field) if exc.field is not None else None
    written = field_path is not None and field_path in spec.source.values
    path = field_path if field_path is not None and written else layer.path
    diag = Diagnostic(
        "shape",
        f"layer {layer.name!r} ({layer.type}): {exc.message}",
        path=path,
        received=received,
        expected=exc.expected,
        hints=(exc.hint,) if exc.hint else (),
        notes=layer.notes,
    )
    return spec.source.attach(diag, key=written)


def warnings(spec: Spec, p: Plan) -> list[Diagnostic]:
    """Valid but suspicious: layers whose output nothing uses (dead branches), and limits
    that only the running model can check (a layer type's ``runtime_check``)."""
    used = {ref for layer in p.layers for ref in layer.inputs}
    used.update(layer.tie for layer in p.layers if layer.tie is not None)
    outputs = set(p.output_names)
    found = []
    for name in p.inputs:
        if name not in used and name not in outputs:
            diag = Diagnostic(
                "unused-input",
                f"input {name!r} feeds no layer and is no output: the model takes it and "
                "ignores it",
                path=("inputs", name),
                hints=("read it in a `from`, or remove it",),
                severity="warning",
            )
            found.append(spec.source.attach(diag, key=True))
    for layer, layer_spec in zip(p.layers, spec.layers, strict=True):
        if layer.name not in used and layer.name not in outputs:
            diag = Diagnostic(
                "unused-layer",
                f"the output of {layer.name!r} feeds no other layer and is not the model "
                "output: it is computed and discarded",
                path=layer_spec.path,
                hints=("use it in a later `from`, or remove it",),
                severity="warning",
            )
            found.append(spec.source.attach(diag))
        runtime_check = registry.get(layer.type).runtime_check
        check = runtime_check(layer.config, layer.in_tensors) if runtime_check else None
        if check is not None:
            diag = Diagnostic(
                "runtime-check",
                f"layer {layer.name!r} ({layer.type}): {check.message}",
                path=layer_spec.path,
                hints=(check.hint,) if check.hint else (),
                severity="warning",
            )
            found.append(spec.source.attach(diag))
    found += _dropped_padding(spec, p)
    found += _tied_to_unit_normal(spec, p)
    return found


def _tied_to_unit_normal(spec: Spec, p: Plan) -> list[Diagnostic]:
    """A head tied to an embedding that starts N(0, 1), torch's default: its first logits
    have a std of about sqrt(embedding_dim) (15 at 256), a loss far above log(vocabulary),
    and the first steps go to undoing it. GPT-2 starts the shared matrix at std 0.02."""
    owners = {layer.name: layer for layer in p.layers}
    found = []
    for layer, layer_spec in zip(p.layers, spec.layers, strict=True):
        owner = owners.get(layer.tie) if layer.tie is not None else None
        if owner is None or owner.type != "embedding":
            continue
        if getattr(owner.config, "init_std", None) is not None:
            continue
        dim = getattr(owner.config, "embedding_dim", 0)
        diag = Diagnostic(
            "tied-init",
            f"layer {layer.name!r} reuses the weight of embedding {owner.name!r}, which "
            f"starts N(0, 1): its first outputs have a std of about sqrt({dim}) = {dim**0.5:.0f}, "
            "and the first training steps go to undoing that",
            path=layer_spec.path,
            hints=(f"give {owner.name!r} `init_std: 0.02` (GPT-2's initialization)",),
            severity="warning",
        )
        found.append(spec.source.attach(diag))
    return found


def _dropped_padding(spec: Spec, p: Plan) -> list[Diagnostic]:
    """A layer that honours padding, fed from a padded input through a layer that dropped
    the mask (a concat, a class token): it attends to the padding, which `pad_id` was meant
    to prevent."""
    if not p.pad_ids:
        return []
    padded = set(p.pad_ids)  # tensors computed from a padded input
    for layer, layer_spec in zip(p.layers, spec.layers, strict=True):
        lost = [
            ref
            for ref, t in zip(layer.inputs, layer.in_tensors, strict=True)
            if ref in padded and t.padding is None
        ]
        if lost and registry.get(layer.type).takes_padding:
            diag = Diagnostic(
                "padding-dropped",
                f"layer {layer.name!r} ({layer.type}) honours padding, but its input "
                f"{lost[0]!r} no longer carries the mask of a `pad_id`: it treats the "
                "padded positions as real ones",
                path=layer_spec.path,
                hints=(
                    "a layer that changes the sequence positions (concat, class_token, "
                    "select, slice, pooling, reshape) drops the mask; keep it before them",
                ),
                severity="warning",
            )
            return [spec.source.attach(diag)]  # the first: the layers after it follow from it
        if any(ref in padded for ref in layer.inputs):
            padded.add(layer.name)
    return []


def settled(spec: Spec) -> Spec:
    """The spec with each deferred layer's config filled in from the plan, for readers of
    ``Spec.layers`` configs (the resolved spec.yaml writes the numbers input.shape gave)."""
    if all(layer.config is not None for layer in spec.layers):
        return spec
    configs = {layer.name: layer.config for layer in plan(spec).layers}
    layers = tuple(
        layer
        if layer.config is not None
        else layer.model_copy(update={"config": configs[layer.name], "deferred": None})
        for layer in spec.layers
    )
    updated = spec.model_copy(update={"layers": layers})
    updated._source = spec.source
    return updated


def concrete(spec: Spec, values: Mapping[str, int]) -> Spec:
    """The same spec with its symbolic input dims replaced by ints (for checks with torch)."""
    inputs = {
        name: s.model_copy(update={"shape": tuple(dims.substitute(d, values) for d in s.shape)})
        for name, s in spec.inputs.items()
    }
    updated = spec.model_copy(update={"inputs": inputs})
    updated._source = spec.source
    return updated


def max_params_default() -> int | None:
    """The budget: NETSPEC_MAX_PARAMS if set (0 or 'none' disables it), else 1e9."""
    raw = os.environ.get("NETSPEC_MAX_PARAMS")
    if raw is None:
        return DEFAULT_MAX_PARAMS
    if raw.strip().lower() in ("0", "none", "off", ""):
        return None
    try:
        return int(float(raw))
    except ValueError:
        raise SpecError.single(
            "invalid-value", f"NETSPEC_MAX_PARAMS must be a number, got {raw!r}"
        ) from None


@dataclass(frozen=True)
class Totals:
    """The parameters of several networks together, for the budget."""

    name: str
    total_params: int

    @property
    def param_bytes(self) -> int:
        return 4 * self.total_params


def check_budget(p: Plan | Totals, max_params: int | None, file: str | None = None) -> None:
    """Refuse, before anything is allocated, a model whose parameters exceed the budget.

    ``None`` or a number <= 0 means no limit.
    """
    if max_params is None or max_params <= 0 or p.total_params <= max_params:
        return
    raise SpecError.single(
        "budget",
        f"{p.name} has {p.total_params:,} parameters ({format_bytes(p.param_bytes)} of float32 "
        f"weights), over the budget of {max_params:,}",
        location=Location(file),
        hints=(
            "raise it with --max-params N on the command line, max_params=N in Python, or "
            "NETSPEC_MAX_PARAMS=N (0 means no limit); or shrink the spec",
        ),
    )
