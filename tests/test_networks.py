"""Several networks in one spec (`networks:`): each validated like a spec of its own, with
paths and lines into the one file; summaries per network with the totals; an nn.ModuleDict."""

from __future__ import annotations

import json
import pathlib

import pytest
import torch
from typer.testing import CliRunner

import netspec
from netspec import SpecError
from netspec.cli.app import app
from netspec.plan import plan_networks
from netspec.spec.networks import Networks, load_any

runner = CliRunner()

GAN = """
name: moons_gan
vars: {z: 8, width: 64}
blocks:
  hidden:
    layers:
      - dense: {units: "${width}", activation: leaky_relu}
networks:
  generator:
    input: ["${z}"]
    layers:
      - hidden
      - dense: 2
  discriminator:
    input: [2]
    layers:
      - hidden
      - dense: 1
data: {source: moons}
train: {task: gan, epochs: 2, batch_size: 128}
"""


def test_each_network_is_a_spec_sharing_vars_and_blocks() -> None:
    nets = load_any(GAN)
    assert isinstance(nets, Networks)
    assert list(nets.networks) == ["generator", "discriminator"]
    assert nets.networks["generator"].input.shape == (8,)
    assert nets.data is not None
    assert nets.data.source == "moons"
    assert nets.train is not None
    assert nets.train.epochs == 2
    plans = plan_networks(nets)
    assert [p.output.shape for p in plans.values()] == [(2,), (1,)]
    assert plans["generator"].total_params == (8 * 64 + 64) + (64 * 2 + 2)


def test_build_model_returns_a_module_dict_torch_agrees_with() -> None:
    model = netspec.build_model(GAN, seed=0)
    assert isinstance(model, torch.nn.ModuleDict)
    assert list(model.keys()) == ["generator", "discriminator"]
    plans = plan_networks(load_any(GAN))  # type: ignore[arg-type]
    for name, p in plans.items():
        assert sum(t.numel() for t in model[name].parameters()) == p.total_params
    scores = model["discriminator"](model["generator"](torch.randn(5, 8)))
    assert tuple(scores.shape) == (5, 1)
    again = netspec.build_model(GAN, seed=0)
    for a, b in zip(model.parameters(), again.parameters(), strict=True):
        assert torch.equal(a, b)  # one seed draws every network's weights
    first = dict(model["generator"].named_parameters())["hidden_0.dense_0.weight"]
    other = dict(model["discriminator"].named_parameters())["hidden_0.dense_0.weight"]
    assert first.shape != other.shape or not torch.equal(first, other)


def test_the_budget_counts_every_network() -> None:
    # 963 parameters in all: each network alone is within 900, together they are not
    with pytest.raises(SpecError, match=r"moons_gan has 963 parameters .* over the budget of 900"):
        netspec.build_model(GAN, max_params=900)


@pytest.mark.parametrize(
    ("text", "code", "path", "line"),
    [
        (
            "networks:\n  g: {input: [4], layers: [dense: 2]}\nlayers: [dense: 2]\n",
            "invalid-value",
            ("layers",),
            3,
        ),
        (
            "networks:\n  g:\n    input: [4]\n    layers:\n      - dense: {unitz: 2}\n",
            "unknown-field",
            ("networks", "g", "layers", 0, "dense", "unitz"),
            5,
        ),
        ("networks:\n  g: {input: [4], layer: [relu]}\n", "unknown-field", None, 2),
        ("networks:\n  class: {input: [4], layers: [relu]}\n", "invalid-name", None, 2),
        ("networks: {}\n", "invalid-value", ("networks",), 1),
        ("networks:\n  g: {input: [4], layers: [relu]}\nnetwork_x: 1\n", "unknown-field", None, 3),
    ],
)
def test_mistakes_point_into_the_file_with_the_network_in_the_path(
    text: str, code: str, path: tuple[object, ...] | None, line: int
) -> None:
    with pytest.raises(SpecError) as info:
        load_any(text)
    found = [d for d in info.value.diagnostics if d.code == code]
    assert found, [(d.code, d.message) for d in info.value.diagnostics]
    assert found[0].location.line == line
    if path is not None:
        assert found[0].path == path


