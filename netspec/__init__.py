"""netspec: describe a PyTorch network in YAML; validate, summarize, build and train it.

Importing netspec does not import torch; only ``build_model`` does, when called.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from netspec.errors import Diagnostic, SpecError
from netspec.plan import Plan, PlannedLayer, plan
from netspec.spec.load import Spec, load_spec
from netspec.version import __version__

if TYPE_CHECKING:
    from torch import fx, nn

__all__ = [
    "Diagnostic",
    "Plan",
    "PlannedLayer",
    "Spec",
    "SpecError",
    "__version__",
    "build_model",
    "generate",
    "load_model",
    "load_networks",
    "load_spec",
    "plan",
    "train",
]


def train(spec: Any = None, **kwargs: Any) -> Any:
    """Train a spec's model on its data and write a run directory; see
    :func:`netspec.training.train` (``out``, ``resume``, ``device``, ``reporter``, ``data``)."""
    from netspec.training import train as _train

    return _train(spec, **kwargs)


def generate(run_dir: Any, prompt: str, **kwargs: Any) -> str:
    """The continuation of ``prompt`` by a language-model run (the prompt not included); see
    :func:`netspec.training.textgen.generate` (``max_new_tokens``, ``temperature`` (0:
    greedy), ``top_k``, ``seed``, ``cache``, ``device``)."""
    from netspec.training.textgen import generate as _generate

    return _generate(run_dir, prompt, **kwargs)


def load_model(directory: Any) -> fx.GraphModule:
    """The model of a `netspec build` (or training run) directory; see
    :func:`netspec.backend.artifacts.load_model`. Reads safetensors and YAML only, never pickles."""
    from netspec.backend.artifacts import load_model as _load

    return _load(directory)


def load_networks(directory: Any) -> nn.ModuleDict:
    """The networks of a build or run directory of a `networks:` spec (a GAN's generator and
    discriminator, an autoencoder's encoder and decoder) as an nn.ModuleDict; see
    :func:`netspec.backend.artifacts.load_networks`."""
    from netspec.backend.artifacts import load_networks as _load

    return _load(directory)


def build_model(source: Any, seed: int | None = None, **kwargs: Any) -> Any:
    """Build the torch module of a spec (an fx GraphModule; for `networks:`, an nn.ModuleDict
    of them); see :func:`netspec.backend.build.build_model`."""
    from netspec.backend.build import build_model as _build

    return _build(source, seed=seed, **kwargs)
