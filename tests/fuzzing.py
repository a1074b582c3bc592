"""A seeded mutation fuzzer for the spec path: mutate real specs, load, plan and render them.

Seeds are the specs in specs/ and every ```yaml block of README.md and docs/*.md. A mutant is
one seed changed by one to three mutations, on the parsed tree (delete, duplicate or swap keys
and items, values replaced by null, empty containers, huge or negative numbers, floats,
strings holding control characters, other layer types, broken `from` references, deep
nesting, YAML merge keys, anchors and aliases) or on the text (lines dropped, duplicated,
swapped or cut short, indentation changed, characters inserted).

Each mutant goes through ``load_spec``, ``plan``, ``warnings``, both summaries and both graph
formats. The standing rule: anything but a SpecError is a netspec bug. A run also flags
text that would reach a terminal with a control character in it, and mutants slower than
``SLOW_SECONDS``.

tests/test_fuzz.py runs a small budget on every test run; ``benchmarks/fuzz.py`` runs a large
one and prints the counts by outcome.
"""

from __future__ import annotations

import copy
import json
import math
import random
import re
import signal
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from netspec.errors import SpecError
from netspec.layers import registry
from netspec.plan import network_warnings, plan, plan_networks, warnings
from netspec.render.graph import dot, mermaid, networks_dot, networks_mermaid
from netspec.render.summary import (
    networks_summary_json,
    networks_summary_text,
    summary_json,
    summary_text,
)
from netspec.spec.networks import Networks, load_any

ROOT = Path(__file__).resolve().parent.parent
YAML_BLOCK = re.compile(r"```yaml\n(.*?)```", re.S)
SLOW_SECONDS = 1.0
TIMEOUT_SECONDS = 20.0  # a mutant still running then is stopped (where signals allow)
# What may reach a terminal: no C0/C1 control character but newline and tab, no bidi override.
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028-\u202e\u2066-\u2069\ud800-\udfff]")
LIMIT = 10**18  # the plan's bound on parameters, MACs and elements (netspec.plan)

WEIRD_STRINGS = [
    "\x1b[2J\x1b[31mred",
    "\u202eevil",
    "a\x00b",
    "tab\there",
    "\x9b31m",
    "line\u2028break",
    "\ud800",
    "${x}",
    "${1 // 0}",
    "${" + "9" * 99 + "}",
    "<<",
    "",
    " ",
    "input",
    "é" * 3,
]
HUGE = [2**48, 2**48 + 1, 2**63, 10**18 + 1, 10**30, int("9" * 100), 2**31]
SCALARS: list[Any] = [
    None,
    {},
    [],
    "",
    0,
    -1,
    1,
    True,
    1.5,
    -0.0,
    1e308,
    math.inf,
    math.nan,
    "relu",
    *HUGE,
    *WEIRD_STRINGS,
]


@dataclass(frozen=True)
class Raw:
    """Text emitted as it is (a merge key's value, an alias, an anchored node)."""

    text: str


@dataclass
class Outcome:
    kind: str  # "ok", "spec-error", "bug", "unescaped", "slow"
    seconds: float
    detail: str = ""


@dataclass
class Report:
    counts: dict[str, int] = field(default_factory=dict)
    findings: list[tuple[str, str, str]] = field(default_factory=list)  # (kind, mutant, detail)

    def add(self, mutant: str, outcome: Outcome) -> None:
        self.counts[outcome.kind] = self.counts.get(outcome.kind, 0) + 1
        if outcome.kind not in ("ok", "spec-error"):
            self.findings.append((outcome.kind, mutant, outcome.detail))


