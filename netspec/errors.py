"""Diagnostics: user mistakes that point into the YAML.

A :class:`SpecError` carries one or more :class:`Diagnostic`; the CLI prints them and exits 2.
Anything else that escapes is a netspec bug, never blamed on the user. :class:`ExitCode` is
every exit status the CLI and the ``--devices`` launcher use (docs/cli.md's table is
generated from it).
"""

from __future__ import annotations

import difflib
import enum
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace

YPath = tuple[str | int, ...]

ERROR_CODES: dict[str, str] = {
    "file-not-found": "the spec file does not exist or cannot be read",
    "yaml-syntax": "the file is not valid YAML (or not UTF-8)",
    "empty-spec": "the file holds no YAML document",
    "not-a-mapping": "the top level is a list or a scalar instead of a mapping",
    "unsafe-tag": "a YAML tag such as !!python/object: refused, never constructed",
    "duplicate-key": "the same key appears twice in one mapping",
    "unknown-field": "a key that the section, layer or block does not take (with did-you-mean)",
    "missing-field": "a required key is absent",
    "invalid-value": "a value of the wrong type or out of range",
    "unsupported": "a spec form this command does not take yet: several networks (`networks`) "
    "outside validate, summary and build_model",
    "bad-entry": "a layer entry that is none of the four spellings",
    "unknown-layer": "a layer type that is neither registered nor a block (with did-you-mean)",
    "invalid-name": "a layer name that is not an identifier, or is reserved",
    "duplicate-name": "two layers with the same name",
    "unknown-reference": "`from` names no earlier layer (with did-you-mean)",
    "forward-reference": "`from` names a later layer: references only point backwards",
    "wrong-inputs": "a layer given the wrong number of inputs in `from`",
    "unknown-var": "${...} names no var or block parameter (with did-you-mean)",
    "bad-expression": "${...} uses syntax outside the safe arithmetic subset",
    "block-cycle": "a block that uses itself, directly or through other blocks",
    "shape": "a layer cannot take the shape it receives; names the layer and both shapes",
    "budget": "the model has more parameters than the allowed budget",
    "too-large": "a size, parameter count or MAC count past netspec's limits (2**48 per "
    "dimension; 10**18 parameters, MACs or elements): a typo, never a model",
    "missing-extra": "an optional feature needs a package that is not installed",
    "cannot-write": "an output file or directory cannot be written",
    "unused-layer": "(warning) a layer whose output feeds nothing: computed, then discarded",
    "padding-dropped": "(warning) a layer that honours padding gets a tensor computed from a "
    "padded input through a layer that dropped the mask",
    "unused-input": "(warning) a model input (of `inputs:`) that no layer reads and no output "
    "returns",
    "runtime-check": "(warning) a limit only the running model can check, such as a symbolic "
    "sequence length against positional_encoding's max_len",
    "tied-init": "(warning) a layer tied to an embedding that starts N(0, 1) (no `init_std`): "
    "its first outputs are about sqrt(embedding_dim) large",
    "not-causal": "a language model's layer lets a position see later tokens (attention "
    "without `causal: true`, a bidirectional recurrent layer, or found by the check at the "
    "start of training)",
    "data": "the training data cannot be used: a missing data file or column, NaN or "
    "non-numeric values, labels that do not fit the task, samples that cannot take `input`",
}
"""Every diagnostic code, with what it means (docs/errors.md is generated from this)."""


class ExitCode(enum.IntEnum):
    """The exit status of a ``netspec`` command (and of the ``--devices`` launcher)."""

    OK = 0
    INTERNAL_ERROR = 1
    USER_ERROR = 2
    DIVERGED = 3
    PEER_LOST = 4
    INTERRUPTED = 130  # 128 + SIGINT, the shell's convention for Ctrl-C

    @property
    def description(self) -> str:
        return _EXIT_CODE_DESCRIPTIONS[self]


