"""netspec.spec.data_check: the data section is checked by load_spec, hence `netspec validate`,
without loading any data or importing torch."""

from __future__ import annotations

import pathlib
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from netspec.cli.app import app
from netspec.errors import ERROR_CODES, Diagnostic, SpecError
from netspec.spec.load import load_spec

ROOT = pathlib.Path(__file__).parent.parent
runner = CliRunner()


def spec_text(input_: str, data: str, train: str = "") -> str:
    text = f"input: {input_}\nlayers:\n  - flatten\n  - dense: 2\ndata:\n{data}"
    return text + (f"train:\n{train}" if train else "")


def validate(tmp_path: pathlib.Path, text: str) -> str:
    """`netspec validate` on ``text``: exit 2, no traceback; returns stderr."""
    path = tmp_path / "spec.yaml"
    path.write_text(text, encoding="utf-8")
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    return result.stderr


def diagnostics(text: str) -> list[Diagnostic]:
    with pytest.raises(SpecError) as info:
        load_spec(text)
    for d in info.value.diagnostics:
        assert d.code in ERROR_CODES
    return info.value.diagnostics


# --- through the CLI: message and line:col ---------------------------------------------------


def test_validate_reports_a_misspelt_source(tmp_path: pathlib.Path) -> None:
    err = validate(tmp_path, spec_text("[64]", "  source: digitz\n"))
    assert "spec.yaml:6:11: error[invalid-value]: data.source: unknown data source 'digitz'" in err
    assert "did you mean 'digits'?" in err


def test_validate_reports_the_short_form_source(tmp_path: pathlib.Path) -> None:
    text = "input: [64]\nlayers: [dense: 2]\ndata: digitz\n"
    err = validate(tmp_path, text)
    assert "spec.yaml:3:7: error[invalid-value]" in err
    assert "did you mean 'digits'?" in err


def test_validate_reports_an_unknown_option(tmp_path: pathlib.Path) -> None:
    err = validate(tmp_path, spec_text("[2]", "  source: moons\n  sampels: 100\n"))
    assert "spec.yaml:7:3: error[unknown-field]: data.sampels:" in err
    assert "did you mean 'samples'?" in err


def test_validate_reports_a_wrong_option_type(tmp_path: pathlib.Path) -> None:
    err = validate(tmp_path, spec_text("[2]", "  source: moons\n  noise: high\n"))
    assert "spec.yaml:7:10: error[invalid-value]: data.noise: invalid value for 'noise'" in err
    assert "received: high" in err


def test_validate_reports_a_regression_source_for_classification(tmp_path: pathlib.Path) -> None:
    text = spec_text("[10]", "  source: diabetes\n", "  task: classification\n")
    err = validate(tmp_path, text)
    assert "spec.yaml:8:9: error[invalid-value]: train.task: task classification needs class" in err
    assert "data source 'diabetes' holds regression targets" in err
    assert "use task: regression" in err


# --- load_spec -------------------------------------------------------------------------------


def test_option_errors_are_all_collected_at_their_lines() -> None:
    diags = diagnostics(spec_text("[2]", "  source: moons\n  samples: 0\n  noise: high\n"))
    assert [(d.code, d.location.line) for d in diags] == [
        ("invalid-value", 7),
        ("invalid-value", 8),
    ]
    (d,) = diagnostics(spec_text("[2]", "  source: moons\n  samples: 5\n  n_samples: 5\n"))
    assert "give one of them" in d.message


def test_misspelt_common_key_and_alias_source() -> None:
    (d,) = diagnostics(spec_text("[4]", "  source: iris\n  standardise: true\n"))
    assert d.message == (
        "unknown option 'standardise' for data source 'iris'; did you mean 'standardize'?"
    )
    assert d.expected == "one of: source, split, standardize, standardize_target, augment"
    load_spec(spec_text("[1, 8, 8]", "  source: images\n"))  # an alias is a name


