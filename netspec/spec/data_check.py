"""What the spec's ``data:`` section says that can be checked without loading any data.

`netspec train` used to find these only when it loaded the data; here they are found by
``load_spec``, so `netspec validate` (and summary, build, the Python API) reports them at
their YAML line:

- the source name (did-you-mean over names and aliases) and its options (types, bounds,
  unknown keys, with did-you-mean over the source's options and the common keys);
- what a source rules out from its options and the spec's input alone (``Source.check``);
- a source whose kind of targets contradicts ``train.task`` (regression targets cannot be
  class labels);
- options of the section that contradict the input (standardizing or augmenting int64
  token ids; flip and crop on non-image inputs) or the training settings (early stopping on
  a validation split of size 0);
- a language-model source under another task, task language_model with a source that
  cannot feed it, or an input that is not one row of int64 token ids
  (netspec/spec/language.py);
- a spec with several inputs fed by a source that gives one array of samples (only ``npz``
  gives one array per input), flip or crop augmentation with several inputs, and task
  autoencoder with several inputs (it reconstructs one input).

What needs the data (a CSV's columns, NaNs, class counts, shapes after reshaping) stays with
the loaders in netspec/data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

from netspec.config import field_names
from netspec.errors import Diagnostic, SpecError, did_you_mean
from netspec.sources import COMMON_KEYS, Context, DataProblem, Source, SourceOptions
from netspec.sources import registry as sources
from netspec.sources.graphs import GRAPH_SOURCES
from netspec.spec.language import language_task_checks
from netspec.spec.load import _diagnostics
from netspec.spec.names import INPUT_NAME
from netspec.spec.sections import DataSpec, InputSpec, TrainSpec
from netspec.spec.source import SourceMap

if TYPE_CHECKING:
    from netspec.spec.load import Spec

# Tasks that read the targets as class labels: a regression source's numbers are not.
_LABEL_TASKS = ("classification", "binary")


Inputs = Mapping[str, InputSpec]
"""The spec's inputs by name, in declared order (a single `input:` is named `input`)."""


def check_data(
    data: DataSpec,
    inputs: Inputs | InputSpec | None,
    train: TrainSpec | None,
    source: SourceMap,
) -> list[Diagnostic]:
    """Diagnostics for ``data`` (validated by DataSpec). ``inputs`` (the spec's inputs by
    name; one InputSpec stands for a single `input:`) and ``train`` are None or empty when
    they are absent or did not validate; the checks that need them are then skipped (for a
    spec with no ``train:`` at all, see :func:`check_data_without_train`)."""
    named = _named(inputs)
    if any(s.graph for s in named.values()):
        data = data.model_copy(update={"source": graph_source_name(data.source)})
    if data.source in GRAPH_SOURCES:
        return check_graph_data(data, named, train, source)
    found, options = _options(data, source)
    if sources.resolve(data.source) is None:
        return found
    if any(s.graph for s in named.values()):
        return [*found, _table_source_for_graph(data.source, source)]
    picked = sources.get(data.source)
    if named:
        if len(named) > 1 and not picked.several_inputs:
            found.append(_one_array_source(picked, named, source))
        elif options is not None:
            task = train.task if train is not None else None
            found += _source_check(picked, options, named, source, task)
        found += _input_checks(data, named, source)
    if train is not None:
        found += _task_checks(picked, data, train, source, inputs=named)
    return found


def check_data_without_train(
    data: DataSpec, inputs: Inputs | InputSpec | None, source: SourceMap
) -> list[Diagnostic]:
    """As :func:`check_data` for a spec with no ``train:`` section: `netspec train` then
    trains with the default settings (task classification), so the task check runs against
    those and points at ``data.source``."""
    found = check_data(data, inputs, None, source)
    if data.source in GRAPH_SOURCES:
        if found:
            return found
        diag = Diagnostic(
            "missing-field",
            f"data source {data.source!r} is a graph, but the spec has no `train:` section "
            "(training defaults to task classification, which reads a table of samples)",
            path=("data", "source"),
            hints=(
                "add `train: {task: node_classification}` (a label per node) or "
                "`train: {task: graph_classification}` (a label per graph)",
            ),
        )
        return [source.attach(diag)]
    if sources.resolve(data.source) is None or found:
        return found
    return _task_checks(sources.get(data.source), data, TrainSpec(), source, at=("data", "source"))


