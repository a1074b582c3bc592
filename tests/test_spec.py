"""Loading: the four entry spellings, aliases, vars, blocks, repeat, residual, references."""

from __future__ import annotations

import pytest

import netspec
from netspec import SpecError, load_spec
from netspec.spec.load import Spec


def _layers(spec: Spec) -> list[tuple[str, str, tuple[str, ...]]]:
    return [(layer.name, layer.type, layer.inputs) for layer in spec.layers]


def test_four_spellings_load_the_same() -> None:
    spellings = [
        "input: [8]\nlayers:\n  - dense: 4\n  - relu\n",
        "input: [8]\nlayers:\n  - dense: {units: 4}\n  - relu:\n",
        "input: [8]\nlayers:\n  - {type: dense, units: 4}\n  - {type: relu}\n",
        "input: [8]\nlayers:\n  - linear: {out_features: 4}\n  - relu\n",
    ]
    loaded = [load_spec(text) for text in spellings]
    for spec in loaded[1:]:
        assert _layers(spec) == _layers(loaded[0])
        assert spec.layers[0].config == loaded[0].layers[0].config
    assert _layers(loaded[0]) == [
        ("dense_0", "dense", ("input",)),
        ("relu_0", "relu", ("dense_0",)),
    ]


def test_dict_and_path_sources(tmp_path: pytest.TempPathFactory) -> None:
    data = {"input": [3], "layers": [{"dense": 2}]}
    path = tmp_path / "my_net.yaml"  # type: ignore[operator]
    path.write_text("input: [3]\nlayers:\n  - dense: 2\n")
    assert load_spec(data).name == "model"
    assert load_spec(path).name == "my_net"
    assert load_spec(str(path)).layers[0].config == load_spec(data).layers[0].config


def test_vars_keep_their_type_and_arithmetic_works() -> None:
    spec = load_spec(
        "vars: {c: 32, rate: 0.25}\ninput: [8]\nlayers:\n"
        "  - dense: ${c}\n  - dense: ${c * 2 + 1}\n  - dense: ${c // 3}\n"
    )
    units = [layer.config.units for layer in spec.layers]  # type: ignore[attr-defined]
    assert units == [32, 65, 10]
    assert all(isinstance(u, int) for u in units)


def test_blocks_expand_with_qualified_names_and_params() -> None:
    spec = load_spec(
        """
vars: {c: 8}
input: [3, 16, 16]
blocks:
  conv_relu:
    params: {filters: 16, k: 3}
    layers:
      - conv2d: {filters: "${filters}", kernel_size: "${k}", padding: same}
      - relu
layers:
  - conv_relu: {filters: "${c}"}
  - conv_relu: {filters: 4, repeat: 2}
  - dense: {units: 2, from: conv_relu_1}
"""
    )
    names = [layer.name for layer in spec.layers]
    assert names == [
        "conv_relu_0.conv2d_0",
        "conv_relu_0.relu_0",
        "conv_relu_1.conv2d_0",
        "conv_relu_1.relu_0",
        "conv_relu_2.conv2d_0",
        "conv_relu_2.relu_0",
        "dense_0",
    ]
    filters = [layer.config.filters for layer in spec.layers if layer.type == "conv2d"]  # type: ignore[attr-defined]
    assert filters == [8, 4, 4]
    assert spec.layers[2].inputs == ("conv_relu_0.relu_0",)
    assert spec.layers[-1].inputs == ("conv_relu_1.relu_0",)


def test_repeat_of_a_named_entry_and_reference_to_last_copy() -> None:
    spec = load_spec(
        "input: [4]\nlayers:\n  - dense: {units: 4, name: enc, repeat: 3}\n"
        "  - dense: {units: 2, from: enc}\n"
    )
    assert [layer.name for layer in spec.layers] == ["enc_0", "enc_1", "enc_2", "dense_0"]
    assert spec.layers[1].inputs == ("enc_0",)
    assert spec.layers[-1].inputs == ("enc_2",)


def test_residual_expands_body_then_sum() -> None:
    spec = load_spec("input: [4]\nlayers:\n  - dense: 4\n  - residual: [dense: 4, relu]\n")
    assert _layers(spec) == [
        ("dense_0", "dense", ("input",)),
        ("residual_0.dense_0", "dense", ("dense_0",)),
        ("residual_0.relu_0", "relu", ("residual_0.dense_0",)),
        ("residual_0", "residual", ("dense_0", "residual_0.relu_0")),
    ]


