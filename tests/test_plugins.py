"""Layer plugins (netspec/layers/plugins.py): an installed package's layers work like built-ins.

The example plugin, tests/plugin_example/ (the package netspec_swish and its dist-info), is
"installed" by putting that folder on sys.path, where importlib.metadata finds its entry
points. Every test that loads a plugin does so through the ``fresh`` fixture, which drops the
plugin layers from the registry afterwards: other tests (the conformance tests iterate over
every registered layer) never see them.
"""

from __future__ import annotations

import importlib
import json
import os
import pathlib
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator

import jsonschema
import pytest
import torch
from oracle import check
from safetensors.torch import load_file

import netspec
from netspec.backend.artifacts import build_directory
from netspec.backend.build import module_class
from netspec.backend.eject import model_source
from netspec.layers import PluginWarning, plugins, registry
from netspec.render.schema import spec_schema
from netspec.render.summary import summary_text

ROOT = pathlib.Path(__file__).parent.parent
EXAMPLE = pathlib.Path(__file__).parent / "plugin_example"
SPEC = "name: tiny\ninput: [4]\nlayers:\n  - dense: 3\n  - swish: 0.5\n"


@pytest.fixture
def fresh(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[None]:
    """Plugins reloaded on the next registry query (from this test's sys.path), and dropped
    again, with the plugin modules they imported, when the test ends."""
    monkeypatch.delenv(plugins.DISABLE_ENV, raising=False)
    plugins.unload()
    yield
    plugins.unload()
    homes = (EXAMPLE, tmp_path_factory.getbasetemp())
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if file and any(pathlib.Path(file).is_relative_to(home) for home in homes):
            del sys.modules[name]


@pytest.fixture
def swish(fresh: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """The example plugin, installed."""
    monkeypatch.syspath_prepend(str(EXAMPLE))


def _install(root: pathlib.Path, dist: str, module: str, entry: str, source: str) -> None:
    """Write a one-module distribution with one netspec.layers entry point under ``root``."""
    (root / module).mkdir(parents=True)
    (root / module / "__init__.py").write_text(textwrap.dedent(source), encoding="utf-8")
    info = root / f"{dist}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n", encoding="utf-8"
    )
    (info / "entry_points.txt").write_text(f"[netspec.layers]\n{entry}\n", encoding="utf-8")


# A plugin module that registers an activation-like layer under a chosen word.
_LAYER_SOURCE = """
from netspec.layers.registry import Call, Inferred, LayerConfig, LayerType


class Config(LayerConfig):
    pass


def make(name, aliases=()):
    return LayerType(
        name=name,
        config=Config,
        infer=lambda cfg, inputs: Inferred(inputs[0]),
        module=lambda cfg, inputs: Call("nn.Identity"),
        aliases=aliases,
        family="activation",
        summary="a test layer",
    )
"""


# --- the example plugin, used like a built-in ---------------------------------------------


@pytest.mark.usefixtures("swish")
def test_plan_gives_the_plugin_layers_shape_and_parameters() -> None:
    p = netspec.plan(SPEC)
    layer = p.layers[1]
    assert (layer.name, layer.type, layer.out.shape, layer.params) == ("swish_0", "swish", (3,), 1)
    assert layer.config.beta == 0.5  # the primary argument
    assert p.total_params == 15 + 1
    alias = netspec.plan("input: [2, 5]\nlayers:\n  - learned_swish\n")
    assert alias.layers[0].type == "swish"
    assert alias.layers[0].out.shape == (2, 5)


@pytest.mark.usefixtures("swish")
def test_plugin_errors_point_into_the_yaml_like_built_ins() -> None:
    where = r"3:19: error\[invalid-value\]: layers\[0\]\.swish\.beta"
    with pytest.raises(netspec.SpecError, match=where):
        netspec.load_spec("input: [4]\nlayers:\n  - swish: {beta: fast}\n")
    with pytest.raises(netspec.SpecError, match="swish needs a floating-point input"):
        netspec.plan("input: {shape: [4], dtype: int64}\nlayers:\n  - swish\n")


@pytest.mark.usefixtures("swish")
@pytest.mark.parametrize("example", [0, 1])
def test_the_plugin_examples_match_torch(example: int) -> None:
    """The conformance oracle works on a plugin's layers too (a plugin author's test)."""
    layer = registry.get("swish")
    ex = layer.examples[example]
    check("swish", ex.args, ex.in_shape, ex.dtype)


@pytest.mark.usefixtures("swish")
def test_the_json_schema_describes_the_plugin_layer() -> None:
    schema = spec_schema()
    assert "swish_value" in schema["$defs"]
    spec = {"input": [4], "layers": [{"swish": 0.5}, {"learned_swish": {"beta": 2.0}}]}
    jsonschema.validate(spec, schema)
    with pytest.raises(jsonschema.ValidationError, match="is not valid under any"):
        jsonschema.validate({"input": [4], "layers": [{"swish": {"gamma": 1}}]}, schema)


@pytest.mark.usefixtures("swish")
def test_the_summary_has_a_row_for_the_plugin_layer() -> None:
    text = summary_text(netspec.plan(SPEC), 1)
    row = next(line for line in text.splitlines() if "swish_0" in line)
    assert row.split() == ["2", "swish_0", "swish", "(N,", "3)", "(N,", "3)", "1", "0"]
    assert "Total params:         16" in text


@pytest.mark.usefixtures("swish")
def test_build_model_runs_the_plugin_module() -> None:
    model = netspec.build_model(SPEC, seed=0)
    swish = model.get_submodule("swish_0")
    assert type(swish).__module__ == "netspec_swish.modules"
    assert [n for n, _ in swish.named_parameters()] == ["beta"]
    assert sum(p.numel() for p in model.parameters()) == 16
    x = torch.randn(5, 4)
    dense = model.get_submodule("dense_0")
    h = x @ dense.weight.T + dense.bias  # by hand: dense, then h * sigmoid(0.5 h)
    torch.testing.assert_close(model(x), h * torch.sigmoid(0.5 * h))
    model(x).sum().backward()
    assert swish.beta.grad is not None  # beta is learned


@pytest.mark.usefixtures("swish")
def test_ejected_model_py_imports_the_plugin_class_and_runs(tmp_path: pathlib.Path) -> None:
    out = tmp_path / "build"
    build_directory(netspec.load_spec(SPEC), out, seed=0)
    source = (out / "model.py").read_text(encoding="utf-8")
    assert "from netspec_swish.modules import Swish\n" in source
    assert "self.swish_0 = Swish(beta=0.5)" in source
    assert "class Swish" not in source  # imported, not copied
    assert "layer plugin package(s) netspec_swish installed" in source
    x = torch.linspace(-2, 2, 12).reshape(3, 4)
    torch.save(x, tmp_path / "x.pt")
    script = (
        "import sys, torch\n"
        "from safetensors.torch import load_file\n"
        f"sys.path.insert(0, {str(out)!r})\n"
        "from model import Tiny\n"
        "model = Tiny()\n"
        f"model.load_state_dict(load_file({str(out / 'model.safetensors')!r}))\n"
        f"torch.save(model(torch.load({str(tmp_path / 'x.pt')!r})), {str(tmp_path / 'y.pt')!r})\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(EXAMPLE), str(ROOT)])}
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=False
    )
    assert proc.returncode == 0, proc.stderr
    state = load_file(str(out / "model.safetensors"))
    assert state["swish_0.beta"].item() == 0.5
    h = x @ state["dense_0.weight"].T + state["dense_0.bias"]
    torch.testing.assert_close(torch.load(tmp_path / "y.pt"), h * torch.sigmoid(0.5 * h))


def test_validate_with_a_plugin_never_imports_torch(tmp_path: pathlib.Path) -> None:
    spec = tmp_path / "tiny.yaml"
    spec.write_text(SPEC, encoding="utf-8")
    code = (
        "import sys\nfrom netspec.cli.app import main\n"
        f"try:\n    main(['validate', '--json', {str(spec)!r}])\n"
        "except SystemExit as e:\n    assert not e.code, e.code\n"
        "bad = sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.'))\n"
        "assert not bad, bad[:5]\n"
        "assert 'netspec_swish' in sys.modules\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(EXAMPLE)])}
    env.pop(plugins.DISABLE_ENV, None)
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.splitlines()[0])["valid"] is True
    assert proc.stderr == ""  # no plugin warning


# --- what a spec can never do --------------------------------------------------------------


@pytest.mark.usefixtures("swish")
@pytest.mark.parametrize(
    "entry",
    [
        "os.system",
        "netspec_swish.modules:Swish",
        "{type: 'netspec_swish.modules:Swish'}",
        "{'netspec_swish:SWISH': {}}",
        "{type: 'torch.nn:Linear', units: 3}",
    ],
)
def test_a_spec_cannot_name_a_python_object(entry: str) -> None:
    with pytest.raises(netspec.SpecError, match=r"error\[unknown-layer\]: .*unknown layer type"):
        netspec.load_spec(f"input: [4]\nlayers:\n  - {entry}\n")


@pytest.mark.usefixtures("swish")
def test_module_targets_are_imported_only_from_loaded_plugins() -> None:
    assert module_class("netspec_swish.modules:Swish").__name__ == "Swish"
    with pytest.raises(RuntimeError, match="'os:system' belongs to no loaded layer plugin"):
        module_class("os:system")
    with pytest.raises(RuntimeError, match=r"netspec-swish 0\.1: module target .* not an nn"):
        module_class("netspec_swish:SwishConfig")
    with pytest.raises(RuntimeError, match=r"cannot import 'netspec_swish\.nothing'"):
        module_class("netspec_swish.nothing:Swish")


# --- loading policy ------------------------------------------------------------------------


@pytest.mark.usefixtures("swish")
def test_netspec_no_plugins_disables_them(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(plugins.DISABLE_ENV, "1")
    assert registry.resolve("swish") is None
    assert plugins.loaded() == ()
    with pytest.raises(netspec.SpecError, match="unknown layer type 'swish'"):
        netspec.load_spec(SPEC)


@pytest.mark.usefixtures("swish")
def test_unload_leaves_no_trace_in_the_registry() -> None:
    built_ins = set(registry.all_words())
    assert {"swish", "learned_swish"} <= built_ins
    plugins.unload()
    importlib.invalidate_caches()
    sys.path.remove(str(EXAMPLE))  # (monkeypatch puts it back for its own undo)
    try:
        assert not {"swish", "learned_swish"} & set(registry.all_words())
        assert plugins.loaded() == ()
    finally:
        sys.path.insert(0, str(EXAMPLE))


@pytest.mark.usefixtures("fresh")
def test_a_plugin_that_clashes_with_a_built_in_is_refused_whole(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = _LAYER_SOURCE + "LAYERS = [make('fancy'), make('dense2', aliases=('linear',))]\n"
    _install(tmp_path, "clashing", "clashing_layers", "mine = clashing_layers:LAYERS", source)
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.warns(
        PluginWarning,
        match=r"layer plugin 'mine' \(mine = clashing_layers:LAYERS\) of distribution "
        r"clashing 1\.0 registers 'linear', which already names the built-in layer 'dense' "
        r"\(a plugin never replaces a layer\); it is skipped \(set NETSPEC_NO_PLUGINS=1",
    ):
        registry.all_layers()
    assert registry.get("linear").name == "dense"
    assert registry.get("linear").module is not None
    assert registry.get("linear").module.__module__ == "netspec.layers.dense"
    assert registry.resolve("fancy") is None  # nothing of the refused entry point loaded
    assert plugins.loaded() == ()


@pytest.mark.usefixtures("fresh")
def test_between_two_plugins_the_first_distribution_keeps_the_word(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for dist in ("alpha", "beta"):
        source = _LAYER_SOURCE + f"LAYER = make('shared', aliases=('{dist}_only',))\n"
        _install(tmp_path, dist, f"{dist}_layers", f"shared = {dist}_layers:LAYER", source)
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.warns(
        PluginWarning,
        match=r"of distribution beta 1\.0 registers 'shared', which already names the layer "
        r"'shared' of distribution alpha 1\.0",
    ):
        assert registry.resolve("alpha_only") == "shared"
    assert registry.resolve("beta_only") is None
    assert [p.distribution for p in plugins.loaded()] == ["distribution alpha 1.0"]


@pytest.mark.usefixtures("fresh")
def test_a_plugin_that_fails_to_import_is_skipped_with_a_warning(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _install(tmp_path, "broken", "broken_layers", "bad = broken_layers:LAYERS", "import nowhere\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.warns(
        PluginWarning,
        match=r"layer plugin 'bad' \(bad = broken_layers:LAYERS\) of distribution broken 1\.0 "
        r"failed to import \(ModuleNotFoundError: No module named 'nowhere'\)",
    ):
        p = netspec.plan("input: [4]\nlayers:\n  - dense: 2\n")
    assert p.total_params == 10  # the other layers still work


@pytest.mark.usefixtures("fresh")
@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("LAYERS = make", "names function, not a LayerType or a tuple or list of them"),
        ("LAYERS = []", "names list, not a LayerType"),
        ("LAYERS = make('os.system')", "'os.system', which is not a snake_case word"),
        ("LAYERS = make('Swish')", "'Swish', which is not a snake_case word"),
        ("LAYERS = (make('twice'), make('twice'))", "registers 'twice' twice"),
    ],
)
def test_a_plugin_that_names_anything_but_well_formed_layers_is_skipped(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, value: str, problem: str
) -> None:
    name = f"odd_layers_{abs(hash(value))}"
    _install(tmp_path, "odd", name, f"odd = {name}:LAYERS", _LAYER_SOURCE + value + "\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.warns(PluginWarning, match=problem):
        words = registry.all_words()
    assert "twice" not in words
    assert plugins.loaded() == ()


@pytest.mark.usefixtures("fresh")
def test_a_plugin_that_registers_on_import_is_taken_back_out(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = (
        _LAYER_SOURCE
        + "from netspec.layers.registry import register\n"
        + "LAYERS = register(make('eager', aliases=('eager_alias',)))\n"
    )
    _install(tmp_path, "eager", "eager_layers", "eager = eager_layers:LAYERS", source)
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.warns(PluginWarning, match=r"calls register\(\) itself \(for eager\)"):
        words = registry.all_words()
    assert not {"eager", "eager_alias"} & set(words)
    assert plugins.loaded() == ()


def test_the_plugin_is_not_registered_outside_the_fixture() -> None:
    """The example is on no test's sys.path but its own (conformance tests stay built-in)."""
    assert registry.resolve("swish") is None
    assert all(layer.name != "swish" for layer in registry.all_layers())


@pytest.mark.usefixtures("swish")
def test_model_source_aliases_a_plugin_class_whose_name_is_taken() -> None:
    """A plugin class named like the model class is imported under another name."""
    text = model_source(netspec.plan("name: swish\ninput: [4]\nlayers:\n  - swish\n"))
    assert "from netspec_swish.modules import Swish as Swish_2\n" in text
    assert "class Swish(nn.Module):" in text
    assert "self.swish_0 = Swish_2()" in text


# --- docs/plugins.md shows the example as it is ---------------------------------------------

DOC = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
# A plugin's spec is fenced `yml`, not `yaml`: tests/test_docs.py, which loads no plugin,
# reads only `yaml` blocks; this file checks these, with the plugin installed.
YML_BLOCKS = re.findall(r"```yml\n(.*?)```", DOC, re.S)


@pytest.mark.parametrize("path", ["__init__.py", "modules.py"])
def test_the_docs_quote_the_example_plugin_verbatim(path: str) -> None:
    source = (EXAMPLE / "netspec_swish" / path).read_text(encoding="utf-8")
    assert f"```python\n{source}```" in DOC


def test_the_docs_quote_the_example_entry_point() -> None:
    entry = (EXAMPLE / "netspec_swish-0.1.dist-info" / "entry_points.txt").read_text()
    assert entry == "[netspec.layers]\nswish = netspec_swish:LAYERS\n"
    assert '[project.entry-points."netspec.layers"]\nswish = "netspec_swish:LAYERS"\n' in DOC


@pytest.mark.usefixtures("swish")
def test_the_docs_plugin_specs_validate_summarize_and_eject_as_shown() -> None:
    assert YML_BLOCKS
    for block in YML_BLOCKS:
        netspec.build_model(block)
    p = netspec.plan(YML_BLOCKS[0])
    shown = DOC.split("$ netspec summary swish_mlp.yaml\n", 1)[1].split("...\n", 1)[0]
    assert summary_text(p, 1).startswith(shown)
    excerpt = DOC.split("instead of copying its source", 1)[1].split("```text\n", 1)[1]
    source = model_source(p)
    for line in excerpt.split("```", 1)[0].splitlines():
        assert line == "..." or f"{line}\n" in source, line