_EXIT_CODE_DESCRIPTIONS = {
    ExitCode.OK: "success (the spec is valid)",
    ExitCode.INTERNAL_ERROR: "an internal error: a netspec bug",
    ExitCode.USER_ERROR: "a user mistake: the spec (schema, names, shapes, budget), the data, "
    "a run directory or checkpoint, or the command line (missing file, unknown option)",
    ExitCode.DIVERGED: "`train`: the loss became NaN or infinite; the last good checkpoint is kept",
    ExitCode.PEER_LOST: "`train`, one of several processes: another process failed, so this one "
    "stopped (the resume command is printed)",
    ExitCode.INTERRUPTED: "`train`: interrupted with Ctrl-C or SIGTERM; a checkpoint was saved "
    "and the resume command printed",
}

SIGNAL_EXIT_BASE = 128
"""A process killed by signal N exits with 128 + N (the shell's rule, which the launcher
follows for a killed worker: 137 for SIGKILL)."""
SIGNAL_EXIT_DESCRIPTION = (
    "`train --devices`: a worker process was killed by signal N (e.g. 137 for SIGKILL); "
    "resume from the last checkpoint"
)


def killed_by_signal(signum: int) -> int:
    """The exit status that reports a process killed by signal ``signum``."""
    return SIGNAL_EXIT_BASE + signum


# What a terminal would act on instead of showing: C0 and C1 controls but newline and tab
# (ESC starts the sequences that clear a screen or retitle a window), DEL, the line and
# paragraph separators, bidirectional overrides (text shown in another order than it is),
# invisible format characters (not the joiners that emoji and some scripts need), and lone
# surrogates (which no encoding can write).
_UNPRINTABLE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u180e\u200b\u200e\u200f\u2028-\u202e"
    "\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\ud800-\udfff]"
)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    """``text`` safe to print to a terminal: control characters shown as escapes (``\\x1b``).

    Everything netspec prints that may hold user text (diagnostics, the summary, graph labels,
    the CLI's messages) goes through here, so a spec cannot move the cursor, clear the screen
    or reorder what is shown.
    """
    return _UNPRINTABLE.sub(_escape, text)


def format_path(path: YPath) -> str:
    """``("layers", 3, "conv2d", "kernel_size")`` -> ``layers[3].conv2d.kernel_size``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out or "<top level>"


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """The closest valid name, if one is close enough to be a likely typo."""
    options = sorted(set(choices))
    matches = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    if not matches:
        lowered = {o.lower(): o for o in options}
        matches = difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=0.6)
        matches = [lowered[m] for m in matches]
    return matches[0] if matches else None


MAX_SHOWN = 50
"""Diagnostics the CLI prints for one spec; the count of the others follows them."""

SUGGESTION_BUDGET = 50_000
"""Names one spec's did-you-means may compare against, in all: a few seconds at most."""


class Suggestions:
    """:func:`did_you_mean` for many mistakes in one spec, in linear time.

    Each guess compares the word with every choice, so n bad references to n layer names
    would cost n^2 comparisons (20,000 of them took minutes). Guesses are made in file
    order until ``budget`` names have been compared; later mistakes are still reported,
    without a guess. A spec with a few mistakes never comes near the budget.
    """

    def __init__(self, budget: int | None = None) -> None:
        self.left = SUGGESTION_BUDGET if budget is None else budget
        self.compared = 0  # names compared so far (tests count them)

    def guess(self, word: str, size: int, choices: Callable[[], Iterable[str]]) -> str | None:
        """The closest of ``choices()`` (``size`` names, built only when within budget)."""
        return did_you_mean(word, choices()) if self.spend(size) else None

    def spend(self, size: int) -> bool:
        """Whether work on ``size`` more names is within budget (then it is counted)."""
        if size > self.left:
            self.left = 0  # the guesses stop here: none after a mistake that got none
            return False
        self.left -= size
        self.compared += size
        return True