def graph_source_name(name: str) -> str:
    """The graph source a graph spec's `data: source:` names: an `npz` file beside a graph
    input is a graph file (`graph_npz`: x, edge_index, y, masks); other names as written."""
    return "graph_npz" if name == "npz" else name


GRAPH_TASKS = {"node": "node_classification", "graph": "graph_classification"}
"""The task that trains on each level of graph labels."""


def check_graph_data(
    data: DataSpec, inputs: Inputs, train: TrainSpec | None, source: SourceMap
) -> list[Diagnostic]:
    """A graph source (netspec/sources/graphs.py): its options, a `graph: true` input, and a
    graph task."""
    picked = GRAPH_SOURCES[data.source]
    raw = dict(data.model_extra or {})
    try:
        options = picked.options.model_validate(raw)
    except ValidationError as exc:
        return _diagnostics(exc, raw, ("data",), None, picked.options, source)
    found: list[Diagnostic] = []
    if inputs and not any(s.graph for s in inputs.values()):
        found.append(
            Diagnostic(
                "invalid-value",
                f"data source {picked.name!r} is a graph, but the spec's input is not: a graph "
                "source feeds a model whose input is its node features",
                path=("data", "source"),
                received=picked.name,
                hints=(
                    "mark the input `graph: true`, e.g. `input: {shape: [F], graph: true}` "
                    "with F node features, and use graph layers (graph_conv, graph_sage, ...)",
                ),
            )
        )
    elif inputs:
        first = next(iter(inputs.values()))
        base = Path(source.file).resolve().parent if source.file else Path.cwd()
        try:
            picked.check(options, Context(first.shape, first.dtype, base, ()))
        except DataProblem as problem:
            found.append(problem.diagnostic())
    if data.augment is not None:
        found.append(
            Diagnostic(
                "invalid-value",
                "augmentation applies to tables of samples, not to graphs",
                path=("data", "augment"),
                hints=("leave `augment` out",),
            )
        )
    if train is not None:
        fits = (
            tuple(GRAPH_TASKS.values())
            if picked.level == "either"  # graph_npz: the file says which
            else (GRAPH_TASKS[picked.level],)
        )
        if train.task not in fits:
            labels = {"node": "a label per node", "graph": "a label per graph"}
            what = labels.get(picked.level, "labels per node or per graph")
            found.append(
                Diagnostic(
                    "invalid-value",
                    f"data source {picked.name!r} is graph data with {what}, which task "
                    f"{train.task} does not train",
                    path=("train", "task"),
                    received=train.task,
                    expected=" or ".join(fits),
                    hints=(f"set `train: {{task: {fits[0]}}}`",),
                )
            )
    return [source.attach(d) for d in found]


def _table_source_for_graph(name: str, source: SourceMap) -> Diagnostic:
    graphs = ", ".join(GRAPH_SOURCES)
    return source.attach(
        Diagnostic(
            "invalid-value",
            f"the input is a graph (`graph: true`), but data source {name!r} gives a table "
            "of samples, not a graph",
            path=("data", "source"),
            received=name,
            expected=f"a graph source: {graphs}",
            hints=(
                "use a graph source, e.g. `data: {source: karate_club}`, or drop `graph: true` "
                "(and the graph layers) to train on the table",
            ),
        )
    )


def input_names(inputs: Inputs) -> tuple[str, ...]:
    """The names a data source reads arrays by: those of `inputs:`, none for one `input:`."""
    if len(inputs) == 1 and INPUT_NAME in inputs:
        return ()
    return tuple(inputs)


