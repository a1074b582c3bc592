"""--set key.path=value on any path, for every command."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

import netspec
from netspec import SpecError
from netspec.cli.app import app

SPEC = """\
vars: {w: 4}
input: [4]
blocks:
  unit: {params: {k: 2}, layers: [{dense: "${k}"}]}
layers:
  - dense: ${w}
  - relu
  - {type: dense, out_features: 3}
  - linear: {units: 2, bias: false}
  - unit
train: {epochs: 3}
"""


def _units(spec: netspec.Spec) -> list[int]:
    return [layer.config.units for layer in spec.layers if layer.type == "dense"]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("assignment", "units"),
    [
        ("vars.w=16", [16, 3, 2, 2]),
        ("layers[0].units=7", [7, 3, 2, 2]),  # scalar spelling: the primary argument
        ("layers[2].units=5", [4, 5, 2, 2]),  # explicit form written with an alias
        ("layers[2].out_features=6", [4, 6, 2, 2]),
        ("layers[3].out_features=9", [4, 3, 9, 2]),  # replaces `units`, no alias clash
        ("layers[-1].k=8", [4, 3, 2, 8]),  # a block use's parameter
        ("layers[0].dense.units=7", [7, 3, 2, 2]),  # naming the type key too
        ("layers[3].linear.units=9", [4, 3, 9, 2]),
        ("blocks.unit.params.k=5", [4, 3, 2, 5]),
    ],
)
def test_layer_arguments_in_every_spelling(assignment: str, units: list[int]) -> None:
    assert _units(netspec.load_spec(SPEC, [assignment])) == units


def test_sections_and_new_keys() -> None:
    spec = netspec.load_spec(
        SPEC,
        [
            "train.optimizer.lr=3e-4",
            "train.epochs=9",
            "layers[0].activation=tanh",
            "layers[1].name=act",
        ],
    )
    assert spec.train is not None
    assert spec.train.optimizer.lr == pytest.approx(3e-4)
    assert spec.train.epochs == 9
    assert spec.layers[0].config.activation == "tanh"  # type: ignore[attr-defined]
    assert spec.layers[1].name == "act"
    assert netspec.load_spec(SPEC, ["input=[2, 2]", "layers[0].units=3"]).input.shape == (2, 2)


@pytest.mark.parametrize(
    ("assignment", "message"),
    [
        ("trian.epochs=3", "did you mean 'train'"),
        ("layers[9].units=3", "layers has 5 entries, no [9]"),
        ("train.epochs", "expected key.path=value"),
        ("train.epochs=[1", "is not valid YAML"),
    ],
)
def test_bad_assignments_are_user_errors(assignment: str, message: str) -> None:
    with pytest.raises(SpecError, match=r"--set "):
        netspec.load_spec(SPEC, [assignment])
    with pytest.raises(SpecError) as info:
        netspec.load_spec(SPEC, [assignment])
    assert message in info.value.diagnostics[0].message


def test_the_value_is_validated_like_the_file() -> None:
    with pytest.raises(SpecError, match="unknown field 'unitz'; did you mean 'units'"):
        netspec.load_spec(SPEC, ["layers[3].unitz=4"])
    with pytest.raises(SpecError, match="unknown field 'units'"):
        netspec.load_spec(SPEC, ["layers[1].units=3"])  # `- relu` takes no arguments


def test_every_command_takes_set(tmp_path: pytest.TempPathFactory) -> None:
    path = tmp_path / "s.yaml"  # type: ignore[operator]
    path.write_text(SPEC)
    runner = CliRunner()
    for command in (["validate"], ["summary", "--json"], ["graph"]):
        plain = runner.invoke(app, [*command, str(path)])
        result = runner.invoke(app, [*command, str(path), "--set", "vars.w=16"])
        assert result.exit_code == 0, result.output
        assert result.stdout != plain.stdout
    out = tmp_path / "build"  # type: ignore[operator]
    result = runner.invoke(app, ["build", str(path), "-o", str(out), "--set", "vars.w=16"])
    assert result.exit_code == 0, result.output
    assert "units: 16" in (out / "spec.yaml").read_text()


def test_an_lr_for_optimizers_per_network_sets_each_networks() -> None:
    """`netspec train --lr` (train.optimizer.lr) on a GAN with one optimizer per network."""
    from netspec.spec.networks import Networks, load_any

    text = (
        "networks:\n"
        "  generator: {input: [4], layers: [dense: 2]}\n"
        "  discriminator: {input: [2], layers: [dense: 1]}\n"
        "train:\n  task: gan\n"
        "  optimizer: {generator: {type: adam, lr: 1.0e-4, betas: [0.5, 0.9]}, "
        "discriminator: sgd}\n"
    )
    nets = load_any(text, ["train.optimizer.lr=0.02"])
    assert isinstance(nets, Networks)
    assert nets.train is not None
    generator, discriminator = (nets.train.optimizer_for(n) for n in nets.networks)
    assert (generator.type, generator.lr, generator.betas) == ("adam", 0.02, (0.5, 0.9))
    assert (discriminator.type, discriminator.lr) == ("sgd", 0.02)
    # one optimizer for both: the path is itself
    one = text.split("  optimizer")[0] + "  optimizer: {lr: 0.1}\n"
    shared = load_any(one, ["train.optimizer.lr=0.3"])
    assert isinstance(shared, Networks)
    assert shared.train is not None
    assert shared.train.optimizer_for("generator").lr == 0.3


def test_a_misspelt_network_in_a_path_is_named() -> None:
    from netspec.spec.networks import load_any

    text = (
        "networks:\n"
        "  generator: {input: [4], layers: [dense: 2]}\n"
        "  discriminator: {input: [2], layers: [dense: 1]}\n"
        "train: {task: gan}\n"
    )
    with pytest.raises(SpecError, match="no network 'genrator'; did you mean 'generator'"):
        load_any(text, ["networks.genrator.layers[0].units=3"])
    nets = load_any(text, ["networks.generator.layers[0].units=3"])
    assert nets.networks["generator"].layers[0].config.units == 3  # type: ignore[union-attr]
