"""Several networks in one spec (`networks:`): each network is a Spec of its own.

A GAN's generator and discriminator, an autoencoder's encoder and decoder: each network
has its own `input`/`inputs`, `layers` and `outputs`, and shares the spec's `vars` and
`blocks`. Each is validated exactly like a one-network spec, through a view of the source
map rooted at `networks.<name>`, so every rule, diagnostic and line number of the one-network
language holds inside a network; a diagnostic's path is then given its `networks.<name>`
prefix back. Torch-free, like the rest of the spec stage.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from netspec.errors import Diagnostic, SpecError, YPath, did_you_mean
from netspec.spec.gcpause import gc_paused
from netspec.spec.load import (
    Spec,
    SpecSource,
    _section,
    apply_to,
    read_document,
    validate_document,
)
from netspec.spec.names import usable_name
from netspec.spec.sections import NETWORK_TASKS, DataSpec, TrainSpec
from netspec.spec.source import Document, SourceMap, parse

TOP_LEVEL = ("name", "description", "vars", "blocks", "networks", "data", "train")
NETWORK_KEYS = ("description", "input", "inputs", "outputs", "layers")
SHARED = ("vars", "blocks")  # top-level sections every network sees


@dataclass(frozen=True)
class Networks:
    """A validated spec of several networks, in declared order."""

    name: str
    description: str | None
    networks: Mapping[str, Spec]
    source: SourceMap
    data: DataSpec | None = None
    train: TrainSpec | None = None


def has_networks(doc: Document) -> bool:
    return isinstance(doc.data, dict) and "networks" in doc.data


def validate_networks(doc: Document, default_name: str) -> Networks:
    """Every network validated (all their mistakes reported together), then data and train."""
    data, source = doc.data, doc.source
    diags: list[Diagnostic] = []

    def error(code: str, message: str, path: YPath, **kw: Any) -> None:
        diags.append(source.attach(Diagnostic(code, message, path=path, **kw), key=True))

    for key in data:
        if key in ("input", "inputs", "layers", "outputs"):
            error(
                "invalid-value",
                f"`{key}` belongs inside a network: a spec has `networks` or `input` and "
                "`layers`, not both",
                (key,),
            )
        elif key not in TOP_LEVEL:
            guess = did_you_mean(str(key), TOP_LEVEL)
            error(
                "unknown-field",
                f"unknown top-level key {key!r}" + (f"; did you mean {guess!r}?" if guess else ""),
                (key,),
                expected=", ".join(TOP_LEVEL),
            )
    raw = data.get("networks")
    specs: dict[str, Spec] = {}
    if not isinstance(raw, dict) or not raw:
        error(
            "invalid-value",
            "networks is a mapping of network names to {input, layers}, e.g. "
            "{generator: {input: [8], layers: [...]}, discriminator: {...}}",
            ("networks",),
        )
        raw = {}
    views = _Views(source)
    for name, body in raw.items():
        spec = _network(name, body, data, views, diags)
        if spec is not None:
            specs[str(name)] = spec
    sections: dict[str, Any] = {}
    for key, model in (("data", DataSpec), ("train", TrainSpec)):
        if data.get(key) is not None:
            found = _section(model, data[key], (key,), source, diags)
            if found is not None:
                sections[key] = found
    if specs and "train" in sections:
        diags.extend(source.attach(d, key=True) for d in _task_fits(sections["train"], specs))
        if sections["train"].task == "gan":
            found = _gan_unsupported(sections["train"], sections.get("data"))
            diags.extend(source.attach(d, key=True) for d in found)
    name = data.get("name", default_name)
    if not isinstance(name, str) or not name.strip():
        error("invalid-value", "name must be a non-empty string", ("name",))
    description = data.get("description")
    if diags:
        raise SpecError(sorted(diags, key=lambda d: (d.location.line or 0, d.location.col or 0)))
    return Networks(
        name=str(name),
        description=description if isinstance(description, str) else None,
        networks=specs,
        source=source,
        **sections,
    )


def _gan_unsupported(train: TrainSpec, data: DataSpec | None) -> list[Diagnostic]:
    """The settings a GAN run does not honour (yet): refused when the spec is read (so
    `netspec validate` says so), not ignored by training."""
    unsupported = {
        "scheduler": train.scheduler.type != "none"
        or train.scheduler.warmup_epochs > 0
        or train.scheduler.warmup_steps > 0,
        "precision": train.precision != "32",
        "accumulate_grad_batches": train.accumulate_grad_batches != 1,
        "checkpoint_every_steps": train.checkpoint_every_steps is not None,
        "scale_lr": train.scale_lr,
    }
    found = [
        Diagnostic(
            "unsupported",
            f"train.{key} is not supported for task gan yet",
            path=("train", key),
            hints=(f"remove train.{key}",),
        )
        for key, given in unsupported.items()
        if given
    ]
    if data is not None and data.augment is not None:
        # the GAN loop never applies it; and augmenting the real samples alone would teach
        # the generator the augmentation (a GAN needs it on both, e.g. DiffAugment)
        found.append(
            Diagnostic(
                "unsupported",
                "data.augment is not supported for task gan yet: the discriminator sees the "
                "samples as loaded",
                path=("data", "augment"),
                hints=("remove data.augment",),
            )
        )
    return found


def _task_fits(train: TrainSpec, specs: Mapping[str, Spec]) -> list[Diagnostic]:
    """The task trains networks of this spec's names; a per-network optimizer names them."""
    found = []
    needed = NETWORK_TASKS.get(train.task)
    if needed is None:
        tasks = " or ".join(NETWORK_TASKS)
        found.append(
            Diagnostic(
                "invalid-value",
                f"task {train.task} trains one network; a spec of several networks trains "
                f"with task {tasks}",
                path=("train", "task"),
            )
        )
    elif set(specs) != set(needed):
        have = ", ".join(specs)
        stray = [name for name in specs if name not in needed]
        guess = did_you_mean(stray[0], needed) if stray else None
        found.append(
            Diagnostic(
                "invalid-value",
                f"task {train.task} trains networks named {needed[0]} and {needed[1]}; this "
                f"spec has {have}" + (f": did you mean {guess!r}?" if guess else ""),
                path=("networks", stray[0]) if stray else ("networks",),
                hints=(f"name the networks {needed[0]} and {needed[1]}",),
            )
        )
    if isinstance(train.optimizer, dict) and needed is not None and train.task != "gan":
        # an autoencoder's two networks train as one model, with one optimizer
        found.append(
            Diagnostic(
                "invalid-value",
                f"task {train.task} trains its {' and '.join(needed)} as one model with one "
                "optimizer; settings per network apply to task gan",
                path=("train", "optimizer"),
                hints=("give one optimizer: {type: adam, lr: 1.0e-3}",),
            )
        )
    elif isinstance(train.optimizer, dict):
        for key in train.optimizer:
            if key not in specs:
                guess = did_you_mean(key, tuple(specs))
                found.append(
                    Diagnostic(
                        "invalid-value",
                        f"optimizer settings for {key!r}, which is no network of this spec"
                        + (f"; did you mean {guess!r}?" if guess else ""),
                        path=("train", "optimizer", key),
                        expected=", ".join(specs),
                    )
                )
    return found