def test_a_shape_error_names_its_network() -> None:
    text = (
        "networks:\n  g:\n    input: [4]\n    layers:\n"
        "      - conv2d: {filters: 2, kernel_size: 3}\n"
    )
    with pytest.raises(SpecError) as info:
        plan_networks(load_any(text))  # type: ignore[arg-type]
    (d,) = info.value.diagnostics
    assert d.path is not None
    assert (d.code, d.path[:3], d.location.line) == ("shape", ("networks", "g", "layers"), 5)


def test_cli_validate_and_summary(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "gan.yaml"
    path.write_text(GAN, encoding="utf-8")
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    assert "moons_gan, 2 networks (generator 2 layers, discriminator 2 layers), 963 parameters" in (
        result.stdout
    )
    result = runner.invoke(app, ["summary", str(path), "--json"])
    data = json.loads(result.stdout)
    assert list(data["networks"]) == ["generator", "discriminator"]
    assert data["total_params"] == sum(n["total_params"] for n in data["networks"].values())
    text = runner.invoke(app, ["summary", str(path)]).stdout
    assert text.startswith("generator: 2 layers, input (N, 8) -> output (N, 2)\n")
    assert "Total params:         963 (generator 706 + discriminator 257)\n" in text


def _gan(generator: str, discriminator: str, task: str = "train: {task: gan}\n") -> str:
    return f"networks:\n  generator:\n{generator}  discriminator:\n{discriminator}{task}"


GEN = "    input: [8]\n    layers:\n      - dense: 2\n"
DISC = "    input: [2]\n    layers:\n      - dense: 4\n      - dense: 1\n"
AE = (
    "networks:\n  encoder:\n    input: [T, 6]\n    layers:\n      - dense: 3\n"
    "  decoder:\n    input: [T, 3]\n    layers:\n      - dense: 6\n"
    "train: {task: autoencoder}\n"
)


@pytest.mark.parametrize(
    "text",
    [
        _gan(GEN, DISC),
        _gan(GEN, DISC.replace("dense: 1", "dense: {units: 1, activation: sigmoid}"), task=""),
        _gan(GEN.replace("dense: 2", "dense: 3"), DISC, task=""),  # no task: roles unknown
        AE,  # the same symbol T on both sides agrees
        AE.replace("task: autoencoder", "task: autoencoder, kl: {beta: 1.0}"),
    ],
)
def test_networks_that_fit_each_other_plan(text: str) -> None:
    plans = plan_networks(load_any(text))  # type: ignore[arg-type]
    assert len(plans) == 2


@pytest.mark.parametrize(
    ("text", "code", "path", "line", "words"),
    [
        (
            _gan(GEN.replace("dense: 2", "dense: 3"), DISC),
            "shape",
            ("networks", "discriminator", "input"),
            7,
            "which are (N, 3), but its input is (N, 2)",
        ),
        (
            _gan(GEN, DISC.replace("dense: 1", "dense: 2")),
            "shape",
            ("networks", "discriminator", "layers", 1),
            10,
            "one logit, but its output 'dense_1' is (N, 2)",
        ),
        (
            _gan(GEN, DISC.replace("dense: 1", "dense: {units: 1, activation: sigmoid}")),
            "invalid-value",
            ("networks", "discriminator", "layers", 1, "dense", "activation"),
            10,
            "the GAN losses take logits",
        ),
        (
            _gan(GEN, DISC + "      - sigmoid\n"),
            "invalid-value",
            ("networks", "discriminator", "layers", 2),
            11,
            "goes through a sigmoid",
        ),
        (
            _gan(
                "    inputs: {z: [8], c: [2]}\n    layers:\n      - concat: {from: [z, c]}\n"
                "      - dense: 2\n",
                DISC,
            ),
            "invalid-value",
            ("networks", "generator", "inputs"),
            3,
            "takes one input, not 2 (z, c)",
        ),
        (
            _gan(GEN + "    outputs: [input, dense_0]\n", DISC),
            "invalid-value",
            ("networks", "generator", "outputs"),
            6,
            "gives one output, not 2",
        ),
        (
            AE.replace("input: [T, 3]", "input: [S, 3]"),
            "shape",
            ("networks", "decoder", "input"),
            7,
            "which are (N, T, 3), but its input is (N, S, 3)",
        ),
        (
            AE.replace("dense: 6", "dense: 5"),
            "shape",
            ("networks", "decoder", "layers", 0),
            9,
            "reconstructs the encoder's input (N, T, 6), but its output 'dense_0' is (N, T, 5)",
        ),
    ],
)
def test_networks_that_do_not_fit_each_other_are_located(
    text: str, code: str, path: tuple[object, ...], line: int, words: str
) -> None:
    with pytest.raises(SpecError) as info:
        plan_networks(load_any(text))  # type: ignore[arg-type]
    d = info.value.diagnostics[0]  # a decoder input of the wrong size gives a wrong output too
    assert (d.code, d.path, d.location.line) == (code, path, line), d.render()
    assert words in d.message


def test_validate_reports_the_disagreement(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "gan.yaml"
    path.write_text(GAN.replace("- dense: 2\n", "- dense: 3\n"), encoding="utf-8")
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 2
    assert f"{path}:15:12: error[shape]: networks.discriminator.input:" in result.stderr
    assert "Traceback" not in result.output


def test_set_reaches_into_a_network(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "gan.yaml"
    path.write_text(GAN, encoding="utf-8")
    result = runner.invoke(
        app, ["validate", str(path), "--set", "networks.discriminator.layers[1].units=3"]
    )
    assert result.exit_code == 2
    assert "networks.discriminator.layers[1]: the discriminator scores each sample" in (
        result.stderr
    )
    result = runner.invoke(app, ["summary", str(path), "--set", "networks.generator.input=[4]"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("generator: 2 layers, input (N, 4) -> output (N, 2)\n")


class _CountingItems(dict):  # type: ignore[type-arg]
    """A position table that counts how often it is walked whole."""

    walks = 0

    def items(self):  # type: ignore[no-untyped-def]
        type(self).walks += 1
        return super().items()


def test_each_network_sees_its_part_of_the_source_map_in_one_walk() -> None:
    # once per network would make a spec of n networks cost n times its size (2,000
    # networks took 22 s): the map is sorted by network once
    from netspec.spec.networks import validate_networks
    from netspec.spec.source import parse

    n = 300
    text = "networks:\n" + "".join(
        f"  n{i}:\n    input: [4]\n    layers:\n      - dense: 2\n" for i in range(n)
    )
    doc = parse(text)
    doc.source.values = _CountingItems(doc.source.values)
    doc.source.keys = _CountingItems(doc.source.keys)
    _CountingItems.walks = 0
    nets = validate_networks(doc, "many")
    assert len(nets.networks) == n
    assert _CountingItems.walks == 2  # the values and the keys, once each
    assert nets.networks["n7"].source.locate(("layers", 0)).line == 4 * 7 + 5


def test_settings_a_gan_does_not_honour_are_refused_by_validate() -> None:
    text = (
        "networks:\n"
        "  generator: {input: [4], layers: [dense: 2]}\n"
        "  discriminator: {input: [2], layers: [dense: 1]}\n"
        "data: {source: moons, augment: {noise: 0.1}}\n"
        "train:\n  task: gan\n  scheduler: cosine\n  scale_lr: true\n"
    )
    with pytest.raises(SpecError) as found:
        load_any(text)
    where = {(d.path, d.location.line) for d in found.value.diagnostics}
    assert where == {
        (("data", "augment"), 4),
        (("train", "scheduler"), 7),
        (("train", "scale_lr"), 8),
    }
    assert all(d.code == "unsupported" for d in found.value.diagnostics)


def test_a_misspelt_network_name_is_found_at_its_key() -> None:
    text = (
        "networks:\n"
        "  generator: {input: [4], layers: [dense: 2]}\n"
        "  discrimnator: {input: [2], layers: [dense: 1]}\n"
        "train: {task: gan}\n"
    )
    with pytest.raises(SpecError, match="did you mean 'discriminator'") as found:
        load_any(text)
    (diag,) = found.value.diagnostics
    assert diag.path == ("networks", "discrimnator")
    assert diag.location.line == 3
