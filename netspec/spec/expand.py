"""Raw YAML data -> a flat list of layer entries: spellings, vars, blocks, repeat, residual.

Every layer entry comes out with a fully qualified name (``block_0.conv2d_0``), resolved input
references and the YAML path it was written at, so later stages can point back into the file.
Mistakes are collected as diagnostics; expansion goes on past them where it safely can.
"""

from __future__ import annotations

import itertools
import keyword
import re
from collections import ChainMap
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from netspec.errors import Diagnostic, SpecError, Suggestions, YPath, did_you_mean, format_path
from netspec.layers import registry
from netspec.spec.exprs import (
    Deferred,
    ExpressionError,
    NeedsShape,
    check,
    contains_deferred,
    has_reference,
    substitute,
)
from netspec.spec.names import (
    COMMON_FIELDS,
    INPUT_NAME,
    RESERVED_NAMES,
    TOP_LEVEL,
    usable_name,
)
from netspec.spec.source import SourceMap

MAX_REPEAT = 100_000
MAX_LAYERS = 1_000_000
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
# Names model.py's forward uses itself: an input (an argument of forward) must not shadow them.
_GENERATED_CODE_NAMES = frozenset({"torch", "nn", "F", "math", "super", "operator"})
_EACH_USE = ""  # the input_ref of a block parameter's default: the input of each use
_NO_INPUT = "\0"  # top level of a spec with `inputs:`: `input` names nothing there


@dataclass(frozen=True)
class LayerEntry:
    """One layer after expansion, before its arguments are validated."""

    name: str
    type: str  # canonical layer type
    inputs: tuple[str, ...]
    args: dict[str, Any]
    path: YPath  # the entry in the YAML
    args_path: YPath  # where its arguments were written
    primary_path: YPath | None  # set when the primary argument was written as a scalar
    trainable: bool = True
    notes: tuple[str, ...] = ()
    from_path: YPath | None = None  # where `from` was written, if it was
    # Some argument reads input.shape: `args` holds exprs.Deferred values (each knows which
    # tensor its `input` is), evaluated by the planner once that tensor's shape is known.
    deferred: bool = False


@dataclass
class Expanded:
    name: str
    description: str | None
    sections: dict[str, Any]  # input, data, train after ${...} substitution
    entries: list[LayerEntry]
    diagnostics: list[Diagnostic]
    outputs: tuple[str, ...] = ()  # qualified names of the model's outputs, in order


@dataclass
class _Block:
    params: dict[str, Any]
    layers: Any
    path: YPath


@dataclass
class _Scope:
    prefix: str
    input_ref: str
    values: Mapping[str, Any]
    parent: _Scope | None = None
    notes: tuple[str, ...] = ()
    names: dict[str, str] = field(default_factory=dict)
    reserved: set[str] = field(default_factory=set)
    counters: dict[str, int] = field(default_factory=dict)
    frozen: bool = False  # inside a block use or residual marked `trainable: false`
    # What `input` means here: the block's input, or the network's one `input:`; a spec with
    # named `inputs:` has no `input` at top level (each input goes by its own name).
    input_word: str | None = INPUT_NAME

    def lookup(self, local: str) -> str | None:
        scope: _Scope | None = self
        while scope is not None:
            if local in scope.names:
                return scope.names[local]
            if local == scope.input_word:
                return scope.input_ref
            scope = scope.parent
        return None

    def declared_later(self, local: str) -> bool:
        scope: _Scope | None = self
        while scope is not None:
            if local in scope.reserved and local not in scope.names:
                return True
            scope = scope.parent
        return False

    def visible(self) -> list[str]:
        out: list[str] = [INPUT_NAME] if self.has_input_word() else []
        scope: _Scope | None = self
        while scope is not None:
            out.extend(scope.names)
            scope = scope.parent
        return out

    def count_visible(self) -> int:
        return 1 + sum(len(scope.names) for scope in self.chain())

    def visible_tail(self, k: int) -> list[str]:
        """``visible()[-k:]`` without building the whole list (one per bad reference)."""
        tail: list[str] = []
        for scope in reversed(self.chain()):
            tail.extend(itertools.islice(reversed(scope.names), k - len(tail)))
            if len(tail) >= k:
                break
        if len(tail) < k and self.has_input_word():
            tail.append(INPUT_NAME)
        return tail[::-1]

    def has_input_word(self) -> bool:
        return any(scope.input_word for scope in self.chain())

    def chain(self) -> list[_Scope]:
        """This scope and its parents, innermost first."""
        out: list[_Scope] = []
        scope: _Scope | None = self
        while scope is not None:
            out.append(scope)
            scope = scope.parent
        return out