def _network(
    name: Any, body: Any, data: Mapping[str, Any], views: _Views, diags: list[Diagnostic]
) -> Spec | None:
    path: YPath = ("networks", name)
    source = views.source
    if not usable_name(name):
        diags.append(
            source.attach(
                Diagnostic(
                    "invalid-name",
                    f"{name!r} cannot name a network: it names a submodule of the built "
                    "model, so it is an identifier that is no Python keyword and no attribute "
                    "of a torch module",
                    path=path,
                ),
                key=True,
            )
        )
        return None
    if not isinstance(body, dict):
        diags.append(
            source.attach(
                Diagnostic(
                    "invalid-value",
                    f"network {name!r} is a mapping with `input` (or `inputs`) and `layers`",
                    path=path,
                )
            )
        )
        return None
    for key in body:
        if key not in NETWORK_KEYS:
            guess = did_you_mean(str(key), NETWORK_KEYS)
            diags.append(
                source.attach(
                    Diagnostic(
                        "unknown-field",
                        f"unknown key {key!r} in network {name!r}"
                        + (f"; did you mean {guess!r}?" if guess else ""),
                        path=(*path, key),
                        expected=", ".join(NETWORK_KEYS),
                    ),
                    key=True,
                )
            )
            return None
    document = {"name": name, **{k: data[k] for k in SHARED if k in data}, **body}
    try:
        return validate_document(Document(document, views.of(name)), name)
    except SpecError as exc:
        diags.extend(prefixed(d, path) for d in exc.diagnostics)
        return None


def prefixed(diag: Diagnostic, prefix: YPath) -> Diagnostic:
    """A network's diagnostic with the path the user wrote (`networks.gen.layers[2]`); the
    shared sections (`vars`, `blocks`) keep theirs."""
    if diag.path is None or diag.path[:1] in (("vars",), ("blocks",)):
        return diag
    return replace(diag, path=(*prefix, *diag.path))


class _Views:
    """The source map as each network sees it: its own paths without the `networks.<name>`
    prefix, and the shared sections where they are.

    The whole map is sorted by network once, so a spec of many networks costs time in
    proportion to its size, not to its size times the number of networks.
    """

    def __init__(self, source: SourceMap) -> None:
        self.source = source
        self._values = self._by_network(source.values)
        self._keys = self._by_network(source.keys)

    @staticmethod
    def _by_network(
        table: Mapping[YPath, tuple[int, int]],
    ) -> dict[Any, dict[YPath, tuple[int, int]]]:
        """{network name: {path inside it: position}}; the key None holds the shared ones."""
        found: dict[Any, dict[YPath, tuple[int, int]]] = {None: {}}
        for path, position in table.items():
            if len(path) >= 2 and path[0] == "networks":
                found.setdefault(path[1], {})[path[2:]] = position
            elif path[:1] in (("vars",), ("blocks",)):
                found[None][path] = position
        return found

    def of(self, name: Any) -> SourceMap:
        values = {**self._values[None], **self._values.get(name, {})}
        keys = {**self._keys[None], **self._keys.get(name, {})}
        return SourceMap(self.source.file, self.source.text, values, keys)


def load_any(
    source: SpecSource | Spec | Networks, overrides: Sequence[str] = ()
) -> Spec | Networks:
    """A spec of one network (:class:`Spec`) or several (:class:`Networks`), by its form."""
    if isinstance(source, (Spec, Networks)) and not overrides:
        return source
    if isinstance(source, (Spec, Networks)):
        raise TypeError("overrides apply to a spec's source, not to a loaded spec")
    with gc_paused():
        doc, default_name = read_document(source)
        doc = apply_to(doc, overrides)
        if has_networks(doc):
            return validate_networks(doc, default_name)
        return validate_document(doc, default_name)


def load_any_text(text: str, file: str) -> Spec | Networks:
    """A spec of one network or several from YAML text read from ``file`` elsewhere (a run
    directory's spec.yaml, sent to every process of a run); diagnostics name the file."""
    with gc_paused():
        doc = parse(text, file)
        if has_networks(doc):
            return validate_networks(doc, Path(file).stem)
        return validate_document(doc, Path(file).stem)