def test_input_inside_a_block_is_the_block_input() -> None:
    spec = load_spec(
        "input: [4]\nblocks:\n  skip:\n    layers:\n      - dense: {units: 4, name: f}\n"
        "      - add: {from: [input, f]}\nlayers:\n  - dense: 4\n  - skip\n"
    )
    assert spec.layers[-1].inputs == ("dense_0", "skip_0.f")


def test_default_names_skip_explicit_ones() -> None:
    spec = load_spec(
        "input: [4]\nlayers:\n  - dense: 4\n  - dense: {units: 4, name: dense_1}\n  - dense: 4\n"
    )
    assert [layer.name for layer in spec.layers] == ["dense_0", "dense_1", "dense_2"]


def test_aliases_for_fields() -> None:
    spec = load_spec("input: [3, 8, 8]\nlayers:\n  - conv2d: {out_channels: 5, kernel_size: 3}\n")
    assert spec.layers[0].config.filters == 5  # type: ignore[attr-defined]


def test_symbolic_input_and_int64_input() -> None:
    spec = load_spec("input: {shape: [T, 4], dtype: long}\nlayers:\n  - identity\n")
    assert str(spec.input.shape[0]) == "T"
    assert spec.input.dtype == "int64"


def test_all_schema_errors_are_collected() -> None:
    with pytest.raises(SpecError, match="unknown layer type 'dens'") as info:
        load_spec("input: [4]\nlayers:\n  - dens: 3\n  - dense: {units: 0}\n  - relu: {x: 1}\n")
    codes = [d.code for d in info.value.diagnostics]
    assert codes == ["unknown-layer", "invalid-value", "unknown-field"]
    assert [d.location.line for d in info.value.diagnostics] == [3, 4, 5]


def test_train_section_is_checked_with_did_you_mean() -> None:
    with pytest.raises(SpecError, match="unknown field 'epoch'; did you mean 'epochs'"):
        load_spec("input: [4]\nlayers: [dense: 2]\ntrain: {epoch: 3}\n")


def test_load_spec_of_several_networks_says_where_they_work() -> None:
    with pytest.raises(SpecError, match=r"a spec of several \(`networks`\) loads with") as found:
        load_spec("networks: {}\ninput: [4]\nlayers: [dense: 2]\n")
    assert found.value.diagnostics[0].path == ("networks",)


def test_yaml_merge_keys_and_anchors_work() -> None:
    spec = load_spec(
        "input: [3, 8, 8]\nlayers:\n  - conv2d: &c {filters: 4, kernel_size: 3}\n"
        "  - conv2d: {<<: *c, filters: 6}\n"
    )
    assert [layer.config.filters for layer in spec.layers] == [4, 6]  # type: ignore[attr-defined]