def _named(inputs: Inputs | InputSpec | None) -> dict[str, InputSpec]:
    if inputs is None:
        return {}
    if isinstance(inputs, InputSpec):
        return {INPUT_NAME: inputs}
    return dict(inputs)


def _one_array_source(picked: Source, inputs: Inputs, source: SourceMap) -> Diagnostic:
    names = ", ".join(inputs)
    return source.attach(
        Diagnostic(
            "invalid-value",
            f"data source {picked.name!r} gives one array of samples, but the spec has "
            f"{len(inputs)} inputs ({names})",
            path=("data", "source"),
            received=picked.name,
            expected="npz (the one source with an array per input)",
            hints=(
                f"use `source: npz` with an .npz holding one array per input, named {names}, "
                "and the targets as y",
            ),
        )
    )


def source_options(spec: Spec) -> tuple[Source, SourceOptions]:
    """The spec's source and its validated options; a located SpecError otherwise."""
    if spec.data is None:
        example = (
            "`data: {source: text, path: corpus.txt}` or `data: {source: arithmetic}`"
            if spec.train is not None and spec.train.task == "language_model"
            else "`data: {source: digits}`"
        )
        raise SpecError.single(
            "missing-field",
            "the spec has no `data:` section, so there is nothing to train on",
            hints=(f"add one, e.g. {example}",),
        )
    if spec.data.source in GRAPH_SOURCES:
        diag = Diagnostic(
            "invalid-value",
            f"data source {spec.data.source!r} is a graph, not a table of samples: train it "
            "with `netspec train` (task node_classification or graph_classification), or load "
            "it with "
            "netspec.sources.graphs.load_graph",
            path=("data", "source"),
            received=spec.data.source,
        )
        raise SpecError([spec.source.attach(diag)])
    found, options = _options(spec.data, spec.source)
    if options is None:
        raise SpecError(found)
    return sources.get(spec.data.source), options


def _options(data: DataSpec, source: SourceMap) -> tuple[list[Diagnostic], SourceOptions | None]:
    name = data.source
    if sources.resolve(name) is None:
        guess = did_you_mean(name, sources.all_words())
        message = f"unknown data source {name!r}" + (f"; did you mean {guess!r}?" if guess else "")
        diag = Diagnostic(
            "invalid-value",
            message,
            path=("data", "source"),
            received=name,
            expected="one of: " + ", ".join(s.name for s in sources.all_sources()),
        )
        return [source.attach(diag)], None
    picked = sources.get(name)
    raw = dict(data.model_extra or {})
    try:
        return [], picked.options.model_validate(raw)
    except ValidationError as exc:
        found = _diagnostics(exc, raw, ("data",), None, picked.options, source)
        return [_with_common_keys(d, picked) for d in found], None


def _with_common_keys(diag: Diagnostic, picked: Source) -> Diagnostic:
    """An unknown key may be a misspelt common key (`standardise`): say so, and list all."""
    if diag.code != "unknown-field" or not diag.path:
        return diag
    word = str(diag.path[-1])
    own = list(field_names(picked.options))
    message = diag.message
    if "did you mean" not in message and "another name" not in message:
        guess = did_you_mean(word, [*own, *COMMON_KEYS])
        message = f"unknown option {word!r} for data source {picked.name!r}" + (
            f"; did you mean {guess!r}?" if guess else ""
        )
    fields = [*COMMON_KEYS, *picked.options.model_fields]
    return replace(diag, message=message, expected="one of: " + ", ".join(fields))


def _source_check(
    picked: Source, options: SourceOptions, inputs: Inputs, source: SourceMap, task: str | None
) -> list[Diagnostic]:
    base = Path(source.file).resolve().parent if source.file else Path.cwd()
    first = next(iter(inputs.values()))
    try:
        picked.check(options, Context(first.shape, first.dtype, base, input_names(inputs), task))
    except DataProblem as problem:
        return [source.attach(problem.diagnostic())]
    return []


