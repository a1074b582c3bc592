"""Loading a spec: source -> expand -> a validated, frozen :class:`Spec`.

``load_spec`` accepts a path, YAML text or an already-parsed dict. All schema mistakes are
collected and raised together as one :class:`SpecError`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Union, get_args, get_origin

from pydantic import (
    BaseModel,
    ConfigDict,
    PrivateAttr,
    SerializeAsAny,
    ValidationError,
    field_serializer,
)

from netspec.config import StrictConfig, field_names
from netspec.errors import Diagnostic, Location, SpecError, YPath, did_you_mean
from netspec.layers import registry
from netspec.layers.registry import LayerConfig
from netspec.spec.expand import LayerEntry, expand
from netspec.spec.exprs import as_written, contains_deferred
from netspec.spec.gcpause import gc_paused
from netspec.spec.language_model import metric_problems
from netspec.spec.names import INPUT_NAME
from netspec.spec.sections import DataSpec, InputSpec, TrainSpec
from netspec.spec.source import Document, SourceMap, parse, read_file
from netspec.spec.tune import TuneSpec
from netspec.spec.typewords import type_words, yaml_value

SpecSource = Union[str, "os.PathLike[str]", Mapping[str, Any]]


class LayerSpec(BaseModel):
    """One validated layer: qualified name, type, input references and typed config.

    A layer whose arguments read ``input.shape`` has no config yet: ``config`` is None and
    ``deferred`` holds its arguments as written (exprs.Deferred values among them); the
    planner evaluates and validates them once the shapes are known, and the Plan's layer
    holds the config.
    """

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    name: str
    type: str
    inputs: tuple[str, ...]
    config: SerializeAsAny[LayerConfig] | None
    trainable: bool = True
    path: YPath = ()
    args_path: YPath = ()
    notes: tuple[str, ...] = ()
    deferred: dict[str, Any] | None = None
    primary_path: YPath | None = None  # set for a deferred layer's scalar primary argument

    @field_serializer("deferred")
    def _as_written(self, deferred: dict[str, Any] | None) -> dict[str, Any] | None:
        # A Deferred holds its scope's values; dumped, it is the string the user wrote.
        return None if deferred is None else as_written(deferred)


class Spec(BaseModel):
    """A whole validated spec. ``source`` maps YAML paths back to lines for later errors."""

    model_config = ConfigDict(frozen=True)

    name: str
    description: str | None = None
    # The model's inputs in declared order (a single `input:` is named `input`); the forward
    # takes them positionally in this order, or by name.
    inputs: dict[str, InputSpec]
    layers: tuple[LayerSpec, ...]
    # Qualified names of the layers (or inputs) the forward returns, in order; a tuple when
    # there are several. Default: the last layer.
    outputs: tuple[str, ...] = ()
    data: DataSpec | None = None
    train: TrainSpec | None = None
    # The hyperparameter search of `netspec tune` (netspec.spec.tune; training ignores it).
    tune: TuneSpec | None = None
    _source: SourceMap = PrivateAttr(default_factory=SourceMap)

    @property
    def source(self) -> SourceMap:
        return self._source

    @property
    def input(self) -> InputSpec:
        """The first input: the only one of a spec written with `input:`."""
        return next(iter(self.inputs.values()))

    @property
    def named_inputs(self) -> bool:
        """Written as `inputs:` (each input by its name), not as the one `input:`."""
        return len(self.inputs) > 1 or INPUT_NAME not in self.inputs


def load_spec(source: SpecSource | Spec, overrides: Sequence[str] = ()) -> Spec:
    """Parse and validate a spec from a path, YAML text, or a dict. Raises SpecError.

    ``overrides`` are ``key.path=value`` assignments applied first (the CLI's ``--set``).
    """
    if isinstance(source, Spec) and not overrides:
        return source
    if isinstance(source, Spec):
        raise TypeError("overrides apply to a spec's source, not to a loaded Spec")
    with gc_paused():  # around both stages: no collection between them either
        doc, default_name = read_document(source)
        return validate_document(apply_to(doc, overrides), default_name)


def load_spec_text(text: str, file: str) -> Spec:
    """A spec from YAML text read from ``file`` elsewhere (diagnostics name the file)."""
    return validate_document(parse(text, file), Path(file).stem)


def apply_to(doc: Document, overrides: Sequence[str]) -> Document:
    if not overrides:
        return doc
    from netspec.spec.overrides import apply_overrides

    return Document(apply_overrides(doc.data, overrides), doc.source)


def read_document(source: SpecSource) -> tuple[Document, str]:
    if isinstance(source, Mapping):
        return Document(dict(source), SourceMap()), "model"
    path = _as_path(source)
    if path is not None:
        return parse(read_file(path), str(path)), path.stem
    return parse(str(source), None), "model"


def _as_path(source: str | os.PathLike[str]) -> Path | None:
    if isinstance(source, os.PathLike):
        return Path(source)
    # One line that names a file, or could only be a file name, is a path; else YAML text.
    if not source.strip():
        return None  # empty text: reported as an empty spec
    if "\n" not in source and (
        source.endswith((".yaml", ".yml")) or Path(source).exists() or ":" not in source
    ):
        return Path(source)
    return None


def validate_document(doc: Document, default_name: str) -> Spec:
    with gc_paused():
        return _validate_document(doc, default_name)


def _validate_document(doc: Document, default_name: str) -> Spec:
    try:
        expanded = expand(doc.data, doc.source, default_name)
    except RecursionError:
        raise SpecError.single(
            "invalid-value",
            "blocks and residuals are nested too deeply",
            location=Location(doc.source.file),
        ) from None
    diags = list(expanded.diagnostics)
    configs: dict[tuple[Any, ...], LayerConfig] = {}
    layers = [
        layer for entry in expanded.entries if (layer := _layer(entry, doc.source, diags, configs))
    ]
    sections: dict[str, Any] = {}
    for key, model in (("data", DataSpec), ("train", TrainSpec), ("tune", TuneSpec)):
        if expanded.sections.get(key) is not None:
            found = _section(model, expanded.sections[key], (key,), doc.source, diags)
            if found is not None:
                sections[key] = found
    if "train" in sections:
        diags.extend(_one_network_train(sections["train"], doc.source))
    inputs = _inputs(expanded.sections, doc.source, diags)
    if "data" in sections:
        diags.extend(_data_diagnostics(sections, inputs, expanded.sections, doc.source))
        if "train" in sections:
            diags.extend(metric_problems(sections["data"], sections["train"], doc.source))
    if diags:
        raise SpecError(sorted(_dedupe(diags), key=_position))
    spec = Spec(
        name=expanded.name,
        description=expanded.description,
        inputs=inputs,
        layers=tuple(layers),
        outputs=expanded.outputs,
        **sections,
    )
    spec._source = doc.source
    return spec


def _one_network_train(train: TrainSpec, source: SourceMap) -> list[Diagnostic]:
    """What only a spec of several networks can train: a GAN, optimizers per network."""
    found = []
    if train.task == "gan":
        found.append(
            Diagnostic(
                "invalid-value",
                "task gan trains two networks: write them under `networks:` as `generator` "
                "and `discriminator`, each with its own `input` and `layers`",
                path=("train", "task"),
            )
        )
    if isinstance(train.optimizer, dict):
        found.append(
            Diagnostic(
                "invalid-value",
                "optimizer settings per network need a spec of several networks (`networks:`); "
                "this spec has one network: give one {type, lr, ...}",
                path=("train", "optimizer"),
            )
        )
    return [source.attach(d) for d in found]


def _section(
    model: type[BaseModel], raw: Any, path: YPath, source: SourceMap, diags: list[Diagnostic]
) -> Any:
    """One validated section (None after a reported mistake). An input's `[..]` is short
    for `{shape: [..]}`."""
    short = model is InputSpec and isinstance(raw, list) and bool(raw)
    given = {"shape": raw} if short else raw
    try:
        return model.model_validate(given)
    except ValidationError as exc:
        found = _diagnostics(exc, given, path, None, model, source)
        diags.extend(_unshort(d, path, source) if short else d for d in found)
        return None


def _inputs(
    sections: Mapping[str, Any], source: SourceMap, diags: list[Diagnostic]
) -> dict[str, InputSpec]:
    """`input:` (named `input`) or each of `inputs:`, validated."""
    given: dict[str, tuple[Any, YPath]] = {}
    if sections.get("input") is not None:
        given[INPUT_NAME] = (sections["input"], ("input",))
    elif isinstance(sections.get("inputs"), dict):
        given = {str(k): (v, ("inputs", k)) for k, v in sections["inputs"].items()}
    found = {}
    for name, (raw, path) in given.items():
        if raw is None:
            diags.append(
                source.attach(
                    Diagnostic(
                        "missing-field",
                        f"input {name!r} needs its shape",
                        path=path,
                        hints=(
                            "e.g. `tokens: {shape: [T], dtype: int64}` or `image: [3, 32, 32]`",
                        ),
                    ),
                    key=True,
                )
            )
            continue
        spec = _section(InputSpec, raw, path, source, diags)
        if spec is not None:
            found[name] = spec
    return found


def _data_diagnostics(
    sections: dict[str, Any],
    inputs: Mapping[str, InputSpec],
    given: Mapping[str, Any],
    source: SourceMap,
) -> list[Diagnostic]:
    """The data section's source, options and agreement with input and train (no data is
    loaded). A train section that failed validation skips the checks against the task."""
    # Imported here: data_check uses this module's _diagnostics.
    from netspec.spec.data_check import check_data, check_data_without_train

    if given.get("train") is None:  # no train section: `netspec train` uses the defaults
        return check_data_without_train(sections["data"], inputs, source)
    return check_data(sections["data"], inputs, sections.get("train"), source)


def _layer(
    entry: LayerEntry,
    source: SourceMap,
    diags: list[Diagnostic],
    configs: dict[tuple[Any, ...], LayerConfig],
) -> LayerSpec | None:
    layer_type = registry.get(entry.type)
    config: LayerConfig | None = None
    if entry.deferred:  # validated by the planner, once input.shape is known
        found = _plain_arguments(entry, source)
        if found:
            diags.extend(found)
            return None
    else:
        key = _config_key(entry.type, entry.args)
        config = configs.get(key) if key is not None else None
        if config is None:
            checked = validate_config(
                entry.type, entry.args, entry.args_path, entry.primary_path, entry.notes, source
            )
            if isinstance(checked, list):
                diags.extend(checked)
                return None
            config = checked
            if key is not None:
                configs[key] = config
    n = len(entry.inputs)
    if n < layer_type.min_inputs or (
        layer_type.max_inputs is not None and n > layer_type.max_inputs
    ):
        want = (
            f"at least {layer_type.min_inputs}"
            if layer_type.max_inputs is None
            else str(layer_type.max_inputs)
        )
        diags.append(
            source.attach(
                Diagnostic(
                    "wrong-inputs",
                    f"{entry.type} takes {want} input(s) but `from` names {n}",
                    path=entry.from_path or entry.path,
                    hints=_inputs_hint(layer_type),
                    notes=entry.notes,
                )
            )
        )
        return None
    return LayerSpec(
        name=entry.name,
        type=entry.type,
        inputs=entry.inputs,
        config=config,
        trainable=entry.trainable,
        path=entry.path,
        args_path=entry.args_path,
        notes=entry.notes,
        deferred=entry.args if entry.deferred else None,
        primary_path=entry.primary_path if entry.deferred else None,
    )


def _plain_arguments(entry: LayerEntry, source: SourceMap) -> list[Diagnostic]:
    """What is wrong with a deferred layer's other arguments (an unknown field, a bad value),
    reported now with the rest of the schema errors. The config is validated without the
    deferred ones, so a missing field or a check across fields is left to the planner."""
    plain = {k: v for k, v in entry.args.items() if not contains_deferred(v)}
    checked = validate_config(entry.type, plain, entry.args_path, None, entry.notes, source)
    if not isinstance(checked, list):
        return []
    depth = len(entry.args_path)
    return [
        d for d in checked if d.path is not None and len(d.path) > depth and d.path[depth] in plain
    ]


def validate_config(
    layer_type: str,
    args: dict[str, Any],
    args_path: YPath,
    primary_path: YPath | None,
    notes: tuple[str, ...],
    source: SourceMap,
) -> LayerConfig | list[Diagnostic]:
    """A layer's arguments as its typed config, or the diagnostics that say what is wrong,
    pointing at the YAML (the loader's check, and the planner's for deferred arguments)."""
    model = registry.get(layer_type).config
    try:
        config: LayerConfig = model.model_validate(args)
    except ValidationError as exc:
        found = _diagnostics(exc, args, args_path, primary_path, model, source)
        return [d if not notes else _with_notes(d, notes) for d in found]
    return config


def _inputs_hint(layer_type: registry.LayerType[Any]) -> tuple[str, ...]:
    if layer_type.reference_inputs:
        named = " and ".join(f"`{f}: <layer>`" for f in layer_type.reference_inputs)
        return (f"give {named}, or name every input: `from: [a, b]`",)
    return ("name the inputs: `from: [a, b]`",) if layer_type.min_inputs > 1 else ()


_SCALARS = (str, int, float, bool, type(None))


def _config_key(layer_type: str, args: dict[str, Any]) -> tuple[Any, ...] | None:
    """A key for arguments made of scalars and lists of scalars, or None.

    Most layers of a deep spec repeat a few argument sets (`dense: 64`, `relu`): each set is
    validated once and its frozen config shared, which keeps a spec of 100,000 layers from
    holding 100,000 copies of the same config. Types are part of the key, since `1`, `1.0`
    and `true` are equal in Python but not to the strict configs.
    """
    items: list[Any] = [layer_type]
    for name, value in args.items():
        if isinstance(value, list):
            if not all(type(v) in _SCALARS for v in value):
                return None
            items.append((name, list, tuple((type(v), v) for v in value)))
        elif type(value) in _SCALARS:
            items.append((name, type(value), value))
        else:
            return None
    return tuple(items)


def _unshort(d: Diagnostic, base: YPath, source: SourceMap) -> Diagnostic:
    """`input: [..]` is short for `input: {shape: [..]}`: point at what the user wrote."""
    n = len(base)
    if d.path and d.path[: n + 1] == (*base, "shape"):
        return source.attach(replace(d, path=(*base, *d.path[n + 1 :])))
    return d


def _position(d: Diagnostic) -> tuple[int, int]:
    """Diagnostics are reported in the order of the file."""
    return (d.location.line or 0, d.location.col or 0)


def _with_notes(d: Diagnostic, notes: tuple[str, ...]) -> Diagnostic:
    return replace(d, notes=(*d.notes, *notes))


def _dedupe(diags: list[Diagnostic]) -> list[Diagnostic]:
    seen: set[tuple[str, str, str]] = set()
    out = []
    for d in diags:
        key = (d.code, str(d.path), d.message)
        if key not in seen:
            seen.add(key)
            out.append(d)
    return out


def _diagnostics(
    exc: ValidationError,
    raw: Any,
    base: YPath,
    primary_path: YPath | None,
    model: type[BaseModel],
    source: SourceMap,
) -> list[Diagnostic]:
    """pydantic errors -> diagnostics; union members' errors for one field become one."""
    by_field: dict[tuple[str | int, ...], list[Any]] = {}
    for err in exc.errors():
        by_field.setdefault(_user_loc(err["loc"], raw), []).append(err)
    # A union's members fail at different depths (`kernel_size` vs `kernel_size[1]`): one
    # report per value, at the outermost location.
    # The outer location is looked up among loc's own prefixes, not by scanning every
    # location (one mapping with n unknown keys made that n^2); the first in by_field's order.
    order = {loc: i for i, loc in enumerate(by_field)}
    for loc in sorted(by_field, key=len, reverse=True):
        prefixes = [loc[:k] for k in range(len(loc)) if loc[:k] in by_field]
        outer = min(prefixes, key=order.__getitem__) if prefixes else None
        if outer is not None:
            by_field[outer].extend(by_field.pop(loc))
    # A misspelt required field shows up twice (unknown + missing): report the typo only.
    typo_targets = set()
    for loc, errs in by_field.items():
        if loc and errs[0]["type"] == "extra_forbidden":
            owner, field = _owner(model, loc)
            guess = did_you_mean(str(field), _spellings(owner))
            if guess is not None:
                typo_targets.add((loc[:-1], _spellings(owner)[guess]))
    out: list[Diagnostic] = []
    for loc, errs in by_field.items():
        first = errs[0]
        owner, field = _owner(model, loc)
        if first["type"] == "missing" and (loc[:-1], field) in typo_targets:
            continue
        if first["type"] == "extra_forbidden":
            guess = did_you_mean(str(field), _spellings(owner))
            message = f"unknown field {field!r}" + (f"; did you mean {guess!r}?" if guess else "")
            if field in _spellings(owner):  # an alias given next to its field
                message = (
                    f"{field!r} is another name for {_spellings(owner)[field]!r}, which is "
                    "also given: give one of them"
                )
            diag = Diagnostic(
                "unknown-field",
                message,
                path=(*base, *loc),
                expected=("one of: " + ", ".join(owner.model_fields))
                if owner.model_fields
                else "no arguments",
            )
            out.append(source.attach(diag, key=True))
            continue
        if first["type"] == "missing":
            out.append(source.attach(_missing(owner, field, raw, loc, base)))
            continue
        path: YPath = (*base, *loc)
        if primary_path is not None and field is not None and len(loc) == 1:
            path = primary_path
        value = _value(raw, loc)
        expected = _describe(owner, str(field))
        if len(errs) > 1 and expected:  # a union: one line saying what is accepted
            message = f"invalid value for {field!r}"
        else:
            messages = "; ".join(dict.fromkeys(_clean(e["msg"]) for e in errs))
            message = f"invalid value for {field!r}: {messages}" if field is not None else messages
        choices = _literal_values(owner, str(field))
        guess = (
            did_you_mean(value, choices)
            if isinstance(value, str) and choices and value not in choices
            else None
        )
        if guess:
            message += f"; did you mean {guess!r}?"
        hints: tuple[str, ...] = ()
        if isinstance(value, float) and expected and "int" in expected:
            hints = ("sizes are integers: in ${...} use // for integer division",)
        received = None if value is _MISSING else yaml_value(value)
        diag = Diagnostic(
            "invalid-value", message, path=path, received=received, expected=expected, hints=hints
        )
        out.append(source.attach(diag))
    return out


