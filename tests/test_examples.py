"""Every spec in specs/ validates, plans, builds and runs, and torch agrees with the plan."""

from __future__ import annotations

import pathlib

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

import netspec
from netspec.backend.build import example_input
from netspec.plan import concrete
from netspec.spec.networks import Networks, load_any

ROOT = pathlib.Path(__file__).parent.parent
# Not recursive: the gallery in specs/zoo/ (VGG-16 has 138M parameters) is built on the meta
# device, counted by torch and checked against its published figures in tests/test_zoo.py.
# One network each: the specs of several networks (moons_gan, digits_dcgan) are built and
# trained by tests/test_gan.py.
SPECS = [
    p for p in sorted((ROOT / "specs").glob("*.yaml")) if not isinstance(load_any(p), Networks)
]


def test_there_are_examples_of_the_architectures_users_start_from() -> None:
    names = {p.stem for p in SPECS}
    assert len(names) >= 8
    types = {layer.type for p in SPECS for layer in netspec.load_spec(p).layers}
    for needed in (
        "dense",
        "conv2d",
        "lstm",
        "gru",
        "transformer_encoder",
        "conv_transpose2d",
        "add",
        "residual",
    ):
        assert needed in types, needed


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.stem)
def test_example_builds_and_matches_its_plan(path: pathlib.Path) -> None:
    spec = netspec.load_spec(path)
    p = netspec.plan(spec)
    symbols = sorted(p.symbols())
    if symbols:
        p = netspec.plan(concrete(spec, dict.fromkeys(symbols, 12)))
    model = netspec.build_model(spec, seed=0)
    assert p.total_params == sum(t.numel() for t in model.parameters())
    x = example_input(p, batch=3)
    x = torch.randint(0, 2, x.shape) if x.dtype == torch.int64 else torch.randn(x.shape)
    model.eval()
    with torch.no_grad():
        y = model(x)
    assert tuple(y.shape) == (3, *p.output.shape)
    assert torch.isfinite(y).all()
    with torch.device("meta"):
        meta_model = netspec.build_model(spec).to("meta")
        with FlopCounterMode(display=False) as counter:
            meta_model(example_input(p, batch=1, device="meta"))
    assert counter.get_total_flops() // 2 == p.macs
