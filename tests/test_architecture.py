"""The import contracts (pyproject's [tool.importlinter], run by `lint-imports` in .ci/run)
hold, and they would fail the build if a stage imported the wrong way: each is tried on a copy
of the package with one wrong import added."""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(
    shutil.which("lint-imports") is None, reason="import-linter is not installed (dev extra)"
)


def _lint(root: pathlib.Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(root)}
    exe = shutil.which("lint-imports") or "lint-imports"
    return subprocess.run([exe], cwd=root, env=env, capture_output=True, text=True, check=False)


def _copy_with(tmp_path: pathlib.Path, module: str, line: str) -> pathlib.Path:
    """A copy of the package and its contracts with ``line`` added at the end of ``module``."""
    shutil.copytree(
        ROOT / "netspec", tmp_path / "netspec", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / module
    target.write_text(target.read_text(encoding="utf-8") + f"\n{line}\n", encoding="utf-8")
    return tmp_path


def test_the_package_keeps_every_contract() -> None:
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 3 kept, 0 broken." in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        # a lower stage reaching up: the plan importing the backend
        ("netspec/plan.py", "import netspec.backend.build", "Stages import only from"),
        # a sibling pair that must stay independent
        ("netspec/sources/registry.py", "import netspec.layers.registry", "Stages import only"),
        ("netspec/training/loop.py", "import netspec.cli.app", "Nothing imports the CLI"),
        # torch inside a function of a torch-free stage still counts
        ("netspec/render/summary.py", "def _f() -> None:\n    import torch", "never imports torch"),
    ],
)
def test_a_wrong_import_breaks_the_build(
    tmp_path: pathlib.Path, module: str, line: str, broken: str
) -> None:
    result = _lint(_copy_with(tmp_path, module, line))
    assert result.returncode != 0
    assert "BROKEN" in result.stdout
    assert any(broken in row and "BROKEN" in row for row in result.stdout.splitlines())
