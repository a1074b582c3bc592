"""docs/: the error catalogue is generated and current; every YAML block is a valid spec."""

from __future__ import annotations

import pathlib
import re

import pytest

import netspec
from netspec.errors import ERROR_CODES
from netspec.plan import plan_networks
from netspec.render.errordocs import errors_markdown
from netspec.spec.networks import Networks, load_any

ROOT = pathlib.Path(__file__).parent.parent
YAML_BLOCK = re.compile(r"```yaml\n(.*?)```", re.S)
DOCS = [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]
# Codes that no bad spec file can show: a missing file, a flag, a warning, an output.
NO_FILE_EXAMPLE = {
    "file-not-found",
    "budget",
    "unused-layer",
    "unused-input",
    "unsupported",
    "padding-dropped",
    "runtime-check",
    "tied-init",
    "missing-extra",
    "cannot-write",
    "data",
}


def test_error_catalogue_is_current(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    committed = (ROOT / "docs" / "errors.md").read_text(encoding="utf-8")
    assert committed == errors_markdown(), "run: python -m netspec.render.errordocs"


def test_every_error_code_has_an_example(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    text = errors_markdown()
    for code in set(ERROR_CODES) - NO_FILE_EXAMPLE:
        section = text.split(f"\n## {code}\n", 1)[1].split("\n## ", 1)[0]
        assert f"error[{code}]" in section, code


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_yaml_block_in_the_docs_is_a_valid_spec(doc: pathlib.Path) -> None:
    for block in YAML_BLOCK.findall(doc.read_text(encoding="utf-8")):
        loaded = load_any(block)
        if isinstance(loaded, Networks):
            plan_networks(loaded)
        else:
            netspec.plan(loaded)


@pytest.mark.heavy
def test_the_build_guide_examples_run(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """docs/build.md's Python snippets, pasted as a user would, after its build command."""
    from typer.testing import CliRunner

    from netspec.cli.app import app

    monkeypatch.chdir(tmp_path)
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "digits_cnn.yaml").write_text(
        (ROOT / "specs" / "digits_cnn.yaml").read_text()
    )
    args = [
        "build",
        "specs/digits_cnn.yaml",
        "-o",
        "build/digits",
        "-f",
        "torchscript",
        "-f",
        "export",
        "-f",
        "onnx",
    ]
    assert CliRunner().invoke(app, args).exit_code == 0
    # the guide's spec of several networks: the moons GAN of docs/spec-language.md
    language = (ROOT / "docs" / "spec-language.md").read_text(encoding="utf-8")
    gan = next(b for b in YAML_BLOCK.findall(language) if b.startswith("name: moons_gan"))
    (tmp_path / "gan.yaml").write_text(gan, encoding="utf-8")
    result = CliRunner().invoke(app, ["build", "gan.yaml", "-o", "build/gan"])
    assert result.exit_code == 0, result.output
    text = (ROOT / "docs" / "build.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert len(blocks) >= 3
    for block in blocks:
        exec(compile(block, "docs/build.md", "exec"), {})
