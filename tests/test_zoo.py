"""The model gallery in specs/zoo/: torchvision's published figures, torch as the oracle.

Each zoo spec must count exactly torchvision's documented parameters and the MACs behind its
"GFLOPS" column (which counts multiply-accumulates), and torch must agree with netspec's plan
on the meta device (no weights allocated). ResNet-18 is also checked value for value against
a plain-PyTorch reference with torchvision's module layout, on a small input.
"""

from __future__ import annotations

import json
import pathlib
import re
import subprocess
import sys

import jsonschema
import pytest
import torch
import yaml
from torch import nn
from torch.utils.flop_counter import FlopCounterMode
from zoo_figures import PUBLISHED

import netspec
from netspec.backend.build import example_inputs
from netspec.plan import concrete
from netspec.render.schema import spec_schema
from netspec.render.summary import summary_text

ROOT = pathlib.Path(__file__).parent.parent
ZOO = ROOT / "specs" / "zoo"
SPECS = sorted(ZOO.glob("*.yaml"))


def test_every_zoo_spec_has_published_figures() -> None:
    assert {p.stem for p in SPECS} == set(PUBLISHED)


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.stem)
def test_plan_counts_the_published_params_and_macs(path: pathlib.Path) -> None:
    published = PUBLISHED[path.stem]
    spec = netspec.load_spec(path)
    p = netspec.plan(concrete(spec, published.sizes))
    assert p.total_params == published.params
    assert p.macs == published.macs
    if published.gmacs is not None:
        assert round(published.macs / 1e9, 2) == published.gmacs
    assert tuple(t.shape for t in p.output_tensors) == published.outputs


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.stem)
def test_torch_agrees_with_the_plan_on_the_meta_device(path: pathlib.Path) -> None:
    published = PUBLISHED[path.stem]
    spec = concrete(netspec.load_spec(path), published.sizes)
    p = netspec.plan(spec)
    with torch.device("meta"):
        model = netspec.build_model(spec)
    assert {t.device.type for t in model.parameters()} == {"meta"}
    assert sum(t.numel() for t in model.parameters()) == published.params  # a tie counts once
    with FlopCounterMode(display=False) as counter:
        y = model(*example_inputs(p, batch=1, device="meta"))
    ys = y if isinstance(y, tuple) else (y,)
    assert tuple(tuple(t.shape[1:]) for t in ys) == published.outputs
    assert counter.get_total_flops() // 2 == published.macs


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.stem)
def test_zoo_spec_satisfies_the_schema_and_has_the_modeline(path: pathlib.Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.splitlines()[0] == "# yaml-language-server: $schema=../../netspec.schema.json"
    validator = jsonschema.Draft202012Validator(spec_schema())
    assert [e.message for e in validator.iter_errors(yaml.safe_load(text))] == []


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.stem)
def test_summary_runs_without_torch(path: pathlib.Path) -> None:
    """`netspec summary` and `summary --json` in a fresh interpreter, which never imports torch."""
    code = (
        "import contextlib, io, json, sys\nfrom netspec.cli.app import main\n"
        "outputs = []\n"
        "for args in (['summary', sys.argv[1]], ['summary', '--json', sys.argv[1]]):\n"
        "    out = io.StringIO()\n"
        "    with contextlib.redirect_stdout(out):\n"
        "        try:\n            main(args)\n"
        "        except SystemExit as e:\n            assert not e.code, e.code\n"
        "    outputs.append(out.getvalue())\n"
        "bad = sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.'))\n"
        "assert not bad, bad[:5]\n"
        "print(json.dumps(outputs))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    text, encoded = json.loads(proc.stdout)
    published = PUBLISHED[path.stem]
    assert f"Total params:         {published.params:,}\n" in text
    summary = json.loads(encoded)
    assert summary["total_params"] == published.params
    if not published.sizes:  # else the summary's MACs are a formula in the symbols
        assert f"MACs per sample:      {published.macs:,} (" in text
        assert summary["macs"] == published.macs


def test_the_gallery_page_shows_every_spec_with_its_figures() -> None:
    page = (ROOT / "docs" / "gallery.md").read_text(encoding="utf-8")
    for stem, published in PUBLISHED.items():
        link = rf"\[{stem}\.yaml\]\(\.\./specs/zoo/{stem}\.yaml\)"
        row = re.search(
            rf"^\| [^|]+ \| {link} \| ([\d,]+) \| ([^|]+) \| ([^|]+) \| (yes|no) \|$",
            page,
            re.MULTILINE,
        )
        assert row is not None, stem
        params, macs = f"{published.params:,}", f"{published.macs:,}"
        assert row[1] == params
        assert row[2].startswith(macs), (stem, row[2])
        assert row[3].startswith(f"{params} params"), (stem, row[3])
        if published.gmacs is not None:
            assert f"{published.gmacs:.2f} GFLOPS" in row[3]
        assert (row[4] == "yes") == published.equal_output, stem
        # the summary's first line and totals, as `netspec summary` prints them
        lines = summary_text(netspec.plan(ZOO / f"{stem}.yaml"), 1).splitlines()
        shown = [lines[0], *(x for x in lines if x.startswith(("Total params", "MACs per")))]
        block = "\n".join([f"$ netspec summary specs/zoo/{stem}.yaml", shown[0], "...", *shown[1:]])
        assert f"```text\n{block}\n```" in page, stem


# --- ResNet-18 against a plain-PyTorch reference ----------------------------------------


class BasicBlock(nn.Module):
    """torchvision.models.resnet.BasicBlock, with its attribute names."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample: nn.Module | None = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(out)) + identity)


class ResNet18(nn.Module):
    """torchvision.models.resnet18, written out: the same modules under the same names."""

    def __init__(self, classes: int = 1000) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        widths = [(64, 64, 1), (64, 128, 2), (128, 256, 2), (256, 512, 2)]
        for i, (cin, cout, stride) in enumerate(widths, start=1):
            stage = nn.Sequential(BasicBlock(cin, cout, stride), BasicBlock(cout, cout, 1))
            self.add_module(f"layer{i}", stage)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(512, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(torch.relu(self.bn1(self.conv1(x))))
        for i in range(1, 5):
            x = self.get_submodule(f"layer{i}")(x)
        logits: torch.Tensor = self.fc(torch.flatten(self.avgpool(x), 1))
        return logits


def torchvision_key(key: str) -> str:
    """netspec's state_dict key for ResNet-18 -> torchvision's (`layer2_0.downsample_conv.weight`
    -> `layer2.0.downsample.0.weight`, `layer1_1.residual_0.bn2.bias` -> `layer1.1.bn2.bias`)."""
    key = re.sub(r"^layer(\d)_(\d)\.(residual_0\.)?", r"layer\1.\2.", key)
    return key.replace("downsample_conv.", "downsample.0.").replace(
        "downsample_bn.", "downsample.1."
    )


def test_resnet18_reference_has_the_published_parameter_count() -> None:
    with torch.device("meta"):
        reference = ResNet18()
    assert sum(t.numel() for t in reference.parameters()) == PUBLISHED["resnet18"].params


def test_resnet18_computes_what_torchvision_layout_computes() -> None:
    torch.manual_seed(0)
    reference = ResNet18()
    for module in reference.modules():  # batch norms that are not the identity in eval mode
        if isinstance(module, nn.BatchNorm2d):
            nn.init.uniform_(module.weight, 0.5, 1.5)
            nn.init.normal_(module.bias, std=0.1)
            buffers = dict(module.named_buffers())
            buffers["running_mean"].normal_(std=0.1)
            buffers["running_var"].uniform_(0.5, 1.5)
            buffers["num_batches_tracked"].fill_(7)
    # A small image keeps this fast; every layer of the 224x224 model is still used.
    spec = netspec.load_spec(ZOO / "resnet18.yaml", overrides=["input=[3, 64, 64]"])
    model = netspec.build_model(spec, seed=1)
    ours = model.state_dict()
    theirs = reference.state_dict()
    mapping = {key: torchvision_key(key) for key in ours}
    assert sorted(mapping.values()) == sorted(theirs)  # one to one, nothing left over
    model.load_state_dict({key: theirs[mapping[key]] for key in ours}, strict=True)
    copied = model.state_dict()["layer2_0.downsample_bn.running_var"]
    assert torch.equal(copied, theirs["layer2.0.downsample.1.running_var"])
    model.eval()
    reference.eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        expected = reference(x)
        got = model(x)
    assert got.shape == (2, 1000)
    assert expected.abs().max() > 0.1  # a real signal, not a collapsed one
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)
