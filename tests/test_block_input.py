"""`${input.shape[i]}`: blocks that read their input's sizes (DenseNet, MobileNet).

The expander keeps such values as written; the planner evaluates them once the shape of the
tensor `input` means is known, validates the config and reports mistakes at the YAML line.
"""

from __future__ import annotations

import json
import pathlib
import re
import textwrap

import pytest
import torch
from typer.testing import CliRunner

import netspec
from netspec.backend.resolve import resolved
from netspec.cli.app import app
from netspec.errors import SpecError
from netspec.plan import Plan, plan
from netspec.spec.exprs import Deferred

runner = CliRunner()

# A DenseNet-BC-style network whose widths are all read from the inputs: the transition
# halves whatever the dense layers grew to, the 1x1 bottleneck is 4 x growth.
DERIVED = """
vars: {growth: 8}
input: [3, 16, 16]
blocks:
  dense_layer:
    layers:
      - batchnorm
      - relu
      - conv2d: {filters: "${growth * 4}", kernel_size: 1, bias: false}
      - conv2d: {filters: "${growth}", kernel_size: 3, padding: same, bias: false, name: new}
      - concat: {from: [input, new]}
  transition:
    params: {filters: "${input.shape[0] // 2}"}
    layers:
      - batchnorm
      - relu
      - conv2d: {filters: "${filters}", kernel_size: 1, bias: false}
      - avgpool2d: 2
layers:
  - conv2d: {filters: 16, kernel_size: 3, padding: same, bias: false}
  - dense_layer: {repeat: 3}
  - transition
  - dense_layer: {repeat: 2}
  - transition: {filters: "${input.shape[0] * 3 // 4}"}
  - global_avgpool
  - dense: 10
"""

# The same network with every width worked out by hand: 16 + 3*8 = 40 -> 20, 20 + 2*8 = 36
# -> 27.
HAND_WRITTEN = """
input: [3, 16, 16]
blocks:
  dense_layer:
    layers:
      - batchnorm
      - relu
      - conv2d: {filters: 32, kernel_size: 1, bias: false}
      - conv2d: {filters: 8, kernel_size: 3, padding: same, bias: false, name: new}
      - concat: {from: [input, new]}
  transition:
    params: {filters: 16}
    layers:
      - batchnorm
      - relu
      - conv2d: {filters: "${filters}", kernel_size: 1, bias: false}
      - avgpool2d: 2
layers:
  - conv2d: {filters: 16, kernel_size: 3, padding: same, bias: false}
  - dense_layer: {repeat: 3}
  - transition: {filters: 20}
  - dense_layer: {repeat: 2}
  - transition: {filters: 27}
  - global_avgpool
  - dense: 10
"""


def _rows(p: Plan) -> list[tuple[object, ...]]:
    return [(la.name, la.in_shapes, la.out.shape, la.params, la.macs) for la in p.layers]


def _error(text: str) -> str:
    with pytest.raises(SpecError, match=r"error\[") as info:
        plan(textwrap.dedent(text))
    return str(info.value)


def test_densenet_without_hand_written_widths_plans_like_the_hand_written_one() -> None:
    derived, hand = plan(DERIVED), plan(HAND_WRITTEN)
    assert _rows(derived) == _rows(hand)
    assert derived.total_params == hand.total_params
    assert derived.layers[-1].in_shapes == ((27,),)
    assert [la.config for la in derived.layers] == [la.config for la in hand.layers]


def test_load_keeps_the_arguments_as_written_until_the_plan() -> None:
    spec = netspec.load_spec(DERIVED)
    layer = next(la for la in spec.layers if la.name == "transition_0.conv2d_0")
    assert layer.config is None
    assert layer.deferred is not None
    assert isinstance(layer.deferred["filters"], Deferred)
    assert layer.deferred["filters"].text == "${filters}"
    # Everything else is validated at load as usual.
    plain = next(la for la in spec.layers if la.name == "dense_layer_0.new")
    assert getattr(plain.config, "filters", None) == 8
    assert plain.deferred is None