def _input_checks(data: DataSpec, inputs: Inputs, source: SourceMap) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    several = len(inputs) > 1
    input_ = next(iter(inputs.values()))
    # With several inputs, standardization and noise apply to the float ones.
    tokens = all(s.dtype == "int64" for s in inputs.values())
    if tokens and data.standardize:
        found.append(
            Diagnostic(
                "invalid-value",
                "the inputs are int64 token ids, which are never standardized"
                if several
                else "the input is int64 token ids, which are never standardized",
                path=("data", "standardize"),
                expected="false, or leave it out",
            )
        )
    aug = data.augment
    if aug is not None and (aug.flip or aug.crop_padding > 0 or aug.noise > 0):
        if tokens:
            found.append(
                Diagnostic(
                    "invalid-value",
                    "augmentation works on float inputs, but "
                    + ("every input is" if several else "the input is")
                    + " int64 token ids",
                    path=("data", "augment"),
                )
            )
        elif several and (aug.flip or aug.crop_padding > 0):
            found.append(
                Diagnostic(
                    "invalid-value",
                    f"flip and crop_padding work on a model with one image input, but the spec "
                    f"has {len(inputs)} inputs ({', '.join(inputs)})",
                    path=("data", "augment"),
                    hints=("noise alone works with several inputs: each float input gets its own",),
                )
            )
        elif (aug.flip or aug.crop_padding > 0) and len(input_.shape) != 3:
            shown = ", ".join(str(d) for d in input_.shape)
            found.append(
                Diagnostic(
                    "invalid-value",
                    "flip and crop_padding work on image inputs (C, H, W), but the input is "
                    f"({shown}{',' if len(input_.shape) == 1 else ''})",
                    path=("data", "augment"),
                    hints=("noise alone works on any float input",),
                )
            )
    return [source.attach(d) for d in found]


def _task_checks(
    picked: Source,
    data: DataSpec,
    train: TrainSpec,
    source: SourceMap,
    at: tuple[str, ...] = ("train", "task"),
    inputs: Inputs | None = None,
) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    if train.task in GRAPH_TASKS.values():
        found.append(
            Diagnostic(
                "invalid-value",
                f"task {train.task} trains on graphs, but data source {picked.name!r} "
                "gives a table of samples",
                path=at,
                received=train.task,
                hints=(
                    f"use a graph source ({', '.join(GRAPH_SOURCES)}) with a `graph: true` input",
                ),
            )
        )
    found += language_task_checks(picked, train.task, at, inputs)
    if inputs is not None and len(inputs) > 1 and train.task == "autoencoder":
        found.append(
            Diagnostic(
                "invalid-value",
                f"task autoencoder reconstructs the model's one input, but the spec has "
                f"{len(inputs)} inputs ({', '.join(inputs)})",
                path=at,
                received=train.task,
            )
        )
    if picked.kind == "regression" and train.task in _LABEL_TASKS:
        given = "task" in train.model_fields_set
        found.append(
            Diagnostic(
                "invalid-value",
                f"task {train.task} needs class labels, but data source {picked.name!r} "
                "holds regression targets (numbers)",
                path=at,
                received=train.task if at == ("train", "task") else picked.name,
                hints=(
                    "use task: regression for numeric targets"
                    if given
                    else "set train.task: regression (the task defaults to classification)"
                    if at == ("train", "task")
                    else "add `train: {task: regression}` (with no train section, the task is "
                    "classification)",
                ),
            )
        )
    stopping = train.early_stopping
    if stopping is not None and stopping.monitor.startswith("val_") and data.split.val == 0:
        found.append(
            Diagnostic(
                "invalid-value",
                f"early stopping monitors {stopping.monitor}, but data.split.val is 0, so "
                "there is no validation split",
                path=("train", "early_stopping", "monitor"),
                hints=("set data.split.val above 0, or monitor train_loss",),
            )
        )
    return [source.attach(d) for d in found]


__all__ = ["Inputs", "check_data", "check_data_without_train", "input_names", "source_options"]
