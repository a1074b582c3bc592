"""Validation stays linear in the size of the spec, with or without libyaml.

Counted operations, not wall-clock times: did-you-mean comparisons, splits of the source
text, copies of the vars; the timings themselves are in benchmarks/validation_speed.py.
"""

from __future__ import annotations

import difflib
import gc
import pathlib
import random
from typing import Any

import pytest
from typer.testing import CliRunner

from netspec import errors
from netspec.cli.app import app
from netspec.errors import Diagnostic, Location, SpecError, Suggestions
from netspec.spec import expand as expand_module
from netspec.spec import load as load_module
from netspec.spec import source
from netspec.spec.expand import _Scope
from netspec.spec.load import load_spec

ROOT = pathlib.Path(__file__).parent.parent
SPEC_FILES = sorted({*ROOT.glob("specs/**/*.yaml"), *ROOT.glob("tests/bad_specs/*.yaml")}, key=str)


def _refuse(text: str) -> SpecError:
    with pytest.raises(SpecError, match="error") as info:
        load_spec(text)
    return info.value


@pytest.fixture
def compared(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts every name difflib compares a word with, over all did-you-means."""
    counts: list[int] = []
    real = difflib.get_close_matches

    def counting(word: str, possibilities: Any, *args: Any, **kwargs: Any) -> list[str]:
        options = list(possibilities)
        counts.append(len(options))
        return real(word, options, *args, **kwargs)

    monkeypatch.setattr(errors.difflib, "get_close_matches", counting)
    return counts


def _bad_refs(n: int) -> str:
    """n layers, each taking a misspelt name of the one before it (`dense0` for `dense_0`)."""
    body = "".join(f"  - {{dense: 8, from: dense{i}}}\n" for i in range(n))
    return f"input: [8]\nlayers:\n  - dense: 8\n{body}"


def test_bad_references_compare_a_bounded_number_of_names(
    compared: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(errors, "SUGGESTION_BUDGET", 5_000)
    small, large = 100, 400  # without the budget: ~5,000 and ~80,000 names compared
    assert len(_refuse(_bad_refs(small)).diagnostics) == small
    at_small = sum(compared)
    compared.clear()
    exc = _refuse(_bad_refs(large))
    assert len(exc.diagnostics) == large
    # did_you_mean may look twice (as written, then lowercased): at most 2x the budget.
    assert sum(compared) <= 2 * 5_000
    assert at_small <= sum(compared)
    # The first mistakes still get their guess; the last ones are reported without one.
    assert exc.diagnostics[0].message.endswith("did you mean 'dense_0'?")
    assert exc.diagnostics[50].message.endswith("did you mean 'dense_50'?")
    assert "did you mean" not in exc.diagnostics[-1].message
    assert exc.diagnostics[-1].expected is not None
    assert exc.diagnostics[-1].expected == "one of: " + ", ".join(
        f"dense_{i}" for i in range(large - 12, large)
    )


def test_a_repeated_unknown_type_is_guessed_once(compared: list[int]) -> None:
    body = "  - dnese: 8\n" * 300
    exc = _refuse(f"input: [8]\nlayers:\n{body}")
    assert len(exc.diagnostics) == 300
    assert all("did you mean 'dense'?" in d.message for d in exc.diagnostics)
    assert len(compared) <= 2  # once as written, at most once lowercased


def test_suggestions_stop_at_the_budget_and_never_restart() -> None:
    suggest = Suggestions(budget=10)
    assert suggest.guess("dens", 5, lambda: ["dense", "relu", "a", "b", "c"]) == "dense"
    assert suggest.guess("dens", 6, lambda: ["dense"] * 6) is None  # over what is left
    assert suggest.guess("dens", 1, lambda: ["dense"]) is None  # smaller, but too late
    assert suggest.compared == 5


class _CountingText(str):
    """Source text that counts how often it is split into lines."""

    splits = 0

    def splitlines(self, keepends: bool = False) -> list[str]:
        type(self).splits += 1
        return super().splitlines(keepends)


def test_source_lines_are_split_once_for_all_diagnostics() -> None:
    body = "".join(f"  - dense: -{i + 1}\n" for i in range(200))
    text = f"input: [8]\nlayers:\n{body}"
    doc = source.parse(text, "many.yaml")
    doc.source.text = _CountingText(text)
    _CountingText.splits = 0
    diags = [
        doc.source.attach(Diagnostic("invalid-value", "bad", path=("layers", i, "dense")))
        for i in range(200)
    ]
    assert _CountingText.splits == 1
    assert diags[199].snippet is not None
    assert diags[199].snippet.startswith(" 202 |   - dense: -200")


def test_vars_are_not_copied_per_var(monkeypatch: pytest.MonkeyPatch) -> None:
    scopes: set[int] = set()
    real = expand_module._Expander.interpolate

    def spy(self: Any, value: Any, path: Any, scope: Any, *rest: Any) -> Any:
        if path[:1] == ("vars",):
            scopes.add(id(scope))
        return real(self, value, path, scope, *rest)

    monkeypatch.setattr(expand_module._Expander, "interpolate", spy)
    chain = "".join(f"  v{i}: ${{v{i - 1} + 1}}\n" for i in range(1, 300))
    spec = load_spec(f"vars:\n  v0: 1\n{chain}input: [8]\nlayers:\n  - dense: ${{v299}}\n")
    assert spec.layers[0].config.units == 300  # type: ignore[attr-defined]
    assert len(scopes) == 1  # one growing scope, not one copy per var (n^2)


def test_visible_tail_is_the_end_of_visible() -> None:
    rng = random.Random(7)
    for _ in range(200):
        scope: _Scope | None = None
        for depth in range(rng.randint(1, 4)):
            scope = _Scope(prefix=f"s{depth}.", input_ref="input", values={}, parent=scope)
            for _ in range(rng.randint(0, 6)):
                scope.names[f"n{rng.randint(0, 9)}"] = "x"
        assert scope is not None
        k = rng.randint(1, 14)
        assert scope.visible_tail(k) == scope.visible()[-k:]
        assert scope.count_visible() == len(scope.visible())


def _diagnostics(n: int) -> SpecError:
    return SpecError(
        [
            Diagnostic("invalid-value", f"bad {i}", location=Location("a.yaml", i + 1, 1))
            for i in range(n)
        ]
    )


def test_render_caps_the_count_printed() -> None:
    assert _diagnostics(5).render(2) == (
        "a.yaml:1:1: error[invalid-value]: bad 0\n\n"
        "a.yaml:2:1: error[invalid-value]: bad 1\n\n"
        "and 3 more\n"
        "5 errors found"
    )
    assert _diagnostics(3).render(3) == _diagnostics(3).render()
    assert "more" not in _diagnostics(3).render(3)
    assert _diagnostics(1500).render(1).endswith("and 1,499 more\n1,500 errors found")


def test_cli_prints_at_most_max_shown_diagnostics(tmp_path: pathlib.Path) -> None:
    n = errors.MAX_SHOWN + 7
    spec = tmp_path / "many.yaml"
    spec.write_text(
        "input: [8]\nlayers:\n" + "".join(f"  - dense: -{i + 1}\n" for i in range(n)),
        encoding="utf-8",
    )
    result = CliRunner().invoke(app, ["validate", str(spec)])
    assert result.exit_code == 2
    assert result.stderr.count("error[invalid-value]") == errors.MAX_SHOWN
    assert result.stderr.endswith(f"\n\nand 7 more\n{n} errors found\n")
    as_json = CliRunner().invoke(app, ["validate", "--json", str(spec)])
    assert as_json.exit_code == 2
    assert as_json.stdout.count('"code": "invalid-value"') == n  # JSON lists every one


def test_cli_prints_at_most_max_shown_warnings(tmp_path: pathlib.Path) -> None:
    # Every dense but the last reads the input: all of them are unused (a warning each).
    n = errors.MAX_SHOWN + 3
    spec = tmp_path / "unused.yaml"
    spec.write_text(
        "input: [8]\nlayers:\n" + "  - dense: {units: 2, from: input}\n" * (n + 1),
        encoding="utf-8",
    )
    for command in ("validate", "summary", "graph"):
        result = CliRunner().invoke(app, [command, str(spec)])
        assert result.exit_code == 0, result.output
        assert result.stderr.count("warning[unused-layer]") == errors.MAX_SHOWN, command
        assert result.stderr.endswith("and 3 more warnings\n"), command
    as_json = CliRunner().invoke(app, ["validate", "--json", str(spec)])
    assert as_json.stdout.count('"code": "unused-layer"') == n  # JSON lists every one


def _outcome(text: str, file: str) -> tuple[Any, ...]:
    try:
        doc = source.parse(text, file)
    except SpecError as exc:
        return ("refused", exc.render())
    return ("parsed", doc.data, doc.source.values, doc.source.keys)


def _validated(path: pathlib.Path) -> str:
    try:
        return load_spec(path).model_dump_json()
    except SpecError as exc:
        return exc.render()


@pytest.mark.parametrize("path", SPEC_FILES, ids=lambda p: p.name)
def test_libyaml_and_pure_loader_agree_on_spec_files(
    path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not yaml_has_libyaml():
        pytest.skip("PyYAML was built without libyaml")
    text = path.read_text(encoding="utf-8")
    fast = _outcome(text, str(path)), _validated(path)
    monkeypatch.setattr(source, "_Loader", source._PureLoader)
    assert (_outcome(text, str(path)), _validated(path)) == fast


MALFORMED = [
    "a: [1, 2\nb: 3\n",
    "a: {x: 1\nb: 2\n",
    "a:\n  - 1\n  b: 2\n",
    "a:\n  b: 1\n c: 2\n",
    "a: b: c\n",
    "a:\n\t- 1\n",
    "- a\nb: 1\n",
    "a: 'x\n",
    "a: *nope\n",
    "&a a: &a b\n",
    "%YAML 1.1\n%YAML 1.1\n---\na: 1\n",
    "a: [1, 2]]\n",
    "]\n",
    "a: 1\na: 2\n",
    "a: !!python/object:os.system x\n",
    "input: [8]\nlayers:\n  - dense: 0o17\n  - dense: 0x1F\n  - dense: 1e3\n  - relu: ~\n",
]


@pytest.mark.parametrize("text", MALFORMED)
def test_libyaml_and_pure_loader_agree_on_malformed_yaml(
    text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not yaml_has_libyaml():
        pytest.skip("PyYAML was built without libyaml")
    fast = _outcome(text, "t.yaml")
    monkeypatch.setattr(source, "_Loader", source._PureLoader)
    assert _outcome(text, "t.yaml") == fast


def yaml_has_libyaml() -> bool:
    return source._Loader is not source._PureLoader and "CSafeLoader" in {
        c.__name__ for c in source._Loader.__mro__
    }


def test_unknown_vars_among_many_vars_stop_hinting_at_the_budget(
    compared: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(errors, "SUGGESTION_BUDGET", 5_000)
    n = 300  # each hint looks at all 300 vars twice: 8 hints fit in the budget
    names = "".join(f"  value{i}: {i}\n" for i in range(n))
    layers = "".join(f"  - dense: ${{value{i}x}}\n" for i in range(n))
    exc = _refuse(f"vars:\n{names}input: [8]\nlayers:\n{layers}")
    assert len(exc.diagnostics) == n
    assert exc.diagnostics[0].hints == ("did you mean 'value0'?",)
    assert exc.diagnostics[7].hints == ("did you mean 'value7'?",)
    assert exc.diagnostics[8].hints == ()
    assert exc.diagnostics[-1].message == f"unknown name 'value{n - 1}x' in ${{value{n - 1}x}}"
    assert sum(compared) <= 2 * 5_000


def test_equal_arguments_share_one_config_and_types_keep_them_apart() -> None:
    spec = load_spec("input: [8]\nlayers:\n  - dense: 8\n  - relu\n  - dense: 8\n  - relu\n")
    assert spec.layers[0].config is spec.layers[2].config
    assert spec.layers[1].config is spec.layers[3].config
    # `true` and `1` are equal (and hash alike) in Python; only `true` is a bool here.
    exc = _refuse(
        "input: [8]\nlayers:\n  - dense: {units: 8, bias: true}\n  - dense: {units: 8, bias: 1}\n"
    )
    assert [d.path for d in exc.diagnostics] == [("layers", 1, "dense", "bias")]


def test_the_collector_is_paused_while_loading_and_restored(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[bool] = []
    real = expand_module.expand

    def spy(*args: Any) -> Any:
        seen.append(gc.isenabled())
        return real(*args)

    monkeypatch.setattr(load_module, "expand", spy)
    assert gc.isenabled()
    load_spec("input: [8]\nlayers: [dense: 8]\n")
    assert seen == [False]
    assert gc.isenabled()
    gc.disable()
    try:
        with pytest.raises(SpecError, match="unknown layer type"):
            load_spec("input: [8]\nlayers: [dnese: 8]\n")
        assert not gc.isenabled()  # a caller that turned it off keeps it off
    finally:
        gc.enable()


def test_a_long_line_is_clipped_around_the_caret() -> None:
    keys = ", ".join(f"k{i}: 1" for i in range(2_000))
    exc = _refuse(f"input: [8]\nlayers:\n  - dense: {{units: 8, {keys}}}\n")
    assert len(exc.diagnostics) == 2_000
    middle = next(d for d in exc.diagnostics if d.path == ("layers", 0, "dense", "k1000"))
    assert middle.snippet is not None
    shown, caret = middle.snippet.split("\n")
    assert shown.startswith("   3 | ...")
    assert shown.endswith("...")
    assert len(shown) == len("   3 | ") + 3 + source.SNIPPET_WIDTH + 3
    assert shown[caret.index("^") :].startswith("k1000: 1")
    assert source._clip("short: 1", 3) == ("short: 1", 3)
