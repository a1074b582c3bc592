"""Layer plugins: layer types that installed packages register through an entry-point group.

A distribution declares, in the ``netspec.layers`` group, entry points that each name a
:class:`~netspec.layers.registry.LayerType` or a tuple or list of them
(``swish = netspec_swish:LAYERS``). The loader, not the plugin, registers them: it sees every
layer before any is registered, so it can refuse a whole entry point at once, and it records
which distribution gave which layer, which is what lets ``build_model`` import a plugin's
module class (``Call("netspec_swish.modules:Swish")``) and nothing else.

Loaded once, on the first query of the registry (after every built-in has registered, before
any spec is read), so a plugin may import netspec freely. Policy, all warn-and-skip
(:class:`PluginWarning`), never an error: one broken package must not stop every netspec
command, and a built-in is never replaced:

- an entry point that fails to import, names something other than LayerTypes, or calls
  ``register`` itself: skipped (whatever it registered is taken back out);
- a name or alias that a built-in or an earlier plugin (by distribution, then entry-point
  name) already holds, or that is not a snake_case word: the whole entry point is skipped.

``NETSPEC_NO_PLUGINS=1`` loads none. Torch-free: a plugin's entry-point module must be too (its
torch module lives in another module, imported by ``build_model`` only).
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import metadata
from typing import Any

from netspec.layers import registry

GROUP = "netspec.layers"
DISABLE_ENV = "NETSPEC_NO_PLUGINS"
# The spelling of built-in type words; a plugin's words must read the same (and so can never
# look like a Python path: no dots, no colons).
_WORD = re.compile(r"[a-z][a-z0-9_]*\Z")


class PluginWarning(UserWarning):
    """A layer plugin was skipped. ``warnings.simplefilter("error", PluginWarning)`` makes it
    an error, for a CI job that must not run without its plugins."""


@dataclass(frozen=True)
class Plugin:
    """One loaded entry point: where it came from and what it registered."""

    distribution: str  # "netspec-swish 0.1"
    entry_point: str  # "swish = netspec_swish:LAYERS"
    package: str  # top-level package of the entry point's module: its module targets' home
    layers: tuple[str, ...]


_loaded: list[Plugin] = []


def disabled() -> bool:
    return os.environ.get(DISABLE_ENV, "").strip() not in ("", "0")


def load() -> None:
    """Register the layers of every installed plugin (see the module docstring)."""
    if disabled():
        return
    points = sorted(
        metadata.entry_points(group=GROUP),
        key=lambda ep: (_dist_name(ep), ep.name),
    )
    for ep in points:
        _load_one(ep)


def loaded() -> tuple[Plugin, ...]:
    return tuple(_loaded)


def owner(target: str) -> Plugin | None:
    """The loaded plugin whose package holds a module target ``pkg.module:Class``, if any."""
    module = target.partition(":")[0]
    registry.all_layers()  # loads the plugins if nothing has asked the registry yet
    for plugin in _loaded:
        if module == plugin.package or module.startswith(plugin.package + "."):
            return plugin
    return None


def unload() -> None:
    """Drop every plugin layer from the registry; the next registry query loads them again
    (from the current sys.path and environment). For tests."""
    for plugin in _loaded:
        _unregister(plugin.layers)
    _loaded.clear()
    registry._plugins_loaded = False


def _unregister(names: Iterable[str]) -> None:
    for name in names:
        layer = registry._REGISTRY.pop(name)
        for word in (layer.name, *layer.aliases):
            registry._ALIASES.pop(word, None)


def _load_one(ep: metadata.EntryPoint) -> None:
    where = f"layer plugin {ep.name!r} ({ep.name} = {ep.value}) of {_dist_label(ep)}"
    before = set(registry._REGISTRY)
    try:
        value = ep.load()
    except Exception as exc:  # any failure inside third-party code: reported, then skipped
        _unregister(set(registry._REGISTRY) - before)
        _warn(f"{where} failed to import ({type(exc).__name__}: {exc})")
        return
    itself = set(registry._REGISTRY) - before
    if itself:
        # Layers registered on import would have skipped the checks below and belong to no
        # plugin (so build_model would refuse their module targets): taken back out.
        _unregister(itself)
        _warn(
            f"{where} calls register() itself (for {', '.join(sorted(itself))}); the entry "
            "point must name its LayerTypes, which netspec registers"
        )
        return
    layers = _layer_types(value)
    if layers is None:
        _warn(f"{where} names {type(value).__name__}, not a LayerType or a tuple or list of them")
        return
    problem = _clash(layers)
    if problem is not None:
        _warn(f"{where} {problem}")
        return
    for layer in layers:
        registry.register(layer)
    _loaded.append(
        Plugin(
            distribution=_dist_label(ep),
            entry_point=f"{ep.name} = {ep.value}",
            package=ep.module.partition(".")[0],
            layers=tuple(layer.name for layer in layers),
        )
    )


def _layer_types(value: Any) -> list[registry.LayerType[Any]] | None:
    items: Iterable[Any] = value if isinstance(value, (tuple, list)) else (value,)
    layers = list(items)
    if not layers or not all(isinstance(item, registry.LayerType) for item in layers):
        return None
    return layers


def _clash(layers: list[registry.LayerType[Any]]) -> str | None:
    """Why these layers cannot be registered together, or None."""
    seen: set[str] = set()
    for layer in layers:
        if layer.module is None and layer.function is None:
            return f"registers {layer.name!r} with neither a module nor a function"
        for word in (layer.name, *layer.aliases):
            if not _WORD.match(word):
                return f"registers the type word {word!r}, which is not a snake_case word"
            taken = registry.resolve(word)
            if taken is not None:
                return (
                    f"registers {word!r}, which already names the {_holder(taken)} "
                    "(a plugin never replaces a layer)"
                )
            if word in seen:
                return f"registers {word!r} twice"
            seen.add(word)
    return None


def _holder(name: str) -> str:
    for plugin in _loaded:
        if name in plugin.layers:
            return f"layer {name!r} of {plugin.distribution}"
    return f"built-in layer {name!r}"


def _dist_name(ep: metadata.EntryPoint) -> str:
    return ep.dist.name if ep.dist is not None else ""


def _dist_label(ep: metadata.EntryPoint) -> str:
    if ep.dist is None:
        return "an unknown distribution"
    return f"distribution {ep.dist.name} {ep.dist.version}"


def _warn(message: str) -> None:
    # Attributed to "netspec" rather than to a line of this file: the reader needs the plugin
    # and what to do, not where the loader lives.
    warnings.warn_explicit(
        f"{message}; it is skipped (set {DISABLE_ENV}=1 to load no plugins)",
        PluginWarning,
        filename="netspec",
        lineno=0,
        module="netspec.layers.plugins",
    )
