"""What a language-model spec (``train.task: language_model``) must agree on, checked
without loading data or importing torch:

- the data source feeds a language model (``Source.language``), and a source that feeds
  nothing else (text, arithmetic, reverse) is trained with task language_model;
- the input is one row of int64 token ids, ``(T,)``;
- the vocabulary: the token input's first ``embedding`` takes ``num_embeddings`` ids, the
  head (the model's output) gives one unit per next token, and the source's vocabulary
  (when its options tell it: byte 257, bpe its vocab_size, a synthetic language its
  alphabet) fits both. The head and the embedding must be the same size, the data at most
  that. This needs the planned output, so :func:`vocabulary_check` runs from
  ``netspec.plan.plan`` (validate, summary, build and train all plan the spec).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from netspec.dims import Shape
from netspec.errors import Diagnostic, YPath
from netspec.sources import Context, Source
from netspec.sources import registry as sources
from netspec.spec.sections import InputSpec

if TYPE_CHECKING:
    from netspec.layers.registry import LayerConfig
    from netspec.spec.load import LayerSpec, Spec

TASK = "language_model"


def language_task_checks(
    picked: Source, task: str, at: YPath, inputs: Mapping[str, InputSpec] | None
) -> list[Diagnostic]:
    """A source and a task that do not go together, and a language model's input."""
    found: list[Diagnostic] = []
    if task == TASK and picked.language is None:
        feeding = ", ".join(s.name for s in sources.all_sources() if s.language is not None)
        found.append(
            Diagnostic(
                "invalid-value",
                f"task {TASK} trains on token sequences, but data source {picked.name!r} "
                "gives no text or problems",
                path=at,
                received=task if at == ("train", "task") else picked.name,
                expected=f"a language-model source: {feeding}",
                hints=(
                    "e.g. `data: {source: text, path: corpus.txt}` or `data: {source: arithmetic}`",
                ),
            )
        )
    elif task != TASK and picked.kind == "language":
        found.append(
            Diagnostic(
                "invalid-value",
                f"data source {picked.name!r} feeds a language model only, but the task is {task}",
                path=at,
                received=task if at == ("train", "task") else picked.name,
                expected=TASK,
                hints=(f"set `train: {{task: {TASK}}}`",),
            )
        )
    if task == TASK and inputs:
        name, first = next(iter(inputs.items()))
        if first.dtype != "int64" or len(first.shape) != 1:
            shown = ", ".join(str(d) for d in first.shape)
            found.append(
                Diagnostic(
                    "invalid-value",
                    f"a language model reads one row of int64 token ids (T,), but the input is "
                    f"({shown}{',' if len(first.shape) == 1 else ''}) {first.dtype}",
                    path=("input",) if name == "input" else ("inputs", name),
                    hints=("e.g. `input: {shape: [64], dtype: int64}` (64 tokens of context)",),
                )
            )
    return found


def vocabulary_check(
    spec: Spec, configs: Mapping[str, LayerConfig], output: Shape, head: str | None
) -> list[Diagnostic]:
    """The embedding, the head and the data's vocabulary disagree: one located diagnostic
    naming all three. ``configs``: every layer's config (as planned); ``output``: the
    model's output shape; ``head``: the layer that gives it (None: an input)."""
    if spec.train is None or spec.train.task != TASK or spec.data is None:
        return []
    embedding = _embedding(spec)
    config = configs.get(embedding.name) if embedding is not None else None
    embeds = getattr(config, "num_embeddings", None)
    units = output[-1] if output and isinstance(output[-1], int) else None
    vocab, source_name = _data_vocab(spec)
    agree = embeds is None or units is None or embeds == units
    fits = vocab is None or all(n is None or vocab <= n for n in (embeds, units))
    if agree and fits:
        return []
    parts = []
    if embeds is not None and embedding is not None:
        parts.append(f"embedding {embedding.name!r} takes num_embeddings {embeds} token ids")
    if units is not None:
        parts.append(f"the head {head!r} gives {units} units (one per next token)")
    parts.append(
        f"data source {source_name!r} has a vocabulary of {vocab}"
        if vocab is not None
        else f"the vocabulary of data source {source_name!r} is known once its corpus is read"
    )
    want = max(n for n in (vocab, embeds, units) if n is not None)
    problem = "differ" if not agree else "are smaller than the data's vocabulary"
    path: YPath
    if embedding is not None:
        path = (*embedding.args_path, "num_embeddings")
    else:
        path = next((layer.path for layer in spec.layers if layer.name == head), ("layers",))
    return [
        spec.source.attach(
            Diagnostic(
                "invalid-value",
                "the vocabulary sizes disagree: " + "; ".join(parts),
                path=path,
                received=", ".join(
                    f"{what} {n}"
                    for what, n in (("num_embeddings", embeds), ("head", units), ("data", vocab))
                    if n is not None
                ),
                expected="num_embeddings = the head's units >= the data's vocabulary",
                hints=(
                    f"the embedding and the head {problem}: set num_embeddings and the head's "
                    f"units to {want}" + (", the data's vocabulary" if want == vocab else ""),
                ),
            )
        )
    ]


def _embedding(spec: Spec) -> LayerSpec | None:
    """The first embedding that reads a token input directly, else the first embedding."""
    tokens = {name for name, s in spec.inputs.items() if s.dtype == "int64"}
    embeddings = [layer for layer in spec.layers if layer.type == "embedding"]
    direct = [layer for layer in embeddings if tokens & set(layer.inputs)]
    picked = direct or embeddings
    return picked[0] if picked else None


def _data_vocab(spec: Spec) -> tuple[int | None, str]:
    """The source's static vocabulary (None when only its corpus tells) and its name."""
    data = spec.data
    if data is None or sources.resolve(data.source) is None:
        return None, data.source if data else ""
    picked = sources.get(data.source)
    if picked.vocab is None:
        return None, picked.name
    try:
        options = picked.options.model_validate(dict(data.model_extra or {}))
    except ValueError:  # load_spec reported it
        return None, picked.name
    base = Path(spec.source.file).resolve().parent if spec.source.file else Path.cwd()
    ctx = Context(spec.input.shape, spec.input.dtype, base, (), TASK)
    return picked.vocab(options, ctx), picked.name


__all__ = ["language_task_checks", "vocabulary_check"]
