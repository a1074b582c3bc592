"""``netspec sample``: new samples from a trained run of a latent network.

A GAN run's ``generator`` or an autoencoder run's ``decoder`` (a spec of several networks)
maps z ~ N(0, 1), shaped as its input, to a sample; the samples are taken back to the
data's units with the run's standardizer.safetensors. Reads spec.yaml, model.safetensors and
standardizer.safetensors only: nothing is unpickled.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from netspec.backend.artifacts import SPEC, load_any_model
from netspec.errors import SpecError
from netspec.plan import plan
from netspec.spec.networks import Networks, load_any
from netspec.training.device import pick_device
from netspec.training.rundir import RunDir
from netspec.training.samples import draw, unstandardize

LATENT_NETWORKS = ("generator", "decoder")
"""The network that turns noise into samples, in the order they are looked for."""
MAX_SAMPLES = 10_000_000


def generate(
    run_dir: str | os.PathLike[str], n: int, *, seed: int = 0, device: str | None = None
) -> torch.Tensor:
    """``n`` samples (n, *sample shape) of the run's latent network, in the data's units;
    the same seed gives the same samples."""
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_SAMPLES:
        raise SpecError.single(
            "invalid-value",
            f"the number of samples is 1 to {MAX_SAMPLES:,}, not {n!r}",
        )
    folder = Path(run_dir)
    if not (folder / SPEC).is_file():
        raise SpecError.single(
            "file-not-found",
            f"{SPEC} is missing: {folder} is not a netspec run directory",
            hints=("a run directory is what `netspec train` writes (runs/<name>-...)",),
        )
    spec = load_any(folder / SPEC)
    name = next(
        (k for k in LATENT_NETWORKS if isinstance(spec, Networks) and k in spec.networks), None
    )
    if not isinstance(spec, Networks) or name is None:
        what = "one network" if not isinstance(spec, Networks) else ", ".join(spec.networks)
        raise SpecError.single(
            "invalid-value",
            f"{folder} is a run of {what}: sampling needs a network that turns noise into "
            "samples, the generator of a GAN run or the decoder of an autoencoder run",
            hints=("netspec predict runs a trained model on inputs",),
        )
    latent = plan(spec.networks[name]).input.shape
    shape = tuple(d for d in latent if isinstance(d, int))
    if len(shape) != len(latent):
        raise SpecError.single(
            "invalid-value",
            f"the {name}'s input has a symbolic size ({', '.join(map(str, latent))}): noise "
            "needs every size",
        )
    networks = load_any_model(folder)
    if not isinstance(networks, torch.nn.ModuleDict):
        raise ValueError("netspec bug: a spec of several networks built one module")
    target = pick_device(device or "auto")
    network = networks[name].to(target)
    samples = draw(network, n, seed, target, shape)
    return unstandardize(samples, RunDir(folder).read_standardizer())