def test_top_level_input_is_the_network_input_and_negative_indexes_count_from_the_end() -> None:
    p = plan(
        """
        input: [6, 10]
        layers:
          - dense: "${input.shape[-1] * 2}"
          - dense: "${input.shape[0]}"
        """
    )
    assert [la.out.shape for la in p.layers] == [(6, 20), (6, 6)]


def test_mobilenet_expansion_reads_the_block_input_through_a_parameter() -> None:
    p = plan(
        """
        input: [16, 8, 8]
        blocks:
          inverted_residual:
            params: {expansion: 6}
            layers:
              - residual:
                  - conv2d: {filters: "${input.shape[0] * expansion}", kernel_size: 1}
                  - conv2d: {filters: "${input.shape[0] * expansion}", kernel_size: 3,
                             padding: same, groups: "${input.shape[0] * expansion}"}
                  - conv2d: {filters: "${input.shape[0]}", kernel_size: 1}
        layers:
          - inverted_residual
          - inverted_residual: {expansion: 2}
        """
    )
    widths = [la.out.shape[0] for la in p.layers if la.type == "conv2d"]
    assert widths == [96, 96, 16, 32, 32, 16]


def test_a_parameter_passed_at_a_use_reads_that_use_s_input_even_with_from() -> None:
    p = plan(
        """
        input: [4]
        blocks:
          widen:
            params: {units: 1}
            layers:
              - dense: "${units}"
        layers:
          - dense: {units: 6, name: six}
          - dense: 9
          - widen: {units: "${input.shape[0] * 10}", from: six}
        """
    )
    assert p.layers[-1].out.shape == (60,)


def test_nested_blocks_each_read_their_own_input() -> None:
    p = plan(
        """
        input: [5]
        blocks:
          inner:
            params: {outer_width: 0}
            layers:
              - dense: "${outer_width + input.shape[0]}"
          outer:
            params: {w: "${input.shape[0]}"}
            layers:
              - dense: 7
              - inner: {outer_width: "${w}"}
        layers:
          - dense: 3
          - outer
        """
    )
    # outer's input has 3 features, inner's 7: 3 + 7.
    assert p.layers[-1].out.shape == (10,)


def test_symbolic_size_is_refused_at_the_line() -> None:
    text = _error(
        """
        input: [T, 8]
        layers:
          - dense: "${input.shape[0] * 2}"
        """
    )
    assert "error[shape]: layers[0].dense.units" in text
    assert "input.shape[0] is the symbolic size T" in text
    assert "received: (N, T, 8)" in text
    assert ":4:12:" in text


def test_bad_index_is_a_shape_error_pointing_into_the_block() -> None:
    text = _error(
        """
        input: [4, 8]
        blocks:
          b:
            layers:
              - dense: "${input.shape[2]}"
        layers:
          - b
        """
    )
    assert ":6:16: error[shape]: blocks.b.layers[0].dense.units" in text
    assert "input.shape[2] is out of range" in text
    assert "note: in block 'b' used at layers[0] (line 8)" in text


def test_a_bad_value_after_substitution_names_what_gave_it() -> None:
    text = _error(
        """
        input: [3, 8, 8]
        blocks:
          squeeze:
            params: {filters: "${input.shape[0] // 4}"}
            layers:
              - conv2d: {filters: "${filters}", kernel_size: 1}
        layers:
          - squeeze
        """
    )
    assert ":7:27: error[invalid-value]: blocks.squeeze.layers[0].conv2d.filters" in text
    assert "received: 0" in text
    assert "note: filters: ${filters} gave 0, reading the network input (N, 3, 8, 8)" in text