@dataclass(frozen=True)
class Location:
    file: str | None = None
    line: int | None = None  # 1-based
    col: int | None = None  # 1-based

    def __str__(self) -> str:
        parts = [self.file or ("<spec>" if self.line is not None else "netspec")]
        if self.line is not None:
            parts.append(str(self.line))
            if self.col is not None:
                parts.append(str(self.col))
        return ":".join(parts)


@dataclass(frozen=True)
class Diagnostic:
    code: str
    message: str
    path: YPath | None = None
    location: Location = field(default_factory=Location)
    received: str | None = None
    expected: str | None = None
    hints: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    snippet: str | None = None  # the offending YAML line with a caret under it
    severity: str = "error"  # or "warning": reported, but the spec is still valid

    def __post_init__(self) -> None:
        if self.code not in ERROR_CODES:
            raise netspec_bug(f"diagnostic code {self.code!r} is not in ERROR_CODES")

    def located(self, location: Location, snippet: str | None) -> Diagnostic:
        return replace(self, location=location, snippet=snippet)

    def render(self) -> str:
        where = f"{format_path(self.path)}: " if self.path else ""
        lines = [f"{self.location}: {self.severity}[{self.code}]: {where}{self.message}"]
        if self.received is not None:
            lines.append(f"  received: {self.received}")
        if self.expected is not None:
            lines.append(f"  expected: {self.expected}")
        lines.extend(f"  note: {n}" for n in self.notes)
        lines.extend(f"  hint: {h}" for h in self.hints)
        if self.snippet:
            lines.append(self.snippet)
        return printable("\n".join(lines))

    def to_json(self) -> dict[str, object]:
        return {
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
            "path": format_path(self.path) if self.path is not None else None,
            "file": self.location.file,
            "line": self.location.line,
            "column": self.location.col,
            "received": self.received,
            "expected": self.expected,
            "hints": list(self.hints),
            "notes": list(self.notes),
        }


class SpecError(Exception):
    """One or more user mistakes in a spec (``ExitCode.USER_ERROR`` in the CLI)."""

    def __init__(self, diagnostics: Sequence[Diagnostic]) -> None:
        self.diagnostics = tuple(diagnostics)
        super().__init__()

    def __str__(self) -> str:
        # Rendered when asked for, not when raised: the CLI prints a capped render() of
        # what may be 100,000 diagnostics, and never needs this full text.
        return "\n".join(d.render() for d in self.diagnostics)

    def __reduce__(self) -> tuple[type[SpecError], tuple[tuple[Diagnostic, ...]]]:
        return (type(self), (self.diagnostics,))

    @classmethod
    def single(cls, code: str, message: str, **kwargs: object) -> SpecError:
        return cls([Diagnostic(code, message, **kwargs)])  # type: ignore[arg-type]

    def render(self, limit: int | None = None) -> str:
        """Every diagnostic, or the first ``limit`` and a line saying how many more there are
        (a terminal is no place for 50,000 of them; `validate --json` lists them all)."""
        n = len(self.diagnostics)
        shown = self.diagnostics if limit is None else self.diagnostics[: max(limit, 0)]
        text = "\n\n".join(d.render() for d in shown)
        if len(shown) < n:
            text += f"\n\nand {n - len(shown):,} more"
        tail = f"\n{n:,} error{'s' if n != 1 else ''} found" if n > 1 else ""
        return text + tail


class ShapeError(Exception):
    """Raised by a layer's shape rule; the planner adds the layer name and YAML position."""

    def __init__(
        self,
        message: str,
        *,
        received: str | None = None,
        expected: str | None = None,
        hint: str | None = None,
        field: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.received = received
        self.expected = expected
        self.hint = hint
        self.field = field


def netspec_bug(message: str) -> RuntimeError:
    return RuntimeError(f"netspec bug: {message} (please report it with the spec that caused it)")
