"""What `netspec validate` checks of a spec with `train.task: language_model`.

A language model predicts the token at position t + 1 from the tokens up to t, so:

- no layer may let a position see later tokens: self-attention must be causal
  (`transformer_encoder` and `multihead_attention` need `causal: true`, `transformer_decoder`
  must keep its default `causal: true`) and a recurrent layer must not be bidirectional
  (its backward direction reads the sequence from the end). Other ways of looking ahead
  (a convolution over time with same padding, a plugin layer) are caught at the start of
  training (netspec/training/causality.py);
- the output is one row of logits per input position: (T, V) for input (T,);
- exact_match scores the answers of problem data (a source whose `language` is
  "problems": prompt -> answer samples), not text.

The vocabulary's agreement with the embedding and the head is the data sources' check.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from netspec.dims import format_shape
from netspec.errors import Diagnostic
from netspec.sources import registry as sources
from netspec.spec.sections import DataSpec, TrainSpec
from netspec.spec.source import SourceMap

if TYPE_CHECKING:
    from netspec.dims import Shape
    from netspec.spec.load import LayerSpec

TASK = "language_model"
RECURRENT = ("rnn", "lstm", "gru")
PROBLEM_SOURCES = ("arithmetic", "copy", "reverse")
"""The problem sources named in hints (each says so itself: `Source.language`)."""


def layer_problems(layers: Iterable[tuple[LayerSpec, Any]], source: SourceMap) -> list[Diagnostic]:
    """The layers (each with its settled config) that let a position see later tokens."""
    found = []
    for layer, config in layers:
        problem = _looks_ahead(layer, config)
        if problem is None:
            continue
        message, field, hint = problem
        written = (*layer.args_path, field)
        at_field = written in source.values
        diag = Diagnostic(
            "not-causal",
            f"layer {layer.name!r} ({layer.type}) {message}, but a language model predicts "
            "each token from the tokens before it",
            path=written if at_field else layer.path,
            hints=(hint,),
        )
        found.append(source.attach(diag, key=at_field))
    return found


def _looks_ahead(layer: LayerSpec, config: Any) -> tuple[str, str, str] | None:
    """(what is wrong, the field that says it, the fix), or None for a causal layer."""
    causal = getattr(config, "causal", None)
    if layer.type == "transformer_encoder" and not causal:
        return (
            "attends to every position, later ones included",
            "causal",
            "add `causal: true` (position t attends to positions <= t only)",
        )
    if layer.type == "multihead_attention" and len(layer.inputs) == 1 and not causal:
        return (
            "is self-attention over every position, later ones included",
            "causal",
            "add `causal: true` (position t attends to positions <= t only)",
        )
    if layer.type == "transformer_decoder" and causal is False:
        return (
            "has causal: false: its self-attention sees later positions",
            "causal",
            "drop `causal: false` (a decoder is causal by default)",
        )
    if layer.type in RECURRENT and getattr(config, "bidirectional", False):
        return (
            "is bidirectional: its backward direction reads the sequence from the end",
            "bidirectional",
            "drop `bidirectional: true`",
        )
    return None


def output_problem(
    in_shape: Shape, out_shape: Shape, dtype: str, source: SourceMap
) -> Diagnostic | None:
    """The model's output is not one row of logits per position of its token input."""
    per_position = len(in_shape) == 1 and len(out_shape) == 2 and out_shape[0] == in_shape[0]
    if per_position and dtype == "int64":
        return None
    want = f"(N, {in_shape[0]}, V)" if len(in_shape) == 1 else "(N, T, V)"
    if dtype != "int64" or len(in_shape) != 1:
        message = (
            f"task {TASK} reads token ids: the input must be {{shape: [T], dtype: int64}}, "
            f"not {format_shape(in_shape)} {dtype}"
        )
        hint = "e.g. `input: {shape: [64], dtype: int64}` (the context length in tokens)"
    else:
        message = (
            f"task {TASK} predicts the next token at every position: for input "
            f"{format_shape(in_shape)} the model must output {want} logits, but it outputs "
            f"{format_shape(out_shape)}"
        )
        hint = "end with `dense: V` applied per position (no pooling, flattening or last state)"
    diag = Diagnostic(
        "shape",
        message,
        path=("train", "task"),
        received=format_shape(out_shape),
        expected=want,
        hints=(hint,),
    )
    return source.attach(diag)


def metric_problems(data: DataSpec, train: TrainSpec, source: SourceMap) -> list[Diagnostic]:
    """exact_match on data that are not prompt -> answer problems."""
    if train.task != TASK or "exact_match" not in train.metrics:
        return []
    if is_problem_source(data.source) is not False:
        return []
    path: tuple[str | int, ...] = ("train", "metrics", train.metrics.index("exact_match"))
    if path not in source.values:
        path = ("train", "metrics")
    diag = Diagnostic(
        "invalid-value",
        f"metric exact_match scores the answers of prompt -> answer problems, but data source "
        f"{data.source!r} gives text (windows of a token stream, no answers)",
        path=path,
        received="exact_match",
        expected="perplexity or accuracy",
        hints=(f"use a problem source ({', '.join(PROBLEM_SOURCES)}) or drop exact_match",),
    )
    return [source.attach(diag)]


def is_problem_source(name: str) -> bool | None:
    """Whether the source gives problems (True), anything else (False), or is unknown (None:
    its name is reported elsewhere), as the source's `language` says."""
    canonical = sources.resolve(name)
    if canonical is None:
        return None
    return sources.get(canonical).language == "problems"