def _owner(model: type[BaseModel], loc: tuple[str | int, ...]) -> tuple[type[BaseModel], Any]:
    """The (possibly nested) model that holds the field at ``loc``, and that field's name."""
    owner: type[BaseModel] = model
    names = [part for part in loc if isinstance(part, str)]
    for part in names[:-1]:
        finfo = owner.model_fields.get(_spellings(owner).get(part, part))
        nested = _nested_model(finfo.annotation) if finfo else None
        if nested is None:
            break
        owner = nested
    return owner, (names[-1] if names else None)


def _nested_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _nested_model(arg)
        if found is not None:
            return found
    return None


def _spellings(model: type[BaseModel]) -> dict[str, str]:
    if issubclass(model, StrictConfig):  # layer arguments and data-source options
        return field_names(model)
    return {f: f for f in model.model_fields}


def _missing(
    owner: type[BaseModel], field: Any, raw: Any, loc: tuple[str | int, ...], base: YPath
) -> Diagnostic:
    """A missing required field; an unknown key close to its name is named as the likely typo
    (sections that accept extra keys, like `data`, cannot report that key themselves)."""
    parent = _value(raw, loc[:-1])
    near = [
        k
        for k in (parent if isinstance(parent, dict) else {})
        if k not in owner.model_fields and did_you_mean(str(k), [str(field)])
    ]
    hints = (f"is {near[0]!r} a misspelling of {field!r}?",) if near else ()
    return Diagnostic(
        "missing-field",
        f"missing required argument {field!r}",
        path=(*base, *loc[:-1]),
        expected=_describe(owner, str(field)),
        hints=hints,
    )