def test_reserved_names_cover_every_graph_module_attribute() -> None:
    """torch's own attributes, read in a fresh interpreter: a library imported by other tests
    may patch nn.Module (transformers adds ``smart_apply`` when it builds a model)."""
    import json
    import subprocess
    import sys

    from netspec.spec.names import RESERVED_NAMES

    code = (
        "import json\nfrom torch import fx, nn\n"
        "names = {n for n in dir(fx.GraphModule) if not n.startswith('_')}\n"
        "names |= {n for n in vars(nn.Module()) if not n.startswith('_')}\n"
        "print(json.dumps(sorted(names)))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    public = set(json.loads(proc.stdout))
    assert "forward" in public
    assert public <= RESERVED_NAMES, sorted(public - RESERVED_NAMES)


@pytest.mark.parametrize("name", ["code", "forward", "self", "_hidden", "class", "training"])
def test_names_that_would_break_the_module_are_refused(name: str) -> None:
    with pytest.raises(SpecError, match="cannot name a layer"):
        load_spec(f"input: [4]\nlayers:\n  - dense: {{units: 2, name: {name}}}\n")


def test_yaml_exponent_floats_are_numbers() -> None:
    spec = load_spec(
        "vars: {lr: 1e-3}\ninput: [4]\nlayers: [dense: 2]\ntrain: {optimizer: {lr: '${lr * 10}'}}\n"
    )
    assert spec.train is not None
    assert spec.train.optimizer.lr == pytest.approx(1e-2)


def test_a_misspelt_required_argument_is_reported_once() -> None:
    with pytest.raises(SpecError) as info:
        load_spec("input: [3, 8, 8]\nlayers:\n  - conv2d: {filters: 3, kernal_size: 3}\n")
    assert [d.code for d in info.value.diagnostics] == ["unknown-field"]
    assert "did you mean 'kernel_size'" in info.value.diagnostics[0].message


def test_a_bad_expression_in_train_is_reported_once() -> None:
    with pytest.raises(SpecError) as info:
        load_spec(
            "vars: {n: x}\ninput: [4]\nlayers: [dense: 2]\ntrain: {optimizer: {lr: '${n * 2}'}}\n"
        )
    assert [d.code for d in info.value.diagnostics] == ["bad-expression"]


def test_unquoted_interpolation_in_flow_mapping_gets_a_hint() -> None:
    with pytest.raises(SpecError, match="yaml-syntax") as info:
        load_spec(
            "vars: {c: 3}\ninput: [3, 8, 8]\nlayers:\n  - conv2d: {filters: ${c}, kernel_size: 3}\n"
        )
    assert info.value.diagnostics[0].hints == (
        'inside a {...} flow mapping, quote ${...}: filters: "${c}"',
    )


@pytest.mark.parametrize(
    ("text", "code", "message"),
    [
        (
            "input: [3, 8, 8]\nlayers:\n  - conv2d: {filters: 2, kernel_size: [3, -1]}\n",
            "invalid-value",
            "invalid value for 'kernel_size'",
        ),
        ("input: [4]\nlayers:\n  - residual: []\n", "invalid-value", "residual needs its body"),
        (
            "input: [4]\nlayers:\n  - dense: {units: 4, out_features: 5}\n",
            "unknown-field",
            "'out_features' is another name for 'units'",
        ),
        (
            "input: [4]\nlayers: [dense: 2]\ntrain: [1]\n",
            "invalid-value",
            "train is a mapping of options",
        ),
        (
            "input: [4]\nlayers: [dense: 2]\ndata: {source: x, split: {val: 0.6, test: 0.6}}\n",
            "invalid-value",
            "leaves no training data",
        ),
        (
            "input: [4]\nlayers:\n  - residual: [{dense: {units: 4, from: later}}]\n"
            "  - dense: {units: 4, name: later}\n",
            "forward-reference",
            "'later' is defined later",
        ),
        (
            "input: [4]\nlayers:\n  - dense: {units: 4, name: a, from: a}\n",
            "forward-reference",
            "cannot take its own output",
        ),
        (
            "input: [4]\nlayers:\n  - dense: {units: 4, from: []}\n",
            "invalid-value",
            "from needs at least one layer name",
        ),
        ("input: [N, 4]\nlayers: [relu]\n", "invalid-value", "N is the batch dimension"),
        ("input: [3]\nlayers:\n  - dense: true\n", "invalid-value", "valid integer"),
        (
            "input: [3]\nlayers:\n  - dense: {units: 2, bias: yes}\n",
            "invalid-value",
            "valid boolean",
        ),
        (
            "input: [3]\nlayers:\n  - relu: {repeat: 100000000}\n",
            "invalid-value",
            "repeat must be an integer from 1 to 100,000",
        ),
        (
            "vars: {a: 99999999999}\ninput: [3]\nlayers:\n  - dense: '${a*a*a*a}'\n",
            "bad-expression",
            "out of range",
        ),
        ("input: [4]\nlayers:\n  - upsample: .inf\n", "invalid-value", "scale_factor"),
    ],
)
def test_mistakes_get_one_precise_diagnostic(text: str, code: str, message: str) -> None:
    with pytest.raises(SpecError) as info:
        netspec.plan(text)
    assert [d.code for d in info.value.diagnostics] == [code]
    assert message in info.value.diagnostics[0].message


def test_data_source_shorthand_and_yaml_1_2_scalars() -> None:
    spec = load_spec("input: [3]\nlayers:\n  - dense: 010\ndata: digits\n")
    assert spec.data is not None
    assert spec.data.source == "digits"
    assert spec.layers[0].config.units == 10  # type: ignore[attr-defined]


def test_alias_bomb_is_refused_quickly() -> None:
    lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for i, name in enumerate("bcdefgh"):
        prev = "abcdefg"[i]
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 10) + "]")
    text = "vars:\n" + "\n".join("  " + line for line in lines) + "\ninput: [3]\nlayers: [relu]\n"
    with pytest.raises(SpecError, match="expands to more than"):
        load_spec(text)