def test_source_checks_that_need_only_the_input() -> None:
    (d,) = diagnostics(spec_text("{shape: [8], dtype: int64}", "  source: sequence_sum\n"))
    assert "int64 token ids" in d.message
    assert d.location.line == 6
    (d,) = diagnostics(spec_text("{shape: [5], dtype: int64}", "  source: copy\n  delay: 5\n"))
    assert d.message == "delay 5 leaves nothing to copy in sequences of length 5"
    assert d.path == ("data", "delay")
    assert d.location.line == 7


def test_options_that_contradict_the_input() -> None:
    tokens = "{shape: [8], dtype: int64}"
    (d,) = diagnostics(spec_text(tokens, "  source: parity\n  standardize: true\n"))
    assert "never standardized" in d.message
    assert d.location.line == 7
    (d,) = diagnostics(spec_text(tokens, "  source: parity\n  augment: {noise: 0.1}\n"))
    assert "int64 token ids" in d.message
    (d,) = diagnostics(spec_text("[4]", "  source: iris\n  augment: {flip: true}\n"))
    assert d.message.startswith("flip and crop_padding work on image inputs (C, H, W)")
    assert "(4,)" in d.message
    assert d.location.line == 7
    load_spec(spec_text("[4]", "  source: iris\n  augment: {noise: 0.1}\n"))


@pytest.mark.parametrize("task", ["classification", "binary"])
def test_regression_sources_need_a_regression_task(task: str) -> None:
    for source in ("diabetes", "sine", "linear"):
        (d,) = diagnostics(spec_text("[1]", f"  source: {source}\n", f"  task: {task}\n"))
        assert d.path == ("train", "task")
        assert f"data source {source!r} holds regression targets" in d.message
    # the default task is named as such
    (d,) = diagnostics(spec_text("[10]", "  source: diabetes\n", "  epochs: 2\n"))
    assert d.hints == ("set train.task: regression (the task defaults to classification)",)


def test_tasks_that_fit_the_source_kind() -> None:
    load_spec(spec_text("[10]", "  source: diabetes\n", "  task: regression\n"))
    load_spec(spec_text("[10]", "  source: diabetes\n", "  task: autoencoder\n"))
    load_spec(spec_text("[4]", "  source: iris\n", "  task: regression\n"))  # labels are numbers


def test_no_train_section_is_checked_against_the_default_task() -> None:
    # `netspec train` trains a spec without `train:` as classification: validate says so.
    text = "input: [10]\nlayers: [dense: 1]\ndata: {source: diabetes}\n"
    with pytest.raises(SpecError, match="holds regression targets") as info:
        load_spec(text)
    (d,) = info.value.diagnostics
    assert d.path == ("data", "source")
    assert d.location is not None
    assert d.location.line == 3
    assert "holds regression targets" in d.message
    assert d.hints == (
        "add `train: {task: regression}` (with no train section, the task is classification)",
    )
    load_spec("input: [4]\nlayers: [dense: 3]\ndata: {source: iris}\n")


def test_early_stopping_needs_a_validation_split() -> None:
    data = "  source: iris\n  split: {val: 0}\n"
    (d,) = diagnostics(spec_text("[4]", data, "  early_stopping: {monitor: val_loss}\n"))
    assert "data.split.val is 0" in d.message
    assert d.location.line == 9
    load_spec(spec_text("[4]", data, "  early_stopping: {monitor: train_loss}\n"))


def test_a_spec_without_data_stays_valid(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text("input: [4]\nlayers: [dense: 2]\n", encoding="utf-8")
    for command in ("validate", "summary"):
        result = runner.invoke(app, [command, str(path)])
        assert result.exit_code == 0, result.output


def test_errors_elsewhere_do_not_hide_data_errors() -> None:
    diags = diagnostics(spec_text("[2]", "  source: moonz\n", "  epochs: 0\n"))
    assert [d.path for d in diags] == [("data", "source"), ("train", "epochs")]


def test_importing_the_sources_never_imports_torch() -> None:
    code = (
        "import sys, netspec.sources, netspec.spec.data_check\n"
        "assert len(netspec.sources.all_sources()) == 21\n"
        "bad = {'torch', 'numpy', 'sklearn'} & set(sys.modules)\n"
        "assert not bad, bad\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert proc.returncode == 0, proc.stderr