@dataclass
class _Form:
    word: str
    args: dict[str, Any]
    common: dict[str, Any]
    args_path: YPath
    primary_path: YPath | None
    common_paths: dict[str, YPath] = field(default_factory=dict)

    def at(self, key: str, entry_path: YPath) -> YPath:
        return self.common_paths.get(key, (*entry_path, key))


def expand(data: dict[str, Any], source: SourceMap, default_name: str) -> Expanded:
    return _Expander(data, source).run(default_name)


def _bind(value: Any, input_ref: str) -> Any:
    """A block parameter's default with its Deferred values bound to one use's input."""
    if isinstance(value, Deferred):
        return Deferred(value.text, value.values, input_ref, value.where)
    if isinstance(value, dict):
        return {k: _bind(v, input_ref) for k, v in value.items()}
    if isinstance(value, list):
        return [_bind(v, input_ref) for v in value]
    return value


def _explicit_name(item: Any) -> str | None:
    """The `name` an entry gives itself, in any spelling (for forward-reference messages)."""
    if not isinstance(item, dict):
        return None
    name = item.get("name")
    if name is None and len(item) == 1:
        (value,) = item.values()
        name = value.get("name") if isinstance(value, dict) else None
    return name if isinstance(name, str) else None


class _Expander:
    def __init__(self, data: dict[str, Any], source: SourceMap) -> None:
        self.data = data
        self.source = source
        self.diags: list[Diagnostic] = []
        self.entries: list[LayerEntry] = []
        self.blocks: dict[str, _Block] = {}
        self.vars: dict[str, Any] = {}
        self.block_stack: list[str] = []
        self.current_name: str | None = None  # the explicit name of the entry being read
        self.suggestions = Suggestions()
        self.type_guesses: dict[str, str | None] = {}  # a typo repeated n times: one guess
        self.deferrals = 0  # values kept as Deferred: none, and no entry is searched for one

    # -- diagnostics -------------------------------------------------------------------------
    def error(self, code: str, message: str, path: YPath, *, key: bool = False, **kw: Any) -> None:
        self.diags.append(self.source.attach(Diagnostic(code, message, path=path, **kw), key=key))

    # -- top level ---------------------------------------------------------------------------
    def run(self, default_name: str) -> Expanded:
        for key in self.data:
            if key not in TOP_LEVEL:
                self._unknown_top_level(key)
        self._load_vars()
        self._load_blocks()
        name = self.data.get("name", default_name)
        if not isinstance(name, str) or not name.strip():
            self.error(
                "invalid-value", "name must be a non-empty string", ("name",), received=repr(name)
            )
            name = default_name
        description = self.data.get("description")
        if description is not None and not isinstance(description, str):
            self.error("invalid-value", "description must be a string", ("description",))
            description = None
        sections: dict[str, Any] = {}
        for key in ("input", "inputs", "data", "train", "tune"):
            before = len(self.diags)
            value = self.interpolate(self.data.get(key), (key,), self.vars)
            if key in self.data and len(self.diags) == before:  # else: don't report it twice
                sections[key] = value
        input_names = self._input_names()
        written = "input" in self.data
        if input_names is not None:
            if written:
                self.error(
                    "invalid-value",
                    "give `input` (one input) or `inputs` (several, by name), not both",
                    ("inputs",),
                    key=True,
                )
        elif self.data.get("input") is None and (written or not self._misspelt("input")):
            # `input:` with nothing after it is null: as good as missing, but at its line.
            self.error(
                "missing-field",
                "`input` is empty: it is the per-sample input shape"
                if written
                else "the spec needs `input`: the per-sample input shape",
                ("input",) if written else (),
                key=written,
                hints=("e.g. `input: [1, 28, 28]` or `input: [784]`",),
            )
        layers = self.data.get("layers")
        if layers is None:
            if "layers" in self.data:  # `layers:` with nothing after it
                self.error(
                    "missing-field",
                    "`layers` is empty: it is the list of layer entries",
                    ("layers",),
                    key=True,
                )
            elif not self._misspelt("layers"):
                self.error("missing-field", "the spec needs `layers`: a list of layer entries", ())
        outputs: tuple[str, ...] = ()
        if layers is not None:
            names = input_names or [INPUT_NAME]
            # The first layer reads the first input by default; every input is a name `from`
            # can use (layer names may not repeat them).
            scope = _Scope(prefix="", input_ref=names[0], values=self.vars)
            if input_names is not None:
                scope.names.update((n, n) for n in input_names)
                scope.input_word = None
            last = self.run_list(layers, ("layers",), scope)
            outputs = self._outputs(scope, last)
        return Expanded(name, description, sections, self.entries, self.diags, outputs)

    def _input_names(self) -> list[str] | None:
        """The names of `inputs:` (None when the spec has a single `input:`)."""
        raw = self.data.get("inputs")
        if "inputs" not in self.data:
            return None
        if not isinstance(raw, dict) or not raw:
            self.error(
                "invalid-value",
                "inputs is a mapping of input names to shapes, e.g. "
                "{tokens: {shape: [T], dtype: int64}, segments: {shape: [T], dtype: int64}}",
                ("inputs",),
                key=raw is None,
            )
            return []
        names = []
        for key in raw:
            if not self._valid_input_name(key):
                continue
            names.append(key)
        return names

    def _valid_input_name(self, key: Any) -> bool:
        if key == INPUT_NAME:
            self.error(
                "invalid-name",
                "'input' names a spec's one input (`input:`); under `inputs:` give each input "
                "a name of its own",
                ("inputs", key),
                key=True,
            )
            return False
        bad = not usable_name(key) or key in _GENERATED_CODE_NAMES
        if bad:
            self.error(
                "invalid-name",
                f"{key!r} cannot name an input: it becomes an argument of the model's forward, "
                "so it must be an identifier that is not a Python keyword, does not start with "
                "'_', and is no attribute of a torch module",
                ("inputs", key),
                key=True,
            )
        return not bad

    def _outputs(self, scope: _Scope, last: str) -> tuple[str, ...]:
        """`outputs:` resolved like `from` (default: the last layer)."""
        if self.data.get("outputs") is None:
            return (last,)
        raw = self.interpolate(self.data["outputs"], ("outputs",), self.vars)
        self.current_name = None
        found = self.references(raw, ("outputs",), scope)
        if found and len(set(found)) != len(found):  # two spellings may name one layer
            twice = next(name for name in found if found.count(name) > 1)
            self.error("invalid-value", f"outputs names {twice!r} twice", ("outputs",))
        return found or (last,)

    def _misspelt(self, wanted: str) -> bool:
        """Whether an unknown top-level key was already reported as a typo of ``wanted``
        (or `networks`, reported as unsupported, stands in its place)."""
        return "networks" in self.data or any(
            k not in TOP_LEVEL and did_you_mean(str(k), TOP_LEVEL) == wanted for k in self.data
        )

    def _unknown_top_level(self, key: Any) -> None:
        if key == "networks":
            self.error(
                "unsupported",
                "this takes a spec of one network; a spec of several (`networks`) loads with "
                "netspec.spec.networks.load_any and plans with netspec.plan.plan_networks",
                (key,),
                key=True,
                hints=(
                    "every netspec command and netspec.build_model, netspec.train take both forms",
                ),
            )
            return
        guess = did_you_mean(str(key), TOP_LEVEL)
        self.error(
            "unknown-field",
            f"unknown top-level key {key!r}" + (f"; did you mean {guess!r}?" if guess else ""),
            (key,),
            key=True,
            expected=", ".join(TOP_LEVEL),
        )

    def _load_vars(self) -> None:
        raw = self.data.get("vars", {})
        if raw is None:
            return
        if not isinstance(raw, dict):
            self.error("invalid-value", "vars must be a mapping of names to values", ("vars",))
            return
        for key, value in raw.items():
            if not isinstance(key, str) or not _IDENT.match(key):
                self.error(
                    "invalid-value",
                    f"var name {key!r} is not an identifier",
                    ("vars", key),
                    key=True,
                )
                continue
            # A var may use the vars defined above it.
            # (self.vars holds exactly those while it is being filled; no copy per var,
            # which made a chain of n vars cost n^2)
            self.vars[key] = self.interpolate(value, ("vars", key), self.vars)

    def _load_blocks(self) -> None:
        raw = self.data.get("blocks", {})
        if raw is None:
            return
        if not isinstance(raw, dict):
            self.error(
                "invalid-value",
                "blocks must be a mapping of block names to definitions",
                ("blocks",),
            )
            return
        for bname, body in raw.items():
            path: YPath = ("blocks", bname)
            if not isinstance(bname, str) or not _IDENT.match(bname):
                self.error(
                    "invalid-value", f"block name {bname!r} is not an identifier", path, key=True
                )
                continue
            if registry.resolve(bname) is not None:
                self.error(
                    "invalid-value",
                    f"block name {bname!r} is already a layer type",
                    path,
                    key=True,
                    hints=("choose another name for the block",),
                )
                continue
            if not isinstance(body, dict):
                self.error(
                    "invalid-value", "a block is a mapping with `layers` (and `params`)", path
                )
                continue
            for key in body:
                if key not in ("params", "layers", "description"):
                    guess = did_you_mean(str(key), ("params", "layers", "description"))
                    self.error(
                        "unknown-field",
                        f"unknown block key {key!r}"
                        + (f"; did you mean {guess!r}?" if guess else ""),
                        (*path, key),
                        key=True,
                    )
            params = body.get("params") or {}
            if not isinstance(params, dict):
                self.error(
                    "invalid-value", "block params must be a mapping of defaults", (*path, "params")
                )
                params = {}
            defaults = {
                k: self.interpolate(v, (*path, "params", k), self.vars, _EACH_USE)
                for k, v in params.items()
            }
            if "layers" not in body:
                self.error("missing-field", f"block {bname!r} needs `layers`", path)
            self.blocks[bname] = _Block(defaults, body.get("layers"), path)

    # -- ${...} ------------------------------------------------------------------------------
    def interpolate(
        self, value: Any, path: YPath, scope: Mapping[str, Any], input_ref: str | None = None
    ) -> Any:
        """``value`` with its ``${...}`` substituted. ``input_ref``: the tensor `input` means
        here, for a value that reads ``input.shape`` (kept as a Deferred); None where values
        are needed before shapes are known (vars, sections, name, from, repeat)."""
        if isinstance(value, str) and has_reference(value):
            try:
                return substitute(value, scope, self.suggestions)
            except NeedsShape:
                return self._defer(value, path, scope, input_ref)
            except ExpressionError as exc:
                self._expression_error(exc, value, path)
                return value
        if isinstance(value, dict):
            return {k: self.interpolate(v, (*path, k), scope, input_ref) for k, v in value.items()}
        if isinstance(value, list):
            return [self.interpolate(v, (*path, i), scope, input_ref) for i, v in enumerate(value)]
        return value

    def _expression_error(self, exc: ExpressionError, value: str, path: YPath) -> None:
        self.error(
            exc.code, str(exc), path, received=repr(value), hints=(exc.hint,) if exc.hint else ()
        )

    def _defer(
        self, value: str, path: YPath, scope: Mapping[str, Any], input_ref: str | None
    ) -> Any:
        try:
            check(value, scope, self.suggestions)  # what can be checked now is reported now
        except ExpressionError as exc:
            self._expression_error(exc, value, path)
            return value
        if input_ref == _NO_INPUT:
            self.error(
                "bad-expression",
                f"{value!r} reads input.shape, but a spec with `inputs:` has no `input` at "
                "top level",
                path,
                hints=(
                    "input.shape reads a block's input: inside a block it means the tensor "
                    "the block is used on",
                ),
            )
            return value
        if input_ref is None:
            self.error(
                "bad-expression",
                f"{value!r} reads the input's sizes (input.shape), which are known only when "
                "shapes are inferred",
                path,
                hints=(
                    "input.shape can size a layer's arguments and a block's parameters, not "
                    "vars, input, data, train, name, from or repeat",
                ),
            )
            return value
        self.deferrals += 1
        return Deferred(value, scope, input_ref, path)

    # -- entries -----------------------------------------------------------------------------
    def run_list(self, raw: Any, path: YPath, scope: _Scope) -> str:
        if not isinstance(raw, list) or not raw:
            self.error(
                "invalid-value",
                "layers must be a non-empty list of layer entries",
                path,
                received=type(raw).__name__,
            )
            return scope.input_ref
        for item in raw:
            name = _explicit_name(item)
            if name is not None:
                scope.reserved.add(name)
        prev = scope.input_ref
        for i, item in enumerate(raw):
            prev = self.entry(item, (*path, i), scope, prev)
        return prev

    def entry(self, raw: Any, path: YPath, scope: _Scope, prev: str) -> str:
        form = self.normalize(raw, path)
        if form is None:
            return prev
        before = len(self.diags)
        common = (
            {k: self.interpolate(v, form.at(k, path), scope.values) for k, v in form.common.items()}
            if form.common
            else {}
        )
        if len(self.diags) > before:  # a bad ${...} in name, from, repeat: not its raw text too
            return prev
        repeat = common.get("repeat", 1)
        if isinstance(repeat, bool) or not isinstance(repeat, int) or not 1 <= repeat <= MAX_REPEAT:
            self.error(
                "invalid-value",
                f"repeat must be an integer from 1 to {MAX_REPEAT:,}",
                form.at("repeat", path),
                received=repr(repeat),
            )
            return prev
        name = common.get("name")
        if name is not None and (
            not isinstance(name, str) or not all(_IDENT.match(part) for part in name.split("."))
        ):
            self.error(
                "invalid-name",
                "a layer name must be an identifier (letters, digits, _), or dotted identifiers "
                "to nest it (`encoder.conv`)",
                form.at("name", path),
                received=repr(name),
            )
            return prev
        if name == INPUT_NAME:
            self.error(
                "invalid-name", "'input' is reserved for the network input", form.at("name", path)
            )
            return prev
        bad = (
            [
                part
                for part in (name or "").split(".")
                if part in RESERVED_NAMES or part.startswith("_") or keyword.iskeyword(part)
            ]
            if name is not None
            else []
        )
        if bad:
            self.error(
                "invalid-name",
                f"{bad[0]!r} cannot name a layer: it is a Python keyword, starts with '_', or is "
                "an attribute of every torch module",
                form.at("name", path),
                hints=(f"choose another name, e.g. {bad[0].strip('_') + '_layer'!r}",),
            )
            return prev
        trainable = common.get("trainable", True)
        if not isinstance(trainable, bool):
            self.error(
                "invalid-value", "trainable must be true or false", form.at("trainable", path)
            )
            trainable = True
        self.current_name = name
        raw_from = common.get("from")
        sources = (
            self.references(raw_from, form.at("from", path), scope) if raw_from is not None else ()
        )
        if sources is None:  # reported; carry on so later references to this layer resolve
            sources = ()
        if name is not None and repeat > 1 and name in scope.names:
            self.error(
                "duplicate-name", f"the name {name!r} is already used", form.at("name", path)
            )
            return prev
        for copy in range(repeat):
            local = f"{name}_{copy}" if name is not None and repeat > 1 else name
            inputs = sources if (sources and copy == 0) else (prev,)
            prev = self.one(form, local, inputs, path, scope, trainable, form.args)
        if name is not None and repeat > 1:
            scope.names.setdefault(name, prev)  # `from: name` means the last copy
        return prev

    def normalize(self, raw: Any, path: YPath) -> _Form | None:
        if isinstance(raw, str):
            return self._form(raw, {}, {}, path, None, path)
        if not isinstance(raw, dict):
            self.error(
                "bad-entry",
                "a layer entry is a name, a one-key mapping or {type: ...}",
                path,
                received=repr(raw),
                hints=("e.g. `- flatten`, `- dense: 64` or `- {type: dense, units: 64}`",),
            )
            return None
        if "type" in raw:
            rest = {k: v for k, v in raw.items() if k != "type"}
            common = {k: rest.pop(k) for k in COMMON_FIELDS if k in rest}
            if not isinstance(raw["type"], str):
                self.error("bad-entry", "type must be a layer type name", (*path, "type"))
                return None
            return self._form(raw["type"], rest, common, path, None, (*path, "type"))
        keys = [k for k in raw if k not in COMMON_FIELDS]
        if len(keys) != 1 or not isinstance(keys[0], str):
            found = ", ".join(repr(k) for k in keys) or "only common fields"
            self.error(
                "bad-entry",
                f"a layer entry needs exactly one layer type key; found {found}",
                path,
                hints=(
                    "write several arguments as `dense: {units: 64, bias: false}`"
                    " or use the explicit form `{type: dense, units: 64}`",
                ),
            )
            return None
        word = keys[0]
        common = {k: raw[k] for k in COMMON_FIELDS if k in raw}
        value = raw[word]
        vpath: YPath = (*path, word)
        if value is None:
            return self._form(word, {}, common, vpath, None, path, key=True)
        if isinstance(value, dict):
            args = dict(value)
            inner: dict[str, YPath] = {}
            for k in COMMON_FIELDS:
                if k in args:
                    if k in common:
                        self.error("duplicate-key", f"{k!r} is given twice", (*vpath, k), key=True)
                    common[k] = args.pop(k)
                    inner[k] = (*vpath, k)
            form = self._form(word, args, common, vpath, None, path, key=True)
            if form is not None:
                form.common_paths = inner
            return form
        return self._form(word, None, common, vpath, vpath, path, key=True, primary=value)

    def _form(
        self,
        word: str,
        args: dict[str, Any] | None,
        common: dict[str, Any],
        args_path: YPath,
        primary_path: YPath | None,
        type_path: YPath,
        *,
        key: bool = False,
        primary: Any = None,
    ) -> _Form | None:
        canonical = registry.resolve(word)
        if canonical is None and word not in self.blocks:
            variants = [f"{word}{n}d" for n in (1, 2, 3) if registry.resolve(f"{word}{n}d")]
            guess = self._type_guess(word)
            if variants:  # `maxpool`: which one depends on the number of spatial dims
                guess = "' or '".join(variants)
            self.error(
                "unknown-layer",
                f"unknown layer type {word!r}" + (f"; did you mean {guess!r}?" if guess else ""),
                type_path,
                key=key,
                received=repr(word),
                hints=()
                if guess
                else ("`netspec schema` or docs/reference.md lists the layer types",),
            )
            return None
        if args is None:
            lt = registry.get(canonical) if canonical else None
            if lt is None or lt.primary is None:
                what = f"layer {word!r}" if lt else f"block {word!r}"
                self.error(
                    "bad-entry",
                    f"{what} takes no primary argument",
                    args_path,
                    received=repr(primary),
                    hints=(f"write its arguments as a mapping: `{word}: {{...}}`",),
                )
                return None
            args = {lt.primary: primary}
        return _Form(word, args, common, args_path, primary_path)

    def _type_guess(self, word: str) -> str | None:
        if word not in self.type_guesses:
            words = registry.all_words()
            self.type_guesses[word] = self.suggestions.guess(
                word, len(words) + len(self.blocks), lambda: [*words, *self.blocks]
            )
        return self.type_guesses[word]

    def references(self, raw: Any, path: YPath, scope: _Scope) -> tuple[str, ...] | None:
        if raw is None:
            return ()
        if raw == []:
            word = next((part for part in reversed(path) if isinstance(part, str)), "from")
            self.error(
                "invalid-value",
                f"{word} needs at least one layer name",
                path,
                expected="a layer name, `input`, or a list of them",
            )
            return None
        names = raw if isinstance(raw, list) else [raw]
        out: list[str] = []
        for i, ref in enumerate(names):
            rpath = (*path, i) if isinstance(raw, list) else path
            if not isinstance(ref, str):
                self.error(
                    "invalid-value",
                    "from names a layer, `input`, or a list of them",
                    rpath,
                    received=repr(ref),
                )
                return None
            found = scope.lookup(ref)
            if found is None:
                if ref == self.current_name:
                    self.error(
                        "forward-reference", f"{ref!r} cannot take its own output as input", rpath
                    )
                elif scope.declared_later(ref):
                    self.error(
                        "forward-reference",
                        f"{ref!r} is defined later: references may only point backwards "
                        "(a forward reference would make a cycle)",
                        rpath,
                    )
                else:
                    guess = self.suggestions.guess(ref, scope.count_visible(), scope.visible)
                    where = "" if path[:1] == ("outputs",) else " before this one"
                    self.error(
                        "unknown-reference",
                        f"no layer named {ref!r}{where}"
                        + (f"; did you mean {guess!r}?" if guess else ""),
                        rpath,
                        expected="one of: " + ", ".join(scope.visible_tail(12)),
                        hints=(
                            ("a spec with `inputs:` has no `input`: name one of its inputs",)
                            if ref == INPUT_NAME and not scope.has_input_word()
                            else ()
                        ),
                    )
                return None
            out.append(found)
        return tuple(out)

    def one(
        self,
        form: _Form,
        local: str | None,
        inputs: tuple[str, ...],
        path: YPath,
        scope: _Scope,
        trainable: bool,
        raw_args: dict[str, Any],
    ) -> str:
        canonical = registry.resolve(form.word)
        kind = canonical or form.word
        if local is None:
            local = self._default_name(scope, kind)
        elif local in scope.names:
            self.error(
                "duplicate-name", f"the name {local!r} is already used", form.at("name", path)
            )
            return scope.names[local]
        qualified = scope.prefix + local
        trainable = trainable and not scope.frozen
        if canonical is None:
            out = self._block(form, qualified, inputs, path, scope, trainable)
        elif canonical == "residual":
            out = self._residual(form, qualified, inputs, path, scope, trainable)
        else:
            before = len(self.diags)
            input_ref = scope.input_ref if scope.has_input_word() else _NO_INPUT
            args = self.interpolate(raw_args, form.args_path, scope.values, input_ref)
            if len(self.diags) > before:  # a bad ${...}: don't also report its raw text
                scope.names[local] = qualified
                return qualified
            layer_type = registry.get(canonical)
            if layer_type.reference_inputs:
                args, inputs = self._reference_inputs(
                    layer_type.reference_inputs, args, inputs, form, scope
                )
            if layer_type.layer_references:
                args = self._layer_references(layer_type.layer_references, args, form, scope)
            if len(self.diags) > before:  # a bad reference: its inputs are incomplete
                scope.names[local] = qualified
                return qualified
            # Only specs that defer anything pay for the search (a block parameter may hold
            # a Deferred inside a list, so the counter alone does not say which entry).
            deferred = self.deferrals > 0 and contains_deferred(args)
            from_path = form.at("from", path) if "from" in form.common else None
            if len(self.entries) >= MAX_LAYERS:
                raise SpecError(
                    [
                        *self.diags,
                        self.source.attach(
                            Diagnostic(
                                "invalid-value",
                                f"the spec expands to more than {MAX_LAYERS:,} layers",
                                path=path,
                            )
                        ),
                    ]
                )
            self.entries.append(
                LayerEntry(
                    qualified,
                    canonical,
                    inputs,
                    args,
                    path,
                    form.args_path,
                    form.primary_path,
                    trainable,
                    scope.notes,
                    from_path,
                    deferred,
                )
            )
            out = qualified
        scope.names[local] = out
        return out

    def _layer_references(
        self, fields: tuple[str, ...], args: dict[str, Any], form: _Form, scope: _Scope
    ) -> dict[str, Any]:
        """Arguments that name a layer (dense's `tie`) hold its qualified name afterwards."""
        resolved = dict(args)
        for field_name in fields:
            value = args.get(field_name)
            if not isinstance(value, str):
                continue  # absent, null, or not a name: the config reports a wrong type
            found = self.references(value, (*form.args_path, field_name), scope)
            if found:
                resolved[field_name] = found[0]
        return resolved

    def _reference_inputs(
        self,
        fields: tuple[str, ...],
        args: dict[str, Any],
        inputs: tuple[str, ...],
        form: _Form,
        scope: _Scope,
    ) -> tuple[dict[str, Any], tuple[str, ...]]:
        """Arguments that name a layer (center_crop's `like`) become extra inputs, in order."""
        args = dict(args)
        extra: list[str] = []
        for field_name in fields:
            if field_name not in args:
                continue
            value = args.pop(field_name)
            path = (*form.args_path, field_name)
            if not isinstance(value, str):
                self.error(
                    "invalid-value",
                    f"{field_name} names one earlier layer",
                    path,
                    received=repr(value),
                )
                continue
            found = self.references(value, path, scope)
            extra.extend(found or ())
        return args, (*inputs, *extra)

    def _default_name(self, scope: _Scope, kind: str) -> str:
        k = scope.counters.get(kind, 0)
        name = f"{kind}_{k}"
        while name in scope.reserved or name in scope.names:
            k += 1
            name = f"{kind}_{k}"
        scope.counters[kind] = k + 1
        return name

    def _residual(
        self,
        form: _Form,
        qualified: str,
        inputs: tuple[str, ...],
        path: YPath,
        scope: _Scope,
        trainable: bool,
    ) -> str:
        if len(inputs) > 1:
            self.error("invalid-value", "residual takes one input", form.at("from", path))
            return qualified
        extra = [k for k in form.args if k not in ("layers", "drop_path")]
        for k in extra:
            self.error(
                "unknown-field",
                f"residual takes only `layers` and `drop_path`, not {k!r}",
                (*form.args_path, k),
                key=True,
            )
        rate_path = (*form.args_path, "drop_path")
        rate = self.interpolate(form.args.get("drop_path", 0.0), rate_path, scope.values)
        body = form.args.get("layers")
        body_path = form.primary_path or (*form.args_path, "layers")
        if not isinstance(body, list) or not body:
            self.error(
                "invalid-value",
                "residual needs its body: a non-empty list of layer entries",
                body_path if "layers" in form.args else form.args_path,
                hints=("e.g. `- residual: [{dense: 64}, relu]`",),
            )
            return qualified
        child = _Scope(
            prefix=qualified + ".",
            input_ref=inputs[0],
            values=scope.values,
            parent=scope,
            notes=scope.notes,
            frozen=not trainable,
        )
        last = self.run_list(body, body_path, child)
        # Stochastic depth is its own layer at the end of the body, as timm writes
        # `x + drop_path(f(x))`: the sum stays a plain function (a module named after the
        # residual would collide with the body's submodules under that name). Only a valid
        # rate gets one; ResidualConfig reports any other value at its line.
        if isinstance(rate, (int, float)) and not isinstance(rate, bool) and 0 < rate < 1:
            drop = qualified + "." + self._default_name(child, "drop_path")
            self.entries.append(
                LayerEntry(
                    drop,
                    "drop_path",
                    (last,),
                    {"rate": rate},
                    rate_path,
                    rate_path,
                    None,
                    trainable,
                    scope.notes,
                )
            )
            last = drop
        self.entries.append(
            LayerEntry(
                qualified,
                "residual",
                (inputs[0], last),
                {"layers": tuple(body or ()), "drop_path": rate},
                path,
                form.args_path,
                None,
                trainable,
                scope.notes,
            )
        )
        return qualified

    def _block(
        self,
        form: _Form,
        qualified: str,
        inputs: tuple[str, ...],
        path: YPath,
        scope: _Scope,
        trainable: bool,
    ) -> str:
        block = self.blocks[form.word]
        if form.word in self.block_stack:
            chain = " -> ".join([*self.block_stack, form.word])
            self.error("block-cycle", f"block {form.word!r} uses itself ({chain})", path)
            return qualified
        # The block's own values in front of the vars, not a copy of every var per use (n
        # uses of a block in a spec of n vars was n^2); reads and key order are a dict's.
        values: ChainMap[str, Any] = ChainMap(dict(block.params), self.vars)
        if self.deferrals:  # a default that reads input.shape reads this use's input
            for key, default in block.params.items():
                if contains_deferred(default):
                    values[key] = _bind(default, inputs[0])
        for key, value in form.args.items():
            if key not in block.params:
                guess = self.suggestions.guess(str(key), len(block.params), lambda: block.params)
                self.error(
                    "unknown-field",
                    f"block {form.word!r} has no parameter {key!r}"
                    + (f"; did you mean {guess!r}?" if guess else ""),
                    (*form.args_path, key),
                    key=True,
                    expected=", ".join(block.params) or "no parameters",
                )
                continue
            # A value passed to a parameter is read as the block reads it: its `input` is
            # the block's input, what flows into this use.
            values[key] = self.interpolate(value, (*form.args_path, key), scope.values, inputs[0])
        line = self.source.locate(path).line
        note = f"in block {form.word!r} used at {format_path(path)}" + (
            f" (line {line})" if line else ""
        )
        child = _Scope(
            prefix=qualified + ".",
            input_ref=inputs[0],
            values=values,
            parent=scope,
            notes=(*scope.notes, note),
            frozen=not trainable,
        )
        if len(inputs) > 1:
            self.error("invalid-value", "a block takes one input", form.at("from", path))
            return qualified
        self.block_stack.append(form.word)
        try:
            out = self.run_list(block.layers, (*block.path, "layers"), child)
        finally:
            self.block_stack.pop()
        # Later layers may name a layer inside this block instance: `from: block_0.conv2d_0`.
        local = qualified[len(scope.prefix) :]
        for inner, target in child.names.items():
            scope.names.setdefault(f"{local}.{inner}", target)
        return out