# Specs of several networks, which specs/ (built and drawn one network at a time by other
# tests) does not hold: a GAN with its training options and an optimizer per network,
# spectrally normalized, and a variational autoencoder of an encoder and a decoder.
NETWORK_SEEDS = (
    (
        "seed#gan",
        """
name: conv_gan
vars: {z: 16, width: 8}
blocks:
  down:
    params: {filters: 8}
    layers:
      - conv2d: {filters: "${filters}", kernel_size: 3, stride: 2, padding: 1,
                 spectral_norm: true, activation: leaky_relu}
networks:
  generator:
    input: ["${z}"]
    layers:
      - dense: {units: "${width * 16}", activation: relu}
      - reshape: ["${width}", 4, 4]
      - conv_transpose2d: {filters: 1, kernel_size: 4, stride: 2, padding: 1, activation: tanh}
  discriminator:
    input: [1, 8, 8]
    layers:
      - down: {filters: 8}
      - flatten
      - dense: {units: 1, spectral_norm: true}
data: {source: digits}
train:
  task: gan
  epochs: 3
  batch_size: 64
  loss: {type: hinge}
  optimizer:
    generator: {type: adam, lr: 2.0e-4, betas: [0.5, 0.999]}
    discriminator: {type: adam, lr: 4.0e-4}
  gan: {d_steps: 2, ema: 0.999, samples_every: 1}
""",
    ),
    (
        "seed#vae",
        """
name: moons_vae
networks:
  encoder:
    input: [2]
    layers:
      - dense: {units: 32, activation: relu, name: hidden}
      - dense: {units: 2, name: mean, from: hidden}
      - dense: {units: 2, name: log_var, from: hidden}
      - reparameterize: {from: [mean, log_var], name: z}
    outputs: [z, mean, log_var]
  decoder:
    input: [2]
    layers:
      - dense: {units: 32, activation: relu, spectral_norm: true}
      - dense: 2
data: {source: moons}
train: {task: autoencoder, epochs: 2, kl: {beta: 0.5, warmup_epochs: 1}, optimizer: adamw}
""",
    ),
)


# Language models (task language_model) on each problem source: docs/data.md holds the text
# and reverse examples, which seeds() reads with the other docs.
LANGUAGE_SEEDS = (
    (
        "seed#arithmetic",
        """
name: arithmetic_gru
input: {shape: [12], dtype: int64}
layers:
  - embedding: {num_embeddings: 16, embedding_dim: 32}
  - gru: {hidden_size: 64, return_sequences: true}
  - dense: 16
data: {source: arithmetic, digits: 3, operations: [+, "-"], samples: 5000, reverse_answer: true}
train: {task: language_model, epochs: 2}
""",
    ),
    (
        "seed#copy",
        """
name: copy_lm
input: {shape: [T], dtype: int64}
layers:
  - embedding: {num_embeddings: 13, embedding_dim: 16}
  - lstm: {hidden_size: 32, return_sequences: true}
  - dense: 13
data: {source: copy, length: 6, vocab_size: 10, samples: 500, split: {val: 0.2, test: 0}}
train: {task: language_model, epochs: 1}
""",
    ),
)


def seeds(root: Path = ROOT) -> list[tuple[str, str]]:
    """(label, YAML text) of every spec in specs/ and every YAML block of the docs.

    Only the files directly in specs/: the gallery in specs/zoo/ (hundreds of layers each)
    is tested by tests/test_zoo.py and would only slow the mutants down."""
    specs = sorted((root / "specs").glob("*.yaml"))
    found = [(p.name, p.read_text(encoding="utf-8")) for p in specs]
    for doc in [*sorted((root / "docs").glob("*.md")), root / "README.md"]:
        blocks = YAML_BLOCK.findall(doc.read_text(encoding="utf-8"))
        found += [(f"{doc.name}#{i}", block) for i, block in enumerate(blocks)]
    return found + list(NETWORK_SEEDS) + list(LANGUAGE_SEEDS)


# --- emitting YAML -----------------------------------------------------------------------