def _user_loc(loc: tuple[Any, ...], raw: Any) -> tuple[str | int, ...]:
    """Keep only the loc parts that are real keys/indexes of the user's data."""
    out: list[str | int] = []
    node = raw
    for part in loc:
        if (isinstance(node, Mapping) and part in node) or (
            isinstance(node, (list, tuple)) and isinstance(part, int) and 0 <= part < len(node)
        ):
            out.append(part)
            node = node[part]
        elif not out and isinstance(part, str):
            out.append(part)  # a missing or aliased top-level field
            break
    return tuple(out)


_MISSING = object()


def _value(raw: Any, loc: tuple[str | int, ...]) -> Any:
    node = raw
    for part in loc:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return _MISSING
    return node


def _literal_values(model: type[BaseModel], field: str) -> list[str]:
    finfo = model.model_fields.get(field)
    found: list[str] = []

    def walk(annotation: Any) -> None:
        if str(get_origin(annotation)) == "typing.Literal":
            found.extend(str(a) for a in get_args(annotation))
        nested = _nested_model(annotation)
        if nested is not None and "type" in nested.model_fields:  # `loss: crossentropy`
            walk(nested.model_fields["type"].annotation)
        for arg in get_args(annotation):
            walk(arg)

    if finfo is not None:
        walk(finfo.annotation)
    return found


def _clean(msg: str) -> str:
    return msg.removeprefix("Value error, ")


def _describe(model: type[BaseModel], field: str) -> str | None:
    finfo = model.model_fields.get(field)
    if finfo is None:
        return None
    return type_words(finfo.annotation, finfo.metadata)