def test_an_error_in_a_parameter_points_at_the_parameter() -> None:
    text = _error(
        """
        input: [3, 8, 8]
        blocks:
          b:
            params: {f: 1}
            layers:
              - conv2d: {filters: "${f}", kernel_size: 1}
        layers:
          - b: {f: "${input.shape[3]}"}
        """
    )
    assert ":9:12: error[shape]: layers[0].b.f" in text


def test_mistakes_that_need_no_shape_are_reported_by_load() -> None:
    with pytest.raises(SpecError, match="unknown-var") as info:
        netspec.load_spec(
            textwrap.dedent(
                """
                vars: {w: "${input.shape[0]}"}
                input: [3]
                layers:
                  - dense: {units: 3, repeat: "${input.shape[0]}"}
                  - dense: "${input.shape[x]}"
                  - dense: "${input.shape[0] + widht}"
                  - dense: "${input.size}"
                """
            )
        )
    text = str(info.value)
    assert "vars.w: '${input.shape[0]}' reads the input's sizes" in text
    assert "layers[0].dense.repeat: '${input.shape[0]}' reads the input's sizes" in text
    assert "input.shape takes one integer index" in text
    assert "unknown name 'widht'" in text
    assert "of the input only its sizes can be read" in text


def test_validate_summary_and_json_handle_derived_widths(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "densenet.yaml"
    path.write_text(DERIVED, encoding="utf-8")
    ok = runner.invoke(app, ["validate", str(path)])
    assert ok.exit_code == 0, ok.output
    assert "densenet, 36 layers" in ok.stdout
    table = runner.invoke(app, ["summary", str(path)])
    assert table.exit_code == 0, table.output
    assert re.search(r"transition_0\.conv2d_0 .*\(N, 40, 16, 16\) +\(N, 20, 16, 16\)", table.stdout)
    data = json.loads(runner.invoke(app, ["summary", "--json", str(path)]).stdout)
    assert data["total_params"] == plan(HAND_WRITTEN).total_params


def test_cli_reports_a_deferred_error_with_exit_2(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text('input: [T, 4]\nlayers:\n  - dense: "${input.shape[0]}"\n', "utf-8")
    for command in ("validate", "summary"):
        result = runner.invoke(app, [command, str(path)])
        assert result.exit_code == 2
        assert "Traceback" not in result.output
        assert f"{path}:3:12: error[shape]" in result.stderr


def test_build_model_and_the_resolved_spec_hold_the_numbers() -> None:
    model = netspec.build_model(DERIVED, seed=0)
    out = model(torch.zeros(2, 3, 16, 16))
    assert out.shape == (2, 10)
    assert model.get_submodule("transition_1.conv2d_0").out_channels == 27
    hand = netspec.build_model(HAND_WRITTEN, seed=0)
    assert sum(p.numel() for p in model.parameters()) == sum(p.numel() for p in hand.parameters())
    flat = resolved(netspec.load_spec(DERIVED))
    widths = {e["name"]: e.get("filters") for e in flat["layers"] if e["type"] == "conv2d"}
    assert widths["transition_0.conv2d_0"] == 20
    assert _rows(plan(flat)) == _rows(plan(HAND_WRITTEN))


def test_a_deferred_layer_s_other_arguments_are_checked_at_load() -> None:
    with pytest.raises(SpecError, match="kernel_sise") as info:
        netspec.load_spec(
            "input: [3, 8, 8]\n"
            "layers:\n"
            '  - conv2d: {filters: "${input.shape[0]}", kernel_sise: 3, stride: -1}\n'
        )
    paths = [d.path for d in info.value.diagnostics]
    assert paths == [
        ("layers", 0, "conv2d", "kernel_sise"),
        ("layers", 0, "conv2d", "stride"),
    ]
    # A field that only the deferred value could complete waits for the planner.
    text = _error('input: [3, 8, 8]\nlayers:\n  - conv2d: {filters: "${input.shape[0]}"}\n')
    assert "missing required argument 'kernel_size'" in text