def emit(value: Any) -> str:
    """Flow-style YAML for a tree that may hold :class:`Raw` nodes and any key or value."""
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_key(k)}: {emit(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(emit(v) for v in value) + "]"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return ".nan"
        if math.isinf(value):
            return ".inf" if value > 0 else "-.inf"
        return repr(value)
    if isinstance(value, int):
        return str(value)
    return _quoted(str(value))


def _key(key: Any) -> str:
    if isinstance(key, Raw):
        return key.text
    return emit(key) if not isinstance(key, str) else _quoted(key)


def _quoted(text: str) -> str:
    """A YAML double-quoted scalar; every non-printable character as an escape."""
    out = []
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch.isprintable() and ord(ch) < 0x10000:
            out.append(ch)
        elif ord(ch) < 0x100:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) < 0x10000:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    return '"' + "".join(out) + '"'


# --- mutations on the tree -----------------------------------------------------------------


def _nodes(tree: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    yield path, tree
    if isinstance(tree, dict):
        for k, v in tree.items():
            yield from _nodes(v, (*path, k))
    elif isinstance(tree, list):
        for i, v in enumerate(tree):
            yield from _nodes(v, (*path, i))


def _get(tree: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        tree = tree[part]
    return tree


def _set(tree: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    _get(tree, path[:-1])[path[-1]] = value
    return tree


def _containers(tree: Any, kind: type) -> list[tuple[tuple[Any, ...], Any]]:
    return [(p, n) for p, n in _nodes(tree) if isinstance(n, kind) and n]


def _random_value(rng: random.Random) -> Any:
    roll = rng.random()
    if roll < 0.75:
        return rng.choice(SCALARS)
    if roll < 0.85:
        return [rng.choice(SCALARS) for _ in range(rng.randint(1, 4))]
    if roll < 0.92:
        return {rng.choice(["units", "from", "name", "repeat", "x"]): rng.choice(SCALARS)}
    return rng.choice(registry.all_words())


def _replace_value(tree: Any, rng: random.Random) -> Any:
    path, _ = rng.choice(list(_nodes(tree)))
    return _set(tree, path, _random_value(rng))


def _delete(tree: Any, rng: random.Random) -> Any:
    found = _containers(tree, dict) + _containers(tree, list)
    if not found:
        return tree
    _, node = rng.choice(found)
    if isinstance(node, dict):
        del node[rng.choice(list(node))]
    else:
        del node[rng.randrange(len(node))]
    return tree


def _duplicate(tree: Any, rng: random.Random) -> Any:
    found = _containers(tree, list)
    if found:
        _, node = rng.choice(found)
        i = rng.randrange(len(node))
        node.insert(i, copy.deepcopy(node[i]))
    return tree


def _swap(tree: Any, rng: random.Random) -> Any:
    found = _containers(tree, dict) + _containers(tree, list)
    if not found:
        return tree
    _, node = rng.choice(found)
    keys = list(node) if isinstance(node, dict) else list(range(len(node)))
    a, b = rng.choice(keys), rng.choice(keys)
    node[a], node[b] = node[b], node[a]
    return tree


def _rename_key(tree: Any, rng: random.Random) -> Any:
    found = _containers(tree, dict)
    if not found:
        return tree
    _, node = rng.choice(found)
    old = rng.choice(list(node))
    new = rng.choice(
        [str(old)[:-1], str(old) + "s", str(old).upper(), "", "<<", rng.choice(WEIRD_STRINGS)]
    )
    items = [(new if k == old else k, v) for k, v in node.items()]
    node.clear()
    node.update(items)
    return tree


def _layer_lists(tree: Any) -> list[list[Any]]:
    return [n for p, n in _nodes(tree) if isinstance(n, list) and p and p[-1] == "layers"]


def _change_type(tree: Any, rng: random.Random) -> Any:
    lists = [lst for lst in _layer_lists(tree) if lst]
    if not lists:
        return tree
    layers = rng.choice(lists)
    i = rng.randrange(len(layers))
    entry = layers[i]
    word = rng.choice([*registry.all_words(), "residual", "repeat", "block", "Dense", "conv2"])
    if isinstance(entry, dict) and entry:
        first = next(iter(entry))
        layers[i] = {(word if k == first else k): v for k, v in entry.items()}
    else:
        layers[i] = word
    return tree


def _break_from(tree: Any, rng: random.Random) -> Any:
    mappings = [n for _, n in _nodes(tree) if isinstance(n, dict)]
    targets = [m for m in mappings if "from" in m] or mappings
    if targets:
        rng.choice(targets)["from"] = rng.choice(
            ["nowhere", "input", [], ["input", "input"], ["a", "b"], None, 3, "\x1b[2J"]
        )
    return tree


def _deep(tree: Any, rng: random.Random) -> Any:
    """A value nested hundreds or thousands of levels deep (as text: no recursion here)."""
    path, _ = rng.choice(list(_nodes(tree)))
    depth = rng.choice([50, 500, 3000])
    opener, closer = rng.choice([("[", "]"), ("{a: ", "}")])
    return _set(tree, path, Raw(opener * depth + emit(rng.choice(SCALARS)) + closer * depth))


def _merge_key(tree: Any, rng: random.Random) -> Any:
    found = _containers(tree, dict) or [((), tree)]
    _, node = rng.choice(found)
    if not isinstance(node, dict):
        return tree
    value = rng.choice(
        ["5", "null", "[]", "{}", "[1, 2]", '"text"', "{units: 3}", "[{a: 1}, 2]", "{<<: 1}"]
    )
    items = [(Raw("<<"), Raw(value)), *node.items()]
    if rng.random() < 0.5:
        items.reverse()
    node.clear()
    node.update(items)
    return tree


def _anchor_alias(tree: Any, rng: random.Random) -> Any:
    """Anchor a node and refer to it from elsewhere: an alias, or a merge of the anchor."""
    nodes = [(p, n) for p, n in _nodes(tree) if p]
    if len(nodes) < 2:
        return tree
    (src_path, src), (dst_path, _) = rng.choice(nodes), rng.choice(nodes)
    if dst_path[: len(src_path)] == src_path:
        return tree  # a node cannot be replaced inside itself
    _set(tree, src_path, Raw("&a " + emit(src)))
    if rng.random() < 0.5:
        _set(tree, dst_path, Raw("*a"))
    else:
        holder = _get(tree, dst_path[:-1])
        if isinstance(holder, dict):
            holder[Raw("<<")] = Raw("*a")
        else:
            _set(tree, dst_path, Raw("*a"))
    return tree


TREE_MUTATIONS: list[Callable[[Any, random.Random], Any]] = [
    _replace_value,
    _replace_value,
    _replace_value,
    _delete,
    _delete,
    _duplicate,
    _swap,
    _rename_key,
    _change_type,
    _change_type,
    _break_from,
    _deep,
    _merge_key,
    _anchor_alias,
]


# --- mutations on the text ------------------------------------------------------------------


def _text_mutation(text: str, rng: random.Random) -> str:
    lines = text.splitlines()
    if not lines:
        return rng.choice(WEIRD_STRINGS)
    i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
    roll = rng.randrange(7)
    if roll == 0:
        del lines[i]
    elif roll == 1:
        lines.insert(i, lines[i])
    elif roll == 2:
        lines[i], lines[j] = lines[j], lines[i]
    elif roll == 3:
        return text[: rng.randrange(len(text) + 1)]
    elif roll == 4:
        lines[i] = " " * rng.choice([1, 2, 3, 8]) + lines[i]
    elif roll == 5:
        at = rng.randrange(len(lines[i]) + 1)
        piece = rng.choice([":", "-", "[", "{", "&x ", "*x", "<<: ", "\t", "#", '"', "!!str "])
        lines[i] = lines[i][:at] + piece + lines[i][at:]
    else:
        lines[i] = re.sub(r"\d+", lambda _: str(rng.choice(HUGE)), lines[i])
    return "\n".join(lines) + "\n"


def mutate(text: str, rng: random.Random) -> str:
    """One mutant of a seed: one to three mutations of the parsed tree, or one of the text."""
    if rng.random() < 0.25:
        return _text_mutation(text, rng)
    tree = yaml.safe_load(text)
    for _ in range(rng.choice([1, 1, 2, 3])):
        tree = rng.choice(TREE_MUTATIONS)(tree, rng)
    return emit(tree) + "\n"


# --- running one mutant --------------------------------------------------------------------


class TimedOut(BaseException):
    """Raised in a mutant that runs past TIMEOUT_SECONDS (a BaseException, so that no
    ``except Exception`` in netspec takes it for an error of its own)."""


def _alarm(signum: int, frame: object) -> None:
    raise TimedOut


def check(text: str) -> Outcome:
    """Load, plan and render one spec text; classify what happened."""
    timer = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    if timer:
        previous = signal.signal(signal.SIGALRM, _alarm)
        signal.setitimer(signal.ITIMER_REAL, TIMEOUT_SECONDS)
    start = time.perf_counter()
    try:
        kind, detail = _run(text)
    except SpecError as exc:
        rendered = exc.render()
        bad = CONTROL.search(rendered)
        kind, detail = ("unescaped", rendered) if bad else ("spec-error", "")
    except TimedOut:
        kind, detail = "slow", f"stopped after {TIMEOUT_SECONDS:.0f} s"
    except Exception:
        kind, detail = "bug", traceback.format_exc(limit=-4)
    finally:
        if timer:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
    seconds = time.perf_counter() - start
    if kind in ("ok", "spec-error") and seconds > SLOW_SECONDS:
        kind, detail = "slow", f"{seconds:.2f} s"
    return Outcome(kind, seconds, detail)


def _run(text: str) -> tuple[str, str]:
    loaded = load_any(text)
    if isinstance(loaded, Networks):
        return _run_networks(loaded)
    spec = loaded
    p = plan(spec)
    shown = [d.render() for d in warnings(spec, p)]
    batch = spec.train.batch_size if spec.train is not None else 1  # as `netspec summary`
    shown += [summary_text(p, batch), mermaid(p), dot(p)]
    encoded = json.dumps(summary_json(p, batch))
    for number in (p.total_params, p.macs, *(layer.params for layer in p.layers)):
        if isinstance(number, int) and not 0 <= number <= LIMIT:
            return "bug", f"a count of {number} passed the plan"
    for piece in shown:
        if CONTROL.search(piece):
            return "unescaped", piece
    return ("ok" if encoded else "bug"), ""


def _run_networks(nets: Networks) -> tuple[str, str]:
    """A spec of several networks through what takes it: plans, warnings, both summaries,
    both graph formats."""
    plans = plan_networks(nets)
    shown = [d.render() for d in network_warnings(nets, plans)]
    batch = nets.train.batch_size if nets.train is not None else 1
    shown.append(networks_summary_text(nets.name, plans, batch))
    shown += [networks_mermaid(nets.name, plans), networks_dot(nets.name, plans)]
    encoded = json.dumps(networks_summary_json(nets.name, plans, batch))
    for piece in shown:
        if CONTROL.search(piece):
            return "unescaped", piece
    return ("ok" if encoded else "bug"), ""


# The commands that print a spec's words; JSON output escapes them by itself.
CLI_COMMANDS = (("validate",), ("summary",), ("graph", "--format", "dot"))


def check_cli(text: str, folder: Path) -> Outcome:
    """The same mutant through the commands that print it: exit 0 or 2, nothing unescaped."""
    from typer.testing import CliRunner

    from netspec.cli.app import app

    spec = folder / "mutant.yaml"
    # surrogatepass: a lone surrogate becomes bytes that are not UTF-8, which is reported
    spec.write_text(text, encoding="utf-8", errors="surrogatepass")
    start = time.perf_counter()
    for command in CLI_COMMANDS:
        # color=True: off a terminal click strips ANSI sequences from what it echoes, which
        # would hide an unescaped ESC [ ... that a terminal would obey.
        result = CliRunner().invoke(app, [*command, str(spec)], color=True)
        shown = result.stdout + result.stderr
        if result.exit_code not in (0, 2) or "internal error" in shown:
            return Outcome("bug", time.perf_counter() - start, f"{command}: {shown[-2000:]}")
        if CONTROL.search(shown):
            return Outcome("unescaped", time.perf_counter() - start, f"{command}: {shown}")
    return Outcome("ok", time.perf_counter() - start)


def run(
    budget: int,
    seed: int,
    on_mutant: Callable[[int, str, Outcome], None] | None = None,
    corpus: Sequence[tuple[str, str]] | None = None,
) -> Report:
    """``budget`` mutants, deterministic for a ``seed``; seeds (default :func:`seeds`) are
    taken in turn."""
    rng = random.Random(seed)
    corpus = corpus or seeds()
    report = Report()
    for n in range(budget):
        _, text = corpus[n % len(corpus)]
        mutant = mutate(text, rng)
        outcome = check(mutant)
        report.add(mutant, outcome)
        if on_mutant is not None:
            on_mutant(n, mutant, outcome)
    return report


def run_cli(budget: int, seed: int, folder: Path) -> Report:
    """``budget`` mutants through the CLI (slower: three commands each), in ``folder``."""
    rng = random.Random(seed)
    corpus = seeds()
    report = Report()
    for n in range(budget):
        _, text = corpus[n % len(corpus)]
        mutant = mutate(text, rng)
        report.add(mutant, check_cli(mutant, folder))
    return report


SWEEP_VALUES: list[Any] = [None, {}, [], "", 0, -1, 1.5, True, "text", [None], 10**30]


def sweep(root: Path = ROOT) -> Iterator[str]:
    """Every node of every seed replaced in turn by each of SWEEP_VALUES (null, empty
    containers, wrong scalar types, a huge int): deterministic, and exhaustive where the
    random mutants are not."""
    for _, text in seeds(root):
        paths = [path for path, _ in _nodes(yaml.safe_load(text))]
        for path in paths:
            for value in SWEEP_VALUES:
                tree = yaml.safe_load(text)
                yield emit(_set(tree, path, copy.deepcopy(value))) + "\n"
